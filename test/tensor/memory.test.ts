// Lifetimes and the buffer pool: tidy/keep scopes, disposal errors, buffer reuse, a flat
// training loop; and the seeded generator (same seed, same numbers, pinned values).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as T from '../../src/tensor/index.js';

test('tidy disposes intermediates and keeps what fn returns (tensor, array, object)', () => {
  let inner: T.Tensor | null = null;
  const out = T.tidy(() => {
    inner = T.mul(T.randn([3]), 2);
    return T.exp(inner);
  });
  assert.ok(inner!.isDisposed, 'intermediate survived tidy');
  assert.equal(out.isDisposed, false);
  assert.equal(out.toArray().length, 3);
  const many = T.tidy(() => [T.ones([2]), { a: T.zeros([1]), b: [T.ones([1])] }] as const);
  assert.ok(!many[0].isDisposed && !many[1].a.isDisposed && !many[1].b[0].isDisposed);
});

test('a returned tensor moves to the enclosing scope; kept tensors survive every scope', () => {
  let fromInner: T.Tensor | null = null;
  let kept: T.Tensor | null = null;
  const outer = T.tidy(() => {
    fromInner = T.tidy(() => T.ones([2]));
    kept = T.zeros([2]).keep();
    const k2 = T.tidy(() => T.keep(T.ones([1])));
    assert.equal(k2.isDisposed, false);
    return T.add(fromInner, 1);
  });
  assert.ok(fromInner!.isDisposed, 'inner result was not handed to the outer scope');
  assert.equal(kept!.isDisposed, false);
  assert.deepEqual(Array.from(outer.toArray()), [2, 2]);
});

test('tidy disposes on throw too, and tidyAsync holds its scope across awaits', async () => {
  let made: T.Tensor | null = null;
  assert.throws(() => T.tidy(() => {
    made = T.ones([4]);
    throw new Error('fail inside');
  }), /fail inside/);
  // The scope is popped, so later tensors are not captured by the failed one.
  const later = T.ones([1]);
  assert.equal(later.isDisposed, false);
  made!.dispose();
  let mid: T.Tensor | null = null;
  const r = await T.tidyAsync(async () => {
    mid = T.ones([3]);
    await new Promise((res) => setTimeout(res, 1));
    return T.mul(mid, 3);
  });
  assert.ok(mid!.isDisposed);
  assert.deepEqual(Array.from(r.toArray()), [3, 3, 3]);
});

test('a disposed tensor throws a clear error on access; dispose is idempotent', () => {
  const x = T.randn([2, 3]);
  x.name = 'probe';
  x.dispose();
  x.dispose();
  assert.ok(x.isDisposed);
  assert.throws(() => x.toArray(), /tensor 'probe' \[2, 3\] was disposed/);
  const one = T.ones([1]);
  one.dispose();
  assert.throws(() => one.item(), /was disposed/);
  assert.throws(() => T.add(x, 1), /was disposed/);
  assert.throws(() => x.data, /was disposed/);
});

test('views hold their storage: disposing the base does not free a live view', () => {
  const base = T.fromArray([0, 1, 2, 3, 4, 5], [2, 3]);
  const live0 = T.memoryStats().liveBytes;
  const view = T.transpose(base);
  assert.equal(T.memoryStats().liveBytes, live0, 'a view must not allocate');
  base.dispose();
  assert.deepEqual(Array.from(view.toArray()), [0, 3, 1, 4, 2, 5]);
  assert.equal(T.memoryStats().liveBytes, live0, 'storage freed while a view holds it');
  view.dispose();
  assert.ok(T.memoryStats().liveBytes < live0, 'storage not returned when its last view was disposed');
});

test('the pool reuses freed buffers: a second identical allocation is a hit', () => {
  T.tidy(() => { T.zeros([1000]); });
  const s0 = T.memoryStats();
  T.tidy(() => { T.zeros([1000]); });
  const s1 = T.memoryStats();
  assert.equal(s1.misses, s0.misses, 'a same-size allocation after a free missed the pool');
  assert.ok(s1.hits > s0.hits);
  T.emptyCache();
  assert.equal(T.memoryStats().cachedBytes, 0);
  T.tidy(() => { T.zeros([1000]); });
  assert.ok(T.memoryStats().misses > s1.misses, 'emptyCache kept buffers');
});

test('a tidy training loop of 200 steps stays flat: live memory back to baseline, no misses after warm-up', () => {
  const g = new T.Generator(11);
  const w1 = T.randn([16, 8], { std: 0.3, generator: g }).requiresGrad_().keep();
  const b1 = T.zeros([16]).requiresGrad_().keep();
  const w2 = T.randn([4, 16], { std: 0.3, generator: g }).requiresGrad_().keep();
  const params = [w1, b1, w2];
  const x = T.randn([32, 8], { generator: g }).keep();
  const target = T.tanh(T.matmul(x, T.randn([8, 4], { generator: g }))).keep();
  const step = () => T.tidy(() => {
    const h = T.gelu(T.linear(x, w1, b1));
    const loss = T.mseLoss(T.linear(T.layerNorm(h, null, null), w2), target);
    loss.backward();
    for (const p of params) {
      T.addInPlace(p, p.grad!, -0.05);
      p.grad!.dispose();
      p.grad = null;
    }
    return loss.item();
  });
  const base = T.memoryStats();
  const first = step();
  for (let i = 0; i < 9; i++) step();
  const warm = T.memoryStats();
  let last = 0;
  for (let i = 0; i < 190; i++) last = step();
  const end = T.memoryStats();
  assert.equal(end.liveBytes, base.liveBytes, 'live bytes grew over the loop');
  assert.equal(end.liveTensors, base.liveTensors, 'live tensors grew over the loop');
  assert.equal(end.misses, warm.misses, 'steps after warm-up allocated fresh memory');
  assert.ok(end.hits - warm.hits >= 190 * 10, `only ${end.hits - warm.hits} pool hits in 190 steps`);
  assert.ok(end.cachedBytes <= warm.cachedBytes, 'the pool kept growing');
  assert.ok(last < first * 0.5, `loss did not fall (${first} -> ${last}): the loop is not training`);
});

test('seeded randn/rand/randint: same seed, same numbers; pinned values for seed 0', () => {
  T.manualSeed(0);
  const a = T.randn([6]).toArray();
  // Pinned: a change of generator (xoshiro128** + splitmix32 seeding, Box-Muller) must be deliberate.
  assert.deepEqual(Array.from(a), [
    -0.04292575642466545, 0.48816728591918945, -1.3734577894210815,
    -2.6232943534851074, -2.608858108520508, -0.21337103843688965,
  ]);
  T.manualSeed(0);
  assert.deepEqual(Array.from(T.rand([4]).toArray()), [0.8868539333343506, 0.26395899057388306, 0.012474989518523216, 0.6732364892959595]);
  T.manualSeed(0);
  assert.deepEqual(Array.from(T.randn([6]).toArray()), Array.from(a));
  T.manualSeed(1);
  assert.notDeepEqual(Array.from(T.randn([6]).toArray()), Array.from(a));
  // Explicit generators are independent of the default one and of each other.
  const g1 = new T.Generator(42), g2 = new T.Generator(42);
  T.randn([5]);
  assert.deepEqual(Array.from(T.randn([7], { generator: g1 }).toArray()), Array.from(T.randn([7], { generator: g2 }).toArray()));
  // State round-trip, including the cached second Box-Muller value.
  g1.normal();
  const state = g1.getState();
  const next = [g1.normal(), g1.normal(), g1.uniform()];
  g1.setState(state);
  assert.deepEqual([g1.normal(), g1.normal(), g1.uniform()], next);
  const ids = T.randint(3, 9, [1000], new T.Generator(7)).toArray();
  assert.ok(ids.every((v) => v >= 3 && v < 9));
  assert.equal(new Set(ids).size, 6);
});

test('randn has the right moments (catches a broken transform, not just a changed one)', () => {
  const v = T.randn([40000], { generator: new T.Generator(3) }).toArray();
  let m = 0, s = 0;
  for (const e of v) m += e;
  m /= v.length;
  for (const e of v) s += (e - m) ** 2;
  s = Math.sqrt(s / v.length);
  assert.ok(Math.abs(m) < 0.03 && Math.abs(s - 1) < 0.03, `mean ${m}, std ${s}`);
  const u = T.rand([40000], { low: -2, high: 2, generator: new T.Generator(4) }).toArray();
  assert.ok(u.every((e) => e >= -2 && e < 2));
  let um = 0;
  for (const e of u) um += e / u.length;
  assert.ok(Math.abs(um) < 0.05, `uniform mean ${um}`);
});

test('tidyNoGrad: at inference a UNet step frees each layer\'s intermediates as it goes; with gradients on, backward still works', async () => {
  const { UNet2DConditionModel } = await import('../../src/models/unet/model.js');
  const { unetConfig } = await import('../../src/io/config.js');
  T.manualSeed(3);
  const unet = new UNet2DConditionModel(unetConfig({
    sample_size: 8, block_out_channels: [8, 16], down_block_types: ['CrossAttnDownBlock2D', 'DownBlock2D'],
    up_block_types: ['UpBlock2D', 'CrossAttnUpBlock2D'], layers_per_block: 1, attention_head_dim: 2,
    cross_attention_dim: 8, norm_num_groups: 4,
  }));
  const x = T.randn([2, 4, 8, 8]).keep(), ctx = T.randn([2, 3, 8]).keep();
  const live = () => T.memoryStats().liveTensors;
  // live tensors the forward leaves behind inside its caller's scope, and its output
  const run = (): { left: number; out: number[] } => T.tidy(() => {
    const before = live();
    const y = unet.forward({ sample: x, timestep: 10, encoderHiddenStates: ctx });
    return { left: live() - before, out: Array.from(y.toArray()) };
  });
  const inference = T.noGrad(run);
  const training = run();
  assert.deepEqual(inference.out, training.out, 'same numbers either way');
  assert.ok(inference.left * 4 < training.left, `inference left ${inference.left} tensors, training ${training.left}`);
  // with gradients on the graph is intact: every parameter gets a gradient
  T.tidy(() => unet.forward({ sample: x, timestep: 10, encoderHiddenStates: ctx }).square().mean().backward());
  const missing = [...unet.namedParameters()].filter(([, p]) => !p.grad).map(([n]) => n);
  assert.deepEqual(missing, []);
});
