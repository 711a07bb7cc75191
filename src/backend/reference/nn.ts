// Plain TypeScript kernels for matrix products, normalisation, convolution, attention and
// losses: the oracle for the native ones. Accumulations use float64.
import type { AdamWStep, AttentionGeometry, ConvGeometry, F32, I32, MatmulPrecision } from '../backend.js';

let bf16 = false;
export function setMatmulPrecision(p: MatmulPrecision): void {
  bf16 = p === 'bfloat16';
}

const roundBuf = new Float32Array(1);
const roundBits = new Uint32Array(roundBuf.buffer);
/** x rounded to the nearest bfloat16 (ties to even), as a float32; NaN stays NaN. */
export function roundBf16(x: number): number {
  roundBuf[0] = x;
  const u = roundBits[0];
  if ((u & 0x7fffffff) > 0x7f800000) return x;
  roundBits[0] = ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) << 16;
  return roundBuf[0];
}
/** The operand as the products see it: rounded in bfloat16 mode, else itself. */
function operand(x: F32): F32 {
  return bf16 ? x.map(roundBf16) : x;
}

export function gemm(
  transA: boolean, transB: boolean, m: number, n: number, k: number, alpha: number,
  a: F32, aOff: number, lda: number, strideA: number,
  b: F32, bOff: number, ldb: number, strideB: number,
  beta: number, c: F32, cOff: number, ldc: number, strideC: number, batch: number,
): void {
  a = operand(a);
  b = operand(b);
  for (let bi = 0; bi < batch; bi++) {
    const ao = aOff + bi * strideA, bo = bOff + bi * strideB, co = cOff + bi * strideC;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let acc = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? a[ao + p * lda + i] : a[ao + i * lda + p];
          const bv = transB ? b[bo + j * ldb + p] : b[bo + p * ldb + j];
          acc += av * bv;
        }
        const ci = co + i * ldc + j;
        c[ci] = alpha * acc + (beta === 0 ? 0 : beta * c[ci]);
      }
    }
  }
}

export function softmax(x: F32, out: F32, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mx = -Infinity;
    for (let j = 0; j < cols; j++) mx = Math.max(mx, x[o + j]);
    let s = 0;
    for (let j = 0; j < cols; j++) s += Math.exp(x[o + j] - mx);
    const lse = mx + Math.log(s);
    for (let j = 0; j < cols; j++) out[o + j] = log ? x[o + j] - lse : Math.exp(x[o + j] - lse);
  }
}

export function softmaxGrad(y: F32, gy: F32, gx: F32, rows: number, cols: number, log: boolean): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let s = 0;
    if (log) {
      for (let j = 0; j < cols; j++) s += gy[o + j];
      for (let j = 0; j < cols; j++) gx[o + j] = gy[o + j] - Math.exp(y[o + j]) * s;
    } else {
      for (let j = 0; j < cols; j++) s += gy[o + j] * y[o + j];
      for (let j = 0; j < cols; j++) gx[o + j] = y[o + j] * (gy[o + j] - s);
    }
  }
}

export function layerNorm(
  x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32, rows: number, cols: number, eps: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let mu = 0;
    for (let j = 0; j < cols; j++) mu += x[o + j];
    mu /= cols;
    let v = 0;
    for (let j = 0; j < cols; j++) v += (x[o + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(v / cols + eps);
    mean[r] = mu;
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) {
      out[o + j] = (x[o + j] - mu) * rs * (w ? w[j] : 1) + (b ? b[j] : 0);
    }
  }
}

export function layerNormGrad(
  x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null,
  rows: number, cols: number,
): void {
  const gwAcc = new Float64Array(cols), gbAcc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, mu = mean[r], rs = rstd[r];
    let s1 = 0, s2 = 0;
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j] - mu) * rs;
      const g = gy[o + j] * (w ? w[j] : 1);
      s1 += g;
      s2 += g * xh;
      gwAcc[j] += gy[o + j] * xh;
      gbAcc[j] += gy[o + j];
    }
    for (let j = 0; j < cols; j++) {
      const xh = (x[o + j] - mu) * rs;
      const g = gy[o + j] * (w ? w[j] : 1);
      gx[o + j] = rs * (g - s1 / cols - xh * s2 / cols);
    }
  }
  if (gw) for (let j = 0; j < cols; j++) gw[j] = gwAcc[j];
  if (gb) for (let j = 0; j < cols; j++) gb[j] = gbAcc[j];
}

export function rmsNorm(x: F32, w: F32 | null, out: F32, rstd: F32, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const o = r * cols;
    let ss = 0;
    for (let j = 0; j < cols; j++) ss += x[o + j] * x[o + j];
    const rs = 1 / Math.sqrt(ss / cols + eps);
    rstd[r] = rs;
    for (let j = 0; j < cols; j++) out[o + j] = x[o + j] * rs * (w ? w[j] : 1);
  }
}

export function rmsNormGrad(
  x: F32, w: F32 | null, rstd: F32, gy: F32, gx: F32, gw: F32 | null, rows: number, cols: number,
): void {
  const gwAcc = new Float64Array(cols);
  for (let r = 0; r < rows; r++) {
    const o = r * cols, rs = rstd[r];
    let s = 0;
    for (let j = 0; j < cols; j++) {
      s += gy[o + j] * (w ? w[j] : 1) * x[o + j];
      gwAcc[j] += gy[o + j] * x[o + j] * rs;
    }
    for (let j = 0; j < cols; j++) {
      gx[o + j] = rs * gy[o + j] * (w ? w[j] : 1) - (rs * rs * rs * s / cols) * x[o + j];
    }
  }
  if (gw) for (let j = 0; j < cols; j++) gw[j] = gwAcc[j];
}

export function groupNorm(
  x: F32, w: F32 | null, b: F32 | null, out: F32, mean: F32, rstd: F32,
  n: number, c: number, hw: number, groups: number, eps: number,
): void {
  const cpg = c / groups, len = cpg * hw;
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups; g++) {
      const o = (i * c + g * cpg) * hw;
      let mu = 0;
      for (let j = 0; j < len; j++) mu += x[o + j];
      mu /= len;
      let v = 0;
      for (let j = 0; j < len; j++) v += (x[o + j] - mu) ** 2;
      const rs = 1 / Math.sqrt(v / len + eps);
      mean[i * groups + g] = mu;
      rstd[i * groups + g] = rs;
      for (let cc = 0; cc < cpg; cc++) {
        const ch = g * cpg + cc, sc = w ? w[ch] : 1, sh = b ? b[ch] : 0;
        for (let p = 0; p < hw; p++) {
          const idx = o + cc * hw + p;
          out[idx] = (x[idx] - mu) * rs * sc + sh;
        }
      }
    }
  }
}

export function groupNormGrad(
  x: F32, w: F32 | null, mean: F32, rstd: F32, gy: F32, gx: F32, gw: F32 | null, gb: F32 | null,
  n: number, c: number, hw: number, groups: number,
): void {
  const cpg = c / groups, len = cpg * hw;
  const gwAcc = new Float64Array(c), gbAcc = new Float64Array(c);
  for (let i = 0; i < n; i++) {
    for (let g = 0; g < groups; g++) {
      const o = (i * c + g * cpg) * hw, mu = mean[i * groups + g], rs = rstd[i * groups + g];
      let s1 = 0, s2 = 0;
      for (let cc = 0; cc < cpg; cc++) {
        const ch = g * cpg + cc, sc = w ? w[ch] : 1;
        for (let p = 0; p < hw; p++) {
          const idx = o + cc * hw + p, xh = (x[idx] - mu) * rs;
          s1 += gy[idx] * sc;
          s2 += gy[idx] * sc * xh;
          gwAcc[ch] += gy[idx] * xh;
          gbAcc[ch] += gy[idx];
        }
      }
      for (let cc = 0; cc < cpg; cc++) {
        const ch = g * cpg + cc, sc = w ? w[ch] : 1;
        for (let p = 0; p < hw; p++) {
          const idx = o + cc * hw + p, xh = (x[idx] - mu) * rs;
          gx[idx] = rs * (gy[idx] * sc - s1 / len - xh * s2 / len);
        }
      }
    }
  }
  if (gw) for (let j = 0; j < c; j++) gw[j] = gwAcc[j];
  if (gb) for (let j = 0; j < c; j++) gb[j] = gbAcc[j];
}

export function conv2d(x: F32, w: F32, bias: F32 | null, out: F32, g: ConvGeometry): void {
  x = operand(x);
  w = operand(w);
  const { n, c, h, w: W, o, kh, kw, strideH, strideW, padH, padW, oh, ow } = g;
  for (let i = 0; i < n; i++) {
    for (let oc = 0; oc < o; oc++) {
      for (let y = 0; y < oh; y++) {
        for (let xq = 0; xq < ow; xq++) {
          let acc = bias ? bias[oc] : 0;
          for (let ic = 0; ic < c; ic++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * strideH - padH + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xq * strideW - padW + kx;
                if (ix < 0 || ix >= W) continue;
                acc += x[((i * c + ic) * h + iy) * W + ix] * w[((oc * c + ic) * kh + ky) * kw + kx];
              }
            }
          }
          out[((i * o + oc) * oh + y) * ow + xq] = acc;
        }
      }
    }
  }
}

export function conv2dGrad(
  x: F32, w: F32, gy: F32, gx: F32 | null, gw: F32 | null, gb: F32 | null, g: ConvGeometry,
): void {
  const { n, c, h, w: W, o, kh, kw, strideH, strideW, padH, padW, oh, ow } = g;
  // In bfloat16 mode every product rounds its operands: x and w, and gy for both gradients
  // (the bias gradient is a plain sum, not a product).
  const gyr = operand(gy);
  x = operand(x);
  w = operand(w);
  const gxa = gx ? new Float64Array(gx.length) : null;
  const gwa = gw ? new Float64Array(gw.length) : null;
  const gba = gb ? new Float64Array(o) : null;
  for (let i = 0; i < n; i++) {
    for (let oc = 0; oc < o; oc++) {
      for (let y = 0; y < oh; y++) {
        for (let xq = 0; xq < ow; xq++) {
          const gi = ((i * o + oc) * oh + y) * ow + xq;
          if (gba) gba[oc] += gy[gi];
          for (let ic = 0; ic < c; ic++) {
            for (let ky = 0; ky < kh; ky++) {
              const iy = y * strideH - padH + ky;
              if (iy < 0 || iy >= h) continue;
              for (let kx = 0; kx < kw; kx++) {
                const ix = xq * strideW - padW + kx;
                if (ix < 0 || ix >= W) continue;
                const xi = ((i * c + ic) * h + iy) * W + ix, wi = ((oc * c + ic) * kh + ky) * kw + kx;
                if (gxa) gxa[xi] += gyr[gi] * w[wi];
                if (gwa) gwa[wi] += gyr[gi] * x[xi];
              }
            }
          }
        }
      }
    }
  }
  if (gx && gxa) gx.set(gxa);
  if (gw && gwa) gw.set(gwa);
  if (gb && gba) gb.set(gba);
}

export function avgPool2d(x: F32, out: F32, nc: number, h: number, w: number, k: number): void {
  const oh = Math.floor(h / k), ow = Math.floor(w / k);
  for (let i = 0; i < nc; i++) {
    for (let y = 0; y < oh; y++) {
      for (let xq = 0; xq < ow; xq++) {
        let s = 0;
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) s += x[(i * h + y * k + dy) * w + xq * k + dx];
        out[(i * oh + y) * ow + xq] = s / (k * k);
      }
    }
  }
}

export function avgPool2dGrad(gy: F32, gx: F32, nc: number, h: number, w: number, k: number): void {
  const oh = Math.floor(h / k), ow = Math.floor(w / k);
  gx.fill(0);
  for (let i = 0; i < nc; i++) {
    for (let y = 0; y < oh; y++) {
      for (let xq = 0; xq < ow; xq++) {
        const g = gy[(i * oh + y) * ow + xq] / (k * k);
        for (let dy = 0; dy < k; dy++) for (let dx = 0; dx < k; dx++) gx[(i * h + y * k + dy) * w + xq * k + dx] = g;
      }
    }
  }
}

export function upsampleNearest(x: F32, out: F32, nc: number, h: number, w: number, s: number): void {
  const oh = h * s, ow = w * s;
  for (let i = 0; i < nc; i++) {
    for (let y = 0; y < oh; y++) {
      for (let xq = 0; xq < ow; xq++) out[(i * oh + y) * ow + xq] = x[(i * h + Math.floor(y / s)) * w + Math.floor(xq / s)];
    }
  }
}

export function upsampleNearestGrad(gy: F32, gx: F32, nc: number, h: number, w: number, s: number): void {
  const oh = h * s, ow = w * s;
  gx.fill(0);
  for (let i = 0; i < nc; i++) {
    for (let y = 0; y < oh; y++) {
      for (let xq = 0; xq < ow; xq++) gx[(i * h + Math.floor(y / s)) * w + Math.floor(xq / s)] += gy[(i * oh + y) * ow + xq];
    }
  }
}

function maskValue(mask: F32 | null, maskOff: number, ms: I32 | null, b: number, h: number, i: number, j: number): number {
  if (!mask || !ms) return 0;
  return mask[maskOff + b * ms[0] + h * ms[1] + i * ms[2] + j * ms[3]];
}

/** Scores row i of head (b, h): s_j = scale * q_i . k_j + mask, -inf where causal hides j. */
function scoreRow(
  q: F32, k: F32, mask: F32 | null, maskOff: number, ms: I32 | null, g: AttentionGeometry,
  b: number, h: number, i: number, row: Float64Array,
): void {
  const { hkv, tq, tk, d, scale, causal } = g;
  const kvh = Math.floor(h / (g.h / hkv));
  const qo = ((b * g.h + h) * tq + i) * d;
  for (let j = 0; j < tk; j++) {
    // Causal alignment as in PyTorch's is_causal with tq <= tk: query i sees keys j <= i + tk - tq.
    if (causal && j > i + tk - tq) { row[j] = -Infinity; continue; }
    const ko = ((b * hkv + kvh) * tk + j) * d;
    let s = 0;
    for (let p = 0; p < d; p++) s += q[qo + p] * k[ko + p];
    row[j] = s * scale + maskValue(mask, maskOff, ms, b, h, i, j);
  }
}

export function attention(
  q: F32, k: F32, v: F32, mask: F32 | null, maskOff: number, ms: I32 | null, out: F32, lse: F32, g: AttentionGeometry,
): void {
  const { b: B, h: H, hkv, tq, tk, dv } = g;
  const row = new Float64Array(tk);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / hkv));
      for (let i = 0; i < tq; i++) {
        scoreRow(q, k, mask, maskOff, ms, g, b, h, i, row);
        let mx = -Infinity;
        for (let j = 0; j < tk; j++) mx = Math.max(mx, row[j]);
        let s = 0;
        for (let j = 0; j < tk; j++) s += mx === -Infinity ? 0 : Math.exp(row[j] - mx);
        const l = mx + Math.log(s);
        lse[(b * H + h) * tq + i] = l;
        const oo = ((b * H + h) * tq + i) * dv;
        for (let p = 0; p < dv; p++) {
          let acc = 0;
          for (let j = 0; j < tk; j++) {
            const pj = Number.isFinite(l) ? Math.exp(row[j] - l) : 0;
            acc += pj * v[((b * hkv + kvh) * tk + j) * dv + p];
          }
          out[oo + p] = acc;
        }
      }
    }
  }
}

export function attentionGrad(
  q: F32, k: F32, v: F32, mask: F32 | null, maskOff: number, ms: I32 | null, out: F32, lse: F32, gout: F32,
  gq: F32, gk: F32, gv: F32, g: AttentionGeometry,
): void {
  const { b: B, h: H, hkv, tq, tk, d, dv, scale } = g;
  const row = new Float64Array(tk);
  const gka = new Float64Array(gk.length), gva = new Float64Array(gv.length);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const kvh = Math.floor(h / (H / hkv));
      for (let i = 0; i < tq; i++) {
        scoreRow(q, k, mask, maskOff, ms, g, b, h, i, row);
        const l = lse[(b * H + h) * tq + i];
        const oo = ((b * H + h) * tq + i) * dv;
        let D = 0;
        for (let p = 0; p < dv; p++) D += gout[oo + p] * out[oo + p];
        const qo = ((b * H + h) * tq + i) * d;
        for (let p = 0; p < d; p++) gq[qo + p] = 0;
        for (let j = 0; j < tk; j++) {
          const pj = Number.isFinite(l) ? Math.exp(row[j] - l) : 0;
          if (pj === 0) continue;
          const vo = ((b * hkv + kvh) * tk + j) * dv, ko = ((b * hkv + kvh) * tk + j) * d;
          let dp = 0;
          for (let p = 0; p < dv; p++) {
            dp += gout[oo + p] * v[vo + p];
            gva[vo + p] += pj * gout[oo + p];
          }
          const ds = pj * (dp - D) * scale;
          for (let p = 0; p < d; p++) {
            gq[qo + p] += ds * k[ko + p];
            gka[ko + p] += ds * q[qo + p];
          }
        }
      }
    }
  }
  gk.set(gka);
  gv.set(gva);
}

export function embedding(weight: F32, ids: I32, out: F32, n: number, dim: number, rows: number): void {
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if (id < 0 || id >= rows) throw new RangeError(`embedding: index ${id} out of range [0, ${rows})`);
    out.set(weight.subarray(id * dim, id * dim + dim), i * dim);
  }
}

export function embeddingGrad(gy: F32, ids: I32, gw: F32, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const o = ids[i] * dim;
    for (let j = 0; j < dim; j++) gw[o + j] += gy[i * dim + j];
  }
}

export function crossEntropy(
  logits: F32, targets: I32, losses: F32, lse: F32, rows: number, v: number, ignoreIndex: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * v;
    let mx = -Infinity;
    for (let j = 0; j < v; j++) mx = Math.max(mx, logits[o + j]);
    let s = 0;
    for (let j = 0; j < v; j++) s += Math.exp(logits[o + j] - mx);
    const l = mx + Math.log(s);
    lse[r] = l;
    const t = targets[r];
    if (t === ignoreIndex) { losses[r] = 0; continue; }
    if (t < 0 || t >= v) throw new RangeError(`crossEntropy: target ${t} out of range [0, ${v})`);
    losses[r] = l - logits[o + t];
  }
}

export function crossEntropyGrad(
  logits: F32, targets: I32, lse: F32, glogits: F32, rows: number, v: number, ignoreIndex: number, scale: number,
): void {
  for (let r = 0; r < rows; r++) {
    const o = r * v, t = targets[r];
    if (t === ignoreIndex) { glogits.fill(0, o, o + v); continue; }
    for (let j = 0; j < v; j++) glogits[o + j] = (Math.exp(logits[o + j] - lse[r]) - (j === t ? 1 : 0)) * scale;
  }
}

export function rope(x: F32, cos: F32, sin: F32, out: F32, rows: number, t: number, d: number, inverse: boolean): void {
  const half = d / 2, sgn = inverse ? -1 : 1;
  for (let r = 0; r < rows; r++) {
    for (let p = 0; p < t; p++) {
      const o = (r * t + p) * d;
      for (let j = 0; j < half; j++) {
        const c = cos[p * half + j], s = sgn * sin[p * half + j];
        const x1 = x[o + j], x2 = x[o + half + j];
        out[o + j] = x1 * c - x2 * s;
        out[o + half + j] = x2 * c + x1 * s;
      }
    }
  }
}

export function adamw(p: F32, g: F32, m: F32, v: F32, n: number, h: AdamWStep): void {
  const { lr, beta1, beta2, eps, weightDecay, bc1, bc2 } = h;
  for (let i = 0; i < n; i++) {
    p[i] -= lr * weightDecay * p[i];
    m[i] = beta1 * m[i] + (1 - beta1) * g[i];
    v[i] = beta2 * v[i] + (1 - beta2) * g[i] * g[i];
    p[i] -= lr * (m[i] / bc1) / (Math.sqrt(v[i] / bc2) + eps);
  }
}
