#!/usr/bin/env python3
"""tools/plot_bench.py on a result of the ring suite (`attnlab bench --suites ring`): table.md
has one ring row per ring benchmark in the file, each with its series, shape, ranks × threads
and time split, and the strong series' P = 1 row has speed-up 1.00.
Usage: check_plot_ring.py RESULT.json"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "..", "..", "tools", "plot_bench.py")

result = sys.argv[1]
with open(result, encoding="utf-8") as f:
    data = json.load(f)
names = {b["run_name"] for b in data["benchmarks"] if b["run_name"].startswith("ring/")}
problems = []
with tempfile.TemporaryDirectory() as out:
    r = subprocess.run([sys.executable, SCRIPT, result, "--out", out], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"plot_bench.py exited {r.returncode}:\n{r.stderr}")
    with open(os.path.join(out, "table.md"), encoding="utf-8") as f:
        rows = [line for line in f.read().splitlines()
                if line.startswith(("| strong |", "| weak |", "| one_process |", "| link |"))]
if len(rows) != len(names):
    problems.append(f"{len(rows)} ring rows in table.md for {len(names)} ring benchmarks:\n" + "\n".join(rows))
for line in rows:
    if line.count("|") != 11:
        problems.append(f"not 10 columns: {line}")
strong_one = [line for line in rows if line.startswith("| strong |") and "| 1 × 1 |" in line]
if len(strong_one) != 1 or "| 1.00 |" not in strong_one[0]:
    problems.append(f"strong P = 1 row without speed-up 1.00: {strong_one}")
for p in problems:
    print("FAIL:", p)
print(f"{result}: {len(rows)} ring rows, {len(problems)} problem(s)")
sys.exit(1 if problems else 0)
