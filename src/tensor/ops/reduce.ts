// Reductions over dims: sum, mean, max, min, argmax, and their gradients.
import { backend } from '../../backend/index.js';
import type { ReduceOp } from '../../backend/backend.js';
import { record } from '../autograd.js';
import { normDim, sizeOf } from '../shape.js';
import { Tensor } from '../tensor.js';
import { affine } from './elementwise.js';
import { assertFloat, dense } from './util.js';
import { copyRaw, expand, reshape, setSumImpl } from './views.js';

function normDims(dims: number | readonly number[] | undefined, ndim: number): number[] {
  if (dims === undefined) return Array.from({ length: ndim }, (_, i) => i);
  const list = typeof dims === 'number' ? [dims] : [...dims];
  return [...new Set(list.map((d) => normDim(d, ndim)))].sort((a, b) => a - b);
}

function keptShape(shape: readonly number[], dims: number[]): number[] {
  return shape.map((s, i) => (dims.includes(i) ? 1 : s));
}

/** Reduces one dim of a contiguous tensor with the kernel; keepdim layout. */
function reduceOne(op: ReduceOp, x: Tensor, d: number): Tensor {
  const outer = sizeOf(x.shape.slice(0, d)), r = x.shape[d], inner = sizeOf(x.shape.slice(d + 1));
  const out = Tensor.empty(keptShape(x.shape, [d]));
  backend().reduce(op, x.data, out.data, outer, r, inner);
  return out;
}

/** Reduces several dims: adjacent dims are merged into one kernel call. */
function reduceRaw(op: ReduceOp, x: Tensor, dims: number[]): Tensor {
  let cur = dense(x);
  // Merge runs of consecutive reduced dims into one by viewing them as a single dim.
  const runs: [number, number][] = [];
  for (const d of dims) {
    const last = runs[runs.length - 1];
    if (last && last[1] === d - 1) last[1] = d;
    else runs.push([d, d]);
  }
  for (let k = runs.length - 1; k >= 0; k--) {
    const [s, e] = runs[k];
    const shape = [...cur.shape.slice(0, s), sizeOf(cur.shape.slice(s, e + 1)), ...cur.shape.slice(e + 1)];
    const v = cur.restride(shape, contiguousOf(shape), cur.offset);
    const next = reduceOne(op, v, s);
    v.dispose();
    if (cur !== x) cur.dispose();
    const restored = [...next.shape.slice(0, s), ...new Array(e - s + 1).fill(1), ...next.shape.slice(s + 1)];
    cur = next.restride(restored, contiguousOf(restored), next.offset);
    next.dispose();
  }
  return cur;
}

function contiguousOf(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i];
  }
  return st;
}

function finish(out: Tensor, x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (keepdim) return out;
  return reshape(out, x.shape.filter((_, i) => !dims.includes(i)));
}

/**
 * Sum over dims (all when omitted).
 *
 * @example
 * sum(x); sum(x, -1, true);
 */
export function sum(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  assertFloat(x, 'sum');
  const ds = normDims(dims, x.ndim);
  const raw = ds.length ? reduceRaw('sum', x, ds) : copyRaw(x);
  const out = record(raw, 'sum', [x], (g) => [expand(reshape(g, keptShape(x.shape, ds)), x.shape)]);
  return finish(out, x, ds, keepdim);
}

export function mean(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ds = normDims(dims, x.ndim);
  const n = ds.reduce((a, d) => a * x.shape[d], 1);
  return affine(sum(x, ds, keepdim), 1 / n);
}

function extremum(op: 'max' | 'min', x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  assertFloat(x, op);
  const ds = normDims(dims, x.ndim);
  const raw = ds.length ? reduceRaw(op, x, ds) : copyRaw(x);
  const out = record(raw, op, [x], (g) => {
    // The gradient goes to every position equal to the extremum, split evenly among ties.
    const xc = dense(x), gk = dense(reshape(g, keptShape(x.shape, ds)));
    const gx = Tensor.empty(x.shape);
    const hits = Tensor.empty(raw.shape);
    hits.data.fill(0);
    forEachReduced(x.shape, ds, (i, o) => { if (xc.data[i] === raw.data[o]) hits.data[o]++; });
    forEachReduced(x.shape, ds, (i, o) => { gx.data[i] = xc.data[i] === raw.data[o] ? gk.data[o] / hits.data[o] : 0; });
    return [gx];
  });
  return finish(out, x, ds, keepdim);
}

/** Visits every element index i of `shape` with its index o in the keepdim-reduced layout. */
function forEachReduced(shape: readonly number[], dims: number[], visit: (i: number, o: number) => void): void {
  const kept = keptShape(shape, dims), ks = contiguousOf(kept), n = sizeOf(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) if (!dims.includes(d)) o += idx[d] * ks[d];
    visit(i, o);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export const max = (x: Tensor, dims?: number | readonly number[], keepdim = false) => extremum('max', x, dims, keepdim);
export const min = (x: Tensor, dims?: number | readonly number[], keepdim = false) => extremum('min', x, dims, keepdim);

/** Index of the largest value along dim (int32); over all elements when dim is omitted. */
export function argmax(x: Tensor, dim?: number, keepdim = false): Tensor {
  assertFloat(x, 'argmax');
  const xc = dense(x);
  if (dim === undefined) {
    const out = Tensor.empty([], 'int32');
    backend().argmax(xc.data, out.dataI32, 1, x.size, 1);
    return out;
  }
  const d = normDim(dim, x.ndim);
  const outer = sizeOf(x.shape.slice(0, d)), inner = sizeOf(x.shape.slice(d + 1));
  const shape = keepdim ? keptShape(x.shape, [d]) : x.shape.filter((_, i) => i !== d);
  const out = Tensor.empty(shape, 'int32');
  backend().argmax(xc.data, out.dataI32, outer, x.shape[d], inner);
  return out;
}

setSumImpl((t, dims, keepdim) => sum(t, dims, keepdim));
