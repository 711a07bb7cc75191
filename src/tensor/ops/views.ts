// View and layout ops: reshape, permute, transpose, narrow/slice, expand, squeeze/unsqueeze,
// contiguous, and the copying ops cat/stack with their split/chunk inverses.
import { record } from '../autograd.js';
import { zeros } from '../creation.js';
import { broadcastStrides, contiguousStrides, formatShape, normDim, sizeOf, shapesEqual } from '../shape.js';
import { Tensor, type Shape } from '../tensor.js';
import { copyStrided } from '../copy.js';
import { setCopyRaw } from './util.js';

/** Copies t into a new contiguous tensor (no gradient recorded). */
export function copyRaw(t: Tensor): Tensor {
  const out = Tensor.empty(t.shape, t.dtype);
  if (t.size === 0) return out;
  copyStrided(t.storage.data, t.offset, t.strides, out.storage.data, 0, contiguousStrides(t.shape), t.shape);
  return out;
}
setCopyRaw(copyRaw);

/** A contiguous tensor with the same values; t itself when already contiguous. */
export function contiguous(t: Tensor): Tensor {
  if (t.isContiguous) return t;
  return record(copyRaw(t), 'contiguous', [t], (g) => [g]);
}

/** A contiguous copy, always new (gradient flows through). */
export function clone(t: Tensor): Tensor {
  return record(copyRaw(t), 'clone', [t], (g) => [g]);
}

function resolveShape(shape: readonly number[], size: number): number[] {
  const out = [...shape];
  const neg = out.indexOf(-1);
  if (neg >= 0) {
    const rest = sizeOf(out.filter((_, i) => i !== neg));
    if (rest === 0 || size % rest !== 0) throw new RangeError(`cannot reshape ${size} elements into ${formatShape(shape)}`);
    out[neg] = size / rest;
  }
  if (sizeOf(out) !== size) throw new RangeError(`cannot reshape ${size} elements into ${formatShape(shape)}`);
  return out;
}

/**
 * Same elements in a new shape (one dim may be -1). A view when the layout allows, else a copy.
 *
 * @example
 * reshape(x, [2, -1]);
 */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const target = resolveShape(shape, t.size);
  if (shapesEqual(target, t.shape)) return t;
  const src = t.isContiguous ? t : copyRaw(t);
  const out = src.restride(target, contiguousStrides(target), src.offset);
  if (src !== t) src.dispose();
  return record(out, 'reshape', [t], (g) => [reshape(g, t.shape)]);
}

export function flatten(t: Tensor, startDim = 0, endDim = -1): Tensor {
  const s = normDim(startDim, Math.max(t.ndim, 1)), e = normDim(endDim, Math.max(t.ndim, 1));
  const shape = [...t.shape.slice(0, s), sizeOf(t.shape.slice(s, e + 1)), ...t.shape.slice(e + 1)];
  return reshape(t, shape);
}

export function permute(t: Tensor, dims: readonly number[]): Tensor {
  if (dims.length !== t.ndim) throw new RangeError(`permute: ${dims.length} dims given for a ${t.ndim}-d tensor`);
  const d = dims.map((x) => normDim(x, t.ndim));
  if (new Set(d).size !== d.length) throw new RangeError(`permute: repeated dims in [${dims}]`);
  const out = t.restride(d.map((i) => t.shape[i]), d.map((i) => t.strides[i]), t.offset);
  const inverse = new Array<number>(d.length);
  d.forEach((x, i) => (inverse[x] = i));
  return record(out, 'permute', [t], (g) => [permute(g, inverse)]);
}

export function transpose(t: Tensor, dim0 = -2, dim1 = -1): Tensor {
  const a = normDim(dim0, t.ndim), b = normDim(dim1, t.ndim);
  const dims = t.shape.map((_, i) => i);
  [dims[a], dims[b]] = [dims[b], dims[a]];
  return permute(t, dims);
}

/** Elements start..start+length-1 along dim (a view). */
export function narrow(t: Tensor, dim: number, start: number, length: number): Tensor {
  const d = normDim(dim, t.ndim);
  if (start < 0) start += t.shape[d];
  if (start < 0 || length < 0 || start + length > t.shape[d]) {
    throw new RangeError(`narrow: [${start}, ${start + length}) outside dim ${d} of size ${t.shape[d]}`);
  }
  const shape = [...t.shape];
  shape[d] = length;
  const out = t.restride(shape, t.strides, t.offset + start * t.strides[d]);
  return record(out, 'narrow', [t], (g) => {
    const gx = zeros(t.shape);
    const region = gx.restride(shape, gx.strides, start * gx.strides[d]);
    copyStrided(g.storage.data, g.offset, g.strides, gx.storage.data, region.offset, region.strides, shape);
    region.dispose();
    return [gx];
  });
}

/** Python-style slice along dim: start inclusive, end exclusive, negatives count from the end. */
export function slice(t: Tensor, dim: number, start = 0, end?: number): Tensor {
  const d = normDim(dim, t.ndim), n = t.shape[d];
  let s = start < 0 ? start + n : start;
  let e = end === undefined ? n : end < 0 ? end + n : end;
  s = Math.min(Math.max(s, 0), n);
  e = Math.min(Math.max(e, s), n);
  return narrow(t, d, s, e - s);
}

/** Broadcasts size-1 dims (and new leading dims) to `shape` without copying. -1 keeps a dim. */
export function expand(t: Tensor, shape: readonly number[]): Tensor {
  const off = shape.length - t.ndim;
  if (off < 0) throw new RangeError(`expand: cannot expand ${formatShape(t.shape)} to ${formatShape(shape)}`);
  const target = shape.map((s, i) => (s === -1 ? t.shape[i - off] : s));
  for (let i = 0; i < t.ndim; i++) {
    if (t.shape[i] !== 1 && t.shape[i] !== target[i + off]) {
      throw new RangeError(`expand: cannot expand ${formatShape(t.shape)} to ${formatShape(shape)}`);
    }
  }
  if (shapesEqual(target, t.shape)) return t;
  const out = t.restride(target, broadcastStrides(t.shape, t.strides, target), t.offset);
  return record(out, 'expand', [t], (g) => [sumToShape(g, t.shape)]);
}

export function unsqueeze(t: Tensor, dim: number): Tensor {
  const d = normDim(dim, t.ndim + 1);
  const shape = [...t.shape];
  shape.splice(d, 0, 1);
  return reshape(t, shape);
}

export function squeeze(t: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(t, t.shape.filter((s) => s !== 1));
  const d = normDim(dim, t.ndim);
  if (t.shape[d] !== 1) return t;
  return reshape(t, t.shape.filter((_, i) => i !== d));
}

let sumImpl: ((t: Tensor, dims: number[], keepdim: boolean) => Tensor) | null = null;
export function setSumImpl(fn: (t: Tensor, dims: number[], keepdim: boolean) => Tensor): void {
  sumImpl = fn;
}

/** Sums a broadcast gradient back to the shape of the input it came from. */
export function sumToShape(g: Tensor, shape: Shape): Tensor {
  if (shapesEqual(g.shape, shape)) return g;
  const lead = g.ndim - shape.length;
  const dims: number[] = [];
  for (let i = 0; i < g.ndim; i++) if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) dims.push(i);
  const s = dims.length ? sumImpl!(g, dims, true) : g;
  return reshape(s, shape);
}

/**
 * Concatenates tensors along dim.
 *
 * @example
 * cat([a, b], 0);
 */
export function cat(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new RangeError('cat: no tensors');
  const d = normDim(dim, ts[0].ndim);
  const shape = [...ts[0].shape];
  shape[d] = 0;
  for (const t of ts) {
    if (t.ndim !== shape.length || t.shape.some((s, i) => i !== d && s !== ts[0].shape[i]) || t.dtype !== ts[0].dtype) {
      throw new RangeError(`cat: shapes ${ts.map((x) => formatShape(x.shape)).join(', ')} do not match outside dim ${d}`);
    }
    shape[d] += t.shape[d];
  }
  const out = Tensor.empty(shape, ts[0].dtype);
  const os = out.strides;
  let at = 0;
  for (const t of ts) {
    if (t.size > 0) {
      copyStrided(t.storage.data, t.offset, t.strides, out.storage.data, at * os[d], os, t.shape);
    }
    at += t.shape[d];
  }
  return record(out, 'cat', ts, (g) => {
    let pos = 0;
    return ts.map((t) => {
      const part = narrow(g, d, pos, t.shape[d]);
      pos += t.shape[d];
      return part;
    });
  });
}

export function stack(ts: readonly Tensor[], dim = 0): Tensor {
  if (ts.length === 0) throw new RangeError('stack: no tensors');
  const d = normDim(dim, ts[0].ndim + 1);
  return cat(ts.map((t) => unsqueeze(t, d)), d);
}

/** Splits into pieces of `size` along dim (the last may be smaller), or of the given sizes. */
export function split(t: Tensor, size: number | readonly number[], dim = 0): Tensor[] {
  const d = normDim(dim, t.ndim);
  const sizes: number[] = [];
  if (typeof size === 'number') {
    for (let s = 0; s < t.shape[d]; s += size) sizes.push(Math.min(size, t.shape[d] - s));
  } else {
    if (size.reduce((a, b) => a + b, 0) !== t.shape[d]) throw new RangeError(`split: sizes [${size}] do not sum to ${t.shape[d]}`);
    sizes.push(...size);
  }
  let pos = 0;
  return sizes.map((s) => {
    const part = narrow(t, d, pos, s);
    pos += s;
    return part;
  });
}

export function chunk(t: Tensor, chunks: number, dim = 0): Tensor[] {
  const d = normDim(dim, t.ndim);
  return split(t, Math.ceil(t.shape[d] / chunks), d);
}
