#!/usr/bin/env python3
"""Min and median of an attn_bench_decode JSON file, per benchmark, over its repetitions.

Usage: tools/bench_decode_summary.py RESULT.json

For each decode benchmark: the fastest and the median repetition's time, the GB/s of K and V
each gives, and its share of the read bandwidth (decode/read_bandwidth) of the same thread
count and the same statistic (min against the fastest read pass, median against the median);
then the process CPU time (min / median), which leaves out the time other processes held the
cores (on a shared machine the wall time does not), and the share on CPU time: GB of K/V per
CPU second against the yardstick's GB per CPU second, both fastest (for 2 threads both are
sums over the threads). Then the issue's ratios, where the file
has both sides (wall min / median, then CPU min / median):
  GQA: time of H = 4·Hkv against H = Hkv (same Nk, Nq, dtype, threads; target <= 1.3);
  dtype: time of f32 against f16 and bf16 on the same shape (target >= 1.8).
"""
import collections
import json
import re
import statistics
import sys


def main(path):
    with open(path) as f:
        doc = json.load(f)
    times, cpu, rows = collections.defaultdict(list), collections.defaultdict(list), {}
    for b in doc["benchmarks"]:
        if b.get("run_type") != "iteration" or b.get("error_occurred"):
            continue
        name = b["name"].replace("/process_time", "").replace("/real_time", "").replace("/manual_time", "")
        scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[b["time_unit"]]
        times[name].append(b["real_time"] * scale)
        cpu[name].append(b["cpu_time"] * scale)
        rows[name] = b
    bandwidth, cpu_bandwidth = {}, {}
    for name, t in times.items():
        if "/read_bandwidth/" in name:
            size = rows[name]["buffer_bytes"]
            bandwidth[int(rows[name]["threads"])] = (size / min(t) / 1e9, size / statistics.median(t) / 1e9)
            cpu_bandwidth[int(rows[name]["threads"])] = size / min(cpu[name]) / 1e9
            print(f"{name:72s} {bandwidth[int(rows[name]['threads'])][0]:6.2f} / "
                  f"{bandwidth[int(rows[name]['threads'])][1]:6.2f} GB/s (min / median), "
                  f"{cpu_bandwidth[int(rows[name]['threads'])]:6.2f} per CPU second, buffer {size / 2**20:.0f} MiB")
    stats = {}
    for name in sorted(times):
        if "/read_bandwidth/" in name:
            continue
        t, c, size, threads = times[name], cpu[name], rows[name]["kv_bytes"], int(rows[name]["threads"])
        fast, med = min(t), statistics.median(t)
        stats[name] = (fast, med, min(c), statistics.median(c))
        share, cpu_share = "", ""
        if threads in cpu_bandwidth:
            cpu_share = f" {100 * size / min(c) / 1e9 / cpu_bandwidth[threads]:5.1f} %"
        if threads in bandwidth:
            share = (f"  {100 * size / fast / 1e9 / bandwidth[threads][0]:5.1f} % / "
                     f"{100 * size / med / 1e9 / bandwidth[threads][1]:5.1f} %")
        print(f"{name:72s} {fast * 1e3:9.3f} / {med * 1e3:9.3f} ms  "
              f"{size / fast / 1e9:6.2f} / {size / med / 1e9:6.2f} GB/s{share}  "
              f"cpu {min(c) * 1e3:9.3f} / {statistics.median(c) * 1e3:9.3f} ms{cpu_share}  ({len(t)} reps)")

    def ratio(num, den, label):
        if num in stats and den in stats:
            r = [stats[num][i] / stats[den][i] for i in range(4)]
            print(f"{label:72s} {r[0]:5.2f} / {r[1]:5.2f}   cpu {r[2]:5.2f} / {r[3]:5.2f}")

    for name in sorted(stats):
        m = re.match(r"(.*/Hkv:(\d+))/H:(\d+)/(.*)", name)
        if m and "/decode/" in name and int(m.group(3)) == 4 * int(m.group(2)):
            base = f"{m.group(1)}/H:{m.group(2)}/{m.group(4)}"
            ratio(name, base, f"GQA ratio {name.split('/', 1)[1]} vs H = Hkv")
    for name in sorted(stats):
        if "/decode/f32/" in name:
            for dtype in ("f16", "bf16"):
                other = name.replace("/decode/f32/", f"/decode/{dtype}/")
                ratio(name, other, f"f32 / {dtype} speed-up {name.split('/decode/f32/', 1)[1]}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if len(sys.argv) == 2 else 2)
    main(sys.argv[1])
