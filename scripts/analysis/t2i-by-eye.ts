// "Recognisably the prompted kind of emoji to a person", asked of a person as a forced choice.
// `make` generates the 5-scale Max image (as `puma generate --best`, one seed) for n held-out
// names and writes numbered sheets without the prompts (sheet-*.png), a list of four names per
// image (questions.txt: the prompt and three other held-out names of other subcategories, in a
// random order) and the answers apart (key.json). The judge looks at the sheets, picks one name
// per image into answers.txt ("<item> <letter>" a line) without opening key.json; `score` then
// counts the right picks (chance 25%), over all names and over the names made of known words,
// beside the evaluation CLIP put to the same question (the option whose concept's nearest image
// is closest to the generated one, as `puma eval t2i` retrieves).
//   node --import tsx scripts/analysis/t2i-by-eye.ts make <dir> [n] [seed] [bundle] [split: test|val|train]
//   node --import tsx scripts/analysis/t2i-by-eye.ts score <dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { conceptImages, knownWordsTest } from '../../src/eval/common.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { conceptRetrieval, retrievalSet } from '../../src/eval/t2i.js';
import { renderGrid } from '../../src/io/grid.js';
import { tensorToImages, type Image } from '../../src/io/image.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { generate } from '../../src/pipelines/generate.js';
import * as T from '../../src/tensor/index.js';
import { rate, readAnswers } from './forced-choice.js';

interface Key { items: { item: number; concept: number; label: string; options: string[]; answer: string; knownWords: boolean; scale: number; clipPick: string }[]; seed: number; bundle: string; split: string }

const LETTERS = ['a', 'b', 'c', 'd'];
const [mode, dir, nArg = '48', seedArg = '0', bundle = 'models/puma-emoji', split = 'test'] = process.argv.slice(2);
if ((mode !== 'make' && mode !== 'score') || !dir) throw new Error('usage: t2i-by-eye.ts make|score <dir> [n] [seed] [bundle] [split]');
const world = loadEmojiWorld();

if (mode === 'make') {
  const n = Number(nArg), seed = Number(seedArg);
  const puma = loadPuma(bundle);
  const rng = new T.Generator(1000 + seed);
  const known = knownWordsTest(world);
  const items = conceptImages(world, split as 'val' | 'test', n);
  const pool = conceptImages(world, split as 'val' | 'test', 10_000);
  const ev = EvalEncoder.load(bundle), set = retrievalSet(world, ev, split as 'val' | 'test');
  const key: Key = { items: [], seed, bundle, split };
  const cells: { image: Image; caption: string }[] = [];
  mkdirSync(dir, { recursive: true });
  items.forEach((it, i) => {
    const c = world.concepts[it.concept];
    // three distractors: held-out names of subcategories unlike the prompt's and each other's
    const kinds = new Set([c.subcategory]), options = [c.label], optionConcepts = [it.concept];
    while (options.length < 4) {
      const dc = pool[rng.randint(0, pool.length)].concept, d = world.concepts[dc];
      if (kinds.has(d.subcategory)) continue;
      kinds.add(d.subcategory);
      options.push(d.label);
      optionConcepts.push(dc);
    }
    for (let j = options.length - 1; j > 0; j--) {
      const k = rng.randint(0, j + 1);
      [options[j], options[k]] = [options[k], options[j]];
      [optionConcepts[j], optionConcepts[k]] = [optionConcepts[k], optionConcepts[j]];
    }
    const r = T.tidy(() => {
      const g = generate(puma, c.label, { seeds: [seed], best: true });
      const row = g.rows[0];
      const x = row.images.get(row.best!)!;
      // the evaluation CLIP's pick: retrieval restricted to the four options' images
      const four = set.concepts.map((cc, j) => (optionConcepts.includes(cc) ? j : -1)).filter((j) => j >= 0);
      const sub = { embeds: T.cat(four.map((j) => set.embeds.narrow(0, j, 1)), 0), concepts: four.map((j) => set.concepts[j]) };
      const top = conceptRetrieval(ev, x, [it.concept], sub)[0].top;
      return { image: tensorToImages(x)[0], scale: row.best!, clipPick: LETTERS[optionConcepts.indexOf(top)] };
    });
    cells.push({ image: r.image, caption: `${i + 1}` });
    key.items.push({ item: i + 1, concept: it.concept, label: c.label, options, answer: LETTERS[options.indexOf(c.label)], knownWords: known(it.concept), scale: r.scale, clipPick: r.clipPick });
    process.stderr.write(`\r${i + 1}/${items.length}`);
  });
  process.stderr.write('\n');
  const perSheet = 12;
  for (let s = 0; s * perSheet < cells.length; s++) {
    const part = cells.slice(s * perSheet, (s + 1) * perSheet);
    const rows = [];
    for (let r = 0; r < part.length; r += 4) rows.push({ cells: part.slice(r, r + 4) });
    writeFileSync(join(dir, `sheet-${s + 1}.png`), await renderGrid(rows, { scale: 2 }));
  }
  writeFileSync(join(dir, 'questions.txt'), key.items.map((k) => `${k.item}: ${k.options.map((o, j) => `(${LETTERS[j]}) ${o}`).join('  ')}`).join('\n') + '\n');
  writeFileSync(join(dir, 'key.json'), JSON.stringify(key, null, 1));
  console.log(`wrote ${Math.ceil(cells.length / perSheet)} sheets, questions.txt and key.json to ${dir}; answers go to ${join(dir, 'answers.txt')}`);
} else {
  const key = JSON.parse(readFileSync(join(dir, 'key.json'), 'utf8')) as Key;
  const answers = readAnswers(dir, LETTERS.join(''), key.items.map((k) => k.item));
  const line = (what: string, xs: Key['items']) => console.log(`${what.padEnd(24)} ${rate(xs, (k) => answers.get(k.item)).padEnd(14)} ${rate(xs, (k) => k.clipPick)}`);
  console.log(`${key.bundle}, ${key.split} split, seed ${key.seed}, 5-scale Max; chance 25%`);
  console.log(`${''.padEnd(24)} ${'by eye'.padEnd(14)} eval CLIP`);
  line('all names', key.items);
  const known = key.items.filter((k) => k.knownWords), unseen = key.items.filter((k) => !k.knownWords);
  if (known.length && unseen.length) {
    line('names of known words', known);
    line('names with unseen words', unseen);
  }
  for (const k of key.items) console.log(`${k.item}\t${answers.get(k.item) === k.answer ? 'right' : 'wrong'}\tf${k.scale}\t${k.label}\t(picked: ${k.options[LETTERS.indexOf(answers.get(k.item)!)]})`);
}
