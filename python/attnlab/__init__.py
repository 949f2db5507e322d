"""attnlab: scaled dot-product attention on CPUs, several ways side by side.

The engine of the attnlab command line in your own process, on NumPy arrays and
PyTorch tensors:

    >>> import numpy as np, attnlab
    >>> q = k = v = np.random.default_rng(0).standard_normal((3, 4), dtype=np.float32)
    >>> attnlab.attention(q, k, v).shape
    (3, 4)

attention() takes the arguments of torch.nn.functional.scaled_dot_product_attention;
kernels() lists the implementations, softmax() the lesson's softmax variants and
compare() runs `attnlab compare`. Guide: docs/python.md.
"""

import json as _json
from typing import Any, Dict, Iterable, List, Optional, Union

from ._core import __version__, attention, kernels, softmax, softmax_variants
from ._core import _compare_json

__all__ = ["__version__", "attention", "compare", "kernels", "softmax", "softmax_variants"]


def _names(x: Union[str, Iterable[str]]) -> str:
    """A comma-separated list from a string or an iterable of strings."""
    return x if isinstance(x, str) else ",".join(x)


def compare(shapes: Union[str, Iterable[str]] = "lab-3,lab-4,bert-128,llm-1024,llm-4096",
            kernels: Optional[Union[str, Iterable[str]]] = None, threads: int = 0, *, seed: int = 1, reps: int = 5,
            max_seconds: float = 2.0, reference_limit: float = 2e10, memory_budget: int = 0,
            progress: bool = False, dtypes: Union[str, Iterable[str]] = "f32") -> List[Dict[str, Any]]:
    """Every chosen kernel on the same seeded inputs, as `attnlab compare --json` runs them.

    shapes: names ("lab-3", "bert-128", "llm-4096-causal", ...) or "Nq x Nk x d [x H]",
        as a comma-separated string or a list; kernels: names or None for all;
        threads: 0 = the OpenMP default; progress: a line per kernel and shape on
        stderr; dtypes: "f32", "f16", "bf16" (a list or comma-separated), each run with
        q, k, v and O in it on the inputs rounded to it. The other arguments are the
        CLI's options of the same names.

    memory_budget: bytes a (kernel, shape) run may use (inputs, outputs, oracle, workspace;
        0: half of physical memory); a run over it is a "refused" row.

    Returns the JSON document's rows, one dict per kernel and shape, with the CLI's
    keys and numbers: kernel, shape, dtype, and either refused or skipped (why it did
    not run) or max_abs_error / max_rel_error (against the fp64 reference on the same
    inputs; error_note instead where there is none), error_vs_blas (when blas ran),
    median_seconds, gflops, reps, workspace_bytes.
    Raises ValueError for an unknown shape or kernel (the CLI's message).
    """
    doc = _compare_json(_names(shapes), "" if kernels is None else _names(kernels), threads, seed, reps,
                             max_seconds, reference_limit, memory_budget, progress, _names(dtypes))
    return _json.loads(doc)["rows"]
