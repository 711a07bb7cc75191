// The UNet's down, mid and up blocks (diffusers' DownBlock2D / CrossAttnDownBlock2D,
// UNetMidBlock2DCrossAttn, UpBlock2D / CrossAttnUpBlock2D), one class per direction with the
// attentions present only in the cross-attention variants, as the checkpoint keys are.
import { Module, ModuleList } from '../../nn/index.js';
import { cat, type Tensor, tidyNoGrad } from '../../tensor/index.js';
import { Downsample2D, ResnetBlock2D, Upsample2D } from './resnet.js';
import { Transformer2DModel } from './transformer.js';

export interface BlockOptions {
  numLayers: number;
  inChannels: number;
  outChannels: number;
  tembChannels: number;
  groups: number;
  eps: number;
  dropout: number;
  /** Cross-attention variant: heads, transformer depth and context width. */
  crossAttention: { heads: number; transformerLayers: number; crossAttentionDim: number; useLinearProjection: boolean; onlyCrossAttention: boolean } | null;
}

function transformer(o: BlockOptions): Transformer2DModel {
  const ca = o.crossAttention!;
  return new Transformer2DModel({
    heads: ca.heads, dimHead: o.outChannels / ca.heads, inChannels: o.outChannels, numLayers: ca.transformerLayers,
    crossAttentionDim: ca.crossAttentionDim, normGroups: o.groups, useLinearProjection: ca.useLinearProjection,
    onlyCrossAttention: ca.onlyCrossAttention,
  });
}

/** DownBlock2D, or CrossAttnDownBlock2D when crossAttention is set. */
export class DownBlock extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<Transformer2DModel> | null;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(o: BlockOptions & { addDownsample: boolean; downsamplePadding: number }) {
    super();
    this.resnets = this.module('resnets', new ModuleList(Array.from({ length: o.numLayers }, (_, i) => new ResnetBlock2D({
      inChannels: i === 0 ? o.inChannels : o.outChannels, outChannels: o.outChannels, tembChannels: o.tembChannels,
      groups: o.groups, eps: o.eps, dropout: o.dropout,
    }))));
    this.attentions = o.crossAttention ? this.module('attentions', new ModuleList(Array.from({ length: o.numLayers }, () => transformer(o)))) : null;
    this.downsamplers = o.addDownsample
      ? this.module('downsamplers', new ModuleList([new Downsample2D(o.outChannels, o.downsamplePadding)]))
      : null;
  }

  /** Returns the block output and the skip states it contributes (one per layer, one per downsampler). */
  forward(x: Tensor, temb: Tensor, context: Tensor): { out: Tensor; skips: Tensor[] } {
    return tidyNoGrad(() => {
      const skips: Tensor[] = [];
      this.resnets.items.forEach((r, i) => {
        x = r.forward(x, temb);
        if (this.attentions) x = this.attentions.at(i).forward(x, context);
        skips.push(x);
      });
      if (this.downsamplers) skips.push((x = this.downsamplers.at(0).forward(x)));
      return { out: x, skips };
    });
  }
}

/** UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) pairs. */
export class MidBlock2DCrossAttn extends Module {
  readonly attentions: ModuleList<Transformer2DModel>;
  readonly resnets: ModuleList<ResnetBlock2D>;

  constructor(o: Omit<BlockOptions, 'outChannels'> & { outputScaleFactor: number }) {
    super();
    const opts = { ...o, outChannels: o.inChannels };
    this.attentions = this.module('attentions', new ModuleList(Array.from({ length: o.numLayers }, () => transformer(opts))));
    this.resnets = this.module('resnets', new ModuleList(Array.from({ length: o.numLayers + 1 }, () => new ResnetBlock2D({
      inChannels: o.inChannels, outChannels: o.inChannels, tembChannels: o.tembChannels, groups: o.groups, eps: o.eps,
      dropout: o.dropout, outputScaleFactor: o.outputScaleFactor,
    }))));
  }

  forward(x: Tensor, temb: Tensor, context: Tensor): Tensor {
    return tidyNoGrad(() => {
      x = this.resnets.at(0).forward(x, temb);
      this.attentions.items.forEach((a, i) => {
        x = this.resnets.at(i + 1).forward(a.forward(x, context), temb);
      });
      return x;
    });
  }
}

/** UpBlock2D, or CrossAttnUpBlock2D when crossAttention is set; consumes skips from the end. */
export class UpBlock extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly attentions: ModuleList<Transformer2DModel> | null;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(o: BlockOptions & { prevOutputChannels: number; addUpsample: boolean }) {
    super();
    this.resnets = this.module('resnets', new ModuleList(Array.from({ length: o.numLayers }, (_, i) => {
      const skip = i === o.numLayers - 1 ? o.inChannels : o.outChannels;
      const input = i === 0 ? o.prevOutputChannels : o.outChannels;
      return new ResnetBlock2D({
        inChannels: input + skip, outChannels: o.outChannels, tembChannels: o.tembChannels,
        groups: o.groups, eps: o.eps, dropout: o.dropout,
      });
    })));
    this.attentions = o.crossAttention ? this.module('attentions', new ModuleList(Array.from({ length: o.numLayers }, () => transformer(o)))) : null;
    this.upsamplers = o.addUpsample ? this.module('upsamplers', new ModuleList([new Upsample2D(o.outChannels)])) : null;
  }

  forward(x: Tensor, skips: Tensor[], temb: Tensor, context: Tensor): Tensor {
    return tidyNoGrad(() => {
      this.resnets.items.forEach((r, i) => {
        x = r.forward(cat([x, skips.pop()!], 1), temb);
        if (this.attentions) x = this.attentions.at(i).forward(x, context);
      });
      if (this.upsamplers) x = this.upsamplers.at(0).forward(x);
      return x;
    });
  }
}
