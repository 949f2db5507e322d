#!/usr/bin/env python3
"""The measurements of docs/python.md, rerun on this machine:

  overhead  per-call cost of attnlab.attention() on lab-3 through Python (CPU time of the
            calling thread, immune to other processes; and wall time), beside torch's call
  large     N = 4096, d = 128 from Python against the same call timed in C++ by the engine's
            own compare loop (attnlab.compare), interleaved in one process
  threads   attnlab and torch alternating in one process against each alone (separate processes)

    PYTHONPATH=build/python /usr/bin/python3 docs/python/measure.py overhead large threads
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np


def per_call(fn, calls, rounds):
    """Min over rounds of the mean CPU and wall time per call (ns)."""
    cpu = wall = float("inf")
    for _ in range(rounds):
        c, w = time.thread_time(), time.perf_counter()
        for _ in range(calls):
            fn()
        cpu = min(cpu, (time.thread_time() - c) / calls * 1e9)
        wall = min(wall, (time.perf_counter() - w) / calls * 1e9)
    return cpu, wall


def overhead(args):
    import attnlab
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng(0)
    q, k, v = (rng.uniform(-1, 1, (3, 4)).astype(np.float32) for _ in range(3))
    out = np.empty((3, 4), np.float32)
    tq, tk, tv = (torch.from_numpy(x)[None] for x in (q, k, v))  # torch's function takes 3-D and 4-D
    cases = [
        ("attnlab.attention(q, k, v)  NumPy [3, 4]", lambda: attnlab.attention(q, k, v)),
        ("attnlab.attention(q, k, v, out=out)", lambda: attnlab.attention(q, k, v, out=out)),
        ("attnlab.attention(q, k, v)  torch [1, 3, 4]", lambda: attnlab.attention(tq, tk, tv)),
        ("F._scaled_dot_product_attention  torch [1, 3, 4]", lambda: F._scaled_dot_product_attention(tq, tk, tv)),
    ]
    print(f"lab-3 per call, min of {args.rounds} rounds of {args.calls} calls (CPU time of the calling thread; wall)")
    for name, fn in cases:
        fn()
        cpu, wall = per_call(fn, args.calls, args.rounds)
        print(f"  {name:<50} {cpu:8.0f} ns CPU {wall:8.0f} ns wall")


def large(args):
    import attnlab

    n, d = args.n, 128
    shape = f"{n}x{n}x{d}"
    rng = np.random.default_rng(1)
    q, k, v = (rng.uniform(-1, 1, (1, 1, n, d)).astype(np.float32) for _ in range(3))
    out = np.empty_like(q)
    py, cpp = [], []
    for r in range(args.rounds):  # interleaved: each round one C++ median and one Python median
        row = attnlab.compare(shape, kernels="fused", threads=args.threads, reps=args.reps, max_seconds=1e9,
                              reference_limit=0)[0]
        cpp.append(row["median_seconds"])
        ts = []
        attnlab.attention(q, k, v, out=out, threads=args.threads)
        for _ in range(args.reps):
            t0 = time.perf_counter()
            attnlab.attention(q, k, v, out=out, threads=args.threads)
            ts.append(time.perf_counter() - t0)
        py.append(float(np.median(ts)))
        print(f"  round {r + 1}: C++ {cpp[-1] * 1e3:.2f} ms, Python {py[-1] * 1e3:.2f} ms", file=sys.stderr)
    print(f"N = {n}, d = {d}, fused, {args.threads} thread(s); medians of {args.reps} calls per round, "
          f"{args.rounds} interleaved rounds")
    for name, xs in (("C++ (attnlab.compare's timed loop)", cpp), ("Python attnlab.attention(out=)", py)):
        print(f"  {name:<36} min {min(xs) * 1e3:8.2f} ms  median {np.median(xs) * 1e3:8.2f} ms")
    print(f"  Python / C++: min {min(py) / min(cpp):.4f}, median {np.median(py) / np.median(cpp):.4f}")


THREADS_CHILD = r"""
import json, sys, time, numpy as np
mode, n, reps, threads = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(2)
q, k, v = (rng.uniform(-1, 1, (1, 8, n, 64)).astype(np.float32) for _ in range(3))
fns = {}
if "attnlab" in mode:
    import attnlab
    fns["attnlab"] = lambda: attnlab.attention(q, k, v, threads=threads)
if "torch" in mode:
    import torch, torch.nn.functional as F
    if threads:
        torch.set_num_threads(threads)
    tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
    fns["torch"] = lambda: F._scaled_dot_product_attention(tq, tk, tv)
times = {name: [] for name in fns}
for name, f in fns.items():
    f()
for _ in range(reps):
    for name, f in fns.items():  # alternating when both
        t0 = time.perf_counter(); f(); times[name].append(time.perf_counter() - t0)
extra = {}
if "torch" in mode:
    extra["torch_threads"] = torch.get_num_threads()
import ctypes
extra["omp_max_threads"] = ctypes.CDLL("libgomp.so.1").omp_get_max_threads()
print(json.dumps({"times": times, **extra}))
"""


def threads(args):
    t = args.threads_both
    print(f"[1, 8, {args.n}, 64] float32, {'default threads' if t == 0 else f'{t} thread(s) for both'}; "
          f"median (min) of {args.reps} calls per process")
    results = {}
    for mode in ("attnlab", "torch", "attnlab+torch"):
        r = subprocess.run([sys.executable, "-c", THREADS_CHILD, mode, str(args.n), str(args.reps), str(t)],
                           capture_output=True, text=True, check=True)
        results[mode] = json.loads(r.stdout)
        for name, ts in results[mode]["times"].items():
            label = f"{name} {'alone' if '+' not in mode else 'alternating with the other'}"
            print(f"  {label:<36} {np.median(ts) * 1e3:8.2f} ms ({min(ts) * 1e3:.2f} ms)"
                  f"   omp_get_max_threads() = {results[mode]['omp_max_threads']}"
                  + (f", torch.get_num_threads() = {results[mode]['torch_threads']}" if "torch_threads" in
                     results[mode] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("what", nargs="+", choices=["overhead", "large", "threads"], help="which measurements")
    ap.add_argument("--calls", type=int, default=100000, help="overhead: calls per round")
    ap.add_argument("--rounds", type=int, default=5, help="overhead, large: rounds (min and median over them)")
    ap.add_argument("--reps", type=int, default=5, help="large, threads: calls per median")
    ap.add_argument("--n", type=int, default=4096, help="large: N (d = 128); threads: N of [1, 8, N, 64] (1024)")
    ap.add_argument("--threads", type=int, default=1, help="large: threads of both calls")
    ap.add_argument("--threads-both", type=int, default=0,
                    help="threads: threads= for attnlab and torch.set_num_threads (0: each one's default)")
    args = ap.parse_args()
    for w in args.what:
        if w == "threads" and args.n == 4096:
            args.n = 1024
        {"overhead": overhead, "large": large, "threads": threads}[w](args)


if __name__ == "__main__":
    main()
