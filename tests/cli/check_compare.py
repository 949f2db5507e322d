#!/usr/bin/env python3
"""End-to-end checks of `attnlab compare`: the table, the JSON file and the
error paths, parsed rather than eyeballed. Usage: check_compare.py ATTNLAB"""
import json
import os
import subprocess
import sys
import tempfile

attnlab = sys.argv[1]
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def run(*args):
    return subprocess.run([attnlab, *args], capture_output=True, text=True, timeout=300)


with tempfile.TemporaryDirectory() as tmp:
    out_json = os.path.join(tmp, "compare.json")
    r = run("compare", "--shapes", "lab-3, 9x17x5x2-causal", "--reps", "2", "--json", out_json)
    check(r.returncode == 0, f"compare exit {r.returncode}: {r.stderr}")
    # The table: a header row, a separator, one row per kernel and shape.
    lines = [l for l in r.stdout.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    check(header[:4] == ["kernel", "shape", "max abs err", "max rel err"], f"header {header}")
    rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines[2:]]
    kernels = {row[0] for row in rows}
    check({"reference", "textbook", "blas"} <= kernels, f"kernels in table: {kernels}")
    check(len(rows) == 2 * len(kernels), f"{len(rows)} rows for {len(kernels)} kernels x 2 shapes")
    for row in rows:
        if row[0] != "reference" and not row[2].startswith("refused"):
            check(float(row[2]) < 1e-5, f"error too large in {row}")
    check("compare: [" in r.stderr, "no progress on stderr")

    data = json.load(open(out_json))
    check(len(data["rows"]) == len(rows), "JSON rows differ from the table")
    for row in data["rows"]:
        if row["kernel"] in ("textbook", "blas"):
            check(row["max_rel_error"] < 1e-5, f"JSON error too large: {row}")
            check(row["gflops"] > 0 and row["median_seconds"] > 0, f"JSON timing: {row}")

    # A refusal is a row, not a failure: blas with a tiny budget cannot happen
    # from the CLI, but the reference limit can.
    r = run("compare", "--shapes", "lab-4", "--reference-limit", "1", "--reps", "1")
    check(r.returncode == 0, "reference-limit run failed")
    check("over --reference-limit" in r.stdout, "reference not reported as skipped")
    check("no reference (too slow)" in r.stdout, "missing note when the reference is skipped")

    # Bad input: exit status 2 and a message naming the argument.
    for args, needle in [
        (["compare", "--shapes", "lab-5"], "shape 'lab-5' is not known"),
        (["compare", "--shapes", "3x0x4"], "'0' is not a positive size"),
        (["compare", "--kernels", "nope"], "--kernels: unknown kernel 'nope'"),
        (["compare", "--reps", "0"], "--reps: must be >= 1"),
        (["compare", "--json", os.path.join(tmp, "no", "such", "dir", "x.json"), "--shapes", "lab-3", "--reps", "1"],
         "cannot create a temporary file"),
    ]:
        r = run(*args)
        check(needle in r.stderr, f"{args}: expected '{needle}' in stderr, got: {r.stderr.strip()}")
        check(r.returncode == 2, f"{args}: exit {r.returncode}, expected 2")

    r = run("--version")
    check(r.returncode == 0 and r.stdout.startswith("attnlab "), f"--version: {r.stdout}")
    r = run("compare", "--help")
    check(r.returncode == 0 and "--shapes" in r.stdout, "compare --help")

for f in failures:
    print("FAIL:", f)
print(f"{'ok' if not failures else 'failed'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
