// The native backend: thin TypeScript bindings over the C++ addon (build/Release/puma_native.node).
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BINARY_OPS, REDUCE_OPS, UNARY_OPS,
  type Backend, type BinaryOp, type ReduceOp, type UnaryOp,
} from '../backend.js';

/** What the addon reports about its threads and BLAS. */
export interface NativeConfig {
  threads: number;
  blasThreads: number;
  /** 0 sequential, 1 pthreads, 2 OpenMP */
  blasParallel: number;
  blasConfig: string;
  blasCore: string;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Addon = Record<string, (...args: any[]) => any>;

let addon: Addon | null = null;
let loadError = '';
let tried = false;
let cached: Backend | null = null;

function findAddon(): string | null {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const p = join(dir, 'build', 'Release', 'puma_native.node');
    if (existsSync(p)) return p;
    dir = dirname(dir);
  }
  return null;
}

function load(): Addon | null {
  if (tried) return addon;
  tried = true;
  const path = findAddon();
  if (!path) {
    loadError = 'build/Release/puma_native.node not found; run `npm rebuild` (needs libopenblas-dev)';
    return null;
  }
  // Idle OpenMP threads sleep instead of spinning: on a shared or busy machine a spinning
  // thread steals the core its partner needs, and a 2-thread step became 4x slower than one
  // thread (bench/memory.ts under one busy core: 41 ms/step spinning, 9 ms passive). libgomp
  // reads this when the addon loads, so it must be set before.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    addon = createRequire(import.meta.url)(path) as Addon;
  } catch (err) {
    loadError = `${(err as Error).message}; install libopenblas-dev (Debian/Ubuntu) and run \`npm rebuild\``;
  }
  return addon;
}

export function nativeLoadError(): string {
  return loadError;
}

/** Thread count used by native kernels and OpenBLAS (default: all cores, or PUMA_NUM_THREADS). */
export function setNumThreads(n: number): void {
  load()?.setNumThreads(n);
}

export function nativeConfig(): NativeConfig | null {
  return (load()?.config() as NativeConfig) ?? null;
}

/** Which engine runs the addon's large matrix products, and in what precision. */
export interface NativeGemmConfig {
  /** The addon was built against oneDNN (libdnnl-dev present at build time). */
  dnnlBuilt: boolean;
  /** Large products run on oneDNN (else OpenBLAS). */
  dnnl: boolean;
  bf16: boolean;
  /** conv2d runs on oneDNN's direct convolution primitives when oneDNN is on (else im2col + products). */
  convDirect: boolean;
  /** Products run on each engine since the addon loaded (gemm and im2col conv2d calls). */
  dnnlCalls: number;
  blasCalls: number;
  /** conv2d passes (forward, input gradient, weight gradient) run on oneDNN's direct primitives. */
  dnnlConvCalls: number;
}

/**
 * Reads, and with `set` changes, the addon's GEMM engine; PUMA_GEMM=blas at load turns oneDNN
 * off, PUMA_CONV=im2col its direct convolutions.
 */
export function nativeGemm(set: { dnnl?: boolean; convDirect?: boolean } = {}): NativeGemmConfig | null {
  return (load()?.setGemm(set) as NativeGemmConfig) ?? null;
}

const unaryCode = (op: UnaryOp) => UNARY_OPS.indexOf(op);
const binaryCode = (op: BinaryOp) => BINARY_OPS.indexOf(op);
const reduceCode = (op: ReduceOp) => REDUCE_OPS.indexOf(op);

export function loadNativeBackend(): Backend | null {
  if (cached) return cached;
  const a = load();
  if (!a) return null;
  if (process.env.PUMA_GEMM === 'blas') a.setGemm({ dnnl: false });
  if (process.env.PUMA_CONV === 'im2col') a.setGemm({ convDirect: false });
  cached = {
    name: 'native',
    setMatmulPrecision: (p) => a.setGemm({ bf16: p === 'bfloat16' }),
    fill: (out, v) => a.fill(out, v),
    copyStrided: (src, so, ss, dst, dso, ds, shape, acc) => a.copyStrided(src, so, ss, dst, dso, ds, shape, acc),
    unary: (op, x, out, n, p0, p1) => a.unary(unaryCode(op), x, out, n, p0, p1),
    unaryGrad: (op, x, y, gy, gx, n, p0, p1) => a.unaryGrad(unaryCode(op), x, y, gy, gx, n, p0, p1),
    binary: (op, x, xo, xs, y, yo, ys, out, shape) => a.binary(binaryCode(op), x, xo, xs, y, yo, ys, out, shape),
    where: (c, co, cs, x, xo, xs, y, yo, ys, out, shape) => a.where(c, co, cs, x, xo, xs, y, yo, ys, out, shape),
    reduce: (op, x, out, outer, r, inner) => a.reduce(reduceCode(op), x, out, outer, r, inner),
    argmax: a.argmax,
    gemm: a.gemm,
    softmax: a.softmax,
    softmaxGrad: a.softmaxGrad,
    layerNorm: a.layerNorm,
    layerNormGrad: a.layerNormGrad,
    rmsNorm: a.rmsNorm,
    rmsNormGrad: a.rmsNormGrad,
    groupNorm: a.groupNorm,
    groupNormGrad: a.groupNormGrad,
    conv2d: a.conv2d,
    conv2dGrad: a.conv2dGrad,
    avgPool2d: a.avgPool2d,
    avgPool2dGrad: a.avgPool2dGrad,
    upsampleNearest: a.upsampleNearest,
    upsampleNearestGrad: a.upsampleNearestGrad,
    attention: a.attention,
    attentionGrad: a.attentionGrad,
    embedding: a.embedding,
    embeddingGrad: a.embeddingGrad,
    crossEntropy: a.crossEntropy,
    crossEntropyGrad: a.crossEntropyGrad,
    rope: a.rope,
    adamw: a.adamw,
  };
  return cached;
}
