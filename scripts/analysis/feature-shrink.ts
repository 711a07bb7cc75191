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
// the best a regression from the name alone can point: the mean of the name's images (its drawing
// styles and tones in the split) against the one image compared with
const cosBest = [0, 0, 0, 0, 0].map(() => [] as number[]);
T.tidy(() => {
  for (const it of items) {
    const ids = world.imagesIn(split as 'val' | 'test').filter((im) => im.concept === it.concept).map((im) => im.id);
    const f = encodeScales(puma, imageBatch(world, ids, '01')).map((x) => x.toArray());
    for (let k = 0; k < 5; k++) {
      const mu = sums[k], per = mu.length, first = ids.indexOf(it.id);
      let pp = 0, tt = 0, pt = 0;
      for (let i = 0; i < per; i++) {
        let a = 0;
        for (let b = 0; b < ids.length; b++) a += f[k][b * per + i] / ids.length;
        a -= mu[i];
        const c = f[k][first * per + i] - mu[i];
        pp += a * a; tt += c * c; pt += a * c;
      }
      cosBest[k].push(pt / Math.sqrt(pp * tt));
    }
  }
});
T.tidy(() => {
  const tru = encodeScales(puma, imageBatch(world, items.map((i) => i.id), '01')).map((x) => x.toArray());
  items.forEach((it, n) => {
    const pred = mllm.generateImage(puma.tokenizer.encode(world.concepts[it.concept].label), { upToScale: 0 });
    for (let k = 0; k < 5; k++) {
      const p = pred[k]!.toArray(), mu = sums[k], per = mu.length;
      let pp = 0, tt = 0, pt = 0;
      for (let i = 0; i < per; i++) { const a = p[i] - mu[i], b = tru[k][n * per + i] - mu[i]; pp += a * a; tt += b * b; pt += a * b; }
      ratio[k].push(Math.sqrt(pp / tt)); cosTrue[k].push(pt / Math.sqrt(pp * tt));
    }
  });
});
const m = (a: number[]) => a.reduce((x, y) => x + y, 0) / a.length;
for (let k = 4; k >= 0; k--) console.log(`f${k}: |pred - mean| / |true - mean| ${m(ratio[k]).toFixed(3)}  cos(pred - mean, true - mean) ${m(cosTrue[k]).toFixed(3)}  (the name's images' mean: ${m(cosBest[k]).toFixed(3)})`);
