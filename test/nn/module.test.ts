import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Linear, LayerNorm, Module, ModuleList, onMeta, isMeta, Conv2d, GroupNorm, RMSNorm, Embedding, Dropout, multiHeadAttention, deferInit, initPending, isInitPending, reinit } from '../../src/nn/index.js';
import { fromArray, gelu, randn, tidy, zeros, Tensor, memoryStats, softmax, matmul, manualSeed, defaultGenerator } from '../../src/tensor/index.js';

class Mlp extends Module {
  fc1 = this.module('fc1', new Linear(4, 8));
  fc2 = this.module('fc2', new Linear(8, 4, { bias: false }));
  norm = this.module('norm', new LayerNorm(4));
  forward(x: Tensor) {
    return this.fc2.forward(gelu(this.fc1.forward(this.norm.forward(x))));
  }
}

class Net extends Module {
  layers = this.module('layers', new ModuleList([new Mlp(), new Mlp()]));
  scale = this.param('scale', [4], (t) => t.data.fill(2));
}

test('state dict keys follow registration and nesting, like torch', () => {
  const net = new Net();
  assert.deepEqual([...net.stateDict().keys()], [
    'scale',
    'layers.0.fc1.weight', 'layers.0.fc1.bias', 'layers.0.fc2.weight', 'layers.0.norm.weight', 'layers.0.norm.bias',
    'layers.1.fc1.weight', 'layers.1.fc1.bias', 'layers.1.fc2.weight', 'layers.1.norm.weight', 'layers.1.norm.bias',
  ]);
  assert.equal(net.numParameters(), 4 + 2 * (32 + 8 + 32 + 4 + 4));
  for (const p of net.parameters()) {
    assert.ok(p.kept, 'parameters survive tidy scopes');
    assert.ok(p.requiresGrad);
  }
});

test('parameters survive tidy and round-trip through loadStateDict', () => {
  const a = tidy(() => new Net());
  const b = new Net();
  b.loadStateDict(a.stateDict());
  for (const [k, p] of a.stateDict()) assert.deepEqual(p.toArray(), b.stateDict().get(k)!.toArray(), k);
  const x = randn([2, 3, 4]);
  const ya = a.layers.at(0).forward(x).toArray(), yb = b.layers.at(0).forward(x).toArray();
  assert.deepEqual(ya, yb);
});

test('a strict load reports every missing, unexpected and mis-shaped key in one error', () => {
  const net = new Net();
  const sd = new Map(net.stateDict());
  sd.delete('layers.0.fc1.bias');
  sd.delete('layers.1.norm.weight');
  sd.set('layers.0.extra', zeros([3]));
  sd.set('layers.1.fc2.weight', zeros([4, 9]));
  assert.throws(() => net.loadStateDict(sd), (e: Error) => {
    assert.match(e.message, /2 missing/);
    assert.match(e.message, /layers\.0\.fc1\.bias/);
    assert.match(e.message, /layers\.1\.norm\.weight/);
    assert.match(e.message, /1 unexpected:\n\s+layers\.0\.extra/);
    assert.match(e.message, /layers\.1\.fc2\.weight: checkpoint \[4, 9\], model \[4, 8\]/);
    return true;
  });
  // non-strict tolerates missing/unexpected but not a wrong shape
  sd.set('layers.1.fc2.weight', zeros([4, 8]));
  const r = net.loadStateDict(sd, { strict: false });
  assert.deepEqual(r.missing.sort(), ['layers.0.fc1.bias', 'layers.1.norm.weight']);
  assert.deepEqual(r.unexpected, ['layers.0.extra']);
  assert.deepEqual(net.stateDict().get('layers.1.fc2.weight')!.toArray(), new Float32Array(32));
});

test('freeze, unfreeze, train and eval reach every submodule', () => {
  const net = new Net();
  net.layers.at(1).freeze();
  assert.equal(net.numParameters({ trainableOnly: true }), 4 + 80);
  net.unfreeze();
  assert.equal(net.numParameters({ trainableOnly: true }), net.numParameters());
  net.eval();
  assert.ok(net.namedModules().every(([, m]) => !m.training));
  net.train();
  assert.ok(net.layers.at(1).fc1.training);
});

test('onMeta builds shapes without allocating', () => {
  const before = memoryStats().liveBytes;
  const big = onMeta(() => new Linear(50_000, 40_000));
  assert.equal(big.numParameters(), 50_000 * 40_000 + 40_000);
  assert.ok(isMeta(big.weight));
  assert.ok(memoryStats().liveBytes - before < 1 << 20);
});

test('layers compute what their torch counterparts compute', () => {
  const lin = new Linear(3, 2);
  lin.loadStateDict({ weight: fromArray([[1, 2, 3], [0, -1, 0.5]]), bias: fromArray([0.5, -0.5]) });
  assert.deepEqual(Array.from(lin.forward(fromArray([[1, 1, 2]])).toArray()), [9.5, -0.5]);
  const conv = new Conv2d(1, 1, 3, { padding: 1, bias: false });
  conv.weight.data.fill(1);
  const y = conv.forward(fromArray(new Float32Array(16).fill(1), [1, 1, 4, 4]));
  assert.equal(y.toArray()[0], 4);
  assert.equal(y.toArray()[5], 9);
  const emb = new Embedding(5, 2);
  emb.weight.data.set([0, 0, 1, 1, 2, 2, 3, 3, 4, 4]);
  assert.deepEqual(Array.from(emb.forward(fromArray(new Int32Array([4, 1]), [2], 'int32')).toArray()), [4, 4, 1, 1]);
  const rms = new RMSNorm(2, 0);
  assert.deepEqual(Array.from(rms.forward(fromArray([[3, 4]])).toArray()).map((v) => +v.toFixed(5)), [0.84853, 1.13137]);
  const gn = new GroupNorm(1, 2, 0);
  const g = gn.forward(fromArray([1, 3, 5, 7], [1, 2, 1, 2])).toArray();
  assert.ok(Math.abs(g[0] + 1.3416) < 1e-3 && Math.abs(g[3] - 1.3416) < 1e-3);
  const d = new Dropout(0.5);
  const x = randn([1000]);
  assert.notDeepEqual(d.forward(x).toArray(), x.toArray());
  d.eval();
  assert.equal(d.forward(x), x);
});

test('multiHeadAttention equals softmax(q k^T / sqrt(d)) v per head', () => {
  const q = randn([1, 3, 4]), k = randn([1, 5, 4]), v = randn([1, 5, 4]);
  const out = multiHeadAttention(q, k, v, { heads: 2 }).toArray();
  for (let h = 0; h < 2; h++) {
    const qh = q.narrow(2, 2 * h, 2), kh = k.narrow(2, 2 * h, 2), vh = v.narrow(2, 2 * h, 2);
    const ref = matmul(softmax(matmul(qh, kh.transpose(1, 2)).mul(1 / Math.sqrt(2))), vh).toArray();
    for (let t = 0; t < 3; t++) for (let j = 0; j < 2; j++) assert.ok(Math.abs(out[t * 4 + 2 * h + j] - ref[t * 2 + j]) < 1e-5);
  }
});

test('deferInit: a load writes every parameter; what it does not write gets its own initialiser; nothing is drawn for the rest', () => {
  manualSeed(3);
  const source = new Net();
  const dict = source.stateDict();
  // a full load: the values are the source's, and the default generator drew nothing
  manualSeed(7);
  const full = deferInit(() => new Net());
  assert.ok(full.parameters().every(isInitPending), 'parameters wait for their values');
  full.loadStateDict(dict);
  const next = defaultGenerator.uniform();
  manualSeed(7);
  assert.equal(next, defaultGenerator.uniform(), 'building and loading under deferInit draws no random numbers');
  for (const [k, p] of full.stateDict()) assert.deepEqual(Array.from(p.data), Array.from(dict.get(k)!.data), k);
  assert.ok(!full.parameters().some(isInitPending));
  // a partial load: the missing parameters are initialised as a plain construction would
  const partial = deferInit(() => new Net());
  const some = new Map([...dict].filter(([k]) => k !== 'layers.1.fc1.bias' && k !== 'scale'));
  const r = partial.loadStateDict(some, { strict: false });
  assert.deepEqual(r.missing.sort(), ['layers.1.fc1.bias', 'scale']);
  assert.ok(!partial.parameters().some(isInitPending));
  assert.deepEqual(Array.from(partial.stateDict().get('scale')!.data), [2, 2, 2, 2]);
  const bias = Array.from(partial.stateDict().get('layers.1.fc1.bias')!.data);
  assert.ok(bias.every((v) => Math.abs(v) <= 0.5) && bias.some((v) => v !== 0), `Linear(4, 8)'s default U(-1/2, 1/2): ${bias}`);
  // reinit replaces a pending initialiser and runs an eager one at once
  const eager = new Linear(2, 3);
  reinit(eager.weight, (t) => t.data.fill(5));
  assert.deepEqual(Array.from(eager.weight.data), Array(6).fill(5));
  const lazy = deferInit(() => new Linear(2, 3));
  reinit(lazy.weight, (t) => t.data.fill(5));
  assert.equal(initPending(lazy), 2);
  assert.deepEqual(Array.from(lazy.weight.data), Array(6).fill(5));
});
