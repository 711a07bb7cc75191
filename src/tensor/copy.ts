// The one way tensors' elements are copied between layouts: backend().copyStrided over the
// fewest dimensions (collapseDims), so a contiguous copy is one run, not one short row per
// last dimension (a [64, 64, 3, 3] weight was 12,288 copies of 3 floats).
import { backend } from '../backend/index.js';
import { collapseDims } from './shape.js';

type Data = Float32Array | Int32Array;

export function copyStrided(
  src: Data, srcOff: number, srcStrides: readonly number[], dst: Data, dstOff: number, dstStrides: readonly number[],
  shape: readonly number[], accumulate = false,
): void {
  const c = collapseDims(shape, [[...srcStrides], [...dstStrides]]);
  backend().copyStrided(src, srcOff, Int32Array.from(c.strides[0]), dst, dstOff, Int32Array.from(c.strides[1]), Int32Array.from(c.shape), accumulate);
}
