// Stage 2 and 3: the MLLM. Pretraining on caption pairs, each used half the time as
// text-to-image and half as image-to-text (paper 3.3, 4.1); then instruction tuning, one run per
// task family, from the pretrained checkpoint. Image features come from the frozen mini CLIP.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { renderRef, type ImageRef } from '../../data/derive.js';
import { loadEmojiWorld, type EmojiWorld } from '../../data/emoji/world.js';
import type { Split } from '../../data/emoji/meta.js';
import { Rng } from '../../data/rng.js';
import { makeSample, type SampleOptions, sampleTask, taskItems } from '../../data/tasks/samplers.js';
import { instructionText, type Sample, type TaskName } from '../../data/tasks/sample.js';
import { tokenizeSample } from '../../data/tasks/sequence.js';
import type { PumaTokenizer } from '../../data/tokenizer/tokenizer.js';
import { CLIP_MEAN, CLIP_STD } from '../../io/image.js';
import { writeConfigJson } from '../../io/config.js';
import { coarseToFine, MultiGranularEncoder, SCALE_TOKENS } from '../../models/puma/encoder.js';
import { EMOJI_SCALE_WEIGHTS, IMAGE_SLOTS, PumaMLLM, SCALE_OFFSETS, SCALE_WEIGHTS, type MllmPart } from '../../models/puma/mllm.js';
import { mllmConfigFromJson, mllmConfigJson, smallMllmConfig, type MllmConfig } from '../../models/puma/mllm-config.js';
import { AdamW } from '../../nn/optim.js';
import { RidgeAccumulator } from '../../nn/ridge.js';
import { warmupCosine } from '../../nn/schedule.js';
import * as T from '../../tensor/index.js';
import { latestCheckpoint, loadRunWeights, runTraining, type Metrics, type RunResult } from '../run.js';
import { buildMiniClip } from './clip.js';
import { runTokenizer, type RecipeOptions } from './common.js';

/**
 * The instruction-tuning families. The paper's conditional generation is split in two here:
 * 'cond' (inpainting, colorization: the target is the input changed, a residual head fits) and
 * 'canny' (canny-to-image: the target is drawn whole from an edge map, no residual). On its own,
 * canny stopped drifting and decodes 1.5 dB better than inside cond (docs/PUMA.md, session 9). A
 * model without mllm-canny runs canny-to-image on mllm-cond (see mllmFor).
 */
export const MLLM_TASKS = ['t2i', 'edit', 'cond', 'canny', 'understand'] as const;
export type MllmTask = (typeof MLLM_TASKS)[number];

export interface MllmRecipeOptions extends RecipeOptions {
  stage: 'pretrain' | 'instruct';
  /** The instruction-tuning family (instruct only). */
  task?: MllmTask;
  /** alpha of the feature loss, f4..f0 as the paper writes them; 'emoji' (default) or 'paper'. */
  scaleWeights?: 'emoji' | 'paper' | readonly number[];
  /** The backbone's peak learning rate (the adapters get twice it); MLLM_LR by default. */
  lr?: number;
  /**
   * t2i and edit: the share of samples whose caption is dropped (`<s> [IMG] ...`; for edit the
   * instruction is left empty, as `instructionParts(.., '')` writes it), so that the unconditional
   * branch of text (instruction) guidance is a prompt the model was trained on. Our addition,
   * not the paper's (InstructPix2Pix drops its instruction so); CAPTION_DROPOUT by default for
   * t2i, 0 for edit; 0 turns it off.
   */
  captionDropout?: number;
  /**
   * instruct only: the stage whose weights a new run starts from; 'pretrain' (the paper) by
   * default. Starting edit or cond from 't2i' reuses a fine-scale regression already learned.
   * A path to a run folder (anything with a '/') starts from that run instead.
   */
  init?: 'pretrain' | MllmTask | string;
  /**
   * t2i, edit and cond: the share of a target's feature slots read as the model's own
   * teacher-forced prediction instead of the true features (parallel scheduled sampling,
   * Duckworth et al. 2019; our addition, not the paper's). Generation feeds the regression back
   * slot after slot, and a model trained only on true features lets its errors grow: f0 of
   * held-out edits drifted to 4.5x the targets' spread free-running against 0.3 teacher-fed, f0
   * of text-to-image on training captions to 2.3x against 0.2. 0 (default) is plain teacher forcing.
   */
  selfFeed?: number;
  /** Prediction passes behind --self-feed (1 by default; see feedOwnPredictions). */
  selfFeedPasses?: number;
  /**
   * Give the model a learned embedding per feature slot (PumaMLLM's slot_embedding; our addition,
   * not the paper's), zero at the start so weights trained without it go on unchanged. A run
   * keeps what its config says when this is not given.
   */
  slotEmbedding?: boolean;
  /**
   * edit and cond: regress the target as the input image's features plus the head's output
   * (PumaMLLM's inputResidual; our addition). A new run started (--init) from weights trained
   * without it starts its head at zero, i.e. at "change nothing". A run keeps what its config
   * says when this is not given.
   */
  inputResidual?: boolean;
  /**
   * edit, cond and canny: the input residual through a learned linear map of the input's features
   * (PumaMLLM's input_map; our addition), edge maps included. A new run starts the map at the
   * ridge read-out of the targets' features from their inputs' (fitted on 512 training samples)
   * and the head at zero, so it starts as that read-out. A run keeps what its config says when
   * this is not given.
   */
  inputMap?: boolean;
  /**
   * t2i and pretrain: 2 in 9 captions are the WordNet definitions of the name (MllmConfig's
   * definitions; our addition). A run keeps what its config (or, new, the one it starts from) says when this is not given.
   */
  definitions?: boolean;
}

/** The stages whose output is determined by their input image: the input residual applies. */
const IMAGE_TO_IMAGE: readonly MllmTask[] = ['edit', 'cond'];
/** The stages whose target follows an input image: the input map applies. */
const MAPPED: readonly MllmTask[] = [...IMAGE_TO_IMAGE, 'canny'];
/** The stages whose target image generation writes slot after slot: self-feed and the free-running val error apply. */
const WRITES_IMAGES: readonly MllmTask[] = ['t2i', ...IMAGE_TO_IMAGE, 'canny'];

/** The slot embedding's learning rate as a multiple of the backbone's. */
const SLOT_LR_FACTOR = 5;

/** A run folder with a checkpoint: its saved config and what its recipe records it started from (`init`); else null. */
function savedRun(dir: string): { config: Readonly<MllmConfig>; init: string | null } | null {
  const p = join(dir, 'config.json');
  if (!existsSync(p) || !latestCheckpoint(dir)) return null;
  const raw = JSON.parse(readFileSync(p, 'utf8')) as Record<string, unknown> & { recipe?: { init?: unknown } };
  return { config: mllmConfigFromJson(raw), init: typeof raw.recipe?.init === 'string' ? raw.recipe.init : null };
}

/** The saved config of a run folder with a checkpoint, or null. */
function savedMllmConfig(dir: string): Readonly<MllmConfig> | null {
  return savedRun(dir)?.config ?? null;
}

/**
 * A run's additions to the paper's MLLM: as asked, or as its saved config (or, for a new run, the
 * config of the run it starts from, `fromConfig`) says when not asked. A trained run keeps its
 * slot embedding, and takes the input residual only from its start (its head would have to be
 * relearned: start a new run with --init from it). A new residual run takes edge maps as no
 * residual base (residualSkipsEdgeMaps); a resumed one keeps what it was trained with.
 */
function runAdditions(dir: string, saved: Readonly<MllmConfig> | null, o: MllmRecipeOptions, fromConfig: Readonly<MllmConfig> | null): { slotEmbedding: boolean; inputResidual: boolean; residualSkipsEdgeMaps: boolean; inputMap: boolean } {
  // a new run keeps the slot embedding of the weights it starts from
  const had = { slotEmbedding: (saved ?? fromConfig)?.slotEmbedding === true, inputResidual: saved?.inputResidual === true };
  if (o.slotEmbedding === false && had.slotEmbedding) throw new Error(`${dir} was trained with the slot embedding; it cannot be dropped (start a new run)`);
  if (saved && o.inputResidual !== undefined && o.inputResidual !== had.inputResidual) {
    throw new Error(`${dir} was trained ${had.inputResidual ? 'with' : 'without'} the input residual; start a new run (--init <that run folder>) to change it`);
  }
  const inputResidual = o.inputResidual ?? had.inputResidual;
  // edge maps are no residual base in new runs; a resumed run keeps what it was trained with
  const residualSkipsEdgeMaps = inputResidual && (saved ? saved.residualSkipsEdgeMaps === true : true);
  const hadMap = (saved ?? fromConfig)?.inputMap === true;
  if (saved && o.inputMap !== undefined && o.inputMap !== hadMap) {
    throw new Error(`${dir} was trained ${hadMap ? 'with' : 'without'} the input map; start a new run (--init <that run folder>) to change it`);
  }
  if (o.inputMap === false && hadMap) throw new Error('the weights this run starts from have an input map; it cannot be dropped');
  return { slotEmbedding: o.slotEmbedding ?? had.slotEmbedding, inputResidual, residualSkipsEdgeMaps, inputMap: o.inputMap ?? hadMap };
}

/** t2i's default caption dropout, the share diffusion models usually train their unconditional branch with. */
export const CAPTION_DROPOUT = 0.1;

/** alpha for f0..f4 from the recipe option (given f4..f0, as the paper lists them). */
export function resolveScaleWeights(w: MllmRecipeOptions['scaleWeights'] = 'emoji'): readonly number[] {
  if (w === 'emoji') return EMOJI_SCALE_WEIGHTS;
  if (w === 'paper') return SCALE_WEIGHTS;
  if (w.length !== 5 || w.some((v) => !Number.isFinite(v) || v < 0)) throw new Error(`scale weights need five numbers >= 0 for f4..f0, got ${w.join(',')}`);
  return [...w].reverse();
}

/**
 * Learning rates. The paper's 1e-4 (projector, head) and 3e-5 (LLM) tune a pretrained 8B LLaMA
 * with batch 2048. Here the backbone starts from random weights at 5M parameters and batch 8:
 * it needs a from-scratch rate (nanoGPT trains models of this size at 1e-3). We keep the
 * paper's ordering, adapters above the backbone: 1e-3 and 5e-4. Instruction tuning uses a third
 * of these, as the paper's text-to-image tuning (1e-5) is a third of its LLM pretraining rate.
 */
export const MLLM_LR = { pretrain: { adapters: 1e-3, llm: 5e-4 }, instruct: { adapters: 1e-3 / 3, llm: 5e-4 / 3 } };
const DEFAULT_STEPS = { pretrain: 3000, instruct: 1000 };

/** The run folder of a stage: runs/mllm-pretrain, runs/mllm-t2i, runs/mllm-edit, ... */
export function mllmRunDir(runs: string, stage: 'pretrain' | MllmTask): string {
  return join(runs, `mllm-${stage}`);
}

/** The trained mini CLIP's vision tower as the frozen multi-granular encoder. */
export function loadFrozenEncoder(tok: PumaTokenizer, runs: string): MultiGranularEncoder {
  const dir = join(runs, 'clip');
  if (!latestCheckpoint(dir)) throw new Error(`no trained mini CLIP in ${dir}: run \`puma train clip\` first`);
  const clip = buildMiniClip(tok);
  loadRunWeights(dir, { clip });
  clip.freeze().eval();
  return new MultiGranularEncoder(clip.vision_model);
}

/** Rendered references as one CLIP-normalised [N, 3, H, W] batch (derived images included). */
export function refPixels(world: EmojiWorld, refs: readonly ImageRef[]): T.Tensor {
  const H = world.height, W = world.width, n = H * W;
  const out = T.Tensor.empty([refs.length, 3, H, W]);
  const d = out.data;
  refs.forEach((ref, b) => {
    const px = renderRef(world, ref).data;
    for (let c = 0; c < 3; c++) {
      const base = (b * 3 + c) * n, scale = 1 / (255 * CLIP_STD[c]), shift = -CLIP_MEAN[c] / CLIP_STD[c];
      for (let i = 0; i < n; i++) d[base + i] = px[i * 3 + c] * scale + shift;
    }
  });
  return out;
}

/** Features [341, C] (f4..f0) of each reference, encoded in one batch without gradients. */
export function encodeRefs(encoder: MultiGranularEncoder, world: EmojiWorld, refs: readonly ImageRef[]): T.Tensor[] {
  if (!refs.length) return [];
  return T.noGrad(() => {
    const seq = coarseToFine(encoder.encode(refPixels(world, refs)));
    return refs.map((_, i) => seq.narrow(0, i, 1).reshape([IMAGE_SLOTS, encoder.featureDim]));
  });
}

/**
 * Per-channel mean of the features of n training images. Average pooling keeps the mean, so it
 * is the mean of every scale f0..f4 alike.
 */
export function featureMean(encoder: MultiGranularEncoder, world: EmojiWorld, n = 256): Float32Array {
  const imgs = world.imagesIn('train');
  const ids = Array.from({ length: Math.min(n, imgs.length) }, (_, i) => imgs[Math.floor((i * imgs.length) / Math.min(n, imgs.length))].id);
  const c = encoder.featureDim, sum = new Float64Array(c);
  T.tidy(() => {
    for (let s = 0; s < ids.length; s += 32) {
      const f4 = encoder.encode(refPixels(world, ids.slice(s, s + 32).map((image) => ({ image }))))[4].toArray();
      for (let i = 0; i < f4.length; i++) sum[i % c] += f4[i];
    }
  });
  return Float32Array.from(sum, (v) => v / ids.length);
}

/** Tokenised samples with their images replaced by encoded features: the MLLM's input. */
export function samplesToParts(samples: readonly Sample[], tok: PumaTokenizer, encoder: MultiGranularEncoder, world: EmojiWorld): MllmPart[][] {
  const seqs = samples.map((s) => tokenizeSample(s, tok));
  const refs = seqs.flatMap((parts) => parts.flatMap((p) => (p.kind === 'image' ? [p.ref] : [])));
  const feats = encodeRefs(encoder, world, refs);
  let n = 0;
  return seqs.map((parts) => parts.map((p): MllmPart => {
    if (p.kind !== 'image') return p;
    return { kind: 'image', features: feats[n++], role: p.role, ...(p.ref.op === 'canny' ? { edgeMap: true } : {}) };
  }));
}

/** The same caption pair as text-to-image or (probability 0.5) image-to-text. */
function captionPair(world: EmojiWorld, split: Split, rng: Rng, opts: SampleOptions): Sample {
  const id = rng.pick(taskItems(world, 'text-to-image', split)) as number;
  const t2i = makeSample(world, 'text-to-image', split, id, rng, opts);
  if (rng.next() < 0.5) return t2i;
  const caption = String(t2i.meta.caption);
  return { task: 'caption', split, meta: { image: id, caption }, segments: [{ kind: 'image', ref: { image: id }, role: 'input' }, { kind: 'text', text: caption, loss: true }] };
}

/** n samples of a stage's data from one seeded generator. */
export function drawSamples(world: EmojiWorld, stage: 'pretrain' | MllmTask, split: Split, n: number, seed: string, captionDropout = 0, opts: SampleOptions = {}): Sample[] {
  const rng = new Rng(`mllm:${stage}:${split}:${seed}`);
  const one = (task: TaskName) => makeSample(world, task, split, rng.pick(taskItems(world, task, split)), rng, opts);
  switch (stage) {
    case 'pretrain':
      return Array.from({ length: n }, () => captionPair(world, split, rng, opts));
    case 't2i': {
      // its own generator, so the samples that keep their caption are those drawn without dropout
      const drop = new Rng(`mllm:t2i:${split}:${seed}:drop`);
      return Array.from({ length: n }, () => {
        const s = one('text-to-image');
        return captionDropout > 0 && drop.next() < captionDropout ? { ...s, segments: s.segments.filter((x) => x.kind === 'image') } : s;
      });
    }
    case 'edit': {
      // kind-balanced, as sampleTask draws edits; a dropped instruction is left empty, as the
      // unconditional branch of instruction guidance writes it (instructionParts)
      const drop = new Rng(`mllm:edit:${split}:${seed}:drop`);
      return sampleTask(world, 'edit', split, n, rng.int(2 ** 31)).map((s) =>
        captionDropout > 0 && drop.next() < captionDropout
          ? { ...s, segments: s.segments.map((x) => (x.kind === 'text' ? { ...x, text: instructionText('') } : x)) }
          : s);
    }
    case 'cond':
      return Array.from({ length: n }, () => one(rng.pick(['inpaint', 'colorize'] as const)));
    case 'canny':
      return Array.from({ length: n }, () => one('canny'));
    case 'understand':
      return Array.from({ length: n }, () => one(rng.next() < 0.75 ? 'qa' : 'ground'));
  }
}

/**
 * Teacher-forced evaluation: feature MSE per scale over target images, and the accuracy of the
 * learned text tokens (captions, answers; `</s>` and `[/IMG]` not counted).
 */
export function evaluateMllm(mllm: PumaMLLM, batches: readonly (readonly MllmPart[])[][], baseline?: readonly number[]): Metrics {
  const sums = [0, 0, 0, 0, 0];
  let images = 0, correct = 0, counted = 0;
  const { eos, imgEnd } = mllm.config.tokens;
  T.noGrad(() => {
    for (const batch of batches) {
      T.tidy(() => {
        const out = mllm.forwardTeacher(batch), text = mllm.textLogits(out);
        const l = mllm.lossOf(out, text);
        if (l.targetImages) l.mse.forEach((m, k) => { sums[k] += m * l.targetImages; });
        images += l.targetImages;
        const { logits, targets } = text;
        if (!logits) return;
        const pred = logits.argmax(-1).toArray();
        targets.forEach((t, i) => {
          if (t === eos || t === imgEnd) return;
          counted++;
          if (pred[i] === t) correct++;
        });
      });
    }
  });
  const out: Metrics = {};
  if (images) sums.forEach((s, k) => { out[`mse${k}`] = s / images; });
  if (images && baseline) sums.forEach((s, k) => { out[`rel${k}`] = s / images / baseline[k]; });
  if (counted) out.tokenAcc = correct / counted;
  return out;
}

/**
 * MSE per scale (f0..f4) of the best constant prediction of the batches' target features (each
 * slot and channel predicted by its mean over the images): what a model that ignores its prompt
 * scores, the yardstick for evaluateMllm's mse_k (reported as rel_k = mse_k / this).
 */
export function constantBaseline(batches: readonly (readonly MllmPart[])[][]): number[] {
  const targets = batches.flat(2).flatMap((p) => (p.kind === 'image' && p.role === 'target' ? [p.features.contiguous().toArray()] : []));
  const out = [0, 0, 0, 0, 0];
  if (!targets.length) return out.map(() => NaN);
  const c = targets[0].length / IMAGE_SLOTS;
  for (let k = 0; k < 5; k++) {
    let sq = 0;
    for (let j = SCALE_OFFSETS[k] * c; j < (SCALE_OFFSETS[k] + SCALE_TOKENS[k]) * c; j++) {
      let mean = 0;
      for (const t of targets) mean += t[j] / targets.length;
      for (const t of targets) sq += (t[j] - mean) ** 2;
    }
    out[k] = sq / (targets.length * SCALE_TOKENS[k] * c);
  }
  return out;
}

/**
 * The batch with each target's feature slots read, with probability p each, as the model's own
 * teacher-forced prediction of that slot (computed without gradients); the targets stay the
 * true features. One pass of parallel scheduled sampling: the model learns to regress the right
 * next slot from inputs carrying its own kind of error. With `passes` > 1 each further pass
 * predicts again from all of the previous pass's predictions, so the errors compound as they
 * do in generation (2 passes: two slots deep).
 */
export function feedOwnPredictions(mllm: PumaMLLM, batch: readonly (readonly MllmPart[])[], p: number, rng: Rng, passes = 1): MllmPart[][] {
  if (!(Number.isInteger(passes) && passes >= 1)) throw new RangeError(`passes must be an integer >= 1, got ${passes}`);
  /** The batch with each target's input replaced per slot (mask 1) by the predictions. */
  const withFed = (pred: T.Tensor, share: number) => {
    let n = 0;
    return batch.map((parts) => parts.map((part): MllmPart => {
      if (part.kind !== 'image' || part.role !== 'target') return part;
      const own = pred.narrow(0, n++, 1).reshape(part.features.shape);
      if (share >= 1) return { ...part, fed: own };
      const mask = T.fromArray(Float32Array.from({ length: IMAGE_SLOTS }, () => (rng.next() < share ? 1 : 0)), [IMAGE_SLOTS, 1]);
      return { ...part, fed: part.features.add(own.sub(part.features).mul(mask)) };
    }));
  };
  if (p <= 0) return batch.map((parts) => [...parts]);
  let current: readonly (readonly MllmPart[])[] = batch;
  let pred: T.Tensor | null = null;
  for (let i = 0; i < passes; i++) {
    pred = T.noGrad(() => mllm.featurePredictions(mllm.forwardTeacher(current))?.pred ?? null);
    if (!pred) return batch.map((parts) => [...parts]);
    if (i + 1 < passes) current = withFed(pred, 1);
  }
  return withFed(pred!, p);
}

/**
 * Free-running feature MSE per scale (f0..f4) of samples with one target image each: the parts
 * before the target, without its `[IMG]`, are the prompt of generateImage, whose regression is fed
 * back slot after slot as in use. Relative to `baseline` when given (as evaluateMllm's rel_k).
 */
export function freeRunningError(mllm: PumaMLLM, samples: readonly (readonly MllmPart[])[], baseline?: readonly number[]): number[] {
  const sums = [0, 0, 0, 0, 0];
  for (const parts of samples) {
    const at = parts.findIndex((p) => p.kind === 'image' && p.role === 'target');
    const last = parts[at - 1], target = parts[at];
    if (at < 1 || last.kind !== 'tokens' || target.kind !== 'image' || last.ids[last.ids.length - 1] !== mllm.config.tokens.imgStart) {
      throw new Error('freeRunningError: each sample needs a target image right after [IMG]');
    }
    const prompt: MllmPart[] = [...parts.slice(0, at - 1), ...(last.ids.length > 1 ? [{ ...last, ids: last.ids.slice(0, -1) }] : [])];
    T.tidy(() => {
      const got = mllm.generateImage(prompt, { upToScale: 0 });
      got.forEach((f, k) => {
        sums[k] += f!.reshape([SCALE_TOKENS[k], -1]).sub(target.features.narrow(0, SCALE_OFFSETS[k], SCALE_TOKENS[k])).square().mean().item();
      });
    });
  }
  return sums.map((s, k) => s / samples.length / (baseline ? baseline[k] : 1));
}

/** An MLLM with the weights of a run folder (its config.json and latest checkpoint). */
export function loadTrainedMllm(dir: string): PumaMLLM {
  const config = savedMllmConfig(dir);
  if (!config) throw new Error(`no MLLM in ${dir}: train it first (puma train mllm)`);
  const mllm = new PumaMLLM(config);
  loadRunWeights(dir, { mllm });
  return mllm.eval();
}

/** Rows of the input map's ridge fit: slots of an input image and of the target after it. */
const INPUT_MAP_SAMPLES = 512;

/**
 * Sets the MLLM's input_map to the ridge regression (with a bias) of each target slot's features
 * from the same slot of the input image before it, over training samples of the stage.
 */
function fitInputMap(mllm: PumaMLLM, world: EmojiWorld, stage: MllmTask, tok: PumaTokenizer, encoder: MultiGranularEncoder, opts: SampleOptions): void {
  const c = mllm.config.featureDim, acc = new RidgeAccumulator(c + 1, c);
  process.stderr.write(`mllm-${stage}: fitting the input map on ${INPUT_MAP_SAMPLES} training samples\n`);
  for (let s = 0; s < INPUT_MAP_SAMPLES; s += 8) {
    T.tidy(() => {
      for (const parts of samplesToParts(drawSamples(world, stage, 'train', 8, `input-map:${s}`, 0, opts), tok, encoder, world)) {
        const images = parts.flatMap((p) => (p.kind === 'image' ? [p] : []));
        const t = images.findIndex((p) => p.role === 'target'), input = images.slice(0, t).reverse().find((p) => p.role === 'input');
        if (t < 0 || !input) continue;
        const x = input.features.toArray() as Float32Array, rows = x.length / c, xb = new Float32Array(rows * (c + 1));
        for (let r = 0; r < rows; r++) { xb.set(x.subarray(r * c, (r + 1) * c), r * (c + 1)); xb[r * (c + 1) + c] = 1; }
        acc.add(xb, images[t].features.toArray(), rows);
      }
    });
  }
  const w = acc.solve(1e-2 * acc.rows);
  T.noGrad(() => {
    const weight = mllm.input_map!.weight.data, bias = mllm.input_map!.bias!.data;
    // Linear's weight is [out, in]: weight[o][i] = w[i][o]; the bias is the last row of w
    for (let o = 0; o < c; o++) { for (let i = 0; i < c; i++) weight[o * c + i] = w[i * c + o]; bias[o] = w[c * c + o]; }
  });
}

/**
 * `puma train mllm --stage pretrain` or `--stage instruct --task t2i|edit|cond|canny|understand`.
 *
 * @example
 * await trainMllm({ data: 'data/emoji', runs: 'runs', stage: 'pretrain', steps: 3000 });
 */
export async function trainMllm(o: MllmRecipeOptions): Promise<RunResult> {
  if (o.stage === 'instruct' && !o.task) throw new Error(`--stage instruct needs --task (${MLLM_TASKS.join('|')})`);
  if (o.stage === 'pretrain' && o.task) throw new Error('--task is for --stage instruct only');
  if (o.task && !MLLM_TASKS.includes(o.task)) throw new Error(`unknown --task '${o.task}' (${MLLM_TASKS.join('|')})`);
  const stage = o.stage === 'pretrain' ? 'pretrain' : o.task!;
  const init = o.init ?? 'pretrain';
  if (o.stage === 'pretrain' && o.init) throw new Error('--init is for --stage instruct only');
  if (o.stage === 'instruct' && init === stage) throw new Error(`--init ${init}: a stage cannot start from itself`);
  if (o.captionDropout !== undefined && stage !== 't2i' && stage !== 'edit') throw new Error('--caption-dropout is for --task t2i|edit only');
  const captionDropout = stage === 't2i' ? o.captionDropout ?? CAPTION_DROPOUT : stage === 'edit' ? o.captionDropout ?? 0 : 0;
  if (!(captionDropout >= 0 && captionDropout < 1)) throw new Error(`--caption-dropout must be in [0, 1), got ${o.captionDropout}`);
  if (o.selfFeed !== undefined && !WRITES_IMAGES.includes(stage as MllmTask)) throw new Error(`--self-feed is for --task ${WRITES_IMAGES.join('|')} only`);
  if (o.inputResidual && !IMAGE_TO_IMAGE.includes(stage as MllmTask)) throw new Error(`--input-residual is for --task ${IMAGE_TO_IMAGE.join('|')} only`);
  if (o.inputMap && !MAPPED.includes(stage as MllmTask)) throw new Error(`--input-map is for --task ${MAPPED.join('|')} only`);
  const selfFeed = o.selfFeed ?? 0;
  if (!(selfFeed >= 0 && selfFeed <= 1)) throw new Error(`--self-feed must be in [0, 1], got ${o.selfFeed}`);
  const selfFeedPasses = o.selfFeedPasses ?? 1;
  if (o.selfFeedPasses !== undefined && !selfFeed) throw new Error('--self-feed-passes needs --self-feed');
  if (!(Number.isInteger(selfFeedPasses) && selfFeedPasses >= 1)) throw new Error(`--self-feed-passes must be an integer >= 1, got ${o.selfFeedPasses}`);
  const world = loadEmojiWorld(o.data);
  const tok = runTokenizer(world, o.runs);
  const encoder = loadFrozenEncoder(tok, o.runs);
  const dir = mllmRunDir(o.runs, stage);
  const steps = o.steps ?? DEFAULT_STEPS[o.stage], B = o.batch ?? 8, seed = o.seed ?? 0;
  T.manualSeed(seed);
  const fromRun = init.includes('/');
  if (fromRun && resolve(init) === resolve(dir)) throw new Error(`--init ${init}: a run cannot start from itself`);
  // a run with a checkpoint resumes from it: what it started from is already in its weights and its record
  const saved = savedRun(dir);
  const resumed = saved !== null;
  const recordedInit = saved?.init ?? null;
  if (resumed && o.init !== undefined && recordedInit !== null && o.init !== recordedInit) {
    throw new Error(`${dir} resumes from its checkpoint (it started from ${recordedInit}); --init is for a new run`);
  }
  const from = o.stage === 'instruct' && !resumed ? (fromRun ? init : mllmRunDir(o.runs, init as 'pretrain' | MllmTask)) : null;
  const fromConfig = from ? savedMllmConfig(from) : null;
  // definitions: only the stages whose captions name images (an edit run from a t2i one has none);
  // a run keeps what its config, or the one it starts from, says
  const withCaptions = stage === 't2i' || stage === 'pretrain';
  if (o.definitions && !withCaptions) throw new Error('--definitions is for --stage pretrain and --task t2i only');
  const definitions = withCaptions && (o.definitions ?? (saved?.config ?? fromConfig)?.definitions === true);
  const additions = { ...runAdditions(dir, saved?.config ?? null, o, fromConfig), definitions };
  const { slotEmbedding, inputResidual, inputMap } = additions;
  const sampleOpts: SampleOptions = { definitions };
  const config = smallMllmConfig(tok.vocabSize, tok.special, encoder.featureDim, additions);
  const mllm = new PumaMLLM(config);
  if (from) {
    if (!latestCheckpoint(from)) throw new Error(fromRun ? `--init ${init}: no checkpoint there` : `no ${init} MLLM in ${from}: run \`puma train mllm ${init === 'pretrain' ? '--stage pretrain' : `--stage instruct --task ${init}`}\` first`);
    loadRunWeights(from, { mllm });
    // a head trained to write the target whole now writes the change: it starts at "change nothing"
    if ((inputResidual && !fromConfig?.inputResidual) || (inputMap && !fromConfig?.inputMap)) T.noGrad(() => { for (const p of mllm.regression_head.parameters()) p.data.fill(0); });
    // a new map starts at the ridge read-out of the targets from their inputs
    if (inputMap && !fromConfig?.inputMap) fitInputMap(mllm, world, stage as MllmTask, tok, encoder, sampleOpts);
  } else if (!resumed) {
    mllm.setFeatureMean(featureMean(encoder, world));
  }
  const lr = o.lr ? { adapters: 2 * o.lr, llm: o.lr } : MLLM_LR[o.stage];
  if (!(lr.llm > 0 && lr.llm < 1)) throw new Error(`--lr must be in (0, 1), got ${o.lr}`);
  mllm.scaleWeights = resolveScaleWeights(o.scaleWeights);
  mkdirSync(dir, { recursive: true });
  writeConfigJson(join(dir, 'config.json'), mllmConfigJson(config), {
    recipe: { stage: o.stage, task: o.task ?? null, steps, batch: B, seed, lr, scaleWeightsF4toF0: [...mllm.scaleWeights].reverse(), ...(stage === 't2i' || captionDropout ? { captionDropout } : {}), ...(o.stage === 'instruct' ? { init: recordedInit ?? init } : {}), ...(selfFeed ? { selfFeed, selfFeedPasses } : {}), ...(slotEmbedding ? { slotEmbedding, slotLr: SLOT_LR_FACTOR * lr.llm } : {}), ...(inputResidual ? { inputResidual } : {}), ...(inputMap ? { inputMap } : {}), ...(definitions ? { definitions } : {}) },
  });
  const adapters = [...mllm.projector.parameters(), ...mllm.regression_head.parameters(), ...(mllm.input_map?.parameters() ?? [])];
  const opt = new AdamW([
    { params: adapters, lr: lr.adapters, name: 'projector+head' },
    { params: mllm.llm.parameters(), lr: lr.llm, name: 'llm' },
    // a table starting at zero, each row read once per image: a faster rate lets it grow
    ...(mllm.slot_embedding ? [{ params: mllm.slot_embedding.parameters(), lr: SLOT_LR_FACTOR * lr.llm, name: 'slot embedding' }] : []),
  ], { beta2: 0.95, weightDecay: 0.01 });
  const valSamples = o.stage === 'pretrain'
    ? drawSamples(world, 'pretrain', 'val', 32, 'eval', 0, sampleOpts)
    : drawSamples(world, stage, 'val', 16, 'eval', 0, sampleOpts);
  // features are recomputed per evaluation (cheap next to the LLM) so nothing large stays resident
  const valBatches = () => {
    const batches: MllmPart[][][] = [];
    for (let i = 0; i < valSamples.length; i += 4) batches.push(samplesToParts(valSamples.slice(i, i + 4), tok, encoder, world));
    return batches;
  };
  const baseline = T.tidy(() => constantBaseline(valBatches()));
  // t2i, edit and cond also free-running on 4 val samples (about 1-2 s each): what generation meets
  const evaluate = () => T.tidy(() => {
    const batches = valBatches(), m = evaluateMllm(mllm, batches, baseline);
    if (WRITES_IMAGES.includes(stage as MllmTask)) T.noGrad(() => freeRunningError(mllm, batches[0], baseline)).forEach((v, k) => { m[`free${k}`] = v; });
    return m;
  });
  return runTraining({
    name: `mllm-${stage}`, dir, modules: { mllm }, optimizer: opt, totalSteps: steps, seed, progress: o.progress,
    // the paper warms up for 2% (pretraining) and 5% (instruction tuning) of its steps
    schedule: warmupCosine({ warmupSteps: Math.max(10, Math.round(steps * (o.stage === 'pretrain' ? 0.03 : 0.05))), totalSteps: steps, minRatio: 0.05 }),
    clipGrad: 5.0,
    step: (i) => {
      const teacher = samplesToParts(drawSamples(world, stage, 'train', B, `${seed}:${i}`, captionDropout, sampleOpts), tok, encoder, world);
      const batch = selfFeed ? feedOwnPredictions(mllm, teacher, selfFeed, new Rng(`mllm:self-feed:${seed}:${i}`), selfFeedPasses) : teacher;
      const l = mllm.loss(batch);
      l.loss.backward();
      const m: Metrics = { loss: l.loss.item(), ce: l.ce };
      l.mse.forEach((v, k) => { if (!Number.isNaN(v)) m[`mse${k}`] = v; });
      return m;
    },
    evalEvery: Math.max(50, Math.round(steps / 10)),
    evaluate,
  });
}
