// A random PUMA small enough for a test, shared by the pipeline and server tests.
import { toTokenizerJson, trainBpe } from '../../src/data/tokenizer/bpe.js';
import { loadTokenizer } from '../../src/data/tokenizer/tokenizer.js';
import { vaeConfig } from '../../src/io/config.js';
import type { Image } from '../../src/io/image.js';
import { MultiGranularEncoder, SCALE_TOKENS } from '../../src/models/puma/encoder.js';
import { PumaMLLM } from '../../src/models/puma/mllm.js';
import { AutoencoderKL } from '../../src/models/vae/model.js';
import type { PumaModel } from '../../src/pipelines/model.js';
import * as T from '../../src/tensor/index.js';
import { tinyClip, tinyDecoder, tinyMllmConfig } from '../eval/tiny.js';

export const C = 8;
const corpus = ['grinning face', 'red apple', 'smiling face with heart eyes', 'thumbs up', 'a Twemoji of a cat'];
export const tokJson = toTokenizerJson(trainBpe(corpus, 500));
export const tok = loadTokenizer(tokJson);

export function tinyMllm(featureDim = C, seed = 0): PumaMLLM {
  T.manualSeed(seed);
  return new PumaMLLM(tinyMllmConfig(tok, featureDim)).eval();
}

/** A random PUMA small enough for a test: 8-channel features on the 16x16 grid, 4x4 latents, 8x8 images. */
export function tinyPuma(): PumaModel {
  const clip = tinyClip(tok, 0); // seeds 0 first
  const vae = new AutoencoderKL(vaeConfig({
    block_out_channels: [8, 8], down_block_types: ['DownEncoderBlock2D', 'DownEncoderBlock2D'],
    up_block_types: ['UpDecoderBlock2D', 'UpDecoderBlock2D'], layers_per_block: 1, latent_channels: 4, norm_num_groups: 4,
  }));
  const decoders = SCALE_TOKENS.map((_, k) => tinyDecoder(k, 4, 8).eval());
  const encoder = new MultiGranularEncoder(clip.vision_model);
  const mllm = tinyMllm();
  return { clip, tokenizer: tok, encoder, vae, scalingFactor: 1, decoders, nullScales: encoder.nullScales(), mllm, mllms: { pretrain: mllm } };
}

export function testImage(w: number, h: number, seed = 1): Image {
  const g = new T.Generator(seed);
  return { width: w, height: h, channels: 3, data: Uint8Array.from({ length: w * h * 3 }, () => Math.floor(g.uniform() * 256)) };
}

