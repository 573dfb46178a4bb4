#!/usr/bin/env bash
# Installs what is missing, builds redub (release) and runs its built-in demo.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
echo "demo: building redub (release)..." >&2
swift build -c release --product redub
exec "$(swift build -c release --show-bin-path)/redub" demo "$@"
