import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCheckpoint } from '../../src/io/checkpoint.js';
import { llamaConfig } from '../../src/io/config.js';
import { KVCache, LlamaForCausalLM, llamaInvFreq } from '../../src/models/llama/model.js';
import { fromArray, noGrad, Tensor } from '../../src/tensor/index.js';
import { assertClose, fixtureConfig, fixtureIO, weightsPath } from './golden.js';

// Tolerance: float32 throughout on both sides; differences are summation order only.
const ATOL = 2e-4, RTOL = 2e-4;
const io = fixtureIO('llama');
const config = llamaConfig(fixtureConfig('llama'));
const model = new LlamaForCausalLM(config).eval();
loadCheckpoint(model, weightsPath('llama'));

test('config: llama3 rope scaling, GQA and head dim come from config.json', () => {
  assert.equal(config.numKeyValueHeads, 2);
  assert.equal(config.headDim, 8);
  assert.equal(config.ropeScaling?.ropeType, 'llama3');
  assert.ok(Object.isFrozen(config));
  assertClose(fromArray(llamaInvFreq(config)), io.get('inv_freq')!, 'inv_freq', 0, 1e-6);
});

test('logits and final hidden states match the PyTorch reference (with a padding mask)', () => {
  noGrad(() => {
    const out = model.forward({ inputIds: io.get('input_ids')!, attentionMask: io.get('attention_mask')! });
    const err = assertClose(out.logits!, io.get('logits')!, 'logits', ATOL, RTOL);
    assertClose(out.hiddenStates, io.get('hidden_states')!, 'hidden', ATOL, RTOL);
    console.log(`llama logits max abs err ${err.toExponential(2)}`);
  });
});

test('inputsEmbeds gives the same result as inputIds', () => {
  noGrad(() => {
    const ids = io.get('input_ids')!.narrow(0, 0, 1);
    const a = model.forward({ inputIds: ids }).logits!;
    const b = model.forward({ inputsEmbeds: model.embed(ids) }).logits!;
    assertClose(b, a, 'inputsEmbeds', 1e-6, 0);
    assert.throws(() => model.forward({}), /exactly one/);
  });
});

test('KV-cache greedy decode reproduces the reference tokens and logits step by step', () => {
  noGrad(() => {
    const want = Array.from(io.get('decode_tokens')!.toArray());
    const refLogits = io.get('decode_logits')!;
    const cache = new KVCache(config.numHiddenLayers);
    const seq = want.slice(0, 5);
    let next: Tensor = fromArray(new Int32Array(seq), [1, 5], 'int32');
    for (let step = 0; step < 4; step++) {
      const { logits } = model.forward({ inputIds: next, cache, logits: 'last' });
      assert.equal(cache.length, seq.length);
      assertClose(logits!.reshape([config.vocabSize]), refLogits.narrow(0, step, 1).reshape([config.vocabSize]), `decode step ${step}`, ATOL, RTOL);
      const tok = logits!.reshape([config.vocabSize]).argmax().item();
      seq.push(tok);
      next = fromArray(new Int32Array([tok]), [1, 1], 'int32');
    }
    assert.deepEqual(seq, want);
    cache.dispose();
  });
});

test('tied embeddings have no lm_head key and reuse embed_tokens', () => {
  const tied = new LlamaForCausalLM(llamaConfig({ ...fixtureConfig('llama'), tie_word_embeddings: true }));
  const keys = [...tied.stateDict().keys()];
  assert.ok(!keys.includes('lm_head.weight'));
  assert.equal(tied.numParameters(), model.numParameters() - config.vocabSize * config.hiddenSize);
  noGrad(() => {
    const ids = fromArray(new Int32Array([1, 2, 3]), [1, 3], 'int32');
    const { logits, hiddenStates } = tied.forward({ inputIds: ids });
    assertClose(logits!, hiddenStates.matmul(tied.model.embed_tokens.weight.transpose(0, 1)), 'tied', 1e-6, 0);
  });
});

test('gradients reach every parameter through a training step', () => {
  const ids = fromArray(new Int32Array([1, 7, 33, 12]), [1, 4], 'int32');
  const { logits } = model.forward({ inputIds: ids });
  logits!.square().mean().backward();
  for (const [k, p] of model.namedParameters()) {
    assert.ok(p.grad, `${k} has a gradient`);
  }
  model.zeroGrad();
});
