// The evaluation encoder: a second mini CLIP, trained on the emoji world with another seed
// (`puma train clip --runs runs/eval --seed 1`), never the model's own encoder. It stands in for
// the paper's CLIP ViT-B/32 (CLIP-I, CLIP-T) and DINO ViT-S/16, so every metric computed with it
// carries "[eval mini-CLIP]" in its name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type PumaTokenizer } from '../data/tokenizer/tokenizer.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import type { CLIPModel } from '../models/clip/model.js';
import { deferInit } from '../nn/module.js';
import { clipNormalize } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { latestCheckpoint, loadRunWeights } from '../train/run.js';
import { buildMiniClip, CLIP_TEXT_LEN } from '../train/recipes/clip.js';
import { textBatch } from '../train/recipes/common.js';

/** Where a model keeps its evaluation CLIP: `<bundle>/eval-clip` or `<runs>/eval`. */
export function evalClipDir(model: string): string {
  return existsSync(join(model, 'clip', 'model.safetensors')) ? join(model, 'eval-clip') : join(model, 'eval');
}

export const STANDIN = '[eval mini-CLIP]';

export class EvalEncoder {
  constructor(readonly clip: CLIPModel, readonly tokenizer: PumaTokenizer) {}

  /**
   * Loads the evaluation CLIP of a bundle (eval-clip/model.safetensors + the bundle's tokenizer)
   * or of a runs folder (runs/eval: its clip run and tokenizer.json).
   */
  static load(model: string): EvalEncoder {
    const dir = evalClipDir(model);
    const bundle = dir.endsWith('eval-clip');
    const tokPath = bundle ? join(model, 'tokenizer.json') : join(dir, 'tokenizer.json');
    const weights = bundle ? join(dir, 'model.safetensors') : join(dir, 'clip');
    if (!existsSync(tokPath) || (bundle ? !existsSync(weights) : !latestCheckpoint(weights))) {
      throw new Error(`no evaluation CLIP at ${dir}: train one with 'puma train clip --runs ${join(model, 'eval')} --seed 1' (then 'puma export')`);
    }
    const tok = loadTokenizer(tokPath);
    const clip = deferInit(() => buildMiniClip(tok));
    if (bundle) loadCheckpoint(clip, weights);
    else loadRunWeights(weights, { clip });
    clip.freeze().eval();
    return new EvalEncoder(clip, tok);
  }

  /** Unit-length image embeddings [B, D] of images [B, 3, 64, 64] in [0, 1]. */
  images(x: T.Tensor): T.Tensor {
    return T.noGrad(() => unit(this.clip.imageEmbeds(clipNormalize(x))));
  }

  /** Unit-length text embeddings [N, D] (lower-cased, as the mini CLIP was trained). */
  texts(texts: readonly string[]): T.Tensor {
    return T.noGrad(() => unit(this.clip.textEmbeds(textBatch(this.tokenizer, texts.map((s) => s.toLowerCase()), CLIP_TEXT_LEN))));
  }

  /** Unit-length patch tokens [B, P, C] of the last layer (no CLS): the DINO-style features. */
  patches(x: T.Tensor): T.Tensor {
    return T.noGrad(() => {
      const last = this.clip.vision_model.forward(clipNormalize(x)).lastHiddenState;
      return unit(last.narrow(1, 1, last.shape[1] - 1));
    });
  }

  /** CLIP-I: cosine of the image embeddings of each pair. */
  imageSimilarity(a: T.Tensor, b: T.Tensor): number[] {
    return T.tidy(() => Array.from(this.images(a).mul(this.images(b)).sum(-1).toArray()));
  }

  /** CLIP-T: cosine of each image with its text. */
  textSimilarity(x: T.Tensor, texts: readonly string[]): number[] {
    if (texts.length !== x.shape[0]) throw new RangeError(`${x.shape[0]} images but ${texts.length} texts`);
    return T.tidy(() => Array.from(this.images(x).mul(this.texts(texts)).sum(-1).toArray()));
  }

  /** DINO-style: mean over patch positions of the cosine of corresponding patch tokens (layout-aware). */
  patchSimilarity(a: T.Tensor, b: T.Tensor): number[] {
    return T.tidy(() => Array.from(this.patches(a).mul(this.patches(b)).sum(-1).mean(-1).toArray()));
  }
}

function unit(e: T.Tensor): T.Tensor {
  return e.div(e.square().sum(-1, true).sqrt().add(1e-12));
}
