// `puma serve`: every task of the CLI over HTTP (Fastify), and a web page that uses it. Images go
// in and out as PNG data URLs inside JSON, so the page needs nothing but fetch. The model runs on
// the event loop's thread: one request computes at a time, as on the command line.
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { SCHEDULER_NAMES, type SchedulerName } from '../diffusion/index.js';
import { decodeImage, encodeImage, tensorToImages, type Image } from '../io/image.js';
import { ask } from '../pipelines/ask.js';
import { canny2img } from '../pipelines/canny2img.js';
import { colorize } from '../pipelines/colorize.js';
import type { Kept } from '../pipelines/composite.js';
import { DECODE_DEFAULTS, T2I_DECODE_GUIDANCE } from '../pipelines/decode.js';
import { edit, FINE_SCALES } from '../pipelines/edit.js';
import { ALL_SCALES, checkScales, DEFINE_WHEN, type DefineWhen, generate, unseenNote, type GenerateResult, type ImageTaskOptions, type ImageTaskResult } from '../pipelines/generate.js';
import { ground } from '../pipelines/ground.js';
import { inpaint, inpaintScales, type Box } from '../pipelines/inpaint.js';
import { MLLM_STAGES, type PumaModel } from '../pipelines/model.js';
import { prepareImage, reconstruct } from '../pipelines/reconstruct.js';
import { PAGE } from './page.js';

/** Requests may carry two 64x64..1024x1024 images as base64; Fastify's 1 MiB default is too small for that. */
const BODY_LIMIT = 16 * 1024 * 1024;

export interface ServerOptions {
  /** Shown on the page and in /api/info. */
  modelName?: string;
  /** Fastify's request log (off by default: the CLI prints one line per request instead). */
  logger?: boolean;
  /** Called after each task request: its route, status and seconds. */
  onRequest?: (route: string, status: number, seconds: number) => void;
}

/** A user's mistake: answered 400 with the message, where anything else is a 500. */
class BadInput extends Error {}

// ---- request schemas (Fastify validates them; a failure is a 400 with the path of the bad field)

const decodeProps = {
  scales: { type: 'array', items: { type: 'integer', minimum: 0, maximum: 4 }, minItems: 1, maxItems: 5, uniqueItems: true },
  seeds: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 1, maxItems: 8 },
  steps: { type: 'integer', minimum: 1, maximum: 1000 },
  guidance: { type: 'number', minimum: 0, maximum: 50 },
  scheduler: { type: 'string', enum: [...SCHEDULER_NAMES] },
} as const;
const text = { type: 'string', minLength: 1, maxLength: 2000 } as const;
const image = { type: 'string', minLength: 1, description: 'a PNG, JPEG or WebP file as a data URL or plain base64' } as const;
const body = (required: readonly string[], props: Record<string, unknown>) => ({
  body: { type: 'object', required, additionalProperties: false, properties: { ...props } },
});

interface DecodeBody { scales?: number[]; seeds?: number[]; steps?: number; guidance?: number; scheduler?: SchedulerName }

/** The API's answer for an image task: every decode as a PNG data URL, with what wrote it. */
interface ImagesReply {
  mllm: string;
  note?: string;
  /** Words of the prompt no training caption has, and the line that says so (unseenNote). */
  unseenWords?: string[];
  unseenNote?: string;
  text?: string;
  /** What the images keep of the input (edit: all but the change; inpaint: the pixels outside the holes; colorize: the luma). */
  kept?: Kept;
  input?: string;
  /** best: the seed's highest-scoring scale (5-scale Max); bestOfAll: the one image of all seeds that scores highest. */
  images: { seed: number; scale: number; png: string; score?: number; best?: boolean; bestOfAll?: boolean }[];
}

async function pngDataUrl(img: Image): Promise<string> {
  return `data:image/png;base64,${(await encodeImage(img, 'png')).toString('base64')}`;
}

/** A data URL or plain base64 -> the decoded image; a one-line error naming the field otherwise. */
async function readBodyImage(v: string, field: string): Promise<Image> {
  // data:[<type>][;<param>=<value>...][;base64],<data>
  const m = /^data:([^,]*),(.*)$/s.exec(v);
  if (m && !/(^|;)base64$/i.test(m[1])) throw new BadInput(`${field}: only base64 data URLs are read`);
  const b64 = (m ? m[2] : v).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new BadInput(`${field}: not base64`);
  const bytes = Buffer.from(b64, 'base64');
  try {
    return await decodeImage(bytes, field);
  } catch (err) {
    throw new BadInput(err instanceof Error ? err.message : String(err));
  }
}

function decodeOptions(b: DecodeBody, defaults: readonly number[], guidance = DECODE_DEFAULTS.guidance): ImageTaskOptions {
  return {
    scales: b.scales ?? [...defaults], seeds: b.seeds ?? [0],
    steps: b.steps ?? DECODE_DEFAULTS.steps, guidance: b.guidance ?? guidance, scheduler: b.scheduler ?? DECODE_DEFAULTS.scheduler,
  };
}

async function imagesReply(r: ImageTaskResult & { input?: Image; text?: string; kept?: Kept; best?: GenerateResult['best'] }): Promise<ImagesReply> {
  const images: ImagesReply['images'] = [];
  for (const row of r.rows) {
    for (const [scale, x] of row.images) {
      images.push({
        seed: row.seed, scale, png: await pngDataUrl(tensorToImages(x)[0]), score: row.scores?.get(scale),
        best: row.best === undefined ? undefined : row.best === scale,
        bestOfAll: r.best === undefined ? undefined : r.best.seed === row.seed && r.best.scale === scale,
      });
      x.dispose();
    }
  }
  r.features.forEach((f) => f?.dispose());
  const unseen = r.unseenWords?.length ? { unseenWords: r.unseenWords, unseenNote: unseenNote(r.unseenWords, r.readPrompt, r.readAs) } : {};
  return { mllm: r.stage, note: r.note, ...unseen, text: r.text, kept: r.kept, input: r.input ? await pngDataUrl(r.input) : undefined, images };
}

/** What a loaded model can do: its MLLMs, the scales it decodes, the defaults. */
export function modelInfo(model: PumaModel, name = 'model'): Record<string, unknown> {
  return {
    model: name,
    mllms: MLLM_STAGES.filter((s) => model.mllms[s]),
    scales: model.decoders.flatMap((d, k) => (d ? [k] : [])),
    schedulers: SCHEDULER_NAMES,
    defaults: { ...DECODE_DEFAULTS, generateGuidance: T2I_DECODE_GUIDANCE, generateScales: ALL_SCALES, imageScales: FINE_SCALES, inpaintScales: inpaintScales() },
  };
}

/**
 * The HTTP app over a loaded model. `listen` is the caller's (`puma serve`); tests use `inject`.
 *
 * @example
 * const app = buildServer(loadPuma('models/puma-emoji'));
 * await app.listen({ port: 8080 });
 */
export function buildServer(model: PumaModel, opts: ServerOptions = {}): FastifyInstance {
  // unknown fields are errors (a typo is not silently dropped) and JSON types are not coerced
  const app = Fastify({ logger: opts.logger ?? false, bodyLimit: BODY_LIMIT, ajv: { customOptions: { removeAdditional: false, coerceTypes: false } } });
  const info = modelInfo(model, opts.modelName);

  app.setErrorHandler((err: Error & { validation?: unknown; statusCode?: number }, _req, reply) => {
    if (err.validation || err instanceof BadInput || (err.statusCode && err.statusCode < 500)) {
      return reply.status(err.statusCode && err.statusCode < 500 ? err.statusCode : 400).send({ error: err.message });
    }
    // the pipelines throw plain Errors for input they cannot use (an empty prompt, a scale
    // without a decoder, a box past the image): their messages are the user's to read
    return reply.status(422).send({ error: err.message });
  });
  app.addHook('onResponse', async (req, reply) => {
    if (req.url.startsWith('/api/') && req.method === 'POST') opts.onRequest?.(req.url, reply.statusCode, reply.elapsedTime / 1000);
  });

  app.get('/', async (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.get('/favicon.ico', async (_req, reply) => reply.status(204).send());
  app.get('/api/info', async () => info);

  const task = <B>(route: string, schema: ReturnType<typeof body>, run: (b: B) => Promise<unknown>) =>
    app.post(route, { schema }, async (req: FastifyRequest, reply: FastifyReply) => reply.send(await run(req.body as B)));

  task<DecodeBody & { prompt: string; best?: boolean; textGuidance?: number; define?: DefineWhen; neighbours?: boolean }>('/api/generate',
    body(['prompt'], { prompt: text, best: { type: 'boolean' }, textGuidance: { type: 'number', minimum: 0, maximum: 20 }, define: { type: 'string', enum: [...DEFINE_WHEN] }, neighbours: { type: 'boolean' }, ...decodeProps }),
    async (b) => imagesReply(generate(model, b.prompt, { ...decodeOptions(b, ALL_SCALES, T2I_DECODE_GUIDANCE), best: b.best, textGuidance: b.textGuidance, define: b.define, neighbours: b.neighbours })));

  task<DecodeBody & { image: string }>('/api/reconstruct', body(['image'], { image, ...decodeProps }), async (b) => {
    const img = await readBodyImage(b.image, 'image');
    const o = decodeOptions(b, ALL_SCALES);
    const scales = checkScales(model, o.scales!);
    const x = prepareImage(img);
    const rows = o.seeds!.map((seed) => ({ seed, images: reconstruct(model, x, scales, { ...o, seed }) }));
    const input = tensorToImages(x)[0];
    x.dispose();
    return imagesReply({ stage: 'pretrain', rows, features: [], input });
  });

  const keepInput = { type: 'boolean' } as const;
  task<DecodeBody & { image: string; instruction: string; keepInput?: boolean; strength?: number }>('/api/edit',
    body(['image', 'instruction'], { image, instruction: text, keepInput, strength: { type: 'number', minimum: 0, maximum: 10 }, ...decodeProps }),
    async (b) => imagesReply(edit(model, await readBodyImage(b.image, 'image'), b.instruction, { ...decodeOptions(b, FINE_SCALES), keepInput: b.keepInput, strength: b.strength })));

  const condition = { caption: text, instruction: { type: 'boolean' }, keepInput } as const;
  task<DecodeBody & { image: string; box?: Box; mask?: string; caption?: string; instruction?: boolean; keepInput?: boolean }>('/api/inpaint',
    body(['image'], { image, mask: image, box: { type: 'array', items: { type: 'integer', minimum: 0 }, minItems: 4, maxItems: 4 }, ...condition, ...decodeProps }),
    async (b) => {
      if (!b.mask === !b.box) throw new BadInput('inpaint needs exactly one of mask (an image, white = fill) and box ([x, y, w, h])');
      if (b.box && (b.box[2] < 1 || b.box[3] < 1)) throw new BadInput('box: w and h must be at least 1');
      const img = await readBodyImage(b.image, 'image');
      const region = b.mask ? { mask: await readBodyImage(b.mask, 'mask') } : { box: b.box as Box };
      return imagesReply(inpaint(model, img, region, { ...decodeOptions(b, inpaintScales(b.keepInput !== false)), caption: b.caption, instruction: b.instruction, keepInput: b.keepInput }));
    });

  task<DecodeBody & { image: string; caption?: string; instruction?: boolean; keepInput?: boolean }>('/api/colorize', body(['image'], { image, ...condition, ...decodeProps }),
    async (b) => imagesReply(colorize(model, await readBodyImage(b.image, 'image'), { ...decodeOptions(b, FINE_SCALES), caption: b.caption, instruction: b.instruction, keepInput: b.keepInput })));

  task<DecodeBody & { image: string; prompt: string; edges?: boolean; instruction?: boolean }>('/api/canny2img',
    body(['image', 'prompt'], { image, prompt: text, edges: { type: 'boolean' }, instruction: { type: 'boolean' }, ...decodeProps }),
    async (b) => imagesReply(canny2img(model, await readBodyImage(b.image, 'image'), b.prompt, { ...decodeOptions(b, FINE_SCALES), edges: b.edges, instruction: b.instruction })));

  task<{ image: string; question: string; maxTokens?: number; temperature?: number; topP?: number; seed?: number }>('/api/ask',
    body(['image', 'question'], {
      image, question: text, maxTokens: { type: 'integer', minimum: 1, maximum: 256 }, temperature: { type: 'number', minimum: 0, maximum: 10 },
      topP: { type: 'number', exclusiveMinimum: 0, maximum: 1 }, seed: { type: 'integer', minimum: 0 },
    }),
    async (b) => {
      const r = ask(model, await readBodyImage(b.image, 'image'), b.question, { maxTokens: b.maxTokens ?? 32, temperature: b.temperature ?? 0, topP: b.topP ?? 0.9, seed: b.seed ?? 0 });
      return { answer: r.answer, mllm: r.stage, note: r.note, input: await pngDataUrl(r.input) };
    });

  task<{ image: string; phrase: string }>('/api/ground', body(['image', 'phrase'], { image, phrase: text }), async (b) => {
    const r = ground(model, await readBodyImage(b.image, 'image'), b.phrase);
    return { box: r.box, answer: r.answer, question: r.question, mllm: r.stage, note: r.note, drawn: await pngDataUrl(r.drawn) };
  });

  return app;
}
