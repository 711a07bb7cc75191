import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { EmojiWorld } from '../../src/data/emoji/world.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { evalReconstruction } from '../../src/eval/reconstruction.js';
import { exportBundle, importBundle, loadPuma } from '../../src/pipelines/bundle.js';
import { reconstruct } from '../../src/pipelines/reconstruct.js';
import { imageBatch } from '../../src/data/batches.js';
import { wordsOf } from '../../src/data/tokenizer/corpus.js';
import { trainClip } from '../../src/train/recipes/clip.js';
import { trainDecoder } from '../../src/train/recipes/decoder.js';
import { featureCache, loadFrozenStack, scaleFeatures } from '../../src/train/recipes/stack.js';
import { trainVae } from '../../src/train/recipes/vae.js';
import { latestCheckpoint } from '../../src/train/run.js';
import { buildSubset } from '../data/subset.js';

let world: EmojiWorld, data: string, runs: string;

before(async () => {
  ({ world, dir: data } = await buildSubset());
  runs = mkdtempSync(join(tmpdir(), 'puma-runs-'));
});
after(() => {
  rmSync(data, { recursive: true, force: true });
  rmSync(runs, { recursive: true, force: true });
});

test('clip -> vae -> decoder stages chain through their runs, and a bundle reproduces the runs', async () => {
  const o = { data, runs, progress: false };
  await trainClip({ ...o, steps: 2, batch: 8 });
  await trainVae({ ...o, steps: 2, batch: 4 });
  assert.ok(latestCheckpoint(join(runs, 'clip')) && latestCheckpoint(join(runs, 'vae')));
  assert.throws(() => loadFrozenStack(world, join(runs, 'nothing')), /run 'puma train clip' first/);

  const stack = loadFrozenStack(world, runs);
  assert.ok(stack.scalingFactor > 0 && Number.isFinite(stack.scalingFactor));
  const cache = featureCache(world, runs, stack);
  assert.deepEqual(cache.f0.shape, [world.images.length, 256, 128]);
  assert.deepEqual(cache.latents.shape, [world.images.length, 4, 16, 16]);
  assert.deepEqual(cache.nullScales.map((t) => t.shape[1]), [256, 64, 16, 4, 1]);
  // f4 is the mean of f0 (float16 storage: loose tolerance)
  const f0 = scaleFeatures(cache, [3], 0).toArray(), f4 = scaleFeatures(cache, [3], 4).toArray();
  for (let c = 0; c < 8; c++) {
    let m = 0;
    for (let i = 0; i < 256; i++) m += f0[i * 128 + c] / 256;
    assert.ok(Math.abs(m - f4[c]) < 1e-3, `channel ${c}: mean ${m} vs f4 ${f4[c]}`);
  }

  await trainDecoder({ ...o, scale: 4, steps: 2, batch: 2 });
  await assert.rejects(trainDecoder({ ...o, scale: 5, steps: 1 }), /--scale must be 0..4/);

  const fromRuns = loadPuma(runs, data);
  assert.ok(fromRuns.decoders[4] && !fromRuns.decoders[0]);
  const rows = evalReconstruction(fromRuns, world, { split: 'val', n: 2, batch: 2, steps: 2 });
  assert.deepEqual(rows.map((r) => r.scale), ['f4']);
  assert.ok(Number.isFinite(rows[0].psnrR) && Number.isFinite(rows[0].psnrD));

  // the evaluation CLIP: same recipe, another seed, its own runs folder; exported beside the model
  await trainClip({ ...o, runs: join(runs, 'eval'), steps: 1, batch: 8, seed: 1 });
  const bundle = join(runs, 'bundle');
  const parts = exportBundle(runs, bundle, data);
  assert.deepEqual(parts.filter((p) => p !== 'tokenizer.json'), ['clip', 'vae', 'training-words.txt', 'decoder-4', 'eval-clip']);
  const evRuns = EvalEncoder.load(runs), evBundle = EvalEncoder.load(bundle);
  const probe = imageBatch(world, [world.imagesIn('val')[1].id], '01');
  const ea = evRuns.images(probe).toArray(), eb = evBundle.images(probe).toArray();
  for (let i = 0; i < ea.length; i++) assert.ok(Math.abs(ea[i] - eb[i]) < 1e-2, `eval CLIP embedding ${i}: ${ea[i]} vs ${eb[i]}`);
  const own = fromRuns.clip.imageEmbeds(probe).toArray();
  assert.ok(own.some((v, i) => Math.abs(v - ea[i] * Math.hypot(...own)) > 1e-3), 'the evaluation CLIP is not the model\'s own');
  const fromBundle = loadPuma(bundle);
  // the training split's caption words travel with the bundle
  assert.deepEqual([...fromBundle.trainingWords!].sort(), [...fromRuns.trainingWords!].sort());
  assert.ok(fromBundle.trainingWords!.has(wordsOf(world.concepts[world.imagesIn('train')[0].concept].label)[0]));
  const x = imageBatch(world, [world.imagesIn('val')[0].id], '01');
  const a = reconstruct(fromRuns, x, [4], { steps: 2, seed: 5 }).get(4)!.toArray();
  const b = reconstruct(fromBundle, x, [4], { steps: 2, seed: 5 }).get(4)!.toArray();
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  // float16 weights in the bundle: pixels agree to a few 1e-3
  assert.ok(worst < 2e-2, `bundle and runs decode differently: max |diff| ${worst}`);
  assert.ok(existsSync(join(bundle, 'decoder-4', 'config.json')));

  // and back: a runs folder started from the bundle decodes as the bundle does, and trains on
  const again = join(runs, 'from-bundle');
  writeFileSync(join(bundle, 'word-neighbours.tsv'), '# test\npineapple\tapple\t0.800\n');
  const lines = importBundle(bundle, again);
  assert.equal(lines.length, 5, lines.join('\n'));
  assert.ok(lines.every((l) => / from /.test(l)), lines.join('\n'));
  const fromImport = loadPuma(again, data);
  assert.equal(fromImport.scalingFactor, fromBundle.scalingFactor);
  assert.equal(fromImport.neighbours!.get('pineapple')!.word, 'apple', 'the word table travels into the runs folder');
  const c = reconstruct(fromImport, x, [4], { steps: 2, seed: 5 }).get(4)!.toArray();
  for (let i = 0; i < c.length; i++) assert.ok(Math.abs(c[i] - b[i]) < 1e-5, `imported runs vs bundle at ${i}: ${c[i]} vs ${b[i]}`);
  const r = await trainDecoder({ ...o, runs: again, scale: 4, steps: 1, batch: 2 });
  assert.equal(r.step, 1);
  // a second import keeps what the runs folder already has
  assert.ok(importBundle(bundle, again).every((l) => /kept/.test(l)));
  assert.throws(() => importBundle(join(runs, 'clip'), again), /not a model bundle/);
});
