import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { vaeConfig } from '../../src/io/config.js';
import { AutoencoderKL, DiagonalGaussian, renameLegacyVaeKey } from '../../src/models/vae/model.js';
import { Generator, noGrad } from '../../src/tensor/index.js';
import { assertClose, FIXTURES, fixtureConfig, fixtureIO, weightsPath } from './golden.js';

// Tolerance: float32 on both sides; only summation order differs.
const ATOL = 1e-4, RTOL = 1e-4;
const io = fixtureIO('vae');
const config = vaeConfig(fixtureConfig('vae'));
const vae = new AutoencoderKL(config).eval();
loadCheckpoint(vae, weightsPath('vae'));

test('encoder + quant_conv moments and decoder output match', () => {
  assert.equal(config.scalingFactor, 0.13025);
  noGrad(() => {
    const post = vae.encode(io.get('x')!);
    const [mean, logvar] = io.get('moments')!.chunk(2, 1);
    assertClose(post.mode(), mean, 'posterior mean', ATOL, RTOL);
    assertClose(post.logvar, logvar.clamp(-30, 20), 'posterior logvar', ATOL, RTOL);
    const err = assertClose(vae.decode(io.get('z')!), io.get('decoded')!, 'decoded', ATOL, RTOL);
    console.log(`vae decode max abs err ${err.toExponential(2)}`);
  });
});

test('DiagonalGaussian samples have the posterior mean and std', () => {
  noGrad(() => {
    const post = new DiagonalGaussian(io.get('moments')!);
    const g = new Generator(1);
    const n = 200;
    const m = post.mean.toArray(), s = post.std.toArray();
    const sum = new Float64Array(m.length), sq = new Float64Array(m.length);
    for (let i = 0; i < n; i++) {
      const z = post.sample(g).toArray();
      for (let j = 0; j < z.length; j++) {
        const d = (z[j] - m[j]) / s[j];
        sum[j] += d;
        sq[j] += d * d;
      }
    }
    let mean = 0, varSum = 0;
    for (let j = 0; j < m.length; j++) { mean += sum[j] / n; varSum += sq[j] / n; }
    mean /= m.length;
    varSum /= m.length;
    assert.ok(Math.abs(mean) < 0.02, `standardised mean ${mean}`);
    assert.ok(Math.abs(varSum - 1) < 0.03, `standardised variance ${varSum}`);
  });
});

test('legacy attention names (query/key/value/proj_attn, BF16) load through the rename', () => {
  const legacy = join(FIXTURES, 'vae_legacy_names.safetensors');
  const other = new AutoencoderKL(config).eval();
  assert.throws(() => loadCheckpoint(other, legacy), /missing:[\s\S]*to_q\.weight[\s\S]*unexpected:[\s\S]*query\.weight/);
  loadCheckpoint(other, legacy, { rename: renameLegacyVaeKey });
  noGrad(() => assertClose(other.decode(io.get('z')!), io.get('decoded')!, 'decoded (bf16 legacy)', 0.05, 0.05));
});
