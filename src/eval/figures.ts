// The paper's qualitative figures, for the emoji world:
//   Fig. 3  one image decoded from each of f4..f0 (reconstruction),
//   Fig. 6  the diversity of f4 and f3 decodes of one image over seeds,
//   Fig. 10 one prompt generated at the five scales,
//   and held-out editing and conditional-generation cases at the five scales beside their true
//   output (the paper shows these tasks at f0; the rows show what each scale gives).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmojiWorld } from '../data/emoji/world.js';
import { imageBatch } from '../data/batches.js';
import { chwToImage, type Image } from '../io/image.js';
import { renderGrid, type GridRow } from '../io/grid.js';
import { renderRef } from '../data/derive.js';
import { makeMask } from '../data/masks.js';
import { keepInputOf } from '../pipelines/composite.js';
import { inpaintScales } from '../pipelines/inpaint.js';
import { decodeScales, generate } from '../pipelines/generate.js';
import { imageToImage } from '../pipelines/edit.js';
import type { PumaModel } from '../pipelines/model.js';
import { encodeScales, prepareImage, reconstruct } from '../pipelines/reconstruct.js';
import * as T from '../tensor/index.js';
import { SCALES_COARSE_FIRST, type EvalOptions } from './common.js';
import { caseText, imageToImageCases, mllmTaskOf, type ImageTask } from './image-to-image.js';

/** What each task's pipeline keeps of its input, in words. */
const KEPT_BY_TASK: Partial<Record<ImageTask, string>> = {
  edit: 'the change applied to the input', inpaint: 'the pixels around the holes kept', colorize: 'the input\'s luma kept',
};

function toImage(x: T.Tensor, i = 0): Image {
  const [, c, h, w] = x.shape;
  return chwToImage({ data: x.narrow(0, i, 1).contiguous().data.slice(), shape: [c, h, w] }, '01');
}

/**
 * Writes fig3-reconstruction.png, fig6-diversity.png, fig10-<prompt>.png and
 * fig-image-to-image.png (4 edits, one canny, inpaint and colorize case) into `out`; returns
 * the paths. `image` is a world image id, `prompts` are generated at every scale with two seeds.
 */
export async function writeFigures(
  model: PumaModel, world: EmojiWorld, out: string, opts: EvalOptions & { image?: number; prompts?: readonly string[]; textGuidance?: number } = {},
): Promise<string[]> {
  const id = opts.image ?? world.imagesIn('test')[0].id;
  const label = world.concepts[world.images[id].concept].label;
  const scales = SCALES_COARSE_FIRST.filter((k) => model.decoders[k]);
  const decode = { steps: opts.steps, guidance: opts.guidance, scheduler: opts.scheduler };
  const written: string[] = [];
  const x = imageBatch(world, [id], '01').keep();

  opts.onProgress?.('figure 3: reconstruction');
  const rec = reconstruct(model, x, scales, { ...decode, seed: opts.seed ?? 0 });
  const fig3: GridRow[] = [{ cells: [{ image: toImage(x), caption: 'input' }, ...scales.map((k) => ({ image: toImage(rec.get(k)!), caption: `f${k}` }))], text: label }];
  rec.forEach((t) => t.dispose());
  written.push(join(out, 'fig3-reconstruction.png'));
  writeFileSync(written.at(-1)!, await renderGrid(fig3, { scale: 2, title: 'Fig. 3: one test image decoded from each scale' }));

  opts.onProgress?.('figure 6: diversity');
  const seeds = [0, 1, 2, 3].map((s) => s + (opts.seed ?? 0));
  const fig6: GridRow[] = [];
  for (const k of [4, 3].filter((s) => model.decoders[s])) {
    const cells = [{ image: toImage(x), caption: 'input' }];
    for (const s of seeds) {
      const r = reconstruct(model, x, [k], { ...decode, seed: s });
      cells.push({ image: toImage(r.get(k)!), caption: `f${k} seed ${s}` });
      r.get(k)!.dispose();
    }
    fig6.push({ cells, text: `f${k}: four seeds` });
  }
  if (fig6.length) {
    written.push(join(out, 'fig6-diversity.png'));
    writeFileSync(written.at(-1)!, await renderGrid(fig6, { scale: 2, title: 'Fig. 6: diversity of coarse-scale decodes' }));
  }
  x.dispose();

  const prompts = opts.prompts ?? [label];
  const guided = (opts.textGuidance ?? 1) !== 1 ? `, text guidance ${opts.textGuidance}` : '';
  const gallery: GridRow[] = [];
  for (const prompt of prompts) {
    opts.onProgress?.(`figure 10: "${prompt}"`);
    const r = generate(model, prompt, { ...decode, scales, seeds: [0, 1].map((s) => s + (opts.seed ?? 0)), textGuidance: opts.textGuidance });
    const rows: GridRow[] = r.rows.map((row) => ({ cells: scales.map((k) => ({ image: toImage(row.images.get(k)!), caption: `f${k}` })), text: `seed ${row.seed}` }));
    gallery.push({ cells: rows[0].cells, text: `"${prompt}" (seed ${r.rows[0].seed})` });
    r.rows.forEach((row) => row.images.forEach((t) => t.dispose()));
    r.features.forEach((f) => f?.dispose());
    const slug = prompt.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'prompt';
    written.push(join(out, `fig10-${slug}.png`));
    writeFileSync(written.at(-1)!, await renderGrid(rows, { scale: 2, title: `Fig. 10: "${prompt}" at five scales (MLLM ${r.stage}${guided})` }));
  }
  if (prompts.length > 1) {
    written.push(join(out, 'fig10-gallery.png'));
    writeFileSync(written.at(-1)!, await renderGrid(gallery, { scale: 2, title: `Fig. 10: every prompt at five scales, first seed${guided}` }));
  }

  const cases = [
    ...imageToImageCases(world, 'edit', 4, opts.seed ?? 0).map((s) => ({ task: 'edit' as ImageTask, s })),
    ...(['canny', 'inpaint', 'colorize'] as const).flatMap((task) => imageToImageCases(world, task, 1, opts.seed ?? 0).map((s) => ({ task, s }))),
  ];
  const i2i: GridRow[] = [];
  for (const [i, { task, s: c }] of cases.entries()) {
    opts.onProgress?.(`image-to-image figure: case ${i + 1}/${cases.length} (${task})`);
    const [src, dst] = c.segments.flatMap((g) => (g.kind === 'image' ? [renderRef(world, g.ref)] : []));
    const text = caseText(c);
    const seed = opts.seed ?? 0;
    const r = imageToImage(model, mllmTaskOf(task), src, text, { ...decode, scales, seeds: [seed] }, task === 'canny');
    const images = r.rows[0].images;
    // what the pipeline returns: the decode with the input put back (composite.ts), at the finest
    // scale, or at f4 for inpainting (its default, inpaintScales)
    const keptScale = task === 'inpaint' && scales.includes(inpaintScales()[0]) ? inpaintScales()[0] : Math.min(...scales);
    const input = prepareImage(src);
    const inRef = c.segments.find((g) => g.kind === 'image')!;
    const kept = task === 'canny' ? null : keepInputOf(task, images.get(keptScale)!, input, {
      holes: inRef.kind === 'image' && inRef.ref.op === 'masked' ? makeMask(inRef.ref.mask, world.width, world.height) : undefined,
      inputDecode: () => T.tidy(() => decodeScales(model, encodeScales(model, input), [keptScale], seed, decode).get(keptScale)!.keep()),
    });
    input.dispose();
    i2i.push({
      cells: [
        { image: r.input, caption: 'input' }, ...scales.map((k) => ({ image: toImage(images.get(k)!), caption: `f${k}` })),
        ...(kept ? [{ image: toImage(kept), caption: `f${keptScale} kept` }] : []), { image: dst, caption: 'true' },
      ],
      text: `${c.task} (MLLM ${r.stage}): ${text}${kept ? ` (f${keptScale} kept: ${KEPT_BY_TASK[task]})` : ''}`,
    });
    kept?.dispose();
    images.forEach((t) => t.dispose());
    r.features.forEach((f) => f?.dispose());
  }
  written.push(join(out, 'fig-image-to-image.png'));
  writeFileSync(written.at(-1)!, await renderGrid(i2i, { scale: 2, title: 'Editing and conditional generation, held-out cases: each scale, then the true output' }));
  return written;
}
