// puma as a library: what `import { ... } from 'puma'` gives (package.json "exports"; the build
// writes dist/index.js). The CLI and the server are thin shells over these same functions.
//
// @example
// import { loadPuma, generate, tensorToImages, writeImage } from 'puma';
// const puma = loadPuma();   // the shipped model (SHIPPED_MODEL), or a bundle / runs folder
// const r = generate(puma, 'grinning face', { scales: [4, 0], seeds: [0] });
// await writeImage(tensorToImages(r.rows[0].images.get(4)!)[0], 'f4.png');

// the tensor engine (also `puma/tensor`) and the neural-network layer
export * as tensor from './tensor/index.js';
export * as nn from './nn/index.js';

// images, checkpoints, configs
export {
  readImage, writeImage, decodeImage, encodeImage, tensorToImages, imageToCHW, chwToImage, toGrayscale,
  type Image, type ImageFormat,
} from './io/image.js';
export { canny } from './io/canny.js';
export { loadCheckpoint, saveCheckpoint, openCheckpoint, type LoadOptions } from './io/checkpoint.js';
export { readConfigJson, writeConfigJson, clipConfig, llamaConfig, unetConfig, vaeConfig } from './io/config.js';

// the architectures, with Hugging Face weight names (fromPretrained reads transformers / diffusers folders)
export { CLIPModel, CLIPVisionModelWithProjection } from './models/clip/model.js';
export { LlamaForCausalLM, KVCache } from './models/llama/model.js';
export { UNet2DConditionModel } from './models/unet/model.js';
export { AutoencoderKL } from './models/vae/model.js';
export { MultiGranularEncoder, poolScales, coarseToFine, splitCoarseToFine, SCALE_TOKENS } from './models/puma/encoder.js';
export { PumaDecoder } from './models/puma/decoder.js';
export { PumaMLLM } from './models/puma/mllm.js';
export { makeScheduler, DDPMScheduler, DDIMScheduler, EulerDiscreteScheduler, SCHEDULER_NAMES, type Scheduler, type SchedulerName } from './diffusion/index.js';

// a trained PUMA and every task of the paper
export { loadPuma, exportBundle, SHIPPED_MODEL } from './pipelines/bundle.js';
export type { PumaModel } from './pipelines/model.js';
export { generate, ALL_SCALES, type GenerateOptions, type GenerateResult, type ImageTaskResult } from './pipelines/generate.js';
export { reconstruct, prepareImage, encodeScales } from './pipelines/reconstruct.js';
export { decodeFeatures, DECODE_DEFAULTS, T2I_DECODE_GUIDANCE, type DecodeOptions } from './pipelines/decode.js';
export { edit, type EditOptions, type ImageToImageResult } from './pipelines/edit.js';
export { inpaint, parseBox, type Box, type InpaintRegion, type ConditionOptions } from './pipelines/inpaint.js';
export { colorize } from './pipelines/colorize.js';
export { canny2img, type CannyOptions } from './pipelines/canny2img.js';
export { ask, type Answer, type AskOptions } from './pipelines/ask.js';
export { ground, drawBox, type Grounding } from './pipelines/ground.js';
export { loadRelease, reconstructRelease, isReleaseFolder, RELEASE_DECODE, type Release } from './pipelines/release.js';

// the emoji world the small model was trained on
export { loadEmojiWorld } from './data/emoji/world.js';
