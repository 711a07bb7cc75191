// Golden tests against diffusers' DDPM, DDIM and Euler schedulers, restated in PyTorch by
// scripts/fixtures/make_scheduler_fixtures.py (SDXL's config, plus a linear / v-prediction /
// trailing / clip_sample config for the other branches).
//
// Tolerances. diffusers keeps betas and alphas_cumprod in float32; we keep them in float64, so the
// references carry float32 rounding: alphas_cumprod differs by < 1e-6 relative (measured 6.7e-7;
// a 1000-term float32 cumprod drifts by ~sqrt(1000) * 6e-8 ~ 2e-6). Euler's sigma =
// sqrt((1 - abar) / abar) inherits float32's cancellation in 1 - abar near abar = 1, an absolute
// error of ~3e-8 / sigma (3e-6 at sigma = 0.01), hence atol 1e-5 + rtol 1e-5 on sigmas. Step
// outputs are O(1)..O(15) float32 tensors computed from those coefficients: atol 2e-5 + rtol 2e-5.
// Timesteps must match exactly (ints, or float32 values for Euler).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler, schedulerConfigFromDiffusers,
  type SchedulerConfig, type TimestepSpacing,
} from '../../src/diffusion/index.js';
import * as T from '../../src/tensor/index.js';
import { assertAllClose, fixture } from './helpers.js';

const schedules = fixture('schedules');
const steps = fixture('steps');
const configOf = (name: string, spacing?: TimestepSpacing): Partial<SchedulerConfig> => ({
  ...schedulerConfigFromDiffusers(schedules[name].config),
  ...(spacing ? { timestepSpacing: spacing } : {}),
});

describe('schedules match diffusers', () => {
  for (const name of ['sdxl', 'alt']) {
    test(`${name}: alphas_cumprod`, () => {
      const s = new DDPMScheduler(configOf(name));
      const ours = schedules[name].alphas_cumprod_at.map((t: number) => s.alphasCumprod[t]);
      assertAllClose(ours, schedules[name].alphas_cumprod, `${name} alphas_cumprod`, 0, 1e-6);
      assert.deepEqual([...new DDIMScheduler(configOf(name)).alphasCumprod], [...s.alphasCumprod]);
      assert.deepEqual([...new EulerDiscreteScheduler(configOf(name)).alphasCumprod], [...s.alphasCumprod]);
    });
    for (const spacing of ['leading', 'trailing', 'linspace'] as const) {
      test(`${name}: ${spacing} timesteps and Euler sigmas for 25, 30, 50 steps`, () => {
        for (const n of [25, 30, 50]) {
          const ref = schedules[name].spacings[spacing][n];
          for (const s of [new DDPMScheduler(configOf(name, spacing)), new DDIMScheduler(configOf(name, spacing))]) {
            s.setTimesteps(n);
            assert.deepEqual(s.timesteps, ref.ddpm, `${spacing} ${n}: ${s.constructor.name} timesteps`);
          }
          const e = new EulerDiscreteScheduler(configOf(name, spacing));
          e.setTimesteps(n);
          assert.deepEqual(e.timesteps, ref.euler, `${spacing} ${n}: Euler timesteps`);
          assertAllClose(e.sigmas, ref.euler_sigmas, `${name} ${spacing} ${n} sigmas`, 1e-5, 1e-5);
          assertAllClose([e.initNoiseSigma], [ref.euler_init_noise_sigma], 'initNoiseSigma', 0, 1e-5);
        }
      });
    }
  }
});

describe('step() matches diffusers on fixed inputs', () => {
  const ATOL = 2e-5, RTOL = 2e-5;
  const shape: number[] = steps.shape;
  const input = () => ({ sample: T.fromArray(steps.sample, shape), out: T.fromArray(steps.model_output, shape) });
  for (const c of steps.cases) {
    const label = `${c.config} ${c.steps} steps, t=${c.t} (#${c.index})`;
    test(label, () => {
      const { sample, out } = input();
      const cfg = configOf(c.config);

      const ddpm = new DDPMScheduler(cfg);
      ddpm.setTimesteps(c.steps);
      assertAllClose(ddpm.posteriorMean(out, c.t, sample).toArray(), c.ddpm_mean, `${label} ddpm mean`, ATOL, RTOL);
      // beta~ is a ratio of differences 1 - abar; in float32 each carries ~6e-8 absolute error, i.e.
      // up to ~1e-4 relative where 1 - abar ~ 2e-3 (late steps of the linear schedule)
      assertAllClose([ddpm.variance(c.t)], [c.ddpm_variance], `${label} ddpm variance`, 1e-12, 2e-4);
      // step() = mean + sqrt(variance) z, z the generator's next draw of the sample's shape
      const z = T.randn(shape, { generator: new T.Generator(7) }).toArray();
      const expected = c.ddpm_mean.map((m: number, i: number) => m + Math.sqrt(c.ddpm_variance) * z[i]);
      assertAllClose(ddpm.step(out, c.t, sample, new T.Generator(7)).toArray(), expected, `${label} ddpm step`, ATOL, RTOL);

      const ddim = new DDIMScheduler(cfg);
      ddim.setTimesteps(c.steps);
      assertAllClose(ddim.step(out, c.t, sample).toArray(), c.ddim, `${label} ddim`, ATOL, RTOL);
      const ddim1 = new DDIMScheduler(cfg, { setAlphaToOne: true });
      ddim1.setTimesteps(c.steps);
      assertAllClose(ddim1.step(out, c.t, sample).toArray(), c.ddim_alpha_one, `${label} ddim set_alpha_to_one`, ATOL, RTOL);
      const ddimEta = new DDIMScheduler(cfg, { eta: 1 });
      ddimEta.setTimesteps(c.steps);
      const zz = T.randn(shape, { generator: new T.Generator(9) }).toArray();
      const expEta = c.ddim_eta1_mean.map((m: number, i: number) => m + c.ddim_eta1_std * zz[i]);
      assertAllClose(ddimEta.step(out, c.t, sample, new T.Generator(9)).toArray(), expEta, `${label} ddim eta=1`, ATOL, RTOL);

      const euler = new EulerDiscreteScheduler(cfg);
      euler.setTimesteps(c.steps);
      assert.equal(euler.timesteps[c.index], c.euler_t);
      assertAllClose(euler.scaleModelInput(sample, c.euler_t).toArray(), c.euler_scaled_input, `${label} euler input`, ATOL, RTOL);
      assertAllClose(euler.step(out, c.euler_t, sample).toArray(), c.euler, `${label} euler`, ATOL, RTOL);
    });
  }
});
