// The Tensor: a strided view over a reference-counted Storage, with autograd links.
import { Storage, track, untrack, type DType, type Disposable } from './memory.js';
import type { GradNode } from './autograd.js';
import { copyStrided } from './copy.js';
import { contiguousStrides, formatShape, sizeOf } from './shape.js';

export type { DType } from './memory.js';
export type Shape = readonly number[];

/**
 * An n-dimensional array of float32 (or int32, for indices and tokens).
 *
 * @example
 * const x = fromArray([1, 2, 3, 4], [2, 2]);
 * x.toArray(); // Float32Array [1, 2, 3, 4]
 */
export class Tensor implements Disposable {
  readonly shape: Shape;
  readonly strides: readonly number[];
  readonly offset: number;
  readonly dtype: DType;
  /** Gradient accumulated by backward(); kept across tidy scopes. */
  grad: Tensor | null = null;
  /** Set on tensors produced by differentiable ops while gradients are recorded. */
  gradNode: GradNode | null = null;
  requiresGrad = false;
  kept = false;
  /** Optional name, shown in error messages and by parameter walks. */
  name = '';
  private storage_: Storage | null;

  constructor(storage: Storage, shape: Shape, strides?: readonly number[], offset = 0) {
    this.storage_ = storage;
    this.shape = shape;
    this.strides = strides ?? contiguousStrides(shape);
    this.offset = offset;
    this.dtype = storage.dtype;
    track(this);
  }

  /** A new contiguous tensor with uninitialised (pooled) memory. */
  static empty(shape: Shape, dtype: DType = 'float32'): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new RangeError(`invalid shape ${formatShape(shape)}`);
    }
    return new Tensor(Storage.allocate(dtype, sizeOf(shape)), [...shape]);
  }

  get storage(): Storage {
    if (!this.storage_) throw new Error(`tensor${this.name ? ` '${this.name}'` : ''} ${formatShape(this.shape)} was disposed`);
    return this.storage_;
  }

  get isDisposed(): boolean {
    return this.storage_ === null;
  }

  get ndim(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  /** True when the elements are laid out densely in row-major order from `offset`. */
  get isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.strides[d] !== expected) return false;
      expected *= this.shape[d];
    }
    return true;
  }

  /**
   * The backing array of a contiguous tensor, from its first element (a subarray view, no copy).
   * Kernels use it; user code should prefer toArray().
   */
  get data(): Float32Array {
    if (this.dtype !== 'float32') throw new TypeError(`expected a float32 tensor, got ${this.dtype}`);
    if (!this.isContiguous) throw new Error('data of a non-contiguous tensor: call contiguous() first');
    const d = this.storage.data as Float32Array;
    return this.offset === 0 && this.size === d.length ? d : d.subarray(this.offset, this.offset + this.size);
  }

  /** The backing int32 array of a contiguous int32 tensor. */
  get dataI32(): Int32Array {
    if (this.dtype !== 'int32') throw new TypeError(`expected an int32 tensor, got ${this.dtype}`);
    if (!this.isContiguous) throw new Error('data of a non-contiguous tensor: call contiguous() first');
    const d = this.storage.data as Int32Array;
    return this.offset === 0 && this.size === d.length ? d : d.subarray(this.offset, this.offset + this.size);
  }

  /** A new view of the same storage (no copy); shares nothing else with this tensor. */
  restride(shape: Shape, strides: readonly number[], offset: number): Tensor {
    return new Tensor(this.storage.retain(), shape, strides, offset);
  }

  /** Copies the elements out, in row-major order, into a new typed array. */
  toArray(): Float32Array | Int32Array {
    const c = this.contiguousData();
    return c.slice();
  }

  /** Elements as a plain nested JS array (for printing and small tests). */
  toList(): unknown {
    const flat = Array.from(this.toArray());
    const build = (dim: number, off: number): unknown => {
      if (dim === this.ndim) return flat[off];
      const step = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, off + i * step));
    };
    return build(0, 0);
  }

  /** The value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new Error(`item() needs a tensor of one element, got ${formatShape(this.shape)}`);
    return this.storage.data[this.offset];
  }

  /** Row-major elements as a typed array, copying only when not contiguous. */
  contiguousData(): Float32Array | Int32Array {
    if (this.isContiguous) return this.dtype === 'float32' ? this.data : this.dataI32;
    const out = Storage.allocate(this.dtype, this.size);
    copyStrided(this.storage.data, this.offset, this.strides, out.data, 0, contiguousStrides(this.shape), this.shape);
    const copy = out.data.slice();
    out.release();
    return copy;
  }

  /** Releases this view's hold on its storage; the buffer returns to the pool when no view holds it. */
  dispose(): void {
    if (!this.storage_) return;
    this.storage_.release();
    this.storage_ = null;
    this.gradNode = null;
    untrack(this);
  }

  toString(): string {
    return `Tensor(${formatShape(this.shape)}, ${this.dtype}${this.requiresGrad ? ', requiresGrad' : ''})`;
  }
}
