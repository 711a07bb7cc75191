// diffusers' Transformer2DModel (continuous input) and BasicTransformerBlock: self-attention,
// cross-attention on the conditioning tokens, GEGLU feed-forward, linear or 1x1-conv projections.
import { Conv2d, Dropout, GroupNorm, LayerNorm, Linear, Module, ModuleList } from '../../nn/index.js';
import { gelu, type Tensor, tidyNoGrad } from '../../tensor/index.js';
import { Attention } from './resnet.js';

/** proj -> (hidden, gate) halves -> hidden * gelu(gate). */
export class GEGLU extends Module {
  readonly proj: Linear;

  constructor(dimIn: number, dimOut: number) {
    super();
    this.proj = this.module('proj', new Linear(dimIn, dimOut * 2));
  }

  forward(x: Tensor): Tensor {
    const [hidden, gate] = this.proj.forward(x).chunk(2, -1);
    return hidden.mul(gelu(gate));
  }
}

/** net.0 = GEGLU(dim, 4 dim), net.1 = Dropout, net.2 = Linear(4 dim, dim). */
export class FeedForward extends Module {
  readonly net: ModuleList<GEGLU | Dropout | Linear>;

  constructor(dim: number, mult = 4) {
    super();
    this.net = this.module('net', new ModuleList<GEGLU | Dropout | Linear>([new GEGLU(dim, dim * mult), new Dropout(0), new Linear(dim * mult, dim)]));
  }

  forward(x: Tensor): Tensor {
    const h = (this.net.at(0) as GEGLU).forward(x);
    return (this.net.at(2) as Linear).forward((this.net.at(1) as Dropout).forward(h));
  }
}

export class BasicTransformerBlock extends Module {
  readonly norm1: LayerNorm;
  readonly attn1: Attention;
  readonly norm2: LayerNorm;
  readonly attn2: Attention;
  readonly norm3: LayerNorm;
  readonly ff: FeedForward;

  constructor(dim: number, heads: number, dimHead: number, crossAttentionDim: number, readonly onlyCrossAttention = false) {
    super();
    this.norm1 = this.module('norm1', new LayerNorm(dim, 1e-5));
    this.attn1 = this.module('attn1', new Attention({ queryDim: dim, heads, dimHead, crossAttentionDim: onlyCrossAttention ? crossAttentionDim : null }));
    this.norm2 = this.module('norm2', new LayerNorm(dim, 1e-5));
    this.attn2 = this.module('attn2', new Attention({ queryDim: dim, heads, dimHead, crossAttentionDim }));
    this.norm3 = this.module('norm3', new LayerNorm(dim, 1e-5));
    this.ff = this.module('ff', new FeedForward(dim));
  }

  // x: [B, HW, C], context: [B, S, Cctx]
  forward(x: Tensor, context: Tensor): Tensor {
    return tidyNoGrad(() => {
      x = x.add(this.attn1.forward(this.norm1.forward(x), this.onlyCrossAttention ? context : null));
      x = x.add(this.attn2.forward(this.norm2.forward(x), context));
      return x.add(this.ff.forward(this.norm3.forward(x)));
    });
  }
}

export interface Transformer2DOptions {
  heads: number;
  dimHead: number;
  inChannels: number;
  numLayers: number;
  crossAttentionDim: number;
  normGroups: number;
  useLinearProjection: boolean;
  onlyCrossAttention?: boolean;
}

/** GroupNorm -> proj_in -> transformer blocks over the HW tokens -> proj_out, plus the input. */
export class Transformer2DModel extends Module {
  readonly norm: GroupNorm;
  readonly proj_in: Linear | Conv2d;
  readonly transformer_blocks: ModuleList<BasicTransformerBlock>;
  readonly proj_out: Linear | Conv2d;
  readonly linear: boolean;

  constructor(o: Transformer2DOptions) {
    super();
    const inner = o.heads * o.dimHead;
    this.linear = o.useLinearProjection;
    this.norm = this.module('norm', new GroupNorm(o.normGroups, o.inChannels, 1e-6));
    this.proj_in = this.module('proj_in', this.linear ? new Linear(o.inChannels, inner) : new Conv2d(o.inChannels, inner, 1));
    this.transformer_blocks = this.module('transformer_blocks', new ModuleList(Array.from({ length: o.numLayers },
      () => new BasicTransformerBlock(inner, o.heads, o.dimHead, o.crossAttentionDim, o.onlyCrossAttention))));
    this.proj_out = this.module('proj_out', this.linear ? new Linear(inner, o.inChannels) : new Conv2d(inner, o.inChannels, 1));
  }

  // x: [B, C, H, W], context: [B, S, Cctx] -> [B, C, H, W]
  forward(x: Tensor, context: Tensor): Tensor {
    return tidyNoGrad(() => {
      const [b, c, h, w] = x.shape;
      let t = this.norm.forward(x);
      let inner: number;
      if (this.linear) {
        t = (this.proj_in as Linear).forward(t.permute([0, 2, 3, 1]).reshape([b, h * w, c]));
        inner = t.shape[2];
      } else {
        t = (this.proj_in as Conv2d).forward(t);
        inner = t.shape[1];
        t = t.permute([0, 2, 3, 1]).reshape([b, h * w, inner]);
      }
      for (const block of this.transformer_blocks) t = block.forward(t, context);
      let out: Tensor;
      if (this.linear) {
        out = (this.proj_out as Linear).forward(t).reshape([b, h, w, c]).permute([0, 3, 1, 2]);
      } else {
        out = (this.proj_out as Conv2d).forward(t.reshape([b, h, w, inner]).permute([0, 3, 1, 2]));
      }
      return out.add(x);
    });
  }
}
