// The decoders' share of held-out text-to-image retrieval: decode each held-out concept's own
// image features (the true f_k, no MLLM) with D_k and ask the same question as `puma eval t2i`:
// is the decoded image among the 5 nearest of the split's concepts (R@5, eval CLIP)? This is the
// ceiling a perfect MLLM would reach with these decoders; the gap to `eval t2i`'s rows is the MLLM's.
// `puma eval t2i` shows the R@5 column; this adds R@1 and the names of known words.
//   node --import tsx scripts/analysis/t2i-ceiling.ts [bundle] [n] [seed]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { imageBatch } from '../../src/data/batches.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { conceptImages, knownWordsTest, mean } from '../../src/eval/common.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { ownFeatureRetrieval, retrievalSet } from '../../src/eval/t2i.js';

const [dir = 'models/puma-emoji', nArg = '48', seedArg = '0'] = process.argv.slice(2);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const ev = EvalEncoder.load(dir);
const items = conceptImages(world, 'test', Number(nArg));
const concepts = items.map((i) => i.concept);
const known = concepts.map(knownWordsTest(world));
const set = retrievalSet(world, ev, 'test');
const scales = [4, 3, 2, 1, 0].filter((k) => puma.decoders[k]);
const found = ownFeatureRetrieval(puma, ev, imageBatch(world, items.map((i) => i.id), '01'), concepts, set, scales, { seed: Number(seedArg) });
console.log(`decoding the true features of ${items.length} held-out concepts (test split, ${new Set(set.concepts).size} concepts, seed ${seedArg})`);
console.log('scale  R@1    R@5    R@5 known-word names');
for (const k of scales) {
  const r = found.get(k)!.map((x) => x.rank);
  const r5 = (xs: number[]) => mean(xs.map((v) => (v < 5 ? 1 : 0)));
  console.log(`f${k}     ${(100 * mean(r.map((v) => (v < 1 ? 1 : 0)))).toFixed(1).padStart(5)}  ${(100 * r5(r)).toFixed(1).padStart(5)}  ${(100 * r5(r.filter((_, i) => known[i]))).toFixed(1).padStart(5)} (${known.filter((x) => x).length})`);
}
