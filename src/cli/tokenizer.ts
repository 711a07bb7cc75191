import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { loadEmojiWorld } from '../data/emoji/world.js';
import { toTokenizerJson, trainBpe } from '../data/tokenizer/bpe.js';
import { captionCorpus } from '../data/tokenizer/corpus.js';
import { loadTokenizer } from '../data/tokenizer/tokenizer.js';

/** `puma tokenizer ...`: train and inspect tokenizers. */
export function registerTokenizerCommands(program: Command): void {
  const tok = program.command('tokenizer').description('train and inspect tokenizers');

  tok
    .command('train')
    .description('train a byte-level BPE on the emoji captions; writes a Hugging Face tokenizer.json')
    .requiredOption('--out <file>', 'output tokenizer.json')
    .option('--vocab <n>', 'vocabulary size, special and position tokens included', (v) => Number(v), 4096)
    .option('--data <dir>', 'dataset directory (from puma data build)', 'data/emoji')
    .action(async (opts: { out: string; vocab: number; data: string }) => {
      const world = loadEmojiWorld(opts.data);
      const t0 = performance.now();
      const model = trainBpe(captionCorpus(world.concepts), opts.vocab);
      await mkdir(dirname(opts.out), { recursive: true });
      await writeFile(opts.out, JSON.stringify(toTokenizerJson(model)));
      const check = loadTokenizer(opts.out);
      process.stdout.write(
        `wrote ${opts.out}: ${check.vocabSize} tokens (${model.merges.length} merges) in ` +
          `${((performance.now() - t0) / 1000).toFixed(1)} s\n`,
      );
    });

  tok
    .command('encode')
    .description('print the ids and pieces of a text')
    .requiredOption('--tokenizer <file>', 'tokenizer.json')
    .argument('<text>', 'text to encode')
    .action((text: string, opts: { tokenizer: string }) => {
      const t = loadTokenizer(opts.tokenizer);
      const ids = t.encode(text);
      process.stdout.write(`${ids.length} tokens\n${ids.map((id) => `${id}\t${JSON.stringify(t.idToToken(id))}`).join('\n')}\n`);
      process.stdout.write(`decoded: ${JSON.stringify(t.decode(ids))}\n`);
    });

  tok
    .command('info')
    .description('print vocabulary size and special-token ids')
    .requiredOption('--tokenizer <file>', 'tokenizer.json')
    .action((opts: { tokenizer: string }) => {
      const t = loadTokenizer(opts.tokenizer);
      process.stdout.write(
        `vocab size ${t.vocabSize}\n` +
          Object.entries(t.special)
            .map(([k, v]) => `${k.padEnd(9)} ${v}\t${t.idToToken(v)}`)
            .join('\n') +
          `\npos       ${t.posId(0)}..${t.posId(223)}\n`,
      );
    });
}
