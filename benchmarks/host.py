"""Host (CPU) time per call against wall time, on a GPU: is a case bound by
the launches or by the GPU? Calls are issued back to back without
synchronising; when the CPU time per call equals the wall time, the GPU waits
on the host (short calls: Triton's launch path and patternc's Python).

    python benchmarks/host.py [N] [--cases documents Longformer ...]

Prints, per case: forward; forward then the backward kernels called directly
(NAME__attend(..., gradients=...)); forward+backward through autograd, with its
default device thread and single-threaded."""
import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import patternc  # noqa: E402
from cases import CASES  # noqa: E402


def per_call(fn, calls=200):
    """(CPU ms, wall ms) per call of `fn`, `calls` issued back to back."""
    fn(); fn(); torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    issued = time.perf_counter()
    torch.cuda.synchronize()
    done = time.perf_counter()
    return (issued - start) / calls * 1e3, (done - start) / calls * 1e3


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=8192)
    ap.add_argument("--cases", nargs="+", default=[c.name for c in CASES])
    args = ap.parse_args(argv)
    N = args.n
    q, k, v = (torch.randn(1, 16, N, 128, device="cuda", dtype=torch.bfloat16) for _ in range(3))
    grad = torch.randn_like(q)
    for case in CASES:
        if case.name not in args.cases:
            continue
        module = patternc.load_source(case.source, f"<host {case.name}>", stem=f"host_{case.name}")
        params = case.params(N)
        if "segments" in params:  # captured once, as the benchmark does
            params["segments"] = module.case.segments(params["segments"])
        tensors = {name: params[name] for name in ("segments",) if name in params}
        scalars = {name: value for name, value in params.items() if name not in tensors}

        def backward_direct():
            out, lse = module.case(q, k, v, return_lse=True, **params)
            module.case__attend(q, k, v, None, scalars, **tensors, gradients=(out, lse, grad, None))

        def autograd():
            for t in (q, k, v):
                t.grad = None
            module.case(q, k, v, **params).backward(grad)

        lines = [("forward", per_call(lambda: module.case(q, k, v, **params))),
                 ("forward, backward called directly", per_call(backward_direct))]
        for t in (q, k, v):
            t.requires_grad_(True)
        lines.append(("autograd forward+backward", per_call(autograd)))
        with torch.autograd.set_multithreading_enabled(False):
            lines.append(("autograd, single-threaded", per_call(autograd)))
        for t in (q, k, v):
            t.requires_grad_(False)
            t.grad = None
        for label, (cpu, wall) in lines:
            print(f"{case.name:12} N={N} {label:36} cpu {cpu:.4f} ms  wall {wall:.4f} ms", flush=True)


if __name__ == "__main__":
    main()
