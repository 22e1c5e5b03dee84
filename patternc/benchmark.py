"""Timing a compiled pattern against FlexAttention and dense SDPA on a GPU: the
reusable part of benchmarks/bench.py, and what `patternc bench` runs.

    row = compare(function, params, mask, N=8192, D=128, B=1, H=16)

FlexAttention gets the same mask as a dense boolean tensor on the GPU, read by
its mask_mod (`lambda b, h, q, k: mask[b, h, q, k]`), so both compute the same
attention; dense SDPA (no mask) is the reference for what sparsity saves.
Times are medians of triton.testing.do_bench; TFLOP/s count allowed pairs only
(4 * B * H * pairs * D for the forward, 2.5 times that for the backward).
"""
from __future__ import annotations

import time

import torch


def timed(fn, grad_to_none=None) -> float:
    """Median milliseconds of `fn()` (warm-up excluded). `grad_to_none`: tensors
    whose .grad is reset before each run, so that a timed backward writes fresh
    gradients instead of adding into the previous run's (an extra elementwise
    pass over q, k and v that is not attention's work)."""
    import triton

    return triton.testing.do_bench(fn, warmup=25, rep=100, grad_to_none=grad_to_none, return_mode="median")


def device_ms(fn, grad_to_none=None, calls: int = 10) -> float:
    """GPU time of the kernels of one `fn()` call, in milliseconds (the CUDA
    profiler's sum over `calls` calls, divided): what the call costs without
    its host work. Where `timed` is well above it, the call is bound by the
    host (Python, launches, autograd), not by the GPU."""
    from torch.profiler import ProfilerActivity, profile

    fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(calls):
            for t in grad_to_none or ():
                t.grad = None
            fn()
        torch.cuda.synchronize()
    return sum(e.self_device_time_total for e in prof.key_averages()) / calls / 1e3


def allowed_pairs(mask_mod, N: int, device, chunk: int = 2048, heads: int = 1) -> float:
    """Allowed (query, key) pairs of batch 0 of a FlexAttention mask_mod, per head
    (head 0, or the mean over `heads` heads where the mask differs by head)."""
    total = 0
    k = torch.arange(N, device=device)[None, :]
    for h in range(heads):
        for start in range(0, N, chunk):
            q = torch.arange(start, min(N, start + chunk), device=device)[:, None]
            total += int(mask_mod(0, torch.tensor(h, device=device), q, k).sum())
    return total / heads


def dense_mask_mod(mask: torch.Tensor):
    """A FlexAttention mask_mod reading a dense bool mask (B or 1, H or 1, Q, K)."""
    batched, headed = mask.shape[0] > 1, mask.shape[1] > 1
    if batched and headed:
        return lambda b, h, q, k: mask[b, h, q, k]
    if batched:
        return lambda b, h, q, k: mask[b, 0, q, k]
    if headed:
        return lambda b, h, q, k: mask[0, h, q, k]
    return lambda b, h, q, k: mask[0, 0, q, k]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30)).item()


def compare(function, params: dict, mask, N: int, D: int, B: int = 1, H: int = 16,
            dtype=torch.bfloat16, backward: bool = True, extra: dict | None = None) -> dict:
    """Forward (and forward+backward) times of patternc, FlexAttention and dense
    SDPA on the same random inputs; checks patternc against FlexAttention first.
    `mask` is the pattern's dense mask on the GPU, or a function (q, k) -> that mask
    (for masks the data decides: buckets), `extra` runtime inputs (segments)."""
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention

    torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    # static shapes: once a second N is compiled, automatic dynamic shapes recompile
    # FlexAttention for symbolic sizes, and those kernels ran 1.05-1.5x slower forward,
    # 1.2-1.6x forward+backward (H100, N=32768 after 8192): not a fair comparison
    flex = torch.compile(flex_attention, dynamic=False)
    device = torch.device("cuda")
    extra = dict(extra or {})
    if "segments" in extra and hasattr(function, "segments"):  # captured once, like the block mask below
        extra["segments"] = function.segments(extra["segments"])
    q, k, v = (torch.randn(B, H, N, D, device=device, dtype=dtype) for _ in range(3))
    if callable(mask):
        mask = mask(q, k)

    def ours():
        return function(q, k, v, **params, **extra)

    mask_mod = dense_mask_mod(mask)
    row = {"N": N, "D": D, "B": B, "H": H, "dtype": str(dtype).replace("torch.", "")}
    torch.cuda.synchronize()
    start = time.perf_counter()
    out = ours()
    torch.cuda.synchronize()
    row["patternc_first_call_s"] = time.perf_counter() - start
    block_mask = create_block_mask(mask_mod, B if mask.shape[0] > 1 else None, H if mask.shape[1] > 1 else None,
                                   N, N, device=device)

    def theirs():
        return flex(q, k, v, block_mask=block_mask)

    row["rel_err_vs_flex"] = rel(out, theirs())
    pairs = int(mask.sum()) * (B if mask.shape[0] == 1 else 1) * (H if mask.shape[1] == 1 else 1)
    row["density"] = pairs / (B * H * N * N)
    forward_flops = 4.0 * pairs * D

    def sdpa():
        return torch.nn.functional.scaled_dot_product_attention(q, k, v)

    for name, fn in (("patternc", ours), ("flex", theirs), ("sdpa_dense", sdpa)):
        row[f"{name}_fwd_ms"] = timed(fn)
        flops = forward_flops if name != "sdpa_dense" else 4.0 * B * H * N * N * D
        row[f"{name}_fwd_tflops"] = flops / row[f"{name}_fwd_ms"] / 1e9
    if backward:
        for t in (q, k, v):
            t.requires_grad_(True)
        grad = torch.randn_like(q)
        for name, fn in (("patternc", ours), ("flex", theirs), ("sdpa_dense", sdpa)):
            row[f"{name}_fwdbwd_ms"] = timed(lambda: fn().backward(grad), grad_to_none=[q, k, v])
    # the kernels alone, after all the timing (a profiler session may leave instrumentation behind):
    # where a call takes well over its kernels' time, the host that issues it bounds it
    for name, fn in (("patternc", ours), ("flex", theirs), ("sdpa_dense", sdpa)):
        if backward:
            row[f"{name}_fwdbwd_kernel_ms"] = device_ms(lambda: fn().backward(grad), grad_to_none=[q, k, v])
        with torch.no_grad():
            row[f"{name}_fwd_kernel_ms"] = device_ms(fn)
    for t in (q, k, v):
        t.requires_grad_(False)
    return row


def table(row: dict) -> list[str]:
    """The rows of `patternc bench`'s table: per call, then (in brackets) its
    kernels' GPU time alone where measured."""

    def ms(key):
        call, kernels = row.get(f"{key}_ms"), row.get(f"{key}_kernel_ms")
        if call is None:
            return ""
        return f"{call:.3f}" + ("" if kernels is None else f" [{kernels:.3f}]")

    lines = [f"{'':16}{'fwd ms [kernels]':>20}{'fwd TFLOP/s':>13}{'fwd+bwd ms [kernels]':>24}{'vs patternc':>13}"]
    for name, label in (("patternc", "patternc"), ("flex", "FlexAttention"), ("sdpa_dense", "SDPA (dense)")):
        ratio = row[f"{name}_fwd_ms"] / row["patternc_fwd_ms"]
        lines.append(f"{label:16}{ms(f'{name}_fwd'):>20}{row[f'{name}_fwd_tflops']:13.0f}"
                     f"{ms(f'{name}_fwdbwd'):>24}{ratio:12.2f}x")
    return lines
