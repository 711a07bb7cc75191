import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wordnet } from '../../src/data/definitions.js';
import { modelPrompt, unseenNote } from '../../src/pipelines/generate.js';
import type { PumaMLLM } from '../../src/models/puma/mllm.js';
import type { PumaModel } from '../../src/pipelines/model.js';

test('WordNet definitions: the commonest sense, not a proper name; base forms; compounds', () => {
  const d = wordnet();
  assert.match(d.define('pineapple')!, /fruit/);
  // "Badger" (a Wisconsinite) is listed first; the animal is the common-noun sense
  assert.match(d.define('badger')!, /mammal/);
  assert.doesNotMatch(d.define('badger')!, /wisconsin/);
  // plural -> singular, as WordNet's morphy detaches endings
  assert.equal(d.define('fingers'), d.define('finger'));
  assert.match(d.define('fingers')!, /hand/);
  assert.equal(d.define('qwzxv'), null);
  // definitions are lower-case words only, at most 14, the examples and parentheses dropped
  for (const w of ['face', 'cloud', 'grinning', 'octopus']) {
    const def = d.define(w)!;
    assert.match(def, /^[a-z]+( [a-z]+)*$/, `${w}: ${def}`);
    assert.ok(def.split(' ').length <= 14, `${w}: ${def}`);
  }
});

test('defineText: content words defined and joined, two-word compounds first, qualifiers after ":" kept', () => {
  const d = wordnet();
  assert.equal(d.defineText('face in clouds'), `${d.define('face')}; ${d.define('clouds')}`);
  // "nail polish" is one WordNet entry, not nail + polish
  assert.equal(d.defineText('nail polish'), d.define('nail_polish'));
  assert.equal(d.defineText('pinched fingers: light skin tone'), `${d.define('pinched')}; ${d.define('fingers')}, light skin tone`);
  // a word WordNet lacks is kept as written; stop words are dropped
  assert.equal(d.defineText('the qwzxv of a cloud'), `qwzxv; ${d.define('cloud')}`);
});

test('modelPrompt: definitions only for an MLLM trained with them, and in auto only for unseen words', () => {
  const model = { trainingWords: new Set(['grinning', 'face', 'fruit']) } as unknown as PumaModel;
  const plain = { config: {} } as unknown as PumaMLLM, defined = { config: { definitions: true } } as unknown as PumaMLLM;
  assert.equal(modelPrompt(model, plain, 'pineapple'), 'pineapple');
  assert.equal(modelPrompt(model, plain, 'pineapple', 'never'), 'pineapple');
  assert.throws(() => modelPrompt(model, plain, 'pineapple', 'always'), /not trained with definitions/);
  assert.equal(modelPrompt(model, defined, 'pineapple'), wordnet().defineText('pineapple'));
  assert.equal(modelPrompt(model, defined, 'grinning face'), 'grinning face', 'known words stay as written');
  assert.equal(modelPrompt(model, defined, 'grinning face', 'always'), wordnet().defineText('grinning face'));
  assert.equal(modelPrompt(model, defined, 'pineapple', 'never'), 'pineapple');
  assert.throws(() => modelPrompt(model, defined, 'pineapple', 'sometimes' as never), /unknown define setting/);
  assert.match(unseenNote(['pineapple'], 'a tropical fruit'), /reads the prompt as its WordNet definitions: "a tropical fruit"/);
});
