import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { wordnet } from '../../src/data/definitions.js';
import { renderRef } from '../../src/data/derive.js';
import type { EmojiWorld } from '../../src/data/emoji/world.js';
import { makeMask, maskCoverage } from '../../src/data/masks.js';
import { Rng } from '../../src/data/rng.js';
import { IMAGE_FEATURE_TOKENS, layoutString, type Sample, TASKS, validateSample } from '../../src/data/tasks/sample.js';
import { editPairs, makeSample, sampleTask, taskCounts, taskItems } from '../../src/data/tasks/samplers.js';
import { sequenceLength, tokenizeSample } from '../../src/data/tasks/sequence.js';
import { applyMerges, pretokenize, toTokenizerJson, trainBpe } from '../../src/data/tokenizer/bpe.js';
import { captionCorpus, corpusWords, wordsOf } from '../../src/data/tokenizer/corpus.js';
import { boxToPosTokens, posTokensToBox } from '../../src/data/tokenizer/special.js';
import { loadTokenizer, type PumaTokenizer } from '../../src/data/tokenizer/tokenizer.js';
import { buildSubset } from './subset.js';

let world: EmojiWorld;
let tok: PumaTokenizer;
let trainedJson: ReturnType<typeof toTokenizerJson> & Record<string, unknown>;
let model: ReturnType<typeof trainBpe>;
before(async () => {
  ({ world } = await buildSubset());
  model = trainBpe(captionCorpus(world.concepts), 1200);
  trainedJson = toTokenizerJson(model) as typeof trainedJson;
  tok = loadTokenizer(trainedJson);
});

test('every task yields well-formed samples in every split, seeded', () => {
  const counts = taskCounts(world);
  for (const task of TASKS) {
    for (const split of ['train', 'val', 'test'] as const) {
      assert.ok(counts[task][split] > 0, `${task}/${split} has items`);
      const samples = sampleTask(world, task, split, 12, 7);
      for (const s of samples) {
        assert.equal(s.task, task);
        assert.deepEqual(validateSample(s, world.images.length), [], layoutString(s));
        for (const seg of s.segments) if (seg.kind === 'image') assert.equal(world.images[seg.ref.image].split, split);
      }
      assert.deepEqual(sampleTask(world, task, split, 12, 7), samples, 'same seed, same samples');
    }
    assert.notDeepEqual(sampleTask(world, task, 'train', 12, 1), sampleTask(world, task, 'train', 12, 2));
  }
});

test('layouts follow PUMA-REFERENCE section 3', () => {
  const layout = (task: (typeof TASKS)[number]) => layoutString(sampleTask(world, task, 'train', 1, 3)[0]);
  assert.match(layout('text-to-image'), /^<s>[^[]+\[IMG\]<#\d+ target>\[\/IMG\]<\/s>$/);
  assert.match(layout('edit'), /^<s>\[IMG\]<#\d+ input>\[\/IMG\] [^[]+ \[IMG\]<#\d+ target>\[\/IMG\]<\/s>$/);
  assert.match(layout('canny'), /^<s>\[IMG\]<canny\(#\d+\) input>\[\/IMG\] [^[]+ \[IMG\]<#\d+ target>\[\/IMG\]<\/s>$/);
  assert.match(layout('qa'), /^<s>A chat between .* USER: \[IMG\]<#\d+ input>\[\/IMG\] .+ ASSISTANT: .+<\/s>$/);
  // Loss only on the answer in understanding samples.
  const qa = sampleTask(world, 'qa', 'train', 20, 0);
  for (const s of qa) assert.deepEqual(s.segments.map((g) => g.kind === 'text' && g.loss), [false, false, false, true]);
  // About half of the conditional prompts carry an instruction.
  const withInstr = sampleTask(world, 'colorize', 'train', 200, 0).filter((s) => s.meta.withInstruction).length;
  assert.ok(withInstr > 70 && withInstr < 130, `${withInstr}/200 with instruction`);
});

test('caption variants include tags, styles and other languages', () => {
  const variants = new Set(sampleTask(world, 'text-to-image', 'train', 300, 0).map((s) => s.meta.variant));
  for (const v of ['label', 'tags', 'style', 'language', 'category']) assert.ok(variants.has(v), v);
  const captions = sampleTask(world, 'text-to-image', 'train', 300, 0).map((s) => String(s.meta.caption));
  assert.ok(captions.some((c) => /[\u3040-\u30ff\u4e00-\u9fff]/.test(c)), 'some Japanese or Chinese captions');
});

test('edit pairs stay within a split, change the pixels, and do what they say', () => {
  const kinds = new Set<string>();
  for (const split of ['train', 'val', 'test'] as const) {
    for (const p of editPairs(world, split)) {
      const a = world.images[p.source], b = world.images[p.target];
      kinds.add(p.kind);
      assert.equal(a.split, split);
      assert.equal(b.split, split);
      assert.notEqual(a.pixelHash, b.pixelHash);
      const ca = world.concepts[a.concept], cb = world.concepts[b.concept];
      if (p.kind === 'style') assert.ok(a.concept === b.concept && a.style !== b.style);
      else assert.equal(a.style, b.style);
      if (p.kind === 'tone-add') assert.ok(ca.tones.length === 0 && cb.tones.length > 0 && ca.base === cb.base);
      if (p.kind === 'tone-remove') assert.ok(ca.tones.length > 0 && cb.tones.length === 0 && ca.base === cb.base);
      if (p.kind === 'tone-change') assert.ok(ca.base === cb.base && ca.tones.join() !== cb.tones.join());
      if (p.kind === 'gender') assert.ok(ca.gender !== cb.gender && ca.genderKey === cb.genderKey && ca.tones.join() === cb.tones.join());
    }
  }
  assert.deepEqual([...kinds].sort(), ['gender', 'style', 'tone-add', 'tone-change', 'tone-remove']);
  const instr = sampleTask(world, 'edit', 'train', 60, 0).filter((s) => s.meta.kind === 'tone-add');
  for (const s of instr) {
    const target = world.concepts[world.images[s.meta.target as number].concept];
    assert.ok(String(s.meta.instruction).includes(target.tones[0]), String(s.meta.instruction));
  }
});

test('grounding answers are the box of the visible pixels, in position tokens', () => {
  assert.equal(boxToPosTokens([0, 0, 63, 63], 64, 64), '<pos_0><pos_0><pos_223><pos_223>');
  for (let v = 0; v < 64; v++) {
    assert.deepEqual(posTokensToBox(boxToPosTokens([v, v, v, v], 64, 64), 64, 64), [v, v, v, v]);
  }
  for (const s of sampleTask(world, 'ground', 'val', 30, 0)) {
    const seg = s.segments.find((g) => g.kind === 'image')!;
    assert.ok(seg.kind === 'image' && seg.ref.op === 'placed');
    const img = renderRef(world, seg.ref);
    const box = posTokensToBox(String(s.meta.answer), 64, 64)!;
    assert.deepEqual(box, s.meta.box);
    // Non-white pixels lie inside the box (the emoji is drawn on white).
    const [x0, y0, x1, y1] = box;
    for (let y = 0; y < 64; y++)
      for (let x = 0; x < 64; x++) {
        const p = (y * 64 + x) * 3;
        const white = img.data[p] === 255 && img.data[p + 1] === 255 && img.data[p + 2] === 255;
        if (!white) assert.ok(x >= x0 && x <= x1 && y >= y0 && y <= y1, `pixel ${x},${y} outside ${box}`);
      }
  }
});

test('derived inputs: masks are seeded with sensible coverage, grayscale is grey, canny is binary', () => {
  for (const kind of ['box', 'strokes'] as const) {
    const covers: number[] = [];
    for (let seed = 0; seed < 50; seed++) {
      const m = makeMask({ kind, seed }, 64, 64);
      assert.deepEqual(makeMask({ kind, seed }, 64, 64), m);
      covers.push(maskCoverage(m));
    }
    const mean = covers.reduce((a, b) => a + b) / covers.length;
    console.log(`${kind} masks: mean coverage ${mean.toFixed(3)}, min ${Math.min(...covers).toFixed(3)}, max ${Math.max(...covers).toFixed(3)}`);
    assert.ok(Math.min(...covers) > 0.01 && Math.max(...covers) < 0.8 && mean > 0.08 && mean < 0.5);
  }
  const id = world.imagesIn('train')[5].id;
  const gray = renderRef(world, { image: id, op: 'grayscale' });
  for (let i = 0; i < gray.data.length; i += 3) assert.ok(gray.data[i] === gray.data[i + 1] && gray.data[i] === gray.data[i + 2]);
  const edges = renderRef(world, { image: id, op: 'canny', low: 100, high: 200 });
  const values = new Set(edges.data);
  assert.ok(values.has(0) && values.has(255) && values.size === 2);
  assert.notDeepEqual(new Rng(1).next(), new Rng(2).next());
});

test('corpusWords: the words of the given concepts\' captions and of the templates, not those of other concepts', () => {
  const train = world.imagesIn('train').map((im) => world.concepts[im.concept]);
  const known = corpusWords(train);
  for (const c of train.slice(0, 20)) for (const w of [...wordsOf(c.label), ...c.tags.flatMap(wordsOf)]) assert.ok(known.has(w), w);
  for (const w of ['emoji', 'twemoji', 'noto', 'style', 'keywords']) assert.ok(known.has(w), `template word ${w}`);
  // a held-out concept's label word that no training text has is not in it
  const heldOut = world.imagesIn('test').flatMap((im) => wordsOf(world.concepts[im.concept].label)).filter((w) => !known.has(w));
  assert.ok(heldOut.length > 0, 'the subset holds out some word');
  assert.ok(corpusWords(world.concepts).has(heldOut[0]), 'every concept\'s words include it');
  assert.deepEqual(wordsOf("Red Apple, it's 2 CATS!"), ['red', 'apple', 'it', 's', 'cats']);
});

test('BPE tokenizer: the library encodes exactly like the reference merges and round-trips', () => {
  assert.equal(tok.vocabSize, 1200);
  const ranks = new Map(model.merges.map((m, i) => [m.join(' '), i]));
  const texts = [...captionCorpus(world.concepts)].slice(0, 3000);
  texts.push('Ünïcödé ✨ 12345 multiple   spaces\nnew line', "it's a dog's life");
  for (const t of texts) {
    const ids = tok.encode(t);
    const ref = pretokenize(t).flatMap((p) => applyMerges(p, ranks, model.vocab)).map((p) => model.vocab.get(p));
    assert.deepEqual(ids, ref, t);
    assert.equal(tok.decode(ids), t);
  }
  const labels = world.concepts.map((c) => c.label).join('\n');
  const ratio = new TextEncoder().encode(labels).length / tok.encode(labels).length;
  console.log(`BPE (vocab 1200, trained on the subset): ${ratio.toFixed(2)} bytes per token on English labels`);
  assert.ok(ratio > 3, 'merges compress the captions');
  assert.deepEqual(tok.encode('[IMG]<pos_17>'), [tok.special.imgStart, tok.posId(17)]);
  assert.equal(tok.tokenToId('<pos_223>'), tok.posId(223));
  assert.equal(tok.decode([tok.special.bos, ...tok.encode('hi'), tok.special.eos], { skipSpecial: true }), 'hi');
  assert.equal(new Set(Object.values(tok.special)).size, 5);
  assert.throws(() => trainBpe(['a'], 300), /at least 485/);
});

test('a LLaMA-3-style tokenizer.json loads; missing PUMA tokens are appended after it', () => {
  const llama = structuredClone(trainedJson) as { added_tokens: { id: number; content: string }[]; post_processor: unknown };
  const base = model.vocab.size;
  llama.added_tokens = ['<|begin_of_text|>', '<|end_of_text|>', '<|reserved_special_token_0|>'].map((content, i) => ({
    id: base + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  }));
  llama.post_processor = {
    type: 'TemplateProcessing',
    single: [{ SpecialToken: { id: '<|begin_of_text|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
    pair: [],
    special_tokens: { '<|begin_of_text|>': { id: '<|begin_of_text|>', ids: [base], tokens: ['<|begin_of_text|>'] } },
  };
  const t = loadTokenizer(llama);
  assert.equal(t.special.bos, base);
  assert.equal(t.special.eos, base + 1);
  assert.equal(t.special.imgStart, base + 3);
  assert.equal(t.posId(0), base + 6);
  assert.equal(t.vocabSize, base + 3 + 3 + 224);
  assert.deepEqual(t.encode('grinning face'), tok.encode('grinning face'), 'encode adds no <|begin_of_text|>');
  assert.throws(() => loadTokenizer('/nonexistent/tokenizer.json'), /tokenizer file not found/);
  assert.throws(() => loadTokenizer({ foo: 1 }), /not a Hugging Face tokenizer\.json/);
});

test('tokenised samples: <s> ... </s>, [IMG] image [/IMG], loss on targets only', () => {
  for (const task of TASKS) {
    const s: Sample = sampleTask(world, task, 'train', 1, 11)[0];
    const parts = tokenizeSample(s, tok);
    assert.deepEqual(parts[0], { kind: 'tokens', ids: [tok.special.bos], loss: false });
    assert.deepEqual(parts.at(-1), { kind: 'tokens', ids: [tok.special.eos], loss: true });
    parts.forEach((p, i) => {
      if (p.kind !== 'image') return;
      assert.deepEqual((parts[i - 1] as { ids: number[] }).ids, [tok.special.imgStart]);
      assert.deepEqual((parts[i + 1] as { ids: number[] }).ids, [tok.special.imgEnd]);
    });
    const images = parts.filter((p) => p.kind === 'image').length;
    const text = parts.reduce((n, p) => n + (p.kind === 'tokens' ? p.ids.length : 0), 0);
    assert.equal(sequenceLength(parts), text + images * IMAGE_FEATURE_TOKENS);
  }
  assert.equal(taskItems(world, 'caption', 'val').length, world.imagesIn('val').length);
});

test('text-to-image captions: definitions only when asked, each the definitions of the name', () => {
  const items = taskItems(world, 'text-to-image', 'train') as number[];
  const variants = (definitions: boolean) => {
    const rng = new Rng('definitions');
    return items.slice(0, 200).map((id) => makeSample(world, 'text-to-image', 'train', id, rng, { definitions }));
  };
  assert.ok(variants(false).every((s) => s.meta.variant !== 'definition'));
  const defined = variants(true).filter((s) => s.meta.variant === 'definition');
  // 2 of the 9 variants: about 44 of 200
  assert.ok(defined.length > 20 && defined.length < 75, `${defined.length} definitions`);
  for (const s of defined) {
    const label = world.concepts[world.images[Number(s.meta.image)].concept].label;
    assert.equal(s.meta.caption, wordnet().defineText(label));
    assert.notEqual(s.meta.caption, label);
  }
});
