// PyTorch-style methods on Tensor, each delegating to the op function of the same name.
import { backward as runBackward } from './autograd.js';
import { keep } from './memory.js';
import * as ew from './ops/elementwise.js';
import * as la from './ops/linalg.js';
import * as nn from './ops/nn.js';
import * as red from './ops/reduce.js';
import * as vw from './ops/views.js';
import { Tensor } from './tensor.js';

declare module './tensor.js' {
  interface Tensor {
    add(b: Tensor | number): Tensor;
    sub(b: Tensor | number): Tensor;
    mul(b: Tensor | number): Tensor;
    div(b: Tensor | number): Tensor;
    pow(b: Tensor | number): Tensor;
    neg(): Tensor;
    exp(): Tensor;
    log(): Tensor;
    sqrt(): Tensor;
    rsqrt(): Tensor;
    tanh(): Tensor;
    sigmoid(): Tensor;
    abs(): Tensor;
    relu(): Tensor;
    square(): Tensor;
    clamp(min?: number, max?: number): Tensor;
    matmul(b: Tensor): Tensor;
    sum(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    mean(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    max(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    min(dims?: number | readonly number[], keepdim?: boolean): Tensor;
    argmax(dim?: number, keepdim?: boolean): Tensor;
    softmax(dim?: number): Tensor;
    logSoftmax(dim?: number): Tensor;
    reshape(shape: readonly number[]): Tensor;
    view(shape: readonly number[]): Tensor;
    flatten(startDim?: number, endDim?: number): Tensor;
    permute(dims: readonly number[]): Tensor;
    transpose(dim0?: number, dim1?: number): Tensor;
    narrow(dim: number, start: number, length: number): Tensor;
    slice(dim: number, start?: number, end?: number): Tensor;
    expand(shape: readonly number[]): Tensor;
    unsqueeze(dim: number): Tensor;
    squeeze(dim?: number): Tensor;
    contiguous(): Tensor;
    clone(): Tensor;
    split(size: number | readonly number[], dim?: number): Tensor[];
    chunk(chunks: number, dim?: number): Tensor[];
    /** Backpropagates from this (scalar) tensor into every tensor that requires grad. */
    backward(grad?: Tensor): void;
    /** A view sharing storage but cut from the graph. */
    detach(): Tensor;
    /** Marks this tensor as a leaf that accumulates gradients; returns this. */
    requiresGrad_(flag?: boolean): Tensor;
    /** Exempts this tensor from every tidy() scope; returns this. */
    keep(): Tensor;
  }
}

const P = Tensor.prototype;
P.add = function (b) { return ew.add(this, b); };
P.sub = function (b) { return ew.sub(this, b); };
P.mul = function (b) { return ew.mul(this, b); };
P.div = function (b) { return ew.div(this, b); };
P.pow = function (b) { return ew.pow(this, b); };
P.neg = function () { return ew.neg(this); };
P.exp = function () { return ew.exp(this); };
P.log = function () { return ew.log(this); };
P.sqrt = function () { return ew.sqrt(this); };
P.rsqrt = function () { return ew.rsqrt(this); };
P.tanh = function () { return ew.tanh(this); };
P.sigmoid = function () { return ew.sigmoid(this); };
P.abs = function () { return ew.abs(this); };
P.relu = function () { return ew.relu(this); };
P.square = function () { return ew.square(this); };
P.clamp = function (min, max) { return ew.clamp(this, min, max); };
P.matmul = function (b) { return la.matmul(this, b); };
P.sum = function (dims, keepdim) { return red.sum(this, dims, keepdim); };
P.mean = function (dims, keepdim) { return red.mean(this, dims, keepdim); };
P.max = function (dims, keepdim) { return red.max(this, dims, keepdim); };
P.min = function (dims, keepdim) { return red.min(this, dims, keepdim); };
P.argmax = function (dim, keepdim) { return red.argmax(this, dim, keepdim); };
P.softmax = function (dim) { return nn.softmax(this, dim); };
P.logSoftmax = function (dim) { return nn.logSoftmax(this, dim); };
P.reshape = function (shape) { return vw.reshape(this, shape); };
P.view = function (shape) { return vw.reshape(this, shape); };
P.flatten = function (s, e) { return vw.flatten(this, s, e); };
P.permute = function (dims) { return vw.permute(this, dims); };
P.transpose = function (a, b) { return vw.transpose(this, a, b); };
P.narrow = function (d, s, l) { return vw.narrow(this, d, s, l); };
P.slice = function (d, s, e) { return vw.slice(this, d, s, e); };
P.expand = function (shape) { return vw.expand(this, shape); };
P.unsqueeze = function (d) { return vw.unsqueeze(this, d); };
P.squeeze = function (d) { return vw.squeeze(this, d); };
P.contiguous = function () { return vw.contiguous(this); };
P.clone = function () { return vw.clone(this); };
P.split = function (size, dim) { return vw.split(this, size, dim); };
P.chunk = function (n, dim) { return vw.chunk(this, n, dim); };
P.backward = function (grad) { runBackward(this, grad); };
P.detach = function () { return this.restride(this.shape, this.strides, this.offset); };
P.requiresGrad_ = function (flag = true) {
  if (flag && this.dtype !== 'float32') throw new TypeError('only float32 tensors can require grad');
  if (this.gradNode) throw new Error('requiresGrad_ on a non-leaf tensor: detach() it first');
  this.requiresGrad = flag;
  return this;
};
P.keep = function () { return keep(this); };
