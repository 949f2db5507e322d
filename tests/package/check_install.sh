#!/usr/bin/env bash
# Installs the built attnlab into a temporary prefix, then configures, builds
# and runs a separate consumer project against it with find_package(attnlab);
# given MPIEXEC (the build has attn::ring), also a consumer of attn::ring under mpirun -np 2.
# Usage: check_install.sh BUILD_DIR [MPIEXEC]
set -euo pipefail
build_dir="$1"
mpiexec="${2:-}"
src_dir="$(cd "$(dirname "$0")" && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build_dir" --prefix "$tmp/prefix" >/dev/null
cmake -S "$src_dir/consumer" -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
cmake --build "$tmp/build" >/dev/null
"$tmp/build/consumer"
if [ -n "$mpiexec" ]; then
  cmake -S "$src_dir/ring_consumer" -B "$tmp/ring_build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" >/dev/null
  cmake --build "$tmp/ring_build" >/dev/null
  "$mpiexec" --allow-run-as-root --oversubscribe --mca btl self,vader -np 2 "$tmp/ring_build/ring_consumer"
fi
