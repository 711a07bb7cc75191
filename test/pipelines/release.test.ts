// The release's checkpoint layout and its reference decode (scripts/fixtures/make_release_fixture.py:
// a tiny stand-in of ckpts/ with random weights, decoded in PyTorch as infer_detokenizer.py does).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { join } from 'node:path';
import { readImage } from '../../src/io/image.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { isReleaseFolder, loadRelease, reconstructRelease, releasePixels, releaseScales } from '../../src/pipelines/release.js';
import { Generator, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../models/golden.js';

const DIR = 'test/fixtures/release';
const CKPTS = join(DIR, 'ckpts');
const ref = readSafetensors(join(DIR, 'reference.safetensors'));
const get = (name: string): Tensor => ref.get(name) ?? assert.fail(`reference.safetensors has no ${name}`);

/** Hands out a reference's Gaussian draws in order, so that our sampler sees PyTorch's noise. */
class ReplayGenerator extends Generator {
  private at = 0;
  constructor(private readonly values: Float32Array) {
    super(0);
  }
  override normal(): number {
    if (this.at >= this.values.length) throw new Error(`replay: all ${this.values.length} draws used`);
    return this.values[this.at++];
  }
  get used(): number {
    return this.at;
  }
}

test('release layout: every unet_N found, other folders refused', () => {
  assert.ok(isReleaseFolder(CKPTS));
  assert.deepEqual(releaseScales(CKPTS), [0, 1, 2, 3, 4]);
  assert.ok(!isReleaseFolder(DIR));
  assert.ok(!isReleaseFolder('models/puma-emoji'));
  assert.throws(() => loadRelease(DIR), /not a PUMA release folder/);
});

test('release: features and null features as the reference script pools them', async () => {
  const rel = loadRelease(CKPTS);
  const img = await readImage(join(DIR, 'input.png'));
  const px = releasePixels(rel, img);
  assertClose(px, get('pixel_values'), 'pixels (PIL bilinear resize, CLIP normalisation)', 1e-5, 1e-5);
  const feats = rel.encoder.encode(px), nulls = rel.encoder.nullScales(rel.imageSize);
  for (let k = 0; k < 5; k++) {
    assertClose(feats[k], get(`f${k}`), `f${k}`, 1e-4, 1e-4);
    assertClose(nulls[k], get(`null_f${k}`), `null f${k}`, 1e-4, 1e-4);
  }
});

test('release: puma reconstruct decodes every scale as the reference script does (DDPM 50 steps, guidance 2)', async () => {
  const rel = loadRelease(CKPTS);
  assert.equal(rel.scalingFactor, 0.13025);
  const img = await readImage(join(DIR, 'input.png'));
  const generators = new Map([0, 1, 2, 3, 4].map((k) => [k, new ReplayGenerator(get(`draws_f${k}`).toArray() as Float32Array)]));
  const out = reconstructRelease(rel, img, [4, 3, 2, 1, 0], { generators });
  for (let k = 0; k < 5; k++) {
    // every draw used: the initial latents and one per step
    assert.equal(generators.get(k)!.used, get(`draws_f${k}`).toArray().length, `f${k}: draws used`);
    // 50 steps of float32 on both sides (alphas_cumprod float32 in PyTorch, float64 here): max error ~1e-6
    assertClose(out.get(k)![0], get(`image_f${k}`), `image f${k}`, 2e-5, 1e-4);
  }
});

test('release: a missing scale or a bad folder is a one-line error', () => {
  const rel = loadRelease(CKPTS);
  assert.throws(() => reconstructRelease({ ...rel, scales: [0, 1] }, { width: 4, height: 4, channels: 3, data: new Uint8Array(48) }, [4]), /no decoder for f4 \(unet_1\).*it has f0, f1/);
  assert.throws(() => loadRelease('/nonexistent'), /not a PUMA release folder/);
});

test('puma reconstruct --model <release>: the release\'s settings by default, PNGs at the VAE\'s size, one-line errors', async () => {
  const tmp = mkdtempSync(join(tmpdir(), 'puma-release-'));
  const run = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', 'reconstruct', ...args], { encoding: 'utf8' });
  try {
    const out = join(tmp, 'out');
    const r = run(join(DIR, 'input.png'), '--model', CKPTS, '--scales', '4,0', '--steps', '3', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8'));
    assert.deepEqual([settings.release, settings.scheduler, settings.guidance, settings.steps], [true, 'ddpm', 2, 3]);
    const png = await readImage(join(out, 'f0-seed0.png'));
    assert.deepEqual([png.width, png.height], [16, 16], '8 x sample_size 8 of the tiny UNet, halved by its 2-block VAE');
    assert.ok(existsSync(join(out, 'f4-seed0.png')) && existsSync(join(out, 'grid.png')));
    // a release without unet_1: asking for f4 is one line naming what the folder has
    const partial = join(tmp, 'ckpts');
    cpSync(CKPTS, partial, { recursive: true });
    rmSync(join(partial, 'stable-diffusion-xl-base-1.0', 'unet_1'), { recursive: true });
    const bad = run(join(DIR, 'input.png'), '--model', partial, '--scales', '4', '--out', join(tmp, 'bad'));
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /no decoder for f4 \(unet_1\).*it has f0, f1, f2, f3/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
