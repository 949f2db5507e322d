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
    # Every figure names its machine: the CPU and the SIMD ISA the kernels dispatched to.
    title = next((l for l in r.stdout.splitlines() if l.startswith("attnlab compare: ")), "")  # after any note
    isa = os.environ.get("ATTN_ISA")
    check(any(f", {i} kernels" in title for i in ("avx512", "avx2", "scalar")), f"no ISA in the title: {title}")
    with open("/proc/cpuinfo", encoding="utf-8") as f:
        flags = set(next((l for l in f if l.startswith("flags")), "").split())
    if isa == "scalar" or (isa == "avx2" and {"avx2", "fma"} <= flags):  # lowering to what the CPU has
        check(f", {isa} kernels (ATTN_ISA)" in title, f"ATTN_ISA={isa} not in the title: {title}")

    data = json.load(open(out_json))
    check(data.get("cpu") and data.get("isa") in ("avx512", "avx2", "scalar"), f"JSON names no CPU/ISA: {data.get('cpu')}, {data.get('isa')}")
    check(f", {data.get('isa')} kernels" in title and title.startswith(f"attnlab compare: {data.get('cpu')}, "),
          f"JSON and title disagree: {title}")
    check(str(data.get("page_policy", "")).startswith(("2 MiB from 2 MiB up (THP ", "4 KiB (")),
          f"JSON names no page policy: {data.get('page_policy')}")
    check(len(data["rows"]) == len(rows), "JSON rows differ from the table")
    for row in data["rows"]:
        if row["kernel"] in ("textbook", "blas"):
            check(row["max_rel_error"] < 1e-5, f"JSON error too large: {row}")
            check(row["gflops"] > 0 and row["median_seconds"] > 0, f"JSON timing: {row}")

    check(all(row.get("dtype") == "f32" for row in data["rows"]), "a JSON row names no dtype (f32 by default)")
    # The oracle's row is timed like every kernel's (--reps 2), not by its one cold first call.
    ref_rows = [row for row in data["rows"] if row["kernel"] == "reference"]
    check(ref_rows and all(row["reps"] == 2 for row in ref_rows), f"reference rows not timed twice: {ref_rows}")

    # --dtypes: one row per kernel, shape and dtype; q, k, v and O in the dtype, so the error
    # against the reference on the same rounded inputs is O's rounding, half an ulp:
    # max abs <= 2^-11 (f16) or 2^-8 (bf16) times max |O|, plus fp32 arithmetic (< 1e-5 here).
    # Every kernel within 2x blas's error (the accuracy rule); a kernel that lacks the dtype skipped.
    r = run("compare", "--shapes", "lab-3,40x70x24-causal", "--dtypes", "f32,f16,bf16", "--reps", "1",
            "--json", out_json)
    check(r.returncode == 0, f"--dtypes: exit {r.returncode}: {r.stderr}")
    lines = [l for l in r.stdout.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    check(header[:6] == ["kernel", "shape", "dtype", "max abs err", "max rel err", "err / blas"], f"header {header}")
    drows = json.load(open(out_json))["rows"]
    check(len(drows) == len(lines) - 2 == 2 * 3 * len(kernels), f"{len(drows)} JSON rows for {len(kernels)} kernels")
    unit = {"f16": 2.0**-11, "bf16": 2.0**-8}
    seen = set()
    for row in drows:
        check(row.get("dtype") in ("f32", "f16", "bf16"), f"row without a dtype: {row}")
        if "skipped" in row:
            check(row["skipped"].startswith("skipped: takes "), f"--dtypes: {row}")
            continue
        seen.add(row["dtype"])
        check(row["median_seconds"] > 0, f"--dtypes timing: {row}")
        if row["dtype"] in unit and "max_rel_error" in row:
            check(row["max_rel_error"] <= unit[row["dtype"]] + 1e-5, f"error over O's rounding: {row}")
        if "error_vs_blas" in row:
            check(row["error_vs_blas"] <= 2, f"error over 2x blas's: {row}")
    check(seen == {"f32", "f16", "bf16"}, f"dtypes run: {seen}")
    check("on the same inputs rounded to the dtype" in r.stdout, "--dtypes: the title does not say what the error is")

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
        (["compare", "--dtypes", "f32,f8"], "--dtypes: unknown dtype 'f8' (expected f32, f16 or bf16)"),
        (["compare", "--dtypes", "f16,fp16"], "--dtypes: fp16 is listed twice"),
        (["compare", "--dtypes", ","], "--dtypes: the list is empty"),
        (["compare", "--reps", "0"], "--reps: must be >= 1"),
        (["compare", "--json", os.path.join(tmp, "no", "such", "dir", "x.json"), "--shapes", "lab-3", "--reps", "1"],
         "--json: the directory '" + os.path.join(tmp, "no", "such", "dir") + "' does not exist"),
        (["compare", "--json", tmp, "--shapes", "lab-3"], f"--json: '{tmp}' is a directory"),
        (["compare", "--seed", "-1", "--shapes", "lab-3"], "--seed: expected a whole number >= 0, got '-1'"),
        (["compare", "--memory-budget", "-5", "--shapes", "lab-3"], "--memory-budget: expected a whole number >= 0"),
        (["compare", "--threads", "-2", "--shapes", "lab-3"], "--threads: expected 0 (OpenMP default) to 1024"),
        (["frob"], "unknown command 'frob'; expected one of compare, run, softmax, scaling, lab, bench"),
        ([], "give a command: compare, run"),
    ]:
        r = run(*args)
        check(needle in r.stderr, f"{args}: expected '{needle}' in stderr, got: {r.stderr.strip()}")
        check(r.returncode == 2, f"{args}: exit {r.returncode}, expected 2")
        check("compare: [" not in r.stderr, f"{args}: refused only after computing: {r.stderr.strip()}")

    # Memory: each (kernel, shape) is sized before anything is allocated. Inputs of ~94 TiB
    # are refused by name, outside the table, with exit status 2 (never std::bad_alloc).
    r = run("compare", "--shapes", "100000x100000x64x1000000", "--kernels", "fused", "--json", out_json)
    check(r.returncode == 2, f"huge inputs: exit {r.returncode}, expected 2: {r.stderr}")
    check("bad_alloc" not in r.stderr and "internal error" not in r.stderr, f"huge inputs: {r.stderr}")
    check("--memory-budget: fused on 100000x100000x64x1000000 needs" in r.stderr and "TiB" in r.stderr,
          f"huge inputs: the refusal names the option and the size: {r.stderr}")
    rows = [[c.strip() for c in l.strip("|").split("|")] for l in r.stdout.splitlines() if l.startswith("|")][2:]
    check(rows == [["fused", "100000x100000x64x1000000", "refused", "", "", "", "", ""]], f"huge inputs: table {rows}")
    check(json.load(open(out_json))["rows"][0]["refused"].startswith("--memory-budget: fused"), "JSON refusal")
    # A budget that holds no shape's inputs refuses every cell; one that holds lab-3's runs it.
    # One thread: workspaces grow with the thread count (a 96-CPU machine would refuse lab-3).
    r = run("compare", "--shapes", "lab-3,bert-128", "--memory-budget", "4096", "--reps", "1", "--threads", "1")
    check(r.returncode == 2, f"--memory-budget 4096: exit {r.returncode}")
    rows = [[c.strip() for c in l.strip("|").split("|")] for l in r.stdout.splitlines() if l.startswith("|")][2:]
    check(all(row[2] != "refused" for row in rows if row[1] == "lab-3"), f"lab-3 fits 4096 bytes: {rows}")
    check(all(row[2] == "refused" for row in rows if row[1] == "bert-128"), f"bert-128 does not: {rows}")
    check(f"{len(kernels)} of {2 * len(kernels)} run(s) refused" in r.stderr, f"refusal count: {r.stderr}")
    check("compare: [" in r.stderr and "bert-128 reference" not in r.stderr, "bert-128 was run anyway")

    # More threads than CPUs: accepted, with a note (whatever this host's count).
    cpus = len(os.sched_getaffinity(0))
    r = run("compare", "--shapes", "lab-3", "--kernels", "textbook", "--reference-limit", "0", "--reps", "1",
            "--threads", str(cpus + 1))
    check(r.returncode == 0, f"--threads {cpus + 1}: exit {r.returncode}: {r.stderr}")
    check(f"--threads {cpus + 1} is more than the" in r.stderr, f"no note for --threads {cpus + 1}: {r.stderr}")

    r = run("--version")
    check(r.returncode == 0 and r.stdout.startswith("attnlab "), f"--version: {r.stdout}")
    r = run("compare", "--help")
    check(r.returncode == 0 and "--shapes" in r.stdout, "compare --help")

for f in failures:
    print("FAIL:", f)
print(f"{'ok' if not failures else 'failed'}: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
