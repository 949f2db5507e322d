#!/usr/bin/env bash
# Regenerates the GloVe outputs shown in section 9 of docs/lab.md, into docs/lab/glove/.
# Needs the converted vectors (tools/fetch-glove.sh; 118 MB download), so it is kept apart from
# regenerate.sh: tests/cli/check_lab_docs.py runs it only where the vectors are present.
# Usage: docs/lab/regenerate-glove.sh [ATTNLAB_BINARY] [OUT_DIR]
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
attnlab="$(realpath "${1:-$root/build/tools/attnlab/attnlab}")"
out="$(mkdir -p "${2:-$root/docs/lab}/glove" && realpath "${2:-$root/docs/lab}/glove")"
cd "$root"
lab() { "$attnlab" lab --kernel reference --no-color --embeddings glove "$@"; }

lab "The cat sat on the mat" --projection identity --no-pictures > "$out/cat-identity.txt"
lab "The cat sat on the mat" --no-pictures > "$out/cat-random.txt"
{ lab "I love AI" --no-pictures 2>&1 && echo "exit status 0" || echo "exit status $?"; } > "$out/oov.txt"
lab "The cat sat on the mat" "The dog sat on the mat" "The king spoke to the queen" --projection identity \
    --out "$out" > /dev/null
echo "regenerate-glove: wrote $out" >&2
