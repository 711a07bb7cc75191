import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RidgeAccumulator, ridgeSolve } from '../../src/nn/ridge.js';
import * as T from '../../src/tensor/index.js';

test('ridge: recovers an exact linear map with a tiny lambda, accumulated over batches', () => {
  const k = 5, m = 3, n = 200, g = new T.Generator(7);
  const X = T.randn([n, k], { generator: g }), W = T.randn([k, m], { generator: g });
  const Y = T.matmul(X, W);
  const acc = new RidgeAccumulator(k, m);
  const x = X.toArray(), y = Y.toArray();
  acc.add(x.subarray(0, 120 * k), y.subarray(0, 120 * m), 120);
  acc.add(x.subarray(120 * k), y.subarray(120 * m), 80);
  assert.equal(acc.rows, n);
  const got = acc.solve(1e-9), want = W.toArray();
  want.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < 1e-4, `w[${i}] ${got[i]} vs ${v}`));
});

test('ridge: lambda shrinks toward zero as the closed form says (1-d: w = xy / (xx + lambda))', () => {
  const w = ridgeSolve([4], [8], 1, 1, 4);
  assert.ok(Math.abs(w[0] - 1) < 1e-7);
  assert.throws(() => ridgeSolve([0], [1], 1, 1, 0), /not positive definite/);
  assert.throws(() => new RidgeAccumulator(2, 1).add([1, 2, 3], [1], 1), /expected 1 x 2/);
});
