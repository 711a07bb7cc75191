// Ridge regression by the normal equations: W = (X^T X + lambda I)^-1 X^T Y, solved by Cholesky in
// float64. Small k only (a k x k system): linear read-outs of features, the start of a learned map.

/** Accumulates X^T X [k, k] and X^T Y [k, m] over batches of rows, in float64. */
export class RidgeAccumulator {
  readonly xtx: Float64Array;
  readonly xty: Float64Array;
  rows = 0;

  constructor(readonly k: number, readonly m: number) {
    this.xtx = new Float64Array(k * k);
    this.xty = new Float64Array(k * m);
  }

  /** Adds n rows: x [n, k] and y [n, m], row-major. */
  add(x: ArrayLike<number>, y: ArrayLike<number>, n: number): void {
    const { k, m, xtx, xty } = this;
    if (x.length !== n * k || y.length !== n * m) throw new RangeError(`ridge rows: expected ${n} x ${k} and ${n} x ${m}`);
    for (let r = 0; r < n; r++) {
      const xo = r * k, yo = r * m;
      for (let i = 0; i < k; i++) {
        const xi = x[xo + i];
        if (xi === 0) continue;
        for (let j = 0; j <= i; j++) xtx[i * k + j] += xi * x[xo + j];
        for (let c = 0; c < m; c++) xty[i * m + c] += xi * y[yo + c];
      }
    }
    this.rows += n;
  }

  /** W [k, m] minimising |XW - Y|^2 + lambda |W|^2. */
  solve(lambda: number): Float32Array {
    const { k, xtx } = this;
    const full = new Float64Array(k * k);
    for (let i = 0; i < k; i++) for (let j = 0; j <= i; j++) full[i * k + j] = full[j * k + i] = xtx[i * k + j];
    return ridgeSolve(full, this.xty, k, this.m, lambda);
  }
}

/** Solves (A + lambda I) W = B, A [k, k] symmetric positive semi-definite, B [k, m]; by Cholesky. */
export function ridgeSolve(A: ArrayLike<number>, B: ArrayLike<number>, k: number, m: number, lambda: number): Float32Array {
  const L = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j <= i; j++) {
      let s = A[i * k + j] + (i === j ? lambda : 0);
      for (let p = 0; p < j; p++) s -= L[i * k + p] * L[j * k + p];
      if (i === j && !(s > 0)) throw new Error('ridgeSolve: the system is not positive definite (raise lambda)');
      L[i * k + j] = i === j ? Math.sqrt(s) : s / L[j * k + j];
    }
  }
  const W = new Float32Array(k * m), y = new Float64Array(k);
  for (let c = 0; c < m; c++) {
    for (let i = 0; i < k; i++) { let s = B[i * m + c]; for (let p = 0; p < i; p++) s -= L[i * k + p] * y[p]; y[i] = s / L[i * k + i]; }
    for (let i = k - 1; i >= 0; i--) { let s = y[i]; for (let p = i + 1; p < k; p++) s -= L[p * k + i] * y[p]; y[i] = s / L[i * k + i]; }
    for (let i = 0; i < k; i++) W[i * m + c] = y[i];
  }
  return W;
}
