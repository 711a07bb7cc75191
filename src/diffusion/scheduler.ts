// The interface every noise scheduler implements, its config, and the schedule math they share.
// Schedule arithmetic (betas, alphas_cumprod, coefficients) runs in float64 JS numbers; only the
// samples are float32 tensors.
import * as T from '../tensor/index.js';
import type { Generator, Tensor } from '../tensor/index.js';

export type BetaSchedule = 'scaled_linear' | 'linear';
export type PredictionType = 'epsilon' | 'v_prediction';
/** Table 2 of "Common Diffusion Noise Schedules and Sample Steps are Flawed" (arXiv 2305.08891). */
export type TimestepSpacing = 'leading' | 'trailing' | 'linspace';

export interface SchedulerConfig {
  readonly numTrainTimesteps: number;
  readonly betaStart: number;
  readonly betaEnd: number;
  readonly betaSchedule: BetaSchedule;
  readonly predictionType: PredictionType;
  readonly timestepSpacing: TimestepSpacing;
  readonly stepsOffset: number;
  /** Clamp the predicted x_0 to [-1, 1] (DDPM and DDIM; SDXL turns it off). */
  readonly clipSample: boolean;
}

/**
 * SDXL's scheduler_config.json (stabilityai/stable-diffusion-xl-base-1.0), which PUMA's decoders
 * inherit; PUMA's release samples with a DDPMScheduler built from it, 50 steps.
 */
export const SDXL_SCHEDULER_CONFIG: SchedulerConfig = Object.freeze({
  numTrainTimesteps: 1000,
  betaStart: 0.00085,
  betaEnd: 0.012,
  betaSchedule: 'scaled_linear',
  predictionType: 'epsilon',
  timestepSpacing: 'leading',
  stepsOffset: 1,
  clipSample: false,
});

/**
 * A noise scheduler: the forward process (addNoise) for training and one reverse step for sampling.
 *
 * @example
 * const s = makeScheduler('ddpm');
 * s.setTimesteps(50);
 * let x = T.randn([1, 4, 128, 128], { generator }).mul(s.initNoiseSigma);
 * for (const t of s.timesteps) x = s.step(unet(s.scaleModelInput(x, t), t), t, x, generator);
 */
export interface Scheduler {
  readonly config: SchedulerConfig;
  /** The inference timesteps after setTimesteps, descending (all train timesteps before). */
  timesteps: number[];
  /** Std of the initial noise: sample = randn * initNoiseSigma. */
  readonly initNoiseSigma: number;
  setTimesteps(numInferenceSteps: number): void;
  /** The model's input at t (identity for DDPM/DDIM; Euler divides by sqrt(sigma^2 + 1)). */
  scaleModelInput(sample: Tensor, t: number): Tensor;
  /** One reverse step: x_t and the model output at t -> x_{t_prev}. */
  step(modelOutput: Tensor, t: number, sample: Tensor, generator?: Generator): Tensor;
  /** The forward process at one train timestep per sample (batch dim 0). */
  addNoise(x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor;
  /** abar_t = prod_{s<=t} (1 - beta_s), float64, one per train timestep. */
  alphasCumprod: Float64Array;
}

/** Defaults (SDXL), then overrides; the result is frozen. Rejects unknown enum values. */
export function resolveConfig(overrides: Partial<SchedulerConfig> = {}): SchedulerConfig {
  const c = { ...SDXL_SCHEDULER_CONFIG, ...stripUndefined(overrides) };
  if (!Number.isInteger(c.numTrainTimesteps) || c.numTrainTimesteps < 2) {
    throw new RangeError(`numTrainTimesteps must be an integer >= 2, got ${c.numTrainTimesteps}`);
  }
  oneOf('betaSchedule', c.betaSchedule, ['scaled_linear', 'linear']);
  oneOf('predictionType', c.predictionType, ['epsilon', 'v_prediction']);
  oneOf('timestepSpacing', c.timestepSpacing, ['leading', 'trailing', 'linspace']);
  return Object.freeze(c);
}

/**
 * Our config from a diffusers scheduler_config.json (snake_case); unknown keys are ignored, and
 * keys that change the maths in ways we do not implement are rejected.
 *
 * @example
 * schedulerConfigFromDiffusers(JSON.parse(readFileSync('sdxl/scheduler/scheduler_config.json', 'utf8')));
 */
export function schedulerConfigFromDiffusers(json: Record<string, unknown>): Partial<SchedulerConfig> {
  if (json.trained_betas != null) throw new Error('scheduler config: trained_betas is not supported');
  if (json.rescale_betas_zero_snr === true) throw new Error('scheduler config: rescale_betas_zero_snr is not supported');
  if (json.thresholding === true) throw new Error('scheduler config: thresholding is not supported');
  if (json.use_karras_sigmas === true) throw new Error('scheduler config: use_karras_sigmas is not supported');
  const pick = <K extends keyof SchedulerConfig>(key: string): SchedulerConfig[K] | undefined =>
    json[key] === undefined || json[key] === null ? undefined : (json[key] as SchedulerConfig[K]);
  return stripUndefined({
    numTrainTimesteps: pick<'numTrainTimesteps'>('num_train_timesteps'),
    betaStart: pick<'betaStart'>('beta_start'),
    betaEnd: pick<'betaEnd'>('beta_end'),
    betaSchedule: pick<'betaSchedule'>('beta_schedule'),
    predictionType: pick<'predictionType'>('prediction_type'),
    timestepSpacing: pick<'timestepSpacing'>('timestep_spacing'),
    stepsOffset: pick<'stepsOffset'>('steps_offset'),
    clipSample: pick<'clipSample'>('clip_sample'),
  });
}

function stripUndefined<O extends object>(o: O): O {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as O;
}

function oneOf(name: string, value: string, allowed: readonly string[]): void {
  if (!allowed.includes(value)) throw new RangeError(`${name} must be one of ${allowed.join(', ')}, got '${value}'`);
}

/**
 * beta_1..beta_N. 'linear' is DDPM's (Ho et al. 2020, sec. 4); 'scaled_linear' is latent
 * diffusion's: linear in sqrt(beta), then squared.
 */
export function makeBetas(c: SchedulerConfig): Float64Array {
  const n = c.numTrainTimesteps;
  const out = new Float64Array(n);
  const [lo, hi] = c.betaSchedule === 'scaled_linear' ? [Math.sqrt(c.betaStart), Math.sqrt(c.betaEnd)] : [c.betaStart, c.betaEnd];
  for (let i = 0; i < n; i++) {
    const b = lo + ((hi - lo) * i) / (n - 1);
    out[i] = c.betaSchedule === 'scaled_linear' ? b * b : b;
  }
  return out;
}

/** abar_t = prod_{s<=t} alpha_s with alpha_s = 1 - beta_s (DDPM eq. 4). */
export function cumprodAlphas(betas: Float64Array): Float64Array {
  const out = new Float64Array(betas.length);
  let p = 1;
  for (let i = 0; i < betas.length; i++) out[i] = p *= 1 - betas[i];
  return out;
}

/** numpy's round(): half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Inference timesteps, descending, as diffusers spaces them (arXiv 2305.08891, Table 2).
 * 'leading': multiples of floor(N/n) plus stepsOffset; 'trailing': round(N - i N/n) - 1;
 * 'linspace': round(linspace(0, N-1, n)). Values are not rounded when `round` is false
 * (Euler's 'linspace' keeps fractional timesteps).
 *
 * @example
 * spacedTimesteps(SDXL_SCHEDULER_CONFIG, 50); // [981, 961, ..., 21, 1]
 */
export function spacedTimesteps(c: SchedulerConfig, n: number, round = true): number[] {
  const N = c.numTrainTimesteps;
  if (!Number.isInteger(n) || n < 1 || n > N) {
    throw new RangeError(`numInferenceSteps must be an integer in [1, ${N}], got ${n}`);
  }
  const r = round ? roundHalfEven : (x: number) => x;
  let ts: number[];
  if (c.timestepSpacing === 'leading') {
    const ratio = Math.floor(N / n);
    ts = Array.from({ length: n }, (_, i) => (n - 1 - i) * ratio + c.stepsOffset);
  } else if (c.timestepSpacing === 'trailing') {
    // np.arange(N, 0, -N/n): ceil(N / ratio) values N - i * ratio
    const ratio = N / n;
    const len = Math.ceil(N / ratio);
    ts = Array.from({ length: len }, (_, i) => roundHalfEven(N - i * ratio) - 1);
  } else {
    // np.linspace(0, N-1, n) is i * step with the end point exact
    const step = n > 1 ? (N - 1) / (n - 1) : 0;
    ts = Array.from({ length: n }, (_, i) => r(i === n - 1 ? N - 1 : i * step)).reverse();
  }
  for (const t of ts) {
    if (t < 0 || t > N - 1) throw new RangeError(`timestep ${t} outside [0, ${N - 1}]: check stepsOffset (${c.stepsOffset})`);
  }
  return ts;
}

/** [B] coefficients -> a [B, 1, ..., 1] tensor that broadcasts against a sample of rank `ndim`. */
export function perSample(coeffs: ArrayLike<number>, ndim: number): Tensor {
  return T.fromArray(Float32Array.from(coeffs), [coeffs.length, ...Array<number>(Math.max(0, ndim - 1)).fill(1)]);
}

/** abar at an integer train timestep, with a readable error. */
export function abarAt(alphasCumprod: Float64Array, t: number): number {
  if (!Number.isInteger(t) || t < 0 || t >= alphasCumprod.length) {
    throw new RangeError(`timestep ${t} is not an integer in [0, ${alphasCumprod.length - 1}]`);
  }
  return alphasCumprod[t];
}

/**
 * The forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (DDPM eq. 4), one
 * timestep per sample along dim 0.
 */
export function addNoiseVP(alphasCumprod: Float64Array, x0: Tensor, noise: Tensor, timesteps: readonly number[]): Tensor {
  checkBatch(x0, noise, timesteps);
  const a = timesteps.map((t) => abarAt(alphasCumprod, t));
  return T.tidy(() => T.add(
    T.mul(x0, perSample(a.map(Math.sqrt), x0.ndim)),
    T.mul(noise, perSample(a.map((v) => Math.sqrt(1 - v)), x0.ndim)),
  ));
}

export function checkBatch(x0: Tensor, noise: Tensor, timesteps: readonly number[]): void {
  if (x0.ndim < 1 || x0.shape[0] !== timesteps.length) {
    throw new RangeError(`addNoise: ${timesteps.length} timesteps for a batch of ${x0.shape[0] ?? 0}`);
  }
  if (x0.shape.length !== noise.shape.length || x0.shape.some((d, i) => d !== noise.shape[i])) {
    throw new RangeError(`addNoise: noise shape [${noise.shape}] differs from x0 shape [${x0.shape}]`);
  }
}

/**
 * x_0 and epsilon predicted from the model output at abar (DDIM eq. 12's "predicted x_0"; v-prediction
 * from Salimans & Ho 2022, eq. 31: v = sqrt(abar) eps - sqrt(1-abar) x_0).
 */
export function predictX0Eps(c: SchedulerConfig, modelOutput: Tensor, sample: Tensor, abar: number): { x0: Tensor; eps: Tensor } {
  const sa = Math.sqrt(abar), sb = Math.sqrt(1 - abar);
  if (c.predictionType === 'epsilon') {
    return { x0: T.mul(T.sub(sample, T.mul(modelOutput, sb)), 1 / sa), eps: modelOutput };
  }
  return {
    x0: T.sub(T.mul(sample, sa), T.mul(modelOutput, sb)),
    eps: T.add(T.mul(modelOutput, sa), T.mul(sample, sb)),
  };
}
