import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { SYSTEM_MESSAGE } from '../../src/data/tasks/sample.js';
import { tokenizeSample } from '../../src/data/tasks/sequence.js';
import type { EmojiWorld } from '../../src/data/emoji/world.js';
import { MultiGranularEncoder } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS, SCALE_OFFSETS } from '../../src/models/puma/mllm.js';
import { instructionParts, promptParts, questionParts } from '../../src/models/puma/mllm-prompt.js';
import { AdamW } from '../../src/nn/optim.js';
import * as T from '../../src/tensor/index.js';
import { buildMiniClip } from '../../src/train/recipes/clip.js';
import { runTokenizer } from '../../src/train/recipes/common.js';
import { constantBaseline, drawSamples, evaluateMllm, feedOwnPredictions, freeRunningError, loadTrainedMllm, mllmRunDir, samplesToParts, trainMllm } from '../../src/train/recipes/mllm.js';
import { Rng } from '../../src/data/rng.js';
import { splitCoarseToFine } from '../../src/models/puma/encoder.js';
import { runTraining } from '../../src/train/run.js';
import { buildSubset } from '../data/subset.js';

let world: EmojiWorld, data: string, runs: string;

before(async () => {
  ({ world, dir: data } = await buildSubset());
  runs = mkdtempSync(join(tmpdir(), 'puma-mllm-runs-'));
});
after(() => {
  rmSync(data, { recursive: true, force: true });
  rmSync(runs, { recursive: true, force: true });
});

test('pretraining uses each caption pair about half as text-to-image, half as image-to-text', () => {
  const samples = drawSamples(world, 'pretrain', 'train', 400, 'a');
  const t2i = samples.filter((s) => s.task === 'text-to-image');
  assert.ok(t2i.length > 160 && t2i.length < 240, `${t2i.length} of 400 text-to-image`);
  for (const s of samples.filter((x) => x.task === 'caption')) {
    assert.deepEqual(s.segments.map((g) => (g.kind === 'text' ? `text:${g.loss}` : `image:${g.role}`)), ['image:input', 'text:true']);
  }
  assert.deepEqual(drawSamples(world, 'pretrain', 'train', 5, 'a'), samples.slice(0, 5), 'same seed, same samples');
});

test('instruction data: the layouts of each task family', () => {
  const shape = (stage: Parameters<typeof drawSamples>[1]) =>
    drawSamples(world, stage, 'train', 6, 'b').map((s) => s.segments.map((g) => (g.kind === 'text' ? 'T' : g.role === 'input' ? 'I' : 'O')).join(''));
  for (const s of shape('t2i')) assert.equal(s, 'TO');
  for (const s of shape('edit')) assert.equal(s, 'ITO');
  for (const s of shape('cond')) assert.equal(s, 'ITO');
  for (const s of shape('canny')) assert.equal(s, 'ITO');
  for (const smp of drawSamples(world, 'understand', 'train', 6, 'b')) {
    const first = smp.segments[0];
    assert.ok(first.kind === 'text' && first.text.startsWith(SYSTEM_MESSAGE) && !first.loss);
    assert.deepEqual(smp.segments.map((g) => g.kind === 'text' && g.loss), [false, false, false, true], 'loss on the answer only');
  }
});

test('conditional data: cond draws inpainting and colorization, canny only canny-to-image', () => {
  const kinds = (stage: 'cond' | 'canny') => new Set(drawSamples(world, stage, 'train', 40, 'k').map((s) => s.task));
  assert.deepEqual([...kinds('cond')].sort(), ['colorize', 'inpaint']);
  assert.deepEqual([...kinds('canny')], ['canny']);
});

test('t2i caption dropout: some samples lose their caption, the others are those drawn without dropout', () => {
  const plain = drawSamples(world, 't2i', 'train', 200, 'd');
  const dropped = drawSamples(world, 't2i', 'train', 200, 'd', 0.3);
  const bare = dropped.filter((s) => s.segments.length === 1);
  assert.ok(bare.length > 35 && bare.length < 85, `${bare.length} of 200 without caption at p = 0.3`);
  dropped.forEach((s, i) => {
    if (s.segments.length === 1) assert.deepEqual(s.segments, plain[i].segments.filter((g) => g.kind === 'image'), 'the target image stays');
    else assert.deepEqual(s, plain[i]);
  });
  // `<s> [IMG] ... [/IMG] </s>`: the prompt text guidance's unconditional branch reads
  const tok = runTokenizer(world, runs);
  const ids = tokenizeSample(bare[0], tok).filter((p) => p.kind === 'tokens').map((p) => (p as { ids: number[] }).ids);
  assert.deepEqual(ids, [[tok.special.bos], [tok.special.imgStart], [tok.special.imgEnd], [tok.special.eos]]);
});

test('edit instruction dropout: a dropped instruction is the empty one that instruction guidance reads, the images stay', () => {
  const plain = drawSamples(world, 'edit', 'train', 200, 'e');
  const dropped = drawSamples(world, 'edit', 'train', 200, 'e', 0.3);
  assert.deepEqual(drawSamples(world, 'edit', 'train', 200, 'e', 0), plain, 'no dropout by default');
  const bare = dropped.filter((s, i) => JSON.stringify(s) !== JSON.stringify(plain[i]));
  assert.ok(bare.length > 35 && bare.length < 85, `${bare.length} of 200 without instruction at p = 0.3`);
  dropped.forEach((s, i) => {
    assert.deepEqual(s.segments.filter((g) => g.kind === 'image'), plain[i].segments.filter((g) => g.kind === 'image'), 'input and target stay');
  });
  // the tokens between the two images are those of instructionParts(.., '') (edit-delta.ts's unconditional branch)
  const tok = runTokenizer(world, runs);
  const feats = T.zeros([IMAGE_SLOTS, 128]);
  const between = (parts: readonly { kind: string }[]) => parts.slice(parts.findIndex((p) => p.kind === 'image') + 1)
    .filter((p) => p.kind === 'tokens').map((p) => (p as unknown as { ids: number[] }).ids);
  const trained = tokenizeSample(bare[0], tok);
  const atInference = instructionParts(tok, feats, '');
  const textAfterInput = between(trained).slice(0, between(atInference).length);
  assert.deepEqual(textAfterInput, between(atInference));
  assert.notDeepEqual(between(tokenizeSample(plain[dropped.indexOf(bare[0])], tok)).slice(0, between(atInference).length), between(atInference), 'the instruction itself is gone');
  feats.dispose();
});

test('features enter coarse to fine: the f4 slot is the mean of the 256 f0 slots', () => {
  const tok = runTokenizer(world, runs);
  T.manualSeed(1);
  const encoder = new MultiGranularEncoder(buildMiniClip(tok).freeze().eval().vision_model);
  const samples = drawSamples(world, 'edit', 'train', 2, 'c');
  const parts = samplesToParts(samples, tok, encoder, world);
  for (const p of parts) {
    const images = p.filter((x) => x.kind === 'image');
    assert.deepEqual(images.map((x) => x.kind === 'image' && x.role), ['input', 'target']);
    for (const im of images) {
      if (im.kind !== 'image') continue;
      assert.deepEqual(im.features.shape, [IMAGE_SLOTS, 128]);
      const f4 = im.features.narrow(0, SCALE_OFFSETS[4], 1).toArray();
      const f0mean = im.features.narrow(0, SCALE_OFFSETS[0], 256).mean(0).toArray();
      for (let c = 0; c < 128; c++) assert.ok(Math.abs(f4[c] - f0mean[c]) < 1e-4, `channel ${c}: ${f4[c]} vs ${f0mean[c]}`);
    }
  }
});

test('samplesToParts marks canny inputs, and only them, as edge maps', () => {
  const tok = runTokenizer(world, runs);
  T.manualSeed(1);
  const encoder = new MultiGranularEncoder(buildMiniClip(tok).freeze().eval().vision_model);
  const samples = [...drawSamples(world, 'cond', 'train', 8, 'c'), ...drawSamples(world, 'canny', 'train', 4, 'c')];
  const inputs = samplesToParts(samples, tok, encoder, world).map((p) => p.find((x) => x.kind === 'image' && x.role === 'input'));
  const canny = samples.map((s) => s.segments.some((g) => g.kind === 'image' && g.ref.op === 'canny'));
  assert.deepEqual(canny, [...Array(8).fill(false), ...Array(4).fill(true)], 'cond samples are inpainting and colorization, canny samples canny');
  inputs.forEach((p, i) => assert.equal(p?.kind === 'image' && p.edgeMap === true, canny[i], `sample ${i}`));
});

test('questionParts and instructionParts write the prompts exactly as training saw them, up to the answer or target', () => {
  const tok = runTokenizer(world, runs);
  T.manualSeed(1);
  const encoder = new MultiGranularEncoder(buildMiniClip(tok).freeze().eval().vision_model);
  const qa = drawSamples(world, 'understand', 'val', 12, 'q').find((x) => x.task === 'qa')!;
  const [train] = samplesToParts([qa], tok, encoder, world);
  const img = train.find((x) => x.kind === 'image')!;
  assert.ok(img.kind === 'image');
  const prompt = questionParts(tok, img.features, String(qa.meta.question));
  const ids = (ps: typeof train) => ps.flatMap((x) => (x.kind === 'tokens' ? [...x.ids] : [-1]));
  // training: prompt, then the answer and </s> (the learned part)
  assert.deepEqual(ids(prompt), ids(train.slice(0, -2)));
  assert.ok(train.at(-2)!.kind === 'tokens' && (train.at(-2) as { loss: boolean }).loss);
  assert.throws(() => promptParts([{ kind: 'image', ref: { image: 0 }, role: 'input' }], tok, []), /1 images/);
  // editing: the prompt and generateImage's [IMG] are the training tokens before the target
  const ed = drawSamples(world, 'edit', 'val', 1, 'q')[0];
  const [edTrain] = samplesToParts([ed], tok, encoder, world);
  const text = ed.segments.flatMap((g) => (g.kind === 'text' ? [g.text] : [])).join('').trim();
  const edPrompt = instructionParts(tok, (edTrain.find((x) => x.kind === 'image') as { features: T.Tensor }).features, text);
  const at = edTrain.findIndex((x) => x.kind === 'image' && x.role === 'target');
  assert.deepEqual([...ids(edPrompt), tok.special.imgStart], ids(edTrain.slice(0, at)));
});

test('puma train mllm: clear errors, then pretraining and instruction tuning run and resume', async () => {
  await assert.rejects(trainMllm({ data, runs, stage: 'pretrain', steps: 1 }), /puma train clip/);
  const tok = runTokenizer(world, runs);
  T.manualSeed(2);
  const clip = buildMiniClip(tok);
  // an untrained CLIP checkpoint stands in for `puma train clip`
  await runTraining({ name: 'clip', dir: join(runs, 'clip'), modules: { clip }, optimizer: new AdamW(clip.parameters()), totalSteps: 0, step: () => ({}), progress: false });
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', steps: 1 }), /--stage pretrain/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', steps: 1 }), /--task/);
  const r = await trainMllm({ data, runs, stage: 'pretrain', steps: 2, batch: 2, progress: false });
  assert.equal(r.step, 2);
  assert.ok(Number.isFinite(r.last.loss) && r.last.loss > 0);
  const resumed = await trainMllm({ data, runs, stage: 'pretrain', steps: 3, batch: 2, progress: false });
  assert.equal(resumed.step, 3);
  const lines = readFileSync(join(mllmRunDir(runs, 'pretrain'), 'log.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.step), [2, 3]);
  const ft = await trainMllm({ data, runs, stage: 'instruct', task: 'understand', steps: 1, batch: 2, progress: false });
  assert.equal(ft.step, 1);
  assert.ok(ft.last.ce > 0 && !('mse0' in ft.last), 'understanding learns text only');
  const dir = mllmRunDir(runs, 'understand');
  assert.ok(existsSync(join(dir, 'log.jsonl')));
  assert.equal(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).recipe.task, 'understand');
  const mllm = loadTrainedMllm(dir);
  assert.equal(mllm.config.featureDim, 128);
  assert.equal(mllm.config.tokens.imgStart, tok.special.imgStart);
  // --init: an instruction stage can start from another tuned stage instead of pretraining
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', init: 't2i', steps: 1 }), /--stage instruct --task t2i/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', init: 'edit', steps: 1 }), /cannot start from itself/);
  await assert.rejects(trainMllm({ data, runs, stage: 'pretrain', init: 't2i', steps: 1 }), /--init is for --stage instruct/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'cond', captionDropout: 0.1, steps: 1 }), /--caption-dropout is for --task t2i\|edit/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 't2i', captionDropout: 1, steps: 1 }), /--caption-dropout must be in \[0, 1\)/);
  await trainMllm({ data, runs, stage: 'instruct', task: 'edit', init: 'understand', steps: 0, batch: 2, progress: false });
  assert.equal(JSON.parse(readFileSync(join(mllmRunDir(runs, 'edit'), 'config.json'), 'utf8')).recipe.init, 'understand');
  // a resumed run keeps the record of what it started from, and refuses another start
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', init: 'pretrain', steps: 1 }), /resumes from its checkpoint \(it started from understand\); --init is for a new run/);
  await trainMllm({ data, runs, stage: 'instruct', task: 'edit', steps: 0, batch: 2, progress: false });
  assert.equal(JSON.parse(readFileSync(join(mllmRunDir(runs, 'edit'), 'config.json'), 'utf8')).recipe.init, 'understand');
  const edit = loadTrainedMllm(mllmRunDir(runs, 'edit'));
  const pretrained = loadTrainedMllm(mllmRunDir(runs, 'pretrain'));
  const w = (m: typeof mllm) => Array.from(m.llm.model.embed_tokens.weight.toArray());
  assert.notDeepEqual(w(mllm), w(pretrained), 'understanding moved away from pretraining');
  assert.deepEqual(w(edit), w(mllm), 'edit starts from the understanding weights');
  const encoder = new MultiGranularEncoder(clip.freeze().eval().vision_model);
  const t2iBatch = [samplesToParts(drawSamples(world, 't2i', 'val', 2, 'e'), tok, encoder, world)];
  const base = constantBaseline(t2iBatch);
  // two images: their mean sits halfway, so each deviates by half their difference
  const [fa, fb] = t2iBatch[0].map((p) => (p.find((x) => x.kind === 'image') as { features: T.Tensor }).features.toArray());
  for (let k = 0; k < 5; k++) {
    let sq = 0;
    const from = SCALE_OFFSETS[k] * 128, to = from + [256, 64, 16, 4, 1][k] * 128;
    for (let j = from; j < to; j++) sq += ((fa[j] - fb[j]) / 2) ** 2;
    assert.ok(Math.abs(base[k] - sq / (to - from)) < 1e-5 * Math.max(1, base[k]), `baseline f${k}: ${base[k]} vs ${sq / (to - from)}`);
  }
  const evT2i = evaluateMllm(mllm, t2iBatch, base);
  assert.deepEqual(Object.keys(evT2i).sort(), ['mse0', 'mse1', 'mse2', 'mse3', 'mse4', 'rel0', 'rel1', 'rel2', 'rel3', 'rel4']);
  assert.ok(Math.abs(evT2i.rel4 - evT2i.mse4 / base[4]) < 1e-9);
  const evQa = evaluateMllm(mllm, [samplesToParts(drawSamples(world, 'understand', 'val', 2, 'e'), tok, encoder, world)]);
  assert.deepEqual(Object.keys(evQa), ['tokenAcc']);
  assert.ok(evQa.tokenAcc >= 0 && evQa.tokenAcc <= 1);
  // --self-feed (t2i, edit and cond): targets read partly as the model's own predictions
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'understand', selfFeed: 0.5, steps: 1 }), /--self-feed is for --task t2i\|edit\|cond/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', selfFeed: 1.5, steps: 1 }), /--self-feed must be in \[0, 1\]/);
  const editBatch = samplesToParts(drawSamples(world, 'edit', 'val', 2, 'e'), tok, encoder, world);
  const targetOf = (parts: typeof editBatch[0]) => parts.find((p) => p.kind === 'image' && p.role === 'target') as { features: T.Tensor; fed?: T.Tensor };
  const own = T.noGrad(() => edit.featurePredictions(edit.forwardTeacher(editBatch))!.pred);
  const none = feedOwnPredictions(edit, editBatch, 0, new Rng('f'));
  const all = feedOwnPredictions(edit, editBatch, 1, new Rng('f'));
  const half = feedOwnPredictions(edit, editBatch, 0.5, new Rng('f'));
  editBatch.forEach((parts, i) => {
    const f = targetOf(parts).features.toArray(), p = own.narrow(0, i, 1).contiguous().toArray();
    assert.equal(targetOf(none[i]).fed, undefined, 'p = 0: plain teacher forcing');
    assert.deepEqual(Array.from(targetOf(all[i]).features.toArray()), Array.from(f), 'the targets stay');
    targetOf(all[i]).fed!.toArray().forEach((v, j) => assert.ok(Math.abs(v - p[j]) < 1e-6, `p = 1: every slot its own prediction (${j})`));
    const h = targetOf(half[i]).fed!.toArray();
    let fromOwn = 0;
    for (let s = 0; s < IMAGE_SLOTS; s++) {
      const row = (a: Float32Array | Int32Array) => Array.from(a.subarray(s * 128, (s + 1) * 128));
      const isOwn = row(h).every((v, j) => Math.abs(v - row(p)[j]) < 1e-6), isTrue = row(h).every((v, j) => Math.abs(v - row(f)[j]) < 1e-6);
      assert.ok(isOwn || isTrue, `slot ${s} is one or the other`);
      if (isOwn && !isTrue) fromOwn++;
    }
    assert.ok(fromOwn > 120 && fromOwn < 220, `${fromOwn} of 341 slots own at p = 0.5`);
  });
  // two passes: the second predicts from the first pass's predictions
  const twice = feedOwnPredictions(edit, editBatch, 1, new Rng('f'), 2);
  const second = T.noGrad(() => edit.featurePredictions(edit.forwardTeacher(all))!.pred);
  twice.forEach((parts, i) => {
    const want = second.narrow(0, i, 1).contiguous().toArray();
    targetOf(parts).fed!.toArray().forEach((v, j) => assert.ok(Math.abs(v - want[j]) < 1e-5, `2 passes (${j})`));
  });
  assert.throws(() => feedOwnPredictions(edit, editBatch, 1, new Rng('f'), 0), /passes must be an integer/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', selfFeedPasses: 2, steps: 1 }), /--self-feed-passes needs --self-feed/);
  // free-running error: generation from the prompt before the target, against its true features
  const editBase = constantBaseline([editBatch]);
  const free = freeRunningError(edit, editBatch, editBase);
  const want = [0, 0, 0, 0, 0];
  for (const parts of editBatch) {
    const at = parts.findIndex((p) => p.kind === 'image' && p.role === 'target');
    const last = parts[at - 1] as { kind: 'tokens'; ids: number[]; loss: boolean };
    const got = edit.generateImage([...parts.slice(0, at - 1), { ...last, ids: last.ids.slice(0, -1) }]);
    const truth = splitCoarseToFine(targetOf(parts).features.unsqueeze(0));
    for (let k = 0; k < 5; k++) want[k] += got[k]!.sub(truth[k]).square().mean().item() / editBatch.length / editBase[k];
  }
  free.forEach((v, k) => assert.ok(Math.abs(v - want[k]) < 1e-5 * Math.max(1, want[k]), `free f${k}: ${v} vs ${want[k]}`));
  assert.throws(() => freeRunningError(edit, t2iBatch[0].map((p) => p.filter((x) => x.kind === 'image'))), /target image right after \[IMG\]/);
  const sf = await trainMllm({ data, runs, stage: 'instruct', task: 'edit', selfFeed: 0.5, steps: 1, batch: 2, progress: false });
  assert.equal(sf.step, 1);
  assert.ok(Number.isFinite(sf.last.loss));
  const recipe = JSON.parse(readFileSync(join(mllmRunDir(runs, 'edit'), 'config.json'), 'utf8')).recipe;
  assert.equal(recipe.selfFeed, 0.5);
  assert.equal(recipe.selfFeedPasses, 1);
  // t2i too: its run records the share; its val batches are written free-running as edit's are
  const t2iSf = await trainMllm({ data, runs, stage: 'instruct', task: 't2i', selfFeed: 0.5, selfFeedPasses: 2, steps: 1, batch: 2, progress: false });
  assert.ok(Number.isFinite(t2iSf.last.loss));
  assert.equal(JSON.parse(readFileSync(join(mllmRunDir(runs, 't2i'), 'config.json'), 'utf8')).recipe.selfFeedPasses, 2);
  const t2iFree = freeRunningError(edit, t2iBatch[0], base);
  assert.ok(t2iFree.length === 5 && t2iFree.every((v) => Number.isFinite(v) && v > 0), String(t2iFree));
  // --slot-embedding added to a trained run: its weights load with the table at zero, the table trains, and the run keeps it
  const before = loadTrainedMllm(mllmRunDir(runs, 'edit'));
  assert.equal(before.slot_embedding, null);
  const slotted = await trainMllm({ data, runs, stage: 'instruct', task: 'edit', slotEmbedding: true, steps: 2, batch: 2, progress: false });
  assert.equal(slotted.step, 2);
  const grown = loadTrainedMllm(mllmRunDir(runs, 'edit'));
  assert.ok(grown.slot_embedding!.weight.toArray().some((v) => v !== 0), 'the table trained');
  assert.equal(JSON.parse(readFileSync(join(mllmRunDir(runs, 'edit'), 'config.json'), 'utf8')).recipe.slotEmbedding, true);
  assert.equal((await trainMllm({ data, runs, stage: 'instruct', task: 'edit', steps: 3, batch: 2, progress: false })).step, 3);
  assert.ok(loadTrainedMllm(mllmRunDir(runs, 'edit')).slot_embedding, 'kept on resume without the flag');
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', slotEmbedding: false, steps: 4 }), /cannot be dropped/);
  // --input-residual: only from a run's start; --init from a run folder starts the head at zero ("change nothing")
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', inputResidual: true, steps: 4 }), /trained without the input residual; start a new run/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 't2i', inputResidual: true, steps: 1 }), /--input-residual is for --task edit\|cond/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'cond', init: join(runs, 'nothing'), steps: 1 }), /no checkpoint there/);
  await assert.rejects(trainMllm({ data, runs, stage: 'instruct', task: 'edit', init: mllmRunDir(runs, 'edit'), steps: 4 }), /cannot start from itself/);
  await trainMllm({ data, runs, stage: 'instruct', task: 'cond', init: mllmRunDir(runs, 'edit'), inputResidual: true, steps: 0, batch: 2, progress: false });
  const cond = loadTrainedMllm(mllmRunDir(runs, 'cond'));
  assert.equal(cond.config.inputResidual, true);
  assert.equal(cond.config.residualSkipsEdgeMaps, true, 'a new residual run regresses canny targets whole');
  assert.ok(cond.slot_embedding, 'the slot embedding comes with the weights started from');
  assert.ok(cond.regression_head.parameters().every((p) => p.toArray().every((v) => v === 0)), 'the head starts at zero');
  const condParts = samplesToParts(drawSamples(world, 'cond', 'val', 1, 'e'), tok, encoder, world)[0];
  const at = condParts.findIndex((p) => p.kind === 'image' && p.role === 'target');
  const inputOf = condParts.find((p) => p.kind === 'image' && p.role === 'input') as { features: T.Tensor };
  const textBefore = condParts[at - 1];
  assert.ok(textBefore.kind === 'tokens', 'the target image follows text');
  const copied = cond.generateImage([...condParts.slice(0, at - 1), { ...textBefore, ids: textBefore.ids.slice(0, -1) }], { upToScale: 4 });
  assert.deepEqual(Array.from(copied[4]!.toArray()), Array.from(inputOf.features.narrow(0, 0, 1).toArray()), 'at the start generation returns the input');
});
