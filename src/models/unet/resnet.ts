// diffusers' shared building blocks, with its module names: ResnetBlock2D, Downsample2D,
// Upsample2D, Attention (to_q/to_k/to_v/to_out.0), sinusoidal timestep embeddings and
// TimestepEmbedding. Used by the UNet and by the VAE.
import { Conv2d, Dropout, GroupNorm, Linear, Module, ModuleList, multiHeadAttention } from '../../nn/index.js';
import { cat, fromArray, silu, Tensor, tidyNoGrad, upsampleNearest, zeros } from '../../tensor/index.js';

/**
 * diffusers' get_timestep_embedding: [B] timesteps -> [B, dim] of sin/cos at frequencies
 * exp(-ln(10000) i / (dim/2 - shift)), cos first when flipSinToCos.
 *
 * @example
 * timestepEmbedding([10, 500], 320, true, 0); // [2, 320]
 */
export function timestepEmbedding(timesteps: ArrayLike<number>, dim: number, flipSinToCos: boolean, shift: number, maxPeriod = 10000): Tensor {
  const half = Math.floor(dim / 2), b = timesteps.length;
  const out = new Float32Array(b * dim);
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < half; j++) {
      // float32 at each step, as diffusers computes exponent, exp and product in float32
      const freq = Math.fround(Math.exp(Math.fround((-Math.log(maxPeriod) * j) / (half - shift))));
      const arg = Math.fround(Math.fround(timesteps[i]) * freq);
      const s = Math.sin(arg), c = Math.cos(arg);
      out[i * dim + (flipSinToCos ? half + j : j)] = s;
      out[i * dim + (flipSinToCos ? j : half + j)] = c;
    }
  }
  return fromArray(out, [b, dim]);
}

/** linear_1 -> SiLU -> linear_2 (diffusers TimestepEmbedding). */
export class TimestepEmbedding extends Module {
  readonly linear_1: Linear;
  readonly linear_2: Linear;

  constructor(inChannels: number, timeEmbedDim: number) {
    super();
    this.linear_1 = this.module('linear_1', new Linear(inChannels, timeEmbedDim));
    this.linear_2 = this.module('linear_2', new Linear(timeEmbedDim, timeEmbedDim));
  }

  forward(x: Tensor): Tensor {
    return this.linear_2.forward(silu(this.linear_1.forward(x)));
  }
}

export interface ResnetOptions {
  inChannels: number;
  outChannels: number;
  /** Width of the time embedding; null for the VAE (no time_emb_proj). */
  tembChannels: number | null;
  groups: number;
  eps: number;
  dropout?: number;
  outputScaleFactor?: number;
}

/** GroupNorm-SiLU-conv twice, time embedding added in between, 1x1 shortcut when widths differ. */
export class ResnetBlock2D extends Module {
  readonly norm1: GroupNorm;
  readonly conv1: Conv2d;
  readonly time_emb_proj: Linear | null;
  readonly norm2: GroupNorm;
  readonly dropout: Dropout;
  readonly conv2: Conv2d;
  readonly conv_shortcut: Conv2d | null;
  readonly outputScaleFactor: number;

  constructor(o: ResnetOptions) {
    super();
    this.norm1 = this.module('norm1', new GroupNorm(o.groups, o.inChannels, o.eps));
    this.conv1 = this.module('conv1', new Conv2d(o.inChannels, o.outChannels, 3, { padding: 1 }));
    this.time_emb_proj = o.tembChannels ? this.module('time_emb_proj', new Linear(o.tembChannels, o.outChannels)) : null;
    this.norm2 = this.module('norm2', new GroupNorm(o.groups, o.outChannels, o.eps));
    this.dropout = this.module('dropout', new Dropout(o.dropout ?? 0));
    this.conv2 = this.module('conv2', new Conv2d(o.outChannels, o.outChannels, 3, { padding: 1 }));
    this.conv_shortcut = o.inChannels !== o.outChannels ? this.module('conv_shortcut', new Conv2d(o.inChannels, o.outChannels, 1)) : null;
    this.outputScaleFactor = o.outputScaleFactor ?? 1;
  }

  // x: [B, Cin, H, W], temb: [B, T] -> [B, Cout, H, W]
  forward(x: Tensor, temb: Tensor | null = null): Tensor {
    return tidyNoGrad(() => {
      let h = this.conv1.forward(silu(this.norm1.forward(x)));
      if (this.time_emb_proj && temb) {
        const t = this.time_emb_proj.forward(silu(temb));
        h = h.add(t.reshape([t.shape[0], t.shape[1], 1, 1]));
      }
      h = this.conv2.forward(this.dropout.forward(silu(this.norm2.forward(h))));
      const skip = this.conv_shortcut ? this.conv_shortcut.forward(x) : x;
      const out = skip.add(h);
      return this.outputScaleFactor === 1 ? out : out.div(this.outputScaleFactor);
    });
  }
}

/** Stride-2 3x3 conv. padding 0 (the VAE encoder) pads right and bottom by one first. */
export class Downsample2D extends Module {
  readonly conv: Conv2d;

  constructor(channels: number, readonly padding = 1, outChannels = channels) {
    super();
    this.conv = this.module('conv', new Conv2d(channels, outChannels, 3, { stride: 2, padding }));
  }

  forward(x: Tensor): Tensor {
    return tidyNoGrad(() => {
      if (this.padding === 0) {
        const [n, c, h, w] = x.shape;
        x = cat([x, zeros([n, c, h, 1])], 3);
        x = cat([x, zeros([n, c, 1, w + 1])], 2);
      }
      return this.conv.forward(x);
    });
  }
}

/** Nearest 2x upsampling then a 3x3 conv. */
export class Upsample2D extends Module {
  readonly conv: Conv2d;

  constructor(channels: number, outChannels = channels) {
    super();
    this.conv = this.module('conv', new Conv2d(channels, outChannels, 3, { padding: 1 }));
  }

  forward(x: Tensor): Tensor {
    return tidyNoGrad(() => this.conv.forward(upsampleNearest(x, 2)));
  }
}

export interface AttentionOptions {
  queryDim: number;
  heads: number;
  dimHead: number;
  /** Width of the context for cross-attention (null: self-attention). */
  crossAttentionDim?: number | null;
  /** Bias on to_q/to_k/to_v (false in the UNet, true in the VAE). */
  bias?: boolean;
  /** GroupNorm over channels before attention (the VAE mid block). */
  normGroups?: number | null;
  eps?: number;
  /** Add the input back (the VAE mid block; the UNet's blocks add their own residual). */
  residualConnection?: boolean;
  rescaleOutputFactor?: number;
}

/** diffusers Attention with its default processor. Accepts [B, T, C] or [B, C, H, W]. */
export class Attention extends Module {
  readonly group_norm: GroupNorm | null;
  readonly to_q: Linear;
  readonly to_k: Linear;
  readonly to_v: Linear;
  readonly to_out: ModuleList<Linear | Dropout>;
  readonly heads: number;
  readonly residual: boolean;
  readonly rescale: number;

  constructor(o: AttentionOptions) {
    super();
    const inner = o.heads * o.dimHead, ctx = o.crossAttentionDim ?? o.queryDim, bias = o.bias ?? false;
    this.heads = o.heads;
    this.residual = o.residualConnection ?? false;
    this.rescale = o.rescaleOutputFactor ?? 1;
    this.group_norm = o.normGroups ? this.module('group_norm', new GroupNorm(o.normGroups, o.queryDim, o.eps ?? 1e-5)) : null;
    this.to_q = this.module('to_q', new Linear(o.queryDim, inner, { bias }));
    this.to_k = this.module('to_k', new Linear(ctx, inner, { bias }));
    this.to_v = this.module('to_v', new Linear(ctx, inner, { bias }));
    this.to_out = this.module('to_out', new ModuleList<Linear | Dropout>([new Linear(inner, o.queryDim), new Dropout(0)]));
  }

  // x: [B, T, C] (or [B, C, H, W]), context: [B, S, Cctx] -> same shape as x
  forward(x: Tensor, context: Tensor | null = null): Tensor {
    return tidyNoGrad(() => {
      const input = x;
      const spatial = x.ndim === 4;
      const [b, c, h, w] = x.shape;
      if (spatial) x = x.reshape([b, c, h * w]).transpose(1, 2);
      if (this.group_norm) x = this.group_norm.forward(x.transpose(1, 2)).transpose(1, 2);
      const kv = context ?? x;
      let o = multiHeadAttention(this.to_q.forward(x), this.to_k.forward(kv), this.to_v.forward(kv), { heads: this.heads });
      o = (this.to_out.at(0) as Linear).forward(o);
      if (spatial) o = o.transpose(1, 2).reshape([b, c, h, w]);
      if (this.residual) o = o.add(input);
      return this.rescale === 1 ? o : o.div(this.rescale);
    });
  }
}
