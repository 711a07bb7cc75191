import assert from 'node:assert/strict';
import { test } from 'node:test';
import { colorize } from '../../src/pipelines/colorize.js';
import { keepChange, keepInputOf, keepKnown, keepLuma } from '../../src/pipelines/composite.js';
import { edit, modelImage } from '../../src/pipelines/edit.js';
import { inpaint } from '../../src/pipelines/inpaint.js';
import { encodeScales, prepareImage } from '../../src/pipelines/reconstruct.js';
import { SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import type { PumaMLLM } from '../../src/models/puma/mllm.js';
import * as T from '../../src/tensor/index.js';
import { C, testImage, tinyPuma } from './tiny-puma.js';

const luma = (d: ArrayLike<number>, hw: number, i: number) => 0.299 * d[i] + 0.587 * d[hw + i] + 0.114 * d[2 * hw + i];

test('keepLuma takes the lightness from the input and the colour from the output', () => {
  const hw = 4;
  // output: a mid red, a dark blue, a grey, a near-white yellow; input: four greys
  const out = T.fromArray([0.6, 0.1, 0.5, 0.95, 0.2, 0.1, 0.5, 0.95, 0.2, 0.4, 0.5, 0.1], [1, 3, 1, 4]);
  const grey = T.fromArray([0.5, 0.3, 0.8, 0.99, 0.5, 0.3, 0.8, 0.99, 0.5, 0.3, 0.8, 0.99], [1, 3, 1, 4]);
  const y = keepLuma(out, grey).toArray() as unknown as number[];
  const o = out.toArray() as unknown as number[];
  for (const i of [0, 1, 2]) {
    assert.ok(Math.abs(luma(y, hw, i) - luma(grey.toArray() as unknown as number[], hw, i)) < 1e-6, `luma of pixel ${i}`);
    // the colour (each channel minus the luma) is the output's
    for (let c = 0; c < 3; c++) assert.ok(Math.abs((y[c * hw + i] - luma(y, hw, i)) - (o[c * hw + i] - luma(o, hw, i))) < 1e-6);
  }
  // a grey output becomes the input's grey
  assert.deepEqual([y[2], y[hw + 2], y[2 * hw + 2]].map((v) => v.toFixed(6)), ['0.800000', '0.800000', '0.800000']);
  // moved past white, channels clamp to [0, 1]
  assert.ok(y.every((v) => v >= 0 && v <= 1));
  assert.equal(y[3], 1);
  assert.throws(() => keepLuma(out, T.zeros([1, 3, 2, 2])), /two \[N, 3, H, W\] images of one shape/);
});

test('keepKnown keeps the input outside the holes and the output in them, per image of a batch', () => {
  const out = T.full([2, 3, 2, 2], 0.25), input = T.full([2, 3, 2, 2], 0.75);
  const shared = Array.from(keepKnown(out, input, Uint8Array.from([1, 0, 0, 1])).toArray() as unknown as number[]);
  assert.deepEqual(shared.slice(0, 4), [0.25, 0.75, 0.75, 0.25]);
  assert.deepEqual(shared.slice(20, 24), [0.25, 0.75, 0.75, 0.25]);
  const each = Array.from(keepKnown(out, input, Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 1])).toArray() as unknown as number[]);
  assert.deepEqual(each.slice(0, 4), [0.25, 0.75, 0.75, 0.75]);
  assert.deepEqual(each.slice(12, 16), [0.75, 0.75, 0.75, 0.25]);
  assert.throws(() => keepKnown(out, input, new Uint8Array(3)), /the hole mask has 3 pixels/);
});

test('inpaint and colorize put back what the input fixes, unless keepInput is false', () => {
  // a fixed regression, so two runs decode the same features
  const stub = {
    generateImage: (_p: unknown, o: { upToScale?: number }) => SCALE_TOKENS.map((n, k) => (k >= (o.upToScale ?? 0) ? T.full([1, n, C], 0.3).keep() : null)),
  } as unknown as PumaMLLM;
  const puma = tinyPuma();
  const model = { ...puma, mllms: { ...puma.mllms, cond: stub } };
  const img = testImage(64, 64);
  const opts = { steps: 1, seeds: [3] };
  // left half of the image filled; the tiny decoders draw 8x8
  // kept, inpainting decodes f4 unless told (inpaintScales); plain, f0
  assert.deepEqual([...inpaint(model, img, { box: [0, 0, 32, 64] }, opts).rows[0].images.keys()], [4]);
  const kept = inpaint(model, img, { box: [0, 0, 32, 64] }, { ...opts, scales: [0] });
  const raw = inpaint(model, img, { box: [0, 0, 32, 64] }, { ...opts, keepInput: false });
  assert.deepEqual([...raw.rows[0].images.keys()], [0]);
  assert.equal(kept.kept, 'known-pixels');
  assert.equal(raw.kept, undefined);
  const k = kept.rows[0].images.get(0)!.toArray() as unknown as number[], r = raw.rows[0].images.get(0)!.toArray() as unknown as number[];
  const known = prepareImage(modelImage(img, 8), 8).toArray() as unknown as number[];
  let inHole = 0, outside = 0;
  for (let c = 0; c < 3; c++) {
    for (let y = 0; y < 8; y++) {
      for (let x = 0; x < 8; x++) {
        const i = c * 64 + y * 8 + x;
        if (x < 4) assert.equal(k[i], r[i], 'the hole is the decoder\'s');
        else assert.equal(k[i], known[i], 'outside the hole is the input\'s');
        if (x < 4) inHole++; else outside++;
      }
    }
  }
  assert.deepEqual([inHole, outside], [96, 96]);
  assert.ok(k.some((v, i) => Math.abs(v - r[i]) > 1e-3), 'the raw decode differs outside the hole');

  const col = colorize(model, img, opts);
  const colRaw = colorize(model, img, { ...opts, keepInput: false });
  assert.equal(col.kept, 'luma');
  const g = prepareImage(modelImage(img, 8), 8).toArray() as unknown as number[];
  const a = col.rows[0].images.get(0)!.toArray() as unknown as number[], b = colRaw.rows[0].images.get(0)!.toArray() as unknown as number[];
  let matched = 0;
  for (let i = 0; i < 64; i++) {
    if (a.filter((_, j) => j % 64 === i).some((v) => v === 0 || v === 1)) continue; // clamped
    assert.ok(Math.abs(luma(a, 64, i) - luma(g, 64, i)) < 2e-3, `pixel ${i}: the input's luma`);
    matched++;
  }
  assert.ok(matched > 32, `${matched} unclamped pixels`);
  assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3));
});

test('keepChange adds the difference of two decodes to the input, clamped', () => {
  const input = T.fromArray([0.5, 0.9, 0.1, 0.5], [1, 1, 2, 2]).expand([1, 3, 2, 2]).contiguous();
  const out = T.full([1, 3, 2, 2], 0.6), base = T.full([1, 3, 2, 2], 0.4);
  assert.deepEqual(Array.from(keepChange(out, input, base).toArray() as unknown as number[]).slice(0, 4).map((v) => v.toFixed(4)), ['0.7000', '1.0000', '0.3000', '0.7000']);
  assert.throws(() => keepChange(out, input, T.zeros([1, 3, 1, 1])), /one shape/);
  // strength scales the change: 2 doubles it (clamped), 0 returns the input
  assert.deepEqual(Array.from(keepChange(out, input, base, 2).toArray() as unknown as number[]).slice(0, 4).map((v) => v.toFixed(4)), ['0.9000', '1.0000', '0.5000', '0.9000']);
  assert.deepEqual(Array.from(keepChange(out, input, base, 0).toArray() as unknown as number[]).slice(0, 4).map((v) => v.toFixed(4)), ['0.5000', '0.9000', '0.1000', '0.5000']);
  assert.throws(() => keepChange(out, input, base, -1), /strength must be a number >= 0/);
});

test('edit applies the change to the input: regressing the input\'s own features returns the input', () => {
  const puma = tinyPuma();
  const img = testImage(64, 64, 5);
  const own = encodeScales(puma, prepareImage(modelImage(img))).map((f) => f.keep());
  const copy = { generateImage: () => own.map((f) => f.clone().keep()) } as unknown as PumaMLLM;
  const other = { generateImage: () => own.map((f) => f.mul(0.5).keep()) } as unknown as PumaMLLM;
  const opts = { steps: 2, seeds: [0, 4], scales: [1, 0] };
  const same = edit({ ...puma, mllms: { ...puma.mllms, edit: copy } }, img, 'Make the skin darker.', opts);
  assert.equal(same.kept, 'all-but-the-change');
  for (const row of same.rows) {
    for (const [k, x] of row.images) {
      const want = prepareImage(modelImage(img, 8), 8).toArray();
      const got = x.toArray();
      for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-5, `f${k} seed ${row.seed}`);
    }
  }
  // the decoder's own image is not the input; a real change moves the result off the input
  const raw = edit({ ...puma, mllms: { ...puma.mllms, edit: copy } }, img, 'Make the skin darker.', { ...opts, keepInput: false });
  assert.equal(raw.kept, undefined);
  const want = prepareImage(modelImage(img, 8), 8).toArray();
  assert.ok(raw.rows[0].images.get(0)!.toArray().some((v, i) => Math.abs(v - want[i]) > 1e-2));
  const changed = edit({ ...puma, mllms: { ...puma.mllms, edit: other } }, img, 'Make the skin darker.', opts);
  assert.ok(changed.rows[0].images.get(0)!.toArray().some((v, i) => Math.abs(v - want[i]) > 1e-3));
});

test('keepInputOf picks the task\'s composite and asks for what it needs', () => {
  const out = T.full([1, 3, 2, 2], 0.25), input = T.full([1, 3, 2, 2], 0.75);
  const holes = Uint8Array.from([1, 0, 0, 0]);
  assert.deepEqual(Array.from(keepInputOf('inpaint', out, input, { holes }).toArray()).slice(0, 4), [0.25, 0.75, 0.75, 0.75]);
  assert.deepEqual(Array.from(keepInputOf('colorize', out, input).toArray()).slice(0, 4), [0.75, 0.75, 0.75, 0.75]);
  const base = T.full([1, 3, 2, 2], 0.5);
  assert.deepEqual(Array.from(keepInputOf('edit', out, input, { inputDecode: () => base }).toArray()).slice(0, 4), [0.5, 0.5, 0.5, 0.5]);
  assert.throws(() => keepInputOf('inpaint', out, input), /give the hole mask/);
  assert.throws(() => keepInputOf('edit', out, input), /give a decode of the input's own features/);
});
