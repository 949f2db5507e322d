#!/usr/bin/env python3
"""attnlab's kernels beside PyTorch's attention on the same tensors: median time and
max abs error against a float64 reference, as a table and a matplotlib picture.

    PYTHONPATH=build/python /usr/bin/python3 docs/python/compare_with_torch.py --out docs/python/compare_with_torch.png
"""
import argparse
import math
import os
import sys
import tempfile
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import attnlab  # noqa: E402


def parse_shape(text):
    """'Nq x Nk x d x H' (H optional) -> (H, Nq, Nk, d)."""
    parts = [int(p) for p in text.lower().replace(" ", "").split("x")]
    if len(parts) not in (3, 4) or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"shape '{text}': expected Nq x Nk x d [x H], positive sizes")
    nq, nk, d = parts[:3]
    return (parts[3] if len(parts) == 4 else 1, nq, nk, d)


def median_time(fn, reps):
    fn()  # warm-up: workspaces, page faults, thread pools
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def contenders(threads):
    """(label, function of float32 q, k, v returning a float32 tensor or array)."""
    out = [(f"attnlab {k['name']}", lambda q, k, v, name=k["name"]: attnlab.attention(q, k, v, kernel=name,
                                                                                    threads=threads))
           for k in attnlab.kernels()]
    out.append(("torch _scaled_dot_product_attention",
                lambda q, k, v: F._scaled_dot_product_attention(q, k, v)[0]))
    out.append(("torch math (matmul, softmax, matmul)",
                lambda q, k, v: torch.softmax((q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1]), dim=-1) @ v))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shapes", type=lambda s: [parse_shape(x) for x in s.split(",")],
                    default=[parse_shape(s) for s in ("128x128x64x12", "1024x1024x128", "2048x2048x128")],
                    help="comma-separated Nq x Nk x d [x H] (default: %(default)s)")
    ap.add_argument("--reps", type=int, default=5, help="timed runs per contender and shape; the median is shown")
    ap.add_argument("--threads", type=int, default=os.cpu_count(),
                    help="threads for both attnlab and torch (default: the CPU count, %(default)s)")
    ap.add_argument("--out", default="compare_with_torch.png", help="the picture (PNG)")
    args = ap.parse_args()
    if args.reps < 1 or args.threads < 1:
        ap.error("--reps and --threads must be >= 1")
    torch.set_num_threads(args.threads)

    rows = []  # (shape label, contender, seconds, max abs error)
    gen = torch.Generator().manual_seed(1)
    for h, nq, nk, d in args.shapes:
        label = f"{nq}x{nk}x{d}" + (f"x{h}" if h > 1 else "")
        q, k, v = (torch.rand(1, h, n, d, generator=gen) * 2 - 1 for n in (nq, nk, nk))
        ref = torch.softmax((q.double() @ k.double().transpose(-2, -1)) / math.sqrt(d), dim=-1) @ v.double()
        for name, fn in contenders(args.threads):
            print(f"compare_with_torch: {label} {name}", file=sys.stderr)
            try:
                got = torch.as_tensor(fn(q, k, v))
            except (ValueError, MemoryError) as e:  # a kernel that refuses the shape
                print(f"compare_with_torch: {label} {name}: refused: {e}", file=sys.stderr)
                continue
            err = (got.double() - ref).abs().max().item()
            reps = 1 if name.endswith("reference") else args.reps  # the fp64 loops are slow
            rows.append((label, name, median_time(lambda: fn(q, k, v), reps), err))

    width = max(len(r[1]) for r in rows)
    print(f"{'shape':<16} {'contender':<{width}} {'median':>11} {'max abs err':>11}   ({args.threads} threads)")
    for label, name, s, err in rows:
        print(f"{label:<16} {name:<{width}} {s * 1e3:>8.3f} ms {err:>11.2e}")

    labels = list(dict.fromkeys(r[0] for r in rows))
    names = list(dict.fromkeys(r[1] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 5))
    bar = 0.8 / len(names)
    for i, name in enumerate(names):
        xs, ts, es = [], [], []
        for j, label in enumerate(labels):
            for r in rows:
                if r[0] == label and r[1] == name:
                    xs.append(j + (i - (len(names) - 1) / 2) * bar)
                    ts.append(r[2] * 1e3)
                    es.append(max(r[3], 1e-17))  # a zero error still gets a bar on the log axis
        axes[0].bar(xs, ts, bar, label=name)
        axes[1].bar(xs, es, bar, label=name)
    for ax, title in ((axes[0], "median time (ms, log)"), (axes[1], "max abs error vs float64 (log)")):
        ax.set_yscale("log")
        ax.set_xticks(range(len(labels)), labels)
        ax.set_title(title)
        ax.set_xlabel("Nq x Nk x d [x H]")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="lower center", ncol=3, fontsize=9)
    fig.suptitle(f"attnlab {attnlab.__version__} and torch {torch.__version__}: float32 inputs, "
                 f"{args.threads} thread(s)")
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    # Written beside the target and renamed: an interrupted run leaves the old picture.
    fd, tmp = tempfile.mkstemp(suffix=".png", dir=os.path.dirname(os.path.abspath(args.out)))
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100)
        os.replace(tmp, args.out)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"compare_with_torch: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
