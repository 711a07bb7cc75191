// Does the edit MLLM's change, applied to the input in pixel space, beat returning the input?
// For held-out cases of a task: decode the MLLM's f0 (free-running, as `puma edit`) and the
// input's own f0 with the same noise; "delta" = input + (edited decode - input's decode),
// clamped: the decoder's blur is in both decodes and cancels, the change stays. PSNR to the
// true target, by kind of edit.
// With guidance g (the fifth argument, default 1), the MLLM's regression is guided as
// InstructPix2Pix guides its text: f = f(input) + g (f(input, instruction) - f(input)), the
// unconditional branch the input with an empty instruction.
//   node --import tsx scripts/analysis/edit-delta.ts [bundle] [task: edit|colorize|inpaint|canny] [n] [seed] [guidance]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { loadPuma } from '../../src/pipelines/bundle.js';
import { mllmFor } from '../../src/pipelines/model.js';
import { encodeScales } from '../../src/pipelines/reconstruct.js';
import { coarseToFine } from '../../src/models/puma/encoder.js';
import { IMAGE_SLOTS } from '../../src/models/puma/mllm.js';
import { instructionParts } from '../../src/models/puma/mllm-prompt.js';
import { imageToImageCases, caseOf, mllmTaskOf, type ImageTask } from '../../src/eval/image-to-image.js';
import { decodeMany, mean } from '../../src/eval/common.js';
import { psnr } from '../../src/eval/metrics.js';
import * as T from '../../src/tensor/index.js';

const [dir = 'models/puma-emoji', task = 'edit', nArg = '16', seedArg = '0', gArg = '1'] = process.argv.slice(2);
const n = Number(nArg), seed = Number(seedArg), guidance = Number(gArg);
const world = loadEmojiWorld();
const puma = loadPuma(dir);
const { mllm } = mllmFor(puma, mllmTaskOf(task as ImageTask));
const samples = imageToImageCases(world, task as ImageTask, n, 0);
const cases = samples.map((s) => caseOf(world, s));
const edited: T.Tensor[] = [], own: T.Tensor[] = [];
cases.forEach((c, i) => {
  process.stderr.write(`\rMLLM ${i + 1}/${cases.length}`);
  T.tidy(() => {
    const scales = encodeScales(puma, c.input);
    own.push(scales[0].keep());
    const feats = coarseToFine(scales).reshape([IMAGE_SLOTS, -1]);
    const parts = instructionParts(puma.tokenizer, feats, c.text, task === 'canny');
    const unconditional = instructionParts(puma.tokenizer, feats, '', task === 'canny');
    edited.push(mllm.generateImage(parts, { upToScale: 0, guidance, unconditional })[0]!.keep());
  });
});
process.stderr.write('\ndecoding\n');
const opts = { seed };
const dEdit = decodeMany(puma, 0, edited, opts), dOwn = decodeMany(puma, 0, own, opts);
const input = T.cat(cases.map((c) => c.input), 0), target = T.cat(cases.map((c) => c.target), 0);
const delta = T.tidy(() => input.add(dEdit.sub(dOwn)).clamp(0, 1).keep());
// the change scaled: does the MLLM's regression (pulled toward no change where unsure) undershoot?
const scaled = Object.fromEntries([0.5, 1.5, 2, 3].map((s) => [`input + ${s} x change`, psnr(T.tidy(() => input.add(dEdit.sub(dOwn).mul(s)).clamp(0, 1)), target)]));
const rows = { 'f0 decoded': psnr(dEdit, target), 'input + change': psnr(delta, target), ...scaled, 'input as is': psnr(input, target), "input's own f0 decoded": psnr(dOwn, target) };
const kinds = samples.map((s) => String(s.meta.kind ?? task));
console.log(`${task}, ${cases.length} held-out cases, seed ${seed}, MLLM guidance ${guidance}, PSNR to the target (dB)`);
console.log(`| kind (cases) | ${Object.keys(rows).join(' | ')} |`);
console.log(`|---|${Object.keys(rows).map(() => '---:').join('|')}|`);
for (const k of [...new Set(kinds), 'all']) {
  const idx = kinds.flatMap((x, i) => (k === 'all' || x === k ? [i] : []));
  console.log(`| ${k} (${idx.length}) | ${Object.values(rows).map((v) => mean(idx.map((i) => v[i])).toFixed(2)).join(' | ')} |`);
}
