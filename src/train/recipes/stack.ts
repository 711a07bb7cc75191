// The frozen parts the later stages build on: the trained mini CLIP (encoder) and VAE, loaded
// from their runs, and a cache of every image's f0 features and VAE latents.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmojiWorld } from '../../data/emoji/world.js';
import { imageBatch } from '../../data/batches.js';
import { AutoencoderKL } from '../../models/vae/model.js';
import type { CLIPModel } from '../../models/clip/model.js';
import { MINI_VAE } from '../../models/puma/small.js';
import { MultiGranularEncoder, poolScales } from '../../models/puma/encoder.js';
import { readSafetensors, writeSafetensors } from '../../io/safetensors.js';
import * as T from '../../tensor/index.js';
import { loadRunWeights } from '../run.js';
import { buildMiniClip } from './clip.js';
import { latentStd } from './vae.js';
import { runTokenizer } from './common.js';

export interface FrozenStack {
  clip: CLIPModel;
  encoder: MultiGranularEncoder;
  vae: AutoencoderKL;
  /** Latents are multiplied by this after encoding and divided before decoding. */
  scalingFactor: number;
}

/** The trained CLIP (as encoder) and VAE of a runs folder, frozen. */
export function loadFrozenStack(world: EmojiWorld, runs: string): FrozenStack {
  const tok = runTokenizer(world, runs);
  const clip = buildMiniClip(tok);
  if (!existsSync(join(runs, 'clip', 'latest'))) throw new Error(`no trained CLIP in ${runs}/clip: run 'puma train clip' first`);
  loadRunWeights(join(runs, 'clip'), { clip });
  clip.freeze().eval();
  const vae = new AutoencoderKL(MINI_VAE);
  if (!existsSync(join(runs, 'vae', 'latest'))) throw new Error(`no trained VAE in ${runs}/vae: run 'puma train vae' first`);
  loadRunWeights(join(runs, 'vae'), { vae });
  vae.freeze().eval();
  // The VAE run writes its scaling factor when it finishes; for an unfinished run, measure it.
  const cfgPath = join(runs, 'vae', 'config.json');
  const cfg = existsSync(cfgPath) ? JSON.parse(readFileSync(cfgPath, 'utf8')) as { scaling_factor?: number } : {};
  const scalingFactor = cfg.scaling_factor ?? 1 / latentStd(vae, world);
  return { clip, encoder: new MultiGranularEncoder(clip.vision_model), vae, scalingFactor };
}

export interface FeatureCache {
  /** f0 of every image: [N, 256, C]. */
  f0: T.Tensor;
  /** Scaled VAE latents (posterior mean * scaling factor): [N, 4, 16, 16]. */
  latents: T.Tensor;
  /** f0..f4 of an all-black image: the unconditional branch (PUMA's release). */
  nullScales: T.Tensor[];
}

/** Builds (once, ~1-3 minutes) or loads <runs>/cache/features.safetensors. */
export function featureCache(world: EmojiWorld, runs: string, stack: FrozenStack): FeatureCache {
  const path = join(runs, 'cache', 'features.safetensors');
  if (!existsSync(path)) {
    mkdirSync(join(runs, 'cache'), { recursive: true });
    const n = world.images.length, c = stack.encoder.featureDim;
    const f0 = T.Tensor.empty([n, 256, c]), lat = T.Tensor.empty([n, 4, 16, 16]);
    process.stderr.write(`caching f0 features and latents of ${n} images...\n`);
    for (let s = 0; s < n; s += 64) {
      T.tidy(() => {
        const ids = Array.from({ length: Math.min(64, n - s) }, (_, i) => s + i);
        const f = stack.encoder.encode(imageBatch(world, ids, 'clip'))[0];
        f0.data.set(f.contiguous().data, s * 256 * c);
        const z = T.noGrad(() => stack.vae.encode(imageBatch(world, ids, '-11')).mode().mul(stack.scalingFactor));
        lat.data.set(z.contiguous().data, s * 1024);
      });
    }
    const nullF0 = stack.encoder.nullScales()[0];
    writeSafetensors(path, new Map([['f0', f0], ['latents', lat], ['null_f0', nullF0]]), { dtype: 'F16' });
    f0.dispose();
    lat.dispose();
  }
  const t = readSafetensors(path);
  const f0 = t.get('f0')!.keep(), latents = t.get('latents')!.keep(), nullF0 = t.get('null_f0')!;
  const c = f0.shape[2];
  const nullScales = poolScales(nullF0, 1, 16, c).map((x) => x.keep());
  return { f0, latents, nullScales };
}

/** Rows `ids` of a [N, ...] tensor as a new [B, ...] tensor. */
export function gatherRows(t: T.Tensor, ids: readonly number[]): T.Tensor {
  const row = t.size / t.shape[0];
  const out = T.Tensor.empty([ids.length, ...t.shape.slice(1)]);
  const src = t.data, dst = out.data;
  ids.forEach((id, i) => dst.set(src.subarray(id * row, (id + 1) * row), i * row));
  return out;
}

/** Scale k features [B, tokens_k, C] of the given images, pooled from cached f0. */
export function scaleFeatures(cache: FeatureCache, ids: readonly number[], k: number): T.Tensor {
  const f0 = gatherRows(cache.f0, ids);
  if (k === 0) return f0;
  return poolScales(f0, ids.length, 16, f0.shape[2])[k];
}
