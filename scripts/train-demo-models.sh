#!/usr/bin/env bash
# Remakes the demo's trained tiny models (Sources/DemoWorld/TrainedModels) with
# `redub train demo-world`, from scratch and deterministically for a seed. On 2 cores it takes
# about 55 minutes (generator 20, FAN 15, audio to landmarks 15, BiSeNet 5). Extra arguments
# go to `redub train demo-world` (e.g. --generator-steps N).
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
echo "train-demo-models: building redub (release)..." >&2
swift build -c release --product redub
out="${REDUB_TRAINING_DIR:-.build/demo-training}"
"$(swift build -c release --show-bin-path)/redub" train demo-world --output "$out" "$@"
for name in stylegan2 fan bisenet audio2landmarks; do
  cp "$out/$name.safetensors" "Sources/DemoWorld/TrainedModels/$name.safetensors"
done
echo "train-demo-models: copied the trained models into Sources/DemoWorld/TrainedModels (rebuild redub to ship them)" >&2
