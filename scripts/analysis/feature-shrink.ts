// How much does the t2i MLLM shrink its features toward the mean? For held-out names, per scale:
// |f_pred - mean| / |f_true - mean| (the true features of the concept's image, the mean over 512
// training images, per token) and the cosine between the two deviations. A regression under
// doubt writes the mean plus a shortened, partly right deviation; docs/results/t2i-deshrink-s19.txt
// tried lengthening it again before decoding.
//   node --import tsx scripts/analysis/feature-shrink.ts [val|test|train] [bundle] [n]   (train: how well training names fit)
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { imageBatch } from '../../src/data/batches.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { conceptImages } from '../../src/eval/common.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import { mllmFor } from '../../src/pipelines/model.js';
import * as T from '../../src/tensor/index.js';
const world = loadEmojiWorld();
const [split = 'val', dir = 'models/puma-emoji', nArg = '48'] = process.argv.slice(2) as [string?, string?, string?];
const puma = loadPuma(dir);
const { mllm } = mllmFor(puma, 't2i');
// training mean per scale (per token position), from 512 training images
const train = world.imagesIn('train').filter((_, i) => i % 8 === 0).slice(0, 512);
const sums: Float64Array[] = [];
for (let s = 0; s < train.length; s += 32) {
  T.tidy(() => {
    const f = encodeScales(puma, imageBatch(world, train.slice(s, s + 32).map((i) => i.id), '01'));
    f.forEach((x, k) => {
      const a = x.toArray(), per = a.length / x.shape[0];
      sums[k] ??= new Float64Array(per);
      for (let b = 0; b < x.shape[0]; b++) for (let i = 0; i < per; i++) sums[k][i] += a[b * per + i] / train.length;
    });
  });
}
const items = conceptImages(world, split as 'val' | 'test', Number(nArg));
const ratio = [0, 0, 0, 0, 0].map(() => [] as number[]);
const cosTrue = [0, 0, 0, 0, 0].map(() => [] as number[]);
// the best a regression from the name alone can point: the mean of the name's images (its
// drawing styles and tones in the split) against the one image compared with
const cosBest = [0, 0, 0, 0, 0].map(() => [] as number[]);
/** |p - mu| / |t - mu| and the cosine of p - mu and t - mu. */
function deviation(p: ArrayLike<number>, t: ArrayLike<number>, mu: Float64Array): { ratio: number; cos: number } {
  let pp = 0, tt = 0, pt = 0;
  for (let i = 0; i < mu.length; i++) { const a = p[i] - mu[i], b = t[i] - mu[i]; pp += a * a; tt += b * b; pt += a * b; }
  return { ratio: Math.sqrt(pp / tt), cos: pt / Math.sqrt(pp * tt) };
}
for (const it of items) {
  T.tidy(() => {
    const ids = world.imagesIn(split as 'val' | 'test').filter((im) => im.concept === it.concept).map((im) => im.id);
    const f = encodeScales(puma, imageBatch(world, ids, '01')).map((x) => x.toArray());
    const pred = mllm.generateImage(puma.tokenizer.encode(world.concepts[it.concept].label), { upToScale: 0 });
    for (let k = 0; k < 5; k++) {
      const mu = sums[k], per = mu.length, first = ids.indexOf(it.id);
      const tru = f[k].subarray(first * per, (first + 1) * per), mean = new Float64Array(per);
      for (let b = 0; b < ids.length; b++) for (let i = 0; i < per; i++) mean[i] += f[k][b * per + i] / ids.length;
      const d = deviation(pred[k]!.toArray(), tru, mu);
      ratio[k].push(d.ratio);
      cosTrue[k].push(d.cos);
      cosBest[k].push(deviation(mean, tru, mu).cos);
    }
  });
}
const m = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
for (let k = 4; k >= 0; k--) console.log(`f${k}: |pred - mean| / |true - mean| ${m(ratio[k]).toFixed(3)}  cos(pred - mean, true - mean) ${m(cosTrue[k]).toFixed(3)}  (the name's images' mean: ${m(cosBest[k]).toFixed(3)})`);
