// Reverse-mode automatic differentiation. Every differentiable op records a GradNode on its
// output: the inputs and a closure that maps the output's gradient to the inputs' gradients.
// backward() walks the graph in reverse topological order, accumulates gradients, frees each
// intermediate gradient once used, and drops the graph as it goes.
import { keep, tidy } from './memory.js';
import { Tensor } from './tensor.js';
import { shapesEqual, formatShape } from './shape.js';

export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradients of the inputs (null where an input needs none), each shaped like its input. */
  backward(grad: Tensor): (Tensor | null)[];
  /** Tensors saved only for backward (op-internal), disposed once backward has run. */
  readonly saved?: Tensor[];
}

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/**
 * Runs fn without recording gradients.
 *
 * @example
 * const y = noGrad(() => model.forward(x));
 */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

/**
 * tidy(fn) when gradients are off, fn() when they are on: for a layer's forward, so that at
 * inference its intermediates are freed as it returns (an SDXL-size UNet step would otherwise
 * hold every activation until the step's own tidy ends), while training keeps what backward needs.
 *
 * @example
 * forward(x: Tensor): Tensor { return tidyNoGrad(() => this.conv2.forward(silu(this.conv1.forward(x)))); }
 */
export function tidyNoGrad<T>(fn: () => T): T {
  return gradEnabled ? fn() : tidy(fn);
}

/** Records `backward` on `out` when any input requires grad; returns out. */
export function record(
  out: Tensor, op: string, inputs: readonly Tensor[], backward: (g: Tensor) => (Tensor | null)[], saved?: Tensor[],
): Tensor {
  if (gradEnabled && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradNode = { op, inputs, backward, saved };
  } else if (saved) {
    for (const s of saved) s.dispose();
  }
  return out;
}

/** Whether input i of a node needs a gradient. */
export function needsGrad(t: Tensor): boolean {
  return t.requiresGrad;
}

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long sequences of ops) must not overflow the stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1];
    const [t, i] = top;
    const inputs = t.gradNode?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const child = inputs[i];
      if (child.requiresGrad && !seen.has(child)) {
        seen.add(child);
        stack.push([child, 0]);
      }
    } else {
      stack.pop();
      order.push(t);
    }
  }
  return order.reverse();
}

/**
 * Computes gradients of `root` (a scalar unless `grad` is given) with respect to every tensor
 * that requires grad, accumulating into their `.grad`. The graph is freed afterwards.
 */
export function backward(root: Tensor, grad?: Tensor): void {
  if (!root.requiresGrad) throw new Error('backward() on a tensor that does not require grad');
  if (!grad && root.size !== 1) {
    throw new Error(`backward() without a gradient needs a scalar, got ${formatShape(root.shape)}`);
  }
  const order = topoOrder(root);
  const grads = new Map<Tensor, Tensor>();
  tidy(() => {
    const g0 = grad ? grad : Tensor.empty(root.shape);
    if (!grad) g0.storage.data.fill(1, g0.offset, g0.offset + 1);
    grads.set(root, g0);
    const prevEnabled = gradEnabled;
    gradEnabled = false;
    try {
      for (const t of order) {
        const g = grads.get(t);
        grads.delete(t);
        if (!g) continue;
        const node = t.gradNode;
        if (!node) {
          accumulateLeaf(t, g);
          continue;
        }
        const inGrads = node.backward(g);
        for (let i = 0; i < node.inputs.length; i++) {
          const x = node.inputs[i], gx = inGrads[i];
          if (!gx || !x.requiresGrad) continue;
          if (!shapesEqual(gx.shape, x.shape)) {
            throw new Error(`internal: ${node.op} produced gradient ${formatShape(gx.shape)} for input ${formatShape(x.shape)}`);
          }
          const prev = grads.get(x);
          // A view per use, so disposing one accumulated gradient never frees another's storage.
          const own = gx.restride(gx.shape, gx.strides, gx.offset);
          grads.set(x, prev ? addGrads(prev, own) : own);
        }
        if (g !== grad) g.dispose();
        if (node.saved) for (const s of node.saved) s.dispose();
        // Not null: a freed intermediate must not pass for a leaf in a later backward() (that
        // would silently give the real leaves no gradient and keep a .grad on the intermediate).
        t.gradNode = freedNode(node.op);
      }
    } finally {
      gradEnabled = prevEnabled;
    }
  });
}

function freedNode(op: string): GradNode {
  return {
    op,
    inputs: [],
    backward() {
      throw new Error(`backward() through a graph that was already freed (at ${op}): run the forward again for a second backward`);
    },
  };
}

let addImpl: ((a: Tensor, b: Tensor) => Tensor) | null = null;
let addInPlaceImpl: ((a: Tensor, b: Tensor) => void) | null = null;
let copyImpl: ((a: Tensor) => Tensor) | null = null;

/** Wires the ops autograd needs (set once by the ops module, avoiding an import cycle). */
export function setAutogradOps(ops: {
  add: (a: Tensor, b: Tensor) => Tensor;
  addInPlace: (a: Tensor, b: Tensor) => void;
  contiguousCopy: (a: Tensor) => Tensor;
}): void {
  addImpl = ops.add;
  addInPlaceImpl = ops.addInPlace;
  copyImpl = ops.contiguousCopy;
}

function addGrads(a: Tensor, b: Tensor): Tensor {
  const s = addImpl!(a, b);
  a.dispose();
  b.dispose();
  return s;
}

function accumulateLeaf(t: Tensor, g: Tensor): void {
  if (t.grad && !t.grad.isDisposed) {
    addInPlaceImpl!(t.grad, g);
    g.dispose();
    return;
  }
  const own = g.isContiguous && g.size === g.storage.data.length && g.storage.refs === 1 ? g : copyImpl!(g);
  if (own !== g) g.dispose();
  t.grad = keep(own);
}

