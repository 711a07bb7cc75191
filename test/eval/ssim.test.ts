// SSIM against scikit-image's structural_similarity (fixtures from
// scripts/fixtures/make_eval_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ssim } from '../../src/eval/ssim.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import * as T from '../../src/tensor/index.js';

// Tolerance: both sides are float64 on the same float32 pixels; only summation order differs
// (measured ~1e-15), and the golden was printed in full precision to JSON.
const TOL = 1e-5;
const pairs = readSafetensors('test/fixtures/eval/pairs.safetensors');
const golden = JSON.parse(readFileSync('test/fixtures/eval/pairs.json', 'utf8')) as Record<string, number[]>;

function assertAllClose(ours: number[], ref: number[], label: string): void {
  assert.equal(ours.length, ref.length, `${label}: ${ours.length} values vs ${ref.length}`);
  const errs = ours.map((v, i) => Math.abs(v - ref[i]));
  console.log(`${label}: ours ${ours.map((v) => v.toFixed(6)).join(', ')}; max abs err ${Math.max(...errs).toExponential(2)}`);
  errs.forEach((e, i) => assert.ok(e <= TOL, `${label}[${i}]: ours ${ours[i]} skimage ${ref[i]} (err ${e})`));
}

test('ssim matches skimage on 64x64 pairs (noisy, shifted, unrelated)', () => {
  assertAllClose(ssim(pairs.get('a')!, pairs.get('b')!), golden.ssim, 'ssim 64x64');
});

test('ssim matches skimage on a non-square 50x62 pair', () => {
  assertAllClose(ssim(pairs.get('a_odd')!, pairs.get('b_odd')!), golden.ssim_odd, 'ssim 50x62');
});

test('ssim is symmetric, 1 for identical images and below 1 otherwise', () => {
  const a = pairs.get('a')!, b = pairs.get('b')!;
  for (const v of ssim(a, a)) assert.ok(Math.abs(v - 1) < 1e-12, `ssim(a, a) = ${v}`);
  const ab = ssim(a, b), ba = ssim(b, a);
  ab.forEach((v, i) => {
    assert.ok(Math.abs(v - ba[i]) < 1e-12, `ssim not symmetric: ${v} vs ${ba[i]}`);
    assert.ok(v < 0.99, `distinct images scored ${v}`);
  });
});

test('ssim rejects bad shapes with clear errors', () => {
  const x = T.rand([1, 3, 16, 16]);
  assert.throws(() => ssim(x, T.rand([1, 3, 16, 17])), /ssim: image shapes differ: \[1, 3, 16, 16\] vs \[1, 3, 16, 17\]/);
  assert.throws(() => ssim(T.rand([3, 16, 16]), T.rand([3, 16, 16])), /ssim: expected \[B, C, H, W\]/);
  assert.throws(() => ssim(T.rand([1, 3, 6, 16]), T.rand([1, 3, 6, 16])), /at least 7x7/);
});
