// PUMA's autoregressive MLLM (paper 3.3): a LLaMA backbone reads text tokens and projected image
// features in one sequence and writes both: text by the LM head, image features f4 -> f0 by a
// regression head on the hidden states. An image is `[IMG] f4 f3 f2 f1 f0 [/IMG]`, 341 feature
// slots coarse to fine.
import { LlamaForCausalLM, KVCache } from '../llama/model.js';
import { Embedding, Linear, Module, assertLoadable, compareKeys, identityInit, normal, reinit, zerosInit, type LoadResult } from '../../nn/index.js';
import {
  cat, crossEntropy, fromArray, gelu, keep, noGrad, tidy, type Generator, type Tensor,
} from '../../tensor/index.js';
import { NUM_SCALES, SCALE_TOKENS } from './encoder.js';
import type { MllmConfig } from './mllm-config.js';

/** Feature slots of one image: 1 + 4 + 16 + 64 + 256. */
export const IMAGE_SLOTS = 341;
/** Where scale k (0 = f0 .. 4 = f4) starts in the coarse-to-fine slots: f4 0, f3 1, f2 5, f1 21, f0 85. */
export const SCALE_OFFSETS: readonly number[] = SCALE_TOKENS.map((_, k) =>
  SCALE_TOKENS.slice(k + 1).reduce((a, b) => a + b, 0));
/** alpha_k of the feature loss for f0..f4 (paper: 1024, 512, 64, 8, 1 for f4, f3, f2, f1, f0). */
export const SCALE_WEIGHTS: readonly number[] = [1, 8, 64, 512, 1024];
/** Weight of the text cross-entropy (paper A.2: 0.02; the image MSE has weight 1). */
export const TEXT_LOSS_WEIGHT = 0.02;
/**
 * alpha_k for the emoji-world model, f0..f4 (8, 4, 2, 1, 1 for f4..f0). The paper's 1024:1 suits
 * CLIP-L features; the mini CLIP's scales vary alike (the best constant guess scores MSE 0.19,
 * 0.22, 0.33, 0.42, 0.51 for f4..f0), and under 1024:1 pretraining left f0 worse than that guess
 * (2.05x). These keep the coarse-first emphasis and give every scale a share of the gradient.
 */
export const EMOJI_SCALE_WEIGHTS: readonly number[] = [1, 1, 2, 4, 8];

/**
 * A piece of an MLLM sequence: token ids (learned where `loss`), or the 341 feature slots of one
 * image, features [341, C] coarse to fine (f4..f0, see coarseToFine). Target images are
 * regressed; input images are only read. The `[IMG]` / `[/IMG]` tokens around an image are
 * ordinary token parts, as tokenizeSample writes them. `fed` ([341, C]), when given, is read in
 * place of `features` while `features` stay the regression targets (training on the model's own
 * predictions, see feedOwnPredictions).
 */
export type MllmPart =
  | { kind: 'tokens'; ids: readonly number[]; loss: boolean }
  | { kind: 'image'; features: Tensor; role: 'input' | 'target'; fed?: Tensor; edgeMap?: boolean };

/** Where everything sits in one sequence. */
export interface SequenceLayout {
  length: number;
  /** Token id per position; -1 on feature slots. */
  ids: Int32Array;
  /** Positions whose token carries loss (each predicted from the position before it). */
  lossPositions: number[];
  /** Images by their first feature slot; a target's slot i is predicted from position start - 1 + i. */
  images: { start: number; role: 'input' | 'target'; features: Tensor; fed?: Tensor; edgeMap?: boolean }[];
}

/**
 * Positions of tokens and feature slots of a sequence.
 *
 * @example
 * layoutSequence([{ kind: 'tokens', ids: [bos, imgStart], loss: false },
 *   { kind: 'image', features: f, role: 'target' }, { kind: 'tokens', ids: [imgEnd, eos], loss: true }]);
 * // { length: 345, images: [{ start: 2, ... }], lossPositions: [343, 344] }
 */
export function layoutSequence(parts: readonly MllmPart[]): SequenceLayout {
  const length = parts.reduce((n, p) => n + (p.kind === 'tokens' ? p.ids.length : IMAGE_SLOTS), 0);
  const ids = new Int32Array(length).fill(-1);
  const lossPositions: number[] = [];
  const images: SequenceLayout['images'] = [];
  let at = 0;
  for (const p of parts) {
    if (p.kind === 'tokens') {
      ids.set(p.ids, at);
      if (p.loss) for (let i = 0; i < p.ids.length; i++) if (at + i > 0) lossPositions.push(at + i);
      at += p.ids.length;
    } else {
      if (p.features.ndim !== 2 || p.features.shape[0] !== IMAGE_SLOTS) {
        throw new RangeError(`image features must be [${IMAGE_SLOTS}, C], got [${p.features.shape.join(', ')}]`);
      }
      if (p.role === 'target' && at === 0) throw new Error('a target image needs a position before it ([IMG]) to be predicted from');
      if (p.fed && (p.fed.ndim !== p.features.ndim || !p.fed.shape.every((d, i) => d === p.features.shape[i]))) {
        throw new RangeError(`fed features must be shaped as the features, [${p.features.shape.join(', ')}], got [${p.fed.shape.join(', ')}]`);
      }
      images.push({ start: at, role: p.role, features: p.features, fed: p.fed, edgeMap: p.edgeMap });
      at += IMAGE_SLOTS;
    }
  }
  return { length, ids, lossPositions, images };
}

/** LLaVA's mm_projector 'mlp2x_gelu': Linear, GELU, Linear (keys 0.* and 2.*). */
export class MlpProjector extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(inFeatures: number, hidden: number) {
    super();
    this.fc1 = this.module('0', new Linear(inFeatures, hidden));
    this.fc2 = this.module('2', new Linear(hidden, hidden));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(gelu(this.fc1.forward(x)));
  }
}

/** The loss and its parts, as PUMA-REFERENCE section 3 writes it. */
export interface MllmLoss {
  /** 0.02 * ce + sum_k alpha_k * mse[k]. */
  loss: Tensor;
  /** Mean cross-entropy over the learned text tokens (0 when there are none). */
  ce: number;
  /** Mean squared error of each scale f0..f4 over the batch's target images (NaN when there are none). */
  mse: number[];
  textTokens: number;
  targetImages: number;
}

export interface TeacherForward {
  /** Final hidden states [B, T, H]. */
  hidden: Tensor;
  layouts: SequenceLayout[];
}

export interface TextSampling {
  maxTokens?: number;
  /** Argmax decoding (also when temperature is 0). */
  greedy?: boolean;
  temperature?: number;
  /** Nucleus sampling: keep the most probable tokens up to this total probability. */
  topP?: number;
  generator?: Generator;
  /** Ids that end the answer (default: `</s>`). */
  stop?: readonly number[];
}

/** Options of PumaMLLM.generateImage. */
export interface ImageGeneration {
  /** The finest scale to write: 4 = only f4, 0 = all five (default). */
  upToScale?: number;
  /** f0..f4 ([1, n, C]) fed back in place of the regressed features (teacher forcing). */
  feed?: readonly (Tensor | null)[];
  /** Feed only the first n slots (coarse to fine: 1 = f4, 5 = f4 and f3, ...); the rest free-running. Default: all. */
  feedSlots?: number;
  /**
   * Classifier-free guidance on the prompt (not in the paper, whose regression is used as is):
   * each slot is f_u + guidance (f_c - f_u), f_u regressed after `unconditional`. 1 (default)
   * is the plain regression; above 1 it pushes the MSE head's mean-seeking output away from the
   * unconditional mean.
   */
  guidance?: number;
  /** The unconditional prompt (text ids, or parts starting with `<s>`); default: `<s>` alone. */
  unconditional?: readonly number[] | readonly MllmPart[];
}

/**
 * The MLLM: LLaMA (child 'llm', transformers' keys inside), `projector` (features -> hidden) and
 * `regression_head` (hidden -> features); with config.slotEmbedding also `slot_embedding`
 * ([341, H], our addition): added to an input image's slot i, and to the position that writes a
 * target's slot i (`[IMG]` for slot 0, slot i - 1 after it). A slot being written then matches
 * the same slot of an input image whatever the text between them, instead of finding it through
 * the slot written before (which drifts in free-running generation). It starts at zero, which is
 * the model without it, so weights saved without it load into it unchanged.
 * With config.inputResidual a target image after an input image is regressed as the input's
 * slot plus the head's output (our addition): "change nothing" is then the zero output, and a
 * slot's error in free-running generation no longer carries the whole image but only the change.
 * With config.inputMap that base is `input_map` (a Linear [C, C], the identity at the start)
 * of the input's slot, edge maps included: canny regresses the image as a linear read-out of its
 * edge map plus a change.
 *
 * @example
 * const mllm = new PumaMLLM(smallMllmConfig(tok.vocabSize, tok.special, 128));
 * const { loss } = mllm.loss([parts]); loss.backward();
 * const [f0, f1, f2, f3, f4] = mllm.generateImage(tok.encode('grinning face'), { upToScale: 0 });
 */
export class PumaMLLM extends Module {
  readonly llm: LlamaForCausalLM;
  readonly projector: Linear | MlpProjector;
  readonly regression_head: Linear;
  readonly slot_embedding: Embedding | null;
  readonly input_map: Linear | null;
  /** alpha_k of the feature loss, f0..f4 (training only; the paper's by default). */
  scaleWeights: readonly number[] = SCALE_WEIGHTS;

  constructor(readonly config: Readonly<MllmConfig>) {
    super();
    const h = config.llm.hiddenSize;
    this.llm = this.module('llm', new LlamaForCausalLM(config.llm));
    this.projector = this.module('projector', config.projector === 'linear'
      ? new Linear(config.featureDim, h) : new MlpProjector(config.featureDim, h));
    this.regression_head = this.module('regression_head', new Linear(h, config.featureDim));
    this.slot_embedding = config.slotEmbedding ? this.module('slot_embedding', new Embedding(IMAGE_SLOTS, h)) : null;
    this.input_map = config.inputMap ? this.module('input_map', new Linear(config.featureDim, config.featureDim)) : null;
    // transformers' LlamaPreTrainedModel init (initializer_range 0.02) for a backbone trained
    // from scratch; norms stay at 1. Built under deferInit to be loaded, none of it is drawn.
    for (const [name, p] of this.llm.namedParameters()) if (!/norm\.weight$/.test(name)) reinit(p, normal(0.02));
    // the head starts near a constant output (its bias), which setFeatureMean can put at the data mean
    reinit(this.regression_head.weight, normal(0.02));
    reinit(this.regression_head.bias!, zerosInit);
    if (this.slot_embedding) reinit(this.slot_embedding.weight, zerosInit);
    if (this.input_map) {
      reinit(this.input_map.weight, identityInit);
      reinit(this.input_map.bias!, zerosInit);
    }
  }

  /**
   * As Module.loadStateDict, but weights saved before an addition existed load into it as the
   * model they were trained as: without `slot_embedding` the table is zero, without `input_map`
   * the map is the identity.
   */
  override loadStateDict(dict: ReadonlyMap<string, Tensor> | Record<string, Tensor>, opts: { strict?: boolean } = {}): LoadResult {
    const entries = dict instanceof Map ? dict : new Map(Object.entries(dict));
    const absent = [
      ...(this.slot_embedding && !entries.has('slot_embedding.weight') ? ['slot_embedding.weight'] : []),
      ...(this.input_map && !entries.has('input_map.weight') ? ['input_map.weight', 'input_map.bias'] : []),
    ];
    if (!absent.length) return super.loadStateDict(entries, opts);
    const provided = new Map([...entries].map(([k, t]) => [k, t.shape] as [string, readonly number[]]));
    const r = compareKeys(this.shapeMap(), provided, this.ignorePatterns());
    const result = { ...r, missing: r.missing.filter((k) => !absent.includes(k)) };
    assertLoadable(result, opts.strict ?? true);
    super.loadStateDict(entries, { strict: false });
    noGrad(() => {
      if (absent.includes('slot_embedding.weight')) this.slot_embedding!.weight.data.fill(0);
      if (absent.includes('input_map.weight')) { identityInit(this.input_map!.weight); this.input_map!.bias!.data.fill(0); }
    });
    return result;
  }

  /**
   * Starts the regression at the features' per-channel mean (before training from scratch): the
   * head then outputs about the mean on every slot, instead of a random offset the small alpha of
   * f0 and f1 would take long to remove.
   */
  setFeatureMean(mean: ArrayLike<number>): void {
    if (mean.length !== this.config.featureDim) throw new RangeError(`feature mean has ${mean.length} channels, not ${this.config.featureDim}`);
    this.regression_head.bias!.data.set(mean);
  }

  /**
   * Input embeddings [B, T, H] (T = the longest sequence, shorter ones padded on the right).
   * `writesSlot0` marks each sequence's last position as the one that writes a target's first
   * slot (generation: the prompt ends with `[IMG]`); only the slot embedding reads it.
   */
  embedSequences(layouts: readonly SequenceLayout[], writesSlot0 = false): Tensor {
    const e = this.embedTokensAndImages(layouts);
    return this.slot_embedding ? e.add(this.slotEmbeddings(layouts, e.shape[1], writesSlot0)) : e;
  }

  /** The slot embedding of every position [B, T, H]: zero where a position neither is nor writes a slot. */
  private slotEmbeddings(layouts: readonly SequenceLayout[], t: number, writesSlot0: boolean): Tensor {
    const b = layouts.length, idx = new Int32Array(b * t), mask = new Float32Array(b * t);
    const set = (row: number, pos: number, slot: number) => { idx[row * t + pos] = slot; mask[row * t + pos] = 1; };
    layouts.forEach((l, r) => {
      for (const im of l.images) {
        // an input's slot i is slot i; a target's slot i writes slot i + 1 ([IMG] before it writes slot 0)
        if (im.role === 'input') for (let i = 0; i < IMAGE_SLOTS; i++) set(r, im.start + i, i);
        else for (let i = 0; i < IMAGE_SLOTS; i++) set(r, im.start - 1 + i, i);
      }
      if (writesSlot0) set(r, l.length - 1, 0);
    });
    return this.slot_embedding!.forward(fromArray(idx, [b, t], 'int32')).mul(fromArray(mask, [b, t, 1]));
  }

  private embedTokensAndImages(layouts: readonly SequenceLayout[]): Tensor {
    const b = layouts.length, t = Math.max(...layouts.map((l) => l.length));
    const ids = new Int32Array(b * t).fill(this.config.tokens.pad);
    layouts.forEach((l, i) => l.ids.forEach((id, j) => { if (id >= 0) ids[i * t + j] = id; }));
    const tok = this.llm.embed(fromArray(ids, [b, t], 'int32'));
    const all = layouts.flatMap((l) => l.images);
    // one projector call for every image of the batch: [N, 341, C] -> [N, 341, H]
    const proj = all.length ? this.projector.forward(cat(all.map((im) => (im.fed ?? im.features).unsqueeze(0)), 0)) : null;
    let n = 0;
    const rows = layouts.map((l, i) => {
      if (l.images.length === 0) return tok.narrow(0, i, 1);
      const row = tok.narrow(0, i, 1), pieces: Tensor[] = [];
      let cursor = 0;
      for (const im of l.images) {
        if (im.start > cursor) pieces.push(row.narrow(1, cursor, im.start - cursor));
        pieces.push(proj!.narrow(0, n++, 1));
        cursor = im.start + IMAGE_SLOTS;
      }
      if (t > cursor) pieces.push(row.narrow(1, cursor, t - cursor));
      return cat(pieces, 1);
    });
    return rows.length === 1 ? rows[0] : cat(rows, 0);
  }

  /** Teacher-forced forward of a batch of sequences (no logits yet: see textLogits). */
  forwardTeacher(batch: readonly (readonly MllmPart[])[]): TeacherForward {
    const layouts = batch.map(layoutSequence);
    const hidden = this.llm.forward({ inputsEmbeds: this.embedSequences(layouts), logits: 'none' }).hiddenStates;
    return { hidden, layouts };
  }

  /** Logits [N, V] at the positions that predict the learned tokens, and those tokens. */
  textLogits(out: TeacherForward): { logits: Tensor | null; targets: Int32Array } {
    const pieces: Tensor[] = [], targets: number[] = [];
    out.layouts.forEach((l, b) => {
      const row = out.hidden.narrow(0, b, 1);
      // runs of consecutive positions, narrowed in one piece each
      for (let i = 0; i < l.lossPositions.length;) {
        let j = i;
        while (j + 1 < l.lossPositions.length && l.lossPositions[j + 1] === l.lossPositions[j] + 1) j++;
        pieces.push(row.narrow(1, l.lossPositions[i] - 1, j - i + 1));
        for (let k = i; k <= j; k++) targets.push(l.ids[l.lossPositions[k]]);
        i = j + 1;
      }
    });
    if (!pieces.length) return { logits: null, targets: new Int32Array(0) };
    const h = cat(pieces, 1);
    return { logits: this.llm.logits(h).reshape([targets.length, this.config.llm.vocabSize]), targets: Int32Array.from(targets) };
  }

  /** Regressed features [N, 341, C] of the target images (teacher forcing) and their true values. */
  featurePredictions(out: TeacherForward): { pred: Tensor; target: Tensor } | null {
    const pieces: Tensor[] = [], targets: Tensor[] = [], bases: (Tensor | null)[] = [];
    out.layouts.forEach((l, b) => {
      l.images.forEach((im, j) => {
        if (im.role !== 'target') return;
        // the state at [IMG] predicts slot 0, the state at slot i predicts slot i + 1
        pieces.push(out.hidden.narrow(0, b, 1).narrow(1, im.start - 1, IMAGE_SLOTS));
        targets.push(im.features.unsqueeze(0));
        bases.push(this.residualBase(l.images.slice(0, j)));
      });
    });
    if (!pieces.length) return null;
    let pred = this.regression_head.forward(cat(pieces, 0));
    if (bases.some((x) => x)) {
      const c = this.config.featureDim;
      pred = pred.add(cat(bases.map((x) => (x ?? fromArray(new Float32Array(IMAGE_SLOTS * c), [IMAGE_SLOTS, c])).unsqueeze(0)), 0));
    }
    return { pred, target: cat(targets, 0) };
  }

  /**
   * With inputResidual: the features [341, C] a target after these images adds its regression to
   * (the last input image's), else null; null too when that input is an edge map and the config
   * has residualSkipsEdgeMaps. With inputMap: input_map of the last input image's features,
   * edge maps included.
   */
  private residualBase(before: readonly { role: 'input' | 'target'; features: Tensor; edgeMap?: boolean }[]): Tensor | null {
    if (!this.config.inputResidual && !this.input_map) return null;
    for (let j = before.length - 1; j >= 0; j--) {
      if (before[j].role !== 'input') continue;
      if (this.input_map) return this.input_map.forward(before[j].features);
      return before[j].edgeMap && this.config.residualSkipsEdgeMaps ? null : before[j].features;
    }
    return null;
  }

  /**
   * L = 0.02 * CE(learned text) + sum_k alpha_k * MSE_k (alpha = scaleWeights), MSE_k the mean over scale k's tokens and
   * channels of every target image in the batch.
   *
   * @example
   * const { loss, ce, mse } = mllm.loss(batch); loss.backward();
   */
  loss(batch: readonly (readonly MllmPart[])[]): MllmLoss {
    return this.lossOf(this.forwardTeacher(batch));
  }

  /** The loss of a teacher-forced forward (for callers that also read its logits). */
  lossOf(out: TeacherForward, text = this.textLogits(out)): MllmLoss {
    const { logits, targets } = text;
    const feats = this.featurePredictions(out);
    let loss: Tensor | null = null, ce = 0;
    const mse = Array<number>(NUM_SCALES).fill(NaN);
    if (logits) {
      const ceT = crossEntropy(logits, fromArray(targets, [targets.length], 'int32'));
      ce = ceT.item();
      loss = ceT.mul(TEXT_LOSS_WEIGHT);
    }
    if (feats) {
      for (let k = 0; k < NUM_SCALES; k++) {
        const d = feats.pred.narrow(1, SCALE_OFFSETS[k], SCALE_TOKENS[k]).sub(feats.target.narrow(1, SCALE_OFFSETS[k], SCALE_TOKENS[k]));
        const m = d.square().mean();
        mse[k] = m.item();
        const term = m.mul(this.scaleWeights[k]);
        loss = loss ? loss.add(term) : term;
      }
    }
    if (!loss) throw new Error('MLLM loss: the batch has no learned tokens and no target images');
    return { loss, ce, mse, textTokens: targets.length, targetImages: feats ? feats.pred.shape[0] : 0 };
  }

  /**
   * Writes an image's features coarse to fine after `<s> prompt [IMG]`, one slot at a time with
   * the KV cache: f4 (1 token), fed back through the projector, then the 4 tokens of f3, ... f0.
   * Stops after scale `upToScale` (4 = only f4, 0 = all five). `prompt` is text ids (`<s>` is
   * added) or parts that start with `<s>` (e.g. an input image and an instruction, for editing).
   * `feed` (f0..f4, [1, n, C]) replaces the regressed features by given ones as the next inputs
   * (teacher forcing; the returned scales are still the regressed ones).
   * The regression is deterministic (PUMA's MSE head); the diversity comes from the decoders.
   * Returns [f0, ..., f4], each [1, n_k, C], finer scales than upToScale null.
   *
   * @example
   * const scales = mllm.generateImage(tok.encode('a fox'), { upToScale: 3 }); // f4, f3 filled
   */
  generateImage(prompt: readonly number[] | readonly MllmPart[], opts: ImageGeneration = {}): (Tensor | null)[] {
    const upTo = opts.upToScale ?? 0;
    if (!Number.isInteger(upTo) || upTo < 0 || upTo >= NUM_SCALES) throw new RangeError(`upToScale must be 0..4, got ${upTo}`);
    const g = opts.guidance ?? 1;
    if (!Number.isFinite(g) || g < 0) throw new RangeError(`guidance must be a number >= 0, got ${g}`);
    const { bos, imgStart } = this.config.tokens;
    const withImgStart = (p: readonly number[] | readonly MllmPart[]): MllmPart[] => isIdList(p)
      ? [{ kind: 'tokens', ids: [bos, ...p, imgStart], loss: false }]
      : [...p, { kind: 'tokens', ids: [imgStart], loss: false }];
    // guidance 1 is the plain regression: no unconditional branch
    const branches = g === 1 ? [withImgStart(prompt)] : [withImgStart(prompt), withImgStart(opts.unconditional ?? [])];
    const total = SCALE_OFFSETS[upTo] + SCALE_TOKENS[upTo];
    const feedSlots = opts.feedSlots ?? IMAGE_SLOTS;
    if (opts.feedSlots !== undefined && (!opts.feed || !Number.isInteger(feedSlots) || feedSlots < 0)) {
      throw new RangeError(`feedSlots needs feed and an integer >= 0, got ${opts.feedSlots}${opts.feed ? '' : ' without feed'}`);
    }
    const feed = opts.feed ? keep(featureSlots(opts.feed)) : null;
    const caches = branches.map(() => new KVCache(this.config.llm.numHiddenLayers));
    const slots: Tensor[] = [];
    // with inputResidual, each branch's regression of slot i adds slot i of its last input image
    const bases = branches.map((parts) => noGrad(() => this.residualBase(parts.flatMap((p) => (p.kind === 'image' ? [p] : [])))));
    // a mapped base is a new tensor of ours (the plain residual's is the caller's input)
    const ownBases = this.input_map ? bases.map((x) => (x ? keep(x) : null)) : [];
    const regress = (h: Tensor, b: number, i: number): Tensor => {
      const f = this.regression_head.forward(h), base = bases[b];
      return base ? f.add(base.narrow(0, i, 1).unsqueeze(0)) : f;
    };
    // f = f_uncond + g (f_cond - f_uncond), both branches then read the same f
    const predict = (hs: readonly Tensor[], i: number): Tensor => tidy(() => {
      const fc = regress(hs[0], 0, i);
      if (hs.length === 1) return fc;
      const fu = regress(hs[1], 1, i);
      return fu.add(fc.sub(fu).mul(g));
    });
    try {
      noGrad(() => {
        let hs = branches.map((parts, b) => keep(tidy(() => this.lastHidden(this.embedSequences([layoutSequence(parts)], true), caches[b]))));
        for (let i = 0; i < total; i++) {
          const f = keep(predict(hs, i));
          slots.push(f);
          if (i + 1 === total) break;
          const next = hs.map((_, b) => keep(tidy(() => this.lastHidden(this.slotInput(feed && i < feedSlots ? feed.narrow(1, i, 1) : f, i), caches[b]))));
          for (const h of hs) h.dispose();
          hs = next;
        }
        for (const h of hs) h.dispose();
      });
    } finally {
      for (const c of caches) c.dispose();
      feed?.dispose();
      for (const x of ownBases) x?.dispose();
    }
    const seq = cat(slots, 1);
    for (const s of slots) s.dispose();
    const scales = SCALE_TOKENS.map((n, k) => (k >= upTo ? seq.narrow(1, SCALE_OFFSETS[k], n).contiguous() : null));
    seq.dispose();
    return scales;
  }

  /**
   * Writes text after a prefix (understanding, grounding), with the KV cache: greedy, or sampled
   * with temperature and top-p. Input images are given as features in the prefix. Returns the
   * new ids, without the stop token.
   *
   * @example
   * const ids = mllm.generateText([{ kind: 'tokens', ids: [bos, ...tok.encode('USER: '), imgStart], loss: false },
   *   { kind: 'image', features, role: 'input' }, { kind: 'tokens', ids: [imgEnd, ...question], loss: false }],
   *   { maxTokens: 16, greedy: true });
   */
  generateText(prefix: readonly MllmPart[], opts: TextSampling = {}): number[] {
    const maxTokens = opts.maxTokens ?? 32, stop = new Set(opts.stop ?? [this.config.tokens.eos]);
    const cache = new KVCache(this.config.llm.numHiddenLayers);
    const out: number[] = [];
    try {
      noGrad(() => {
        let logits = tidy(() => this.llm.logits(this.lastHidden(this.embedSequences([layoutSequence(prefix)]), cache)).toArray() as Float32Array);
        for (let i = 0; i < maxTokens; i++) {
          const id = pickToken(logits, opts);
          if (stop.has(id)) break;
          out.push(id);
          logits = tidy(() => this.llm.logits(this.lastHidden(this.llm.embed(fromArray(new Int32Array([id]), [1, 1], 'int32')), cache)).toArray() as Float32Array);
        }
      });
    } finally {
      cache.dispose();
    }
    return out;
  }

  /** The input embedding [1, 1, H] of a target's slot i (features [1, 1, C]), which writes slot i + 1. */
  private slotInput(f: Tensor, i: number): Tensor {
    const x = this.projector.forward(f);
    return this.slot_embedding && i + 1 < IMAGE_SLOTS ? x.add(this.slot_embedding.weight.narrow(0, i + 1, 1).unsqueeze(0)) : x;
  }

  /** Runs embeddings [1, T, H] through the LLM with the cache; the last hidden state [1, 1, H]. */
  private lastHidden(embeds: Tensor, cache: KVCache): Tensor {
    const h = this.llm.forward({ inputsEmbeds: embeds, cache, logits: 'none' }).hiddenStates;
    return h.narrow(1, h.shape[1] - 1, 1).contiguous();
  }
}

function isIdList(p: readonly number[] | readonly MllmPart[]): p is readonly number[] {
  return p.length === 0 || typeof p[0] === 'number';
}

/** [f0..f4] ([1, n_k, C] each, finer ones may be null when unused) -> [1, 341, C] coarse to fine. */
function featureSlots(scales: readonly (Tensor | null)[]): Tensor {
  const c = scales.find((s) => s)?.shape[2];
  if (!c) throw new Error('feed: no features given');
  return cat(SCALE_TOKENS.map((n, k) => scales[k] ?? fromArray(new Float32Array(n * c), [1, n, c])).reverse(), 1);
}

/** Greedy, or temperature + top-p sampling, over one row of logits. */
export function pickToken(logits: Float32Array, o: TextSampling): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const temp = o.temperature ?? 1;
  if (o.greedy || temp <= 0) return best;
  if (!o.generator) throw new Error('sampling needs a generator (or greedy: true)');
  const p = new Float64Array(logits.length);
  let z = 0;
  for (let i = 0; i < p.length; i++) z += (p[i] = Math.exp((logits[i] - logits[best]) / temp));
  const order = Array.from(p.keys()).sort((a, b) => p[b] - p[a]);
  const topP = o.topP ?? 1;
  let keepN = 0, mass = 0;
  while (keepN < order.length && (keepN === 0 || mass < topP * z)) mass += p[order[keepN++]];
  let u = o.generator.uniform() * mass;
  for (let i = 0; i < keepN; i++) {
    u -= p[order[i]];
    if (u <= 0) return order[i];
  }
  return order[keepN - 1];
}
