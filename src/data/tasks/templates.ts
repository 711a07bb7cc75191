import type { Rng } from '../rng.js';

/** Replaces {name} placeholders; a missing variable is a programming error and throws. */
export function fill(template: string, vars: Record<string, string>): string {
  return template.replace(/\{(\w+)\}/g, (_, k: string) => {
    if (!(k in vars)) throw new Error(`template variable {${k}} missing in "${template}"`);
    return vars[k];
  });
}

export const pickFill = (rng: Rng, templates: readonly string[], vars: Record<string, string>) =>
  fill(rng.pick(templates), vars);

export const T2I = {
  label: ['{label}', 'an emoji of {label}', '{label} emoji', 'a picture of {label}', 'the {label} emoji'],
  tags: ['{label}, {tags}', 'an emoji of {label} ({tags})', '{tags}: {label}', 'emoji: {label}; keywords: {tags}'],
  style: [
    'a {style} emoji of {label}',
    '{label}, {style} style',
    '{label} drawn in the {style} style',
    'an emoji of {label} in {style}',
    '{style}: {label}',
  ],
  category: ['{label}, an emoji from {category}', 'an emoji of {label} ({subcategory})'],
};

export const CAPTION_PROMPTS = ['', '', 'This emoji shows ', 'An emoji of ', 'Emoji: '];

export const QUESTIONS = {
  name: ['What does this emoji show?', 'Describe this emoji.', 'What is this?', 'Name this emoji.'],
  category: ['Which category does this emoji belong to?', 'What category is this emoji in?', 'In which emoji group is this?'],
  subcategory: ['What is the subcategory of this emoji?', 'Which subgroup is this emoji listed under?'],
  tone: ['What skin tone does this emoji have?', 'Which skin tone is shown?', 'What is the skin tone here?'],
  style: ['Which emoji set is this image from?', 'Is this Noto Emoji or Twemoji?', 'What drawing style is this emoji?'],
  gender: ['Is this a man, a woman or a gender-neutral person?', 'What gender is the person in this emoji?'],
};

/** Every question phrasing of QUESTIONS, in order: what the understanding data asks. */
export const QUESTION_PHRASINGS: readonly string[] = Object.values(QUESTIONS).flat();

export const EDIT = {
  style: [
    'Redraw this emoji in the {style} style.',
    'Convert this to {style}.',
    'Make it look like a {style} emoji.',
    'Show the same emoji as drawn by {vendor}.',
  ],
  toneAdd: ['Give it a {tone} skin tone.', 'Apply the {tone} skin tone.', 'Change the skin to {tone}.', 'Make the skin {tone}.'],
  toneRemove: [
    'Remove the skin tone.',
    'Use the default skin colour.',
    'Make the skin the default yellow.',
    'Drop the skin tone modifier.',
  ],
  toneChange: ['Change the skin tone from {from} to {to}.', 'Make the skin {to}.', 'Switch to a {to} skin tone.'],
  toneRelative: ['Make the skin {direction}.', 'Use a {direction} skin tone.'],
  gender: ['Make this person {to}.', 'Change the gender to {to}.', 'Show the {to} version of this emoji.', 'Turn this {from} emoji into a {to} one.'],
};

export const COND = {
  inpaint: ['Please fill in the grey region.', 'Inpaint the missing area.', 'Restore the masked part of the image.', 'Complete the image.'],
  colorize: ['Please colorize this grayscale image.', 'Add colour to this black-and-white emoji.', 'Colorize the image.'],
  canny: [
    'Please convert the canny image to a natural image.',
    'Generate an emoji from this edge map.',
    'Draw the emoji these edges come from.',
  ],
};

export const GROUND = [
  'Where is the {label} in the image? Answer with a bounding box.',
  'Give the bounding box of the {label}.',
  'Locate the emoji.',
  'Find the {label} and output its box.',
];
