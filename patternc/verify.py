"""Property check of a compiled pattern against float64 dense attention
(patternc.semantics.reference_attention): random sizes (Q != K, not multiples
of the tiles), heads (grouped-query too), batch, head dims and inputs; out,
lse and the gradients of q, k and v (through out and lse).

    for case in draw_cases(pattern, params, count=20, seed=0):
        result = check_case(pattern, function, case, device="cpu", dtype=torch.float32)

On the CPU the kernels run in Triton's interpreter (TRITON_INTERPRET=1 set
before the module is imported) in float32; on a GPU in bfloat16. Errors are
relative: |a - b| / |b| over a whole tensor (the norm), max |a - b| for lse.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

import torch

from . import ir
from .bind import bind
from .semantics import reference_attention
from .show import example_segments

# per input dtype: out and gradients as relative norm errors, lse as a max abs error
TOLERANCE = {torch.float32: dict(out=1e-4, lse=1e-4, grad=1e-3),
             torch.bfloat16: dict(out=1e-2, lse=5e-2, grad=2e-2),
             torch.float16: dict(out=5e-3, lse=2e-2, grad=1e-2)}
HEAD_DIMS = (16, 24, 32)


@dataclass(frozen=True)
class Case:
    B: int
    H: int
    H_kv: int
    Q: int
    K: int
    D: int
    seed: int
    params: dict = field(default_factory=dict, compare=False)

    def __str__(self) -> str:
        gqa = f" H_kv={self.H_kv}" if self.H_kv != self.H else ""
        return f"B={self.B} H={self.H}{gqa} Q={self.Q} K={self.K} D={self.D}"


@dataclass(frozen=True)
class Result:
    case: Case
    out_error: float
    lse_error: float
    grad_error: float | None
    ok: bool
    problem: str = ""


def draw_cases(pattern: ir.CheckedPattern, params: dict, count: int, seed: int = 0, max_len: int = 96,
               heads: int | None = None) -> list[Case]:
    """`count` random cases whose sizes satisfy the pattern's requirements
    (ValueError naming the last failed requirement when no size up to max_len does)."""
    rng = random.Random(seed)
    cases = []
    for n in range(count):
        cases.append(_one_case(pattern, params, rng, max_len, heads, seed * 1000 + n))
    return cases


def _one_case(pattern, params, rng, max_len, heads, seed) -> Case:
    last = None
    for attempt in range(400):
        H = heads or rng.choice((1, 2, 3, 4))
        K = rng.randint(1, max_len) if attempt < 200 else attempt - 199  # then every K in turn
        Q = rng.randint(1, max_len) if attempt < 100 or attempt >= 300 else K
        if K > max_len:
            break
        try:
            bind(pattern, params, Q, K, H, None)
        except ValueError as e:
            last = e
            continue
        H_kv = rng.choice([d for d in range(1, H + 1) if H % d == 0])
        return Case(rng.choice((1, 2)), H, H_kv, Q, K, rng.choice(HEAD_DIMS), seed, dict(params))
    raise ValueError(f"no sizes up to {max_len} satisfy pattern '{pattern.name}': {last}")


def _inputs(pattern, case: Case, device, dtype):
    gen = torch.Generator().manual_seed(case.seed)
    q = torch.randn(case.B, case.H, case.Q, case.D, generator=gen)
    k = torch.randn(case.B, case.H_kv, case.K, case.D, generator=gen)
    v = torch.randn(case.B, case.H_kv, case.K, case.D, generator=gen)
    q, k, v = (t.to(device=device, dtype=dtype) for t in (q, k, v))
    extra = {}
    if "segments" in pattern.runtime_inputs:
        documents = int(torch.randint(1, 5, (1,), generator=gen))
        extra["segments"] = example_segments(case.K, documents, case.seed, case.B).to(device)
    return q, k, v, extra


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """|a - b| / |b| (norms; 0 when both are zero)."""
    a, b = a.double().cpu(), b.double().cpu()
    diff = (a - b).norm().item()
    scale = b.norm().item()
    return diff / scale if scale > 0 else diff


def check_case(pattern: ir.CheckedPattern, function, case: Case, device="cpu", dtype=torch.float32,
               gradients: bool = True) -> Result:
    """Run the compiled `function` on one case and compare with the reference."""
    q, k, v, extra = _inputs(pattern, case, device, dtype)
    for t in (q, k, v):
        t.requires_grad_(gradients)
    out, lse = function(q, k, v, return_lse=True, **case.params, **extra)
    ref_in = [t.detach().double().cpu().requires_grad_(gradients) for t in (q, k, v)]
    segments = extra.get("segments")
    hashes = None
    if "rotations" in pattern.runtime_inputs:  # the reference masks with the hashes the kernels used
        hashes = tuple(h.cpu() for h in function.hashes(q.detach(), k.detach(), **case.params))
    ref, ref_lse = reference_attention(pattern, *ref_in, params=case.params,
                                       segments=None if segments is None else segments.cpu(), hashes=hashes)
    tol = TOLERANCE[dtype]
    finite = torch.isfinite(ref_lse)
    problems = []
    if torch.isnan(out).any() or torch.isnan(lse).any():
        problems.append("NaN in the output")
    if not torch.equal(torch.isinf(lse.cpu()), ~finite):
        problems.append("rows with no allowed key disagree (lse = -inf)")
    out_error = rel(out.detach(), ref)
    lse_error = (lse.detach().cpu().double()[finite] - ref_lse[finite]).abs().max().item() if finite.any() else 0.0
    grad_error = None
    if gradients:
        gen = torch.Generator().manual_seed(case.seed + 1)
        d_out = torch.randn(out.shape, generator=gen)
        d_lse = torch.randn(lse.shape, generator=gen) * finite  # only rows that have an lse
        got = torch.autograd.grad((out, lse), (q, k, v), (d_out.to(out), d_lse.to(lse)))
        ref_lse_used = torch.where(finite, ref_lse, torch.zeros_like(ref_lse))
        want = torch.autograd.grad((ref, ref_lse_used), ref_in, (d_out.double(), d_lse.double()))
        grad_error = max(rel(a, torch.nan_to_num(b)) for a, b in zip(got, want))
        if any(torch.isnan(g).any() for g in got):
            problems.append("NaN in a gradient")
    for name, error in (("out", out_error), ("lse", lse_error), ("grad", grad_error)):
        if error is not None and not error <= tol[name]:
            problems.append(f"{name} error {error:.2e} > {tol[name]:.0e}")
    return Result(case, out_error, lse_error, grad_error, not problems, "; ".join(problems))
