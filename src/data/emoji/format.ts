import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';

/**
 * The image cache, `images.bin`: a 64-byte little-endian header, then one record per image:
 * RGB composited on white (H*W*3, row-major, interleaved) followed by the alpha plane (H*W).
 *
 *   0  magic "PUMAEMOJ" (8 bytes)     8  u32 version (1)       12 u32 count
 *   16 u32 width                      20 u32 height            24 u32 bytes per record
 *   28 u32 header bytes (64)          32..63 zero
 */
export const IMAGES_MAGIC = 'PUMAEMOJ';
export const IMAGES_VERSION = 1;
export const HEADER_BYTES = 64;

export interface ImagesHeader {
  version: number;
  count: number;
  width: number;
  height: number;
  recordBytes: number;
}

export function encodeHeader(count: number, width: number, height: number): Buffer {
  const b = Buffer.alloc(HEADER_BYTES);
  b.write(IMAGES_MAGIC, 0, 'latin1');
  b.writeUInt32LE(IMAGES_VERSION, 8);
  b.writeUInt32LE(count, 12);
  b.writeUInt32LE(width, 16);
  b.writeUInt32LE(height, 20);
  b.writeUInt32LE(width * height * 4, 24);
  b.writeUInt32LE(HEADER_BYTES, 28);
  return b;
}

/** Validates the header; every problem is a one-line error naming the file. */
export function decodeHeader(b: Uint8Array, file: string): ImagesHeader {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  if (buf.length < HEADER_BYTES || buf.toString('latin1', 0, 8) !== IMAGES_MAGIC) {
    throw new Error(`${file} is not a PUMA emoji image cache (bad magic); rebuild it with 'puma data build'`);
  }
  const version = buf.readUInt32LE(8);
  if (version !== IMAGES_VERSION) {
    throw new Error(`${file} has format version ${version}, this build reads ${IMAGES_VERSION}; rebuild it`);
  }
  const h = {
    version,
    count: buf.readUInt32LE(12),
    width: buf.readUInt32LE(16),
    height: buf.readUInt32LE(20),
    recordBytes: buf.readUInt32LE(24),
  };
  if (h.recordBytes !== h.width * h.height * 4 || buf.readUInt32LE(28) !== HEADER_BYTES) {
    throw new Error(`${file} has an inconsistent header`);
  }
  return h;
}

/** Streams records into images.bin; call `close()` once after `count` writes. */
export async function createImagesWriter(path: string, count: number, width: number, height: number) {
  const fh = await open(path, 'w');
  await fh.write(encodeHeader(count, width, height));
  let written = 0;
  return {
    async write(rgb: Uint8Array, alpha: Uint8Array): Promise<void> {
      if (rgb.length !== width * height * 3 || alpha.length !== width * height) {
        throw new Error(`image record must be ${width}x${height} RGB + alpha`);
      }
      await fh.write(rgb);
      await fh.write(alpha);
      written++;
    },
    async close(): Promise<void> {
      await fh.close();
      if (written !== count) throw new Error(`wrote ${written} images to ${path}, header says ${count}`);
    },
  };
}

/** Reads the whole cache (about 124 MB for the full set; well under the 2 GiB ArrayBuffer limit). */
export function readImagesFile(path: string): { header: ImagesHeader; bytes: Uint8Array } {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch {
    throw new Error(`emoji image cache not found: ${path}; run 'puma data build' first`);
  }
  try {
    const size = fstatSync(fd).size;
    const head = new Uint8Array(HEADER_BYTES);
    readSync(fd, head, 0, Math.min(HEADER_BYTES, size), 0);
    const header = decodeHeader(head.subarray(0, Math.min(HEADER_BYTES, size)), path);
    const expected = HEADER_BYTES + header.count * header.recordBytes;
    if (size !== expected) throw new Error(`${path} is ${size} bytes, its header implies ${expected}; rebuild it`);
    const bytes = new Uint8Array(size - HEADER_BYTES);
    let off = 0;
    while (off < bytes.length) off += readSync(fd, bytes, off, Math.min(1 << 26, bytes.length - off), HEADER_BYTES + off);
    return { header, bytes };
  } finally {
    closeSync(fd);
  }
}
