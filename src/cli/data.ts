import type { Command } from 'commander';

/** `puma data ...`: build the emoji world, print its statistics, draw examples. */
export function registerDataCommands(program: Command): void {
  program.command('data').description('build and inspect the emoji dataset');
}
