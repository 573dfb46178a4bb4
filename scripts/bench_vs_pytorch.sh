#!/usr/bin/env bash
# Times redub's StyleGAN2 generator and the same architecture in PyTorch (CPU) in one run and
# prints both and the speed ratios. Usage: scripts/bench_vs_pytorch.sh [SIZE] [BATCH] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}; batch=${2:-4}; threads=${3:-2}

swift build -c release --product redub >&2
redub="$(swift build -c release --show-bin-path)/redub"
ours=$("$redub" bench generator --size "$size" --batch "$batch" --threads "$threads" --json | tail -1)
echo "redub:   $ours"
if ! /usr/bin/python3 -c "import torch" 2>/dev/null; then
  echo "PyTorch is not installed for /usr/bin/python3 (apt-get install python3-torch); no comparison." >&2
  exit 0
fi
theirs=$(/usr/bin/python3 scripts/bench_stylegan2_pytorch.py --size "$size" --batch "$batch" --threads "$threads")
echo "pytorch: $theirs"
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for key in ["forward_s_per_image", "forward_backward_s_per_image"]:
    print(f"{key}: redub {ours[key]:.3f} s, pytorch {theirs[key]:.3f} s, redub is {theirs[key] / ours[key]:.2f}x as fast")
PY
