// The Scheduler contract: addNoise, timesteps, scaling, seeding, errors and memory.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  DDIMScheduler, DDPMScheduler, EulerDiscreteScheduler, SDXL_SCHEDULER_CONFIG, makeScheduler,
  resolveConfig, roundHalfEven, schedulerConfigFromDiffusers,
} from '../../src/diffusion/index.js';
import * as T from '../../src/tensor/index.js';
import { assertAllClose } from './helpers.js';

const NAMES = ['ddpm', 'ddim', 'euler'] as const;
const range = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i));

describe('addNoise', () => {
  const shape = [3, 2, 4];
  const timesteps = [0, 499, 999];
  const x0 = T.randn(shape, { generator: new T.Generator(1) }).keep();
  const noise = T.randn(shape, { generator: new T.Generator(2) }).keep();
  const per = 8;
  const xa = x0.toArray(), na = noise.toArray();

  for (const name of ['ddpm', 'ddim'] as const) {
    test(`${name}: sqrt(abar_t) x0 + sqrt(1 - abar_t) noise, t per sample`, () => {
      const s = makeScheduler(name);
      const a = timesteps.map((t) => s.alphasCumprod[t]);
      const expected = range(xa.length, (i) => {
        const ab = a[Math.floor(i / per)];
        return Math.sqrt(ab) * xa[i] + Math.sqrt(1 - ab) * na[i];
      });
      const out = s.addNoise(x0, noise, timesteps);
      assert.deepEqual([...out.shape], shape);
      assertAllClose(out.toArray(), expected, `${name} addNoise`, 1e-6, 1e-6);
      // the three samples really got different noise levels
      assert.ok(a[0] > 0.999 && a[2] < 0.005);
    });
  }

  test('euler: the same forward process in sigma space (divided by sqrt(abar_t))', () => {
    const s = new EulerDiscreteScheduler();
    const expected = range(xa.length, (i) => {
      const ab = s.alphasCumprod[timesteps[Math.floor(i / per)]];
      return (Math.sqrt(ab) * xa[i] + Math.sqrt(1 - ab) * na[i]) / Math.sqrt(ab);
    });
    assertAllClose(s.addNoise(x0, noise, timesteps).toArray(), expected, 'euler addNoise', 1e-5, 1e-5);
    // and scaleModelInput maps it back to the variance-preserving x_t the model was trained on
    s.setTimesteps(50);
    const t = s.timesteps[0];
    const xt = s.scaleModelInput(s.addNoise(x0, noise, [t, t, t]), t);
    const vp = new DDPMScheduler().addNoise(x0, noise, [t, t, t]);
    assertAllClose(xt.toArray(), vp.toArray(), 'euler scaled = vp x_t', 1e-5, 1e-5);
  });

  test('rejects a wrong batch, shape or timestep', () => {
    for (const name of NAMES) {
      const s = makeScheduler(name);
      assert.throws(() => s.addNoise(x0, noise, [1, 2]), /3 timesteps|2 timesteps/);
      assert.throws(() => s.addNoise(x0, T.zeros([3, 8]), [1, 2, 3]), /noise shape/);
      assert.throws(() => s.addNoise(x0, noise, [0, 1, 1000]), /1000/);
      assert.throws(() => s.addNoise(x0, noise, [0, 1, -1]), /-1/);
    }
    assert.throws(() => new DDPMScheduler().addNoise(x0, noise, [0, 1, 2.5]), /2.5/);
  });
});

describe('setTimesteps (diffusers spacing)', () => {
  test('SDXL leading, steps_offset 1: 50 steps [981, 961, ..., 1], 25 steps [961, 921, ..., 1]', () => {
    for (const name of NAMES) {
      const s = makeScheduler(name);
      s.setTimesteps(50);
      assert.deepEqual(s.timesteps, range(50, (i) => 981 - 20 * i), `${name} 50`);
      s.setTimesteps(25);
      assert.deepEqual(s.timesteps, range(25, (i) => 961 - 40 * i), `${name} 25`);
    }
  });

  test('trailing and linspace', () => {
    const tr = new DDPMScheduler({ timestepSpacing: 'trailing' });
    tr.setTimesteps(25);
    assert.deepEqual(tr.timesteps, range(25, (i) => 999 - 40 * i));
    const ls = new DDPMScheduler({ timestepSpacing: 'linspace' });
    ls.setTimesteps(25);
    // 999 * 4 / 24 = 166.5 rounds to even (numpy), not up
    assert.equal(ls.timesteps[20], 166);
    assert.equal(ls.timesteps[0], 999);
    assert.equal(ls.timesteps[24], 0);
    const eu = new EulerDiscreteScheduler({ timestepSpacing: 'linspace' });
    eu.setTimesteps(25);
    assert.equal(eu.timesteps[20], 166.5);
    assert.equal(eu.timesteps[1], Math.fround(999 * 23 / 24));
  });

  test('roundHalfEven is numpy round', () => {
    assert.deepEqual([0.5, 1.5, 2.5, -0.5, -1.5, 2.4, 2.6, 7].map(roundHalfEven), [0, 2, 2, -0, -2, 2, 3, 7]);
  });

  test('rejects 0, too many, and a steps_offset that leaves the range', () => {
    for (const name of NAMES) {
      const s = makeScheduler(name);
      assert.throws(() => s.setTimesteps(0), /numInferenceSteps/);
      assert.throws(() => s.setTimesteps(1001), /numInferenceSteps/);
      assert.throws(() => s.setTimesteps(2.5), /numInferenceSteps/);
    }
    // leading with 1000 steps puts 999 + 1 out of range
    assert.throws(() => new DDPMScheduler().setTimesteps(1000), /1000/);
  });

  test('DDPM steps to the next timestep of the schedule; DDIM to t - N/n; x_0 after the last', () => {
    const d = new DDPMScheduler();
    d.setTimesteps(50);
    assert.equal(d.previousTimestep(981), 961);
    assert.equal(d.previousTimestep(1), -1);
    const i = new DDIMScheduler();
    i.setTimesteps(50);
    assert.equal(i.previousTimestep(981), 961);
    assert.equal(i.previousTimestep(1), -19);
  });
});

describe('scaling and initial noise', () => {
  test('DDPM and DDIM: identity input scaling, initNoiseSigma 1', () => {
    const x = T.randn([2, 3], { generator: new T.Generator(3) });
    for (const name of ['ddpm', 'ddim'] as const) {
      const s = makeScheduler(name);
      s.setTimesteps(50);
      assert.equal(s.initNoiseSigma, 1);
      assert.deepEqual(s.scaleModelInput(x, 981).toArray(), x.toArray());
    }
  });

  test('Euler: divides by sqrt(sigma^2 + 1); initNoiseSigma sqrt(sigma_max^2 + 1) for leading', () => {
    const s = new EulerDiscreteScheduler();
    s.setTimesteps(50);
    const a = s.alphasCumprod[981];
    const sigma = Math.sqrt((1 - a) / a);
    assert.ok(Math.abs(s.sigmas[0] - sigma) < 1e-12);
    assert.equal(s.sigmas.length, 51);
    assert.equal(s.sigmas[50], 0);
    assert.ok(Math.abs(s.initNoiseSigma - Math.sqrt(sigma * sigma + 1)) < 1e-12);
    const x = T.ones([4]);
    assertAllClose(s.scaleModelInput(x, 981).toArray(), [1, 1, 1, 1].map(() => Math.sqrt(a)), 'scaled', 1e-7, 1e-6);
    const tr = new EulerDiscreteScheduler({ timestepSpacing: 'trailing' });
    tr.setTimesteps(50);
    assert.equal(tr.initNoiseSigma, tr.sigmas[0]);
  });
});

describe('seeding and determinism', () => {
  const loop = (name: 'ddpm' | 'ddim' | 'euler', seed: number, opts = {}) => {
    const s = name === 'ddim' ? new DDIMScheduler({}, opts) : makeScheduler(name);
    s.setTimesteps(10);
    const g = new T.Generator(seed);
    let x = T.randn([2, 8], { generator: new T.Generator(0) }).mul(s.initNoiseSigma);
    for (const t of s.timesteps) x = s.step(T.mul(s.scaleModelInput(x, t), 0.3), t, x, g);
    return x.toArray();
  };

  test('DDPM: the same seed gives the same samples, another seed others', () => {
    assert.deepEqual(loop('ddpm', 5), loop('ddpm', 5));
    assert.notDeepEqual(loop('ddpm', 5), loop('ddpm', 6));
  });

  test('DDIM eta 0 and Euler ignore the generator; DDIM eta 1 uses it', () => {
    assert.deepEqual(loop('ddim', 5), loop('ddim', 6));
    assert.deepEqual(loop('euler', 5), loop('euler', 6));
    assert.deepEqual(loop('ddim', 5, { eta: 1 }), loop('ddim', 5, { eta: 1 }));
    assert.notDeepEqual(loop('ddim', 5, { eta: 1 }), loop('ddim', 6, { eta: 1 }));
  });

  test('the default generator is used when none is given', () => {
    const s = new DDPMScheduler();
    s.setTimesteps(10);
    const x = T.zeros([4]);
    T.manualSeed(11);
    const a = s.step(x, 901, x).toArray();
    T.manualSeed(11);
    assert.deepEqual(s.step(x, 901, x).toArray(), a);
  });
});

describe('errors, config, memory', () => {
  test('step at a timestep outside the schedule, or DDIM before setTimesteps', () => {
    const x = T.zeros([2]);
    const d = new DDPMScheduler();
    d.setTimesteps(50);
    assert.throws(() => d.step(x, 980, x), /980 is not in the schedule/);
    const e = new EulerDiscreteScheduler();
    e.setTimesteps(50);
    assert.throws(() => e.step(x, 980, x), /980 is not in the schedule/);
    assert.throws(() => e.scaleModelInput(x, 980), /980/);
    assert.throws(() => new DDIMScheduler().step(x, 981, x), /setTimesteps/);
  });

  test('makeScheduler: SDXL defaults, overrides, frozen config, unknown names', () => {
    for (const name of NAMES) {
      const s = makeScheduler(name);
      assert.deepEqual(s.config, SDXL_SCHEDULER_CONFIG);
      assert.ok(Object.isFrozen(s.config));
      assert.equal(s.alphasCumprod.length, 1000);
    }
    assert.ok(makeScheduler('ddim') instanceof DDIMScheduler);
    assert.ok(makeScheduler('euler') instanceof EulerDiscreteScheduler);
    assert.equal(makeScheduler('ddpm', { predictionType: 'v_prediction' }).config.predictionType, 'v_prediction');
    assert.throws(() => makeScheduler('pndm' as 'ddpm'), /unknown scheduler 'pndm'/);
    assert.throws(() => resolveConfig({ betaSchedule: 'cosine' as 'linear' }), /betaSchedule/);
    assert.throws(() => resolveConfig({ timestepSpacing: 'karras' as 'leading' }), /timestepSpacing/);
  });

  test("SDXL's scheduler_config.json maps to our defaults", () => {
    // stabilityai/stable-diffusion-xl-base-1.0/scheduler/scheduler_config.json
    const sdxl = {
      _class_name: 'EulerDiscreteScheduler', beta_end: 0.012, beta_schedule: 'scaled_linear', beta_start: 0.00085,
      clip_sample: false, interpolation_type: 'linear', num_train_timesteps: 1000, prediction_type: 'epsilon',
      sample_max_value: 1.0, set_alpha_to_one: false, skip_prk_steps: true, steps_offset: 1,
      timestep_spacing: 'leading', trained_betas: null, use_karras_sigmas: false,
    };
    assert.deepEqual(resolveConfig(schedulerConfigFromDiffusers(sdxl)), SDXL_SCHEDULER_CONFIG);
    assert.throws(() => schedulerConfigFromDiffusers({ ...sdxl, use_karras_sigmas: true }), /karras/);
  });

  test('step and addNoise leave no tensors behind but their result', () => {
    for (const name of NAMES) {
      const s = makeScheduler(name, { predictionType: 'v_prediction', clipSample: true });
      s.setTimesteps(10);
      const x = T.randn([2, 4]).keep(), eps = T.randn([2, 4]).keep();
      const t = s.timesteps[3];
      const before = T.memoryStats().liveTensors;
      const out = s.step(eps, t, x, new T.Generator(0));
      const noisy = s.addNoise(x, eps, [t, t]);
      const scaled = s.scaleModelInput(x, t);
      if (scaled !== x) scaled.dispose();
      out.dispose();
      noisy.dispose();
      assert.equal(T.memoryStats().liveTensors, before, `${name}: leaked tensors`);
    }
  });
});
