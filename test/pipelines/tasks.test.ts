import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Command, CommanderError } from 'commander';
import { HOLE_VALUE } from '../../src/data/derive.js';
import { tokenizeSample } from '../../src/data/tasks/sequence.js';
import { QUESTION_PHRASINGS } from '../../src/data/tasks/templates.js';
import { registerTaskCommands } from '../../src/cli/tasks.js';
import { encodeImage, readImage, type Image } from '../../src/io/image.js';
import { MultiGranularEncoder, SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS, PumaMLLM, type MllmPart } from '../../src/models/puma/mllm.js';
import { wordnet } from '../../src/data/definitions.js';
import { MINI_VAE } from '../../src/models/puma/small.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import { ask } from '../../src/pipelines/ask.js';
import { isBundle, loadBundle, writeBundle } from '../../src/pipelines/bundle.js';
import { edit } from '../../src/pipelines/edit.js';
import { argmax, clipScores, generate, unseenNote, unseenWords } from '../../src/pipelines/generate.js';
import { parseNeighbours } from '../../src/data/neighbours.js';
import { DECODE_DEFAULTS, T2I_DECODE_GUIDANCE } from '../../src/pipelines/decode.js';
import { drawBox, ground } from '../../src/pipelines/ground.js';
import { conditionPrompt, holeMask, maskedImage, parseBox } from '../../src/pipelines/inpaint.js';
import { mllmFor, type PumaModel } from '../../src/pipelines/model.js';
import { prepareImage } from '../../src/pipelines/reconstruct.js';
import * as T from '../../src/tensor/index.js';
import { buildMiniClip } from '../../src/train/recipes/clip.js';
import { C, testImage, tinyMllm, tinyPuma, tok, tokJson } from './tiny-puma.js';

const puma = tinyPuma();

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

test('generate regresses f4 down to the finest requested scale only and decodes exactly those scales per seed', () => {
  const r = generate(puma, 'grinning face', { scales: [4, 2], seeds: [0, 1], steps: 2 });
  assert.equal(r.stage, 'pretrain');
  assert.match(r.note ?? '', /no instruction-tuned MLLM for 't2i'/);
  assert.deepEqual(r.features.map((f) => f?.shape ?? null), [null, null, [1, 16, C], [1, 4, C], [1, 1, C]]);
  // stopping early does not change the coarse scales: they equal a full f4..f0 generation's
  const full = puma.mllm!.generateImage(tok.encode('grinning face'), { upToScale: 0 });
  for (const k of [4, 3, 2]) assert.ok(maxDiff(r.features[k]!.toArray(), full[k]!.toArray()) < 1e-5, `f${k}`);
  assert.deepEqual(r.rows.map((row) => [row.seed, [...row.images.keys()]]), [[0, [4, 2]], [1, [4, 2]]]);
  for (const row of r.rows) for (const x of row.images.values()) assert.deepEqual(x.shape, [1, 3, 8, 8]);
  assert.ok(maxDiff(r.rows[0].images.get(4)!.toArray(), r.rows[1].images.get(4)!.toArray()) > 1e-4, 'seeds differ');
  assert.equal(r.rows[0].best, undefined);
  // the decoders run at text-to-image's own guidance unless told otherwise
  const at = (guidance?: number) => generate(puma, 'grinning face', { scales: [4], steps: 2, guidance }).rows[0].images.get(4)!.toArray();
  assert.equal(maxDiff(at(), at(T2I_DECODE_GUIDANCE)), 0);
  assert.ok(maxDiff(at(), at(DECODE_DEFAULTS.guidance)) > 1e-4, 'the default is not the other tasks\' guidance');

  // words no training caption has are named (none when the model does not know its training words)
  assert.deepEqual(r.unseenWords, []);
  const knowing = { ...puma, trainingWords: new Set(['grinning', 'face']) };
  assert.deepEqual(generate(knowing, 'Grinning pineapple face, PINEAPPLE kiwi', { scales: [4], steps: 1 }).unseenWords, ['pineapple', 'kiwi']);
  assert.deepEqual(unseenWords(knowing, 'grinning face'), []);
  assert.match(unseenNote(['pineapple']), /"pineapple".*this word/);
  assert.match(unseenNote(['pineapple', 'kiwi']), /"pineapple", "kiwi".*these words/);

  const tuned = tinyMllm(C, 9);
  assert.equal(generate({ ...puma, mllms: { ...puma.mllms, t2i: tuned } }, 'grinning face', { scales: [4], steps: 1 }).stage, 't2i');
  // an MLLM trained with definitions reads a prompt of unseen words as its definitions (and only then)
  T.manualSeed(9);
  const definer = new PumaMLLM({ ...tuned.config, definitions: true }).eval();
  const defining = { ...knowing, mllms: { ...puma.mllms, t2i: definer } };
  const d = generate(defining, 'pineapple face', { scales: [4], steps: 1 });
  assert.deepEqual([d.readPrompt, d.readAs], [wordnet().defineText('pineapple face'), 'definitions']);
  const f4 = T.tidy(() => definer.generateImage(tok.encode(d.readPrompt!), { upToScale: 4 })[4]!.toArray());
  assert.deepEqual(d.features[4]!.toArray(), f4, 'the MLLM read the definitions');
  assert.equal(generate(defining, 'grinning face', { scales: [4], steps: 1 }).readPrompt, undefined);
  assert.equal(generate(defining, 'pineapple face', { scales: [4], steps: 1, define: 'never' }).readPrompt, undefined);
  assert.equal(generate({ ...knowing, mllms: { ...puma.mllms, t2i: tuned } }, 'pineapple face', { scales: [4], steps: 1 }).readPrompt, undefined);
  // with a nearest-known-word table, the unseen words the table has are read as their neighbours (definitions first)
  const neighbours = new Map([['pineapple', { word: 'grinning', cos: 0.8 }], ['face', { word: 'grinning', cos: 0.9 }]]);
  const near = { ...knowing, neighbours, mllms: { ...puma.mllms, t2i: tuned } };
  const n = generate(near, 'Pineapple kiwi face', { scales: [4], steps: 1 });
  assert.deepEqual([n.readPrompt, n.readAs], ['grinning kiwi face', 'neighbours'], 'known words stay, words without a neighbour stay');
  const nf4 = T.tidy(() => tuned.generateImage(tok.encode('grinning kiwi face'), { upToScale: 4 })[4]!.toArray());
  assert.deepEqual(n.features[4]!.toArray(), nf4, 'the MLLM read the neighbours');
  assert.equal(generate(near, 'pineapple face', { scales: [4], steps: 1, neighbours: false }).readPrompt, undefined);
  assert.equal(generate(near, 'kiwi face', { scales: [4], steps: 1 }).readPrompt, undefined);
  assert.equal(generate({ ...near, mllms: { ...puma.mllms, t2i: definer } }, 'pineapple face', { scales: [4], steps: 1 }).readAs, 'definitions');
  assert.match(unseenNote(['pineapple'], 'mango', 'neighbours'), /"pineapple".*nearest known words.*"mango"/);
  assert.throws(() => generate(puma, '  ', { scales: [4] }), /the prompt is empty/);
  assert.throws(() => generate({ ...puma, decoders: [null, ...puma.decoders.slice(1)] }, 'x', { scales: [0] }), /no decoder for scale f0/);
  assert.throws(() => generate({ ...puma, mllm: null, mllms: {} }, 'x', { scales: [4] }), /no MLLM in this model/);
});

test("5-scale Max keeps, per seed, the scale whose image has the highest CLIP score against the prompt", () => {
  assert.equal(argmax([0.1, 0.5, 0.5, 0.2]), 1);
  assert.equal(argmax([-3, -1, -2]), 1);
  const prompt = 'red apple';
  const r = generate(puma, prompt, { scales: [4, 3, 2, 1, 0], seeds: [0, 3], steps: 2, best: true });
  for (const row of r.rows) {
    assert.deepEqual([...row.scores!.keys()], [4, 3, 2, 1, 0]);
    const scales = [...row.images.keys()];
    // each score is that image's own CLIP cosine similarity with the prompt
    const own = scales.map((k) => clipScores(puma, prompt, [row.images.get(k)!])[0]);
    assert.ok(maxDiff(own, scales.map((k) => row.scores!.get(k)!)) < 1e-5);
    assert.ok(own.every((s) => s >= -1 - 1e-6 && s <= 1 + 1e-6), 'cosine similarities');
    assert.ok(new Set(own.map((s) => s.toFixed(6))).size > 1, 'random decoders give different scores');
    const scores = scales.map((k) => row.scores!.get(k)!);
    assert.equal(row.best, scales[argmax(scores)]);
    assert.ok(scores.every((s) => s <= row.scores!.get(row.best!)!));
    // (one image at a time and five in a batch agree to float rounding, not bit for bit)
    assert.ok(own.every((s) => s <= row.scores!.get(row.best!)! + 1e-5));
  }
  // the best of all: the seed whose best scores highest
  const bestRow = r.rows.reduce((a, b) => (b.scores!.get(b.best!)! > a.scores!.get(a.best!)! ? b : a));
  assert.deepEqual(r.best, { seed: bestRow.seed, scale: bestRow.best, score: bestRow.scores!.get(bestRow.best!) });
  assert.notEqual(r.rows[0].scores!.get(r.rows[0].best!), r.rows[1].scores!.get(r.rows[1].best!), 'two seeds, two scores');
  assert.equal(generate(puma, prompt, { scales: [4], steps: 1 }).best, undefined);
});

test('edit and conditional generation prompt the MLLM in the training layout and stop at the requested scale', () => {
  const calls: { parts: readonly MllmPart[]; upTo?: number }[] = [];
  const stub = {
    generateImage(parts: readonly MllmPart[], o: { upToScale?: number }) {
      calls.push({ parts, upTo: o.upToScale });
      return SCALE_TOKENS.map((n, k) => (k >= (o.upToScale ?? 0) ? T.randn([1, n, C]).keep() : null));
    },
  } as unknown as PumaMLLM;
  const model = { ...puma, mllms: { ...puma.mllms, edit: stub } };
  const r = edit(model, testImage(32, 32), ' Make the skin darker. ', { scales: [1, 0], steps: 1 });
  assert.equal(r.stage, 'edit');
  assert.equal(r.note, undefined);
  assert.equal(calls[0].upTo, 0);
  assert.deepEqual([r.input.width, r.input.height], [64, 64]);
  // <s>[IMG] source [/IMG] instruction, as tokenizeSample writes an edit sample up to the target's [IMG]
  const train = tokenizeSample({
    task: 'edit', split: 'test', meta: {}, segments: [
      { kind: 'image', ref: { image: 0 }, role: 'input' }, { kind: 'text', text: ' Make the skin darker. ', loss: false },
      { kind: 'image', ref: { image: 1 }, role: 'target' },
    ],
  }, tok);
  const want = train.slice(0, 5).flatMap((p) => (p.kind === 'tokens' ? p.ids : [-1]));
  const got = calls[0].parts.flatMap((p) => (p.kind === 'tokens' ? p.ids : [-1]));
  assert.deepEqual(got, want);
  const img = calls[0].parts.find((p) => p.kind === 'image');
  assert.deepEqual(img?.kind === 'image' && img.features.shape, [IMAGE_SLOTS, C]);
  assert.deepEqual([...r.rows[0].images.keys()], [1, 0]);
});

test('box parsing, hole masks at the model size, grey holes, condition prompts', () => {
  assert.deepEqual(parseBox('8,8,32,16'), [8, 8, 32, 16]);
  assert.deepEqual(parseBox(' 0, 1 ,2,3'), [0, 1, 2, 3]);
  for (const bad of ['1,2,3', '1,2,3,4,5', '1,2,0,4', '-1,2,3,4', 'a,b,c,d', '1.5,2,3,4', '1,,3,4', '']) {
    assert.throws(() => parseBox(bad), /--box takes x,y,w,h/, bad);
  }
  const sum = (m: Uint8Array) => m.reduce((a, b) => a + b, 0);
  const left = holeMask({ box: [0, 0, 32, 64] }, 64, 64);
  assert.equal(left.length, 64 * 64);
  assert.equal(sum(left), 32 * 64);
  assert.equal(left[5 * 64 + 31], 1);
  assert.equal(left[5 * 64 + 32], 0);
  // a box on a 128x128 input covers the same fraction of the 64x64 model input
  const big = holeMask({ box: [32, 32, 64, 64] }, 128, 128);
  assert.equal(sum(big), 32 * 32);
  assert.equal(big[16 * 64 + 16], 1);
  assert.equal(big[15 * 64 + 16], 0);
  assert.throws(() => holeMask({ box: [40, 0, 32, 8] }, 64, 64), /extends past the 64x64 image/);
  const mask: Image = { width: 64, height: 64, channels: 3, data: new Uint8Array(64 * 64 * 3) };
  for (let y = 0; y < 10; y++) mask.data.fill(255, y * 64 * 3, (y * 64 + 20) * 3);
  assert.equal(sum(holeMask({ mask }, 64, 64)), 10 * 20);
  assert.throws(() => holeMask({ mask }, 32, 32), /the mask is 64x64 but the image is 32x32/);
  assert.throws(() => holeMask({ mask: { ...mask, data: new Uint8Array(64 * 64 * 3) } }, 64, 64), /region to fill is empty/);
  const img = testImage(64, 64);
  const masked = maskedImage(img, left);
  assert.deepEqual([...masked.data.subarray(0, 3)], [HOLE_VALUE, HOLE_VALUE, HOLE_VALUE]);
  assert.deepEqual([...masked.data.subarray(40 * 3, 41 * 3)], [...img.data.subarray(40 * 3, 41 * 3)]);
  assert.equal(conditionPrompt('Complete the image.', { caption: ' red apple ' }), 'Complete the image. red apple');
  assert.equal(conditionPrompt('Complete the image.', {}), 'Complete the image.');
  assert.equal(conditionPrompt('Complete the image.', { caption: 'red apple', instruction: false }), 'red apple');
  assert.throws(() => conditionPrompt('Complete the image.', { instruction: false }), /needs a caption/);
});

test('ground reads the four position tokens back to the input\'s pixels and draws the box; ask captions with the pretrained model', () => {
  const seen: MllmPart[][] = [];
  const answer = (ids: number[]) => ({
    generateText(parts: MllmPart[]) { seen.push(parts); return ids; },
  } as unknown as PumaMLLM);
  const box = [56, 56, 167, 167].map((i) => tok.posId(i));
  const g = ground({ ...puma, mllms: { ...puma.mllms, understand: answer(box) } }, testImage(128, 128), 'grinning face');
  assert.equal(g.stage, 'understand');
  assert.deepEqual(g.box, [32, 32, 95, 95]);
  assert.match(g.question, /Where is the grinning face in the image\?/);
  assert.deepEqual([...g.drawn.data.subarray((32 * 128 + 32) * 3, (32 * 128 + 32) * 3 + 3)], [230, 30, 30]);
  assert.deepEqual([...g.drawn.data.subarray((64 * 128 + 64) * 3, (64 * 128 + 64) * 3 + 3)], [...testImage(128, 128).data.subarray((64 * 128 + 64) * 3, (64 * 128 + 64) * 3 + 3)]);
  const none = ground({ ...puma, mllms: { ...puma.mllms, understand: answer(tok.encode('no idea')) } }, testImage(64, 64), 'cat');
  assert.equal(none.box, null);
  const silent = ground({ ...puma, mllms: { ...puma.mllms, understand: answer([]) } }, testImage(64, 64), 'cat');
  assert.deepEqual([silent.box, silent.answer], [null, '']);
  const drawn = drawBox(testImage(16, 16), [2, 2, 5, 5]);
  assert.deepEqual([...drawn.data.subarray((2 * 16 + 4) * 3, (2 * 16 + 4) * 3 + 3)], [230, 30, 30]);

  const q = ask({ ...puma, mllms: { ...puma.mllms, understand: answer(tok.encode('red apple')) } }, testImage(64, 64), 'What is this?');
  assert.equal(q.answer, 'red apple');
  const withQuestion = seen.at(-1)!;
  const a = ask({ ...puma, mllms: { pretrain: answer(tok.encode('thumbs up')) } }, testImage(64, 64), 'What is this?');
  assert.equal(a.stage, 'pretrain');
  assert.match(a.note!, /captions the image instead/);
  // the image-to-text layout of pretraining: <s>[IMG] f4..f0 [/IMG], no question
  assert.deepEqual(seen.at(-1)!.flatMap((p): (number | string)[] => (p.kind === 'tokens' ? [...p.ids] : ['image'])), [tok.special.bos, tok.special.imgStart, 'image', tok.special.imgEnd]);
  assert.ok(withQuestion.length > 3 && withQuestion.some((p) => p.kind === 'tokens' && p.ids.length > 10), 'the understanding layout asks the question');
  // a real (random) MLLM writes at most maxTokens ids
  assert.ok(ask(puma, testImage(64, 64), 'What is this?', { maxTokens: 3 }).ids.length <= 3);
});

test('a bundle round trip keeps every MLLM stage, stored as float16', () => {
  T.manualSeed(2);
  const clip = buildMiniClip(tok).freeze().eval();
  const encoder = new MultiGranularEncoder(clip.vision_model);
  const pretrain = tinyMllm(128, 3), edit = tinyMllm(128, 4);
  const model: PumaModel = {
    clip, tokenizer: tok, encoder, vae: new AutoencoderKL(MINI_VAE), scalingFactor: 0.75, decoders: [null, null, null, null, null],
    nullScales: [], mllm: pretrain, mllms: { pretrain, edit }, trainingWords: new Set(['red', 'apple', 'grinning']),
    neighbours: parseNeighbours('# a test table\npineapple\tapple\t0.700\n'),
  };
  const dir = mkdtempSync(join(tmpdir(), 'puma-bundle-'));
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokJson));
  assert.deepEqual(writeBundle(model, dir), ['clip', 'vae', 'training-words.txt', 'word-neighbours.tsv', 'mllm-pretrain', 'mllm-edit']);
  assert.equal(readFileSync(join(dir, 'word-neighbours.tsv'), 'utf8'), '# a test table\npineapple\tapple\t0.700\n');
  assert.equal(readFileSync(join(dir, 'training-words.txt'), 'utf8'), 'apple\ngrinning\nred\n');
  assert.ok(isBundle(dir));
  const header = safetensorsHeader(join(dir, 'mllm-edit', 'model.safetensors'));
  const dtypes = new Set(Object.entries(header).filter(([k]) => k !== '__metadata__').map(([, v]) => (v as { dtype: string }).dtype));
  assert.deepEqual([...dtypes], ['F16']);

  const back = loadBundle(dir);
  assert.deepEqual(Object.keys(back.mllms).sort(), ['edit', 'pretrain']);
  assert.equal(back.mllm, back.mllms.pretrain);
  assert.equal(back.scalingFactor, 0.75);
  assert.deepEqual([...back.neighbours!], [['pineapple', { word: 'apple', cos: 0.7 }]]);
  assert.deepEqual(back.mllms.edit!.config, edit.config);
  for (const [name, p] of edit.namedParameters()) {
    const q = back.mllms.edit!.stateDict().get(name)!;
    const a = p.toArray(), b = q.toArray();
    for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-3 * Math.abs(a[i]) + 1e-7, `${name}[${i}]: ${a[i]} vs ${b[i]}`);
  }
  assert.equal(mllmFor(back, 'edit').stage, 'edit');
  assert.equal(mllmFor(back, 'cond').stage, 'pretrain');
  assert.match(mllmFor(back, 'cond').note ?? '', /no instruction-tuned MLLM for 'cond'/);
  assert.equal(mllmFor(back, 'canny').stage, 'pretrain', 'canny: no mllm-canny, no mllm-cond');
  // canny-to-image runs on mllm-cond where there is no mllm-canny (models trained before the split), silently
  const withCond = { ...back, mllms: { ...back.mllms, cond: back.mllms.edit } };
  assert.deepEqual([mllmFor(withCond, 'canny').stage, mllmFor(withCond, 'canny').note], ['cond', undefined]);
  const withCanny = { ...withCond, mllms: { ...withCond.mllms, canny: back.mllms.pretrain } };
  assert.equal(mllmFor(withCanny, 'canny').mllm, back.mllms.pretrain);
  assert.equal(mllmFor(withCanny, 'canny').stage, 'canny');
  assert.equal(back.nullScales.length, 5);
  assert.deepEqual([...back.trainingWords!].sort(), ['apple', 'grinning', 'red']);
  rmSync(join(dir, 'training-words.txt'));
  assert.equal(loadBundle(dir).trainingWords, undefined, 'a bundle written before the word list loads without one');
});

function safetensorsHeader(path: string): Record<string, unknown> {
  const fd = openSync(path, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE());
    const json = Buffer.alloc(n);
    readSync(fd, json, 0, n, 8);
    return JSON.parse(json.toString('utf8'));
  } finally {
    closeSync(fd);
  }
}

/** Runs the task commands (no model is loaded before these errors). */
async function cli(...args: string[]): Promise<string> {
  const program = new Command('puma').exitOverride().configureOutput({ writeErr: () => {}, writeOut: () => {} });
  registerTaskCommands(program);
  try {
    await program.parseAsync(['node', 'puma', ...args]);
  } catch (err) {
    if (err instanceof CommanderError) return `commander: ${err.code}`;
    return (err as Error).message;
  }
  return 'ok';
}

test('task commands reject bad input with one clear message before loading a model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-tasks-'));
  const png = join(dir, 'in.png'), text = join(dir, 'notes.txt');
  writeFileSync(png, await encodeImage(testImage(64, 64), 'png'));
  writeFileSync(text, 'not an image');
  const out = join(dir, 'out'), missingModel = join(dir, 'no-model');
  const cases: [string[], RegExp][] = [
    [['generate', '', '--out', out], /^the prompt is empty$/],
    [['generate', 'x', '--scales', '4,7', '--out', out], /^--scales takes a comma-separated list of 0\.\.4/],
    [['generate', 'x', '--seeds', '0,-1', '--out', out], /^--seeds takes non-negative integers/],
    [['generate', 'x', '--steps', '2.5', '--out', out], /^--steps must be a positive integer/],
    [['generate', 'x', '--guidance', 'abc', '--out', out], /^--guidance must be a number >= 0/],
    [['generate', 'x', '--scheduler', 'plms', '--out', out], /^--scheduler must be one of/],
    [['generate', 'x', '--define', 'sometimes', '--out', out], /^commander: commander.invalidArgument$/],
    [['generate', 'x'], /^commander: commander.missingMandatoryOptionValue$/],
    [['edit', join(dir, 'missing.png'), 'Make it red.', '--out', out], /^image file not found: .*missing\.png$/],
    [['edit', text, 'Make it red.', '--out', out], /unsupported image format/],
    [['edit', png, ' ', '--out', out], /^the instruction is empty$/],
    [['edit', png, 'Make it red.', '--strength', '-1', '--out', out], /^--strength must be a number >= 0/],
    [['edit', png, 'Make it red.', '--strength', '2', '--no-keep-input', '--out', out, '--model', missingModel], /^strength scales the change added to the input: it needs the input kept/],
    [['inpaint', png, '--box', '1,2,3', '--out', out], /^--box takes x,y,w,h/],
    [['inpaint', png, '--out', out], /^inpaint needs exactly one of --mask <png> and --box x,y,w,h$/],
    [['inpaint', png, '--box', '1,1,4,4', '--mask', png, '--out', out], /^inpaint needs exactly one of/],
    [['inpaint', png, '--box', '60,0,8,8', '--out', out, '--model', missingModel], /^box 60,0,8,8 extends past the 64x64 image$/],
    [['inpaint', png, '--mask', join(dir, 'nomask.png'), '--out', out], /^image file not found: .*nomask\.png$/],
    [['canny2img', png, '', '--out', out], /^the prompt is empty$/],
    [['ask', png, ''], /^the question is empty$/],
    [['ground', png, 'cat', '--out', png], /is a file, not a folder$/],
    [['colorize', png, '--out', out, '--model', missingModel], /^no model at .*no-model$/],
  ];
  for (const [args, re] of cases) assert.match(await cli(...args), re, args.join(' '));
});

test('puma ask --help lists every question phrasing the emoji model was trained on', () => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'ask', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  for (const q of QUESTION_PHRASINGS) assert.ok(r.stdout.includes(`  ${q}\n`), q);
});

test('the puma binary prints task errors as one line and exits 1', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { encoding: 'utf8' });
  for (const [args, re] of [
    [['generate', 'grinning face', '--scales', '9', '--out', join(tmpdir(), 'x')], /^puma: --scales takes/],
    [['inpaint', 'missing.png', '--box', '0,0,8,8', '--out', join(tmpdir(), 'x')], /^puma: image file not found: missing\.png/],
  ] as [string[], RegExp][]) {
    const r = run(...args);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});

test('puma generate names the prompt\'s words the shipped model never read, before it starts', () => {
  const run = (prompt: string, out: string) => spawnSync(process.execPath,
    ['--import', 'tsx', 'src/cli/run.ts', 'generate', prompt, '--scales', '4', '--steps', '1', '--out', out], { encoding: 'utf8', env: { ...process.env, PUMA_NUM_THREADS: '1' } });
  const dir = mkdtempSync(join(tmpdir(), 'puma-unseen-'));
  const r = run('a pineapple face', join(dir, 'a'));
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /note: no training caption has "pineapple": /);
  assert.ok(r.stderr.indexOf('pineapple') < r.stderr.indexOf('MLLM (t2i) writes'), 'the note comes before the work');
  assert.deepEqual(JSON.parse(readFileSync(join(dir, 'a', 'settings.json'), 'utf8')).unseenWords, ['pineapple']);
  const known = run('grinning face', join(dir, 'b'));
  assert.equal(known.status, 0, known.stderr);
  assert.doesNotMatch(known.stderr, /no training caption/);
});

test('puma generate --best with several seeds writes each seed\'s best and the best of all as best.png', () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-best-'));
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'generate', 'grinning face', '--scales', '4,3', '--seeds', '0,1',
    '--steps', '1', '--best', '--out', dir], { encoding: 'utf8', env: { ...process.env, PUMA_NUM_THREADS: '1' } });
  assert.equal(r.status, 0, r.stderr);
  const settings = JSON.parse(readFileSync(join(dir, 'settings.json'), 'utf8'));
  const { seed, scale, score } = settings.bestImage;
  const perSeed = settings.scores.map((s: { seed: number; best: number; scores: Record<string, number> }) => [s.seed, s.best, s.scores[`f${s.best}`]]);
  assert.equal(perSeed.length, 2);
  assert.deepEqual([seed, scale, score], perSeed.reduce((a: number[], b: number[]) => (b[2] > a[2] ? b : a)));
  assert.deepEqual(readFileSync(join(dir, 'best.png')), readFileSync(join(dir, `f${scale}-seed${seed}.png`)));
  for (const [s, k] of perSeed) assert.deepEqual(readFileSync(join(dir, `best-seed${s}.png`)), readFileSync(join(dir, `f${k}-seed${s}.png`)));
  assert.match(r.stdout, new RegExp(`best of all: seed ${seed} f${scale} \\(best\\.png\\)`));
  rmSync(dir, { recursive: true, force: true });
});

test('puma inpaint with the shipped model keeps the pixels around the box (f4 by default); --no-keep-input does not (f0)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-keep-'));
  const img = testImage(64, 64, 7);
  writeFileSync(join(dir, 'in.png'), await encodeImage(img, 'png'));
  const run = (out: string, ...more: string[]) => spawnSync(process.execPath,
    ['--import', 'tsx', 'src/cli/run.ts', 'inpaint', join(dir, 'in.png'), '--box', '16,16,24,24', '--steps', '1', '--out', join(dir, out), ...more],
    { encoding: 'utf8', env: { ...process.env, PUMA_NUM_THREADS: '1' } });
  for (const [out, more, kept, scales] of [['a', ['--scales', '0'], 'known-pixels', [0]], ['b', ['--no-keep-input'], null, [0]], ['c', [], 'known-pixels', [4]]] as const) {
    const r = run(out, ...more);
    assert.equal(r.status, 0, r.stderr);
    const settings = JSON.parse(readFileSync(join(dir, out, 'settings.json'), 'utf8'));
    assert.deepEqual([settings.kept, settings.scales], [kept, scales], out);
    assert.ok(existsSync(join(dir, out, `f${scales[0]}-seed0.png`)), out);
  }
  const [a, b, c] = await Promise.all([['a', 0], ['b', 0], ['c', 4]].map(([o, k]) => readImage(join(dir, String(o), `f${k}-seed0.png`))));
  const outside = (p: number) => { const x = (p / 3 | 0) % 64, y = (p / 3 / 64) | 0; return x < 16 || x >= 40 || y < 16 || y >= 40; };
  let same = 0;
  for (let p = 0; p < a.data.length; p++) {
    if (outside(p)) assert.equal(a.data[p], img.data[p], `pixel byte ${p}`);
    else if (a.data[p] === b.data[p]) same++;
  }
  assert.equal(same, 24 * 24 * 3, 'inside the box both are the decode');
  assert.ok(b.data.some((v, p) => outside(p) && v !== img.data[p]), 'the raw decode differs from the input around the box');
  assert.ok(c.data.every((v, p) => !outside(p) || v === img.data[p]), 'f4, kept: the pixels around the box are the input\'s');
  assert.ok(c.data.some((v, p) => !outside(p) && v !== a.data[p]), 'f4 fills the box with another decode than f0');
  rmSync(dir, { recursive: true, force: true });
});

test('puma edit --strength with the shipped model: 0 returns the input, 2 doubles the change that 1 adds', () => {
  const shipped = loadBundle('models/puma-emoji');
  const img = testImage(64, 64, 11);
  const opts = { seeds: [0], steps: 2 };
  const at = (strength: number) => edit(shipped, img, 'Make this person female.', { ...opts, strength }).rows[0].images.get(0)!.toArray();
  const input = prepareImage(img).toArray();
  const [s0, s1, s2] = [at(0), at(1), at(2)];
  assert.deepEqual(Array.from(s0), Array.from(input), 'strength 0: the input');
  let changed = 0, checked = 0;
  for (let i = 0; i < input.length; i++) {
    const d1 = s1[i] - input[i], d2 = s2[i] - input[i];
    if (Math.abs(d1) > 1e-3) changed++;
    if (s2[i] > 1e-6 && s2[i] < 1 - 1e-6) { // where 2x did not clamp
      assert.ok(Math.abs(d2 - 2 * d1) < 1e-5, `value ${i}: ${d2} vs 2 x ${d1}`);
      checked++;
    }
  }
  assert.ok(changed > 100 && checked > input.length / 2, `${changed} values changed, ${checked} checked`);
});
