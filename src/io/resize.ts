import { type CHW, type Image, checkImageSize } from './image.js';

export type ResizeFilter = 'nearest' | 'bilinear' | 'bicubic';

// PIL's filters (Imaging/Resample.c). Bicubic uses a = -0.5 as PIL and torch's antialiased path do.
const bilinearFilter = (x: number) => {
  x = Math.abs(x);
  return x < 1 ? 1 - x : 0;
};
const cubicFilter = (a: number) => (x: number) => {
  x = Math.abs(x);
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
};
const FILTERS = { bilinear: { fn: bilinearFilter, support: 1 }, bicubic: { fn: cubicFilter(-0.5), support: 2 } };

/** For each output index: the first input index and the normalised weights of its window. */
interface Taps {
  start: Int32Array;
  size: Int32Array;
  ksize: number;
  weights: Float64Array; // [outSize, ksize]
}

/**
 * Antialiased weights exactly as PIL's precompute_coeffs and torch's _compute_indices_weights_aa:
 * when shrinking, the filter is stretched by the scale so every input pixel contributes.
 */
function antialiasTaps(inSize: number, outSize: number, filter: 'bilinear' | 'bicubic'): Taps {
  const { fn, support: base } = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(scale, 1);
  const support = base * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const start = new Int32Array(outSize), size = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale;
    // C's (int) truncates toward zero; center - support + 0.5 can be negative.
    const xmin = Math.max(Math.trunc(center - support + 0.5), 0);
    const xmax = Math.min(Math.trunc(center + support + 0.5), inSize) - xmin;
    let total = 0;
    for (let x = 0; x < xmax; x++) {
      const w = fn((x + xmin - center + 0.5) / filterscale);
      weights[i * ksize + x] = w;
      total += w;
    }
    if (total !== 0) for (let x = 0; x < xmax; x++) weights[i * ksize + x] /= total;
    start[i] = xmin;
    size[i] = xmax;
  }
  return { start, size, ksize, weights };
}

/**
 * torch.nn.functional.interpolate without antialias, align_corners=False: bilinear clamps the
 * source coordinate at 0; bicubic uses a = -0.75 and replicates the border taps.
 * Expressed as taps over a contiguous window so both paths share the separable loop.
 */
function plainTaps(inSize: number, outSize: number, filter: ResizeFilter): Taps {
  const scale = inSize / outSize;
  const ksize = filter === 'bicubic' ? 4 : 2;
  const start = new Int32Array(outSize), size = new Int32Array(outSize);
  const weights = new Float64Array(outSize * ksize);
  // Border replication maps several taps to one index; accumulate them into a window
  // [lo, hi] so the weights stay dense.
  for (let i = 0; i < outSize; i++) {
    const idx: number[] = [], w: number[] = [];
    if (filter === 'nearest') {
      idx.push(Math.min(Math.floor(i * scale), inSize - 1));
      w.push(1);
    } else if (filter === 'bilinear') {
      const src = Math.max((i + 0.5) * scale - 0.5, 0);
      const x0 = Math.min(Math.floor(src), inSize - 1);
      const x1 = Math.min(x0 + 1, inSize - 1);
      const l = src - x0;
      idx.push(x0, x1);
      w.push(1 - l, l);
    } else {
      const src = (i + 0.5) * scale - 0.5;
      const x0 = Math.floor(src);
      const t = src - x0;
      const cubic = cubicFilter(-0.75);
      for (let k = -1; k <= 2; k++) {
        idx.push(Math.min(Math.max(x0 + k, 0), inSize - 1));
        w.push(cubic(t - k));
      }
    }
    const lo = Math.min(...idx);
    start[i] = lo;
    size[i] = Math.max(...idx) - lo + 1;
    for (let k = 0; k < idx.length; k++) weights[i * ksize + idx[k] - lo] += w[k];
  }
  return { start, size, ksize, weights };
}

/**
 * Resizes an 8-bit image with PIL's Image.resize arithmetic (always antialiased; 22-bit fixed-point
 * weights; horizontal pass, then vertical, rounding to 8 bits in between), so the output matches
 * PIL byte for byte on RGB and L images. Channels are filtered independently (PIL premultiplies RGBA).
 * @example const small = resizeImage(img, 32, 32, 'bicubic');
 */
export function resizeImage(img: Image, width: number, height: number, filter: ResizeFilter = 'bilinear'): Image {
  checkImageSize(width, height, 'resize target');
  if (filter === 'nearest') return resizeNearestPil(img, width, height);
  let cur = img;
  if (width !== img.width) cur = pass8(cur, antialiasTaps(img.width, width, filter), true);
  if (height !== img.height) cur = pass8(cur, antialiasTaps(img.height, height, filter), false);
  return cur === img ? { ...img, data: img.data.slice() } : cur;
}

const PRECISION_BITS = 22;

function pass8(img: Image, taps: Taps, horizontal: boolean): Image {
  const { width: W, height: H, channels: C } = img;
  const outW = horizontal ? taps.start.length : W;
  const outH = horizontal ? H : taps.start.length;
  const kk = new Int32Array(taps.weights.length);
  for (let i = 0; i < kk.length; i++) {
    const v = taps.weights[i] * (1 << PRECISION_BITS);
    kk[i] = v < 0 ? Math.trunc(-0.5 + v) : Math.trunc(0.5 + v);
  }
  const out = new Uint8Array(outW * outH * C);
  const src = img.data;
  const half = 1 << (PRECISION_BITS - 1);
  const n = taps.start.length;
  for (let o = 0; o < n; o++) {
    const s0 = taps.start[o], len = taps.size[o], k0 = o * taps.ksize;
    const lines = horizontal ? H : W;
    for (let l = 0; l < lines; l++) {
      for (let c = 0; c < C; c++) {
        let ss = half;
        for (let k = 0; k < len; k++) {
          const p = horizontal ? (l * W + s0 + k) * C + c : ((s0 + k) * W + l) * C + c;
          ss += src[p] * kk[k0 + k];
        }
        const v = ss <= 0 ? 0 : ss >= 255 << PRECISION_BITS ? 255 : Math.floor(ss / (1 << PRECISION_BITS));
        out[(horizontal ? l * outW + o : o * outW + l) * C + c] = v;
      }
    }
  }
  return { width: outW, height: outH, channels: C, data: out };
}

/** PIL's NEAREST: source index = floor((i + 0.5) * scale). */
function resizeNearestPil(img: Image, width: number, height: number): Image {
  const C = img.channels;
  const out = new Uint8Array(width * height * C);
  const sx = img.width / width, sy = img.height / height;
  for (let y = 0; y < height; y++) {
    const yy = Math.min(Math.floor((y + 0.5) * sy), img.height - 1);
    for (let x = 0; x < width; x++) {
      const xx = Math.min(Math.floor((x + 0.5) * sx), img.width - 1);
      for (let c = 0; c < C; c++) out[(y * width + x) * C + c] = img.data[(yy * img.width + xx) * C + c];
    }
  }
  return { width, height, channels: C, data: out };
}

/**
 * Resizes a float [C, H, W] array like torch.nn.functional.interpolate(x[None], size=(height, width),
 * mode, align_corners=False, antialias). With antialias (the default) this is also torchvision's
 * resize on float tensors. Values are not clamped: bicubic can overshoot.
 * @example const x224 = resizeCHW(imageToCHW(img), 224, 224, { filter: 'bilinear' });
 */
export function resizeCHW(
  x: CHW,
  height: number,
  width: number,
  opts: { filter?: ResizeFilter; antialias?: boolean } = {},
): CHW {
  const filter = opts.filter ?? 'bilinear';
  const antialias = opts.antialias ?? true;
  checkImageSize(width, height, 'resize target');
  const [C, H, W] = x.shape;
  const taps = (inS: number, outS: number) =>
    antialias && filter !== 'nearest' ? antialiasTaps(inS, outS, filter) : plainTaps(inS, outS, filter);
  let data = x.data;
  let curW = W;
  if (width !== W) {
    const t = taps(W, width);
    const out = new Float32Array(C * H * width);
    for (let row = 0; row < C * H; row++) {
      for (let o = 0; o < width; o++) {
        let s = 0;
        for (let k = 0; k < t.size[o]; k++) s += data[row * W + t.start[o] + k] * t.weights[o * t.ksize + k];
        out[row * width + o] = s;
      }
    }
    data = out;
    curW = width;
  }
  if (height !== H) {
    const t = taps(H, height);
    const out = new Float32Array(C * height * curW);
    for (let c = 0; c < C; c++) {
      for (let o = 0; o < height; o++) {
        for (let xx = 0; xx < curW; xx++) {
          let s = 0;
          for (let k = 0; k < t.size[o]; k++) {
            s += data[(c * H + t.start[o] + k) * curW + xx] * t.weights[o * t.ksize + k];
          }
          out[(c * height + o) * curW + xx] = s;
        }
      }
    }
    data = out;
  }
  return { data: data === x.data ? x.data.slice() : data, shape: [C, height, width] };
}
