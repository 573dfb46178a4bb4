#!/usr/bin/env python3
"""Writes Tests/TensorsTests/Fixtures/ops_reference.safetensors: PyTorch (CPU, float32)
reference values for the image ops of module Tensors (conv2d, conv_transpose2d, upfirdn2d,
pooling, resizing, perspective warp).

Every case stores its inputs, its output `<case>.out`, a fixed upstream gradient
`<case>.gout` and the gradients autograd derives from it (`<case>.gx`, `<case>.gw`, `<case>.gb`).
The op parameters (stride, padding, sizes, ...) are repeated in the Swift tests.

upfirdn2d is computed here from its definition (zero insertion, F.pad, flipped-kernel conv,
subsampling), following the semantics of rosinality/stylegan2-pytorch's upfirdn2d_native.
The warp reference is F.grid_sample (bilinear, zeros padding, align_corners=True) on a grid
built from the homography.

Run from anywhere with /usr/bin/python3 (Debian's python3-torch); the tests only read the output.
"""
import json
import struct
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "TensorsTests" / "Fixtures" / "ops_reference.safetensors"

torch.manual_seed(20240611)
tensors = {}


def rand(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def record(name, inputs, fn):
    """Runs fn on leaf copies of inputs; stores inputs, output, upstream gradient and input grads."""
    leaves = {k: v.clone().requires_grad_(True) for k, v in inputs.items()}
    out = fn(**leaves)
    gout = rand(*out.shape)
    out.backward(gout)
    for k, v in inputs.items():
        tensors[f"{name}.{k}"] = v
        tensors[f"{name}.g{k}"] = leaves[k].grad
    tensors[f"{name}.out"] = out.detach()
    tensors[f"{name}.gout"] = gout


# conv2d ------------------------------------------------------------------------------------
record("conv_stride2", {"x": rand(2, 3, 7, 6), "w": rand(4, 3, 3, 3), "b": rand(4)},
       lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1))
record("conv_groups2", {"x": rand(2, 4, 6, 5), "w": rand(6, 2, 3, 3), "b": rand(6)},
       lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1, groups=2))
record("conv_depthwise", {"x": rand(2, 3, 7, 7), "w": rand(3, 1, 3, 3), "b": rand(3)},
       lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=3))
# Asymmetric padding (top 1, bottom 0, left 2, right 1) = F.pad then an unpadded conv.
record("conv_asym", {"x": rand(1, 2, 6, 7), "w": rand(3, 2, 3, 2)},
       lambda x, w: F.conv2d(F.pad(x, (2, 1, 1, 0)), w))
record("conv_pointwise", {"x": rand(2, 5, 4, 3), "w": rand(3, 5, 1, 1), "b": rand(3)},
       lambda x, w, b: F.conv2d(x, w, b))
record("conv_5x5", {"x": rand(1, 3, 9, 8), "w": rand(2, 3, 5, 5)},
       lambda x, w: F.conv2d(x, w, padding=2))

# conv_transpose2d --------------------------------------------------------------------------
record("convT_outpad", {"x": rand(2, 3, 4, 5), "w": rand(3, 2, 3, 3), "b": rand(2)},
       lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1))
record("convT_k4", {"x": rand(1, 4, 3, 3), "w": rand(4, 3, 4, 4)},
       lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=1))
record("convT_stride2_pad0", {"x": rand(2, 2, 3, 4), "w": rand(2, 3, 3, 3)},
       lambda x, w: F.conv_transpose2d(x, w, stride=2, padding=0))
record("convT_stride1", {"x": rand(1, 3, 5, 4), "w": rand(3, 2, 3, 3), "b": rand(2)},
       lambda x, w, b: F.conv_transpose2d(x, w, b, stride=1, padding=1))


# upfirdn2d ---------------------------------------------------------------------------------
def upfirdn2d_reference(x, kernel, up, down, pad):
    """pad = (x0, x1, y0, y1); an independent formulation of the reference's definition."""
    n, c, h, w = x.shape
    stuffed = x.new_zeros(n, c, h * up, w * up)
    stuffed[:, :, ::up, ::up] = x
    padded = F.pad(stuffed, list(pad))  # F.pad order is (left, right, top, bottom); negative crops
    flipped = torch.flip(kernel, [0, 1])[None, None]
    out = F.conv2d(padded.reshape(n * c, 1, *padded.shape[2:]), flipped)
    out = out[:, :, ::down, ::down]
    return out.reshape(n, c, out.shape[2], out.shape[3])


def upfirdn_case(name, shape, kshape, up, down, pad):
    kernel = torch.rand(*kshape)
    tensors[f"{name}.kernel"] = kernel
    record(name, {"x": rand(*shape)}, lambda x: upfirdn2d_reference(x, kernel, up, down, pad))


upfirdn_case("upfirdn_up2", (1, 3, 5, 6), (4, 4), 2, 1, (2, 1, 2, 1))
upfirdn_case("upfirdn_down2", (2, 2, 8, 7), (4, 4), 1, 2, (1, 1, 1, 1))
upfirdn_case("upfirdn_blur", (1, 2, 6, 5), (3, 4), 1, 1, (2, 1, 1, 2))
upfirdn_case("upfirdn_crop", (1, 2, 5, 6), (4, 4), 2, 1, (-1, 2, 1, -2))
upfirdn_case("upfirdn_up2down3", (1, 1, 7, 6), (4, 3), 2, 3, (1, 2, 0, 3))

# pooling -----------------------------------------------------------------------------------
distinct = torch.randperm(2 * 3 * 7 * 8).float().reshape(2, 3, 7, 8) / 50 - 3
record("avgpool_ceil_nopad", {"x": rand(2, 3, 7, 8)},
       lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False))
record("avgpool_ceil_pad", {"x": rand(2, 3, 7, 8)},
       lambda x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=True))
record("avgpool_2", {"x": rand(1, 2, 5, 6)}, lambda x: F.avg_pool2d(x, 2))
record("maxpool_ceil", {"x": distinct}, lambda x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True))
record("maxpool_2", {"x": distinct[:1, :, :6, :6].contiguous()}, lambda x: F.max_pool2d(x, 2))

# resize ------------------------------------------------------------------------------------
resize_input = rand(2, 2, 7, 8)
for size in [(11, 5), (14, 16), (3, 13)]:
    record(f"nearest_{size[0]}x{size[1]}", {"x": resize_input},
           lambda x: F.interpolate(x, size=size, mode="nearest"))
    for align in [False, True]:
        record(f"bilinear_{size[0]}x{size[1]}_{'ac' if align else 'hp'}", {"x": resize_input},
               lambda x: F.interpolate(x, size=size, mode="bilinear", align_corners=align))
record("bilinear_1x4_ac", {"x": resize_input},
       lambda x: F.interpolate(x, size=(1, 4), mode="bilinear", align_corners=True))

# perspective warp --------------------------------------------------------------------------
matrix = torch.tensor([[0.9, 0.12, 0.7], [-0.08, 1.1, -0.4], [0.01, -0.015, 1.0]], dtype=torch.float64)
tensors["warp.matrix"] = matrix.float()


def warp_reference(x, out_h, out_w):
    h, w = x.shape[2], x.shape[3]
    ys, xs = torch.meshgrid(torch.arange(out_h, dtype=torch.float64),
                            torch.arange(out_w, dtype=torch.float64), indexing="ij")
    pts = torch.stack([xs, ys, torch.ones_like(xs)], -1) @ matrix.T
    sx, sy = pts[..., 0] / pts[..., 2], pts[..., 1] / pts[..., 2]
    grid = torch.stack([2 * sx / (w - 1) - 1, 2 * sy / (h - 1) - 1], -1).float()
    grid = grid[None].expand(x.shape[0], -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


record("warp", {"x": rand(2, 3, 9, 10)}, lambda x: warp_reference(x, 8, 11))


# write -------------------------------------------------------------------------------------
def write_safetensors(path, named):
    header, blobs, offset = {}, [], 0
    for name in sorted(named):
        data = named[name].detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(named[name].shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


write_safetensors(OUT, tensors)
print(f"wrote {len(tensors)} tensors to {OUT} ({OUT.stat().st_size} bytes)")
