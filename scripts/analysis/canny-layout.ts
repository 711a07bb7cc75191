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
import { tensorToImages, type Image } from '../../src/io/image.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { canny2img } from '../../src/pipelines/canny2img.js';
import * as T from '../../src/tensor/index.js';
import { LayoutTally } from './layout.js';

const [nArg = '32', bundle = 'models/puma-emoji'] = process.argv.slice(2);
const n = Number(nArg);
const world = loadEmojiWorld();
const puma = loadPuma(bundle);
const test = world.imagesIn('test');
const rng = new T.Generator(77);
const picked = Array.from({ length: n }, () => test[rng.randint(0, test.length)]);
const others = picked.map((_, i) => picked[(i + 1 + rng.randint(0, n - 1)) % n]);

const S = 64;
const scales = [2, 0];
const tally = new LayoutTally();
const add = (name: string, img: Image, own: Image, other: Image) => tally.add(name, img, own, other);
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
console.log(tally.table());
