// Rules for choosing the 5-scale Max image, against the same decodes: the model's CLIP score
// against the prompt (the paper's, `puma generate --best`), the medoid of the five scales by the
// model's CLIP image embeddings, either restricted to f4..f2, each scale alone, and the oracle
// (the best rank of the five). Retrieval as in `puma eval t2i`.
//   node --import tsx scripts/analysis/t2i-pick.ts [n] [decoder guidance] [seeds, e.g. 0,1]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { clipNormalize } from '../../src/pipelines/reconstruct.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { conceptImages, decodeMany, knownWordsTest, mean, modelClipScores } from '../../src/eval/common.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { conceptRanks, retrievalSet } from '../../src/eval/t2i.js';
import * as T from '../../src/tensor/index.js';
const N = Number(process.argv[2] ?? 96), G = Number(process.argv[3] ?? 2), seeds = (process.argv[4] ?? '0').split(',').map(Number);
const world = loadEmojiWorld();
const puma = loadPuma('models/puma-emoji');
const ev = EvalEncoder.load('models/puma-emoji');
const { mllm } = mllmFor(puma, 't2i');
const items = conceptImages(world, 'test', N);
const prompts = items.map((i) => world.concepts[i.concept].label);
const concepts = items.map((i) => i.concept);
const known = concepts.map(knownWordsTest(world));
const set = retrievalSet(world, ev, 'test');
const feats = prompts.map((p) => mllm.generateImage(puma.tokenizer.encode(p), { upToScale: 0 }).map((f) => f!.keep()));
const scales = [4, 3, 2, 1, 0];
const rules: Record<string, number[]> = {};
const add = (name: string, r: number[]) => (rules[name] ??= []).push(...r);
for (const seed of seeds) {
  const ranks: number[][] = [], clipT: number[][] = [], emb: Float32Array[][] = [];
  for (const k of scales) {
    const x = decodeMany(puma, k, feats.map((f) => f[k]!), { seed, guidance: G });
    ranks.push(conceptRanks(ev, x, concepts, set));
    clipT.push(modelClipScores(puma, x, prompts));
    const e = T.noGrad(() => T.tidy(() => { const v = puma.clip.imageEmbeds(clipNormalize(x)); return v.div(v.square().sum(-1, true).sqrt()).toArray(); }));
    const d = e.length / N;
    emb.push(Array.from({ length: N }, (_, i) => Float32Array.from(e.slice(i * d, (i + 1) * d))));
    x.dispose();
  }
  const dot = (a: Float32Array, b: Float32Array) => a.reduce((s, v, i) => s + v * b[i], 0);
  scales.forEach((k, j) => add(`f${k}`, ranks[j]));
  add('clipT pick', items.map((_, i) => ranks[clipT.reduce((b, s, j) => (s[i] > clipT[b][i] ? j : b), 0)][i]));
  add('medoid', items.map((_, i) => { const sc = scales.map((_, j) => scales.reduce((s, _, m) => s + (m === j ? 0 : dot(emb[j][i], emb[m][i])), 0)); return ranks[sc.indexOf(Math.max(...sc))][i]; }));
  add('medoid f4-f2', items.map((_, i) => { const js = [0, 1, 2]; const sc = js.map((j) => js.reduce((s, m) => s + (m === j ? 0 : dot(emb[j][i], emb[m][i])), 0)); return ranks[js[sc.indexOf(Math.max(...sc))]][i]; }));
  add('clipT f4-f2', items.map((_, i) => { const js = [0, 1, 2]; const b = js.reduce((b, j) => (clipT[j][i] > clipT[b][i] ? j : b), 0); return ranks[b][i]; }));
  add('oracle', items.map((_, i) => Math.min(...ranks.map((r) => r[i]))));
}
const pct = (xs: number[]) => (100 * mean(xs)).toFixed(1).padStart(5);
console.log(`${N} held-out prompts, seeds ${seeds}, decoder guidance ${G}: R@1 / R@5 / R@5 known-word names (${known.filter(Boolean).length})`);
for (const [name, r] of Object.entries(rules)) {
  const kn = r.filter((_, i) => known[i % N]);
  console.log(`${name.padEnd(14)} ${pct(r.map((v) => +(v < 1)))} ${pct(r.map((v) => +(v < 5)))} ${pct(kn.map((v) => +(v < 5)))}`);
}
