"""Shared by the attnlab module's tests: the NumPy fp64 oracle and the error bound.

Run by ctest with PYTHONPATH=build/python under /usr/bin/python3 (tests/python/CMakeLists.txt).
"""
import math
import os

import numpy as np
import pytest

import attnlab

U = 2.0**-24  # fp32 unit roundoff


def sdpa_fp64(q, k, v, mask=None, causal="none", scale=None):
    """softmax(q kᵀ · scale + mask) v and the log-sum-exp, in float64, for [..., N, d] arrays
    (k and v may have fewer heads than q: grouped-query attention, head h reads h // group).
    A row that sees no key gives output 0 and lse -inf (the engine's contract)."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    if q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        group = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    nq, nk, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else float(np.float32(scale))
    s = np.float64(np.float32(scale)) * (q @ np.swapaxes(k, -1, -2))
    if mask is not None:
        s = s + np.asarray(mask, dtype=np.float64).reshape(nq, nk)
    if causal != "none":
        offset = 0 if causal == "top-left" else nk - nq
        visible = np.arange(nk)[None, :] <= np.arange(nq)[:, None] + offset
        s = np.where(visible, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    m_safe = np.where(np.isfinite(m), m, 0.0)
    p = np.exp(s - m_safe)
    l = p.sum(axis=-1, keepdims=True)
    empty = l == 0
    out = (p / np.where(empty, 1.0, l)) @ v
    lse = np.where(empty, -np.inf, m_safe + np.log(np.where(empty, 1.0, l)))[..., 0]
    return out, lse


def error_bound(q, k, v, mask=None, scale=None):
    """Per-row bound on |out - oracle| for a float32 kernel, as derived in tests/testkit.cpp:
    δ_i = u((d + 2) A_i + max_j |mask_ij|) with A_i = |scale| max_j Σ_t |q_it k_jt|, and
    |o_it - ô_it| <= max|V| (2 δ_i + (2 Nk + 16) u), plus u·max|V| because the oracle here is
    float64 (testkit's is rounded to float32). Returned with shape [..., Nq, 1]."""
    q, k, v = (np.abs(np.asarray(x, dtype=np.float64)) for x in (q, k, v))
    if q.ndim >= 3 and k.shape[-3] != q.shape[-3]:
        group = q.shape[-3] // k.shape[-3]
        k, v = np.repeat(k, group, axis=-3), np.repeat(v, group, axis=-3)
    nk, d = k.shape[-2], q.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else abs(scale)
    a = scale * (q @ np.swapaxes(k, -1, -2)).max(axis=-1, keepdims=True)
    mmax = 0.0
    if mask is not None:
        mk = np.asarray(mask, dtype=np.float64)
        mmax = np.abs(np.where(np.isfinite(mk), mk, 0)).max()
    delta = U * ((d + 2) * a + mmax)
    vmax = v.max(axis=(-2, -1), keepdims=True)
    return vmax * (2 * delta + (2 * nk + 17) * U)


def assert_close(got, want, bound, what=""):
    got = np.asarray(got, dtype=np.float64)
    err = np.abs(got - want)
    ok = (err <= bound) | (np.isnan(got) & np.isnan(want)) | (got == want)
    if not ok.all():
        i = np.unravel_index(np.argmax(np.where(ok, 0, err - bound)), err.shape)
        pytest.fail(f"{what}: {int((~ok).sum())} elements over the bound; at {i}: got {got[i]}, "
                    f"oracle {want[i]}, |diff| {err[i]:.3g} > bound {np.broadcast_to(bound, err.shape)[i]:.3g}")


@pytest.fixture
def rng():
    return np.random.default_rng(20261130)


def kernel_names():
    return [k["name"] for k in attnlab.kernels()]


def attnlab_exe():
    """The CLI of the same build: $ATTNLAB_EXE (ctest sets it), else beside build/python."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(attnlab.__file__))))
    return os.environ.get("ATTNLAB_EXE") or os.path.join(build, "tools", "attnlab", "attnlab")
