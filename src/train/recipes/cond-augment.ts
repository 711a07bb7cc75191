// Conditioning augmentation for the decoders (our addition). The decoders are trained on the
// true features of images, but at generation they draw from an MLLM's regression, which is the
// mean-like part of the features: shrunk toward the mean image, its detail smoothed away
// (docs/PUMA.md: D0 draws such features, the MLLM's or a linear read-out's, as a blob). As
// cascaded diffusion models corrupt the low-resolution image they condition on, a decoder trained
// with `--cond-augment p` sees, for a fraction p of its samples, features degraded that way:
//   f' = mu + s (lambda f + (1 - lambda) up(pool(f)) - mu) + sigma std eps
// with mu the training images' mean feature per token, up(pool(f)) the next coarser scale
// repeated over its 2x2 block (the mean, at f4), std the spread of f - mu per channel, and per
// sample lambda ~ U(0, 1), s ~ U(0.5, 1), sigma ~ U(0, 0.5). The target image stays the true one,
// so the decoder learns to draw a sharp image from features that only point toward it.
import type { Generator } from '../../tensor/index.js';
import * as T from '../../tensor/index.js';

export interface FeatureStats {
  /** Mean feature per token, [tokens * C]. */
  mean: Float32Array;
  /** Spread of (f - mean) per channel, [C]. */
  std: Float32Array;
}

/** Mean per token and spread per channel of scale-k features [N, tokens, C]. */
export function featureStats(f: T.Tensor): FeatureStats {
  const [n, tokens, c] = f.shape, a = f.contiguous().data as Float32Array, per = tokens * c;
  const mean = new Float64Array(per);
  for (let b = 0; b < n; b++) for (let i = 0; i < per; i++) mean[i] += a[b * per + i] / n;
  const v = new Float64Array(c);
  for (let b = 0; b < n; b++) for (let i = 0; i < per; i++) { const d = a[b * per + i] - mean[i]; v[i % c] += (d * d) / (n * tokens); }
  return { mean: Float32Array.from(mean), std: Float32Array.from(v, (x) => Math.sqrt(x)) };
}

export interface AugmentDraw { lambda: number; shrink: number; sigma: number }

/** One sample's degradation parameters. */
export function drawAugment(rng: Generator): AugmentDraw {
  return { lambda: rng.uniform(), shrink: 0.5 + 0.5 * rng.uniform(), sigma: 0.5 * rng.uniform() };
}

/**
 * Degrades the rows of f [B, tokens, C] (a square grid of tokens) where `draws[b]` is given, as
 * the header says; other rows are copied unchanged.
 */
export function augmentFeatures(f: T.Tensor, stats: FeatureStats, draws: readonly (AugmentDraw | null)[], rng: Generator): T.Tensor {
  const [b, tokens, c] = f.shape, g = Math.round(Math.sqrt(tokens));
  if (g * g !== tokens) throw new Error(`features of ${tokens} tokens are not a square grid`);
  if (draws.length !== b) throw new Error(`${draws.length} draws for a batch of ${b}`);
  const out = f.contiguous().clone(), o = out.data as Float32Array, per = tokens * c;
  const { mean, std } = stats;
  draws.forEach((d, s) => {
    if (!d) return;
    const row = o.subarray(s * per, (s + 1) * per);
    const coarse = new Float32Array(per);
    if (g === 1) coarse.set(mean);
    else {
      for (let y = 0; y < g; y += 2) for (let x = 0; x < g; x += 2) for (let ch = 0; ch < c; ch++) {
        const at = (yy: number, xx: number) => (yy * g + xx) * c + ch;
        const m = (row[at(y, x)] + row[at(y, x + 1)] + row[at(y + 1, x)] + row[at(y + 1, x + 1)]) / 4;
        coarse[at(y, x)] = coarse[at(y, x + 1)] = coarse[at(y + 1, x)] = coarse[at(y + 1, x + 1)] = m;
      }
    }
    const noise = T.randn([per], { generator: rng }).data as Float32Array;
    for (let i = 0; i < per; i++) {
      const blended = d.lambda * row[i] + (1 - d.lambda) * coarse[i];
      row[i] = mean[i] + d.shrink * (blended - mean[i]) + d.sigma * std[i % c] * noise[i];
    }
  });
  return out;
}
