// Choosing the 5-scale Max image by the t2i MLLM itself rather than by the model's CLIP: each
// candidate decode is encoded back to f4..f0 and the MLLM, teacher-forced on those features,
// scores how much better it predicts them after the prompt than after no prompt (the caption
// dropout's unconditional branch): per scale k, d_k = MSE_k(uncond) - MSE_k(prompt), a Gaussian
// log-likelihood ratio, i.e. how much the prompt explains this image (a Bayes-classifier score).
// Rules compared on the same decodes: the model's CLIP score (the paper's rule, `--best`), the
// ratio under several scale weightings, the prompted likelihood alone, a rank mix of CLIP and
// the ratio, and the oracle. Judged as `puma eval t2i` judges: R@5 and kind@1 by the eval CLIP.
//   node --import tsx scripts/analysis/t2i-rerank.ts [val|test] [n] [seeds, e.g. 0,1]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import { T2I_DECODE_GUIDANCE } from '../../src/pipelines/decode.js';
import { conceptImages, decodeMany, knownWordsTest, mean, modelClipScores } from '../../src/eval/common.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { conceptRetrieval, retrievalSet, type Retrieval } from '../../src/eval/t2i.js';
import { coarseToFine, NUM_SCALES, SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import { SCALE_OFFSETS, type MllmPart } from '../../src/models/puma/mllm.js';
import * as T from '../../src/tensor/index.js';

const split = (process.argv[2] ?? 'val') as 'val' | 'test';
const N = Number(process.argv[3] ?? 96), seeds = (process.argv[4] ?? '0,1').split(',').map(Number);
const world = loadEmojiWorld();
const puma = loadPuma('models/puma-emoji');
const ev = EvalEncoder.load('models/puma-emoji');
const { mllm } = mllmFor(puma, 't2i');
const items = conceptImages(world, split, N);
const prompts = items.map((i) => world.concepts[i.concept].label);
const concepts = items.map((i) => i.concept);
const known = concepts.map(knownWordsTest(world));
const set = retrievalSet(world, ev, split);
const { bos, imgStart } = mllm.config.tokens;
const t0 = Date.now();
const log = (m: string) => console.error(`[${((Date.now() - t0) / 1000).toFixed(0)} s] ${m}`);

log(`MLLM: ${N} prompts`);
const feats = prompts.map((p) => mllm.generateImage(puma.tokenizer.encode(p), { upToScale: 0 }).map((f) => f!.keep()));
const scales = [4, 3, 2, 1, 0];

/** Per-scale MSE f0..f4 of the MLLM's teacher-forced regression of each image's features after `prefix`. */
function teacherMse(prefix: readonly number[], seq: T.Tensor): number[][] {
  return T.noGrad(() => T.tidy(() => {
    const batch: MllmPart[][] = [];
    for (let b = 0; b < seq.shape[0]; b++) {
      batch.push([{ kind: 'tokens', ids: [bos, ...prefix, imgStart], loss: false }, { kind: 'image', features: seq.narrow(0, b, 1).reshape([seq.shape[1], seq.shape[2]]), role: 'target' }]);
    }
    const fp = mllm.featurePredictions(mllm.forwardTeacher(batch))!;
    const d = fp.pred.sub(fp.target).square().mean(-1).toArray(); // [B, 341]
    return Array.from({ length: seq.shape[0] }, (_, b) => Array.from({ length: NUM_SCALES }, (_, k) => {
      let s = 0;
      for (let j = 0; j < SCALE_TOKENS[k]; j++) s += d[b * 341 + SCALE_OFFSETS[k] + j];
      return s / SCALE_TOKENS[k];
    }));
  }));
}

// candidates[i]: every (seed, scale) image of prompt i with its scores and its retrieval
interface Cand { seed: number; scale: number; clip: number; cond: number[]; uncond: number[]; found: Retrieval }
const cands: Cand[][] = prompts.map(() => []);
for (const seed of seeds) {
  for (const k of scales) {
    log(`decoding f${k} seed ${seed}`);
    const x = decodeMany(puma, k, feats.map((f) => f[k]!), { seed, guidance: T2I_DECODE_GUIDANCE });
    const found = conceptRetrieval(ev, x, concepts, set);
    const clip = modelClipScores(puma, x, prompts);
    const seq = T.noGrad(() => T.tidy(() => coarseToFine(encodeScales(puma, x)).keep()));
    const unc = teacherMse([], seq);
    prompts.forEach((p, i) => {
      const one = seq.narrow(0, i, 1);
      cands[i].push({ seed, scale: k, clip: clip[i], cond: teacherMse(puma.tokenizer.encode(p), one)[0], uncond: unc[i], found: found[i] });
    });
    seq.dispose();
    x.dispose();
  }
}

const weightings: Record<string, number[]> = {
  // f0..f4
  'equal': [1, 1, 1, 1, 1],
  'tokens': SCALE_TOKENS.map((n) => n),
  'model alpha': [...mllm.scaleWeights],
  'f4-f2': [0, 0, 1, 1, 1],
  'f4': [0, 0, 0, 0, 1],
};
const dot = (w: number[], v: number[]) => w.reduce((s, x, k) => s + x * v[k], 0);
const rules: Record<string, (c: Cand[]) => number[]> = { 'clip (paper)': (c) => c.map((x) => x.clip) };
for (const [name, w] of Object.entries(weightings)) {
  rules[`ratio ${name}`] = (c) => c.map((x) => dot(w, x.uncond) - dot(w, x.cond));
}
rules['likelihood equal'] = (c) => c.map((x) => -dot(weightings.equal, x.cond));
const ranksOf = (v: number[]) => v.map((a) => v.filter((b) => b > a).length);
rules['clip + ratio equal (ranks)'] = (c) => {
  const a = ranksOf(rules['clip (paper)'](c)), b = ranksOf(rules['ratio equal'](c));
  return a.map((r, i) => -(r + b[i]));
};

const pct = (xs: number[]) => (100 * mean(xs)).toFixed(1).padStart(6);
const kindOk = (i: number, r: Retrieval) => +(world.concepts[r.top].subcategory === world.concepts[concepts[i]].subcategory);
console.log(`# ${N} ${split} prompts, seeds ${seeds}, decoder guidance ${T2I_DECODE_GUIDANCE}; per pool: R@5 / kind@1 / R@5 known (${known.filter(Boolean).length}) / kind@1 known`);
const pools: [string, (c: Cand[]) => Cand[][]][] = [
  ['one seed x 5 scales', (c) => seeds.map((s) => c.filter((x) => x.seed === s))],
  [`${seeds.length} seeds x 5 scales`, (c) => [c]],
];
for (const [pool, groups] of pools) {
  console.log(`## ${pool}`);
  const line = (name: string, pick: (g: Cand[]) => Cand) => {
    const got: [number, Retrieval][] = [];
    cands.forEach((c, i) => groups(c).forEach((g) => got.push([i, pick(g).found])));
    const kn = got.filter(([i]) => known[i]);
    console.log(`${name.padEnd(28)} ${pct(got.map(([, r]) => +(r.rank < 5)))} ${pct(got.map(([i, r]) => kindOk(i, r)))} ${pct(kn.map(([, r]) => +(r.rank < 5)))} ${pct(kn.map(([i, r]) => kindOk(i, r)))}`);
  };
  for (const [name, score] of Object.entries(rules)) line(name, (g) => { const s = score(g); return g[s.indexOf(Math.max(...s))]; });
  line('oracle (R@5 rank)', (g) => g.reduce((b, x) => (x.found.rank < b.found.rank ? x : b)));
}
log('done');
