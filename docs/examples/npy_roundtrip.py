#!/usr/bin/env python3
"""Saves q/k/v for `attnlab run`, or compares its output with NumPy (docs/guide.md).

  npy_roundtrip.py save DIR [--heads 8 --n 512 --d 64 --seed 0 --dtype float32|float16]
  npy_roundtrip.py compare DIR [--causal none|top-left|bottom-right]

`compare` recomputes softmax(q kᵀ / sqrt(d)) v in float64 with NumPy (on the values the
files hold, float16 ones too) and prints the largest absolute difference from DIR/o.npy.
"""
import argparse
import os

import numpy as np


def save(a):
    rng = np.random.default_rng(a.seed)
    os.makedirs(a.dir, exist_ok=True)
    for name in ("q", "k", "v"):
        x = rng.standard_normal((a.heads, a.n, a.d)).astype(a.dtype)  # [H, N, d], C order
        np.save(os.path.join(a.dir, name + ".npy"), x)
    print("saved q, k, v of shape", (a.heads, a.n, a.d), a.dtype, "in", a.dir)


def reference(q, k, v, causal):
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    nq, nk = s.shape[-2], s.shape[-1]
    if causal != "none":
        offset = 0 if causal == "top-left" else nk - nq  # bottom-right: the last query sees every key
        visible = np.arange(nk)[None, :] <= np.arange(nq)[:, None] + offset
        s = np.where(visible, s, -np.inf)
    s = s - s.max(axis=-1, keepdims=True)
    p = np.exp(s)
    return (p / p.sum(axis=-1, keepdims=True)) @ v


def compare(a):
    q, k, v, o = (np.load(os.path.join(a.dir, n + ".npy")) for n in ("q", "k", "v", "o"))
    ref = reference(q, k, v, a.causal)
    print("max abs difference from NumPy float64: %.2e (max |out| %.2f)" % (np.abs(o - ref).max(), np.abs(ref).max()))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=["save", "compare"])
    p.add_argument("dir")
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--n", type=int, default=512)
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--causal", default="none", choices=["none", "top-left", "bottom-right"])
    a = p.parse_args()
    (save if a.mode == "save" else compare)(a)
