#!/usr/bin/env python3
"""Writes Tests/DubbingTests/Fixtures/eval_reference.json: small 8-bit RGB image pairs and the
PSNR and SSIM that scikit-image computes for them — module Dubbing's `ImageQuality` must match.

The images are given to scikit-image as float64 in [0, 1] (byte / 255), as redub converts frames:
- PSNR: skimage.metrics.peak_signal_noise_ratio(reference, test, data_range=1)
- SSIM: skimage.metrics.structural_similarity(reference, test, gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=1, channel_axis=2) — the mean of the three channels'
  SSIMs — and each channel's SSIM alone (`ssim_channels`).

Each pair is a smooth picture with texture and a second picture made from it: "noise" adds
Gaussian noise, "shift" moves the picture by one pixel and changes its contrast, "dark" is a
nearly black, low-contrast pair (where the constants C1, C2 dominate).

Needs numpy and scikit-image (pip install scikit-image).
Run from the repository root: python3 scripts/make_eval_fixtures.py
"""
import base64
import json
from pathlib import Path

import numpy as np
import skimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

OUT = Path(__file__).resolve().parent.parent / "Tests/DubbingTests/Fixtures/eval_reference.json"
WIDTH, HEIGHT = 24, 20


def base(rng):
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r = 120 + 80 * np.sin(x / 3.0) * np.cos(y / 4.0)
    g = 90 + 60 * np.cos((x + y) / 5.0) + 20 * ((x.astype(int) // 4 + y.astype(int) // 4) % 2)
    b = 60 + 4 * x + 3 * y
    img = np.stack([r, g, b], axis=2) + rng.normal(0, 6, (HEIGHT, WIDTH, 3))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def pairs():
    rng = np.random.default_rng(20260508)
    a = base(rng)
    noisy = np.clip(np.round(a.astype(np.float64) + rng.normal(0, 12, a.shape)), 0, 255).astype(np.uint8)
    shifted = np.roll(a, 1, axis=1).astype(np.float64)
    shifted = np.clip(np.round((shifted - 128) * 0.8 + 140), 0, 255).astype(np.uint8)
    dark = np.clip(np.round(rng.normal(4, 2, a.shape)), 0, 255).astype(np.uint8)
    dark2 = np.clip(np.round(dark.astype(np.float64) + rng.normal(0, 1.5, a.shape)), 0, 255).astype(np.uint8)
    return [("noise", a, noisy), ("shift", a, shifted), ("dark", dark, dark2)]


def main():
    cases = []
    for name, reference, test in pairs():
        x, y = reference.astype(np.float64) / 255, test.astype(np.float64) / 255
        options = dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=1.0)
        cases.append({
            "name": name,
            "width": WIDTH,
            "height": HEIGHT,
            # base64 of the bytes, row-major, R G B per pixel
            "reference": base64.b64encode(reference.tobytes()).decode(),
            "test": base64.b64encode(test.tobytes()).decode(),
            "psnr": float(peak_signal_noise_ratio(x, y, data_range=1.0)),
            "ssim": float(structural_similarity(x, y, channel_axis=2, **options)),
            "ssim_channels": [float(structural_similarity(x[:, :, c], y[:, :, c], **options)) for c in range(3)],
        })
    OUT.parent.mkdir(parents=True, exist_ok=True)
    document = {"generator": f"scripts/make_eval_fixtures.py, scikit-image {skimage.__version__}, numpy {np.__version__}",
                "cases": cases}
    OUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    for case in cases:
        print(case["name"], "psnr", case["psnr"], "ssim", case["ssim"], case["ssim_channels"])
    print("wrote", OUT, OUT.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
