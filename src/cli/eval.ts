// `puma eval ...`: the paper's evaluation tables on the emoji world, each printed as markdown and
// optionally written as JSON; `puma eval all` runs them all and draws the figures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Command, Option } from 'commander';
import { loadEmojiWorld, type EmojiWorld } from '../data/emoji/world.js';
import { SCHEDULER_NAMES, type SchedulerName } from '../diffusion/index.js';
import type { EvalOptions } from '../eval/common.js';
import { EvalEncoder } from '../eval/encoder.js';
import { writeFigures } from '../eval/figures.js';
import { conditionalTable, editTable, evalImageToImage, type ImageToImageResult } from '../eval/image-to-image.js';
import { evalReconstruction, reconstructionTable } from '../eval/reconstruction.js';
import { evalT2i, t2iTable } from '../eval/t2i.js';
import { evalGrounding, groundingTable } from '../eval/grounding.js';
import { evalUnderstanding, understandingTable } from '../eval/understanding.js';
import { DECODE_DEFAULTS, T2I_DECODE_GUIDANCE } from '../pipelines/decode.js';
import { DEFINE_WHEN, type DefineWhen } from '../pipelines/generate.js';
import { loadPuma } from '../pipelines/bundle.js';
import type { PumaModel } from '../pipelines/model.js';
import * as T from '../tensor/index.js';
import { DEFAULT_MODEL, nonNegative, parseScheduler, positiveInt } from './options.js';

interface EvalFlags { model: string; data: string; steps: number; guidance?: number; scheduler: SchedulerName; seed: number; json?: string; n?: number; split: 'val' | 'test'; textGuidance: number; define: DefineWhen; neighbours: boolean }

/** Item counts per table: the full run, and `--quick` (stated in docs/RESULTS.md). */
export const EVAL_SIZES = {
  full: { reconstruction: 64, t2i: 64, edit: 48, understanding: 150, grounding: 150, conditional: 24 },
  quick: { reconstruction: 16, t2i: 16, edit: 12, understanding: 40, grounding: 40, conditional: 8 },
};

function evalFlags(cmd: Command, n?: number): Command {
  cmd
    .option('--model <dir>', 'trained model: a bundle (models/puma-emoji) or a runs folder', DEFAULT_MODEL)
    .option('--data <dir>', 'emoji dataset (puma data build)', 'data/emoji')
    .option('--split <s>', 'held-out split: test or val', (v) => {
      if (v !== 'test' && v !== 'val') throw new Error(`--split must be test or val, got '${v}'`);
      return v;
    }, 'test')
    .option('--steps <n>', 'sampling steps', positiveInt('--steps'), DECODE_DEFAULTS.steps)
    .option('--guidance <g>', `classifier-free guidance scale of the decoders (default: ${T2I_DECODE_GUIDANCE} for text-to-image, ${DECODE_DEFAULTS.guidance} otherwise)`, nonNegative('--guidance'))
    .option('--scheduler <name>', `sampler: ${SCHEDULER_NAMES.join(', ')}`, parseScheduler, DECODE_DEFAULTS.scheduler)
    .option('--seed <n>', 'seed (diversity compares seed and seed + 1)', (v) => {
      const s = Number(v);
      if (!Number.isInteger(s) || s < 0) throw new Error(`--seed must be a non-negative integer, got '${v}'`);
      return s;
    }, 0)
    .option('--text-guidance <g>', 'text-to-image: guidance on the prompt inside the MLLM (1 = the paper\'s plain regression)', nonNegative('--text-guidance'), 1)
    .addOption(new Option('--define <when>', 'text-to-image: give the MLLM a name of unseen words as its WordNet definitions, as puma generate does (auto), every name (always) or none (never)').choices(DEFINE_WHEN).default('auto'))
    .option('--no-neighbours', "text-to-image: read the names' unseen words as written, not as their nearest known words (the model's word-neighbours.tsv)")
    .option('--json <file>', 'also write the result as JSON');
  if (n !== undefined) cmd.option('--n <n>', 'items to evaluate', positiveInt('--n'), n);
  return cmd;
}

function progress(msg: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${msg}`);
}

function done(): void {
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
}

function writeJson(path: string | undefined, value: unknown): void {
  if (!path) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

function options(f: EvalFlags, n: number): EvalOptions & { split: 'val' | 'test'; textGuidance: number; define: DefineWhen; neighbours: boolean } {
  return { n, seed: f.seed, steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, split: f.split, textGuidance: f.textGuidance, define: f.define, neighbours: f.neighbours, onProgress: progress };
}

interface Loaded { model: PumaModel; world: EmojiWorld; ev: EvalEncoder }

function load(f: EvalFlags): Loaded {
  const world = loadEmojiWorld(f.data);
  return { model: loadPuma(f.model, f.data), world, ev: EvalEncoder.load(f.model) };
}

/** The end of every table command: clear the progress line, print the markdown, write the JSON. */
function report(f: EvalFlags, markdown: string, result: unknown): void {
  done();
  process.stdout.write(`${markdown}\n`);
  writeJson(f.json, result);
}

function noteLine(r: { stage: string; note?: string; textGuidance?: number; decodeGuidance?: number }): string {
  const g = r.textGuidance !== undefined && r.textGuidance !== 1 ? `, text guidance ${r.textGuidance}` : '';
  const d = r.decodeGuidance !== undefined ? `; decoders' guidance ${r.decodeGuidance}` : '';
  return `MLLM: ${r.stage}${g}${r.note ? ` (${r.note})` : ''}${d}`;
}

/** The MLLM of each conditional task (canny runs on mllm-canny where there is one, the others on mllm-cond). */
function taskNotes(rs: readonly ImageToImageResult[]): string {
  return `MLLM by task: ${rs.map((r) => `${r.task} ${r.stage}${r.note ? ` (${r.note})` : ''}`).join('; ')}`;
}

/** Every table in order; returns the markdown and the JSON of each. */
async function runAll(f: EvalFlags & { quick: boolean; out?: string }): Promise<{ md: string; json: Record<string, unknown> }> {
  const sizes = f.quick ? EVAL_SIZES.quick : EVAL_SIZES.full;
  const { model, world, ev } = load(f);
  const parts: string[] = [], json: Record<string, unknown> = { quick: f.quick, sizes, model: f.model, split: f.split, seed: f.seed, steps: f.steps, guidance: f.guidance ?? { t2i: T2I_DECODE_GUIDANCE, other: DECODE_DEFAULTS.guidance }, scheduler: f.scheduler, textGuidance: f.textGuidance, neighbours: f.neighbours };
  const t0 = performance.now();
  const timed = <R>(name: string, fn: () => R): R => {
    const t = performance.now();
    const r = T.tidy(fn);
    done();
    process.stderr.write(`${name}: ${((performance.now() - t) / 1000).toFixed(0)} s\n`);
    return r;
  };
  const rec = timed('reconstruction', () => evalReconstruction(model, world, { ...options(f, sizes.reconstruction), encoder: ev }));
  parts.push(`### Table 1: reconstruction and diversity (${f.split} split)\n\n${reconstructionTable(rec)}`);
  json.reconstruction = rec;
  const t2i = timed('t2i', () => evalT2i(model, world, ev, options(f, sizes.t2i)));
  parts.push(`### Tables 2 and 6: text-to-image\n\n${noteLine(t2i)}\n\n${t2iTable(t2i)}`);
  json.t2i = t2i;
  const edit = timed('edit', () => evalImageToImage(model, world, ev, 'edit', options(f, sizes.edit)));
  parts.push(`### Table 3: editing\n\n${noteLine(edit)}\n\n${editTable(edit)}`);
  json.edit = edit;
  const und = timed('understanding', () => evalUnderstanding(model, world, options(f, sizes.understanding)));
  parts.push(`### Table 5: understanding by input scale\n\n${noteLine(und)}\n\n${understandingTable(und)}`);
  json.understanding = und;
  const gr = timed('grounding', () => evalGrounding(model, world, options(f, sizes.grounding)));
  parts.push(`### Grounding\n\n${noteLine(gr)}\n\n${groundingTable(gr)}`);
  json.grounding = gr;
  const cond: ImageToImageResult[] = [];
  for (const task of ['canny', 'inpaint', 'colorize'] as const) cond.push(timed(task, () => evalImageToImage(model, world, ev, task, options(f, sizes.conditional))));
  parts.push(`### Conditional generation\n\n${taskNotes(cond)}\n\n${conditionalTable(cond)}`);
  json.conditional = cond;
  if (f.out) {
    mkdirSync(f.out, { recursive: true });
    json.figures = await writeFigures(model, world, f.out, { ...options(f, 1), onProgress: progress });
    done();
  }
  json.seconds = (performance.now() - t0) / 1000;
  return { md: parts.join('\n\n'), json };
}

/** `puma eval reconstruction|t2i|edit|understanding|grounding|conditional|figures|all`. */
export function registerEvalCommands(program: Command): void {
  const ev = program.command('eval').description('the paper\'s evaluation tables on the emoji world (held-out data)');

  evalFlags(ev.command('reconstruction').description('Table 1: PSNR_r, distance_r, PSNR_d, distance_d per scale'), EVAL_SIZES.full.reconstruction)
    .action((f: EvalFlags & { n: number }) => {
      const { model, world, ev: enc } = load(f);
      const rows = T.tidy(() => evalReconstruction(model, world, { ...options(f, f.n), encoder: enc }));
      report(f, reconstructionTable(rows), rows);
    });

  evalFlags(ev.command('t2i').description('Tables 2 and 6: CLIP-I, CLIP-T and diversity per scale, and 5-scale Max'), EVAL_SIZES.full.t2i)
    .action((f: EvalFlags & { n: number }) => {
      const { model, world, ev: enc } = load(f);
      const r = T.tidy(() => evalT2i(model, world, enc, options(f, f.n)));
      report(f, `${noteLine(r)}\n\n${t2iTable(r)}`, r);
    });

  evalFlags(ev.command('edit').description('Table 3: CLIP-I, CLIP-T, DINO-style per scale and 5-scale Max on held-out edit pairs'), EVAL_SIZES.full.edit)
    .action((f: EvalFlags & { n: number }) => {
      const { model, world, ev: enc } = load(f);
      const r = T.tidy(() => evalImageToImage(model, world, enc, 'edit', options(f, f.n)));
      report(f, `${noteLine(r)}\n\n${editTable(r)}`, r);
    });

  evalFlags(ev.command('understanding').description('Table 5: question-answering accuracy by input scale'), EVAL_SIZES.full.understanding)
    .action((f: EvalFlags & { n: number }) => {
      const world = loadEmojiWorld(f.data);
      const model = loadPuma(f.model, f.data);
      const r = T.tidy(() => evalUnderstanding(model, world, options(f, f.n)));
      report(f, `${noteLine(r)}\n\n${understandingTable(r)}`, r);
    });

  evalFlags(ev.command('grounding').description('boxes for held-out emoji placed on a blank canvas: IoU >= 0.5 and mean IoU, against a constant box'), EVAL_SIZES.full.grounding)
    .action((f: EvalFlags & { n: number }) => {
      const world = loadEmojiWorld(f.data);
      const model = loadPuma(f.model, f.data);
      const r = T.tidy(() => evalGrounding(model, world, options(f, f.n)));
      report(f, `${noteLine(r)}\n\n${groundingTable(r)}`, r);
    });

  evalFlags(ev.command('conditional').description('canny-to-image, inpainting and colorization against the true image, per scale'), EVAL_SIZES.full.conditional)
    .action((f: EvalFlags & { n: number }) => {
      const { model, world, ev: enc } = load(f);
      const rs = (['canny', 'inpaint', 'colorize'] as const).map((task) => T.tidy(() => evalImageToImage(model, world, enc, task, options(f, f.n))));
      report(f, `${taskNotes(rs)}\n\n${conditionalTable(rs)}`, rs);
    });

  evalFlags(ev.command('figures').description('Fig. 3 (one image at five scales), Fig. 6 (diversity over seeds), Fig. 10 (one prompt at five scales), held-out edit and conditional cases at five scales'))
    .requiredOption('--out <dir>', 'folder for the PNGs')
    .option('--prompt <text...>', 'prompts for Fig. 10 (default: the test image\'s name)')
    .action(async (f: EvalFlags & { out: string; prompt?: string[] }) => {
      const world = loadEmojiWorld(f.data);
      const model = loadPuma(f.model, f.data);
      mkdirSync(f.out, { recursive: true });
      const paths = await writeFigures(model, world, f.out, { ...options(f, 1), prompts: f.prompt });
      done();
      process.stdout.write(`wrote ${paths.join(', ')}\n`);
    });

  evalFlags(ev.command('all').description('every table (and the figures with --out); --quick uses small subsets (a few minutes)'))
    .option('--quick', `subsets: ${JSON.stringify(EVAL_SIZES.quick)}`, false)
    .option('--out <dir>', 'also write the figures and results.md there')
    .action(async (f: EvalFlags & { quick: boolean; out?: string }) => {
      const { md, json } = await runAll(f);
      report(f, md, json);
      if (f.out) writeFileSync(join(f.out, 'results.md'), `${md}\n`);
    });
}

