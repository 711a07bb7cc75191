import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { decodeImage } from '../../src/io/image.js';

// Runs the CLI from source (not dist/, which may be stale) the way a user would.
const puma = (...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/run.ts', ...args], { encoding: 'utf8' });
  return { code: r.status, out: r.stdout, err: r.stderr };
};
const dir = mkdtempSync(join(tmpdir(), 'puma-cli-'));
const data = join(dir, 'emoji');

test('puma data build / stats / show, and tokenizer train / info', async () => {
  const build = puma('data', 'build', '--out', data, '--limit', '12');
  assert.equal(build.code, 0, build.err);
  assert.match(build.out, /wrote 24 images of 12 concepts/);
  assert.match(build.out, /CC-BY 4\.0/);

  const stats = puma('data', 'stats', '--data', data, '--json');
  assert.equal(stats.code, 0, stats.err);
  const s = JSON.parse(stats.out);
  assert.equal(s.images, 24);
  assert.equal(s.splits.train.images + s.splits.val.images + s.splits.test.images, 24);
  assert.equal(s.tasks.edit.train, s.editKinds.train.style);

  const out = join(dir, 'grid.png');
  const show = puma('data', 'show', '--task', 'edit', '--n', '3', '--data', data, '--out', out);
  assert.equal(show.code, 0, show.err);
  const grid = await decodeImage(readFileSync(out));
  assert.ok(grid.width >= 2 * 128 && grid.height > 3 * 128, `${grid.width}x${grid.height}`);

  const tokFile = join(dir, 'tok.json');
  const train = puma('tokenizer', 'train', '--data', data, '--vocab', '600', '--out', tokFile);
  assert.equal(train.code, 0, train.err);
  assert.match(train.out, /600 tokens/);
  const info = puma('tokenizer', 'info', '--tokenizer', tokFile);
  assert.match(info.out, /imgStart\s+\d+\t\[IMG\]/);

  // nearest known words: 'visage' lies by 'face' (a word of the first emoji's training labels), 'qqq' by none
  const vec = (v: number[]) => [...v, Math.hypot(...v), 0];
  const vectors = { face: vec([1, 0, 0]), visage: vec([0.95, 0.1, 0]), qqq: vec([0, 0, 1]), grin: vec([0, 1, 0.1]) };
  writeFileSync(join(dir, 'vectors.json'), JSON.stringify({ dimensions: 3, words: Object.keys(vectors), vectors }));
  const nb = puma('data', 'neighbours', join(dir, 'vectors.json'), '--data', data, '--out', join(dir, 'nb.tsv'));
  assert.equal(nb.code, 0, nb.err);
  assert.match(nb.out, /wrote \d+ neighbours to /);
  const rows = readFileSync(join(dir, 'nb.tsv'), 'utf8').split('\n');
  assert.match(rows[0], /^# nearest training label\/tag word .*\(vectors\.json\)/);
  assert.ok(rows.some((r) => /^visage\tface\t0\.99\d$/.test(r)), rows.join('|'));
  assert.ok(!rows.some((r) => r.startsWith('qqq\t') || r.startsWith('face\t')), 'far words and known words have no row');
});

test('user errors print one line and exit 1', () => {
  const cases: [string[], RegExp][] = [
    [['data', 'stats', '--data', join(dir, 'missing')], /^puma: no emoji dataset at .*missing/],
    [['data', 'show', '--task', 'juggle', '--out', 'x.png', '--data', data], /^puma: unknown task 'juggle'/],
    [['data', 'build', '--limit', '-3', '--out', join(dir, 'x')], /^puma: --limit must be a positive integer/],
    [['tokenizer', 'info', '--tokenizer', join(dir, 'none.json')], /^puma: tokenizer file not found/],
    [['data', 'neighbours', join(dir, 'none.json'), '--data', data, '--out', join(dir, 'x.tsv')], /^puma: cannot read word vectors from .*none\.json/],
    [['data', 'neighbours', join(dir, 'none.json'), '--min-cos', '2', '--data', data], /^puma: --min-cos must be a cosine in \[-1, 1\]/],
  ];
  for (const [args, re] of cases) {
    const r = puma(...args);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.err, re);
    assert.equal(r.err.trim().split('\n').length, 1, r.err);
  }
});
