import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildEmojiWorld } from '../../src/data/emoji/build.js';
import { type EmojiWorld, loadEmojiWorld } from '../../src/data/emoji/world.js';

/**
 * A small real build for tests (about 1,000 images, 2-3 s): the first smileys plus two people
 * subcategories, which carry skin tones, genders, two-person sequences and identical images.
 */
export async function buildSubset(): Promise<{ dir: string; world: EmojiWorld; seconds: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'puma-emoji-'));
  let smileys = 0;
  const { seconds } = await buildEmojiWorld({
    out: dir,
    select: (r) =>
      (r.category === 'Smileys & Emotion' && smileys++ < 60) ||
      r.subcategory === 'person-activity' ||
      r.subcategory === 'family',
  });
  return { dir, world: loadEmojiWorld(dir), seconds };
}
