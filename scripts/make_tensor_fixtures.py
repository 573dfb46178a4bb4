#!/usr/bin/env python3
"""Writes Tests/TensorsTests/Fixtures/tensor_reference.safetensors: reference values for the
tensor engine's tests, computed with numpy and PyTorch (CPU, float32).

- fill.<name>: the fixtures' deterministic fill (shared/fixtures/README.md), computed here
  independently with numpy integer arithmetic, for entries of real fixture `fill` specs.
- lstm.*: torch.nn.LSTM forward and gradients.
- adam.*: parameters after torch.optim.Adam steps on fixed gradients.

Run from the repository root with /usr/bin/python3 (python3-torch): the test suite only reads
the committed output.
"""
import json
import struct
import sys
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "fixtures"
OUT = ROOT / "Tests" / "TensorsTests" / "Fixtures" / "tensor_reference.safetensors"


def fill(seed, scale, offset, shape):
    count = int(np.prod(shape)) if shape else 1
    i = np.arange(count, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    x = (i * np.uint64(2654435761) + np.uint64(seed) * np.uint64(97531)) & mask
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & mask
    x ^= x >> np.uint64(12)
    x = (x * np.uint64(0x297A2D39)) & mask
    x ^= x >> np.uint64(15)
    u = x.astype(np.float64) / 4294967296.0
    return (offset + scale * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


def read_metadata(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n)).get("__metadata__", {})


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name], dtype=np.float32)
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
        blobs.append(a.tobytes())
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def main():
    torch.manual_seed(0)
    tensors = {}
    # The fill: entries from two real specs (one with a non-zero offset).
    picked = {}
    for fixture, names in [("ref_lpips_alex.safetensors", ["slice1.0.weight", "slice2.3.bias"]),
                           ("ref_e4e.safetensors", ["body.0.res_layer.0.running_var", "body.0.res_layer.1.weight"])]:
        spec = json.loads(read_metadata(SHARED / fixture)["fill"])
        for name in names:
            picked[name] = spec[name]
            tensors["fill." + name] = fill(*spec[name])

    # LSTM (PyTorch gate order i, f, g, o).
    lstm = torch.nn.LSTM(input_size=5, hidden_size=4)
    x = torch.randn(6, 3, 5, requires_grad=True)
    h0, c0 = torch.randn(1, 3, 4), torch.randn(1, 3, 4)
    out, (hn, cn) = lstm(x, (h0, c0))
    r = torch.randn_like(out)
    (out * r).sum().backward()
    for k, v in lstm.state_dict().items():
        tensors["lstm.param." + k] = v.numpy()
        tensors["lstm.grad." + k] = dict(lstm.named_parameters())[k].grad.numpy()
    tensors.update({"lstm.input": x.detach().numpy(), "lstm.h0": h0[0].numpy(), "lstm.c0": c0[0].numpy(),
                    "lstm.output": out.detach().numpy(), "lstm.hn": hn[0].detach().numpy(),
                    "lstm.cn": cn[0].detach().numpy(), "lstm.loss_weights": r.numpy(),
                    "lstm.grad_input": x.grad.numpy()})

    # Adam: 5 steps with fixed gradients, lr 0.1 and weight decay 0.01.
    p = torch.nn.Parameter(torch.randn(7))
    tensors["adam.initial"] = p.detach().clone().numpy()
    opt = torch.optim.Adam([p], lr=0.1, weight_decay=0.01)
    grads = torch.randn(5, 7)
    for g in grads:
        p.grad = g.clone()
        opt.step()
    tensors["adam.gradients"] = grads.numpy()
    tensors["adam.final"] = p.detach().numpy()

    write(OUT, tensors, {"fill": json.dumps(picked), "producer": "scripts/make_tensor_fixtures.py",
                         "torch": torch.__version__, "numpy": np.__version__})
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
