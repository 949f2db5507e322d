#!/usr/bin/env python3
"""`attnlab bench report` on a committed result (tests/data/bench_roofline_fixture.json: a quick run
of the peak and attention suites on a loaded 2-core VM, fused and blas on five shapes, iterations
and medians, plus one refused smoke entry). Every figure of the report is recomputed here from the
JSON itself: the median of each benchmark (not the last run), its share of the FMA peak that the
context records for its thread count, the 2-thread/1-thread ratio, FLOPs per compulsory byte, and
the roof (memory where intensity × the 1-thread STREAM triad is below the 1-thread peak). Bad
input exits 2 naming the file or option. Timing never decides a pass: the file is fixed.

Usage: check_bench_report.py ATTNLAB [RESULT.json]"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ATTNLAB = None
RESULT = os.path.join(HERE, "..", "data", "bench_roofline_fixture.json")


def report(*args):
    return subprocess.run([ATTNLAB, "bench", "report", *args], capture_output=True, text=True)


def medians(data):
    """{(kernel, shape, threads): benchmark} from the median aggregates; the peak context; the triad."""
    out, triad = {}, {}
    for b in data["benchmarks"]:
        if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
            continue
        parts = [p for p in b["run_name"].split("/") if p not in ("process_time", "real_time")]
        threads = int(parts[-1].split(":")[1])
        if parts[0] == "attention":
            out[(parts[1], parts[2], threads)] = b
        elif parts[:3] == ["peak", "stream", "triad"]:
            triad[threads] = b["GB/s"]
    listed = data["context"]["fma_peak_gflops_by_threads"]
    peak = {int(t): float(g) for t, g in (p.split(":") for p in listed.split(","))}
    return out, peak, triad


def report_of(data, name):
    """The report of `data` written to a temporary file called `name`."""
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, name)
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f)
        return report(path)


def table_rows(stdout):
    """The report's table as a list of {column: cell}."""
    lines = [l for l in stdout.splitlines() if l.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return [dict(zip(header, (c.strip() for c in l.strip("|").split("|")))) for l in lines[2:]]


def number(cell):
    return float(cell.rstrip("x%").strip())


class BenchReport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        with open(RESULT, encoding="utf-8") as f:
            cls.data = json.load(f)
        cls.proc = report(RESULT)
        cls.rows = table_rows(cls.proc.stdout) if cls.proc.returncode == 0 else []

    def assertPrinted(self, cell, value, what):
        # The report prints three significant digits at most (two decimals below 1 % and below 10).
        self.assertAlmostEqual(number(cell), value, delta=max(abs(value) * 6e-3, 6e-3), msg=what)

    def test_exit_status(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def test_one_row_per_measured_kernel_and_shape(self):
        meds, _, _ = medians(self.data)
        expected = {(k, s) for (k, s, _t) in meds}
        self.assertEqual({(r["kernel"], r["shape"]) for r in self.rows}, expected)
        self.assertEqual(len(self.rows), len(expected))

    def test_figures_are_the_medians_against_the_same_runs_peak(self):
        meds, peak, triad = medians(self.data)
        for r in self.rows:
            what = f"{r['kernel']} {r['shape']}"
            one, two = meds[(r["kernel"], r["shape"], 1)], meds[(r["kernel"], r["shape"], 2)]
            self.assertPrinted(r["GFLOP/s 1 thr"], one["GFLOP/s"], what)
            self.assertPrinted(r["GFLOP/s 2 thr"], two["GFLOP/s"], what)
            self.assertPrinted(r["% peak 1 thr"], 100 * one["GFLOP/s"] / peak[1], what)
            self.assertPrinted(r["% peak 2 thr"], 100 * two["GFLOP/s"] / peak[2], what)
            self.assertPrinted(r["2 thr / 1 thr"], two["GFLOP/s"] / one["GFLOP/s"], what)
            intensity = one["flops"] / one["bytes_moved"]
            self.assertPrinted(r["FLOP/byte"], intensity, what)
            memory_roof = intensity * triad[1]
            if memory_roof < peak[1]:
                self.assertTrue(r["bound at 1 thr"].startswith("memory: "), what)
                share = r["bound at 1 thr"].split(": ")[1].split(" % of ")[0]
                self.assertPrinted(share, 100 * one["GFLOP/s"] / memory_roof, what)
                self.assertPrinted(r["bound at 1 thr"].split(" % of ")[1].split()[0], memory_roof, what)
            else:
                self.assertEqual(r["bound at 1 thr"], "compute", what)

    def test_the_median_is_used_not_the_last_run(self):
        # At least one benchmark's last run differs from its median, so the check above can fail.
        last = {}
        for b in self.data["benchmarks"]:
            if b.get("run_type") == "iteration" and not b.get("error_occurred"):
                last[b["run_name"]] = b["GFLOP/s"] if "GFLOP/s" in b else b.get("GB/s")
        meds = {b["run_name"]: b.get("GFLOP/s", b.get("GB/s")) for b in self.data["benchmarks"]
                if b.get("aggregate_name") == "median"}
        self.assertTrue(any(abs(last[n] - m) > 0.01 * m for n, m in meds.items()))

    def test_header_names_the_peak_and_the_memory_roof(self):
        _, peak, triad = medians(self.data)
        out = self.proc.stdout
        self.assertIn(f"1 thread {peak[1]:.1f} GFLOP/s, 2 threads {peak[2]:.1f} GFLOP/s", out)
        self.assertIn(f"1 thread {triad[1]:.1f} GB/s, 2 threads {triad[2]:.1f} GB/s", out)
        self.assertIn(f"ridge point {peak[1] / triad[1]:.1f} FLOP/byte", out)
        self.assertIn(self.data["context"]["attnlab_warnings"], out)

    def test_refused_benchmarks_are_listed(self):
        refused = [b for b in self.data["benchmarks"] if b.get("error_occurred")]
        self.assertTrue(refused)
        for b in refused:
            self.assertIn(b["error_message"], self.proc.stdout)

    def test_kernels_option_filters_and_names_what_is_missing(self):
        r = report(RESULT, "--kernels", "fused")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({row["kernel"] for row in table_rows(r.stdout)}, {"fused"})
        r = report(RESULT, "--kernels", "nosuch")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'nosuch'", r.stderr)
        self.assertIn("blas, fused", r.stderr)

    def test_without_the_peak_suite_every_shape_reads_against_the_fma_peak(self):
        data = json.loads(json.dumps(self.data))
        data["benchmarks"] = [b for b in data["benchmarks"] if not b["run_name"].startswith("peak/")]
        r = report_of(data, "attention-only.json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("no STREAM triad in this result", r.stdout)
        self.assertEqual({row["bound at 1 thr"] for row in table_rows(r.stdout)}, {"compute"})

    def test_a_sixteen_bit_run_is_its_own_row_at_its_own_intensity(self):
        # attention/<kernel>/<shape>/bf16/threads:<t> (bench_attention's f16 and bf16 runs): the same
        # FLOPs over half the bytes, so twice the FLOP/byte of the fp32 row, in a row of its own.
        data = json.loads(json.dumps(self.data))
        fp32 = next(b for b in data["benchmarks"] if b["run_name"].startswith("attention/")
                    and b.get("aggregate_name") == "median")
        kernel, shape = fp32["run_name"].split("/")[1:3]
        prefix = f"attention/{kernel}/{shape}/"
        for b in [b for b in data["benchmarks"] if b["run_name"].startswith(prefix)]:
            b16 = dict(b, run_name=b["run_name"].replace(prefix, prefix + "bf16/"),
                       name=b["name"].replace(prefix, prefix + "bf16/"))
            if "bytes_moved" in b16:
                b16["bytes_moved"] /= 2
            data["benchmarks"].append(b16)
        r = report_of(data, "bf16.json")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = {(row["kernel"], row["shape"]): row for row in table_rows(r.stdout)}
        self.assertEqual(len(rows), len(self.rows) + 1)
        wide, narrow = rows[(kernel, shape)], rows[(kernel, shape + "/bf16")]
        self.assertPrinted(narrow["FLOP/byte"], fp32["flops"] / (fp32["bytes_moved"] / 2), shape + "/bf16")
        self.assertEqual(narrow["GFLOP/s 1 thr"], wide["GFLOP/s 1 thr"])

    def test_bad_inputs_exit_2_naming_them(self):
        with tempfile.TemporaryDirectory() as d:
            cases = {"broken.json": '{"benchmarks": [', "other.json": '{"rows": []}',
                     "peak-only.json": '{"benchmarks": [{"run_name": "peak/fma/avx2+fma/threads:1"}]}',
                     "bad-peak.json": '{"context": {"fma_peak_gflops_by_threads": "1:x"}, "benchmarks": []}',
                     "bad-counter.json": '{"benchmarks": [{"run_name": "attention/fused/lab-3/threads:1", '
                                         '"GFLOP/s": "fast"}]}',
                     "bad-threads.json": '{"benchmarks": [{"run_name": "attention/fused/lab-3/threads:99999999999", '
                                         '"GFLOP/s": 1, "flops": 1, "bytes_moved": 1}]}'}
            for name, text in cases.items():
                path = os.path.join(d, name)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                r = report(path)
                self.assertEqual(r.returncode, 2, name + r.stderr)
                self.assertIn(name, r.stderr)
            r = report(os.path.join(d, "missing.json"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("missing.json", r.stderr)
        r = subprocess.run([ATTNLAB, "bench", "--full", "report", RESULT], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--full", r.stderr)
        r = report()
        self.assertEqual(r.returncode, 2)
        self.assertIn("RESULT", r.stderr)


if __name__ == "__main__":
    ATTNLAB = sys.argv.pop(1)
    if len(sys.argv) > 1:
        RESULT = sys.argv.pop(1)
    unittest.main(verbosity=2)
