import type { ImageRef } from '../derive.js';
import { describeRef } from '../derive.js';
import type { Split } from '../emoji/meta.js';
import { BOS, EOS, IMG_END, IMG_START } from '../tokenizer/special.js';

export const TASKS = [
  'text-to-image',
  'caption',
  'qa',
  'edit',
  'inpaint',
  'colorize',
  'canny',
  'ground',
] as const;
export type TaskName = (typeof TASKS)[number];

/**
 * A piece of a PUMA sequence. Text with `loss: true` is what the model learns to write (answers,
 * captions); an image with role 'target' is regressed (f4..f0), role 'input' is only encoded.
 */
export type Segment =
  | { kind: 'text'; text: string; loss: boolean }
  | { kind: 'image'; ref: ImageRef; role: 'input' | 'target' };

/**
 * One training example. The sequence is `<s>` + segments + `</s>`, each image written
 * `[IMG] f4 f3 f2 f1 f0 [/IMG]` (PUMA-REFERENCE section 3).
 */
export interface Sample {
  task: TaskName;
  split: Split;
  segments: Segment[];
  /** What the sample was made from, for tests and figures: source/target ids, edit kind, answer. */
  meta: Record<string, string | number | boolean | number[]>;
}

/** Tokens per image in the sequence: 1 + 4 + 16 + 64 + 256 feature tokens between [IMG] and [/IMG]. */
export const IMAGE_FEATURE_TOKENS = 341;

/** The system message of the understanding layout (Vicuna's, as PUMA uses). */
export const SYSTEM_MESSAGE =
  "A chat between a curious user and an artificial intelligence assistant. The assistant gives helpful, detailed, and polite answers to the user's questions.";

/**
 * The text between an input image and the image to write (edit, inpaint, colorize, canny):
 * the instruction with a space either side. `instructionText('')` is the empty instruction, the
 * unconditional branch of instruction guidance (and what edit's instruction dropout trains).
 */
export function instructionText(instruction: string): string {
  return ` ${instruction} `;
}

/**
 * The sequence as one readable string, images as `[IMG]<ref role>[/IMG]`.
 * @example layoutString(sample) // '<s>a Twemoji of grinning face[IMG]<#12 target>[/IMG]</s>'
 */
export function layoutString(sample: Sample): string {
  const body = sample.segments
    .map((s) => (s.kind === 'text' ? s.text : `${IMG_START}<${describeRef(s.ref)} ${s.role}>${IMG_END}`))
    .join('');
  return `${BOS}${body}${EOS}`;
}

/** Checks the invariants every sample must hold; returns a list of problems (empty when well formed). */
export function validateSample(sample: Sample, imageCount: number): string[] {
  const problems: string[] = [];
  if (!(TASKS as readonly string[]).includes(sample.task)) problems.push(`unknown task ${sample.task}`);
  if (sample.segments.length === 0) problems.push('no segments');
  const targets = sample.segments.filter((s) => s.kind === 'image' && s.role === 'target').length;
  const lossText = sample.segments.filter((s) => s.kind === 'text' && s.loss).length;
  if (targets + lossText === 0) problems.push('nothing to learn: no target image and no loss text');
  for (const s of sample.segments) {
    if (s.kind === 'text') {
      if (s.text.length === 0) problems.push('empty text segment');
      if (/<\/?s>|\[\/?IMG\]/.test(s.text)) problems.push(`text contains a special token: ${s.text}`);
    } else if (!Number.isInteger(s.ref.image) || s.ref.image < 0 || s.ref.image >= imageCount) {
      problems.push(`image ref ${s.ref.image} out of range`);
    }
  }
  return problems;
}
