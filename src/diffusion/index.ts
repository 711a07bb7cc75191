// Noise schedulers for PUMA's diffusion decoders, one file each behind the Scheduler interface.
import { DDIMScheduler, type DDIMOptions } from './ddim.js';
import { DDPMScheduler } from './ddpm.js';
import { EulerDiscreteScheduler } from './euler.js';
import type { Scheduler, SchedulerConfig } from './scheduler.js';

export * from './scheduler.js';
export { DDPMScheduler } from './ddpm.js';
export { DDIMScheduler, type DDIMOptions } from './ddim.js';
export { EulerDiscreteScheduler } from './euler.js';

export type SchedulerName = 'ddpm' | 'ddim' | 'euler';
export const SCHEDULER_NAMES: readonly SchedulerName[] = ['ddpm', 'ddim', 'euler'];

/**
 * A scheduler by name, with SDXL's config unless overridden (PUMA's release: 'ddpm', 50 steps).
 *
 * @example
 * const s = makeScheduler('ddpm');
 * s.setTimesteps(50);
 * s.timesteps.slice(0, 3); // [981, 961, 941]
 */
export function makeScheduler(name: SchedulerName, config: Partial<SchedulerConfig> = {}, ddim: DDIMOptions = {}): Scheduler {
  switch (name) {
    case 'ddpm': return new DDPMScheduler(config);
    case 'ddim': return new DDIMScheduler(config, ddim);
    case 'euler': return new EulerDiscreteScheduler(config);
    default: throw new RangeError(`unknown scheduler '${name as string}': expected one of ${SCHEDULER_NAMES.join(', ')}`);
  }
}
