import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Linear } from '../../src/nn/layers.js';
import { AdamW } from '../../src/nn/optim.js';
import * as T from '../../src/tensor/index.js';
import { latestCheckpoint, runTraining } from '../../src/train/run.js';

function setup(seed: number) {
  T.manualSeed(seed);
  const model = new Linear(4, 2);
  const opt = new AdamW(model.parameters(), { lr: 0.2 });
  const target = T.fromArray([[1, -2, 0.5, 3], [0, 1, -1, 2]]).keep();
  const step = (_i: number, rng: T.Generator) => {
    const x = T.randn([8, 4], { generator: rng });
    const y = T.matmul(x, target.transpose());
    const loss = T.mseLoss(model.forward(x), y);
    loss.backward();
    return { loss: loss.item() };
  };
  return { model, opt, step };
}

test('a run stopped and resumed ends with the same weights as an uninterrupted one', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-run-'));
  try {
    const a = setup(3);
    const full = await runTraining({ name: 'a', dir: join(dir, 'a'), modules: { m: a.model }, optimizer: a.opt, totalSteps: 30, step: a.step, progress: false });
    assert.equal(full.step, 30);
    const b = setup(3);
    await runTraining({ name: 'b', dir: join(dir, 'b'), modules: { m: b.model }, optimizer: b.opt, totalSteps: 12, step: b.step, progress: false });
    // a fresh process would start from new random weights: simulate with another seed
    const c = setup(99);
    const resumed = await runTraining({ name: 'b', dir: join(dir, 'b'), modules: { m: c.model }, optimizer: c.opt, totalSteps: 30, step: c.step, progress: false });
    assert.equal(resumed.step, 30);
    const wa = a.model.weight.toArray(), wc = c.model.weight.toArray();
    for (let i = 0; i < wa.length; i++) assert.ok(Math.abs(wa[i] - wc[i]) < 1e-6, `weight ${i}: ${wa[i]} vs ${wc[i]}`);
    assert.ok(full.last.loss < 0.5, `loss fell to ${full.last.loss}`);
    const ckpt = latestCheckpoint(join(dir, 'b'));
    assert.ok(ckpt && ckpt.endsWith('ckpt-30'));
    assert.ok(existsSync(join(dir, 'b', 'loss.png')));
    const log = readFileSync(join(dir, 'b', 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(log.map((r) => r.step), [10, 12, 20, 30]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
