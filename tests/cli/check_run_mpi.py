#!/usr/bin/env python3
"""attnlab run under mpirun -np P: the ring's output (and LSE) files against an fp64 NumPy
reference for both layouts, masks and causal alignments, and bad input on one rank's rows:
every rank exits 2 with the same message, no file written.
Usage: check_run_mpi.py MPIRUN ATTNLAB NP"""
import os
import subprocess
import sys
import tempfile

import numpy as np

mpirun, attnlab, np_ranks = sys.argv[1], sys.argv[2], int(sys.argv[3])
base = [mpirun, "--allow-run-as-root", "--oversubscribe", "--mca", "btl", "self,vader", "-np", str(np_ranks), attnlab, "run"]
env = dict(os.environ, OMP_NUM_THREADS="1")


def reference(q, k, v, causal, mask=None):
    """fp64 attention and its log-sum-exp."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    nq, nk = s.shape[-2:]
    if mask is not None:
        s = s + mask.astype(np.float64)
    if causal != "none":
        shift = nk - nq if causal == "bottom-right" else 0
        s = np.where(np.arange(nk)[None, :] <= np.arange(nq)[:, None] + shift, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    p = np.exp(s - m)
    return (p / p.sum(axis=-1, keepdims=True)) @ v, (m + np.log(p.sum(axis=-1, keepdims=True)))[..., 0]


def run(args):
    return subprocess.run(base + args, capture_output=True, text=True, env=env, timeout=60)


failures = []
rng = np.random.default_rng(5)
with tempfile.TemporaryDirectory() as tmp:
    # (q shape, k shape, causal, layout, mask, lse): every layout with and without a mask and the LSE.
    cases = [((37, 16), (37, 16), "top-left", "auto", False, False),
             ((2, 11, 8), (2, 29, 8), "bottom-right", "contiguous", False, True),
             ((1, 2, 7, 8), (1, 2, 5, 8), "none", "auto", False, False),
             ((2, 23, 8), (2, 23, 8), "top-left", "zigzag", True, True),
             ((13, 8), (19, 8), "bottom-right", "zigzag", False, True),
             ((1, 2, 9, 8), (1, 2, 14, 8), "none", "zigzag", True, False),
             ((17, 8), (6, 8), "none", "contiguous", True, True)]
    for shape_q, shape_k, causal, layout, with_mask, with_lse in cases:
        what = f"{shape_q} {causal} {layout}{' mask' if with_mask else ''}{' lse' if with_lse else ''}"
        q = rng.uniform(-1, 1, shape_q).astype(np.float32)
        k = rng.uniform(-1, 1, shape_k).astype(np.float32)
        v = rng.uniform(-1, 1, shape_k).astype(np.float32)
        paths = {n: os.path.join(tmp, n + ".npy") for n in ("q", "k", "v", "mask")}
        for n, x in zip("qkv", (q, k, v)):
            np.save(paths[n], x)
        args = ["--q", paths["q"], "--k", paths["k"], "--v", paths["v"], "--causal", causal, "--layout", layout]
        mask = None
        if with_mask:  # additive values and -inf, but no row masked whole (its LSE would be -inf)
            mask = rng.uniform(-2, 2, (shape_q[-2], shape_k[-2])).astype(np.float32)
            mask[rng.uniform(size=mask.shape) < 0.3] = -np.inf
            mask[:, 0] = 0
            np.save(paths["mask"], mask)
            args += ["--mask", paths["mask"]]
        out, lse_path = os.path.join(tmp, "o.npy"), os.path.join(tmp, "lse.npy")
        args += ["--out", out] + (["--lse", lse_path] if with_lse else [])
        r = run(args)
        if r.returncode != 0:
            failures.append(f"{what}: exit {r.returncode}\n{r.stderr}")
            continue
        want_layout = layout if layout != "auto" else ("contiguous" if causal == "none" else "zigzag")
        if f"layout: {want_layout}" not in r.stdout:
            failures.append(f"{what}: the report does not say 'layout: {want_layout}':\n{r.stdout}")
        got = np.load(out)
        want, want_lse = reference(q, k, v, causal, mask)
        err = np.abs(got - want).max()
        # fp32 attention of these sizes errs by a few 1e-7; a wrong block, offset or mask row by ~1e-1.
        if got.shape != want.shape or not err < 2e-6:
            failures.append(f"{what}: shape {got.shape}, max error {err}")
        if with_lse:
            got_lse = np.load(lse_path)
            lse_err = np.abs(got_lse - want_lse).max() if got_lse.shape == want_lse.shape else np.inf
            if not lse_err < 4e-6:
                failures.append(f"{what}: lse shape {got_lse.shape} (want {want_lse.shape}), max error {lse_err}")
            os.remove(lse_path)
        os.remove(out)
        left = [n for n in os.listdir(tmp) if ".tmp-" in n]
        if left:
            failures.append(f"{what}: temporary files left: {left}")

    # Refused before anything is written, by every rank with the same message: a mask of the
    # wrong shape, a --layout that does not exist, --check (needs every key on every rank).
    kv = os.path.join(tmp, "kv.npy")
    np.save(kv, rng.uniform(-1, 1, (20, 8)).astype(np.float32))
    np.save(os.path.join(tmp, "m_bad.npy"), np.zeros((20, 19), np.float32))
    for args, says in [(["--mask", os.path.join(tmp, "m_bad.npy")], "--mask"), (["--layout", "spiral"], "--layout"),
                       (["--check"], "--check"), (["--dtype", "f16"], "--dtype"),
                       (["--out-dtype", "f16"], "--out-dtype")]:
        out = os.path.join(tmp, "refused.npy")
        r = run(["--q", kv, "--k", kv, "--v", kv, "--out", out] + args)
        lines = [line for line in r.stderr.splitlines() if "error" in line]
        if r.returncode != 2 or len(lines) != np_ranks or len(set(lines)) != 1 or says not in lines[0]:
            failures.append(f"{args}: exit {r.returncode}, expected 2 and {np_ranks} equal messages naming {says}:"
                            f"\n{r.stderr}")
        if os.path.exists(out):
            failures.append(f"{args}: an output file was written")

    # float16 files: each rank's rows widened to float32 exactly, the output float32 (guide §5).
    h = {n: rng.uniform(-1, 1, (2, 15, 8)).astype(np.float16) for n in "qkv"}
    for n, x in h.items():
        np.save(os.path.join(tmp, n + "16.npy"), x)
    out = os.path.join(tmp, "o16.npy")
    r = run(["--q", os.path.join(tmp, "q16.npy"), "--k", os.path.join(tmp, "k16.npy"), "--v",
             os.path.join(tmp, "v16.npy"), "--out", out, "--causal", "top-left"])
    if r.returncode != 0:
        failures.append(f"float16 files: exit {r.returncode}\n{r.stderr}")
    else:
        got, (want, _) = np.load(out), reference(h["q"], h["k"], h["v"], "top-left")
        if got.dtype != np.float32 or got.shape != want.shape or not np.abs(got - want).max() < 2e-6:
            failures.append(f"float16 files: dtype {got.dtype}, shape {got.shape}, error {np.abs(got - want).max()}")

    # +inf or NaN in the mask rows of the last rank only (-inf is a mask's own value).
    m = np.zeros((20, 20), np.float32)
    m[-1, 3] = np.inf
    np.save(os.path.join(tmp, "m_inf.npy"), m)
    out = os.path.join(tmp, "inf_out.npy")
    r = run(["--q", kv, "--k", kv, "--v", kv, "--out", out, "--mask", os.path.join(tmp, "m_inf.npy")])
    lines = [line for line in r.stderr.splitlines() if "+inf" in line]
    if r.returncode != 2 or len(lines) != np_ranks or len(set(lines)) != 1 or os.path.exists(out):
        failures.append(f"+inf in a mask: exit {r.returncode}, expected 2 with {np_ranks} equal messages:\n{r.stderr}")

    # A NaN in the last rows of q: only the last rank reads it, every rank must refuse.
    q = rng.uniform(-1, 1, (20, 8)).astype(np.float32)
    q[-1, 0] = np.nan
    np.save(os.path.join(tmp, "bad.npy"), q)
    out = os.path.join(tmp, "bad_out.npy")
    r = run(["--q", os.path.join(tmp, "bad.npy"), "--k", kv, "--v", kv, "--out", out])
    lines = [line for line in r.stderr.splitlines() if "NaN" in line]
    if r.returncode != 2 or len(lines) != np_ranks or len(set(lines)) != 1:
        failures.append(f"bad input: exit {r.returncode}, expected 2 with {np_ranks} equal messages:\n{r.stderr}")
    if os.path.exists(out) or any(n.startswith("bad_out.npy.tmp") for n in os.listdir(tmp)):
        failures.append("bad input: an output file was left")

if failures:
    print("\n".join(failures))
    sys.exit(1)
print(f"attnlab run under mpirun -np {np_ranks}: outputs and LSEs match the fp64 reference (contiguous, zigzag, "
      "masks, causal), bad input refused by every rank")
