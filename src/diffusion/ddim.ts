// DDIM (Song et al. 2020, arXiv 2010.02502) as diffusers' DDIMScheduler: deterministic for eta = 0.
import * as T from '../tensor/index.js';
import { defaultGenerator, type Generator, type Tensor } from '../tensor/index.js';
import {
  abarAt, addNoiseVP, cumprodAlphas, makeBetas, predictX0Eps, resolveConfig, spacedTimesteps,
  type Scheduler, type SchedulerConfig,
} from './scheduler.js';

export interface DDIMOptions {
  /**
   * abar used past the last step: 1 (true) or abar_0 (false). diffusers' default is true, but
   * SDXL's scheduler_config.json sets false, and SDXL's config is our default.
   */
  setAlphaToOne?: boolean;
  /** sigma_t = eta * sqrt(beta~) (eq. 16): 0 is DDIM, 1 is DDPM-like ancestral sampling. */
  eta?: number;
}

/**
 * x_{t'} = sqrt(abar_t') x0_pred + sqrt(1 - abar_t' - sigma_t^2) eps_pred + sigma_t z  (eq. 12),
 * with t' = t - N / n whatever the spacing (as diffusers).
 *
 * @example
 * const s = new DDIMScheduler();
 * s.setTimesteps(50);
 * let x = T.randn([1, 4, 8, 8], { generator: new Generator(0) });
 * for (const t of s.timesteps) x = s.step(eps(x, t), t, x);
 */
export class DDIMScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly betas: Float64Array;
  alphasCumprod: Float64Array;
  timesteps: number[];
  readonly initNoiseSigma = 1;
  readonly finalAlphaCumprod: number;
  readonly eta: number;
  numInferenceSteps: number | null = null;

  constructor(config: Partial<SchedulerConfig> = {}, opts: DDIMOptions = {}) {
    this.config = resolveConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = cumprodAlphas(this.betas);
    this.finalAlphaCumprod = (opts.setAlphaToOne ?? false) ? 1 : this.alphasCumprod[0];
    this.eta = opts.eta ?? 0;
    if (!(this.eta >= 0)) throw new RangeError(`DDIM eta must be >= 0, got ${this.eta}`);
    this.timesteps = Array.from({ length: this.config.numTrainTimesteps }, (_, i) => this.config.numTrainTimesteps - 1 - i);
  }

  setTimesteps(numInferenceSteps: number): void {
    this.timesteps = spacedTimesteps(this.config, numInferenceSteps);
    this.numInferenceSteps = numInferenceSteps;
  }

  scaleModelInput(sample: Tensor, _t: number): Tensor {
    return sample;
  }

  previousTimestep(t: number): number {
    if (this.numInferenceSteps === null) throw new Error('DDIM step: call setTimesteps first');
    return t - Math.floor(this.config.numTrainTimesteps / this.numInferenceSteps);
  }

  /** sigma_t^2 / eta^2 = (1 - abar_t') / (1 - abar_t) * (1 - abar_t / abar_t')  (eq. 16). */
  variance(t: number): number {
    const prev = this.previousTimestep(t);
    const abar = abarAt(this.alphasCumprod, t);
    const abarPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    return ((1 - abarPrev) / (1 - abar)) * (1 - abar / abarPrev);
  }

  /** One DDIM step; `generator` is used only when eta > 0. */
  step(modelOutput: Tensor, t: number, sample: Tensor, generator: Generator = defaultGenerator): Tensor {
    const prev = this.previousTimestep(t);
    const abar = abarAt(this.alphasCumprod, t);
    const abarPrev = prev >= 0 ? this.alphasCumprod[prev] : this.finalAlphaCumprod;
    const std = this.eta * Math.sqrt(this.variance(t));
    return T.tidy(() => {
      let { x0, eps } = predictX0Eps(this.config, modelOutput, sample, abar);
      if (this.config.clipSample) x0 = T.clamp(x0, -1, 1);
      // "direction pointing to x_t" plus the predicted x_0 rescaled to abar_t' (eq. 12)
      let prevSample = T.add(T.mul(x0, Math.sqrt(abarPrev)), T.mul(eps, Math.sqrt(1 - abarPrev - std * std)));
      if (this.eta > 0) prevSample = T.add(prevSample, T.mul(T.randn(modelOutput.shape, { generator }), std));
      return prevSample;
    });
  }

  addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor {
    return addNoiseVP(this.alphasCumprod, x0, noise, timesteps);
  }
}
