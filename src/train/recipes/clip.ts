// Stage 0a: the mini CLIP (image ViT + text transformer, contrastive loss) on the emoji world.
// Frozen afterwards, its vision tower is PUMA's multi-granular encoder.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadEmojiWorld, type EmojiWorld } from '../../data/emoji/world.js';
import { imageBatch } from '../../data/batches.js';
import { writeConfigJson, type CLIPConfig } from '../../io/config.js';
import { CLIPModel } from '../../models/clip/model.js';
import { MINI_CLIP_VISION, miniClipText } from '../../models/puma/small.js';
import { AdamW } from '../../nn/optim.js';
import { warmupCosine } from '../../nn/schedule.js';
import * as T from '../../tensor/index.js';
import { runTraining, type RunResult } from '../run.js';
import { captionOf, distinctConceptBatch, runTokenizer, textBatch, type RecipeOptions } from './common.js';
import type { PumaTokenizer } from '../../data/tokenizer/tokenizer.js';

export const CLIP_TEXT_LEN = 32;

export function buildMiniClip(tok: PumaTokenizer): CLIPModel {
  const config: CLIPConfig = {
    visionConfig: MINI_CLIP_VISION,
    textConfig: miniClipText(tok.vocabSize, tok.special.pad, tok.special.bos, tok.special.eos),
    projectionDim: 128,
    logitScaleInitValue: Math.log(1 / 0.07),
  };
  return new CLIPModel(config);
}

/** Zero-shot image -> caption top-1 over the split's distinct concept labels. */
export function clipZeroShot(clip: CLIPModel, world: EmojiWorld, tok: PumaTokenizer, split: 'val' | 'test', limit = 400): number {
  return T.noGrad(() => T.tidy(() => {
    const imgs = world.imagesIn(split).slice(0, limit);
    const concepts = [...new Set(imgs.map((i) => i.concept))];
    const labels = concepts.map((c) => world.concepts[c].label.toLowerCase());
    const norm = (e: T.Tensor) => e.div(e.square().sum(-1, true).sqrt());
    const txt = norm(clip.textEmbeds(textBatch(tok, labels, CLIP_TEXT_LEN)));
    let correct = 0;
    for (let s = 0; s < imgs.length; s += 64) {
      const chunk = imgs.slice(s, s + 64);
      const img = norm(clip.imageEmbeds(imageBatch(world, chunk.map((i) => i.id), 'clip')));
      const best = img.matmul(txt.transpose(0, 1)).argmax(-1).toArray();
      chunk.forEach((im, k) => { if (concepts[best[k]] === im.concept) correct++; });
    }
    return correct / imgs.length;
  }));
}

export async function trainClip(o: RecipeOptions): Promise<RunResult> {
  const world = loadEmojiWorld(o.data);
  const tok = runTokenizer(world, o.runs);
  const dir = join(o.runs, 'clip');
  const steps = o.steps ?? 800, B = o.batch ?? 64;
  T.manualSeed(o.seed ?? 0);
  const clip = buildMiniClip(tok);
  mkdirSync(dir, { recursive: true });
  writeConfigJson(join(dir, 'config.json'), { ...clip.config }, { model_type: 'clip' });
  const opt = new AdamW(clip.parameters(), { lr: 5e-4, weightDecay: 0.1, beta2: 0.98 });
  const labels = T.arange(0, B, 1, 'int32').keep();
  return runTraining({
    name: 'clip', dir, modules: { clip }, optimizer: opt, totalSteps: steps, seed: o.seed, progress: o.progress,
    schedule: warmupCosine({ warmupSteps: 100, totalSteps: steps, minRatio: 0.05 }), clipGrad: 1.0,
    step: (_i, rng) => {
      const ids = distinctConceptBatch(world, 'train', B, rng);
      const pixels = imageBatch(world, ids, 'clip');
      const text = textBatch(tok, ids.map((id) => captionOf(world, id, rng)), CLIP_TEXT_LEN);
      const { logitsPerImage, logitsPerText } = clip.similarity(pixels, text);
      const loss = T.crossEntropy(logitsPerImage, labels).add(T.crossEntropy(logitsPerText, labels)).mul(0.5);
      loss.backward();
      return { loss: loss.item(), scale: Math.exp(clip.logit_scale.item()) };
    },
    evalEvery: 200,
    evaluate: () => ({ zeroShotVal: clipZeroShot(clip, world, tok, 'val') }),
  });
}
