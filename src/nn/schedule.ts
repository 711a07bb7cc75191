// Learning-rate schedules as factors of each group's base lr, stepped once per optimizer step.
import type { AdamW } from './optim.js';

/** step (0-based) -> multiplier of the base learning rate. */
export type LrSchedule = (step: number) => number;

/**
 * Linear warm-up from 0 to 1 over warmupSteps, then cosine decay to minRatio at totalSteps
 * (PUMA pretraining: 2000 warm-up steps, cosine).
 *
 * @example
 * const f = warmupCosine({ warmupSteps: 2000, totalSteps: 100_000 });
 * f(1000); // 0.5
 */
export function warmupCosine(o: { warmupSteps: number; totalSteps: number; minRatio?: number }): LrSchedule {
  const min = o.minRatio ?? 0;
  return (step) => {
    if (step < o.warmupSteps) return (step + 1) / o.warmupSteps;
    const span = Math.max(1, o.totalSteps - o.warmupSteps);
    const t = Math.min(1, (step - o.warmupSteps) / span);
    return min + (1 - min) * 0.5 * (1 + Math.cos(Math.PI * t));
  };
}

/**
 * Optional linear warm-up, then linear decay from 1 to minRatio at totalSteps (PUMA decoders:
 * lr 8e-5 max, linear decay).
 *
 * @example
 * linearDecay({ totalSteps: 100 })(50); // 0.5
 */
export function linearDecay(o: { warmupSteps?: number; totalSteps: number; minRatio?: number }): LrSchedule {
  const warm = o.warmupSteps ?? 0, min = o.minRatio ?? 0;
  return (step) => {
    if (step < warm) return (step + 1) / warm;
    const span = Math.max(1, o.totalSteps - warm);
    const t = Math.min(1, (step - warm) / span);
    return min + (1 - min) * (1 - t);
  };
}

export const constantLr: LrSchedule = () => 1;

/**
 * Drives an optimizer's learning rates from a schedule: call `step()` after each optimizer step.
 *
 * @example
 * const sched = new LrScheduler(opt, warmupCosine({ warmupSteps: 10, totalSteps: 100 }));
 * opt.step(); sched.step();
 */
export class LrScheduler {
  private stepIndex = 0;

  constructor(readonly optimizer: AdamW, readonly schedule: LrSchedule) {
    optimizer.setLrFactor(schedule(0));
  }

  step(): void {
    this.stepIndex++;
    this.optimizer.setLrFactor(this.schedule(this.stepIndex));
  }

  get lastStep(): number {
    return this.stepIndex;
  }

  /** The current factor. */
  get factor(): number {
    return this.schedule(this.stepIndex);
  }
}
