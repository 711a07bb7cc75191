// Structural similarity (Wang et al. 2004) as scikit-image computes it by default:
// structural_similarity(x, y, channel_axis=-1, data_range=1.0), i.e. a 7x7 uniform window,
// K1 = 0.01, K2 = 0.03, sample covariances (N / (N - 1)), the SSIM map cropped by the window
// radius before its mean, and the mean over channels.
import type { Tensor } from '../tensor/index.js';
import { formatShape } from '../tensor/index.js';

const WIN = 7;
const K1 = 0.01, K2 = 0.03;
const DATA_RANGE = 1;

/**
 * SSIM of each image pair: a, b [B, C, H, W] in [0, 1] (C = 3 for RGB), H and W at least 7.
 * Identical images give 1; computed in float64 from the float32 pixels.
 *
 * @example
 * const x = T.rand([2, 3, 64, 64]);
 * ssim(x, x); // [1, 1]
 */
export function ssim(a: Tensor, b: Tensor): number[] {
  if (a.ndim !== 4 || b.ndim !== 4) throw new RangeError(`ssim: expected [B, C, H, W] images, got ${formatShape(a.shape)} and ${formatShape(b.shape)}`);
  if (a.shape.some((d, i) => d !== b.shape[i])) throw new RangeError(`ssim: image shapes differ: ${formatShape(a.shape)} vs ${formatShape(b.shape)}`);
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new TypeError(`ssim: expected float32 images, got ${a.dtype} and ${b.dtype}`);
  const [n, c, h, w] = a.shape;
  if (h < WIN || w < WIN) throw new RangeError(`ssim: images must be at least ${WIN}x${WIN} (the window), got ${h}x${w}`);
  const x = a.contiguousData() as Float32Array, y = b.contiguousData() as Float32Array;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let ch = 0; ch < c; ch++) sum += ssimPlane(x, y, (i * c + ch) * h * w, h, w);
    out.push(sum / c);
  }
  return out;
}

/**
 * Mean SSIM of one channel over the windows that lie inside the image. skimage filters the
 * whole plane (reflect-padded) and then crops (WIN - 1) / 2 on each side: the pixels it keeps
 * are exactly the centres of these windows, so padding never enters.
 */
function ssimPlane(x: Float32Array, y: Float32Array, off: number, h: number, w: number): number {
  const ow = w - WIN + 1, oh = h - WIN + 1;
  // Row pass: WIN-wide sums of x, y, x^2, y^2, xy for every row and window column.
  const sx = new Float64Array(h * ow), sy = new Float64Array(h * ow);
  const sxx = new Float64Array(h * ow), syy = new Float64Array(h * ow), sxy = new Float64Array(h * ow);
  for (let r = 0; r < h; r++) {
    for (let j = 0; j < ow; j++) {
      let px = 0, py = 0, pxx = 0, pyy = 0, pxy = 0;
      for (let k = 0; k < WIN; k++) {
        const u = x[off + r * w + j + k], v = y[off + r * w + j + k];
        px += u; py += v; pxx += u * u; pyy += v * v; pxy += u * v;
      }
      const o = r * ow + j;
      sx[o] = px; sy[o] = py; sxx[o] = pxx; syy[o] = pyy; sxy[o] = pxy;
    }
  }
  const np = WIN * WIN;
  const covNorm = np / (np - 1); // sample covariance, skimage's use_sample_covariance=True
  const c1 = (K1 * DATA_RANGE) ** 2, c2 = (K2 * DATA_RANGE) ** 2;
  // Column pass: the window statistics, then SSIM = (2 ux uy + C1)(2 vxy + C2) / ((ux^2 + uy^2 + C1)(vx + vy + C2)).
  let total = 0;
  for (let i = 0; i < oh; i++) {
    for (let j = 0; j < ow; j++) {
      let px = 0, py = 0, pxx = 0, pyy = 0, pxy = 0;
      for (let k = 0; k < WIN; k++) {
        const o = (i + k) * ow + j;
        px += sx[o]; py += sy[o]; pxx += sxx[o]; pyy += syy[o]; pxy += sxy[o];
      }
      const ux = px / np, uy = py / np;
      const vx = covNorm * (pxx / np - ux * ux);
      const vy = covNorm * (pyy / np - uy * uy);
      const vxy = covNorm * (pxy / np - ux * uy);
      total += ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
    }
  }
  return total / (oh * ow);
}
