import { wordnet } from '../definitions.js';
import { type ImageRef, placedAlpha } from '../derive.js';
import { alphaBox } from '../emoji/build.js';
import {
  type EmojiConcept,
  type EmojiImage,
  type EmojiStyle,
  type Gender,
  SKIN_TONES,
  type SkinTone,
  type Split,
  SPLITS,
  STYLE_NAMES,
} from '../emoji/meta.js';
import type { EmojiWorld } from '../emoji/world.js';
import { Rng } from '../rng.js';
import { boxToPosTokens } from '../tokenizer/special.js';
import { type Sample, type Segment, instructionText, SYSTEM_MESSAGE, type TaskName, TASKS } from './sample.js';
import { CAPTION_PROMPTS, COND, EDIT, GROUND, pickFill, QUESTIONS, T2I } from './templates.js';

export type EditKind = 'style' | 'tone-add' | 'tone-remove' | 'tone-change' | 'gender';
export interface EditPair {
  kind: EditKind;
  source: number;
  target: number;
}
export type QuestionKind = keyof typeof QUESTIONS;
export interface QaItem {
  image: number;
  kind: QuestionKind;
}

/** The units a task draws from: images for most tasks, (image, question) for qa, pairs for edit. */
export type TaskItem = number | QaItem | EditPair;

const VENDOR: Record<EmojiStyle, string> = { google: 'Google', twitter: 'Twitter' };
const GENDER_WORD: Record<Gender, string> = { female: 'female', male: 'male', neutral: 'gender-neutral' };
const toneText = (tones: SkinTone[]) => {
  const distinct = [...new Set(tones)];
  return distinct.length === 1 ? `${distinct[0]} skin tone` : `${distinct.join(' and ')} skin tones`;
};
const human = (s: string) => s.replace(/-/g, ' ');

/** Per-world caches, so enumerating a task is paid once. */
const cache = new WeakMap<EmojiWorld, Map<string, TaskItem[]>>();

/**
 * Every item of `task` in `split`, in a fixed order. Its length is the task's count.
 * @example taskItems(world, 'edit', 'train').length
 */
export function taskItems(world: EmojiWorld, task: TaskName, split: Split): TaskItem[] {
  let perWorld = cache.get(world);
  if (!perWorld) cache.set(world, (perWorld = new Map()));
  const key = `${task}/${split}`;
  let items = perWorld.get(key);
  if (!items) {
    const images = world.imagesIn(split);
    if (task === 'qa') items = images.flatMap((img) => questionKinds(world, img).map((kind) => ({ image: img.id, kind })));
    else if (task === 'edit') items = editPairs(world, split);
    else items = images.map((img) => img.id);
    perWorld.set(key, items);
  }
  return items;
}

/** Item counts for every task and split. */
export function taskCounts(world: EmojiWorld): Record<TaskName, Record<Split, number>> {
  const out = {} as Record<TaskName, Record<Split, number>>;
  for (const task of TASKS) {
    out[task] = { train: 0, val: 0, test: 0 };
    for (const split of SPLITS) out[task][split] = taskItems(world, task, split).length;
  }
  return out;
}

/**
 * `n` samples of a task drawn with replacement from its items (for edit: a kind first, uniformly,
 * then a pair of that kind), all choices (item, template,
 * caption variant, mask, placement) from one seeded generator: same seed, same samples.
 * @example const batch = sampleTask(world, 'edit', 'train', 8, 0);
 */
export function sampleTask(world: EmojiWorld, task: TaskName, split: Split, n: number, seed = 0): Sample[] {
  const items = taskItems(world, task, split);
  if (items.length === 0) throw new Error(`task ${task} has no examples in split ${split}`);
  const rng = new Rng(`${task}:${split}:${seed}`);
  if (task !== 'edit') return Array.from({ length: n }, () => makeSample(world, task, split, rng.pick(items), rng));
  // Edit pairs are dominated by tone changes of two-person emojis; draw the kind first.
  const byKind = new Map<EditKind, EditPair[]>();
  for (const p of items as EditPair[]) {
    const list = byKind.get(p.kind);
    if (list) list.push(p);
    else byKind.set(p.kind, [p]);
  }
  const kinds = [...byKind.keys()].sort();
  return Array.from({ length: n }, () => makeSample(world, task, split, rng.pick(byKind.get(rng.pick(kinds))!), rng));
}

/** An endless stream of samples, a new shuffle of the items every epoch. */
export function* streamTask(world: EmojiWorld, task: TaskName, split: Split, seed = 0): Generator<Sample> {
  const items = taskItems(world, task, split).slice();
  if (items.length === 0) throw new Error(`task ${task} has no examples in split ${split}`);
  const rng = new Rng(`${task}:${split}:stream:${seed}`);
  for (;;) for (const item of rng.shuffle(items)) yield makeSample(world, task, split, item, rng);
}

/** Builds the sample of one item; every random choice comes from `rng`. */
export interface SampleOptions {
  /** text-to-image captions may be the dictionary definitions of the name (captionVariant's 'definition'). */
  definitions?: boolean;
}

export function makeSample(world: EmojiWorld, task: TaskName, split: Split, item: TaskItem, rng: Rng, opts: SampleOptions = {}): Sample {
  const text = (t: string, loss = false): Segment => ({ kind: 'text', text: t, loss });
  const image = (ref: ImageRef, role: 'input' | 'target'): Segment => ({ kind: 'image', ref, role });
  const sample = (segments: Segment[], meta: Sample['meta']): Sample => ({ task, split, segments, meta });

  if (task === 'edit') {
    const pair = item as EditPair;
    const instruction = editInstruction(world, pair, rng);
    return sample([image({ image: pair.source }, 'input'), text(instructionText(instruction)), image({ image: pair.target }, 'target')], {
      kind: pair.kind,
      source: pair.source,
      target: pair.target,
      instruction,
    });
  }
  if (task === 'qa') {
    const { image: id, kind } = item as QaItem;
    const question = rng.pick(QUESTIONS[kind]);
    const answer = answerOf(world, world.images[id], kind);
    return sample(understanding(image({ image: id }, 'input'), question, answer), { image: id, kind, question, answer });
  }
  const id = item as number;
  const img = world.images[id];
  const concept = world.concepts[img.concept];
  switch (task) {
    case 'text-to-image': {
      const { caption, variant } = captionVariant(concept, img.style, rng, opts.definitions ? WITH_DEFINITIONS : undefined);
      return sample([text(caption), image({ image: id }, 'target')], { image: id, variant, caption });
    }
    case 'caption': {
      const prompt = rng.pick(CAPTION_PROMPTS);
      const segments: Segment[] = [image({ image: id }, 'input')];
      if (prompt) segments.push(text(prompt));
      segments.push(text(concept.label, true));
      return sample(segments, { image: id, caption: concept.label });
    }
    case 'inpaint':
    case 'colorize':
    case 'canny': {
      const input: ImageRef =
        task === 'inpaint'
          ? { image: id, op: 'masked', mask: { kind: rng.next() < 0.5 ? 'box' : 'strokes', seed: rng.int(2 ** 31) } }
          : task === 'colorize'
            ? { image: id, op: 'grayscale' }
            : { image: id, op: 'canny', low: 100, high: 200 };
      // PUMA's conditional-generation prompt: the target caption, plus an instruction half the time.
      let prompt = captionVariant(concept, img.style, rng, ['label', 'style']).caption;
      const withInstruction = rng.next() < 0.5;
      if (withInstruction) prompt = `${rng.pick(COND[task])} ${prompt}`;
      return sample([image(input, 'input'), text(instructionText(prompt)), image({ image: id }, 'target')], {
        image: id,
        prompt,
        withInstruction,
      });
    }
    case 'ground': {
      const size = 24 + rng.int(world.width - 24 + 1);
      const ref = { image: id, op: 'placed' as const, x: rng.int(world.width - size + 1), y: rng.int(world.height - size + 1), size };
      const box = alphaBox(placedAlpha(world, ref), world.width, world.height);
      const question = pickFill(rng, GROUND, { label: concept.label });
      const answer = boxToPosTokens(box, world.width, world.height);
      return sample(understanding(image(ref, 'input'), question, answer), { image: id, box, question, answer });
    }
  }
}

/** The understanding layout: system message, USER: image question, ASSISTANT: answer (loss on the answer only). */
function understanding(img: Segment, question: string, answer: string): Segment[] {
  return [
    { kind: 'text', text: `${SYSTEM_MESSAGE} USER: `, loss: false },
    img,
    { kind: 'text', text: ` ${question} ASSISTANT:`, loss: false },
    { kind: 'text', text: ` ${answer}`, loss: true },
  ];
}

export type CaptionVariant = 'label' | 'tags' | 'style' | 'language' | 'category' | 'definition';

const VARIANTS: readonly CaptionVariant[] = ['label', 'label', 'tags', 'style', 'style', 'language', 'category'];
/** The variants plus the name as dictionary definitions, 2 in 9 of the captions. */
const WITH_DEFINITIONS: readonly CaptionVariant[] = [...VARIANTS, 'definition', 'definition'];

/**
 * One caption of a concept: its label, with tags, with the drawing style, in another language,
 * with its category, or (when asked) as the WordNet definitions of the label's words.
 */
export function captionVariant(
  concept: EmojiConcept,
  style: EmojiStyle,
  rng: Rng,
  variants: readonly CaptionVariant[] = VARIANTS,
): { caption: string; variant: CaptionVariant } {
  const variant = rng.pick(variants);
  const vars = {
    label: concept.label,
    style: STYLE_NAMES[style],
    tags: rng.shuffle(concept.tags.slice()).slice(0, 1 + rng.int(4)).join(', ') || concept.label,
    category: concept.category,
    subcategory: human(concept.subcategory),
  };
  if (variant === 'definition') return { caption: wordnet().defineText(concept.label), variant };
  if (variant === 'language') {
    const locales = Object.keys(concept.names).filter((l) => l !== 'en' && l !== 'en-gb');
    if (locales.length > 0) return { caption: concept.names[rng.pick(locales)], variant };
    return { caption: concept.label, variant: 'label' };
  }
  return { caption: pickFill(rng, T2I[variant], vars), variant };
}

function questionKinds(world: EmojiWorld, img: EmojiImage): QuestionKind[] {
  const c = world.concepts[img.concept];
  const kinds: QuestionKind[] = ['name', 'category', 'subcategory', 'style'];
  if (c.tones.length > 0 || hasTonedSiblings(world).has(c.hexcode)) kinds.push('tone');
  if (c.gender !== null) kinds.push('gender');
  return kinds;
}

const tonedSiblingCache = new WeakMap<EmojiWorld, Set<string>>();
/** Hexcodes of tone-free concepts that have toned versions (their tone question has an answer: "none"). */
function hasTonedSiblings(world: EmojiWorld): Set<string> {
  let set = tonedSiblingCache.get(world);
  if (!set) {
    set = new Set(world.concepts.filter((c) => c.tones.length > 0).map((c) => c.base));
    tonedSiblingCache.set(world, set);
  }
  return set;
}

/** The reference answer of a question about an image. */
export function answerOf(world: EmojiWorld, img: EmojiImage, kind: QuestionKind): string {
  const c = world.concepts[img.concept];
  switch (kind) {
    case 'name':
      return c.label;
    case 'category':
      return c.category;
    case 'subcategory':
      return human(c.subcategory);
    case 'style':
      return `${STYLE_NAMES[img.style]} (${VENDOR[img.style]})`;
    case 'tone':
      return c.tones.length > 0 ? toneText(c.tones) : 'no skin tone modifier (the default yellow)';
    case 'gender':
      return c.gender === 'male' ? 'male' : c.gender === 'female' ? 'female' : 'gender-neutral';
  }
}

/** All editing pairs of a split: style swaps, tone add/remove/change, gender swaps; never two identical images. */
export function editPairs(world: EmojiWorld, split: Split): EditPair[] {
  const images = world.imagesIn(split);
  const byConceptStyle = new Map<string, EmojiImage>();
  for (const img of images) byConceptStyle.set(`${img.concept}/${img.style}`, img);
  const pairs: EditPair[] = [];
  const push = (kind: EditKind, a: EmojiImage | undefined, b: EmojiImage | undefined) => {
    if (a && b && a.pixelHash !== b.pixelHash) pairs.push({ kind, source: a.id, target: b.id });
  };
  const concepts = [...new Set(images.map((i) => i.concept))].sort((a, b) => a - b);
  const get = (c: number, s: EmojiStyle) => byConceptStyle.get(`${c}/${s}`);

  for (const c of concepts) {
    push('style', get(c, 'google'), get(c, 'twitter'));
    push('style', get(c, 'twitter'), get(c, 'google'));
  }
  const byBase = new Map<string, number[]>();
  const byGender = new Map<string, number[]>();
  for (const c of concepts) {
    const concept = world.concepts[c];
    pushTo(byBase, concept.base, c);
    if (concept.gender !== null) pushTo(byGender, `${concept.genderKey}|${concept.tones.join('+')}`, c);
  }
  for (const group of byBase.values()) {
    const plain = group.filter((c) => world.concepts[c].tones.length === 0);
    const toned = group.filter((c) => world.concepts[c].tones.length > 0);
    for (const style of ['google', 'twitter'] as EmojiStyle[]) {
      for (const p of plain) {
        for (const t of toned) {
          push('tone-add', get(p, style), get(t, style));
          push('tone-remove', get(t, style), get(p, style));
        }
      }
      for (const a of toned) for (const b of toned) if (a !== b) push('tone-change', get(a, style), get(b, style));
    }
  }
  for (const group of byGender.values()) {
    for (const a of group) {
      for (const b of group) {
        if (a === b || world.concepts[a].gender === world.concepts[b].gender) continue;
        for (const style of ['google', 'twitter'] as EmojiStyle[]) push('gender', get(a, style), get(b, style));
      }
    }
  }
  return pairs;
}

function editInstruction(world: EmojiWorld, pair: EditPair, rng: Rng): string {
  const src = world.images[pair.source], dst = world.images[pair.target];
  const a = world.concepts[src.concept], b = world.concepts[dst.concept];
  switch (pair.kind) {
    case 'style':
      return pickFill(rng, EDIT.style, { style: STYLE_NAMES[dst.style], vendor: VENDOR[dst.style] });
    case 'tone-add':
      return pickFill(rng, EDIT.toneAdd, { tone: toneText(b.tones).replace(/ skin tones?$/, '') });
    case 'tone-remove':
      return rng.pick(EDIT.toneRemove);
    case 'tone-change': {
      if (a.tones.length === 1 && b.tones.length === 1 && rng.next() < 0.3) {
        const direction = SKIN_TONES.indexOf(b.tones[0]) > SKIN_TONES.indexOf(a.tones[0]) ? 'darker' : 'lighter';
        return pickFill(rng, EDIT.toneRelative, { direction });
      }
      const strip = (t: SkinTone[]) => toneText(t).replace(/ skin tones?$/, '');
      return pickFill(rng, EDIT.toneChange, { from: strip(a.tones), to: strip(b.tones) });
    }
    case 'gender':
      return pickFill(rng, EDIT.gender, { from: GENDER_WORD[a.gender!], to: GENDER_WORD[b.gender!] });
  }
}

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
