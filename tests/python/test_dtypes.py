"""float16 and bfloat16 through attnlab.attention(): NumPy float16 arrays and torch float16 /
bfloat16 tensors in and out, each argument in its own dtype, the output in q's (NumPy has no
bfloat16: a bfloat16 q that is not a torch tensor gives float32). Every result is checked
against the float64 oracle on the same 16-bit values: the engine computes in fp32, so the
error is the fp32 bound (conftest.error_bound) plus O's rounding, half an ulp of its dtype."""
import numpy as np
import pytest

import attnlab
from conftest import assert_close, error_bound, sdpa_fp64

HALF_ULP = {np.float32: 0.0, np.float16: 2.0**-11, "bfloat16": 2.0**-8}
SMALLEST = {np.float32: 0.0, np.float16: 2.0**-25, "bfloat16": 2.0**-134}  # half the least subnormal


def bound_in(dtype, q, k, v, want, mask=None):
    """|o - oracle| for O rounded to `dtype`: the fp32 bound b, then at most half an ulp of
    |o32| <= |oracle| + b (relative 2^-11 for float16, 2^-8 for bfloat16)."""
    b = error_bound(q, k, v, mask)
    return b + HALF_ULP[dtype] * (np.abs(want) + b) + SMALLEST[dtype]


def inputs(rng, shape_q, shape_kv, dtype=np.float16):
    q = rng.uniform(-1, 1, shape_q).astype(dtype)
    k = rng.uniform(-1, 1, shape_kv).astype(dtype)
    v = rng.uniform(-1, 1, shape_kv).astype(dtype)
    return q, k, v


@pytest.mark.parametrize("kernel", ["auto", "reference", "blas", "fused", "textbook"])
@pytest.mark.parametrize("shape", [((5, 8), (7, 8)), ((2, 3, 33, 16), (2, 3, 17, 16))], ids=["2d", "4d"])
def test_numpy_float16_in_float16_out(rng, kernel, shape):
    q, k, v = inputs(rng, *shape)
    out = attnlab.attention(q, k, v, kernel=kernel)
    assert out.dtype == np.float16 and out.shape == q.shape[:-1] + (v.shape[-1],)
    want, _ = sdpa_fp64(q, k, v)
    assert_close(out, want, bound_in(np.float16, q, k, v, want), f"{kernel} float16")


def test_each_argument_keeps_its_dtype_and_out_follows_q(rng):
    q, k, v = inputs(rng, (3, 9, 16), (3, 12, 16))
    q32 = q.astype(np.float32)
    out = attnlab.attention(q32, k, v)  # an f16 K/V cache with an fp32 query: nothing is rounded
    assert out.dtype == np.float32
    want, lse_want = sdpa_fp64(q32, k, v)
    assert_close(out, want, error_bound(q32, k, v), "q float32, k and v float16")
    # out= of any engine dtype is written in place, rounded to it; the LSE stays float32.
    o16 = np.full(q.shape, np.nan, np.float16)
    res, lse = attnlab.attention(q32, k, v, out=o16, return_lse=True)
    assert res is o16 and lse.dtype == np.float32
    assert_close(o16, want, bound_in(np.float16, q32, k, v, want), "out= float16")
    assert_close(lse, lse_want, 1e-5 * (1 + np.abs(lse_want)), "lse")


def test_float16_mask_and_strided_float16(rng):
    q, k, v = inputs(rng, (4, 6, 8), (4, 10, 8))
    mask = rng.uniform(-2, 2, (6, 10)).astype(np.float16)
    mask[:, 3] = -np.inf
    out = attnlab.attention(q, k, v, attn_mask=mask)
    want, _ = sdpa_fp64(q, k, v, mask)
    assert_close(out, want, bound_in(np.float16, q, k, v, want, mask), "float16 mask")
    # A layout the engine cannot read in place (last-dimension stride 2) is copied, in float16.
    wide = np.repeat(q, 2, axis=-1)
    strided = wide[..., ::2]
    assert strided.strides[-1] == 4 and strided.dtype == np.float16
    np.testing.assert_array_equal(attnlab.attention(strided, k, v, attn_mask=mask), out)


torch_cases = [("float16", np.float16), ("bfloat16", "bfloat16")]


@pytest.mark.parametrize("name,half", torch_cases, ids=[c[0] for c in torch_cases])
def test_torch_16_bit_tensors_in_and_out(rng, name, half):
    torch = pytest.importorskip("torch")
    dtype = getattr(torch, name)
    q, k, v = (torch.from_numpy(x).to(dtype) for x in inputs(rng, (2, 4, 11, 16), (2, 2, 11, 16), np.float32))
    out = attnlab.attention(q, k, v, enable_gqa=True, is_causal=True)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == q.shape
    qf, kf, vf = (x.float().numpy() for x in (q, k, v))  # the same 16-bit values, exactly
    want, _ = sdpa_fp64(qf, kf, vf, causal="top-left")
    assert_close(out.float().numpy(), want, bound_in(half, qf, kf, vf, want), f"torch {name}")
    # Transposed heads (not contiguous in the last dimension) are copied, same answer.
    qt = q.transpose(-1, -2).contiguous().transpose(-1, -2)
    assert qt.stride()[-1] != 1
    again = attnlab.attention(qt, k, v, enable_gqa=True, is_causal=True)
    assert again.dtype == dtype and torch.equal(again, out)
    # out= in bfloat16/float16 is written in place.
    o = torch.empty_like(out)
    assert attnlab.attention(q, k, v, enable_gqa=True, is_causal=True, out=o) is o and torch.equal(o, out)


def test_torch_bfloat16_query_with_float32_keys(rng):
    torch = pytest.importorskip("torch")
    q, k, v = (torch.from_numpy(x) for x in inputs(rng, (6, 8), (9, 8), np.float32))
    out = attnlab.attention(q.bfloat16(), k, v)
    assert out.dtype == torch.bfloat16
    qf = q.bfloat16().float().numpy()
    want, _ = sdpa_fp64(qf, k.numpy(), v.numpy())
    assert_close(out.float().numpy(), want, bound_in("bfloat16", qf, k.numpy(), v.numpy(), want), "bf16 q")


def test_compare_per_dtype():
    rows = attnlab.compare("lab-3", kernels=["blas", "fused"], dtypes=["f16", "bf16"], reps=1)
    assert [(r["kernel"], r["dtype"]) for r in rows] == [("blas", "f16"), ("fused", "f16"), ("blas", "bf16"),
                                                         ("fused", "bf16")]
    for r in rows:  # O in the dtype: its rounding, half an ulp of max |O|, plus fp32 arithmetic
        assert r["max_rel_error"] <= {"f16": 2.0**-11, "bf16": 2.0**-8}[r["dtype"]] + 1e-5, r
        assert r["error_vs_blas"] <= 2, r
    with pytest.raises(ValueError, match="--dtypes: unknown dtype 'f64'"):
        attnlab.compare("lab-3", dtypes="f64")
