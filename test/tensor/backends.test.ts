// The native backend against the reference one (the oracle) on seeded random shapes, with
// broadcasting and non-contiguous inputs (transposed, permuted, narrowed, expanded views):
// outputs and the gradients of sum(output * weight) must agree.
//
// Tolerance rtol 1e-4, atol 1e-5 (helpers.DEFAULT_TOL): both compute in float32 storage, the
// reference accumulates in float64 and the native kernels in float32 (BLAS, vectorised sums in
// a different order), which for the sizes here (reductions of at most a few hundred terms of
// magnitude ~1) differs by ~1e-6 relative. Reductions over many terms use atol 1e-4.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasNativeBackend, referenceBackend, withBackend } from '../../src/backend/index.js';
import { loadNativeBackend } from '../../src/backend/native/index.js';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { assertClose, DEFAULT_TOL, type Tolerance } from './helpers.js';

const skip = hasNativeBackend() ? false : 'native addon not built';
const SUM_TOL: Tolerance = { rtol: 1e-4, atol: 1e-4 };

type G = T.Generator;
const randn = (g: G, shape: number[], std = 1) => T.randn(shape, { generator: g, std });
const randInt = (g: G, lo: number, hi: number) => g.randint(lo, hi + 1);

/** A random permutation of 0..n-1. */
function perm(g: G, n: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = g.randint(0, i + 1);
    [p[i], p[j]] = [p[j], p[i]];
  }
  return p;
}

/**
 * A leaf tensor requiring grad, and a view of it with the requested `shape` laid out in memory
 * in one of several non-contiguous ways (or contiguously): permuted, narrowed, or both.
 */
function stridedInput(g: G, shape: number[], kind: number, std = 1): { leaf: Tensor; view: Tensor } {
  const n = shape.length;
  if (n === 0 || kind % 3 === 0) {
    const leaf = randn(g, shape, std).requiresGrad_();
    return { leaf, view: leaf };
  }
  // Store the dims in a random order (and one dim padded by 2 to narrow), then view back.
  const p = kind % 3 === 1 || n === 1 ? perm(g, n) : Array.from({ length: n }, (_, i) => i).reverse();
  const pad = g.randint(0, n);
  const stored = p.map((d) => shape[d] + (d === pad ? 2 : 0));
  const leaf = randn(g, stored, std).requiresGrad_();
  const inverse = new Array<number>(n);
  p.forEach((d, i) => (inverse[d] = i));
  const view = T.narrow(T.permute(leaf, inverse), pad, 1, shape[pad]);
  return { leaf, view: denseInputs ? T.clone(view) : view };
}

/** When set, stridedInput hands out contiguous copies: the same values in the plain layout. */
let denseInputs = false;

interface Result { outs: Float32Array[]; ints: Int32Array[]; grads: Float32Array[] }

/** Builds inputs from a generator seeded `seed`, runs fn and backward on one backend. */
function runOn(be: 'native' | 'reference', seed: number, fn: (g: G) => { out: Tensor | Tensor[]; leaves: Tensor[] }): Result {
  return withBackend(be, () => T.tidy(() => {
    const g = new T.Generator(seed);
    const { out, leaves } = fn(g);
    const outs = Array.isArray(out) ? out : [out];
    const res: Result = { outs: [], ints: [], grads: [] };
    let loss: Tensor | null = null;
    const wg = new T.Generator(seed + 1);
    for (const o of outs) {
      if (o.dtype === 'int32') {
        res.ints.push(o.toArray() as Int32Array);
        continue;
      }
      res.outs.push(o.toArray() as Float32Array);
      if (!o.requiresGrad) continue;
      const term = T.sum(T.mul(o, randn(wg, [...o.shape])));
      loss = loss ? T.add(loss, term) : term;
    }
    if (loss) (loss as Tensor).backward();
    for (const l of leaves) {
      if (!l.requiresGrad) continue;
      assert.ok(l.grad, 'a leaf got no gradient');
      res.grads.push(l.grad.toArray() as Float32Array);
      l.grad.dispose();
    }
    return res;
  }));
}

/**
 * Native vs reference on the same strided inputs; and, since an op-layer stride bug would be
 * shared by both backends, the reference on strided inputs vs the reference on dense copies.
 */
function agree(label: string, seed: number, fn: (g: G) => { out: Tensor | Tensor[]; leaves: Tensor[] }, tol = DEFAULT_TOL): void {
  const nat = runOn('native', seed, fn), ref = runOn('reference', seed, fn);
  denseInputs = true;
  let flat: Result;
  try {
    flat = runOn('reference', seed, fn);
  } finally {
    denseInputs = false;
  }
  ref.outs.forEach((o, i) => assertClose(o, flat.outs[i], tol, `${label} seed ${seed} output ${i}, strided vs dense inputs`));
  ref.grads.forEach((gr, i) => assertClose(gr, flat.grads[i], tol, `${label} seed ${seed} grad ${i}, strided vs dense inputs`));
  assert.equal(nat.outs.length, ref.outs.length);
  nat.outs.forEach((o, i) => assertClose(o, ref.outs[i], tol, `${label} seed ${seed} output ${i}`));
  nat.ints.forEach((o, i) => assert.deepEqual(Array.from(o), Array.from(ref.ints[i]), `${label} seed ${seed} int output ${i}`));
  assert.equal(nat.grads.length, ref.grads.length);
  nat.grads.forEach((gr, i) => assertClose(gr, ref.grads[i], tol, `${label} seed ${seed} grad ${i}`));
}

const SEEDS = [1, 2, 3, 4, 5, 6];

/** A random shape of rank 1..4 with dims 1..6. */
const randShape = (g: G) => Array.from({ length: randInt(g, 1, 4) }, () => randInt(g, 1, 6));

/** A shape that broadcasts against s: some dims set to 1, maybe fewer leading dims. */
function broadcastable(g: G, s: number[]): number[] {
  const drop = g.randint(0, s.length);
  return s.slice(drop).map((d) => (g.uniform() < 0.4 ? 1 : d));
}

test('binary ops with broadcasting on strided views', { skip }, () => {
  const ops = ['add', 'sub', 'mul', 'div', 'pow', 'maximum', 'minimum'] as const;
  for (const seed of SEEDS) {
    for (const op of ops) {
      agree(`binary ${op}`, seed * 31 + op.length, (g) => {
        let sa = randShape(g), sb = broadcastable(g, sa);
        if (g.uniform() < 0.5) [sa, sb] = [sb, sa];
        const a = stridedInput(g, sa, randInt(g, 0, 2)), b = stridedInput(g, sb, randInt(g, 0, 2));
        let av = a.view, bv = b.view;
        if (op === 'pow') av = T.add(T.abs(av), 0.5);
        if (op === 'div') bv = T.add(T.abs(bv), 0.5);
        // Also an explicit expand to the broadcast shape (stride-0 view) for one operand.
        if (g.uniform() < 0.5) bv = T.expand(bv, T.broadcastShapes(sa, sb));
        const out = T[op](av, bv);
        return { out, leaves: [a.leaf, b.leaf] };
      });
    }
  }
});

test('unary ops and comparisons on strided views', { skip }, () => {
  const ops = ['neg', 'exp', 'tanh', 'sigmoid', 'abs', 'relu', 'gelu', 'quickGelu', 'silu', 'sin', 'cos', 'square'] as const;
  for (const seed of SEEDS) {
    agree('unary', seed, (g) => {
      const x = stridedInput(g, randShape(g), seed);
      const outs: Tensor[] = ops.map((op) => T[op](x.view));
      const pos = T.add(T.abs(x.view), 0.25);
      outs.push(T.log(pos), T.sqrt(pos), T.rsqrt(pos), T.reciprocal(pos), T.pow(pos, 1.7), T.gelu(x.view, 'tanh'));
      outs.push(T.clamp(x.view, -0.3, 0.4), T.add(x.view, 1.5), T.mul(x.view, -2), T.sub(1, x.view), T.div(x.view, 4));
      outs.push(T.gt(x.view, 0.1), T.le(x.view, T.mul(x.view, 0.5)), T.eq(x.view, x.view));
      return { out: outs, leaves: [x.leaf] };
    });
  }
});

test('where and maskedFill with strided, broadcast condition', { skip }, () => {
  for (const seed of SEEDS) {
    agree('where', seed, (g) => {
      const s = randShape(g);
      const a = stridedInput(g, s, 1), b = stridedInput(g, broadcastable(g, s), 2);
      const cond = T.gt(randn(g, broadcastable(g, s)), 0);
      return { out: [T.where(cond, a.view, b.view), T.maskedFill(a.view, cond, -7)], leaves: [a.leaf, b.leaf] };
    });
  }
});

test('matmul: transposed operands, broadcast and permuted batch dims, vectors', { skip }, () => {
  for (const seed of [...SEEDS, 7, 8, 9, 10]) {
    agree('matmul', seed, (g) => {
      const m = randInt(g, 1, 19), k = randInt(g, 1, 21), n = randInt(g, 1, 17);
      const batch = Array.from({ length: randInt(g, 0, 2) }, () => randInt(g, 1, 3));
      const ba = batch.map((d) => (g.uniform() < 0.3 ? 1 : d)), bb = batch.slice(g.randint(0, batch.length + 1));
      const a = stridedInput(g, [...ba, m, k], randInt(g, 0, 2));
      const b = stridedInput(g, [...bb, k, n], randInt(g, 0, 2));
      let bv = b.view;
      if (g.uniform() < 0.3) bv = T.expand(bv, [...T.broadcastShapes(ba, bb), k, n]);
      return { out: T.matmul(a.view, bv), leaves: [a.leaf, b.leaf] };
    }, SUM_TOL);
  }
  agree('matmul vec-mat', 11, (g) => {
    const a = stridedInput(g, [5], 0), b = stridedInput(g, [3, 5, 4], 1), c = stridedInput(g, [4], 0);
    return { out: [T.matmul(a.view, b.view), T.matmul(b.view, c.view)], leaves: [a.leaf, b.leaf, c.leaf] };
  });
});

test('linear on strided input, with and without bias', { skip }, () => {
  for (const seed of SEEDS) {
    agree('linear', seed, (g) => {
      const inF = randInt(g, 1, 24), outF = randInt(g, 1, 20);
      const x = stridedInput(g, [randInt(g, 1, 3), randInt(g, 1, 7), inF], seed);
      const w = stridedInput(g, [outF, inF], seed + 1), b = randn(g, [outF]).requiresGrad_();
      return { out: [T.linear(x.view, w.view, b), T.linear(x.view, w.view)], leaves: [x.leaf, w.leaf, b] };
    }, SUM_TOL);
  }
});

test('reductions over random dim sets of permuted inputs, argmax', { skip }, () => {
  for (const seed of SEEDS) {
    agree('reduce', seed, (g) => {
      const s = randShape(g);
      const x = stridedInput(g, s, seed);
      const dims = s.map((_, i) => i).filter(() => g.uniform() < 0.5);
      const d = g.randint(0, s.length);
      return {
        out: [T.sum(x.view, dims), T.mean(x.view, dims, true), T.max(x.view, d), T.min(x.view, dims, true), T.sum(x.view),
          T.argmax(x.view, d), T.argmax(x.view)],
        leaves: [x.leaf],
      };
    });
  }
  // One long reduction: float32 vs float64 accumulation differ by more than the default atol.
  agree('reduce long', 99, (g) => {
    const x = stridedInput(g, [3, 700], 1);
    return { out: [T.sum(x.view, -1), T.mean(x.view, 0)], leaves: [x.leaf] };
  }, SUM_TOL);
});

test('softmax and logSoftmax along random dims', { skip }, () => {
  for (const seed of SEEDS) {
    agree('softmax', seed, (g) => {
      const s = [...randShape(g), randInt(g, 1, 40)];
      const x = stridedInput(g, s, seed, 3);
      const d = g.randint(0, s.length);
      return { out: [T.softmax(x.view, d), T.logSoftmax(x.view, d), T.softmax(x.view, -1)], leaves: [x.leaf] };
    });
  }
});

test('layerNorm, rmsNorm, groupNorm on strided inputs', { skip }, () => {
  for (const seed of SEEDS) {
    agree('norms', seed, (g) => {
      const c = randInt(g, 2, 37), rows = randInt(g, 1, 6);
      const x = stridedInput(g, [rows, 2, c], seed, 2);
      const w = randn(g, [c]).requiresGrad_(), b = randn(g, [c]).requiresGrad_();
      const groups = [1, 2, 3, 4].filter((k) => 12 % k === 0)[g.randint(0, 4)];
      const y = stridedInput(g, [2, 12, randInt(g, 1, 4), randInt(g, 1, 5)], seed + 1, 2);
      const gw = randn(g, [12]).requiresGrad_(), gb = randn(g, [12]).requiresGrad_();
      return {
        out: [T.layerNorm(x.view, w, b), T.layerNorm(x.view, null, null), T.rmsNorm(x.view, w), T.rmsNorm(x.view, null),
          T.groupNorm(y.view, groups, gw, gb), T.groupNorm(y.view, groups, null, null)],
        leaves: [x.leaf, w, b, y.leaf, gw, gb],
      };
    });
  }
});

test('conv2d with random geometry on NHWC-strided input; avgPool2d, upsampleNearest', { skip }, () => {
  for (const seed of [...SEEDS, 7, 8]) {
    agree('conv2d', seed, (g) => {
      const n = randInt(g, 1, 2), c = randInt(g, 1, 5), o = randInt(g, 1, 6);
      const kh = randInt(g, 1, 3), kw = randInt(g, 1, 3);
      const stride: [number, number] = [randInt(g, 1, 2), randInt(g, 1, 3)];
      const padding: [number, number] = [randInt(g, 0, 2), randInt(g, 0, 1)];
      const h = randInt(g, kh, 9), w = randInt(g, kw, 9);
      // Stored NHWC, viewed NCHW: the layout images often arrive in.
      const leaf = randn(g, [n, h, w, c]).requiresGrad_();
      const x = T.permute(leaf, [0, 3, 1, 2]);
      const wt = stridedInput(g, [o, c, kh, kw], seed);
      const bias = randn(g, [o]).requiresGrad_();
      const p = stridedInput(g, [n, c, 2 * randInt(g, 1, 3), 2 * randInt(g, 1, 3)], seed + 1);
      const withBias = g.uniform() < 0.5;
      return {
        out: [T.conv2d(x, wt.view, withBias ? bias : null, { stride, padding }), T.avgPool2d(p.view, 2), T.upsampleNearest(p.view, 2)],
        leaves: [leaf, wt.leaf, ...(withBias ? [bias] : []), p.leaf],
      };
    }, SUM_TOL);
  }
});

test('attention: GQA, causal, additive masks of several broadcast shapes, Tq != Tk, strided q/k/v', { skip }, () => {
  for (const seed of [...SEEDS, 7, 8, 9, 10]) {
    agree('attention', seed, (g) => {
      const b = randInt(g, 1, 2), hkv = randInt(g, 1, 3), h = hkv * randInt(g, 1, 3);
      const tk = randInt(g, 1, 13), tq = g.uniform() < 0.5 ? tk : randInt(g, 1, tk), d = randInt(g, 1, 9), dv = randInt(g, 1, 9);
      // q as models make it: [B, T, H, D] from a projection, permuted to [B, H, T, D].
      const qLeaf = randn(g, [b, tq, h, d]).requiresGrad_();
      const q = T.permute(qLeaf, [0, 2, 1, 3]);
      const k = stridedInput(g, [b, hkv, tk, d], seed), v = stridedInput(g, [b, hkv, tk, dv], seed + 1);
      const maskShapes = [[tq, tk], [b, 1, tq, tk], [1, h, 1, tk], [b, h, tq, tk]];
      const mask = randn(g, maskShapes[g.randint(0, maskShapes.length)]);
      // Block a few keys with -inf, never key 0, so every query row keeps a key.
      const md = mask.data;
      for (let i = 0; i < md.length; i++) if (i % tk !== 0 && g.uniform() < 0.2) md[i] = -Infinity;
      const causal = g.uniform() < 0.5;
      return {
        out: [
          T.scaledDotProductAttention(q, k.view, v.view, { causal }),
          T.scaledDotProductAttention(q, k.view, v.view, { mask, causal, scale: 0.3 }),
        ],
        leaves: [qLeaf, k.leaf, v.leaf],
      };
    });
  }
});

test('embedding, crossEntropy (all reductions, ignoreIndex), rope, mseLoss', { skip }, () => {
  for (const seed of SEEDS) {
    agree('gather and losses', seed, (g) => {
      const vocab = randInt(g, 2, 40), dim = randInt(g, 1, 9), n = randInt(g, 1, 12);
      const w = stridedInput(g, [vocab, dim], seed);
      const ids = T.randint(0, vocab, [n], g);
      const logits = stridedInput(g, [n, vocab], seed + 1, 3);
      const targets = T.randint(0, vocab, [n], g);
      targets.dataI32[g.randint(0, n)] = -100;
      const t = randInt(g, 1, 6), hd = 2 * randInt(g, 1, 5);
      const x = stridedInput(g, [2, t, hd], seed + 2);
      const { cos, sin } = T.ropeTables(t, hd, 10000, randInt(g, 0, 5));
      const a = stridedInput(g, [n, 3], 1);
      return {
        out: [T.embedding(w.view, ids), T.crossEntropy(logits.view, targets), T.crossEntropy(logits.view, targets, { reduction: 'sum' }),
          T.crossEntropy(logits.view, targets, { reduction: 'none' }), T.rope(x.view, cos, sin), T.mseLoss(a.view, T.transpose(a.view, 0, 1).transpose(0, 1))],
        leaves: [w.leaf, logits.leaf, x.leaf, a.leaf],
      };
    });
  }
});

test('cat, stack, split, chunk, contiguous on strided inputs', { skip }, () => {
  for (const seed of SEEDS) {
    agree('joins', seed, (g) => {
      const s = [randInt(g, 1, 4), randInt(g, 1, 4), randInt(g, 1, 4)];
      const d = g.randint(0, 3);
      const a = stridedInput(g, s, 1), b = stridedInput(g, s, 2);
      const parts = T.chunk(T.cat([a.view, b.view, a.view], d), randInt(g, 1, 3), d);
      return {
        out: [T.stack([a.view, b.view], g.randint(0, 4)), ...parts, ...T.split(b.view, 1, d), T.contiguous(a.view), T.clone(b.view)],
        leaves: [a.leaf, b.leaf],
      };
    });
  }
});

// Native kernels go multi-threaded above 2^15 elements (common.h kParallelGrain): one round
// of shapes past that, so the OpenMP paths and their partial-sum merges are compared too.
test('shapes large enough for the native kernels to run multi-threaded', { skip }, () => {
  agree('large', 77, (g) => {
    const a = stridedInput(g, [64, 600], 1), b = stridedInput(g, [1, 600], 0);
    const gn = stridedInput(g, [2, 32, 24, 24], 2), im = stridedInput(g, [2, 16, 32, 36], 1);
    const w = randn(g, [600]).requiresGrad_();
    const table = stridedInput(g, [1000, 40], 1), ids = T.randint(0, 1000, [1000], g);
    const logits = stridedInput(g, [100, 400], 2, 3), targets = T.randint(0, 400, [100], g);
    const x = stridedInput(g, [5, 64, 128], 1);
    const { cos, sin } = T.ropeTables(64, 128);
    return {
      out: [
        T.mul(a.view, b.view), T.gelu(a.view), T.sum(a.view, 0), T.max(a.view, 1), T.softmax(a.view, -1), T.logSoftmax(a.view, 0),
        T.layerNorm(a.view, w, w), T.rmsNorm(a.view, w), T.groupNorm(gn.view, 8, null, null),
        T.avgPool2d(im.view, 2), T.upsampleNearest(im.view, 2), T.embedding(table.view, ids),
        T.crossEntropy(logits.view, targets), T.rope(x.view, cos, sin),
      ],
      leaves: [a.leaf, b.leaf, gn.leaf, im.leaf, w, table.leaf, logits.leaf, x.leaf],
    };
  }, SUM_TOL);
});

test('adamw kernel: native and reference update identically', { skip }, () => {
  const native = loadNativeBackend()!;
  const g = new T.Generator(3);
  const n = 40_037; // past the threading threshold, and not a multiple of the vector width
  const mk = (f: () => number) => Float32Array.from({ length: n }, f);
  const p = mk(() => g.normal()), grad = mk(() => g.normal()), m = mk(() => 0.1 * g.normal()), v = mk(() => 0.01 * g.uniform());
  const step = { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, bc1: 1 - 0.9 ** 3, bc2: 1 - 0.999 ** 3 };
  const [pn, mn, vn] = [p.slice(), m.slice(), v.slice()], [pr, mr, vr] = [p.slice(), m.slice(), v.slice()];
  native.adamw(pn, grad, mn, vn, n, step);
  referenceBackend.adamw(pr, grad, mr, vr, n, step);
  assertClose(pn, pr, { rtol: 1e-5, atol: 1e-6 }, 'adamw p');
  assertClose(mn, mr, { rtol: 1e-5, atol: 1e-7 }, 'adamw m');
  assertClose(vn, vr, { rtol: 1e-5, atol: 1e-9 }, 'adamw v');
  assert.ok(pn.some((x, i) => x !== p[i]), 'adamw changed nothing');
});

test('copyStrided kernel: random layouts, accumulate, int32, sizes that split rows across threads', { skip }, () => {
  const native = loadNativeBackend()!;
  const g = new T.Generator(31);
  /** Row-major strides of `shape` permuted by `order` (outermost first), as a permuted view's. */
  const layout = (shape: number[], order: number[]) => {
    const strides = new Array<number>(shape.length);
    let s = 1;
    for (let i = order.length - 1; i >= 0; i--) {
      strides[order[i]] = s;
      s *= shape[order[i]];
    }
    return strides;
  };
  for (let c = 0; c < 40; c++) {
    const nd = randInt(g, 1, 5);
    // one case in four large enough to run on several threads (> 2^15 elements)
    const big = c % 4 === 0;
    const shape = Array.from({ length: nd }, () => randInt(g, 1, big ? 24 : 7));
    if (big) shape[0] = Math.max(shape[0], Math.ceil(40000 / shape.slice(1).reduce((a, b) => a * b, 1)));
    const size = shape.reduce((a, b) => a * b, 1);
    const ss = layout(shape, perm(g, nd)), ds = layout(shape, perm(g, nd));
    const so = randInt(g, 0, 5), dso = randInt(g, 0, 5);
    const acc = c % 3 === 1, int = c % 5 === 2;
    const make = (n: number) => (int ? Int32Array.from({ length: n }, () => randInt(g, -99, 99)) : Float32Array.from(randn(g, [n]).toArray()));
    const src = make(so + size), dst0 = make(dso + size);
    const ours = dst0.slice(), ref = dst0.slice();
    const [ss32, ds32, shape32] = [ss, ds, shape].map((x) => Int32Array.from(x));
    native.copyStrided(src, so, ss32, ours, dso, ds32, shape32, acc);
    referenceBackend.copyStrided(src, so, ss32, ref, dso, ds32, shape32, acc);
    assert.deepEqual(ours, ref, `shape ${shape} src strides ${ss} dst strides ${ds} acc ${acc} int ${int}`);
  }
});
