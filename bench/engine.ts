// `npm run bench:engine`: puma against PyTorch on the same machine, same threads, alternating.
// Writes bench/results/engine.json ([{name, ours_ms, torch_ms, ratio}]) and prints a table.
//   --only <substring>   run matching workloads only
//   --rounds N           alternating rounds per workload (default 5)
//   --no-torch           puma only (torch_ms and ratio null)
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { backend } from '../src/backend/index.js';
import { nativeConfig, nativeGemm } from '../src/backend/native/index.js';
import { REPS, WORKLOADS } from './workloads.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };
const only = opt('--only');
const rounds = Number(opt('--rounds') ?? 5);
const useTorch = !args.includes('--no-torch');
const threads = Number(process.env.PUMA_NUM_THREADS ?? 2);
const PY = '/usr/bin/python3';

function ensureTorch(): void {
  const ok = spawnSync(PY, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0;
  if (ok) return;
  console.error('bench: installing python3-torch and libopenblas-dev with apt (one time, ~2 minutes)...');
  const r = spawnSync('sh', ['-c', 'apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-torch libopenblas-dev'], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('could not install python3-torch; run with --no-torch to benchmark puma alone');
}

class TorchWorker {
  private lines: AsyncIterableIterator<string>;
  private proc;
  constructor() {
    this.proc = spawn(PY, [join(here, 'torch_engine.py'), String(threads)], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
    });
    this.lines = createInterface({ input: this.proc.stdout! })[Symbol.asyncIterator]();
  }
  async next(): Promise<Record<string, unknown>> {
    const r = await this.lines.next();
    if (r.done) throw new Error('torch worker exited');
    return JSON.parse(r.value) as Record<string, unknown>;
  }
  async run(name: string, reps: number): Promise<number[]> {
    this.proc.stdin!.write(`${JSON.stringify({ name, reps })}\n`);
    return (await this.next()).ms as number[];
  }
  close(): void {
    this.proc.stdin!.end();
  }
}

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function main(): Promise<void> {
  const be = backend();
  const cfg = nativeConfig();
  const gemm = nativeGemm();
  const engine = gemm ? (gemm.dnnl ? 'oneDNN for large products, OpenBLAS for small' : 'OpenBLAS') : '';
  console.log(`puma backend: ${be.name}${cfg ? ` (${cfg.threads} threads; ${engine}; ${cfg.blasConfig})` : ''}`);
  let torch: TorchWorker | null = null;
  if (useTorch) {
    ensureTorch();
    torch = new TorchWorker();
    const hello = await torch.next();
    console.log(`torch ${hello.torch} (${hello.threads} threads)`);
  }
  const results: { name: string; ours_ms: number; torch_ms: number | null; ratio: number | null }[] = [];
  for (const [name, make] of Object.entries(WORKLOADS)) {
    if (only && !name.includes(only)) continue;
    const step = make();
    step(); // warm-up: pools fill, code is compiled
    const reps = REPS[name] ?? 3;
    const ours: number[] = [], theirs: number[] = [];
    for (let r = 0; r < rounds; r++) {
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        step();
        ours.push(performance.now() - t0);
      }
      if (torch) theirs.push(...(await torch.run(name, reps)));
    }
    const o = median(ours), t = torch ? median(theirs) : null;
    results.push({ name, ours_ms: +o.toFixed(3), torch_ms: t === null ? null : +t.toFixed(3), ratio: t === null ? null : +(o / t).toFixed(3) });
    console.log(`${name.padEnd(46)} puma ${o.toFixed(2).padStart(9)} ms   torch ${t === null ? '-' : t.toFixed(2).padStart(9)} ms   ratio ${t === null ? '-' : (o / t).toFixed(2)}`);
  }
  torch?.close();
  mkdirSync(join(here, 'results'), { recursive: true });
  writeFileSync(join(here, 'results', 'engine.json'), `${JSON.stringify(results, null, 2)}\n`);
  console.log('\n| workload | puma ms | torch ms | ratio |\n|---|---:|---:|---:|');
  for (const r of results) console.log(`| ${r.name} | ${r.ours_ms} | ${r.torch_ms ?? '-'} | ${r.ratio ?? '-'} |`);
  console.log(`\nwrote ${join('bench', 'results', 'engine.json')}`);
}

await main();
