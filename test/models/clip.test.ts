import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { clipConfig, clipVisionConfig } from '../../src/io/config.js';
import { CLIP_TEXT_KEYS, CLIPModel, CLIPVisionModelWithProjection } from '../../src/models/clip/model.js';
import { noGrad } from '../../src/tensor/index.js';
import { assertClose, fixtureConfig, fixtureIO, weightsPath } from './golden.js';

// Tolerance: float32 on both sides; only summation order differs.
const ATOL = 1e-4, RTOL = 1e-4;
const io = fixtureIO('clip');
const raw = fixtureConfig('clip');
const clip = new CLIPModel(clipConfig(raw)).eval();
loadCheckpoint(clip, weightsPath('clip'));

test('vision tower: last_hidden_state, pooled output and image embeds match', () => {
  noGrad(() => {
    const out = clip.vision_model.forward(io.get('pixel_values')!);
    const err = assertClose(out.lastHiddenState, io.get('vision_last_hidden_state')!, 'vision last_hidden_state', ATOL, RTOL);
    console.log(`clip vision last_hidden_state max abs err ${err.toExponential(2)}`);
    assertClose(out.pooledOutput, io.get('vision_pooled')!, 'vision pooled', ATOL, RTOL);
    assertClose(clip.imageEmbeds(io.get('pixel_values')!), io.get('image_embeds')!, 'image_embeds', ATOL, RTOL);
  });
});

test('text tower: causal mask, padding mask and EOS pooling match', () => {
  noGrad(() => {
    const out = clip.text_model.forward(io.get('input_ids')!, io.get('attention_mask')!);
    const err = assertClose(out.lastHiddenState, io.get('text_last_hidden_state')!, 'text last_hidden_state', ATOL, RTOL);
    console.log(`clip text last_hidden_state max abs err ${err.toExponential(2)}`);
    assertClose(out.pooledOutput, io.get('text_pooled')!, 'text pooled', ATOL, RTOL);
    assertClose(clip.textEmbeds(io.get('input_ids')!, io.get('attention_mask')!), io.get('text_embeds')!, 'text_embeds', ATOL, RTOL);
  });
});

test('image-text similarity with logit_scale matches', () => {
  noGrad(() => {
    const { logitsPerText, logitsPerImage } = clip.similarity(io.get('pixel_values')!, io.get('input_ids')!, io.get('attention_mask')!);
    const err = assertClose(logitsPerText, io.get('logits_per_text')!, 'logits_per_text', 1e-3, 1e-4);
    console.log(`clip logits_per_text max abs err ${err.toExponential(2)}`);
    assert.deepEqual([...logitsPerImage.shape], [2, 2]);
  });
});

test('the vision-only model loads from the full CLIPModel checkpoint, ignoring text keys', () => {
  const vision = new CLIPVisionModelWithProjection(clipVisionConfig(raw)).eval();
  assert.throws(() => loadCheckpoint(vision, weightsPath('clip')), /unexpected:[\s\S]*text_model\./);
  const r = loadCheckpoint(vision, weightsPath('clip'), { ignore: CLIP_TEXT_KEYS });
  assert.equal(r.missing.length, 0);
  assert.equal(vision.config.projectionDim, 16, 'projection_dim comes from the top-level config');
  noGrad(() => {
    const out = vision.forward(io.get('pixel_values')!);
    assertClose(out.imageEmbeds, io.get('image_embeds')!, 'vision-only image_embeds', ATOL, RTOL);
  });
});
