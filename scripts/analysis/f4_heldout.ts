// How well does each MLLM of a bundle regress f4 (the 1-token scale) from a held-out concept's
// name? Per MLLM: MSE relative to the training mean (the rel4 that training logs, here on every
// held-out concept), and retrieval: is the predicted f4 nearer (cosine around the training mean)
// to the prompted concept's mean f4 than to the other held-out concepts'? A yardstick for
// "recognisably the prompted kind" that needs no decoder. And the kind itself: the emoji
// category (People & Body, Flags, ...) and subcategory (face-smiling, animal-mammal, ...) of
// the prediction, by the votes of its 15 nearest training images, against the same classifier
// applied to the concept's real images.
// Reads every image's f0 from a decoder run's feature cache (runs/cache). With `wordnet` last, a
// held-out name's words that no training label or tag has get WordNet keywords the training text
// knows, as the training captions give tags: "pineapple, herb, fruit, ..." (scripts/analysis/wordnet.ts).
// With `define` last, such a name is given as its WordNet definitions instead, as `puma generate`
// gives it to an MLLM trained with --definitions (src/data/definitions.ts).
//   node --import tsx scripts/analysis/f4_heldout.ts [bundle] [split] [guidance] [runs] [wordnet|define]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import * as T from '../../src/tensor/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { knownWordsTest, trainingLabelWords } from '../../src/eval/common.js';
import { wordsOf } from '../../src/data/tokenizer/corpus.js';
import { wordnetKeywords } from './wordnet.js';
import { wordnet } from '../../src/data/definitions.js';
import { join } from 'node:path';

const [dir = 'models/puma-emoji', split = 'test', g = '1', runs = 'runs', expand = ''] = process.argv.slice(2);
if (expand && expand !== 'wordnet' && expand !== 'define') throw new Error(`the fifth argument is 'wordnet', 'define' or nothing, got '${expand}'`);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const C = puma.encoder.featureDim;
const imgs = world.imagesIn(split as 'val' | 'test');
const byConcept = new Map<number, number[]>();
for (const im of imgs) (byConcept.get(im.concept) ?? byConcept.set(im.concept, []).get(im.concept)!).push(im.id);
const concepts = [...byConcept.keys()];
// every image's f4 (mean of its cached f0)
const cache = readSafetensors(join(runs, 'cache', 'features.safetensors')).get('f0')!;
const f4 = new Map<number, Float32Array>();
{
  const d = cache.data, per = 256 * C;
  for (let id = 0; id < world.images.length; id++) {
    const v = new Float32Array(C);
    for (let t = 0; t < 256; t++) for (let i = 0; i < C; i++) v[i] += d[id * per + t * C + i] / 256;
    f4.set(id, v);
  }
}
// the training mean: the constant guess of rel4, and the origin of every cosine
const mu = new Float32Array(C);
const trainImgs = world.imagesIn('train');
for (const im of trainImgs) f4.get(im.id)!.forEach((v, i) => (mu[i] += v / trainImgs.length));
const centred = (v: ArrayLike<number>) => Float32Array.from({ length: C }, (_, i) => v[i] - mu[i]);
const cos = (a: Float32Array, b: Float32Array) => {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < C; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb + 1e-12);
};
const proto = concepts.map((c) => {
  const ids = byConcept.get(c)!, m = new Float32Array(C);
  for (const id of ids) f4.get(id)!.forEach((v, i) => (m[i] += v / ids.length));
  return centred(m);
});
// k-nearest-neighbour classifiers of the kind of emoji (cosine around the mean, over training images' f4)
type Level = 'category' | 'subcategory';
const LEVELS: Level[] = ['category', 'subcategory'];
const K = 15;
const trainSet = trainImgs.map((im) => ({ v: centred(f4.get(im.id)!), concept: world.concepts[im.concept] }));
const classifier = (level: Level) => (v: Float32Array) => {
  const near = trainSet.map((t) => ({ s: cos(v, t.v), k: t.concept[level] })).sort((a, b) => b.s - a.s).slice(0, K);
  const votes = new Map<string, number>();
  for (const n of near) votes.set(n.k, (votes.get(n.k) ?? 0) + 1);
  return [...votes.entries()].sort((a, b) => b[1] - a[1])[0][0];
};
// held-out names all of whose words occur in some training label or tag: what composing known words can reach
const knownWords = knownWordsTest(world);
const trainWords = trainingLabelWords(world);
/** The prompt for a concept: its name, and with `wordnet` keywords for the name's unseen words. */
const promptOf = (c: number) => {
  const label = world.concepts[c].label;
  const unseen = expand ? wordsOf(label).filter((w) => !trainWords.has(w)) : [];
  if (expand === 'define') return unseen.length ? wordnet().defineText(label) : label;
  const kw = [...new Set(unseen.flatMap((w) => wordnetKeywords(w, trainWords)))];
  return kw.length ? `${label}, ${kw.join(', ')}` : label;
};
const prompts = new Map(concepts.map((c) => [c, promptOf(c)]));
if (expand) console.log(`prompts with WordNet ${expand === 'define' ? 'definitions' : 'keywords'} (${[...prompts].filter(([c, p]) => p !== world.concepts[c].label).length} of ${concepts.length}), e.g.: ${[...prompts.values()].filter((p, i) => p !== world.concepts[concepts[i]].label).slice(0, 6).join(' | ')}`);
const kindOf = Object.fromEntries(LEVELS.map((l) => [l, classifier(l)])) as Record<Level, (v: Float32Array) => string>;
/** Accuracy averaged over the categories present (People & Body dominates the held-out concepts). */
const balanced = (hits: { category: string; ok: boolean }[]) => {
  const by = new Map<string, number[]>();
  for (const h of hits) (by.get(h.category) ?? by.set(h.category, []).get(h.category)!).push(h.ok ? 1 : 0);
  const accs = [...by.values()].map((a) => a.reduce((x, y) => x + y, 0) / a.length);
  return accs.reduce((x, y) => x + y, 0) / accs.length;
};
const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
const real = LEVELS.map((l) => balanced(imgs.map((im) => ({ category: world.concepts[im.concept].category, ok: kindOf[l](centred(f4.get(im.id)!)) === world.concepts[im.concept][l] }))));
let base = 0, nImg = 0;
for (const im of imgs) { const v = f4.get(im.id)!; for (let i = 0; i < C; i++) base += (v[i] - mu[i]) ** 2; nImg++; }
console.log(`${split}: ${concepts.length} concepts, ${nImg} images; guidance ${g}; real images' f4 classified into their own category ${pct(real[0])}, subcategory ${pct(real[1])} (balanced over categories)`);
for (const [stage, mllm] of Object.entries(puma.mllms)) {
  if (!mllm || (stage !== 'pretrain' && stage !== 't2i')) continue;
  let err = 0;
  const ranks: { known: boolean; rank: number }[] = [];
  const hits: Record<Level, { category: string; ok: boolean }[]> = { category: [], subcategory: [] };
  concepts.forEach((c, ci) => {
    const p = T.tidy(() => mllm.generateImage(puma.tokenizer.encode(prompts.get(c)!), { upToScale: 4, guidance: Number(g) })[4]!.toArray());
    for (const id of byConcept.get(c)!) { const v = f4.get(id)!; for (let i = 0; i < C; i++) err += (p[i] - v[i]) ** 2; }
    const pc = centred(p), mine = cos(pc, proto[ci]);
    const rank = proto.filter((q, j) => j !== ci && cos(pc, q) > mine).length;
    for (const l of LEVELS) hits[l].push({ category: world.concepts[c].category, ok: kindOf[l](pc) === world.concepts[c][l] });
    ranks.push({ known: knownWords(c), rank });
  });
  const top = (r: typeof ranks, k: number) => pct(r.filter((x) => x.rank < k).length / r.length);
  const meanRank = (r: typeof ranks) => (r.reduce((a, x) => a + x.rank, 0) / r.length).toFixed(1);
  console.log(`${stage}: rel4 ${(err / base).toFixed(3)}  top1 ${top(ranks, 1)}  top5 ${top(ranks, 5)}  mean rank ${meanRank(ranks)} of ${ranks.length}  category ${pct(balanced(hits.category))}  subcategory ${pct(balanced(hits.subcategory))}`);
  for (const known of [true, false]) {
    const r = ranks.filter((x) => x.known === known);
    console.log(`  names ${known ? 'made only of' : 'with a word outside'} training labels/tags (${r.length}): top5 ${top(r, 5)}  mean rank ${meanRank(r)}`);
  }
}
