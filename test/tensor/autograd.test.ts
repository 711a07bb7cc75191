// Autograd semantics: accumulation, noGrad, detach, leaf rules, errors, graph freeing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { withBackend } from '../../src/backend/index.js';
import * as T from '../../src/tensor/index.js';
import { BACKENDS } from './helpers.js';

const arr = (t: T.Tensor | null) => {
  assert.ok(t, 'expected a tensor');
  return Array.from(t.toArray());
};

test('gradients accumulate across two backward calls', () => {
  const x = T.fromArray([1, -2, 3]).requiresGrad_();
  T.sum(T.mul(x, x)).backward();
  assert.deepEqual(arr(x.grad), [2, -4, 6]);
  T.sum(T.mul(x, 3)).backward();
  assert.deepEqual(arr(x.grad), [5, -1, 9]);
});

test('a tensor used twice in one graph gets the sum of both paths', () => {
  const x = T.fromArray([0.5, 2]).requiresGrad_();
  // y = x*x + x + exp(0)*x: dy/dx = 2x + 2
  const y = T.add(T.add(T.mul(x, x), x), T.mul(x, T.exp(T.zeros([2]))));
  T.sum(y).backward();
  assert.deepEqual(arr(x.grad), [3, 6]);
});

test('gradients flow through views back to the storage-sharing leaf', () => {
  const x = T.fromArray([1, 2, 3, 4, 5, 6], [2, 3]).requiresGrad_();
  const v = T.narrow(T.transpose(x), 0, 1, 2); // rows 1..2 of x^T: x[:, 1:3]^T
  T.sum(T.mul(v, T.fromArray([10, 20, 30, 40], [2, 2]))).backward();
  assert.deepEqual(arr(x.grad), [0, 10, 30, 0, 20, 40]);
  const y = T.fromArray([1, 2]).requiresGrad_();
  T.sum(T.expand(T.unsqueeze(y, 1), [2, 3])).backward();
  assert.deepEqual(arr(y.grad), [3, 3]);
});

test('noGrad records nothing and restores the previous mode, also when fn throws', () => {
  const x = T.randn([3]).requiresGrad_();
  const y = T.noGrad(() => {
    assert.equal(T.isGradEnabled(), false);
    return T.mul(T.exp(x), 2);
  });
  assert.equal(T.isGradEnabled(), true);
  assert.equal(y.requiresGrad, false);
  assert.equal(y.gradNode, null);
  assert.throws(() => T.noGrad(() => { throw new Error('boom'); }), /boom/);
  assert.equal(T.isGradEnabled(), true);
  assert.throws(() => y.backward(), /does not require grad/);
  // Nested: the inner scope does not re-enable recording.
  T.noGrad(() => T.noGrad(() => 0));
  assert.equal(T.isGradEnabled(), true);
});

test('detach shares storage but cuts the graph', () => {
  const x = T.fromArray([1, 2, 3]).requiresGrad_();
  const d = x.detach();
  assert.equal(d.requiresGrad, false);
  assert.equal(d.gradNode, null);
  assert.equal(d.storage, x.storage, 'detach must not copy');
  // y = x * detach(x): the gradient sees detach(x) as a constant, so dy/dx = x, not 2x.
  T.sum(T.mul(x, d)).backward();
  assert.deepEqual(arr(x.grad), [1, 2, 3]);
});

test('requiresGrad_ is for leaves and float32 only', () => {
  const x = T.randn([2]).requiresGrad_();
  const y = T.mul(x, 2);
  assert.throws(() => y.requiresGrad_(), /non-leaf/);
  assert.throws(() => T.zeros([2], 'int32').requiresGrad_(), /float32/);
  // A detached non-leaf may become a leaf.
  const z = y.detach().requiresGrad_();
  T.sum(T.mul(z, z)).backward();
  assert.equal(x.grad, null);
  assert.ok(z.grad);
});

test('backward on a non-scalar needs an explicit gradient', () => {
  const x = T.fromArray([1, 2, 3]).requiresGrad_();
  const y = T.mul(x, 2);
  assert.throws(() => y.backward(), /scalar/);
  y.backward(T.fromArray([1, 10, 100]));
  assert.deepEqual(arr(x.grad), [2, 20, 200]);
  assert.throws(() => T.zeros([1]).backward(), /does not require grad/);
});

test('a second backward through a freed graph throws instead of silently doing nothing', () => {
  const x = T.fromArray([1, 2]).requiresGrad_();
  const y = T.mul(x, x);
  const loss = T.sum(y);
  loss.backward();
  assert.throws(() => loss.backward(), /already freed/);
  assert.throws(() => T.sum(T.mul(y, 3)).backward(), /already freed/);
  assert.equal(y.grad, null, 'an intermediate must not collect a .grad');
  assert.deepEqual(arr(x.grad), [2, 4]);
});

test('only inputs that require grad receive gradients', () => {
  const a = T.fromArray([1, 2]).requiresGrad_();
  const b = T.fromArray([3, 4]);
  T.sum(T.mul(a, b)).backward();
  assert.deepEqual(arr(a.grad), [3, 4]);
  assert.equal(b.grad, null);
});

test('ties split the gradient evenly (maximum, max), as PyTorch does', () => {
  const a = T.fromArray([1, 5]).requiresGrad_(), b = T.fromArray([1, 2]).requiresGrad_();
  T.sum(T.maximum(a, b)).backward();
  assert.deepEqual(arr(a.grad), [0.5, 1]);
  assert.deepEqual(arr(b.grad), [0.5, 0]);
  const x = T.fromArray([1, 3, 3, 2]).requiresGrad_();
  T.max(x).backward();
  assert.deepEqual(arr(x.grad), [0, 0.5, 0.5, 0]);
});

test('backward frees every intermediate gradient: only the leaf grads stay alive', () => {
  const x = T.randn([4, 3]).requiresGrad_(), w = T.randn([5, 3]).requiresGrad_();
  const loss = T.mean(T.softmax(T.gelu(T.linear(x, w)), -1).mul(T.randn([4, 5])));
  const before = T.memoryStats().liveTensors;
  loss.backward();
  assert.equal(T.memoryStats().liveTensors, before + 2, 'backward left tensors other than x.grad and w.grad alive');
});

test('crossEntropy ignores ignoreIndex rows and averages over the rest', () => {
  const logits = T.fromArray([[0, 0], [5, 1], [0, 0]]).requiresGrad_();
  const loss = T.crossEntropy(logits, T.fromArray(new Int32Array([0, -100, 1]), [3], 'int32'));
  assert.ok(Math.abs(loss.item() - Math.log(2)) < 1e-6);
  loss.backward();
  assert.deepEqual(arr(logits.grad), [-0.25, 0.25, 0, 0, 0.25, -0.25]);
  // All rows ignored: loss 0 and zero gradient, not NaN.
  const l2 = T.fromArray([[1, 2]]).requiresGrad_();
  const z = T.crossEntropy(l2, T.fromArray(new Int32Array([-100]), [1], 'int32'));
  assert.equal(z.item(), 0);
  z.backward();
  assert.deepEqual(arr(l2.grad), [0, 0]);
});

test('dropout: rate, scaling, seeded masks, identity when not training', () => {
  const x = T.ones([20000]).requiresGrad_();
  const y = T.dropout(x, 0.25, true, new T.Generator(5));
  const v = y.toArray();
  let zeros = 0;
  for (const e of v) {
    if (e === 0) zeros++;
    else assert.ok(Math.abs(e - 1 / 0.75) < 1e-6, `kept value ${e} not scaled by 1/(1-p)`);
  }
  // Binomial(20000, 0.25): std 61, so +-400 is more than 6 sigma.
  assert.ok(Math.abs(zeros - 5000) < 400, `${zeros} zeros out of 20000 for p = 0.25`);
  T.sum(y).backward();
  assert.deepEqual(Array.from(x.grad!.toArray()), Array.from(v), 'gradient of dropout is its mask');
  assert.deepEqual(Array.from(T.dropout(x, 0.25, true, new T.Generator(5)).toArray()), Array.from(v));
  assert.equal(T.dropout(x, 0.25, false), x);
  assert.throws(() => T.dropout(x, 1.5), /p must be/);
});

test('shape errors name the shapes', () => {
  assert.throws(() => T.add(T.zeros([2, 3]), T.zeros([4])), /\[2, 3\].*\[4\]/);
  assert.throws(() => T.matmul(T.zeros([2, 3]), T.zeros([4, 2])), /inner dims/);
  assert.throws(() => T.reshape(T.zeros([6]), [4, -1]), /cannot reshape/);
  assert.throws(() => T.embedding(T.zeros([3, 2]), T.fromArray(new Int32Array([3]), [1], 'int32')), /out of range/);
});

test('gradients at kinks follow PyTorch (relu 0, abs 0, clamp bounds inclusive, pow at 0), on both backends', () => {
  for (const be of BACKENDS) {
    withBackend(be, () => {
      const grad = (f: (x: T.Tensor) => T.Tensor, values: number[]) => {
        const x = T.fromArray(values).requiresGrad_();
        T.sum(f(x)).backward();
        return arr(x.grad);
      };
      assert.deepEqual(grad(T.relu, [0, -1, 2]), [0, 0, 1], be);
      assert.deepEqual(grad(T.abs, [0, -1, 2]), [0, -1, 1], be);
      assert.deepEqual(grad((x) => T.clamp(x, -0.5, 0.75), [-0.5, 0.75, 1, -1]), [1, 1, 0, 0], be);
      assert.deepEqual(grad((x) => T.pow(x, 2), [0, 3]), [0, 6], be);
      assert.deepEqual(grad((x) => T.pow(x, 0), [0, 3]), [0, 0], be);
    });
  }
});

test('softmax-family ops are stable at extreme logits, on both backends', () => {
  for (const be of BACKENDS) {
    withBackend(be, () => {
      assert.deepEqual(arr(T.logSoftmax(T.fromArray([1000, 0]))), [0, -1000], be);
      assert.deepEqual(arr(T.softmax(T.fromArray([-Infinity, 0, -Infinity]))), [0, 1, 0], be);
      const s = arr(T.sigmoid(T.fromArray([-200, 200])));
      assert.ok(s[0] >= 0 && s[0] < 1e-30 && s[1] === 1, `${be} sigmoid ${s}`);
      const ce = T.crossEntropy(T.fromArray([[1000, 0, -1000]]), T.fromArray(new Int32Array([1]), [1], 'int32'));
      assert.ok(Math.abs(ce.item() - 1000) < 1e-3, `${be} crossEntropy ${ce.item()}`);
      // A query whose keys are all masked gives zeros, not NaN (and no NaN gradient).
      const q = T.ones([1, 1, 2, 2]).requiresGrad_();
      const mask = T.fromArray([-Infinity, -Infinity, 0, -Infinity], [2, 2]);
      const o = T.scaledDotProductAttention(q, T.ones([1, 1, 2, 2]), T.ones([1, 1, 2, 2]), { mask });
      assert.deepEqual(arr(o), [0, 0, 1, 1], be);
      T.sum(o).backward();
      assert.ok(arr(q.grad).every(Number.isFinite), `${be} attention grad not finite`);
    });
  }
});

test('where accepts an int32 mask as well as a float32 one, on both backends', () => {
  for (const be of BACKENDS) {
    withBackend(be, () => {
      const a = T.fromArray([1, 2, 3]), b = T.fromArray([10, 20, 30]);
      const maskI = T.fromArray(new Int32Array([1, 0, 1]), [3], 'int32'), maskF = T.fromArray([1, 0, 1]);
      assert.deepEqual(Array.from(T.where(maskI, a, b).toArray()), [1, 20, 3], be);
      assert.deepEqual(Array.from(T.where(maskF, a, b).toArray()), [1, 20, 3], be);
    });
  }
});

test('argmax treats NaN as the largest value, like torch.argmax', () => {
  for (const be of BACKENDS) {
    withBackend(be, () => {
      const x = T.fromArray([[1, NaN, 5, NaN], [2, 9, 3, 4]]);
      assert.deepEqual(Array.from(T.argmax(x, 1).toArray()), [1, 1], be);
    });
  }
});
