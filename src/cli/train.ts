import type { Command } from 'commander';
import { trainClip } from '../train/recipes/clip.js';
import { trainVae } from '../train/recipes/vae.js';
import { trainDecoder } from '../train/recipes/decoder.js';
import { CAPTION_DROPOUT, MLLM_TASKS, trainMllm, type MllmTask } from '../train/recipes/mllm.js';
import { trainAll } from '../train/recipes/all.js';
import type { RecipeOptions } from '../train/recipes/common.js';
import { importBundle } from '../pipelines/bundle.js';

interface TrainFlags { data: string; runs: string; steps?: number; batch?: number; seed: number }

function recipeOptions(f: TrainFlags): RecipeOptions {
  return { data: f.data, runs: f.runs, steps: f.steps, batch: f.batch, seed: f.seed };
}

/** Where data and runs live, and the seed: every training command's options. */
function where(cmd: Command): Command {
  return cmd
    .option('--data <dir>', 'emoji dataset (puma data build)', 'data/emoji')
    .option('--runs <dir>', 'folder of training runs (checkpoints, logs)', 'runs')
    .option('--seed <n>', 'random seed', (v) => Number(v), 0);
}

/** A single stage's options: `where`, plus its step count and batch size. */
function common(cmd: Command): Command {
  return where(cmd)
    .option('--steps <n>', 'total optimizer steps', (v) => positiveInt(v, '--steps'))
    .option('--batch <n>', 'batch size', (v) => positiveInt(v, '--batch'));
}

function parseScaleWeights(v: string): 'emoji' | 'paper' | number[] {
  if (v === 'emoji' || v === 'paper') return v;
  const w = v.split(',').map(Number);
  if (w.length !== 5 || w.some((x) => !Number.isFinite(x) || x < 0)) throw new Error(`--scale-weights must be emoji, paper or five numbers >= 0 for f4..f0, got '${v}'`);
  return w;
}

function positiveInt(v: string, name: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
}

function report(stage: string, r: { step: number; seconds: number; stopped: boolean; last: Record<string, number> }): void {
  const what = r.stopped ? 'stopped (resume by running the same command)' : 'done';
  process.stdout.write(`${stage}: ${what} at step ${r.step}, ${(r.seconds / 60).toFixed(1)} min of training; last ${JSON.stringify(r.last)}\n`);
}

/** `puma train ...`: every training stage, each resumable from its last checkpoint. */
export function registerTrainCommands(program: Command): void {
  const train = program.command('train').description('train the small PUMA on the emoji world (resumable)');
  common(train.command('clip').description('stage 0a: the mini CLIP whose vision tower is the multi-granular encoder'))
    .action(async (f: TrainFlags) => report('clip', await trainClip(recipeOptions(f))));
  common(train.command('vae').description('stage 0b: the VAE (64x64x3 <-> 16x16x4)'))
    .action(async (f: TrainFlags) => report('vae', await trainVae(recipeOptions(f))));
  common(train.command('decoder').description('stage 1: the decoder of one feature scale (needs clip and vae)'))
    .requiredOption('--scale <k>', 'feature scale: 0 (f0, 256 tokens) .. 4 (f4, 1 token)', (v) => {
      const k = Number(v);
      if (!Number.isInteger(k) || k < 0 || k > 4) throw new Error(`--scale must be one of 0, 1, 2, 3, 4, got '${v}'`);
      return k;
    })
    .option('--spatial-channels <n>', 'channels of the spatial conditioning path (0 = cross-attention only, as the paper)', (v) => Number(v), 16)
    .option('--cond-augment <p>', 'fraction of samples conditioned on degraded features (shrunk, smoothed, noised), as an MLLM regresses them (ours; 0 = the paper)', (v) => {
      const p = Number(v);
      if (!(p >= 0 && p <= 1)) throw new Error(`--cond-augment must be a number in 0..1, got '${v}'`);
      return p;
    }, 0)
    .action(async (f: TrainFlags & { scale: number; spatialChannels: number; condAugment: number }) =>
      report(`decoder f${f.scale}`, await trainDecoder({ ...recipeOptions(f), scale: f.scale, spatialChannels: f.spatialChannels, condAugment: f.condAugment })));
  common(train.command('mllm').description('stages 2-3: the MLLM, pretraining (t2i + i2t) or instruction tuning of one task family (needs clip)'))
    .requiredOption('--stage <stage>', 'pretrain | instruct', (v) => {
      if (v !== 'pretrain' && v !== 'instruct') throw new Error(`--stage must be pretrain or instruct, got '${v}'`);
      return v;
    })
    .option('--task <task>', `instruct only: ${MLLM_TASKS.join(' | ')}`, (v) => {
      if (!(MLLM_TASKS as readonly string[]).includes(v)) throw new Error(`--task must be one of ${MLLM_TASKS.join(', ')}, got '${v}'`);
      return v;
    })
    .option('--scale-weights <w>', 'alpha of the feature loss for f4..f0: emoji (8,4,2,1,1), paper (1024,512,64,8,1) or five numbers', parseScaleWeights, 'emoji')
    .option('--lr <rate>', 'peak learning rate of the LLM (projector and head get twice it)', (v) => {
      const n = Number(v);
      if (!(n > 0 && n < 1)) throw new Error(`--lr must be a number in (0, 1), got '${v}'`);
      return n;
    })
    .option('--caption-dropout <p>', `t2i and edit: share of captions (edit: instructions) dropped, so text guidance has a trained unconditional branch (our addition; default ${CAPTION_DROPOUT} for t2i, 0 for edit)`, (v) => {
      const n = Number(v);
      if (!(n >= 0 && n < 1)) throw new Error(`--caption-dropout must be a number in [0, 1), got '${v}'`);
      return n;
    })
    .option('--init <stage>', `instruct only: the stage a new run starts from: pretrain (the paper) or ${MLLM_TASKS.join(' | ')}, or a run folder (a path with '/')`, (v) => {
      if (v !== 'pretrain' && !(MLLM_TASKS as readonly string[]).includes(v) && !v.includes('/')) throw new Error(`--init must be pretrain, one of ${MLLM_TASKS.join(', ')} or a run folder, got '${v}'`);
      return v;
    })
    .option('--self-feed <p>', 't2i/edit/cond/canny: share of target slots read as the model\'s own prediction while training, so free-running generation meets inputs it was trained on (our addition; default 0)', (v) => {
      const n = Number(v);
      if (!(n >= 0 && n <= 1)) throw new Error(`--self-feed must be a number in [0, 1], got '${v}'`);
      return n;
    })
    .option('--self-feed-passes <n>', 'with --self-feed: prediction passes, each from the previous one\'s predictions, so errors compound as in generation (default 1)', (v) => {
      const n = Number(v);
      if (!(Number.isInteger(n) && n >= 1)) throw new Error(`--self-feed-passes must be an integer >= 1, got '${v}'`);
      return n;
    })
    .option('--definitions', 't2i/pretrain: also give captions as the WordNet definitions of their names, so prompts of unseen words can be defined (our addition; kept on resume)')
    .option('--input-residual', 'edit/cond: regress the target as the input image\'s features plus a learned change (our addition; a new run from weights without it starts at "change nothing"; kept on resume)')
    .option('--input-map', 'edit/cond/canny: the input residual through a learned linear map of the input\'s features, edge maps included (our addition; a new run starts the map at a ridge read-out and the head at zero; kept on resume)')
    .option('--slot-embedding', 'give the model a learned embedding per feature slot, so a slot being written finds the same slot of the input image (our addition; starts at zero, so it can be added to a trained run; kept on resume)')
    .action(async (f: TrainFlags & { stage: 'pretrain' | 'instruct'; task?: MllmTask; scaleWeights: 'emoji' | 'paper' | number[]; lr?: number; captionDropout?: number; init?: string; selfFeed?: number; selfFeedPasses?: number; slotEmbedding?: boolean; inputResidual?: boolean; inputMap?: boolean; definitions?: boolean }) =>
      report(`mllm ${f.stage}${f.task ? ` ${f.task}` : ''}`, await trainMllm({
        ...recipeOptions(f), stage: f.stage, task: f.task, scaleWeights: f.scaleWeights, lr: f.lr, captionDropout: f.captionDropout, init: f.init, selfFeed: f.selfFeed, selfFeedPasses: f.selfFeedPasses, slotEmbedding: f.slotEmbedding, inputResidual: f.inputResidual, inputMap: f.inputMap, definitions: f.definitions,
      })));
  train.command('from-bundle').description('start a runs folder from a model bundle\'s weights, to train on from a shipped model')
    .argument('[bundle]', 'model bundle', 'models/puma-emoji')
    .option('--runs <dir>', 'folder of training runs to create or complete', 'runs')
    .action((bundle: string, f: { runs: string }) => {
      for (const line of importBundle(bundle, f.runs)) process.stdout.write(`${line}\n`);
      process.stdout.write(`resume any stage with its command, e.g. 'puma train decoder --scale 4 --runs ${f.runs} --steps 5000' (steps count from 0, AdamW starts fresh)\n`);
    });
  where(train.command('all').description('the whole recipe in order, with the shipped model\'s step counts (about 23.4 h here by the measured stage times): clip, vae, decoders f0..f4, mllm pretrain, mllm instruct per task (t2i self-fed; edit, cond and canny from t2i, self-fed, with the slot embedding; edit and cond with the input residual). Resumable: Ctrl-C saves the running stage and ends; the same command goes on from there'))
    .option('--steps-factor <f>', 'multiply every stage\'s steps by f (at least 1 step each), e.g. 0.01 for a quick run of the whole recipe', (v) => {
      const n = Number(v);
      if (!(n > 0 && n <= 1)) throw new Error(`--steps-factor must be a number in (0, 1], got '${v}'`);
      return n;
    }, 1)
    .action(async (f: { data: string; runs: string; seed: number; stepsFactor: number }) => {
      const t0 = performance.now();
      const done = await trainAll({ data: f.data, runs: f.runs, seed: f.seed, stepsFactor: f.stepsFactor, onStage: report });
      const what = done.at(-1)?.result.stopped ? `stopped in ${done.at(-1)!.stage}; run the same command to go on` : 'all stages done';
      process.stdout.write(`${what}, ${((performance.now() - t0) / 60000).toFixed(1)} min (this invocation)\n`);
    });
}
