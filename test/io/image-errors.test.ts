import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { deflateSync } from 'node:zlib';
import {
  centerCrop,
  chwToImage,
  createImage,
  decodeImage,
  encodeImage,
  imageToCHW,
  readImage,
  writeImage,
} from '../../src/io/image.js';
import { resizeCHW, resizeImage } from '../../src/io/resize.js';

const dir = mkdtempSync(join(tmpdir(), 'puma-io-'));

function crc32(bytes: Uint8Array): number {
  let c = ~0;
  for (const b of bytes) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE(crc32(body), 8 + data.length);
  return out;
}
/** A PNG whose header claims width x height (8-bit RGB) with a tiny, possibly inconsistent, body. */
function pngWithHeader(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([sig, chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(4))), chunk('IEND', new Uint8Array())]);
}

const gradient = () => {
  const img = createImage(20, 12, 3);
  for (let i = 0; i < img.data.length; i++) img.data[i] = (i * 7) % 256;
  return img;
};

test('a missing file is a clear error', async () => {
  await assert.rejects(readImage(join(dir, 'nope.png')), /image file not found: .*nope\.png/);
});

test('a corrupt PNG (valid signature, truncated data) is a clear error', async () => {
  const good = await encodeImage(gradient(), 'png');
  const path = join(dir, 'corrupt.png');
  writeFileSync(path, good.subarray(0, 60));
  await assert.rejects(readImage(path), (err: Error) => /corrupt PNG image in .*corrupt\.png/.test(err.message) && !err.message.includes('\n'));
  const flipped = Buffer.from(good);
  flipped[good.length - 20] ^= 0xff;
  await assert.rejects(decodeImage(flipped, 'flipped.png'), /corrupt PNG image in flipped\.png/);
});

test('unsupported formats are named', async () => {
  await assert.rejects(decodeImage(Buffer.from('GIF89a\x01\x00\x01\x00'), 'a.gif'), /unsupported image format 'gif' in a\.gif/);
  await assert.rejects(decodeImage(Buffer.from('BM\x00\x00\x00\x00'), 'a.bmp'), /unsupported image format 'bmp'/);
  await assert.rejects(decodeImage(Buffer.from('hello, world'), 'a.txt'), /unsupported image format in a\.txt: not PNG, JPEG or WebP/);
  await assert.rejects(decodeImage(new Uint8Array(0), 'empty.png'), /unsupported image format in empty\.png/);
  await assert.rejects(writeImage(gradient(), join(dir, 'x.gif')), /unsupported image extension '\.gif'/);
});

test('images of 0 or 50,000 pixels a side are refused, not decoded', async () => {
  await assert.rejects(decodeImage(pngWithHeader(0, 10), 'zero.png'), /zero\.png has size 0x10; width and height must be positive/);
  await assert.rejects(decodeImage(pngWithHeader(50_000, 50_000), 'huge.png'), /huge\.png is 50000x50000 pixels; the largest side allowed is 16384/);
  await assert.rejects(decodeImage(pngWithHeader(50_000, 1), 'wide.png'), /50000x1 pixels/);
  assert.throws(() => createImage(0, 5), /size 0x5/);
  assert.throws(() => createImage(50_000, 5), /50000x5 pixels/);
  assert.throws(() => resizeImage(gradient(), 0, 10), /resize target has size 0x10/);
  assert.throws(() => resizeImage(gradient(), 50_000, 10), /largest side allowed/);
  assert.throws(() => resizeCHW(imageToCHW(gradient()), 10, 0), /size 0x10/);
  await assert.rejects(encodeImage({ width: 0, height: 3, channels: 3, data: new Uint8Array() }, 'png'), /size 0x3/);
  assert.throws(() => centerCrop(gradient(), 30, 5), /cannot crop 30x5 out of a 20x12 image/);
});

test('PNG and lossless WebP round-trip exactly, JPEG closely; grey and alpha survive', async () => {
  const img = gradient();
  for (const ext of ['png', 'webp']) {
    const path = join(dir, `rt.${ext}`);
    await writeImage(img, path, ext === 'webp' ? 100 : 90);
    const back = await readImage(path);
    assert.deepEqual([back.width, back.height, back.channels], [20, 12, 3]);
    assert.deepEqual(back.data, img.data, ext);
  }
  const smooth = createImage(32, 32, 3);
  for (let y = 0; y < 32; y++) for (let x = 0; x < 32; x++) smooth.data.set([x * 8, y * 8, 128], (y * 32 + x) * 3);
  await writeImage(smooth, join(dir, 'rt.jpg'), 95);
  const jpg = await readImage(join(dir, 'rt.jpg'));
  let maxErr = 0;
  for (let i = 0; i < jpg.data.length; i++) maxErr = Math.max(maxErr, Math.abs(jpg.data[i] - smooth.data[i]));
  assert.ok(maxErr <= 12, `JPEG max error ${maxErr}`);

  const rgba = createImage(4, 4, 4, 200);
  rgba.data[3] = 0;
  const back = await decodeImage(await encodeImage(rgba, 'png'));
  assert.equal(back.channels, 4);
  assert.deepEqual(back.data, rgba.data);
  const gray = createImage(5, 3, 1, 77);
  const g = await decodeImage(await encodeImage(gray, 'png'));
  assert.equal(g.channels, 1);
  assert.deepEqual(g.data, gray.data);
});

test('float conversion: [0,1] and [-1,1] round-trip, channel-first layout', () => {
  const img = gradient();
  for (const range of ['01', '-11'] as const) {
    const x = imageToCHW(img, range);
    assert.deepEqual(x.shape, [3, 12, 20]);
    assert.deepEqual(chwToImage(x, range).data, img.data);
  }
  const x = imageToCHW(img, '-11');
  // pixel (y=1, x=2), green channel, at [1, 1, 2]
  assert.ok(Math.abs(x.data[1 * 240 + 1 * 20 + 2] - ((img.data[(1 * 20 + 2) * 3 + 1] / 255) * 2 - 1)) < 1e-6);
  assert.equal(Math.min(...x.data) >= -1 && Math.max(...x.data) <= 1, true);
});

test('centerCrop uses torchvision offsets (Python rounding)', () => {
  const img = createImage(5, 5, 1);
  for (let i = 0; i < 25; i++) img.data[i] = i;
  // (5 - 2) / 2 = 1.5 rounds to 2 in Python; (5 - 4) / 2 = 0.5 rounds to 0.
  assert.deepEqual([...centerCrop(img, 2).data], [12, 13, 17, 18]);
  assert.deepEqual([...centerCrop(img, 4, 4).data.subarray(0, 4)], [0, 1, 2, 3]);
});
