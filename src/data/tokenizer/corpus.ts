import type { EmojiConcept } from '../emoji/meta.js';
import { STYLE_NAMES } from '../emoji/meta.js';
import { SYSTEM_MESSAGE } from '../tasks/sample.js';
import { CAPTION_PROMPTS, COND, EDIT, GROUND, QUESTION_PHRASINGS, T2I } from '../tasks/templates.js';

/**
 * The text a small model sees: every concept's label, tags, names in all locales, category and
 * subcategory, plus the instruction templates (their {placeholders} removed) and the system message.
 * @example const model = trainBpe(captionCorpus(world.concepts), 4096);
 */
export function* captionCorpus(concepts: readonly EmojiConcept[]): Generator<string> {
  for (const c of concepts) {
    yield c.label;
    yield c.tags.join(', ');
    for (const name of Object.values(c.names)) yield name;
    yield `${c.category} ${c.subcategory.replace(/-/g, ' ')}`;
  }
  const templates = [
    ...Object.values(T2I).flat(),
    ...CAPTION_PROMPTS,
    ...QUESTION_PHRASINGS,
    ...Object.values(EDIT).flat(),
    ...Object.values(COND).flat(),
    ...GROUND,
  ];
  // Templates are few; repeat them so their words merge like the captions' do.
  for (let r = 0; r < 20; r++) {
    for (const t of templates) yield t.replace(/\{\w+\}/g, '');
    yield SYSTEM_MESSAGE;
    for (const s of Object.values(STYLE_NAMES)) yield s;
  }
}

/** The lower-case words (a-z runs) of a text. */
export function wordsOf(text: string): string[] {
  return text.toLowerCase().match(/[a-z]+/g) ?? [];
}

/**
 * Every word the captions and instructions of these concepts can hold (captionCorpus): what a
 * model trained on them has read. Pass the training split's concepts.
 *
 * @example const known = corpusWords(world.imagesIn('train').map((im) => world.concepts[im.concept]));
 */
export function corpusWords(concepts: readonly EmojiConcept[]): Set<string> {
  const out = new Set<string>();
  for (const text of captionCorpus([...new Set(concepts)])) for (const w of wordsOf(text)) out.add(w);
  return out;
}
