/** The two drawing styles in the dataset. */
export type EmojiStyle = 'google' | 'twitter';
export const STYLES: readonly EmojiStyle[] = ['google', 'twitter'];
export const STYLE_NAMES: Record<EmojiStyle, string> = { google: 'Noto Emoji', twitter: 'Twemoji' };

export type Split = 'train' | 'val' | 'test';
export const SPLITS: readonly Split[] = ['train', 'val', 'test'];

export type SkinTone = 'light' | 'medium-light' | 'medium' | 'medium-dark' | 'dark';
export const SKIN_TONES: readonly SkinTone[] = ['light', 'medium-light', 'medium', 'medium-dark', 'dark'];
const TONE_BY_CODE: Record<string, SkinTone> = {
  '1F3FB': 'light',
  '1F3FC': 'medium-light',
  '1F3FD': 'medium',
  '1F3FE': 'medium-dark',
  '1F3FF': 'dark',
};
export const TONE_CODE: Record<SkinTone, string> = Object.fromEntries(
  Object.entries(TONE_BY_CODE).map(([k, v]) => [v, k]),
) as Record<SkinTone, string>;

export type Gender = 'female' | 'male' | 'neutral';

/** One drawn concept: a Unicode emoji sequence with its text, shared by both styles. */
export interface EmojiConcept {
  /** Unicode code points, upper-case hex joined by '-', fully qualified (with FE0F). */
  hexcode: string;
  emoji: string;
  /** English label from emojibase-data, e.g. "woman running: medium skin tone". */
  label: string;
  tags: string[];
  /** locale -> label, for the 28 locales of emojibase-data. */
  names: Record<string, string>;
  shortNames: string[];
  category: string;
  subcategory: string;
  /** Skin tones in the sequence, in order (two for the two-person sequences). */
  tones: SkinTone[];
  gender: Gender | null;
  /** Concept without tone: the hexcode of the tone-free version. */
  base: string;
  /** Tone-free and gender-free key: man/woman/person versions of one thing share it. */
  genderKey: string;
}

/** One image: a concept drawn in one style, at index `id` of images.bin. */
export interface EmojiImage {
  id: number;
  concept: number;
  style: EmojiStyle;
  split: Split;
  /** FNV-1a of the RGBA pixels, hex; equal pixels, equal hash. */
  pixelHash: string;
  /** Bounding box of alpha > 0, inclusive pixel coordinates [x0, y0, x1, y1]. */
  box: [number, number, number, number];
}

export interface EmojiIndex {
  format: 'puma-emoji-world';
  version: number;
  imageFile: string;
  width: number;
  height: number;
  attribution: string;
  licenses: Record<string, string>;
  sources: Record<string, string>;
  splitRule: string;
  concepts: EmojiConcept[];
  images: EmojiImage[];
}

export const ATTRIBUTION =
  'Twemoji graphics: Copyright Twitter, Inc. and other contributors (jdecked/twemoji), licensed under ' +
  'CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/), via the emoji-datasource-twitter npm package. ' +
  'Noto Emoji graphics: Google, Apache License 2.0 (https://github.com/googlefonts/noto-emoji), via ' +
  'emoji-datasource-google. Labels, tags and localised names: emojibase-data (MIT). ' +
  'Images were composited on white; no other changes.';

const ZWJ = '200D';
const FE0F = 'FE0F';
const FEMALE_SIGN = '2640';
const MALE_SIGN = '2642';

// Person code points with a gendered and a neutral form. Each maps to [gender, neutral form].
const PERSON_FORMS: Record<string, [Gender, string]> = {
  '1F468': ['male', '1F9D1'], // man
  '1F469': ['female', '1F9D1'], // woman
  '1F9D1': ['neutral', '1F9D1'], // person
  '1F474': ['male', '1F9D3'], // old man
  '1F475': ['female', '1F9D3'], // old woman
  '1F9D3': ['neutral', '1F9D3'], // older person
  '1F466': ['male', '1F9D2'], // boy
  '1F467': ['female', '1F9D2'], // girl
  '1F9D2': ['neutral', '1F9D2'], // child
  '1F934': ['male', '1FAC5'], // prince
  '1F478': ['female', '1FAC5'], // princess
  '1FAC5': ['neutral', '1FAC5'], // person with crown
  '1F385': ['male', '1F9D1-200D-1F384'], // Santa Claus
  '1F936': ['female', '1F9D1-200D-1F384'], // Mrs. Claus
};

/** The skin tones in a hexcode, in order. */
export function tonesOf(hexcode: string): SkinTone[] {
  return hexcode.split('-').flatMap((cp) => (TONE_BY_CODE[cp] ? [TONE_BY_CODE[cp]] : []));
}

/** Removes FE0F and skin-tone modifiers: the concept's tone-free, qualification-free form. */
export function stripTones(hexcode: string): string {
  return hexcode
    .split('-')
    .filter((cp) => cp !== FE0F && !TONE_BY_CODE[cp])
    .join('-');
}

/**
 * Gender: emojibase's field when set (0 female, 1 male), else the ZWJ sign, else the person form
 * of a single-person sequence. Null for things that are not people.
 */
export function genderOf(hexcode: string, emojibaseGender?: number): Gender | null {
  if (emojibaseGender === 0) return 'female';
  if (emojibaseGender === 1) return 'male';
  const cps = stripTones(hexcode).split('-');
  const hasZwjSign = (sign: string) => cps.some((cp, i) => cp === sign && cps[i - 1] === ZWJ);
  if (hasZwjSign(FEMALE_SIGN)) return 'female';
  if (hasZwjSign(MALE_SIGN)) return 'male';
  const persons = cps.filter((cp) => PERSON_FORMS[cp]);
  if (persons.length === 1 && cps[0] === persons[0]) return PERSON_FORMS[persons[0]][0];
  return null;
}

/**
 * Key shared by the tone, gender and qualification variants of one thing: strips tones, FE0F and
 * ZWJ gender signs, and writes every gendered person form in its neutral form.
 * "man running: dark skin tone" and "person running" give the same key.
 */
export function genderKeyOf(hexcode: string): string {
  const cps = stripTones(hexcode).split('-');
  const out: string[] = [];
  for (let i = 0; i < cps.length; i++) {
    if (cps[i] === ZWJ && (cps[i + 1] === FEMALE_SIGN || cps[i + 1] === MALE_SIGN)) {
      i++;
      continue;
    }
    out.push(PERSON_FORMS[cps[i]]?.[1] ?? cps[i]);
  }
  return out.join('-');
}

/** The character for a hexcode, e.g. "1F600" -> "😀". */
export function hexToEmoji(hexcode: string): string {
  return String.fromCodePoint(...hexcode.split('-').map((h) => parseInt(h, 16)));
}
