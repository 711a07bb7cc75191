import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatNeighbours, nearestKnown, neighbourText, parseNeighbours, readWinkVectors } from '../../src/data/neighbours.js';

/** A wink-embeddings-shaped JSON: each vector followed by its norm and index, as the package stores them. */
function winkJson(vectors: Record<string, number[]>, order = Object.keys(vectors)): string {
  const dim = Object.values(vectors)[0].length;
  const withNorm = Object.fromEntries(Object.entries(vectors).map(([w, v], i) => [w, [...v, Math.hypot(...v), i]]));
  return JSON.stringify({ precision: 8, dimensions: dim, size: order.length, words: order, vectors: withNorm, unkVector: new Array(dim).fill(0) });
}

test('nearestKnown: each unseen word gets the known word of highest cosine, above the threshold only', () => {
  let s = 7;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const words = Array.from({ length: 300 }, (_, i) => `w${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`);
  const dim = 8, data = Float32Array.from({ length: words.length * dim }, rand);
  const known = new Set(words.filter((_, i) => i % 3 === 0));
  const got = nearestKnown({ words, dim, data }, known, -1);
  const row = (i: number) => data.subarray(i * dim, (i + 1) * dim);
  const cos = (a: Float32Array, b: Float32Array) => a.reduce((acc, v, k) => acc + v * b[k], 0) / Math.hypot(...a) / Math.hypot(...b);
  assert.equal(got.size, words.length - known.size, 'every unseen word, none of the known ones');
  words.forEach((w, i) => {
    if (known.has(w)) return;
    let best = -1, bestCos = -Infinity;
    words.forEach((k, j) => { if (known.has(k) && cos(row(i), row(j)) > bestCos) [best, bestCos] = [j, cos(row(i), row(j))]; });
    assert.equal(got.get(w)!.word, words[best], w);
    assert.ok(Math.abs(got.get(w)!.cos - bestCos) < 1e-5, w);
  });
  const strict = nearestKnown({ words, dim, data }, known, 0.8);
  assert.ok(strict.size > 0 && strict.size < got.size);
  for (const n of strict.values()) assert.ok(n.cos >= 0.8);
  assert.equal(nearestKnown({ words, dim, data }, new Set(), -1).size, 0, 'nothing to choose from');
});

test('word vectors are read from wink JSON, plain lower-case words only, most frequent first; the table round-trips', () => {
  const dir = mkdtempSync(join(tmpdir(), 'puma-nb-'));
  const path = join(dir, 'v.json');
  writeFileSync(path, winkJson({ mango: [1, 0.1, 0], pineapple: [0.9, 0.2, 0], ',': [0, 0, 1], Peru: [0, 1, 0], peru: [0.1, 1, 0], ecuador: [0, 1, 0.1], car: [0, 0, 1] }));
  const v = readWinkVectors(path);
  assert.deepEqual(v.words, ['mango', 'pineapple', 'peru', 'ecuador', 'car']);
  assert.deepEqual(Array.from(v.data.subarray(3, 6)), [0.9, 0.2, 0].map(Math.fround), 'the norm and index are not part of the vector');
  assert.deepEqual(readWinkVectors(path, 2).words, ['mango', 'pineapple']);
  const table = nearestKnown(v, new Set(['mango', 'ecuador', 'car', 'face']), 0.5);
  assert.deepEqual([...table.keys()].sort(), ['peru', 'pineapple']);
  assert.equal(table.get('pineapple')!.word, 'mango');
  const back = parseNeighbours(formatNeighbours(table, 'a test table'));
  assert.equal(back.source, 'a test table');
  assert.deepEqual([...back].map(([w, n]) => [w, n.word]), [['peru', 'ecuador'], ['pineapple', 'mango']]);
  assert.equal(formatNeighbours(back), formatNeighbours(table, 'a test table'), 'the source travels with the table');
  assert.throws(() => parseNeighbours('peru\tecuador\n', 'x.tsv'), /x\.tsv:1: expected/);
  writeFileSync(path, '{"words": []}');
  assert.throws(() => readWinkVectors(path), /not wink-embeddings JSON/);
  assert.throws(() => readWinkVectors(join(dir, 'missing.json')), /cannot read word vectors from .*missing\.json/);
  rmSync(dir, { recursive: true, force: true });
});

test('neighbourText replaces whole unseen words, in any case, and leaves the rest as written', () => {
  const table = new Map([['pineapple', { word: 'mango', cos: 0.83 }], ['peru', { word: 'ecuador', cos: 0.85 }], ['flag', { word: 'banner', cos: 0.7 }]]);
  const unseen = (w: string) => w !== 'flag';
  assert.equal(neighbourText('flag: Peru', table, unseen), 'flag: ecuador');
  assert.equal(neighbourText('PINEAPPLE, pineapples and a pineapple', table, unseen), 'mango, pineapples and a mango');
  assert.equal(neighbourText('grinning face', table, unseen), 'grinning face');
});
