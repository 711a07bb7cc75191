import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { SCHEDULER_NAMES, type SchedulerName } from '../diffusion/index.js';
import { renderGrid } from '../io/grid.js';
import { DEFAULT_MODEL, nonNegative, parseScales, parseScheduler, parseSeeds, positiveInt, progress } from './options.js';
import { readImage, tensorToImages, writeImage, type Image } from '../io/image.js';
import { SCALE_TOKENS } from '../models/puma/encoder.js';
import { DECODE_DEFAULTS } from '../pipelines/decode.js';
import { exportBundle, loadPuma } from '../pipelines/bundle.js';
import { prepareImage, reconstruct } from '../pipelines/reconstruct.js';
import { isReleaseFolder, loadRelease, reconstructRelease, RELEASE_DECODE } from '../pipelines/release.js';
import type { Tensor } from '../tensor/index.js';

interface DecodeFlags { model: string; data: string; steps: number; guidance: number; scheduler: SchedulerName }

function decodeFlags(cmd: Command): Command {
  return cmd
    .option('--model <dir>', 'trained model: a bundle (models/puma-emoji), a runs folder, or (reconstruct) the authors\' release checkpoints', DEFAULT_MODEL)
    .option('--data <dir>', 'emoji dataset (for an unfinished VAE run)', 'data/emoji')
    .option('--steps <n>', 'sampling steps', positiveInt('--steps'), DECODE_DEFAULTS.steps)
    .option('--guidance <g>', 'classifier-free guidance scale', nonNegative('--guidance'), DECODE_DEFAULTS.guidance)
    .option('--scheduler <name>', `sampler: ${SCHEDULER_NAMES.join(', ')}`, parseScheduler, DECODE_DEFAULTS.scheduler);
}

/** `puma reconstruct` and `puma export`. */
export function registerReconstructCommands(program: Command): void {
  decodeFlags(program.command('reconstruct').description('encode an image and decode it at each feature scale (paper Fig. 3)'))
    .argument('<image>', 'PNG, JPEG or WebP file')
    .option('--scales <list>', 'scales to decode, 0 (f0, finest) .. 4 (f4, coarsest)', parseScales, [4, 3, 2, 1, 0])
    .option('--seeds <list>', 'one decode per seed', parseSeeds, [0])
    .requiredOption('--out <dir>', 'output folder for PNGs and settings.json')
    .action(async (path: string, f: DecodeFlags & { scales: number[]; seeds: number[]; out: string }, cmd: Command) => {
      const img = await readImage(path);
      if (isReleaseFolder(f.model)) {
        await reconstructWithRelease(path, img, f, cmd);
        return;
      }
      const model = loadPuma(f.model, f.data);
      const x = prepareImage(img);
      mkdirSync(f.out, { recursive: true });
      const decodes = f.seeds.map((seed) => reconstruct(model, x, f.scales, {
        steps: f.steps, guidance: f.guidance, scheduler: f.scheduler, seed,
        onStep: (k, i, n) => progress(`f${k} seed ${seed}: step ${i}/${n}`),
      }));
      if (process.stderr.isTTY) process.stderr.write('\n');
      await writeReconstruction(f, tensorToImages(x)[0], (k, i) => decodes[i].get(k)!, 2, { command: 'reconstruct', image: path, ...f });
    });

  program.command('export').description('write the trained parts of a runs folder as a model bundle (float16)')
    .option('--runs <dir>', 'training runs', 'runs')
    .option('--data <dir>', 'emoji dataset (for an unfinished VAE run)', 'data/emoji')
    .requiredOption('--out <dir>', 'bundle folder, e.g. models/puma-emoji')
    .action((f: { runs: string; data: string; out: string }) => {
      const parts = exportBundle(f.runs, f.out, f.data);
      process.stdout.write(`wrote ${parts.join(', ')} to ${f.out}\n`);
    });
}

/**
 * `puma reconstruct --model <ckpts>` on the authors' release (src/pipelines/release.ts): their
 * reference script's decode, at its settings (DDPM, 50 steps, guidance 2.0) unless flags say
 * otherwise; one SDXL-size decoder in memory at a time, a progress bar per scale.
 */
async function reconstructWithRelease(path: string, img: Image, f: DecodeFlags & { scales: number[]; seeds: number[]; out: string }, cmd: Command): Promise<void> {
  const given = (name: string) => cmd.getOptionValueSource(name) !== 'default';
  const settings = {
    steps: given('steps') ? f.steps : RELEASE_DECODE.steps,
    guidance: given('guidance') ? f.guidance : RELEASE_DECODE.guidance,
    scheduler: given('scheduler') ? f.scheduler : RELEASE_DECODE.scheduler,
  };
  process.stderr.write(`loading the release's CLIP and VAE from ${f.model}\n`);
  const release = loadRelease(f.model);
  mkdirSync(f.out, { recursive: true });
  const bar = process.stderr.isTTY ? new SingleBar({ format: '{what} {bar} {value}/{total} {eta_formatted}', stream: process.stderr }) : null;
  let barFor = '';
  const out = reconstructRelease(release, img, f.scales, {
    ...settings, seeds: f.seeds,
    onProgress: (k, seed, stage, done, total) => {
      if (stage === 'loading') process.stderr.write(`f${k} (unet_${SCALE_TOKENS[k]}): loading the decoder\n`);
      if (stage !== 'sampling') return;
      if (bar && barFor !== `${k}/${seed}`) {
        bar.stop();
        bar.start(total, 0, { what: `f${k} seed ${seed}` });
        barFor = `${k}/${seed}`;
      }
      bar?.update(done);
      if (!bar && done === total) process.stderr.write(`f${k} seed ${seed}: ${total} steps done\n`);
    },
  });
  bar?.stop();
  const input = tensorToImages(prepareImage(img, out.get(f.scales[0])![0].shape[3], 'bilinear'))[0];
  await writeReconstruction(f, input, (k, i) => out.get(k)![i], 1,
    { command: 'reconstruct', image: path, model: f.model, release: true, scales: f.scales, seeds: f.seeds, ...settings, out: f.out });
}

/** f<k>-seed<s>.png for every scale and seed, grid.png (a row per seed after the input) and settings.json. */
async function writeReconstruction(
  f: { scales: number[]; seeds: number[]; out: string }, input: Image, decoded: (scale: number, seedIndex: number) => Tensor,
  gridScale: number, settings: Record<string, unknown>,
): Promise<void> {
  const rows = [];
  for (const [i, seed] of f.seeds.entries()) {
    const cells = [{ image: input, caption: 'input' }];
    for (const k of f.scales) {
      const im = tensorToImages(decoded(k, i))[0];
      await writeImage(im, join(f.out, `f${k}-seed${seed}.png`));
      cells.push({ image: im, caption: `f${k}` });
    }
    rows.push({ cells, text: `seed ${seed}` });
  }
  writeFileSync(join(f.out, 'grid.png'), await renderGrid(rows, { scale: gridScale }));
  writeFileSync(join(f.out, 'settings.json'), `${JSON.stringify(settings, null, 2)}\n`);
  process.stdout.write(`wrote ${f.scales.length * f.seeds.length} images and grid.png to ${f.out}\n`);
}
