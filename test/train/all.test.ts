import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { TRAIN_ALL_STEPS, trainAll } from '../../src/train/recipes/all.js';
import { MLLM_TASKS, mllmRunDir } from '../../src/train/recipes/mllm.js';
import { buildSubset } from '../data/subset.js';

let data: string, runs: string;

before(async () => {
  ({ dir: data } = await buildSubset());
  runs = mkdtempSync(join(tmpdir(), 'puma-all-'));
});
after(() => {
  rmSync(data, { recursive: true, force: true });
  rmSync(runs, { recursive: true, force: true });
});

test('puma train all: every stage in order at a fraction of its steps, then resumes with nothing left to do', async () => {
  await assert.rejects(trainAll({ data, runs, stepsFactor: 0 }), /--steps-factor must be a number in \(0, 1\]/);
  await assert.rejects(trainAll({ data, runs, stepsFactor: 2 }), /--steps-factor/);
  const seen: string[] = [];
  // 2 / 10000 of the recipe: one step for most stages, two to five for the 7800- to 26000-step decoders, two for t2i (8000) and understand (7500)
  const done = await trainAll({ data, runs, stepsFactor: 2e-4, progress: false, onStage: (s) => seen.push(s) });
  const order = ['clip', 'vae', 'decoder f0', 'decoder f4', 'decoder f1', 'decoder f2', 'decoder f3', 'mllm pretrain', ...MLLM_TASKS.map((t) => `mllm instruct ${t}`)];
  assert.deepEqual(done.map((d) => d.stage), order);
  assert.deepEqual(seen, order);
  assert.deepEqual(done.map((d) => d.result.step), [1, 1, 2, 5, 1, 2, 4, 1, 2, 1, 1, 1, 2]);
  assert.equal(TRAIN_ALL_STEPS.decoders[4], 26000);
  assert.ok(done.every((d) => !d.result.stopped));
  // the instruction stages carry train all's additions in their recorded recipes
  const recipe = (task: (typeof MLLM_TASKS)[number]) => JSON.parse(readFileSync(join(mllmRunDir(runs, task), 'config.json'), 'utf8')).recipe;
  assert.equal(recipe('edit').init, 't2i');
  assert.equal(recipe('edit').inputResidual, true);
  assert.deepEqual(recipe('cond').scaleWeightsF4toF0, [1, 1, 2, 4, 8]);
  assert.deepEqual(recipe('canny').scaleWeightsF4toF0, [8, 4, 2, 4, 8]);
  assert.equal(recipe('canny').inputResidual, undefined);
  assert.equal(recipe('t2i').selfFeed, 0.75);
  // everything a bundle needs is there
  const puma = loadPuma(runs, data);
  assert.deepEqual(puma.decoders.map((d) => d !== undefined && d !== null), [true, true, true, true, true]);
  // again: each stage is at its step count already, so nothing trains and no log grows
  const logLines = () => ['clip', 'decoder-4', 'mllm-t2i', 'mllm-understand'].map((d) => readFileSync(join(runs, d, 'log.jsonl'), 'utf8').trim().split('\n').length);
  const before = logLines();
  const again = await trainAll({ data, runs, stepsFactor: 2e-4, progress: false });
  assert.deepEqual(again.map((d) => d.result.step), done.map((d) => d.result.step));
  assert.deepEqual(logLines(), before);
});
