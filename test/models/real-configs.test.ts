// The real PUMA component configurations, built shape-only (no weights allocated): parameter
// counts against the published ones, and key names / shapes against the released checkpoints.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CLIP_VIT_L14_VISION, LLAMA3_8B, PUMA_DECODER_UNET, SDXL_UNET, SDXL_VAE, llamaConfig } from '../../src/io/config.js';
import { CLIPVisionModelWithProjection } from '../../src/models/clip/model.js';
import { LlamaForCausalLM, llamaInvFreq } from '../../src/models/llama/model.js';
import { UNet2DConditionModel } from '../../src/models/unet/model.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import { isMeta, onMeta, type Module } from '../../src/nn/index.js';
import { memoryStats } from '../../src/tensor/index.js';

function expectKeys(m: Module, shapes: Record<string, number[]>): void {
  const sd = m.shapeMap();
  for (const [k, s] of Object.entries(shapes)) {
    assert.ok(sd.has(k), `missing key ${k}`);
    assert.deepEqual([...sd.get(k)!], s, k);
  }
}

test('CLIP ViT-L/14 vision tower: 303,179,776 parameters (+ 786,432 projection), 392 keys', () => {
  const before = memoryStats().liveBytes;
  const clip = onMeta(() => new CLIPVisionModelWithProjection(CLIP_VIT_L14_VISION));
  assert.ok(memoryStats().liveBytes - before < 1 << 20, 'no weights allocated');
  assert.ok(clip.parameters().every(isMeta));
  assert.equal(clip.vision_model.numParameters(), 303_179_776);
  assert.equal(clip.numParameters(), 303_179_776 + 768 * 1024);
  assert.equal(clip.stateDict().size, 392);
  expectKeys(clip, {
    'vision_model.embeddings.class_embedding': [1024],
    'vision_model.embeddings.patch_embedding.weight': [1024, 3, 14, 14],
    'vision_model.embeddings.position_embedding.weight': [257, 1024],
    'vision_model.pre_layrnorm.weight': [1024],
    'vision_model.encoder.layers.23.self_attn.q_proj.bias': [1024],
    'vision_model.encoder.layers.23.mlp.fc1.weight': [4096, 1024],
    'vision_model.post_layernorm.bias': [1024],
    'visual_projection.weight': [768, 1024],
  });
});

test('LLaMA-3-8B: 8,030,261,248 parameters, 291 keys, GQA shapes', () => {
  const llm = onMeta(() => new LlamaForCausalLM(LLAMA3_8B));
  assert.equal(llm.numParameters(), 8_030_261_248);
  assert.equal(llm.stateDict().size, 291);
  expectKeys(llm, {
    'model.embed_tokens.weight': [128256, 4096],
    'model.layers.31.self_attn.q_proj.weight': [4096, 4096],
    'model.layers.31.self_attn.k_proj.weight': [1024, 4096],
    'model.layers.0.mlp.gate_proj.weight': [14336, 4096],
    'model.layers.0.post_attention_layernorm.weight': [4096],
    'model.norm.weight': [4096],
    'lm_head.weight': [128256, 4096],
  });
});

test('LLaMA-3.1 rope_scaling leaves high frequencies and divides low ones by the factor', () => {
  const c = llamaConfig({ ...LLAMA3_8B_JSON, rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
  const plain = llamaInvFreq(LLAMA3_8B), scaled = llamaInvFreq(c);
  assert.equal(scaled[0], plain[0]);
  assert.ok(Math.abs(scaled[63] - plain[63] / 8) < 1e-12);
  assert.ok(scaled[32] < plain[32] && scaled[32] > plain[32] / 8, 'blended band');
});
const LLAMA3_8B_JSON = {
  vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
  num_attention_heads: 32, num_key_value_heads: 8, rope_theta: 500000,
};

test('SDXL UNet: 2,567,463,684 parameters, 1680 keys; PUMA decoder swaps add_embedding for its additions', () => {
  const unet = onMeta(() => new UNet2DConditionModel(SDXL_UNET));
  assert.equal(unet.numParameters(), 2_567_463_684);
  assert.equal(unet.stateDict().size, 1680);
  expectKeys(unet, {
    'conv_in.weight': [320, 4, 3, 3],
    'time_embedding.linear_1.weight': [1280, 320],
    'add_embedding.linear_1.weight': [1280, 2816],
    'down_blocks.0.resnets.1.time_emb_proj.weight': [320, 1280],
    'down_blocks.1.attentions.0.proj_in.weight': [640, 640],
    'down_blocks.2.attentions.1.transformer_blocks.9.ff.net.0.proj.weight': [10240, 1280],
    'down_blocks.2.attentions.1.transformer_blocks.9.attn2.to_k.weight': [1280, 2048],
    'mid_block.attentions.0.transformer_blocks.9.attn1.to_out.0.bias': [1280],
    'up_blocks.0.attentions.2.transformer_blocks.9.norm3.weight': [1280],
    'up_blocks.0.upsamplers.0.conv.weight': [1280, 1280, 3, 3],
    'up_blocks.2.resnets.0.conv_shortcut.weight': [320, 960, 1, 1],
    'conv_out.weight': [4, 320, 3, 3],
  });
  assert.ok(!unet.shapeMap().has('down_blocks.0.attentions.0.norm.weight'), 'DownBlock2D has no attention');
  const puma = onMeta(() => new UNet2DConditionModel(PUMA_DECODER_UNET));
  const added = 1024 * 2048 + 2048 + 256 * 2048, removed = 2816 * 1280 + 1280 + 1280 * 1280 + 1280;
  assert.equal(puma.numParameters(), 2_567_463_684 - removed + added);
  expectKeys(puma, { 'mapping_layer.weight': [2048, 1024], 'embed_img_pos': [1, 256, 2048] });
  assert.ok(!puma.shapeMap().has('add_embedding.linear_1.weight'));
});

test('SDXL VAE: 83,653,863 parameters, 248 keys', () => {
  const vae = onMeta(() => new AutoencoderKL(SDXL_VAE));
  assert.equal(vae.numParameters(), 83_653_863);
  assert.equal(vae.stateDict().size, 248);
  expectKeys(vae, {
    'encoder.down_blocks.1.resnets.0.conv_shortcut.weight': [256, 128, 1, 1],
    'encoder.mid_block.attentions.0.to_q.weight': [512, 512],
    'encoder.conv_out.weight': [8, 512, 3, 3],
    'quant_conv.weight': [8, 8, 1, 1],
    'decoder.up_blocks.3.resnets.0.conv_shortcut.weight': [128, 256, 1, 1],
    'decoder.up_blocks.2.upsamplers.0.conv.weight': [256, 256, 3, 3],
    'decoder.conv_out.weight': [3, 128, 3, 3],
  });
});
