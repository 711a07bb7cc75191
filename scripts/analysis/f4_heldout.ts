// How well does each MLLM of a bundle regress f4 (the 1-token scale) from a held-out concept's
// name? Per MLLM: MSE relative to the training mean (the rel4 that training logs, here on every
// held-out concept), and retrieval: is the predicted f4 nearer (cosine around the training mean)
// to the prompted concept's mean f4 than to the other held-out concepts'? A yardstick for
// "recognisably the prompted kind" that needs no decoder. And the kind itself: the emoji
// subcategory (face-smiling, animal-mammal, flag, ...) whose training-image centroid is nearest to
// the prediction, against the same classifier applied to the concept's real images.
// Reads every image's f0 from a decoder run's feature cache (runs/cache).
//   node --import tsx scripts/analysis/f4_heldout.ts [bundle] [split] [guidance] [runs]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { featureMean } from '../../src/train/recipes/mllm.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import * as T from '../../src/tensor/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { join } from 'node:path';

const [dir = 'models/puma-emoji', split = 'test', g = '1', runs = 'runs'] = process.argv.slice(2);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const C = puma.encoder.featureDim;
const mu = featureMean(puma.encoder, world, 1024);
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
const kinds = new Map<string, Float32Array>(), counts = new Map<string, number>();
for (const im of world.imagesIn('train')) {
  const k = world.concepts[im.concept].subcategory;
  const m = kinds.get(k) ?? kinds.set(k, new Float32Array(C)).get(k)!;
  f4.get(im.id)!.forEach((v, i) => (m[i] += v));
  counts.set(k, (counts.get(k) ?? 0) + 1);
}
const kindNames = [...kinds.keys()];
const kindProto = kindNames.map((k) => centred(kinds.get(k)!.map((v) => v / counts.get(k)!)));
const kindOf = (v: Float32Array) => {
  let best = 0;
  kindProto.forEach((q, j) => { if (cos(v, q) > cos(v, kindProto[best])) best = j; });
  return kindNames[best];
};
let realKind = 0;
for (const im of imgs) if (kindOf(centred(f4.get(im.id)!)) === world.concepts[im.concept].subcategory) realKind++;
let base = 0, nImg = 0;
for (const im of imgs) { const v = f4.get(im.id)!; for (let i = 0; i < C; i++) base += (v[i] - mu[i]) ** 2; nImg++; }
console.log(`${split}: ${concepts.length} concepts, ${nImg} images; guidance ${g}; ${kindNames.length} subcategories; real images' f4 in their own subcategory: ${(realKind / nImg * 100).toFixed(1)}%`);
for (const [stage, mllm] of Object.entries(puma.mllms)) {
  if (!mllm || stage === 'understand' || stage === 'edit' || stage === 'cond') continue;
  let err = 0, top1 = 0, top5 = 0, rankSum = 0, kind = 0;
  concepts.forEach((c, ci) => {
    const p = T.tidy(() => mllm.generateImage(puma.tokenizer.encode(world.concepts[c].label), { upToScale: 4, guidance: Number(g) })[4]!.toArray());
    for (const id of byConcept.get(c)!) { const v = f4.get(id)!; for (let i = 0; i < C; i++) err += (p[i] - v[i]) ** 2; }
    const pc = centred(p), mine = cos(pc, proto[ci]);
    const rank = proto.filter((q, j) => j !== ci && cos(pc, q) > mine).length;
    if (kindOf(pc) === world.concepts[c].subcategory) kind++;
    if (rank === 0) top1++;
    if (rank < 5) top5++;
    rankSum += rank;
  });
  const n = concepts.length;
  console.log(`${stage}: rel4 ${(err / base).toFixed(3)}  top1 ${(top1 / n * 100).toFixed(1)}%  top5 ${(top5 / n * 100).toFixed(1)}%  mean rank ${(rankSum / n).toFixed(1)} of ${n}  subcategory ${(kind / n * 100).toFixed(1)}%`);
}
