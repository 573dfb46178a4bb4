#!/usr/bin/env bash
# Installs the system packages redub builds against. Idempotent: does nothing when all
# are present. Runs as root without prompting (uses sudo when not root and sudo exists).
set -euo pipefail

packages=(
  pkg-config
  libopenblas-dev
  libzmq3-dev
  libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev
  # The demo world's speech: espeak-ng's C library (phoneme events with audio positions).
  libespeak-ng-dev
  # PyTorch for the system interpreter: scripts/convert_checkpoints.py and its tests.
  python3-torch python3-numpy
  # The tests of cluster/ and the scripts: shellcheck, and PyYAML to read the manifests.
  shellcheck python3-yaml
  # The web monitor's browser test renders the page in headless Chromium.
  chromium
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then sudo_cmd=(sudo); else
    echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done" >&2
