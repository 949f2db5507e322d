#!/usr/bin/python3
"""Interleaved timing of ring attention configurations (docs/distributed.md, "Measured here").

Runs build/bench/attn_ring_scaling under mpirun for every configuration in turn, --rounds
times (interleaved: a burst of load from other processes hits every configuration alike),
and prints each one's min and median of the slowest rank's call time (each run: best of
--reps calls) with the compute / exposed communication / merge split of its fastest run,
and the load average before and after. Ranks are not bound to cores (--bind-to none) unless
a configuration says so: Open MPI binds a job of 1 or 2 ranks to one core per rank by
default, which holds one process's threads to a single core ("bound" row).

Usage: measure_ring.py [--build build] [--n 16384] [--rounds 5] [--reps 2] [--configs a,b,...]
"""
import argparse
import os
import statistics
import subprocess
import sys

# name: (ranks, threads per rank, mpirun arguments, attn_ring_scaling arguments)
CONFIGS = {
    "1x1": (1, 1, [], []),
    "1x2": (1, 2, [], []),
    "1x2-bound": (1, 2, ["--bind-to", "core"], []),
    "2x1": (2, 1, [], []),
    "2x1-tcp": (2, 1, ["--mca", "btl", "self,tcp"], []),
    "2x1-nopoll": (2, 1, [], ["--no-poll"]),
    "2x1-tcp-nopoll": (2, 1, ["--mca", "btl", "self,tcp"], ["--no-poll"]),
    "3x1": (3, 1, [], []),
    "4x1": (4, 1, [], []),
    "1x2-causal": (1, 2, [], ["--causal", "top-left"]),
    "2x1-causal-contiguous": (2, 1, [], ["--causal", "top-left", "--layout", "contiguous"]),
    "2x1-causal-zigzag": (2, 1, [], ["--causal", "top-left", "--layout", "zigzag"]),
}


def run(build, name, n, reps, extra_args):
    ranks, threads, extra, worker_args = CONFIGS[name]
    args = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-np", str(ranks)]
    if "--bind-to" not in extra:
        args += ["--bind-to", "none"]
    if "btl" not in extra:
        args += ["--mca", "btl", "self,vader"]
    args += extra + [os.path.join(build, "bench", "attn_ring_scaling"), "--kv", "--n", str(n), "--threads",
                     str(threads), "--reps", str(reps)] + worker_args + extra_args
    r = subprocess.run(args, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        sys.exit(f"measure_ring: {' '.join(args)}: exit {r.returncode}\n{r.stderr}")
    kv = {}
    for line in r.stdout.splitlines():
        if line.startswith("kv:"):
            kv.update((k, float(v)) for k, v in (w.split("=") for w in line.split()[1:]))
    return kv


def load():
    with open("/proc/loadavg") as f:
        return f.read().split()[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default="build")
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--configs", default="1x2,2x1,1x1,3x1,4x1,1x2-bound,2x1-tcp",
                    help="comma-separated, from: " + ", ".join(CONFIGS))
    ap.add_argument("extra", nargs="*", help="more attn_ring_scaling arguments after --, e.g. -- --causal top-left")
    a = ap.parse_args()
    names = a.configs.split(",")
    for name in names:
        if name not in CONFIGS:
            sys.exit(f"measure_ring: --configs: no configuration '{name}' (known: {', '.join(CONFIGS)})")
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    print(f"{model}, {os.cpu_count()} CPUs; N={a.n} d=128, {a.rounds} interleaved rounds, best of {a.reps} calls "
          f"per run; load average before: {load()}")
    runs = {name: [] for name in names}
    for r in range(a.rounds):
        for name in names:
            runs[name].append(run(a.build, name, a.n, a.reps, a.extra))
        print(f"round {r + 1}/{a.rounds} done, load average {load()}", file=sys.stderr)
    print(f"load average after: {load()}")
    print(f"{'config':>21} {'min s':>7} {'median s':>9} {'GFLOP/s':>8} {'exposed comm ms min/median':>27}"
          f"   fastest run: compute s / exposed comm / merge")
    for name in names:
        t = [k["total_s"] for k in runs[name]]
        x = [k["exposed_communication_s"] * 1e3 for k in runs[name]]
        best = min(runs[name], key=lambda k: k["total_s"])
        print(f"{name:>21} {min(t):7.3f} {statistics.median(t):9.3f} {best['flops'] / min(t) / 1e9:8.1f} "
              f"{min(x):>18.1f} / {statistics.median(x):6.1f}   "
              f"{best['compute_s']:.3f} / {best['exposed_communication_s'] * 1e3:.1f} ms / "
              f"{best['merge_s'] * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
