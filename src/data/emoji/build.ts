import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { compositeOver, decodeImage, type Image } from '../../io/image.js';
import { resizeImage } from '../../io/resize.js';
import { fnv1a } from '../rng.js';
import { createImagesWriter, IMAGES_VERSION } from './format.js';
import {
  ATTRIBUTION,
  type EmojiConcept,
  type EmojiImage,
  type EmojiIndex,
  type EmojiStyle,
  genderKeyOf,
  genderOf,
  hexToEmoji,
  type Split,
  stripTones,
  tonesOf,
} from './meta.js';

const require = createRequire(import.meta.url);
export const IMAGE_SIZE = 64;
export const IMAGES_FILE = 'images.bin';
export const INDEX_FILE = 'index.json';

/** The 28 locales of emojibase-data, English first. */
export const LOCALES = [
  'en', 'en-gb', 'bn', 'da', 'de', 'es', 'es-mx', 'et', 'fi', 'fr', 'hi', 'hu', 'it', 'ja',
  'ko', 'lt', 'ms', 'nb', 'nl', 'pl', 'pt', 'ru', 'sv', 'th', 'uk', 'vi', 'zh', 'zh-hant',
] as const;

interface DatasourceVariant {
  unified: string;
  image: string;
  has_img_google?: boolean;
  has_img_twitter?: boolean;
}
interface DatasourceRow extends DatasourceVariant {
  name: string | null;
  short_names: string[];
  category: string;
  subcategory: string;
  sort_order: number;
  skin_variations?: Record<string, DatasourceVariant>;
}
interface EmojibaseEntry {
  label: string;
  hexcode: string;
  tags?: string[];
  gender?: number;
  skins?: EmojibaseEntry[];
}

export interface BuildOptions {
  out: string;
  /** Keep only the first N emoji rows (by Unicode sort order), with all their variants. */
  limit?: number;
  /** Keep only rows for which this returns true (applied before `limit`); for tests and experiments. */
  select?: (row: { unified: string; category: string; subcategory: string }) => boolean;
  onProgress?: (done: number, total: number) => void;
}

export interface BuildResult {
  index: EmojiIndex;
  seconds: number;
}

const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const packageVersion = (name: string) =>
  (JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')) as { version: string }).version;
const joinKey = (hexcode: string) => hexcode.replace(/-FE0F/g, '').replace(/^FE0F-/, '');

function loadEmojibase(locale: string): Map<string, EmojibaseEntry> {
  const entries = require(`emojibase-data/${locale}/data.json`) as EmojibaseEntry[];
  const map = new Map<string, EmojibaseEntry>();
  for (const e of entries) {
    map.set(joinKey(e.hexcode), e);
    for (const s of e.skins ?? []) map.set(joinKey(s.hexcode), { ...s, tags: s.tags ?? e.tags });
  }
  return map;
}

export const SPLIT_FRACTIONS: Record<Split, number> = { train: 0.9, val: 0.05, test: 0.05 };

export const SPLIT_RULE =
  'Images are grouped by genderKey (tone-, gender- and qualification-free hexcode; both styles) and ' +
  'by identical RGBA pixels (union-find). Within each stratum (groups with two genders; with skin ' +
  'tones; the rest) groups are visited in the order of FNV-1a of their smallest key ' +
  "('puma-split-v1:' prefix) and each goes to the split furthest below its share of images (90/5/5), " +
  'so the fractions hold to within one group per stratum while membership looks random.';
/**
 * Reads emoji-datasource-google, emoji-datasource-twitter and emojibase-data and writes
 * `<out>/images.bin` and `<out>/index.json`.
 * @example await buildEmojiWorld({ out: 'data/emoji', limit: 50 });
 */
export async function buildEmojiWorld(opts: BuildOptions): Promise<BuildResult> {
  const t0 = performance.now();
  const rows = (require('emoji-datasource-google/emoji.json') as DatasourceRow[])
    .slice()
    .sort((a, b) => a.sort_order - b.sort_order);
  const twitterRows = new Map(
    (require('emoji-datasource-twitter/emoji.json') as DatasourceRow[]).map((r) => [r.unified, r]),
  );
  if (opts.limit !== undefined && (!Number.isInteger(opts.limit) || opts.limit <= 0)) {
    throw new Error(`--limit must be a positive integer, got ${opts.limit}`);
  }
  const selected = opts.select ? rows.filter((r) => opts.select!(r)) : rows;
  const limited = opts.limit !== undefined ? selected.slice(0, opts.limit) : selected;
  const emojibase = new Map(LOCALES.map((l) => [l, loadEmojibase(l)]));
  const en = emojibase.get('en')!;

  // Concepts: every row and every skin variation.
  const concepts: EmojiConcept[] = [];
  const jobs: { concept: number; style: EmojiStyle; file: string }[] = [];
  for (const row of limited) {
    const twitter = twitterRows.get(row.unified);
    const variants: DatasourceVariant[] = [row, ...Object.values(row.skin_variations ?? {})];
    const twitterVariants = new Map(
      [twitter, ...Object.values(twitter?.skin_variations ?? {})].flatMap((v) => (v ? [[v.unified, v]] : [])),
    );
    for (const v of variants) {
      const key = joinKey(v.unified);
      const eb = en.get(key);
      const names: Record<string, string> = {};
      for (const l of LOCALES) {
        const label = emojibase.get(l)!.get(key)?.label;
        if (label) names[l] = label;
      }
      const label = eb?.label ?? (row.name ?? row.short_names[0]).toLowerCase();
      const base = stripTones(v.unified);
      concepts.push({
        hexcode: v.unified,
        emoji: hexToEmoji(v.unified),
        label,
        tags: eb?.tags ?? en.get(joinKey(row.unified))?.tags ?? [],
        names,
        shortNames: v === row ? row.short_names : row.short_names.map((s) => `${s}:${tonesOf(v.unified).join('+')}`),
        category: row.category,
        subcategory: row.subcategory,
        tones: tonesOf(v.unified),
        gender: genderOf(v.unified, eb?.gender ?? en.get(joinKey(row.unified))?.gender),
        base,
        genderKey: genderKeyOf(v.unified),
      });
      const c = concepts.length - 1;
      if (v.has_img_google) jobs.push({ concept: c, style: 'google', file: imagePath('google', v.image) });
      if (twitterVariants.get(v.unified)?.has_img_twitter) {
        jobs.push({ concept: c, style: 'twitter', file: imagePath('twitter', v.image) });
      }
    }
  }

  // Decode all images (a few at a time), composite on white, write records in job order.
  await mkdir(opts.out, { recursive: true });
  const tmpImages = join(opts.out, `${IMAGES_FILE}.tmp`);
  const writer = await createImagesWriter(tmpImages, jobs.length, IMAGE_SIZE, IMAGE_SIZE);
  const images: EmojiImage[] = [];
  const CONCURRENCY = 8;
  for (let start = 0; start < jobs.length; start += CONCURRENCY) {
    const batch = jobs.slice(start, start + CONCURRENCY);
    const decoded = await Promise.all(batch.map((j) => loadEmojiPng(j.file)));
    for (let k = 0; k < batch.length; k++) {
      const rgba = decoded[k];
      const { rgb, alpha } = compositeOver(rgba, 255);
      await writer.write(rgb.data, alpha);
      images.push({
        id: images.length,
        concept: batch[k].concept,
        style: batch[k].style,
        split: 'train',
        pixelHash: hashBytes(rgba.data),
        box: alphaBox(alpha, IMAGE_SIZE, IMAGE_SIZE),
      });
    }
    opts.onProgress?.(Math.min(start + CONCURRENCY, jobs.length), jobs.length);
  }
  await writer.close();

  assignSplits(concepts, images);
  const index: EmojiIndex = {
    format: 'puma-emoji-world',
    version: IMAGES_VERSION,
    imageFile: IMAGES_FILE,
    width: IMAGE_SIZE,
    height: IMAGE_SIZE,
    attribution: ATTRIBUTION,
    licenses: { google: 'Apache-2.0', twitter: 'CC-BY-4.0', text: 'MIT (emojibase-data)' },
    sources: Object.fromEntries(
      ['emoji-datasource-google', 'emoji-datasource-twitter', 'emojibase-data'].map((p) => [p, packageVersion(p)]),
    ),
    splitRule: SPLIT_RULE,
    concepts,
    images,
  };
  const tmpIndex = join(opts.out, `${INDEX_FILE}.tmp`);
  await writeFile(tmpIndex, JSON.stringify(index));
  await rename(tmpImages, join(opts.out, IMAGES_FILE));
  await rename(tmpIndex, join(opts.out, INDEX_FILE));
  return { index, seconds: (performance.now() - t0) / 1000 };
}

function imagePath(style: EmojiStyle, file: string): string {
  return join(packageDir(`emoji-datasource-${style}`), 'img', style, '64', file);
}

async function loadEmojiPng(file: string): Promise<Image> {
  let img = await decodeImage(await readFile(file), file);
  if (img.channels !== 4) img = compositeToRgba(img);
  if (img.width !== IMAGE_SIZE || img.height !== IMAGE_SIZE) img = resizeImage(img, IMAGE_SIZE, IMAGE_SIZE, 'bicubic');
  return img;
}

function compositeToRgba(img: Image): Image {
  const n = img.width * img.height;
  const out = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 3; c++) out[4 * i + c] = img.data[i * img.channels + (img.channels === 1 ? 0 : c)];
    out[4 * i + 3] = 255;
  }
  return { width: img.width, height: img.height, channels: 4, data: out };
}

function hashBytes(b: Uint8Array): string {
  let h1 = 0x811c9dc5, h2 = 0x01000193;
  for (let i = 0; i < b.length; i++) {
    h1 = Math.imul(h1 ^ b[i], 0x01000193);
    h2 = Math.imul(h2 ^ b[i], 0x5bd1e995) ^ (h2 >>> 13);
  }
  return (h1 >>> 0).toString(16).padStart(8, '0') + (h2 >>> 0).toString(16).padStart(8, '0');
}

/** Inclusive box of alpha > 0; the whole image when it is fully transparent. */
export function alphaBox(alpha: Uint8Array, width: number, height: number): [number, number, number, number] {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (alpha[y * width + x] > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? [0, 0, width - 1, height - 1] : [x0, y0, x1, y1];
}

/** Union-find over images: same genderKey, or identical pixels, means same group, same split. */
export function assignSplits(concepts: EmojiConcept[], images: EmojiImage[]): void {
  const parent = images.map((_, i) => i);
  const find = (i: number): number => {
    while (parent[i] !== i) i = parent[i] = parent[parent[i]];
    return i;
  };
  const union = (a: number, b: number) => {
    const ra = find(a), rb = find(b);
    if (ra !== rb) parent[Math.max(ra, rb)] = Math.min(ra, rb);
  };
  const firstByKey = new Map<string, number>();
  const firstByPixels = new Map<string, number>();
  for (const img of images) {
    const key = concepts[img.concept].genderKey;
    const k = firstByKey.get(key);
    if (k === undefined) firstByKey.set(key, img.id);
    else union(k, img.id);
    const p = firstByPixels.get(img.pixelHash);
    if (p === undefined) firstByPixels.set(img.pixelHash, img.id);
    else union(p, img.id);
  }
  const groupKey = new Map<number, string>();
  for (const img of images) {
    const root = find(img.id);
    const key = concepts[img.concept].genderKey;
    const cur = groupKey.get(root);
    if (cur === undefined || key < cur) groupKey.set(root, key);
  }
  // Strata, so every split gets gender pairs and tone pairs: a group with two genders, else one
  // with skin tones, else plain. Each stratum is balanced on its own.
  const genders = new Map<number, Set<string>>();
  const toned = new Set<number>();
  for (const img of images) {
    const root = find(img.id);
    const c = concepts[img.concept];
    if (c.gender) genders.set(root, (genders.get(root) ?? new Set()).add(c.gender));
    if (c.tones.length > 0) toned.add(root);
  }
  const stratumOf = (root: number) => ((genders.get(root)?.size ?? 0) > 1 ? 'gender' : toned.has(root) ? 'tone' : 'plain');
  const groups = [...groupKey.entries()].map(([root, key]) => ({
    root,
    key,
    stratum: stratumOf(root),
    hash: fnv1a(`puma-split-v1:${key}`),
    size: 0,
  }));
  const byRoot = new Map(groups.map((g) => [g.root, g]));
  for (const img of images) byRoot.get(find(img.id))!.size++;
  groups.sort((a, b) => a.hash - b.hash || (a.key < b.key ? -1 : 1));
  const splitOfRoot = new Map<number, Split>();
  for (const stratum of ['gender', 'tone', 'plain']) {
    const assigned: Record<Split, number> = { train: 0, val: 0, test: 0 };
    let total = 0;
    for (const g of groups) {
      if (g.stratum !== stratum) continue;
      total += g.size;
      let best: Split = 'train';
      let bestDeficit = -Infinity;
      for (const split of ['val', 'test', 'train'] as Split[]) {
        const deficit = SPLIT_FRACTIONS[split] * total - assigned[split];
        if (deficit > bestDeficit) [best, bestDeficit] = [split, deficit];
      }
      assigned[best] += g.size;
      splitOfRoot.set(g.root, best);
    }
  }
  for (const img of images) img.split = splitOfRoot.get(find(img.id))!;
}
