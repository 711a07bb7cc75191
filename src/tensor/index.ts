// The public tensor API: the Tensor class, creation, ops, autograd and memory scopes.
import './methods.js';

export { Tensor, type Shape, type DType } from './tensor.js';
export { noGrad, isGradEnabled, backward, tidyNoGrad } from './autograd.js';
export { tidy, tidyAsync, keep, memoryStats, emptyCache, type PoolStats } from './memory.js';
export { Generator, manualSeed, defaultGenerator } from './random.js';
export * from './creation.js';
export * from './ops/elementwise.js';
export * from './ops/reduce.js';
export {
  contiguous, clone, reshape, flatten, permute, transpose, narrow, slice, expand, unsqueeze, squeeze,
  sumToShape, cat, stack, split, chunk,
} from './ops/views.js';
export * from './ops/linalg.js';
export * from './ops/nn.js';
export * from './ops/conv.js';
export * from './ops/attention.js';
export * from './ops/loss.js';
export { broadcastShapes, sizeOf, formatShape } from './shape.js';
