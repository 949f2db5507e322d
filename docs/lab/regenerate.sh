#!/usr/bin/env bash
# Regenerates every output and picture shown in docs/lab.md.
# Usage: docs/lab/regenerate.sh [ATTNLAB_BINARY] [OUT_DIR]
#   defaults: build/tools/attnlab/attnlab and docs/lab (run tools/build.sh first).
# --kernel reference (the fp64 oracle) keeps the numbers independent of which
# fast kernels are registered; any other kernel agrees to the digits shown.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
attnlab="$(realpath "${1:-$root/build/tools/attnlab/attnlab}")"
out="$(mkdir -p "${2:-$root/docs/lab}" && realpath "${2:-$root/docs/lab}")"
cd "$root"  # the --predict paths below are relative to the repository
lab() { "$attnlab" lab --kernel reference --no-color "$@"; }

lab --template "I love AI" > "$out/template.txt"
lab "I love AI" --no-pictures > "$out/i-love-ai.txt"
lab "I love AI" --predict docs/lab/guess-i-love-ai.csv --no-pictures > "$out/predict.txt"
{ lab "I love AI" --predict docs/lab/guess-bad.csv --no-pictures 2>&1 && echo "exit status 0" ||
  echo "exit status $?"; } > "$out/predict-bad.txt"
lab "I love AI" "AI loves me" "I love AI deeply" --no-pictures > "$out/three-sentences.txt"
lab "I love AI" "AI love I" --no-pictures > "$out/order.txt"
lab "I love AI" "AI love I" --positional --no-pictures > "$out/order-positional.txt"
lab "I love AI deeply" --causal --heads 2 --no-pictures > "$out/causal-heads.txt"
lab "I love AI" --causal --predict docs/lab/guess-i-love-ai.csv --no-pictures > "$out/predict-causal.txt"
roles=(--embeddings docs/lab/roles-embeddings.csv --wq docs/lab/roles-wq.csv --wk docs/lab/roles-wk.csv
       --wv docs/lab/roles-wv.csv)
lab "I love AI" "AI loves me" "I love AI deeply" "${roles[@]}" --no-pictures > "$out/roles.txt"

# The pictures: one heatmap and one arrows SVG per sentence and head, and the notebook lab.html.
lab "I love AI" "AI loves me" "I love AI deeply" --predict docs/lab/guess-i-love-ai.csv --out "$out" > /dev/null
lab "I love AI deeply" --causal --heads 2 --out "$out/causal" > /dev/null
lab "I love AI" "AI loves me" "I love AI deeply" "${roles[@]}" --out "$out/roles" > /dev/null
echo "regenerate: wrote $out" >&2
