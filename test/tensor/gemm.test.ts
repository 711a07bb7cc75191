// Matrix products large enough for the native addon's engines (oneDNN above ~48^3
// multiply-adds, OpenBLAS below and inside parallel regions), in float32 and in bfloat16, against
// the reference backend; bfloat16 rounding itself.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  hasNativeBackend, referenceBackend, withBackend, withMatmulPrecision, type MatmulPrecision,
} from '../../src/backend/index.js';
import { loadNativeBackend, nativeGemm } from '../../src/backend/native/index.js';
import { roundBf16 } from '../../src/backend/reference/nn.js';
import * as T from '../../src/tensor/index.js';
import { assertClose, mismatches, type Tolerance } from './helpers.js';

const skip = hasNativeBackend() ? false : 'native addon not built';
const skipDnnl = !hasNativeBackend() ? 'native addon not built'
  : nativeGemm()?.dnnlBuilt ? false : 'addon built without oneDNN (libdnnl-dev)';
const TOL: Tolerance = { rtol: 1e-4, atol: 1e-4 };

interface Case {
  ta: boolean; tb: boolean; m: number; n: number; k: number; alpha: number; beta: number; batch: number;
  lda: number; ldb: number; ldc: number; sa: number; sb: number; sc: number;
  a: Float32Array; b: Float32Array; c: Float32Array;
}

/** A random batched product with padded leading dims, maybe a broadcast operand, alpha/beta. */
function randomCase(seed: number): Case {
  const g = new T.Generator(seed);
  const r = (lo: number, hi: number) => g.randint(lo, hi + 1);
  const ta = g.uniform() < 0.5, tb = g.uniform() < 0.5;
  const m = r(30, 90), n = r(30, 90), k = r(40, 100), batch = r(1, 3);
  // Sometimes a narrow view of a wide matrix (a leading dim far above the row): bfloat16 copies
  // of such operands are packed rather than converted as they lie.
  const wide = () => (g.uniform() < 0.25 ? 400 : 0);
  const lda = (ta ? m : k) + r(0, 3) + wide(), ldb = (tb ? k : n) + r(0, 3) + wide(), ldc = n + r(0, 2);
  const aRows = ta ? k : m, bRows = tb ? n : k;
  const sa = batch > 1 && g.uniform() < 0.3 ? 0 : aRows * lda + r(0, 5);
  const sb = batch > 1 && g.uniform() < 0.3 ? 0 : bRows * ldb + r(0, 5);
  const sc = m * ldc + r(0, 3);
  const alpha = [1, 0.5, -2][r(0, 2)], beta = [0, 1, 0.25][r(0, 2)];
  const fill = (len: number) => Float32Array.from({ length: len }, () => g.normal());
  const aLen = (sa === 0 ? 0 : sa * (batch - 1)) + aRows * lda;
  const bLen = (sb === 0 ? 0 : sb * (batch - 1)) + bRows * ldb;
  return { ta, tb, m, n, k, alpha, beta, batch, lda, ldb, ldc, sa, sb, sc, a: fill(aLen), b: fill(bLen), c: fill(sc * batch) };
}

function run(be: 'native' | 'reference', cs: Case, precision: MatmulPrecision): Float32Array {
  const c = cs.c.slice();
  withBackend(be, () => withMatmulPrecision(precision, () => {
    const b = be === 'native' ? loadNativeBackend()! : referenceBackend;
    b.gemm(cs.ta, cs.tb, cs.m, cs.n, cs.k, cs.alpha, cs.a, 0, cs.lda, cs.sa, cs.b, 0, cs.ldb, cs.sb,
      cs.beta, c, 0, cs.ldc, cs.sc, cs.batch);
  }));
  return c;
}

function maxRelDiff(x: Float32Array, y: Float32Array): number {
  let worst = 0;
  for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i] - y[i]) / (1 + Math.abs(y[i])));
  return worst;
}

function maxAbs(x: Float32Array): number {
  let m = 0;
  for (const v of x) m = Math.max(m, Math.abs(v));
  return m;
}

/** Runs fn once with oneDNN on and once off (OpenBLAS), restoring the setting. */
function eachEngine(fn: (engine: string) => void): void {
  const before = nativeGemm()!;
  try {
    for (const dnnl of before.dnnlBuilt ? [true, false] : [false]) {
      nativeGemm({ dnnl });
      fn(dnnl ? 'oneDNN' : 'OpenBLAS');
    }
  } finally {
    nativeGemm({ dnnl: before.dnnl });
  }
}

test('roundBf16: nearest bfloat16, ties to even, specials kept', () => {
  assert.equal(roundBf16(1), 1);
  assert.equal(roundBf16(1 + 2 ** -8), 1); // a tie: rounds to the even mantissa (1.0)
  assert.equal(roundBf16(1 + 3 * 2 ** -8), 1 + 2 ** -6); // a tie: rounds up to even
  assert.equal(roundBf16(1 + 2 ** -8 + 2 ** -20), 1 + 2 ** -7); // above the tie
  assert.equal(roundBf16(-3.14159), -3.140625);
  assert.equal(roundBf16(Infinity), Infinity);
  assert.ok(Number.isNaN(roundBf16(NaN)));
  assert.equal(roundBf16(3.4e38), Infinity); // beyond bfloat16's largest finite value
});

test('large batched products: each native engine agrees with the reference (float32)', { skip }, () => {
  eachEngine((engine) => {
    for (let seed = 1; seed <= 12; seed++) {
      const cs = randomCase(seed);
      assertClose(run('native', cs, 'float32'), run('reference', cs, 'float32'), TOL, `${engine} case ${seed}`);
    }
  });
});

test('bfloat16 products equal the reference on rounded operands, and differ from float32', { skip }, () => {
  eachEngine((engine) => {
    for (let seed = 21; seed <= 30; seed++) {
      const cs = randomCase(seed);
      const nat = run('native', cs, 'bfloat16'), ref = run('reference', cs, 'bfloat16');
      assertClose(nat, ref, TOL, `${engine} bf16 case ${seed}`);
      // The rounding is real: float32 results are ~1e-3 relative away (8-bit mantissas).
      assert.ok(maxRelDiff(nat, run('reference', cs, 'float32')) > 1e-3, `${engine} case ${seed}: bf16 looks like f32`);
    }
  });
});

test('oneDNN is used for large products and gives the float32 result of OpenBLAS', { skip: skipDnnl }, () => {
  const cs = randomCase(5);
  const before = nativeGemm()!;
  const viaDnnl = run('native', cs, 'float32');
  const after = nativeGemm()!;
  assert.equal(after.dnnlCalls - before.dnnlCalls, 1, 'the product ran on oneDNN');
  assert.equal(after.blasCalls, before.blasCalls);
  nativeGemm({ dnnl: false });
  try {
    assertClose(viaDnnl, run('native', cs, 'float32'), TOL, 'oneDNN vs OpenBLAS');
  } finally {
    nativeGemm({ dnnl: true });
  }
  assert.equal(nativeGemm()!.dnnl, true);
});

/** conv2d and linear forward and backward on both backends at one precision. */
function layers(be: 'native' | 'reference', precision: MatmulPrecision): Float32Array[] {
  return withBackend(be, () => withMatmulPrecision(precision, () => T.tidy(() => {
    const g = new T.Generator(9);
    const x = T.randn([3, 24, 12, 12], { generator: g }).requiresGrad_();
    const w = T.randn([40, 24, 3, 3], { generator: g, std: 0.1 }).requiresGrad_();
    const bias = T.randn([40], { generator: g }).requiresGrad_();
    const w1 = T.randn([32, 40, 1, 1], { generator: g, std: 0.1 }).requiresGrad_();
    const lw = T.randn([64, 32], { generator: g, std: 0.1 }).requiresGrad_();
    const h = T.conv2d(T.conv2d(x, w, bias, { stride: [1, 1], padding: [1, 1] }), w1, null);
    const y = T.linear(T.permute(h, [0, 2, 3, 1]), lw);
    T.sum(T.mul(y, T.randn([...y.shape], { generator: g }))).backward();
    const out = [y, x.grad!, w.grad!, bias.grad!, w1.grad!, lw.grad!].map((t) => t.toArray() as Float32Array);
    for (const t of [x, w, bias, w1, lw]) t.grad?.dispose();
    return out;
  })));
}

test('conv2d (3x3 and 1x1) and linear, forward and backward, in float32 and bfloat16', { skip }, () => {
  eachEngine((engine) => {
    for (const p of ['float32', 'bfloat16'] as const) {
      const nat = layers('native', p), ref = layers('reference', p);
      nat.forEach((v, i) => {
        const label = `${engine} ${p} output ${i}`;
        if (p === 'float32') return assertClose(v, ref[i], { rtol: 2e-4, atol: 2e-4 }, label);
        // In bfloat16 each layer rounds its input, so an intermediate value that lies within a
        // float32 rounding error of a bfloat16 midpoint can round one way here and the other way in
        // the reference (the sums run in another order). Such a flip moves the values downstream of
        // that one element by about 2^-8 relative (one row of a weight gradient: 1/40 of it here);
        // everything else must agree as in float32. Without rounding, nearly all would differ. The
        // flipped ones are bounded relative to the tensor's scale (sums of them cancel).
        const tight = mismatches(v, ref[i], { rtol: 2e-4, atol: 2e-4 }, label);
        assert.ok(tight <= v.length / 10, `${label}: ${tight} of ${v.length} elements differ (more than rare flips)`);
        assertClose(v, ref[i], { rtol: 2e-2, atol: 1e-3 * maxAbs(ref[i]) }, label);
      });
    }
  });
});

/** conv2d forward and backward, on the native backend as it is set now. */
function bigConv(kernel: number, c: number, hw: number): Float32Array[] {
  return withBackend('native', () => T.tidy(() => {
    const g = new T.Generator(4);
    const x = T.randn([5, c, hw, hw], { generator: g }).requiresGrad_();
    const w = T.randn([8, c, kernel, kernel], { generator: g, std: 0.05 }).requiresGrad_();
    const b = T.randn([8], { generator: g }).requiresGrad_();
    const y = T.conv2d(x, w, b, { padding: (kernel - 1) / 2 });
    T.sum(T.mul(y, T.randn([...y.shape], { generator: g }))).backward();
    const out = [y, x.grad!, w.grad!, b.grad!].map((t) => t.toArray() as Float32Array);
    for (const t of [x, w, b]) t.grad?.dispose();
    return out;
  }));
}

// oneDNN's im2col schedule (direct convolutions off) takes images in chunks whose im2col buffer
// stays under 8M floats: 5 images of 64 channels at 64x64 (3x3: 2.4M floats each) or 512
// channels (1x1) span two chunks. The direct primitives must give the same numbers.
test('conv2d over several chunks of images, and direct, equal the OpenBLAS per-image schedule', { skip: skipDnnl }, () => {
  for (const [kernel, c] of [[3, 64], [1, 512]]) {
    let viaChunks: Float32Array[], viaBlas: Float32Array[];
    nativeGemm({ convDirect: false });
    try {
      const before = nativeGemm()!.dnnlCalls;
      viaChunks = bigConv(kernel, c, 64);
      assert.ok(nativeGemm()!.dnnlCalls - before >= 6, 'forward, gx and gW ran on oneDNN in two chunks each');
      nativeGemm({ dnnl: false });
      viaBlas = bigConv(kernel, c, 64);
    } finally {
      nativeGemm({ dnnl: true, convDirect: true });
    }
    const before = nativeGemm()!.dnnlConvCalls;
    const viaDirect = bigConv(kernel, c, 64);
    assert.equal(nativeGemm()!.dnnlConvCalls - before, 3, 'forward, gx and gW ran on the direct primitives');
    viaChunks.forEach((v, i) => assertClose(v, viaBlas[i], { rtol: 2e-4, atol: 2e-4 }, `${kernel}x${kernel} output ${i}`));
    // gW sums 20k products per element (up to ~500 in size) in another order: float32 rounding of
    // such sums is ~1e-6 of their scale, which the small elements' rtol alone would not allow.
    viaDirect.forEach((v, i) => assertClose(v, viaBlas[i], { rtol: 2e-4, atol: 2e-4 + 1e-5 * maxAbs(viaBlas[i]) },
      `direct ${kernel}x${kernel} output ${i}`));
  }
});

/** One conv2d forward and backward on a backend: y, gx, gW, gb. */
function convCase(be: 'native' | 'reference', precision: MatmulPrecision, shape: number[], o: number, k: number[],
  stride: number[], padding: number[], bias: boolean): Float32Array[] {
  return withBackend(be, () => withMatmulPrecision(precision, () => T.tidy(() => {
    const g = new T.Generator(17);
    const x = T.randn(shape, { generator: g }).requiresGrad_();
    const w = T.randn([o, shape[1], k[0], k[1]], { generator: g, std: 0.1 }).requiresGrad_();
    const b = bias ? T.randn([o], { generator: g }).requiresGrad_() : null;
    const y = T.conv2d(x, w, b, { stride: stride as [number, number], padding: padding as [number, number] });
    T.sum(T.mul(y, T.randn([...y.shape], { generator: g }))).backward();
    const out = [y, x.grad!, w.grad!, ...(b ? [b.grad!] : [])].map((t) => t.toArray() as Float32Array);
    for (const t of [x, w, b]) t?.grad?.dispose();
    return out;
  })));
}

// Geometries of the models: UNet and VAE 3x3 (stride 1 and 2, where oneDNN pads the far side
// less), 1x1 skips, CLIP's 4x4 stride-4 patch embedding, odd and non-square sizes.
test('conv2d on oneDNN direct primitives agrees with the reference, float32 and bfloat16', { skip: skipDnnl }, () => {
  const cases: [number[], number, number[], number[], number[], boolean][] = [
    [[2, 16, 12, 12], 24, [3, 3], [1, 1], [1, 1], true],
    [[2, 16, 13, 9], 20, [3, 3], [2, 2], [1, 1], true],
    [[3, 16, 16, 16], 32, [3, 3], [2, 2], [0, 0], false],
    [[2, 32, 10, 10], 48, [1, 1], [1, 1], [0, 0], true],
    [[2, 3, 32, 32], 64, [4, 4], [4, 4], [0, 0], true],
    [[4, 16, 11, 7], 16, [3, 1], [1, 1], [1, 0], false],
  ];
  for (const [shape, o, k, stride, padding, bias] of cases) {
    for (const p of ['float32', 'bfloat16'] as const) {
      const before = nativeGemm()!.dnnlConvCalls;
      const nat = convCase('native', p, shape, o, k, stride, padding, bias);
      assert.equal(nativeGemm()!.dnnlConvCalls - before, 3, `${shape} k${k} s${stride}: all three passes direct`);
      const ref = convCase('reference', p, shape, o, k, stride, padding, bias);
      nat.forEach((v, i) => assertClose(v, ref[i], { rtol: 3e-4, atol: 3e-4 }, `${shape} k${k} s${stride} ${p} output ${i}`));
      if (p === 'bfloat16') {
        const f32 = convCase('reference', 'float32', shape, o, k, stride, padding, bias);
        assert.ok(maxRelDiff(nat[0], f32[0]) > 1e-3, `${shape}: the bfloat16 forward looks like float32`);
      }
    }
  }
});
