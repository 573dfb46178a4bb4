#!/usr/bin/env python3
"""Writes Tests/MediaTests/Fixtures/mfcc_reference.safetensors: test signals and the features the
reference implementations compute from them.

- `mfcc/<name>`: python_speech_features.mfcc (the PyPI package, 0.6) with the parameters in the
  file's metadata (`config/<name>`, JSON) — module Media's MFCC must match it.
- `windows/speech`: EVP's per-video-frame windows at 25 fps (pad 1920 samples both ends, mfcc with
  winstep 0.01, rows 4k…4k+27, coefficients 1…12), computed the way EVP's code does.
- `logmel/<name>`: log(max(librosa.feature.melspectrogram(...), 1e-10)) with n_fft 800, hop 200,
  window 800, 80 mels at 16 kHz (librosa's defaults otherwise: centred, zero padding, power 2,
  Slaney mel scale and norm).

Signals are stored as float32 and handed to the references as float64 copies of those values.
Needs numpy, scipy, python_speech_features and librosa:
    pip install python_speech_features librosa
Run from the repository root: python3 scripts/make_media_fixtures.py
"""
import json
import struct
from pathlib import Path

import numpy as np
import librosa
import python_speech_features as psf

OUT = Path(__file__).resolve().parent.parent / "Tests/MediaTests/Fixtures/mfcc_reference.safetensors"


def signals():
    rng = np.random.default_rng(20240605)
    out = {}
    sr = 16000
    t = np.arange(int(0.8 * sr)) / sr
    # A rising chirp with two harmonics.
    phase = 2 * np.pi * (200 * t + 900 * t * t)
    out["chirp"] = (0.5 * np.sin(phase) + 0.2 * np.sin(2 * phase) + 0.1 * np.sin(3 * phase), sr)
    # White noise of an odd length (the last frame is zero padded).
    out["noise"] = (0.3 * rng.standard_normal(11_687), sr)
    # Speech-like: a buzzy 120 Hz source through moving formants, syllable envelope, silent gaps.
    t = np.arange(int(1.2 * sr)) / sr
    source = np.sign(np.sin(2 * np.pi * 120 * t)) * 0.3 + 0.05 * rng.standard_normal(t.size)
    formant = np.sin(2 * np.pi * (700 + 400 * np.sin(2 * np.pi * 3 * t)) * t)
    envelope = np.clip(np.sin(2 * np.pi * 4 * t), 0, None) ** 2
    speech = source * (0.5 + 0.5 * formant) * envelope
    speech[int(0.45 * sr):int(0.6 * sr)] = 0.0
    out["speech"] = (speech, sr)
    # Shorter than one frame: a single zero-padded frame.
    out["short"] = (0.4 * np.sin(2 * np.pi * 1000 * np.arange(300) / sr), sr)
    # 8 kHz with other parameters.
    t = np.arange(8000) / 8000
    out["narrowband"] = (0.5 * np.sin(2 * np.pi * 300 * t) * np.sin(2 * np.pi * 2 * t) + 0.05 * rng.standard_normal(t.size), 8000)
    # 22.05 kHz: the 25 ms frame (551 samples) is longer than nfft 512, so frames are truncated.
    t = np.arange(11_025) / 22050
    out["wideband"] = (0.4 * np.sin(2 * np.pi * 2500 * t) + 0.2 * np.sin(2 * np.pi * 440 * t), 22050)
    return {k: (np.asarray(v, dtype=np.float32), sr) for k, (v, sr) in out.items()}


CONFIGS = {
    "default": dict(winlen=0.025, winstep=0.01, numcep=13, nfilt=26, nfft=512, lowfreq=0, highfreq=None,
                    preemph=0.97, ceplifter=22, appendEnergy=True),
    "narrowband": dict(winlen=0.032, winstep=0.016, numcep=10, nfilt=20, nfft=256, lowfreq=100, highfreq=3800,
                       preemph=0.95, ceplifter=0, appendEnergy=False),
}


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        array = np.ascontiguousarray(tensors[name], dtype="<f4")
        data = array.tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    tensors, metadata = {}, {}
    for name, (signal, sr) in signals().items():
        config = CONFIGS["narrowband"] if name == "narrowband" else CONFIGS["default"]
        x = signal.astype(np.float64)
        tensors[f"signal/{name}"] = signal
        tensors[f"mfcc/{name}"] = psf.mfcc(x, sr, **config)
        metadata[f"config/{name}"] = json.dumps(dict(config, samplerate=sr))

    speech = tensors["signal/speech"].astype(np.float64)
    padded = np.concatenate([np.zeros(1920), speech, np.zeros(1920)])
    mfcc = psf.mfcc(padded, 16000, winstep=0.01)
    windows = [mfcc[4 * k:4 * k + 28, 1:] for k in range(int(mfcc.shape[0] / 4) - 6)]
    tensors["windows/speech"] = np.stack(windows)

    for name in ["chirp", "speech"]:
        y = tensors[f"signal/{name}"].astype(np.float64)
        mel = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=800, hop_length=200, win_length=800, n_mels=80)
        tensors[f"logmel/{name}"] = np.log(np.maximum(mel, 1e-10)).T  # [frames, 80]
    metadata["generator"] = (f"scripts/make_media_fixtures.py; python_speech_features "
                             f"{getattr(psf, '__version__', '0.6')}, librosa {librosa.__version__}, numpy {np.__version__}")
    write_safetensors(OUT, tensors, metadata)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes): " + ", ".join(f"{k} {list(np.shape(v))}" for k, v in sorted(tensors.items())))


if __name__ == "__main__":
    main()
