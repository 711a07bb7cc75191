"""PyTorch side of bench/release-decoder.ts: the same shapes with the re-implemented modules of
scripts/fixtures/make_model_fixtures.py (random weights). argv: threads, JSON {"unet": config}."""
import json
import os
import resource
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "fixtures"))
import make_model_fixtures as mm  # noqa: E402

torch.set_num_threads(int(sys.argv[1]))
cfg = json.loads(sys.argv[2])
out = {}


def timed(what, f):
    t0 = time.perf_counter()
    r = f()
    s = time.perf_counter() - t0
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20
    print(f"torch: {what}: {s:.1f} s, max rss {rss:.2f} GB", file=sys.stderr)
    return r, s


torch.manual_seed(0)
with torch.no_grad():
    u = {"norm_eps": 1e-5, "act_fn": "silu", **cfg["unet"]}
    unet, s = timed("build the UNet", lambda: mm.UNet2DConditionModel(u).eval())
    out["unet_init_s"] = round(s, 1)
    x, f = torch.randn(2, 4, 128, 128), torch.randn(2, 256, 1024)
    pw = torch.tensor([1.0, 0.0])[:, None, None]
    step = lambda: unet(x, torch.tensor(500.0), f, pw).sum().item()  # noqa: E731
    out["unet_step_first_s"] = round(timed("UNet step, batch 2, 128x128 (first)", step)[1], 1)
    out["unet_step_s"] = round(timed("UNet step, batch 2, 128x128", step)[1], 1)
    del unet
    vc = dict(in_channels=3, out_channels=3, down_block_types=["DownEncoderBlock2D"] * 4,
              up_block_types=["UpDecoderBlock2D"] * 4, block_out_channels=[128, 256, 512, 512], layers_per_block=2,
              latent_channels=4, norm_num_groups=32, sample_size=1024, scaling_factor=0.13025)
    vae = mm.AutoencoderKL(vc).eval()
    z = torch.randn(1, 4, 128, 128)
    dec = lambda: vae.decoder(vae.post_quant_conv(z)).sum().item()  # noqa: E731
    out["vae_decode_first_s"] = round(timed("VAE decode to 1024x1024 (first)", dec)[1], 1)
    out["vae_decode_s"] = round(timed("VAE decode to 1024x1024", dec)[1], 1)
print(json.dumps(out))
