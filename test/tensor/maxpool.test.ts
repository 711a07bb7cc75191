// maxPool2d against F.max_pool2d (test/fixtures/eval/maxpool.safetensors, written by
// scripts/fixtures/make_eval_fixtures.py): forward and the gradient of sum(y * w), then a
// finite-difference check of the backward independent of PyTorch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readSafetensors } from '../../src/io/safetensors.js';
import * as T from '../../src/tensor/index.js';
import { assertClose } from './helpers.js';

// Max pooling copies values and routes gradients: both must match exactly.
const EXACT = { rtol: 0, atol: 0 };
const fx = readSafetensors('test/fixtures/eval/maxpool.safetensors');
const cases: [string, number, number][] = [['k3s2', 3, 2], ['k2s2', 2, 2], ['ties', 3, 2]];

for (const [name, k, s] of cases) {
  test(`maxPool2d ${name} (kernel ${k}, stride ${s}) matches torch forward and gradient`, () => {
    const x = fx.get(`${name}.x`)!.clone().requiresGrad_();
    const y = T.maxPool2d(x, k, s);
    const ref = fx.get(`${name}.y`)!;
    assert.deepEqual(y.shape, ref.shape, `${name}: output shape`);
    assertClose(y.toArray(), ref.toArray(), EXACT, `${name} forward`);
    y.mul(fx.get(`${name}.w`)!).sum().backward();
    assertClose(x.grad!.toArray(), fx.get(`${name}.gx`)!.toArray(), EXACT, `${name} grad`);
  });
}

test('maxPool2d output sizes follow the floor rule (AlexNet on 64x64: 15 -> 7 -> 3)', () => {
  assert.deepEqual(T.maxPool2d(T.zeros([2, 4, 15, 15]), 3, 2).shape, [2, 4, 7, 7]);
  assert.deepEqual(T.maxPool2d(T.zeros([2, 4, 7, 7]), 3, 2).shape, [2, 4, 3, 3]);
  assert.deepEqual(T.maxPool2d(T.zeros([3, 14, 11]), 3, 2).shape, [3, 6, 5]);
  assert.deepEqual(T.maxPool2d(T.zeros([1, 1, 5, 4]), 2).shape, [1, 1, 2, 2]);
});

test('maxPool2d reads non-contiguous inputs', () => {
  const x = fx.get('k3s2.x')!; // [2, 3, 15, 12]
  const strided = x.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]);
  assert.equal(strided.isContiguous, false);
  assertClose(T.maxPool2d(strided, 3, 2).toArray(), fx.get('k3s2.y')!.toArray(), EXACT, 'strided forward');
});

test('maxPool2d gradient matches finite differences', () => {
  // Distinct values 0.1 apart, so a step of 1e-3 never changes which element is the maximum.
  const n = 1 * 2 * 9 * 8;
  const gen = new T.Generator(7);
  const order = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = gen.randint(0, i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const x = T.fromArray(order.map((v) => (v - n / 2) * 0.1), [1, 2, 9, 8]).requiresGrad_();
  const w = T.randn([1, 2, 4, 3], { generator: gen });
  const loss = (t: T.Tensor) => {
    const y = T.maxPool2d(t, 3, 2).toArray(), wd = w.toArray();
    let sum = 0;
    for (let i = 0; i < y.length; i++) sum += y[i] * wd[i];
    return sum;
  };
  T.maxPool2d(x, 3, 2).mul(w).sum().backward();
  const analytic = x.grad!.toArray();
  const eps = 1e-3, numeric = new Float64Array(n);
  const d = x.data;
  for (let i = 0; i < n; i++) {
    const v = d[i];
    d[i] = v + eps;
    const up = loss(x);
    d[i] = v - eps;
    const down = loss(x);
    d[i] = v;
    numeric[i] = (up - down) / (2 * eps);
  }
  assertClose(analytic, numeric, { rtol: 1e-3, atol: 1e-3 }, 'maxPool2d finite differences');
});

test('maxPool2d rejects inputs smaller than the kernel and bad arguments', () => {
  assert.throws(() => T.maxPool2d(T.zeros([1, 1, 2, 5]), 3, 2), /maxPool2d: kernel 3 larger than input 2x5/);
  assert.throws(() => T.maxPool2d(T.zeros([4]), 2), /maxPool2d: expected \[\.\.\., H, W\]/);
  assert.throws(() => T.maxPool2d(T.zeros([1, 1, 4, 4]), 0), /positive integers/);
});
