// Element-wise ops with broadcasting, and their gradients.
import { backend } from '../../backend/index.js';
import type { BinaryOp, UnaryOp } from '../../backend/backend.js';
import { record, setAutogradOps } from '../autograd.js';
import { scalar } from '../creation.js';
import { broadcastShapes, broadcastStrides, collapseDims, contiguousStrides, formatShape, shapesEqual } from '../shape.js';
import { Tensor } from '../tensor.js';
import { copyStrided } from '../copy.js';
import { assertFloat, dense, i32 } from './util.js';
import { copyRaw, sumToShape } from './views.js';

function unaryRaw(op: UnaryOp, x: Tensor, p0 = 0, p1 = 0): Tensor {
  assertFloat(x, op);
  const xc = dense(x);
  const out = Tensor.empty(x.shape);
  backend().unary(op, xc.data, out.data, x.size, p0, p1);
  return record(out, op, [x], (g) => {
    const gc = dense(g);
    const gx = Tensor.empty(x.shape);
    backend().unaryGrad(op, xc.data, out.data, gc.data, gx.data, x.size, p0, p1);
    return [gx];
  });
}

export const neg = (x: Tensor) => unaryRaw('neg', x);
export const exp = (x: Tensor) => unaryRaw('exp', x);
export const log = (x: Tensor) => unaryRaw('log', x);
export const sqrt = (x: Tensor) => unaryRaw('sqrt', x);
export const rsqrt = (x: Tensor) => unaryRaw('rsqrt', x);
export const tanh = (x: Tensor) => unaryRaw('tanh', x);
export const sigmoid = (x: Tensor) => unaryRaw('sigmoid', x);
export const abs = (x: Tensor) => unaryRaw('abs', x);
export const relu = (x: Tensor) => unaryRaw('relu', x);
export const sin = (x: Tensor) => unaryRaw('sin', x);
export const cos = (x: Tensor) => unaryRaw('cos', x);
export const square = (x: Tensor) => unaryRaw('square', x);
export const reciprocal = (x: Tensor) => unaryRaw('reciprocal', x);
/** GELU; approximate 'tanh' gives the tanh form (GPT-2, gelu_pytorch_tanh). */
export const gelu = (x: Tensor, approximate: 'none' | 'tanh' = 'none') => unaryRaw(approximate === 'tanh' ? 'geluTanh' : 'gelu', x);
/** x * sigmoid(1.702 x), CLIP's activation. */
export const quickGelu = (x: Tensor) => unaryRaw('quickGelu', x);
export const silu = (x: Tensor) => unaryRaw('silu', x);
export const clamp = (x: Tensor, min = -Infinity, max = Infinity) => unaryRaw('clamp', x, min, max);
/** y = scale * x + shift in one pass. */
export const affine = (x: Tensor, scale: number, shift = 0) => unaryRaw('affine', x, scale, shift);

function binaryRaw(op: BinaryOp, a: Tensor, b: Tensor): Tensor {
  assertFloat(a, op);
  assertFloat(b, op);
  const shape = broadcastShapes(a.shape, b.shape);
  const out = Tensor.empty(shape);
  if (out.size === 0) return out;
  const c = collapseDims(shape, [broadcastStrides(a.shape, a.strides, shape), broadcastStrides(b.shape, b.strides, shape)]);
  backend().binary(op, a.storage.data as Float32Array, a.offset, i32(c.strides[0]), b.storage.data as Float32Array, b.offset,
    i32(c.strides[1]), out.data, i32(c.shape));
  return out;
}

/**
 * a + b with broadcasting (b may be a number).
 *
 * @example
 * add(x, bias); add(x, 1);
 */
export function add(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, 1, b);
  return record(binaryRaw('add', a, b), 'add', [a, b], (g) => [
    a.requiresGrad ? sumToShape(g, a.shape) : null,
    b.requiresGrad ? sumToShape(g, b.shape) : null,
  ]);
}

export function sub(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a as Tensor, 1, -b);
  if (typeof a === 'number') return affine(b, -1, a);
  return record(binaryRaw('sub', a, b), 'sub', [a, b], (g) => [
    a.requiresGrad ? sumToShape(g, a.shape) : null,
    b.requiresGrad ? sumToShape(neg(g), b.shape) : null,
  ]);
}

export function mul(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a, b, 0);
  return record(binaryRaw('mul', a, b), 'mul', [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('mul', g, b), a.shape) : null,
    b.requiresGrad ? sumToShape(binaryRaw('mul', g, a), b.shape) : null,
  ]);
}

export function div(a: Tensor | number, b: Tensor | number): Tensor {
  if (typeof b === 'number') return affine(a as Tensor, 1 / b, 0);
  if (typeof a === 'number') return mul(reciprocal(b), a);
  return record(binaryRaw('div', a, b), 'div', [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('div', g, b), a.shape) : null,
    // d(a/b)/db = -a / b^2
    b.requiresGrad ? sumToShape(neg(binaryRaw('div', binaryRaw('mul', g, a), binaryRaw('mul', b, b))), b.shape) : null,
  ]);
}

/** a ** b; with a number exponent, the fused scalar power. */
export function pow(a: Tensor, b: Tensor | number): Tensor {
  if (typeof b === 'number') return unaryRaw('powScalar', a, b);
  const out = binaryRaw('pow', a, b);
  return record(out, 'pow', [a, b], (g) => [
    a.requiresGrad ? sumToShape(binaryRaw('mul', g, binaryRaw('mul', b, binaryRaw('pow', a, affine(b, 1, -1)))), a.shape) : null,
    b.requiresGrad ? sumToShape(binaryRaw('mul', g, binaryRaw('mul', out, log(a))), b.shape) : null,
  ]);
}

function minmax(op: 'maximum' | 'minimum', a: Tensor, b: Tensor | number): Tensor {
  const bt = typeof b === 'number' ? scalar(b) : b;
  const out = binaryRaw(op, a, bt);
  return record(out, op, [a, bt], (g) => {
    // Where a and b tie, each gets half the gradient (PyTorch's convention).
    const takeA = binaryRaw('add', binaryRaw(op === 'maximum' ? 'gt' : 'lt', a, bt), affine(binaryRaw('eq', a, bt), 0.5));
    return [
      a.requiresGrad ? sumToShape(binaryRaw('mul', g, takeA), a.shape) : null,
      bt.requiresGrad ? sumToShape(binaryRaw('mul', g, affine(takeA, -1, 1)), bt.shape) : null,
    ];
  });
}
export const maximum = (a: Tensor, b: Tensor | number) => minmax('maximum', a, b);
export const minimum = (a: Tensor, b: Tensor | number) => minmax('minimum', a, b);

/** Comparisons return float32 0/1 tensors and carry no gradient. */
const compare = (op: BinaryOp) => (a: Tensor, b: Tensor | number) => binaryRaw(op, a, typeof b === 'number' ? scalar(b) : b);
export const eq = compare('eq');
export const ne = compare('ne');
export const lt = compare('lt');
export const le = compare('le');
export const gt = compare('gt');
export const ge = compare('ge');

/** cond != 0 ? a : b, broadcasting all three. */
export function where(condition: Tensor, a: Tensor | number, b: Tensor | number): Tensor {
  // The kernel reads the condition as float32; an int32 mask (0/1 ids) is converted first.
  const cond = condition.dtype === 'int32' ? intToFloat(condition) : condition;
  const at = typeof a === 'number' ? scalar(a) : a, bt = typeof b === 'number' ? scalar(b) : b;
  const shape = broadcastShapes(broadcastShapes(cond.shape, at.shape), bt.shape);
  const out = Tensor.empty(shape);
  const c = collapseDims(shape, [cond, at, bt].map((t) => broadcastStrides(t.shape, t.strides, shape)));
  backend().where(
    cond.storage.data as Float32Array, cond.offset, i32(c.strides[0]), at.storage.data as Float32Array, at.offset,
    i32(c.strides[1]), bt.storage.data as Float32Array, bt.offset, i32(c.strides[2]), out.data, i32(c.shape),
  );
  return record(out, 'where', [at, bt], (g) => [
    at.requiresGrad ? sumToShape(where(cond, g, 0), at.shape) : null,
    bt.requiresGrad ? sumToShape(where(cond, 0, g), bt.shape) : null,
  ]);
}

function intToFloat(t: Tensor): Tensor {
  const src = t.contiguousData();
  const out = Tensor.empty(t.shape);
  out.data.set(src);
  return out;
}

/** x with `value` wherever mask != 0. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, x);
}

// In-place updates (optimizers, gradient accumulation). No gradient is recorded.

/** a += alpha * b (b broadcast to a). */
export function addInPlace(a: Tensor, b: Tensor, alpha = 1): void {
  if (!a.isContiguous) throw new Error('addInPlace: target must be contiguous');
  const shape = broadcastShapes(a.shape, b.shape);
  if (!shapesEqual(shape, a.shape)) throw new RangeError(`addInPlace: ${formatShape(b.shape)} does not broadcast to ${formatShape(a.shape)}`);
  const bb = alpha === 1 ? b : affine(b, alpha, 0);
  const c = collapseDims(shape, [contiguousStrides(shape), broadcastStrides(bb.shape, bb.strides, shape)]);
  backend().binary('add', a.data, 0, i32(c.strides[0]), bb.storage.data as Float32Array, bb.offset, i32(c.strides[1]), a.data, i32(c.shape));
  if (bb !== b) bb.dispose();
}

/** a *= s. */
export function mulInPlace(a: Tensor, s: number): void {
  if (!a.isContiguous) throw new Error('mulInPlace: target must be contiguous');
  backend().unary('affine', a.data, a.data, a.size, s, 0);
}

/** dst = src (same shape; src may be any layout). */
export function copyInPlace(dst: Tensor, src: Tensor): void {
  if (!shapesEqual(dst.shape, src.shape)) throw new RangeError(`copyInPlace: ${formatShape(src.shape)} into ${formatShape(dst.shape)}`);
  copyStrided(src.storage.data, src.offset, src.strides, dst.storage.data, dst.offset, dst.strides, dst.shape);
}

export function fillInPlace(t: Tensor, value: number): void {
  if (!t.isContiguous) throw new Error('fillInPlace: target must be contiguous');
  backend().fill(t.dtype === 'float32' ? t.data : t.dataI32, value);
}

setAutogradOps({
  add: (a, b) => binaryRaw('add', a, b),
  addInPlace: (a, b) => addInPlace(a, b),
  contiguousCopy: (a) => copyRaw(a),
});
