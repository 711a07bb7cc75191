// Small helpers shared by the op files.
import { Tensor } from '../tensor.js';
import { scalar } from '../creation.js';

export const i32 = (xs: readonly number[]) => Int32Array.from(xs);

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
