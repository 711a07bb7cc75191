import sharp, { type OverlayOptions } from 'sharp';
import { grayToRgb, type Image } from './image.js';
import { resizeImage } from './resize.js';

export interface GridCell {
  image: Image;
  /** A short line under the image, e.g. "input" or "target". */
  caption?: string;
}
export interface GridRow {
  cells: GridCell[];
  /** A line of text under the row: the instruction, prompt or answer. */
  text?: string;
}

const PAD = 8;
const CAPTION_H = 16;
const TEXT_H = 18;
const FONT = 'DejaVu Sans, Liberation Sans, sans-serif';
const CHAR_W = 6.6; // average advance of 11 px DejaVu Sans, for truncation

/**
 * Draws rows of images with captions and a text line per row into a PNG, for figures and
 * `puma data show`. Images are upscaled by `scale` with nearest-neighbour so pixels stay visible.
 * Text goes through an SVG overlay rendered by librsvg (needs a system font such as fonts-dejavu-core).
 * @example await writeFile('grid.png', await renderGrid([{ cells: [{ image: a, caption: 'input' }], text: 'hello' }]));
 */
export async function renderGrid(rows: GridRow[], opts: { scale?: number; title?: string } = {}): Promise<Buffer> {
  if (rows.length === 0) throw new Error('nothing to draw: the grid has no rows');
  const scale = opts.scale ?? 2;
  const cellW = Math.max(...rows.flatMap((r) => r.cells.map((c) => c.image.width))) * scale;
  const cellH = Math.max(...rows.flatMap((r) => r.cells.map((c) => c.image.height))) * scale;
  const cols = Math.max(...rows.map((r) => r.cells.length));
  const titleH = opts.title ? TEXT_H + PAD : 0;
  const rowH = cellH + CAPTION_H + TEXT_H + PAD;
  const width = Math.max(PAD + cols * (cellW + PAD), 480);
  const height = PAD + titleH + rows.length * rowH;

  const composites: OverlayOptions[] = [];
  const texts: string[] = [];
  const maxChars = Math.floor((width - 2 * PAD) / CHAR_W);
  if (opts.title) texts.push(svgText(PAD, PAD + 13, truncate(opts.title, maxChars), 13, 'bold'));
  rows.forEach((row, r) => {
    const top = PAD + titleH + r * rowH;
    row.cells.forEach((cell, c) => {
      const left = PAD + c * (cellW + PAD);
      const img = cell.image.channels === 1 ? grayToRgb(cell.image) : cell.image;
      const big = resizeImage(img, img.width * scale, img.height * scale, 'nearest');
      composites.push({
        input: Buffer.from(big.data.buffer, big.data.byteOffset, big.data.byteLength),
        raw: { width: big.width, height: big.height, channels: big.channels },
        left,
        top,
      });
      if (cell.caption) texts.push(svgText(left, top + cellH + 12, truncate(cell.caption, Math.floor(cellW / 6)), 10));
    });
    if (row.text) texts.push(svgText(PAD, top + cellH + CAPTION_H + 12, truncate(row.text, maxChars), 11));
  });
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${texts.join('')}</svg>`;
  composites.push({ input: Buffer.from(svg), left: 0, top: 0 });
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(composites)
    .png()
    .toBuffer();
}

function svgText(x: number, y: number, text: string, size: number, weight = 'normal'): string {
  return `<text x="${x}" y="${y}" font-family="${FONT}" font-size="${size}" font-weight="${weight}" fill="#111">${escapeXml(text)}</text>`;
}

function truncate(s: string, n: number): string {
  const chars = Array.from(s);
  return chars.length <= n ? s : `${chars.slice(0, Math.max(1, n - 1)).join('')}…`;
}

export function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}
