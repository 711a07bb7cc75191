// Euler's method on the probability-flow ODE in sigma space (Karras et al. 2022, arXiv 2206.00364,
// Algorithm 1 without churn), as diffusers' EulerDiscreteScheduler: SDXL's default scheduler.
import * as T from '../tensor/index.js';
import type { Generator, Tensor } from '../tensor/index.js';
import {
  checkBatch, cumprodAlphas, makeBetas, perSample, resolveConfig, spacedTimesteps, type Scheduler, type SchedulerConfig,
} from './scheduler.js';

/**
 * Samples live in sigma space, x = x_t / sqrt(abar_t) = x_0 + sigma_t eps with
 * sigma_t = sqrt((1 - abar_t) / abar_t); the epsilon model sees x / sqrt(sigma^2 + 1) = x_t.
 * Differences from diffusers: no s_churn (the deterministic sampler only), linear sigma
 * interpolation only (no Karras/exponential/beta sigmas), and the step index comes from t
 * (no hidden counter), so a step can be replayed.
 *
 * @example
 * const s = new EulerDiscreteScheduler();
 * s.setTimesteps(50);
 * let x = T.randn([1, 4, 8, 8], { generator: new Generator(0) }).mul(s.initNoiseSigma);
 * for (const t of s.timesteps) x = s.step(eps(s.scaleModelInput(x, t), t), t, x);
 */
export class EulerDiscreteScheduler implements Scheduler {
  readonly config: SchedulerConfig;
  readonly betas: Float64Array;
  alphasCumprod: Float64Array;
  /** sigma at every train timestep 0..N-1, ascending. */
  readonly trainSigmas: Float64Array;
  /** float32-representable values, like diffusers' float32 timesteps ('linspace' gives fractions). */
  timesteps: number[];
  /** sigma at each inference timestep, then a final 0: length timesteps.length + 1. */
  sigmas: number[];
  numInferenceSteps: number | null = null;

  constructor(config: Partial<SchedulerConfig> = {}) {
    this.config = resolveConfig(config);
    this.betas = makeBetas(this.config);
    this.alphasCumprod = cumprodAlphas(this.betas);
    this.trainSigmas = this.alphasCumprod.map((a) => Math.sqrt((1 - a) / a));
    const N = this.config.numTrainTimesteps;
    this.timesteps = Array.from({ length: N }, (_, i) => N - 1 - i);
    this.sigmas = [...this.timesteps.map((t) => this.trainSigmas[t]), 0];
  }

  /** The initial sample's std: sigma_max, or sqrt(sigma_max^2 + 1) for 'leading' spacing (as diffusers). */
  get initNoiseSigma(): number {
    const max = Math.max(...this.sigmas);
    return this.config.timestepSpacing === 'leading' ? Math.sqrt(max * max + 1) : max;
  }

  setTimesteps(numInferenceSteps: number): void {
    this.timesteps = spacedTimesteps(this.config, numInferenceSteps, false).map(Math.fround);
    this.sigmas = [...this.timesteps.map((t) => this.sigmaAt(t)), 0];
    this.numInferenceSteps = numInferenceSteps;
  }

  /** sigma at a (possibly fractional) train timestep, linear between integers (np.interp). */
  sigmaAt(t: number): number {
    const N = this.config.numTrainTimesteps;
    if (!(t >= 0 && t <= N - 1)) throw new RangeError(`timestep ${t} outside [0, ${N - 1}]`);
    const i = Math.min(Math.floor(t), N - 2), f = t - i;
    return f === 0 ? this.trainSigmas[i] : (1 - f) * this.trainSigmas[i] + f * this.trainSigmas[i + 1];
  }

  stepIndex(t: number): number {
    const i = this.timesteps.indexOf(t);
    if (i < 0) throw new RangeError(`Euler: timestep ${t} is not in the schedule; call setTimesteps and pass its timesteps`);
    return i;
  }

  /** x / sqrt(sigma^2 + 1): the variance-preserving x_t the epsilon model was trained on. */
  scaleModelInput(sample: Tensor, t: number): Tensor {
    const sigma = this.sigmas[this.stepIndex(t)];
    return T.mul(sample, 1 / Math.sqrt(sigma * sigma + 1));
  }

  /**
   * x' = x + (sigma' - sigma) d with d = (x - x0_pred) / sigma, the ODE derivative dx/dsigma
   * (Karras et al. eq. 3 with sigma(t) = t). The generator is unused (no churn).
   */
  step(modelOutput: Tensor, t: number, sample: Tensor, _generator?: Generator): Tensor {
    const i = this.stepIndex(t);
    const sigma = this.sigmas[i], next = this.sigmas[i + 1];
    return T.tidy(() => {
      const x0 = this.config.predictionType === 'epsilon'
        ? T.sub(sample, T.mul(modelOutput, sigma))
        // v-prediction in sigma space: c_out = -sigma / sqrt(sigma^2 + 1), c_skip = 1 / (sigma^2 + 1)
        : T.add(T.mul(modelOutput, -sigma / Math.sqrt(sigma * sigma + 1)), T.mul(sample, 1 / (sigma * sigma + 1)));
      const derivative = T.mul(T.sub(sample, x0), 1 / sigma);
      return T.add(sample, T.mul(derivative, next - sigma));
    });
  }

  /**
   * x0 + sigma_t noise per sample: the forward process in Euler's sigma space, i.e. the
   * variance-preserving sqrt(abar) x0 + sqrt(1 - abar) noise divided by sqrt(abar). Any train
   * timestep is accepted (diffusers requires one of the current schedule's).
   */
  addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor {
    checkBatch(x0, noise, timesteps);
    return T.tidy(() => T.add(x0, T.mul(noise, perSample(timesteps.map((t) => this.sigmaAt(t)), x0.ndim))));
  }
}
