"""PyTorch side of `npm run bench:engine`: the same workloads as bench/engine.ts.

Runs as a server: reads one JSON request per line on stdin ({"name": ..., "reps": n}),
answers one JSON line {"name": ..., "ms": [per-rep milliseconds]}. The TypeScript driver
alternates between puma and this process so both see the same machine state.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(0)
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)


def sgemm(n):
    a, b = torch.randn(n, n), torch.randn(n, n)
    out = torch.empty(n, n)
    return lambda: torch.mm(a, b, out=out)


def conv():
    x = torch.randn(32, 64, 32, 32, requires_grad=True)
    conv = nn.Conv2d(64, 64, 3, padding=1)

    def step():
        conv.zero_grad(set_to_none=True)
        x.grad = None
        conv(x).sum().backward()
    return step


def attention():
    q, k, v = (torch.randn(8, 4, 256, 64, requires_grad=True) for _ in range(3))
    mask = torch.full((256, 256), float('-inf')).triu(1)

    def step():
        for t in (q, k, v):
            t.grad = None
        s = q @ k.transpose(-2, -1) / 8.0 + mask
        (s.softmax(-1) @ v).sum().backward()
    return step


class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)

    def forward(self, x, mask):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.h, C // self.h).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(C // self.h) + mask
        y = (att.softmax(-1) @ v).transpose(1, 2).contiguous().view(B, T, C)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, vocab=256, d=256, layers=4, heads=4, seq=256):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(seq, d)
        self.blocks = nn.ModuleList([Block(d, heads) for _ in range(layers)])
        self.ln_f, self.head = nn.LayerNorm(d), nn.Linear(d, vocab, bias=False)
        self.register_buffer('mask', torch.full((seq, seq), float('-inf')).triu(1))

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x, self.mask[:T, :T])
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def gpt():
    model = GPT()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    idx, tgt = torch.randint(0, 256, (8, 256)), torch.randint(0, 256, (8, 256))

    def step():
        opt.zero_grad(set_to_none=True)
        model(idx, tgt).backward()
        opt.step()
    return step


class GroupNorm32(nn.GroupNorm):
    """GroupNorm computed in float32 (PyTorch 1.13's CPU autocast hands it bfloat16 input)."""
    def forward(self, x):
        return super().forward(x.float())


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32, as GroupNorm32."""
    def forward(self, x):
        return super().forward(x.float())


class ResBlock(nn.Module):
    def __init__(self, cin, cout, temb):
        super().__init__()
        self.norm1, self.norm2 = GroupNorm32(8, cin), GroupNorm32(8, cout)
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cout, cout, 3, padding=1)
        self.time = nn.Linear(temb, cout)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else None

    def forward(self, x, t):
        h = self.conv1(F.silu(self.norm1(x))) + self.time(F.silu(t))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.skip(x) if self.skip is not None else x)


class CrossBlock(nn.Module):
    def __init__(self, c, ctx, heads=4):
        super().__init__()
        self.heads = heads
        self.norm, self.ln1, self.ln2, self.ln3 = GroupNorm32(8, c), LayerNorm32(c), LayerNorm32(c), LayerNorm32(c)
        self.proj_in, self.proj_out = nn.Linear(c, c), nn.Linear(c, c)
        self.q1, self.k1, self.v1, self.o1 = (nn.Linear(c, c, bias=b) for b in (False, False, False, True))
        self.q2, self.k2, self.v2, self.o2 = nn.Linear(c, c, bias=False), nn.Linear(ctx, c, bias=False), nn.Linear(ctx, c, bias=False), nn.Linear(c, c)
        self.ff1, self.ff2 = nn.Linear(c, 8 * c), nn.Linear(4 * c, c)

    def attn(self, q, k, v):
        B, T, C = q.shape
        h = self.heads
        q, k, v = (t.view(B, -1, h, C // h).transpose(1, 2) for t in (q, k, v))
        a = ((q @ k.transpose(-2, -1)) / math.sqrt(C // h)).softmax(-1) @ v
        return a.transpose(1, 2).reshape(B, T, C)

    def forward(self, x, ctx):
        B, C, H, W = x.shape
        h = self.proj_in(self.norm(x).view(B, C, H * W).transpose(1, 2))
        n = self.ln1(h)
        h = h + self.o1(self.attn(self.q1(n), self.k1(n), self.v1(n)))
        n = self.ln2(h)
        h = h + self.o2(self.attn(self.q2(n), self.k2(ctx), self.v2(ctx)))
        a, g = self.ff1(self.ln3(h)).chunk(2, dim=-1)
        h = h + self.ff2(a * F.gelu(g))
        return x + self.proj_out(h).transpose(1, 2).reshape(B, C, H, W)


class UNet(nn.Module):
    """Two-level latent UNet with cross-attention: 4x16x16 latents, 16 context tokens of 128."""

    def __init__(self, c=(64, 128), ctx=128, temb=256):
        super().__init__()
        self.c0 = c[0]
        self.time1, self.time2 = nn.Linear(c[0], temb), nn.Linear(temb, temb)
        self.conv_in = nn.Conv2d(4, c[0], 3, padding=1)
        self.down1, self.attn1 = ResBlock(c[0], c[0], temb), CrossBlock(c[0], ctx)
        self.downsample = nn.Conv2d(c[0], c[0], 3, stride=2, padding=1)
        self.down2, self.attn2 = ResBlock(c[0], c[1], temb), CrossBlock(c[1], ctx)
        self.mid = ResBlock(c[1], c[1], temb)
        self.up2, self.uattn2 = ResBlock(2 * c[1], c[1], temb), CrossBlock(c[1], ctx)
        self.upconv = nn.Conv2d(c[1], c[1], 3, padding=1)
        self.up1, self.uattn1 = ResBlock(c[1] + c[0], c[0], temb), CrossBlock(c[0], ctx)
        self.norm_out, self.conv_out = GroupNorm32(8, c[0]), nn.Conv2d(c[0], 4, 3, padding=1)

    def forward(self, x, t, ctx):
        half = self.c0 // 2
        freqs = torch.exp(-math.log(10000) * torch.arange(half) / half)
        emb = t[:, None].float() * freqs[None]
        temb = self.time2(F.silu(self.time1(torch.cat([emb.sin(), emb.cos()], -1))))
        h = self.conv_in(x)
        s1 = self.attn1(self.down1(h, temb), ctx)
        s2 = self.attn2(self.down2(self.downsample(s1), temb), ctx)
        h = self.mid(s2, temb)
        h = self.uattn2(self.up2(torch.cat([h, s2], 1), temb), ctx)
        h = self.upconv(F.interpolate(h, scale_factor=2, mode='nearest'))
        h = self.uattn1(self.up1(torch.cat([h, s1], 1), temb), ctx)
        return self.conv_out(F.silu(self.norm_out(h)))


def unet():
    model = UNet()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, noise = torch.randn(16, 4, 16, 16), torch.randn(16, 4, 16, 16)
    t, ctx = torch.randint(0, 1000, (16,)), torch.randn(16, 16, 128)

    def step():
        opt.zero_grad(set_to_none=True)
        F.mse_loss(model(x, t, ctx), noise).backward()
        opt.step()
    return step


def unet_sampling(b=2):
    """One forward without gradients at batch b: a decoder's sampling step."""
    model = UNet().eval()
    x, t, ctx = torch.randn(b, 4, 16, 16), torch.randint(0, 1000, (b,)), torch.randn(b, 16, 128)

    def step():
        with torch.no_grad():
            model(x, t, ctx)
    return step


def conv_small():
    x, conv = torch.randn(2, 32, 16, 16), nn.Conv2d(32, 32, 3, padding=1)

    def step():
        with torch.no_grad():
            conv(x)
    return step


def bf16(make):
    """The step under CPU autocast to bfloat16 (matrix products and convolutions in bf16)."""
    def build():
        step = make()

        def run():
            with torch.autocast('cpu', dtype=torch.bfloat16):
                step()
        return run
    return build


def bf16_mm(n):
    a, b = torch.randn(n, n).bfloat16(), torch.randn(n, n).bfloat16()
    return lambda: torch.mm(a, b)


WORKLOADS = {
    'sgemm n=512': lambda: sgemm(512),
    'sgemm n=1024': lambda: sgemm(1024),
    'sgemm n=2048': lambda: sgemm(2048),
    'conv2d 3x3 64->64 32x64x32x32 fwd+bwd': conv,
    'attention fwd+bwd B8 H4 T256 D64 causal': attention,
    'GPT AdamW step d256 L4 H4 T256 B8 V256': gpt,
    'UNet train step 4x16x16 ch64/128 xattn B16': unet,
    'conv2d 3x3 32->32 2x32x16x16 fwd': conv_small,
    'UNet sampling step 4x16x16 ch64/128 xattn B2': unet_sampling,
    'bf16 gemm n=1024': lambda: bf16_mm(1024),
    'bf16 conv2d 3x3 64->64 32x64x32x32 fwd+bwd': bf16(conv),
    'bf16 GPT AdamW step d256 L4 H4 T256 B8 V256': bf16(gpt),
    'bf16 UNet train step 4x16x16 ch64/128 xattn B16': bf16(unet),
}

if __name__ == '__main__':
    ready = {}
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        name, reps = req['name'], req['reps']
        if name not in ready:
            ready[name] = WORKLOADS[name]()
            ready[name]()  # warm-up
        fn, ms = ready[name], []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            ms.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({'name': name, 'ms': ms}), flush=True)
