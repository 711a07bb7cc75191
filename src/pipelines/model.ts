// A trained small PUMA loaded for inference: encoder, VAE, the decoders that exist, the
// null-image features for guidance, and the MLLMs that exist (pretrained and instruction-tuned).
// Reads a runs folder (the training checkpoints).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadEmojiWorld, type EmojiWorld } from '../data/emoji/world.js';
import type { CLIPModel } from '../models/clip/model.js';
import type { PumaTokenizer } from '../data/tokenizer/tokenizer.js';
import { corpusWords } from '../data/tokenizer/corpus.js';
import { type Neighbours, parseNeighbours } from '../data/neighbours.js';
import { PumaDecoder, smallDecoderConfig } from '../models/puma/decoder.js';
import type { MultiGranularEncoder } from '../models/puma/encoder.js';
import type { PumaMLLM } from '../models/puma/mllm.js';
import type { AutoencoderKL } from '../models/vae/model.js';
import { deferInit } from '../nn/module.js';
import * as T from '../tensor/index.js';
import { latestCheckpoint, loadRunWeights } from '../train/run.js';
import { loadFrozenStack } from '../train/recipes/stack.js';
import { runTokenizer } from '../train/recipes/common.js';
import { loadTrainedMllm, MLLM_TASKS, mllmRunDir, type MllmTask } from '../train/recipes/mllm.js';

/** The MLLM training stages: pretraining, then one instruction-tuned model per task family. */
export type MllmStage = 'pretrain' | MllmTask;
export const MLLM_STAGES: readonly MllmStage[] = ['pretrain', ...MLLM_TASKS];

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
  /** The pretrained MLLM (text-to-image and image-to-text), or null where none is trained. */
  mllm: PumaMLLM | null;
  /** Every MLLM present, by stage: 'pretrain' and the instruction-tuned 't2i', 'edit', 'cond', 'canny', 'understand'. */
  mllms: Partial<Record<MllmStage, PumaMLLM>>;
  /**
   * Every word of the training captions (corpusWords of the training split), to tell a user which
   * words of a prompt the model never read; absent for bundles written without it.
   */
  trainingWords?: ReadonlySet<string>;
  /**
   * For words no training label or tag has, the nearest one that has (GloVe vectors; our
   * addition, src/data/neighbours.ts): what the text-to-image MLLM reads in their place. From
   * word-neighbours.tsv in the bundle or runs folder; absent without it.
   */
  neighbours?: Neighbours;
}

/** The nearest-known-word table's file in a bundle or runs folder. */
export const NEIGHBOURS_FILE = 'word-neighbours.tsv';

/** `{ neighbours }` from <dir>/word-neighbours.tsv, or nothing when the folder has none. */
export function readNeighbours(dir: string): { neighbours?: Neighbours } {
  const path = join(dir, NEIGHBOURS_FILE);
  return existsSync(path) ? { neighbours: parseNeighbours(readFileSync(path, 'utf8'), path) } : {};
}

/** What a task runs on: its instruction-tuned MLLM, else a stand-in (with a note saying so). */
export interface TaskMllm { mllm: PumaMLLM; stage: MllmStage; note?: string }

/**
 * The MLLM for a task family, falling back to the pretrained one. Canny-to-image falls back to
 * mllm-cond first: models trained before canny had its own stage learned it there.
 *
 * @example
 * const { mllm, stage, note } = mllmFor(puma, 'edit'); // stage 'pretrain' when no mllm-edit exists
 */
export function mllmFor(model: PumaModel, task: MllmTask): TaskMllm {
  const tuned = model.mllms[task];
  if (tuned) return { mllm: tuned, stage: task };
  if (task === 'canny' && model.mllms.cond) return { mllm: model.mllms.cond, stage: 'cond' };
  const base = model.mllms.pretrain ?? model.mllm;
  if (!base) throw new Error(`no MLLM in this model: train one with 'puma train mllm --stage pretrain' (and '--stage instruct --task ${task}')`);
  return { mllm: base, stage: 'pretrain', note: `no instruction-tuned MLLM for '${task}' (mllm-${task}): using the pretrained one` };
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
    const dec = deferInit(() => new PumaDecoder(smallDecoderConfig(k, stack.encoder.featureDim, spatial ?? 16)));
    whileRotating(() => loadRunWeights(dir, { decoder: dec }));
    return dec.freeze().eval();
  });
  const mllms: PumaModel['mllms'] = {};
  for (const stage of MLLM_STAGES) {
    const dir = mllmRunDir(runs, stage);
    if (latestCheckpoint(dir)) mllms[stage] = whileRotating(() => loadTrainedMllm(dir)).freeze();
  }
  return {
    ...stack, tokenizer: runTokenizer(w, runs), decoders, nullScales: stack.encoder.nullScales(),
    mllm: mllms.pretrain ?? null, mllms,
    trainingWords: corpusWords(w.imagesIn('train').map((im) => w.concepts[im.concept])),
    ...readNeighbours(runs),
  };
}

/**
 * Reads a checkpoint of a run that may still be training: a run replaces its checkpoint folder
 * every few minutes, so a read that lands between `latest` and the old folder's removal is retried.
 */
function whileRotating<R>(read: () => R, tries = 3): R {
  for (let i = 1; ; i++) {
    try {
      return read();
    } catch (err) {
      if (i >= tries || !(err instanceof Error) || !/ENOENT|no such file|no checkpoint in/i.test(err.message)) throw err;
    }
  }
}
