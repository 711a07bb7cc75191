// Shared helpers for the scheduler tests (fixtures from scripts/fixtures/make_scheduler_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const FIXTURES = 'test/fixtures/diffusion';

export function fixture<T = any>(name: string): T {
  const j = JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8'));
  assert.equal(j.magic, 'puma-scheduler-fixtures', `${name}.json: magic`);
  assert.equal(j.version, 1, `${name}.json: version`);
  return j as T;
}

/**
 * Asserts |ours - ref| <= atol + rtol |ref| elementwise, printing the first mismatches and the
 * largest error. Returns the largest relative-to-tolerance error ratio (for reporting).
 */
export function assertAllClose(ours: ArrayLike<number>, ref: ArrayLike<number>, label: string, atol: number, rtol: number): number {
  assert.equal(ours.length, ref.length, `${label}: length ${ours.length} vs ${ref.length}`);
  let bad = 0, worst = 0;
  const shown: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const err = Math.abs(ours[i] - ref[i]);
    const tol = atol + rtol * Math.abs(ref[i]);
    const ratio = Number.isNaN(err) ? Infinity : err / tol;
    worst = Math.max(worst, ratio);
    if (!(err <= tol)) {
      bad++;
      if (shown.length < 5) shown.push(`[${i}] ours ${ours[i]} ref ${ref[i]} (err ${err.toExponential(2)})`);
    }
  }
  if (bad) console.log(`${label}: ${bad}/${ref.length} mismatches: ${shown.join(', ')}`);
  assert.equal(bad, 0, `${label}: ${bad} values outside atol ${atol} rtol ${rtol}`);
  return worst;
}

export function meanStd(x: ArrayLike<number>): { mean: number; std: number } {
  let m = 0;
  for (let i = 0; i < x.length; i++) m += x[i];
  m /= x.length;
  let v = 0;
  for (let i = 0; i < x.length; i++) v += (x[i] - m) ** 2;
  return { mean: m, std: Math.sqrt(v / x.length) };
}
