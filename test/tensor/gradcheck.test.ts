// Finite-difference gradient checks for every differentiable op, independent of PyTorch.
//
// For L = sum_j w_j * op(inputs)_j with fixed random weights w, the gradient from backward() is
// compared with central differences (L(x + eps) - L(x - eps)) / 2eps per input element. Tensors
// are float32 but L is summed in float64 here, so with eps = 1e-2 the rounding noise in L (about
// 1e-7 relative per output) costs ~1e-5 in the difference, and the truncation error is
// O(eps^2 f''') ~ 1e-4: hence rtol 1e-2, atol 1e-3. Ops with kinks (relu, abs, clamp, max,
// maximum) get inputs at least 0.05 from the kink and eps = 1e-3. Both backends are checked;
// the reference one accumulates in float64 inside its kernels too.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBackend } from '../../src/backend/index.js';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { BACKENDS } from './helpers.js';

const gen = new T.Generator(1234);
const randn = (shape: number[], scale = 1) => T.randn(shape, { std: scale, generator: gen });
const positive = (shape: number[]) => T.rand(shape, { low: 0.5, high: 1.5, generator: gen });
/** Normal values at least `gap` away from `at` (for ops with a kink there). */
const awayFrom = (shape: number[], at = 0, gap = 0.05) => {
  const t = randn(shape);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = at + (d[i] >= 0 ? d[i] + gap : d[i] - gap);
  return t;
};
/** Distinct values (gaps >= 0.1) in a seeded random order, so max has no near-ties. */
const distinct = (shape: number[]) => {
  const t = T.zeros(shape), d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = (i - d.length / 2) * 0.1;
  for (let i = d.length - 1; i > 0; i--) {
    const j = gen.randint(0, i + 1);
    [d[i], d[j]] = [d[j], d[i]];
  }
  return t;
};
const ints = (values: number[], shape: number[]) => T.fromArray(new Int32Array(values), shape, 'int32');
const mask01 = (shape: number[], p = 0.5) => {
  const t = T.rand(shape, { generator: gen }), d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = d[i] < p ? 1 : 0;
  return t;
};

interface Check {
  /** Inputs; those named in `grad` (default: every float32 input) are checked. */
  inputs: () => Record<string, Tensor>;
  fn: (x: Record<string, Tensor>) => Tensor | Tensor[];
  grad?: string[];
  eps?: number;
}

/** Returns the worst violation ratio |num - ana| / (atol + rtol * max(|num|, |ana|)) (must be <= 1). */
function gradcheck(name: string, c: Check, rtol = 1e-2, atol = 1e-3): void {
  const eps = c.eps ?? 1e-2;
  T.tidy(() => {
    const x = c.inputs();
    const names = c.grad ?? Object.keys(x).filter((k) => x[k].dtype === 'float32');
    for (const k of names) x[k].requiresGrad_();
    const outs = () => {
      const r = c.fn(x);
      return Array.isArray(r) ? r : [r];
    };
    const first = outs();
    const weights = first.map((o) => T.randn([...o.shape], { generator: new T.Generator(o.size + 7) }).toArray());
    let loss: Tensor | null = null;
    first.forEach((o, i) => {
      const term = T.sum(T.mul(o, T.fromArray(weights[i], o.shape)));
      loss = loss ? T.add(loss, term) : term;
    });
    (loss as unknown as Tensor).backward();
    const L = () => T.noGrad(() => T.tidy(() => {
      let acc = 0;
      outs().forEach((o, i) => {
        const v = o.toArray();
        for (let j = 0; j < v.length; j++) acc += v[j] * weights[i][j];
      });
      return acc;
    }));
    for (const k of names) {
      const t = x[k];
      assert.ok(t.grad, `${name}: no gradient for ${k}`);
      const ana = t.grad.toArray();
      const d = t.data;
      let worst = 0, worstAt = -1, numNorm = 0;
      const num = new Float64Array(d.length);
      for (let i = 0; i < d.length; i++) {
        const orig = d[i];
        d[i] = orig + eps;
        const up = L();
        d[i] = orig - eps;
        const down = L();
        d[i] = orig;
        num[i] = (up - down) / (2 * eps);
        numNorm += num[i] * num[i];
        const ratio = Math.abs(num[i] - ana[i]) / (atol + rtol * Math.max(Math.abs(num[i]), Math.abs(ana[i])));
        if (ratio > worst) [worst, worstAt] = [ratio, i];
      }
      if (worst > 1) console.log(`${name} d/d${k}: worst at [${worstAt}] numeric ${num[worstAt]} analytic ${ana[worstAt]}`);
      assert.ok(worst <= 1, `${name}: gradient of ${k} off by ${worst.toFixed(2)}x the tolerance (rtol ${rtol}, atol ${atol})`);
      // A check that passes because everything is zero checks nothing.
      assert.ok(numNorm > 1e-6, `${name}: numeric gradient of ${k} is zero; the check is vacuous`);
    }
  });
}

const CHECKS: Record<string, Check> = {
  add: { inputs: () => ({ a: randn([2, 3, 4]), b: randn([3, 1]) }), fn: ({ a, b }) => T.add(a, b) },
  sub: { inputs: () => ({ a: randn([4, 1]), b: randn([2, 1, 3]) }), fn: ({ a, b }) => T.sub(a, b) },
  mul: { inputs: () => ({ a: randn([2, 3, 4]), b: randn([4]) }), fn: ({ a, b }) => T.mul(a, b) },
  div: { inputs: () => ({ a: randn([3, 4]), b: awayFrom([2, 1, 4], 0, 0.5) }), fn: ({ a, b }) => T.div(a, b) },
  divScalarNumerator: { inputs: () => ({ b: awayFrom([5], 0, 0.5) }), fn: ({ b }) => T.div(2, b) },
  neg: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.neg(x) },
  pow: { inputs: () => ({ a: positive([3, 4]), b: randn([1, 4]) }), fn: ({ a, b }) => T.pow(a, b) },
  powScalar: { inputs: () => ({ x: positive([3, 4]) }), fn: ({ x }) => T.pow(x, 2.5) },
  exp: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.exp(x) },
  log: { inputs: () => ({ x: positive([3, 4]) }), fn: ({ x }) => T.log(x) },
  sqrt: { inputs: () => ({ x: positive([3, 4]) }), fn: ({ x }) => T.sqrt(x) },
  rsqrt: { inputs: () => ({ x: positive([3, 4]) }), fn: ({ x }) => T.rsqrt(x) },
  tanh: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.tanh(x) },
  sigmoid: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.sigmoid(x) },
  sin: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.sin(x) },
  cos: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.cos(x) },
  square: { inputs: () => ({ x: randn([3, 4]) }), fn: ({ x }) => T.square(x) },
  reciprocal: { inputs: () => ({ x: awayFrom([3, 4], 0, 0.5) }), fn: ({ x }) => T.reciprocal(x) },
  abs: { inputs: () => ({ x: awayFrom([3, 4]) }), fn: ({ x }) => T.abs(x), eps: 1e-3 },
  clamp: {
    inputs: () => ({ x: T.fromArray([-1.2, -0.6, -0.4, 0, 0.3, 0.65, 0.75, 2, -0.2, 0.1, 1.1, -3], [3, 4]) }),
    fn: ({ x }) => T.clamp(x, -0.5, 0.7), eps: 1e-3,
  },
  maximum: { inputs: () => ({ a: distinct([3, 4]), b: T.add(distinct([4]), 0.033) }), fn: ({ a, b }) => T.maximum(a, b), eps: 1e-3 },
  minimum: { inputs: () => ({ a: distinct([3, 4]), b: T.add(distinct([3, 1]), 0.033) }), fn: ({ a, b }) => T.minimum(a, b), eps: 1e-3 },
  where: {
    inputs: () => ({ cond: mask01([3, 1, 4]), a: randn([3, 2, 4]), b: randn([2, 1]) }),
    fn: ({ cond, a, b }) => T.where(cond, a, b), grad: ['a', 'b'],
  },
  maskedFill: { inputs: () => ({ x: randn([2, 3, 4]), m: mask01([3, 4], 0.4) }), fn: ({ x, m }) => T.maskedFill(x, m, -2), grad: ['x'] },
  relu: { inputs: () => ({ x: awayFrom([3, 5]) }), fn: ({ x }) => T.relu(x), eps: 1e-3 },
  gelu: { inputs: () => ({ x: randn([3, 5], 2) }), fn: ({ x }) => T.gelu(x) },
  geluTanh: { inputs: () => ({ x: randn([3, 5], 2) }), fn: ({ x }) => T.gelu(x, 'tanh') },
  quickGelu: { inputs: () => ({ x: randn([3, 5], 2) }), fn: ({ x }) => T.quickGelu(x) },
  silu: { inputs: () => ({ x: randn([3, 5], 2) }), fn: ({ x }) => T.silu(x) },
  matmul: { inputs: () => ({ a: randn([2, 1, 3, 4]), b: randn([2, 4, 3]) }), fn: ({ a, b }) => T.matmul(a, b) },
  matmulTransposed: {
    inputs: () => ({ a: randn([4, 3]), b: randn([2, 5, 4]) }),
    fn: ({ a, b }) => T.matmul(T.transpose(a), T.transpose(b)),
  },
  matmulSharedWeight: { inputs: () => ({ a: randn([2, 3, 4]), b: randn([4, 2]) }), fn: ({ a, b }) => T.matmul(a, b) },
  matmulVector: { inputs: () => ({ a: randn([4]), b: randn([2, 4, 3]) }), fn: ({ a, b }) => T.matmul(a, b) },
  linear: { inputs: () => ({ x: randn([2, 3, 4]), w: randn([5, 4]), b: randn([5]) }), fn: ({ x, w, b }) => T.linear(x, w, b) },
  conv2d: {
    inputs: () => ({ x: randn([2, 2, 5, 5]), w: randn([3, 2, 3, 3]), b: randn([3]) }),
    fn: ({ x, w, b }) => T.conv2d(x, w, b, { stride: 2, padding: 1 }),
  },
  conv2dRect: {
    inputs: () => ({ x: randn([1, 2, 4, 5]), w: randn([2, 2, 2, 3]) }),
    fn: ({ x, w }) => T.conv2d(x, w, null, { stride: [1, 2], padding: [1, 0] }),
  },
  upsampleNearest: { inputs: () => ({ x: randn([1, 2, 2, 3]) }), fn: ({ x }) => T.upsampleNearest(x, 2) },
  avgPool2d: { inputs: () => ({ x: randn([1, 2, 4, 6]) }), fn: ({ x }) => T.avgPool2d(x, 2) },
  groupNorm: {
    inputs: () => ({ x: randn([2, 4, 2, 3]), w: randn([4]), b: randn([4]) }),
    fn: ({ x, w, b }) => T.groupNorm(x, 2, w, b, 1e-5),
  },
  layerNorm: { inputs: () => ({ x: randn([3, 6]), w: randn([6]), b: randn([6]) }), fn: ({ x, w, b }) => T.layerNorm(x, w, b) },
  layerNormNoAffine: { inputs: () => ({ x: randn([3, 6]) }), fn: ({ x }) => T.layerNorm(x, null, null) },
  rmsNorm: { inputs: () => ({ x: randn([3, 6]), w: randn([6]) }), fn: ({ x, w }) => T.rmsNorm(x, w) },
  softmax: { inputs: () => ({ x: randn([2, 3, 4]) }), fn: ({ x }) => T.softmax(x, 1) },
  logSoftmax: { inputs: () => ({ x: randn([3, 5]) }), fn: ({ x }) => T.logSoftmax(x, -1) },
  attention: {
    inputs: () => ({ q: randn([1, 2, 3, 4]), k: randn([1, 2, 4, 4]), v: randn([1, 2, 4, 3]) }),
    fn: ({ q, k, v }) => T.scaledDotProductAttention(q, k, v),
  },
  attentionCausalGqa: {
    inputs: () => ({ q: randn([1, 4, 3, 4]), k: randn([1, 2, 3, 4]), v: randn([1, 2, 3, 4]) }),
    fn: ({ q, k, v }) => T.scaledDotProductAttention(q, k, v, { causal: true }),
  },
  attentionMask: {
    inputs: () => {
      const mask = randn([3, 4]);
      mask.data[1] = -Infinity;
      mask.data[6] = -Infinity;
      return { q: randn([2, 1, 3, 4]), k: randn([2, 1, 4, 4]), v: randn([2, 1, 4, 2]), mask };
    },
    fn: ({ q, k, v, mask }) => T.scaledDotProductAttention(q, k, v, { mask }), grad: ['q', 'k', 'v'],
  },
  embedding: { inputs: () => ({ w: randn([5, 3]), ids: ints([0, 2, 2, 4, 1, 2], [2, 3]) }), fn: ({ w, ids }) => T.embedding(w, ids) },
  cat: { inputs: () => ({ a: randn([2, 1, 3]), b: randn([2, 2, 3]) }), fn: ({ a, b }) => T.cat([a, b, a], 1) },
  stack: { inputs: () => ({ a: randn([2, 3]), b: randn([2, 3]) }), fn: ({ a, b }) => T.stack([a, b], 2) },
  split: { inputs: () => ({ x: randn([3, 5]) }), fn: ({ x }) => T.split(x, [1, 4], 1) },
  chunk: { inputs: () => ({ x: randn([7, 2]) }), fn: ({ x }) => T.chunk(x, 3, 0) },
  sum: { inputs: () => ({ x: randn([2, 3, 4]) }), fn: ({ x }) => T.sum(x, [0, 2]) },
  sumAll: { inputs: () => ({ x: randn([2, 3]) }), fn: ({ x }) => T.sum(x) },
  mean: { inputs: () => ({ x: randn([2, 3, 4]) }), fn: ({ x }) => T.mean(x, 1, true) },
  max: { inputs: () => ({ x: distinct([3, 4, 2]) }), fn: ({ x }) => T.max(x, [0, 2]), eps: 1e-3 },
  min: { inputs: () => ({ x: distinct([3, 4]) }), fn: ({ x }) => T.min(x, -1), eps: 1e-3 },
  crossEntropy: {
    inputs: () => ({ logits: randn([5, 4], 2), t: ints([1, -100, 3, 0, 3], [5]) }),
    fn: ({ logits, t }) => T.crossEntropy(logits, t),
  },
  crossEntropyNone: {
    inputs: () => ({ logits: randn([2, 2, 4]), t: ints([1, 2, -1, 0], [2, 2]) }),
    fn: ({ logits, t }) => T.crossEntropy(logits, t, { ignoreIndex: -1, reduction: 'none' }),
  },
  mseLoss: { inputs: () => ({ a: randn([3, 4]), b: randn([3, 4]) }), fn: ({ a, b }) => T.mseLoss(a, b) },
  rope: {
    inputs: () => ({ x: randn([2, 3, 4]) }),
    fn: ({ x }) => {
      const { cos, sin } = T.ropeTables(3, 4, 100);
      return T.rope(x, cos, sin);
    },
  },
  dropout: {
    // A fresh generator per call gives the same mask on every evaluation.
    inputs: () => ({ x: randn([4, 5]) }),
    fn: ({ x }) => T.dropout(x, 0.3, true, new T.Generator(9)),
  },
  views: {
    inputs: () => ({ x: randn([2, 3, 4]) }),
    fn: ({ x }) => T.reshape(T.narrow(T.permute(x, [2, 0, 1]), 0, 1, 2), [4, 3]),
  },
  expandSqueeze: {
    inputs: () => ({ x: randn([3, 1]) }),
    fn: ({ x }) => T.mul(T.slice(T.squeeze(T.unsqueeze(T.expand(x, [2, 3, 4]), 0), 0), 2, 1, 3), T.unsqueeze(T.transpose(x), 2)),
  },
  contiguousClone: {
    inputs: () => ({ x: randn([3, 4]) }),
    fn: ({ x }) => T.mul(T.contiguous(T.transpose(x)), T.clone(T.transpose(x))),
  },
};

for (const be of BACKENDS) {
  for (const [name, c] of Object.entries(CHECKS)) {
    test(`gradcheck ${name} (${be})`, () => withBackend(be, () => gradcheck(name, c)));
  }
}
