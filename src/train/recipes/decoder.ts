// Stage 1: the five multi-granular decoders D0..D4 (paper 3.2, A.1). Each learns to denoise
// VAE latents conditioned on one scale's features; 10% of samples get the features of a blank
// image instead (for classifier-free guidance), and the noise has an offset of 0.1.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadEmojiWorld } from '../../data/emoji/world.js';
import { addNoiseVP, cumprodAlphas, makeBetas, resolveConfig } from '../../diffusion/scheduler.js';
import { writeConfigJson } from '../../io/config.js';
import { PumaDecoder, smallDecoderConfig } from '../../models/puma/decoder.js';
import { AdamW } from '../../nn/optim.js';
import { linearDecay } from '../../nn/schedule.js';
import * as T from '../../tensor/index.js';
import { runTraining, type RunResult } from '../run.js';
import type { RecipeOptions } from './common.js';
import { featureCache, gatherRows, loadFrozenStack, scaleFeatures, type FeatureCache } from './stack.js';

export const NULL_CONDITION_RATE = 0.1;
export const NOISE_OFFSET = 0.1;
/** Default steps for f0..f4: the paper's 40k/30k/20k/15k/10k proportions, scaled to this machine. */
export const DECODER_STEPS = [2400, 1800, 1200, 900, 600];

/** Features of the batch at scale k, with the null-image features swapped in where `drop`. */
function conditionBatch(cache: FeatureCache, ids: number[], k: number, drop: boolean[]): T.Tensor {
  return withNull(scaleFeatures(cache, ids, k), cache, k, drop);
}

/** f ([B, n, C] at scale k) with the null-image features in the rows where `drop`. */
function withNull(f: T.Tensor, cache: FeatureCache, k: number, drop: boolean[]): T.Tensor {
  if (!drop.some(Boolean)) return f;
  const nul = cache.nullScales[k], row = nul.size;
  const d = f.contiguous();
  drop.forEach((x, i) => { if (x) d.data.set(nul.data, i * row); });
  return d;
}

/** Other images averaged into a mixed condition (`--cond-mix`). */
export const COND_MIX_OTHERS = 4;
/** The smallest weight an image keeps in its own mixed condition. */
export const COND_MIX_MIN_WEIGHT = 0.3;

/**
 * Conditioning mix (`--cond-mix`, our addition): `others` holds COND_MIX_OTHERS images per sample
 * ([B * COND_MIX_OTHERS, n, C]); sample i's features become w_i * own + (1 - w_i) * mean(others),
 * with w_i given per sample (1 = unmixed). An MLLM regressing features with MSE writes a weighted
 * mean of the images a prompt allows; a decoder trained on such blends learns to draw the image
 * that dominates them instead of a blurred average.
 */
export function mixConditions(own: T.Tensor, others: T.Tensor, b: number, weights: readonly number[]): T.Tensor {
  const [, n, c] = own.shape;
  if (others.shape[0] !== b * COND_MIX_OTHERS) throw new RangeError(`mixConditions: ${others.shape[0]} others for ${b} samples, want ${b * COND_MIX_OTHERS}`);
  const w = T.fromArray(weights, [b, 1, 1]);
  const mean = others.reshape([b, COND_MIX_OTHERS, n, c]).mean(1);
  return own.mul(w).add(mean.mul(w.neg().add(1)));
}

/** Per-sample own weights for `mixConditions`: uniform in [COND_MIX_MIN_WEIGHT, 1]. */
export function mixWeights(b: number, uniform: () => number): number[] {
  return Array.from({ length: b }, () => COND_MIX_MIN_WEIGHT + (1 - COND_MIX_MIN_WEIGHT) * uniform());
}

/**
 * One-step reconstruction check: PSNR (dB, on latents) of x0 predicted from x_t at t, with the
 * image's own features and with blank-image features. The gap shows the conditioning is used.
 */
export function oneStepProbe(dec: PumaDecoder, cache: FeatureCache, ids: number[], t: number, abar: Float64Array): { cond: number; blank: number } {
  return T.noGrad(() => T.tidy(() => {
    const k = dec.config.scale, B = ids.length;
    const x0 = gatherRows(cache.latents, ids);
    const noise = T.randn(x0.shape, { generator: new T.Generator(1234) });
    const xt = addNoiseVP(abar, x0, noise, Array(B).fill(t));
    const a = abar[t];
    const psnr = (drop: boolean) => {
      const f = conditionBatch(cache, ids, k, Array(B).fill(drop));
      const eps = dec.forward(xt, Array(B).fill(t), f, Array(B).fill(drop ? 0 : 1));
      const x0hat = xt.sub(eps.mul(Math.sqrt(1 - a))).mul(1 / Math.sqrt(a));
      const mse = x0hat.sub(x0).square().mean().item();
      const peak = x0.abs().max().item();
      return 10 * Math.log10((peak * peak) / mse);
    };
    return { cond: +psnr(false).toFixed(2), blank: +psnr(true).toFixed(2) };
  }));
}

export async function trainDecoder(o: RecipeOptions & { scale: number; spatialChannels?: number; condMix?: number }): Promise<RunResult> {
  const k = o.scale;
  if (!Number.isInteger(k) || k < 0 || k > 4) throw new Error(`--scale must be 0..4, got ${k}`);
  const condMix = o.condMix ?? 0;
  if (!(condMix >= 0 && condMix <= 1)) throw new Error(`--cond-mix must be a number in [0, 1], got ${condMix}`);
  const world = loadEmojiWorld(o.data);
  const stack = loadFrozenStack(world, o.runs);
  const cache = featureCache(world, o.runs, stack);
  const dir = join(o.runs, `decoder-${k}`);
  const steps = o.steps ?? DECODER_STEPS[k], B = o.batch ?? 16;
  T.manualSeed((o.seed ?? 0) + 100 * k);
  const config = smallDecoderConfig(k, stack.encoder.featureDim, o.spatialChannels ?? 16);
  const dec = new PumaDecoder(config);
  mkdirSync(dir, { recursive: true });
  writeConfigJson(join(dir, 'config.json'), { ...config, unet: undefined }, { unet: JSON.parse(JSON.stringify(config.unet)) });
  const sched = resolveConfig();
  const abar = cumprodAlphas(makeBetas(sched));
  const train = world.imagesIn('train').map((i) => i.id);
  const probeIds = world.imagesIn('val').slice(0, 32).map((i) => i.id);
  // PUMA: AdamW, lr 8e-5 peak with linear decay at batch 1024; a small model from scratch at
  // batch 16 trains with a larger rate.
  const opt = new AdamW(dec.parameters(), { lr: 4e-4, weightDecay: 0.01 });
  return runTraining({
    name: `decoder f${k}`, dir, modules: { decoder: dec }, optimizer: opt, totalSteps: steps, seed: (o.seed ?? 0) + k,
    progress: o.progress, clipGrad: 1.0, schedule: linearDecay({ warmupSteps: 50, totalSteps: steps, minRatio: 0.1 }),
    step: (_i, rng) => {
      const ids = Array.from({ length: B }, () => train[rng.randint(0, train.length)]);
      const drop = ids.map(() => rng.uniform() < NULL_CONDITION_RATE);
      const mixed = condMix > 0 ? ids.map(() => rng.uniform() < condMix) : null;
      let cond: T.Tensor;
      if (mixed?.some(Boolean)) {
        const others = ids.flatMap(() => Array.from({ length: COND_MIX_OTHERS }, () => train[rng.randint(0, train.length)]));
        const w = mixWeights(B, () => rng.uniform()).map((v, i) => (mixed[i] ? v : 1));
        cond = withNull(mixConditions(scaleFeatures(cache, ids, k), scaleFeatures(cache, others, k), B, w), cache, k, drop);
      } else cond = conditionBatch(cache, ids, k, drop);
      const x0 = gatherRows(cache.latents, ids);
      // noise offset (SDXL training trick): a per-sample, per-channel constant added to the noise
      const noise = T.randn(x0.shape, { generator: rng }).add(T.randn([B, 4, 1, 1], { generator: rng }).mul(NOISE_OFFSET));
      const ts = ids.map(() => rng.randint(0, sched.numTrainTimesteps));
      const xt = addNoiseVP(abar, x0, noise, ts);
      const eps = dec.forward(xt, ts, cond, drop.map((d) => (d ? 0 : 1)));
      const loss = T.mseLoss(eps, noise);
      loss.backward();
      return { loss: loss.item() };
    },
    evalEvery: 250,
    evaluate: () => {
      const p = oneStepProbe(dec, cache, probeIds, 500, abar);
      return { probeCondDb: p.cond, probeBlankDb: p.blank };
    },
  });
}
