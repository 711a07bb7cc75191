import assert from 'node:assert/strict';
import { test } from 'node:test';
import { llamaConfig } from '../../src/io/config.js';
import { splitCoarseToFine } from '../../src/models/puma/encoder.js';
import {
  IMAGE_SLOTS, layoutSequence, pickToken, PumaMLLM, SCALE_OFFSETS, SCALE_WEIGHTS, TEXT_LOSS_WEIGHT, type MllmPart,
} from '../../src/models/puma/mllm.js';
import { mllmConfigFromJson, mllmConfigJson, type MllmConfig } from '../../src/models/puma/mllm-config.js';
import { AdamW } from '../../src/nn/optim.js';
import * as T from '../../src/tensor/index.js';

const C = 8, V = 40;
const TOK = { bos: 1, eos: 2, imgStart: 3, imgEnd: 4, pad: 0 };

function tinyConfig(slotEmbedding = false, inputResidual = false): Readonly<MllmConfig> {
  const llm = llamaConfig({
    vocab_size: V, hidden_size: 32, intermediate_size: 64, num_hidden_layers: 2, num_attention_heads: 4,
    num_key_value_heads: 2, max_position_embeddings: 1024, rope_theta: 10000, rms_norm_eps: 1e-5,
    bos_token_id: TOK.bos, eos_token_id: TOK.eos,
  });
  return Object.freeze({ llm, featureDim: C, projector: 'mlp2x_gelu' as const, tokens: TOK, slotEmbedding, inputResidual });
}

function tinyModel(seed = 0, slotEmbedding = false, inputResidual = false): PumaMLLM {
  T.manualSeed(seed);
  return new PumaMLLM(tinyConfig(slotEmbedding, inputResidual));
}

/** Random features [341, C] whose coarse scales are distinct (kept across tidy scopes). */
function features(seed: number): T.Tensor {
  return T.randn([IMAGE_SLOTS, C], { generator: new T.Generator(seed) }).keep();
}

const tokens = (ids: number[], loss = false): MllmPart => ({ kind: 'tokens', ids, loss });
const t2i = (prompt: number[], f: T.Tensor): MllmPart[] => [
  tokens([TOK.bos, ...prompt, TOK.imgStart]), { kind: 'image', features: f, role: 'target' }, tokens([TOK.imgEnd, TOK.eos], true),
];
const i2t = (f: T.Tensor, caption: number[]): MllmPart[] => [
  tokens([TOK.bos, TOK.imgStart]), { kind: 'image', features: f, role: 'input' }, tokens([TOK.imgEnd]), tokens([...caption, TOK.eos], true),
];

function rowsClose(a: Float32Array | Int32Array, b: Float32Array | Int32Array, tol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
}

test('layout: token positions, feature slots after [IMG], loss positions', () => {
  const f = features(1);
  const l = layoutSequence(t2i([5, 6], f));
  assert.equal(l.length, 4 + IMAGE_SLOTS + 2);
  assert.deepEqual([...l.ids.slice(0, 4)], [TOK.bos, 5, 6, TOK.imgStart]);
  assert.equal(l.ids[4], -1);
  assert.equal(l.ids[4 + IMAGE_SLOTS - 1], -1);
  assert.deepEqual([...l.ids.slice(4 + IMAGE_SLOTS)], [TOK.imgEnd, TOK.eos]);
  assert.deepEqual(l.images.map((im) => [im.start, im.role]), [[4, 'target']]);
  assert.deepEqual(l.lossPositions, [4 + IMAGE_SLOTS, 5 + IMAGE_SLOTS]);
  assert.deepEqual(SCALE_OFFSETS, [85, 21, 5, 1, 0]);
  assert.throws(() => layoutSequence([{ kind: 'image', features: T.zeros([4, C]), role: 'input' }]), /341/);
});

test('sequence building: embeddings of tokens, projected features in the slots, padding on the right', () => {
  const m = tinyModel();
  const f1 = features(1), f2 = features(2);
  T.noGrad(() => {
    const a = layoutSequence(t2i([5, 6], f1)), b = layoutSequence(i2t(f2, [7, 8, 9, 10]));
    const x = m.embedSequences([a, b]);
    const t = Math.max(a.length, b.length);
    assert.deepEqual(x.shape, [2, t, 32]);
    const row = (bi: number, p: number) => x.narrow(0, bi, 1).narrow(1, p, 1).contiguous().toArray();
    const emb = (id: number) => m.llm.embed(T.fromArray(new Int32Array([id]), [1, 1], 'int32')).toArray();
    const proj = (f: T.Tensor, i: number) => m.projector.forward(f.narrow(0, i, 1)).toArray();
    rowsClose(row(0, 0), emb(TOK.bos), 0, 'a <s>');
    rowsClose(row(0, 3), emb(TOK.imgStart), 0, 'a [IMG]');
    for (const i of [0, 1, 5, 85, 340]) rowsClose(row(0, 4 + i), proj(f1, i), 1e-6, `a slot ${i}`);
    rowsClose(row(0, 4 + IMAGE_SLOTS), emb(TOK.imgEnd), 0, 'a [/IMG]');
    rowsClose(row(0, a.length - 1), emb(TOK.eos), 0, 'a </s>');
    rowsClose(row(0, t - 1), emb(TOK.pad), 0, 'a padding');
    for (const i of [0, 340]) rowsClose(row(1, 2 + i), proj(f2, i), 1e-6, `b slot ${i}`);
    rowsClose(row(1, 2 + IMAGE_SLOTS + 1), emb(7), 0, 'b caption');
    rowsClose(row(1, t - 1), emb(TOK.eos), 0, 'b </s>');
  });
});

test('loss = 0.02 CE + sum alpha_k MSE_k, checked by hand', () => {
  const m = tinyModel(3);
  const f1 = features(11), f2 = features(12), f3 = features(13);
  const batch = [t2i([5, 6], f1), i2t(f2, [7, 8]), t2i([9], f3)];
  T.noGrad(() => {
    const got = m.loss(batch);
    const out = m.forwardTeacher(batch);
    const H = 32, hid = out.hidden.contiguous().toArray() as Float32Array, t = out.hidden.shape[1];
    const hrow = (b: number, p: number) => hid.subarray((b * t + p) * H, (b * t + p + 1) * H);
    const lin = (w: Float32Array, bias: Float32Array | null, x: Float32Array, outN: number) =>
      Float64Array.from({ length: outN }, (_, o) => {
        let s = bias ? bias[o] : 0;
        for (let i = 0; i < x.length; i++) s += w[o * x.length + i] * x[i];
        return s;
      });
    const hw = m.regression_head.weight.toArray() as Float32Array, hb = m.regression_head.bias!.toArray() as Float32Array;
    // MSE per scale: mean over the two target images of each image's mean over tokens and channels
    const sq = [0, 0, 0, 0, 0];
    const counts = [256, 64, 16, 4, 1];
    [[0, f1], [2, f3]].forEach(([b, f]) => {
      const fa = (f as T.Tensor).toArray();
      const start = out.layouts[b as number].images[0].start;
      for (let i = 0; i < IMAGE_SLOTS; i++) {
        const pred = lin(hw, hb, hrow(b as number, start - 1 + i), C);
        const k = SCALE_OFFSETS.findIndex((o, kk) => i >= o && i < o + counts[kk]);
        for (let c = 0; c < C; c++) sq[k] += (pred[c] - fa[i * C + c]) ** 2 / (2 * counts[k] * C);
      }
    });
    // CE over every learned token: [/IMG] and </s> of the t2i samples, the caption and </s> of the i2t one
    const lw = m.llm.lm_head!.weight.toArray() as Float32Array;
    let nll = 0, n = 0;
    out.layouts.forEach((l, b) => {
      for (const p of l.lossPositions) {
        const z = lin(lw, null, hrow(b, p - 1), V);
        const mx = Math.max(...z);
        const lse = mx + Math.log(z.reduce((s, v) => s + Math.exp(v - mx), 0));
        nll += lse - z[l.ids[p]];
        n++;
      }
    });
    assert.equal(n, 2 + 3 + 2);
    assert.equal(got.textTokens, 7);
    assert.equal(got.targetImages, 2);
    const ce = nll / n;
    const want = TEXT_LOSS_WEIGHT * ce + sq.reduce((s, v, k) => s + SCALE_WEIGHTS[k] * v, 0);
    assert.ok(Math.abs(got.ce - ce) < 1e-4, `ce ${got.ce} vs ${ce}`);
    sq.forEach((v, k) => assert.ok(Math.abs(got.mse[k] - v) < 1e-4 * Math.max(1, v), `mse f${k}: ${got.mse[k]} vs ${v}`));
    assert.ok(Math.abs(got.loss.item() - want) < 1e-3 * want, `loss ${got.loss.item()} vs ${want}`);
    assert.deepEqual(SCALE_WEIGHTS, [1, 8, 64, 512, 1024]);
  });
});

test('teacher-forced regression equals token-by-token generation with the KV cache fed the same features', () => {
  const m = tinyModel(4);
  const f = features(21);
  const full = T.noGrad(() => m.featurePredictions(m.forwardTeacher([t2i([5, 6, 7], f)]))!.pred);
  const scales = m.generateImage([5, 6, 7], { upToScale: 0, feed: splitCoarseToFine(f.unsqueeze(0)) });
  const teacher = splitCoarseToFine(full);
  for (let k = 0; k < 5; k++) rowsClose(scales[k]!.toArray(), teacher[k].contiguous().toArray(), 2e-5, `f${k}`);
  // without feeding, only f4 (predicted from [IMG]) can agree with the teacher-forced pass
  const free = m.generateImage([5, 6, 7], { upToScale: 0 });
  rowsClose(free[4]!.toArray(), teacher[4].contiguous().toArray(), 2e-5, 'free f4');
  // feeding only f4..f1 (the first 85 slots): those scales and f0's first slot are teacher-forced, the rest of f0 free
  const part = m.generateImage([5, 6, 7], { upToScale: 0, feed: splitCoarseToFine(f.unsqueeze(0)), feedSlots: SCALE_OFFSETS[0] });
  for (let k = 1; k < 5; k++) rowsClose(part[k]!.toArray(), teacher[k].contiguous().toArray(), 2e-5, `part f${k}`);
  const t0 = teacher[0].contiguous().toArray(), p0 = part[0]!.toArray();
  rowsClose(p0.subarray(0, C), t0.subarray(0, C), 2e-5, 'part f0 slot 0');
  assert.ok(p0.subarray(C).some((v, i) => Math.abs(v - t0[C + i]) > 1e-3), 'the rest of f0 runs free');
  assert.throws(() => m.generateImage([5], { feedSlots: 3 }), /feedSlots needs feed/);
  assert.throws(() => m.generateImage([5], { feed: splitCoarseToFine(f.unsqueeze(0)), feedSlots: 1.5 }), /feedSlots needs feed and an integer/);
});

test('fed features are read in place of the features; the targets stay the features', () => {
  const m = tinyModel(6);
  const f = features(31), g = features(32);
  const withFed: MllmPart[] = t2i([5, 6, 7], f).map((p) => (p.kind === 'image' ? { ...p, fed: g } : p));
  const out = T.noGrad(() => m.featurePredictions(m.forwardTeacher([withFed]))!);
  rowsClose(out.target.toArray(), f.unsqueeze(0).contiguous().toArray(), 0, 'target');
  // the same as generation fed g slot after slot
  const fedGen = m.generateImage([5, 6, 7], { upToScale: 0, feed: splitCoarseToFine(g.unsqueeze(0)) });
  const pred = splitCoarseToFine(out.pred);
  for (let k = 0; k < 5; k++) rowsClose(fedGen[k]!.toArray(), pred[k].contiguous().toArray(), 2e-5, `f${k}`);
  const bad: MllmPart[] = t2i([5], f).map((p) => (p.kind === 'image' ? { ...p, fed: g.narrow(0, 0, 5) } : p));
  assert.throws(() => layoutSequence(bad), /fed features must be shaped/);
});

/** An editing sequence: `<s> [IMG] input [/IMG] instruction [IMG] target [/IMG] </s>`. */
const edit = (input: T.Tensor, instruction: number[], target: T.Tensor): MllmPart[] => [
  tokens([TOK.bos, TOK.imgStart]), { kind: 'image', features: input, role: 'input' }, tokens([TOK.imgEnd, ...instruction, TOK.imgStart]),
  { kind: 'image', features: target, role: 'target' }, tokens([TOK.imgEnd, TOK.eos], true),
];

test('slot embedding: an input slot i carries row i, the position writing target slot i row i, nothing else', () => {
  const plain = tinyModel(8), slots = tinyModel(8, true);
  slots.loadStateDict(plain.stateDict());
  slots.slot_embedding!.weight.data.set(T.randn([IMAGE_SLOTS, 32], { generator: new T.Generator(3) }).toArray());
  const table = slots.slot_embedding!.weight.toArray();
  const parts = edit(features(41), [7, 8], features(42)), l = layoutSequence(parts);
  const a = T.noGrad(() => plain.embedSequences([l]).toArray()), b = T.noGrad(() => slots.embedSequences([l]).toArray());
  const [input, target] = l.images;
  for (let pos = 0; pos < l.length; pos++) {
    let row = -1;
    if (pos >= input.start && pos < input.start + IMAGE_SLOTS) row = pos - input.start;
    if (pos >= target.start - 1 && pos < target.start + IMAGE_SLOTS - 1) row = pos - target.start + 1;
    for (let c = 0; c < 32; c++) {
      const want = row < 0 ? 0 : table[row * 32 + c];
      assert.ok(Math.abs(b[pos * 32 + c] - a[pos * 32 + c] - want) < 1e-5, `position ${pos} channel ${c}: expected slot row ${row}`);
    }
  }
});

test('slot embedding: teacher-forced regression equals generation with the KV cache; loads weights saved without it', () => {
  const m = tinyModel(9, true);
  m.slot_embedding!.weight.data.set(T.randn([IMAGE_SLOTS, 32], { generator: new T.Generator(4) }).mul(0.5).toArray());
  const input = features(43), f = features(44);
  const prefix = edit(input, [7, 8], f).slice(0, 3);
  const full = T.noGrad(() => m.featurePredictions(m.forwardTeacher([edit(input, [7, 8], f)]))!.pred);
  const scales = m.generateImage(prefix, { upToScale: 0, feed: splitCoarseToFine(f.unsqueeze(0)) });
  const teacher = splitCoarseToFine(full);
  for (let k = 0; k < 5; k++) rowsClose(scales[k]!.toArray(), teacher[k].contiguous().toArray(), 1e-4, `f${k}`);
  // weights of a model without the table: loaded, the table zero, the same outputs as that model
  const old = tinyModel(10), grown = tinyModel(11, true);
  grown.slot_embedding!.weight.data.fill(1);
  grown.loadStateDict(old.stateDict());
  assert.ok(grown.slot_embedding!.weight.toArray().every((v) => v === 0));
  const want = old.generateImage(prefix, { upToScale: 2 }), got = grown.generateImage(prefix, { upToScale: 2 });
  for (let k = 2; k < 5; k++) rowsClose(got[k]!.toArray(), want[k]!.toArray(), 1e-6, `grown f${k}`);
  // other missing keys still fail a strict load; a table the model lacks is unexpected
  const partial = new Map(old.stateDict());
  partial.delete('regression_head.bias');
  assert.throws(() => grown.loadStateDict(partial), /missing:\n  regression_head\.bias$/);
  assert.throws(() => old.loadStateDict(m.stateDict()), /unexpected:\n  slot_embedding\.weight/);
});

test('input residual: a target after an input image is the input plus the head, in training and in generation', () => {
  const plain = tinyModel(12), res = tinyModel(12, false, true);
  const input = features(51), f = features(52), parts = edit(input, [7], f);
  const a = T.noGrad(() => plain.featurePredictions(plain.forwardTeacher([parts]))!.pred.toArray());
  const b = T.noGrad(() => res.featurePredictions(res.forwardTeacher([parts]))!.pred.toArray());
  const x = input.toArray();
  b.forEach((v, i) => assert.ok(Math.abs(v - a[i] - x[i]) < 1e-5, `slot value ${i}`));
  // text-to-image has no input image: no residual
  const t = t2i([5], f);
  rowsClose(T.noGrad(() => res.featurePredictions(res.forwardTeacher([t]))!.pred.toArray()),
    T.noGrad(() => plain.featurePredictions(plain.forwardTeacher([t]))!.pred.toArray()), 1e-6, 't2i');
  // teacher-forced = generation fed the same features (to ~1e-3: the 690-position sequence accumulates float32 rounding
  // differently with and without the cache, the plain model as much); with the head at zero generation copies the input
  const prefix = parts.slice(0, 3);
  const fed = res.generateImage(prefix, { feed: splitCoarseToFine(f.unsqueeze(0)) }), teacher = splitCoarseToFine(T.fromArray(b, [1, IMAGE_SLOTS, C]));
  for (let k = 0; k < 5; k++) rowsClose(fed[k]!.toArray(), teacher[k].contiguous().toArray(), 1e-3, `fed f${k}`);
  for (const p of res.regression_head.parameters()) p.data.fill(0);
  const copy = res.generateImage(prefix), want = splitCoarseToFine(input.unsqueeze(0));
  for (let k = 0; k < 5; k++) rowsClose(copy[k]!.toArray(), want[k].contiguous().toArray(), 0, `copy f${k}`);
});

test('residualSkipsEdgeMaps: an edge-map input is no residual base (only with the flag); other inputs still are', () => {
  const plain = tinyModel(13), res = tinyModel(13, false, true);
  const skips = (() => { T.manualSeed(13); return new PumaMLLM({ ...tinyConfig(false, true), residualSkipsEdgeMaps: true }); })();
  const input = features(53), f = features(54), parts = edit(input, [7], f);
  const edges = parts.map((p) => (p.kind === 'image' && p.role === 'input' ? { ...p, edgeMap: true } : p));
  const pred = (m: PumaMLLM, ps: typeof parts) => T.noGrad(() => m.featurePredictions(m.forwardTeacher([ps]))!.pred.toArray());
  rowsClose(pred(skips, edges), pred(plain, edges), 1e-6, 'edge map with the flag: no residual');
  rowsClose(pred(res, edges), pred(res, parts), 0, 'edge map without the flag: the residual as before');
  rowsClose(pred(skips, parts), pred(res, parts), 0, 'an image input with the flag: the residual');
  // generation agrees: with the head at zero an edge-map prompt writes zeros, an image prompt copies its input
  for (const p of skips.regression_head.parameters()) p.data.fill(0);
  const zeros = skips.generateImage(edges.slice(0, 3), { upToScale: 2 });
  for (const k of [2, 3, 4]) assert.ok(zeros[k]!.toArray().every((v) => v === 0), `f${k} zero`);
  const copy = skips.generateImage(parts.slice(0, 3), { upToScale: 4 });
  rowsClose(copy[4]!.toArray(), input.narrow(0, 0, 1).toArray(), 0, 'copy f4');
});

test('input map: the base is a learned map of the input, edge maps included; it starts as the identity and loads as one', () => {
  const res = tinyModel(14, false, true);
  const mapped = (() => { T.manualSeed(14); return new PumaMLLM({ ...tinyConfig(false, true), residualSkipsEdgeMaps: true, inputMap: true }); })();
  const input = features(55), f = features(56), parts = edit(input, [7], f);
  const edges = parts.map((p) => (p.kind === 'image' && p.role === 'input' ? { ...p, edgeMap: true } : p));
  const pred = (m: PumaMLLM, ps: typeof parts) => T.noGrad(() => m.featurePredictions(m.forwardTeacher([ps]))!.pred.toArray());
  // weights saved without a map load with the identity: the plain residual, and an edge map is a base too
  mapped.input_map!.weight.data.fill(0.5);
  mapped.loadStateDict(res.stateDict());
  rowsClose(pred(mapped, parts), pred(res, parts), 1e-6, 'identity map = the residual');
  rowsClose(pred(mapped, edges), pred(res, parts), 1e-6, 'an edge map is mapped, not skipped');
  // a map W x + b: with the head at zero generation writes exactly the mapped input
  const W = T.randn([C, C], { generator: new T.Generator(3) }), bias = T.randn([C], { generator: new T.Generator(4) });
  mapped.input_map!.weight.data.set(W.toArray());
  mapped.input_map!.bias!.data.set(bias.toArray());
  for (const p of mapped.regression_head.parameters()) p.data.fill(0);
  const want = T.matmul(input, W.transpose(0, 1)).add(bias);
  rowsClose(pred(mapped, edges), want.toArray(), 1e-5, 'teacher-forced: the mapped input');
  const out = mapped.generateImage(edges.slice(0, 3), { upToScale: 2 }), wantScales = splitCoarseToFine(want.unsqueeze(0));
  for (const k of [2, 3, 4]) rowsClose(out[k]!.toArray(), wantScales[k].contiguous().toArray(), 1e-5, `generated f${k}`);
  // the map trains: its gradient is not zero
  mapped.loss([edges]).loss.backward();
  assert.ok(mapped.input_map!.weight.grad!.toArray().some((v) => v !== 0), 'the map has a gradient');
  // a fresh model starts at the identity; the config keeps the flag
  const fresh = new PumaMLLM(mapped.config);
  rowsClose(fresh.input_map!.weight.toArray(), Float32Array.from({ length: C * C }, (_, i) => (i % (C + 1) === 0 ? 1 : 0)), 0, 'identity at the start');
  assert.ok(fresh.input_map!.bias!.toArray().every((v) => v === 0));
  assert.equal(mllmConfigFromJson(JSON.parse(JSON.stringify(mllmConfigJson(mapped.config)))).inputMap, true);
  assert.throws(() => res.loadStateDict(mapped.stateDict()), /unexpected:\n {2}input_map/);
});

test('generateImage stops after the requested scale', () => {
  const m = tinyModel(5);
  const all = m.generateImage([5, 6]);
  assert.deepEqual(all.map((s) => s?.shape), [[1, 256, C], [1, 64, C], [1, 16, C], [1, 4, C], [1, 1, C]]);
  const coarse = m.generateImage([5, 6], { upToScale: 3 });
  assert.deepEqual(coarse.map((s) => s?.shape ?? null), [null, null, null, [1, 4, C], [1, 1, C]]);
  // a prefix of the same deterministic generation
  rowsClose(coarse[3]!.toArray(), all[3]!.toArray(), 1e-5, 'f3');
  const only = m.generateImage([5, 6], { upToScale: 4 });
  assert.deepEqual(only.map((s) => s !== null), [false, false, false, false, true]);
  assert.throws(() => m.generateImage([5], { upToScale: 5 }), /upToScale/);
});


test('text guidance: 1 is the plain regression, 0 the unconditional one, f4 = f_u + g (f_c - f_u)', () => {
  const m = tinyModel(6);
  const plain = m.generateImage([5, 6, 7], { upToScale: 2 });
  const g1 = m.generateImage([5, 6, 7], { upToScale: 2, guidance: 1 });
  for (const k of [4, 3, 2]) rowsClose(g1[k]!.toArray(), plain[k]!.toArray(), 1e-6, `g=1 f${k}`);
  // guidance 0 follows the unconditional branch alone, fed its own features: `<s> [IMG]` ...
  const uncond = m.generateImage([], { upToScale: 2 });
  const g0 = m.generateImage([5, 6, 7], { upToScale: 2, guidance: 0 });
  for (const k of [4, 3, 2]) rowsClose(g0[k]!.toArray(), uncond[k]!.toArray(), 2e-5, `g=0 f${k}`);
  // f4 is read before any feature is fed back, so it is exactly the guided combination
  const g3 = m.generateImage([5, 6, 7], { upToScale: 4, guidance: 3 })[4]!.toArray();
  const c = plain[4]!.toArray(), u = uncond[4]!.toArray();
  rowsClose(g3, c.map((v, i) => u[i] + 3 * (v - u[i])), 2e-5, 'g=3 f4');
  // and a guided f3 differs from the plain one (the fed-back f4 differs)
  const g3all = m.generateImage([5, 6, 7], { upToScale: 3, guidance: 3 });
  assert.ok(g3all[3]!.sub(plain[3]!).abs().max().item() > 1e-4);
  assert.throws(() => m.generateImage([5], { guidance: -1 }), /guidance/);
});
test('top-p sampling keeps the nucleus; greedy takes the argmax', () => {
  const logits = Float32Array.from([0, 5, 1, 4.9, -2]);
  assert.equal(pickToken(logits, { greedy: true }), 1);
  const g = new T.Generator(7);
  const seen = new Set(Array.from({ length: 200 }, () => pickToken(logits, { topP: 0.9, generator: g })));
  assert.deepEqual([...seen].sort(), [1, 3]);
  assert.equal(pickToken(logits, { topP: 1e-6, generator: g }), 1);
});

test('config round-trips through its JSON', () => {
  const c = tinyConfig();
  const back = mllmConfigFromJson(JSON.parse(JSON.stringify(mllmConfigJson(c))));
  assert.deepEqual(back.tokens, c.tokens);
  assert.equal(back.llm.numKeyValueHeads, 2);
  assert.equal(back.featureDim, C);
  assert.ok(!back.slotEmbedding && !back.inputResidual);
  assert.equal(mllmConfigFromJson(JSON.parse(JSON.stringify(mllmConfigJson(tinyConfig(false, true))))).inputResidual, true);
  const skips = mllmConfigFromJson(JSON.parse(JSON.stringify(mllmConfigJson({ ...tinyConfig(false, true), residualSkipsEdgeMaps: true }))));
  assert.equal(skips.residualSkipsEdgeMaps, true);
  assert.equal(back.residualSkipsEdgeMaps, undefined);
  assert.equal(mllmConfigFromJson(JSON.parse(JSON.stringify(mllmConfigJson(tinyConfig(true))))).slotEmbedding, true);
});

test('a tiny model overfits one text-to-image and one image-to-text sample', () => {
  const m = tinyModel(6);
  const f1 = features(31).mul(2).keep(), f2 = features(32);
  const batch = [t2i([5, 6], f1), i2t(f2, [7, 8, 9])];
  const opt = new AdamW(m.parameters(), { lr: 3e-3, weightDecay: 0 });
  const losses: number[] = [], ces: number[] = [];
  for (let i = 0; i < 100; i++) {
    T.tidy(() => {
      opt.zeroGrad();
      const l = m.loss(batch);
      l.loss.backward();
      opt.step();
      losses.push(l.loss.item());
      ces.push(l.ce);
    });
  }
  // the head starts at a constant output: 341 random vectors take a few steps to fit
  assert.ok(losses[29] < 0.2 * losses[0], `loss ${losses[0].toFixed(1)} -> ${losses[29].toFixed(1)} in 30 steps`);
  assert.ok(losses[99] < 0.05 * losses[0], `loss ${losses[0].toFixed(1)} -> ${losses[99].toFixed(1)} in 100 steps`);
  // the text term weighs 0.02, so the caption needs more steps than the features
  assert.ok(ces[99] < 0.25 * ces[0], `ce ${ces[0].toFixed(2)} -> ${ces[99].toFixed(2)}`);
  const prefix = i2t(f2, []).slice(0, 3);
  const text = m.generateText(prefix, { greedy: true, maxTokens: 6 });
  assert.deepEqual(text, [7, 8, 9]);
});

test('setFeatureMean starts the regression at the given mean', () => {
  const m = tinyModel(8);
  const mean = Float32Array.from({ length: C }, (_, c) => 5 - c);
  m.setFeatureMean(mean);
  const [f0] = m.generateImage([5, 6], { upToScale: 0 });
  const avg = f0!.mean(1).toArray();
  for (let c = 0; c < C; c++) assert.ok(Math.abs(avg[c] - mean[c]) < 0.3, `channel ${c}: ${avg[c]} vs ${mean[c]}`);
  assert.throws(() => m.setFeatureMean([1, 2]), /channels/);
});
