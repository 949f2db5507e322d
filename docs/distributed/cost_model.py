#!/usr/bin/python3
"""Ring attention cost model (docs/distributed.md): predicted time and efficiency of one
ring_attention call, fp32, d = dv, from a per-rank compute rate and a link's latency and bandwidth.

  n = N / P rows per rank;  block = K and V of one rank = 8 n d bytes
  t_c = F n^2 d / R          compute of one block (F = 4 flops per (query, key, dim): Q K^T and P V;
                             F = 2 causal with the zig-zag layout, every rank the same share)
  t_m = alpha + 8 n d / beta one block over one link (every rank sends and receives one per step)
  T(P) = t_c + (P - 1) * max(t_c, t_m)    (step 0 needs no message; afterwards each step waits
                                          for whichever of compute and communication is longer)
  efficiency = T(1) / (P * T(P))
Communication hides behind compute while t_c >= t_m: n >= 8 R / (F beta) when alpha is negligible
(2 R / beta without a mask); with alpha, the positive root of (F d / R) n^2 - (8 d / beta) n - alpha.

Usage: cost_model.py --rate GFLOPS [--latency-us A] [--check "P:s[:compute_s],..." --n N --d D]
"""
import argparse
import math


def step_times(n, d, rate, alpha, beta, flops_per):
    t_c = flops_per * n * n * d / rate
    t_m = alpha + 8.0 * n * d / beta
    return t_c, t_m


def ring_time(N, P, d, rate, alpha, beta, flops_per):
    t_c, t_m = step_times(N / P, d, rate, alpha, beta, flops_per)
    return t_c + (P - 1) * max(t_c, t_m)


def hiding_rows(d, rate, alpha, beta, flops_per):
    """Smallest rows per rank n with t_c >= t_m."""
    a = flops_per * d / rate
    b = 8.0 * d / beta
    return (b + math.sqrt(b * b + 4 * a * alpha)) / (2 * a)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rate", type=float, required=True, help="compute rate of one rank, GFLOP/s")
    ap.add_argument("--latency-us", type=float, default=10.0, help="link latency, microseconds")
    ap.add_argument("--d", type=int, default=128)
    ap.add_argument("--check", help="measured points to compare: 'P:seconds,...' at --n with --bandwidth-gbs; "
                    "'P:seconds:compute_seconds' takes each rank's rate from the compute time measured in that run")
    ap.add_argument("--n", type=int, default=16384)
    ap.add_argument("--bandwidth-gbs", type=float, default=10.0, help="link bandwidth for --check, GB/s")
    ap.add_argument("--cores", type=float, default=0,
                    help="for --check: cores the ranks share (each rank gets rate * min(1, cores / P)); 0: one each")
    ap.add_argument("--causal", action="store_true", help="causal with the zig-zag layout (half the flops)")
    a = ap.parse_args()
    rate, alpha, d = a.rate * 1e9, a.latency_us * 1e-6, a.d
    F = 2.0 if a.causal else 4.0
    if a.check:
        print(f"N={a.n} d={d} rate={a.rate} GFLOP/s/rank latency={a.latency_us} us bandwidth={a.bandwidth_gbs} GB/s")
        print(f"{'P':>3} {'measured s':>11} {'rate/rank':>10} {'model s':>8} {'model/measured':>15}")
        for item in a.check.split(","):
            P, t, *compute = item.split(":")
            P, t = int(P), float(t)
            if compute:  # the rate each rank got in that run: its share of F N^2 d over its compute time
                r = F * a.n * a.n * d / P / float(compute[0])
            else:
                r = rate * (min(1.0, a.cores / P) if a.cores else 1.0)
            m = ring_time(a.n, P, d, r, alpha, a.bandwidth_gbs * 1e9, F)
            print(f"{P:>3} {t:>11.3f} {r / 1e9:>10.1f} {m:>8.3f} {m / t:>15.2f}")
        return
    print(f"rate {a.rate} GFLOP/s per rank, latency {a.latency_us} us, d = {d}, {'causal zig-zag' if a.causal else 'no mask'}")
    for gbit in (10, 25, 100):
        beta = gbit / 8 * 1e9
        n_hide = hiding_rows(d, rate, alpha, beta, F)
        print(f"\n{gbit} Gb/s: communication hides behind compute from {n_hide:,.0f} rows per rank "
              f"(block {8 * n_hide * d / 1e6:.1f} MB)")
        print(f"{'N':>9} " + " ".join(f"{'P=' + str(P):>17}" for P in (4, 16, 64, 256)))
        for N in (16384, 131072, 1048576):
            cells = []
            for P in (4, 16, 64, 256):
                t = ring_time(N, P, d, rate, alpha, beta, F)
                eff = ring_time(N, 1, d, rate, alpha, beta, F) / (P * t)
                cells.append(f"{t:9.3g} s {eff:5.0%}")
            print(f"{N:>9} " + " ".join(f"{c:>17}" for c in cells))


if __name__ == "__main__":
    main()
