import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { isInitPending } from '../../src/nn/module.js';
import { loadPuma, SHIPPED_MODEL } from '../../src/pipelines/bundle.js';
import { defaultGenerator, manualSeed } from '../../src/tensor/index.js';

// puma used as a dependency: another folder with node_modules/puma -> this checkout, importing
// 'puma' by name. The condition 'puma-source' (package.json "exports") points the same names at
// src/, so the test runs the sources rather than a dist/ that may be stale; without it Node takes
// dist/, which `npm ci` builds.
const root = resolve('.');
const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { main: string; types: string; exports: Record<string, string | Record<string, string>> };

test('package.json: every entry point is a built source file', () => {
  const built = (p: string) => p.replace(/^\.\//, '').replace(/^dist\//, 'src/').replace(/\.d\.ts$|\.js$/, '.ts');
  const targets = [pkg.main, pkg.types];
  for (const [name, target] of Object.entries(pkg.exports)) {
    if (name.includes('*') || name === './package.json') continue;
    assert.equal(typeof target, 'object', name);
    const t = target as Record<string, string>;
    assert.equal(t['puma-source'], `./${built(t.default)}`, `${name}: the source condition and dist/ name the same module`);
    targets.push(t.types, t.default);
  }
  for (const t of targets) assert.ok(existsSync(built(t)), `${t}: no ${built(t)} to build it from`);
});

const made: string[] = [];
// rmSync removes the node_modules/puma link, not the checkout it points to
after(() => { for (const d of made) rmSync(d, { recursive: true, force: true }); });

/** A folder whose node_modules/puma is this checkout, with `files` written into it. */
function consumer(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'puma-consumer-'));
  made.push(dir);
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(root, join(dir, 'node_modules', 'puma'), 'dir');
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs a script of a consumer folder on the sources (tsx for TypeScript); its stdout. */
function runIn(dir: string, file: string): string {
  const r = spawnSync(process.execPath, ['--conditions=puma-source', '--import', import.meta.resolve('tsx'), file], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, `${file}: ${r.stderr}`);
  return r.stdout;
}

test('import from "puma" in another folder: load the shipped model, generate, write and read a PNG, ask', () => {
  const dir = consumer({ 'use.mjs': `
import { loadPuma, generate, ask, readImage, writeImage, tensorToImages, SHIPPED_MODEL, tensor } from 'puma';
import { matmul } from 'puma/tensor';
const puma = loadPuma();
const r = generate(puma, 'grinning face', { scales: [4], seeds: [0], steps: 2 });
await writeImage(tensorToImages(r.rows[0].images.get(4))[0], 'f4.png');
const img = await readImage('f4.png');
const a = ask(puma, img, 'Which drawing style is this emoji in?', { maxTokens: 8 });
const m = matmul(tensor.ones([2, 3]), tensor.ones([3, 4])).toArray();
console.log(JSON.stringify({ model: SHIPPED_MODEL, size: [img.width, img.height], answer: a.answer, stage: a.stage, m: Array.from(m) }));
` });
  const out = JSON.parse(runIn(dir, 'use.mjs').trim().split('\n').at(-1)!) as { model: string; size: number[]; answer: string; stage: string; m: number[] };
  assert.equal(out.model, SHIPPED_MODEL);
  assert.ok(existsSync(join(out.model, 'clip', 'model.safetensors')), out.model);
  assert.deepEqual(out.size, [64, 64]);
  assert.equal(out.stage, 'understand');
  assert.ok(out.answer.length > 0, 'the understanding MLLM wrote an answer');
  assert.deepEqual(out.m, Array(8).fill(3));
});

test("README's code examples run as written", () => {
  const readme = readFileSync('README.md', 'utf8');
  const snippet = (section: string) => {
    const m = readme.split(`## ${section}\n`)[1]?.match(/```ts\n([\s\S]*?)```/);
    assert.ok(m, `README has a ts block under '## ${section}'`);
    return m[1];
  };
  const dir = consumer({
    'library.ts': snippet('puma from code'),
    'engine.ts': `${snippet('The tensor engine')}\nconsole.log(JSON.stringify([loss.item(), Array.from(w.grad!.toArray())]));\n`,
  });
  runIn(dir, 'library.ts');
  assert.ok(existsSync(join(dir, 'f4.png')), 'the library example wrote f4.png');
  const [loss, grad] = JSON.parse(runIn(dir, 'engine.ts').trim().split('\n').at(-1)!) as [number, number[]];
  assert.ok(loss > 0 && Number.isFinite(loss), `loss ${loss}`);
  assert.equal(grad.length, 16 * 8);
  assert.ok(grad.some((g) => g !== 0), 'the gradient reached w');
});

test('the CLI finds the shipped model from any folder', () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-elsewhere-'));
  made.push(dir);
  const r = spawnSync(process.execPath, [join(root, 'bin', 'puma.js'), 'generate', 'grinning face', '--scales', '4', '--steps', '2', '--out', 'out'], { cwd: dir, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const settings = JSON.parse(readFileSync(join(dir, 'out', 'settings.json'), 'utf8')) as { model: string };
  assert.equal(settings.model, SHIPPED_MODEL);
});

test('loadPuma reads every weight of the bundle and draws no random numbers for them', () => {
  manualSeed(11);
  const puma = loadPuma();
  const drawn = defaultGenerator.uniform();
  manualSeed(11);
  assert.equal(drawn, defaultGenerator.uniform(), 'nothing was initialised at random only to be overwritten');
  const modules = [puma.clip, puma.vae, ...puma.decoders.filter((d) => d !== null), ...Object.values(puma.mllms)];
  assert.ok(modules.length >= 8, `${modules.length} modules`);
  for (const m of modules) assert.ok(!m!.parameters().some(isInitPending), m!.constructor.name);
});
