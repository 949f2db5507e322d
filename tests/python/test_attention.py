"""attnlab.attention() on NumPy arrays against the NumPy fp64 oracle: every kernel over
the grid of shapes, ranks, causal alignments, masks and grouped-query heads."""
import itertools

import numpy as np
import pytest

import attnlab
from conftest import U, assert_close, error_bound, kernel_names, sdpa_fp64

KERNELS = {k["name"]: k for k in attnlab.kernels()}

# (Nq, Nk, d, dv): single rows, the lab sentence, Nq != Nk both ways, dv != d, tails past
# SIMD widths and block edges.
SHAPES = [(1, 1, 1, 1), (3, 3, 4, 4), (5, 17, 8, 8), (33, 9, 16, 12), (64, 64, 32, 32), (7, 130, 64, 64)]
# Leading dimensions of q and of k/v: [N, d]; [H, N, d]; [B, H, N, d] with GQA (4 query heads on 2 kv heads).
LAYOUTS = {"2d": ((), ()), "3d": ((3,), (3,)), "4d-gqa": ((2, 4), (2, 2))}
CAUSAL = ["none", "top-left", "bottom-right"]
MASKS = [None, "float", "bool"]


def make(rng, lead_q, lead_kv, nq, nk, d, dv):
    q = rng.uniform(-1, 1, lead_q + (nq, d)).astype(np.float32)
    k = rng.uniform(-1, 1, lead_kv + (nk, d)).astype(np.float32)
    v = rng.uniform(-1, 1, lead_kv + (nk, dv)).astype(np.float32)
    return q, k, v


def make_mask(rng, kind, nq, nk):
    if kind is None:
        return None, None
    hidden = rng.random((nq, nk)) < 0.3
    if kind == "bool":
        return ~hidden, np.where(hidden, -np.inf, 0.0)
    m = rng.uniform(-2, 2, (nq, nk)).astype(np.float32)
    m[hidden] = -np.inf
    return m, m


def unsupported(kernel, gqa, causal, mask, lse):
    caps = KERNELS[kernel]
    return (gqa and not caps["gqa"]) or (causal != "none" and not caps["causal"]) or (
        mask is not None and not caps["mask"]) or (lse and not caps["lse"])


@pytest.mark.parametrize("kernel", kernel_names())
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_every_kernel_matches_the_fp64_oracle(rng, kernel, layout, shape):
    lead_q, lead_kv = LAYOUTS[layout]
    q, k, v = make(rng, lead_q, lead_kv, *shape)
    gqa = lead_q != lead_kv
    bound = error_bound(q, k, v)
    for causal, mask_kind in itertools.product(CAUSAL, MASKS):
        mask, additive = make_mask(rng, mask_kind, shape[0], shape[1])
        lse_wanted = KERNELS[kernel]["lse"]
        kwargs = dict(attn_mask=mask, is_causal=causal != "none", kernel=kernel, enable_gqa=gqa,
                      return_lse=lse_wanted)
        if causal != "none":
            kwargs["causal_align"] = causal
        what = f"{kernel} {layout} {shape} causal={causal} mask={mask_kind}"
        if unsupported(kernel, gqa, causal, mask, lse_wanted):
            with pytest.raises(ValueError, match=f"kernel '{kernel}' does not support"):
                attnlab.attention(q, k, v, **kwargs)
            continue
        got = attnlab.attention(q, k, v, **kwargs)
        out, lse = got if lse_wanted else (got, None)
        want, want_lse = sdpa_fp64(q, k, v, additive, causal)
        assert out.dtype == np.float32 and out.shape == q.shape[:-1] + (v.shape[-1],), what
        assert_close(out, want, error_bound(q, k, v, additive) if mask is not None else bound, what)
        if lse is not None:
            assert lse.shape == q.shape[:-1], what
            finite = np.isfinite(want_lse)
            assert np.array_equal(np.isfinite(lse), finite), what  # fully masked rows: -inf
            d = q.shape[-1]
            a = (np.abs(q.astype(np.float64)) @ np.abs(np.swapaxes(
                np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3) if gqa else k, -1, -2))).max(-1) / np.sqrt(d)
            mmax = 0 if mask is None else np.abs(np.where(np.isfinite(additive), additive, 0)).max()
            tol = U * ((d + 2) * a + mmax) + U * np.abs(want_lse) + (shape[1] + 9) * U
            assert_close(np.where(finite, lse, 0), np.where(finite, want_lse, 0), tol, what + " lse")


def test_explicit_scale_is_applied(rng):
    q, k, v = make(rng, (2,), (2,), 6, 9, 8, 8)
    for scale in (0.0, 0.05, 3.0, -1.5):
        want, _ = sdpa_fp64(q, k, v, scale=scale)
        assert_close(attnlab.attention(q, k, v, scale=scale), want, error_bound(q, k, v, scale=scale), f"scale {scale}")


def test_fully_masked_rows_give_zero_and_minus_inf_lse(rng):
    q, k, v = make(rng, (), (), 4, 5, 8, 8)
    mask = np.zeros((4, 5), dtype=bool)
    mask[0] = True  # only row 0 sees keys
    out, lse = attnlab.attention(q, k, v, attn_mask=mask, return_lse=True)
    assert np.all(out[1:] == 0) and np.all(lse[1:] == -np.inf)
    assert np.isfinite(lse[0])


def test_mask_with_leading_ones_and_strided_rows(rng):
    q, k, v = make(rng, (2, 3), (2, 3), 5, 6, 8, 8)
    base = rng.uniform(-1, 1, (5, 12)).astype(np.float32)
    mask = base[:, ::2]  # strided columns: copied; rows 12 floats apart
    want, _ = sdpa_fp64(q, k, v, mask)
    bound = error_bound(q, k, v, mask)
    assert_close(attnlab.attention(q, k, v, attn_mask=mask), want, bound, "strided mask")
    assert_close(attnlab.attention(q, k, v, attn_mask=mask[None, None]), want, bound, "mask [1, 1, Nq, Nk]")
    assert_close(attnlab.attention(q, k, v, attn_mask=base[:, :6]), sdpa_fp64(q, k, v, base[:, :6])[0],
                 error_bound(q, k, v, base[:, :6]), "mask with row stride > Nk")


def test_views_are_read_in_place_and_copied_only_when_needed(rng):
    """Permuted heads, sliced batches, broadcast (stride 0) K/V heads and a strided last
    dimension all give the answer of their contiguous copies."""
    big = rng.uniform(-1, 1, (3, 8, 4, 20)).astype(np.float32)  # [B, N, H, d+]: heads not outermost
    q = big[1:, :, :, :16].transpose(0, 2, 1, 3)  # [2, 4, 8, 16], strides (640, 20, 80, 1)
    k = np.broadcast_to(rng.uniform(-1, 1, (1, 1, 8, 16)).astype(np.float32), (2, 4, 8, 16))  # stride 0
    v = rng.uniform(-1, 1, (2, 4, 8, 32)).astype(np.float32)[..., ::2]  # last stride 2: copied
    assert not q.flags.c_contiguous and k.strides[0] == 0 and v.strides[-1] == 8
    got = attnlab.attention(q, k, v)
    assert np.array_equal(got, attnlab.attention(*(np.ascontiguousarray(x) for x in (q, k, v))))
    assert_close(got, sdpa_fp64(q, k, v)[0], error_bound(q, k, v), "views")


def test_negative_strides_are_copied(rng):
    q, k, v = make(rng, (2,), (2,), 5, 5, 8, 8)
    got = attnlab.attention(q[::-1], k[:, ::-1], v[..., ::-1])
    want = attnlab.attention(*(np.ascontiguousarray(x) for x in (q[::-1], k[:, ::-1], v[..., ::-1])))
    assert np.array_equal(got, want)


def test_out_is_written_in_place(rng):
    q, k, v = make(rng, (2, 3), (2, 3), 6, 7, 8, 12)
    out = np.full((2, 3, 6, 12), np.nan, dtype=np.float32)
    ret = attnlab.attention(q, k, v, out=out)
    assert ret is out
    assert np.array_equal(out, attnlab.attention(q, k, v))
    # A strided view of a larger buffer: only its elements are written.
    buf = np.full((2, 6, 3, 16), 7.0, dtype=np.float32)
    view = buf[:, :, :, 2:14].transpose(0, 2, 1, 3)
    out2, lse = attnlab.attention(q, k, v, out=view, return_lse=True)
    assert out2 is view and np.array_equal(view, out)
    assert np.all(buf[..., :2] == 7.0) and np.all(buf[..., 14:] == 7.0)
    assert lse.shape == (2, 3, 6)


def test_results_do_not_depend_on_threads(rng):
    q, k, v = make(rng, (2, 4), (2, 2), 65, 70, 32, 32)
    for kernel in kernel_names():
        if not KERNELS[kernel]["gqa"]:
            continue
        one = attnlab.attention(q, k, v, kernel=kernel, enable_gqa=True, threads=1)
        for t in (2, 3):
            assert np.array_equal(one, attnlab.attention(q, k, v, kernel=kernel, enable_gqa=True, threads=t)), kernel


@pytest.mark.parametrize("align", ["top-left", "bottom-right"])
def test_causal_offsets_compute_a_chunk_of_the_whole(rng, align):
    """Rows 8..15 against keys 4..19 with their global offsets equal those rows of the whole
    causal call restricted to those keys (the engine's visibility rule with offsets)."""
    q, k, v = make(rng, (2,), (2,), 24, 24, 16, 16)
    qc, kc, vc = q[:, 8:16], k[:, 4:20], v[:, 4:20]
    got = attnlab.attention(qc, kc, vc, is_causal=True, causal_align=align, q_offset=8, kv_offset=4)
    # The chunk's rule: key 4 + j visible to row 8 + i iff 4 + j <= 8 + i (+ Nk - Nq = 8 for bottom-right).
    shift = 8 if align == "bottom-right" else 0
    visible = (4 + np.arange(16))[None, :] <= (8 + np.arange(8))[:, None] + shift
    mask = np.where(visible, 0.0, -np.inf)
    want, _ = sdpa_fp64(qc, kc, vc, mask)
    assert_close(got, want, error_bound(qc, kc, vc), f"offsets {align}")
    with pytest.raises(ValueError, match="q_offset"):
        attnlab.attention(qc, kc, vc, is_causal=True, q_offset=-1)


def misaligned(x):
    """A float32 copy of x whose data starts one byte past a 4-byte boundary."""
    buf = np.zeros(x.nbytes + 4, np.uint8)
    start = 1 if buf.ctypes.data % 4 == 0 else 4 - buf.ctypes.data % 4 + 1
    y = np.frombuffer(buf[start:start + x.nbytes].data, dtype=np.float32).reshape(x.shape)
    y[...] = x
    return y


def test_misaligned_inputs_are_copied_and_a_misaligned_out_refused(rng):
    q, k, v = make(rng, (2,), (2,), 5, 7, 8, 8)
    mq = misaligned(q)
    assert not mq.flags.aligned
    assert np.array_equal(attnlab.attention(mq, misaligned(k), misaligned(v)), attnlab.attention(q, k, v))
    with pytest.raises(ValueError, match="out: the engine writes each row in place"):
        attnlab.attention(q, k, v, out=misaligned(np.zeros((2, 5, 8), np.float32)))
