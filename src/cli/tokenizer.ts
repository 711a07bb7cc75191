import type { Command } from 'commander';

/** `puma tokenizer ...`: train and inspect tokenizers. */
export function registerTokenizerCommands(program: Command): void {
  program.command('tokenizer').description('train and inspect tokenizers');
}
