#!/usr/bin/env python3
"""Checks a result file written by `attnlab bench` (the CI smoke run): the suites'
outputs were merged into one valid Google Benchmark JSON, every error is a
kernel refusing a shape, and the counters agree with the shapes they describe:
bytes_moved = s·H·(Nq + Nk)·(d + dv) with s = dtype_bytes, 4 for fp32 and 2 for the f16 and bf16
runs (whose names say their dtype: attention/<kernel>/<shape>/<dtype>/threads:<t>), flops = 2·H·Nq·Nk·(d + dv) without a
mask, %peak = 100·GFLOP/s ÷ the peak the context records for that thread count;
ring rows: N and P as named, compute + exposed communication + merge within the
time, GFLOP/s = 4·N²·d ÷ time.

Usage: check_bench_result.py RESULT.json SUITE[,SUITE...]"""

import json
import math
import sys

FAMILIES = {"peak": ("peak/fma/", "peak/stream/"), "attention": ("attention/", "scaling/"),
            "ring": ("ring/strong/", "ring/weak/", "ring/one_process/", "ring/link/")}


def close(a, b, rel=1e-9):
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def check_ring(benches, problems):
    """The ring suite's rows: the split adds up and the rate is the one its shape implies."""
    checked = 0
    for b in benches:
        name = b["run_name"]
        if not name.startswith("ring/") or name.startswith("ring/link/") or b.get("run_type") != "iteration":
            continue
        if b.get("error_occurred"):
            continue  # reported above
        fields = dict(p.split(":", 1) for p in name.split("/") if ":" in p)
        if b["N"] != int(fields["N"]) or b["ranks"] != int(fields["P"]) or b["threads"] != int(fields["threads"]):
            problems.append(f"{name}: counters N={b['N']} ranks={b['ranks']} threads={b['threads']} differ from the name")
        seconds = b["real_time"] * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        parts = b["compute_s"] + b["exposed_communication_s"] + b["merge_s"]
        if not (0 < parts <= seconds * (1 + 1e-6)):
            problems.append(f"{name}: compute + exposed communication + merge = {parts} s, outside (0, {seconds}]")
        if not close(b["GFLOP/s"] * 1e9 * seconds, 4 * b["N"] ** 2 * b["d"], 1e-6):
            problems.append(f"{name}: GFLOP/s {b['GFLOP/s']} != 4·N²·d / {seconds} s")
        checked += 1
    return checked


def main(path, suites):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    problems = []
    ctx, benches = data["context"], data["benchmarks"]
    if ctx.get("attnlab_suites") != ",".join(suites):
        problems.append(f"context.attnlab_suites is {ctx.get('attnlab_suites')!r}, expected {','.join(suites)!r}")
    for key in ("cpu_model", "cpu_brand", "attnlab_isa", "fma_peak_isa", "openblas_core"):
        if not ctx.get(key):
            problems.append(f"context.{key} is missing: a figure must say which machine and code made it")
    names = [b["run_name"] for b in benches]
    for s in suites:
        for prefix in FAMILIES.get(s, ()):
            if not any(n.startswith(prefix) for n in names):
                problems.append(f"no {prefix} benchmarks from suite {s}")
    # A CPU without AVX2+FMA (or ATTN_ISA=scalar) has no FMA loop to measure: no peak, no %peak.
    listed = ctx.get("fma_peak_gflops_by_threads", "")
    peak = {int(t): float(g) for t, g in (p.split(":") for p in listed.split(","))} if listed else {}
    checked = 0
    for b in benches:
        if b.get("error_occurred"):
            if not b["error_message"].startswith("refused: "):
                problems.append(f"{b['run_name']}: error {b['error_message']!r}")
            continue
        if not b["run_name"].startswith(("attention/", "scaling/")) or b.get("run_type") != "iteration":
            continue
        need = ("GFLOP/s", *(("%peak",) if peak else ()), "GB/s", "bytes_moved", "flops", "workspace_bytes", "max_rel_err", "Nq", "Nk",
                "d", "heads", "threads", "causal", "dtype_bytes")
        missing = [k for k in need if k not in b]
        if missing:
            problems.append(f"{b['run_name']}: missing counters {missing}")
            continue
        h, nq, nk, d, size = b["heads"], b["Nq"], b["Nk"], b["d"], b["dtype_bytes"]
        sixteen_bit = any(p in ("f16", "bf16") for p in b["run_name"].split("/"))
        if size != (2 if sixteen_bit else 4):
            problems.append(f"{b['run_name']}: dtype_bytes {size} does not match the dtype in the name")
        if sixteen_bit and not b.get("label", "").startswith(tuple(p + " " for p in b["run_name"].split("/"))):
            problems.append(f"{b['run_name']}: label {b.get('label')!r} does not name the dtype")
        if not close(b["bytes_moved"], size * h * (nq + nk) * 2 * d):
            problems.append(f"{b['run_name']}: bytes_moved {b['bytes_moved']} != {size}·H·(Nq+Nk)·2d")
        if b["causal"] == 0 and not close(b["flops"], 2 * h * nq * nk * 2 * d):
            problems.append(f"{b['run_name']}: flops {b['flops']} != 2·H·Nq·Nk·2d")
        if b["causal"] == 1 and not b["flops"] < 2 * h * nq * nk * 2 * d:
            problems.append(f"{b['run_name']}: causal flops {b['flops']} not below the full count")
        if not peak and "%peak" in b:
            problems.append(f"{b['run_name']}: %peak without a measured peak")
        if peak:
            p = peak[min(int(b["threads"]), max(peak))]
            if not close(b["%peak"], 100 * b["GFLOP/s"] / p, 1e-6):
                problems.append(f"{b['run_name']}: %peak {b['%peak']} != 100·{b['GFLOP/s']}/{p}")
        if not (math.isfinite(b["max_rel_err"]) and b["max_rel_err"] >= 0):
            problems.append(f"{b['run_name']}: max_rel_err {b['max_rel_err']}")
        checked += 1
    ring_checked = check_ring(benches, problems)
    if "ring" in suites and ring_checked == 0:
        problems.append("no ring benchmark ran")
    if "attention" in suites and checked == 0:
        problems.append("no attention benchmark ran")
    if "attention" in suites and not any(b.get("dtype_bytes") == 2 and not b.get("error_occurred") for b in benches):
        problems.append("no f16 or bf16 attention benchmark ran")
    for p in problems:
        print("FAIL:", p)
    print(f"{path}: {len(benches)} entries, {checked} attention and {ring_checked} ring runs checked, "
          f"{len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2].split(",")))
