// LPIPS v0.1 with the AlexNet trunk (Zhang et al. 2018, "The Unreasonable Effectiveness of Deep
// Features as a Perceptual Metric"): features at the five ReLUs of torchvision's AlexNet, each
// unit-normalised over channels, squared differences weighted by a learned 1x1 conv (lin0..4),
// averaged over space and summed over the taps. Field names follow the official checkpoint
// layout (richzhang/PerceptualSimilarity, lpips/lpips.py and lpips/pretrained_networks.py), so
// a converted state dict loads as is.
import { existsSync } from 'node:fs';
import { loadCheckpoint } from '../io/checkpoint.js';
import { Conv2d, deferInit, Module } from '../nn/index.js';
import * as T from '../tensor/index.js';
import type { Tensor } from '../tensor/index.js';

export interface LpipsConfig {
  /** Channels at the five taps; the official AlexNet has [64, 192, 384, 256, 256]. */
  readonly channels: readonly [number, number, number, number, number];
}

export const lpipsAlex: LpipsConfig = Object.freeze({ channels: Object.freeze([64, 192, 384, 256, 256] as const) });

/** Smallest side AlexNet's two 3x3 stride-2 max pools accept after the stride-4 conv. */
export const LPIPS_MIN_SIZE = 31;

// ScalingLayer: ImageNet statistics in [-1, 1] units; stored in the checkpoint as buffers
// scaling_layer.shift / scaling_layer.scale, constants here.
const SHIFT = [-0.030, -0.088, -0.188];
const SCALE = [0.458, 0.448, 0.450];
const NORM_EPS = 1e-10; // lpips.normalize_tensor: x / (||x||_2 + eps)

/**
 * A torch Sequential cut down to its one parameterised layer, kept at its original index so the
 * keys match (`slice2.3.weight`, `model.1.weight`); the ReLUs, pools and dropout it also held
 * have no parameters and are applied by the owner.
 */
class Indexed<M extends Module> extends Module {
  constructor(index: number, readonly layer: M) {
    super();
    this.module(String(index), layer);
  }
}

/**
 * AlexNet `features[0:12]` split as lpips.pretrained_networks.alexnet: slice1 = conv0 relu1,
 * slice2 = pool2 conv3 relu4, slice3 = pool5 conv6 relu7, slice4 = conv8 relu9,
 * slice5 = conv10 relu11; each slice's output is a tap.
 */
export class AlexTrunk extends Module {
  readonly slices: Indexed<Conv2d>[];

  constructor(ch: LpipsConfig['channels']) {
    super();
    const convs: [number, Conv2d][] = [
      [0, new Conv2d(3, ch[0], 11, { stride: 4, padding: 2 })],
      [3, new Conv2d(ch[0], ch[1], 5, { padding: 2 })],
      [6, new Conv2d(ch[1], ch[2], 3, { padding: 1 })],
      [8, new Conv2d(ch[2], ch[3], 3, { padding: 1 })],
      [10, new Conv2d(ch[3], ch[4], 3, { padding: 1 })],
    ];
    this.slices = convs.map(([i, conv], k) => this.module(`slice${k + 1}`, new Indexed(i, conv)));
  }

  /** x: [B, 3, H, W] (scaled) -> five taps; for H = W = 64: 15x15, 7x7, 3x3, 3x3, 3x3. */
  forward(x: Tensor): Tensor[] {
    const taps: Tensor[] = [];
    let h = x;
    for (let k = 0; k < 5; k++) {
      if (k === 1 || k === 2) h = T.maxPool2d(h, 3, 2);
      h = T.relu(this.slices[k].layer.forward(h));
      taps.push(h);
    }
    return taps;
  }
}

/** lpips.NetLinLayer: model.0 is a Dropout (identity at eval), model.1 a bias-free 1x1 conv to one channel. */
export class NetLinLayer extends Module {
  readonly model: Indexed<Conv2d>;

  constructor(channels: number) {
    super();
    this.model = this.module('model', new Indexed(1, new Conv2d(channels, 1, 1, { bias: false })));
  }

  forward(x: Tensor): Tensor {
    return this.model.layer.forward(x);
  }
}

/** Unit length over channels: x [B, C, H, W] / (||x||_C + 1e-10). */
function normalizeChannels(x: Tensor): Tensor {
  return x.div(x.square().sum(1, true).sqrt().add(NORM_EPS));
}

/**
 * The LPIPS network: `net.slice1.0.weight` ... `net.slice5.10.bias`, `lin0.model.1.weight` ...
 * `lin4.model.1.weight`; the checkpoint's `scaling_layer.*` buffers are accepted and ignored.
 *
 * @example
 * const net = new Lpips().eval();
 * net.forward(x0, x1); // x0, x1 [B, 3, 64, 64] in [-1, 1] -> [B]
 */
export class Lpips extends Module {
  readonly net: AlexTrunk;
  readonly lins: NetLinLayer[];

  constructor(readonly config: LpipsConfig = lpipsAlex) {
    super();
    this.net = this.module('net', new AlexTrunk(config.channels));
    this.lins = config.channels.map((c, k) => this.module(`lin${k}`, new NetLinLayer(c)));
    this.ignoredKeys = [/^scaling_layer\.(shift|scale)$/];
  }

  /** x0, x1: [B, 3, H, W] in [-1, 1] (the official forward without normalize) -> distances [B]. */
  forward(x0: Tensor, x1: Tensor): Tensor {
    const shift = T.fromArray(SHIFT, [1, 3, 1, 1]), scale = T.fromArray(SCALE, [1, 3, 1, 1]);
    const f0 = this.net.forward(x0.sub(shift).div(scale));
    const f1 = this.net.forward(x1.sub(shift).div(scale));
    let total: Tensor | null = null;
    for (let k = 0; k < 5; k++) {
      const diff = normalizeChannels(f0[k]).sub(normalizeChannels(f1[k])).square();
      const d = this.lins[k].forward(diff).mean([1, 2, 3]); // [B, 1, h, w] -> [B]
      total = total ? total.add(d) : d;
    }
    return total!;
  }
}

/**
 * Builds an LPIPS network and loads a safetensors state dict with the official key layout
 * (torchvision AlexNet `features` under net.sliceK.I, lin weights from lpips/weights/v0.1/alex.pth).
 *
 * @example
 * const net = loadLpipsWeights('models/lpips/alex_v0.1.safetensors');
 */
export function loadLpipsWeights(path: string, config: LpipsConfig = lpipsAlex): Lpips {
  if (!existsSync(path)) {
    throw new Error(
      `LPIPS weights not found at ${path}: convert LPIPS v0.1 (alex) to safetensors, with the AlexNet ` +
      `features as net.slice1.0.* ... net.slice5.10.* and the linear layers as lin0.model.1.weight ... lin4.model.1.weight`,
    );
  }
  const net = deferInit(() => new Lpips(config)).eval().freeze();
  loadCheckpoint(net, path);
  return net;
}

/**
 * LPIPS distance of each image pair: a, b [B, 3, H, W] in [0, 1] (like psnr and ssim; mapped to
 * [-1, 1] as LPIPS's normalize=True does), H and W at least 31. Identical images give 0.
 *
 * @example
 * const net = loadLpipsWeights('models/lpips/alex_v0.1.safetensors');
 * lpips(decoded, x, net); // [0.12, 0.08, ...]
 */
export function lpips(a: Tensor, b: Tensor, net: Lpips): number[] {
  if (a.ndim !== 4 || b.ndim !== 4 || a.shape[1] !== 3) {
    throw new RangeError(`lpips: expected [B, 3, H, W] images, got ${T.formatShape(a.shape)} and ${T.formatShape(b.shape)}`);
  }
  if (a.shape.some((d, i) => d !== b.shape[i])) throw new RangeError(`lpips: image shapes differ: ${T.formatShape(a.shape)} vs ${T.formatShape(b.shape)}`);
  const [h, w] = [a.shape[2], a.shape[3]];
  if (h < LPIPS_MIN_SIZE || w < LPIPS_MIN_SIZE) {
    throw new RangeError(`lpips: images must be at least ${LPIPS_MIN_SIZE}x${LPIPS_MIN_SIZE} for AlexNet's pools, got ${h}x${w}`);
  }
  return T.tidy(() => T.noGrad(() => Array.from(net.forward(a.mul(2).sub(1), b.mul(2).sub(1)).toArray())));
}
