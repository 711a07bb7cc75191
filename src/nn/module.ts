// Module: a tree of named parameters and submodules whose dotted names are the checkpoint keys.
import { Storage } from '../tensor/memory.js';
import { keep, noGrad, Tensor, type Shape, formatShape } from '../tensor/index.js';

/** How deep inside onMeta() / deferInit() parameter creation runs now. */
const depth = { meta: 0, defer: 0 };

function within<T>(mode: keyof typeof depth, fn: () => T): T {
  depth[mode]++;
  try {
    return fn();
  } finally {
    depth[mode]--;
  }
}

const EMPTY = new Float32Array(0);

/**
 * Runs fn with parameter allocation switched off: parameters created inside are shape-only
 * "meta" tensors (no memory), enough to count parameters and list keys of a full-size model.
 *
 * @example
 * const m = onMeta(() => new LlamaForCausalLM(llama3_8b));
 * m.numParameters(); // 8030261248
 */
export function onMeta<T>(fn: () => T): T {
  return within('meta', fn);
}

/** Whether t is a shape-only tensor created under onMeta(). */
export function isMeta(t: Tensor): boolean {
  return t.storage.data.length < t.size;
}

/** How a parameter is filled when created. */
export type Init = (t: Tensor) => void;

const pendingInits = new WeakMap<Tensor, Init>();

/**
 * Runs fn with parameter initialisation deferred: parameters get their memory but not their
 * initial values, which a checkpoint is about to overwrite (drawing them cost most of a bundle's
 * load time, and over a minute for an SDXL UNet). loadCheckpoint / loadStateDict settle the module
 * they load: what they write is done, initPending fills the rest with its own initialiser.
 *
 * @example
 * const vae = deferInit(() => new AutoencoderKL(config));
 * loadCheckpoint(vae, 'sdxl-vae');   // every parameter read or initialised
 */
export function deferInit<T>(fn: () => T): T {
  return within('defer', fn);
}

/** Whether t was created under deferInit() and has neither been loaded nor initialised yet. */
export function isInitPending(t: Tensor): boolean {
  return pendingInits.has(t);
}

/** Marks a parameter as written (by a load): its deferred initialiser will not run. */
export function markLoaded(t: Tensor): void {
  pendingInits.delete(t);
}

/**
 * Re-initialises a parameter after construction (a model's own scheme over its layers' defaults);
 * under deferInit it replaces the pending initialiser instead, so a load that follows skips it.
 *
 * @example
 * for (const p of llm.parameters()) reinit(p, normal(0.02));
 */
export function reinit(t: Tensor, init: Init): void {
  if (pendingInits.has(t)) pendingInits.set(t, init);
  else init(t);
}

/** Runs the deferred initialiser of every parameter of module not yet loaded; returns how many. */
export function initPending(module: Module): number {
  let n = 0;
  noGrad(() => {
    for (const p of module.parameters()) {
      const init = pendingInits.get(p);
      if (!init) continue;
      init(p);
      pendingInits.delete(p);
      n++;
    }
  });
  return n;
}

/**
 * A new trainable parameter: kept (no tidy scope disposes it) and requiring grad.
 * Under onMeta() no memory is allocated; under deferInit() the initialiser waits (initPending).
 */
export function parameter(shape: Shape, init: Init): Tensor {
  if (depth.meta > 0) {
    const t = new Tensor(Storage.wrap('float32', EMPTY), [...shape]);
    return keep(t).requiresGrad_();
  }
  const t = Tensor.empty(shape);
  if (depth.defer > 0) pendingInits.set(t, init);
  else init(t);
  return keep(t).requiresGrad_();
}

export interface LoadResult {
  missing: string[];
  unexpected: string[];
  mismatched: string[];
}

/** Shapes of what a loader would write, keyed by checkpoint name. */
export type ShapeMap = ReadonlyMap<string, Shape>;

/**
 * Compares what a module expects with what a checkpoint holds: every missing, unexpected and
 * wrongly shaped key. Keys matching `ignore` are neither missing nor unexpected.
 */
export function compareKeys(expected: ShapeMap, provided: ShapeMap, ignore: readonly RegExp[] = []): LoadResult {
  const ignored = (k: string) => ignore.some((r) => r.test(k));
  const missing: string[] = [], unexpected: string[] = [], mismatched: string[] = [];
  for (const [k, shape] of expected) {
    const got = provided.get(k);
    if (!got) {
      if (!ignored(k)) missing.push(k);
    } else if (got.length !== shape.length || got.some((d, i) => d !== shape[i])) {
      mismatched.push(`${k}: checkpoint ${formatShape(got)}, model ${formatShape(shape)}`);
    }
  }
  for (const k of provided.keys()) if (!expected.has(k) && !ignored(k)) unexpected.push(k);
  return { missing, unexpected, mismatched };
}

/** Throws one error listing every problem when a strict load is not exact. */
export function assertLoadable(r: LoadResult, strict: boolean, what = 'state dict'): void {
  const problems: string[] = [];
  if (r.mismatched.length) problems.push(`${r.mismatched.length} with the wrong shape:\n  ${r.mismatched.join('\n  ')}`);
  if (strict && r.missing.length) problems.push(`${r.missing.length} missing:\n  ${r.missing.join('\n  ')}`);
  if (strict && r.unexpected.length) problems.push(`${r.unexpected.length} unexpected:\n  ${r.unexpected.join('\n  ')}`);
  if (problems.length) throw new Error(`cannot load ${what}: keys ${problems.join('\n')}`);
}

/**
 * Base class of every layer and model. Subclasses register parameters with `param()` and
 * children with `module()` under the names the checkpoints use, so `stateDict()` keys are
 * exactly the Hugging Face / diffusers keys.
 *
 * @example
 * class Mlp extends Module {
 *   fc1 = this.module('fc1', new Linear(8, 32));
 *   fc2 = this.module('fc2', new Linear(32, 8));
 *   forward(x: Tensor) { return this.fc2.forward(gelu(this.fc1.forward(x))); }
 * }
 */
export class Module {
  training = true;
  private readonly params_ = new Map<string, Tensor>();
  private readonly children_ = new Map<string, Module>();
  /** Checkpoint keys this module tolerates as unexpected or missing (legacy buffers). */
  ignoredKeys: RegExp[] = [];

  protected param(name: string, shape: Shape, init: Init): Tensor {
    const t = parameter(shape, init);
    return this.registerParameter(name, t);
  }

  registerParameter(name: string, t: Tensor): Tensor {
    if (this.params_.has(name) || this.children_.has(name)) throw new Error(`duplicate name '${name}'`);
    t.name = name;
    this.params_.set(name, t);
    return t;
  }

  protected module<M extends Module>(name: string, m: M): M {
    if (this.params_.has(name) || this.children_.has(name)) throw new Error(`duplicate name '${name}'`);
    this.children_.set(name, m);
    return m;
  }

  /** Direct children, in registration order. */
  namedChildren(): [string, Module][] {
    return [...this.children_];
  }

  /** Every parameter with its dotted name, depth first in registration order. */
  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [n, p] of this.params_) out.push([prefix + n, p]);
    for (const [n, m] of this.children_) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Every submodule (this one first, named '') with its dotted name. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [n, m] of this.children_) out.push(...m.namedModules(`${prefix}${n}.`));
    return out;
  }

  /** Parameters by checkpoint key (the live tensors, not copies). */
  stateDict(): Map<string, Tensor> {
    return new Map(this.namedParameters());
  }

  /** Checkpoint key -> expected shape. */
  shapeMap(): Map<string, Shape> {
    return new Map(this.namedParameters().map(([k, p]) => [k, p.shape]));
  }

  /** Every ignore pattern of this module and its descendants, anchored at their prefixes. */
  ignorePatterns(): RegExp[] {
    const out: RegExp[] = [];
    for (const [name, m] of this.namedModules()) {
      const pre = name ? name.replace(/\./g, '\\.') + '\\.' : '';
      for (const r of m.ignoredKeys) out.push(new RegExp(`^${pre}(?:${r.source.replace(/^\^/, '')})`));
    }
    return out;
  }

  /**
   * Copies tensors into the parameters. With strict (the default) every missing or unexpected
   * key is an error; a wrong shape always is. All problems are reported in one error.
   *
   * @example
   * model.loadStateDict(new Map([['weight', w], ['bias', b]]));
   */
  loadStateDict(dict: ReadonlyMap<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const provided = new Map([...entries].map(([k, t]) => [k, t.shape] as [string, Shape]));
    const result = compareKeys(this.shapeMap(), provided, this.ignorePatterns());
    assertLoadable(result, opts.strict ?? true);
    const params = this.stateDict();
    noGrad(() => {
      for (const [k, t] of entries) {
        const p = params.get(k);
        if (!p) continue;
        const src = t.contiguousData();
        p.data.set(src instanceof Float32Array ? src : Float32Array.from(src));
        markLoaded(p);
      }
    });
    initPending(this);
    return result;
  }

  /** Stops gradients for every parameter (frozen towers: CLIP, the VAE). Returns this. */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad_(false);
    return this;
  }

  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad_(true);
    return this;
  }

  train(flag = true): this {
    for (const [, m] of this.namedModules()) m.training = flag;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  /** Parameter count (only those requiring grad when trainableOnly). */
  numParameters(opts: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!opts.trainableOnly || p.requiresGrad) n += p.size;
    return n;
  }

  /** Drops every gradient. */
  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** Frees every parameter's memory; the module is unusable afterwards. */
  dispose(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.dispose();
    }
  }
}

/** An indexed list of submodules, named '0', '1', ... as in torch.nn.ModuleList. */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: M[] = [];

  constructor(items: Iterable<M> = []) {
    super();
    for (const m of items) this.push(m);
  }

  push(m: M): M {
    this.module(String(this.items.length), m);
    this.items.push(m);
    return m;
  }

  get length(): number {
    return this.items.length;
  }

  at(i: number): M {
    return this.items[i];
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
