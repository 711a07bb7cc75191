import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { canny } from '../../src/io/canny.js';
import { type CHW, imageToCHW, normalizeCHW, readImage, toGrayscale } from '../../src/io/image.js';
import { resizeCHW, resizeImage, type ResizeFilter } from '../../src/io/resize.js';

// Fixtures from scripts/fixtures/make_image_fixtures.py (OpenCV 4.6, Pillow 9.4, torch 1.13).
const DIR = 'test/fixtures/data/images';
const manifest = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8'));
const input = (name: string) => readImage(join(DIR, `${name}.png`));
const f32 = (file: string) => {
  const b = readFileSync(join(DIR, file));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

/** Prints the first few mismatching positions, llm.c style, and returns the count. */
function mismatches(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: number, label: string): number {
  let count = 0;
  const shown: string[] = [];
  for (let i = 0; i < ref.length; i++) {
    if (Math.abs(ours[i] - ref[i]) > tol) {
      count++;
      if (shown.length < 5) shown.push(`[${i}] ours ${ours[i]} ref ${ref[i]}`);
    }
  }
  if (count > 0) console.log(`${label}: ${count}/${ref.length} mismatches: ${shown.join(', ')}`);
  return count;
}

test('grayscale matches cv2.cvtColor(RGB2GRAY) exactly', async () => {
  for (const c of manifest.canny) {
    const gray = toGrayscale(await input(c.input));
    const ref = await readImage(join(DIR, c.gray));
    assert.equal(mismatches(gray.data, ref.data, 0, `gray ${c.input}`), 0);
  }
});

test('Canny agrees with cv2.Canny on at least 99.9% of pixels', async () => {
  let agree = 0, total = 0, refEdges = 0;
  for (const c of manifest.canny) {
    const edges = canny(await input(c.input), c.low, c.high);
    const ref = await readImage(join(DIR, c.edges));
    assert.equal(ref.channels, 1);
    const bad = mismatches(edges.data, ref.data, 0, `canny ${c.input} ${c.low}/${c.high}`);
    agree += ref.data.length - bad;
    total += ref.data.length;
    for (const v of ref.data) if (v) refEdges++;
  }
  const rate = agree / total;
  console.log(`Canny pixel agreement with OpenCV: ${(100 * rate).toFixed(3)}% of ${total} pixels (${refEdges} edge pixels)`);
  assert.ok(refEdges > 500, 'fixtures must contain edges for the comparison to mean anything');
  assert.ok(rate >= 0.999, `agreement ${rate}`);
});

test('resizeImage matches PIL Image.resize to within 1 level on >= 99.5% of values', async () => {
  for (const c of manifest.pil_resize) {
    const ours = resizeImage(await input(c.input), c.width, c.height, c.filter as ResizeFilter);
    const ref = await readImage(join(DIR, c.output));
    assert.deepEqual([ours.width, ours.height, ours.channels], [ref.width, ref.height, ref.channels]);
    const exactMiss = mismatches(ours.data, ref.data, 0, `PIL ${c.filter} ${c.input} ${c.width}x${c.height}`);
    let maxErr = 0;
    for (let i = 0; i < ref.data.length; i++) maxErr = Math.max(maxErr, Math.abs(ours.data[i] - ref.data[i]));
    console.log(`PIL ${c.filter} ${c.input} -> ${c.width}x${c.height}: exact ${ref.data.length - exactMiss}/${ref.data.length}, max error ${maxErr}`);
    assert.ok(maxErr <= 1, `max error ${maxErr}`);
    assert.ok(exactMiss <= 0.005 * ref.data.length);
  }
});

test('resizeCHW matches torch F.interpolate within 1e-5', async () => {
  const x = imageToCHW(await input('astronaut64'));
  for (const c of manifest.torch_resize) {
    const [C, H, W] = c.shape;
    const ours = resizeCHW(x, H, W, { filter: c.filter, antialias: c.antialias });
    assert.deepEqual(ours.shape, [C, H, W]);
    const ref = f32(c.output);
    let maxErr = 0;
    for (let i = 0; i < ref.length; i++) maxErr = Math.max(maxErr, Math.abs(ours.data[i] - ref[i]));
    console.log(`torch ${c.filter} antialias=${c.antialias} 64x64 -> ${H}x${W}: max abs error ${maxErr.toExponential(2)}`);
    assert.equal(mismatches(ours.data, ref, 1e-5, `torch ${c.filter}`), 0);
  }
});

test('CLIP preprocessing (bilinear to 224, normalise) matches torch within 1e-4', async () => {
  for (const c of manifest.clip) {
    const x = normalizeCHW(resizeCHW(imageToCHW(await input(c.input)), 224, 224, { filter: 'bilinear' }));
    const [C, h, w] = c.shape;
    const sub: CHW = { data: new Float32Array(C * h * w), shape: [C, h, w] };
    for (let ch = 0; ch < C; ch++)
      for (let y = 0; y < h; y++)
        for (let xx = 0; xx < w; xx++)
          sub.data[(ch * h + y) * w + xx] = x.data[(ch * 224 + y * c.stride) * 224 + xx * c.stride];
    assert.equal(mismatches(sub.data, f32(c.output), 1e-4, `clip ${c.input}`), 0);
  }
});
