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
import { augmentFeatures, drawAugment, featureStats, type FeatureStats } from './cond-augment.js';
import { featureCache, gatherRows, loadFrozenStack, scaleFeatures, type FeatureCache } from './stack.js';

export const NULL_CONDITION_RATE = 0.1;
export const NOISE_OFFSET = 0.1;
/** Default steps for f0..f4: the paper's 40k/30k/20k/15k/10k proportions, scaled to this machine. */
export const DECODER_STEPS = [2400, 1800, 1200, 900, 600];

/** Features of the batch at scale k, with the null-image features swapped in where `drop`. */
function conditionBatch(cache: FeatureCache, ids: number[], k: number, drop: boolean[]): T.Tensor {
  const f = scaleFeatures(cache, ids, k);
  if (!drop.some(Boolean)) return f;
  const nul = cache.nullScales[k], row = nul.size;
  const d = f.contiguous();
  drop.forEach((x, i) => { if (x) d.data.set(nul.data, i * row); });
  return d;
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

/** Scale-k statistics of up to 2048 training images, for the conditioning augmentation. */
function trainStats(cache: FeatureCache, train: readonly number[], k: number): FeatureStats {
  return T.tidy(() => featureStats(scaleFeatures(cache, train.filter((_, i) => i % Math.ceil(train.length / 2048) === 0), k)));
}

export async function trainDecoder(o: RecipeOptions & { scale: number; spatialChannels?: number; condAugment?: number }): Promise<RunResult> {
  const k = o.scale;
  if (!Number.isInteger(k) || k < 0 || k > 4) throw new Error(`--scale must be 0..4, got ${k}`);
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
  const augment = o.condAugment ?? 0;
  if (!(augment >= 0 && augment <= 1)) throw new Error(`--cond-augment must be in 0..1, got ${augment}`);
  const stats = augment > 0 ? trainStats(cache, train, k) : null;
  // PUMA: AdamW, lr 8e-5 peak with linear decay at batch 1024; a small model from scratch at
  // batch 16 trains with a larger rate.
  const opt = new AdamW(dec.parameters(), { lr: 4e-4, weightDecay: 0.01 });
  return runTraining({
    name: `decoder f${k}`, dir, modules: { decoder: dec }, optimizer: opt, totalSteps: steps, seed: (o.seed ?? 0) + k,
    progress: o.progress, clipGrad: 1.0, schedule: linearDecay({ warmupSteps: 50, totalSteps: steps, minRatio: 0.1 }),
    step: (_i, rng) => {
      const ids = Array.from({ length: B }, () => train[rng.randint(0, train.length)]);
      const drop = ids.map(() => rng.uniform() < NULL_CONDITION_RATE);
      const x0 = gatherRows(cache.latents, ids);
      // noise offset (SDXL training trick): a per-sample, per-channel constant added to the noise
      const noise = T.randn(x0.shape, { generator: rng }).add(T.randn([B, 4, 1, 1], { generator: rng }).mul(NOISE_OFFSET));
      const ts = ids.map(() => rng.randint(0, sched.numTrainTimesteps));
      const xt = addNoiseVP(abar, x0, noise, ts);
      let cond = conditionBatch(cache, ids, k, drop);
      if (stats) cond = augmentFeatures(cond, stats, drop.map((d) => (!d && rng.uniform() < augment ? drawAugment(rng) : null)), rng);
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
