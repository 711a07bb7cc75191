// Do the mini CLIP's features of an edge map carry the layout the canny MLLM should draw? A linear
// read-out answers it without the MLLM: ridge regression from each f0 token of the edge map (with
// its 3x3 neighbours, zero-padded, plus a bias) to the same token of the image's f0, fitted on
// training images; then, on held-out test images, the read-out's f0 decoded by D0 and put to the
// layout forced choice of canny-layout.ts (own image's silhouette / edges against another's),
// beside the true f0 decoded (the decoder's ceiling) and PSNR to the image.
//   node --import tsx scripts/analysis/canny-probe.ts [nTrain] [nTest] [bundle]
import { imageBatch } from '../../src/data/batches.js';
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { psnr } from '../../src/eval/metrics.js';
import { tensorToImages } from '../../src/io/image.js';
import { ridgeSolve } from '../../src/nn/ridge.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { cannyInput } from '../../src/pipelines/canny2img.js';
import { decodeFeatures } from '../../src/pipelines/decode.js';
import { encodeScales, prepareImage } from '../../src/pipelines/reconstruct.js';
import * as T from '../../src/tensor/index.js';
import { LayoutTally } from './layout.js';

const [trainArg = '600', testArg = '100', bundle = 'models/puma-emoji'] = process.argv.slice(2);
const world = loadEmojiWorld();
const puma = loadPuma(bundle);
const G = 16, C = puma.encoder.featureDim, K = 9 * C + 1; // 3x3 neighbourhood + bias
const rng = new T.Generator(5);
const pick = (split: 'train' | 'test', n: number) => { const all = world.imagesIn(split); return Array.from({ length: n }, () => all[rng.randint(0, all.length)].id); };

/** f0 of images and of their edge maps (as canny2img builds them), [N, 256, C] each, in chunks. */
function features(ids: number[]): { img: Float32Array; edge: Float32Array } {
  const img = new Float32Array(ids.length * G * G * C), edge = new Float32Array(ids.length * G * G * C);
  for (let s = 0; s < ids.length; s += 32) {
    const chunk = ids.slice(s, s + 32);
    T.tidy(() => {
      img.set(encodeScales(puma, imageBatch(world, chunk, '01'))[0].toArray(), s * G * G * C);
      const edges = T.cat(chunk.map((id) => prepareImage(cannyInput(world.rgb(id)))), 0);
      edge.set(encodeScales(puma, edges)[0].toArray(), s * G * G * C);
    });
  }
  return { img, edge };
}

/** The 3x3-neighbourhood design row of token (y, x) of image b. */
function row(edge: Float32Array, b: number, y: number, x: number, out: Float32Array): void {
  let o = 0;
  for (let dy = -1; dy <= 1; dy++) for (let dx = -1; dx <= 1; dx++) {
    const yy = y + dy, xx = x + dx;
    if (yy < 0 || yy >= G || xx < 0 || xx >= G) out.fill(0, o, o + C);
    else out.set(edge.subarray(((b * G + yy) * G + xx) * C, ((b * G + yy) * G + xx + 1) * C), o);
    o += C;
  }
  out[o] = 1;
}

function design(edge: Float32Array, n: number): T.Tensor {
  const X = T.Tensor.empty([n * G * G, K]);
  const r = new Float32Array(K);
  for (let b = 0; b < n; b++) for (let y = 0; y < G; y++) for (let x = 0; x < G; x++) {
    row(edge, b, y, x, r);
    X.data.set(r, ((b * G + y) * G + x) * K);
  }
  return X;
}

const nTrain = Number(trainArg), nTest = Number(testArg);
process.stderr.write(`encoding ${nTrain} training images and their edge maps\n`);
const train = features(pick('train', nTrain));
const X = design(train.edge, nTrain), Y = T.fromArray(train.img, [nTrain * G * G, C]);
const A = T.matmul(X.transpose(0, 1), X).toArray() as Float32Array, B = T.matmul(X.transpose(0, 1), Y).toArray() as Float32Array;
const lambda = 1e-2 * nTrain * G * G;
const W = T.fromArray(ridgeSolve(A, B, K, C, lambda), [K, C]);
const fit = T.tidy(() => T.matmul(X, W).sub(Y).square().mean().item() / Y.sub(Y.mean(0, true)).square().mean().item());
process.stderr.write(`train MSE / variance of the target f0: ${fit.toFixed(3)}\n`);

const testIds = pick('test', nTest), others = testIds.map((_, i) => testIds[(i + 1 + rng.randint(0, nTest - 1)) % nTest]);
const test = features(testIds);
const pred = T.matmul(design(test.edge, nTest), W).reshape([nTest, G * G, C]);
const truth = T.fromArray(test.img, [nTest, G * G, C]);
const mse = (a: T.Tensor) => a.sub(truth).square().mean().item() / truth.sub(truth.mean(1, true).mean(0, true)).square().mean().item();
process.stderr.write(`test MSE / variance: read-out ${mse(pred).toFixed(3)}\n`);
const tally = new LayoutTally();
const ps: Record<string, number> = {};
for (let i = 0; i < nTest; i++) {
  T.tidy(() => {
    const own = world.rgb(testIds[i]), other = world.rgb(others[i]);
    const target = prepareImage(own);
    for (const [name, f] of [['linear read-out of the edge map\'s f0, decoded by D0', pred], ['the true f0 decoded by D0 (ceiling)', truth]] as const) {
      const x = decodeFeatures(puma.decoders[0]!, puma.vae, puma.scalingFactor, f.narrow(0, i, 1), puma.nullScales[0], { steps: 25, guidance: 2, seed: 0 });
      tally.add(name, tensorToImages(x)[0], own, other);
      ps[name] = (ps[name] ?? 0) + psnr(x, target)[0] / nTest;
    }
  });
  process.stderr.write(`\r${i + 1}/${nTest}`);
}
process.stderr.write('\n');
console.log(`${bundle}: ridge read-out fitted on ${nTrain} training images (train MSE/var ${fit.toFixed(3)}, test ${mse(pred).toFixed(3)}); ${nTest} held-out test images, each against another's; chance 50%`);
console.log(tally.table());
for (const [name, v] of Object.entries(ps)) console.log(`PSNR to the image, ${name}: ${v.toFixed(2)} dB`);
