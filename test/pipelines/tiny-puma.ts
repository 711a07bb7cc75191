// A random PUMA small enough for a test, shared by the pipeline and server tests.
import { toTokenizerJson, trainBpe } from '../../src/data/tokenizer/bpe.js';
import { loadTokenizer } from '../../src/data/tokenizer/tokenizer.js';
import { llamaConfig, unetConfig, vaeConfig } from '../../src/io/config.js';
import type { Image } from '../../src/io/image.js';
import { PumaDecoder } from '../../src/models/puma/decoder.js';
import { MultiGranularEncoder, SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import { PumaMLLM } from '../../src/models/puma/mllm.js';
import type { MllmConfig } from '../../src/models/puma/mllm-config.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import type { PumaModel } from '../../src/pipelines/model.js';
import * as T from '../../src/tensor/index.js';
import { tinyClip } from '../eval/tiny.js';

export const C = 8;
const corpus = ['grinning face', 'red apple', 'smiling face with heart eyes', 'thumbs up', 'a Twemoji of a cat'];
export const tokJson = toTokenizerJson(trainBpe(corpus, 500));
export const tok = loadTokenizer(tokJson);

export function tinyMllm(featureDim = C, seed = 0): PumaMLLM {
  T.manualSeed(seed);
  const llm = llamaConfig({
    vocab_size: tok.vocabSize, hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1, num_attention_heads: 2,
    num_key_value_heads: 1, max_position_embeddings: 1024, rope_theta: 10000, rms_norm_eps: 1e-5,
    bos_token_id: tok.special.bos, eos_token_id: tok.special.eos,
  });
  const config: MllmConfig = { llm, featureDim, projector: 'mlp2x_gelu', tokens: tok.special };
  return new PumaMLLM(Object.freeze(config)).eval();
}

/** A random PUMA small enough for a test: 8-channel features on the 16x16 grid, 4x4 latents, 8x8 images. */
export function tinyPuma(): PumaModel {
  const clip = tinyClip(tok, 0); // seeds 0 first
  const vae = new AutoencoderKL(vaeConfig({
    block_out_channels: [8, 8], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
    up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4,
  }));
  const decoders = SCALE_TOKENS.map((tokens, k) => new PumaDecoder({
    scale: k, featureDim: C, latentChannels: 4, latentSize: 4, spatialChannels: 0,
    unet: unetConfig({
      sample_size: 4, in_channels: 4, out_channels: 4,
      down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'], up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'],
      block_out_channels: [8, 8], layers_per_block: 1, attention_head_dim: 2, cross_attention_dim: 8, norm_num_groups: 4,
      mapping_dim: C, mapping_dim1: 8, num_tokens: tokens, use_embeds: k === 0, use_linear_projection: true,
    }),
  }).eval());
  const encoder = new MultiGranularEncoder(clip.vision_model);
  const mllm = tinyMllm();
  return { clip, tokenizer: tok, encoder, vae, scalingFactor: 1, decoders, nullScales: encoder.nullScales(), mllm, mllms: { pretrain: mllm } };
}

export function testImage(w: number, h: number, seed = 1): Image {
  const g = new T.Generator(seed);
  return { width: w, height: h, channels: 3, data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(g.uniform() * 256)) };
}

