import type { Backend } from './backend.js';
import { loadNativeBackend, nativeLoadError } from './native/index.js';
import { referenceBackend } from './reference/index.js';

export type { Backend } from './backend.js';
export { referenceBackend } from './reference/index.js';

let current: Backend | null = null;

/** The active kernel backend: native unless PUMA_BACKEND=reference or the addon cannot load. */
export function backend(): Backend {
  if (current) return current;
  const wanted = process.env.PUMA_BACKEND ?? 'native';
  if (wanted === 'reference') return (current = referenceBackend);
  const native = loadNativeBackend();
  if (native) return (current = native);
  if (wanted === 'native' && process.env.PUMA_BACKEND === 'native') {
    throw new Error(`PUMA_BACKEND=native but the native addon did not load: ${nativeLoadError()}`);
  }
  process.emitWarning(`puma: native addon unavailable (${nativeLoadError()}); using the slow reference backend`);
  return (current = referenceBackend);
}

/** Selects the backend by name ('native' | 'reference'); returns the previous one's name. */
export function setBackend(name: 'native' | 'reference'): string {
  const prev = current?.name ?? 'none';
  if (name === 'reference') current = referenceBackend;
  else {
    const native = loadNativeBackend();
    if (!native) throw new Error(`native backend unavailable: ${nativeLoadError()}`);
    current = native;
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
  }
}

export function hasNativeBackend(): boolean {
  return loadNativeBackend() !== null;
}
