import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { unetConfig } from '../../src/io/config.js';
import { UNet2DConditionModel } from '../../src/models/unet/model.js';
import { timestepEmbedding } from '../../src/models/unet/resnet.js';
import { noGrad } from '../../src/tensor/index.js';
import { copyFileSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assertClose, FIXTURES, fixtureConfig, fixtureIO, weightsPath } from './golden.js';

// Tolerance: float32 on both sides (weights are the stored BF16/F16 values); ~30 layers deep.
const ATOL = 1e-4, RTOL = 1e-4;

test('PUMA decoder UNet: mapping_layer, embed_img_pos with per-sample weight, no added embeddings', () => {
  const io = fixtureIO('unet_puma');
  const config = unetConfig(fixtureConfig('unet_puma'));
  assert.equal(config.additionEmbedType, null, 'a PUMA decoder config switches added embeddings off');
  const unet = new UNet2DConditionModel(config).eval();
  loadCheckpoint(unet, weightsPath('unet_puma'));
  const keys = [...unet.stateDict().keys()];
  assert.ok(keys.includes('mapping_layer.weight') && keys.includes('embed_img_pos'));
  assert.ok(keys.includes('down_blocks.1.attentions.0.transformer_blocks.1.attn2.to_k.weight'));
  assert.ok(!keys.some((k) => k.startsWith('add_embedding')));
  noGrad(() => {
    const pw = Array.from(io.get('pos_weight')!.toArray());
    const t = Array.from(io.get('timestep')!.toArray());
    const out = unet.forward({ sample: io.get('sample')!, timestep: t, encoderHiddenStates: io.get('features')!, posWeight: pw });
    const err = assertClose(out, io.get('out')!, 'unet_puma', ATOL, RTOL);
    console.log(`unet (PUMA) max abs err ${err.toExponential(2)}`);
    // the unconditional sample differs when its position weight changes
    const other = unet.forward({ sample: io.get('sample')!, timestep: t, encoderHiddenStates: io.get('features')!, posWeight: [1, 1] });
    const a = other.narrow(0, 1, 1).toArray(), b = out.narrow(0, 1, 1).toArray();
    assert.ok(a.some((v, i) => Math.abs(v - b[i]) > 1e-3));
  });
});

test('SDXL-style UNet: text_time added embeddings, F16 weights', () => {
  const io = fixtureIO('unet_sdxl');
  const unet = new UNet2DConditionModel(unetConfig(fixtureConfig('unet_sdxl'))).eval();
  loadCheckpoint(unet, weightsPath('unet_sdxl'));
  noGrad(() => {
    const out = unet.forward({
      sample: io.get('sample')!, timestep: 999, encoderHiddenStates: io.get('encoder_hidden_states')!,
      textEmbeds: io.get('text_embeds')!, timeIds: io.get('time_ids')!,
    });
    const err = assertClose(out, io.get('out')!, 'unet_sdxl', ATOL, RTOL);
    console.log(`unet (SDXL) max abs err ${err.toExponential(2)}`);
    assert.throws(() => unet.forward({ sample: io.get('sample')!, timestep: 1, encoderHiddenStates: io.get('encoder_hidden_states')! }), /text_time needs/);
  });
});

test('timestep embedding puts cos first when flip_sin_to_cos', () => {
  const e = timestepEmbedding([0, 1], 4, true, 0).toArray();
  assert.deepEqual(Array.from(e.slice(0, 4)), [1, 1, 0, 0]);
  assert.ok(Math.abs(e[4] - Math.cos(1)) < 1e-7 && Math.abs(e[6] - Math.sin(1)) < 1e-7);
});

test('fromPretrained reads a diffusers pipeline folder (unet/config.json + diffusion_pytorch_model.safetensors)', () => {
  const root = mkdtempSync(join(tmpdir(), 'puma-pipe-'));
  mkdirSync(join(root, 'unet'));
  copyFileSync(join(FIXTURES, 'unet_puma.config.json'), join(root, 'unet', 'config.json'));
  copyFileSync(weightsPath('unet_puma'), join(root, 'unet', 'diffusion_pytorch_model.safetensors'));
  const unet = UNet2DConditionModel.fromPretrained(root, 'unet');
  const io = fixtureIO('unet_puma');
  noGrad(() => {
    const out = unet.forward({
      sample: io.get('sample')!, timestep: Array.from(io.get('timestep')!.toArray()),
      encoderHiddenStates: io.get('features')!, posWeight: Array.from(io.get('pos_weight')!.toArray()),
    });
    assertClose(out, io.get('out')!, 'unet_puma via fromPretrained', ATOL, RTOL);
  });
  assert.throws(() => UNet2DConditionModel.fromPretrained(root, 'vae'), /no config\.json/);
});
