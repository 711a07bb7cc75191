// The kernel interface behind every tensor op. Kernels take typed arrays and sizes, never
// tensors: the op layer (src/tensor) resolves shapes, strides and broadcasting, allocates the
// outputs and calls one of these. Two implementations exist: `reference` (plain TypeScript,
// the oracle) and `native` (C++ addon on OpenBLAS, the default).
//
// Conventions:
// - Every output array is written, never accumulated into, unless the kernel says otherwise.
// - "Strided" arguments carry an element offset and one stride per dimension of `shape`;
//   a stride of 0 broadcasts.
// - Row-major everywhere; matrices are [rows, cols].

export type F32 = Float32Array;
export type I32 = Int32Array;

/** Unary ops; p0/p1 are op parameters (powScalar: p0 = exponent; clamp: p0 = min, p1 = max;
 * affine: y = p0 * x + p1; leakyRelu: p0 = slope). */
export const UNARY_OPS = [
  'neg', 'exp', 'log', 'sqrt', 'rsqrt', 'tanh', 'sigmoid', 'abs', 'relu', 'gelu', 'geluTanh',
  'quickGelu', 'silu', 'powScalar', 'clamp', 'affine', 'sin', 'cos', 'square', 'reciprocal',
] as const;
export type UnaryOp = (typeof UNARY_OPS)[number];

export const BINARY_OPS = [
  'add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum', 'eq', 'ne', 'lt', 'le', 'gt', 'ge',
] as const;
export type BinaryOp = (typeof BINARY_OPS)[number];

export const REDUCE_OPS = ['sum', 'max', 'min'] as const;
export type ReduceOp = (typeof REDUCE_OPS)[number];

/** Operand precision of matrix products (gemm and conv2d, forward and backward; attention stays
 * float32): 'bfloat16' rounds both operands to bfloat16 (nearest even) and accumulates in
 * float32, as PyTorch's CPU autocast does. */
export type MatmulPrecision = 'float32' | 'bfloat16';

export interface Backend {
  readonly name: string;

  /** Sets the operand precision of gemm and conv2d/conv2dGrad (see MatmulPrecision). */
  setMatmulPrecision(p: MatmulPrecision): void;

  fill(out: F32 | I32, value: number): void;
  /** dst[dstOff + sum(i*dstStrides)] (=|+=) src[srcOff + sum(i*srcStrides)] over `shape`. */
  copyStrided(
    src: F32 | I32, srcOff: number, srcStrides: I32,
    dst: F32 | I32, dstOff: number, dstStrides: I32,
    shape: I32, accumulate: boolean,
  ): void;

  /** out[i] = f(x[i]) over n contiguous elements. */
  unary(op: UnaryOp, x: F32, out: F32, n: number, p0: number, p1: number): void;
  /** gx[i] = gy[i] * f'(x[i]); `y` is f(x), used where cheaper (exp, tanh, sigmoid, sqrt). */
  unaryGrad(op: UnaryOp, x: F32, y: F32, gy: F32, gx: F32, n: number, p0: number, p1: number): void;
  /** out (contiguous over `shape`) = a op b with strided, broadcasting inputs. */
  binary(
    op: BinaryOp, a: F32, aOff: number, aStrides: I32, b: F32, bOff: number, bStrides: I32,
    out: F32, shape: I32,
  ): void;
  /** out = cond != 0 ? a : b, all strided over `shape`, out contiguous. */
  where(
    cond: F32, cOff: number, cStrides: I32, a: F32, aOff: number, aStrides: I32,
    b: F32, bOff: number, bStrides: I32, out: F32, shape: I32,
  ): void;

  /** x contiguous [outer, r, inner] -> out [outer, inner]. */
  reduce(op: ReduceOp, x: F32, out: F32, outer: number, r: number, inner: number): void;
  /** Index of the max along r: x [outer, r, inner] -> out [outer, inner] (int32). */
  argmax(x: F32, out: I32, outer: number, r: number, inner: number): void;

  /** C[b] = alpha * op(A[b]) @ op(B[b]) + beta * C[b] for b < batch (cblas_sgemm semantics). */
  gemm(
    transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
    a: F32, aOff: number, lda: number, strideA: number,
    b: F32, bOff: number, ldb: number, strideB: number,
    beta: number, c: F32, cOff: number, ldc: number, strideC: number, batch: number,
  ): void;

  /** Row-wise softmax (or log-softmax) of x [rows, cols]. */
  softmax(x: F32, out: F32, rows: number, cols: number, log: boolean): void;
  /** Gradient of softmax/log-softmax given its output y. */
  softmaxGrad(y: F32, gy: F32, gx: F32, rows: number, cols: number, log: boolean): void;

  /** LayerNorm over the last dim; saves mean and rstd per row. w/b may be null. */
  layerNorm(
    x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32,
    rows: number, cols: number, eps: number,
  ): void;
  layerNormGrad(
    x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32,
    gx: F32, gw: F32 | null, gb: F32 | null, rows: number, cols: number,
  ): void;
  /** RMSNorm over the last dim (LLaMA): y = x * rsqrt(mean(x^2) + eps) * w. */
  rmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void;
  rmsNormGrad(
    x: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number,
  ): void;
  /** GroupNorm on x [n, c, hw]; saves mean and rstd per (n, group). */
  groupNorm(
    x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32,
    n: number, c: number, hw: number, groups: number, eps: number,
  ): void;
  groupNormGrad(
    x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null,
    n: number, c: number, hw: number, groups: number,
  ): void;

  /** 2-D convolution, x [n, c, h, w], weight [o, c, kh, kw] -> out [n, o, oh, ow]. */
  conv2d(x: F32, w: F32, bias: F32 | null, out: F32, g: ConvGeometry): void;
  /** Any of gx, gw, gb may be null when not needed. */
  conv2dGrad(x: F32, w: F32, gy: F32, gx: F32 | null, gw: F32 | null, gb: F32 | null, g: ConvGeometry): void;

  /** Average pooling, kernel = stride = k, on x [nc, h, w]. */
  avgPool2d(x: F32, out: F32, nc: number, h: number, w: number, k: number): void;
  avgPool2dGrad(gy: F32, gx: F32, nc: number, h: number, w: number, k: number): void;
  /** Nearest-neighbour upsampling by integer factor s on x [nc, h, w]. */
  upsampleNearest(x: F32, out: F32, nc: number, h: number, w: number, s: number): void;
  upsampleNearestGrad(gy: F32, gx: F32, nc: number, h: number, w: number, s: number): void;

  /** Fused scaled dot-product attention; q [b, h, tq, d], k [b, hkv, tk, d], v [b, hkv, tk, dv],
   * out [b, h, tq, dv], lse [b, h, tq] (log-sum-exp of each score row, kept for backward). */
  attention(
    q: F32, k: F32, v: F32, mask: F32 | null, maskOff: number, maskStrides: I32 | null,
    out: F32, lse: F32, g: AttentionGeometry,
  ): void;
  attentionGrad(
    q: F32, k: F32, v: F32, mask: F32 | null, maskOff: number, maskStrides: I32 | null,
    out: F32, lse: F32, gout: F32, gq: F32, gk: F32, gv: F32, g: AttentionGeometry,
  ): void;

  /** out[i, :] = weight[ids[i], :]. */
  embedding(weight: F32, ids: I32, out: F32, n: number, dim: number, rows: number): void;
  /** gw[ids[i], :] += gy[i, :] (gw is accumulated into, caller zeroes it). */
  embeddingGrad(gy: F32, ids: I32, gw: F32, n: number, dim: number): void;

  /** Per-row cross-entropy of logits [rows, v] against int targets; rows whose target is
   * ignoreIndex get loss 0. Writes loss per row and the row's log-sum-exp. */
  crossEntropy(logits: F32, targets: I32, losses: F32, lse: F32, rows: number, v: number, ignoreIndex: number): void;
  /** glogits = (softmax(logits) - onehot(target)) * scale, zero on ignored rows. */
  crossEntropyGrad(logits: F32, targets: I32, lse: F32, glogits: F32, rows: number, v: number, ignoreIndex: number, scale: number): void;

  /** Rotary embedding (rotate-half layout) on x [rows, t, d] with cos/sin [t, d/2];
   * inverse = rotate by -theta (the gradient). */
  rope(x: F32, cos: F32, sin: F32, out: F32, rows: number, t: number, d: number, inverse: boolean): void;

  /** One fused AdamW update of a parameter in place (decoupled weight decay). */
  adamw(p: F32, g: F32, m: F32, v: F32, n: number, h: AdamWStep): void;
}

export interface ConvGeometry {
  n: number; c: number; h: number; w: number;
  o: number; kh: number; kw: number;
  strideH: number; strideW: number; padH: number; padW: number;
  oh: number; ow: number;
}

export interface AttentionGeometry {
  b: number; h: number; hkv: number; tq: number; tk: number; d: number; dv: number;
  scale: number; causal: boolean;
}

export interface AdamWStep {
  lr: number; beta1: number; beta2: number; eps: number; weightDecay: number;
  /** 1 - beta1^t and 1 - beta2^t */
  bc1: number; bc2: number;
}
