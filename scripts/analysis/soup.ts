// A weight average ("model soup", stochastic weight averaging across runs) of checkpoints of one
// architecture: every tensor the mean of the inputs' (optionally weighted), written as float16
// like a bundle's. For continuation runs of one model (bundle v12's and v13's t2i MLLMs: v13 is
// v12 trained 3500 steps more), to ask whether their average generalises better than either.
//   node --import tsx scripts/analysis/soup.ts <out.safetensors> <a.safetensors> <b.safetensors> [...] [--weights 1,1]
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import * as T from '../../src/tensor/index.js';

const args = process.argv.slice(2);
const wi = args.indexOf('--weights');
const weightsArg = wi >= 0 ? args.splice(wi, 2)[1] : undefined;
const [out, ...inputs] = args;
if (!out || inputs.length < 2) throw new Error('usage: soup.ts <out.safetensors> <a.safetensors> <b.safetensors> [...] [--weights 1,1,...]');
const w = weightsArg ? weightsArg.split(',').map(Number) : inputs.map(() => 1);
if (w.length !== inputs.length || w.some((x) => !(x >= 0))) throw new Error(`--weights needs ${inputs.length} non-negative numbers`);
const total = w.reduce((a, b) => a + b, 0);
const files = inputs.map((p) => readSafetensors(p));
const keys = [...files[0].keys()];
for (const [i, f] of files.entries()) {
  if (f.size !== keys.length || keys.some((k) => !f.has(k) || f.get(k)!.shape.join() !== files[0].get(k)!.shape.join())) {
    throw new Error(`${inputs[i]} does not have the keys and shapes of ${inputs[0]}`);
  }
}
const soup = new Map(keys.map((k) => [k, T.tidy(() => files.map((f, i) => f.get(k)!.mul(w[i] / total)).reduce((a, b) => a.add(b)).keep())]));
writeSafetensors(out, soup, { dtype: 'F16', metadata: { format: 'pt' } });
process.stdout.write(`wrote the average of ${inputs.length} checkpoints (${keys.length} tensors, weights ${w.join(',')}) to ${out}\n`);
