// Prompts for generation in the training layouts: the same tokens the model saw, cut where it
// has to continue (after `ASSISTANT:` for an answer; generateImage adds `[IMG]` itself).
import type { Segment } from '../../data/tasks/sample.js';
import { instructionText, SYSTEM_MESSAGE } from '../../data/tasks/sample.js';
import { tokenizeSample } from '../../data/tasks/sequence.js';
import type { PumaTokenizer } from '../../data/tokenizer/tokenizer.js';
import type { Tensor } from '../../tensor/index.js';
import type { MllmPart } from './mllm.js';

/**
 * `<s>` + segments, without `</s>`, as MLLM parts; the images' features ([341, C] coarse to
 * fine) are given in the order the images appear.
 *
 * @example
 * // editing: <s>[IMG]source[/IMG] instruction, then generateImage writes [IMG] f4..f0
 * const parts = promptParts([{ kind: 'image', ref: { image: 0 }, role: 'input' },
 *   { kind: 'text', text: ' Make the skin darker. ', loss: false }], tok, [sourceFeatures]);
 * mllm.generateImage(parts, { upToScale: 0 });
 */
export function promptParts(segments: readonly Segment[], tok: PumaTokenizer, features: readonly Tensor[]): MllmPart[] {
  const parts = tokenizeSample({ task: 'caption', split: 'test', segments: [...segments], meta: {} }, tok).slice(0, -1);
  let n = 0;
  const out = parts.map((p): MllmPart => {
    if (p.kind === 'tokens') return { kind: 'tokens', ids: p.ids, loss: false };
    const f = features[n++];
    if (!f) throw new Error(`promptParts: ${n} images in the prompt but ${features.length} feature tensors`);
    return { kind: 'image', features: f, role: 'input' };
  });
  if (n !== features.length) throw new Error(`promptParts: ${n} images in the prompt but ${features.length} feature tensors`);
  return out;
}

/** The understanding prompt (system message, USER: image question ASSISTANT:) for generateText. */
export function questionParts(tok: PumaTokenizer, features: Tensor, question: string): MllmPart[] {
  return promptParts([
    { kind: 'text', text: `${SYSTEM_MESSAGE} USER: `, loss: false },
    { kind: 'image', ref: { image: 0 }, role: 'input' },
    { kind: 'text', text: ` ${question} ASSISTANT:`, loss: false },
  ], tok, [features]);
}

/**
 * The editing / conditional-generation prompt (`<s>[IMG]input[/IMG] text`) for generateImage;
 * `edgeMap` marks the input as an edge map (canny-to-image, see MllmConfig.residualSkipsEdgeMaps).
 */
export function instructionParts(tok: PumaTokenizer, features: Tensor, text: string, edgeMap = false): MllmPart[] {
  const parts = promptParts([
    { kind: 'image', ref: { image: 0 }, role: 'input' },
    { kind: 'text', text: instructionText(text), loss: false },
  ], tok, [features]);
  return edgeMap ? parts.map((p) => (p.kind === 'image' ? { ...p, edgeMap } : p)) : parts;
}
