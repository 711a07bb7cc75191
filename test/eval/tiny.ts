// A random PUMA at the emoji world's image size (64x64 pixels, 16x16x4 latents) but a few
// channels wide, for evaluation tests: the tables need decodes the size of the true images.
import { toTokenizerJson, trainBpe } from '../../src/data/tokenizer/bpe.js';
import { loadTokenizer, type PumaTokenizer } from '../../src/data/tokenizer/tokenizer.js';
import type { EmojiWorld } from '../../src/data/emoji/world.js';
import { EvalEncoder } from '../../src/eval/encoder.js';
import { clipTextConfig, clipVisionConfig, llamaConfig, unetConfig, vaeConfig } from '../../src/io/config.js';
import { CLIPModel } from '../../src/models/clip/model.js';
import { PumaDecoder } from '../../src/models/puma/decoder.js';
import { MultiGranularEncoder, SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import { PumaMLLM } from '../../src/models/puma/mllm.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import type { MllmStage, PumaModel } from '../../src/pipelines/model.js';
import type { MllmConfig } from '../../src/models/puma/mllm-config.js';
import * as T from '../../src/tensor/index.js';

const C = 8;

export function tinyTokenizer(world: EmojiWorld): PumaTokenizer {
  return loadTokenizer(toTokenizerJson(trainBpe(world.concepts.map((c) => c.label.toLowerCase()), 600)));
}

export function tinyClip(tok: PumaTokenizer, seed: number): CLIPModel {
  T.manualSeed(seed);
  return new CLIPModel({
    visionConfig: clipVisionConfig({
      hidden_size: C, intermediate_size: 16, projection_dim: C, num_hidden_layers: 1, num_attention_heads: 2, image_size: 64, patch_size: 4,
    }),
    textConfig: clipTextConfig({
      vocab_size: tok.vocabSize, hidden_size: C, intermediate_size: 16, projection_dim: C, num_hidden_layers: 1, num_attention_heads: 2,
      max_position_embeddings: 32, pad_token_id: tok.special.pad, bos_token_id: tok.special.bos, eos_token_id: tok.special.eos,
    }),
    projectionDim: C, logitScaleInitValue: Math.log(1 / 0.07),
  }).freeze().eval();
}

/** Decoders for the given scales only (the others null), an MLLM registered under `stages`. */
export function tinyPuma64(tok: PumaTokenizer, scales: readonly number[], stages: readonly MllmStage[] = ['pretrain']): PumaModel {
  const clip = tinyClip(tok, 0);
  const vae = new AutoencoderKL(vaeConfig({
    block_out_channels: [4, 4, 4], down_block_types: Array(3).fill('DownEncoderBlock2D'),
    up_block_types: Array(3).fill('UpDecoderBlock2D'), layers_per_block: 1, latent_channels: 4, norm_num_groups: 2,
  })).freeze().eval();
  const decoders = SCALE_TOKENS.map((_, k) => (scales.includes(k) ? tinyDecoder(k, 16, 4).freeze().eval() : null));
  const encoder = new MultiGranularEncoder(clip.vision_model);
  T.manualSeed(1);
  const mllm = new PumaMLLM(tinyMllmConfig(tok)).freeze().eval();
  const mllms = Object.fromEntries(stages.map((s) => [s, mllm]));
  return { clip, tokenizer: tok, encoder, vae, scalingFactor: 1, decoders, nullScales: encoder.nullScales(), mllm, mllms };
}

/** A decoder for scale k on latentSize^2 x 4 latents, its UNet `width` channels wide (random weights). */
export function tinyDecoder(k: number, latentSize: number, width: number): PumaDecoder {
  return new PumaDecoder({
    scale: k, featureDim: C, latentChannels: 4, latentSize, spatialChannels: 0,
    unet: unetConfig({
      sample_size: latentSize, in_channels: 4, out_channels: 4,
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      block_out_channels: [width, width], layers_per_block: 1, attention_head_dim: 2, cross_attention_dim: width, norm_num_groups: width / 2,
      mapping_dim: C, mapping_dim1: width, num_tokens: SCALE_TOKENS[k], use_embeds: k === 0, use_linear_projection: true,
    }),
  });
}

/** A one-layer LLaMA MLLM config over `tok` for featureDim-channel features. */
export function tinyMllmConfig(tok: PumaTokenizer, featureDim = C): Readonly<MllmConfig> {
  return Object.freeze({
    llm: llamaConfig({
      vocab_size: tok.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
      num_key_value_heads: 1, max_position_embeddings: 1024, rope_theta: 10000, rms_norm_eps: 1e-5,
      bos_token_id: tok.special.bos, eos_token_id: tok.special.eos,
    }),
    featureDim, projector: 'mlp2x_gelu' as const, tokens: tok.special,
  });
}

export function tinyEvalEncoder(tok: PumaTokenizer): EvalEncoder {
  return new EvalEncoder(tinyClip(tok, 7), tok);
}
