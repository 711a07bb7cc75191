import { Command, CommanderError } from 'commander';
import { registerDataCommands } from './data.js';
import { registerTokenizerCommands } from './tokenizer.js';
import { registerTrainCommands } from './train.js';
import { registerReconstructCommands } from './reconstruct.js';
import { registerTaskCommands } from './tasks.js';
import { registerEvalCommands } from './eval.js';
import { registerServeCommands } from './serve.js';

/** Builds the `puma` command line. Each command group lives in its own file beside this one. */
export function buildProgram(): Command {
  const program = new Command('puma')
    .description('PUMA: a unified multimodal model with multi-granular visual generation')
    .version('0.1.0');
  registerDataCommands(program);
  registerTokenizerCommands(program);
  registerTrainCommands(program);
  registerReconstructCommands(program);
  registerTaskCommands(program);
  registerEvalCommands(program);
  registerServeCommands(program);
  return program;
}

/** Runs the CLI; user errors print one line and exit non-zero, never a stack trace. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  program.exitOverride();
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`puma: ${message}\n`);
    if (process.env.PUMA_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

