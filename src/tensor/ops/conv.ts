// Convolution and resampling ops on NCHW tensors.
import { backend } from '../../backend/index.js';
import type { ConvGeometry } from '../../backend/backend.js';
import { record } from '../autograd.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { zeros } from '../creation.js';
import { assertFloat, dense } from './util.js';

const pair = (v: number | readonly [number, number]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0], v[1]]);

/**
 * 2-D convolution: x [N, C, H, W], weight [O, C, kh, kw], bias [O].
 *
 * @example
 * conv2d(x, w, b, { stride: 1, padding: 1 });
 */
export function conv2d(
  x: Tensor, weight: Tensor, bias: Tensor | null = null,
  opts: { stride?: number | [number, number]; padding?: number | [number, number] } = {},
): Tensor {
  assertFloat(x, 'conv2d');
  if (x.ndim !== 4 || weight.ndim !== 4) throw new RangeError(`conv2d: expected 4-d input and weight, got ${formatShape(x.shape)} and ${formatShape(weight.shape)}`);
  const [n, c, h, w] = x.shape, [o, c2, kh, kw] = weight.shape;
  if (c !== c2) throw new RangeError(`conv2d: input has ${c} channels, weight expects ${c2}`);
  const [sh, sw] = pair(opts.stride ?? 1), [ph, pw] = pair(opts.padding ?? 0);
  const oh = Math.floor((h + 2 * ph - kh) / sh) + 1, ow = Math.floor((w + 2 * pw - kw) / sw) + 1;
  if (oh <= 0 || ow <= 0) throw new RangeError(`conv2d: kernel ${kh}x${kw} larger than padded input ${h}x${w}`);
  const g: ConvGeometry = { n, c, h, w, o, kh, kw, strideH: sh, strideW: sw, padH: ph, padW: pw, oh, ow };
  const xc = dense(x), wc = dense(weight), bc = bias ? dense(bias) : null;
  const out = Tensor.empty([n, o, oh, ow]);
  backend().conv2d(xc.data, wc.data, bc?.data ?? null, out.data, g);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'conv2d', inputs, (gy) => {
    const gx = x.requiresGrad ? Tensor.empty(x.shape) : null;
    const gw = weight.requiresGrad ? Tensor.empty(weight.shape) : null;
    const gb = bias?.requiresGrad ? Tensor.empty(bias.shape) : null;
    backend().conv2dGrad(xc.data, wc.data, dense(gy).data, gx?.data ?? null, gw?.data ?? null, gb?.data ?? null, g);
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}

/** Average pooling with kernel = stride = k on [N, C, H, W] (or any [..., H, W]). */
export function avgPool2d(x: Tensor, k = 2): Tensor {
  assertFloat(x, 'avgPool2d');
  const h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1], nc = x.size / (h * w);
  if (h % k !== 0 || w % k !== 0) throw new RangeError(`avgPool2d: ${h}x${w} is not divisible by ${k}`);
  const xc = dense(x);
  const out = Tensor.empty([...x.shape.slice(0, -2), h / k, w / k]);
  backend().avgPool2d(xc.data, out.data, nc, h, w, k);
  return record(out, 'avgPool2d', [x], (g) => {
    const gx = Tensor.empty(x.shape);
    backend().avgPool2dGrad(dense(g).data, gx.data, nc, h, w, k);
    return [gx];
  });
}

/**
 * Max pooling over [..., H, W] with a square window, no padding, floor output size (PyTorch's
 * `F.max_pool2d(x, kernel, stride)`): out = floor((H - kernel) / stride) + 1. Ties pick as
 * PyTorch's CPU kernel does (the first maximum in row-major window order; a NaN wins). Plain TS, no
 * backend kernel: it serves metrics (LPIPS's AlexNet), not training throughput.
 *
 * @example
 * maxPool2d(x, 3, 2); // [N, C, 15, 15] -> [N, C, 7, 7]
 */
export function maxPool2d(x: Tensor, kernel: number, stride = kernel): Tensor {
  assertFloat(x, 'maxPool2d');
  if (x.ndim < 2) throw new RangeError(`maxPool2d: expected [..., H, W], got ${formatShape(x.shape)}`);
  if (!Number.isInteger(kernel) || !Number.isInteger(stride) || kernel < 1 || stride < 1) {
    throw new RangeError(`maxPool2d: kernel ${kernel} and stride ${stride} must be positive integers`);
  }
  const h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1], nc = x.size / (h * w);
  if (h < kernel || w < kernel) throw new RangeError(`maxPool2d: kernel ${kernel} larger than input ${h}x${w}`);
  const oh = Math.floor((h - kernel) / stride) + 1, ow = Math.floor((w - kernel) / stride) + 1;
  const src = dense(x).data;
  const out = Tensor.empty([...x.shape.slice(0, -2), oh, ow]);
  const dst = out.data;
  // argmax[o]: the flat input index each output copied, so backward routes the gradient there.
  const argmax = new Int32Array(dst.length);
  for (let p = 0, o = 0; p < nc; p++) {
    const base = p * h * w;
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++, o++) {
        let best = -Infinity, at = base + i * stride * w + j * stride;
        for (let di = 0; di < kernel; di++) {
          const row = base + (i * stride + di) * w + j * stride;
          for (let dj = 0; dj < kernel; dj++) {
            const v = src[row + dj];
            if (v > best || Number.isNaN(v)) {
              best = v;
              at = row + dj;
            }
          }
        }
        dst[o] = src[at];
        argmax[o] = at;
      }
    }
  }
  return record(out, 'maxPool2d', [x], (g) => {
    const gx = zeros(x.shape);
    const gd = dense(g).data, gxd = gx.data;
    // Overlapping windows (stride < kernel) can pick the same input: accumulate.
    for (let o = 0; o < gd.length; o++) gxd[argmax[o]] += gd[o];
    return [gx];
  });
}

/** Nearest-neighbour upsampling by an integer factor (default 2) on [..., H, W]. */
export function upsampleNearest(x: Tensor, scale = 2): Tensor {
  assertFloat(x, 'upsampleNearest');
  const h = x.shape[x.ndim - 2], w = x.shape[x.ndim - 1], nc = x.size / (h * w);
  const xc = dense(x);
  const out = Tensor.empty([...x.shape.slice(0, -2), h * scale, w * scale]);
  backend().upsampleNearest(xc.data, out.data, nc, h, w, scale);
  return record(out, 'upsampleNearest', [x], (g) => {
    const gx = Tensor.empty(x.shape);
    backend().upsampleNearestGrad(dense(g).data, gx.data, nc, h, w, scale);
    return [gx];
  });
}
