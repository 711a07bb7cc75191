// Option parsers shared by the CLI commands: each throws an Error with a one-line message.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEDULER_NAMES, type SchedulerName } from '../diffusion/index.js';
import { SHIPPED_MODEL } from '../pipelines/bundle.js';

/**
 * The shipped model: as models/puma-emoji in a checkout's folder, else where the package is
 * installed; without one, the local training runs.
 */
export const DEFAULT_MODEL = existsSync('models/puma-emoji/clip') ? 'models/puma-emoji' : existsSync(join(SHIPPED_MODEL, 'clip')) ? SHIPPED_MODEL : 'runs';

export function parseScales(v: string): number[] {
  const ks = v.split(',').map((s) => s.trim()).filter(Boolean).map(Number);
  if (ks.length === 0 || ks.some((k) => !Number.isInteger(k) || k < 0 || k > 4)) {
    throw new Error(`--scales takes a comma-separated list of 0..4 (0 = f0, finest), got '${v}'`);
  }
  return [...new Set(ks)];
}

export function parseSeeds(v: string): number[] {
  const s = v.split(',').map((x) => Number(x.trim()));
  if (s.length === 0 || s.some((x) => !Number.isInteger(x) || x < 0)) throw new Error(`--seeds takes non-negative integers, got '${v}'`);
  return s;
}

export function positiveInt(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer, got '${v}'`);
    return n;
  };
}

export function nonNegative(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !(n >= 0) || !Number.isFinite(n)) throw new Error(`${name} must be a number >= 0, got '${v}'`);
    return n;
  };
}

export function parseScheduler(v: string): SchedulerName {
  if (!(SCHEDULER_NAMES as readonly string[]).includes(v)) throw new Error(`--scheduler must be one of ${SCHEDULER_NAMES.join(', ')}, got '${v}'`);
  return v as SchedulerName;
}

/** Progress on stderr: one line rewritten in a terminal, only the step counts' ends in a log. */
export function progress(message: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${message}`);
  else {
    const m = /step (\d+)\/(\d+)$/.exec(message);
    if (!m || m[1] === m[2]) process.stderr.write(`${message}\n`);
  }
}
