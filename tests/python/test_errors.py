"""Every bad argument raises the right Python exception with a message naming it, and the
interpreter carries on (a good call after each one still works)."""
import numpy as np
import pytest
import torch

import attnlab

f32 = np.float32
Q = np.ones((2, 4, 5, 8), f32)
KV = np.ones((2, 4, 6, 8), f32)


def good_call_still_works():
    out = attnlab.attention(Q, KV, KV)
    assert out.shape == (2, 4, 5, 8) and np.allclose(out, 1)


def raises(exc, match, *args, **kwargs):
    with pytest.raises(exc, match=match):
        attnlab.attention(*args, **kwargs)
    good_call_still_works()


@pytest.mark.parametrize("dtype", [np.float64, np.int32, np.complex64, ">f4", ">f2"])
def test_wrong_dtype_is_a_type_error_naming_what_is_accepted(dtype):
    raises(TypeError, r"q: dtype .* is not supported; expected float32, float16 or bfloat16", Q.astype(dtype), KV, KV)
    raises(TypeError, r"v: dtype .* is not supported", Q, KV, KV.astype(dtype))


@pytest.mark.parametrize("dtype", [torch.float64, torch.int64, torch.int16])
def test_wrong_torch_dtype_is_a_type_error(dtype):
    t = torch.ones(5, 8, dtype=dtype)
    raises(TypeError, r"k: dtype (float64|int64|int16) is not supported; expected float32, float16 or bfloat16",
           torch.ones(5, 8), t, torch.ones(5, 8))


def test_not_an_array_is_a_type_error():
    raises(TypeError, r"q: expected a NumPy array or a tensor with __dlpack__ \(PyTorch\), got list",
           [[1.0] * 8] * 5, KV, KV)
    raises(TypeError, "attn_mask: expected a NumPy array", Q, KV, KV, attn_mask="causal")


def test_torch_tensor_that_requires_grad_is_a_type_error_with_torchs_reason():
    q = torch.ones(5, 8, requires_grad=True)
    raises(TypeError, r"q: its __dlpack__\(\) failed: .*detach", q, q.detach(), q.detach())


@pytest.mark.parametrize("shape,match", [((8,), "q: has 1 dimensions, expected 2 to 4"),
                                         ((1, 1, 1, 5, 8), "q: has 5 dimensions, expected 2 to 4"),
                                         ((4, 5, 8), "k: has 4 dimensions but q has 3")])
def test_wrong_rank_is_a_value_error(shape, match):
    raises(ValueError, match, np.ones(shape, f32), KV, KV)


def test_mismatched_shapes_are_value_errors_with_the_engines_message():
    raises(ValueError, "k: head dim 7 != q head dim 8", Q, np.ones((2, 4, 6, 7), f32), KV)
    raises(ValueError, "v: rows 3 != k rows 6", Q, KV, np.ones((2, 4, 3, 8), f32))
    raises(ValueError, "k: batch 3 != q batch 2", Q, np.ones((3, 4, 6, 8), f32), np.ones((3, 4, 6, 8), f32))
    raises(ValueError, r"k: 2 heads \(dimension -3\) but q has 4; pass enable_gqa=True", Q,
           np.ones((2, 2, 6, 8), f32), np.ones((2, 2, 6, 8), f32))
    raises(ValueError, "k: heads 3 must divide q heads 4", Q, np.ones((2, 3, 6, 8), f32),
           np.ones((2, 3, 6, 8), f32), enable_gqa=True)


def test_bad_masks():
    raises(ValueError, r"attn_mask: shape \[5, 5\], expected \[Nq, Nk\] = \[5, 6\]", Q, KV, KV,
           attn_mask=np.zeros((5, 5), f32))
    raises(ValueError, r"attn_mask: shape \(4, 5, 6\); attnlab applies one \[Nq, Nk\] mask", Q, KV, KV,
           attn_mask=np.zeros((4, 5, 6), f32))
    raises(TypeError, "attn_mask: dtype float64 is not supported; expected float32, float16 or bfloat16 .* or bool", Q, KV, KV,
           attn_mask=np.zeros((5, 6)))
    raises(TypeError, "attn_mask: dtype int64 is not supported", Q, KV, KV, attn_mask=np.zeros((5, 6), np.int64))
    raises(ValueError, r"attn_mask: has 1 dimensions, expected 2 to 4", Q, KV, KV, attn_mask=np.zeros(6, f32))


def test_bad_out():
    raises(ValueError, r"out: shape \(2, 4, 5, 7\), expected \(2, 4, 5, 8\)", Q, KV, KV,
           out=np.empty((2, 4, 5, 7), f32))
    raises(TypeError, "out: dtype float64 is not supported; expected float32", Q, KV, KV,
           out=np.empty((2, 4, 5, 8)))
    ro = np.empty((2, 4, 5, 8), f32)
    ro.flags.writeable = False
    raises(ValueError, "out: the array is read-only", Q, KV, KV, out=ro)
    raises(ValueError, "out: the engine writes each row in place, so out needs stride 1 in its last dimension", Q,
           KV, KV, out=np.empty((2, 4, 5, 16), f32)[..., ::2])
    raises(ValueError, "out: the engine writes each row in place", Q, KV, KV,
           out=torch.empty(2, 4, 8, 5).transpose(2, 3))
    q = np.ones((2, 4, 5, 8), f32)
    raises(ValueError, "out: overlaps input q", q, KV, KV, out=q)


def test_bad_options():
    raises(ValueError, r"threads: must be in \[0, 1024\] \(0 = OpenMP default\), got -1", Q, KV, KV, threads=-1)
    raises(TypeError, "incompatible function arguments", Q, KV, KV, threads=2**40)
    raises(TypeError, "incompatible function arguments", Q, KV, KV, threads="2")
    raises(ValueError, r"kernel: unknown kernel 'nope' \(registered: auto, reference", Q, KV, KV, kernel="nope")
    raises(ValueError, "causal_align: expected 'top-left' or 'bottom-right', got 'middle'", Q, KV, KV,
           is_causal=True, causal_align="middle")
    raises(TypeError, "scale: expected a float or None, got str", Q, KV, KV, scale="0.5")
    raises(ValueError, "scale: must be finite", Q, KV, KV, scale=float("inf"))
    raises(ValueError, "memory_budget: must be >= 0 bytes", Q, KV, KV, memory_budget=-1)
    raises(TypeError, "incompatible function arguments", Q, KV, KV, 0.5)  # scale is keyword-only, as in torch


def test_over_the_memory_budget_is_a_memory_error():
    raises(MemoryError, r"kernel 'blas' needs \d+ bytes of workspace .* over the memory budget of 64 bytes", Q, KV,
           KV, kernel="blas", memory_budget=64)
    q = np.ones((1, 1, 512, 64), f32)
    with pytest.raises(MemoryError, match="no kernel supports this call"):
        attnlab.attention(q, q, q, memory_budget=1)
    good_call_still_works()


def test_capability_refusal_is_a_value_error_not_a_memory_error():
    kernels = {k["name"]: k for k in attnlab.kernels()}
    lacking = [n for n, k in kernels.items() if not k["mask"]]
    for name in lacking:
        raises(ValueError, f"kernel '{name}' does not support an additive mask", Q, KV, KV, kernel=name,
               attn_mask=np.zeros((5, 6), f32))


def test_softmax_errors():
    x = np.zeros((2, 3), f32)
    with pytest.raises(ValueError, match="variant: unknown softmax variant 'fast' .one of naive, safe"):
        attnlab.softmax(x, "fast")
    with pytest.raises(TypeError, match="x: dtype int64 is not supported; expected float32 or float64"):
        attnlab.softmax(np.zeros(3, np.int64))
    with pytest.raises(TypeError, match="'simd' is float32 only"):
        attnlab.softmax(np.zeros(3), "simd")
    with pytest.raises(ValueError, match="x: a 0-d array has no row"):
        attnlab.softmax(np.array(1.0, f32))
    with pytest.raises(TypeError, match="x: expected a NumPy array, got list"):
        attnlab.softmax([1.0, 2.0])


def test_compare_errors():
    with pytest.raises(ValueError, match="shape 'lab-5' is not known"):
        attnlab.compare(shapes="lab-5")
    with pytest.raises(ValueError, match="--kernels: unknown kernel 'nope'"):
        attnlab.compare(shapes="lab-3", kernels=["nope"])
    with pytest.raises(ValueError, match="--threads: .*got -1"):
        attnlab.compare(shapes="lab-3", threads=-1)
