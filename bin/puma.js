#!/usr/bin/env node
// Entry point of the `puma` command. In a source checkout (src/ present, tsx installed) it runs
// the TypeScript sources, so edits take effect without a rebuild; an installed package runs the
// compiled dist/ that `npm ci` builds through the `prepare` script.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const source = join(root, 'src', 'cli', 'run.ts');
let tsx = false;
try {
  createRequire(import.meta.url).resolve('tsx/esm/api');
  tsx = true;
} catch {
  // no dev dependencies: use dist/
}
if (existsSync(source) && tsx) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(join(root, 'dist', 'cli', 'run.js')).href);
}
