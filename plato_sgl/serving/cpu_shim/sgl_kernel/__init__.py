"""Pure-torch stand-in for the ``sgl_kernel`` helpers SGLang 0.5.23 needs on CPU.

Why it exists: with ``SGLANG_USE_CPU_ENGINE=1`` SGLang imports a few ``*_cpu`` functions from a
module named ``sgl_kernel`` unconditionally, and PyPI publishes no CPU build of it (the
``sglang-kernel`` wheel is CUDA-only and cannot load without libcuda). Only two of them are called
in plain serving; they are written here in plain torch. The others are imported at module load by
speculative-decoding code and never called, so they raise ``NotImplementedError`` if they ever are.

This module registers no ``torch.ops.sgl_kernel`` ops on purpose: SGLang then finds no AMX
kernels and every layer takes its pure-torch ``forward_native`` path.

plato_sgl.serving.local puts the parent directory on the server subprocess's ``PYTHONPATH`` only when
serving on a machine without CUDA; it is never imported by plato-sgl itself.
"""

from __future__ import annotations

import torch

__version__ = "0.0.0+plato-sgl-cpu-shim"


def assign_req_to_token_pool_cpu(
    req_pool_indices: torch.Tensor,
    req_to_token: torch.Tensor,
    start_offset: torch.Tensor,
    end_offset: torch.Tensor,
    out_cache_loc: torch.Tensor,
    pool_len: int,
) -> None:
    """Write each request's new KV slots into its row of the request-to-token table.

    Request i takes the next ``end_offset[i] - start_offset[i]`` entries of ``out_cache_loc``
    (consumed in request order) into row ``req_pool_indices[i]``, columns ``start:end``.
    """
    del pool_len  # the row length; the tensor's own shape already bounds the slices
    starts = start_offset.tolist()
    ends = end_offset.tolist()
    rows = req_pool_indices.tolist()
    pos = 0
    for row, start, end in zip(rows, starts, ends):
        n = end - start
        if n > 0:
            req_to_token[row, start:end] = out_cache_loc[pos : pos + n].to(req_to_token.dtype)
        pos += n


def copy_all_layer_kv_cache_cpu(
    data_ptrs: torch.Tensor,
    strides: torch.Tensor,
    tgt_loc: torch.Tensor,
    src_loc: torch.Tensor,
) -> None:
    """Copy KV slot ``src_loc[j]`` to slot ``tgt_loc[j]`` in every KV buffer.

    Each buffer is given by its base address ``data_ptrs[b]`` and its bytes per slot
    ``strides[b]``; the copy is done on a byte view of the buffer's used slots.
    """
    if tgt_loc.numel() == 0:
        return
    src = src_loc.to(torch.int64)
    tgt = tgt_loc.to(torch.int64)
    n_slots = int(torch.maximum(src.max(), tgt.max()).item()) + 1
    for ptr, stride in zip(data_ptrs.tolist(), strides.tolist()):
        buf = _byte_view(int(ptr), n_slots * int(stride)).view(n_slots, int(stride))
        buf[tgt] = buf[src].clone()


def _byte_view(address: int, nbytes: int) -> torch.Tensor:
    """A uint8 tensor sharing ``nbytes`` of memory at ``address`` (no copy)."""
    import ctypes

    array = (ctypes.c_uint8 * nbytes).from_address(address)
    return torch.frombuffer(array, dtype=torch.uint8)


def _not_on_cpu(name: str):
    """A placeholder for a helper only speculative decoding calls; fails loudly if called."""

    def unavailable(*args, **kwargs):
        raise NotImplementedError(
            f"sgl_kernel.{name} is not available in plato-sgl's CPU stand-in "
            "(speculative decoding is not supported on CPU here)"
        )

    unavailable.__name__ = name
    return unavailable


# Imported at module load (or lazily) by SGLang's speculative-decoding and AMX code paths.
_SPECULATIVE_ONLY = (
    "assign_draft_cache_locs_contiguous_cpu",
    "assign_extend_cache_locs_cpu",
    "build_draft_decode_metadata_cpu",
    "build_tree_kernel_efficient_cpu",
    "fill_accept_out_cache_loc_cpu",
    "fill_bonus_tokens_cpu",
    "rotate_input_ids_cpu",
    "verify_tree_greedy_cpu",
)
for _name in _SPECULATIVE_ONLY:
    globals()[_name] = _not_on_cpu(_name)
del _name
