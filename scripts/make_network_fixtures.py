#!/usr/bin/env python3
"""Writes Tests/NetworksTests/Fixtures/ref_fan1_small.safetensors: a small, well-conditioned
gradient reference for FAN, from face-alignment 1.5.0's own `face_alignment/models/fan.py`.

Why: the shared `ref_fan4` fixture's `grad_input` sits at a point where FAN-4's gradient is
discontinuous at float32 resolution. Some ReLU inputs are within ~1e-7 of zero, so which side
they fall on depends on summation order: the float64 gradient of the reference itself differs
from the fixture's by 4.8e-3 (relative), and moving the input by 1e-6 moves the float64
gradient by 1.7e-2. No implementation can match it to 1e-3 except bit for bit. This fixture
uses FAN(num_modules=1) on 64² inputs (the same blocks, far fewer activations) and checks,
before writing, that its float32 gradient agrees with float64 to 1e-6 and stays put under a
1e-6 input perturbation, so a 1e-3 tolerance against it is meaningful.

Parameters are set by the fixtures' fill formula (shared/fixtures/README.md) and listed in the
`fill` metadata under the reference's names, as in the shared fixtures.

    /usr/bin/python3 scripts/make_network_fixtures.py --fan-py PATH/face_alignment/models/fan.py

(fan.py imports only torch; take it from a face-alignment 1.5.0 checkout or installation.)
"""
import argparse
import importlib.util
import json
import struct
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "Tests" / "NetworksTests" / "Fixtures" / "ref_fan1_small.safetensors"


def fill(shape, seed, scale, offset):
    """The fixtures' deterministic fill, computed in float64 and rounded once."""
    n = int(np.prod(shape)) if len(shape) else 1
    i = np.arange(n, dtype=np.uint64)
    mask = np.uint64(0xFFFFFFFF)
    x = (i * np.uint64(2654435761) + np.uint64(seed * 97531)) & mask
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & mask
    x ^= x >> np.uint64(12)
    x = (x * np.uint64(0x297A2D39)) & mask
    x ^= x >> np.uint64(15)
    u = x.astype(np.float64) / 4294967296.0
    return torch.from_numpy((offset + scale * (2.0 * u - 1.0)).astype(np.float32).reshape(shape))


def fill_spec(model):
    """{name: [seed, scale, offset, shape]} for every float tensor of the state dict, with the
    shared fixtures' conventions (conv weights ±1/√fan_in, BN near identity)."""
    spec = {}
    seed = 1000
    for name, value in model.state_dict().items():
        if not value.is_floating_point():
            continue
        shape = list(value.shape)
        if name.endswith("running_var"):
            scale, offset = 0.5, 1.0
        elif name.endswith(".weight") and value.dim() == 1:
            scale, offset = 0.1, 1.0
        elif value.dim() == 4:
            scale, offset = 1.0 / np.sqrt(shape[1] * shape[2] * shape[3]), 0.0
        else:
            scale, offset = 0.1, 0.0
        spec[name] = [seed, scale, offset, shape]
        seed += 1
    return spec


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        data = tensors[name].detach().contiguous().float().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fan-py", required=True, help="face-alignment 1.5.0's face_alignment/models/fan.py")
    parser.add_argument("--output", default=str(OUT))
    args = parser.parse_args()
    spec_ = importlib.util.spec_from_file_location("fan_reference", args.fan_py)
    fan = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(fan)

    model = fan.FAN(1).eval()
    spec = fill_spec(model)
    state = model.state_dict()
    for name, (seed, scale, offset, shape) in spec.items():
        state[name] = fill(shape, seed, scale, offset)
    model.load_state_dict(state)

    generator = torch.Generator().manual_seed(20241124)
    x = torch.rand(2, 3, 64, 64, generator=generator)
    weights = torch.randn(2, 68, 16, 16, generator=generator)

    def gradient(m, inp, dtype):
        leaf = inp.to(dtype).clone().requires_grad_(True)
        heatmaps = m.to(dtype)(leaf)[-1]
        (heatmaps * weights.to(dtype)).sum().backward()
        return heatmaps.detach(), leaf.grad

    heatmaps, grad = gradient(model, x, torch.float32)
    _, grad64 = gradient(model, x, torch.float64)
    _, moved64 = gradient(model, x.double() + 1e-6 * torch.randn(x.shape, generator=generator, dtype=torch.float64),
                          torch.float64)
    model.float()

    def rel(a, b):
        return float((a.double() - b.double()).abs().max() / b.double().abs().max())

    conditioning = {"float32_vs_float64": rel(grad, grad64), "perturbed_1e-6_vs_float64": rel(moved64, grad64)}
    print(conditioning)
    assert conditioning["float32_vs_float64"] < 1e-5 and conditioning["perturbed_1e-6_vs_float64"] < 1e-5, \
        "the gradient is ill-conditioned at this input; pick another seed"

    write_safetensors(Path(args.output), {
        "input": x, "heatmaps": heatmaps, "loss_weights": weights, "grad_input": grad,
    }, {
        "reference": "face-alignment 1.5.0 models/fan.py FAN(num_modules=1), eval mode, float32",
        "loss": "sum(heatmaps * loss_weights)",
        "heatmaps": "output of the last (only) hourglass module",
        "conditioning": json.dumps(conditioning),
        "fill": json.dumps(spec),
    })
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
