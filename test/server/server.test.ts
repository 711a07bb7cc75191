import assert from 'node:assert/strict';
import vm from 'node:vm';
import { test } from 'node:test';
import { QUESTION_PHRASINGS } from '../../src/data/tasks/templates.js';
import { decodeImage, encodeImage } from '../../src/io/image.js';
import { DECODE_DEFAULTS, T2I_DECODE_GUIDANCE } from '../../src/pipelines/decode.js';
import { buildServer } from '../../src/server/app.js';
import { testImage, tinyPuma } from '../pipelines/tiny-puma.js';

const puma = tinyPuma();
const app = buildServer(puma, { modelName: 'tiny' });
const png = async (w = 16, h = 16, seed = 1) => `data:image/png;base64,${(await encodeImage(testImage(w, h, seed), 'png')).toString('base64')}`;
const post = (url: string, payload: unknown) => app.inject({ method: 'POST', url, payload: payload as Record<string, unknown> });
const pngOf = async (dataUrl: string) => decodeImage(Buffer.from(dataUrl.replace(/^data:image\/png;base64,/, ''), 'base64'));
const fast = { steps: 1, guidance: 1 };

test('the page and /api/info describe the loaded model', async () => {
  const page = await app.inject({ url: '/' });
  assert.equal(page.statusCode, 200);
  assert.match(String(page.headers['content-type']), /text\/html/);
  assert.match(page.body, /<title>PUMA<\/title>/);
  for (const task of ['generate', 'reconstruct', 'edit', 'inpaint', 'colorize', 'canny2img', 'ask', 'ground']) assert.match(page.body, new RegExp(`\\b${task}:`), task);
  // edit, inpaint and colorize have a "keep the input" box, on by default as in the API
  assert.match(page.body, /fields: \['image', 'instruction', 'keepInput', 'strength'\]/);
  assert.match(page.body, /<input id="strength" type="number" min="0" max="10" step="0.5" value="1"/);
  assert.match(page.body, /<input id="keepInput" type="checkbox" checked>/);
  // the page's script parses (a syntax error would leave every tab dead), and counts the seconds of a run
  const script = /<script>([\s\S]*)<\/script>/.exec(page.body)?.[1];
  assert.ok(script, 'the page has a script');
  assert.doesNotThrow(() => new vm.Script(script));
  assert.match(script, /setInterval\(tick, 1000\)/);
  // the question box suggests the trained phrasings
  for (const q of QUESTION_PHRASINGS) assert.ok(page.body.includes(`<option value="${q}">`), q);
  const info = (await app.inject({ url: '/api/info' })).json();
  assert.equal(info.model, 'tiny');
  assert.deepEqual(info.mllms, ['pretrain']);
  assert.deepEqual(info.scales, [0, 1, 2, 3, 4]);
  // text-to-image decodes at its own guidance; the page offers it on the generate tab
  assert.deepEqual([info.defaults.generateGuidance, info.defaults.guidance], [T2I_DECODE_GUIDANCE, DECODE_DEFAULTS.guidance]);
  assert.deepEqual([info.defaults.imageScales, info.defaults.inpaintScales], [[0], [4]]);
  assert.match(page.body, /scales: 'inpaintScales'/);
  assert.match(page.body, /info\.defaults\[e\.target\.checked \? 'inpaintScales' : 'imageScales'\]/);
  assert.match(page.body, /info\.defaults\.generateGuidance/);
});

test('generate returns one PNG per seed and scale, decoded as the pipeline does', async () => {
  const r = await post('/api/generate', { prompt: 'grinning face', scales: [4, 0], seeds: [0, 3], ...fast });
  assert.equal(r.statusCode, 200, r.body);
  const body = r.json();
  assert.equal(body.mllm, 'pretrain');
  assert.deepEqual(body.images.map((i: { seed: number; scale: number }) => [i.seed, i.scale]), [[0, 4], [0, 0], [3, 4], [3, 0]]);
  const img = await pngOf(body.images[0].png);
  assert.deepEqual([img.width, img.height], [8, 8], 'the tiny model draws 8x8');
  // the same request twice gives the same pixels (seeded); another seed other pixels
  const again = (await post('/api/generate', { prompt: 'grinning face', scales: [4, 0], seeds: [0, 3], ...fast })).json();
  assert.equal(again.images[1].png, body.images[1].png);
  assert.notEqual(body.images[1].png, body.images[3].png);
  const best = (await post('/api/generate', { prompt: 'grinning face', scales: [4, 0], seeds: [0, 3], best: true, ...fast })).json();
  type Scored = { seed: number; score: number; best: boolean; bestOfAll: boolean };
  assert.deepEqual(best.images.filter((i: Scored) => i.best).map((i: Scored) => i.seed), [0, 3], 'one best per seed');
  assert.ok(best.images.every((i: Scored) => Number.isFinite(i.score)));
  const ofAll = best.images.filter((i: Scored) => i.bestOfAll);
  assert.equal(ofAll.length, 1);
  assert.ok(ofAll[0].best && best.images.every((i: Scored) => i.score <= ofAll[0].score), 'the best of all scores highest');
  assert.equal(body.images[0].bestOfAll, undefined, 'nothing marked without best');
  assert.equal(body.unseenWords, undefined, 'no note when the model does not know its training words');
  // a model that knows its training words names the prompt's others, and the page shows the note
  const knowing = buildServer({ ...puma, trainingWords: new Set(['grinning', 'face']) }, { modelName: 'tiny' });
  const noted = (await knowing.inject({ method: 'POST', url: '/api/generate', payload: { prompt: 'grinning kiwi face', scales: [4], ...fast } })).json();
  assert.deepEqual(noted.unseenWords, ['kiwi']);
  assert.match(noted.unseenNote, /"kiwi"/);
  assert.match((await knowing.inject({ url: '/' })).body, /r\.unseenNote/);
  const canny = (await knowing.inject({ method: 'POST', url: '/api/canny2img', payload: { image: await png(), prompt: 'kiwi', ...fast } })).json();
  assert.deepEqual(canny.unseenWords, ['kiwi']);
  await knowing.close();
});

test('image tasks read data URLs and plain base64 and answer with PNGs', async () => {
  const image = await png();
  const rec = (await post('/api/reconstruct', { image, scales: [2], ...fast })).json();
  assert.deepEqual(rec.images.map((i: { scale: number }) => i.scale), [2]);
  assert.ok(rec.input.startsWith('data:image/png;base64,'));
  const withParams = await post('/api/colorize', { image: image.replace(';base64,', ';name=a.png;base64,'), ...fast });
  assert.equal(withParams.statusCode, 200, withParams.body);
  const plain = await post('/api/edit', { image: image.split(',')[1], instruction: 'Make the skin darker.', ...fast });
  assert.equal(plain.statusCode, 200, plain.body);
  assert.equal(plain.json().text, 'Make the skin darker.');
  assert.deepEqual(plain.json().images.map((i: { scale: number }) => i.scale), [0], 'edit decodes f0 by default');
  const box = (await post('/api/inpaint', { image, box: [0, 0, 8, 8], caption: 'red apple', ...fast })).json();
  assert.match(box.text, /red apple$/);
  assert.equal(box.kept, 'known-pixels');
  assert.deepEqual(box.images.map((i: { scale: number }) => i.scale), [4], 'inpaint with the pixels kept decodes f4 by default');
  const boxRaw = (await post('/api/inpaint', { image, box: [0, 0, 8, 8], keepInput: false, ...fast })).json();
  assert.deepEqual([boxRaw.kept, boxRaw.images.map((i: { scale: number }) => i.scale)], [undefined, [0]], 'and f0 without them');
  const raw = (await post('/api/colorize', { image, keepInput: false, ...fast })).json();
  assert.equal(raw.kept, undefined, 'keepInput: false returns the decodes as they are');
  const mask = await post('/api/inpaint', { image, mask: await png(16, 16, 5), ...fast });
  assert.equal(mask.statusCode, 200, mask.body);
  assert.equal((await post('/api/colorize', { image, ...fast })).statusCode, 200);
  const canny = (await post('/api/canny2img', { image, prompt: 'thumbs up', ...fast })).json();
  assert.match(canny.text, /thumbs up$/);
  const asked = (await post('/api/ask', { image, question: 'What is this?', maxTokens: 3 })).json();
  assert.equal(typeof asked.answer, 'string');
  assert.equal(asked.mllm, 'pretrain');
  const grounded = (await post('/api/ground', { image, phrase: 'cat' })).json();
  assert.ok(grounded.box === null || grounded.box.length === 4);
  const drawn = await pngOf(grounded.drawn);
  assert.deepEqual([drawn.width, drawn.height], [16, 16], 'the box is drawn on the input at its own size');
});

test('bad input is a 4xx with a one-line message, never a crash', async () => {
  const image = await png();
  const cases: [string, unknown, RegExp][] = [
    ['/api/generate', {}, /must have required property 'prompt'/],
    ['/api/generate', { prompt: '' }, /prompt must NOT have fewer than 1 characters/],
    ['/api/generate', { prompt: '   ' }, /the prompt is empty/],
    ['/api/generate', { prompt: 'x', scales: [5] }, /scales\/0 must be <= 4/],
    ['/api/generate', { prompt: 'x', scheduler: 'heun' }, /scheduler must be equal to one of the allowed values/],
    ['/api/generate', { prompt: 'x', define: 'sometimes' }, /define must be equal to one of the allowed values/],
    ['/api/generate', { prompt: 'x', define: 'always' }, /not trained with definitions/],
    ['/api/generate', { prompt: 'x', temperature: 1 }, /must NOT have additional properties/],
    ['/api/edit', { image: 'not base64!', instruction: 'x' }, /image: not base64/],
    ['/api/edit', { image: Buffer.from('hello').toString('base64'), instruction: 'x' }, /image/],
    ['/api/edit', { image: 'data:image/png,abc', instruction: 'x' }, /only base64 data URLs/],
    ['/api/edit', { image, instruction: 'x', strength: -1 }, /strength must be >= 0/],
    ['/api/edit', { image, instruction: 'x', strength: 2, keepInput: false }, /it needs the input kept/],
    ['/api/inpaint', { image }, /exactly one of mask/],
    ['/api/inpaint', { image, box: [0, 0, 0, 4] }, /w and h must be at least 1/],
    ['/api/inpaint', { image, box: [12, 0, 8, 8] }, /extends past/],
    ['/api/ask', { image, question: 'x', topP: 0 }, /topP must be > 0/],
  ];
  for (const [url, payload, message] of cases) {
    const r = await post(url, payload);
    assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${url} ${JSON.stringify(payload).slice(0, 60)}: ${r.statusCode}`);
    assert.match(r.json().error, message, `${url}: ${r.json().error}`);
    assert.ok(!r.json().error.includes('\n'), 'one line');
  }
  const noDecoder = buildServer({ ...puma, decoders: [puma.decoders[0], null, null, null, null] });
  const r = await noDecoder.inject({ method: 'POST', url: '/api/generate', payload: { prompt: 'x', scales: [3] } });
  assert.equal(r.statusCode, 422);
  assert.match(r.json().error, /f3/);
  assert.equal((await app.inject({ url: '/api/nothing' })).statusCode, 404);
  assert.equal((await app.inject({ method: 'GET', url: '/api/generate' })).statusCode, 404);
});
