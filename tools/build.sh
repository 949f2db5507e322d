#!/usr/bin/env bash
# Configures and builds attnlab (Release by default) into build/ or $ATTN_BUILD_DIR.
# Extra arguments go to cmake's configure step, e.g. -DATTN_SANITIZE=address,undefined.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${ATTN_BUILD_DIR:-$root/build}"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${ATTN_BUILD_TYPE:-Release}" "$@" >&2
cmake --build "$build" >&2
