# Type hints for attnlab._core, the compiled module (python/src/module.cpp).
from typing import Any, Dict, List, Literal, Optional, Tuple, Union, overload

import numpy as np
import numpy.typing as npt

# A NumPy array or any object with __dlpack__ (a torch.Tensor).
ArrayLike = Any
Array = Any  # numpy.ndarray, or torch.Tensor when q is one

__version__: str
softmax_variants: Tuple[str, ...]

@overload
def attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    attn_mask: Optional[ArrayLike] = None,
    is_causal: bool = False,
    causal_align: Literal["top-left", "bottom-right"] = "top-left",
    scale: Optional[float] = None,
    enable_gqa: bool = False,
    kernel: str = "auto",
    threads: int = 0,
    return_lse: Literal[False] = False,
    out: Optional[ArrayLike] = None,
    memory_budget: int = 0,
    q_offset: int = 0,
    kv_offset: int = 0,
) -> Array: ...
@overload
def attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    attn_mask: Optional[ArrayLike] = None,
    is_causal: bool = False,
    causal_align: Literal["top-left", "bottom-right"] = "top-left",
    scale: Optional[float] = None,
    enable_gqa: bool = False,
    kernel: str = "auto",
    threads: int = 0,
    return_lse: Literal[True],
    out: Optional[ArrayLike] = None,
    memory_budget: int = 0,
    q_offset: int = 0,
    kv_offset: int = 0,
) -> Tuple[Array, Array]: ...
def kernels() -> List[Dict[str, Union[str, bool, int]]]: ...
def softmax(
    x: npt.NDArray[Union[np.float32, np.float64]],
    variant: Literal["naive", "safe", "online", "simd", "log_softmax", "log_softmax_basic"] = "safe",
) -> npt.NDArray[Union[np.float32, np.float64]]: ...
def _compare_json(
    shapes: str,
    kernels: str,
    threads: int,
    seed: int,
    reps: int,
    max_seconds: float,
    reference_limit: float,
    memory_budget: int,
    progress: bool,
    dtypes: str = "f32",
) -> str: ...
