#!/usr/bin/env python3
"""tools/bench_decode_summary.py on a result built here with known times (or, given as the
first argument, on a real attn_bench_decode JSON file, which must go through without error):
its shares, ratios and --targets verdicts are the ones the times imply, and bad usage exits 2."""

import json
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "tools", "bench_decode_summary.py")
GB = 1e9


def summarize(path, *flags):
    return subprocess.run([sys.executable, SCRIPT, *flags, path], capture_output=True, text=True)


def bench(name, ms_list, kv_bytes, threads, cpu_ms_list=None):
    """One iteration row per repetition, as Google Benchmark writes them (times in ms)."""
    cpu_ms_list = cpu_ms_list or ms_list
    return [{"name": f"{name}/threads:{threads}/process_time/real_time", "run_type": "iteration",
             "time_unit": "ms", "real_time": ms, "cpu_time": c, "kv_bytes": kv_bytes, "threads": threads}
            for ms, c in zip(ms_list, cpu_ms_list)]


def yardstick(gbps_list, threads, size=2 * GB):
    return [{"name": f"decode/read_bandwidth/threads:{threads}/process_time/manual_time", "run_type": "iteration",
             "time_unit": "s", "real_time": size / (g * GB), "cpu_time": size / (g * GB), "buffer_bytes": size,
             "threads": threads} for g in gbps_list]


# K/V bytes of the shapes (d = 128): 256 MiB of fp32, 128 MiB of 16-bit.
F32, HALF = 256 * 2**20, 128 * 2**20
SHAPE = "Nk:32768/Hkv:8/H:{h}/Nq:1/d:128"


def fixture():
    """Read bandwidth 40 GB/s (min) / 32 (median) on 1 thread. Times chosen so that each target
    lands on one verdict (the comments give the figures the script must print)."""
    ms = lambda size, gbps: size / (gbps * GB) * 1e3  # noqa: E731
    rows = yardstick([40.0, 32.0, 30.0], 1)
    # fp32 H = 8: 38 GB/s at the min (95 %), 30.4 at the median (95 %): yes.
    rows += bench("decode/dram/decode/f32/" + SHAPE.format(h=8), [ms(F32, 38.0), ms(F32, 30.4), ms(F32, 20.0)], F32, 1)
    # f16 H = 8: 37 GB/s min (92.5 %), 27.4 median (85.6 %): min only; over fp32 2·37/38 = 1.95x and
    # 2·27.4/30.4 = 1.80x: yes.
    rows += bench("decode/dram/decode/f16/" + SHAPE.format(h=8), [ms(HALF, 37.0), ms(HALF, 27.4), ms(HALF, 20.0)],
                  HALF, 1)
    # bf16 H = 8: 30 GB/s (75 %), 25 (78.1 %): no; over fp32 1.58x and 1.64x: no.
    rows += bench("decode/dram/decode/bf16/" + SHAPE.format(h=8), [ms(HALF, 30.0), ms(HALF, 25.0), ms(HALF, 25.0)],
                  HALF, 1)
    # fp32 H = 8 at d = 64 (128 MiB): 20 GB/s at the min and the median, 50 % / 62.5 %: no.
    rows += bench("decode/dram/decode/f32/" + SHAPE.format(h=8).replace("d:128", "d:64"),
                  [ms(HALF, 20.0), ms(HALF, 20.0), ms(HALF, 20.0)], HALF, 1)
    # GQA: f32 H = 32 at 1.25x H = 8's min and median (yes), f16 at 1.5x (no).
    f32_8 = [ms(F32, 38.0), ms(F32, 30.4)]
    rows += bench("decode/dram/decode/f32/" + SHAPE.format(h=32), [1.25 * t for t in f32_8] + [99.0], F32, 1)
    f16_8 = [ms(HALF, 37.0), ms(HALF, 27.4)]
    rows += bench("decode/dram/decode/f16/" + SHAPE.format(h=32), [1.5 * t for t in f16_8] + [99.0], HALF, 1)
    # Nk 4096: decode 0.1 ms min / 0.2 median; fused 0.2 / 0.3: faster, yes; blas 0.05 / 0.4: slower at
    # the min, faster at the median: no (the min decides first).
    small = "Nk:4096/Hkv:1/H:1/Nq:1/d:128"
    rows += bench(f"decode/cached/decode/f32/{small}", [0.1, 0.2, 0.3], 4 * 2**20, 1)
    rows += bench(f"decode/cached/fused/f32/{small}", [0.2, 0.3, 0.4], 4 * 2**20, 1)
    rows += bench(f"decode/cached/blas/f32/{small}", [0.05, 0.4, 0.5], 4 * 2**20, 1)
    rows.append({"name": "decode/dram/decode/f32/broken", "run_type": "iteration", "error_occurred": True})
    rows.append({"name": "decode/dram/decode/f32/x_median", "run_type": "aggregate", "time_unit": "ms",
                 "real_time": 1.0, "cpu_time": 1.0})
    context = {"cpu_brand": "Test CPU", "attnlab_isa": "avx2 (ATTN_ISA)", "l3_bytes": str(32 * 2**20),
               "page_policy": "2 MiB from 2 MiB up (THP madvise)"}
    return {"context": context, "benchmarks": rows}


def table_rows(stdout):
    """{(target, benchmark, threads): (measured, met)} from the --targets table."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 5 and cells[2].isdigit():
            rows[(cells[0], cells[1], int(cells[2]))] = (cells[3], cells[4])
    return rows


class Fixture(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.path = os.path.join(cls.dir.name, "decode.json")
        with open(cls.path, "w", encoding="utf-8") as f:
            json.dump(fixture(), f)
        cls.out = summarize(cls.path, "--targets")

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def test_runs(self):
        self.assertEqual(self.out.returncode, 0, self.out.stderr)

    def test_shares_and_ratios_in_the_summary(self):
        out = self.out.stdout
        self.assertRegex(out, r"read_bandwidth/threads:1\s+40\.00 /\s+32\.00 GB/s")
        line = next(x for x in out.splitlines() if x.startswith("decode/dram/decode/f32/Nk:32768/Hkv:8/H:8/"))
        self.assertIn(" 95.0 % /  95.0 %", line)  # 38 against 40, 30.4 against 32
        self.assertIn("(3 reps)", line)
        self.assertNotIn("broken", out)
        self.assertRegex(out, r"GQA ratio dram/decode/f32/Nk:32768/Hkv:8/H:32/\S+ vs H = Hkv\s+1\.25 /")

    def test_verdicts(self):
        rows = table_rows(self.out.stdout)
        f32 = "dram decode f32 Nk 32768 Hkv 8 H 8 Nq 1 d 128"
        self.assertEqual(rows[("f32: >= 90 % of read bandwidth", f32, 1)], ("95.0 % / 95.0 %", "yes"))
        self.assertEqual(rows[("f16: >= 90 % of read bandwidth", f32.replace("f32", "f16"), 1)][1], "min only")
        self.assertEqual(rows[("bf16: >= 90 % of read bandwidth", f32.replace("f32", "bf16"), 1)][1], "no")
        self.assertEqual(rows[("f16: >= 1.8x fp32", f32.replace("f32", "f16"), 1)], ("1.95x / 1.80x", "yes"))
        self.assertEqual(rows[("bf16: >= 1.8x fp32", f32.replace("f32", "bf16"), 1)], ("1.58x / 1.64x", "no"))
        self.assertEqual(rows[("GQA f32: H = 4·Hkv <= 1.3x H = Hkv", f32.replace("H 8", "H 32"), 1)],
                         ("1.25x / 1.25x", "yes"))
        self.assertEqual(rows[("GQA f16: H = 4·Hkv <= 1.3x H = Hkv",
                               f32.replace("f32", "f16").replace("H 8", "H 32"), 1)], ("1.50x / 1.50x", "no"))
        small = "cached decode f32 Nk 4096 Hkv 1 H 1 Nq 1 d 128"
        self.assertEqual(rows[("Nk 4096: faster than fused", small, 1)][1], "yes")
        self.assertEqual(rows[("Nk 4096: faster than blas", small, 1)][1], "no")
        # Another head size of the same shape is a row of its own, named by its d.
        self.assertEqual(rows[("f32: >= 90 % of read bandwidth", f32.replace("d 128", "d 64"), 1)],
                         ("50.0 % / 62.5 %", "no"))
        self.assertEqual(len(rows), 10, "\n".join(map(str, rows)))

    def test_header_names_the_machine(self):
        self.assertIn("Test CPU, ISA avx2 (ATTN_ISA), L3 32 MiB", self.out.stdout)

    def test_without_targets_no_table(self):
        run = summarize(self.path)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertNotIn("| target |", run.stdout)


class Usage(unittest.TestCase):
    def test_no_file_exits_2(self):
        run = subprocess.run([sys.executable, SCRIPT], capture_output=True, text=True)
        self.assertEqual(run.returncode, 2)
        self.assertIn("Usage:", run.stdout)

    def test_help_exits_0(self):
        run = subprocess.run([sys.executable, SCRIPT, "--help"], capture_output=True, text=True)
        self.assertEqual(run.returncode, 0)
        self.assertIn("--targets", run.stdout)

    def test_a_missing_or_broken_file_exits_2_and_names_it(self):
        with tempfile.TemporaryDirectory() as d:
            broken = os.path.join(d, "broken.json")
            with open(broken, "w", encoding="utf-8") as f:
                f.write('{"benchmarks": [{"name": "decode/x", "run_type": "iteration"}')  # cut short
            for path in (os.path.join(d, "missing.json"), broken):
                run = summarize(path, "--targets")
                self.assertEqual(run.returncode, 2, run.stdout + run.stderr)
                self.assertIn(path, run.stderr)
                self.assertNotIn("Traceback", run.stderr)

    def test_a_file_without_targets_says_so(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "empty.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump({"context": {}, "benchmarks": yardstick([30.0], 1)}, f)
            run = summarize(path, "--targets")
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertIn("the file has no benchmark a target names", run.stdout)


def check_real(path):
    """A real result: the script exits 0 and every decode benchmark of the file is summarized."""
    run = summarize(path, "--targets")
    if run.returncode != 0:
        sys.exit(f"bench_decode_summary.py exited {run.returncode}:\n{run.stderr}")
    with open(path, encoding="utf-8") as f:
        names = {re.sub(r"/(process_time|real_time|manual_time)", "", b["name"])
                 for b in json.load(f)["benchmarks"] if b.get("run_type") == "iteration"}
    missing = [n for n in names if not any(line.startswith(n + " ") for line in run.stdout.splitlines())]
    if missing:
        sys.exit("not summarized:\n" + "\n".join(sorted(missing)))
    if "| target |" not in run.stdout:
        sys.exit("no targets table:\n" + run.stdout)
    print(f"ok: {len(names)} benchmarks summarized")


if __name__ == "__main__":
    if len(sys.argv) > 1:
        check_real(sys.argv[1])
    else:
        unittest.main()
