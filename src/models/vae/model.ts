// diffusers' AutoencoderKL: Encoder -> quant_conv -> diagonal Gaussian over latents;
// post_quant_conv -> Decoder. PUMA keeps SDXL's VAE frozen and decodes latents / scaling_factor.
import { loadCheckpoint, resolveComponent } from '../../io/checkpoint.js';
import { readConfigJson, vaeConfig, type VAEConfig } from '../../io/config.js';
import { Conv2d, deferInit, GroupNorm, Module, ModuleList } from '../../nn/index.js';
import { defaultGenerator, exp, randn, silu, type Generator, type Tensor, tidyNoGrad } from '../../tensor/index.js';
import { Attention, Downsample2D, ResnetBlock2D, Upsample2D } from '../unet/resnet.js';

const VAE_EPS = 1e-6;

function resnets(n: number, inCh: number, outCh: number, groups: number): ModuleList<ResnetBlock2D> {
  return new ModuleList(Array.from({ length: n }, (_, i) => new ResnetBlock2D({
    inChannels: i === 0 ? inCh : outCh, outChannels: outCh, tembChannels: null, groups, eps: VAE_EPS,
  })));
}

export class DownEncoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly downsamplers: ModuleList<Downsample2D> | null;

  constructor(n: number, inCh: number, outCh: number, groups: number, addDownsample: boolean) {
    super();
    this.resnets = this.module('resnets', resnets(n, inCh, outCh, groups));
    // padding 0: Downsample2D pads right/bottom by one, as diffusers does for the VAE
    this.downsamplers = addDownsample ? this.module('downsamplers', new ModuleList([new Downsample2D(outCh, 0)])) : null;
  }

  forward(x: Tensor): Tensor {
    return tidyNoGrad(() => {
      for (const r of this.resnets) x = r.forward(x);
      return this.downsamplers ? this.downsamplers.at(0).forward(x) : x;
    });
  }
}

export class UpDecoderBlock2D extends Module {
  readonly resnets: ModuleList<ResnetBlock2D>;
  readonly upsamplers: ModuleList<Upsample2D> | null;

  constructor(n: number, inCh: number, outCh: number, groups: number, addUpsample: boolean) {
    super();
    this.resnets = this.module('resnets', resnets(n, inCh, outCh, groups));
    this.upsamplers = addUpsample ? this.module('upsamplers', new ModuleList([new Upsample2D(outCh)])) : null;
  }

  forward(x: Tensor): Tensor {
    return tidyNoGrad(() => {
      for (const r of this.resnets) x = r.forward(x);
      return this.upsamplers ? this.upsamplers.at(0).forward(x) : x;
    });
  }
}

/** UNetMidBlock2D without time embedding: resnet, single-head spatial self-attention, resnet. */
export class MidBlock2D extends Module {
  readonly attentions: ModuleList<Attention> | null;
  readonly resnets: ModuleList<ResnetBlock2D>;

  constructor(channels: number, groups: number, addAttention: boolean) {
    super();
    this.attentions = addAttention ? this.module('attentions', new ModuleList([new Attention({
      queryDim: channels, heads: 1, dimHead: channels, bias: true, normGroups: groups, eps: VAE_EPS, residualConnection: true,
    })])) : null;
    this.resnets = this.module('resnets', resnets(2, channels, channels, groups));
  }

  forward(x: Tensor): Tensor {
    return tidyNoGrad(() => {
      x = this.resnets.at(0).forward(x);
      if (this.attentions) x = this.attentions.at(0).forward(x);
      return this.resnets.at(1).forward(x);
    });
  }
}

export class Encoder extends Module {
  readonly conv_in: Conv2d;
  readonly down_blocks: ModuleList<DownEncoderBlock2D>;
  readonly mid_block: MidBlock2D;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(c: Readonly<VAEConfig>) {
    super();
    const boc = c.blockOutChannels, n = boc.length, g = c.normNumGroups;
    this.conv_in = this.module('conv_in', new Conv2d(c.inChannels, boc[0], 3, { padding: 1 }));
    this.down_blocks = this.module('down_blocks', new ModuleList(boc.map((out, i) =>
      new DownEncoderBlock2D(c.layersPerBlock, i === 0 ? boc[0] : boc[i - 1], out, g, i < n - 1))));
    this.mid_block = this.module('mid_block', new MidBlock2D(boc[n - 1], g, c.midBlockAddAttention));
    this.conv_norm_out = this.module('conv_norm_out', new GroupNorm(g, boc[n - 1], VAE_EPS));
    this.conv_out = this.module('conv_out', new Conv2d(boc[n - 1], 2 * c.latentChannels, 3, { padding: 1 }));
  }

  // x: [B, 3, H, W] -> moments [B, 2 Cz, H/f, W/f]
  forward(x: Tensor): Tensor {
    x = this.conv_in.forward(x);
    for (const b of this.down_blocks) x = b.forward(x);
    x = this.mid_block.forward(x);
    return this.conv_out.forward(silu(this.conv_norm_out.forward(x)));
  }
}

export class Decoder extends Module {
  readonly conv_in: Conv2d;
  readonly mid_block: MidBlock2D;
  readonly up_blocks: ModuleList<UpDecoderBlock2D>;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(c: Readonly<VAEConfig>) {
    super();
    const boc = c.blockOutChannels, n = boc.length, g = c.normNumGroups, r = [...boc].reverse();
    this.conv_in = this.module('conv_in', new Conv2d(c.latentChannels, r[0], 3, { padding: 1 }));
    this.mid_block = this.module('mid_block', new MidBlock2D(r[0], g, c.midBlockAddAttention));
    this.up_blocks = this.module('up_blocks', new ModuleList(r.map((out, i) =>
      new UpDecoderBlock2D(c.layersPerBlock + 1, i === 0 ? r[0] : r[i - 1], out, g, i < n - 1))));
    this.conv_norm_out = this.module('conv_norm_out', new GroupNorm(g, boc[0], VAE_EPS));
    this.conv_out = this.module('conv_out', new Conv2d(boc[0], c.outChannels, 3, { padding: 1 }));
  }

  // z: [B, Cz, h, w] -> [B, 3, h f, w f]
  forward(z: Tensor): Tensor {
    let x = this.mid_block.forward(this.conv_in.forward(z));
    for (const b of this.up_blocks) x = b.forward(x);
    return this.conv_out.forward(silu(this.conv_norm_out.forward(x)));
  }
}

/** The posterior q(z | x): mean and log-variance from the encoder's moments. */
export class DiagonalGaussian {
  readonly mean: Tensor;
  readonly logvar: Tensor;
  readonly std: Tensor;

  // moments: [B, 2 Cz, h, w]
  constructor(moments: Tensor) {
    const [mean, logvar] = moments.chunk(2, 1);
    this.mean = mean;
    this.logvar = logvar.clamp(-30, 20);
    this.std = exp(this.logvar.mul(0.5));
  }

  /** mean + std * N(0, 1). */
  sample(generator: Generator = defaultGenerator): Tensor {
    return this.mean.add(this.std.mul(randn(this.mean.shape, { generator })));
  }

  mode(): Tensor {
    return this.mean;
  }
}

/** Renames legacy VAE attention keys (query/key/value/proj_attn) to diffusers' current ones. */
export function renameLegacyVaeKey(key: string): string {
  return key
    .replace(/(attentions\.\d+)\.query\./, '$1.to_q.')
    .replace(/(attentions\.\d+)\.key\./, '$1.to_k.')
    .replace(/(attentions\.\d+)\.value\./, '$1.to_v.')
    .replace(/(attentions\.\d+)\.proj_attn\./, '$1.to_out.0.');
}

/**
 * AutoencoderKL with diffusers' keys (`encoder.*`, `decoder.*`, `quant_conv`, `post_quant_conv`).
 *
 * @example
 * const vae = new AutoencoderKL(vaeConfig(readConfigJson('sdxl-vae')));
 * loadCheckpoint(vae, 'sdxl-vae', { rename: renameLegacyVaeKey });
 * const z = vae.encode(images).sample().mul(vae.config.scalingFactor);
 * const images2 = vae.decode(z.div(vae.config.scalingFactor));
 */
export class AutoencoderKL extends Module {
  readonly encoder: Encoder;
  readonly decoder: Decoder;
  readonly quant_conv: Conv2d | null;
  readonly post_quant_conv: Conv2d | null;

  constructor(readonly config: Readonly<VAEConfig>) {
    super();
    const lc = config.latentChannels;
    this.encoder = this.module('encoder', new Encoder(config));
    this.decoder = this.module('decoder', new Decoder(config));
    this.quant_conv = config.useQuantConv ? this.module('quant_conv', new Conv2d(2 * lc, 2 * lc, 1)) : null;
    this.post_quant_conv = config.usePostQuantConv ? this.module('post_quant_conv', new Conv2d(lc, lc, 1)) : null;
  }

  /**
   * From a diffusers component folder (`vae/`), or a pipeline root and the subfolder name.
   * Legacy attention names are renamed on the way in.
   *
   * @example
   * const vae = AutoencoderKL.fromPretrained('/models/sdxl-vae').freeze();
   */
  static fromPretrained(path: string, subfolder?: string): AutoencoderKL {
    const dir = resolveComponent(path, subfolder);
    const m = deferInit(() => new AutoencoderKL(vaeConfig(readConfigJson(dir))));
    loadCheckpoint(m, dir, { rename: renameLegacyVaeKey });
    return m.eval();
  }

  /** Images in [-1, 1], [B, 3, H, W] -> posterior over latents [B, Cz, H/8, W/8] (SDXL). */
  encode(x: Tensor): DiagonalGaussian {
    const m = this.encoder.forward(x);
    return new DiagonalGaussian(this.quant_conv ? this.quant_conv.forward(m) : m);
  }

  /** Unscaled latents (already divided by scaling_factor) -> images in about [-1, 1]. */
  decode(z: Tensor): Tensor {
    return this.decoder.forward(this.post_quant_conv ? this.post_quant_conv.forward(z) : z);
  }
}
