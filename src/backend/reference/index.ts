import type { Backend } from '../backend.js';
import * as elementwise from './elementwise.js';
import * as nn from './nn.js';

/** The plain TypeScript backend: every kernel, written for clarity; the oracle in tests. */
export const referenceBackend: Backend = {
  name: 'reference',
  fill: elementwise.fill,
  copyStrided: elementwise.copyStrided,
  unary: elementwise.unary,
  unaryGrad: elementwise.unaryGrad,
  binary: elementwise.binary,
  where: elementwise.where,
  reduce: elementwise.reduce,
  argmax: elementwise.argmax,
  gemm: nn.gemm,
  softmax: nn.softmax,
  softmaxGrad: nn.softmaxGrad,
  layerNorm: nn.layerNorm,
  layerNormGrad: nn.layerNormGrad,
  rmsNorm: nn.rmsNorm,
  rmsNormGrad: nn.rmsNormGrad,
  groupNorm: nn.groupNorm,
  groupNormGrad: nn.groupNormGrad,
  conv2d: nn.conv2d,
  conv2dGrad: nn.conv2dGrad,
  avgPool2d: nn.avgPool2d,
  avgPool2dGrad: nn.avgPool2dGrad,
  upsampleNearest: nn.upsampleNearest,
  upsampleNearestGrad: nn.upsampleNearestGrad,
  attention: nn.attention,
  attentionGrad: nn.attentionGrad,
  embedding: nn.embedding,
  embeddingGrad: nn.embeddingGrad,
  crossEntropy: nn.crossEntropy,
  crossEntropyGrad: nn.crossEntropyGrad,
  rope: nn.rope,
  adamw: nn.adamw,
};
