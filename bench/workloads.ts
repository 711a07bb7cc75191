// puma side of the engine benchmark: the same workloads as bench/torch_engine.py, written
// directly on tensor ops (no nn library) so the benchmark measures the engine alone.
import { backend, withMatmulPrecision } from '../src/backend/index.js';
import * as T from '../src/tensor/index.js';
import type { Tensor } from '../src/tensor/index.js';

type Step = () => void;

function param(shape: number[], std = 0.02): Tensor {
  return T.randn(shape, { std }).keep().requiresGrad_();
}
function zerosParam(shape: number[]): Tensor {
  return T.zeros(shape).keep().requiresGrad_();
}
function onesParam(shape: number[]): Tensor {
  return T.ones(shape).keep().requiresGrad_();
}

/** Minimal AdamW over a parameter list, on the fused kernel. */
class AdamW {
  private m: Tensor[];
  private v: Tensor[];
  private t = 0;
  constructor(private params: Tensor[], private lr = 3e-4, private wd = 0.01) {
    this.m = params.map((p) => T.zeros(p.shape).keep());
    this.v = params.map((p) => T.zeros(p.shape).keep());
  }
  zeroGrad(): void {
    for (const p of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }
  step(): void {
    this.t++;
    const h = { lr: this.lr, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: this.wd, bc1: 1 - 0.9 ** this.t, bc2: 1 - 0.999 ** this.t };
    this.params.forEach((p, i) => {
      if (p.grad) backend().adamw(p.data, p.grad.contiguous().data, this.m[i].data, this.v[i].data, p.size, h);
    });
  }
}

function sgemm(n: number): Step {
  const a = T.randn([n, n]).keep(), b = T.randn([n, n]).keep();
  const out = T.zeros([n, n]).keep();
  return () => backend().gemm(false, false, n, n, n, 1, a.data, 0, n, 0, b.data, 0, n, 0, 0, out.data, 0, n, 0, 1);
}

function conv(): Step {
  const x = T.randn([32, 64, 32, 32]).keep().requiresGrad_();
  const w = param([64, 64, 3, 3], 0.05), b = zerosParam([64]);
  return () => T.tidy(() => {
    for (const p of [x, w, b]) { p.grad?.dispose(); p.grad = null; }
    T.conv2d(x, w, b, { padding: 1 }).sum().backward();
  });
}

function attention(): Step {
  const [q, k, v] = [0, 1, 2].map(() => T.randn([8, 4, 256, 64]).keep().requiresGrad_());
  return () => T.tidy(() => {
    for (const p of [q, k, v]) { p.grad?.dispose(); p.grad = null; }
    T.scaledDotProductAttention(q, k, v, { causal: true }).sum().backward();
  });
}

interface LinearP { w: Tensor; b: Tensor | null }
const lin = (i: number, o: number, bias = true): LinearP => ({ w: param([o, i]), b: bias ? zerosParam([o]) : null });
const applyLin = (l: LinearP, x: Tensor) => T.linear(x, l.w, l.b);
const lnP = (d: number) => ({ w: onesParam([d]), b: zerosParam([d]) });
const paramsOf = (o: unknown): Tensor[] => {
  if (o instanceof T.Tensor) return [o];
  if (o && typeof o === 'object') return Object.values(o).flatMap(paramsOf);
  return [];
};

export interface GptConfig { vocab: number; dim: number; layers: number; heads: number; seq: number; batch: number }

/** One AdamW training step of a GPT (pre-LayerNorm, GELU MLP, causal attention). */
export function gpt(cfg: GptConfig = { vocab: 256, dim: 256, layers: 4, heads: 4, seq: 256, batch: 8 }): Step {
  const { vocab: V, dim: D, layers: L, heads: H, seq: S, batch: B } = cfg;
  const model = {
    wte: param([V, D]), wpe: param([S, D]),
    blocks: Array.from({ length: L }, () => ({ ln1: lnP(D), qkv: lin(D, 3 * D), proj: lin(D, D), ln2: lnP(D), fc: lin(D, 4 * D), out: lin(4 * D, D) })),
    lnf: lnP(D), head: lin(D, V, false),
  };
  const opt = new AdamW(paramsOf(model), 3e-4, 0.1);
  const idx = T.randint(0, V, [B, S]).keep(), tgt = T.randint(0, V, [B, S]).keep();
  const pos = T.arange(0, S, 1, 'int32').keep();
  const forward = () => {
    let x = T.add(T.embedding(model.wte, idx), T.embedding(model.wpe, pos));
    for (const blk of model.blocks) {
      const qkv = applyLin(blk.qkv, T.layerNorm(x, blk.ln1.w, blk.ln1.b));
      const [q, k, v] = qkv.reshape([B, S, 3, H, D / H]).permute([2, 0, 3, 1, 4]).split(1, 0).map((t) => t.squeeze(0));
      const y = T.scaledDotProductAttention(q, k, v, { causal: true }).transpose(1, 2).reshape([B, S, D]);
      x = T.add(x, applyLin(blk.proj, y));
      x = T.add(x, applyLin(blk.out, T.gelu(applyLin(blk.fc, T.layerNorm(x, blk.ln2.w, blk.ln2.b)))));
    }
    const logits = applyLin(model.head, T.layerNorm(x, model.lnf.w, model.lnf.b));
    return T.crossEntropy(logits.reshape([B * S, V]), tgt.reshape([B * S]));
  };
  return () => T.tidy(() => {
    opt.zeroGrad();
    forward().backward();
    opt.step();
  });
}

/** The training step at batch B, or (train false) one forward without gradients: a decoder's sampling step. */
function unet(B = 16, train = true): Step {
  const C0 = 64, C1 = 128, CTX = 128, TEMB = 256;
  const convP = (ci: number, co: number, k = 3) => ({ w: param([co, ci, k, k], 0.05), b: zerosParam([co]) });
  const gnP = (c: number) => ({ w: onesParam([c]), b: zerosParam([c]) });
  const res = (ci: number, co: number) => ({
    norm1: gnP(ci), conv1: convP(ci, co), time: lin(TEMB, co), norm2: gnP(co), conv2: convP(co, co),
    skip: ci !== co ? convP(ci, co, 1) : null,
  });
  const xblk = (c: number) => ({
    norm: gnP(c), ln1: lnP(c), ln2: lnP(c), ln3: lnP(c), projIn: lin(c, c), projOut: lin(c, c),
    q1: lin(c, c, false), k1: lin(c, c, false), v1: lin(c, c, false), o1: lin(c, c),
    q2: lin(c, c, false), k2: lin(CTX, c, false), v2: lin(CTX, c, false), o2: lin(c, c),
    ff1: lin(c, 8 * c), ff2: lin(4 * c, c),
  });
  const m = {
    time1: lin(C0, TEMB), time2: lin(TEMB, TEMB), convIn: convP(4, C0),
    down1: res(C0, C0), attn1: xblk(C0), downsample: convP(C0, C0), down2: res(C0, C1), attn2: xblk(C1),
    mid: res(C1, C1), up2: res(2 * C1, C1), uattn2: xblk(C1), upconv: convP(C1, C1),
    up1: res(C1 + C0, C0), uattn1: xblk(C0), normOut: gnP(C0), convOut: convP(C0, 4),
  };
  const opt = new AdamW(paramsOf(m), 1e-4, 0.01);
  const x = T.randn([B, 4, 16, 16]).keep(), noise = T.randn([B, 4, 16, 16]).keep(), ctx = T.randn([B, 16, CTX]).keep();
  const tsteps = T.randint(0, 1000, [B]).keep();
  const cv = (p: { w: Tensor; b: Tensor }, h: Tensor, stride = 1) => T.conv2d(h, p.w, p.b, { stride, padding: (p.w.shape[2] - 1) / 2 });
  const gn = (p: { w: Tensor; b: Tensor }, h: Tensor) => T.groupNorm(h, 8, p.w, p.b);
  const resF = (p: ReturnType<typeof res>, h: Tensor, temb: Tensor) => {
    let y = cv(p.conv1, T.silu(gn(p.norm1, h)));
    y = T.add(y, applyLin(p.time, T.silu(temb)).unsqueeze(-1).unsqueeze(-1));
    y = cv(p.conv2, T.silu(gn(p.norm2, y)));
    return T.add(y, p.skip ? cv(p.skip, h) : h);
  };
  const attn = (q: Tensor, k: Tensor, v: Tensor) => {
    const [b, t, c] = q.shape, heads = 4;
    const split = (z: Tensor) => z.reshape([b, -1, heads, c / heads]).transpose(1, 2);
    return T.scaledDotProductAttention(split(q), split(k), split(v)).transpose(1, 2).reshape([b, t, c]);
  };
  const xF = (p: ReturnType<typeof xblk>, h: Tensor) => {
    const [b, c, hh, ww] = h.shape;
    let z = applyLin(p.projIn, gn(p.norm, h).reshape([b, c, hh * ww]).transpose(1, 2));
    let n = T.layerNorm(z, p.ln1.w, p.ln1.b);
    z = T.add(z, applyLin(p.o1, attn(applyLin(p.q1, n), applyLin(p.k1, n), applyLin(p.v1, n))));
    n = T.layerNorm(z, p.ln2.w, p.ln2.b);
    z = T.add(z, applyLin(p.o2, attn(applyLin(p.q2, n), applyLin(p.k2, ctx), applyLin(p.v2, ctx))));
    const [a, g] = applyLin(p.ff1, T.layerNorm(z, p.ln3.w, p.ln3.b)).chunk(2, -1);
    z = T.add(z, applyLin(p.ff2, T.mul(a, T.gelu(g))));
    return T.add(h, applyLin(p.projOut, z).transpose(1, 2).reshape([b, c, hh, ww]));
  };
  const half = C0 / 2;
  const freqs = T.fromArray(Array.from({ length: half }, (_, i) => Math.exp((-Math.log(10000) * i) / half)), [1, half]).keep();
  const tf = T.fromArray(Array.from(tsteps.dataI32), [B, 1]).keep();
  const forward = () => {
    const e = T.mul(tf, freqs);
    const temb = applyLin(m.time2, T.silu(applyLin(m.time1, T.cat([T.sin(e), T.cos(e)], -1))));
    const h0 = cv(m.convIn, x);
    const s1 = xF(m.attn1, resF(m.down1, h0, temb));
    const s2 = xF(m.attn2, resF(m.down2, cv(m.downsample, s1, 2), temb));
    let h = resF(m.mid, s2, temb);
    h = xF(m.uattn2, resF(m.up2, T.cat([h, s2], 1), temb));
    h = cv(m.upconv, T.upsampleNearest(h, 2));
    h = xF(m.uattn1, resF(m.up1, T.cat([h, s1], 1), temb));
    const out = cv(m.convOut, T.silu(gn(m.normOut, h)));
    return T.mseLoss(out, noise);
  };
  if (!train) return () => T.noGrad(() => T.tidy(() => { forward(); }));
  return () => T.tidy(() => {
    opt.zeroGrad();
    forward().backward();
    opt.step();
  });
}

/** A small convolution forward without gradients, the size of the emoji decoders' at sampling. */
function convSmall(): Step {
  const x = T.randn([2, 32, 16, 16]).keep(), w = T.randn([32, 32, 3, 3], { std: 0.05 }).keep(), b = T.zeros([32]).keep();
  return () => T.noGrad(() => T.tidy(() => { T.conv2d(x, w, b, { padding: 1 }); }));
}

export const WORKLOADS: Record<string, () => Step> = {
  'sgemm n=512': () => sgemm(512),
  'sgemm n=1024': () => sgemm(1024),
  'sgemm n=2048': () => sgemm(2048),
  'conv2d 3x3 64->64 32x64x32x32 fwd+bwd': conv,
  'attention fwd+bwd B8 H4 T256 D64 causal': attention,
  'GPT AdamW step d256 L4 H4 T256 B8 V256': () => gpt(),
  'UNet train step 4x16x16 ch64/128 xattn B16': () => unet(),
  // inference at the sizes `puma generate` samples at (batch 2: the guided pair)
  'conv2d 3x3 32->32 2x32x16x16 fwd': convSmall,
  'UNet sampling step 4x16x16 ch64/128 xattn B2': () => unet(2, false),
  // bfloat16 products (float32 accumulation), against PyTorch's CPU autocast to bfloat16.
  'bf16 gemm n=1024': () => bf16(sgemm(1024)),
  'bf16 conv2d 3x3 64->64 32x64x32x32 fwd+bwd': () => bf16(conv()),
  'bf16 GPT AdamW step d256 L4 H4 T256 B8 V256': () => bf16(gpt()),
  'bf16 UNet train step 4x16x16 ch64/128 xattn B16': () => bf16(unet()),
};

/** The step with every matrix product and convolution in bfloat16. */
function bf16(step: Step): Step {
  return () => withMatmulPrecision('bfloat16', step);
}

/** Workload-specific repetitions per timing round (about a second of work each). */
export const REPS: Record<string, number> = {
  'sgemm n=512': 50, 'sgemm n=1024': 10, 'sgemm n=2048': 3,
  'conv2d 3x3 64->64 32x64x32x32 fwd+bwd': 3, 'attention fwd+bwd B8 H4 T256 D64 causal': 3,
  'GPT AdamW step d256 L4 H4 T256 B8 V256': 2, 'UNet train step 4x16x16 ch64/128 xattn B16': 2,
  'conv2d 3x3 32->32 2x32x16x16 fwd': 500, 'UNet sampling step 4x16x16 ch64/128 xattn B2': 50,
  'bf16 gemm n=1024': 20, 'bf16 conv2d 3x3 64->64 32x64x32x32 fwd+bwd': 3,
  'bf16 GPT AdamW step d256 L4 H4 T256 B8 V256': 2, 'bf16 UNet train step 4x16x16 ch64/128 xattn B16': 2,
};
