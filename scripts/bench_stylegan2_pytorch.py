#!/usr/bin/env python3
"""Times a StyleGAN2 generator of the reference architecture (config-f channels, style_dim 512,
rosinality's fused modulated convolution) in PyTorch on the CPU, forward and forward+backward
to W+, and prints one JSON line like `redub bench generator --json`. Used by
scripts/bench_vs_pytorch.sh; written for this comparison, with random weights."""
import argparse
import json
import math
import time

import torch
import torch.nn.functional as F


def make_kernel():
    k = torch.tensor([1.0, 3.0, 3.0, 1.0])
    k = k[None, :] * k[:, None]
    return k / k.sum()


def upfirdn(x, kernel, up, pad0, pad1):
    b, c, h, w = x.shape
    if up > 1:
        y = x.new_zeros(b, c, h * up, w * up)
        y[:, :, ::up, ::up] = x
        x = y
    x = F.pad(x, (pad0, pad1, pad0, pad1))
    weight = torch.flip(kernel, [0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, weight, groups=c)


class Generator:
    def __init__(self, size, style_dim=512):
        g = torch.Generator().manual_seed(0)
        channels = {4: 512, 8: 512, 16: 512, 32: 512, 64: 512, 128: 256, 256: 128, 512: 64, 1024: 32}
        self.layers = []
        self.style_dim = style_dim
        cin = 512
        self.const = torch.randn(1, 512, 4, 4, generator=g)
        self.layers.append(self.conv(cin, 512, 3, g, up=False))
        self.rgbs = [self.conv(512, 3, 1, g, up=False, demod=False)]
        res = 8
        while res <= size:
            cout = channels[res]
            self.layers.append(self.conv(cin, cout, 3, g, up=True))
            self.layers.append(self.conv(cout, cout, 3, g, up=False))
            self.rgbs.append(self.conv(cout, 3, 1, g, up=False, demod=False))
            cin = cout
            res *= 2
        self.kernel = make_kernel() * 4

    def conv(self, cin, cout, k, g, up, demod=True):
        return dict(weight=torch.randn(1, cout, cin, k, k, generator=g), mod_w=torch.randn(cin, self.style_dim, generator=g),
                    mod_b=torch.ones(cin), bias=torch.zeros(cout), up=up, demod=demod, k=k)

    def modconv(self, p, x, style):
        b, cin, h, w = x.shape
        k, cout = p["k"], p["weight"].shape[1]
        s = F.linear(style, p["mod_w"] / math.sqrt(self.style_dim), p["mod_b"]).view(b, 1, cin, 1, 1)
        weight = p["weight"] / math.sqrt(cin * k * k) * s
        if p["demod"]:
            weight = weight * torch.rsqrt(weight.pow(2).sum([2, 3, 4]) + 1e-8).view(b, cout, 1, 1, 1)
        if p["up"]:
            weight = weight.transpose(1, 2).reshape(b * cin, cout, k, k)
            out = F.conv_transpose2d(x.view(1, b * cin, h, w), weight, stride=2, groups=b)
            out = out.view(b, cout, out.shape[2], out.shape[3])
            return upfirdn(out, self.kernel, 1, 1, 1)
        out = F.conv2d(x.view(1, b * cin, h, w), weight.view(b * cout, cin, k, k), padding=k // 2, groups=b)
        return out.view(b, cout, h, w)

    def __call__(self, w):
        b = w.shape[0]
        x = self.const.repeat(b, 1, 1, 1)
        x = F.leaky_relu(self.modconv(self.layers[0], x, w[:, 0]), 0.2) * math.sqrt(2)
        skip = self.modconv(self.rgbs[0], x, w[:, 1])
        i = 1
        for n in range(len(self.rgbs) - 1):
            x = F.leaky_relu(self.modconv(self.layers[1 + 2 * n], x, w[:, i]), 0.2) * math.sqrt(2)
            x = F.leaky_relu(self.modconv(self.layers[2 + 2 * n], x, w[:, i + 1]), 0.2) * math.sqrt(2)
            skip = self.modconv(self.rgbs[n + 1], x, w[:, i + 2]) + upfirdn(skip, self.kernel, 2, 2, 1)
            i += 2
        return skip


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    g = Generator(a.size)
    latents = int(math.log2(a.size)) * 2 - 2
    w = torch.randn(a.batch, latents, 512)
    fwd = fb = float("inf")
    for _ in range(a.repeats):
        t = time.perf_counter()
        with torch.no_grad():
            g(w)
        fwd = min(fwd, time.perf_counter() - t)
        t = time.perf_counter()
        wl = w.clone().requires_grad_(True)
        img = g(wl)
        torch.autograd.grad(img.pow(2).mean(), wl)
        fb = min(fb, time.perf_counter() - t)
    print(json.dumps({"size": a.size, "batch": a.batch, "torch": torch.__version__, "threads": a.threads,
                      "forward_s_per_image": fwd / a.batch, "forward_backward_s_per_image": fb / a.batch}))


if __name__ == "__main__":
    main()
