// DDPM ancestral sampling (Ho et al. 2020, arXiv 2006.11239), variance 'fixed_small', as diffusers'
// DDPMScheduler; the scheduler PUMA's release samples with (SDXL config, 50 steps).
import * as T from '../tensor/index.js';
import { defaultGenerator, type Generator, type Tensor } from '../tensor/index.js';
import {
  abarAt, addNoiseVP, cumprodAlphas, makeBetas, predictX0Eps, resolveConfig, spacedTimesteps,
  type Scheduler, type SchedulerConfig,
} from './scheduler.js';

/**
 * x_t -> x_{t'} ~ q(x_{t'} | x_t, x_0 = predicted x_0), t' the next inference timestep.
 *
 * @example
 * const s = new DDPMScheduler();
 * s.setTimesteps(50); // [981, 961, ..., 1]
 * const g = new Generator(0);
 * let x = T.randn([1, 4, 8, 8], { generator: g });
 * for (const t of s.timesteps) x = s.step(eps(x, t), t, x, g);
 */
export class DDPMScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly betas: Float64Array;
  alphasCumprod: Float64Array;
  timesteps: number[];
  readonly initNoiseSigma = 1;
  numInferenceSteps: number | null = null;

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = resolveConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = cumprodAlphas(this.betas);
    this.timesteps = Array.from({ length: this.config.numTrainTimesteps }, (_, i) => this.config.numTrainTimesteps - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    this.timesteps = spacedTimesteps(this.config, numInferenceSteps);
    this.numInferenceSteps = numInferenceSteps;
  }

  scaleModelInput(sample: Tensor, _t: number): Tensor {
    return sample;
  }

  /** The timestep after t in the schedule, -1 after the last (x_0 then has abar = 1). */
  previousTimestep(t: number): number {
    const i = this.timesteps.indexOf(t);
    if (i < 0) throw new RangeError(`DDPM step: timestep ${t} is not in the schedule; call setTimesteps and pass its timesteps`);
    return i + 1 < this.timesteps.length ? this.timesteps[i + 1] : -1;
  }

  /**
   * The posterior variance beta~ between t and its predecessor (DDPM eq. 7), clamped away from 0
   * as diffusers does.
   */
  variance(t: number): number {
    const prev = this.previousTimestep(t);
    const abar = abarAt(this.alphasCumprod, t);
    const abarPrev = prev >= 0 ? this.alphasCumprod[prev] : 1;
    const beta = 1 - abar / abarPrev;
    return Math.max(((1 - abarPrev) / (1 - abar)) * beta, 1e-20);
  }

  /** The deterministic part of step(): the posterior mean mu~(x_t, x_0) of DDPM eq. 7. */
  posteriorMean(modelOutput: Tensor, t: number, sample: Tensor): Tensor {
    const prev = this.previousTimestep(t);
    const abar = abarAt(this.alphasCumprod, t);
    const abarPrev = prev >= 0 ? this.alphasCumprod[prev] : 1;
    // With skipped steps the one-step alpha_t is abar_t / abar_t', and beta_t = 1 - alpha_t.
    const alpha = abar / abarPrev, beta = 1 - alpha;
    return T.tidy(() => {
      let { x0 } = predictX0Eps(this.config, modelOutput, sample, abar); // eq. 15
      if (this.config.clipSample) x0 = T.clamp(x0, -1, 1);
      const cX0 = (Math.sqrt(abarPrev) * beta) / (1 - abar);
      const cXt = (Math.sqrt(alpha) * (1 - abarPrev)) / (1 - abar);
      return T.add(T.mul(x0, cX0), T.mul(sample, cXt));
    });
  }

  /**
   * x_{t'} = mu~ + sqrt(beta~) z with z ~ N(0, I) from `generator` (drawn for every t > 0, as diffusers
   * does, so a seeded loop draws the same numbers whatever the variance).
   */
  step(modelOutput: Tensor, t: number, sample: Tensor, generator: Generator = defaultGenerator): Tensor {
    return T.tidy(() => {
      const mean = this.posteriorMean(modelOutput, t, sample);
      if (t <= 0) return mean;
      const z = T.randn(modelOutput.shape, { generator });
      return T.add(mean, T.mul(z, Math.sqrt(this.variance(t))));
    });
  }

  addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor {
    return addNoiseVP(this.alphasCumprod, x0, noise, timesteps);
  }
}
