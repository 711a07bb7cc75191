// Is what `puma ask` is asked about in the image features at all? A linear probe (softmax
// regression, trained on the train split's images) per question kind and input scale, scored on
// the held-out test split, beside the majority answer: the accuracy an understanding MLLM could
// reach from a linear read-out of its input, against what `puma eval understanding` measures.
// Reads every image's f0 from a decoder run's feature cache (runs/cache, written by `puma train
// decoder`); f1..f4 are its 2x2 average pools, as the encoder makes them.
//   node --import tsx scripts/analysis/probe-understanding.ts [runs] [steps]
import { join } from 'node:path';
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { answerOf, type QuestionKind } from '../../src/data/tasks/samplers.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Linear } from '../../src/nn/layers.js';
import { AdamW } from '../../src/nn/optim.js';
import * as T from '../../src/tensor/index.js';

const [runs = 'runs', stepsArg = '300'] = process.argv.slice(2);
const steps = Number(stepsArg);
const world = loadEmojiWorld();
const f0 = readSafetensors(join(runs, 'cache', 'features.safetensors')).get('f0')!;
const [N, , C] = f0.shape;
const data = f0.data;

/** The scale-k grid of image `id`, flattened: (16 >> k)^2 tokens x C. */
function pooled(id: number, k: number): Float32Array {
  const s = 16 >> k, w = 2 ** k;
  const out = new Float32Array(s * s * C);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) {
    const src = (id * 256 + y * 16 + x) * C, dst = (((y / w) | 0) * s + ((x / w) | 0)) * C;
    for (let c = 0; c < C; c++) out[dst + c] += data[src + c] / (w * w);
  }
  return out;
}

T.manualSeed(0);
const train = world.imagesIn('train'), test = world.imagesIn('test');
const kinds: QuestionKind[] = ['style', 'category', 'gender', 'tone'];
console.log(`linear probe, ${steps} full-batch AdamW steps; train ${train.length} images, test ${test.length} (of ${N})`);
console.log('kind        scale  test acc  majority  answers  test images');
for (const kind of kinds) {
  // gender and tone only where the question is asked (images of people / toned emoji)
  const has = (img: (typeof train)[number]) => kind === 'gender' ? world.concepts[img.concept].gender !== null : kind === 'tone' ? world.concepts[img.concept].tones.length > 0 : true;
  const tr = train.filter(has), te = test.filter(has);
  const answers = [...new Set(tr.map((img) => answerOf(world, img, kind)))].sort();
  const label = (img: (typeof train)[number]) => answers.indexOf(answerOf(world, img, kind));
  // the majority answer of the train split, scored on the test split
  const trainCounts = answers.map((_, a) => tr.filter((img) => label(img) === a).length);
  const majorityAnswer = trainCounts.indexOf(Math.max(...trainCounts));
  const maj = te.filter((img) => label(img) === majorityAnswer).length / te.length;
  for (const k of [4, 3, 2]) {
    const d = (16 >> k) ** 2 * C;
    const X = (imgs: typeof train) => {
      const out = new Float32Array(imgs.length * d);
      imgs.forEach((img, i) => out.set(pooled(img.id, k), i * d));
      return out;
    };
    const xtr = X(tr), xte = X(te);
    // standardise with the train split's statistics
    const mu = new Float32Array(d), sd = new Float32Array(d);
    for (let i = 0; i < tr.length; i++) for (let j = 0; j < d; j++) mu[j] += xtr[i * d + j] / tr.length;
    for (let i = 0; i < tr.length; i++) for (let j = 0; j < d; j++) sd[j] += (xtr[i * d + j] - mu[j]) ** 2 / tr.length;
    for (let j = 0; j < d; j++) sd[j] = Math.sqrt(sd[j]) + 1e-5;
    for (const x of [xtr, xte]) for (let i = 0; i < x.length; i++) x[i] = (x[i] - mu[i % d]) / sd[i % d];
    const head = new Linear(d, answers.length);
    const opt = new AdamW(head.parameters(), { lr: 1e-2, weightDecay: 0.05 });
    const xt = T.fromArray(xtr, [tr.length, d]), yt = T.fromArray(Int32Array.from(tr, label), [tr.length], 'int32');
    for (let s = 0; s < steps; s++) {
      T.tidy(() => {
        T.crossEntropy(head.forward(xt), yt).backward();
        opt.step();
        opt.zeroGrad();
      });
    }
    const pred = T.noGrad(() => T.argmax(head.forward(T.fromArray(xte, [te.length, d])), -1).toArray());
    const acc = te.filter((img, i) => pred[i] === label(img)).length / te.length;
    console.log(`${kind.padEnd(11)} f${k}     ${(100 * acc).toFixed(1).padStart(6)}%  ${(100 * maj).toFixed(1).padStart(6)}%  ${String(answers.length).padStart(7)}  ${String(te.length).padStart(11)}`);
  }
}
