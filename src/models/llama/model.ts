// LlamaForCausalLM with transformers' module names: RMSNorm, RoPE (with LLaMA-3 scaling),
// grouped-query attention, SwiGLU, a KV cache, and an inputsEmbeds entry point (PUMA feeds
// projected image features in and regresses features from the final hidden states).
import { loadCheckpoint } from '../../io/checkpoint.js';
import { llamaConfig, readConfigJson, type LlamaConfig } from '../../io/config.js';
import { deferInit, Embedding, Linear, mergeHeads, Module, ModuleList, RMSNorm, splitHeads } from '../../nn/index.js';
import {
  cat, fromArray, keep, rope, ropeTables, scaledDotProductAttention, silu, type Tensor,
} from '../../tensor/index.js';

/**
 * RoPE inverse frequencies theta^(-2i/D), float32 as transformers computes them, with the
 * 'linear' or 'llama3' rope_scaling applied (transformers' _compute_llama3_parameters).
 */
export function llamaInvFreq(config: Readonly<LlamaConfig>): Float32Array {
  const d = config.headDim, half = d / 2;
  const inv = new Float32Array(half);
  for (let i = 0; i < half; i++) inv[i] = 1 / Math.pow(config.ropeTheta, Math.fround((2 * i) / d));
  const s = config.ropeScaling;
  if (!s || s.ropeType === 'default') return inv;
  if (s.ropeType === 'linear') return inv.map((f) => f / s.factor);
  // llama3: long wavelengths divided by factor, short ones kept, a smooth blend in between
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highWavelen) return f;
    if (wavelen > lowWavelen) return f / s.factor;
    const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
    return (1 - smooth) * (f / s.factor) + smooth * f;
  });
}

/**
 * Keys and values of every layer for the positions seen so far: [B, Hkv, T, D] each.
 *
 * @example
 * const cache = new KVCache(cfg.numHiddenLayers);
 * let out = llm.forward({ inputIds: prompt, cache });
 * out = llm.forward({ inputIds: nextToken, cache }); // attends to the prompt via the cache
 * cache.dispose();
 */
export class KVCache {
  readonly keys: (Tensor | null)[];
  readonly values: (Tensor | null)[];

  constructor(readonly numLayers: number) {
    this.keys = Array(numLayers).fill(null);
    this.values = Array(numLayers).fill(null);
  }

  /** Number of cached positions. */
  get length(): number {
    return this.keys[0]?.shape[2] ?? 0;
  }

  /** Appends k, v [B, Hkv, T, D] for a layer and returns the full cached k, v. */
  update(layer: number, k: Tensor, v: Tensor): [Tensor, Tensor] {
    const pk = this.keys[layer], pv = this.values[layer];
    const nk = keep(pk ? cat([pk, k], 2) : k.contiguous());
    const nv = keep(pv ? cat([pv, v], 2) : v.contiguous());
    pk?.dispose();
    pv?.dispose();
    this.keys[layer] = nk;
    this.values[layer] = nv;
    return [nk, nv];
  }

  dispose(): void {
    for (const t of [...this.keys, ...this.values]) t?.dispose();
    this.keys.fill(null);
    this.values.fill(null);
  }
}

export class LlamaAttention extends Module {
  readonly q_proj: Linear;
  readonly k_proj: Linear;
  readonly v_proj: Linear;
  readonly o_proj: Linear;
  readonly heads: number;
  readonly kvHeads: number;

  constructor(c: Readonly<LlamaConfig>, readonly layerIdx: number) {
    super();
    const bias = c.attentionBias;
    this.heads = c.numAttentionHeads;
    this.kvHeads = c.numKeyValueHeads;
    this.q_proj = this.module('q_proj', new Linear(c.hiddenSize, c.numAttentionHeads * c.headDim, { bias }));
    this.k_proj = this.module('k_proj', new Linear(c.hiddenSize, c.numKeyValueHeads * c.headDim, { bias }));
    this.v_proj = this.module('v_proj', new Linear(c.hiddenSize, c.numKeyValueHeads * c.headDim, { bias }));
    this.o_proj = this.module('o_proj', new Linear(c.numAttentionHeads * c.headDim, c.hiddenSize, { bias }));
  }

  // x: [B, T, C] -> [B, T, C]
  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | null, cache: KVCache | null): Tensor {
    const q = rope(splitHeads(this.q_proj.forward(x), this.heads), cos, sin);
    let k = rope(splitHeads(this.k_proj.forward(x), this.kvHeads), cos, sin);
    let v = splitHeads(this.v_proj.forward(x), this.kvHeads);
    if (cache) [k, v] = cache.update(this.layerIdx, k, v);
    const o = scaledDotProductAttention(q, k, v, { causal: true, mask });
    return this.o_proj.forward(mergeHeads(o));
  }
}

export class LlamaMLP extends Module {
  readonly gate_proj: Linear;
  readonly up_proj: Linear;
  readonly down_proj: Linear;

  constructor(c: Readonly<LlamaConfig>) {
    super();
    const bias = c.mlpBias;
    this.gate_proj = this.module('gate_proj', new Linear(c.hiddenSize, c.intermediateSize, { bias }));
    this.up_proj = this.module('up_proj', new Linear(c.hiddenSize, c.intermediateSize, { bias }));
    this.down_proj = this.module('down_proj', new Linear(c.intermediateSize, c.hiddenSize, { bias }));
  }

  // SwiGLU: down(silu(gate(x)) * up(x))
  forward(x: Tensor): Tensor {
    return this.down_proj.forward(silu(this.gate_proj.forward(x)).mul(this.up_proj.forward(x)));
  }
}

export class LlamaDecoderLayer extends Module {
  readonly self_attn: LlamaAttention;
  readonly mlp: LlamaMLP;
  readonly input_layernorm: RMSNorm;
  readonly post_attention_layernorm: RMSNorm;

  constructor(c: Readonly<LlamaConfig>, layerIdx: number) {
    super();
    this.self_attn = this.module('self_attn', new LlamaAttention(c, layerIdx));
    this.mlp = this.module('mlp', new LlamaMLP(c));
    this.input_layernorm = this.module('input_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
    this.post_attention_layernorm = this.module('post_attention_layernorm', new RMSNorm(c.hiddenSize, c.rmsNormEps));
  }

  forward(x: Tensor, cos: Tensor, sin: Tensor, mask: Tensor | null, cache: KVCache | null): Tensor {
    const h = x.add(this.self_attn.forward(this.input_layernorm.forward(x), cos, sin, mask, cache));
    return h.add(this.mlp.forward(this.post_attention_layernorm.forward(h)));
  }
}

export interface LlamaInputs {
  /** Token ids [B, T] (int32). Exactly one of inputIds / inputsEmbeds. */
  inputIds?: Tensor;
  /** Embeddings [B, T, C], e.g. text embeddings with projected image features spliced in. */
  inputsEmbeds?: Tensor;
  /** 1 = attend, 0 = padding, over all positions so far including the cache: [B, Tcache + T]. */
  attentionMask?: Tensor;
  /** Incremental decoding: keys/values of earlier positions; updated in place. */
  cache?: KVCache;
  /** Which logits to compute: every position (default), only the last, or none. */
  logits?: 'all' | 'last' | 'none';
}

export interface LlamaOutput {
  /** [B, T, V], [B, 1, V] with logits: 'last', or null with logits: 'none'. */
  logits: Tensor | null;
  /** The final hidden states after model.norm: [B, T, C]. */
  hiddenStates: Tensor;
}

export class LlamaModel extends Module {
  readonly embed_tokens: Embedding;
  readonly layers: ModuleList<LlamaDecoderLayer>;
  readonly norm: RMSNorm;

  constructor(readonly config: Readonly<LlamaConfig>) {
    super();
    this.embed_tokens = this.module('embed_tokens', new Embedding(config.vocabSize, config.hiddenSize));
    this.layers = this.module('layers', new ModuleList(Array.from({ length: config.numHiddenLayers }, (_, i) => new LlamaDecoderLayer(config, i))));
    this.norm = this.module('norm', new RMSNorm(config.hiddenSize, config.rmsNormEps));
    // checkpoints saved by older transformers carry the rotary buffer
    this.ignoredKeys = [/layers\.\d+\.self_attn\.rotary_emb\.inv_freq$/];
  }
}

/**
 * LLaMA with an LM head; keys `model.*` and `lm_head.weight` as in transformers.
 *
 * @example
 * const llm = new LlamaForCausalLM(llamaConfig(readConfigJson(dir)));
 * loadCheckpoint(llm, dir);
 * const { logits, hiddenStates } = llm.forward({ inputIds });
 */
export class LlamaForCausalLM extends Module {
  readonly model: LlamaModel;
  readonly lm_head: Linear | null;
  private readonly invFreq: Float32Array;

  constructor(readonly config: Readonly<LlamaConfig>) {
    super();
    this.model = this.module('model', new LlamaModel(config));
    this.lm_head = config.tieWordEmbeddings ? null : this.module('lm_head', new Linear(config.hiddenSize, config.vocabSize, { bias: false }));
    if (config.tieWordEmbeddings) this.ignoredKeys = [/lm_head\.weight$/];
    this.invFreq = llamaInvFreq(config);
  }

  /**
   * Builds the model from a transformers folder (config.json + model.safetensors or its shard
   * index) and streams the weights in.
   *
   * @example
   * const llm = LlamaForCausalLM.fromPretrained('/models/Meta-Llama-3-8B');
   */
  static fromPretrained(dir: string, overrides: Partial<LlamaConfig> = {}): LlamaForCausalLM {
    const m = deferInit(() => new LlamaForCausalLM(llamaConfig(readConfigJson(dir), overrides)));
    loadCheckpoint(m, dir);
    return m.eval();
  }

  /** Token embeddings [B, T] -> [B, T, C] (to splice other embeddings in before forward). */
  embed(ids: Tensor): Tensor {
    return this.model.embed_tokens.forward(ids);
  }

  /** hidden [.., C] -> logits [.., V] through lm_head (or the tied embedding). */
  logits(hidden: Tensor): Tensor {
    return this.lm_head ? this.lm_head.forward(hidden) : hidden.matmul(this.model.embed_tokens.weight.transpose(0, 1));
  }

  forward(inp: LlamaInputs): LlamaOutput {
    if (!!inp.inputIds === !!inp.inputsEmbeds) throw new Error('LlamaForCausalLM: pass exactly one of inputIds and inputsEmbeds');
    let h = inp.inputsEmbeds ?? this.embed(inp.inputIds!);
    const [b, t] = h.shape;
    const start = inp.cache?.length ?? 0;
    const { cos, sin } = ropeTables(t, this.config.headDim, this.config.ropeTheta, start, this.invFreq);
    let mask: Tensor | null = null;
    if (inp.attentionMask) {
      const am = inp.attentionMask.contiguousData(), tk = start + t;
      if (am.length !== b * tk) throw new RangeError(`attentionMask must be [B, ${tk}] (cache + new positions)`);
      // large negative rather than -inf, so a padded query row stays finite (transformers uses finfo.min)
      mask = fromArray(Float32Array.from(am, (v) => (v ? 0 : -1e9)), [b, 1, 1, tk]);
    }
    for (const layer of this.model.layers) h = layer.forward(h, cos, sin, mask, inp.cache ?? null);
    const hidden = this.model.norm.forward(h);
    const which = inp.logits ?? 'all';
    const logits = which === 'none' ? null : this.logits(which === 'last' ? hidden.narrow(1, t - 1, 1) : hidden);
    return { logits, hiddenStates: hidden };
  }
}
