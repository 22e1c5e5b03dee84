"""Side-by-side benchmark: patternc vs FlexAttention vs SDPA dense, one process.

    python benchmarks/bench.py [--n 8192 32768] [--d 128] [--cases dense causal ...]

For every case it checks that patternc and FlexAttention agree, then times the
forward with triton.testing.do_bench (median) and reports TFLOP/s counted over
allowed pairs only, the ratio FlexAttention time / patternc time, peak memory
and first-call latency. Once every case is timed, a second pass measures the
GPU time of each call's kernels alone (CUDA profiler): where a call takes
longer than its kernels, its host work bounds it. Writes JSON and markdown to
benchmarks/results/.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import sys
import time
from pathlib import Path

import torch
import triton

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cases import CASES  # noqa: E402

import patternc  # noqa: E402
from patternc.benchmark import allowed_pairs, device_ms, rel, timed  # noqa: E402


def set_up(case, N, D, B, H, dtype):
    """The case's compiled pattern, its params and inputs, and FlexAttention's mask_mod."""
    device = torch.device("cuda")
    module = patternc.load_source(case.source, f"<bench {case.name}>", stem=f"bench_{case.name}")
    params = case.params(N)
    q, k, v = (torch.randn(B, H, N, D, device=device, dtype=dtype) for _ in range(3))
    mask_mod = case.mask_mod(N, device, module, params, q=q, k=k)
    if "segments" in params:  # captured once, as FlexAttention's block mask is built once
        params = dict(params, segments=module.case.segments(params["segments"]))
    return module, params, q, k, v, mask_mod


def chosen_tiles(module, N, D, backward=False):
    """The tiles the compiled case chose for this N and D (forward, or the
    backward's dQ and dK/dV pair): its config cache keeps every shape it has
    run, so the entry is found by its key, (Q, K, H, D, ...) or ("backward",
    Q, K, H, D, ...), not by its place."""
    for key, config in reversed(module.case__configs.entries.items()):
        first = int(key[0] == "backward")  # Q's place in the key
        if first == backward and key[first] == N and key[first + 3] == D:
            return config
    return None


def run_case(case, N, D, B, H, dtype, flex, create_block_mask, sdpa_ms, backward=True):
    device = torch.device("cuda")
    module, params, q, k, v, mask_mod = set_up(case, N, D, B, H, dtype)
    fn = module.case
    row = {"case": case.name, "N": N, "D": D}

    torch.cuda.synchronize(); t0 = time.perf_counter()
    out = fn(q, k, v, **params); torch.cuda.synchronize()
    row["patternc_first_call_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    block_mask = create_block_mask(mask_mod, None, None, N, N, device=device)
    ref = flex(q, k, v, block_mask=block_mask); torch.cuda.synchronize()
    row["flex_first_call_s"] = time.perf_counter() - t0
    err = ((out.float() - ref.float()).norm() / ref.float().norm()).item()
    row["rel_err_vs_flex"] = err
    row["patternc_tiles"] = chosen_tiles(module, N, D)  # the forward's, timed on its first call
    if not err < 2e-2:
        row["error"] = f"outputs disagree (relative error {err:.3g})"
        return row

    torch.cuda.reset_peak_memory_stats(); base = torch.cuda.memory_allocated()
    row["patternc_fwd_ms"] = timed(lambda: fn(q, k, v, **params))
    row["patternc_peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    torch.cuda.reset_peak_memory_stats()
    row["flex_fwd_ms"] = timed(lambda: flex(q, k, v, block_mask=block_mask))
    row["flex_peak_mb"] = (torch.cuda.max_memory_allocated() - base) / 2**20
    row["sdpa_dense_fwd_ms"] = sdpa_ms
    if backward:
        q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
        grad = torch.randn_like(q)
        torch.cuda.synchronize(); t0 = time.perf_counter()
        ours = fn(q, k, v, **params)
        ours.backward(grad); torch.cuda.synchronize()
        row["patternc_first_backward_s"] = time.perf_counter() - t0  # compiles, and times the backward tiles
        mine = [t.grad.clone() for t in (q, k, v)]
        for t in (q, k, v):
            t.grad = None
        flex(q, k, v, block_mask=block_mask).backward(grad)
        theirs = [t.grad.clone() for t in (q, k, v)]
        row["grad_rel_err_vs_flex"] = max(rel(a, b) for a, b in zip(mine, theirs))
        if not row["grad_rel_err_vs_flex"] < 2e-2:
            row["error"] = f"gradients disagree (relative error {row['grad_rel_err_vs_flex']:.3g})"
            return row
        row["patternc_fwdbwd_ms"] = timed(lambda: fn(q, k, v, **params).backward(grad), grad_to_none=[q, k, v])
        row["flex_fwdbwd_ms"] = timed(lambda: flex(q, k, v, block_mask=block_mask).backward(grad),
                                      grad_to_none=[q, k, v])
        row["ratio_fwdbwd"] = row["flex_fwdbwd_ms"] / row["patternc_fwdbwd_ms"]
        row["patternc_backward_tiles"] = chosen_tiles(module, N, D, backward=True)
        for t in (q, k, v):
            t.grad = None
            t.requires_grad_(False)
    pairs = allowed_pairs(mask_mod, N, device, heads=H if case.per_head else 1)
    row["density"] = pairs / N / N
    flops = 4.0 * B * H * pairs * D
    row["patternc_tflops"] = flops / row["patternc_fwd_ms"] / 1e9
    row["flex_tflops"] = flops / row["flex_fwd_ms"] / 1e9
    row["ratio_fwd"] = row["flex_fwd_ms"] / row["patternc_fwd_ms"]
    if row["flex_peak_mb"] > 4 * row["patternc_peak_mb"] + 1024:
        row["warning"] = "FlexAttention used far more memory: did it fall back to its eager path?"
    return row


def kernel_times(row, case, B, H, dtype, flex, create_block_mask, backward=True):
    """The GPU time of each call's kernels alone (CUDA profiler), into the row.
    Run after every case is timed: a profiler session may leave the driver's
    instrumentation in place, which would weigh on later timings."""
    N, D = row["N"], row["D"]
    module, params, q, k, v, mask_mod = set_up(case, N, D, B, H, dtype)
    fn = module.case
    block_mask = create_block_mask(mask_mod, None, None, N, N, device="cuda")
    row["patternc_fwd_kernel_ms"] = device_ms(lambda: fn(q, k, v, **params))
    row["flex_fwd_kernel_ms"] = device_ms(lambda: flex(q, k, v, block_mask=block_mask))
    if backward:
        q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
        grad = torch.randn_like(q)
        row["patternc_fwdbwd_kernel_ms"] = device_ms(lambda: fn(q, k, v, **params).backward(grad),
                                                     grad_to_none=[q, k, v])
        row["flex_fwdbwd_kernel_ms"] = device_ms(lambda: flex(q, k, v, block_mask=block_mask).backward(grad),
                                                 grad_to_none=[q, k, v])


BATCH, HEADS = 1, 16  # the shape: B=1, H=16 (bf16)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, nargs="+", default=[8192, 32768])
    ap.add_argument("--d", type=int, nargs="+", default=[128])
    ap.add_argument("--cases", nargs="+", default=[c.name for c in CASES])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results"))
    ap.add_argument("--no-backward", action="store_true", help="time the forward only")
    ap.add_argument("--tag", default="", help="suffix of the result files")
    args = ap.parse_args(argv)
    from torch.nn.attention.flex_attention import create_block_mask, flex_attention
    # every case brings a new mask_mod: without room for them, dynamo stops
    # recompiling and FlexAttention silently falls back to its dense eager path
    torch._dynamo.config.cache_size_limit = 1024
    torch._dynamo.config.accumulated_cache_size_limit = 4096
    # static shapes: once a second N is compiled, automatic dynamic shapes recompile
    # FlexAttention for symbolic sizes, and those kernels ran 1.05-1.5x slower forward,
    # 1.2-1.6x forward+backward (H100, N=32768 after 8192): not a fair comparison
    flex = torch.compile(flex_attention, dynamic=False)
    B, H, dtype = BATCH, HEADS, torch.bfloat16
    rows = []
    for D in args.d:
        for N in args.n:
            q, k, v = (torch.randn(B, H, N, D, device="cuda", dtype=dtype) for _ in range(3))
            sdpa_ms = timed(lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v))
            del q, k, v
            for case in CASES:
                if case.name not in args.cases:
                    continue
                try:
                    row = run_case(case, N, D, B, H, dtype, flex, create_block_mask, sdpa_ms,
                                   backward=not args.no_backward)
                except Exception as e:  # keep going: one broken case should not hide the others
                    row = {"case": case.name, "N": N, "D": D, "error": f"{type(e).__name__}: {e}"[:500]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                write_results(rows, args.out, args.tag, quiet=True)  # an interrupted run keeps its rows
    cases = {case.name: case for case in CASES}
    for row in rows:
        if "error" not in row:
            try:
                kernel_times(row, cases[row["case"]], B, H, dtype, flex, create_block_mask,
                             backward=not args.no_backward)
            except Exception as e:  # noqa: BLE001 - the timed row stands without them
                row["kernel_times_error"] = f"{type(e).__name__}: {e}"[:300]
    write_results(rows, args.out, args.tag)


def write_results(rows, out_dir, tag, quiet=False):
    """The JSON rows and the markdown table, named by date and tag."""
    meta = {"date": datetime.date.today().isoformat(), "device": torch.cuda.get_device_name(),
            "torch": torch.__version__, "triton": triton.__version__, "patternc": patternc.__version__,
            "python": platform.python_version(), "B": BATCH, "H": HEADS, "dtype": "bfloat16"}
    out = Path(out_dir); out.mkdir(parents=True, exist_ok=True)
    stem = f"bench_{meta['date']}{tag}"
    (out / f"{stem}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# Forward, {meta['device']}, {meta['date']} (torch {meta['torch']}, triton {meta['triton']})", "",
             "Ratios are FlexAttention time / patternc time (above 1: patternc is faster); TFLOP/s count "
             "allowed pairs only.", "",
             "Kernel ratios compare the GPU time of each call's kernels alone (CUDA profiler, a second pass "
             "after all the timing): where the GPU bounds a call they differ from its ratio by a few percent "
             "(two measurements of the same kernels); where a call's ratio is well below its kernels', the "
             "call's host work (Python, launches, autograd) bounds it.", "",
             "| case | N | D | density | patternc fwd TFLOP/s | Flex fwd TFLOP/s | fwd ratio | fwd+bwd ratio "
             "| fwd kernels ratio | fwd+bwd kernels ratio |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def ratio(r, flex, ours):
        return f"{r[flex] / r[ours]:.2f}" if flex in r and ours in r else ""

    for r in rows:
        if "error" in r:
            lines.append(f"| {r['case']} | {r['N']} | {r['D']} | error: {r['error'][:80]} | | | | | | |")
        else:
            lines.append(f"| {r['case']} | {r['N']} | {r['D']} | {r['density']:.4f} | {r['patternc_tflops']:.0f} | "
                         f"{r['flex_tflops']:.0f} | {r['ratio_fwd']:.2f} | {r.get('ratio_fwdbwd', float('nan')):.2f} | "
                         f"{ratio(r, 'flex_fwd_kernel_ms', 'patternc_fwd_kernel_ms')} | "
                         f"{ratio(r, 'flex_fwdbwd_kernel_ms', 'patternc_fwdbwd_kernel_ms')} |")
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    if not quiet:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
