// Fused scaled dot-product attention with causal and additive masks, grouped-query aware.
import { backend } from '../../backend/index.js';
import type { AttentionGeometry } from '../../backend/backend.js';
import { record } from '../autograd.js';
import { broadcastStrides, formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { assertFloat, dense, i32 } from './util.js';

export interface AttentionOptions {
  /** Additive float mask broadcastable to [B, H, Tq, Tk] (use -Infinity to block). */
  mask?: Tensor | null;
  /** Query i attends to keys j <= i + Tk - Tq. */
  causal?: boolean;
  /** Defaults to 1/sqrt(D). */
  scale?: number;
}

/**
 * softmax(q k^T * scale + mask) v without materialising the [B, H, Tq, Tk] matrix.
 * q [B, H, Tq, D]; k [B, Hkv, Tk, D]; v [B, Hkv, Tk, Dv]; H must be a multiple of Hkv
 * (grouped-query attention shares each k/v head among H/Hkv query heads).
 *
 * @example
 * scaledDotProductAttention(q, k, v, { causal: true });
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions = {}): Tensor {
  assertFloat(q, 'attention');
  if (q.ndim !== 4 || k.ndim !== 4 || v.ndim !== 4) {
    throw new RangeError(`attention: expected 4-d q, k, v; got ${formatShape(q.shape)}, ${formatShape(k.shape)}, ${formatShape(v.shape)}`);
  }
  const [b, h, tq, d] = q.shape, [b2, hkv, tk, d2] = k.shape, dv = v.shape[3];
  if (b2 !== b || d2 !== d || v.shape[0] !== b || v.shape[1] !== hkv || v.shape[2] !== tk || h % hkv !== 0) {
    throw new RangeError(`attention: incompatible q ${formatShape(q.shape)}, k ${formatShape(k.shape)}, v ${formatShape(v.shape)}`);
  }
  const g: AttentionGeometry = { b, h, hkv, tq, tk, d, dv, scale: opts.scale ?? 1 / Math.sqrt(d), causal: !!opts.causal };
  const mask = opts.mask ?? null;
  let ms: Int32Array | null = null;
  if (mask) {
    if (mask.ndim > 4) throw new RangeError(`attention: mask ${formatShape(mask.shape)} has more than 4 dims`);
    ms = i32(broadcastStrides(mask.shape, mask.strides, [b, h, tq, tk]));
    for (let i = 0; i < mask.ndim; i++) {
      const want = [b, h, tq, tk][4 - mask.ndim + i];
      if (mask.shape[i] !== 1 && mask.shape[i] !== want) throw new RangeError(`attention: mask ${formatShape(mask.shape)} does not broadcast to [${b}, ${h}, ${tq}, ${tk}]`);
    }
  }
  const md = mask ? (mask.storage.data as Float32Array) : null, mo = mask?.offset ?? 0;
  const qc = dense(q), kc = dense(k), vc = dense(v);
  const out = Tensor.empty([b, h, tq, dv]), lse = Tensor.empty([b, h, tq]);
  backend().attention(qc.data, kc.data, vc.data, md, mo, ms, out.data, lse.data, g);
  return record(out, 'attention', [q, k, v], (go) => {
    const gq = Tensor.empty(q.shape), gk = Tensor.empty(k.shape), gv = Tensor.empty(v.shape);
    backend().attentionGrad(qc.data, kc.data, vc.data, md, mo, ms, out.data, lse.data, dense(go).data, gq.data, gk.data, gv.data, g);
    return [gq, gk, gv];
  }, [lse]);
}
