// `puma train all`: every stage in order, each resuming from its own checkpoint, with the step
// counts and settings the shipped bundle (models/puma-emoji) was trained with.
import type { RunResult } from '../run.js';
import { trainClip } from './clip.js';
import type { RecipeOptions } from './common.js';
import { trainDecoder } from './decoder.js';
import { MLLM_TASKS, trainMllm, type MllmRecipeOptions, type MllmTask } from './mllm.js';
import { trainVae } from './vae.js';

/**
 * What `puma train all` gives each instruction task beyond the paper's recipe (docs/PUMA.md): t2i
 * trains partly on its own predictions; edit, cond and canny too, and start from the t2i stage
 * with the slot embedding; edit and cond with the input residual and the loss weighted toward f0
 * (they are decoded at f0); canny keeps f4 heavy and weights f0 up.
 */
const SELF_FED = { selfFeed: 0.75, selfFeedPasses: 2 } as const;
const IMAGE_TO_IMAGE_ADDITIONS = { ...SELF_FED, init: 't2i', slotEmbedding: true, inputResidual: true, scaleWeights: [1, 1, 2, 4, 8] } as const;
export const TRAIN_ALL_ADDITIONS: Readonly<Record<MllmTask, Partial<MllmRecipeOptions>>> = {
  t2i: { ...SELF_FED, lr: 5e-4 },
  edit: IMAGE_TO_IMAGE_ADDITIONS,
  cond: IMAGE_TO_IMAGE_ADDITIONS,
  canny: { ...SELF_FED, init: 't2i', slotEmbedding: true, scaleWeights: [8, 4, 2, 4, 8] },
  understand: { lr: 5e-4 },
};

/**
 * Optimizer steps per stage: the shipped stages' counts (docs/PUMA.md, training table). Edit and
 * cond, whose shipped weights came from a chain of runs with changing settings, get 3000 steps
 * of the final settings; D0, D3, D4, understand and t2i were trained on in sessions 11 to 14 (D0 1800 +
 * 6000, D3 10000 + 10000, D4 10000 + 16000, understand 1540 + 1000 + 5000, t2i 4500 + 3500 + 3500, each
 * continuation with a fresh optimizer) and get the sums in one run. The stage times of that table add up to about 23.4 h
 * (measured at 1 thread beside other jobs; the whole recipe at these counts has not been run).
 */
export const TRAIN_ALL_STEPS = {
  clip: 500, vae: 700,
  /** f0..f4: the coarse decoders need the most steps to use their one to sixteen tokens. */
  decoders: [7800, 5000, 9000, 20000, 26000],
  pretrain: 2500,
  instruct: { t2i: 11500, edit: 3000, cond: 3000, canny: 1000, understand: 7500 } satisfies Record<MllmTask, number>,
} as const;

export interface TrainAllOptions extends Omit<RecipeOptions, 'steps' | 'batch'> {
  /** Multiplies every stage's steps (at least 1 each): 0.01 runs the whole recipe in minutes. */
  stepsFactor?: number;
  /** Called after each stage with its name and result. */
  onStage?: (stage: string, r: RunResult) => void;
}

/**
 * Trains clip, vae, decoders f0, f4, f1, f2, f3, MLLM pretraining and each instruction task in
 * order; a stage already at its step count returns at once, so running it again resumes where it
 * stopped. Stops after a stage that was interrupted (Ctrl-C), so one interrupt ends the recipe.
 * Returns the stages' results in order.
 */
export async function trainAll(o: TrainAllOptions): Promise<{ stage: string; result: RunResult }[]> {
  const f = o.stepsFactor ?? 1;
  if (!(f > 0 && f <= 1)) throw new Error(`--steps-factor must be a number in (0, 1], got ${f}`);
  const steps = (n: number) => Math.max(1, Math.round(n * f));
  const base = { data: o.data, runs: o.runs, seed: o.seed, progress: o.progress };
  const stages: [string, () => Promise<RunResult>][] = [
    ['clip', () => trainClip({ ...base, steps: steps(TRAIN_ALL_STEPS.clip) })],
    ['vae', () => trainVae({ ...base, steps: steps(TRAIN_ALL_STEPS.vae) })],
    ...[0, 4, 1, 2, 3].map((k): [string, () => Promise<RunResult>] => [`decoder f${k}`, () => trainDecoder({ ...base, scale: k, steps: steps(TRAIN_ALL_STEPS.decoders[k]) })]),
    ['mllm pretrain', () => trainMllm({ ...base, stage: 'pretrain', steps: steps(TRAIN_ALL_STEPS.pretrain) })],
    ...MLLM_TASKS.map((task): [string, () => Promise<RunResult>] => [`mllm instruct ${task}`,
      () => trainMllm({ ...base, stage: 'instruct', task, steps: steps(TRAIN_ALL_STEPS.instruct[task]), ...TRAIN_ALL_ADDITIONS[task] })]),
  ];
  const done: { stage: string; result: RunResult }[] = [];
  for (const [stage, run] of stages) {
    const result = await run();
    done.push({ stage, result });
    o.onStage?.(stage, result);
    if (result.stopped) break;
  }
  return done;
}
