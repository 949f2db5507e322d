#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang into build-fuzz/ (or
# $ATTN_FUZZ_BUILD_DIR) and runs each for a bounded time.
#
#   tools/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]     (default: 60 s, every harness)
#
# New inputs are kept in <build>/corpus/<harness>/ (the committed seeds in
# tests/fuzz/corpus/ are only read). On a finding the crashing input is in
# <build>/artifacts/<harness>/; replay it with ATTN_FUZZ_VERBOSE=1 <harness> <file>
# and turn it into a test in tests/test_fuzz_regressions.cpp.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
seconds="${1:-60}"
[ $# -gt 0 ] && shift
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(fuzz_npy fuzz_attention_args)
if ! command -v clang++ >/dev/null || ! command -v clang >/dev/null; then
  echo "fuzz: clang/clang++ not found; tools/install-deps.sh installs them" >&2
  exit 2
fi
build="${ATTN_FUZZ_BUILD_DIR:-$root/build-fuzz}"
CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DATTN_BUILD_FUZZ=ON -DATTN_BUILD_TESTS=OFF -DATTN_BUILD_BENCH=OFF >&2
cmake --build "$build" --target "${harnesses[@]}" >&2

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-2}"
status=0
for h in "${harnesses[@]}"; do
  work="$build/corpus/$h" artifacts="$build/artifacts/$h"
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $h for ${seconds} s (corpus $work, seeds tests/fuzz/corpus/$h)" >&2
  if ! "$build/tests/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$work" "$root/tests/fuzz/corpus/$h" 2>"$build/$h.log"; then
    tail -n 60 "$build/$h.log" >&2
    echo "fuzz: $h FOUND A PROBLEM; input saved in $artifacts/ (full log: $build/$h.log)" >&2
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$build/$h.log" >&2 || true
  fi
done
exit $status
