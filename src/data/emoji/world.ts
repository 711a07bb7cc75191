import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Image } from '../../io/image.js';
import { INDEX_FILE } from './build.js';
import { readImagesFile } from './format.js';
import type { EmojiConcept, EmojiImage, EmojiIndex, Split } from './meta.js';

/** The built dataset in memory: the index plus pixel access by image id. */
export interface EmojiWorld {
  dir: string;
  index: EmojiIndex;
  concepts: EmojiConcept[];
  images: EmojiImage[];
  width: number;
  height: number;
  /** RGB composited on white (a view into the cache; copy before writing). */
  rgb(id: number): Image;
  /** The alpha plane, H*W. */
  alpha(id: number): Uint8Array;
  /** The concept drawn in image `id`. */
  concept(id: number): EmojiConcept;
  imagesIn(split: Split): EmojiImage[];
}

/**
 * Loads a dataset written by `puma data build` (or buildEmojiWorld).
 * @example const world = loadEmojiWorld('data/emoji'); const img = world.rgb(world.imagesIn('val')[0].id);
 */
export function loadEmojiWorld(dir = 'data/emoji'): EmojiWorld {
  const indexPath = join(dir, INDEX_FILE);
  let index: EmojiIndex;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as EmojiIndex;
  } catch (err) {
    const missing = (err as NodeJS.ErrnoException).code === 'ENOENT';
    throw new Error(
      missing
        ? `no emoji dataset at ${dir} (${INDEX_FILE} missing); run 'puma data build --out ${dir}' first`
        : `cannot read ${indexPath}: ${(err as Error).message.split('\n')[0]}`,
    );
  }
  if (index.format !== 'puma-emoji-world') throw new Error(`${indexPath} is not a PUMA emoji index`);
  const { header, bytes } = readImagesFile(join(dir, index.imageFile));
  if (header.count !== index.images.length || header.width !== index.width || header.height !== index.height) {
    throw new Error(`${dir}: index and image cache disagree (${index.images.length} vs ${header.count} images); rebuild`);
  }
  const { width: W, height: H } = header;
  const record = header.recordBytes;
  const check = (id: number) => {
    if (!Number.isInteger(id) || id < 0 || id >= header.count) throw new Error(`image id ${id} out of range 0..${header.count - 1}`);
  };
  const bySplit = new Map<Split, EmojiImage[]>();
  for (const img of index.images) {
    const list = bySplit.get(img.split) ?? [];
    list.push(img);
    bySplit.set(img.split, list);
  }
  return {
    dir,
    index,
    concepts: index.concepts,
    images: index.images,
    width: W,
    height: H,
    rgb(id) {
      check(id);
      return { width: W, height: H, channels: 3, data: bytes.subarray(id * record, id * record + W * H * 3) };
    },
    alpha(id) {
      check(id);
      return bytes.subarray(id * record + W * H * 3, (id + 1) * record);
    },
    concept(id) {
      check(id);
      return index.concepts[index.images[id].concept];
    },
    imagesIn(split) {
      return bySplit.get(split) ?? [];
    },
  };
}
