import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { diffusersComponent, loadCheckpoint, openCheckpoint, saveCheckpoint } from '../../src/io/checkpoint.js';
import { floatToBf16Bits, floatToHalfBits, readSafetensors, SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { Linear, Module } from '../../src/nn/index.js';
import { fromArray, randn } from '../../src/tensor/index.js';

const dir = mkdtempSync(join(tmpdir(), 'puma-st-'));

/** A file from a header object and a data section. */
function rawFile(name: string, header: unknown, data = new Uint8Array(0), lenOverride?: bigint): string {
  const h = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lenOverride ?? BigInt(h.length));
  const p = join(dir, name);
  writeFileSync(p, Buffer.concat([len, h, data]));
  return p;
}

test('F32, F16, BF16 and I32 round-trip through write and read', () => {
  const x = fromArray([0, 1, -2.5, 65504, 1e-7, 3.14159, -0.0001, 1e9], [2, 4]);
  const ids = fromArray(new Int32Array([7, -3, 2147483647]), [3], 'int32');
  for (const dtype of ['F32', 'F16', 'BF16'] as const) {
    const p = join(dir, `rt-${dtype}.safetensors`);
    writeSafetensors(p, { x, ids }, { dtype, metadata: { format: 'pt' } });
    const f = SafetensorsFile.open(p);
    assert.equal(f.info('x').dtype, dtype);
    assert.equal(f.info('ids').dtype, 'I32');
    assert.deepEqual(f.metadata, { format: 'pt' });
    assert.equal(f.header.tensors.get('x')!.begin % 8, 0, 'data starts 8-byte aligned');
    const y = f.tensor('x').toArray(), xs = x.toArray();
    const rel = dtype === 'F32' ? 0 : dtype === 'F16' ? 1e-3 : 8e-3;
    for (let i = 0; i < xs.length; i++) {
      if (dtype === 'F16' && Math.abs(xs[i]) > 65504) assert.equal(y[i], Infinity);
      else if (dtype === 'F16' && Math.abs(xs[i]) < 6e-5) assert.ok(Math.abs(y[i] - xs[i]) < 1e-7);
      else assert.ok(Math.abs(y[i] - xs[i]) <= rel * Math.abs(xs[i]), `${dtype} [${i}] ${y[i]} vs ${xs[i]}`);
    }
    assert.deepEqual(Array.from(f.tensor('ids').toArray()), [7, -3, 2147483647]);
    assert.equal(f.tensor('ids').dtype, 'int32');
    f.close();
  }
});

test('half and bfloat16 conversions round to nearest even', () => {
  assert.equal(floatToHalfBits(1), 0x3c00);
  assert.equal(floatToHalfBits(-2), 0xc000);
  assert.equal(floatToHalfBits(1 + 2 ** -11), 0x3c00, 'tie to even (down)');
  assert.equal(floatToHalfBits(1 + 3 * 2 ** -11), 0x3c02, 'tie to even (up)');
  assert.equal(floatToHalfBits(2 ** -24), 0x0001, 'smallest subnormal');
  assert.equal(floatToHalfBits(1e6), 0x7c00);
  assert.equal(floatToBf16Bits(1), 0x3f80);
  assert.equal(floatToBf16Bits(1 + 2 ** -8), 0x3f80, 'tie to even');
  assert.equal(floatToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(floatToBf16Bits(NaN) & 0x7fc0, 0x7fc0);
});

test('I64 loads as int32 and refuses values outside int32', () => {
  const data = Buffer.alloc(16);
  data.writeBigInt64LE(-5n, 0);
  data.writeBigInt64LE(49407n, 8);
  const p = rawFile('i64.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data);
  assert.deepEqual(Array.from(readSafetensors(p).get('ids')!.toArray()), [-5, 49407]);
  data.writeBigInt64LE(1n << 40n, 8);
  const q = rawFile('i64big.safetensors', { ids: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, data);
  assert.throws(() => readSafetensors(q), /outside int32/);
});

test('corrupt and hostile headers are refused with clear errors', () => {
  const eight = new Uint8Array(8);
  const cases: [string, () => string, RegExp][] = [
    ['too short', () => { const p = join(dir, 'short.safetensors'); writeFileSync(p, Buffer.from([1, 2, 3])); return p; }, /less than the 8-byte header length/],
    ['huge header length', () => rawFile('huge.safetensors', {}, eight, 1n << 60n), /exceeds the 100000000-byte limit/],
    ['header past the end', () => rawFile('past.safetensors', {}, eight, 5000n), /does not fit/],
    ['not JSON', () => rawFile('json.safetensors', '{"a": [1, 2', eight), /not valid JSON/],
    ['unknown dtype', () => rawFile('dt.safetensors', { a: { dtype: 'F8_E4M3', shape: [2], data_offsets: [0, 2] } }, eight), /unknown dtype "F8_E4M3"/],
    ['negative shape', () => rawFile('neg.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, eight), /invalid shape/],
    ['offsets outside the file', () => rawFile('oob.safetensors', { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight), /run past the end/],
    ['size mismatch', () => rawFile('size.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } }, eight), /has 8 bytes but F32 \[1\] needs 4/],
    ['overlap', () => rawFile('ovl.safetensors', {
      a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] },
    }, eight), /'a' and 'b' overlap/],
    ['reversed offsets', () => rawFile('rev.safetensors', { a: { dtype: 'F32', shape: [0], data_offsets: [8, 4] } }, eight), /ends \(4\) before it begins \(8\)/],
    ['bad metadata', () => rawFile('meta.safetensors', { __metadata__: { a: 1 } }, eight), /__metadata__\.a is not a string/],
  ];
  for (const [label, make, re] of cases) {
    const p = make();
    assert.throws(() => SafetensorsFile.open(p), (e: Error) => {
      assert.equal(e.name, 'SafetensorsError', label);
      assert.match(e.message, re, label);
      return true;
    });
  }
});

class Two extends Module {
  a = this.module('a', new Linear(3, 4));
  b = this.module('b', new Linear(4, 2));
}

test('sharded index and diffusers folder layouts load into a module by streaming', () => {
  const src = new Two();
  const root = join(dir, 'pipe');
  mkdirSync(join(root, 'unet'), { recursive: true });
  const sd = src.stateDict();
  writeSafetensors(join(root, 'unet', 'shard-1.safetensors'), { 'a.weight': sd.get('a.weight')!, 'a.bias': sd.get('a.bias')! }, { dtype: 'BF16' });
  writeSafetensors(join(root, 'unet', 'shard-2.safetensors'), { 'b.weight': sd.get('b.weight')!, 'b.bias': sd.get('b.bias')! }, { dtype: 'BF16' });
  writeFileSync(join(root, 'unet', 'diffusion_pytorch_model.safetensors.index.json'), JSON.stringify({
    metadata: {}, weight_map: { 'a.weight': 'shard-1.safetensors', 'a.bias': 'shard-1.safetensors', 'b.weight': 'shard-2.safetensors', 'b.bias': 'shard-2.safetensors' },
  }));
  writeFileSync(join(root, 'unet', 'config.json'), '{}');
  const comp = diffusersComponent(root, 'unet');
  assert.match(comp.weights, /index\.json$/);
  const dst = new Two();
  loadCheckpoint(dst, comp.dir);
  const x = randn([2, 3]);
  const ys = src.b.forward(src.a.forward(x)).toArray(), yd = dst.b.forward(dst.a.forward(x)).toArray();
  for (let i = 0; i < ys.length; i++) assert.ok(Math.abs(ys[i] - yd[i]) < 0.05 * (1 + Math.abs(ys[i])), 'bf16 weights');
  const ckpt = openCheckpoint(join(root, 'unet', 'diffusion_pytorch_model.safetensors.index.json'));
  assert.deepEqual(ckpt.keys().sort(), ['a.bias', 'a.weight', 'b.bias', 'b.weight']);
  assert.equal(ckpt.dtype('b.weight'), 'BF16');
  ckpt.close();
  // a module expecting different keys gets one error naming all of them
  class Other extends Module { c = this.module('c', new Linear(3, 4)); }
  assert.throws(() => loadCheckpoint(new Other(), comp.dir), /2 missing:[\s\S]*c\.weight[\s\S]*4 unexpected/);
});

test('saveCheckpoint then loadCheckpoint is exact in F32', () => {
  const a = new Two(), b = new Two();
  const p = join(dir, 'two.safetensors');
  saveCheckpoint(a, p);
  loadCheckpoint(b, p);
  for (const [k, t] of a.stateDict()) assert.deepEqual(t.toArray(), b.stateDict().get(k)!.toArray());
  assert.deepEqual(SafetensorsFile.open(p).metadata, { format: 'pt' });
});
