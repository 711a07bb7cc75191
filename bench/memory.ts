// `npm run bench:memory`: resident memory over a long training loop. Runs AdamW steps of a
// small GPT and samples RSS and the pool's counters; writes bench/results/memory.json.
//   --steps N (default 3000)
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryStats } from '../src/tensor/index.js';
import { gpt } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const i = process.argv.indexOf('--steps');
const steps = i >= 0 ? Number(process.argv[i + 1]) : 3000;
const step = gpt({ vocab: 128, dim: 64, layers: 2, heads: 4, seq: 64, batch: 4 });
const samples: { step: number; rssMB: number; heapMB: number; poolLiveMB: number; poolCachedMB: number; liveTensors: number }[] = [];
const MB = 2 ** 20;
const t0 = performance.now();
for (let s = 1; s <= steps; s++) {
  step();
  if (s % Math.max(1, Math.floor(steps / 30)) === 0 || s === 1) {
    const m = process.memoryUsage(), p = memoryStats();
    samples.push({ step: s, rssMB: +(m.rss / MB).toFixed(1), heapMB: +(m.heapUsed / MB).toFixed(1), poolLiveMB: +(p.liveBytes / MB).toFixed(2), poolCachedMB: +(p.cachedBytes / MB).toFixed(2), liveTensors: p.liveTensors });
    process.stderr.write(`\rstep ${s}/${steps} rss ${samples[samples.length - 1].rssMB} MB`);
  }
}
process.stderr.write('\n');
const after = samples.filter((x) => x.step >= steps / 10);
const rss = after.map((x) => x.rssMB);
const summary = {
  steps, seconds: +((performance.now() - t0) / 1000).toFixed(1),
  rssMB_min: Math.min(...rss), rssMB_max: Math.max(...rss),
  rssMB_first: rss[0], rssMB_last: rss[rss.length - 1],
  poolHitRate: +(memoryStats().hits / (memoryStats().hits + memoryStats().misses)).toFixed(4),
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'memory.json'), `${JSON.stringify({ summary, samples }, null, 2)}\n`);
console.log(JSON.stringify(summary));
