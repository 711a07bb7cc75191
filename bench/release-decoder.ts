// `node --import tsx bench/release-decoder.ts [--no-torch]`: what one decode of the authors' release
// costs on this machine, with random weights of the real sizes (the weights cannot be downloaded
// here): one step of a PUMA decoder UNet (SDXL-size, mapping 1024 -> 2048, 256 positions) at
// batch 2 (guidance) on 128x128 latents, and the SDXL VAE decoding one 128x128 latent to 1024 px.
// PyTorch runs the same shapes in bench/torch_release_decoder.py (re-implemented modules of
// scripts/fixtures/make_model_fixtures.py), one after the other, never both in memory.
// Writes bench/results/release-decoder.json.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PUMA_DECODER_UNET, SDXL_UNET_JSON, SDXL_VAE } from '../src/io/config.js';
import { UNet2DConditionModel } from '../src/models/unet/model.js';
import { AutoencoderKL } from '../src/models/vae/model.js';
import * as T from '../src/tensor/index.js';

const here = dirname(fileURLToPath(import.meta.url));
const useTorch = !process.argv.includes('--no-torch');
const threads = Number(process.env.PUMA_NUM_THREADS ?? 2);
const GB = 2 ** 30;
const rssGB = () => +(process.memoryUsage().rss / GB).toFixed(2);

function timed<R>(what: string, f: () => R): { result: R; s: number } {
  const t0 = performance.now();
  const result = f();
  const s = (performance.now() - t0) / 1000;
  process.stderr.write(`${what}: ${s.toFixed(1)} s, rss ${rssGB()} GB\n`);
  return { result, s };
}

// PyTorch first, in a child process that exits before ours starts: the two never share the 24 GB.
let torch: Record<string, number> | null = null;
if (useTorch) {
  if (spawnSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    throw new Error('PyTorch is not installed for /usr/bin/python3: apt-get install -y python3-torch libopenblas-dev, or run with --no-torch');
  }
  const cfg = { unet: { ...SDXL_UNET_JSON, mapping_dim: 1024, mapping_dim1: 2048, num_tokens: 256, use_embeds: true, addition_embed_type: null } };
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_release_decoder.py'), String(threads), JSON.stringify(cfg)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20,
    env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) },
  });
  if (r.status !== 0) throw new Error(`torch_release_decoder.py failed (${r.status})`);
  torch = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}
const ours: Record<string, number> = {};
T.manualSeed(0);
{
  const { result: unet, s: init } = timed('puma: build the UNet (random init)', () => new UNet2DConditionModel(PUMA_DECODER_UNET).eval());
  ours.unet_params_M = +(unet.numParameters() / 1e6).toFixed(1);
  ours.unet_init_s = +init.toFixed(1);
  const x = T.randn([2, 4, 128, 128]), f = T.randn([2, 256, 1024]);
  const step = () => T.noGrad(() => T.tidy(() => unet.forward({ sample: x, timestep: 500, encoderHiddenStates: f, posWeight: [1, 0] }).sum().item()));
  ours.unet_step_first_s = +timed('puma: UNet step, batch 2, 128x128 (first)', step).s.toFixed(1);
  ours.unet_step_s = +timed('puma: UNet step, batch 2, 128x128', step).s.toFixed(1);
  ours.rss_after_unet_GB = rssGB();
  unet.dispose();
  T.emptyCache(); // the weights back to the system (as reconstructRelease does before the VAE decode)
}
{
  const vae = new AutoencoderKL(SDXL_VAE).eval();
  const z = T.randn([1, 4, 128, 128]);
  const dec = () => T.noGrad(() => T.tidy(() => vae.decode(z).sum().item()));
  ours.vae_decode_first_s = +timed('puma: VAE decode to 1024x1024 (first)', dec).s.toFixed(1);
  ours.vae_decode_s = +timed('puma: VAE decode to 1024x1024', dec).s.toFixed(1);
  ours.rss_after_vae_GB = rssGB();
}

const ratio = (k: string) => (torch && torch[k] ? +(ours[k] / torch[k]).toFixed(2) : null);
const result = {
  threads, ours, torch,
  ratio: { unet_step: ratio('unet_step_s'), vae_decode: ratio('vae_decode_s') },
  // the release decode of one scale and one seed: 50 guided steps and one VAE decode
  release_decode_min: { ours: +((50 * ours.unet_step_s + ours.vae_decode_s) / 60).toFixed(1), torch: torch ? +((50 * torch.unet_step_s + torch.vae_decode_s) / 60).toFixed(1) : null },
};
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results', 'release-decoder.json'), `${JSON.stringify(result, null, 2)}\n`);
console.log(JSON.stringify(result, null, 2));
