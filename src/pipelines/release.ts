// The authors' released PUMA decoders (GitHub rongyaofang/PUMA, weights LucasFang/PUMA), read in
// the layout their download_ckpt.py writes, and the decode of their reference script
// (infer_detokenizer.py) on them:
//   <dir>/clip-vit-large-patch14/                 CLIP ViT-L/14 (a CLIPModel checkpoint)
//   <dir>/stable-diffusion-xl-base-1.0/vae/       SDXL's VAE
//   <dir>/stable-diffusion-xl-base-1.0/scheduler/ scheduler_config.json (DDPM is built from it)
//   <dir>/stable-diffusion-xl-base-1.0/unet_N/    the decoder of N = 1, 4, 16, 64, 256 feature tokens
// The script: resize to the CLIP size (PIL bilinear), CLIP-normalise, last_hidden_state without
// CLS, average-pool to N tokens; the unconditional branch takes an all-black image's features with
// the position embedding weighted 0; DDPM, 50 steps, guidance 2.0; latents / scaling factor -> VAE.
// test/fixtures/release holds a tiny stand-in of this layout and that decode done in PyTorch.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SchedulerConfig } from '../diffusion/index.js';
import { schedulerConfigFromDiffusers } from '../diffusion/scheduler.js';
import { resolveComponent, loadCheckpoint } from '../io/checkpoint.js';
import { readConfigJson, unetConfig } from '../io/config.js';
import type { Image } from '../io/image.js';
import { CLIPVisionModelWithProjection } from '../models/clip/model.js';
import { PumaDecoder } from '../models/puma/decoder.js';
import { deferInit, initPending } from '../nn/module.js';
import { MultiGranularEncoder, SCALE_TOKENS } from '../models/puma/encoder.js';
import { AutoencoderKL } from '../models/vae/model.js';
import * as T from '../tensor/index.js';
import { type DecodeOptions, latentsToImages, sampleLatents } from './decode.js';
import { clipNormalize, prepareImage } from './reconstruct.js';

const CLIP_DIR = 'clip-vit-large-patch14';
const SDXL_DIR = 'stable-diffusion-xl-base-1.0';

/** The release script's sampling: DDPM from SDXL's scheduler config, 50 steps, guidance 2.0. */
export const RELEASE_DECODE = { scheduler: 'ddpm' as const, steps: 50, guidance: 2.0 };

/** Whether `dir` is laid out as the release's checkpoint folder (a CLIP folder and at least one unet_N). */
export function isReleaseFolder(dir: string): boolean {
  return existsSync(join(dir, CLIP_DIR, 'config.json')) && releaseScales(dir).length > 0;
}

/** Scales k whose decoder unet_{256, 64, 16, 4, 1}[k] is present. */
export function releaseScales(dir: string): number[] {
  return SCALE_TOKENS.map((n, k) => (existsSync(join(dir, SDXL_DIR, `unet_${n}`, 'config.json')) ? k : -1)).filter((k) => k >= 0);
}

/** What every decode shares: the frozen encoder, the VAE and the scheduler config. Decoders load one at a time. */
export interface Release {
  dir: string;
  encoder: MultiGranularEncoder;
  /** CLIP's input size (224 for ViT-L/14). */
  imageSize: number;
  vae: AutoencoderKL;
  scalingFactor: number;
  scheduler: Partial<SchedulerConfig>;
  /** Scales with a decoder in the folder. */
  scales: number[];
}

/**
 * Loads CLIP, the VAE and the scheduler config of a release folder (the five decoders are
 * SDXL-size, 10 GB each in float32: `releaseDecoder` loads one when it is needed).
 *
 * @example
 * const rel = loadRelease('/models/PUMA/ckpts');
 * const images = reconstructRelease(rel, img, [4, 0]);
 */
export function loadRelease(dir: string): Release {
  if (!isReleaseFolder(dir)) {
    throw new Error(`${dir} is not a PUMA release folder: expected ${CLIP_DIR}/ and ${SDXL_DIR}/unet_N/ (N = 1, 4, 16, 64, 256)`);
  }
  const clip = CLIPVisionModelWithProjection.fromPretrained(join(dir, CLIP_DIR)).freeze();
  const vae = AutoencoderKL.fromPretrained(join(dir, SDXL_DIR), 'vae').freeze();
  const schedPath = join(dir, SDXL_DIR, 'scheduler', 'scheduler_config.json');
  const scheduler = existsSync(schedPath) ? schedulerConfigFromDiffusers(JSON.parse(readFileSync(schedPath, 'utf8')) as Record<string, unknown>) : {};
  return {
    dir, encoder: new MultiGranularEncoder(clip.vision_model), imageSize: clip.config.imageSize,
    vae, scalingFactor: vae.config.scalingFactor, scheduler, scales: releaseScales(dir),
  };
}

/**
 * The decoder of scale k from unet_N, built as the release script builds it: its config plus
 * mapping_dim = CLIP's width, mapping_dim1 = the cross-attention width, num_tokens = N and the
 * position embedding for N = 256 only (the script passes these to from_pretrained).
 */
export function releaseDecoder(release: Release, k: number): PumaDecoder {
  releaseDecoderExists(release, k);
  const n = SCALE_TOKENS[k];
  const dir = resolveComponent(join(release.dir, SDXL_DIR), `unet_${n}`);
  const raw = readConfigJson(dir);
  const cross = raw.cross_attention_dim;
  if (typeof cross !== 'number') throw new Error(`${dir}/config.json: cross_attention_dim must be one number, got ${JSON.stringify(cross)}`);
  const featureDim = release.encoder.featureDim;
  const unet = unetConfig({ ...raw, mapping_dim: featureDim, mapping_dim1: cross, num_tokens: n, use_embeds: n === 256 });
  const latentSize = unet.sampleSize;
  if (latentSize === null) throw new Error(`${dir}/config.json has no sample_size`);
  const dec = deferInit(() => new PumaDecoder({ scale: k, featureDim, latentChannels: unet.inChannels, latentSize, spatialChannels: 0, unet }));
  loadCheckpoint(dec.unet, dir);
  initPending(dec);
  return dec.freeze().eval();
}

export interface ReleaseDecodeOptions extends Omit<DecodeOptions, 'onStep' | 'generator'> {
  /** One decode per seed (default: `seed`, else 0); each scale's decoder is loaded once for all. */
  seeds?: number[];
  /** Called as each scale starts loading, and after each sampling step of each seed. */
  onProgress?: (scale: number, seed: number, stage: 'loading' | 'sampling', done: number, total: number) => void;
  /** A generator per scale, for a single seed (to replay a reference's noise). */
  generators?: Map<number, T.Generator>;
}

/**
 * An image through the release's encoder and the decoders of `scales`, one decoder in memory at
 * a time: result.get(k)[i] is seed i's decode, [1, 3, H, W] in [0, 1] (H = 8 x the UNet's
 * sample_size: 1024 for SDXL).
 */
export function reconstructRelease(release: Release, img: Image, scales: readonly number[], opts: ReleaseDecodeOptions = {}): Map<number, T.Tensor[]> {
  for (const k of scales) releaseDecoderExists(release, k);
  const { scheduler = RELEASE_DECODE.scheduler, steps = RELEASE_DECODE.steps, guidance = RELEASE_DECODE.guidance } = opts;
  const seeds = opts.seeds ?? [opts.seed ?? 0];
  if (opts.generators && seeds.length !== 1) throw new RangeError('reconstructRelease: generators replay one seed');
  const pixels = releasePixels(release, img);
  const feats = T.tidy(() => release.encoder.encode(pixels).map((f) => f.keep()));
  pixels.dispose();
  const nulls = release.encoder.nullScales(release.imageSize);
  const out = new Map<number, T.Tensor[]>();
  for (const k of scales) {
    opts.onProgress?.(k, seeds[0], 'loading', 0, steps);
    const dec = releaseDecoder(release, k);
    const latents = seeds.map((seed) => sampleLatents(dec, feats[k], nulls[k], {
      scheduler, schedulerConfig: release.scheduler, steps, guidance, seed, generator: opts.generators?.get(k),
      onStep: (done, total) => opts.onProgress?.(k, seed, 'sampling', done, total),
    }));
    // the decoder's 10 GB go back to the system before the VAE's 1024-px activations are made
    dec.dispose();
    T.emptyCache();
    out.set(k, latents.map((z) => {
      const images = latentsToImages(release.vae, release.scalingFactor, z).keep();
      z.dispose();
      return images;
    }));
  }
  for (const f of [...feats, ...nulls]) f.dispose();
  return out;
}

function releaseDecoderExists(release: Release, k: number): void {
  if (!release.scales.includes(k)) {
    const have = release.scales.map((s) => `f${s}`).join(', ');
    throw new Error(`no decoder for f${k} (unet_${SCALE_TOKENS[k]}) in ${release.dir}; it has ${have}`);
  }
}

/** The script's input: resized to the CLIP size with PIL's bilinear filter, CLIP-normalised, [1, 3, S, S]. */
export function releasePixels(release: Release, img: Image): T.Tensor {
  return T.tidy(() => clipNormalize(prepareImage(img, release.imageSize, 'bilinear')).keep());
}
