// Table 5 of the paper on the emoji world: question answering on held-out images with the image
// given at one scale only (f4 alone .. f0 alone) or at all of f4..f0. The paper trains one model
// per input; here one understanding model (trained on all five scales) is asked with the other
// scales replaced by those of a blank (black) image, the decoders' "null" features. Answers are
// greedy and scored by exact match after lower-casing and trimming a final period.
import { renderRef } from '../data/derive.js';
import type { EmojiWorld } from '../data/emoji/world.js';
import { Rng } from '../data/rng.js';
import { makeSample, taskItems } from '../data/tasks/samplers.js';
import type { QuestionKind } from '../data/tasks/samplers.js';
import { coarseToFine } from '../models/puma/encoder.js';
import { IMAGE_SLOTS } from '../models/puma/mllm.js';
import { questionParts } from '../models/puma/mllm-prompt.js';
import { mllmFor, type MllmStage, type PumaModel } from '../pipelines/model.js';
import { encodeScales, prepareImage } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { markdownTable, type EvalOptions } from './common.js';

/** The inputs of Table 5: one scale alone, or all of them. */
export const UNDERSTANDING_INPUTS: readonly { name: string; scales: readonly number[] }[] = [
  { name: 'f4', scales: [4] }, { name: 'f3', scales: [3] }, { name: 'f2', scales: [2] },
  { name: 'f1', scales: [1] }, { name: 'f0', scales: [0] }, { name: 'f4-f0', scales: [4, 3, 2, 1, 0] },
];

/** The MLLM's image slots with only `shown` scales of an image, the rest a blank image's ("null") features. */
export function slotsShowing(model: PumaModel, scales: readonly T.Tensor[], shown: readonly number[]): T.Tensor {
  return coarseToFine(scales.map((f, k) => (shown.includes(k) ? f : model.nullScales[k]))).reshape([IMAGE_SLOTS, -1]);
}

export interface UnderstandingRow { input: string; accuracy: number; byKind: Record<string, number>; questions: number }
export interface UnderstandingResult { stage: MllmStage; note?: string; rows: UnderstandingRow[]; examples: { question: string; answer: string; reference: string }[] }

/** Answers are compared lower-cased, trimmed, without a final period. */
export function normalizeAnswer(s: string): string {
  return s.trim().toLowerCase().replace(/\.$/, '').trim();
}

/**
 * @example
 * const r = evalUnderstanding(puma, world, { n: 48 }); // r.rows[5].accuracy: all scales
 */
export function evalUnderstanding(model: PumaModel, world: EmojiWorld, opts: EvalOptions & { split?: 'val' | 'test' } = {}): UnderstandingResult {
  const { mllm, stage, note } = mllmFor(model, 'understand');
  const split = opts.split ?? 'test';
  const rng = new Rng(`eval:qa:${split}:${opts.seed ?? 0}`);
  const samples = rng.shuffle(taskItems(world, 'qa', split).slice()).slice(0, opts.n ?? 120).map((it) => makeSample(world, 'qa', split, it, rng));
  const hits = UNDERSTANDING_INPUTS.map(() => new Map<string, [number, number]>());
  const examples: UnderstandingResult['examples'] = [];
  samples.forEach((s, i) => {
    opts.onProgress?.(`understanding: question ${i + 1}/${samples.length}`);
    const img = s.segments.find((g) => g.kind === 'image')!;
    const scales = T.tidy(() => encodeScales(model, prepareImage(renderRef(world, img.kind === 'image' ? img.ref : { image: 0 }))).map((f) => f.keep()));
    const question = String(s.meta.question), reference = String(s.meta.answer), kind = String(s.meta.kind as QuestionKind);
    UNDERSTANDING_INPUTS.forEach((inp, j) => {
      const answer = T.tidy(() => {
        const ids = mllm.generateText(questionParts(model.tokenizer, slotsShowing(model, scales, inp.scales), question), { maxTokens: 24, greedy: true });
        return model.tokenizer.decode(ids);
      });
      const ok = normalizeAnswer(answer) === normalizeAnswer(reference) ? 1 : 0;
      const [h, n] = hits[j].get(kind) ?? [0, 0];
      hits[j].set(kind, [h + ok, n + 1]);
      if (j === UNDERSTANDING_INPUTS.length - 1 && examples.length < 12) examples.push({ question, answer: answer.trim(), reference });
    });
    scales.forEach((f) => f.dispose());
  });
  const rows = UNDERSTANDING_INPUTS.map((inp, j) => {
    const byKind: Record<string, number> = {};
    let h = 0, n = 0;
    for (const [k, [a, b]] of [...hits[j]].sort()) { byKind[k] = a / b; h += a; n += b; }
    return { input: inp.name, accuracy: n ? h / n : NaN, byKind, questions: n };
  });
  return { stage, note, rows, examples };
}

export function understandingTable(r: UnderstandingResult): string {
  const kinds = [...new Set(r.rows.flatMap((x) => Object.keys(x.byKind)))].sort();
  return markdownTable(
    ['input', 'accuracy', ...kinds, 'questions'],
    r.rows.map((x) => [x.input, x.accuracy, ...kinds.map((k) => x.byKind[k] ?? NaN), String(x.questions)]),
  );
}
