#!/usr/bin/env bash
# Each translation unit built with its own ISA flags (-mavx2, -mavx512f ...) must define no
# weak (vague-linkage) function. An inline function or template it instantiates is emitted as a
# weak definition where it is not inlined (always at -O0), compiled with that unit's flags,
# and the linker keeps one copy for every caller: an AVX-512 copy could then run on a CPU
# without AVX-512. This compiles each unit at -O0 and lists what it would export weakly.
# usage: check_isa_units.sh CXX SOURCE_ROOT FILE=FLAGS...
set -euo pipefail
cxx=$1 root=$2
shift 2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
for unit in "$@"; do
  file=${unit%%=*} flags=${unit#*=}
  # shellcheck disable=SC2086  # the flags are a list
  "$cxx" -std=c++20 -O0 $flags -I"$root/engine/src" -I"$root/engine/src/fused" -I"$root/engine/include" \
    -c "$file" -o "$tmp/unit.o"
  # W: weak code. Weak data (V: inline constexpr tables) is the same bytes under any flags;
  # clang's __clang_call_terminate only calls __cxa_begin_catch and std::terminate.
  weak=$(nm -C "$tmp/unit.o" | awk '$2 == "W"' | grep -v '__clang_call_terminate' || true)
  if [ -n "$weak" ]; then
    echo "FAIL ${file#"$root"/} ($flags) defines weak symbols:"
    echo "$weak" | sed 's/^/    /'
    status=1
  else
    echo "ok   ${file#"$root"/} ($flags)"
  fi
done
exit $status
