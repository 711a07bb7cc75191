// Features of one scale -> images: the diffusion decoder's sampling loop with PUMA's
// classifier-free guidance (PUMA-REFERENCE section 2): the unconditional branch uses the
// features of an all-black image with the position embedding weighted 0;
// eps = eps_uncond + g * (eps_cond - eps_uncond); latents / scaling factor -> VAE decoder.
import { makeScheduler, type SchedulerConfig, type SchedulerName } from '../diffusion/index.js';
import type { PumaDecoder } from '../models/puma/decoder.js';
import type { AutoencoderKL } from '../models/vae/model.js';
import * as T from '../tensor/index.js';

export interface DecodeOptions {
  scheduler?: SchedulerName;
  /** Sampling steps (the release uses DDPM with 50). */
  steps?: number;
  /** Classifier-free guidance scale (the release uses 2.0); 1 disables the unconditional branch. */
  guidance?: number;
  seed?: number;
  /** Overrides of SDXL's scheduler config (a checkpoint's scheduler_config.json). */
  schedulerConfig?: Partial<SchedulerConfig>;
  /** Draws the initial latents and the DDPM noise instead of a fresh generator seeded with `seed`. */
  generator?: T.Generator;
  onStep?: (done: number, total: number) => void;
}

export const DECODE_DEFAULTS = { scheduler: 'ddim' as SchedulerName, steps: 25, guidance: 2.0, seed: 0 };
/**
 * The decoders' guidance for text-to-image (ours; the release decodes everything at 2.0): an
 * MLLM's regression from a prompt is shrunk toward the mean image, and stronger guidance makes the
 * coarse decoders follow it more. 96 held-out names x 2 seeds: 5-scale Max R@5 of 195 concepts
 * 15.1% at 2.0, 19.8% at 4.0 (docs/PUMA.md). Reconstruction and the image-to-image tasks keep 2.0.
 */
export const T2I_DECODE_GUIDANCE = 4.0;

/**
 * Samples images from scale-k features.
 *
 * @example
 * const images = decodeFeatures(d0, vae, 0.9, f0, nullF0, { steps: 25, seed: 1 }); // [B, 3, 64, 64] in [0, 1]
 */
export function decodeFeatures(
  decoder: PumaDecoder, vae: AutoencoderKL, scalingFactor: number, features: T.Tensor, nullFeatures: T.Tensor,
  opts: DecodeOptions = {},
): T.Tensor {
  const latents = sampleLatents(decoder, features, nullFeatures, opts);
  const images = latentsToImages(vae, scalingFactor, latents);
  latents.dispose();
  return images;
}

/** The sampling loop alone: scale-k features -> denoised latents [B, C, S, S] (scaled, as the UNet sees them). */
export function sampleLatents(decoder: PumaDecoder, features: T.Tensor, nullFeatures: T.Tensor, opts: DecodeOptions = {}): T.Tensor {
  const { scheduler = DECODE_DEFAULTS.scheduler, steps = DECODE_DEFAULTS.steps, guidance = DECODE_DEFAULTS.guidance, seed = DECODE_DEFAULTS.seed } = opts;
  if (!Number.isInteger(steps) || steps < 1 || steps > 1000) throw new RangeError(`steps must be an integer in 1..1000, got ${steps}`);
  if (!(guidance >= 0)) throw new RangeError(`guidance must be >= 0, got ${guidance}`);
  return T.noGrad(() => {
    const b = features.shape[0], c = decoder.config.latentChannels, s = decoder.config.latentSize;
    const gen = opts.generator ?? new T.Generator(seed);
    const sched = makeScheduler(scheduler, opts.schedulerConfig);
    sched.setTimesteps(steps);
    let latents = T.randn([b, c, s, s], { generator: gen }).mul(sched.initNoiseSigma).keep();
    const guided = guidance !== 1;
    const cond = guided ? T.cat([features, nullFeatures.expand([b, -1, -1])], 0).keep() : features;
    const posWeight = guided ? [...Array(b).fill(1), ...Array(b).fill(0)] : Array(b).fill(1);
    sched.timesteps.forEach((t, i) => {
      const next = T.tidy(() => {
        const inp = sched.scaleModelInput(latents, t);
        let eps = decoder.forward(guided ? T.cat([inp, inp], 0) : inp, t, cond, posWeight);
        if (guided) {
          const [ec, eu] = eps.split(b, 0);
          eps = eu.add(ec.sub(eu).mul(guidance));
        }
        return sched.step(eps, t, latents, gen);
      });
      latents.dispose();
      latents = next.keep();
      opts.onStep?.(i + 1, sched.timesteps.length);
    });
    if (guided) cond.dispose();
    return latents;
  });
}

/** Latents / scaling factor -> the VAE's images in [0, 1]. */
export function latentsToImages(vae: AutoencoderKL, scalingFactor: number, latents: T.Tensor): T.Tensor {
  return T.noGrad(() => T.tidy(() => vae.decode(latents.mul(1 / scalingFactor)).mul(0.5).add(0.5).clamp(0, 1)));
}
