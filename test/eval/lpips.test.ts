// LPIPS (alex, v0.1) against a PyTorch net with the official module layout and random weights
// (fixtures from scripts/fixtures/make_eval_fixtures.py). The golden net is narrow (channels
// 16, 32, 48, 32, 32) to keep the fixture small; the full-width names and shapes are checked
// against the official layout separately.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { Lpips, loadLpipsWeights, lpips, lpipsAlex, type LpipsConfig } from '../../src/eval/lpips.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { onMeta } from '../../src/nn/index.js';
import * as T from '../../src/tensor/index.js';

// Tolerance: the golden is float64 torch from the same float32 weights; ours runs in float32
// (measured relative error ~1e-6).
const RTOL = 1e-4;
const DIR = 'test/fixtures/eval';
const pairs = readSafetensors(join(DIR, 'pairs.safetensors'));
const golden = JSON.parse(readFileSync(join(DIR, 'pairs.json'), 'utf8')) as Record<string, number[]>;
const narrow = JSON.parse(readFileSync(join(DIR, 'lpips_narrow.config.json'), 'utf8')) as LpipsConfig;
const net = loadLpipsWeights(join(DIR, 'lpips_narrow.safetensors'), narrow);

function assertAllClose(ours: number[], ref: number[], label: string): void {
  assert.equal(ours.length, ref.length, `${label}: ${ours.length} values vs ${ref.length}`);
  const rel = ours.map((v, i) => Math.abs(v - ref[i]) / Math.abs(ref[i]));
  console.log(`${label}: ours ${ours.map((v) => v.toFixed(6)).join(', ')}; max rel err ${Math.max(...rel).toExponential(2)}`);
  rel.forEach((e, i) => assert.ok(e <= RTOL, `${label}[${i}]: ours ${ours[i]} torch ${ref[i]} (rel err ${e})`));
}

test('lpips matches torch on 64x64 pairs', () => {
  assertAllClose(lpips(pairs.get('a')!, pairs.get('b')!, net), golden.lpips, 'lpips 64x64');
});

test('lpips matches torch on a non-square 50x62 pair (floor sizes through conv and pools)', () => {
  assertAllClose(lpips(pairs.get('a_odd')!, pairs.get('b_odd')!, net), golden.lpips_odd, 'lpips 50x62');
});

test('AlexNet taps on 64x64 are 15x15, 7x7, 3x3, 3x3, 3x3', () => {
  T.noGrad(() => {
    const taps = net.net.forward(T.zeros([1, 3, 64, 64]));
    assert.deepEqual(taps.map((t) => t.shape.slice(1)), [[16, 15, 15], [32, 7, 7], [48, 3, 3], [32, 3, 3], [32, 3, 3]]);
  });
});

test('lpips is 0 for identical images and symmetric', () => {
  const a = pairs.get('a')!, b = pairs.get('b')!;
  assert.deepEqual(lpips(a, a, net), [0, 0, 0]);
  const ab = lpips(a, b, net), ba = lpips(b, a, net);
  ab.forEach((v, i) => {
    assert.ok(v > 0, `distinct images at distance ${v}`);
    assert.ok(Math.abs(v - ba[i]) <= 1e-6 * v, `not symmetric: ${v} vs ${ba[i]}`);
  });
});

// The state dict of lpips.LPIPS(net='alex', version='0.1'): torchvision's alexnet().features[0:12]
// split into slices by lpips/pretrained_networks.py, NetLinLayer(use_dropout=True) in lpips/lpips.py.
const OFFICIAL_ALEX: [string, number[]][] = [
  ['net.slice1.0.weight', [64, 3, 11, 11]], ['net.slice1.0.bias', [64]],
  ['net.slice2.3.weight', [192, 64, 5, 5]], ['net.slice2.3.bias', [192]],
  ['net.slice3.6.weight', [384, 192, 3, 3]], ['net.slice3.6.bias', [384]],
  ['net.slice4.8.weight', [256, 384, 3, 3]], ['net.slice4.8.bias', [256]],
  ['net.slice5.10.weight', [256, 256, 3, 3]], ['net.slice5.10.bias', [256]],
  ['lin0.model.1.weight', [1, 64, 1, 1]], ['lin1.model.1.weight', [1, 192, 1, 1]],
  ['lin2.model.1.weight', [1, 384, 1, 1]], ['lin3.model.1.weight', [1, 256, 1, 1]],
  ['lin4.model.1.weight', [1, 256, 1, 1]],
];

test('the full-width module has the official parameter names and shapes', () => {
  const full = onMeta(() => new Lpips(lpipsAlex));
  const ours = [...full.shapeMap()].map(([k, s]) => [k, [...s]] as [string, number[]]);
  const byName = (x: [string, number[]][]) => [...x].sort(([a], [b]) => a.localeCompare(b));
  assert.deepEqual(byName(ours), byName(OFFICIAL_ALEX));
  // The same layout as dumped by the fixture script from torchvision (plus the scaling buffers).
  const dumped = JSON.parse(readFileSync(join(DIR, 'lpips_alex_keys.json'), 'utf8')) as Record<string, number[]>;
  assert.deepEqual(dumped['scaling_layer.shift'], [1, 3, 1, 1]);
  delete dumped['scaling_layer.shift'];
  delete dumped['scaling_layer.scale'];
  assert.deepEqual(byName(Object.entries(dumped)), byName(OFFICIAL_ALEX));
  assert.equal(full.numParameters(), 2_469_696 + 1_152); // AlexNet features[0:12] + the five lins
});

test('loadLpipsWeights: clear errors for a missing file and for missing keys', () => {
  assert.throws(() => loadLpipsWeights('no/such/lpips.safetensors'), /LPIPS weights not found at no\/such\/lpips\.safetensors/);
  const dir = mkdtempSync(join(tmpdir(), 'lpips-'));
  try {
    const path = join(dir, 'partial.safetensors');
    const dict = net.stateDict();
    dict.delete('lin3.model.1.weight');
    writeSafetensors(path, dict);
    assert.throws(() => loadLpipsWeights(path, narrow), /1 missing:\s*lin3\.model\.1\.weight/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('lpips rejects bad shapes with clear errors', () => {
  const x = T.rand([1, 3, 32, 32]);
  assert.throws(() => lpips(x, T.rand([1, 3, 32, 33]), net), /lpips: image shapes differ/);
  assert.throws(() => lpips(T.rand([1, 1, 32, 32]), T.rand([1, 1, 32, 32]), net), /lpips: expected \[B, 3, H, W\]/);
  assert.throws(() => lpips(T.rand([1, 3, 30, 64]), T.rand([1, 3, 30, 64]), net), /at least 31x31/);
});
