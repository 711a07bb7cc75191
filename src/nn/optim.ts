// AdamW with parameter groups, gradient clipping by global norm, and an EMA of weights.
import { backend } from '../backend/index.js';
import { keep, Tensor, zeros } from '../tensor/index.js';

export interface ParamGroup {
  params: Tensor[];
  /** Learning rate of this group before any schedule factor (PUMA: 1e-4 projector, 3e-5 LLM). */
  lr: number;
  weightDecay?: number;
  /** Optional label (shown by schedulers and logs). */
  name?: string;
}

export interface AdamWOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

interface GroupState {
  params: Tensor[];
  baseLr: number;
  lr: number;
  weightDecay: number;
  name: string;
}

/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay: p -= lr * wd * p, then the Adam step.
 * Each group keeps its own base learning rate; `setLrFactor` scales all of them (schedules).
 *
 * @example
 * const opt = new AdamW([{ params: projector.parameters(), lr: 1e-4 }, { params: llm.parameters(), lr: 3e-5 }]);
 * loss.backward(); opt.step(); opt.zeroGrad();
 */
export class AdamW {
  readonly groups: GroupState[];
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  stepCount = 0;
  private readonly m = new Map<Tensor, Tensor>();
  private readonly v = new Map<Tensor, Tensor>();

  constructor(params: Tensor[] | ParamGroup[], opts: AdamWOptions = {}) {
    this.beta1 = opts.beta1 ?? 0.9;
    this.beta2 = opts.beta2 ?? 0.999;
    this.eps = opts.eps ?? 1e-8;
    const wd = opts.weightDecay ?? 0.01;
    const groups: ParamGroup[] = params.length > 0 && params[0] instanceof Tensor
      ? [{ params: params as Tensor[], lr: opts.lr ?? 1e-3 }]
      : (params as ParamGroup[]);
    const seen = new Set<Tensor>();
    this.groups = groups.map((g, i) => {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`AdamW: parameter '${p.name}' appears in more than one group`);
        seen.add(p);
      }
      return { params: g.params, baseLr: g.lr, lr: g.lr, weightDecay: g.weightDecay ?? wd, name: g.name ?? `group${i}` };
    });
  }

  /** Sets every group's lr to its base lr times factor (called by schedules). */
  setLrFactor(factor: number): void {
    for (const g of this.groups) g.lr = g.baseLr * factor;
  }

  /** One update of every parameter that has a gradient. */
  step(): void {
    this.stepCount++;
    const bc1 = 1 - this.beta1 ** this.stepCount, bc2 = 1 - this.beta2 ** this.stepCount;
    for (const g of this.groups) {
      for (const p of g.params) {
        if (!p.grad || !p.requiresGrad) continue;
        let m = this.m.get(p), v = this.v.get(p);
        if (!m || !v) {
          m = keep(zeros(p.shape));
          v = keep(zeros(p.shape));
          this.m.set(p, m);
          this.v.set(p, v);
        }
        const grad = p.grad.isContiguous ? p.grad : p.grad.contiguous();
        backend().adamw(p.data, grad.data, m.data, v.data, p.size, {
          lr: g.lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: g.weightDecay, bc1, bc2,
        });
        if (grad !== p.grad) grad.dispose();
      }
    }
  }

  zeroGrad(): void {
    for (const g of this.groups) {
      for (const p of g.params) {
        p.grad?.dispose();
        p.grad = null;
      }
    }
  }

  /** The moment estimates of a parameter (for checkpointing the optimizer). */
  state(p: Tensor): { m: Tensor; v: Tensor } | null {
    const m = this.m.get(p), v = this.v.get(p);
    return m && v ? { m, v } : null;
  }

  /** Restores moment estimates and the step count from a checkpoint (tensors are adopted). */
  restore(states: { param: Tensor; m: Tensor; v: Tensor }[], stepCount: number): void {
    for (const { param, m, v } of states) {
      this.m.get(param)?.dispose();
      this.v.get(param)?.dispose();
      this.m.set(param, keep(m));
      this.v.set(param, keep(v));
    }
    this.stepCount = stepCount;
  }

  dispose(): void {
    for (const t of [...this.m.values(), ...this.v.values()]) t.dispose();
    this.m.clear();
    this.v.clear();
  }
}

/**
 * Scales all gradients so that their global L2 norm is at most maxNorm (torch's
 * clip_grad_norm_: factor maxNorm / (norm + 1e-6) when above). Returns the norm before clipping.
 *
 * @example
 * clipGradNorm(model.parameters(), 1.0);
 */
export function clipGradNorm(params: Tensor[], maxNorm: number): number {
  let sq = 0;
  for (const p of params) {
    if (!p.grad) continue;
    const g = p.grad.contiguousData();
    for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  }
  const norm = Math.sqrt(sq);
  const coef = maxNorm / (norm + 1e-6);
  if (coef < 1) {
    for (const p of params) {
      if (!p.grad) continue;
      if (!p.grad.isContiguous) p.grad = p.grad.contiguous();
      const g = p.grad.data;
      for (let i = 0; i < g.length; i++) g[i] *= coef;
    }
  }
  return norm;
}

/**
 * Exponential moving average of weights: shadow = decay * shadow + (1 - decay) * param.
 *
 * @example
 * const ema = new EMA(unet.parameters(), 0.9999);
 * opt.step(); ema.update();
 * ema.swap(); evaluate(); ema.swap();
 */
export class EMA {
  private readonly shadow: Tensor[];

  constructor(readonly params: Tensor[], readonly decay = 0.9999) {
    this.shadow = params.map((p) => {
      const s = keep(zeros(p.shape));
      s.data.set(p.data);
      return s;
    });
  }

  update(): void {
    const d = this.decay;
    this.params.forEach((p, i) => {
      const s = this.shadow[i].data, x = p.data;
      for (let j = 0; j < s.length; j++) s[j] = d * s[j] + (1 - d) * x[j];
    });
  }

  /** Exchanges the live weights with the averaged ones (call again to swap back). */
  swap(): void {
    this.params.forEach((p, i) => {
      const s = this.shadow[i].data, x = p.data;
      for (let j = 0; j < s.length; j++) {
        const t = s[j];
        s[j] = x[j];
        x[j] = t;
      }
    });
  }

  /** Writes the averaged weights into the live parameters. */
  copyTo(): void {
    this.params.forEach((p, i) => p.data.set(this.shadow[i].data));
  }

  dispose(): void {
    for (const s of this.shadow) s.dispose();
  }
}
