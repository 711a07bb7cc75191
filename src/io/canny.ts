import { type Image, toGrayscale } from './image.js';

/**
 * Canny edges with OpenCV's semantics, cv2.Canny(gray, low, high) with apertureSize 3 and
 * L2gradient false: 3x3 Sobel with replicated borders, L1 magnitude |dx| + |dy|, non-maximum
 * suppression along the gradient direction quantised with tan(22.5 deg) in 15-bit fixed point,
 * strong seeds where magnitude > high, hysteresis over 8-connected weak pixels (> low).
 * Colour input is converted to luma first (cv2.cvtColor RGB2GRAY), so pass RGB, not BGR.
 * Returns a one-channel image of 0 and 255.
 * @example const edges = canny(img, 100, 200);
 */
export function canny(img: Image, low = 100, high = 200): Image {
  if (low > high) [low, high] = [high, low];
  const gray = toGrayscale(img);
  const { width: W, height: H } = gray;
  const src = gray.data;
  const lowT = Math.floor(low), highT = Math.floor(high);

  // Sobel dx, dy and L1 magnitude; the magnitude grid carries a zero border so NMS needs no checks.
  const dx = new Int32Array(W * H), dy = new Int32Array(W * H);
  const MW = W + 2;
  const mag = new Int32Array(MW * (H + 2));
  const at = (x: number, y: number) => src[Math.min(Math.max(y, 0), H - 1) * W + Math.min(Math.max(x, 0), W - 1)];
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const a = at(x - 1, y - 1), b = at(x, y - 1), c = at(x + 1, y - 1);
      const d = at(x - 1, y), f = at(x + 1, y);
      const g = at(x - 1, y + 1), h = at(x, y + 1), k = at(x + 1, y + 1);
      const gx = c + 2 * f + k - (a + 2 * d + g);
      const gy = g + 2 * h + k - (a + 2 * b + c);
      dx[y * W + x] = gx;
      dy[y * W + x] = gy;
      mag[(y + 1) * MW + x + 1] = Math.abs(gx) + Math.abs(gy);
    }
  }

  // 0: weak candidate, 1: not an edge, 2: edge. Border of 1s like OpenCV's map.
  const map = new Uint8Array(MW * (H + 2)).fill(1);
  const stack: number[] = [];
  const CANNY_SHIFT = 15;
  const TG22 = Math.trunc(0.4142135623730950488016887242097 * (1 << CANNY_SHIFT) + 0.5);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const j = (y + 1) * MW + x + 1;
      const m = mag[j];
      if (m <= lowT) continue;
      const xs = dx[y * W + x], ys = dy[y * W + x];
      const ax = Math.abs(xs), ay = Math.abs(ys) * (1 << CANNY_SHIFT);
      const tg22x = ax * TG22;
      let isMax: boolean;
      if (ay < tg22x) {
        isMax = m > mag[j - 1] && m >= mag[j + 1];
      } else {
        const tg67x = tg22x + ax * (1 << (CANNY_SHIFT + 1));
        if (ay > tg67x) {
          isMax = m > mag[j - MW] && m >= mag[j + MW];
        } else {
          const s = (xs < 0) !== (ys < 0) ? -1 : 1;
          isMax = m > mag[j - MW - s] && m > mag[j + MW + s];
        }
      }
      if (!isMax) continue;
      if (m > highT) {
        map[j] = 2;
        stack.push(j);
      } else {
        map[j] = 0;
      }
    }
  }

  const neighbours = [-MW - 1, -MW, -MW + 1, -1, 1, MW - 1, MW, MW + 1];
  while (stack.length > 0) {
    const j = stack.pop()!;
    for (const o of neighbours) {
      if (map[j + o] === 0) {
        map[j + o] = 2;
        stack.push(j + o);
      }
    }
  }

  const out = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) if (map[(y + 1) * MW + x + 1] === 2) out[y * W + x] = 255;
  }
  return { width: W, height: H, channels: 1, data: out };
}
