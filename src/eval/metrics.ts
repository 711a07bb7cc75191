// Image metrics on [B, 3, H, W] tensors in [0, 1].
import type { Tensor } from '../tensor/index.js';

/** PSNR in dB of each image pair (peak 1): 10 log10(1 / MSE). */
export function psnr(a: Tensor, b: Tensor): number[] {
  const mse = a.sub(b).square().mean([1, 2, 3]).toArray();
  return Array.from(mse, (m) => 10 * Math.log10(1 / Math.max(m, 1e-10)));
}

export function mean(xs: readonly number[]): number {
  return xs.reduce((s, x) => s + x, 0) / Math.max(xs.length, 1);
}
