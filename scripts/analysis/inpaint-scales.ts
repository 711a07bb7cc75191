// Which scale should inpainting decode when the pixels around the holes are kept? A grid of
// held-out inpainting cases, one row each: the masked input, the decode kept around it at each
// scale, the true image; PSNR per cell. For looking, beside `puma eval conditional`'s rows.
//   node --import tsx scripts/analysis/inpaint-scales.ts [bundle] [n] [case seed] [out.png]
import { writeFileSync } from 'node:fs';
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { caseOf, imageToImageCases } from '../../src/eval/image-to-image.js';
import { decodeMany } from '../../src/eval/common.js';
import { psnr } from '../../src/eval/metrics.js';
import { renderGrid, type GridRow } from '../../src/io/grid.js';
import { coarseToFine } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS } from '../../src/models/puma/mllm.js';
import { instructionParts } from '../../src/models/puma/mllm-prompt.js';
import { tensorToImages } from '../../src/io/image.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { keepKnown } from '../../src/pipelines/composite.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import * as T from '../../src/tensor/index.js';

const [dir = 'models/puma-emoji', nArg = '8', seedArg = '0', out = 'inpaint-scales.png'] = process.argv.slice(2);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const { mllm } = mllmFor(puma, 'cond');
const cases = imageToImageCases(world, 'inpaint', Number(nArg), Number(seedArg)).map((s) => caseOf(world, s));
const scales = [4, 3, 2, 1, 0];
const feats = cases.map((c, i) => {
  process.stderr.write(`\rMLLM ${i + 1}/${cases.length}`);
  return T.tidy(() => {
    const slots = coarseToFine(encodeScales(puma, c.input)).reshape([IMAGE_SLOTS, -1]);
    return mllm.generateImage(instructionParts(puma.tokenizer, slots, c.text, false), { upToScale: 0 }).map((f) => f?.keep() ?? null);
  });
});
process.stderr.write('\n');
const kept = scales.map((k) => {
  process.stderr.write(`decoding f${k}\n`);
  const x = decodeMany(puma, k, feats.map((f) => f[k]!));
  const input = T.cat(cases.map((c) => c.input), 0);
  const y = keepKnown(x, input, new Uint8Array(cases.flatMap((c) => [...c.holes!]))).keep();
  x.dispose();
  return y;
});
const target = T.cat(cases.map((c) => c.target), 0).keep();
const scores = kept.map((y) => psnr(y, target));
const inputs = T.cat(cases.map((c) => c.input), 0).keep();
const pics = [inputs, ...kept, target].map((t) => tensorToImages(t));
const rows: GridRow[] = cases.map((c, i) => ({
  cells: [
    { image: pics[0][i], caption: 'input' },
    ...scales.map((k, j) => ({ image: pics[j + 1][i], caption: `f${k} kept ${scores[j][i].toFixed(1)}` })),
    { image: pics[scales.length + 1][i], caption: 'true' },
  ],
  text: c.caption,
}));
writeFileSync(out, await renderGrid(rows, { scale: 2, title: 'Inpainting, held-out cases: the decode kept around the hole at each scale (PSNR dB)' }));
console.log(scales.map((k, j) => `f${k} kept ${(scores[j].reduce((a, b) => a + b, 0) / cases.length).toFixed(2)} dB`).join(', '), `(${cases.length} cases) -> ${out}`);
