"""attnlab.attention() on PyTorch tensors (Debian's torch 1.13): the same answers as torch's
own attention in float64 on the same tensors, torch tensors back, zero-copy in and out."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import attnlab
from conftest import assert_close, error_bound, kernel_names

KERNELS = {k["name"]: k for k in attnlab.kernels()}


def math_path_fp64(q, k, v, mask=None, causal=False, scale=None):
    """softmax(q kᵀ · scale + mask) v written in torch, in float64 (torch's math path)."""
    q, k, v = q.double(), k.double(), v.double()
    if k.shape[-3:-2] != q.shape[-3:-2] and q.dim() >= 3:
        g = q.shape[-3] // k.shape[-3]
        k, v = k.repeat_interleave(g, dim=-3), v.repeat_interleave(g, dim=-3)
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = (q @ k.transpose(-2, -1)) * scale
    if mask is not None:
        s = s.masked_fill(~mask, -math.inf) if mask.dtype == torch.bool else s + mask.double()
    if causal:
        s = s.masked_fill(~torch.ones(s.shape[-2:], dtype=torch.bool).tril(), -math.inf)
    return torch.softmax(s, dim=-1) @ v


def tensors(shape_q, shape_kv, dv=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    q = torch.rand(shape_q, generator=g) * 2 - 1
    k = torch.rand(shape_kv, generator=g) * 2 - 1
    v = torch.rand(shape_kv[:-1] + (dv or shape_kv[-1],), generator=g) * 2 - 1
    return q, k, v


def bound(q, k, v, mask=None):
    m = None if mask is None else (torch.where(mask, 0.0, -math.inf) if mask.dtype == torch.bool else mask).numpy()
    return error_bound(q.numpy(), k.numpy(), v.numpy(), m)


SHAPES = [((5, 8), (5, 8)), ((3, 7, 16), (3, 11, 16)), ((2, 4, 33, 64), (2, 4, 33, 64)), ((1, 2, 1, 32), (1, 2, 40, 32))]


@pytest.mark.parametrize("kernel", kernel_names())
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: "x".join(map(str, s[0])))
@pytest.mark.parametrize("variant", ["plain", "causal", "float-mask", "bool-mask"])
def test_same_as_torch_in_float64(kernel, shapes, variant):
    q, k, v = tensors(*shapes)
    nq, nk = q.shape[-2], k.shape[-2]
    mask = None
    if variant == "float-mask":
        mask = torch.rand(nq, nk, generator=torch.Generator().manual_seed(1)) * 4 - 2
        mask[:, 0] = -math.inf
    elif variant == "bool-mask":
        mask = torch.rand(nq, nk, generator=torch.Generator().manual_seed(2)) < 0.7
        mask[:, 0] = True  # every row sees a key: torch gives NaN for a row that sees none
    causal = variant == "causal"
    caps = KERNELS[kernel]
    if (causal and not caps["causal"]) or (mask is not None and not caps["mask"]):
        with pytest.raises(ValueError, match="does not support"):
            attnlab.attention(q, k, v, attn_mask=mask, is_causal=causal, kernel=kernel)
        return
    got = attnlab.attention(q, k, v, attn_mask=mask, is_causal=causal, kernel=kernel)
    assert isinstance(got, torch.Tensor) and got.dtype == torch.float32 and got.shape == q.shape
    want = math_path_fp64(q, k, v, mask, causal)
    b = bound(q, k, v, mask)
    assert_close(got.numpy(), want.numpy(), b, f"{kernel} {variant} vs math path")
    # 1.13's own function, on the float64 copies of the same tensors (it takes 3-D and 4-D).
    if q.dim() >= 3:
        t_mask = None if mask is None else mask.double() if mask.dtype != torch.bool else mask
        ref, _ = F._scaled_dot_product_attention(q.double(), k.double(), v.double(), attn_mask=t_mask,
                                                 is_causal=causal)
        assert_close(got.numpy(), ref.numpy(), b, f"{kernel} {variant} vs F._scaled_dot_product_attention")


def test_grouped_query_heads_match_repeated_heads():
    q, k, v = tensors((2, 8, 9, 16), (2, 2, 13, 16), dv=24)
    got = attnlab.attention(q, k, v, enable_gqa=True)
    want = math_path_fp64(q, k, v)
    assert_close(got.numpy(), want.numpy(), error_bound(q.numpy(), k.numpy(), v.numpy()), "gqa")


def test_out_tensor_is_written_in_place():
    q, k, v = tensors((2, 3, 6, 8), (2, 3, 6, 8))
    out = torch.full((2, 3, 6, 8), math.nan)
    ptr = out.data_ptr()
    ret = attnlab.attention(q, k, v, out=out)
    assert ret is out and out.data_ptr() == ptr
    assert torch.equal(out, attnlab.attention(q, k, v))
    # A transposed view of a larger tensor: written through its strides, nothing else touched.
    buf = torch.full((2, 6, 3, 10), 5.0)
    view = buf[..., 1:9].transpose(1, 2)
    attnlab.attention(q, k, v, out=view)
    assert torch.equal(view, out) and torch.all(buf[..., 0] == 5) and torch.all(buf[..., 9] == 5)


def test_strided_view_gives_the_answer_of_its_contiguous_copy():
    g = torch.Generator().manual_seed(3)
    x = torch.rand(2, 40, 3, 3, 16, generator=g)  # [B, N, (q,k,v), H, d], as a fused QKV projection
    q, k, v = (x[:, :, i].transpose(1, 2) for i in range(3))  # [B, H, N, d] views, none contiguous
    assert not q.is_contiguous()
    got = attnlab.attention(q, k, v, is_causal=True)
    assert torch.equal(got, attnlab.attention(q.contiguous(), k.contiguous(), v.contiguous(), is_causal=True))
    # A non-contiguous last dimension is copied, with the same answer.
    v2 = torch.rand(2, 3, 40, 32, generator=g)[..., ::2]
    assert torch.equal(attnlab.attention(q, k, v2), attnlab.attention(q, k, v2.contiguous()))


def test_returned_tensors_share_memory_with_the_output_and_lse():
    q, k, v = tensors((4, 8), (6, 8))
    out, lse = attnlab.attention(q, k, v, return_lse=True)
    assert isinstance(out, torch.Tensor) and isinstance(lse, torch.Tensor) and lse.shape == (4,)
    want = torch.logsumexp((q.double() @ k.double().T) / math.sqrt(8), dim=-1)
    assert torch.allclose(lse.double(), want, rtol=0, atol=1e-5)


def test_numpy_and_torch_inputs_give_identical_bits():
    q, k, v = tensors((2, 3, 17, 32), (2, 3, 19, 32))
    assert np.array_equal(attnlab.attention(q, k, v).numpy(), attnlab.attention(q.numpy(), k.numpy(), v.numpy()))
