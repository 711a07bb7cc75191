import assert from 'node:assert/strict';
import { test } from 'node:test';
import { vaeConfig, unetConfig } from '../../src/io/config.js';
import { PumaDecoder } from '../../src/models/puma/decoder.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import { decodeFeatures } from '../../src/pipelines/decode.js';
import * as T from '../../src/tensor/index.js';

const tinyVae = () => new AutoencoderKL(vaeConfig({
  block_out_channels: [8, 8], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4,
}));

function tinyDecoder(tokens: number, spatial = 4): PumaDecoder {
  const d = new PumaDecoder({
    scale: tokens === 16 ? 0 : 4, featureDim: 6, latentChannels: 4, latentSize: 4, spatialChannels: spatial,
    unet: unetConfig({
      sample_size: 4, in_channels: 4 + spatial, out_channels: 4,
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      block_out_channels: [8, 8], layers_per_block: 1, attention_head_dim: 2, cross_attention_dim: 8, norm_num_groups: 4,
      mapping_dim: 6, mapping_dim1: 8, num_tokens: tokens, use_embeds: tokens === 16, use_linear_projection: true,
    }),
  });
  // Spread the position embedding so that weighting it 0 or 1 visibly changes the output.
  if (d.unet.embed_img_pos) d.unet.embed_img_pos.data.forEach((_, i, a) => (a[i] = Math.sin(i)));
  return d;
}

test('guided decoding is seeded, and guidance 0 is the unconditional branch (null features, position weight 0)', () => {
  T.manualSeed(0);
  const vae = tinyVae();
  const dec = tinyDecoder(1); // one token, no position embedding (like f4)
  const f = T.randn([2, 1, 6]), nul = T.randn([1, 1, 6]);
  const opts = { steps: 4, scheduler: 'ddim' as const };
  const a = decodeFeatures(dec, vae, 1, f, nul, { ...opts, seed: 3 }).toArray();
  const b = decodeFeatures(dec, vae, 1, f, nul, { ...opts, seed: 3 }).toArray();
  const c = decodeFeatures(dec, vae, 1, f, nul, { ...opts, seed: 4 }).toArray();
  assert.deepEqual(a, b);
  assert.ok(a.some((v, i) => Math.abs(v - c[i]) > 1e-4), 'another seed gives another image');
  const g0 = decodeFeatures(dec, vae, 1, f, nul, { ...opts, seed: 3, guidance: 0 }).toArray();
  const uncond = decodeFeatures(dec, vae, 1, T.cat([nul, nul], 0), nul, { ...opts, seed: 3, guidance: 1 }).toArray();
  for (let i = 0; i < g0.length; i++) assert.ok(Math.abs(g0[i] - uncond[i]) < 1e-5, `pixel ${i}: ${g0[i]} vs ${uncond[i]}`);
  assert.ok(a.some((v, i) => Math.abs(v - g0[i]) > 1e-4), 'guidance 2 differs from the unconditional decode');
  assert.ok(a.every((v) => v >= 0 && v <= 1), 'images are in [0, 1]');
});

test('the f0 decoder weights its position embedding per sample (1 conditional, 0 unconditional)', () => {
  T.manualSeed(1);
  const dec = tinyDecoder(16);
  const xt = T.randn([1, 4, 4, 4]), f = T.randn([1, 16, 6]);
  const e1 = dec.forward(xt, 500, f, [1]).toArray(), e0 = dec.forward(xt, 500, f, [0]).toArray();
  assert.ok(e1.some((v, i) => Math.abs(v - e0[i]) > 1e-5), 'position weight changes the prediction');
  assert.throws(() => dec.forward(xt, 500, T.randn([1, 4, 6])), /expected 16 feature tokens/);
});
