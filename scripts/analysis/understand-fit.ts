// Can the understanding MLLM read its image input at all? Fine-tune it on the questions about a
// few training images only (every question kind, several phrasings) and ask them again every 100
// steps: if it learns to answer them, the image features reach the answer and the shortfall on
// held-out images is how many times each image is seen, not the architecture.
//   node --import tsx scripts/analysis/understand-fit.ts [runs] [images] [steps] [lr]
import { loadEmojiWorld } from '../../src/data/emoji/world.js';
import { Rng } from '../../src/data/rng.js';
import { makeSample, taskItems, type QuestionKind } from '../../src/data/tasks/samplers.js';
import { IMAGE_SLOTS } from '../../src/models/puma/mllm.js';
import { questionParts } from '../../src/models/puma/mllm-prompt.js';
import { normalizeAnswer } from '../../src/eval/understanding.js';
import { AdamW } from '../../src/nn/optim.js';
import * as T from '../../src/tensor/index.js';
import { runTokenizer } from '../../src/train/recipes/common.js';
import { encodeRefs, loadFrozenEncoder, loadTrainedMllm, samplesToParts } from '../../src/train/recipes/mllm.js';

const [runs = 'runs', imagesArg = '32', stepsArg = '300', lrArg = '5e-4'] = process.argv.slice(2);
const world = loadEmojiWorld();
const tok = runTokenizer(world, runs);
const encoder = loadFrozenEncoder(tok, runs);
const mllm = loadTrainedMllm(`${runs}/mllm-understand`).train();
const rng = new Rng('understand-fit');
const chosen = new Set(rng.shuffle(world.imagesIn('train').map((i) => i.id)).slice(0, Number(imagesArg)));
const items = taskItems(world, 'qa', 'train').filter((it) => chosen.has((it as { image: number }).image)) as { image: number; kind: QuestionKind }[];
console.log(`${chosen.size} training images, ${items.length} questions; constant lr ${lrArg} (projector ${2 * Number(lrArg)}), batch 8`);
const lr = Number(lrArg);
const opt = new AdamW([
  { params: [...mllm.projector.parameters(), ...mllm.regression_head.parameters()], lr: 2 * lr },
  { params: mllm.llm.parameters(), lr },
], { beta2: 0.95, weightDecay: 0.01 });
const features = new Map<number, T.Tensor>();
const featuresOf = (id: number) => {
  if (!features.has(id)) features.set(id, T.tidy(() => encodeRefs(encoder, world, [{ image: id }])[0].reshape([IMAGE_SLOTS, -1]).keep()));
  return features.get(id)!;
};
/** Exact-match accuracy per question kind, each question in one fixed phrasing, greedy answers. */
const score = () => T.noGrad(() => {
  mllm.eval();
  const hits = new Map<string, [number, number]>();
  for (const it of items) {
    const s = makeSample(world, 'qa', 'train', it, new Rng(`understand-fit:${it.image}:${it.kind}`));
    const answer = T.tidy(() => tok.decode(mllm.generateText(questionParts(tok, featuresOf(it.image), String(s.meta.question)), { maxTokens: 24, greedy: true })));
    const [h, n] = hits.get(it.kind) ?? [0, 0];
    hits.set(it.kind, [h + (normalizeAnswer(answer) === normalizeAnswer(String(s.meta.answer)) ? 1 : 0), n + 1]);
  }
  mllm.train();
  const all = [...hits.values()].reduce(([a, b], [h, n]) => [a + h, b + n], [0, 0]);
  return `all ${(100 * all[0] / all[1]).toFixed(0)}%  ` + [...hits].sort().map(([k, [h, n]]) => `${k} ${(100 * h / n).toFixed(0)}%`).join('  ');
});
console.log(`step 0    ${score()}`);
for (let i = 1; i <= Number(stepsArg); i++) {
  const samples = Array.from({ length: 8 }, () => makeSample(world, 'qa', 'train', rng.pick(items), rng));
  T.tidy(() => mllm.loss(samplesToParts(samples, tok, encoder, world)).loss.backward());
  opt.step();
  opt.zeroGrad();
  if (i % 100 === 0) console.log(`step ${String(i).padEnd(5)} ${score()}`);
}
