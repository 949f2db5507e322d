#!/bin/sh
# attnlab bench refuses an --out it cannot write before running any suite: exit
# status 2, a message naming --out, and no suite's progress line.
# Usage: check_unwritable_out.sh ATTNLAB
set -u
f=$(mktemp) || exit 1
trap 'rm -f "$f" "$f.err"' EXIT
"$1" bench --smoke --suites peak --out "$f/r.json" 2>"$f.err"
rc=$?
cat "$f.err"
[ "$rc" -eq 2 ] || { echo "FAIL: exit status $rc, expected 2"; exit 1; }
grep -q -- "--out: '$f' exists and is not a directory" "$f.err" || { echo "FAIL: no message naming --out"; exit 1; }
if grep -q 'bench: \[1/' "$f.err"; then echo "FAIL: a suite ran before the refusal"; exit 1; fi
echo ok
