import { access, readFile, writeFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp, { type Metadata } from 'sharp';
import type { Tensor } from '../tensor/index.js';

/** An 8-bit image, row-major interleaved channels: data[(y * width + x) * channels + c]. */
export interface Image {
  width: number;
  height: number;
  channels: 1 | 3 | 4;
  data: Uint8Array;
}

/** A float image in channel-first layout, the shape the tensor engine wraps: [C, H, W]. */
export interface CHW {
  data: Float32Array;
  shape: [number, number, number];
}

export type ImageFormat = 'png' | 'jpeg' | 'webp';

/** Largest side we accept; decoding a 50,000 px side would need gigabytes and is always a mistake here. */
export const MAX_IMAGE_SIDE = 16384;

/** CLIP's preprocessing statistics (openai/clip-vit-large-patch14 preprocessor_config.json). */
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** Throws a one-line error unless width x height is a usable image size. */
export function checkImageSize(width: number, height: number, what = 'image'): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width <= 0 || height <= 0) {
    throw new Error(`${what} has size ${width}x${height}; width and height must be positive integers`);
  }
  if (width > MAX_IMAGE_SIDE || height > MAX_IMAGE_SIDE) {
    throw new Error(`${what} is ${width}x${height} pixels; the largest side allowed is ${MAX_IMAGE_SIDE}`);
  }
}

/** Allocates a blank image, e.g. `createImage(64, 64, 3, 255)` for a white RGB canvas. */
export function createImage(width: number, height: number, channels: 1 | 3 | 4 = 3, fill = 0): Image {
  checkImageSize(width, height);
  const data = new Uint8Array(width * height * channels);
  if (fill !== 0) data.fill(fill);
  return { width, height, channels, data };
}

/** Recognises PNG, JPEG and WebP by their leading bytes; returns a name for other known formats. */
export function sniffFormat(bytes: Uint8Array): ImageFormat | string | null {
  const b = bytes;
  if (b.length >= 8 && b[0] === 0x89 && b[1] === 0x50 && b[2] === 0x4e && b[3] === 0x47) return 'png';
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b.length >= 12 && ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (b.length >= 6 && ascii(0, 3) === 'GIF') return 'gif';
  if (b.length >= 2 && ascii(0, 2) === 'BM') return 'bmp';
  if (b.length >= 4 && (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*')) return 'tiff';
  if (b.length >= 5 && /^\s*<(\?xml|svg)/.test(ascii(0, Math.min(64, b.length)))) return 'svg';
  return null;
}

/**
 * Decodes PNG, JPEG or WebP bytes to 8-bit RGB (RGBA when the file has alpha, one channel when grey).
 * Every failure is a one-line Error naming the source.
 * @example const img = await decodeImage(await readFile('a.png'));
 */
export async function decodeImage(bytes: Uint8Array, source = 'image'): Promise<Image> {
  const format = sniffFormat(bytes);
  if (format === null) throw new Error(`unsupported image format in ${source}: not PNG, JPEG or WebP`);
  if (format !== 'png' && format !== 'jpeg' && format !== 'webp') {
    throw new Error(`unsupported image format '${format}' in ${source}: expected PNG, JPEG or WebP`);
  }
  // Read the PNG header ourselves: libvips rejects some impossible sizes with less helpful words.
  if (format === 'png' && bytes.length >= 24) {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    checkImageSize(view.getUint32(16), view.getUint32(20), source);
  }
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new Error(`corrupt ${format.toUpperCase()} image in ${source}: ${firstLine(err)}`);
  }
  checkImageSize(meta.width ?? 0, meta.height ?? 0, source);
  try {
    if (meta.channels === 1) {
      const { data, info } = await sharp(bytes, { limitInputPixels: false, failOn: 'error' })
        .extractChannel(0)
        .raw({ depth: 'uchar' })
        .toBuffer({ resolveWithObject: true });
      return { width: info.width, height: info.height, channels: 1, data: new Uint8Array(data) };
    }
    const { data, info } = await sharp(bytes, { limitInputPixels: false, failOn: 'error' })
      .toColourspace('srgb')
      .ensureAlpha()
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    const rgba: Image = { width: info.width, height: info.height, channels: 4, data: new Uint8Array(data) };
    return meta.hasAlpha ? rgba : dropAlpha(rgba);
  } catch (err) {
    throw new Error(`corrupt ${format.toUpperCase()} image in ${source}: ${firstLine(err)}`);
  }
}

/** Reads an image file (PNG, JPEG, WebP). @example const img = await readImage('emoji.png'); */
export async function readImage(path: string): Promise<Image> {
  try {
    await access(path);
  } catch {
    throw new Error(`image file not found: ${path}`);
  }
  return decodeImage(await readFile(path), path);
}

/** Encodes to PNG, JPEG or WebP bytes. JPEG has no alpha: composite first if needed. */
export async function encodeImage(img: Image, format: ImageFormat, quality = 90): Promise<Buffer> {
  checkImageSize(img.width, img.height);
  if (img.data.length !== img.width * img.height * img.channels) {
    throw new Error(`image data has ${img.data.length} bytes, expected ${img.width}x${img.height}x${img.channels}`);
  }
  let s = sharp(img.data, { raw: { width: img.width, height: img.height, channels: img.channels } });
  if (img.channels === 1) s = s.toColourspace('b-w');
  if (format === 'png') return s.png({ compressionLevel: 9 }).toBuffer();
  if (format === 'jpeg') return s.jpeg({ quality }).toBuffer();
  return s.webp({ quality, lossless: quality >= 100 }).toBuffer();
}

/** Chooses the format from the extension: .png, .jpg/.jpeg, .webp. @example await writeImage(img, 'out.png'); */
export async function writeImage(img: Image, path: string, quality = 90): Promise<void> {
  const ext = extname(path).toLowerCase();
  const format: ImageFormat | undefined =
    ext === '.png' ? 'png' : ext === '.jpg' || ext === '.jpeg' ? 'jpeg' : ext === '.webp' ? 'webp' : undefined;
  if (!format) throw new Error(`unsupported image extension '${ext || '(none)'}' for ${path}: use .png, .jpg or .webp`);
  await writeFile(path, await encodeImage(img, format, quality));
}

/** RGBA -> RGB by dropping alpha (no compositing). */
export function dropAlpha(img: Image): Image {
  if (img.channels !== 4) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) {
    out[3 * i] = img.data[4 * i];
    out[3 * i + 1] = img.data[4 * i + 1];
    out[3 * i + 2] = img.data[4 * i + 2];
  }
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/**
 * Straight-alpha RGBA over a solid background: c' = round(c * a + bg * (1 - a)).
 * Returns the RGB image and the alpha plane.
 */
export function compositeOver(img: Image, background = 255): { rgb: Image; alpha: Uint8Array } {
  if (img.channels !== 4) {
    const rgb = img.channels === 3 ? img : grayToRgb(img);
    return { rgb, alpha: new Uint8Array(img.width * img.height).fill(255) };
  }
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  const alpha = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const a = img.data[4 * i + 3];
    alpha[i] = a;
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = Math.round((img.data[4 * i + c] * a + background * (255 - a)) / 255);
    }
  }
  return { rgb: { width: img.width, height: img.height, channels: 3, data: out }, alpha };
}

/** One channel -> three equal channels. */
export function grayToRgb(img: Image): Image {
  if (img.channels !== 1) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n * 3);
  for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = img.data[i];
  return { width: img.width, height: img.height, channels: 3, data: out };
}

/**
 * Luma with OpenCV 4's cv2.cvtColor(RGB2GRAY) fixed-point arithmetic (0.299 R + 0.587 G + 0.114 B,
 * 15-bit coefficients summing to 2^15, round half up), so Canny on our grayscale matches Canny on OpenCV's.
 * @example const g = toGrayscale(rgb); // g.channels === 1
 */
export function toGrayscale(img: Image): Image {
  if (img.channels === 1) return img;
  const n = img.width * img.height;
  const out = new Uint8Array(n);
  const ch = img.channels;
  for (let i = 0; i < n; i++) {
    const r = img.data[ch * i], g = img.data[ch * i + 1], b = img.data[ch * i + 2];
    out[i] = (r * 9798 + g * 19235 + b * 3735 + 16384) >> 15;
  }
  return { width: img.width, height: img.height, channels: 1, data: out };
}

/**
 * Crops the central height x width window, torchvision's center_crop offsets
 * (Python's round, halves to even). Sizes larger than the image throw.
 */
export function centerCrop(img: Image, width: number, height = width): Image {
  checkImageSize(width, height, 'crop');
  if (width > img.width || height > img.height) {
    throw new Error(`cannot crop ${width}x${height} out of a ${img.width}x${img.height} image`);
  }
  const top = roundHalfEven((img.height - height) / 2);
  const left = roundHalfEven((img.width - width) / 2);
  return cropImage(img, left, top, width, height);
}

/** Copies the window [left, left+width) x [top, top+height). */
export function cropImage(img: Image, left: number, top: number, width: number, height: number): Image {
  checkImageSize(width, height, 'crop');
  if (left < 0 || top < 0 || left + width > img.width || top + height > img.height) {
    throw new Error(`crop window (${left},${top},${width}x${height}) is outside the ${img.width}x${img.height} image`);
  }
  const ch = img.channels;
  const out = new Uint8Array(width * height * ch);
  for (let y = 0; y < height; y++) {
    const from = ((top + y) * img.width + left) * ch;
    out.set(img.data.subarray(from, from + width * ch), y * width * ch);
  }
  return { width, height, channels: ch, data: out };
}

/**
 * 8-bit HWC -> float CHW. range '01' divides by 255; '-11' maps to 2x/255 - 1 (the VAE/diffusion range).
 * @example const { data, shape } = imageToCHW(img, '-11'); // shape [3, H, W]
 */
export function imageToCHW(img: Image, range: '01' | '-11' = '01'): CHW {
  const { width: W, height: H, channels: C } = img;
  const data = new Float32Array(C * H * W);
  const [scale, shift] = range === '01' ? [1 / 255, 0] : [2 / 255, -1];
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H * W; i++) data[c * H * W + i] = img.data[i * C + c] * scale + shift;
  }
  return { data, shape: [C, H, W] };
}

/** Float CHW -> 8-bit HWC, clamping and rounding. The inverse of imageToCHW for the same range. */
export function chwToImage(x: CHW, range: '01' | '-11' = '01'): Image {
  const [C, H, W] = x.shape;
  if (C !== 1 && C !== 3 && C !== 4) throw new Error(`chwToImage expects 1, 3 or 4 channels, got ${C}`);
  checkImageSize(W, H);
  const out = new Uint8Array(C * H * W);
  for (let c = 0; c < C; c++) {
    for (let i = 0; i < H * W; i++) {
      let v = x.data[c * H * W + i];
      v = range === '01' ? v : (v + 1) / 2;
      out[i * C + c] = Math.round(Math.min(1, Math.max(0, v)) * 255);
    }
  }
  return { width: W, height: H, channels: C, data: out };
}

/**
 * A batch of images in [0, 1], [B, C, H, W], as 8-bit images (what every task returns, decoded).
 * @example const [img] = tensorToImages(r.rows[0].images.get(4)!); await writeImage(img, 'f4.png');
 */
export function tensorToImages(x: Tensor): Image[] {
  if (x.ndim !== 4) throw new RangeError(`tensorToImages expects [B, C, H, W], got [${x.shape.join(', ')}]`);
  const [b, c, h, w] = x.shape;
  const flat = x.contiguous().data;
  return Array.from({ length: b }, (_, i) => chwToImage({ data: flat.slice(i * c * h * w, (i + 1) * c * h * w), shape: [c, h, w] }, '01'));
}

/** In place: (x - mean[c]) / std[c] on a [3, H, W] array in [0, 1]. CLIP's statistics by default. */
export function normalizeCHW(x: CHW, mean: readonly number[] = CLIP_MEAN, std: readonly number[] = CLIP_STD): CHW {
  const [C, H, W] = x.shape;
  if (mean.length !== C || std.length !== C) throw new Error(`normalisation has ${mean.length} channels, image ${C}`);
  for (let c = 0; c < C; c++) {
    const m = mean[c], s = std[c];
    for (let i = c * H * W; i < (c + 1) * H * W; i++) x.data[i] = (x.data[i] - m) / s;
  }
  return x;
}

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0].trim();
}
