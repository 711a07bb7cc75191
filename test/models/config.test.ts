import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  clipConfig, clipTextConfig, clipVisionConfig, llamaConfig, readConfigJson, unetConfig, vaeConfig, writeConfigJson,
} from '../../src/io/config.js';

test('defaults, then the file, then overrides; the result is frozen', () => {
  const c = llamaConfig({ hidden_size: 64, num_attention_heads: 4, rope_theta: 500000, unknown_key: 1 }, { numHiddenLayers: 3 });
  assert.equal(c.hiddenSize, 64);
  assert.equal(c.numKeyValueHeads, 4, 'num_key_value_heads defaults to num_attention_heads');
  assert.equal(c.headDim, 16);
  assert.equal(c.ropeTheta, 500000);
  assert.equal(c.numHiddenLayers, 3);
  assert.equal(c.vocabSize, 32000);
  assert.ok(Object.isFrozen(c));
  assert.throws(() => { (c as { hiddenSize: number }).hiddenSize = 1; });
  assert.throws(() => llamaConfig({ rope_scaling: { rope_type: 'yarn', factor: 2 } }), /unsupported rope_scaling/);
});

test('a CLIPConfig file yields both towers with the shared projection_dim', () => {
  const raw = { projection_dim: 768, text_config: { hidden_size: 768, eos_token_id: 2 }, vision_config: { hidden_size: 1024, patch_size: 14 } };
  const c = clipConfig(raw);
  assert.equal(c.visionConfig.hiddenSize, 1024);
  assert.equal(c.visionConfig.projectionDim, 768);
  assert.equal(c.textConfig.projectionDim, 768);
  assert.equal(clipVisionConfig(raw).patchSize, 14);
  assert.equal(clipTextConfig(raw).hiddenSize, 768);
  assert.equal(clipVisionConfig({ hidden_size: 8 }).hiddenSize, 8, 'a CLIPVisionConfig file is read flat');
});

test('UNet config: list lengths are checked, PUMA keys switch added embeddings off', () => {
  assert.throws(() => unetConfig({ down_block_types: ['DownBlock2D'], block_out_channels: [32, 64] }), /2 entries for 1 down blocks/);
  const sdxl = unetConfig({ addition_embed_type: 'text_time', addition_time_embed_dim: 256 });
  assert.equal(sdxl.additionEmbedType, 'text_time');
  const puma = unetConfig({ addition_embed_type: 'text_time', mapping_dim: 1024, mapping_dim1: 2048 });
  assert.equal(puma.additionEmbedType, null);
  assert.equal(puma.useEmbeds, true);
  assert.throws(() => unetConfig({ class_embed_type: 'timestep' }), /not supported/);
  assert.throws(() => vaeConfig({ down_block_types: ['AttnDownEncoderBlock2D'] }), /only DownEncoderBlock2D/);
});

test('configs write back as snake_case config.json and read back equal', () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-cfg-'));
  const c = vaeConfig({ scaling_factor: 0.13025, block_out_channels: [128, 256] });
  writeConfigJson(join(dir, 'config.json'), c, { _class_name: 'AutoencoderKL' });
  const raw = readConfigJson(dir);
  assert.equal(raw._class_name, 'AutoencoderKL');
  assert.equal(raw.scaling_factor, 0.13025);
  assert.deepEqual(vaeConfig(raw), c);
  const l = llamaConfig({ rope_scaling: { rope_type: 'llama3', factor: 8 } });
  writeConfigJson(join(dir, 'l.json'), l);
  assert.deepEqual(llamaConfig(readConfigJson(join(dir, 'l.json'))), l);
});
