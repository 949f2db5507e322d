#!/usr/bin/env bash
# Installs attnlab's build, test and tool dependencies from Debian 12 packages.
# Idempotent: installs only what is missing; needs root (or sudo) only then.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config   # toolchain
  libopenblas-dev libopenblas-openmp-dev         # cblas.h + the OpenMP build of OpenBLAS
  libomp-dev                                     # OpenMP runtime for clang builds
  libbenchmark-dev libbenchmark-tools            # Google Benchmark + compare.py
  libgtest-dev googletest                        # GoogleTest
  libcli11-dev                                   # command line parsing
  python3-numpy python3-matplotlib               # .npy fixtures, charts (Debian's /usr/bin/python3)
  python3-scipy                                  # the U test of compare.py (libbenchmark-tools only suggests it)
  clang libclang-rt-14-dev                       # libFuzzer and sanitizer runtimes
  chromium python3-pil                           # lab: headless rendering tests, screenshots read with PIL
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present" >&2
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
