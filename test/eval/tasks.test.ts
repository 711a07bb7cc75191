import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { imageBatch } from '../../src/data/batches.js';
import type { EmojiWorld } from '../../src/data/emoji/world.js';
import type { PumaTokenizer } from '../../src/data/tokenizer/tokenizer.js';
import { bestScale, conceptImages, knownWordsTest, markdownTable, modelClipScores, pickRows } from '../../src/eval/common.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { conditionalTable, editTable, evalImageToImage, imageToImageCases } from '../../src/eval/image-to-image.js';
import { conceptRanks, conceptRetrieval, evalT2i, kindChance, kindMatch, retrievalSet, t2iTable } from '../../src/eval/t2i.js';
import { writeFigures } from '../../src/eval/figures.js';
import { boxIoU, evalGrounding, groundingTable, meanTrainingBox } from '../../src/eval/grounding.js';
import { evalUnderstanding, normalizeAnswer, understandingTable } from '../../src/eval/understanding.js';
import { boxToPosTokens } from '../../src/data/tokenizer/special.js';
import type { PumaMLLM } from '../../src/models/puma/mllm.js';
import * as T from '../../src/tensor/index.js';
import { T2I_DECODE_GUIDANCE } from '../../src/pipelines/decode.js';
import { reconstruct } from '../../src/pipelines/reconstruct.js';
import { buildSubset } from '../data/subset.js';
import { tinyEvalEncoder, tinyPuma64, tinyTokenizer } from './tiny.js';

let world: EmojiWorld, data: string, tok: PumaTokenizer;

before(async () => {
  ({ world, dir: data } = await buildSubset());
  tok = tinyTokenizer(world);
});
after(() => rmSync(data, { recursive: true, force: true }));

test('evaluation encoder: an image is its own nearest image; text needs one caption per image; a missing encoder is named', () => {
  const ev = tinyEvalEncoder(tok);
  const ids = world.imagesIn('test').slice(0, 3).map((i) => i.id);
  const x = imageBatch(world, ids, '01');
  for (const s of [...ev.imageSimilarity(x, x), ...ev.patchSimilarity(x, x)]) assert.ok(Math.abs(s - 1) < 1e-5, `self-similarity ${s}`);
  const flipped = x.narrow(0, 1, 1);
  const cross = ev.imageSimilarity(x.narrow(0, 0, 1), flipped)[0];
  assert.ok(cross < 1 - 1e-6, 'different images are not identical to the encoder');
  assert.throws(() => ev.textSimilarity(x, ['one']), /3 images but 1 texts/);
  assert.throws(() => EvalEncoder.load(data), /no evaluation CLIP .*puma train clip --runs/);
});

test('5-scale Max keeps, per item, the scale the model\'s own CLIP scores highest', () => {
  const puma = tinyPuma64(tok, [4, 0]);
  const g = new T.Generator(3);
  const byScale = [0, 1, 2].map(() => T.rand([4, 3, 64, 64], { generator: g }));
  const texts = ['grinning face', 'red apple', 'cat', 'thumbs up'];
  const pick = bestScale(puma, byScale, texts);
  const scores = byScale.map((x) => modelClipScores(puma, x, texts));
  pick.forEach((j, i) => assert.equal(scores[j][i], Math.max(...scores.map((s) => s[i])), `item ${i}`));
  const rows = pickRows(byScale, pick);
  for (let i = 0; i < 4; i++) assert.deepEqual(rows.narrow(0, i, 1).toArray(), byScale[pick[i]].narrow(0, i, 1).toArray());
});

test('concept retrieval: a held-out image finds its own concept first; another concept ranks it lower', () => {
  const ev = tinyEvalEncoder(tok);
  const set = retrievalSet(world, ev, 'test');
  const imgs = world.imagesIn('test');
  assert.equal(set.embeds.shape[0], imgs.length);
  const x = imageBatch(world, imgs.map((i) => i.id), '01');
  const own = conceptRanks(ev, x, imgs.map((i) => i.concept), set);
  assert.deepEqual(own, own.map(() => 0), 'an image is its own best match');
  // naming the next image's concept instead: the true concept outranks it unless the two share an image look-alike
  const shifted = conceptRanks(ev, x, imgs.map((_, i) => imgs[(i + 1) % imgs.length].concept), set);
  const concepts = new Set(imgs.map((i) => i.concept)).size;
  assert.ok(shifted.filter((r, i) => r > 0 || imgs[(i + 1) % imgs.length].concept === imgs[i].concept).length === imgs.length, String(shifted));
  assert.ok(shifted.every((r) => r < concepts), `ranks below ${concepts}`);
  assert.throws(() => conceptRanks(ev, x, [imgs[0].concept], set), /images but 1 concepts/);
  assert.throws(() => conceptRanks(ev, x.narrow(0, 0, 1), [-1], set), /no image in the retrieval set/);
});

test('kindMatch: the first concept of the prompted subcategory, against a random first concept', () => {
  const concepts = ['animal-mammal', 'animal-mammal', 'country-flag', 'animal-bird'].map((subcategory) => ({ subcategory }));
  const w = { concepts } as unknown as Parameters<typeof kindMatch>[0];
  const set = { embeds: null, concepts: [0, 0, 1, 2, 3] } as unknown as Parameters<typeof kindChance>[2];
  // wanted 0 found 1 (both mammals), wanted 2 found 3 (flag vs bird)
  assert.equal(kindMatch(w, [0, 2], [{ rank: 1, top: 1 }, { rank: 3, top: 3 }]), 0.5);
  // a mammal is drawn 2 times in 4 concepts, a flag 1 in 4
  assert.equal(kindChance(w, [0, 2], set), (2 / 4 + 1 / 4) / 2);
  // both seeds' retrievals in a row: found[i] is concepts[i % concepts.length]'s
  assert.equal(kindMatch(w, [0, 2], [{ rank: 0, top: 0 }, { rank: 0, top: 2 }, { rank: 2, top: 3 }, { rank: 0, top: 2 }]), 0.75);
});

test('knownWordsTest: a name is known when every word is in some training label or tag', () => {
  const concepts = [{ label: 'Red apple', tags: ['fruit'] }, { label: 'blue heart', tags: [] }, { label: 'green fruit', tags: [] }, { label: 'red heart', tags: [] }, { label: 'pineapple', tags: [] }];
  const imagesIn = (split: string) => (split === 'train' ? [{ concept: 0 }, { concept: 1 }] : [{ concept: 2 }, { concept: 3 }, { concept: 4 }]);
  const known = knownWordsTest({ concepts, imagesIn } as unknown as Parameters<typeof knownWordsTest>[0]);
  assert.deepEqual([0, 1, 2, 3, 4].map(known), [true, true, false, true, false]);
});

test('eval t2i: one row per decoder plus 5-scale Max and the Max over both seeds, metrics in range, two seeds differ', () => {
  const puma = tinyPuma64(tok, [4, 0], ['pretrain']);
  const r = evalT2i(puma, world, tinyEvalEncoder(tok), { n: 2, steps: 1 });
  assert.equal(r.stage, 'pretrain');
  assert.deepEqual(r.rows.map((x) => x.scale), ['f4', 'f0', '5-scale Max', 'Max of 2 seeds x 2 scales']);
  for (const x of r.rows) {
    const picked = x.scale.includes('Max');
    assert.equal(x.prompts, 2);
    for (const v of [x.clipI, x.clipT]) assert.ok(v >= -1 - 1e-6 && v <= 1 + 1e-6, `cosine ${v}`);
    for (const v of [x.r1, x.r5]) assert.ok(v >= 0 && v <= 1, `retrieval ${v}`);
    assert.ok(r.knownPrompts > 0 ? x.r5Known >= 0 && x.r5Known <= 1 : Number.isNaN(x.r5Known), `known-word retrieval ${x.r5Known}`);
    // the kind over the known-word names: the whole kind@1 when every name is of known words
    if (r.knownPrompts === x.prompts) assert.equal(x.kind1Known, x.kind1);
    else assert.ok(r.knownPrompts > 0 ? x.kind1Known >= 0 && x.kind1Known <= 1 : Number.isNaN(x.kind1Known), `known-word kind ${x.kind1Known}`);
    // and over the others: the two shares weighted by their counts give the whole
    const nKnown = r.knownPrompts, nUnseen = x.prompts - nKnown;
    if (nUnseen === 0) assert.ok(Number.isNaN(x.kind1Unseen));
    else if (nKnown === 0) assert.equal(x.kind1Unseen, x.kind1);
    else assert.ok(Math.abs((nKnown * x.kind1Known + nUnseen * x.kind1Unseen) / x.prompts - x.kind1) < 1e-9, `${x.kind1Known} ${x.kind1Unseen} ${x.kind1}`);
    assert.ok(x.r5 >= x.r1);
    // one image per prompt in the pick over both seeds: no diversity to measure
    if (x.scale.startsWith('Max of 2')) assert.ok(Number.isNaN(x.psnrD) && Number.isNaN(x.distD));
    else assert.ok(Number.isFinite(x.psnrD) && x.psnrD < 80, 'seeds seed and seed + 1 decode differently');
    // the decoder's own ceiling: a share per decoder, none for the picks
    assert.ok(picked ? Number.isNaN(x.r5Own) : x.r5Own >= 0 && x.r5Own <= 1, `own-feature retrieval ${x.r5Own}`);
  }
  assert.match(t2iTable(r), /R@5 of own features decoded/);
  // ... and it is the retrieval of the concepts' own images reconstructed at that scale
  const items = conceptImages(world, 'test', 2), ev = tinyEvalEncoder(tok), set = retrievalSet(world, ev, 'test');
  assert.equal(r.decodeGuidance, T2I_DECODE_GUIDANCE, 'text-to-image decodes at its own guidance by default');
  const rec = reconstruct(puma, imageBatch(world, items.map((i) => i.id), '01'), [0], { steps: 1, seed: 0, guidance: T2I_DECODE_GUIDANCE }).get(0)!;
  const ranks = conceptRanks(ev, rec, items.map((i) => i.concept), set);
  assert.equal(r.rows[1].r5Own, ranks.filter((x) => x < 5).length / 2);
  // kind@1: the first retrieved concept's subcategory; a right first concept is always the right kind
  const found = conceptRetrieval(ev, rec, items.map((i) => i.concept), set);
  assert.deepEqual(found.map((f) => f.rank), ranks);
  assert.equal(r.rows[1].kind1Own, kindMatch(world, items.map((i) => i.concept), found));
  assert.equal(r.kindChance, kindChance(world, items.map((i) => i.concept), set));
  for (const x of r.rows) assert.ok(x.kind1 >= x.r1 && x.kind1 <= 1, `kind@1 ${x.kind1} against R@1 ${x.r1}`);
  assert.ok(r.kindChance > 0 && r.kindChance < 1, `kind chance ${r.kindChance}`);
  assert.match(t2iTable(r), /kind@1 \(chance 0\.\d{3}\)/);
  assert.ok(set.concepts.length > 5, 'the retrieval set is larger than 5');
  assert.match(t2iTable(r), /\| 5-scale Max \|/);
  assert.match(t2iTable(r), /CLIP-T \[eval mini-CLIP\]/);
  assert.match(t2iTable(r), new RegExp(`R@5 of ${r.concepts}`));
  assert.equal(r.textGuidance, 1);
  // the guidance is recorded with the result (its arithmetic is tested with the MLLM)
  const g3 = evalT2i(puma, world, tinyEvalEncoder(tok), { n: 1, steps: 1, textGuidance: 3, guidance: 1.5 });
  assert.deepEqual([g3.textGuidance, g3.decodeGuidance], [3, 1.5]);
});

test('eval figures: Fig. 3, Fig. 6, one Fig. 10 per prompt and a gallery of all prompts', async () => {
  const puma = tinyPuma64(tok, [4, 3, 0], ['pretrain']);
  const out = mkdtempSync(join(tmpdir(), 'puma-fig-'));
  try {
    const paths = await writeFigures(puma, world, out, { steps: 1, prompts: ['red apple', 'blue heart'] });
    assert.deepEqual(paths.map((p) => basename(p)), ['fig3-reconstruction.png', 'fig6-diversity.png', 'fig10-red-apple.png', 'fig10-blue-heart.png', 'fig10-gallery.png', 'fig-image-to-image.png']);
    for (const p of paths) assert.deepEqual([...readFileSync(p).subarray(1, 4)], [0x50, 0x4e, 0x47], `${p} is a PNG`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test('eval edit and conditional: held-out cases have an input, a text and a different target', () => {
  const cases = imageToImageCases(world, 'edit', 4, 0);
  assert.equal(cases.length, 4);
  for (const s of cases) {
    assert.equal(s.split, 'test');
    assert.notEqual(s.meta.source, s.meta.target);
  }
  const canny = imageToImageCases(world, 'canny', 2, 0);
  assert.ok(canny.every((s) => s.segments.some((g) => g.kind === 'image' && g.role === 'input' && g.ref.op === 'canny')));
  const puma = tinyPuma64(tok, [0], ['pretrain', 'edit']);
  const ev = tinyEvalEncoder(tok);
  const e = evalImageToImage(puma, world, ev, 'edit', { n: 2, steps: 1 });
  assert.equal(e.stage, 'edit');
  // f0, f0 applied to the input as a change (what `puma edit` returns), the input
  assert.deepEqual(e.rows.map((x) => x.scale), ['f0', 'f0, input kept', 'input as is']);
  assert.ok(e.rows[0].ssimTarget <= 1 && Number.isFinite(e.rows[0].psnrTarget));
  assert.ok(e.rows[1].psnrTarget !== e.rows[0].psnrTarget);
  // the yardstick row: the input itself, identical to the input by every preservation measure
  assert.ok(Math.abs(e.rows[2].clipIIn - 1) < 1e-4 && Math.abs(e.rows[2].dinoIn - 1) < 1e-4, `${e.rows[2].clipIIn} ${e.rows[2].dinoIn}`);
  assert.ok(Number.isFinite(e.rows[2].psnrTarget));
  assert.match(editTable(e), /DINO-style \(input\) \[eval mini-CLIP\]/);
  const c = evalImageToImage(puma, world, ev, 'colorize', { n: 1, steps: 1 });
  assert.equal(c.stage, 'pretrain');
  assert.match(c.note ?? '', /no instruction-tuned MLLM for 'cond'/);
  assert.match(conditionalTable([c]), /\| colorize \| f0 \|/);
  // colorize and inpaint also score what their pipelines return: f0 with the input's luma / known pixels put back
  assert.deepEqual(c.rows.map((x) => x.scale), ['f0', 'f0, input kept', 'input as is']);
  assert.ok(c.rows[1].psnrTarget !== c.rows[0].psnrTarget);
  const inp = evalImageToImage(puma, world, ev, 'inpaint', { n: 2, steps: 1 });
  assert.deepEqual(inp.rows.map((x) => x.scale), ['f0', 'f0, input kept', 'input as is']);
  // outside the holes the kept image is the input, so it is nearer the input than the raw decode
  assert.ok(inp.rows[1].clipIIn > inp.rows[0].clipIIn, `${inp.rows[1].clipIIn} ${inp.rows[0].clipIIn}`);
  // with an f4 decoder inpainting also scores its default, f4 with the known pixels put back
  const coarse = evalImageToImage(tinyPuma64(tok, [0, 4], ['pretrain']), world, ev, 'inpaint', { n: 1, steps: 1 });
  assert.deepEqual(coarse.rows.map((x) => x.scale), ['f4', 'f0', '5-scale Max', 'f4, input kept', 'f0, input kept', 'input as is']);
  assert.ok(coarse.rows[3].clipIIn > coarse.rows[0].clipIIn, `${coarse.rows[3].clipIIn} ${coarse.rows[0].clipIIn}`);
  // canny runs on mllm-canny where there is one, else on mllm-cond; inpainting and colorization on mllm-cond
  const split = tinyPuma64(tok, [0], ['pretrain', 'cond', 'canny']);
  assert.deepEqual((['canny', 'inpaint', 'colorize'] as const).map((t) => evalImageToImage(split, world, ev, t, { n: 1, steps: 1 }).stage), ['canny', 'cond', 'cond']);
  assert.equal(evalImageToImage(tinyPuma64(tok, [0], ['pretrain', 'cond']), world, ev, 'canny', { n: 1, steps: 1 }).stage, 'cond');
});

test('eval understanding: six inputs, exact-match scoring, accuracies are fractions of the questions', () => {
  assert.equal(normalizeAnswer(' Smileys & Emotion. '), 'smileys & emotion');
  assert.notEqual(normalizeAnswer('male'), normalizeAnswer('female'));
  const puma = tinyPuma64(tok, [0], ['pretrain', 'understand']);
  const r = evalUnderstanding(puma, world, { n: 3 });
  assert.equal(r.stage, 'understand');
  assert.deepEqual(r.rows.map((x) => x.input), ['f4', 'f3', 'f2', 'f1', 'f0', 'f4-f0']);
  for (const x of r.rows) {
    assert.equal(x.questions, 3);
    assert.ok(x.accuracy >= 0 && x.accuracy <= 1);
    // 3 questions: accuracy is a multiple of 1/3
    assert.ok(Math.abs(x.accuracy * 3 - Math.round(x.accuracy * 3)) < 1e-9);
  }
  assert.equal(r.examples.length, 3);
  assert.match(understandingTable(r), /\| f4-f0 \|/);
});

test('eval grounding: IoU of inclusive pixel boxes; an MLLM that answers the constant box scores as the constant', () => {
  assert.equal(boxIoU([0, 0, 9, 9], [5, 0, 14, 9]), 50 / 150);
  assert.equal(boxIoU([0, 0, 9, 9], [0, 0, 9, 9]), 1);
  assert.equal(boxIoU([0, 0, 3, 3], [10, 10, 12, 12]), 0);
  assert.equal(boxIoU([4, 4, 3, 3], [0, 0, 9, 9]), 0, 'an empty box');
  const puma = tinyPuma64(tok, [0], ['pretrain', 'understand']);
  const r = evalGrounding(puma, world, { n: 4 });
  assert.equal(r.stage, 'understand');
  assert.deepEqual(r.rows.map((x) => x.answer.replace(/ \d.*$/, '')), ['MLLM, f4', 'MLLM, f3', 'MLLM, f2', 'MLLM, f1', 'MLLM, f0', 'MLLM, f4-f0', 'constant: the mean training box']);
  assert.ok(r.rows.every((x) => x.cases === 4));
  for (const x of r.rows) assert.ok(x.accuracy >= 0 && x.accuracy <= 1 && x.meanIoU >= 0 && x.meanIoU <= 1 && x.parsed >= 0 && x.parsed <= 1);
  assert.ok(r.examples.every((e) => e.truth.length === 4 && /Where is|bounding box|box|Locate/i.test(e.question)), JSON.stringify(r.examples[0]));
  // a stub answering the mean training box, in position tokens: its row is the constant's
  const c = meanTrainingBox(world);
  const ids = tok.encode(boxToPosTokens(c, world.width, world.height));
  const stub = { generateText: () => ids } as unknown as PumaMLLM;
  const same = evalGrounding({ ...puma, mllms: { ...puma.mllms, understand: stub } }, world, { n: 6, seed: 1 });
  const [all, constant] = same.rows.slice(-2);
  assert.deepEqual([all.parsed, all.cases], [1, 6]);
  // (position tokens read back to pixels exactly at 64 px)
  assert.deepEqual([all.meanIoU, all.accuracy], [constant.meanIoU, constant.accuracy]);
  assert.ok(all.meanIoU > 0);
  assert.match(groundingTable(same), /\| MLLM, f4-f0 \| .* \| 6 \|/);
});

test('markdownTable aligns numbers right and prints n/a for missing values', () => {
  assert.equal(markdownTable(['a', 'b'], [['x', 0.5], ['y', NaN]], 2), '| a | b |\n|---|---:|\n| x | 0.50 |\n| y | n/a |');
});
