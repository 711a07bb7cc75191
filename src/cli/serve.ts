// `puma serve`: the HTTP API and the web page over a loaded model (src/server/app.ts).
import type { Command } from 'commander';
import { loadPuma } from '../pipelines/bundle.js';
import { buildServer } from '../server/app.js';
import { DEFAULT_MODEL, positiveInt } from './options.js';

export function registerServeCommands(program: Command): void {
  program.command('serve').description('serve every task over HTTP (POST /api/<task>, JSON) and a web page at /')
    .option('--model <dir>', 'trained model: a bundle (models/puma-emoji) or a runs folder', DEFAULT_MODEL)
    .option('--data <dir>', 'emoji dataset (for an unfinished VAE run)', 'data/emoji')
    .option('--port <n>', 'TCP port', positiveInt('--port'), 8080)
    .option('--host <addr>', 'address to listen on (0.0.0.0 for every interface)', '127.0.0.1')
    .action(async (f: { model: string; data: string; port: number; host: string }) => {
      if (f.port > 65535) throw new Error(`--port must be at most 65535, got ${f.port}`);
      process.stderr.write(`loading ${f.model}\n`);
      const model = loadPuma(f.model, f.data);
      const app = buildServer(model, {
        modelName: f.model,
        onRequest: (route, status, seconds) => process.stderr.write(`${route} ${status} ${seconds.toFixed(1)} s\n`),
      });
      const url = await app.listen({ port: f.port, host: f.host });
      process.stdout.write(`puma serving ${f.model} at ${url} (Ctrl-C stops)\n`);
      await new Promise<void>((done) => {
        const stop = () => { void app.close().then(done); };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
    });
}
