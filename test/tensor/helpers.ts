// Shared by the engine tests: closeness checks that print the first mismatches, and backends.
import assert from 'node:assert/strict';
import { hasNativeBackend } from '../../src/backend/index.js';

export interface Tolerance {
  rtol: number;
  atol: number;
}

/** The default: float32 results of differently ordered sums agree to about 1e-6 relative. */
export const DEFAULT_TOL: Tolerance = { rtol: 1e-4, atol: 1e-5 };

/** Backends under test; the native one is skipped (with a note) only where the addon cannot load. */
export const BACKENDS: ('native' | 'reference')[] = hasNativeBackend() ? ['native', 'reference'] : ['reference'];
if (!hasNativeBackend()) console.log('note: native addon not loaded; testing the reference backend only');

/**
 * Counts elements with |ours - ref| > atol + rtol * |ref| (NaN/Inf must match exactly) and
 * prints the first few, llm.c style.
 */
export function mismatches(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, label: string): number {
  let count = 0, worst = 0;
  const shown: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    const a = ours[i], b = ref[i];
    let bad: boolean;
    if (!Number.isFinite(b) || !Number.isFinite(a)) bad = !Object.is(a, b);
    else {
      const err = Math.abs(a - b);
      bad = err > tol.atol + tol.rtol * Math.abs(b);
      if (bad) worst = Math.max(worst, err);
    }
    if (bad) {
      count++;
      if (shown.length < 6) shown.push(`[${i}] ours ${a} ref ${b}`);
    }
  }
  if (count > 0) console.log(`${label}: ${count}/${ref.length} mismatches (worst abs err ${worst.toExponential(2)}): ${shown.join(', ')}`);
  return count;
}

/** Asserts two arrays agree within tol, with a message naming the label and the first mismatches. */
export function assertClose(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: Tolerance, label: string): void {
  assert.equal(ours.length, ref.length, `${label}: length ${ours.length} vs ${ref.length}`);
  const n = mismatches(ours, ref, tol, label);
  assert.equal(n, 0, `${label}: ${n} of ${ref.length} elements outside rtol ${tol.rtol} atol ${tol.atol}`);
}
