// Loss curves from a run's log.jsonl, drawn as an SVG and rasterised to PNG with sharp.
import { existsSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import { escapeXml } from '../io/grid.js';

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/** Draws every numeric metric whose name contains "loss" (log y axis) against step. */
export async function drawLossCurves(logPath: string, outPath: string, title?: string): Promise<void> {
  if (!existsSync(logPath)) return;
  const rows = readFileSync(logPath, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const series = new Map<string, [number, number][]>();
  for (const r of rows) {
    if (typeof r.step !== 'number') continue;
    for (const [k, v] of Object.entries(r)) {
      if (!k.toLowerCase().includes('loss') || typeof v !== 'number' || !(v > 0)) continue;
      if (!series.has(k)) series.set(k, []);
      series.get(k)!.push([r.step, v]);
    }
  }
  if (series.size === 0) return;
  const W = 720, H = 420, L = 70, R = 20, T = 40, B = 50;
  const all = [...series.values()].flat();
  const x0 = Math.min(...all.map((p) => p[0])), x1 = Math.max(...all.map((p) => p[0]), x0 + 1);
  const ly = all.map((p) => Math.log10(p[1]));
  const y0 = Math.floor(Math.min(...ly) * 4) / 4, y1 = Math.max(Math.ceil(Math.max(...ly) * 4) / 4, y0 + 0.25);
  const sx = (x: number) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y: number) => T + (1 - (Math.log10(y) - y0) / (y1 - y0)) * (H - T - B);
  const parts: string[] = [`<rect width="${W}" height="${H}" fill="white"/>`];
  for (let e = Math.ceil(y0); e <= Math.floor(y1); e++) {
    const y = sy(10 ** e);
    parts.push(`<line x1="${L}" x2="${W - R}" y1="${y}" y2="${y}" stroke="#ddd"/><text x="${L - 6}" y="${y + 4}" font-size="12" text-anchor="end" font-family="DejaVu Sans">1e${e}</text>`);
  }
  parts.push(`<line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#333"/><line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#333"/>`);
  parts.push(`<text x="${L}" y="${H - B + 18}" font-size="12" font-family="DejaVu Sans">${x0}</text><text x="${W - R}" y="${H - B + 18}" font-size="12" text-anchor="end" font-family="DejaVu Sans">${x1}</text><text x="${(L + W - R) / 2}" y="${H - 12}" font-size="13" text-anchor="middle" font-family="DejaVu Sans">step</text>`);
  if (title) parts.push(`<text x="${W / 2}" y="24" font-size="15" text-anchor="middle" font-family="DejaVu Sans">${escapeXml(title)}</text>`);
  let i = 0;
  for (const [name, pts] of series) {
    const c = COLORS[i % COLORS.length];
    // Thin long series so the SVG stays small.
    const stride = Math.max(1, Math.floor(pts.length / 1500));
    const d = pts.filter((_, j) => j % stride === 0).map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    parts.push(`<polyline fill="none" stroke="${c}" stroke-width="1.5" points="${d}"/>`);
    parts.push(`<rect x="${W - R - 170}" y="${T + 4 + i * 18}" width="12" height="12" fill="${c}"/><text x="${W - R - 152}" y="${T + 14 + i * 18}" font-size="12" font-family="DejaVu Sans">${escapeXml(name)}</text>`);
    i++;
  }
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}">${parts.join('')}</svg>`;
  await sharp(Buffer.from(svg)).png().toFile(outPath);
}
