// Does canny-to-image follow its edge map? `puma canny2img` gives blurred shapes at ~13 dB
// (docs/RESULTS.md); this asks whether they sit where the edges say. For n held-out test images,
// each drawn from its own edges and caption (f0 and f2, seed 0, as `puma canny2img` does), a
// machine forced choice between the image's own edge map and another test image's (chance 50%):
//   silhouette: the output's non-white pixels (any channel < 230) against each image's, IoU;
//   edges: the F-score of the output's own Canny edges against each edge map, a pixel counting
//   when the other map has an edge within 2 pixels.
// Beside them, the same choice for the true image (the ceiling) and for the input's mean drawing
// (a blank-ish control: the decode of the edge map of an all-white image, with the caption).
//   node --import tsx scripts/analysis/canny-layout.ts [n] [bundle]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { canny } from '../../src/io/canny.js';
import type { Image } from '../../src/io/image.js';
import { tensorToImages } from '../../src/cli/reconstruct.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { canny2img } from '../../src/pipelines/canny2img.js';
import * as T from '../../src/tensor/index.js';

const [nArg = '32', bundle = 'models/puma-emoji'] = process.argv.slice(2);
const n = Number(nArg);
const world = loadEmojiWorld();
const puma = loadPuma(bundle);
const test = world.imagesIn('test');
const rng = new T.Generator(77);
const picked = Array.from({ length: n }, () => test[rng.randint(0, test.length)]);
const others = picked.map((_, i) => picked[(i + 1 + rng.randint(0, n - 1)) % n]);

const S = 64;
const silhouette = (img: Image): Uint8Array => Uint8Array.from({ length: S * S }, (_, p) =>
  img.data[p * img.channels] < 230 || img.data[p * img.channels + 1] < 230 || img.data[p * img.channels + 2] < 230 ? 1 : 0);
const edgesOf = (img: Image): Uint8Array => Uint8Array.from(canny(img, 100, 200).data, (v) => (v > 0 ? 1 : 0));
function iou(a: Uint8Array, b: Uint8Array): number {
  let i = 0, u = 0;
  for (let p = 0; p < a.length; p++) { i += a[p] & b[p]; u += a[p] | b[p]; }
  return u ? i / u : 0;
}
function near(a: Uint8Array, b: Uint8Array, r = 2): number { // share of a's edges with one of b's within r
  let hit = 0, all = 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    if (!a[y * S + x]) continue;
    all++;
    search: for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy >= 0 && yy < S && xx >= 0 && xx < S && b[yy * S + xx]) { hit++; break search; }
    }
  }
  return all ? hit / all : 0;
}
const fscore = (out: Uint8Array, ref: Uint8Array) => { const p = near(out, ref), r = near(ref, out); return p + r ? (2 * p * r) / (p + r) : 0; };

const scales = [2, 0];
const tally = new Map<string, { sil: number; edge: number; silOwn: number; silOther: number }>();
const add = (name: string, img: Image, own: Image, other: Image) => {
  const s = silhouette(img), e = edgesOf(img);
  const so = iou(s, silhouette(own)), sx = iou(s, silhouette(other));
  const eo = fscore(e, edgesOf(own)), ex = fscore(e, edgesOf(other));
  const t = tally.get(name) ?? { sil: 0, edge: 0, silOwn: 0, silOther: 0 };
  t.sil += so > sx ? 1 : so === sx ? 0.5 : 0;
  t.edge += eo > ex ? 1 : eo === ex ? 0.5 : 0;
  t.silOwn += so / n;
  t.silOther += sx / n;
  tally.set(name, t);
};
const white: Image = { width: S, height: S, channels: 3, data: new Uint8Array(S * S * 3).fill(255) };
picked.forEach((im, i) => {
  const own = world.rgb(im.id), other = world.rgb(others[i].id), label = world.concepts[im.concept].label;
  T.tidy(() => {
    const r = canny2img(puma, own, label, { seeds: [0], scales });
    for (const k of scales) add(`canny2img f${k}`, tensorToImages(r.rows[0].images.get(k)!)[0], own, other);
    const blank = canny2img(puma, white, label, { seeds: [0], scales: [0] });
    add('control: edges of a white image, f0', tensorToImages(blank.rows[0].images.get(0)!)[0], own, other);
  });
  add('the true image (ceiling)', own, own, other);
  process.stderr.write(`\r${i + 1}/${n}`);
});
process.stderr.write('\n');
console.log(`${bundle}, ${n} held-out test images (seed 77), each against another test image's; chance 50%`);
console.log('| output | own silhouette closer (IoU) | own edges closer (F, 2 px) | mean IoU own | mean IoU other |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, t] of tally) {
  console.log(`| ${name} | ${(100 * t.sil / n).toFixed(1)}% | ${(100 * t.edge / n).toFixed(1)}% | ${t.silOwn.toFixed(3)} | ${t.silOther.toFixed(3)} |`);
}
