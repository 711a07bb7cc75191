// A trained small PUMA loaded for inference: encoder, VAE, the decoders that exist, the
// null-image features for guidance. Reads a runs folder (the training checkpoints).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEmojiWorld, type EmojiWorld } from '../data/emoji/world.js';
import type { CLIPModel } from '../models/clip/model.js';
import type { PumaTokenizer } from '../data/tokenizer/tokenizer.js';
import { PumaDecoder, smallDecoderConfig } from '../models/puma/decoder.js';
import { poolScales, type MultiGranularEncoder } from '../models/puma/encoder.js';
import type { AutoencoderKL } from '../models/vae/model.js';
import * as T from '../tensor/index.js';
import { latestCheckpoint, loadRunWeights } from '../train/run.js';
import { loadFrozenStack } from '../train/recipes/stack.js';
import { runTokenizer } from '../train/recipes/common.js';

export interface PumaModel {
  /** The whole mini CLIP (its vision tower is the encoder; both towers score images for --best). */
  clip: CLIPModel;
  tokenizer: PumaTokenizer;
  encoder: MultiGranularEncoder;
  vae: AutoencoderKL;
  scalingFactor: number;
  /** Decoder of scale k, or null where it has not been trained. */
  decoders: (PumaDecoder | null)[];
  /** f0..f4 of an all-black image (the unconditional branch). */
  nullScales: T.Tensor[];
}

/** Features of an all-black image, pooled like any other. */
export function nullImageScales(encoder: MultiGranularEncoder, size = 64): T.Tensor[] {
  return T.tidy(() => {
    const mean = [0.48145466, 0.4578275, 0.40821073], std = [0.26862954, 0.26130258, 0.27577711];
    const black = T.Tensor.empty([1, 3, size, size]);
    for (let c = 0; c < 3; c++) black.data.fill(-mean[c] / std[c], c * size * size, (c + 1) * size * size);
    const f0 = encoder.encode(black)[0];
    return poolScales(f0, 1, 16, f0.shape[2]).map((x) => x.keep());
  });
}

/**
 * Loads what a runs folder holds. World is needed only to measure an unfinished VAE's scale.
 *
 * @example
 * const puma = loadPumaFromRuns('runs');
 * puma.decoders[0]; // D0, if trained
 */
export function loadPumaFromRuns(runs: string, world?: EmojiWorld, data = 'data/emoji'): PumaModel {
  if (!existsSync(runs)) throw new Error(`no model at ${runs}: train one (puma train ...) or point --model at a runs folder`);
  const w = world ?? loadEmojiWorld(data);
  const stack = loadFrozenStack(w, runs);
  const decoders = [0, 1, 2, 3, 4].map((k) => {
    const dir = join(runs, `decoder-${k}`);
    if (!latestCheckpoint(dir)) return null;
    const cfgPath = join(dir, 'config.json');
    const spatial = existsSync(cfgPath) ? (JSON.parse(readFileSync(cfgPath, 'utf8')).spatial_channels as number | undefined) : undefined;
    const dec = new PumaDecoder(smallDecoderConfig(k, stack.encoder.featureDim, spatial ?? 16));
    loadRunWeights(dir, { decoder: dec });
    return dec.freeze().eval();
  });
  return { ...stack, tokenizer: runTokenizer(w, runs), decoders, nullScales: nullImageScales(stack.encoder) };
}
