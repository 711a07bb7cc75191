// `npm install` hook: builds the C++ addon with node-gyp against the system OpenBLAS (and
// oneDNN when present: scripts/blas.mjs).
// Fails with a message naming the package to install when OpenBLAS is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { findBlas, findDnnl, MISSING_MESSAGE } from './blas.mjs';

if (process.env.PUMA_SKIP_NATIVE === '1') {
  console.log('puma: PUMA_SKIP_NATIVE=1, skipping the native addon (the reference backend will be used)');
  process.exit(0);
}
const blas = findBlas();
if (!blas) {
  console.error(MISSING_MESSAGE);
  process.exit(1);
}
if (!blas.openmp) {
  console.warn('puma: using the pthreads OpenBLAS; for best threading install libopenblas-openmp-dev');
}
if (!findDnnl() && process.env.PUMA_NO_DNNL !== '1') {
  console.warn('puma: oneDNN not found; large matrix products will run on OpenBLAS (about half the speed here).\n' +
    '  For the faster build: sudo apt-get install libdnnl-dev, then npm rebuild');
}
const require = createRequire(import.meta.url);
// npm runs install scripts with npm_config_node_gyp pointing at its own bundled node-gyp.
let gyp = process.env.npm_config_node_gyp;
if (!gyp) {
  try {
    gyp = require.resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const npmCli = realpathSync(spawnSync('sh', ['-c', 'command -v npm'], { encoding: 'utf8' }).stdout.trim());
    gyp = join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  }
}
const args = [gyp, 'rebuild'];
// Offline machines: build against the headers that ship with the installed Node.
if (!process.env.npm_config_nodedir && existsSync('/usr/include/node/node_api.h')) args.push('--nodedir=/usr');
const r = spawnSync(process.execPath, args, { stdio: 'inherit' });
process.exit(r.status ?? 1);
