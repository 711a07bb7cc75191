// What freerun.ts and freerun-t2i.ts measure alike: feature MSE per scale relative to the spread
// of the targets over the cases (the MSE of predicting every case by their mean target).
import { mean } from '../../src/eval/common.js';
import * as T from '../../src/tensor/index.js';

/** Per scale (f0..f4), the spread of the targets: targets[case][k] is [1, n_k, C]. */
export function targetSpread(targets: readonly (readonly T.Tensor[])[]): number[] {
  return [0, 1, 2, 3, 4].map((k) => T.tidy(() => {
    const all = T.cat(targets.map((t) => t[k]), 0);
    return all.sub(all.mean(0, true)).square().mean().item();
  }));
}

/** One line per way, f4..f0: the mean over cases of err[way][case][k] divided by spread[k]. */
export function printRelativeErrors(err: Record<string, number[][]>, ways: readonly string[], spread: readonly number[]): void {
  for (const w of ways) console.log(`  ${w.padEnd(5)} ${[4, 3, 2, 1, 0].map((k) => (mean(err[w].map((e) => e[k])) / spread[k]).toFixed(3)).join(' / ')}`);
}
