import assert from 'node:assert/strict';
import { test } from 'node:test';
import { augmentFeatures, drawAugment, featureStats } from '../../src/train/recipes/cond-augment.js';
import * as T from '../../src/tensor/index.js';

const close = (a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5) => {
  assert.equal(a.length, b.length);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `at ${i}: ${a[i]} vs ${b[i]}`);
};

test('featureStats: the mean per token and the spread about it per channel', () => {
  // two samples, 1 token, 2 channels: channel 0 is 1 and 3, channel 1 is 0 and 0
  const s = featureStats(T.fromArray(new Float32Array([1, 0, 3, 0]), [2, 1, 2]));
  close(s.mean, [2, 0]);
  close(s.std, [1, 0]);
});

test('augmentFeatures: each part of the degradation does what it says', () => {
  const g = 4, c = 3, per = g * g * c;
  const rng = new T.Generator(3);
  const f = T.randn([3, g * g, c], { generator: rng });
  const mean = Float32Array.from({ length: per }, (_, i) => 0.1 * (i % 7));
  const stats = { mean, std: new Float32Array(c).fill(1) };
  const a = f.toArray() as Float32Array;
  const row = (x: Float32Array, b: number) => x.subarray(b * per, (b + 1) * per);

  // a null draw copies the row; lambda 1, shrink 1, sigma 0 is the identity
  const same = augmentFeatures(f, stats, [null, { lambda: 1, shrink: 1, sigma: 0 }, null], rng).toArray() as Float32Array;
  close(same, a);

  // lambda 0: the next coarser scale repeated over each 2x2 block
  const coarse = row(augmentFeatures(f, stats, [{ lambda: 0, shrink: 1, sigma: 0 }, null, null], rng).toArray() as Float32Array, 0);
  const want = new Float32Array(per);
  for (let y = 0; y < g; y++) for (let x = 0; x < g; x++) for (let ch = 0; ch < c; ch++) {
    const y0 = y - (y % 2), x0 = x - (x % 2);
    const at = (yy: number, xx: number) => (yy * g + xx) * c + ch;
    want[at(y, x)] = (a[at(y0, x0)] + a[at(y0, x0 + 1)] + a[at(y0 + 1, x0)] + a[at(y0 + 1, x0 + 1)]) / 4;
  }
  close(coarse, want);

  // shrink halves the deviation from the mean
  const half = row(augmentFeatures(f, stats, [null, null, { lambda: 1, shrink: 0.5, sigma: 0 }], rng).toArray() as Float32Array, 2);
  close(half, Array.from(row(a, 2), (v, i) => mean[i] + 0.5 * (v - mean[i])));

  // sigma adds noise of that spread (times the channel's std)
  const noisy = row(augmentFeatures(f, stats, [{ lambda: 1, shrink: 1, sigma: 0.5 }, null, null], rng).toArray() as Float32Array, 0);
  let ss = 0;
  for (let i = 0; i < per; i++) ss += (noisy[i] - a[i]) ** 2;
  const sd = Math.sqrt(ss / per);
  assert.ok(sd > 0.3 && sd < 0.7, `noise spread ${sd}`);
});

test('augmentFeatures: at one token the coarser scale is the mean; draws stay in their ranges', () => {
  const stats = { mean: new Float32Array([5, -5]), std: new Float32Array([1, 1]) };
  const f = T.fromArray(new Float32Array([1, 1]), [1, 1, 2]);
  close(augmentFeatures(f, stats, [{ lambda: 0, shrink: 1, sigma: 0 }], new T.Generator(0)).toArray(), [5, -5]);
  const rng = new T.Generator(1);
  for (let i = 0; i < 200; i++) {
    const d = drawAugment(rng);
    assert.ok(d.lambda >= 0 && d.lambda <= 1 && d.shrink >= 0.5 && d.shrink <= 1 && d.sigma >= 0 && d.sigma <= 0.5);
  }
  assert.throws(() => augmentFeatures(T.zeros([1, 3, 2]), stats, [null], rng), /square grid/);
});
