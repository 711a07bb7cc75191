// Shared helpers for the model golden tests (fixtures from scripts/fixtures/make_model_fixtures.py).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSafetensors } from '../../src/io/safetensors.js';
import type { Tensor } from '../../src/tensor/index.js';

export const FIXTURES = 'test/fixtures/models';
export const weightsPath = (name: string) => join(FIXTURES, `${name}.safetensors`);
export const fixtureIO = (name: string) => readSafetensors(join(FIXTURES, `${name}.io.safetensors`));
export const fixtureConfig = (name: string) => JSON.parse(readFileSync(join(FIXTURES, `${name}.config.json`), 'utf8'));

/**
 * Asserts |ours - ref| <= atol + rtol * |ref| everywhere, printing the first mismatches and the
 * largest error (llm.c style). Returns the max abs error.
 */
export function assertClose(ours: Tensor, ref: Tensor, label: string, atol = 1e-4, rtol = 1e-4): number {
  assert.deepEqual([...ours.shape], [...ref.shape], `${label}: shape`);
  const a = ours.toArray(), b = ref.toArray();
  let bad = 0, maxErr = 0;
  const shown: string[] = [];
  for (let i = 0; i < b.length; i++) {
    const err = Math.abs(a[i] - b[i]);
    if (!(err <= atol + rtol * Math.abs(b[i]))) {
      bad++;
      if (shown.length < 5) shown.push(`[${i}] ours ${a[i]} ref ${b[i]}`);
    }
    if (err > maxErr || Number.isNaN(err)) maxErr = Number.isNaN(err) ? Infinity : err;
  }
  if (bad) console.log(`${label}: ${bad}/${b.length} mismatches (max abs err ${maxErr}): ${shown.join(', ')}`);
  assert.equal(bad, 0, `${label}: ${bad} values outside atol ${atol} rtol ${rtol}`);
  return maxErr;
}
