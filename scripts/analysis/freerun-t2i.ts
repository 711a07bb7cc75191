// Does text-to-image drift as edit did? For n text-to-image samples of a split (their captions as
// in training), the MLLM's features of the image written free-running (each slot fed back its own
// regression, as `puma generate` does) and teacher-fed (each slot fed the true image's features, as
// in training): MSE per scale relative to the spread of the targets, then the chosen scale decoded,
// PSNR to the true image. On 'train' the model has seen these images; on 'test' (held-out concepts)
// the true image is one of many right answers, so its numbers bound nothing.
//   node --import tsx scripts/analysis/freerun-t2i.ts [bundle] [split: train|test] [n] [scale] [mllm run dir]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { sampleTask } from '../../src/data/tasks/samplers.js';
import { renderRef } from '../../src/data/derive.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { encodeScales, prepareImage } from '../../src/pipelines/reconstruct.js';
import { loadTrainedMllm } from '../../src/train/recipes/mllm.js';
import { decodeMany, mean } from '../../src/eval/common.js';
import { psnr } from '../../src/eval/metrics.js';
import { printRelativeErrors, targetSpread } from './feature-error.js';
import * as T from '../../src/tensor/index.js';

const [dir = 'models/puma-emoji', split = 'train', nArg = '16', scaleArg = '0', runDir] = process.argv.slice(2);
const n = Number(nArg), dk = Number(scaleArg);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const { mllm, stage } = runDir ? { mllm: loadTrainedMllm(runDir), stage: runDir } : mllmFor(puma, 't2i');
const samples = sampleTask(world, 'text-to-image', split as 'train', n, 7);
const ways = ['free', 'fed'] as const;
const sq = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.sub(b).square().mean().item());
const err: Record<string, number[][]> = { free: [], fed: [] };
const targets: T.Tensor[][] = [], images: T.Tensor[] = [];
const decodeIn: Record<string, T.Tensor[]> = { free: [], fed: [], target: [] };
const t0 = Date.now();
samples.forEach((s, i) => {
  T.tidy(() => {
    const seg = s.segments.find((g) => g.kind === 'image')!;
    const image = prepareImage(renderRef(world, seg.kind === 'image' ? seg.ref : (null as never))).keep();
    const tgt = encodeScales(puma, image);
    const prompt = puma.tokenizer.encode(String(s.meta.caption));
    const got = { free: mllm.generateImage(prompt, { upToScale: 0 }), fed: mllm.generateImage(prompt, { upToScale: 0, feed: tgt }) };
    for (const w of ways) err[w].push([0, 1, 2, 3, 4].map((k) => sq(got[w][k]!, tgt[k])));
    targets.push(tgt.map((t) => t.keep()));
    images.push(image);
    for (const w of ways) decodeIn[w].push(got[w][dk]!.keep());
    decodeIn.target.push(tgt[dk].keep());
  });
  process.stderr.write(`\rt2i ${split}: MLLM ${i + 1}/${samples.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
});
process.stderr.write('\n');
const spread = targetSpread(targets);
console.log(`t2i ${split} (${stage}), ${samples.length} samples. Feature MSE / spread of the targets, f4..f0:`);
printRelativeErrors(err, ways, spread);
const target = T.cat(images, 0).keep();
console.log(`PSNR to the true image, f${dk} decoded (1 seed):`);
for (const w of [...ways, 'target'] as const) {
  const x = decodeMany(puma, dk, decodeIn[w]);
  console.log(`  ${w.padEnd(6)} ${mean(psnr(x, target)).toFixed(2)} dB`);
  x.dispose();
}
