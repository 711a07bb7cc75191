// Losses: fused cross-entropy with ignoreIndex, mean squared error.
import { backend } from '../../backend/index.js';
import { record } from '../autograd.js';
import { formatShape } from '../shape.js';
import { Tensor } from '../tensor.js';
import { mean, sum } from './reduce.js';
import { square, sub } from './elementwise.js';
import { dense } from './util.js';

export type Reduction = 'mean' | 'sum' | 'none';

/**
 * Cross-entropy of logits [..., V] against int32 targets [...]; targets equal to ignoreIndex
 * contribute nothing, and 'mean' divides by the number of other targets (as PyTorch does).
 *
 * @example
 * crossEntropy(logits, targets, { ignoreIndex: -100 });
 */
export function crossEntropy(
  logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number; reduction?: Reduction } = {},
): Tensor {
  const { ignoreIndex = -100, reduction = 'mean' } = opts;
  if (targets.dtype !== 'int32') throw new TypeError('crossEntropy: targets must be an int32 tensor');
  const v = logits.shape[logits.ndim - 1], rows = logits.size / v;
  if (targets.size !== rows) throw new RangeError(`crossEntropy: ${targets.size} targets for logits ${formatShape(logits.shape)}`);
  const lc = dense(logits), tc = dense(targets);
  const losses = Tensor.empty(targets.shape), lse = Tensor.empty([rows]);
  backend().crossEntropy(lc.data, tc.dataI32, losses.data, lse.data, rows, v, ignoreIndex);
  let count = 0;
  for (const t of tc.dataI32) if (t !== ignoreIndex) count++;
  const scaleFor = reduction === 'mean' ? 1 / Math.max(count, 1) : 1;
  if (reduction === 'none') {
    return record(losses, 'crossEntropy', [logits], (g) => {
      // Per-row scales: apply row by row on the fused gradient with scale 1.
      const gl = Tensor.empty(logits.shape);
      backend().crossEntropyGrad(lc.data, tc.dataI32, lse.data, gl.data, rows, v, ignoreIndex, 1);
      const gd = dense(g).data;
      for (let r = 0; r < rows; r++) {
        const s = gd[r];
        for (let j = 0; j < v; j++) gl.data[r * v + j] *= s;
      }
      return [gl];
    }, [lse]);
  }
  const total = Tensor.empty([]);
  let acc = 0;
  for (const l of losses.data) acc += l;
  total.data[0] = acc * scaleFor;
  losses.dispose();
  return record(total, 'crossEntropy', [logits], (g) => {
    const gl = Tensor.empty(logits.shape);
    backend().crossEntropyGrad(lc.data, tc.dataI32, lse.data, gl.data, rows, v, ignoreIndex, scaleFor * g.item());
    return [gl];
  }, [lse]);
}

/** Mean (or sum) of squared differences. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  const d = square(sub(input, target));
  if (reduction === 'none') return d;
  return reduction === 'mean' ? mean(d) : sum(d);
}
