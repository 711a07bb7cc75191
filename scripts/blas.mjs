// Locates the system CBLAS (OpenBLAS) for the native build. Prints gyp-ready flags:
//   node scripts/blas.mjs include | libs | defines
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

// oneDNN (Debian: libdnnl-dev) is optional: with it, large matrix products run on its AVX-512
// kernels and bfloat16 products are available (native/gemm.cc). PUMA_NO_DNNL=1 builds without.
const dnnlIncDirs = ['/usr/include', '/usr/local/include', '/opt/homebrew/include'];
const dnnlLibDirs = [...multiarch.map((a) => `/usr/lib/${a}`), '/usr/lib64', '/usr/local/lib', '/opt/homebrew/lib'];

export function findDnnl() {
  if (process.env.PUMA_NO_DNNL === '1') return null;
  const inc = dnnlIncDirs.find((d) => existsSync(`${d}/oneapi/dnnl/dnnl.hpp`));
  const lib = dnnlLibDirs.find((d) => existsSync(`${d}/libdnnl.so`) || existsSync(`${d}/libdnnl.dylib`));
  return inc && lib ? { inc, lib } : null;
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
  else if (what === 'libs') {
    const dnnl = findDnnl();
    process.stdout.write(`-L${blas.lib} -Wl,-rpath,${blas.lib} -lopenblas` + (dnnl ? ` -L${dnnl.lib} -ldnnl` : ''));
  } else if (what === 'defines') process.stdout.write(findDnnl() ? 'PUMA_HAVE_DNNL' : '');
  else process.stdout.write(JSON.stringify(blas));
}
