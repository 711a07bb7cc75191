// diffusers' UNet2DConditionModel at any size up to SDXL, with PUMA's decoder additions:
// `mapping_layer` (feature dim -> cross-attention dim) and `embed_img_pos` (learned positions
// of the conditioning tokens, scaled per sample: 1 conditional, 0 unconditional).
import { loadCheckpoint, resolveComponent } from '../../io/checkpoint.js';
import { readConfigJson, unetConfig, type UNetConfig } from '../../io/config.js';
import { Conv2d, deferInit, GroupNorm, Linear, Module, ModuleList } from '../../nn/index.js';
import { truncNormal } from '../../nn/init.js';
import { cat, fromArray, silu, Tensor } from '../../tensor/index.js';
import { DownBlock, MidBlock2DCrossAttn, UpBlock } from './blocks.js';
import { TimestepEmbedding, timestepEmbedding } from './resnet.js';

const perBlock = <T>(v: T | T[], n: number): T[] => (Array.isArray(v) ? [...v] : Array(n).fill(v));

export interface UNetInputs {
  /** Noisy latents [B, Cin, H, W]; H and W divisible by 2^(blocks - 1). */
  sample: Tensor;
  /** One timestep for the batch or one per sample. */
  timestep: number | number[];
  /** Conditioning tokens [B, S, D]: PUMA image features (D = mapping_dim) or text embeddings. */
  encoderHiddenStates: Tensor;
  /** PUMA: weight of embed_img_pos per sample (1 conditional, 0 unconditional); default all 1. */
  posWeight?: number[];
  /** SDXL text_time: pooled text embeddings [B, Dt] and micro-conditioning ids [B, 6]. */
  textEmbeds?: Tensor;
  timeIds?: Tensor;
}

/**
 * The conditional UNet; parameter names are diffusers' (`down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k.weight`).
 *
 * @example
 * const unet = new UNet2DConditionModel(unetConfig(readConfigJson('decoders/f4/unet')));
 * loadCheckpoint(unet, 'decoders/f4/unet');
 * const eps = unet.forward({ sample: latents, timestep: 999, encoderHiddenStates: feats, posWeight: [1, 0] });
 */
export class UNet2DConditionModel extends Module {
  readonly conv_in: Conv2d;
  readonly mapping_layer: Linear | null;
  readonly embed_img_pos: Tensor | null;
  readonly time_embedding: TimestepEmbedding;
  readonly add_embedding: TimestepEmbedding | null;
  readonly down_blocks: ModuleList<DownBlock>;
  readonly mid_block: MidBlock2DCrossAttn | null;
  readonly up_blocks: ModuleList<UpBlock>;
  readonly conv_norm_out: GroupNorm;
  readonly conv_out: Conv2d;

  constructor(readonly config: Readonly<UNetConfig>) {
    super();
    const c = config, n = c.downBlockTypes.length, boc = c.blockOutChannels;
    const heads = perBlock(c.numAttentionHeads ?? c.attentionHeadDim, n);
    const layers = perBlock(c.layersPerBlock, n), tlayers = perBlock(c.transformerLayersPerBlock, n);
    const crossDim = perBlock(c.crossAttentionDim, n);
    const temb = boc[0] * 4;
    const common = { tembChannels: temb, groups: c.normNumGroups, eps: c.normEps, dropout: c.dropout };
    const cross = (type: string, i: number, h: number[], tl: number[], cd: number[]) => type.startsWith('CrossAttn')
      ? { heads: h[i], transformerLayers: tl[i], crossAttentionDim: cd[i], useLinearProjection: c.useLinearProjection, onlyCrossAttention: c.onlyCrossAttention }
      : null;

    this.conv_in = this.module('conv_in', new Conv2d(c.inChannels, boc[0], 3, { padding: 1 }));
    const mapped = c.mappingDim !== null && c.mappingDim1 !== null && c.mappingDim !== c.mappingDim1;
    this.mapping_layer = mapped ? this.module('mapping_layer', new Linear(c.mappingDim!, c.mappingDim1!)) : null;
    this.embed_img_pos = c.useEmbeds
      ? this.param('embed_img_pos', [1, c.numTokens, c.mappingDim1 ?? crossDim[0]], truncNormal(0.02))
      : null;
    this.time_embedding = this.module('time_embedding', new TimestepEmbedding(boc[0], temb));
    this.add_embedding = c.additionEmbedType === 'text_time'
      ? this.module('add_embedding', new TimestepEmbedding(c.projectionClassEmbeddingsInputDim!, temb))
      : null;

    this.down_blocks = this.module('down_blocks', new ModuleList());
    let out = boc[0];
    c.downBlockTypes.forEach((type, i) => {
      const input = out;
      out = boc[i];
      if (type !== 'DownBlock2D' && type !== 'CrossAttnDownBlock2D') throw new Error(`UNet: unsupported down block '${type}'`);
      this.down_blocks.push(new DownBlock({
        ...common, numLayers: layers[i], inChannels: input, outChannels: out, addDownsample: i < n - 1,
        downsamplePadding: c.downsamplePadding, crossAttention: cross(type, i, heads, tlayers, crossDim),
      }));
    });

    if (c.midBlockType === 'UNetMidBlock2DCrossAttn') {
      this.mid_block = this.module('mid_block', new MidBlock2DCrossAttn({
        ...common, numLayers: 1, inChannels: boc[n - 1], outputScaleFactor: c.midBlockScaleFactor,
        crossAttention: cross('CrossAttn', n - 1, heads, tlayers, crossDim),
      }));
    } else if (c.midBlockType === null) {
      this.mid_block = null;
    } else {
      throw new Error(`UNet: unsupported mid block '${c.midBlockType}'`);
    }

    const rboc = [...boc].reverse(), rheads = [...heads].reverse(), rlayers = [...layers].reverse();
    const rtl = [...tlayers].reverse(), rcd = [...crossDim].reverse();
    this.up_blocks = this.module('up_blocks', new ModuleList());
    out = rboc[0];
    c.upBlockTypes.forEach((type, i) => {
      const prev = out;
      out = rboc[i];
      if (type !== 'UpBlock2D' && type !== 'CrossAttnUpBlock2D') throw new Error(`UNet: unsupported up block '${type}'`);
      this.up_blocks.push(new UpBlock({
        ...common, numLayers: rlayers[i] + 1, inChannels: rboc[Math.min(i + 1, n - 1)], outChannels: out,
        prevOutputChannels: prev, addUpsample: i < n - 1, crossAttention: cross(type, i, rheads, rtl, rcd),
      }));
    });

    this.conv_norm_out = this.module('conv_norm_out', new GroupNorm(c.normNumGroups, boc[0], c.normEps));
    this.conv_out = this.module('conv_out', new Conv2d(boc[0], c.outChannels, 3, { padding: 1 }));
  }

  /**
   * From a diffusers component folder (`unet/` with config.json and diffusion_pytorch_model
   * .safetensors), or a pipeline root and the subfolder name.
   *
   * @example
   * const d0 = UNet2DConditionModel.fromPretrained('/models/PUMA/decoders/f0', 'unet');
   */
  static fromPretrained(path: string, subfolder?: string): UNet2DConditionModel {
    const dir = resolveComponent(path, subfolder);
    const m = deferInit(() => new UNet2DConditionModel(unetConfig(readConfigJson(dir))));
    loadCheckpoint(m, dir);
    return m.eval();
  }

  /** PUMA's conditioning: mapping_layer, then embed_img_pos times each sample's weight. [B, S, Df] -> [B, S, D] */
  condition(features: Tensor, posWeight?: number[]): Tensor {
    let ctx = this.mapping_layer ? this.mapping_layer.forward(features) : features;
    if (this.embed_img_pos) {
      const b = ctx.shape[0];
      const w = posWeight ?? Array(b).fill(1);
      if (w.length !== b) throw new RangeError(`UNet: posWeight has ${w.length} entries for batch ${b}`);
      if (ctx.shape[1] !== this.embed_img_pos.shape[1]) {
        throw new RangeError(`UNet: ${ctx.shape[1]} conditioning tokens, embed_img_pos has ${this.embed_img_pos.shape[1]}`);
      }
      ctx = ctx.add(fromArray(w, [b, 1, 1]).mul(this.embed_img_pos));
    }
    return ctx;
  }

  /** Sinusoidal projection + time_embedding (+ SDXL's added text/time embedding): [B, 4 C0]. */
  timeEmbedding(timestep: number | number[], batch: number, textEmbeds?: Tensor, timeIds?: Tensor): Tensor {
    const c = this.config;
    const ts = typeof timestep === 'number' ? Array(batch).fill(timestep) : timestep;
    if (ts.length !== batch) throw new RangeError(`UNet: ${ts.length} timesteps for batch ${batch}`);
    let emb = this.time_embedding.forward(timestepEmbedding(ts, c.blockOutChannels[0], c.flipSinToCos, c.freqShift));
    if (this.add_embedding) {
      if (!textEmbeds || !timeIds) throw new Error('UNet: addition_embed_type text_time needs textEmbeds and timeIds');
      const ids = timeIds.contiguousData();
      const timeEmb = timestepEmbedding(ids, c.additionTimeEmbedDim!, c.flipSinToCos, c.freqShift).reshape([batch, -1]);
      emb = emb.add(this.add_embedding.forward(cat([textEmbeds, timeEmb], -1)));
    }
    return emb;
  }

  // sample: [B, Cin, H, W] -> [B, Cout, H, W]
  forward(inp: UNetInputs): Tensor {
    const c = this.config;
    let x = inp.sample;
    const b = x.shape[0], factor = 2 ** (c.downBlockTypes.length - 1);
    if (x.shape[2] % factor !== 0 || x.shape[3] % factor !== 0) {
      throw new RangeError(`UNet: sample ${x.shape[2]}x${x.shape[3]} must be divisible by ${factor}`);
    }
    const context = this.condition(inp.encoderHiddenStates, inp.posWeight);
    const temb = this.timeEmbedding(inp.timestep, b, inp.textEmbeds, inp.timeIds);
    if (c.centerInputSample) x = x.mul(2).sub(1);
    x = this.conv_in.forward(x);
    const skips: Tensor[] = [x];
    for (const block of this.down_blocks) {
      const r = block.forward(x, temb, context);
      x = r.out;
      skips.push(...r.skips);
    }
    if (this.mid_block) x = this.mid_block.forward(x, temb, context);
    for (const block of this.up_blocks) x = block.forward(x, skips, temb, context);
    return this.conv_out.forward(silu(this.conv_norm_out.forward(x)));
  }
}
