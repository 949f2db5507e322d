#!/usr/bin/env python3
"""Min and median of an attn_bench_decode JSON file, per benchmark, over its repetitions.

Usage: tools/bench_decode_summary.py RESULT.json

For each decode benchmark: the fastest and the median repetition's time, the GB/s of K and V
each gives, and its share of the read bandwidth (decode/read_bandwidth) of the same thread
count and the same statistic (min against the fastest read pass, median against the median).
"""
import collections
import json
import statistics
import sys


def main(path):
    with open(path) as f:
        doc = json.load(f)
    times, rows = collections.defaultdict(list), {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["name"].replace("/process_time/real_time", "").replace("/manual_time", "")
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        times[name].append(b["real_time"] * scale)
        rows[name] = b
    bandwidth = {}
    for name, t in times.items():
        if "/read_bandwidth/" in name:
            size = rows[name]["buffer_bytes"]
            bandwidth[int(rows[name]["threads"])] = (size / min(t) / 1e9, size / statistics.median(t) / 1e9)
            print(f"{name:64s} {bandwidth[int(rows[name]['threads'])][0]:6.2f} / "
                  f"{bandwidth[int(rows[name]['threads'])][1]:6.2f} GB/s (min / median)")
    for name in sorted(times):
        if "/read_bandwidth/" in name:
            continue
        t, size, threads = times[name], rows[name]["kv_bytes"], int(rows[name]["threads"])
        fast, med = min(t), statistics.median(t)
        share = ""
        if threads in bandwidth:
            share = (f"  {100 * size / fast / 1e9 / bandwidth[threads][0]:5.1f} % / "
                     f"{100 * size / med / 1e9 / bandwidth[threads][1]:5.1f} %")
        print(f"{name:64s} {fast * 1e3:9.3f} / {med * 1e3:9.3f} ms  "
              f"{size / fast / 1e9:6.2f} / {size / med / 1e9:6.2f} GB/s{share}  ({len(t)} reps)")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 else 2)
    main(sys.argv[1])
