// `puma generate | edit | inpaint | colorize | canny2img | ask | ground`: thin shells over the
// task pipelines. Each validates its input before loading the model, shows progress on stderr,
// and writes PNGs, settings.json and (where there are several images) grid.png into --out.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Option, type Command } from 'commander';
import { QUESTION_PHRASINGS } from '../data/tasks/templates.js';
import { SCHEDULER_NAMES, type SchedulerName } from '../diffusion/index.js';
import { renderGrid, type GridRow } from '../io/grid.js';
import { readImage, tensorToImages, writeImage, type Image } from '../io/image.js';
import { ask } from '../pipelines/ask.js';
import { loadPuma } from '../pipelines/bundle.js';
import { canny2img } from '../pipelines/canny2img.js';
import { colorize } from '../pipelines/colorize.js';
import { DECODE_DEFAULTS, T2I_DECODE_GUIDANCE } from '../pipelines/decode.js';
import { checkStrength, edit, FINE_SCALES } from '../pipelines/edit.js';
import { ALL_SCALES, checkScales, DEFINE_WHEN, type DefineWhen, generate, promptReading, unseenNote, unseenWords, type GenerateResult, type ImageTaskOptions, type ImageTaskResult } from '../pipelines/generate.js';
import { ground } from '../pipelines/ground.js';
import { holeMask, inpaint, inpaintScales, parseBox, type Box } from '../pipelines/inpaint.js';
import { mllmFor, type PumaModel } from '../pipelines/model.js';
import type { MllmTask } from '../train/recipes/mllm.js';
import { DEFAULT_MODEL, nonNegative, parseScales, parseScheduler, parseSeeds, positiveInt, progress } from './options.js';

/** `puma ask --help`: the small model knows only the phrasings it was trained on. */
const ASK_HELP = [
  '',
  'The emoji model (models/puma-emoji) was trained on these questions; other phrasings may get unrelated answers:',
  ...QUESTION_PHRASINGS.map((q) => `  ${q}`),
].join('\n');

interface ModelFlags { model: string; data: string }
interface ImageFlags extends ModelFlags { steps: number; guidance: number; scheduler: SchedulerName; scales: number[]; seeds: number[]; out: string }

function modelFlags(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'trained model: a bundle (models/puma-emoji) or a runs folder', DEFAULT_MODEL)
    .option('--data <dir>', 'emoji dataset (for an unfinished VAE run)', 'data/emoji');
}

/** `scales`: the default list, or where it depends on other flags the help's words for it (the action sets it). */
function imageFlags(cmd: Command, scales: readonly number[] | string, guidance = DECODE_DEFAULTS.guidance): Command {
  const about = 'scales to decode, 0 (f0, finest) .. 4 (f4, coarsest)';
  return modelFlags(cmd)
    .addOption(typeof scales === 'string'
      ? new Option('--scales <list>', `${about} (default: ${scales})`).argParser(parseScales)
      : new Option('--scales <list>', about).argParser(parseScales).default([...scales]))
    .option('--seeds <list>', 'one decode per seed', parseSeeds, [0])
    .option('--steps <n>', 'sampling steps', positiveInt('--steps'), DECODE_DEFAULTS.steps)
    .option('--guidance <g>', 'classifier-free guidance scale of the decoders', nonNegative('--guidance'), guidance)
    .option('--scheduler <name>', `sampler: ${SCHEDULER_NAMES.join(', ')}`, parseScheduler, DECODE_DEFAULTS.scheduler)
    .requiredOption('--out <dir>', 'output folder for PNGs, settings.json and grid.png');
}

function nonEmpty(what: string, v: string): string {
  if (!v.trim()) throw new Error(`the ${what} is empty`);
  return v.trim();
}

function outDir(dir: string): void {
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--out ${dir} is a file, not a folder`);
  mkdirSync(dir, { recursive: true });
}

function loadModel(f: ModelFlags): PumaModel {
  progress(`loading ${f.model}`);
  const model = loadPuma(f.model, f.data);
  if (process.stderr.isTTY) process.stderr.write('\n');
  return model;
}

function decodeOptions(f: ImageFlags): ImageTaskOptions {
  return { scales: f.scales, seeds: f.seeds, steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, onProgress: progress };
}

function writeSettings(out: string, settings: Record<string, unknown>): void {
  writeFileSync(join(out, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
}

/**
 * Writes each seed's images (f<k>-seed<s>.png), the input, a grid when there are several images,
 * and for 5-scale Max each seed's best (best-seed<s>.png) and the best of all (best.png).
 */
async function writeImageTask(
  f: ImageFlags, r: ImageTaskResult & { input?: Image; text?: string; best?: GenerateResult['best'] }, title: string, settings: Record<string, unknown>,
): Promise<void> {
  if (process.stderr.isTTY) process.stderr.write('\n');
  const files: string[] = [];
  const save = async (img: Image, name: string) => {
    await writeImage(img, join(f.out, name));
    files.push(name);
  };
  if (r.input) await save(r.input, 'input.png');
  const rows: GridRow[] = [];
  for (const row of r.rows) {
    const cells = r.input ? [{ image: r.input, caption: 'input' }] : [];
    for (const [k, x] of row.images) {
      const im = tensorToImages(x)[0];
      await save(im, `f${k}-seed${row.seed}.png`);
      const score = row.scores?.get(k);
      cells.push({ image: im, caption: score === undefined ? `f${k}` : `f${k}${row.best === k ? '*' : ''} ${score.toFixed(3)}` });
      if (row.best === k) await save(im, `best-seed${row.seed}.png`);
      if (r.best?.seed === row.seed && r.best.scale === k) await save(im, 'best.png');
    }
    const ofAll = r.best && r.rows.length > 1 && r.best.seed === row.seed ? ', the best of all seeds' : '';
    rows.push({ cells, text: `seed ${row.seed}${row.best === undefined ? '' : `: best f${row.best} (5-scale Max by CLIP score)${ofAll}`}` });
  }
  const images = rows.reduce((n, row) => n + row.cells.length, 0);
  if (images > 1) {
    writeFileSync(join(f.out, 'grid.png'), await renderGrid(rows, { scale: 2, title }));
    files.push('grid.png');
  }
  const scores = r.rows.some((row) => row.scores)
    ? r.rows.map((row) => ({ seed: row.seed, best: row.best, scores: Object.fromEntries([...row.scores!].map(([k, s]) => [`f${k}`, s])) }))
    : undefined;
  writeSettings(f.out, {
    ...settings, model: f.model, mllm: r.stage, note: r.note, unseenWords: r.unseenWords, scales: f.scales, seeds: f.seeds,
    steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, scores, ...(r.best ? { bestImage: r.best } : {}), files: [...files, 'settings.json'],
  });
  for (const row of r.rows) {
    if (row.best !== undefined) process.stdout.write(`seed ${row.seed}: best f${row.best} (CLIP score ${row.scores!.get(row.best)!.toFixed(3)})\n`);
  }
  if (r.best) process.stdout.write(`best of all: seed ${r.best.seed} f${r.best.scale} (best.png)\n`);
  process.stdout.write(`wrote ${files.length} file${files.length === 1 ? '' : 's'} to ${f.out}\n`);
}

/**
 * A model whose decoders cover the scales and that has an MLLM, or a one-line error before any
 * work starts; says up front which words of the prompt (if any) it never read.
 */
function modelFor(f: ImageFlags, task: MllmTask, prompt?: string, reading?: { define: DefineWhen; neighbours: boolean }): PumaModel {
  const model = loadModel(f);
  checkScales(model, f.scales);
  noteMllm(model, task);
  const unseen = prompt === undefined ? [] : unseenWords(model, prompt);
  if (unseen.length) {
    const read = reading === undefined ? { text: prompt! } : promptReading(model, mllmFor(model, task).mllm, prompt!, reading.define, reading.neighbours);
    process.stderr.write(`note: ${unseenNote(unseen, read.as ? read.text : undefined, read.as)}\n`);
  }
  return model;
}

/** Says up front when a task runs on the pretrained MLLM (throws when there is none). */
function noteMllm(model: PumaModel, task: MllmTask): PumaModel {
  const { note } = mllmFor(model, task);
  if (note) process.stderr.write(`note: ${note}\n`);
  return model;
}

/** The task commands. */
export function registerTaskCommands(program: Command): void {
  imageFlags(program.command('generate').description('text-to-image: the MLLM writes f4..f0, the decoders draw each scale (paper Fig. 1)'), ALL_SCALES, T2I_DECODE_GUIDANCE)
    .argument('<prompt>', 'what to draw, e.g. "grinning face"')
    .option('--best', '5-scale Max: score every image with CLIP against the prompt; the best per seed is best-seed<s>.png, the best of all best.png (give several --seeds for more to choose from)', false)
    .option('--text-guidance <g>', 'guidance on the prompt inside the MLLM (1 = the paper\'s plain regression)', nonNegative('--text-guidance'), 1)
    .addOption(new Option('--define <when>', 'give the MLLM the prompt as its WordNet definitions: auto = when it has words no training caption has and the MLLM was trained with definitions').choices(DEFINE_WHEN).default('auto'))
    .option('--no-neighbours', "read the prompt's unseen words as written, not as their nearest known words (the model's word-neighbours.tsv)")
    .action(async (prompt: string, f: ImageFlags & { best: boolean; textGuidance: number; define: DefineWhen; neighbours: boolean }) => {
      const p = nonEmpty('prompt', prompt);
      outDir(f.out);
      const reading = { define: f.define, neighbours: f.neighbours };
      const r = generate(modelFor(f, 't2i', p, reading), p, { ...decodeOptions(f), best: f.best, textGuidance: f.textGuidance, ...reading });
      await writeImageTask(f, r, p, {
        command: 'generate', prompt: p, best: f.best, textGuidance: f.textGuidance, ...reading, readPrompt: r.readPrompt ?? null, readAs: r.readAs ?? null,
      });
    });

  imageFlags(program.command('edit').description('edit an image by an instruction (decodes f0 by default)'), FINE_SCALES)
    .argument('<image>', 'PNG, JPEG or WebP file')
    .argument('<instruction>', 'e.g. "Make the skin darker."')
    .option('--no-keep-input', 'return the decoder\'s images as they are, not the input plus the change they make')
    .option('--strength <s>', 'how much of the decoded change to add to the input (2 doubles a faint edit)', nonNegative('--strength'), 1)
    .action(async (path: string, instruction: string, f: ImageFlags & { keepInput: boolean; strength: number }) => {
      const text = nonEmpty('instruction', instruction);
      checkStrength(f.strength, f.keepInput);
      const img = await readImage(path);
      outDir(f.out);
      const r = edit(modelFor(f, 'edit'), img, text, { ...decodeOptions(f), keepInput: f.keepInput, strength: f.strength });
      await writeImageTask(f, r, text, { command: 'edit', image: path, instruction: text, strength: f.strength, kept: r.kept ?? null });
    });

  imageFlags(program.command('inpaint').description('fill a region of an image: --mask <png> (white = fill) or --box x,y,w,h'), '4, or 0 with --no-keep-input (docs/PUMA.md)')
    .argument('<image>', 'PNG, JPEG or WebP file')
    .option('--mask <png>', 'mask of the input\'s size, white where to fill')
    .option('--box <x,y,w,h>', 'rectangle to fill, in the input\'s pixels', parseBox)
    .option('--caption <text>', 'what the image shows (the training prompts carry a caption)')
    .option('--no-instruction', 'leave out the task instruction before the caption')
    .option('--no-keep-input', 'return the decoder\'s images as they are, without pasting the known pixels back')
    .action(async (path: string, f: ImageFlags & { mask?: string; box?: Box; caption?: string; instruction: boolean; keepInput: boolean }) => {
      if (!f.mask === !f.box) throw new Error('inpaint needs exactly one of --mask <png> and --box x,y,w,h');
      f.scales ??= [...inpaintScales(f.keepInput)];
      const img = await readImage(path);
      const region = f.mask ? { mask: await readImage(f.mask) } : { box: f.box! };
      holeMask(region, img.width, img.height); // the region's errors before the model loads
      outDir(f.out);
      const r = inpaint(modelFor(f, 'cond'), img, region, { ...decodeOptions(f), caption: f.caption, instruction: f.instruction, keepInput: f.keepInput });
      await writeImageTask(f, r, r.text, { command: 'inpaint', image: path, mask: f.mask, box: f.box, prompt: r.text, kept: r.kept ?? null });
    });

  imageFlags(program.command('colorize').description('colour a grayscale image (decodes f0 by default)'), FINE_SCALES)
    .argument('<image>', 'PNG, JPEG or WebP file (a colour image is made grey first)')
    .option('--caption <text>', 'what the image shows (the training prompts carry a caption)')
    .option('--no-instruction', 'leave out the task instruction before the caption')
    .option('--no-keep-input', 'return the decoder\'s images as they are, without the input\'s luma')
    .action(async (path: string, f: ImageFlags & { caption?: string; instruction: boolean; keepInput: boolean }) => {
      const img = await readImage(path);
      outDir(f.out);
      const r = colorize(modelFor(f, 'cond'), img, { ...decodeOptions(f), caption: f.caption, instruction: f.instruction, keepInput: f.keepInput });
      await writeImageTask(f, r, r.text, { command: 'colorize', image: path, prompt: r.text, kept: r.kept ?? null });
    });

  imageFlags(program.command('canny2img').description('draw an image from the canny edges of another and a caption (decodes f0 by default)'), FINE_SCALES)
    .argument('<image>', 'PNG, JPEG or WebP file: its canny edges (100, 200) are the condition')
    .argument('<prompt>', 'the caption of the image to draw')
    .option('--edges', 'the input already is an edge map (white on black)', false)
    .option('--no-instruction', 'leave out the task instruction before the caption')
    .action(async (path: string, prompt: string, f: ImageFlags & { edges: boolean; instruction: boolean }) => {
      const p = nonEmpty('prompt', prompt);
      const img = await readImage(path);
      outDir(f.out);
      const r = canny2img(modelFor(f, 'canny', p), img, p, { ...decodeOptions(f), edges: f.edges, instruction: f.instruction });
      await writeImageTask(f, r, r.text, { command: 'canny2img', image: path, prompt: r.text, edges: f.edges });
    });

  modelFlags(program.command('ask').description('answer a question about an image (prints the answer)'))
    .argument('<image>', 'PNG, JPEG or WebP file')
    .argument('<question>', 'e.g. "What does this emoji show?"')
    .addHelpText('after', ASK_HELP)
    .option('--max-tokens <n>', 'longest answer in tokens', positiveInt('--max-tokens'), 32)
    .option('--temperature <t>', '0 = greedy; above 0 samples (with --top-p)', nonNegative('--temperature'), 0)
    .option('--top-p <p>', 'nucleus sampling mass', nonNegative('--top-p'), 0.9)
    .option('--seed <n>', 'sampling seed', (v) => parseSeeds(v)[0], 0)
    .option('--out <dir>', 'also write the input as the model saw it and settings.json with the answer')
    .action(async (path: string, question: string, f: ModelFlags & { maxTokens: number; temperature: number; topP: number; seed: number; out?: string }) => {
      const q = nonEmpty('question', question);
      const img = await readImage(path);
      if (f.out) outDir(f.out);
      const model = loadModel(f);
      mllmFor(model, 'understand'); // no MLLM at all: the error before any work
      const r = ask(model, img, q, { maxTokens: f.maxTokens, temperature: f.temperature, topP: f.topP, seed: f.seed });
      if (r.note) process.stderr.write(`note: ${r.note}\n`);
      if (!r.answer) process.stderr.write('note: the model stopped without writing an answer\n');
      process.stdout.write(`${r.answer}\n`);
      if (f.out) {
        await writeImage(r.input, join(f.out, 'input.png'));
        writeSettings(f.out, {
          command: 'ask', image: path, question: q, answer: r.answer, model: f.model, mllm: r.stage, note: r.note,
          maxTokens: f.maxTokens, temperature: f.temperature, topP: f.topP, seed: f.seed, files: ['input.png', 'settings.json'],
        });
      }
    });

  modelFlags(program.command('ground').description('find a phrase in an image: a box from the 224 position tokens, drawn on it'))
    .argument('<image>', 'PNG, JPEG or WebP file')
    .argument('<phrase>', 'e.g. "grinning face"')
    .requiredOption('--out <dir>', 'output folder for box.png and settings.json')
    .action(async (path: string, phrase: string, f: ModelFlags & { out: string }) => {
      const p = nonEmpty('phrase', phrase);
      const img = await readImage(path);
      outDir(f.out);
      const r = ground(noteMllm(loadModel(f), 'understand'), img, p);
      await writeImage(r.drawn, join(f.out, 'box.png'));
      writeSettings(f.out, {
        command: 'ground', image: path, phrase: p, question: r.question, answer: r.answer, box: r.box,
        model: f.model, mllm: r.stage, note: r.note, files: ['box.png', 'settings.json'],
      });
      process.stdout.write(r.box
        ? `box ${r.box.join(',')} (x0,y0,x1,y1 in pixels, inclusive); wrote box.png to ${f.out}\n`
        : `no box in the answer '${r.answer}'; wrote the image and settings.json to ${f.out}\n`);
    });
}
