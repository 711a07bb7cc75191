// Buffer pool and tensor lifetimes.
//
// Fresh memory is expensive on the machines we run on (~12 us per 4 KiB page on first touch),
// so tensor storage comes from a caching pool of ArrayBuffers grouped by size class, and goes
// back to it when the last tensor viewing it is disposed. Disposal is explicit or scoped:
// `tidy(fn)` disposes every tensor created inside fn except what fn returns, and backward()
// disposes intermediate gradients as soon as they have been used. A tensor that is never
// disposed is simply garbage-collected: the pool is a speed-up, never a correctness matter.

export type DType = 'float32' | 'int32';
export type TypedArrayOf<D extends DType> = D extends 'float32' ? Float32Array : Int32Array;

/** Rounds a byte size up to its size class: 1/8 steps between powers of two (<= 12.5% waste). */
function sizeClass(bytes: number): number {
  if (bytes <= 256) return 256;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = Math.max(p / 8, 64);
  return Math.ceil(bytes / step) * step;
}

export interface PoolStats {
  /** Bytes currently held by live tensors. */
  liveBytes: number;
  /** Bytes cached in the pool for reuse. */
  cachedBytes: number;
  /** Allocations served from the pool / from fresh memory. */
  hits: number;
  misses: number;
  liveTensors: number;
}

class BufferPool {
  private free = new Map<number, ArrayBuffer[]>();
  cachedBytes = 0;
  liveBytes = 0;
  hits = 0;
  misses = 0;
  /** Upper bound on cached bytes (PUMA_POOL_MB, default 8 GiB). */
  limitBytes = (Number(process.env.PUMA_POOL_MB) || 8192) * 2 ** 20;

  acquire(bytes: number): ArrayBuffer {
    const cls = sizeClass(bytes);
    const list = this.free.get(cls);
    this.liveBytes += cls;
    if (list && list.length > 0) {
      this.hits++;
      this.cachedBytes -= cls;
      return list.pop()!;
    }
    this.misses++;
    return new ArrayBuffer(cls);
  }

  release(buf: ArrayBuffer): void {
    const cls = buf.byteLength;
    this.liveBytes -= cls;
    if (this.cachedBytes + cls > this.limitBytes) return; // let the GC have it
    let list = this.free.get(cls);
    if (!list) this.free.set(cls, (list = []));
    list.push(buf);
    this.cachedBytes += cls;
  }

  clear(): void {
    this.free.clear();
    this.cachedBytes = 0;
  }
}

export const pool = new BufferPool();

/** The buffer behind one or more tensor views, reference-counted by the views. */
export class Storage<D extends DType = DType> {
  refs = 1;
  constructor(
    readonly dtype: D,
    public data: TypedArrayOf<D>,
    private readonly pooled: boolean,
  ) {}

  static allocate<D extends DType>(dtype: D, size: number): Storage<D> {
    const buf = pool.acquire(size * 4);
    const data = (dtype === 'float32' ? new Float32Array(buf, 0, size) : new Int32Array(buf, 0, size)) as TypedArrayOf<D>;
    return new Storage(dtype, data, true);
  }

  /** Wraps an existing array without copying; it is not returned to the pool. */
  static wrap<D extends DType>(dtype: D, data: TypedArrayOf<D>): Storage<D> {
    return new Storage(dtype, data, false);
  }

  retain(): this {
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0 && this.pooled) pool.release(this.data.buffer as ArrayBuffer);
  }
}

/** Anything that can be disposed and kept; implemented by Tensor. */
export interface Disposable {
  dispose(): void;
  readonly isDisposed: boolean;
  kept: boolean;
}

const scopes: Set<Disposable>[] = [];
let liveTensors = 0;

/** Called by every new tensor: it belongs to the innermost open scope. */
export function track(t: Disposable): void {
  liveTensors++;
  const top = scopes[scopes.length - 1];
  if (top) top.add(t);
}

export function untrack(t: Disposable): void {
  liveTensors--;
  const top = scopes[scopes.length - 1];
  if (top) top.delete(t);
}

/** Moves a tensor out of every scope so no `tidy` disposes it (parameters, optimizer state). */
export function keep<T extends Disposable>(t: T): T {
  t.kept = true;
  for (const s of scopes) s.delete(t);
  return t;
}

function collect(value: unknown, out: Set<Disposable>, depth = 0): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  if ('dispose' in value && 'kept' in value) {
    out.add(value as Disposable);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, depth + 1);
  else if (Object.getPrototypeOf(value) === Object.prototype) for (const v of Object.values(value)) collect(v, out, depth + 1);
}

/**
 * Runs fn and disposes every tensor it created, except those in its return value (a tensor,
 * or arrays / plain objects of tensors), which move to the enclosing scope.
 *
 * @example
 * const loss = tidy(() => model.forward(x).sub(y).square().mean());
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t) || t.kept) {
      if (parent && !t.kept) parent.add(t);
    } else if (!t.isDisposed) {
      t.dispose();
    }
  }
  return result;
}

/** Async variant of tidy: the scope stays open across awaits (do not interleave two). */
export async function tidyAsync<T>(fn: () => Promise<T>): Promise<T> {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = await fn();
  } finally {
    const i = scopes.lastIndexOf(scope);
    if (i >= 0) scopes.splice(i, 1);
  }
  const survivors = new Set<Disposable>();
  collect(result, survivors);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (survivors.has(t) || t.kept) {
      if (parent && !t.kept) parent.add(t);
    } else if (!t.isDisposed) t.dispose();
  }
  return result;
}

export function memoryStats(): PoolStats {
  return { liveBytes: pool.liveBytes, cachedBytes: pool.cachedBytes, hits: pool.hits, misses: pool.misses, liveTensors };
}

/** Drops every cached buffer (live tensors are untouched). */
export function emptyCache(): void {
  pool.clear();
}
