// The training loop shared by every recipe: resumable checkpoints written atomically, a JSONL
// log, a progress bar with ETA, a loss-curve PNG, and a clean stop on Ctrl-C.
//
// A run lives in one folder:
//   latest            name of the newest complete checkpoint folder (replaced atomically)
//   ckpt-<step>/      weights.safetensors, optim.safetensors, state.json
//   log.jsonl         one line per logged step: {step, time, lr, ...metrics}
//   loss.png          the loss curves, redrawn at each checkpoint
//   config.json       the recipe's settings (written by the recipe)
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { AdamW } from '../nn/optim.js';
import { clipGradNorm } from '../nn/optim.js';
import type { Module } from '../nn/module.js';
import type { LrSchedule } from '../nn/schedule.js';
import { Generator, keep, tidy, type Tensor } from '../tensor/index.js';
import { drawLossCurves } from './plot.js';

export type Metrics = Record<string, number>;

export interface RunOptions {
  /** Shown in the progress bar and logs. */
  name: string;
  dir: string;
  /** Modules whose weights the checkpoint holds, by prefix (e.g. { unet, mapping }). */
  modules: Record<string, Module>;
  optimizer: AdamW;
  schedule?: LrSchedule;
  totalSteps: number;
  /** One training step: forward and backward (the loop zeroes grads, clips and steps). It gets
   * a generator seeded from (seed, step), so a resumed run sees the same batches. Returns
   * metrics; `loss` is the one shown. */
  step: (step: number, rng: Generator) => Metrics;
  seed?: number;
  clipGrad?: number;
  /** Seconds between checkpoints (default 120) and at the end. */
  saveEverySeconds?: number;
  logEvery?: number;
  /** Optional evaluation every `evalEvery` steps (runs without gradients). */
  evalEvery?: number;
  evaluate?: (step: number) => Metrics;
  /** Show a progress bar (default: when stderr is a TTY). */
  progress?: boolean;
}

export interface RunResult {
  step: number;
  seconds: number;
  stopped: boolean;
  last: Metrics;
}

interface SavedState {
  step: number;
  optimizerSteps: number;
  seconds: number;
  name: string;
}

/** The newest complete checkpoint folder of a run, or null. */
export function latestCheckpoint(dir: string): string | null {
  const p = join(dir, 'latest');
  if (!existsSync(p)) return null;
  const name = readFileSync(p, 'utf8').trim();
  const full = join(dir, name);
  return existsSync(join(full, 'state.json')) ? full : null;
}

/** Loads the weights of a run's latest checkpoint into modules (by the same prefixes). */
export function loadRunWeights(dir: string, modules: Record<string, Module>): number {
  const ckpt = latestCheckpoint(dir);
  if (!ckpt) throw new Error(`no checkpoint in ${dir}: train it first`);
  const tensors = readSafetensors(join(ckpt, 'weights.safetensors'));
  for (const [prefix, m] of Object.entries(modules)) {
    const sub = new Map<string, Tensor>();
    for (const [k, t] of tensors) if (k.startsWith(`${prefix}.`)) sub.set(k.slice(prefix.length + 1), t);
    m.loadStateDict(sub);
  }
  for (const t of tensors.values()) t.dispose();
  return (JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8')) as SavedState).step;
}

function namedParams(modules: Record<string, Module>): [string, Tensor][] {
  return Object.entries(modules).flatMap(([prefix, m]) => m.namedParameters(`${prefix}.`));
}

function save(o: RunOptions, step: number, seconds: number): void {
  const params = namedParams(o.modules);
  const optim = new Map<string, Tensor>();
  for (const [k, p] of params) {
    const s = o.optimizer.state(p);
    if (s) {
      optim.set(`${k}.m`, s.m);
      optim.set(`${k}.v`, s.v);
    }
  }
  writeCheckpoint(o.dir, params, optim, { step, optimizerSteps: o.optimizer.stepCount, seconds, name: o.name });
}

/** Writes ckpt-<step> atomically, points `latest` at it and removes older checkpoints. */
function writeCheckpoint(dir: string, params: [string, Tensor][], optim: Map<string, Tensor>, state: SavedState): void {
  const name = `ckpt-${state.step}`;
  const tmp = join(dir, `.tmp-${name}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  writeSafetensors(join(tmp, 'weights.safetensors'), new Map(params), { metadata: { format: 'pt', step: String(state.step) } });
  writeSafetensors(join(tmp, 'optim.safetensors'), optim);
  writeFileSync(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  rmSync(join(dir, name), { recursive: true, force: true });
  renameSync(tmp, join(dir, name));
  // The pointer is replaced by rename, so a crash leaves either the old or the new checkpoint.
  writeFileSync(join(dir, 'latest.tmp'), `${name}\n`);
  renameSync(join(dir, 'latest.tmp'), join(dir, 'latest'));
  for (const f of readdirSync(dir)) {
    if (f.startsWith('ckpt-') && f !== name) rmSync(join(dir, f), { recursive: true, force: true });
  }
}

/**
 * Starts a run folder from given weights: ckpt-0 with the modules' parameters and no optimizer
 * state, so the recipe's next run trains on from them (fresh AdamW, schedule from step 0).
 * Refuses a folder that already has a checkpoint.
 */
export function seedRun(dir: string, name: string, modules: Record<string, Module>): void {
  if (latestCheckpoint(dir)) throw new Error(`${dir} already has a checkpoint; remove it first to start from other weights`);
  mkdirSync(dir, { recursive: true });
  writeCheckpoint(dir, namedParams(modules), new Map(), { step: 0, optimizerSteps: 0, seconds: 0, name });
}

function restore(o: RunOptions): SavedState | null {
  const ckpt = latestCheckpoint(o.dir);
  if (!ckpt) return null;
  const state = JSON.parse(readFileSync(join(ckpt, 'state.json'), 'utf8')) as SavedState;
  loadRunWeights(o.dir, o.modules);
  const optim = readSafetensors(join(ckpt, 'optim.safetensors'));
  const params = namedParams(o.modules);
  o.optimizer.restore(params.flatMap(([k, p]) => {
    const m = optim.get(`${k}.m`), v = optim.get(`${k}.v`);
    return m && v ? [{ param: p, m: keep(m), v: keep(v) }] : [];
  }), state.optimizerSteps);
  return state;
}

/**
 * Runs (or resumes) a training run to totalSteps.
 *
 * @example
 * await runTraining({ name: 'vae', dir: 'runs/vae', modules: { vae }, optimizer, totalSteps: 3000,
 *   step: (i, rng) => { const loss = vae.loss(batch(rng)); loss.backward(); return { loss: loss.item() }; } });
 */
export async function runTraining(o: RunOptions): Promise<RunResult> {
  mkdirSync(o.dir, { recursive: true });
  const seed = o.seed ?? 0;
  const resumed = restore(o);
  let step = resumed?.step ?? 0;
  const priorSeconds = resumed?.seconds ?? 0;
  if (resumed) process.stderr.write(`${o.name}: resumed from step ${step}\n`);
  const logPath = join(o.dir, 'log.jsonl');
  const params = Object.values(o.modules).flatMap((m) => m.parameters()).filter((p) => p.requiresGrad);
  let stopRequested = false;
  const onSignal = () => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write(`\n${o.name}: stopping after this step and saving (Ctrl-C again to abort)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const showBar = o.progress ?? process.stderr.isTTY;
  const bar = showBar
    ? new cliProgress.SingleBar({
      format: `${o.name} [{bar}] {value}/{total} | loss {loss} | {rate} it/s | ETA {eta_formatted}`,
      stream: process.stderr, etaBuffer: 50, hideCursor: true,
    }, cliProgress.Presets.shades_classic)
    : null;
  bar?.start(o.totalSteps, step, { loss: '-', rate: '-' });
  const t0 = performance.now();
  let lastSave = t0, lastPrint = t0, last: Metrics = {};
  const stepsAtStart = step;
  const logEvery = o.logEvery ?? 10;
  try {
    while (step < o.totalSteps && !stopRequested) {
      const lrFactor = o.schedule ? o.schedule(step) : 1;
      o.optimizer.setLrFactor(lrFactor);
      const rng = new Generator(seed * 1_000_003 + step);
      const metrics = tidy(() => {
        o.optimizer.zeroGrad();
        const m = o.step(step, rng);
        if (o.clipGrad) m.gradNorm = clipGradNorm(params, o.clipGrad);
        o.optimizer.step();
        return m;
      });
      step++;
      last = metrics;
      const now = performance.now();
      if (step % logEvery === 0 || step === o.totalSteps) {
        const lr = o.optimizer.groups[0]?.lr ?? 0;
        appendFileSync(logPath, `${JSON.stringify({ step, time: +((priorSeconds * 1000 + now - t0) / 1000).toFixed(2), lr, ...metrics })}\n`);
      }
      if (o.evaluate && o.evalEvery && step % o.evalEvery === 0) {
        const ev = o.evaluate(step);
        appendFileSync(logPath, `${JSON.stringify({ step, eval: ev })}\n`);
        if (!bar) process.stderr.write(`${o.name} step ${step}: ${JSON.stringify(ev)}\n`);
      }
      const rate = (step - stepsAtStart) / ((now - t0) / 1000);
      bar?.update(step, { loss: (metrics.loss ?? NaN).toFixed(4), rate: rate.toFixed(2) });
      if (!bar && now - lastPrint > 10_000) {
        lastPrint = now;
        const eta = (o.totalSteps - step) / rate;
        process.stderr.write(`${o.name} ${step}/${o.totalSteps} loss ${(metrics.loss ?? NaN).toFixed(4)} ${rate.toFixed(2)} it/s ETA ${Math.round(eta)}s\n`);
      }
      if (now - lastSave > (o.saveEverySeconds ?? 120) * 1000) {
        save(o, step, priorSeconds + (now - t0) / 1000);
        drawLossCurves(logPath, join(o.dir, 'loss.png')).catch(() => undefined);
        lastSave = now;
      }
      // Yield so signals are handled between steps.
      await new Promise((r) => setImmediate(r));
    }
  } finally {
    bar?.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const seconds = priorSeconds + (performance.now() - t0) / 1000;
  save(o, step, seconds);
  await drawLossCurves(logPath, join(o.dir, 'loss.png'));
  return { step, seconds, stopped: stopRequested, last };
}
