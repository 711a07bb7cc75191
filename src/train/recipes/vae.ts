// Stage 0b: the VAE (64x64x3 <-> 16x16x4), trained then frozen as SDXL's VAE is.
// Loss: L1 + MSE reconstruction and a small KL term (no GAN or perceptual loss at this size).
import { join } from 'node:path';
import { loadEmojiWorld, type EmojiWorld } from '../../data/emoji/world.js';
import { imageBatch } from '../../data/batches.js';
import { writeConfigJson } from '../../io/config.js';
import { AutoencoderKL } from '../../models/vae/model.js';
import { MINI_VAE } from '../../models/puma/small.js';
import { AdamW } from '../../nn/optim.js';
import { warmupCosine } from '../../nn/schedule.js';
import * as T from '../../tensor/index.js';
import { runTraining, type RunResult } from '../run.js';
import type { RecipeOptions } from './common.js';

const KL_WEIGHT = 1e-6;

/** Mean PSNR (dB) of VAE reconstructions (posterior mode) over the first `limit` images of a split. */
export function vaePsnr(vae: AutoencoderKL, world: EmojiWorld, split: 'val' | 'test', limit = 128): number {
  return T.noGrad(() => T.tidy(() => {
    const ids = world.imagesIn(split).slice(0, limit).map((i) => i.id);
    let total = 0;
    for (let s = 0; s < ids.length; s += 32) {
      const x = imageBatch(world, ids.slice(s, s + 32), '-11');
      const y = vae.decode(vae.encode(x).mode()).clamp(-1, 1);
      // PSNR on [0, 1]: the [-1, 1] error halves
      const mse = y.sub(x).mul(0.5).square().mean([1, 2, 3]).toArray();
      for (const m of mse) total += 10 * Math.log10(1 / Math.max(m, 1e-10));
    }
    return total / ids.length;
  }));
}

/** Standard deviation of the posterior means over some training images: 1 / it is the scaling factor. */
export function latentStd(vae: AutoencoderKL, world: EmojiWorld, n = 256): number {
  return T.noGrad(() => T.tidy(() => {
    const ids = world.imagesIn('train').slice(0, n).map((i) => i.id);
    let sum = 0, sq = 0, count = 0;
    for (let s = 0; s < ids.length; s += 32) {
      const z = vae.encode(imageBatch(world, ids.slice(s, s + 32), '-11')).mode().toArray();
      for (const v of z) { sum += v; sq += v * v; count++; }
    }
    const mean = sum / count;
    return Math.sqrt(sq / count - mean * mean);
  }));
}

export async function trainVae(o: RecipeOptions): Promise<RunResult> {
  const world = loadEmojiWorld(o.data);
  const dir = join(o.runs, 'vae');
  const steps = o.steps ?? 1000, B = o.batch ?? 32;
  T.manualSeed(o.seed ?? 0);
  const vae = new AutoencoderKL(MINI_VAE);
  const opt = new AdamW(vae.parameters(), { lr: 1e-3, weightDecay: 0 });
  const train = world.imagesIn('train');
  const result = await runTraining({
    name: 'vae', dir, modules: { vae }, optimizer: opt, totalSteps: steps, seed: o.seed, progress: o.progress,
    schedule: warmupCosine({ warmupSteps: 100, totalSteps: steps, minRatio: 0.05 }), clipGrad: 1.0,
    step: (_i, rng) => {
      const ids = Array.from({ length: B }, () => train[rng.randint(0, train.length)].id);
      const x = imageBatch(world, ids, '-11');
      const post = vae.encode(x);
      const y = vae.decode(post.sample(rng));
      const diff = y.sub(x);
      const rec = diff.abs().mean().add(diff.square().mean());
      // KL(q || N(0, 1)) per element, averaged
      const kl = post.mean.square().add(post.logvar.exp()).sub(post.logvar).sub(1).mean().mul(0.5);
      const loss = rec.add(kl.mul(KL_WEIGHT));
      loss.backward();
      return { loss: loss.item(), kl: kl.item() };
    },
    evalEvery: 250,
    evaluate: () => ({ psnrVal: vaePsnr(vae, world, 'val', 64) }),
  });
  // The scaling factor makes latents unit-variance for the diffusion decoders, as SD's 0.18215 does.
  const scalingFactor = 1 / latentStd(vae, world);
  writeConfigJson(join(dir, 'config.json'), { ...MINI_VAE, scalingFactor }, { _class_name: 'AutoencoderKL' });
  return result;
}
