// The MLLM's config: a LLaMA backbone plus the feature width of the encoder it reads and writes.
// The small default is what the emoji-world model trains; the paper's is LLaMA-3 8B with CLIP-L.
import { llamaConfig, type LlamaConfig } from '../../io/config.js';

export type ProjectorType = 'linear' | 'mlp2x_gelu';

export interface MllmConfig {
  llm: Readonly<LlamaConfig>;
  /** Channels C of the multi-granular features (1024 for CLIP-L, 128 for the mini CLIP). */
  featureDim: number;
  /** Features -> hidden: one Linear, or Linear-GELU-Linear as LLaVA's mm_projector. */
  projector: ProjectorType;
  /** Ids of the tokens the model writes itself: `<s>`, `</s>`, `[IMG]`, `[/IMG]`, and the padding. */
  tokens: Readonly<MllmTokens>;
  /**
   * A learned embedding per feature slot (our addition, not in the paper; see PumaMLLM): input
   * images' slots carry their own slot's, a target's positions the slot they write, so a slot
   * being written can find the same slot of an input image. Default false.
   */
  slotEmbedding?: boolean;
  /**
   * A target image that follows an input image (editing, conditional generation) is regressed as
   * that input's features plus the head's output, slot by slot (our addition, not in the paper;
   * see PumaMLLM). Default false.
   */
  inputResidual?: boolean;
  /**
   * With inputResidual: an input that is an edge map (canny-to-image, MllmPart `edgeMap`) is no
   * residual base; its target is regressed whole. Its features are far from the target's (about
   * 10x the targets' spread at f4), so the residual would have to learn to undo them. Default
   * false (runs trained before it existed regress canny as a change to the edge map).
   */
  residualSkipsEdgeMaps?: boolean;
  /**
   * A target image that follows an input image is regressed as a learned linear map of the
   * input's features plus the head's output, slot by slot (`input_map`, [C, C] and a bias; our
   * addition): the input residual through a map instead of the identity, edge maps included. A
   * canny run starts the map at the ridge read-out of the image's features from its edge map's.
   * Default false.
   */
  inputMap?: boolean;
  /**
   * Its text-to-image captions were also given as the WordNet definitions of their names
   * (src/data/definitions.ts; our addition, standing in for the word knowledge of a pretrained
   * LLM), so a prompt with words no caption has is given to it as its definitions. Default false.
   */
  definitions?: boolean;
}

export interface MllmTokens { bos: number; eos: number; imgStart: number; imgEnd: number; pad: number }

/**
 * The small MLLM trained on the emoji world: hidden 256, 4 layers, 4 heads (2 KV heads), SwiGLU
 * 688 (~ 8/3 x 256 rounded to a multiple of 16), RoPE theta 10000.
 *
 * max_position_embeddings is 1024, not 512: an editing or conditional-generation sequence holds
 * two images (2 x 343 tokens) plus text, ~710 positions. RoPE has no learned table, so this is
 * only the bound we promise.
 *
 * @example
 * const cfg = smallMllmConfig(tok.vocabSize, tok.special, 128);
 */
export function smallMllmConfig(vocabSize: number, special: MllmTokens, featureDim = 128, additions: Additions = {}): Readonly<MllmConfig> {
  const llm = llamaConfig({
    vocab_size: vocabSize, hidden_size: 256, intermediate_size: 688, num_hidden_layers: 4,
    num_attention_heads: 4, num_key_value_heads: 2, max_position_embeddings: 1024, rms_norm_eps: 1e-5,
    rope_theta: 10000, bos_token_id: special.bos, eos_token_id: special.eos, tie_word_embeddings: false,
  });
  const { bos, eos, imgStart, imgEnd, pad } = special;
  return Object.freeze({ llm, featureDim, projector: 'mlp2x_gelu' as const, tokens: Object.freeze({ bos, eos, imgStart, imgEnd, pad }), ...onlyTrue(additions) });
}

/** The config as saved beside the weights (transformers-style snake_case for the LLaMA part). */
export function mllmConfigJson(c: Readonly<MllmConfig>): Record<string, unknown> {
  const l = c.llm;
  return {
    model_type: 'puma_mllm',
    feature_dim: c.featureDim,
    projector_type: c.projector,
    image_start_token_id: c.tokens.imgStart,
    image_end_token_id: c.tokens.imgEnd,
    pad_token_id: c.tokens.pad,
    ...(c.slotEmbedding ? { slot_embedding: true } : {}),
    ...(c.inputResidual ? { input_residual: true } : {}),
    ...(c.residualSkipsEdgeMaps ? { residual_skips_edge_maps: true } : {}),
    ...(c.inputMap ? { input_map: true } : {}),
    ...(c.definitions ? { definitions: true } : {}),
    text_config: {
      model_type: 'llama', vocab_size: l.vocabSize, hidden_size: l.hiddenSize, intermediate_size: l.intermediateSize,
      num_hidden_layers: l.numHiddenLayers, num_attention_heads: l.numAttentionHeads,
      num_key_value_heads: l.numKeyValueHeads, head_dim: l.headDim, max_position_embeddings: l.maxPositionEmbeddings,
      rms_norm_eps: l.rmsNormEps, rope_theta: l.ropeTheta, tie_word_embeddings: l.tieWordEmbeddings,
      bos_token_id: l.bosTokenId, eos_token_id: l.eosTokenId,
    },
  };
}

/** Reads what mllmConfigJson wrote. */
export function mllmConfigFromJson(raw: Record<string, unknown>): Readonly<MllmConfig> {
  if (raw.model_type !== 'puma_mllm') throw new Error(`not a PUMA MLLM config (model_type ${String(raw.model_type)})`);
  const projector = raw.projector_type as ProjectorType;
  if (projector !== 'linear' && projector !== 'mlp2x_gelu') throw new Error(`unknown projector_type '${String(projector)}'`);
  for (const k of ['slot_embedding', 'input_residual', 'residual_skips_edge_maps', 'input_map']) {
    if (raw[k] !== undefined && typeof raw[k] !== 'boolean') throw new Error(`${k} must be true or false, got ${String(raw[k])}`);
  }
  const llm = llamaConfig(raw.text_config as Record<string, unknown>);
  const eos = Array.isArray(llm.eosTokenId) ? llm.eosTokenId[0] : llm.eosTokenId;
  return Object.freeze({
    llm,
    featureDim: raw.feature_dim as number,
    projector,
    tokens: Object.freeze({
      bos: llm.bosTokenId, eos, imgStart: raw.image_start_token_id as number,
      imgEnd: raw.image_end_token_id as number, pad: raw.pad_token_id as number,
    }),
    ...onlyTrue({ slotEmbedding: raw.slot_embedding === true, inputResidual: raw.input_residual === true, residualSkipsEdgeMaps: raw.residual_skips_edge_maps === true, inputMap: raw.input_map === true, definitions: raw.definitions === true }),
  });
}

/** The additions that are on (a config without them is the paper's model, and compares equal to one written without them). */
function onlyTrue(a: Additions): { [K in keyof Additions]?: true } {
  return Object.fromEntries(Object.entries(a).filter(([, on]) => on === true));
}

/** Our additions to the paper's MLLM (all off by default). */
type Additions = Pick<MllmConfig, 'slotEmbedding' | 'inputResidual' | 'residualSkipsEdgeMaps' | 'inputMap' | 'definitions'>;
