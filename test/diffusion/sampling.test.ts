// Statistics of a full sampling loop (diffusers' full-loop tests, with a denoiser we can solve).
//
// Data x_0 ~ N(mu, s^2) per element; the optimal epsilon-prediction is then
//   eps*(x_t, t) = E[eps | x_t] = (x_t - sqrt(abar) mu) sqrt(1 - abar) / (abar s^2 + 1 - abar),
// affine in x_t. Each loop starts from the exact marginal at the first timestep,
// x_T = initNoiseSigma * (sqrt(abar_T) mu + sqrt(abar_T s^2 + 1 - abar_T) z), z ~ N(0, 1) seeded.
// (With initNoiseSigma = 1, or sqrt(sigma_T^2 + 1) = 1 / sqrt(abar_T) for Euler 'leading', this
// is the pipeline's randn * initNoiseSigma plus the data's offset.)
//
// Why the tolerances:
// - Every step is affine and eps*(mean) = 0, so the mean is transported exactly: the sample mean
//   differs from mu only by sampling error, SE = s / sqrt(M); we allow 4 SE (M = 16384: 0.016).
// - The std carries the samplers' discretisation error. DDIM and Euler are first-order ODE
//   solvers, so their std error halves when the steps double; for 50 SDXL steps it is -0.0225
//   (DDIM) and -0.0245 (Euler) on s = 0.5 in the float64 reference (loop_moments.json). Since
//   the output of a deterministic loop is exactly A z + B, std(x) / std(z) = A measures the error
//   with no sampling noise: we require |A - s| < 0.06 s at 50 steps and the 25-to-50-step error
//   ratio within [1.6, 2.4] (first order, converging to s), and A, B equal to the float64
//   reference within 1e-5 (float32 rounding over 50 steps: 5e-8 observed, residuals 1.3e-6).
// - DDPM with fixed_small variance ignores the uncertainty of x_0 given x_t, so with 20-step jumps
//   its std falls short of s: 0.4518 at 50 steps (-9.6%) by exact moment propagation. We check the
//   empirical std against that within 4 SE (SE = std / sqrt(2M): 0.010) and against s within 12%.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { makeScheduler, type Scheduler, type SchedulerName } from '../../src/diffusion/index.js';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { fixture, meanStd } from './helpers.js';

const MU = 0.5, S = 0.5;
const SHAPE = [4, 4, 32, 32]; // M = 16384 elements, a batch of small latents
const M = SHAPE.reduce((a, b) => a * b);
const moments = fixture('loop_moments').cases as {
  mu: number; s: number; steps: number; abar_T: number;
  ddim: { A: number; B: number }; euler: { A: number; B: number }; ddpm: { mean: number; std: number };
}[];
const ref = (steps: number) => {
  const r = moments.find((c) => c.steps === steps);
  assert.ok(r && r.mu === MU && r.s === S, `loop_moments.json has no case for ${steps} steps`);
  return r;
};

/** The model: eps*(x_t, t) or, for v-prediction, v* = sqrt(abar) eps* - sqrt(1 - abar) x0*. */
function optimalDenoiser(s: Scheduler, xt: Tensor, t: number): Tensor {
  const a = s.alphasCumprod[t];
  const k = Math.sqrt(1 - a) / (a * S * S + 1 - a);
  const eps = T.affine(xt, k, -k * Math.sqrt(a) * MU);
  if (s.config.predictionType === 'epsilon') return eps;
  const x0 = T.mul(T.sub(xt, T.mul(eps, Math.sqrt(1 - a))), 1 / Math.sqrt(a));
  return T.sub(T.mul(eps, Math.sqrt(a)), T.mul(x0, Math.sqrt(1 - a)));
}

/** The full loop a pipeline runs; returns the final sample and the z it started from. */
function sampleLoop(name: SchedulerName, steps: number, seed: number, predictionType: 'epsilon' | 'v_prediction' = 'epsilon') {
  const s = makeScheduler(name, { predictionType });
  s.setTimesteps(steps);
  const g = new T.Generator(seed);
  const z = T.randn(SHAPE, { generator: g });
  const aT = s.alphasCumprod[s.timesteps[0]];
  let x = T.affine(z, s.initNoiseSigma * Math.sqrt(aT * S * S + 1 - aT), s.initNoiseSigma * Math.sqrt(aT) * MU);
  for (const t of s.timesteps) {
    const next = T.tidy(() => s.step(optimalDenoiser(s, s.scaleModelInput(x, t), t), t, x, g));
    x.dispose();
    x = next;
  }
  const out = { x: x.toArray(), z: z.toArray() };
  x.dispose();
  z.dispose();
  return out;
}

/** Least-squares fit x = A z + B, and the largest residual. */
function affineFit(x: ArrayLike<number>, z: ArrayLike<number>) {
  const mz = meanStd(z), mx = meanStd(x);
  let cov = 0;
  for (let i = 0; i < x.length; i++) cov += (x[i] - mx.mean) * (z[i] - mz.mean);
  const A = cov / x.length / mz.std ** 2, B = mx.mean - A * mz.mean;
  let maxResidual = 0;
  for (let i = 0; i < x.length; i++) maxResidual = Math.max(maxResidual, Math.abs(x[i] - (A * z[i] + B)));
  return { A, B, maxResidual };
}

describe('full sampling loop on Gaussian data with the optimal denoiser (SDXL schedule)', () => {
  for (const name of ['ddim', 'euler'] as const) {
    test(`${name}: deterministic, mean -> mu, std -> s at first order, equals the float64 reference`, () => {
      const fits = [25, 50].map((n) => {
        const { x, z } = sampleLoop(name, n, 1);
        const st = meanStd(x);
        assert.ok(Math.abs(st.mean - MU) < 4 * S / Math.sqrt(M), `${name} ${n}: mean ${st.mean} vs mu ${MU}`);
        assert.ok(Math.abs(st.std - S) < 0.1 * S, `${name} ${n}: std ${st.std} vs s ${S}`);
        const fit = affineFit(x, z);
        const r = ref(n)[name];
        assert.ok(fit.maxResidual < 1e-5, `${name} ${n}: output is not affine in z (residual ${fit.maxResidual})`);
        assert.ok(Math.abs(fit.A - r.A) < 1e-5, `${name} ${n}: A ${fit.A} vs reference ${r.A}`);
        assert.ok(Math.abs(fit.B - r.B) < 1e-5, `${name} ${n}: B ${fit.B} vs reference ${r.B}`);
        return fit;
      });
      const [e25, e50] = fits.map((f) => f.A - S);
      assert.ok(Math.abs(e50) < 0.06 * S, `${name}: std error at 50 steps ${e50}`);
      assert.ok(e25 / e50 > 1.6 && e25 / e50 < 2.4, `${name}: error ratio 25/50 steps ${e25 / e50} is not first order`);
      // The mean is exact: B is mu (Euler, x_0) or sqrt(abar_0) mu (DDIM stops at abar_0).
      assert.ok(Math.abs(fits[1].B - MU) < 1e-3, `${name}: B ${fits[1].B}`);
    });
  }

  test('ddpm: stochastic, mean and std match the exact moments and (mu, s)', () => {
    const r = ref(50).ddpm;
    const { x } = sampleLoop('ddpm', 50, 2);
    const st = meanStd(x);
    assert.ok(Math.abs(st.mean - r.mean) < 4 * r.std / Math.sqrt(M), `ddpm: mean ${st.mean} vs ${r.mean}`);
    assert.ok(Math.abs(st.std - r.std) < 4 * r.std / Math.sqrt(2 * M), `ddpm: std ${st.std} vs exact ${r.std}`);
    assert.ok(Math.abs(st.mean - MU) < 4 * S / Math.sqrt(M), `ddpm: mean ${st.mean} vs mu ${MU}`);
    assert.ok(Math.abs(st.std - S) < 0.12 * S, `ddpm: std ${st.std} vs s ${S}`);
  });

  test('ddpm at 25 steps undershoots more, as the exact moments say', () => {
    const r = ref(25).ddpm;
    const st = meanStd(sampleLoop('ddpm', 25, 3).x);
    assert.ok(Math.abs(st.std - r.std) < 4 * r.std / Math.sqrt(2 * M), `ddpm 25: std ${st.std} vs exact ${r.std}`);
    assert.ok(st.std < ref(50).ddpm.std, 'fewer steps should lose more variance');
  });

  for (const name of ['ddpm', 'ddim', 'euler'] as const) {
    test(`${name}: v-prediction of the same denoiser gives the same samples`, () => {
      const eps = sampleLoop(name, 25, 4, 'epsilon').x;
      const v = sampleLoop(name, 25, 4, 'v_prediction').x;
      let worst = 0;
      for (let i = 0; i < eps.length; i++) worst = Math.max(worst, Math.abs(eps[i] - v[i]));
      assert.ok(worst < 1e-4, `${name}: eps and v loops differ by ${worst}`);
    });
  }
});
