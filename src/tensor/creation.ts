// Tensor creation: from data, constants, ranges and seeded random numbers.
import { backend } from '../backend/index.js';
import { Storage, type DType } from './memory.js';
import { defaultGenerator, type Generator } from './random.js';
import { formatShape, sizeOf } from './shape.js';
import { Tensor, type Shape } from './tensor.js';

type NestedNumbers = number | NestedNumbers[];

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let cur: NestedNumbers = data;
  while (Array.isArray(cur)) {
    shape.push(cur.length);
    cur = cur[0];
  }
  return shape;
}

/**
 * A tensor from a typed array, a flat array with a shape, or a nested array.
 *
 * @example
 * fromArray([[1, 2], [3, 4]]).shape; // [2, 2]
 * fromArray(new Int32Array([5, 7]), [2], 'int32');
 */
export function fromArray(
  data: ArrayLike<number> | NestedNumbers[], shape?: Shape, dtype?: DType,
): Tensor {
  const dt: DType = dtype ?? (data instanceof Int32Array ? 'int32' : 'float32');
  let flat: ArrayLike<number>;
  let sh: Shape;
  if (Array.isArray(data) && data.length > 0 && Array.isArray(data[0])) {
    sh = shape ?? inferShape(data as NestedNumbers);
    flat = (data as NestedNumbers[]).flat(Infinity as 1) as number[];
  } else {
    flat = data as ArrayLike<number>;
    sh = shape ?? [flat.length];
  }
  if (sizeOf(sh) !== flat.length) {
    throw new RangeError(`fromArray: ${flat.length} values do not fill shape ${formatShape(sh)}`);
  }
  const t = Tensor.empty(sh, dt);
  (t.storage.data as Float32Array | Int32Array).set(flat as ArrayLike<number>);
  return t;
}

/** Wraps a Float32Array without copying (the array is not pooled). */
export function wrap(data: Float32Array, shape: Shape): Tensor {
  if (sizeOf(shape) !== data.length) throw new RangeError(`wrap: ${data.length} values do not fill shape ${formatShape(shape)}`);
  return new Tensor(Storage.wrap('float32', data), [...shape]);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return full([], value, dtype);
}

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const t = Tensor.empty(shape, dtype);
  backend().fill(t.storage.data, value);
  return t;
}

export function zeros(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 0, dtype);
}

export function ones(shape: Shape, dtype: DType = 'float32'): Tensor {
  return full(shape, 1, dtype);
}

export function zerosLike(t: Tensor): Tensor {
  return zeros(t.shape, t.dtype);
}

export function onesLike(t: Tensor): Tensor {
  return ones(t.shape, t.dtype);
}

/** Values start, start + step, ... below end. */
export function arange(start: number, end?: number, step = 1, dtype: DType = 'float32'): Tensor {
  if (end === undefined) [start, end] = [0, start];
  const n = Math.max(0, Math.ceil((end - start) / step));
  const t = Tensor.empty([n], dtype);
  const d = t.storage.data;
  for (let i = 0; i < n; i++) d[i] = start + i * step;
  return t;
}

/** Uniform [low, high) from a seeded generator (the default one unless given). */
export function rand(shape: Shape, opts: { low?: number; high?: number; generator?: Generator } = {}): Tensor {
  const { low = 0, high = 1, generator = defaultGenerator } = opts;
  const t = Tensor.empty(shape);
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * generator.uniform();
  return t;
}

/** Normal(mean, std) from a seeded generator. */
export function randn(shape: Shape, opts: { mean?: number; std?: number; generator?: Generator } = {}): Tensor {
  const { mean = 0, std = 1, generator = defaultGenerator } = opts;
  const t = Tensor.empty(shape);
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * generator.normal();
  return t;
}

/** Integers in [low, high), int32. */
export function randint(low: number, high: number, shape: Shape, generator: Generator = defaultGenerator): Tensor {
  const t = Tensor.empty(shape, 'int32');
  const d = t.storage.data;
  for (let i = 0; i < d.length; i++) d[i] = generator.randint(low, high);
  return t;
}
