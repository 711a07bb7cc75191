// Matrix products: matmul with broadcast batch dims, and the fused linear layer op.
import { backend } from '../../backend/index.js';
import { record } from '../autograd.js';
import { broadcastShapes, formatShape, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { assertFloat, dense } from './util.js';
import { expand, reshape, sumToShape, transpose } from './views.js';

/** How a 2-D matrix view maps to BLAS: row-major with leading dim ld, possibly transposed. */
interface MatLayout { trans: boolean; ld: number }

function matLayout(rows: number, cols: number, sRow: number, sCol: number): MatLayout | null {
  if (sCol === 1 && (sRow >= cols || rows === 1)) return { trans: false, ld: Math.max(sRow, cols, 1) };
  if (sRow === 1 && (sCol >= rows || cols === 1)) return { trans: true, ld: Math.max(sCol, rows, 1) };
  return null;
}

/** Batch stride when all batch dims collapse to one stride (0 = shared), else null. */
function batchStride(t: Tensor, batchShape: readonly number[]): number | null {
  const nb = batchShape.length, lead = nb - (t.ndim - 2);
  let stride: number | null = null;
  let expected = 0;
  // Walk batch dims from innermost; each must continue the previous stride (or all be 0).
  for (let i = nb - 1; i >= 0; i--) {
    const size = batchShape[i];
    if (size === 1) continue;
    const ti = i - lead;
    const s = ti >= 0 && t.shape[ti] !== 1 ? t.strides[ti] : 0;
    if (stride === null) {
      stride = s;
      expected = s * size;
    } else if (stride === 0 ? s !== 0 : s !== expected) {
      return null;
    } else {
      expected = s * size;
    }
  }
  return stride ?? 0;
}

/** out [batch..., m, n] = a @ b for a [..., m, k], b [..., k, n]; no gradient recorded. */
function matmulRaw(a: Tensor, b: Tensor): Tensor {
  const m = a.shape[a.ndim - 2], k = a.shape[a.ndim - 1], k2 = b.shape[b.ndim - 2], n = b.shape[b.ndim - 1];
  if (k !== k2) throw new RangeError(`matmul: ${formatShape(a.shape)} @ ${formatShape(b.shape)}: inner dims ${k} and ${k2} differ`);
  const batchShape = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = sizeOf(batchShape);
  const out = Tensor.empty([...batchShape, m, n]);
  if (out.size === 0) return out;
  if (k === 0) {
    out.data.fill(0);
    return out;
  }
  // b shared across the batch and a's batch dims dense over rows: fold the batch into m.
  if (batch > 1 && batchStride(b, batchShape) === 0 && a.ndim > 2) {
    const la = a.isContiguous ? a : dense(a);
    if (sizeOf(la.shape.slice(0, -2)) === batch) {
      const lb = matLayout(k, n, b.strides[b.ndim - 2], b.strides[b.ndim - 1]);
      const bb = lb ? b : dense(b);
      const L = lb ?? { trans: false, ld: n };
      backend().gemm(false, L.trans, batch * m, n, k, 1, la.data, 0, k, 0,
        bb.storage.data as Float32Array, bb.offset, L.ld, 0, 0, out.data, 0, n, 0, 1);
      return out;
    }
  }
  const prep = (t: Tensor, rows: number, cols: number) => {
    let L = matLayout(rows, cols, t.strides[t.ndim - 2], t.strides[t.ndim - 1]);
    let s = batchStride(t, batchShape);
    let src = t;
    if (!L || s === null) {
      src = dense(expand(t, [...batchShape, rows, cols]));
      L = { trans: false, ld: cols };
      s = rows * cols;
    }
    return { src, L, s };
  };
  const A = prep(a, m, k), B = prep(b, k, n);
  backend().gemm(A.L.trans, B.L.trans, m, n, k, 1, A.src.storage.data as Float32Array, A.src.offset, A.L.ld, A.s,
    B.src.storage.data as Float32Array, B.src.offset, B.L.ld, B.s, 0, out.data, 0, n, m * n, batch);
  return out;
}

/**
 * Matrix product with NumPy semantics: 1-D operands are promoted, batch dims broadcast.
 *
 * @example
 * matmul(q, transpose(k)); // [B, H, T, D] @ [B, H, D, T] -> [B, H, T, T]
 */
export function matmul(a: Tensor, b: Tensor): Tensor {
  assertFloat(a, 'matmul');
  assertFloat(b, 'matmul');
  if (a.ndim === 0 || b.ndim === 0) throw new RangeError('matmul: operands must have at least one dim');
  const a2 = a.ndim === 1 ? reshape(a, [1, a.shape[0]]) : a;
  const b2 = b.ndim === 1 ? reshape(b, [b.shape[0], 1]) : b;
  let out = record(matmulRaw(a2, b2), 'matmul', [a2, b2], (g) => {
    let ga: Tensor | null = null, gb: Tensor | null = null;
    if (a2.requiresGrad) ga = sumToShape(matmulRaw(g, transpose(b2)), a2.shape);
    if (b2.requiresGrad) {
      if (b2.ndim === 2 && a2.ndim > 2) {
        // Shared weight: one product over all batch rows instead of a batch then a sum.
        const k = a2.shape[a2.ndim - 1], n = g.shape[g.ndim - 1];
        gb = matmulRaw(transpose(reshape(dense(a2), [-1, k])), reshape(dense(g), [-1, n]));
      } else {
        gb = sumToShape(matmulRaw(transpose(a2), g), b2.shape);
      }
    }
    return [ga, gb];
  });
  if (a.ndim === 1) out = reshape(out, [...out.shape.slice(0, -2), out.shape[out.ndim - 1]]);
  if (b.ndim === 1) out = reshape(out, out.shape.slice(0, -1));
  return out;
}

/**
 * y = x @ weight^T + bias, with weight [out, in] as in torch.nn.Linear; one GEMM each way.
 *
 * @example
 * linear(x, w, b); // x [B, T, in] -> [B, T, out]
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  assertFloat(x, 'linear');
  const inF = weight.shape[1], outF = weight.shape[0];
  if (x.shape[x.ndim - 1] !== inF) {
    throw new RangeError(`linear: input ${formatShape(x.shape)} does not end in ${inF} (weight ${formatShape(weight.shape)})`);
  }
  if (bias && (bias.ndim !== 1 || bias.shape[0] !== outF)) throw new RangeError(`linear: bias ${formatShape(bias.shape)} for ${outF} outputs`);
  const xc = dense(x), wc = dense(weight);
  const rows = x.size / inF;
  const out = Tensor.empty([...x.shape.slice(0, -1), outF]);
  const be = backend();
  let beta = 0;
  if (bias) {
    const bc = dense(bias);
    for (let r = 0; r < rows; r++) out.data.set(bc.data, r * outF);
    beta = 1;
  }
  if (rows > 0) be.gemm(false, true, rows, outF, inF, 1, xc.data, 0, inF, 0, wc.data, 0, inF, 0, beta, out.data, 0, outF, 0, 1);
  const inputs = bias ? [x, weight, bias] : [x, weight];
  return record(out, 'linear', inputs, (g) => {
    const gc = dense(g);
    let gx: Tensor | null = null, gw: Tensor | null = null, gb: Tensor | null = null;
    if (x.requiresGrad) {
      gx = Tensor.empty(x.shape);
      be.gemm(false, false, rows, inF, outF, 1, gc.data, 0, outF, 0, wc.data, 0, inF, 0, 0, gx.data, 0, inF, 0, 1);
    }
    if (weight.requiresGrad) {
      gw = Tensor.empty(weight.shape);
      be.gemm(true, false, outF, inF, rows, 1, gc.data, 0, outF, 0, xc.data, 0, inF, 0, 0, gw.data, 0, inF, 0, 1);
    }
    if (bias?.requiresGrad) {
      gb = Tensor.empty([outF]);
      be.reduce('sum', gc.data, gb.data, 1, rows, outF);
    }
    return bias ? [gx, gw, gb] : [gx, gw];
  });
}
