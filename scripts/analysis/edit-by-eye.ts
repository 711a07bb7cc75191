// Does `puma edit` follow its instruction, as a person sees it? A two-way forced choice: for a
// held-out edit (a skin tone, a gender or the drawing style; the three in turn), the same input is
// edited twice, once by the true instruction ("Make the skin dark.") and once by a contrasting one
// (the farthest tone, the other gender, the input's own style), each as `puma edit` returns it
// (input kept, f0, seed 0). `make` writes sheets of rows
// "input | A | B" with the true instruction under each row (sheet-*.png), and the answers apart
// (key.json); the judge writes which of A and B the instruction made into answers.txt ("<row>
// <a|b>" a line) without opening key.json; `score` counts the right picks (chance 50%), by kind,
// beside two machine judges on the same question: the output nearer the true target in PSNR, and
// the evaluation CLIP's (the output whose image embedding is nearer the true target's).
//   node --import tsx scripts/analysis/edit-by-eye.ts make <dir> [n] [seed] [bundle] [strength] [kinds]
//     strength: `puma edit --strength` (default 1); kinds: which families, e.g. gender or tone,gender,style (the default)
//   node --import tsx scripts/analysis/edit-by-eye.ts score <dir>
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SKIN_TONES, STYLE_NAMES, type SkinTone } from '../../src/data/emoji/meta.js';
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { editPairs, type EditPair } from '../../src/data/tasks/samplers.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { psnr } from '../../src/eval/metrics.js';
import { renderGrid } from '../../src/io/grid.js';
import { tensorToImages, type Image } from '../../src/io/image.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { edit } from '../../src/pipelines/edit.js';
import { prepareImage } from '../../src/pipelines/reconstruct.js';
import * as T from '../../src/tensor/index.js';
import { rate, readAnswers } from './forced-choice.js';

interface Row { row: number; kind: string; source: number; target: number; instruction: string; contrast: string; answer: 'a' | 'b'; psnrPick: 'a' | 'b'; clipPick: 'a' | 'b' }
interface Key { rows: Row[]; seed: number; bundle: string; strength?: number }

const [mode, dir, nArg = '40', seedArg = '0', bundle = 'models/puma-emoji', strengthArg = '1', kindsArg = 'tone,gender,style'] = process.argv.slice(2);
if ((mode !== 'make' && mode !== 'score') || !dir) throw new Error('usage: edit-by-eye.ts make|score <dir> [n] [seed] [bundle] [strength] [kinds]');
const world = loadEmojiWorld();
const toImage = (x: T.Tensor): Image => tensorToImages(x)[0];

if (mode === 'make') {
  const n = Number(nArg), seed = Number(seedArg);
  const puma = loadPuma(bundle), ev = EvalEncoder.load(bundle);
  const rng = new T.Generator(2000 + seed);
  // held-out edits by family: tone (add or change to one skin tone), gender (to male or female), style
  const tone = (id: number): SkinTone => world.concepts[world.images[id].concept].tones[0];
  const all = editPairs(world, 'test');
  const strength = Number(strengthArg), kinds = kindsArg.split(',');
  const families = [
    kinds.includes('tone') ? all.filter((p) => (p.kind === 'tone-add' || p.kind === 'tone-change') && new Set(world.concepts[world.images[p.target].concept].tones).size === 1) : [],
    kinds.includes('gender') ? all.filter((p) => p.kind === 'gender' && ['male', 'female'].includes(world.concepts[world.images[p.target].concept].gender ?? '')) : [],
    kinds.includes('style') ? all.filter((p) => p.kind === 'style') : [],
  ].filter((f) => f.length > 0);
  if (families.length === 0) throw new Error(`no edit family in '${kindsArg}': use tone, gender, style`);
  const picked: EditPair[] = [];
  const used = new Set<number>();
  for (let f = 0, tries = 0; picked.length < n && tries < 100_000; f = (f + 1) % families.length, tries++) {
    const pool = families[f];
    for (let t = 0; t < 1000; t++) {
      const p = pool[rng.randint(0, pool.length)];
      if (used.has(p.source)) continue; // one edit per input image
      used.add(p.source);
      picked.push(p);
      break;
    }
  }
  const key: Key = { rows: [], seed, bundle, strength };
  const gridRows: { cells: { image: Image; caption: string }[]; text: string }[] = [];
  mkdirSync(dir, { recursive: true });
  picked.forEach((p, i) => {
    const c = world.concepts[world.images[p.target].concept];
    let instruction: string, contrast: string;
    if (p.kind === 'style') {
      const to = world.images[p.target].style, from = world.images[p.source].style;
      instruction = `Redraw this emoji in the ${STYLE_NAMES[to]} style.`;
      contrast = `Redraw this emoji in the ${STYLE_NAMES[from]} style.`;
    } else if (p.kind === 'gender') {
      instruction = `Make this person ${c.gender}.`;
      contrast = `Make this person ${c.gender === 'male' ? 'female' : 'male'}.`;
    } else {
      const t = tone(p.target), k = SKIN_TONES.indexOf(t);
      const far = k < 2 ? 'dark' : k > 2 ? 'light' : rng.uniform() < 0.5 ? 'light' : 'dark';
      instruction = `Make the skin ${t}.`;
      contrast = `Make the skin ${far}.`;
    }
    const input = world.rgb(p.source);
    const r = T.tidy(() => {
      const outs = [instruction, contrast].map((s) => edit(puma, input, s, { seeds: [seed], strength }).rows[0].images.get(0)!);
      const target = prepareImage(world.rgb(p.target));
      const ps = outs.map((o) => psnr(o, target)[0]);
      const e = ev.images(T.cat([target, ...outs], 0)).toArray(), d = e.length / 3;
      const cos = [1, 2].map((j) => { let s = 0; for (let q = 0; q < d; q++) s += e[q] * e[j * d + q]; return s; });
      return { images: outs.map(toImage), truePsnrWins: ps[0] >= ps[1], trueClipWins: cos[0] >= cos[1] };
    });
    const swap = rng.uniform() < 0.5; // the true instruction's output is b when swapped
    const answer = swap ? 'b' : 'a', other = swap ? 'a' : 'b';
    const [A, B] = swap ? [r.images[1], r.images[0]] : r.images;
    gridRows.push({ cells: [{ image: toImage(prepareImage(input)), caption: `${i + 1}: input` }, { image: A, caption: 'a' }, { image: B, caption: 'b' }], text: instruction });
    key.rows.push({
      row: i + 1, kind: p.kind, source: p.source, target: p.target, instruction, contrast, answer,
      psnrPick: r.truePsnrWins ? answer : other, clipPick: r.trueClipWins ? answer : other,
    });
    process.stderr.write(`\r${i + 1}/${picked.length}`);
  });
  process.stderr.write('\n');
  const perSheet = 10;
  for (let s = 0; s * perSheet < gridRows.length; s++) {
    writeFileSync(join(dir, `sheet-${s + 1}.png`), await renderGrid(gridRows.slice(s * perSheet, (s + 1) * perSheet), { scale: 2 }));
  }
  writeFileSync(join(dir, 'key.json'), JSON.stringify(key, null, 1));
  console.log(`wrote ${Math.ceil(gridRows.length / perSheet)} sheets and key.json to ${dir}; answers go to ${join(dir, 'answers.txt')}`);
} else {
  const key = JSON.parse(readFileSync(join(dir, 'key.json'), 'utf8')) as Key;
  const answers = readAnswers(dir, 'ab', key.rows.map((r) => r.row));
  console.log(`${key.bundle}, held-out edits, seed ${key.seed}, input kept at f0, strength ${key.strength ?? 1}; which output did the instruction make? chance 50%`);
  console.log(`${'kind'.padEnd(16)} ${'by eye'.padEnd(14)} ${'nearer target'.padEnd(14)} eval CLIP`);
  for (const k of [...new Set(key.rows.map((r) => r.kind)), 'all']) {
    const xs = key.rows.filter((r) => k === 'all' || r.kind === k);
    console.log(`${k.padEnd(16)} ${rate(xs, (r) => answers.get(r.row)).padEnd(14)} ${rate(xs, (r) => r.psnrPick).padEnd(14)} ${rate(xs, (r) => r.clipPick)}`);
  }
  for (const r of key.rows) console.log(`${r.row}\t${answers.get(r.row) === r.answer ? 'right' : 'wrong'}\t${r.kind}\t${r.instruction} (against: ${r.contrast})`);
}
