// Locates the system CBLAS (OpenBLAS) for the native build. Prints gyp-ready flags:
//   node scripts/blas.mjs cflags | libs
// Prefers OpenBLAS' OpenMP build (Debian: libopenblas-openmp-dev), so that OpenBLAS and our
// OpenMP kernels share one thread pool; falls back to the default libopenblas.
import { existsSync } from 'node:fs';

const multiarch = ['x86_64-linux-gnu', 'aarch64-linux-gnu'];
const libDirs = [];
for (const a of multiarch) libDirs.push(`/usr/lib/${a}/openblas-openmp`);
if (process.env.OPENBLAS_LIB_DIR) libDirs.unshift(process.env.OPENBLAS_LIB_DIR);
for (const a of multiarch) libDirs.push(`/usr/lib/${a}/openblas-pthread`, `/usr/lib/${a}`);
libDirs.push('/usr/lib64', '/usr/local/lib', '/opt/homebrew/opt/openblas/lib', '/usr/local/opt/openblas/lib');

const incDirs = ['/usr/include/x86_64-linux-gnu/openblas-openmp', '/usr/include/x86_64-linux-gnu',
  '/usr/include/aarch64-linux-gnu', '/usr/include/openblas', '/usr/include', '/usr/local/include',
  '/opt/homebrew/opt/openblas/include', '/usr/local/opt/openblas/include'];
if (process.env.OPENBLAS_INCLUDE_DIR) incDirs.unshift(process.env.OPENBLAS_INCLUDE_DIR);

export function findBlas() {
  const lib = libDirs.find((d) => existsSync(`${d}/libopenblas.so`) || existsSync(`${d}/libopenblas.dylib`));
  const inc = incDirs.find((d) => existsSync(`${d}/cblas.h`));
  return lib && inc ? { lib, inc, openmp: lib.includes('openmp') } : null;
}

export const MISSING_MESSAGE =
  'puma: OpenBLAS (CBLAS) was not found. Install it, then run `npm rebuild puma` (or `npm ci`):\n' +
  '  Debian/Ubuntu: sudo apt-get install libopenblas-dev libopenblas-openmp-dev\n' +
  '  Fedora: sudo dnf install openblas-devel    macOS: brew install openblas libomp\n' +
  'Or set OPENBLAS_LIB_DIR and OPENBLAS_INCLUDE_DIR.';

if (import.meta.url === `file://${process.argv[1]}`) {
  const blas = findBlas();
  if (!blas) {
    process.stderr.write(`${MISSING_MESSAGE}\n`);
    process.exit(1);
  }
  const what = process.argv[2];
  if (what === 'include') process.stdout.write(blas.inc);
  else if (what === 'libs') process.stdout.write(`-L${blas.lib} -Wl,-rpath,${blas.lib} -lopenblas`);
  else process.stdout.write(JSON.stringify(blas));
}
