// A trained small PUMA as a self-contained folder (what the repo ships in models/):
//   tokenizer.json
//   training-words.txt  every word of the training captions, one per line (to note a prompt's unseen words)
//   word-neighbours.tsv for words no training label has, the nearest that has (puma data neighbours; optional)
//   clip/      config.json (+ CLIPModel keys in model.safetensors)
//   vae/       config.json (with scaling_factor) + diffusion_pytorch_model.safetensors
//   decoder-k/ config.json + diffusion_pytorch_model.safetensors   (k = 0..4, those trained)
//   mllm-<stage>/ config.json + model.safetensors   (stage = pretrain, t2i, edit, cond, canny, understand; those trained)
//   eval-clip/ config.json + model.safetensors   (the evaluation CLIP of `puma eval`, from <runs>/eval, if trained)
// Weights are stored as float16 and loaded into float32.
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatNeighbours } from '../data/neighbours.js';
import { loadTokenizer } from '../data/tokenizer/tokenizer.js';
import { loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { readConfigJson, writeConfigJson } from '../io/config.js';
import { PumaDecoder, smallDecoderConfig } from '../models/puma/decoder.js';
import { MultiGranularEncoder } from '../models/puma/encoder.js';
import { PumaMLLM } from '../models/puma/mllm.js';
import { mllmConfigFromJson, mllmConfigJson } from '../models/puma/mllm-config.js';
import { MINI_VAE } from '../models/puma/small.js';
import { AutoencoderKL } from '../models/vae/model.js';
import { deferInit, type Module } from '../nn/module.js';
import { buildMiniClip } from '../train/recipes/clip.js';
import { EvalEncoder } from '../eval/encoder.js';
import { mllmRunDir } from '../train/recipes/mllm.js';
import { latestCheckpoint, seedRun } from '../train/run.js';
import { loadPumaFromRuns, MLLM_STAGES, NEIGHBOURS_FILE, type PumaModel, readNeighbours } from './model.js';

const TRAINING_WORDS = 'training-words.txt';

/** Writes the trained parts of a runs folder as a bundle; returns the parts written. */
export function exportBundle(runs: string, out: string, data = 'data/emoji'): string[] {
  const model = loadPumaFromRuns(runs, undefined, data);
  mkdirSync(out, { recursive: true });
  copyFileSync(join(runs, 'tokenizer.json'), join(out, 'tokenizer.json'));
  const written = ['tokenizer.json', ...writeBundle(model, out)];
  const evalRuns = join(runs, 'eval');
  if (latestCheckpoint(join(evalRuns, 'clip'))) {
    if (readFileSync(join(evalRuns, 'tokenizer.json'), 'utf8') !== readFileSync(join(runs, 'tokenizer.json'), 'utf8')) {
      throw new Error(`${evalRuns}/tokenizer.json differs from ${runs}/tokenizer.json: the bundle has one tokenizer`);
    }
    const ev = EvalEncoder.load(runs);
    mkdirSync(join(out, 'eval-clip'), { recursive: true });
    writeConfigJson(join(out, 'eval-clip', 'config.json'), { ...ev.clip.config }, { model_type: 'clip' });
    saveCheckpoint(ev.clip, join(out, 'eval-clip', 'model.safetensors'), { dtype: 'F16' });
    written.push('eval-clip');
  }
  return written;
}

/** Writes a loaded model's weights and configs into a bundle folder (tokenizer.json is the caller's); returns the parts. */
export function writeBundle(model: PumaModel, out: string): string[] {
  mkdirSync(out, { recursive: true });
  const written: string[] = [];
  const clip = model.clip;
  mkdirSync(join(out, 'clip'), { recursive: true });
  writeConfigJson(join(out, 'clip', 'config.json'), { ...clip.config }, { model_type: 'clip' });
  saveCheckpoint(clip, join(out, 'clip', 'model.safetensors'), { dtype: 'F16' });
  written.push('clip');
  mkdirSync(join(out, 'vae'), { recursive: true });
  writeConfigJson(join(out, 'vae', 'config.json'), { ...MINI_VAE, scalingFactor: model.scalingFactor }, { _class_name: 'AutoencoderKL' });
  saveCheckpoint(model.vae, join(out, 'vae', 'diffusion_pytorch_model.safetensors'), { dtype: 'F16' });
  written.push('vae');
  if (model.trainingWords) {
    writeFileSync(join(out, TRAINING_WORDS), `${[...model.trainingWords].sort().join('\n')}\n`);
    written.push(TRAINING_WORDS);
  }
  if (model.neighbours) {
    writeFileSync(join(out, NEIGHBOURS_FILE), formatNeighbours(model.neighbours));
    written.push(NEIGHBOURS_FILE);
  }
  model.decoders.forEach((dec, k) => {
    if (!dec) return;
    const dir = join(out, `decoder-${k}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify({ scale: k, feature_dim: dec.config.featureDim, spatial_channels: dec.config.spatialChannels }, null, 2)}\n`);
    saveCheckpoint(dec, join(dir, 'diffusion_pytorch_model.safetensors'), { dtype: 'F16' });
    written.push(`decoder-${k}`);
  });
  for (const stage of MLLM_STAGES) {
    const mllm = model.mllms[stage];
    if (!mllm) continue;
    const dir = join(out, `mllm-${stage}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'config.json'), `${JSON.stringify(mllmConfigJson(mllm.config), null, 2)}\n`);
    saveCheckpoint(mllm, join(dir, 'model.safetensors'), { dtype: 'F16' });
    written.push(`mllm-${stage}`);
  }
  return written;
}

/**
 * The inverse of exportBundle: a runs folder whose run folders start (ckpt-0, no optimizer
 * state) from a bundle's weights, so that training goes on from a shipped model when the original
 * runs are gone. Run folders that already have a checkpoint are kept as they are. Returns what
 * it did, one line per part.
 *
 * @example
 * importBundle('models/puma-emoji', 'runs'); // then: puma train decoder --scale 4 --steps 5000
 */
export function importBundle(bundle: string, runs: string): string[] {
  if (!isBundle(bundle)) throw new Error(`${bundle} is not a model bundle (no clip/model.safetensors)`);
  const tokSrc = join(bundle, 'tokenizer.json');
  const tokDst = join(runs, 'tokenizer.json');
  if (existsSync(tokDst) && readFileSync(tokDst, 'utf8') !== readFileSync(tokSrc, 'utf8')) {
    throw new Error(`${tokDst} differs from the bundle's tokenizer: use an empty --runs folder`);
  }
  const model = loadBundle(bundle);
  mkdirSync(runs, { recursive: true });
  copyFileSync(tokSrc, tokDst);
  const done: string[] = [];
  const seed = (part: string, dir: string, name: string, modules: Record<string, Module>) => {
    if (latestCheckpoint(dir)) {
      done.push(`${dir}: kept (it has a checkpoint)`);
      return;
    }
    seedRun(dir, name, modules);
    copyFileSync(join(bundle, part, 'config.json'), join(dir, 'config.json'));
    done.push(`${dir}: from ${join(bundle, part)}`);
  };
  seed('clip', join(runs, 'clip'), 'clip', { clip: model.clip });
  seed('vae', join(runs, 'vae'), 'vae', { vae: model.vae });
  model.decoders.forEach((dec, k) => { if (dec) seed(`decoder-${k}`, join(runs, `decoder-${k}`), `decoder f${k}`, { decoder: dec }); });
  for (const stage of MLLM_STAGES) {
    const mllm = model.mllms[stage];
    if (mllm) seed(`mllm-${stage}`, mllmRunDir(runs, stage), `mllm-${stage}`, { mllm });
  }
  if (existsSync(join(bundle, 'eval-clip', 'model.safetensors'))) {
    mkdirSync(join(runs, 'eval'), { recursive: true });
    copyFileSync(tokSrc, join(runs, 'eval', 'tokenizer.json'));
    seed('eval-clip', join(runs, 'eval', 'clip'), 'clip', { clip: EvalEncoder.load(bundle).clip });
  }
  // the nearest-known-word table is data, not weights: a runs folder reads it as a bundle does, and exports it again
  const nb = join(bundle, NEIGHBOURS_FILE);
  if (existsSync(nb) && !existsSync(join(runs, NEIGHBOURS_FILE))) {
    copyFileSync(nb, join(runs, NEIGHBOURS_FILE));
    done.push(`${join(runs, NEIGHBOURS_FILE)}: from ${nb}`);
  }
  return done;
}

/** True when dir is a bundle (not a runs folder). */
export function isBundle(dir: string): boolean {
  return existsSync(join(dir, 'clip', 'model.safetensors'));
}

/** Loads a bundle written by exportBundle. */
export function loadBundle(dir: string): PumaModel {
  const tok = loadTokenizer(join(dir, 'tokenizer.json'));
  // deferInit: the weights are read, not drawn (initialising them cost most of the load)
  const clip = deferInit(() => buildMiniClip(tok));
  loadCheckpoint(clip, join(dir, 'clip', 'model.safetensors'));
  clip.freeze().eval();
  const vae = deferInit(() => new AutoencoderKL(MINI_VAE));
  loadCheckpoint(vae, join(dir, 'vae', 'diffusion_pytorch_model.safetensors'));
  vae.freeze().eval();
  const scalingFactor = (readConfigJson(join(dir, 'vae')).scaling_factor as number | undefined) ?? 1;
  const encoder = new MultiGranularEncoder(clip.vision_model);
  const decoders = [0, 1, 2, 3, 4].map((k) => {
    const d = join(dir, `decoder-${k}`);
    if (!existsSync(join(d, 'config.json'))) return null;
    const cfg = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8')) as { feature_dim: number; spatial_channels: number };
    const dec = deferInit(() => new PumaDecoder(smallDecoderConfig(k, cfg.feature_dim, cfg.spatial_channels)));
    loadCheckpoint(dec, join(d, 'diffusion_pytorch_model.safetensors'));
    return dec.freeze().eval();
  });
  const mllms: PumaModel['mllms'] = {};
  for (const stage of MLLM_STAGES) {
    const d = join(dir, `mllm-${stage}`);
    if (!existsSync(join(d, 'config.json'))) continue;
    const mllm = deferInit(() => new PumaMLLM(mllmConfigFromJson(readConfigJson(d))));
    loadCheckpoint(mllm, join(d, 'model.safetensors'));
    mllms[stage] = mllm.freeze().eval();
  }
  const words = join(dir, TRAINING_WORDS);
  return {
    clip, tokenizer: tok, encoder, vae, scalingFactor, decoders, nullScales: encoder.nullScales(),
    mllm: mllms.pretrain ?? null, mllms,
    trainingWords: existsSync(words) ? new Set(readFileSync(words, 'utf8').split('\n').filter((w) => w)) : undefined,
    ...readNeighbours(dir),
  };
}

/** The bundle the package ships, models/puma-emoji beside src/ (or dist/), wherever puma is installed. */
export const SHIPPED_MODEL = fileURLToPath(new URL('../../models/puma-emoji', import.meta.url));

/**
 * A model from a bundle folder or a runs folder; the shipped bundle by default.
 *
 * @example
 * const puma = loadPuma();                    // SHIPPED_MODEL
 * const mine = loadPuma('runs');              // a runs folder being trained
 */
export function loadPuma(dir: string = SHIPPED_MODEL, data = 'data/emoji'): PumaModel {
  if (!existsSync(dir)) throw new Error(`no model at ${dir}`);
  return isBundle(dir) ? loadBundle(dir) : loadPumaFromRuns(dir, undefined, data);
}
