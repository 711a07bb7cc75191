// Layout agreement of two 64x64 emoji images, for the canny analyses: the silhouette (pixels not
// near white) as IoU, and Canny edges as an F-score with a 2-pixel tolerance.
import { canny } from '../../src/io/canny.js';
import type { Image } from '../../src/io/image.js';

const S = 64;

/** 1 where any channel is below 230 (the emoji on its white canvas). */
export const silhouette = (img: Image): Uint8Array => Uint8Array.from({ length: S * S }, (_, p) =>
  img.data[p * img.channels] < 230 || img.data[p * img.channels + 1] < 230 || img.data[p * img.channels + 2] < 230 ? 1 : 0);

/** cv2.Canny(gray, 100, 200) as 0/1. */
export const edgesOf = (img: Image): Uint8Array => Uint8Array.from(canny(img, 100, 200).data, (v) => (v > 0 ? 1 : 0));

export function iou(a: Uint8Array, b: Uint8Array): number {
  let i = 0, u = 0;
  for (let p = 0; p < a.length; p++) { i += a[p] & b[p]; u += a[p] | b[p]; }
  return u ? i / u : 0;
}

/** Share of a's edge pixels with one of b's within r pixels. */
function near(a: Uint8Array, b: Uint8Array, r = 2): number {
  let hit = 0, all = 0;
  for (let y = 0; y < S; y++) for (let x = 0; x < S; x++) {
    if (!a[y * S + x]) continue;
    all++;
    search: for (let dy = -r; dy <= r; dy++) for (let dx = -r; dx <= r; dx++) {
      const yy = y + dy, xx = x + dx;
      if (yy >= 0 && yy < S && xx >= 0 && xx < S && b[yy * S + xx]) { hit++; break search; }
    }
  }
  return all ? hit / all : 0;
}

/** F-score of an output's edges against reference edges, 2-pixel tolerance. */
export const edgeF = (out: Uint8Array, ref: Uint8Array): number => { const p = near(out, ref), r = near(ref, out); return p + r ? (2 * p * r) / (p + r) : 0; };

/** Running tally of the forced choice "nearer its own image than another's?" per output kind. */
export class LayoutTally {
  private rows = new Map<string, { sil: number; edge: number; silOwn: number; silOther: number; n: number }>();

  add(name: string, img: Image, own: Image, other: Image): void {
    const s = silhouette(img), e = edgesOf(img);
    const so = iou(s, silhouette(own)), sx = iou(s, silhouette(other));
    const eo = edgeF(e, edgesOf(own)), ex = edgeF(e, edgesOf(other));
    const t = this.rows.get(name) ?? { sil: 0, edge: 0, silOwn: 0, silOther: 0, n: 0 };
    t.sil += so > sx ? 1 : so === sx ? 0.5 : 0;
    t.edge += eo > ex ? 1 : eo === ex ? 0.5 : 0;
    t.silOwn += so;
    t.silOther += sx;
    t.n++;
    this.rows.set(name, t);
  }

  table(): string {
    const lines = ['| output | own silhouette closer (IoU) | own edges closer (F, 2 px) | mean IoU own | mean IoU other |', '|---|---:|---:|---:|---:|'];
    for (const [name, t] of this.rows) {
      lines.push(`| ${name} | ${(100 * t.sil / t.n).toFixed(1)}% | ${(100 * t.edge / t.n).toFixed(1)}% | ${(t.silOwn / t.n).toFixed(3)} | ${(t.silOther / t.n).toFixed(3)} |`);
    }
    return lines.join('\n');
  }
}
