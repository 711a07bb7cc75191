// safetensors (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, __metadata__},
// then the raw little-endian tensor bytes, offsets relative to the end of the header.
//
// Files are read tensor by tensor through a file handle, in bounded chunks, straight into the
// destination array: a 16 GB checkpoint never becomes one buffer. The header is validated
// before anything is read, because checkpoints come from the internet.
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { Tensor, type Shape } from '../tensor/index.js';

export type SafetensorsDType = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const ITEM_SIZE: Record<SafetensorsDType, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};
const FLOAT_DTYPES = new Set<SafetensorsDType>(['F64', 'F32', 'F16', 'BF16']);
/** The reference implementation's bound on the header size. */
export const MAX_HEADER_BYTES = 100_000_000;
/** Read and conversion chunk (bytes); bounded memory however large the tensor. */
const CHUNK_BYTES = 8 << 20;

export class SafetensorsError extends Error {
  constructor(path: string, message: string) {
    super(`safetensors ${path}: ${message}`);
    this.name = 'SafetensorsError';
  }
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorInfo>;
  metadata: Record<string, string>;
}

/**
 * Parses and validates a header: known dtypes, non-negative integer shapes, byte ranges that
 * match the shape, lie inside the data section and do not overlap.
 */
export function parseHeader(json: string, dataStart: number, dataSize: number, path = '<buffer>'): SafetensorsHeader {
  const fail = (m: string): never => {
    throw new SafetensorsError(path, m);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (e) {
    fail(`header is not valid JSON (${(e as Error).message})`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) fail('header is not a JSON object');
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(raw as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(entry as object)) if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
      metadata = entry as Record<string, string>;
      continue;
    }
    if (entry === null || typeof entry !== 'object') fail(`entry '${name}' is not an object`);
    const { dtype, shape, data_offsets: offs } = entry as { dtype: unknown; shape: unknown; data_offsets: unknown };
    if (typeof dtype !== 'string' || !(dtype in ITEM_SIZE)) fail(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0)) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const [b, e] = offs as number[];
    const numel = (shape as number[]).reduce((a, d) => a * d, 1);
    if (!Number.isSafeInteger(numel * ITEM_SIZE[dtype as SafetensorsDType])) fail(`tensor '${name}' is too large`);
    if (e < b) fail(`tensor '${name}' ends (${e}) before it begins (${b})`);
    if (e > dataSize) fail(`tensor '${name}' bytes [${b}, ${e}) run past the end of the data (${dataSize} bytes)`);
    if (e - b !== numel * ITEM_SIZE[dtype as SafetensorsDType]) {
      fail(`tensor '${name}' has ${e - b} bytes but ${dtype} ${JSON.stringify(shape)} needs ${numel * ITEM_SIZE[dtype as SafetensorsDType]}`);
    }
    tensors.set(name, { name, dtype: dtype as SafetensorsDType, shape: [...(shape as number[])], begin: dataStart + b, end: dataStart + e });
  }
  const sorted = [...tensors.values()].filter((t) => t.end > t.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].begin < sorted[i - 1].end) fail(`tensors '${sorted[i - 1].name}' and '${sorted[i].name}' overlap`);
  }
  return { tensors, metadata };
}

let f16Table: Float32Array | null = null;
/** float16 bit pattern -> float32, by a 64K-entry table. */
function halfTable(): Float32Array {
  if (f16Table) return f16Table;
  const t = new Float32Array(65536), bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) {
    const s = (h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff;
    if (e === 0) t[h] = (s ? -1 : 1) * m * 2 ** -24;
    else if (e === 31) bits[h] = s | 0x7f800000 | (m << 13);
    else bits[h] = s | ((e + 112) << 23) | (m << 13);
  }
  return (f16Table = t);
}

const f32Scratch = new Float32Array(1), u32Scratch = new Uint32Array(f32Scratch.buffer);

/** float32 -> float16 bits, round to nearest even (overflow to infinity). */
export function floatToHalfBits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  const sign = (x >>> 16) & 0x8000, exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 255) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1), halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (half & 1))) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return sign | half;
}

/** float32 -> bfloat16 bits, round to nearest even. */
export function floatToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return (x >>> 16) | 0x40;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function readFully(fd: number, dst: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < dst.length) {
    const n = readSync(fd, dst, done, dst.length - done, position + done);
    if (n === 0) throw new SafetensorsError(path, `unexpected end of file at byte ${position + done}`);
    done += n;
  }
}

/** Converts `count` elements of `src` bytes in `dtype` into dst starting at element `at`. */
function convert(src: Uint8Array, dtype: SafetensorsDType, dst: Float32Array | Int32Array, at: number, count: number, name: string, path: string): void {
  const view = new DataView(src.buffer, src.byteOffset, src.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) dst[at + i] = view.getFloat32(4 * i, true);
      return;
    case 'F64':
      for (let i = 0; i < count; i++) dst[at + i] = view.getFloat64(8 * i, true);
      return;
    case 'F16': {
      const t = halfTable();
      for (let i = 0; i < count; i++) dst[at + i] = t[src[2 * i] | (src[2 * i + 1] << 8)];
      return;
    }
    case 'BF16': {
      const bits = new Uint32Array(1), f = new Float32Array(bits.buffer);
      for (let i = 0; i < count; i++) {
        bits[0] = (src[2 * i] | (src[2 * i + 1] << 8)) << 16;
        dst[at + i] = f[0];
      }
      return;
    }
    case 'I64':
      for (let i = 0; i < count; i++) {
        const v = view.getBigInt64(8 * i, true);
        if (dst instanceof Int32Array && (v > 2147483647n || v < -2147483648n)) {
          throw new SafetensorsError(path, `tensor '${name}' holds ${v}, outside int32`);
        }
        dst[at + i] = Number(v);
      }
      return;
    case 'I32':
      for (let i = 0; i < count; i++) dst[at + i] = view.getInt32(4 * i, true);
      return;
    case 'I16':
      for (let i = 0; i < count; i++) dst[at + i] = view.getInt16(2 * i, true);
      return;
    case 'I8':
      for (let i = 0; i < count; i++) dst[at + i] = view.getInt8(i);
      return;
    case 'U8':
    case 'BOOL':
      for (let i = 0; i < count; i++) dst[at + i] = src[i];
      return;
  }
}

/**
 * An open safetensors file: the validated header, and tensors read on demand.
 *
 * @example
 * const f = SafetensorsFile.open('unet/diffusion_pytorch_model.safetensors');
 * const w = f.tensor('conv_in.weight'); // float32 whatever the stored dtype
 * f.close();
 */
export class SafetensorsFile {
  private fd: number | null;

  private constructor(readonly path: string, fd: number, readonly header: SafetensorsHeader, readonly fileSize: number) {
    this.fd = fd;
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, 'r');
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new SafetensorsError(path, `file has ${size} bytes, less than the 8-byte header length`);
      const lenBuf = new Uint8Array(8);
      readFully(fd, lenBuf, 0, path);
      const n = new DataView(lenBuf.buffer).getBigUint64(0, true);
      if (n > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(path, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
      if (n < 2n || Number(n) > size - 8) throw new SafetensorsError(path, `header length ${n} does not fit in a ${size}-byte file`);
      const hb = new Uint8Array(Number(n));
      readFully(fd, hb, 8, path);
      const json = new TextDecoder('utf-8', { fatal: false }).decode(hb);
      if (!json.startsWith('{')) throw new SafetensorsError(path, 'header does not start with "{"');
      const dataStart = 8 + Number(n);
      const header = parseHeader(json, dataStart, size - dataStart, path);
      return new SafetensorsFile(path, fd, header, size);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  keys(): string[] {
    return [...this.header.tensors.keys()];
  }

  has(name: string): boolean {
    return this.header.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.header.tensors.get(name);
    if (!t) throw new SafetensorsError(this.path, `no tensor '${name}'`);
    return t;
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  /** Whether the stored dtype loads as int32 (integers) rather than float32. */
  static isIntegral(dtype: SafetensorsDType): boolean {
    return !FLOAT_DTYPES.has(dtype) && dtype !== 'BOOL';
  }

  /**
   * Reads one tensor into dst (float32 for any stored dtype; int32 for integer dtypes),
   * converting chunk by chunk.
   */
  readInto(name: string, dst: Float32Array | Int32Array): void {
    if (this.fd === null) throw new SafetensorsError(this.path, 'file is closed');
    const t = this.info(name);
    const item = ITEM_SIZE[t.dtype], numel = (t.end - t.begin) / item;
    if (dst.length !== numel) throw new SafetensorsError(this.path, `tensor '${name}' has ${numel} elements, destination ${dst.length}`);
    if (dst instanceof Int32Array && FLOAT_DTYPES.has(t.dtype)) throw new SafetensorsError(this.path, `tensor '${name}' is ${t.dtype}, cannot read into int32`);
    const direct = (t.dtype === 'F32' && dst instanceof Float32Array) || (t.dtype === 'I32' && dst instanceof Int32Array);
    if (direct) {
      // little-endian host: the bytes are the values; read them in place, chunk by chunk
      const bytes = new Uint8Array(dst.buffer, dst.byteOffset, dst.byteLength);
      for (let off = 0; off < bytes.length; off += CHUNK_BYTES) {
        readFully(this.fd, bytes.subarray(off, Math.min(bytes.length, off + CHUNK_BYTES)), t.begin + off, this.path);
      }
      return;
    }
    const perChunk = Math.max(1, Math.floor(CHUNK_BYTES / item));
    const scratch = new Uint8Array(Math.min(numel, perChunk) * item);
    for (let at = 0; at < numel; at += perChunk) {
      const count = Math.min(perChunk, numel - at);
      const buf = scratch.subarray(0, count * item);
      readFully(this.fd, buf, t.begin + at * item, this.path);
      convert(buf, t.dtype, dst, at, count, name, this.path);
    }
  }

  /** One tensor as a new Tensor: float32 for float dtypes, int32 for integer dtypes. */
  tensor(name: string): Tensor {
    const t = this.info(name);
    const out = Tensor.empty(t.shape, SafetensorsFile.isIntegral(t.dtype) ? 'int32' : 'float32');
    this.readInto(name, out.dtype === 'int32' ? out.dataI32 : out.data);
    return out;
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

export type WriteDType = 'F32' | 'F16' | 'BF16';

/**
 * Writes tensors to a safetensors file, streaming each tensor in chunks. float32 tensors are
 * stored as `dtype` (default F32); int32 tensors as I32.
 *
 * @example
 * writeSafetensors('model.safetensors', model.stateDict(), { dtype: 'BF16', metadata: { format: 'pt' } });
 */
export function writeSafetensors(
  path: string, tensors: ReadonlyMap<string, Tensor> | Record<string, Tensor>,
  opts: { dtype?: WriteDType; metadata?: Record<string, string> } = {},
): void {
  const entries = [...(tensors instanceof Map ? tensors : Object.entries(tensors))] as [string, Tensor][];
  const fdt = opts.dtype ?? 'F32';
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const dtype: SafetensorsDType = t.dtype === 'int32' ? 'I32' : fdt;
    const bytes = t.size * ITEM_SIZE[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const hb = Buffer.from(json, 'utf8');
  const fd = openSync(path, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(hb.length));
    writeSync(fd, len);
    writeSync(fd, hb);
    for (const [, t] of entries) {
      const src = t.contiguousData();
      if (t.dtype === 'int32' || fdt === 'F32') {
        const b = new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
        for (let o = 0; o < b.length; o += CHUNK_BYTES) writeSync(fd, b.subarray(o, Math.min(b.length, o + CHUNK_BYTES)));
        continue;
      }
      const conv = fdt === 'F16' ? floatToHalfBits : floatToBf16Bits;
      const per = CHUNK_BYTES / 2, out = new Uint16Array(Math.min(per, src.length));
      for (let at = 0; at < src.length; at += per) {
        const n = Math.min(per, src.length - at);
        for (let i = 0; i < n; i++) out[i] = conv(src[at + i]);
        writeSync(fd, new Uint8Array(out.buffer, 0, n * 2));
      }
    }
  } finally {
    closeSync(fd);
  }
}

/** Reads every tensor of a (small) file into memory. */
export function readSafetensors(path: string): Map<string, Tensor> {
  const f = SafetensorsFile.open(path);
  try {
    return new Map(f.keys().map((k) => [k, f.tensor(k)]));
  } finally {
    f.close();
  }
}

/** Shape of a stored tensor, for parameter walks without reading data. */
export function shapeOf(f: SafetensorsFile, name: string): Shape {
  return f.info(name).shape;
}

