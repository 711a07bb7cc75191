// CLIP with transformers' module names: the vision tower (PUMA's frozen image encoder), the
// text tower (causal, pooled at EOS) and the projections with logit_scale similarity.
import { loadCheckpoint } from '../../io/checkpoint.js';
import {
  clipConfig, clipVisionConfig, readConfigJson, type CLIPConfig, type CLIPTextConfig, type CLIPVisionConfig,
} from '../../io/config.js';
import { Conv2d, deferInit, Embedding, LayerNorm, Linear, Module, ModuleList, multiHeadAttention } from '../../nn/index.js';
import { normal } from '../../nn/init.js';
import { cat, fromArray, gelu, quickGelu, type Tensor } from '../../tensor/index.js';

type TowerConfig = Readonly<CLIPVisionConfig> | Readonly<CLIPTextConfig>;

function activation(name: string, x: Tensor): Tensor {
  if (name === 'quick_gelu') return quickGelu(x);
  if (name === 'gelu') return gelu(x);
  if (name === 'gelu_new' || name === 'gelu_pytorch_tanh') return gelu(x, 'tanh');
  throw new Error(`CLIP: unsupported hidden_act '${name}'`);
}

export class CLIPAttention extends Module {
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly q_proj: Linear;
  readonly out_proj: Linear;
  readonly heads: number;

  constructor(c: TowerConfig) {
    super();
    const d = c.hiddenSize;
    this.heads = c.numAttentionHeads;
    this.k_proj = this.module('k_proj', new Linear(d, d));
    this.v_proj = this.module('v_proj', new Linear(d, d));
    this.q_proj = this.module('q_proj', new Linear(d, d));
    this.out_proj = this.module('out_proj', new Linear(d, d));
  }

  // x: [B, T, C] -> [B, T, C]
  forward(x: Tensor, opts: { causal?: boolean; mask?: Tensor | null } = {}): Tensor {
    const o = multiHeadAttention(this.q_proj.forward(x), this.k_proj.forward(x), this.v_proj.forward(x), {
      heads: this.heads, causal: opts.causal, mask: opts.mask,
    });
    return this.out_proj.forward(o);
  }
}

export class CLIPMLP extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(readonly c: TowerConfig) {
    super();
    this.fc1 = this.module('fc1', new Linear(c.hiddenSize, c.intermediateSize));
    this.fc2 = this.module('fc2', new Linear(c.intermediateSize, c.hiddenSize));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(activation(this.c.hiddenAct, this.fc1.forward(x)));
  }
}

export class CLIPEncoderLayer extends Module {
  readonly self_attn: CLIPAttention;
  readonly layer_norm1: LayerNorm;
  readonly mlp: CLIPMLP;
  readonly layer_norm2: LayerNorm;

  constructor(c: TowerConfig) {
    super();
    this.self_attn = this.module('self_attn', new CLIPAttention(c));
    this.layer_norm1 = this.module('layer_norm1', new LayerNorm(c.hiddenSize, c.layerNormEps));
    this.mlp = this.module('mlp', new CLIPMLP(c));
    this.layer_norm2 = this.module('layer_norm2', new LayerNorm(c.hiddenSize, c.layerNormEps));
  }

  forward(x: Tensor, opts: { causal?: boolean; mask?: Tensor | null } = {}): Tensor {
    const h = x.add(this.self_attn.forward(this.layer_norm1.forward(x), opts));
    return h.add(this.mlp.forward(this.layer_norm2.forward(h)));
  }
}

export class CLIPEncoder extends Module {
  readonly layers: ModuleList<CLIPEncoderLayer>;

  constructor(c: TowerConfig) {
    super();
    this.layers = this.module('layers', new ModuleList(Array.from({ length: c.numHiddenLayers }, () => new CLIPEncoderLayer(c))));
  }

  /** Returns the output of every layer (the last one is last_hidden_state). */
  forward(x: Tensor, opts: { causal?: boolean; mask?: Tensor | null } = {}): Tensor[] {
    const states: Tensor[] = [];
    for (const layer of this.layers) states.push((x = layer.forward(x, opts)));
    return states;
  }
}

export class CLIPVisionEmbeddings extends Module {
  readonly class_embedding: Tensor;
  readonly patch_embedding: Conv2d;
  readonly position_embedding: Embedding;
  readonly numPositions: number;

  constructor(readonly c: Readonly<CLIPVisionConfig>) {
    super();
    this.class_embedding = this.param('class_embedding', [c.hiddenSize], normal(1));
    this.patch_embedding = this.module('patch_embedding', new Conv2d(c.numChannels, c.hiddenSize, c.patchSize, { stride: c.patchSize, bias: false }));
    this.numPositions = (c.imageSize / c.patchSize) ** 2 + 1;
    this.position_embedding = this.module('position_embedding', new Embedding(this.numPositions, c.hiddenSize));
  }

  // pixels: [B, 3, H, W] -> [B, 1 + (H/P)(W/P), C]
  forward(pixels: Tensor): Tensor {
    const b = pixels.shape[0], d = this.c.hiddenSize;
    const patches = this.patch_embedding.forward(pixels).flatten(2).transpose(1, 2);
    if (patches.shape[1] + 1 !== this.numPositions) {
      throw new RangeError(`CLIP vision: ${pixels.shape[2]}x${pixels.shape[3]} input gives ${patches.shape[1]} patches, expected ${this.numPositions - 1}`);
    }
    const cls = this.class_embedding.reshape([1, 1, d]).expand([b, 1, d]);
    return cat([cls, patches], 1).add(this.position_embedding.weight.unsqueeze(0));
  }
}

export interface CLIPVisionOutput {
  /** Encoder output before post_layernorm: [B, 1 + N, C] (PUMA drops the CLS token). */
  lastHiddenState: Tensor;
  /** post_layernorm(CLS token): [B, C]. */
  pooledOutput: Tensor;
  /** Every layer's output when requested (hidden_states[1:] in transformers). */
  hiddenStates?: Tensor[];
}

export class CLIPVisionTransformer extends Module {
  readonly embeddings: CLIPVisionEmbeddings;
  readonly pre_layrnorm: LayerNorm;
  readonly encoder: CLIPEncoder;
  readonly post_layernorm: LayerNorm;

  constructor(readonly config: Readonly<CLIPVisionConfig>) {
    super();
    this.embeddings = this.module('embeddings', new CLIPVisionEmbeddings(config));
    // sic: the checkpoint key is "pre_layrnorm"
    this.pre_layrnorm = this.module('pre_layrnorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.encoder = this.module('encoder', new CLIPEncoder(config));
    this.post_layernorm = this.module('post_layernorm', new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.ignoredKeys = [/embeddings\.position_ids$/];
  }

  forward(pixels: Tensor, opts: { outputHiddenStates?: boolean } = {}): CLIPVisionOutput {
    const states = this.encoder.forward(this.pre_layrnorm.forward(this.embeddings.forward(pixels)));
    const last = states[states.length - 1];
    const pooled = this.post_layernorm.forward(last.narrow(1, 0, 1).squeeze(1));
    return { lastHiddenState: last, pooledOutput: pooled, hiddenStates: opts.outputHiddenStates ? states : undefined };
  }
}

/**
 * transformers' CLIPVisionModelWithProjection: keys `vision_model.*` and `visual_projection.weight`.
 * Loads from a full CLIPModel checkpoint (openai/clip-vit-large-patch14) with the text keys ignored.
 *
 * @example
 * const clip = new CLIPVisionModelWithProjection(clipVisionConfig(readConfigJson(dir)));
 * loadCheckpoint(clip, dir, { ignore: CLIP_TEXT_KEYS });
 * const { lastHiddenState } = clip.forward(pixels); // [B, 257, 1024] for ViT-L/14 at 224
 */
export class CLIPVisionModelWithProjection extends Module {
  readonly vision_model: CLIPVisionTransformer;
  readonly visual_projection: Linear;

  constructor(readonly config: Readonly<CLIPVisionConfig>) {
    super();
    this.vision_model = this.module('vision_model', new CLIPVisionTransformer(config));
    this.visual_projection = this.module('visual_projection', new Linear(config.hiddenSize, config.projectionDim, { bias: false }));
  }

  /**
   * From a CLIPModel or CLIPVisionModelWithProjection folder (openai/clip-vit-large-patch14):
   * the text tower's weights, if present, are skipped.
   *
   * @example
   * const clip = CLIPVisionModelWithProjection.fromPretrained('/models/clip-vit-large-patch14').freeze();
   */
  static fromPretrained(dir: string): CLIPVisionModelWithProjection {
    const m = deferInit(() => new CLIPVisionModelWithProjection(clipVisionConfig(readConfigJson(dir))));
    loadCheckpoint(m, dir, { ignore: CLIP_TEXT_KEYS });
    return m.eval();
  }

  forward(pixels: Tensor, opts: { outputHiddenStates?: boolean } = {}): CLIPVisionOutput & { imageEmbeds: Tensor } {
    const out = this.vision_model.forward(pixels, opts);
    return { ...out, imageEmbeds: this.visual_projection.forward(out.pooledOutput) };
  }
}

/** Keys of a CLIPModel checkpoint that a vision-only model does not use. */
export const CLIP_TEXT_KEYS = [/^text_model\./, /^text_projection\./, /^logit_scale$/];

export class CLIPTextEmbeddings extends Module {
  readonly token_embedding: Embedding;
  readonly position_embedding: Embedding;

  constructor(c: Readonly<CLIPTextConfig>) {
    super();
    this.token_embedding = this.module('token_embedding', new Embedding(c.vocabSize, c.hiddenSize));
    this.position_embedding = this.module('position_embedding', new Embedding(c.maxPositionEmbeddings, c.hiddenSize));
  }

  // ids: [B, T] -> [B, T, C]
  forward(ids: Tensor): Tensor {
    const t = ids.shape[1];
    return this.token_embedding.forward(ids).add(this.position_embedding.weight.narrow(0, 0, t).unsqueeze(0));
  }
}

export interface CLIPTextOutput {
  /** final_layer_norm(encoder output): [B, T, C]. */
  lastHiddenState: Tensor;
  /** The hidden state at each sequence's EOS token: [B, C]. */
  pooledOutput: Tensor;
}

export class CLIPTextTransformer extends Module {
  readonly embeddings: CLIPTextEmbeddings;
  readonly encoder: CLIPEncoder;
  readonly final_layer_norm: LayerNorm;

  constructor(readonly config: Readonly<CLIPTextConfig>) {
    super();
    this.embeddings = this.module('embeddings', new CLIPTextEmbeddings(config));
    this.encoder = this.module('encoder', new CLIPEncoder(config));
    this.final_layer_norm = this.module('final_layer_norm', new LayerNorm(config.hiddenSize, config.layerNormEps));
    this.ignoredKeys = [/embeddings\.position_ids$/];
  }

  /** ids [B, T] int32; attentionMask [B, T] of 1 (token) / 0 (padding). */
  forward(ids: Tensor, attentionMask?: Tensor): CLIPTextOutput {
    const [b, t] = ids.shape;
    let mask: Tensor | null = null;
    if (attentionMask) {
      const am = attentionMask.contiguousData();
      mask = fromArray(Float32Array.from(am, (v) => (v ? 0 : -1e9)), [b, 1, 1, t]);
    }
    const states = this.encoder.forward(this.embeddings.forward(ids), { causal: true, mask });
    const hidden = this.final_layer_norm.forward(states[states.length - 1]);
    // Pool at EOS: legacy configs (eos_token_id 2) take argmax(ids), EOS being the largest id.
    const idv = ids.contiguousData(), eos = this.config.eosTokenId;
    const rows: Tensor[] = [];
    for (let i = 0; i < b; i++) {
      const row = idv.subarray(i * t, (i + 1) * t);
      let at = 0;
      if (eos === 2) {
        for (let j = 1; j < t; j++) if (row[j] > row[at]) at = j;
      } else {
        const k = row.indexOf(eos);
        at = k < 0 ? 0 : k;
      }
      rows.push(hidden.narrow(0, i, 1).narrow(1, at, 1).reshape([1, -1]));
    }
    return { lastHiddenState: hidden, pooledOutput: cat(rows, 0) };
  }
}

/**
 * transformers' CLIPModel: both towers, both projections and logit_scale.
 *
 * @example
 * const { logitsPerText } = clip.similarity(pixels, ids); // [Btext, Bimage]
 */
export class CLIPModel extends Module {
  readonly text_model: CLIPTextTransformer;
  readonly vision_model: CLIPVisionTransformer;
  readonly visual_projection: Linear;
  readonly text_projection: Linear;
  readonly logit_scale: Tensor;

  constructor(readonly config: Readonly<CLIPConfig>) {
    super();
    const { textConfig: tc, visionConfig: vc } = config;
    this.text_model = this.module('text_model', new CLIPTextTransformer(tc));
    this.vision_model = this.module('vision_model', new CLIPVisionTransformer(vc));
    this.visual_projection = this.module('visual_projection', new Linear(vc.hiddenSize, config.projectionDim, { bias: false }));
    this.text_projection = this.module('text_projection', new Linear(tc.hiddenSize, config.projectionDim, { bias: false }));
    this.logit_scale = this.param('logit_scale', [], (t) => t.data.fill(config.logitScaleInitValue));
  }

  /** From a CLIPModel folder (config.json with text_config and vision_config, model.safetensors). */
  static fromPretrained(dir: string): CLIPModel {
    const m = deferInit(() => new CLIPModel(clipConfig(readConfigJson(dir))));
    loadCheckpoint(m, dir);
    return m.eval();
  }

  imageEmbeds(pixels: Tensor): Tensor {
    return this.visual_projection.forward(this.vision_model.forward(pixels).pooledOutput);
  }

  textEmbeds(ids: Tensor, attentionMask?: Tensor): Tensor {
    return this.text_projection.forward(this.text_model.forward(ids, attentionMask).pooledOutput);
  }

  /** Cosine similarities times exp(logit_scale): logitsPerText [Bt, Bi] and its transpose. */
  similarity(pixels: Tensor, ids: Tensor, attentionMask?: Tensor): { logitsPerText: Tensor; logitsPerImage: Tensor } {
    const norm = (e: Tensor) => e.div(e.square().sum(-1, true).sqrt());
    const img = norm(this.imageEmbeds(pixels)), txt = norm(this.textEmbeds(ids, attentionMask));
    const logitsPerText = txt.matmul(img.transpose(0, 1)).mul(this.logit_scale.exp());
    return { logitsPerText, logitsPerImage: logitsPerText.transpose(0, 1) };
  }
}
