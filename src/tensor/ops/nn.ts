// Neural-network ops: softmax, normalisations, dropout, embedding lookup, rotary embedding.
import { backend } from '../../backend/index.js';
import { record } from '../autograd.js';
import { defaultGenerator, type Generator } from '../random.js';
import { formatShape, normDim, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mul } from './elementwise.js';
import { assertFloat, dense } from './util.js';
import { contiguous, transpose } from './views.js';

function softmaxImpl(x: Tensor, dim: number, log: boolean): Tensor {
  assertFloat(x, 'softmax');
  const d = normDim(dim, x.ndim);
  if (d !== x.ndim - 1) return transpose(softmaxImpl(contiguous(transpose(x, d, -1)), -1, log), d, -1);
  const xc = dense(x), cols = x.shape[d], rows = x.size / Math.max(cols, 1);
  const out = Tensor.empty(x.shape);
  backend().softmax(xc.data, out.data, rows, cols, log);
  return record(out, log ? 'logSoftmax' : 'softmax', [x], (g) => {
    const gx = Tensor.empty(x.shape);
    backend().softmaxGrad(out.data, dense(g).data, gx.data, rows, cols, log);
    return [gx];
  });
}

/** Softmax along dim (default last). */
export const softmax = (x: Tensor, dim = -1) => softmaxImpl(x, dim, false);
/** log(softmax(x)) along dim, computed stably. */
export const logSoftmax = (x: Tensor, dim = -1) => softmaxImpl(x, dim, true);

/**
 * LayerNorm over the last dim, with optional affine weight and bias [C].
 *
 * @example
 * layerNorm(x, w, b, 1e-5); // x [B, T, C]
 */
export function layerNorm(x: Tensor, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  assertFloat(x, 'layerNorm');
  const cols = x.shape[x.ndim - 1], rows = x.size / cols;
  if (weight && weight.size !== cols) throw new RangeError(`layerNorm: weight ${formatShape(weight.shape)} for ${cols} features`);
  const xc = dense(x), wc = weight ? dense(weight) : null, bc = bias ? dense(bias) : null;
  const out = Tensor.empty(x.shape), mean = Tensor.empty([rows]), rstd = Tensor.empty([rows]);
  backend().layerNorm(xc.data, wc?.data ?? null, bc?.data ?? null, out.data, mean.data, rstd.data, rows, cols, eps);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record(out, 'layerNorm', inputs, (g) => {
    const gx = Tensor.empty(x.shape);
    const gw = weight?.requiresGrad ? Tensor.empty(weight.shape) : null;
    const gb = bias?.requiresGrad ? Tensor.empty(bias.shape) : null;
    backend().layerNormGrad(xc.data, wc?.data ?? null, mean.data, rstd.data, dense(g).data, gx.data, gw?.data ?? null, gb?.data ?? null, rows, cols);
    return [gx, ...(weight ? [gw] : []), ...(bias ? [gb] : [])];
  }, [mean, rstd]);
}

/** RMSNorm over the last dim (LLaMA): x / sqrt(mean(x^2) + eps) * weight. */
export function rmsNorm(x: Tensor, weight: Tensor | null, eps = 1e-6): Tensor {
  assertFloat(x, 'rmsNorm');
  const cols = x.shape[x.ndim - 1], rows = x.size / cols;
  if (weight && weight.size !== cols) throw new RangeError(`rmsNorm: weight ${formatShape(weight.shape)} for ${cols} features`);
  const xc = dense(x), wc = weight ? dense(weight) : null;
  const out = Tensor.empty(x.shape), rstd = Tensor.empty([rows]);
  backend().rmsNorm(xc.data, wc?.data ?? null, out.data, rstd.data, rows, cols, eps);
  return record(out, 'rmsNorm', weight ? [x, weight] : [x], (g) => {
    const gx = Tensor.empty(x.shape);
    const gw = weight?.requiresGrad ? Tensor.empty(weight.shape) : null;
    backend().rmsNormGrad(xc.data, wc?.data ?? null, rstd.data, dense(g).data, gx.data, gw?.data ?? null, rows, cols);
    return weight ? [gx, gw] : [gx];
  }, [rstd]);
}

/** GroupNorm on x [N, C, ...] with `groups` groups and optional affine [C]. */
export function groupNorm(x: Tensor, groups: number, weight: Tensor | null, bias: Tensor | null, eps = 1e-5): Tensor {
  assertFloat(x, 'groupNorm');
  const n = x.shape[0], c = x.shape[1], hw = sizeOf(x.shape.slice(2));
  if (c % groups !== 0) throw new RangeError(`groupNorm: ${c} channels do not split into ${groups} groups`);
  const xc = dense(x), wc = weight ? dense(weight) : null, bc = bias ? dense(bias) : null;
  const out = Tensor.empty(x.shape), mean = Tensor.empty([n * groups]), rstd = Tensor.empty([n * groups]);
  backend().groupNorm(xc.data, wc?.data ?? null, bc?.data ?? null, out.data, mean.data, rstd.data, n, c, hw, groups, eps);
  const inputs = [x, ...(weight ? [weight] : []), ...(bias ? [bias] : [])];
  return record(out, 'groupNorm', inputs, (g) => {
    const gx = Tensor.empty(x.shape);
    const gw = weight?.requiresGrad ? Tensor.empty(weight.shape) : null;
    const gb = bias?.requiresGrad ? Tensor.empty(bias.shape) : null;
    backend().groupNormGrad(xc.data, wc?.data ?? null, mean.data, rstd.data, dense(g).data, gx.data, gw?.data ?? null, gb?.data ?? null, n, c, hw, groups);
    return [gx, ...(weight ? [gw] : []), ...(bias ? [gb] : [])];
  }, [mean, rstd]);
}

/** Inverted dropout: zeroes elements with probability p and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, training = true, generator: Generator = defaultGenerator): Tensor {
  if (p < 0 || p > 1) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (!training || p === 0) return x;
  const mask = Tensor.empty(x.shape);
  const d = mask.data, keepScale = p === 1 ? 0 : 1 / (1 - p);
  for (let i = 0; i < d.length; i++) d[i] = generator.uniform() < p ? 0 : keepScale;
  return mul(x, mask);
}

/**
 * Rows of `weight` [V, D] picked by int32 `ids` of any shape -> [...ids.shape, D].
 *
 * @example
 * embedding(wte, tokens); // [B, T] -> [B, T, D]
 */
export function embedding(weight: Tensor, ids: Tensor): Tensor {
  if (ids.dtype !== 'int32') throw new TypeError('embedding: ids must be an int32 tensor');
  const [rows, dim] = weight.shape;
  const wc = dense(weight), idc = dense(ids);
  const out = Tensor.empty([...ids.shape, dim]);
  backend().embedding(wc.data, idc.dataI32, out.data, ids.size, dim, rows);
  return record(out, 'embedding', [weight], (g) => {
    const gw = Tensor.empty(weight.shape);
    gw.data.fill(0);
    backend().embeddingGrad(dense(g).data, idc.dataI32, gw.data, ids.size, dim);
    return [gw];
  });
}

/**
 * Rotary position embedding, rotate-half layout (Hugging Face LLaMA), on x [..., T, D] with
 * cos/sin tables [T, D/2] for the positions of x.
 */
export function rope(x: Tensor, cos: Tensor, sin: Tensor): Tensor {
  assertFloat(x, 'rope');
  const t = x.shape[x.ndim - 2], d = x.shape[x.ndim - 1];
  if (d % 2 !== 0) throw new RangeError(`rope: head dim ${d} must be even`);
  if (cos.size !== t * (d / 2) || sin.size !== t * (d / 2)) {
    throw new RangeError(`rope: tables ${formatShape(cos.shape)} do not match T=${t}, D/2=${d / 2}`);
  }
  const xc = dense(x), cc = dense(cos), sc = dense(sin), rows = x.size / (t * d);
  const out = Tensor.empty(x.shape);
  backend().rope(xc.data, cc.data, sc.data, out.data, rows, t, d, false);
  return record(out, 'rope', [x], (g) => {
    const gx = Tensor.empty(x.shape);
    backend().rope(dense(g).data, cc.data, sc.data, gx.data, rows, t, d, true);
    return [gx];
  });
}

/** cos/sin tables [T, D/2] for positions start..start+T-1 (theta^(-2i/D) frequencies). */
export function ropeTables(t: number, d: number, theta = 10000, start = 0, invFreq?: Float32Array): { cos: Tensor; sin: Tensor } {
  const half = d / 2;
  const cos = Tensor.empty([t, half]), sin = Tensor.empty([t, half]);
  for (let p = 0; p < t; p++) {
    for (let i = 0; i < half; i++) {
      const f = invFreq ? invFreq[i] : 1 / Math.pow(theta, (2 * i) / d);
      // float32 product first, as PyTorch computes the angle in float32
      const ang = Math.fround((p + start) * Math.fround(f));
      cos.data[p * half + i] = Math.cos(ang);
      sin.data[p * half + i] = Math.sin(ang);
    }
  }
  return { cos, sin };
}
