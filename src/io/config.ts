// Model configs from Hugging Face / diffusers `config.json` files: typed, frozen objects built
// as defaults, then the file, then explicit overrides. Field names are the files' snake_case
// keys in camelCase, so `toConfigJson` writes a file the reference libraries read back.
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

type Json = Record<string, unknown>;

const camelToSnake = (k: string) => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o as object)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** defaults <- file (snake_case keys) <- overrides (camelCase), frozen. Unknown file keys are ignored. */
function build<T extends object>(defaults: T, raw: Json, overrides: Partial<T> = {}): Readonly<T> {
  const out = { ...defaults } as Record<string, unknown>;
  for (const k of Object.keys(defaults)) {
    const v = raw[camelToSnake(k)];
    if (v !== undefined) out[k] = v;
  }
  return deepFreeze({ ...out, ...overrides } as T);
}

/** The config of a model as a snake_case JSON object (the format of `config.json`). */
export function toConfigJson(config: object, extra: Json = {}): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(config)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) out[camelToSnake(k)] = toConfigJson(v);
    else out[camelToSnake(k)] = v;
  }
  return { ...out, ...extra };
}

/** Reads `config.json` from a file path or a folder. */
export function readConfigJson(path: string): Json {
  const p = existsSync(path) && statSync(path).isDirectory() ? join(path, 'config.json') : path;
  const raw = JSON.parse(readFileSync(p, 'utf8'));
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`config ${p} is not a JSON object`);
  return raw as Json;
}

export function writeConfigJson(path: string, config: object, extra: Json = {}): void {
  writeFileSync(path, JSON.stringify(toConfigJson(config, extra), null, 2) + '\n');
}

// ---- CLIP (transformers CLIPVisionConfig / CLIPTextConfig / CLIPConfig) ----

export interface CLIPVisionConfig {
  hiddenSize: number;
  intermediateSize: number;
  projectionDim: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numChannels: number;
  imageSize: number;
  patchSize: number;
  hiddenAct: 'quick_gelu' | 'gelu' | 'gelu_new';
  layerNormEps: number;
}

export const CLIP_VISION_DEFAULTS: CLIPVisionConfig = {
  hiddenSize: 768, intermediateSize: 3072, projectionDim: 512, numHiddenLayers: 12, numAttentionHeads: 12,
  numChannels: 3, imageSize: 224, patchSize: 32, hiddenAct: 'quick_gelu', layerNormEps: 1e-5,
};

export interface CLIPTextConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  projectionDim: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: 'quick_gelu' | 'gelu' | 'gelu_new';
  layerNormEps: number;
  padTokenId: number;
  bosTokenId: number;
  /** 2 in legacy configs, which means "pool at argmax(input_ids)" (the EOS id is the largest). */
  eosTokenId: number;
}

export const CLIP_TEXT_DEFAULTS: CLIPTextConfig = {
  vocabSize: 49408, hiddenSize: 512, intermediateSize: 2048, projectionDim: 512, numHiddenLayers: 12,
  numAttentionHeads: 8, maxPositionEmbeddings: 77, hiddenAct: 'quick_gelu', layerNormEps: 1e-5,
  padTokenId: 1, bosTokenId: 49406, eosTokenId: 2,
};

export interface CLIPConfig {
  textConfig: Readonly<CLIPTextConfig>;
  visionConfig: Readonly<CLIPVisionConfig>;
  projectionDim: number;
  logitScaleInitValue: number;
}

/** A vision config from a CLIPVisionConfig file or the `vision_config` of a CLIPConfig file. */
export function clipVisionConfig(raw: Json = {}, overrides: Partial<CLIPVisionConfig> = {}): Readonly<CLIPVisionConfig> {
  const sub = (raw.vision_config as Json | undefined) ?? raw;
  const merged = raw.vision_config && raw.projection_dim !== undefined ? { projection_dim: raw.projection_dim, ...sub } : sub;
  return build(CLIP_VISION_DEFAULTS, merged, overrides);
}

export function clipTextConfig(raw: Json = {}, overrides: Partial<CLIPTextConfig> = {}): Readonly<CLIPTextConfig> {
  const sub = (raw.text_config as Json | undefined) ?? raw;
  const merged = raw.text_config && raw.projection_dim !== undefined ? { projection_dim: raw.projection_dim, ...sub } : sub;
  return build(CLIP_TEXT_DEFAULTS, merged, overrides);
}

export function clipConfig(raw: Json = {}): Readonly<CLIPConfig> {
  return deepFreeze({
    textConfig: clipTextConfig({ ...raw, text_config: raw.text_config ?? {} }),
    visionConfig: clipVisionConfig({ ...raw, vision_config: raw.vision_config ?? {} }),
    projectionDim: (raw.projection_dim as number) ?? 512,
    logitScaleInitValue: (raw.logit_scale_init_value as number) ?? 2.6592,
  });
}

/** openai/clip-vit-large-patch14's vision tower (PUMA's image encoder). */
export const CLIP_VIT_L14_VISION = clipVisionConfig({
  hidden_size: 1024, intermediate_size: 4096, projection_dim: 768, num_hidden_layers: 24,
  num_attention_heads: 16, image_size: 224, patch_size: 14,
});

// ---- LLaMA (transformers LlamaConfig) ----

export interface RopeScaling {
  ropeType: 'default' | 'linear' | 'llama3';
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositionEmbeddings: number;
}

export interface LlamaConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  maxPositionEmbeddings: number;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: Readonly<RopeScaling> | null;
  tieWordEmbeddings: boolean;
  attentionBias: boolean;
  mlpBias: boolean;
  hiddenAct: 'silu';
  bosTokenId: number;
  eosTokenId: number | number[];
}

export const LLAMA_DEFAULTS: LlamaConfig = {
  vocabSize: 32000, hiddenSize: 4096, intermediateSize: 11008, numHiddenLayers: 32, numAttentionHeads: 32,
  numKeyValueHeads: 32, headDim: 128, maxPositionEmbeddings: 2048, rmsNormEps: 1e-6, ropeTheta: 10000,
  ropeScaling: null, tieWordEmbeddings: false, attentionBias: false, mlpBias: false, hiddenAct: 'silu',
  bosTokenId: 1, eosTokenId: 2,
};

/** LlamaConfig from config.json; num_key_value_heads and head_dim default as in transformers. */
export function llamaConfig(raw: Json = {}, overrides: Partial<LlamaConfig> = {}): Readonly<LlamaConfig> {
  const heads = (overrides.numAttentionHeads ?? raw.num_attention_heads ?? LLAMA_DEFAULTS.numAttentionHeads) as number;
  const hidden = (overrides.hiddenSize ?? raw.hidden_size ?? LLAMA_DEFAULTS.hiddenSize) as number;
  const rs = raw.rope_scaling as Json | null | undefined;
  const ropeScaling: RopeScaling | null = rs
    ? {
      ropeType: ((rs.rope_type ?? rs.type ?? 'default') as RopeScaling['ropeType']),
      factor: (rs.factor as number) ?? 1,
      lowFreqFactor: (rs.low_freq_factor as number) ?? 1,
      highFreqFactor: (rs.high_freq_factor as number) ?? 4,
      originalMaxPositionEmbeddings: (rs.original_max_position_embeddings as number) ?? 8192,
    }
    : null;
  if (ropeScaling && !['default', 'linear', 'llama3'].includes(ropeScaling.ropeType)) {
    throw new Error(`llamaConfig: unsupported rope_scaling type '${ropeScaling.ropeType}'`);
  }
  return build(LLAMA_DEFAULTS, {
    ...raw,
    num_key_value_heads: raw.num_key_value_heads ?? heads,
    head_dim: raw.head_dim ?? hidden / heads,
    rope_scaling: ropeScaling,
  }, overrides);
}

/** meta-llama/Meta-Llama-3-8B. */
export const LLAMA3_8B = llamaConfig({
  vocab_size: 128256, hidden_size: 4096, intermediate_size: 14336, num_hidden_layers: 32,
  num_attention_heads: 32, num_key_value_heads: 8, max_position_embeddings: 8192, rms_norm_eps: 1e-5,
  rope_theta: 500000, bos_token_id: 128000, eos_token_id: 128001, tie_word_embeddings: false,
});

// ---- diffusers UNet2DConditionModel ----

export interface UNetConfig {
  sampleSize: number | null;
  inChannels: number;
  outChannels: number;
  centerInputSample: boolean;
  flipSinToCos: boolean;
  freqShift: number;
  downBlockTypes: string[];
  midBlockType: string | null;
  upBlockTypes: string[];
  onlyCrossAttention: boolean;
  blockOutChannels: number[];
  layersPerBlock: number | number[];
  downsamplePadding: number;
  midBlockScaleFactor: number;
  dropout: number;
  actFn: string;
  normNumGroups: number;
  normEps: number;
  crossAttentionDim: number | number[];
  transformerLayersPerBlock: number | number[];
  /** Per diffusers' naming bug this is the number of heads when num_attention_heads is unset. */
  attentionHeadDim: number | number[];
  numAttentionHeads: number | number[] | null;
  useLinearProjection: boolean;
  upcastAttention: boolean;
  resnetTimeScaleShift: string;
  /** null (PUMA decoders) or 'text_time' (SDXL). */
  additionEmbedType: string | null;
  additionTimeEmbedDim: number | null;
  projectionClassEmbeddingsInputDim: number | null;
  classEmbedType: string | null;
  timeEmbeddingType: string;
  /** PUMA: input feature dim of `mapping_layer` (built when it differs from mappingDim1). */
  mappingDim: number | null;
  /** PUMA: output dim of `mapping_layer` and width of `embed_img_pos`. */
  mappingDim1: number | null;
  /** PUMA: token count of `embed_img_pos`. */
  numTokens: number;
  /** PUMA: whether `embed_img_pos` exists. */
  useEmbeds: boolean;
}

export const UNET_DEFAULTS: UNetConfig = {
  sampleSize: null, inChannels: 4, outChannels: 4, centerInputSample: false, flipSinToCos: true, freqShift: 0,
  downBlockTypes: ['CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D', 'DownBlock2D'],
  midBlockType: 'UNetMidBlock2DCrossAttn',
  upBlockTypes: ['UpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'CrossAttnUpBlock2D'],
  onlyCrossAttention: false, blockOutChannels: [320, 640, 1280, 1280], layersPerBlock: 2, downsamplePadding: 1,
  midBlockScaleFactor: 1, dropout: 0, actFn: 'silu', normNumGroups: 32, normEps: 1e-5, crossAttentionDim: 1280,
  transformerLayersPerBlock: 1, attentionHeadDim: 8, numAttentionHeads: null, useLinearProjection: false,
  upcastAttention: false, resnetTimeScaleShift: 'default', additionEmbedType: null, additionTimeEmbedDim: null,
  projectionClassEmbeddingsInputDim: null, classEmbedType: null, timeEmbeddingType: 'positional',
  mappingDim: null, mappingDim1: null, numTokens: 256, useEmbeds: false,
};

/**
 * A UNet2DConditionModel config. A PUMA decoder config (it has `mapping_dim`) switches the
 * added embeddings off, as the release's model class does whatever the file says, and its
 * `use_embeds` defaults to true there.
 */
export function unetConfig(raw: Json = {}, overrides: Partial<UNetConfig> = {}): Readonly<UNetConfig> {
  const puma = raw.mapping_dim !== undefined || raw.mapping_dim1 !== undefined || raw.use_embeds !== undefined;
  const file: Json = puma
    ? { mapping_dim: 1024, mapping_dim1: 1024, use_embeds: true, ...raw, addition_embed_type: null }
    : raw;
  const c = build(UNET_DEFAULTS, file, overrides);
  const n = c.downBlockTypes.length;
  const lists: [string, unknown][] = [
    ['blockOutChannels', c.blockOutChannels], ['upBlockTypes', c.upBlockTypes], ['layersPerBlock', c.layersPerBlock],
    ['attentionHeadDim', c.attentionHeadDim], ['crossAttentionDim', c.crossAttentionDim],
    ['transformerLayersPerBlock', c.transformerLayersPerBlock],
  ];
  for (const [k, v] of lists) {
    if (Array.isArray(v) && v.length !== n) throw new Error(`unetConfig: ${k} has ${v.length} entries for ${n} down blocks`);
  }
  if (c.timeEmbeddingType !== 'positional') throw new Error(`unetConfig: time_embedding_type '${c.timeEmbeddingType}' is not supported`);
  if (c.classEmbedType !== null) throw new Error(`unetConfig: class_embed_type '${c.classEmbedType}' is not supported`);
  if (c.resnetTimeScaleShift !== 'default') throw new Error(`unetConfig: resnet_time_scale_shift '${c.resnetTimeScaleShift}' is not supported`);
  if (c.additionEmbedType !== null && c.additionEmbedType !== 'text_time') {
    throw new Error(`unetConfig: addition_embed_type '${c.additionEmbedType}' is not supported (null or text_time)`);
  }
  return c;
}

/** stabilityai/stable-diffusion-xl-base-1.0 `unet/config.json` (the relevant keys). */
export const SDXL_UNET_JSON: Json = {
  sample_size: 128, in_channels: 4, out_channels: 4, flip_sin_to_cos: true, freq_shift: 0,
  down_block_types: ['DownBlock2D', 'CrossAttnDownBlock2D', 'CrossAttnDownBlock2D'],
  up_block_types: ['CrossAttnUpBlock2D', 'CrossAttnUpBlock2D', 'UpBlock2D'],
  block_out_channels: [320, 640, 1280], layers_per_block: 2, transformer_layers_per_block: [1, 2, 10],
  attention_head_dim: [5, 10, 20], cross_attention_dim: 2048, use_linear_projection: true,
  addition_embed_type: 'text_time', addition_time_embed_dim: 256, projection_class_embeddings_input_dim: 2816,
  norm_num_groups: 32, norm_eps: 1e-5, act_fn: 'silu', upcast_attention: false,
};
export const SDXL_UNET = unetConfig(SDXL_UNET_JSON);
/** A PUMA decoder: SDXL's UNet, no added embeddings, mapping 1024 -> 2048, 256 learned positions. */
export const PUMA_DECODER_UNET = unetConfig({ ...SDXL_UNET_JSON, mapping_dim: 1024, mapping_dim1: 2048, num_tokens: 256, use_embeds: true });

// ---- diffusers AutoencoderKL ----

export interface VAEConfig {
  inChannels: number;
  outChannels: number;
  downBlockTypes: string[];
  upBlockTypes: string[];
  blockOutChannels: number[];
  layersPerBlock: number;
  actFn: string;
  latentChannels: number;
  normNumGroups: number;
  sampleSize: number;
  /** Latents are multiplied by this after encoding and divided before decoding. */
  scalingFactor: number;
  shiftFactor: number | null;
  forceUpcast: boolean;
  useQuantConv: boolean;
  usePostQuantConv: boolean;
  midBlockAddAttention: boolean;
}

export const VAE_DEFAULTS: VAEConfig = {
  inChannels: 3, outChannels: 3, downBlockTypes: ['DownEncoderBlock2D'], upBlockTypes: ['UpDecoderBlock2D'],
  blockOutChannels: [64], layersPerBlock: 1, actFn: 'silu', latentChannels: 4, normNumGroups: 32, sampleSize: 32,
  scalingFactor: 0.18215, shiftFactor: null, forceUpcast: true, useQuantConv: true, usePostQuantConv: true,
  midBlockAddAttention: true,
};

export function vaeConfig(raw: Json = {}, overrides: Partial<VAEConfig> = {}): Readonly<VAEConfig> {
  const c = build(VAE_DEFAULTS, raw, overrides);
  if (c.downBlockTypes.some((t) => t !== 'DownEncoderBlock2D') || c.upBlockTypes.some((t) => t !== 'UpDecoderBlock2D')) {
    throw new Error('vaeConfig: only DownEncoderBlock2D / UpDecoderBlock2D are supported');
  }
  return c;
}

/** stabilityai/sdxl-vae. */
export const SDXL_VAE = vaeConfig({
  block_out_channels: [128, 256, 512, 512], layers_per_block: 2, latent_channels: 4, sample_size: 1024,
  down_block_types: Array(4).fill('DownEncoderBlock2D'), up_block_types: Array(4).fill('UpDecoderBlock2D'),
  scaling_factor: 0.13025,
});
