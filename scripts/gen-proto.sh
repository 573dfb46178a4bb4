#!/usr/bin/env bash
# Regenerates Sources/Farm/Generated/ from Proto/redub/v1/*.proto.
# The generated Swift is committed, so builds and CI never need protoc or the plugin; run this
# only after editing a .proto, and commit the result together with the schema.
#
# Needs protoc: `apt-get install -y protobuf-compiler` (Debian). The protoc-gen-swift plugin is
# built from the swift-protobuf version Package.swift resolves, so the generated code always
# matches the runtime it links against.
set -euo pipefail
cd "$(dirname "$0")/.."

scratch="${REDUB_PROTO_SCRATCH:-.build-proto}"
if ! command -v protoc >/dev/null 2>&1; then
  echo "gen-proto: protoc not found; install it with: apt-get install -y protobuf-compiler" >&2
  exit 1
fi

echo "gen-proto: building protoc-gen-swift (first time: several minutes)..." >&2
swift build --scratch-path "$scratch" --product protoc-gen-swift >&2
plugin="$(swift build --scratch-path "$scratch" --show-bin-path)/protoc-gen-swift"

out=Sources/Farm/Generated
rm -rf "$out"
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" \
  --swift_opt=Visibility=Public \
  --swift_opt=FileNaming=PathToUnderscores \
  --proto_path=Proto \
  --swift_out="$out" \
  Proto/redub/v1/*.proto
echo "gen-proto: wrote $(ls "$out")" >&2
