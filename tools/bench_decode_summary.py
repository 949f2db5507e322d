#!/usr/bin/env python3
"""Min and median of an attn_bench_decode JSON file, per benchmark, over its repetitions.

Usage: tools/bench_decode_summary.py [--targets] RESULT.json

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

--targets adds a Markdown table of issue 12's decode targets, one row per benchmark (or pair)
in the file that a target names, on wall time, min / median, with a verdict: "yes" where both
meet the target, "min only" where only the fastest repetitions do, "no" otherwise:
  fp32, K/V from DRAM, H = Hkv, Nq = 1: share of the read bandwidth >= 90 %;
  f16 and bf16, same shapes: share >= 90 %, and fp32's time over theirs >= 1.8;
  GQA, K/V from DRAM, Nq = 1: time of H = 4·Hkv over H = Hkv <= 1.3 (every dtype);
  Nk = 4096, Nq = 1: decode faster than fused and blas (time ratios < 1).
Every shape of the file that fits is listed, each named with its head size d (the issue's: Nk
32768, d 128, Hkv 8, H 8 and 32; --profile=full also has d 64 and 256 there).
The run that gives all of them, on any machine (then again with ATTN_ISA=avx2 where the CPU
has AVX-512); leave OMP_WAIT_POLICY unset: with `passive` the helper thread sleeps after every
call and each call waits for it to wake (2 threads 10-20 % slower on a VM):
  build/bench/attn_bench_decode --profile=full \\
    --benchmark_filter='decode/(read_bandwidth|dram/decode/(f32|f16|bf16)/Nk:32768/Hkv:8/H:(8|32)/Nq:1/|(dram|cached)/(decode|fused|blas)/f32/Nk:4096/Hkv:(1|8)/H:(1|8)/Nq:1/)' \\
    --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true --benchmark_min_time=0.1 \\
    --benchmark_format=json --benchmark_out=decode.json
"""
import collections
import json
import re
import statistics
import sys

# Issue 12's thresholds.
SHARE_MIN = 90.0
DTYPE_SPEEDUP_MIN = 1.8
GQA_RATIO_MAX = 1.3
SHAPE = re.compile(r"decode/(dram|cached)/(\w+)/(\w+)/Nk:(\d+)/Hkv:(\d+)/H:(\d+)/Nq:(\d+)/(.*)")


def share_percent(size, seconds, gbps):
    """The share, in %, of a yardstick's `gbps` that reading `size` bytes in `seconds` is."""
    return 100 * size / seconds / 1e9 / gbps


def ratios(stats, num, den):
    """num's (wall min, wall median, CPU min, CPU median) over den's."""
    return [stats[num][i] / stats[den][i] for i in range(4)]


def gqa_base(name):
    """The H = Hkv twin of a decode benchmark of H = 4·Hkv (None for any other benchmark)."""
    m = SHAPE.match(name)
    if m and m[2] == "decode" and int(m[6]) == 4 * int(m[5]):
        return name.replace(f"/H:{m[6]}/", f"/H:{m[5]}/")
    return None


def load(path):
    """Per benchmark: wall and CPU times of its repetitions, and its first JSON row."""
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
    return doc.get("context", {}), times, cpu, rows


def summary(times, cpu, rows):
    """Prints the per-benchmark lines and ratios; returns (stats, bandwidth): per decode benchmark
    (wall min, wall median, CPU min, CPU median) in seconds, per thread count the yardstick's
    (min-pass GB/s, median-pass GB/s)."""
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
            cpu_share = f" {share_percent(size, min(c), cpu_bandwidth[threads]):5.1f} %"
        if threads in bandwidth:
            share = (f"  {share_percent(size, fast, bandwidth[threads][0]):5.1f} % / "
                     f"{share_percent(size, med, bandwidth[threads][1]):5.1f} %")
        print(f"{name:72s} {fast * 1e3:9.3f} / {med * 1e3:9.3f} ms  "
              f"{size / fast / 1e9:6.2f} / {size / med / 1e9:6.2f} GB/s{share}  "
              f"cpu {min(c) * 1e3:9.3f} / {statistics.median(c) * 1e3:9.3f} ms{cpu_share}  ({len(t)} reps)")

    def ratio(num, den, label):
        if num in stats and den in stats:
            r = ratios(stats, num, den)
            print(f"{label:72s} {r[0]:5.2f} / {r[1]:5.2f}   cpu {r[2]:5.2f} / {r[3]:5.2f}")

    for name in sorted(stats):
        if gqa_base(name):
            ratio(name, gqa_base(name), f"GQA ratio {name.split('/', 1)[1]} vs H = Hkv")
    for name in sorted(stats):
        if "/decode/f32/" in name:
            for dtype in ("f16", "bf16"):
                other = name.replace("/decode/f32/", f"/decode/{dtype}/")
                ratio(name, other, f"f32 / {dtype} speed-up {name.split('/decode/f32/', 1)[1]}")
    return stats, bandwidth


def verdict(fast, med, ok):
    """'yes' where the min and the median meet the target, 'min only' where only the min does."""
    return "yes" if ok(fast) and ok(med) else "min only" if ok(fast) else "no"


def targets(context, stats, bandwidth, rows):
    """Issue 12's decode targets as a Markdown table (see the module's text); returns its rows."""
    out = []

    def row(target, name, measured, met):
        shape = SHAPE.match(name)
        head_dim = re.match(r"d:(\d+)", shape[8]) if shape else None
        label = name.split("/", 1)[1] if shape is None else \
            f"{shape[1]} {shape[2]} {shape[3]} Nk {shape[4]} Hkv {shape[5]} H {shape[6]} Nq {shape[7]}" + \
            (f" d {head_dim[1]}" if head_dim else "")
        out.append(f"| {target} | {label} | {int(rows[name]['threads'])} | {measured} | {met} |")

    def share(name, statistic):
        threads = int(rows[name]["threads"])
        return share_percent(rows[name]["kv_bytes"], stats[name][statistic], bandwidth[threads][statistic])

    shapes = {name: SHAPE.match(name) for name in stats}
    shapes = {name: m for name, m in shapes.items() if m}
    one_row = [n for n, m in shapes.items() if m[1] == "dram" and m[2] == "decode" and m[5] == m[6] and m[7] == "1"]
    for dtype in ("f32", "f16", "bf16"):
        for name in sorted(n for n in one_row if shapes[n][3] == dtype):
            if int(rows[name]["threads"]) not in bandwidth:
                row(f"{dtype}: >= {SHARE_MIN:.0f} % of read bandwidth", name, "no yardstick in the file", "-")
                continue
            fast, med = share(name, 0), share(name, 1)
            row(f"{dtype}: >= {SHARE_MIN:.0f} % of read bandwidth", name, f"{fast:.1f} % / {med:.1f} %",
                verdict(fast, med, lambda s: s >= SHARE_MIN))
    for dtype in ("f16", "bf16"):
        for name in sorted(n for n in one_row if shapes[n][3] == dtype):
            base = name.replace(f"/decode/{dtype}/", "/decode/f32/")
            if base in stats:
                fast, med = ratios(stats, base, name)[:2]
                row(f"{dtype}: >= {DTYPE_SPEEDUP_MIN}x fp32", name, f"{fast:.2f}x / {med:.2f}x",
                    verdict(fast, med, lambda r: r >= DTYPE_SPEEDUP_MIN))
    for name in sorted(shapes):
        m = shapes[name]
        base = gqa_base(name)
        if base in stats and m[1] == "dram" and m[7] == "1":
            fast, med = ratios(stats, name, base)[:2]
            row(f"GQA {m[3]}: H = 4·Hkv <= {GQA_RATIO_MAX}x H = Hkv", name, f"{fast:.2f}x / {med:.2f}x",
                verdict(fast, med, lambda r: r <= GQA_RATIO_MAX))
    for name in sorted(shapes):
        m = shapes[name]
        if m[2] == "decode" and m[4] == "4096" and m[7] == "1":
            for other in ("fused", "blas"):
                base = name.replace(f"/{m[1]}/decode/", f"/{m[1]}/{other}/")
                if base in stats:
                    fast, med = ratios(stats, name, base)[:2]
                    row(f"Nk 4096: faster than {other}", name, f"{fast:.2f}x / {med:.2f}x of its time",
                        verdict(fast, med, lambda r: r < 1.0))
    print()
    print(f"Issue 12's decode targets: {context.get('cpu_brand', 'unknown CPU')}, "
          f"ISA {context.get('attnlab_isa', 'unknown')}, L3 {int(context.get('l3_bytes', 0)) / 2**20:.0f} MiB, "
          f"pages {context.get('page_policy', 'unknown')}; wall time, min / median")
    for threads in sorted(bandwidth):
        print(f"read bandwidth, {threads} thread(s): {bandwidth[threads][0]:.2f} / {bandwidth[threads][1]:.2f} GB/s")
    print()
    print("| target | benchmark | threads | measured (min / median) | met |")
    print("|---|---|---|---|---|")
    for line in out:
        print(line)
    if not out:
        print("| (none: the file has no benchmark a target names; the run is in --help) | | | | |")
    return out


def main(argv):
    args = [a for a in argv if a != "--targets"]
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if args and args[0] in ("-h", "--help") else 2
    try:
        context, times, cpu, rows = load(args[0])
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"bench_decode_summary.py: {args[0]}: not an attn_bench_decode JSON result ({e!r})", file=sys.stderr)
        return 2
    stats, bandwidth = summary(times, cpu, rows)
    if "--targets" in argv:
        targets(context, stats, bandwidth, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
