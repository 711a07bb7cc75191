// The basic layers, with torch.nn's parameter names (weight, bias) and default initialisation.
import {
  conv2d, dropout, embedding, groupNorm, layerNorm, linear, rmsNorm, scaledDotProductAttention,
  type Tensor,
} from '../tensor/index.js';
import { fanInUniform, normal, onesInit, zerosInit } from './init.js';
import { Module } from './module.js';

/**
 * y = x W^T + b with weight [out, in].
 *
 * @example
 * const fc = new Linear(1024, 2048);
 * fc.forward(x); // [B, T, 1024] -> [B, T, 2048]
 */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, opts: { bias?: boolean } = {}) {
    super();
    this.weight = this.param('weight', [outFeatures, inFeatures], fanInUniform(inFeatures));
    this.bias = (opts.bias ?? true) ? this.param('bias', [outFeatures], fanInUniform(inFeatures)) : null;
  }

  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}

/**
 * 2-D convolution on NCHW, weight [O, C, k, k].
 *
 * @example
 * new Conv2d(4, 320, 3, { padding: 1 }).forward(latents);
 */
export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number, readonly outChannels: number, readonly kernelSize: number,
    opts: { stride?: number; padding?: number; bias?: boolean } = {},
  ) {
    super();
    this.stride = opts.stride ?? 1;
    this.padding = opts.padding ?? 0;
    const fanIn = inChannels * kernelSize * kernelSize;
    this.weight = this.param('weight', [outChannels, inChannels, kernelSize, kernelSize], fanInUniform(fanIn));
    this.bias = (opts.bias ?? true) ? this.param('bias', [outChannels], fanInUniform(fanIn)) : null;
  }

  forward(x: Tensor): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding });
  }
}

/** Lookup table [num, dim] indexed by int32 ids. */
export class Embedding extends Module {
  readonly weight: Tensor;

  constructor(readonly numEmbeddings: number, readonly embeddingDim: number) {
    super();
    this.weight = this.param('weight', [numEmbeddings, embeddingDim], normal(1));
  }

  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

export class LayerNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly dim: number, readonly eps = 1e-5, opts: { affine?: boolean; bias?: boolean } = {}) {
    super();
    const affine = opts.affine ?? true;
    this.weight = affine ? this.param('weight', [dim], onesInit) : null;
    this.bias = affine && (opts.bias ?? true) ? this.param('bias', [dim], zerosInit) : null;
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class GroupNorm extends Module {
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, readonly eps = 1e-5, affine = true) {
    super();
    if (numChannels % numGroups !== 0) throw new RangeError(`GroupNorm: ${numChannels} channels do not split into ${numGroups} groups`);
    this.weight = affine ? this.param('weight', [numChannels], onesInit) : null;
    this.bias = affine ? this.param('bias', [numChannels], zerosInit) : null;
  }

  forward(x: Tensor): Tensor {
    return groupNorm(x, this.numGroups, this.weight, this.bias, this.eps);
  }
}

/** LLaMA's RMSNorm (weight only). */
export class RMSNorm extends Module {
  readonly weight: Tensor;

  constructor(readonly dim: number, readonly eps = 1e-6) {
    super();
    this.weight = this.param('weight', [dim], onesInit);
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

/** Inverted dropout, active only in training mode. */
export class Dropout extends Module {
  constructor(readonly p = 0) {
    super();
  }

  forward(x: Tensor): Tensor {
    return this.training && this.p > 0 ? dropout(x, this.p, true) : x;
  }
}

/** [B, T, H*D] -> [B, H, T, D] */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, c] = x.shape;
  return x.reshape([b, t, heads, c / heads]).transpose(1, 2);
}

/** [B, H, T, D] -> [B, T, H*D] */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape;
  return x.transpose(1, 2).reshape([b, t, h * d]);
}

/**
 * Multi-head attention on already-projected q [B, Tq, H*D], k and v [B, Tk, Hkv*D]:
 * splits heads, runs fused attention, merges heads. The projections live in each model
 * under that model's checkpoint names (q_proj, to_q, ...).
 *
 * @example
 * multiHeadAttention(q, k, v, { heads: 16, causal: true }); // -> [B, Tq, H*D]
 */
export function multiHeadAttention(
  q: Tensor, k: Tensor, v: Tensor,
  opts: { heads: number; kvHeads?: number; mask?: Tensor | null; causal?: boolean; scale?: number },
): Tensor {
  const kvHeads = opts.kvHeads ?? opts.heads;
  const o = scaledDotProductAttention(splitHeads(q, opts.heads), splitHeads(k, kvHeads), splitHeads(v, kvHeads), {
    mask: opts.mask, causal: opts.causal, scale: opts.scale,
  });
  return mergeHeads(o);
}
