// Every engine op against PyTorch: forward outputs, and gradients of sum(output * weight) with
// respect to every differentiable input, on both backends. Fixtures from
// scripts/fixtures/make_engine_fixtures.py (torch 1.13, Debian's python3-torch).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { withBackend } from '../../src/backend/index.js';
import * as T from '../../src/tensor/index.js';
import type { Tensor } from '../../src/tensor/index.js';
import { assertClose, BACKENDS, DEFAULT_TOL, type Tolerance } from './helpers.js';

interface ArrayRef { shape: number[]; dtype: 'float32' | 'int32'; offset: number }
interface Case {
  name: string;
  op: string;
  params: Record<string, unknown>;
  inputs: Record<string, ArrayRef & { grad: boolean }>;
  outputs: ArrayRef[];
  weights: (ArrayRef | null)[];
  grads: Record<string, ArrayRef>;
}

const DIR = 'test/fixtures/engine';
const index = JSON.parse(readFileSync(join(DIR, 'index.json'), 'utf8'));
const bin = readFileSync(join(DIR, 'data.bin'));
const words = new DataView(bin.buffer, bin.byteOffset, bin.byteLength);

function load(ref: ArrayRef): Float32Array | Int32Array {
  const n = ref.shape.reduce((a, b) => a * b, 1);
  const out = ref.dtype === 'int32' ? new Int32Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const at = (ref.offset + i) * 4;
    out[i] = ref.dtype === 'int32' ? words.getInt32(at, true) : words.getFloat32(at, true);
  }
  return out;
}

const tensorOf = (ref: ArrayRef) => T.fromArray(load(ref), ref.shape, ref.dtype);

type In = Record<string, Tensor>;
type P = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Each fixture op, written the way a user of the engine would call it. */
const OPS: Record<string, (x: In, p: P) => Tensor | Tensor[]> = {
  add: ({ a, b }) => T.add(a, b),
  sub: ({ a, b }) => T.sub(a, b),
  mul: ({ a, b }) => T.mul(a, b),
  div: ({ a, b }) => T.div(a, b),
  pow: ({ a, b }) => T.pow(a, b),
  powScalar: ({ x }, p) => T.pow(x, p.exponent),
  neg: ({ x }) => T.neg(x),
  exp: ({ x }) => T.exp(x),
  log: ({ x }) => T.log(x),
  sqrt: ({ x }) => T.sqrt(x),
  rsqrt: ({ x }) => T.rsqrt(x),
  tanh: ({ x }) => T.tanh(x),
  sigmoid: ({ x }) => T.sigmoid(x),
  abs: ({ x }) => T.abs(x),
  clamp: ({ x }, p) => T.clamp(x, p.min, p.max),
  where: ({ cond, a, b }) => T.where(cond, a, b),
  maskedFill: ({ x, mask }, p) => T.maskedFill(x, mask, p.value),
  relu: ({ x }) => T.relu(x),
  gelu: ({ x }) => T.gelu(x),
  geluTanh: ({ x }) => T.gelu(x, 'tanh'),
  quickGelu: ({ x }) => T.quickGelu(x),
  silu: ({ x }) => T.silu(x),
  matmul: ({ a, b }) => T.matmul(a, b),
  linear: ({ x, weight, bias }) => T.linear(x, weight, bias ?? null),
  conv2d: ({ x, weight, bias }, p) => T.conv2d(x, weight, bias ?? null, { stride: p.stride, padding: p.padding }),
  upsampleNearest: ({ x }) => T.upsampleNearest(x, 2),
  avgPool2d: ({ x }, p) => T.avgPool2d(x, p.k),
  groupNorm: ({ x, weight, bias }, p) => T.groupNorm(x, p.groups, weight, bias, p.eps),
  layerNorm: ({ x, weight, bias }, p) => T.layerNorm(x, weight ?? null, bias ?? null, p.eps),
  rmsNorm: ({ x, weight }, p) => T.rmsNorm(x, weight, p.eps),
  softmax: ({ x }, p) => T.softmax(x, p.dim),
  logSoftmax: ({ x }, p) => T.logSoftmax(x, p.dim),
  attention: ({ q, k, v, mask }, p) => T.scaledDotProductAttention(q, k, v, { mask: mask ?? null, causal: !!p.causal }),
  embedding: ({ weight, ids }) => T.embedding(weight, ids),
  cat: ({ a, b, c }, p) => T.cat([a, b, c], p.dim),
  stack: ({ a, b, c }, p) => T.stack([a, b, c], p.dim),
  split: ({ x }, p) => T.split(x, p.size, p.dim),
  chunk: ({ x }, p) => T.chunk(x, p.chunks, p.dim),
  sum: ({ x }, p) => T.sum(x, p.dims, p.keepdim ?? false),
  mean: ({ x }, p) => T.mean(x, p.dims, p.keepdim ?? false),
  max: ({ x }, p) => T.max(x, p.dims, p.keepdim ?? false),
  argmax: ({ x }, p) => T.argmax(x, p.dim),
  crossEntropy: ({ logits, targets }, p) => T.crossEntropy(logits, targets, { ignoreIndex: p.ignoreIndex, reduction: p.reduction }),
  mseLoss: ({ input, target }, p) => T.mseLoss(input, target, p.reduction ?? 'mean'),
  rope: ({ x }, p) => {
    const { cos, sin } = T.ropeTables(x.shape[x.ndim - 2], x.shape[x.ndim - 1], p.theta);
    return T.rope(x, cos, sin);
  },
};

/**
 * Tolerance: |ours - torch| <= atol + rtol * |torch| with rtol 1e-4, atol 1e-5 for every output
 * and gradient (helpers.DEFAULT_TOL). Inputs are O(1) and every reduction here has at most a
 * few dozen terms, so float32 results of differently ordered sums agree to ~1e-6 relative; the
 * erf behind exact GELU is accurate to 1.2e-7. Every case passes at the default on both
 * backends today; an op that needs a looser bound gets an entry here with the reason beside it.
 */
const TOL: Record<string, { out?: Tolerance; grad?: Tolerance }> = {};

test('fixture file is the engine format, version 1, and covers every op of the issue', () => {
  assert.equal(index.magic, 'puma-engine-fixtures');
  assert.equal(index.version, 1);
  assert.equal(bin.byteLength, index.elements * 4);
  const ops = new Set((index.cases as Case[]).map((c) => c.op));
  for (const op of Object.keys(OPS)) assert.ok(ops.has(op), `no fixture case for ${op}`);
});

for (const c of index.cases as Case[]) {
  for (const be of BACKENDS) {
    test(`${c.name} (${c.op}) matches torch on ${be}`, () => {
      const run = OPS[c.op];
      assert.ok(run, `no runner for op ${c.op}`);
      withBackend(be, () => T.tidy(() => {
        const inputs: In = {};
        for (const [name, ref] of Object.entries(c.inputs)) {
          inputs[name] = tensorOf(ref);
          if (ref.grad) inputs[name].requiresGrad_();
        }
        const result = run(inputs, c.params);
        const outs = Array.isArray(result) ? result : [result];
        assert.equal(outs.length, c.outputs.length, `${c.name}: ${outs.length} outputs, torch has ${c.outputs.length}`);
        const tol = TOL[c.op] ?? {};
        let loss: Tensor | null = null;
        outs.forEach((o, i) => {
          const ref = c.outputs[i];
          assert.deepEqual([...o.shape], ref.shape, `${c.name} output ${i} shape`);
          assert.equal(o.dtype, ref.dtype, `${c.name} output ${i} dtype`);
          if (o.dtype === 'int32') {
            assert.deepEqual(Array.from(o.toArray()), Array.from(load(ref)), `${c.name} output ${i}`);
            return;
          }
          assertClose(o.toArray(), load(ref), tol.out ?? DEFAULT_TOL, `${c.name} [${be}] output ${i}`);
          const w = c.weights[i];
          if (w && o.requiresGrad) {
            const term = T.sum(T.mul(o, tensorOf(w)));
            loss = loss ? T.add(loss, term) : term;
          }
        });
        const wanted = Object.keys(c.grads);
        if (wanted.length === 0) return;
        assert.ok(loss, `${c.name}: torch has gradients but no output requires grad`);
        (loss as Tensor).backward();
        for (const name of wanted) {
          const g = inputs[name].grad;
          assert.ok(g, `${c.name}: no gradient for ${name}`);
          assert.deepEqual([...g.shape], c.grads[name].shape, `${c.name} grad ${name} shape`);
          assertClose(g.toArray(), load(c.grads[name]), tol.grad ?? tol.out ?? DEFAULT_TOL, `${c.name} [${be}] grad ${name}`);
        }
        for (const t of Object.values(inputs)) t.grad?.dispose();
      }));
    });
  }
}
