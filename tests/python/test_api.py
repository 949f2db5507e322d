"""The rest of the module: __version__, kernels(), softmax() against a float64 oracle,
compare() against the CLI's `compare --json`, and the package as installed."""
import json
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import attnlab
from conftest import attnlab_exe


def test_version_is_the_engines():
    r = subprocess.run([attnlab_exe(), "--version"], capture_output=True, text=True, check=True)
    assert r.stdout.strip() == f"attnlab {attnlab.__version__}"


def test_kernels_lists_the_registry():
    ks = attnlab.kernels()
    names = [k["name"] for k in ks]
    assert {"reference", "textbook", "blas", "fused"} <= set(names) and len(set(names)) == len(names)
    for k in ks:
        assert set(k) == {"name", "summary", "causal", "mask", "gqa", "lse", "threads", "auto_priority", "dtypes"}
        assert "f32" in k["dtypes"].split(", ")
        assert k["summary"] and isinstance(k["auto_priority"], int)
    # Every listed kernel runs by name.
    x = np.ones((2, 3), np.float32)
    for n in names:
        assert np.allclose(attnlab.attention(x, x, x, kernel=n), 1)


def softmax_fp64(x):
    x = x.astype(np.float64)
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("variant", attnlab.softmax_variants)
def test_softmax_variants_against_float64(dtype, variant):
    if variant == "simd" and dtype == np.float64:
        return  # float32 only: test_errors checks the TypeError
    rng = np.random.default_rng(5)
    x = rng.uniform(-20, 20, (3, 4, 37)).astype(dtype)  # tails past every SIMD width
    y = attnlab.softmax(x, variant)
    assert y.dtype == dtype and y.shape == x.shape
    u = np.finfo(dtype).eps / 2
    n = x.shape[-1]
    want = softmax_fp64(x)
    if variant == "log_softmax":
        # |ŷ - y| <= u(|y| + |x - a| + 2c) + 2(n + 1)u (softmax.hpp; c = log1p(s') <= log n).
        lw = np.log(want)
        bound = u * (np.abs(lw) + np.abs(x - x.max(-1, keepdims=True)) + 2 * math.log(n)) + 2 * (n + 1) * u
        assert np.all(np.abs(y - lw) <= bound)
    elif variant == "log_softmax_basic":
        # |ŷ - y| <= u|y| + 3u|f| + (n + 1)u, f the log-sum-exp (softmax.hpp).
        lw = np.log(want)
        f = np.log(np.exp(x.astype(np.float64)).sum(-1, keepdims=True))
        assert np.all(np.abs(y - lw) <= u * np.abs(lw) + 3 * u * np.abs(f) + (n + 1) * u)
    else:
        # Weights within (|x_i - a| + 6n + 12)·u relative: the loosest of softmax.hpp's bounds (online).
        bound = (np.abs(x - x.max(-1, keepdims=True)) + 6 * n + 12) * u * want
        assert np.all(np.abs(y - want) <= bound), variant


def test_softmax_naive_overflows_where_theory_says_and_safe_does_not():
    x = np.array([88.0, 88.72283], np.float32)  # exp(88.7228317) is the largest finite float
    assert np.all(np.isfinite(attnlab.softmax(x, "naive")))
    x = np.array([1000.0, 1001.0, 1002.0], np.float32)
    assert np.all(np.isnan(attnlab.softmax(x, "naive")))
    assert np.allclose(attnlab.softmax(x, "safe"), softmax_fp64(x), rtol=1e-6)


def test_softmax_reads_non_contiguous_input():
    x = np.random.default_rng(2).standard_normal((6, 10)).astype(np.float32)
    assert np.array_equal(attnlab.softmax(x.T), attnlab.softmax(np.ascontiguousarray(x.T)))


def test_compare_returns_the_clis_json_rows():
    """Same seed and threads: the same rows, keys and errors as `attnlab compare --json`
    (the times are measured again, so only their presence is compared)."""
    shapes = "lab-3,9x17x5x2-causal"
    rows = attnlab.compare(shapes=shapes.split(","), kernels=None, threads=2, reps=2)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "c.json")
        r = subprocess.run([attnlab_exe(), "compare", "--shapes", shapes, "--threads", "2", "--reps", "2", "--json",
                            path], capture_output=True, text=True)
        # Exit status 2 when a kernel refuses a shape (textbook: causal); the JSON is written first.
        assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
        cli = json.load(open(path))["rows"]
    assert len(rows) == len(cli) and len(rows) == 2 * len(attnlab.kernels())
    for py_row, cli_row in zip(rows, cli):
        assert set(py_row) == set(cli_row), py_row
        for key in py_row:
            if key not in ("median_seconds", "gflops"):
                assert py_row[key] == cli_row[key], (key, py_row, cli_row)
        if "median_seconds" in py_row:
            assert py_row["median_seconds"] > 0 and py_row["gflops"] > 0


def test_compare_with_a_kernel_list_and_a_refusal():
    rows = attnlab.compare("lab-4", kernels="fused,reference", reference_limit=1, reps=1)
    assert [r["kernel"] for r in rows] == ["fused", "reference"]
    assert rows[0]["error_note"] == "no reference (too slow)" and "over --reference-limit" in rows[1]["skipped"]


def test_cmake_install_puts_an_importable_package_in_site_packages():
    """`cmake --install` into a prefix lays out <prefix>/lib/python3.X/{dist,site}-packages/attnlab;
    a fresh interpreter imports it from there and computes."""
    build = os.path.dirname(os.path.dirname(os.path.dirname(attnlab.__file__)))
    with tempfile.TemporaryDirectory() as prefix:
        subprocess.run(["cmake", "--install", build, "--prefix", prefix], capture_output=True, check=True)
        sites = [os.path.join(root) for root, dirs, _ in os.walk(prefix) if "attnlab" in dirs and "packages" in root]
        assert len(sites) == 1, sites
        rel = os.path.relpath(sites[0], prefix)
        ver = "%d.%d" % sys.version_info[:2]
        assert rel in (f"lib/python{ver}/dist-packages", f"lib/python{ver}/site-packages"), rel
        code = "import attnlab, numpy as np; x = np.ones((2, 3), np.float32); print(attnlab.__file__, attnlab.attention(x, x, x).sum())"
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env["PYTHONPATH"] = sites[0]
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
        assert r.stdout.startswith(sites[0]) and r.stdout.split()[-1] == "6.0"


def test_a_blas_call_leaves_the_host_programs_openblas_threads_as_they_were():
    """NumPy loads the pthreads OpenBLAS, which the blas kernel then shares: it pins it to one
    thread during a call (its own OpenMP loop owns the cores) and must restore it after."""
    import ctypes

    with open("/proc/self/maps", encoding="utf-8") as maps:
        libs = sorted({line.split()[-1] for line in maps if "libopenblas" in line})
    if not libs:
        pytest.skip("no OpenBLAS loaded in this process")
    openblas = ctypes.CDLL(libs[0])
    openblas.openblas_set_num_threads(2)
    before = openblas.openblas_get_num_threads()
    x = np.ones((64, 8), np.float32)
    attnlab.attention(x, x, x, kernel="blas", threads=2)
    assert openblas.openblas_get_num_threads() == before
