// Where do edit and cond lose fidelity? For held-out cases of a task, the MLLM's features of the
// target, per scale, written three ways: free-running (each slot fed back its own regression, as
// `puma edit` does), teacher-fed (each slot fed the true target's features, as in training), and
// the input's own features copied (the "change nothing" answer). MSE per scale, relative to the
// spread of the targets over the cases; then the f0 (or --scale) decode of each, PSNR to the target.
//   node --import tsx scripts/analysis/freerun.ts [bundle] [task: edit|canny|inpaint|colorize] [n] [scale] [mllm run dir]
// (the last: an MLLM run folder, e.g. runs/mllm-edit, in place of the bundle's)
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { loadTrainedMllm } from '../../src/train/recipes/mllm.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import { coarseToFine, poolScales } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS, SCALE_OFFSETS } from '../../src/models/puma/mllm.js';
import { instructionParts } from '../../src/models/puma/mllm-prompt.js';
import { imageToImageCases, caseOf, mllmTaskOf, type ImageTask } from '../../src/eval/image-to-image.js';
import { decodeMany, mean } from '../../src/eval/common.js';
import { psnr } from '../../src/eval/metrics.js';
import { printRelativeErrors, targetSpread } from './feature-error.js';
import * as T from '../../src/tensor/index.js';

const [dir = 'models/puma-emoji', task = 'edit', nArg = '16', scaleArg = '0', runDir] = process.argv.slice(2);
if (!['edit', 'canny', 'inpaint', 'colorize'].includes(task)) throw new Error(`task must be edit, canny, inpaint or colorize, got '${task}'`);
const n = Number(nArg), dk = Number(scaleArg);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const { mllm, stage } = runDir ? { mllm: loadTrainedMllm(runDir), stage: runDir } : mllmFor(puma, mllmTaskOf(task as ImageTask));
const samples = imageToImageCases(world, task as ImageTask, n, 0);
const cases = samples.map((s) => caseOf(world, s));
// fed-N: the true target fed for the coarse scales (f4..f_N+1), free-running from f_N on
// parent-0: f0's slots read their parent f1 token (upsampled) instead of their own regression;
// parent-10: f1's slots too (their parent f2 token)
// anchored: each scale moved so that its 2x2 means equal the (anchored) coarser scale, f3 down to f0
const ways = ['free', 'fed', 'fed-1', 'fed-0', 'parent-0', 'parent-10', 'anchored', 'copy'] as const;
/** [1, 4n, C] on 2s x 2s -> [1, n, C]: 2x2 means, as the encoder pools. */
const pool = (f: T.Tensor) => poolScales(f, 1, Math.round(Math.sqrt(f.shape[1])), f.shape[2])[1];
/** [1, n, C] on an s x s grid -> [1, 4n, C] on 2s x 2s, each token repeated over its 2x2 children. */
const up = (f: T.Tensor) => {
  const n = f.shape[1], c = f.shape[2], s = Math.round(Math.sqrt(n)), src = f.contiguous().toArray(), out = new Float32Array(4 * n * c);
  for (let r = 0; r < 2 * s; r++) for (let q = 0; q < 2 * s; q++) out.set(src.subarray(((r >> 1) * s + (q >> 1)) * c, ((r >> 1) * s + (q >> 1) + 1) * c), (r * 2 * s + q) * c);
  return T.fromArray(out, [1, 4 * n, c]);
};
const sq = (a: T.Tensor, b: T.Tensor) => T.tidy(() => a.sub(b).square().mean().item());
const err: Record<string, number[][]> = Object.fromEntries(ways.map((w) => [w, []]));
const targets: T.Tensor[][] = [];
const decodeIn: Record<string, T.Tensor[]> = Object.fromEntries([...ways, 'target'].map((w) => [w, []]));
const t0 = Date.now();
cases.forEach((c, i) => {
  T.tidy(() => {
    const src = encodeScales(puma, c.input), tgt = encodeScales(puma, c.target);
    const slots = coarseToFine(src).reshape([IMAGE_SLOTS, -1]);
    const parts = instructionParts(puma.tokenizer, slots, c.text, task === 'canny');
    const free = mllm.generateImage(parts, { upToScale: 0 });
    const fed = mllm.generateImage(parts, { upToScale: 0, feed: tgt });
    const coarse = (k: number) => mllm.generateImage(parts, { upToScale: 0, feed: tgt, feedSlots: SCALE_OFFSETS[k] });
    // free's f4..f1 are what generation writes before f0 (the regression is deterministic)
    const p0 = mllm.generateImage(parts, { feed: [up(free[1]!), ...free.slice(1)] });
    const f1p = mllm.generateImage(parts, { upToScale: 1, feed: [null, up(free[2]!), ...free.slice(2)] })[1]!;
    const p10 = mllm.generateImage(parts, { feed: [up(f1p), f1p, ...free.slice(2)] });
    p10[1] = f1p;
    const anchored = [...free];
    for (let k = 3; k >= 0; k--) anchored[k] = anchored[k]!.sub(up(pool(anchored[k]!))).add(up(anchored[k + 1]!));
    const got = { anchored, free, fed, 'fed-1': coarse(1), 'fed-0': coarse(0), 'parent-0': p0, 'parent-10': p10, copy: src };
    for (const w of ways) err[w].push([0, 1, 2, 3, 4].map((k) => sq(got[w][k]!, tgt[k])));
    targets.push(tgt.map((t) => t.keep()));
    for (const w of ways) decodeIn[w].push(got[w][dk]!.keep());
    decodeIn.target.push(tgt[dk].keep());
  });
  process.stderr.write(`\r${task}: MLLM ${i + 1}/${cases.length} (${((Date.now() - t0) / 1000).toFixed(0)} s)`);
});
process.stderr.write('\n');
const spread = targetSpread(targets);
console.log(`${task} (${stage}), ${cases.length} test cases. Feature MSE / spread of the targets, f4..f0:`);
printRelativeErrors(err, ways, spread);
const target = T.cat(cases.map((c) => c.target), 0).keep();
const input = T.cat(cases.map((c) => c.input), 0).keep();
const inputPsnr = psnr(input, target);
console.log(`PSNR to the target, f${dk} decoded (1 seed):  the input image itself ${mean(inputPsnr).toFixed(2)} dB`);
const perCase: Record<string, number[]> = {};
for (const w of [...ways, 'target'] as const) {
  const x = decodeMany(puma, dk, decodeIn[w]);
  perCase[w] = psnr(x, target);
  console.log(`  ${w.padEnd(6)} ${mean(perCase[w]).toFixed(2)} dB`);
  x.dispose();
}
// edit: by kind of edit (style swap, tone add/remove/change, gender), does free-running move toward the target?
if (task === 'edit') {
  console.log(`By kind: cases, f${dk} MSE / spread free vs copy, f${dk} decoded free vs the input image as is (dB):`);
  const kinds = [...new Set(samples.map((s) => String(s.meta.kind)))].sort();
  for (const kind of kinds) {
    const at = samples.flatMap((s, i) => (s.meta.kind === kind ? [i] : []));
    const rel = (w: string) => mean(at.map((i) => err[w][i][dk])) / spread[dk];
    const db = (xs: number[]) => mean(at.map((i) => xs[i])).toFixed(2);
    console.log(`  ${kind.padEnd(12)} ${at.length}  ${rel('free').toFixed(3)} vs ${rel('copy').toFixed(3)}  ${db(perCase.free)} vs ${db(inputPsnr)}`);
  }
}
