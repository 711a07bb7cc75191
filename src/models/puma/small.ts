// The small-scale PUMA trained on the emoji world: one place for every size decision.
// The paper's sizes (CLIP ViT-L/14, SDXL UNet, LLaMA-3 8B) load through the same classes.
import { clipTextConfig, clipVisionConfig, llamaConfig, unetConfig, vaeConfig } from '../../io/config.js';

/** Mini CLIP: 64x64 input, patch 4 -> a 16x16 grid (f0) like ViT-L/14's at 224, width 128
 * (192 in the PyTorch study; 128 costs 0.44x the compute, which float32 on 2 cores needs). */
export const MINI_CLIP_VISION = clipVisionConfig({
  hidden_size: 128, intermediate_size: 512, projection_dim: 128, num_hidden_layers: 4,
  num_attention_heads: 4, image_size: 64, patch_size: 4, hidden_act: 'quick_gelu',
});

/** Its text tower; vocab and special ids are filled from the tokenizer at build time. */
export function miniClipText(vocabSize: number, padId: number, bosId: number, eosId: number) {
  return clipTextConfig({
    vocab_size: vocabSize, hidden_size: 128, intermediate_size: 512, projection_dim: 128,
    num_hidden_layers: 3, num_attention_heads: 4, max_position_embeddings: 32, hidden_act: 'quick_gelu',
    pad_token_id: padId, bos_token_id: bosId, eos_token_id: eosId,
  });
}

/** VAE 64x64x3 <-> 16x16x4, the role SDXL's VAE plays at 1024 -> 128. */
export const MINI_VAE = vaeConfig({
  block_out_channels: [16, 32, 64],
  down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D', 'DownEncoderBlock2D'],
  up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D', 'UpDecoderBlock2D'],
  layers_per_block: 1, latent_channels: 4, norm_num_groups: 8, sample_size: 64, scaling_factor: 1,
});

export { clipTextConfig, clipVisionConfig, llamaConfig, unetConfig };
