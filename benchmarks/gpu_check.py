"""Correctness on the GPU: every static pattern of every example, bf16 (and fp16)
inputs, against float64 dense masked attention computed from the pattern's own
dense mask. Sizes: N = 4096 and a ragged Q != K. Prints one line per case and
exits non-zero if any relative error exceeds the bound.

    python benchmarks/gpu_check.py [examples/*.attn]
"""
from __future__ import annotations

import glob
import json
import math
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import patternc  # noqa: E402
from patternc.pipeline import check_source  # noqa: E402

BOUND = 1e-2


def reference(q, k, v, mask, scale, modifiers, H):
    """float64 attention with the modifiers of LANGUAGE.md; rows with nothing allowed -> 0, -inf."""
    G = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(G, 1).double(), v.repeat_interleave(G, 1).double()
    s = (q.double() @ k.transpose(-1, -2)) * scale
    Q, K = q.shape[2], k.shape[2]
    dist = ((torch.arange(Q, device=q.device)[:, None] + K - Q) - torch.arange(K, device=q.device)[None]).abs().double()
    for h in range(H):
        for kind, arg in modifiers(h):
            if kind == "alibi":
                s[:, h] -= 2.0 ** (-8.0 * (h + 1) / H) * dist
            elif kind == "decay":
                s[:, h] += dist * math.log(arg)
            elif kind == "softcap":
                s[:, h] = arg * torch.tanh(s[:, h] / arg)
    s = s.masked_fill(~mask, float("-inf"))
    lse = torch.logsumexp(s, -1)
    w = torch.exp(s - lse[..., None]).nan_to_num(0.0)
    return w @ v, lse


def modifiers_of(pattern, H):
    from patternc import ir
    from patternc.bind import bind, group_ranges
    env = bind(pattern, {}, 8, 8, H)
    ranges = group_ranges(pattern, env)

    def mods(h):
        for (start, stop), g in zip(ranges, pattern.groups):
            if start <= h < stop:
                return [(m.kind, None if m.arg is None else float(ir.eval_static(m.arg, env))) for m in g.modifiers]
        return []
    return mods


def main(paths):
    failures, rows = 0, []
    torch.manual_seed(0)
    for path in paths:
        source = Path(path).read_text()
        patterns = check_source(source, path)
        if any(p.is_data_dependent for p in patterns):
            print(f"{path}: skipped (data-dependent)")
            continue
        module = patternc.load(path)
        for p in patterns:
            fn = getattr(module, p.name)
            H = 16 if not p.has_heads else 16
            for (Q, K, D, H_kv, dtype) in [(4096, 4096, 128, H, torch.bfloat16), (1000, 1237, 64, H // 4, torch.bfloat16),
                                           (777, 777, 96, H, torch.float16)]:
                q = torch.randn(1, H, Q, D, device="cuda", dtype=dtype)
                k = torch.randn(1, H_kv, K, D, device="cuda", dtype=dtype)
                v = torch.randn(1, H_kv, K, D, device="cuda", dtype=dtype)
                try:
                    out, lse = fn(q, k, v, return_lse=True)
                    mask = fn.mask(Q, K, H).cuda()
                    ref, ref_lse = reference(q, k, v, mask, D ** -0.5, modifiers_of(p, H), H)
                    err = ((out.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()
                    finite = torch.isfinite(ref_lse)
                    lse_err = (lse.double()[finite] - ref_lse[finite]).abs().max().item() if finite.any() else 0.0
                    same_inf = bool((torch.isinf(lse) == ~finite).all())
                    ok = err <= BOUND and lse_err <= 5e-2 and same_inf and not torch.isnan(out).any()
                except Exception as e:  # report, keep going
                    err, lse_err, ok = float("nan"), float("nan"), False
                    print(f"  {type(e).__name__}: {e}"[:400])
                failures += not ok
                row = {"file": path, "pattern": p.name, "Q": Q, "K": K, "D": D, "H_kv": H_kv, "dtype": str(dtype),
                       "rel_err": err, "lse_err": lse_err, "ok": ok}
                rows.append(row)
                print(f"{'ok ' if ok else 'BAD'} {path}:{p.name} Q={Q} K={K} D={D} H_kv={H_kv} {dtype}: "
                      f"rel err {err:.2e}, lse err {lse_err:.2e}", flush=True)
    print(json.dumps({"cases": len(rows), "failures": failures}))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or sorted(glob.glob("examples/*.attn"))))
