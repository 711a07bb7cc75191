import { Rng } from './rng.js';

/** A seeded inpainting mask description; `makeMask` turns it into pixels, the same on every run. */
export type MaskSpec = { kind: 'box'; seed: number } | { kind: 'strokes'; seed: number };

/** 1 marks a hole (to be filled), 0 a kept pixel; H*W, row-major. */
export type Mask = Uint8Array;

/**
 * A rectangle covering 10-50% of the image, anywhere inside it.
 * @example const m = boxMask(64, 64, new Rng(1));
 */
export function boxMask(width: number, height: number, rng: Rng, minFrac = 0.1, maxFrac = 0.5): Mask {
  const mask = new Uint8Array(width * height);
  const area = rng.range(minFrac, maxFrac) * width * height;
  const aspect = Math.exp(rng.range(Math.log(0.5), Math.log(2)));
  const w = Math.max(1, Math.min(width, Math.round(Math.sqrt(area * aspect))));
  const h = Math.max(1, Math.min(height, Math.round(area / w)));
  const x0 = rng.int(width - w + 1), y0 = rng.int(height - h + 1);
  for (let y = y0; y < y0 + h; y++) mask.fill(1, y * width + x0, y * width + x0 + w);
  return mask;
}

/**
 * Free-form brush strokes in the style of DeepFill v2 / LaMa: 1-4 random walks of 2-6 segments,
 * each drawn as a thick polyline with round joints. Brush width 8-20% of the image side.
 * @example const m = strokeMask(64, 64, new Rng(7));
 */
export function strokeMask(width: number, height: number, rng: Rng): Mask {
  const mask = new Uint8Array(width * height);
  const side = Math.min(width, height);
  const strokes = 1 + rng.int(4);
  for (let s = 0; s < strokes; s++) {
    let x = rng.range(0, width), y = rng.range(0, height);
    const radius = Math.max(1, (rng.range(0.08, 0.2) * side) / 2);
    const vertices = 2 + rng.int(5);
    let angle = rng.range(0, 2 * Math.PI);
    for (let v = 0; v < vertices; v++) {
      angle += rng.range(-Math.PI / 2, Math.PI / 2);
      const len = rng.range(0.1, 0.35) * side;
      const nx = Math.min(width - 1, Math.max(0, x + len * Math.cos(angle)));
      const ny = Math.min(height - 1, Math.max(0, y + len * Math.sin(angle)));
      drawSegment(mask, width, height, x, y, nx, ny, radius);
      x = nx;
      y = ny;
    }
  }
  return mask;
}

/** Stamps discs along the segment: every pixel within `radius` of it becomes 1. */
function drawSegment(m: Mask, W: number, H: number, x0: number, y0: number, x1: number, y1: number, r: number): void {
  const minX = Math.max(0, Math.floor(Math.min(x0, x1) - r)), maxX = Math.min(W - 1, Math.ceil(Math.max(x0, x1) + r));
  const minY = Math.max(0, Math.floor(Math.min(y0, y1) - r)), maxY = Math.min(H - 1, Math.ceil(Math.max(y0, y1) + r));
  const dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy;
  for (let y = minY; y <= maxY; y++) {
    for (let x = minX; x <= maxX; x++) {
      const px = x + 0.5, py = y + 0.5;
      const t = len2 === 0 ? 0 : Math.min(1, Math.max(0, ((px - x0) * dx + (py - y0) * dy) / len2));
      const ex = px - (x0 + t * dx), ey = py - (y0 + t * dy);
      if (ex * ex + ey * ey <= r * r) m[y * W + x] = 1;
    }
  }
}

/** The pixels of a MaskSpec. */
export function makeMask(spec: MaskSpec, width: number, height: number): Mask {
  const rng = new Rng(spec.seed);
  return spec.kind === 'box' ? boxMask(width, height, rng) : strokeMask(width, height, rng);
}

/** Fraction of pixels that are holes. */
export function maskCoverage(mask: Mask): number {
  let n = 0;
  for (const v of mask) n += v;
  return n / mask.length;
}
