import type { ImageRef } from '../derive.js';
import type { PumaTokenizer } from '../tokenizer/tokenizer.js';
import { IMAGE_FEATURE_TOKENS, type Sample } from './sample.js';

/** A tokenised sample: runs of token ids (with their loss flag) and the images between [IMG] and [/IMG]. */
export type SequencePart =
  | { kind: 'tokens'; ids: number[]; loss: boolean }
  | { kind: 'image'; ref: ImageRef; role: 'input' | 'target' };

/**
 * Tokenises a sample into PUMA's layout: <s>, text runs, `[IMG]` image `[/IMG]`, </s>. The image
 * parts stand for 341 feature tokens (f4..f0) that the model code fills in. </s> carries loss
 * whenever the sample has something to learn, so the model learns to stop.
 * @example const parts = tokenizeSample(sample, tok); sequenceLength(parts) // tokens incl. 341 per image
 */
export function tokenizeSample(sample: Sample, tok: PumaTokenizer): SequencePart[] {
  const parts: SequencePart[] = [{ kind: 'tokens', ids: [tok.special.bos], loss: false }];
  for (const s of sample.segments) {
    if (s.kind === 'text') parts.push({ kind: 'tokens', ids: tok.encode(s.text), loss: s.loss });
    else {
      parts.push({ kind: 'tokens', ids: [tok.special.imgStart], loss: false });
      parts.push({ kind: 'image', ref: s.ref, role: s.role });
      // [/IMG] after a generated image is predicted too: it ends the image.
      parts.push({ kind: 'tokens', ids: [tok.special.imgEnd], loss: s.role === 'target' });
    }
  }
  parts.push({ kind: 'tokens', ids: [tok.special.eos], loss: true });
  return parts;
}

/** Total sequence length, each image counted as its 341 feature tokens. */
export function sequenceLength(parts: readonly SequencePart[]): number {
  return parts.reduce((n, p) => n + (p.kind === 'tokens' ? p.ids.length : IMAGE_FEATURE_TOKENS), 0);
}
