#!/usr/bin/env bash
# Installs what is missing, builds redub, and runs the whole test suite.
# The suite is built optimized: the numeric tests run many times faster than in a debug build,
# and -enable-testing keeps `@testable import` working.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
echo "test: building (release, testable)..." >&2
swift build -c release -Xswiftc -enable-testing --build-tests
bin="$(swift build -c release -Xswiftc -enable-testing --show-bin-path)"
echo "test: checkpoint conversion (PyTorch)..." >&2
REDUB="$bin/redub" /usr/bin/python3 scripts/test_convert_checkpoints.py
echo "test: running the suite..." >&2
swift test -c release -Xswiftc -enable-testing --skip-build --disable-swift-testing "$@"
