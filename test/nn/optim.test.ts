import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdamW, clipGradNorm, EMA, Linear, LrScheduler, linearDecay, parameter, warmupCosine } from '../../src/nn/index.js';
import { fromArray, randn, tidy } from '../../src/tensor/index.js';

test('AdamW matches a hand-computed first step with decoupled weight decay', () => {
  const p = parameter([2], (t) => t.data.set([1, -2]));
  p.grad = fromArray([0.5, 0.25]);
  const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
  opt.step();
  // step 1: m_hat = g, v_hat = g^2, update = g/|g| = sign(g); p = p(1 - lr*wd) - lr*sign(g)
  const want = [1 * (1 - 0.01) - 0.1, -2 * (1 - 0.01) - 0.1];
  p.toArray().forEach((v, i) => assert.ok(Math.abs(v - want[i]) < 1e-6, `${v} vs ${want[i]}`));
});

test('parameter groups keep their own learning rates under a schedule', () => {
  const a = parameter([1], (t) => t.data.fill(0)), b = parameter([1], (t) => t.data.fill(0));
  const opt = new AdamW([{ params: [a], lr: 1e-4 }, { params: [b], lr: 3e-5 }], { weightDecay: 0 });
  const sched = new LrScheduler(opt, warmupCosine({ warmupSteps: 4, totalSteps: 20 }));
  assert.ok(Math.abs(opt.groups[0].lr - 0.25e-4) < 1e-12 && Math.abs(opt.groups[1].lr - 0.75e-5) < 1e-12);
  a.grad = fromArray([1]);
  b.grad = fromArray([1]);
  opt.step();
  assert.ok(Math.abs(a.toArray()[0] + 0.25e-4) < 1e-9);
  assert.ok(Math.abs(b.toArray()[0] + 0.75e-5) < 1e-9);
  for (let i = 0; i < 3; i++) sched.step();
  assert.ok(Math.abs(opt.groups[0].lr - 1e-4) < 1e-12, 'peak after warm-up');
  assert.throws(() => new AdamW([{ params: [a], lr: 1 }, { params: [a], lr: 2 }]), /more than one group/);
});

test('schedules: warm-up + cosine and linear decay hit their end points', () => {
  const c = warmupCosine({ warmupSteps: 10, totalSteps: 110, minRatio: 0.1 });
  assert.equal(c(0), 0.1);
  assert.equal(c(9), 1);
  assert.ok(Math.abs(c(10) - 1) < 1e-12);
  assert.ok(Math.abs(c(60) - 0.55) < 1e-12);
  assert.ok(Math.abs(c(110) - 0.1) < 1e-12);
  const l = linearDecay({ totalSteps: 100 });
  assert.equal(l(0), 1);
  assert.equal(l(50), 0.5);
  assert.equal(l(200), 0);
});

test('clipGradNorm scales gradients to the max norm and returns the norm before', () => {
  const a = parameter([2], (t) => t.data.fill(0)), b = parameter([1], (t) => t.data.fill(0));
  a.grad = fromArray([3, 0]);
  b.grad = fromArray([4]);
  assert.ok(Math.abs(clipGradNorm([a, b], 1) - 5) < 1e-9);
  assert.ok(Math.abs(a.grad.toArray()[0] - 0.6) < 1e-5 && Math.abs(b.grad.toArray()[0] - 0.8) < 1e-5);
  assert.ok(Math.abs(clipGradNorm([a, b], 10) - 1) < 1e-5);
  assert.ok(Math.abs(a.grad.toArray()[0] - 0.6) < 1e-5, 'no scaling below the max');
});

test('AdamW trains a linear regression; EMA follows the weights', () => {
  const fc = new Linear(3, 1);
  const opt = new AdamW(fc.parameters(), { lr: 0.05, weightDecay: 0 });
  const ema = new EMA(fc.parameters(), 0.9);
  const x = randn([64, 3]), wTrue = fromArray([[1], [-2], [0.5]]);
  const y = x.matmul(wTrue).add(0.3);
  let first = 0, last = 0;
  for (let i = 0; i < 300; i++) {
    const loss = tidy(() => {
      const l = fc.forward(x).sub(y).square().mean();
      l.backward();
      return l;
    });
    if (i === 0) first = loss.item();
    last = loss.item();
    loss.dispose();
    opt.step();
    opt.zeroGrad();
    ema.update();
  }
  assert.ok(last < first * 1e-3, `loss ${first} -> ${last}`);
  const live = fc.weight.toArray();
  ema.swap();
  const avg = fc.weight.toArray();
  assert.notDeepEqual(avg, live);
  for (let i = 0; i < 3; i++) assert.ok(Math.abs(avg[i] - live[i]) < 0.05);
  ema.swap();
  assert.deepEqual(fc.weight.toArray(), live);
});
