#!/usr/bin/env python3
"""attnlab run under mpirun -np P: the ring's output file against an fp64 NumPy reference,
and bad input on one rank's rows: every rank exits 2 with the same message, no file written.
Usage: check_run_mpi.py MPIRUN ATTNLAB NP"""
import os
import subprocess
import sys
import tempfile

import numpy as np

mpirun, attnlab, np_ranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = [mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader", "-np", str(np_ranks), attnlab, "run"]
env = dict(os.environ, OMP_NUM_THREADS="1")


def reference(q, k, v, causal):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    nq, nk = s.shape[-2:]
    if causal != "none":
        shift = nk - nq if causal == "bottom-right" else 0
        s = np.where(np.arange(nk)[None, :] <= np.arange(nq)[:, None] + shift, s, -np.inf)
    s -= s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def run(args):
    return subprocess.run(base + args, capture_output=True, text=True, env=env, timeout=60)


failures = []
rng = np.random.default_rng(5)
with tempfile.TemporaryDirectory() as tmp:
    for shape_q, shape_k, causal in [((37, 16), (37, 16), "top-left"), ((2, 11, 8), (2, 29, 8), "bottom-right"),
                                     ((1, 2, 7, 8), (1, 2, 5, 8), "none")]:
        q = rng.uniform(-1, 1, shape_q).astype(np.float32)
        k = rng.uniform(-1, 1, shape_k).astype(np.float32)
        v = rng.uniform(-1, 1, shape_k).astype(np.float32)
        paths = {n: os.path.join(tmp, n + ".npy") for n in ("q", "k", "v")}
        for n, x in zip("qkv", (q, k, v)):
            np.save(paths[n], x)
        out = os.path.join(tmp, "o.npy")
        r = run(["--q", paths["q"], "--k", paths["k"], "--v", paths["v"], "--out", out, "--causal", causal])
        if r.returncode != 0:
            failures.append(f"{shape_q} {causal}: exit {r.returncode}\n{r.stderr}")
            continue
        got = np.load(out)
        want = reference(q, k, v, causal)
        err = np.abs(got - want).max()
        # fp32 attention of these sizes errs by a few 1e-7; a wrong block or offset by ~1e-1.
        if got.shape != want.shape or not err < 2e-6:
            failures.append(f"{shape_q} {causal}: shape {got.shape}, max error {err}")
        os.remove(out)

    # A NaN in the last rows of q: only the last rank reads it, every rank must refuse.
    q = rng.uniform(-1, 1, (20, 8)).astype(np.float32)
    q[-1, 0] = np.nan
    np.save(os.path.join(tmp, "bad.npy"), q)
    np.save(os.path.join(tmp, "kv.npy"), rng.uniform(-1, 1, (20, 8)).astype(np.float32))
    out = os.path.join(tmp, "bad_out.npy")
    kv = os.path.join(tmp, "kv.npy")
    r = run(["--q", os.path.join(tmp, "bad.npy"), "--k", kv, "--v", kv, "--out", out])
    lines = [line for line in r.stderr.splitlines() if "NaN" in line]
    if r.returncode != 2 or len(lines) != np_ranks or len(set(lines)) != 1:
        failures.append(f"bad input: exit {r.returncode}, expected 2 with {np_ranks} equal messages:\n{r.stderr}")
    if os.path.exists(out) or any(n.startswith("bad_out.npy.tmp") for n in os.listdir(tmp)):
        failures.append("bad input: an output file was left")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"attnlab run under mpirun -np {np_ranks}: outputs match the fp64 reference, bad input refused by every rank")
