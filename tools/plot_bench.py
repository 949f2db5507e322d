#!/usr/bin/python3
"""Charts and a Markdown table from an attnlab benchmark result.

Reads the JSON that `attnlab bench` (or any attn_bench* binary with
--benchmark_out) writes and produces, in --out:

  gflops_vs_n.{svg,png}      scaling family: GFLOP/s against N per kernel (log-log)
  percent_peak.{svg,png}     scaling family: share of the measured FMA peak
  speedup_vs_blas.{svg,png}  scaling family: time of blas / time of each kernel
  memory_vs_n.{svg,png}      scaling family: measured peak memory of a call and workspace
  thread_scaling.{svg,png}   attention suite: speed-up of the largest thread count over 1
  roofline.{svg,png}         attention suite: GFLOP/s against arithmetic intensity (FLOPs per
                             compulsory byte), under the FMA peak and the STREAM triad bandwidth
                             the same run measured (the chart of `attnlab bench report`)
  table.md                   the peak suite, every attention benchmark and the ring suite as Markdown tables

Where repetitions were run, the median is used. Needs matplotlib (Debian:
python3-matplotlib, installed by tools/install-deps.sh).

Usage: tools/plot_bench.py results/2026-...json [more.json ...] --out docs/perf
"""

import argparse
import json
import math
import os
import re
import sys
import tempfile

SUFFIXES = re.compile(r"^(process_time|real_time|manual_time|iterations:\d+|repeats:\d+|min_time:.*)$")
UNIT_SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}
CHARTS = ["gflops_vs_n", "percent_peak", "speedup_vs_blas", "memory_vs_n", "thread_scaling", "roofline"]


class InputError(Exception):
    """A problem with the user's input: reported without a traceback, exit status 2."""


def load(path):
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}")
    except json.JSONDecodeError as e:
        raise InputError(f"{path}: not JSON: {e}")
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise InputError(f"{path}: not a Google Benchmark result (no 'benchmarks' list)")
    return data


def parse_name(run_name):
    """'scaling/blas/N:64/d:64/threads:2/process_time/real_time' -> ('scaling', 'blas', 'N:64/d:64', 2)."""
    parts = [p for p in run_name.split("/") if not SUFFIXES.match(p)]
    threads = 1
    if parts and parts[-1].startswith("threads:"):
        threads = int(parts.pop()[len("threads:"):])
    family = parts[0] if parts else ""
    kernel = parts[1] if len(parts) > 1 else ""
    shape = "/".join(parts[2:])
    return family, kernel, shape, threads


def rows(data):
    """One row per benchmark: the median aggregate where there are repetitions, else the single run."""
    by_name = {}
    for b in data["benchmarks"]:
        name = b.get("run_name", b.get("name", ""))
        kind = b.get("run_type", "iteration")
        if kind == "aggregate" and b.get("aggregate_name") != "median":
            continue
        entry = by_name.setdefault(name, {"median": None, "runs": []})
        if kind == "aggregate":
            entry["median"] = b
        else:
            entry["runs"].append(b)
    out = []
    for name, e in by_name.items():
        b = e["median"] or (e["runs"][-1] if e["runs"] else None)
        if b is None:
            continue
        family, kernel, shape, threads = parse_name(name)
        r = {"name": name, "family": family, "kernel": kernel, "shape": shape, "threads": threads,
             "error": b.get("error_message") if b.get("error_occurred") else None,
             "label": b.get("label", "")}
        if not r["error"]:
            r["seconds"] = b["real_time"] * UNIT_SECONDS.get(b.get("time_unit", "ns"), 1e-9)
            for k, v in b.items():
                if isinstance(v, (int, float)) and k not in r:
                    r[k] = v
        out.append(r)
    return out


def save(fig, out_dir, stem, written):
    """Writes stem.svg and stem.png through temporary files renamed into place."""
    for ext in ("svg", "png"):
        target = os.path.join(out_dir, f"{stem}.{ext}")
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{stem}.", suffix=f".{ext}")
        os.close(fd)
        try:
            fig.savefig(tmp, format=ext, dpi=110, bbox_inches="tight")
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        written.append(target)


def kernels_of(rs):
    seen = []
    for r in rs:
        if r["kernel"] not in seen:
            seen.append(r["kernel"])
    return seen


def line_chart(plt, rs, y, ylabel, title, logy=True, note=None):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for k in kernels_of(rs):
        pts = sorted((r["Nk"], y(r)) for r in rs if r["kernel"] == k and not r["error"] and "Nk" in r)
        pts = [(n, v) for n, v in pts if v is not None and v > 0 and math.isfinite(v)]
        if pts:
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=k)
            drawn = True
    ax.set_xscale("log", base=2)
    if logy and drawn:
        ax.set_yscale("log")
    ax.set_xlabel("N (= Nq = Nk)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, note or "no data in this result", ha="center", va="center", transform=ax.transAxes)
    return fig


def speedup_chart(plt, rs):
    blas = {r["Nk"]: r["seconds"] for r in rs if r["kernel"] == "blas" and not r["error"] and "Nk" in r}
    def y(r):
        t = blas.get(r["Nk"])
        return t / r["seconds"] if t else None
    fig = line_chart(plt, [r for r in rs if r["kernel"] != "blas"], y, "speed-up over blas (×)",
                     "Speed-up over blas (same run; > 1 is faster)", logy=True,
                     note="no blas results to compare with")
    fig.axes[0].axhline(1.0, color="gray", lw=1)
    return fig


def memory_chart(plt, rs):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drawn = False
    for i, k in enumerate(kernels_of(rs)):
        color = f"C{i}"
        mine = sorted((r for r in rs if r["kernel"] == k and not r["error"] and "Nk" in r), key=lambda r: r["Nk"])
        for key, style, what in (("call_peak_bytes", "-o", "measured call peak"), ("workspace_bytes", "--x", "workspace")):
            pts = [(r["Nk"], r[key]) for r in mine if r.get(key, 0) > 0]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=color, label=f"{k}: {what}")
                drawn = True
    ax.set_xscale("log", base=2)
    if drawn:
        ax.set_yscale("log")
        ax.legend(fontsize=8)
    else:
        ax.text(0.5, 0.5, "no memory data in this result", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("N (= Nq = Nk)")
    ax.set_ylabel("bytes")
    ax.set_title("Memory of one call vs N (measured RSS growth; registry workspace)")
    ax.grid(True, which="both", alpha=0.3)
    return fig


def thread_chart(plt, rs):
    fig, ax = plt.subplots(figsize=(9, 4.5))
    ok = [r for r in rs if not r["error"]]
    tmax = max((r["threads"] for r in ok), default=1)
    shapes = []
    for r in ok:
        if r["shape"] not in shapes:
            shapes.append(r["shape"])
    t = {(r["kernel"], r["shape"], r["threads"]): r["seconds"] for r in ok}
    ks = kernels_of(ok)
    width = 0.8 / max(len(ks), 1)
    drawn = False
    for i, k in enumerate(ks):
        xs, ys = [], []
        for j, s in enumerate(shapes):
            if (k, s, 1) in t and (k, s, tmax) in t and tmax > 1:
                xs.append(j + i * width)
                ys.append(t[(k, s, 1)] / t[(k, s, tmax)])
        if xs:
            ax.bar(xs, ys, width, label=k)
            drawn = True
    ax.axhline(1.0, color="gray", lw=1)
    if tmax > 1:
        ax.axhline(float(tmax), color="gray", lw=1, ls="--")
    if drawn:
        ax.set_yscale("log")  # tiny shapes slow down by 50×, big ones speed up by < 2×: both must show
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(shapes))])
    ax.set_xticklabels(shapes, rotation=40, ha="right", fontsize=8)
    ax.set_ylabel(f"speed-up: time at 1 thread / time at {tmax}")
    ax.set_title(f"Thread scaling, 1 → {tmax} threads (dashed: ideal)")
    if drawn:
        ax.legend()
    else:
        ax.text(0.5, 0.5, "needs runs at 1 and more threads", ha="center", va="center", transform=ax.transAxes)
    return fig


def peaks_by_threads(ctx):
    """The FMA peak the run measured, {threads: GFLOP/s}, from the context ({} without AVX2+FMA)."""
    listed = ctx.get("fma_peak_gflops_by_threads", "")
    return {int(t): float(g) for t, g in (p.split(":") for p in listed.split(","))} if listed else {}


def roofline_chart(plt, rs, ctx):
    """Each attention benchmark at its arithmetic intensity (flops / bytes_moved) and GFLOP/s, one
    colour per kernel, one marker per thread count, under the roofs min(peak, intensity × triad)."""
    fig, ax = plt.subplots(figsize=(8, 5.5))
    peaks = peaks_by_threads(ctx)
    triad = {r["threads"]: r["GB/s"] for r in rs
             if r["family"] == "peak" and r["kernel"] == "stream" and r["shape"] == "triad"
             and not r["error"] and "GB/s" in r}
    pts = [r for r in rs if r["family"] == "attention" and not r["error"]
           and r.get("bytes_moved", 0) > 0 and r.get("GFLOP/s", 0) > 0]
    if not peaks or not pts:
        ax.text(0.5, 0.5, "no FMA peak in this result (the CPU or ATTN_ISA has no AVX2+FMA loop)" if not peaks
                else "no attention benchmarks in this result", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("Roofline")
        return fig
    xs = [r["flops"] / r["bytes_moved"] for r in pts]
    lo, hi = min(xs) / 2, max(xs) * 2
    threads = sorted({r["threads"] for r in pts})
    styles = ["-", "--", ":", "-."]
    for i, t in enumerate(threads):
        if t not in peaks:
            continue
        grid = [lo * (hi / lo) ** (k / 200) for k in range(201)]
        roof = [min(peaks[t], x * triad[t]) if t in triad else peaks[t] for x in grid]
        what = f"FMA peak {peaks[t]:.0f} GFLOP/s" + (f", triad {triad[t]:.1f} GB/s" if t in triad else "")
        ax.plot(grid, roof, styles[i % len(styles)], color="gray", lw=1.2, label=f"roof, {t} thr: {what}")
    markers = "os^Dv"
    for i, k in enumerate(kernels_of(pts)):
        for j, t in enumerate(threads):
            mine = [r for r in pts if r["kernel"] == k and r["threads"] == t]
            if mine:
                ax.scatter([r["flops"] / r["bytes_moved"] for r in mine], [r["GFLOP/s"] for r in mine],
                           color=f"C{i}", marker=markers[j % len(markers)], label=f"{k}, {t} thr", zorder=3)
    named = {}  # intensity -> (highest GFLOP/s there, its shapes): shapes of one intensity share a label
    for r in pts:
        x = r["flops"] / r["bytes_moved"]
        x = next((k for k in named if abs(math.log10(k / x)) < 0.02), x)  # within 5 %: one place
        top, shapes = named.get(x, (0, []))
        named[x] = (max(top, r["GFLOP/s"]), shapes + [r["shape"]] * (r["shape"] not in shapes))
    for x, (y, shapes) in named.items():
        ax.annotate("\n".join(shapes), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, va="bottom")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOPs per compulsory byte of Q, K, V, O)")
    ax.set_ylabel("GFLOP/s")
    ax.set_title(f"Roofline: attention against the peaks measured in the same run ({ctx.get('fma_peak_isa', '?')})")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return fig


def human_time(s):
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def human_bytes(b):
    if b is None:
        return ""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            v = b / scale
            return f"{v:.0f} {unit}" if v >= 100 else f"{v:.3g} {unit}"
    return f"{b:.0f} B"


def length(r):
    """N of a scaling row, from its counters or (refused rows have none) its name."""
    if "Nk" in r:
        return r["Nk"]
    m = re.search(r"N:(\d+)", r["shape"])
    return int(m.group(1)) if m else 0


def ring_table(rs):
    """The ring suite (bench/bench_ring.cpp): each series' time split and its speed-up over P = 1."""
    ring = [r for r in rs if r["family"] == "ring" and r["kernel"] != "link"]
    link = [r for r in rs if r["family"] == "ring" and r["kernel"] == "link"]
    if not ring and not link:
        return []
    lines = ["| ring series | shape | ranks × threads | median time | compute | exposed comm | merge | GFLOP/s | "
             "speed-up over strong P = 1 | note |", "|---|---|---|---:|---:|---:|---:|---:|---:|---|"]
    for r in ring:
        if r["error"]:
            lines.append(f"| {r['kernel']} | {r['shape']} | | | | | | | | " + r["error"].replace("|", "/") + " |")
            continue
        one = [o for o in ring if o["kernel"] == "strong" and not o["error"] and o.get("ranks") == 1
               and o["threads"] == 1]
        one = [o for o in one if r["kernel"] in ("strong", "one_process") and o.get("N") == r.get("N")]
        speedup = f"{one[0]['seconds'] / r['seconds']:.2f}" if one else ""
        lines.append(f"| {r['kernel']} | {r['shape']} | {int(r.get('ranks', 0))} × {r['threads']} | "
                     f"{human_time(r['seconds'])} | {human_time(r.get('compute_s', 0))} | "
                     f"{human_time(r.get('exposed_communication_s', 0))} | {human_time(r.get('merge_s', 0))} | "
                     f"{r.get('GFLOP/s', 0):.3g} | {speedup} | {r['label']} |")
    for r in link:
        if not r["error"]:
            lines.append(f"| link | {r['shape']} | 2 × 1 | {human_time(r['seconds'])} | | | | | | latency "
                         f"{human_time(r.get('latency_s', 0))}, {r.get('GB/s', 0):.3g} GB/s |")
    return lines + [""]


def table(data, rs):
    ctx = data.get("context", {})
    lines = [f"Result of {ctx.get('date', '?')} on {ctx.get('host_name', '?')}: {ctx.get('cpu_model', '?')}, "
             f"{ctx.get('num_cpus', '?')} CPUs, build {ctx.get('attnlab_build_type', '?')}, "
             f"profile {ctx.get('attnlab_profile', '?')}; FMA peak ({ctx.get('fma_peak_isa', '?')}) by threads: "
             f"{ctx.get('fma_peak_gflops_by_threads', '?')} GFLOP/s.", ""]
    if ctx.get("attnlab_warnings"):
        lines += [f"Warnings: {ctx['attnlab_warnings']}", ""]
    peak = [r for r in rs if r["family"] == "peak"]
    if peak:
        lines += ["| benchmark | threads | GFLOP/s | GB/s |", "|---|---|---:|---:|"]
        for r in peak:
            name = r["kernel"] + "/" + r["shape"]
            g = f"{r['GFLOP/s']:.1f}" if "GFLOP/s" in r else ""
            bw = f"{r['GB/s']:.1f}" if "GB/s" in r else ""
            lines.append(f"| {name} | {r['threads']} | {g if not r['error'] else r['error']} | {bw} |")
        lines.append("")
    order = {k: i for i, k in enumerate(kernels_of(rs))}
    att = [r for r in rs if r["family"] == "attention"]
    att += sorted((r for r in rs if r["family"] == "scaling"),
                  key=lambda r: (order[r["kernel"]], length(r), r["threads"], r["shape"]))
    if att:
        lines += ["| family | kernel | shape | threads | median time | GFLOP/s | % peak | GB/s | workspace | "
                  "call peak mem | max rel err | note |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in att:
            if r["error"]:
                lines.append(f"| {r['family']} | {r['kernel']} | {r['shape']} | {r['threads']} | "
                             "| | | | | | | " + r["error"].replace("|", "/") + " |")
                continue
            err = f"{r['max_rel_err']:.2e}" if "max_rel_err" in r else ""
            lines.append(
                f"| {r['family']} | {r['kernel']} | {r['shape']} | {r['threads']} | {human_time(r['seconds'])} | "
                f"{r.get('GFLOP/s', 0):.3g} | {r.get('%peak', 0):.3g} | {r.get('GB/s', 0):.3g} | "
                f"{human_bytes(r.get('workspace_bytes'))} | {human_bytes(r.get('call_peak_bytes'))} | {err} | "
                f"{r['label']} |")
    ring = ring_table(rs)
    if ring:
        lines += [""] + ring
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description="Charts (SVG + PNG) and a Markdown table from an attnlab benchmark JSON.")
    ap.add_argument("result", nargs="+",
                    help="JSON written by `attnlab bench` or an attn_bench* binary (--benchmark_out); with several "
                         "files the benchmarks are pooled (a later file wins for the same name), context from the first")
    ap.add_argument("--out", default="bench-plots", help="output directory (default: %(default)s)")
    args = ap.parse_args(argv)
    try:
        files = [load(path) for path in args.result]
        data = {"context": files[0].get("context", {}), "benchmarks": [b for f in files for b in f["benchmarks"]]}
        rs = rows(data)
        if not rs:
            raise InputError(f"{', '.join(args.result)}: holds no benchmark results")
        os.makedirs(args.out, exist_ok=True)
    except InputError as e:
        print(f"plot_bench: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"plot_bench: error: {args.out}: cannot create the output directory: {e.strerror}", file=sys.stderr)
        return 2

    import matplotlib
    matplotlib.use("Agg")
    matplotlib.rcParams["svg.hashsalt"] = "attnlab"  # reproducible SVG ids
    import matplotlib.pyplot as plt

    scaling = [r for r in rs if r["family"] == "scaling"]
    attention = [r for r in rs if r["family"] == "attention"]
    written = []
    figs = {
        "gflops_vs_n": line_chart(plt, scaling, lambda r: r.get("GFLOP/s", 0), "GFLOP/s",
                                  "Attention throughput vs N (d = 64, one head)"),
        "percent_peak": line_chart(plt, scaling, lambda r: r.get("%peak"), "% of measured FMA peak",
                                   "Share of the machine's fp32 FMA peak", logy=True,
                                   note=None if data.get("context", {}).get("fma_peak_gflops_by_threads")
                                   else "no FMA peak in this result (the CPU or ATTN_ISA has no AVX2+FMA loop)"),
        "speedup_vs_blas": speedup_chart(plt, scaling),
        "memory_vs_n": memory_chart(plt, scaling),
        "thread_scaling": thread_chart(plt, attention),
        "roofline": roofline_chart(plt, rs, data.get("context", {})),
    }
    for stem in CHARTS:
        save(figs[stem], args.out, stem, written)
        plt.close(figs[stem])
    target = os.path.join(args.out, "table.md")
    fd, tmp = tempfile.mkstemp(dir=args.out, prefix=".table.", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(table(data, rs))
    os.replace(tmp, target)
    written.append(target)
    print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
