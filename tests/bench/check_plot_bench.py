#!/usr/bin/env python3
"""tools/plot_bench.py on the committed fixture (tests/data/bench_result_fixture.json,
median aggregates cut from a real quick run plus one refused smoke entry), or on
the file given as the first argument: every chart exists as a parseable SVG
that draws data and a PNG with a valid header, and the Markdown table has one
row per attention/scaling benchmark. Bad input is rejected with exit status 2."""

import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "tools", "plot_bench.py")
RESULT = os.path.join(HERE, "..", "data", "bench_result_fixture.json")
CHARTS = ["gflops_vs_n", "percent_peak", "speedup_vs_blas", "memory_vs_n", "thread_scaling", "roofline"]
SVG = "{http://www.w3.org/2000/svg}"


def plot(result, out):
    return subprocess.run([sys.executable, SCRIPT, result, "--out", out], capture_output=True, text=True)


def benchmarks_in(result):
    """Distinct attention/scaling benchmark names, derived from the JSON itself."""
    with open(result, encoding="utf-8") as f:
        data = json.load(f)
    names = set()
    for b in data["benchmarks"]:
        family = b.get("run_name", b["name"]).split("/")[0]
        if family in ("attention", "scaling"):
            names.add(b.get("run_name", b["name"]))
    return names, data


def refused_in(data):
    """Names of the benchmarks a kernel or the CPU refused, in any family."""
    return {b.get("run_name", b["name"]) for b in data["benchmarks"]
            if b.get("error_occurred") and b["error_message"].startswith("refused: ")}


class PlotBench(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "plots")
        cls.proc = plot(RESULT, cls.out)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_exit_status(self):
        self.assertEqual(self.proc.returncode, 0, self.proc.stderr)

    def test_svgs_parse_and_draw(self):
        _, data = benchmarks_in(RESULT)
        no_peak = not data.get("context", {}).get("fma_peak_gflops_by_threads")
        for stem in CHARTS:
            path = os.path.join(self.out, stem + ".svg")
            if stem in ("percent_peak", "roofline") and no_peak:  # a CPU without AVX2+FMA: the chart says so
                with open(path, encoding="utf-8") as f:
                    self.assertIn("no FMA peak in this result", f.read())
                continue
            root = ET.parse(path).getroot()
            self.assertEqual(root.tag, SVG + "svg", path)
            paths = [p for p in root.iter(SVG + "path") if p.get("d")]
            self.assertGreater(len(paths), 10, f"{path}: almost nothing drawn")
            # A legend entry (matplotlib writes each text as a comment) means a series was drawn.
            with open(path, encoding="utf-8") as f:
                svg = f.read()
            self.assertTrue(any(f"<!-- {k}" in svg for k in ("reference", "textbook", "blas")),
                            f"{path}: no kernel in the legend, so no data drawn")

    def test_pngs_have_valid_headers(self):
        for stem in CHARTS:
            with open(os.path.join(self.out, stem + ".png"), "rb") as f:
                head = f.read(24)
            self.assertEqual(head[:8], b"\x89PNG\r\n\x1a\n", stem)
            self.assertEqual(head[12:16], b"IHDR", stem)
            width, height = struct.unpack(">II", head[16:24])
            self.assertGreater(width, 100, stem)
            self.assertGreater(height, 100, stem)

    def test_every_kernel_is_in_the_gflops_legend(self):
        with open(os.path.join(self.out, "gflops_vs_n.svg"), encoding="utf-8") as f:
            svg = f.read()
        _, data = benchmarks_in(RESULT)
        kernels = {b["run_name"].split("/")[1] for b in data["benchmarks"]
                   if b.get("run_name", "").startswith("scaling/") and not b.get("error_occurred")}
        self.assertTrue(kernels)
        for k in kernels:
            self.assertIn(f"<!-- {k} -->", svg, f"kernel {k} missing from the legend")

    def test_roofline_draws_the_roofs_of_the_runs_peak(self):
        _, data = benchmarks_in(RESULT)
        listed = data.get("context", {}).get("fma_peak_gflops_by_threads")
        if not listed:
            self.skipTest("no FMA peak in this result")
        with open(os.path.join(self.out, "roofline.svg"), encoding="utf-8") as f:
            svg = f.read()
        for t, g in (p.split(":") for p in listed.split(",")):
            self.assertIn(f"<!-- roof, {t} thr: FMA peak {float(g):.0f} GFLOP/s", svg)

    def test_table_has_one_row_per_benchmark(self):
        names, data = benchmarks_in(RESULT)
        with open(os.path.join(self.out, "table.md"), encoding="utf-8") as f:
            lines = f.read().splitlines()
        rows = [l for l in lines if l.startswith("| attention |") or l.startswith("| scaling |")]
        self.assertEqual(len(rows), len(names))
        for r in rows:
            self.assertEqual(r.count("|"), 13, r)
        # Every refused benchmark of every family (an AVX2-only CPU refuses the peak suite's
        # AVX-512 loop) has its own row saying so.
        self.assertEqual(sum("refused: " in l for l in lines if l.startswith("| ")), len(refused_in(data)))

    def test_a_refused_peak_loop_has_its_row(self):
        # What a CPU without AVX-512 writes for the peak suite's widest loop.
        _, data = benchmarks_in(RESULT)
        peak = [b for b in data["benchmarks"] if b.get("run_name", b["name"]).startswith("peak/fma/")]
        self.assertTrue(peak, "the result has no peak/fma rows")
        for b in peak[:1]:
            for key in [k for k, v in b.items() if isinstance(v, (int, float)) and k != "threads"]:
                del b[key]
            b.update(error_occurred=True, error_message="refused: this CPU lacks avx512f")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "avx2-only.json")
            with open(path, "w", encoding="utf-8") as f:
                json.dump(data, f)
            r = plot(path, os.path.join(d, "out"))
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(d, "out", "table.md"), encoding="utf-8") as f:
                lines = f.read().splitlines()
        refused_rows = [l for l in lines if l.startswith("| ") and "refused: " in l]
        self.assertEqual(len(refused_rows), len(refused_in(data)))
        self.assertTrue(any("this CPU lacks avx512f" in l for l in refused_rows), refused_rows)

    def test_bad_inputs_exit_2_naming_the_file(self):
        with tempfile.TemporaryDirectory() as d:
            for name, text in (("broken.json", "{not json"), ("other.json", '{"rows": []}'),
                               ("empty.json", '{"benchmarks": []}')):
                path = os.path.join(d, name)
                with open(path, "w", encoding="utf-8") as f:
                    f.write(text)
                r = plot(path, os.path.join(d, "out"))
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(name, r.stderr)
            r = plot(os.path.join(d, "missing.json"), os.path.join(d, "out"))
            self.assertEqual(r.returncode, 2)
            self.assertIn("missing.json", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        RESULT = sys.argv.pop(1)
    unittest.main(verbosity=2)
