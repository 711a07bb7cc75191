// PUMA's multi-granular diffusion decoders (paper 3.2): one UNet2DConditionModel per scale,
// conditioned on that scale's features through `mapping_layer` + cross-attention, with the
// learned `embed_img_pos` for the 256-token scale (PUMA-REFERENCE section 2).
//
// Small-scale addition, `spatial_proj`: the features of scale k (a g x g grid) are also
// projected to a few channels, upsampled to the latent's 16x16 and concatenated to the UNet
// input. A PyTorch study of this pipeline (shared/FINDINGS.md) found cross-attention-only
// decoders still ignoring their conditioning after ~10 minutes of training (~10 dB at every
// scale) although f0 carries the image; a spatially aligned input path makes the conditioning
// easy to use. It is off (spatialChannels = 0) for the authors' released SDXL-size decoders.
import { unetConfig, type UNetConfig } from '../../io/config.js';
import { Linear, Module } from '../../nn/index.js';
import { cat, upsampleNearest, type Tensor } from '../../tensor/index.js';
import { UNet2DConditionModel } from '../unet/model.js';
import { SCALE_TOKENS } from './encoder.js';

export interface DecoderConfig {
  /** Scale index k: 0 = f0 (256 tokens) ... 4 = f4 (1 token). */
  scale: number;
  featureDim: number;
  latentChannels: number;
  latentSize: number;
  /** Channels of the spatial conditioning path (0 = the paper's cross-attention only). */
  spatialChannels: number;
  unet: Readonly<UNetConfig>;
}

/** The small decoder used on the emoji world: 16x16x4 latents, ~1.5M parameters. */
export function smallDecoderConfig(scale: number, featureDim: number, spatialChannels = 16): DecoderConfig {
  const crossDim = 64;
  return {
    scale, featureDim, latentChannels: 4, latentSize: 16, spatialChannels,
    unet: unetConfig({
      sample_size: 16, in_channels: 4 + spatialChannels, out_channels: 4,
      down_block_types: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
      up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
      mid_block_type: 'UNetMidBlock2DCrossAttn',
      block_out_channels: [32, 64, 64], layers_per_block: 1, transformer_layers_per_block: 1,
      attention_head_dim: 2, cross_attention_dim: crossDim, norm_num_groups: 8, use_linear_projection: true,
      // PUMA's conditioning: features -> mapping_layer -> cross-attention; positions for f0 only
      mapping_dim: featureDim, mapping_dim1: crossDim, num_tokens: SCALE_TOKENS[scale], use_embeds: scale === 0,
    }),
  };
}

/**
 * D_k: latents x_t, timestep and scale-k features -> predicted noise.
 *
 * @example
 * const d0 = new PumaDecoder(smallDecoderConfig(0, 128));
 * const eps = d0.forward(xt, [500, 20], f0, [1, 1]);
 */
export class PumaDecoder extends Module {
  readonly unet: UNet2DConditionModel;
  readonly spatial_proj: Linear | null;

  constructor(readonly config: Readonly<DecoderConfig>) {
    super();
    this.unet = this.module('unet', new UNet2DConditionModel(config.unet));
    this.spatial_proj = config.spatialChannels > 0
      ? this.module('spatial_proj', new Linear(config.featureDim, config.spatialChannels))
      : null;
  }

  /** Feature tokens this decoder reads (256 for f0 of a 16x16 grid ... 1 for f4). */
  get tokens(): number {
    return this.config.unet.numTokens;
  }

  /** features [B, N, C] -> [B, Cs, S, S] on the latent grid (nearest upsampling of the g x g grid). */
  spatialMap(features: Tensor): Tensor {
    const [b, n] = features.shape, g = Math.round(Math.sqrt(n)), s = this.config.latentSize;
    const m = this.spatial_proj!.forward(features).transpose(1, 2).reshape([b, this.config.spatialChannels, g, g]);
    return s === g ? m : upsampleNearest(m, s / g);
  }

  // xt [B, 4, S, S], features [B, N, C] -> eps [B, 4, S, S]
  forward(xt: Tensor, timestep: number | number[], features: Tensor, posWeight?: number[]): Tensor {
    if (features.shape[1] !== this.tokens) {
      throw new RangeError(`decoder f${this.config.scale}: expected ${this.tokens} feature tokens, got ${features.shape[1]}`);
    }
    const sample = this.spatial_proj ? cat([xt, this.spatialMap(features)], 1) : xt;
    return this.unet.forward({ sample, timestep, encoderHiddenStates: features, posWeight });
  }
}
