import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { before, test } from 'node:test';
import { assignSplits } from '../../src/data/emoji/build.js';
import { genderKeyOf, genderOf, type Split, stripTones, tonesOf } from '../../src/data/emoji/meta.js';
import { type EmojiWorld, loadEmojiWorld } from '../../src/data/emoji/world.js';
import { compositeOver, readImage } from '../../src/io/image.js';
import { buildSubset } from './subset.js';

let world: EmojiWorld;
let dir: string;
before(async () => {
  ({ world, dir } = await buildSubset());
});

test('concept metadata: tones, gender and keys', () => {
  assert.deepEqual(tonesOf('1F3C3-1F3FB-200D-2640-FE0F'), ['light']);
  assert.equal(stripTones('1F3C3-1F3FB-200D-2640-FE0F'), '1F3C3-200D-2640');
  assert.equal(genderOf('1F3C3-1F3FB-200D-2640-FE0F'), 'female');
  assert.equal(genderOf('1F468-200D-1F692'), 'male');
  assert.equal(genderOf('1F9D1-1F3FD-200D-1F692'), 'neutral');
  assert.equal(genderOf('1F600'), null);
  assert.equal(genderKeyOf('1F3C3-1F3FF-200D-2642-FE0F'), genderKeyOf('1F3C3'));
  assert.equal(genderKeyOf('1F469-1F3FB-200D-1F692'), genderKeyOf('1F9D1-200D-1F692'));
  assert.notEqual(genderKeyOf('1F3C3'), genderKeyOf('1F6B6'));
});

test('the cache holds the PNGs composited on white, with alpha and metadata', async () => {
  assert.equal(world.width, 64);
  assert.equal(world.index.images.length, world.images.length);
  assert.match(world.index.attribution, /Twemoji.*CC-BY 4\.0/);
  assert.equal(world.index.licenses.twitter, 'CC-BY-4.0');
  const require = createRequire(import.meta.url);
  const grinning = world.images.find((i) => world.concepts[i.concept].hexcode === '1F600' && i.style === 'twitter')!;
  assert.ok(grinning, 'grinning face in the subset');
  const c = world.concepts[grinning.concept];
  assert.equal(c.label, 'grinning face');
  assert.equal(c.names.fr, 'visage rieur');
  assert.equal(Object.keys(c.names).length, 28);
  assert.ok(c.tags.includes('face'));
  assert.equal(c.category, 'Smileys & Emotion');
  const png = join(dirname(require.resolve('emoji-datasource-twitter/package.json')), 'img/twitter/64/1f600.png');
  const { rgb, alpha } = compositeOver(await readImage(png));
  assert.deepEqual(world.rgb(grinning.id).data, rgb.data);
  assert.deepEqual(world.alpha(grinning.id), alpha);
  const [x0, y0, x1, y1] = grinning.box;
  assert.ok(x0 >= 0 && y0 >= 0 && x1 <= 63 && y1 <= 63 && x0 < x1 && y0 < y1);
  // Outside the box alpha is 0, and every box edge touches a visible pixel.
  const a = world.alpha(grinning.id);
  for (let y = 0; y < 64; y++) for (let x = 0; x < 64; x++) if (x < x0 || x > x1 || y < y0 || y > y1) assert.equal(a[y * 64 + x], 0);
  assert.ok([...Array(64).keys()].some((y) => a[y * 64 + x0] > 0));
});

test('splits never separate tone, gender or style variants, nor identical images', () => {
  const byKey = new Map<string, Set<Split>>();
  const byPixels = new Map<string, Set<Split>>();
  for (const img of world.images) {
    const key = world.concepts[img.concept].genderKey;
    byKey.set(key, (byKey.get(key) ?? new Set()).add(img.split));
    byPixels.set(img.pixelHash, (byPixels.get(img.pixelHash) ?? new Set()).add(img.split));
  }
  for (const [key, splits] of byKey) assert.equal(splits.size, 1, `group ${key} straddles ${[...splits]}`);
  for (const [hash, splits] of byPixels) assert.equal(splits.size, 1, `pixels ${hash} straddle ${[...splits]}`);
  // The subset must exercise those rules: variants and duplicate pixels exist.
  assert.ok([...byKey.values()].length < world.images.length / 4);
  const dupes = new Map<string, number>();
  for (const img of world.images) dupes.set(img.pixelHash, (dupes.get(img.pixelHash) ?? 0) + 1);
  assert.ok([...dupes.values()].some((n) => n > 1), 'subset has identical images');
});

test('splits are about 90/5/5 of images, each with gender and tone variants, and deterministic', () => {
  const n = world.images.length;
  const frac = (s: Split) => world.imagesIn(s).length / n;
  console.log(`subset splits: train ${frac('train').toFixed(3)} val ${frac('val').toFixed(3)} test ${frac('test').toFixed(3)} of ${n}`);
  assert.ok(Math.abs(frac('train') - 0.9) < 0.03);
  assert.ok(Math.abs(frac('val') - 0.05) < 0.03 && Math.abs(frac('test') - 0.05) < 0.03);
  for (const s of ['val', 'test'] as Split[]) {
    const concepts = world.imagesIn(s).map((i) => world.concepts[i.concept]);
    assert.ok(concepts.some((c) => c.tones.length > 0), `${s} has toned emoji`);
    assert.ok(new Set(concepts.map((c) => c.gender).filter(Boolean)).size >= 2, `${s} has several genders`);
  }
  const copy = world.images.map((i) => ({ ...i, split: 'train' as Split }));
  assignSplits(world.concepts, copy);
  assert.deepEqual(copy.map((i) => i.split), world.images.map((i) => i.split));
});

test('the loader rejects a missing dataset, a bad magic and a truncated cache', () => {
  assert.throws(() => loadEmojiWorld(join(dir, 'nowhere')), /no emoji dataset at .*run 'puma data build/);
  const bin = join(dir, 'images.bin');
  const bytes = readFileSync(bin);
  writeFileSync(bin, Buffer.concat([Buffer.from('NOTEMOJI'), bytes.subarray(8)]));
  assert.throws(() => loadEmojiWorld(dir), /not a PUMA emoji image cache \(bad magic\)/);
  writeFileSync(bin, bytes.subarray(0, bytes.length - 100));
  assert.throws(() => loadEmojiWorld(dir), /header implies/);
  writeFileSync(bin, bytes);
  assert.equal(loadEmojiWorld(dir).images.length, world.images.length);
  assert.throws(() => world.rgb(world.images.length), /out of range/);
});
