import type { Backend, MatmulPrecision } from './backend.js';
import { loadNativeBackend, nativeLoadError } from './native/index.js';
import { referenceBackend } from './reference/index.js';

export type { Backend, MatmulPrecision } from './backend.js';
export { referenceBackend } from './reference/index.js';

let current: Backend | null = null;

function parsePrecision(v: string | undefined): MatmulPrecision {
  if (v === undefined || v === '' || v === 'float32' || v === 'fp32') return 'float32';
  if (v === 'bfloat16' || v === 'bf16') return 'bfloat16';
  throw new Error(`PUMA_MATMUL_PRECISION must be float32 or bfloat16, not "${v}"`);
}
let precision: MatmulPrecision = parsePrecision(process.env.PUMA_MATMUL_PRECISION);

function activate(b: Backend): Backend {
  b.setMatmulPrecision(precision);
  return (current = b);
}

/** The operand precision of matrix products and convolutions (PUMA_MATMUL_PRECISION at start). */
export function matmulPrecision(): MatmulPrecision {
  return precision;
}

/** Sets the operand precision of matrix products and convolutions for every backend. */
export function setMatmulPrecision(p: MatmulPrecision): void {
  precision = parsePrecision(p);
  current?.setMatmulPrecision(precision);
}

/** Runs fn with the given matmul precision, then restores the previous one. */
export function withMatmulPrecision<T>(p: MatmulPrecision, fn: () => T): T {
  const saved = precision;
  setMatmulPrecision(p);
  try {
    return fn();
  } finally {
    setMatmulPrecision(saved);
  }
}

/** The active kernel backend: native unless PUMA_BACKEND=reference or the addon cannot load. */
export function backend(): Backend {
  if (current) return current;
  const wanted = process.env.PUMA_BACKEND ?? 'native';
  if (wanted === 'reference') return activate(referenceBackend);
  const native = loadNativeBackend();
  if (native) return activate(native);
  if (wanted === 'native' && process.env.PUMA_BACKEND === 'native') {
    throw new Error(`PUMA_BACKEND=native but the native addon did not load: ${nativeLoadError()}`);
  }
  process.emitWarning(`puma: native addon unavailable (${nativeLoadError()}); using the slow reference backend`);
  return activate(referenceBackend);
}

/** Selects the backend by name ('native' | 'reference'); returns the previous one's name. */
export function setBackend(name: 'native' | 'reference'): string {
  const prev = current?.name ?? 'none';
  if (name === 'reference') activate(referenceBackend);
  else {
    const native = loadNativeBackend();
    if (!native) throw new Error(`native backend unavailable: ${nativeLoadError()}`);
    activate(native);
  }
  return prev;
}

/** Runs fn with the given backend active, then restores the previous one. */
export function withBackend<T>(name: 'native' | 'reference', fn: () => T): T {
  const saved = current;
  setBackend(name);
  try {
    return fn();
  } finally {
    current = saved;
    current?.setMatmulPrecision(precision);
  }
}

export function hasNativeBackend(): boolean {
  return loadNativeBackend() !== null;
}
