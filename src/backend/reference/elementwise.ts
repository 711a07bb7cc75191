// Plain TypeScript element-wise, copy and reduction kernels: the oracle for the native ones.
import type { BinaryOp, F32, I32, ReduceOp, UnaryOp } from '../backend.js';

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** Abramowitz-Stegun-free erf: a high-accuracy rational approximation (|err| < 1.2e-7). */
export function erf(x: number): number {
  // W. J. Cody's style via erfc continued fraction is overkill here; Numerical Recipes erfc
  // (Chebyshev, fractional error < 1.2e-7) is accurate enough for float32.
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
    t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
    t * (-0.82215223 + t * 0.17087277)))))))));
  return x >= 0 ? 1 - r : r - 1;
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

export function unaryValue(op: UnaryOp, x: number, p0: number, p1: number): number {
  switch (op) {
    case 'neg': return -x;
    case 'exp': return Math.exp(x);
    case 'log': return Math.log(x);
    case 'sqrt': return Math.sqrt(x);
    case 'rsqrt': return 1 / Math.sqrt(x);
    case 'tanh': return Math.tanh(x);
    case 'sigmoid': return sigmoid(x);
    case 'abs': return Math.abs(x);
    case 'relu': return x > 0 ? x : 0;
    case 'gelu': return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case 'geluTanh': return 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case 'quickGelu': return x * sigmoid(1.702 * x);
    case 'silu': return x * sigmoid(x);
    case 'powScalar': return Math.pow(x, p0);
    case 'clamp': return x < p0 ? p0 : x > p1 ? p1 : x;
    case 'affine': return p0 * x + p1;
    case 'sin': return Math.sin(x);
    case 'cos': return Math.cos(x);
    case 'square': return x * x;
    case 'reciprocal': return 1 / x;
  }
}

/** d f(x) / dx, with y = f(x) available. */
export function unaryDerivative(op: UnaryOp, x: number, y: number, p0: number, p1: number): number {
  switch (op) {
    case 'neg': return -1;
    case 'exp': return y;
    case 'log': return 1 / x;
    case 'sqrt': return 0.5 / y;
    case 'rsqrt': return -0.5 * y * y * y;
    case 'tanh': return 1 - y * y;
    case 'sigmoid': return y * (1 - y);
    case 'abs': return x > 0 ? 1 : x < 0 ? -1 : 0;
    case 'relu': return x > 0 ? 1 : 0;
    case 'gelu': {
      const cdf = 0.5 * (1 + erf(x / Math.SQRT2));
      const pdf = Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
      return cdf + x * pdf;
    }
    case 'geluTanh': {
      const u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
      const t = Math.tanh(u);
      const du = SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x);
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du;
    }
    case 'quickGelu': {
      const s = sigmoid(1.702 * x);
      return s + 1.702 * x * s * (1 - s);
    }
    case 'silu': {
      const s = sigmoid(x);
      return s * (1 + x * (1 - s));
    }
    case 'powScalar': return p0 === 0 ? 0 : p0 * Math.pow(x, p0 - 1);
    case 'clamp': return x >= p0 && x <= p1 ? 1 : 0;
    case 'affine': return p0;
    case 'sin': return Math.cos(x);
    case 'cos': return -Math.sin(x);
    case 'square': return 2 * x;
    case 'reciprocal': return -y * y;
  }
}

export function binaryValue(op: BinaryOp, a: number, b: number): number {
  switch (op) {
    case 'add': return a + b;
    case 'sub': return a - b;
    case 'mul': return a * b;
    case 'div': return a / b;
    case 'pow': return Math.pow(a, b);
    case 'maximum': return a > b || Number.isNaN(a) ? a : b;
    case 'minimum': return a < b || Number.isNaN(a) ? a : b;
    case 'eq': return a === b ? 1 : 0;
    case 'ne': return a !== b ? 1 : 0;
    case 'lt': return a < b ? 1 : 0;
    case 'le': return a <= b ? 1 : 0;
    case 'gt': return a > b ? 1 : 0;
    case 'ge': return a >= b ? 1 : 0;
  }
}

/** Calls visit(offsets) for every index of `shape` in row-major order, with one running offset
 * per stride set. */
export function forEachStrided(
  shape: I32, strides: I32[], starts: number[], visit: (offs: number[], linear: number) => void,
): void {
  const nd = shape.length;
  let total = 1;
  for (let d = 0; d < nd; d++) total *= shape[d];
  if (total === 0) return;
  const idx = new Array<number>(nd).fill(0);
  const offs = starts.slice();
  for (let linear = 0; linear < total; linear++) {
    visit(offs, linear);
    for (let d = nd - 1; d >= 0; d--) {
      idx[d]++;
      for (let s = 0; s < strides.length; s++) offs[s] += strides[s][d];
      if (idx[d] < shape[d]) break;
      for (let s = 0; s < strides.length; s++) offs[s] -= strides[s][d] * shape[d];
      idx[d] = 0;
    }
  }
}

export function fill(out: F32 | I32, value: number): void {
  out.fill(value);
}

export function copyStrided(
  src: F32 | I32, srcOff: number, srcStrides: I32, dst: F32 | I32, dstOff: number, dstStrides: I32,
  shape: I32, accumulate: boolean,
): void {
  forEachStrided(shape, [srcStrides, dstStrides], [srcOff, dstOff], (o) => {
    dst[o[1]] = accumulate ? dst[o[1]] + src[o[0]] : src[o[0]];
  });
}

export function unary(op: UnaryOp, x: F32, out: F32, n: number, p0: number, p1: number): void {
  for (let i = 0; i < n; i++) out[i] = unaryValue(op, x[i], p0, p1);
}

export function unaryGrad(op: UnaryOp, x: F32, y: F32, gy: F32, gx: F32, n: number, p0: number, p1: number): void {
  for (let i = 0; i < n; i++) gx[i] = gy[i] * unaryDerivative(op, x[i], y[i], p0, p1);
}

export function binary(
  op: BinaryOp, a: F32, aOff: number, aStrides: I32, b: F32, bOff: number, bStrides: I32, out: F32, shape: I32,
): void {
  forEachStrided(shape, [aStrides, bStrides], [aOff, bOff], (o, i) => {
    out[i] = binaryValue(op, a[o[0]], b[o[1]]);
  });
}

export function where(
  cond: F32, cOff: number, cStrides: I32, a: F32, aOff: number, aStrides: I32,
  b: F32, bOff: number, bStrides: I32, out: F32, shape: I32,
): void {
  forEachStrided(shape, [cStrides, aStrides, bStrides], [cOff, aOff, bOff], (o, i) => {
    out[i] = cond[o[0]] !== 0 ? a[o[1]] : b[o[2]];
  });
}

export function reduce(op: ReduceOp, x: F32, out: F32, outer: number, r: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * r * inner + i;
      let acc = op === 'sum' ? 0 : x[base];
      for (let j = op === 'sum' ? 0 : 1; j < r; j++) {
        const v = x[base + j * inner];
        if (op === 'sum') acc += v;
        else if (op === 'max') acc = v > acc || Number.isNaN(v) ? v : acc;
        else acc = v < acc || Number.isNaN(v) ? v : acc;
      }
      out[o * inner + i] = acc;
    }
  }
}

export function argmax(x: F32, out: I32, outer: number, r: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * r * inner + i;
      let best = 0;
      let bestV = x[base];
      for (let j = 1; j < r; j++) {
        const v = x[base + j * inner];
        // NaN counts as the largest value, as in torch.argmax (the first NaN wins).
        if (v > bestV || (Number.isNaN(v) && !Number.isNaN(bestV))) { bestV = v; best = j; }
      }
      out[o * inner + i] = best;
    }
  }
}
