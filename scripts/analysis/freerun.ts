// Where do edit and cond lose fidelity? For held-out cases of a task, the MLLM's features of the
// target, per scale, written three ways: free-running (each slot fed back its own regression, as
// `puma edit` does), teacher-fed (each slot fed the true target's features, as in training), and
// the input's own features copied (the "change nothing" answer). MSE per scale, relative to the
// spread of the targets over the cases; then the f0 (or --scale) decode of each, PSNR to the target.
//   node --import tsx scripts/analysis/freerun.ts [bundle] [task: edit|canny|inpaint|colorize] [n] [scale]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import { coarseToFine } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS } from '../../src/models/puma/mllm.js';
import { promptParts } from '../../src/models/puma/mllm-prompt.js';
import { imageToImageCases, caseOf } from '../../src/eval/image-to-image.js';
import { decodeMany, mean } from '../../src/eval/common.js';
import { psnr } from '../../src/eval/metrics.js';
import * as T from '../../src/tensor/index.js';

const [dir = 'models/puma-emoji', task = 'edit', nArg = '16', scaleArg = '0'] = process.argv.slice(2);
const n = Number(nArg), dk = Number(scaleArg);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const { mllm, stage } = mllmFor(puma, task === 'edit' ? 'edit' : 'cond');
const cases = imageToImageCases(world, task as 'edit', n, 0).map((s) => caseOf(world, s));
const ways = ['free', 'fed', 'copy'] as const;
const sq = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.sub(b).square().mean().item());
const err: Record<string, number[][]> = Object.fromEntries(ways.map((w) => [w, []]));
const targets: T.Tensor[][] = [];
const decodeIn: Record<string, T.Tensor[]> = { free: [], fed: [], copy: [], target: [] };
const t0 = Date.now();
cases.forEach((c, i) => {
  T.tidy(() => {
    const src = encodeScales(puma, c.input), tgt = encodeScales(puma, c.target);
    const slots = coarseToFine(src).reshape([IMAGE_SLOTS, -1]);
    const parts = promptParts([
      { kind: 'image', ref: { image: 0 }, role: 'input' },
      { kind: 'text', text: ` ${c.text} `, loss: false },
    ], puma.tokenizer, [slots]);
    const free = mllm.generateImage(parts, { upToScale: 0 });
    const fed = mllm.generateImage(parts, { upToScale: 0, feed: tgt });
    const got = { free, fed, copy: src };
    for (const w of ways) err[w].push([0, 1, 2, 3, 4].map((k) => sq(got[w][k]!, tgt[k])));
    targets.push(tgt.map((t) => t.keep()));
    for (const w of ways) decodeIn[w].push(got[w][dk]!.keep());
    decodeIn.target.push(tgt[dk].keep());
  });
  process.stderr.write(`\r${task}: MLLM ${i + 1}/${cases.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
});
process.stderr.write('\n');
// the spread of the targets: MSE of predicting every case by the cases' mean target
const spread = [0, 1, 2, 3, 4].map((k) => T.tidy(() => {
  const all = T.cat(targets.map((t) => t[k]), 0);
  return all.sub(all.mean(0, true)).square().mean().item();
}));
console.log(`${task} (${stage}), ${cases.length} test cases. Feature MSE / spread of the targets, f4..f0:`);
for (const w of ways) {
  const rel = [4, 3, 2, 1, 0].map((k) => mean(err[w].map((e) => e[k])) / spread[k]);
  console.log(`  ${w.padEnd(5)} ${rel.map((r) => r.toFixed(3)).join(' / ')}`);
}
const target = T.cat(cases.map((c) => c.target), 0).keep();
const input = T.cat(cases.map((c) => c.input), 0).keep();
console.log(`PSNR to the target, f${dk} decoded (1 seed):  the input image itself ${mean(psnr(input, target)).toFixed(2)} dB`);
for (const w of [...ways, 'target'] as const) {
  const x = decodeMany(puma, dk, decodeIn[w]);
  console.log(`  ${w.padEnd(6)} ${mean(psnr(x, target)).toFixed(2)} dB`);
  x.dispose();
}
