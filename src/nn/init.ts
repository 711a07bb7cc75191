// Parameter initialisers, matching PyTorch's defaults where a layer has one.
import { defaultGenerator, type Tensor } from '../tensor/index.js';
import type { Init } from './module.js';

/** Uniform(-bound, bound). */
export const uniform = (bound: number): Init => (t: Tensor) => {
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = bound * (2 * defaultGenerator.uniform() - 1);
};

/** Normal(mean, std). */
export const normal = (std = 1, mean = 0): Init => (t: Tensor) => {
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = mean + std * defaultGenerator.normal();
};

/** Normal(mean, std) redrawn until inside [mean - 2 std, mean + 2 std] (timm's trunc_normal_ with a, b = +-2 std). */
export const truncNormal = (std = 0.02, mean = 0): Init => (t: Tensor) => {
  const d = t.data;
  for (let i = 0; i < d.length; i++) {
    let z: number;
    do z = defaultGenerator.normal(); while (Math.abs(z) > 2);
    d[i] = mean + std * z;
  }
};

export const constant = (value: number): Init => (t: Tensor) => {
  t.data.fill(value);
};

export const zerosInit: Init = constant(0);
export const onesInit: Init = constant(1);

/**
 * torch.nn.Linear / Conv2d default: kaiming_uniform_(a=sqrt(5)), which is U(-1/sqrt(fanIn), 1/sqrt(fanIn));
 * biases use the same bound.
 */
export const fanInUniform = (fanIn: number): Init => uniform(1 / Math.sqrt(Math.max(fanIn, 1)));

/** The identity matrix, for a square [n, n] weight (a Linear that starts as the identity map). */
export const identityInit: Init = (t: Tensor) => {
  const [r, c] = t.shape;
  if (t.shape.length !== 2 || r !== c) throw new Error(`identityInit needs a square matrix, got [${t.shape.join(', ')}]`);
  t.data.fill(0);
  for (let i = 0; i < r; i++) t.data[i * c + i] = 1;
};
