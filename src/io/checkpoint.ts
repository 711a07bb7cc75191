// Checkpoints on disk: single or sharded safetensors, Hugging Face and diffusers folder layouts,
// and streaming a checkpoint into a Module one tensor at a time.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { assertLoadable, compareKeys, initPending, isMeta, markLoaded, type LoadResult, type Module } from '../nn/module.js';
import { noGrad, type Shape, type Tensor } from '../tensor/index.js';
import { SafetensorsFile, writeSafetensors, type WriteDType } from './safetensors.js';

/**
 * The tensors of one checkpoint, possibly spread over shards, read lazily.
 *
 * @example
 * const ckpt = openCheckpoint('/models/Meta-Llama-3-8B');  // model.safetensors.index.json
 * ckpt.shape('lm_head.weight'); // [128256, 4096]
 * ckpt.close();
 */
export class Checkpoint {
  private readonly where = new Map<string, SafetensorsFile>();

  constructor(readonly files: SafetensorsFile[]) {
    for (const f of files) {
      for (const k of f.keys()) {
        if (this.where.has(k)) throw new Error(`checkpoint: tensor '${k}' is in both ${this.where.get(k)!.path} and ${f.path}`);
        this.where.set(k, f);
      }
    }
  }

  keys(): string[] {
    return [...this.where.keys()];
  }

  has(key: string): boolean {
    return this.where.has(key);
  }

  private file(key: string): SafetensorsFile {
    const f = this.where.get(key);
    if (!f) throw new Error(`checkpoint: no tensor '${key}'`);
    return f;
  }

  shape(key: string): Shape {
    return this.file(key).info(key).shape;
  }

  /** Stored dtype of a tensor (F32, F16, BF16, ...). */
  dtype(key: string): string {
    return this.file(key).info(key).dtype;
  }

  readInto(key: string, dst: Float32Array | Int32Array): void {
    this.file(key).readInto(key, dst);
  }

  tensor(key: string): Tensor {
    return this.file(key).tensor(key);
  }

  /** Total bytes of tensor data as stored. */
  storedBytes(): number {
    let n = 0;
    for (const [k, f] of this.where) {
      const i = f.info(k);
      n += i.end - i.begin;
    }
    return n;
  }

  close(): void {
    for (const f of this.files) f.close();
  }
}

const WEIGHT_NAMES = [
  'model.safetensors', 'model.safetensors.index.json',
  'diffusion_pytorch_model.safetensors', 'diffusion_pytorch_model.safetensors.index.json',
  'diffusion_pytorch_model.fp16.safetensors', 'diffusion_pytorch_model.fp16.safetensors.index.json',
  'model.fp16.safetensors',
];

/** The weights file (or shard index) inside a model folder, or null. */
export function findWeights(dir: string): string | null {
  for (const n of WEIGHT_NAMES) if (existsSync(join(dir, n))) return join(dir, n);
  return null;
}

/**
 * Opens a `.safetensors` file, a `*.safetensors.index.json` shard index, or a folder holding
 * either (transformers' `model.safetensors[.index.json]`, diffusers'
 * `diffusion_pytorch_model[.fp16].safetensors[.index.json]`).
 */
export function openCheckpoint(path: string): Checkpoint {
  let p = path;
  if (statSync(p).isDirectory()) {
    const found = findWeights(p);
    if (!found) throw new Error(`openCheckpoint: no safetensors weights in ${p} (looked for ${WEIGHT_NAMES.join(', ')})`);
    p = found;
  }
  if (p.endsWith('.index.json')) {
    const index = JSON.parse(readFileSync(p, 'utf8')) as { weight_map?: Record<string, string> };
    if (!index.weight_map || typeof index.weight_map !== 'object') throw new Error(`openCheckpoint: ${p} has no weight_map`);
    const shards = [...new Set(Object.values(index.weight_map))];
    const files: SafetensorsFile[] = [];
    try {
      for (const s of shards) files.push(SafetensorsFile.open(join(dirname(p), s)));
    } catch (e) {
      for (const f of files) f.close();
      throw e;
    }
    const ckpt = new Checkpoint(files);
    const listed = Object.keys(index.weight_map).filter((k) => !ckpt.has(k));
    if (listed.length) {
      ckpt.close();
      throw new Error(`openCheckpoint: ${listed.length} tensors listed in ${p} are in no shard: ${listed.slice(0, 5).join(', ')}`);
    }
    return ckpt;
  }
  return new Checkpoint([SafetensorsFile.open(p)]);
}

export interface LoadOptions {
  /** Error on missing or unexpected keys (default true). Wrong shapes are always errors. */
  strict?: boolean;
  /** Maps a checkpoint key to the model's key, or null to skip it (legacy names). */
  rename?: (key: string) => string | null;
  /** Checkpoint keys to ignore (in addition to the module's own ignore patterns). */
  ignore?: RegExp[];
}

/**
 * Streams a checkpoint into a module's parameters, one tensor at a time, converting
 * F16/BF16 to float32 chunk by chunk. Every missing, unexpected and mis-shaped key is
 * reported in one error before anything is written.
 *
 * @example
 * const unet = new UNet2DConditionModel(readUNetConfig('decoders/f0/unet'));
 * loadCheckpoint(unet, 'decoders/f0/unet');
 */
export function loadCheckpoint(module: Module, source: string | Checkpoint, opts: LoadOptions = {}): LoadResult {
  const ckpt = typeof source === 'string' ? openCheckpoint(source) : source;
  try {
    const rename = opts.rename ?? ((k: string) => k);
    const toCkpt = new Map<string, string>();
    for (const k of ckpt.keys()) {
      const m = rename(k);
      if (m !== null) toCkpt.set(m, k);
    }
    const provided = new Map([...toCkpt].map(([m, k]) => [m, ckpt.shape(k)] as [string, Shape]));
    const result = compareKeys(module.shapeMap(), provided, [...module.ignorePatterns(), ...(opts.ignore ?? [])]);
    assertLoadable(result, opts.strict ?? true, typeof source === 'string' ? source : 'checkpoint');
    noGrad(() => {
      for (const [name, p] of module.namedParameters()) {
        const k = toCkpt.get(name);
        if (k === undefined) continue;
        if (isMeta(p)) throw new Error(`loadCheckpoint: '${name}' is a shape-only (meta) parameter`);
        ckpt.readInto(k, p.data);
        markLoaded(p);
      }
    });
    initPending(module);
    return result;
  } finally {
    if (typeof source === 'string') ckpt.close();
  }
}

/**
 * Saves a module's parameters as one safetensors file (keys = checkpoint names).
 *
 * @example
 * saveCheckpoint(decoder, 'out/unet/diffusion_pytorch_model.safetensors', { dtype: 'F16' });
 */
export function saveCheckpoint(module: Module, path: string, opts: { dtype?: WriteDType; metadata?: Record<string, string> } = {}): void {
  writeSafetensors(path, module.stateDict(), { dtype: opts.dtype, metadata: { format: 'pt', ...opts.metadata } });
}

/** Paths of one component of a diffusers pipeline folder (`unet/`, `vae/`, ...). */
export function diffusersComponent(root: string, component: string): { dir: string; config: string; weights: string } {
  const dir = join(root, component);
  const config = join(dir, 'config.json');
  if (!existsSync(config)) throw new Error(`diffusers folder ${root}: no ${component}/config.json`);
  const weights = findWeights(dir);
  if (!weights) throw new Error(`diffusers folder ${root}: no weights in ${component}/ (diffusion_pytorch_model.safetensors)`);
  return { dir, config, weights };
}

/**
 * The folder of one model component: `path/subfolder` when given, else `path` itself when it
 * holds config.json, else `path/<fallback>` (a pipeline root).
 */
export function resolveComponent(path: string, subfolder?: string): string {
  const dir = subfolder ? join(path, subfolder) : path;
  if (!existsSync(join(dir, 'config.json'))) throw new Error(`no config.json in ${dir}`);
  if (!findWeights(dir)) throw new Error(`no safetensors weights in ${dir}`);
  return dir;
}

/** Bytes a model's float32 parameters take once loaded. */
export function float32Bytes(module: Module): number {
  return module.numParameters() * 4;
}
