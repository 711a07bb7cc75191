// Small helpers shared by the op files.
import { backend } from '../../backend/index.js';
import { Tensor } from '../tensor.js';
import { scalar } from '../creation.js';
import { collapseDims } from '../shape.js';

export const i32 = (xs: readonly number[]) => Int32Array.from(xs);

type Data = Float32Array | Int32Array;

/**
 * backend().copyStrided over the fewest dimensions (collapseDims): a contiguous copy is one run,
 * not one short row per last-dimension (a [64, 64, 3, 3] weight was 12,288 copies of 3 floats).
 */
export function copyStrided(
  src: Data, srcOff: number, srcStrides: readonly number[], dst: Data, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], accumulate = false,
): void {
  const c = collapseDims(shape, [[...srcStrides], [...dstStrides]]);
  backend().copyStrided(src, srcOff, i32(c.strides[0]), dst, dstOff, i32(c.strides[1]), i32(c.shape), accumulate);
}

/** A contiguous version of t: t itself when it already is, else a copy (no gradient link). */
export function dense(t: Tensor): Tensor {
  if (t.isContiguous) return t;
  return copyRaw(t);
}

let copyRawImpl: ((t: Tensor) => Tensor) | null = null;
export function setCopyRaw(fn: (t: Tensor) => Tensor): void {
  copyRawImpl = fn;
}
function copyRaw(t: Tensor): Tensor {
  return copyRawImpl!(t);
}

export function toTensor(x: Tensor | number): Tensor {
  return typeof x === 'number' ? scalar(x) : x;
}

export function assertFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'float32') throw new TypeError(`${op}: expected a float32 tensor, got ${t.dtype}`);
}
