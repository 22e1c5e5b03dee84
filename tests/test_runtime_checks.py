"""Call-time checks of generated functions and their numerics at the edges,
under the Triton interpreter (CPU, TRITON_INTERPRET=1).

Every bad call raises TypeError (wrong kind of argument) or ValueError (wrong
value) whose message names the problem: wrong rank, shape, batch and head
mismatches, dtypes, devices, unknown, missing, mistyped and out-of-range
params, failed `require`s, bad `segments`, bad sizes for `.mask`. Good calls
give the right answer for non-contiguous inputs, empty sizes (Q, K or B = 0,
backward included), fully masked rows (zeros, lse -inf, zero gradients), large
fp16 logits; NaN inputs spread to the rows that use them (docs/reliability.md
compares with torch SDPA).
"""
from __future__ import annotations

import os
import re

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import patternc  # noqa: E402
from patternc.semantics import reference_attention  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")

SOURCE = """
pattern pat(w: int = 4, g: float = 0.5, n: int) {
    require w >= 1
    mask window(w, 0) | sink(n)
    score decay(g)
}
pattern seg() { mask segments & causal }
pattern two() {
    heads 0..1 { mask causal }
    heads 1..2 { mask full }
}
pattern nothing() { mask j > p + 1000 }
pattern half_empty() { mask causal & (p >= 20) }
pattern causal() { mask causal }
pattern win() { mask window(2, 0) }
"""


@pytest.fixture(scope="module")
def m():
    return patternc.load_source(SOURCE, "<runtime checks>", stem="runtime_checks")


def checked(name):
    return next(p for p in patternc.check_source(SOURCE) if p.name == name)


def qkv(B=1, H=2, Q=8, K=8, D=16, H_kv=None, dtype=torch.float32, seed=0, grad=False):
    gen = torch.Generator().manual_seed(seed)
    shapes = ((B, H, Q, D), (B, H_kv or H, K, D), (B, H_kv or H, K, D))
    return [torch.randn(s, generator=gen).to(dtype).requires_grad_(grad) for s in shapes]


X = torch.randn(1, 2, 8, 16)
S = torch.zeros(1, 8, dtype=torch.long)
BAD_CALLS = {
    # name: (call, exception, fragments the message must hold)
    "q of rank 3": (lambda m: m.pat(X[0], X, X, n=1), ValueError, ["q", "4 dimensions", "(2, 8, 16)"]),
    "v of rank 5": (lambda m: m.pat(X, X, X[None], n=1), ValueError, ["v", "4 dimensions"]),
    "q not a tensor": (lambda m: m.pat([[1.0]], X, X, n=1), TypeError, ["q", "torch.Tensor", "list"]),
    "k and v shapes differ": (lambda m: m.pat(X, X, X[:, :, :4], n=1), ValueError, ["k and v", "same shape"]),
    "head dims differ": (lambda m: m.pat(X, X[..., :8], X[..., :8], n=1), ValueError, ["head dims", "16", "8"]),
    "batch sizes differ": (lambda m: m.pat(X, X.expand(3, -1, -1, -1), X.expand(3, -1, -1, -1), n=1),
                           ValueError, ["batch sizes differ", "1", "3"]),
    "H not a multiple of H_kv": (lambda m: m.pat(torch.randn(1, 3, 8, 16), X, X, n=1), ValueError,
                                 ["3 heads", "not a multiple", "2 heads", "H % H_kv"]),
    "no kv heads": (lambda m: m.pat(X, X[:, :0], X[:, :0], n=1), ValueError, ["0 heads"]),
    "dtypes differ": (lambda m: m.pat(X.half(), X, X, n=1), TypeError, ["share a dtype", "float16", "float32"]),
    "int tensors": (lambda m: m.pat(X.int(), X.int(), X.int(), n=1), TypeError, ["int32", "expected float16"]),
    "float64 tensors": (lambda m: m.pat(X.double(), X.double(), X.double(), n=1), TypeError, ["float64"]),
    "bool tensors": (lambda m: m.pat(X.bool(), X.bool(), X.bool(), n=1), TypeError, ["torch.bool"]),
    "devices differ": (lambda m: m.pat(X, X.to("meta"), X, n=1), ValueError, ["one device", "meta"]),
    "unsupported device": (lambda m: m.pat(X.to("meta"), X.to("meta"), X.to("meta"), n=1), ValueError,
                           ["meta", "CUDA", "TRITON_INTERPRET"]),
    "head dim 0": (lambda m: m.pat(X[..., :0], X[..., :0], X[..., :0], n=1), ValueError, ["head dim 0"]),
    "head dim 300": (lambda m: m.pat(*[torch.randn(1, 1, 2, 300)] * 3, n=1), ValueError, ["head dim 300"]),
    "unknown param": (lambda m: m.pat(X, X, X, n=1, wdth=3), TypeError, ["unexpected keyword argument 'wdth'"]),
    "missing param": (lambda m: m.pat(X, X, X), TypeError, ["missing", "'n'"]),
    "param given positionally": (lambda m: m.pat(X, X, X, 1), TypeError, ["positional"]),
    "bool for an int param": (lambda m: m.pat(X, X, X, n=True), TypeError, ["'n'", "must be an int", "bool"]),
    "fraction for an int param": (lambda m: m.pat(X, X, X, n=1.5), TypeError, ["'n'", "int", "1.5"]),
    "string for an int param": (lambda m: m.pat(X, X, X, n="1"), TypeError, ["'n'", "str"]),
    "tensor for an int param": (lambda m: m.pat(X, X, X, n=torch.tensor(1)), TypeError, ["'n'", "Tensor"]),
    "None for an int param": (lambda m: m.pat(X, X, X, n=None), TypeError, ["'n'", "NoneType"]),
    "int param out of range": (lambda m: m.pat(X, X, X, n=2 ** 40), ValueError, ["'n'", "out of range"]),
    "huge negative int param": (lambda m: m.pat(X, X, X, n=-10 ** 30), ValueError, ["'n'", "out of range"]),
    "NaN for a float param": (lambda m: m.pat(X, X, X, n=1, g=float("nan")), ValueError, ["'g'", "finite", "nan"]),
    "inf for a float param": (lambda m: m.pat(X, X, X, n=1, g=float("inf")), ValueError, ["'g'", "finite"]),
    "bool for a float param": (lambda m: m.pat(X, X, X, n=1, g=False), TypeError, ["'g'", "bool"]),
    "failed require": (lambda m: m.pat(X, X, X, n=1, w=0), ValueError,
                       ["pattern 'pat'", "requirement `w >= 1` failed", "w=0"]),
    "decay rate out of range": (lambda m: m.pat(X, X, X, n=1, g=2.0), ValueError, ["pattern 'pat'", "g=2.0"]),
    "scale not a number": (lambda m: m.pat(X, X, X, n=1, scale="0.1"), TypeError, ["scale", "str"]),
    "scale a bool": (lambda m: m.pat(X, X, X, n=1, scale=True), TypeError, ["scale", "bool"]),
    "scale NaN": (lambda m: m.pat(X, X, X, n=1, scale=float("nan")), ValueError, ["scale", "finite"]),
    "scale infinite": (lambda m: m.pat(X, X, X, n=1, scale=float("inf")), ValueError, ["scale", "finite"]),
    "segments missing": (lambda m: m.seg(X, X, X), TypeError, ["seg()", "segments=", "(B, K)"]),
    "segments not a tensor": (lambda m: m.seg(X, X, X, segments=[0] * 8), TypeError, ["segments", "list"]),
    "segments of floats": (lambda m: m.seg(X, X, X, segments=S.float()), TypeError, ["integer dtype", "float32"]),
    "segments of bools": (lambda m: m.seg(X, X, X, segments=S.bool()), TypeError, ["integer dtype", "bool"]),
    "segments too short": (lambda m: m.seg(X, X, X, segments=S[:, :7]), ValueError, ["shape (1, 8)", "(1, 7)"]),
    "segments of rank 1": (lambda m: m.seg(X, X, X, segments=S[0]), ValueError, ["shape (1, 8)", "(8,)"]),
    "segments of another batch": (lambda m: m.seg(X, X, X, segments=S.expand(2, 8)), ValueError,
                                  ["shape (1, 8)", "(2, 8)"]),
    "segments on another device": (lambda m: m.seg(X, X, X, segments=S.to("meta")), ValueError,
                                   ["segments is on meta", "cpu"]),
    "heads blocks miss heads": (lambda m: m.two(torch.randn(1, 4, 8, 16), X, X), ValueError,
                                ["two", "0..1, 1..2", "0..4"]),
    "heads blocks past H": (lambda m: m.two(X[:, :1], X[:, :1], X[:, :1]), ValueError, ["two", "0..1"]),
    "mask: unknown param": (lambda m: m.pat.mask(8, 8, x=1), TypeError, ["'x'", "w, g, n"]),
    "mask: missing param": (lambda m: m.pat.mask(8, 8), TypeError, ["missing", "'n'"]),
    "mask: failed require": (lambda m: m.pat.mask(8, 8, n=1, w=-3), ValueError, ["`w >= 1`", "w=-3"]),
    "mask: segments of floats": (lambda m: m.seg.mask(8, 8, segments=S.float()), TypeError, ["integer dtype"]),
    "block plan: zero tile": (lambda m: m.pat.block_plan(8, 8, block_m=0, n=1), ValueError, ["tile", "0"]),
}


@pytest.mark.parametrize("case", BAD_CALLS)
def test_bad_calls_raise_errors_naming_the_problem(m, case):
    call, error, fragments = BAD_CALLS[case]
    with pytest.raises(error) as info:
        call(m)
    message = str(info.value)
    missing = [f for f in fragments if f not in message]
    assert not missing, f"{message!r} lacks {missing}"


BAD_SIZES = {  # call, the size its error must name
    "negative Q": (lambda m: m.causal.mask(-1, 8), "Q"),
    "fractional K": (lambda m: m.causal.mask(8, 2.5), "K"),
    "zero heads": (lambda m: m.causal.mask(8, 8, H=0), "H"),
    "string size": (lambda m: m.causal.block_plan("8", 8), "Q"),
}


@pytest.mark.parametrize("case", BAD_SIZES)
def test_mask_and_block_plan_reject_bad_sizes_by_name(m, case):
    call, size = BAD_SIZES[case]
    with pytest.raises((TypeError, ValueError)) as info:
        call(m)
    assert re.search(rf"\b{size}\b", str(info.value)), str(info.value)


# ---------------------------------------------------------------------- good calls, odd inputs
def reference(m, name, q, k, v, **params):
    out, lse = reference_attention(checked(name), q.detach().double(), k.detach().double(), v.detach().double(),
                                   params=params or None)
    return out, lse


def assert_matches(m, name, q, k, v, tol=1e-4, **params):
    out, lse = getattr(m, name)(q, k, v, return_lse=True, **params)
    ref, ref_lse = reference(m, name, q, k, v, **params)
    torch.testing.assert_close(out.double(), ref, atol=tol, rtol=tol)
    assert torch.equal(torch.isinf(lse), torch.isinf(ref_lse))
    return out, lse


LAYOUTS = {  # (shapes of the three base tensors, the views of them passed as q, k, v)
    "transposed (B, Q, H, D) storage": ([(1, 20, 2, 16)] * 3, lambda q, k, v: (q.transpose(1, 2), k.transpose(1, 2),
                                                                             v.transpose(1, 2))),
    "every other length row": ([(1, 2, 40, 16)] * 3, lambda q, k, v: (q[:, :, ::2], k[:, :, ::2], v[:, :, ::2])),
    "every other head dim": ([(1, 2, 20, 32)] * 3, lambda q, k, v: (q[..., ::2], k[..., ::2], v[..., ::2])),
    "kv heads broadcast (stride 0)": ([(1, 2, 20, 16), (1, 1, 20, 16), (1, 1, 20, 16)],
                                      lambda q, k, v: (q, k.expand(1, 2, 20, 16), v.expand(1, 2, 20, 16))),
    "a narrowed head dim": ([(1, 2, 20, 32)] * 3, lambda q, k, v: (q[..., 3:19], k[..., 3:19], v[..., 3:19])),
}


def bases(layout, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=gen, requires_grad=True) for shape in LAYOUTS[layout][0]]


@pytest.mark.parametrize("layout", LAYOUTS)
def test_non_contiguous_inputs_give_the_right_answer(m, layout):
    views_of = LAYOUTS[layout][1]
    q, k, v = views_of(*bases(layout))
    assert not all(t.is_contiguous() for t in (q, k, v))
    assert_matches(m, "pat", q, k, v, n=2)
    # the backward too: gradients equal those through contiguous copies
    strided, copied = bases(layout), bases(layout)
    m.causal(*views_of(*strided)).square().sum().backward()
    m.causal(*(t.contiguous() for t in views_of(*copied))).square().sum().backward()
    for a, b in zip(strided, copied):
        torch.testing.assert_close(a.grad, b.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("B,Q,K", [(1, 0, 8), (1, 8, 0), (0, 8, 8), (2, 0, 0)])
def test_empty_sizes(m, B, Q, K):
    q, k, v = qkv(B=B, Q=Q, K=K, grad=True)
    out, lse = m.causal(q, k, v, return_lse=True)
    assert out.shape == (B, 2, Q, 16) and lse.shape == (B, 2, Q)
    assert torch.all(out == 0) and torch.all(lse == float("-inf"))
    out.sum().backward()
    for t in (q, k, v):
        assert t.grad is not None and t.grad.shape == t.shape and torch.all(t.grad == 0)
    segments = torch.zeros(B, K, dtype=torch.long)
    assert m.seg(q, k, v, segments=segments).shape == (B, 2, Q, 16)


# ---------------------------------------------------------------------- numerics
def test_fully_masked_rows_are_zero_with_lse_minus_inf_and_zero_gradients(m):
    q, k, v = qkv(Q=40, K=40, grad=True)
    out, lse = m.half_empty(q, k, v, return_lse=True)
    masked = torch.arange(40) < 20
    assert torch.all(out[:, :, masked] == 0) and torch.all(lse[:, :, masked] == float("-inf"))
    assert torch.isfinite(out).all() and torch.isfinite(lse[:, :, ~masked]).all()
    out.sum().backward()
    assert torch.all(q.grad[:, :, masked] == 0) and torch.isfinite(q.grad).all()
    q2, k2, v2 = qkv(Q=24, K=24, grad=True)
    out, lse = m.nothing(q2, k2, v2, return_lse=True)
    assert torch.all(out == 0) and torch.all(lse == float("-inf"))
    (out.sum() + torch.where(torch.isinf(lse), 0.0, lse).sum()).backward()
    assert all(torch.all(t.grad == 0) for t in (q2, k2, v2))


@pytest.mark.parametrize("factor", [100.0, 1000.0])
def test_large_fp16_logits_do_not_overflow(m, factor):
    q, k, v = qkv(Q=40, K=40)
    q16, k16, v16 = (q * factor).half(), k.half(), v.half()
    assert (q16.float() @ k16.float().transpose(-1, -2)).abs().max() > 65504 / 100  # far past exp's fp16 range
    out, lse = m.causal(q16, k16, v16, return_lse=True)
    assert torch.isfinite(out).all() and torch.isfinite(lse).all()
    ref, ref_lse = reference(m, "causal", q16, k16, v16)
    torch.testing.assert_close(out.double(), ref, atol=2e-3, rtol=2e-3)
    torch.testing.assert_close(lse.double(), ref_lse, atol=1e-3 * factor / 100, rtol=1e-3)


def nan_rows(out):
    return set(torch.isnan(out[0, 0]).any(-1).nonzero().flatten().tolist())


@pytest.mark.parametrize("name", ["causal", "win"])
def test_nan_inputs_reach_exactly_the_rows_that_use_them(m, name):
    Q = K = 40
    allowed = getattr(m, name).mask(Q, K)[0]  # (Q, K)
    os.environ["PATTERNC_TILE"] = "16x16"
    try:
        plan = getattr(m, name).block_plan(Q, K, block_m=16, block_n=16)
        visits = plan["classes"][0] != 0  # (query tiles, key tiles) the kernel computes
        # q: row 20 only, as in SDPA
        q, k, v = qkv(H=1, Q=Q, K=K)
        q[0, 0, 20, 3] = float("nan")
        assert nan_rows(getattr(m, name)(q, k, v)) == {20}
        assert nan_rows(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)) == {20}
        # k: exactly the rows that allow key 20 (scores of masked pairs are replaced, never used)
        q, k, v = qkv(H=1, Q=Q, K=K)
        k[0, 0, 20, 3] = float("nan")
        users = set(allowed[:, 20].nonzero().flatten().tolist())
        assert nan_rows(getattr(m, name)(q, k, v)) == users
        # v: the rows that allow key 20, and at most the rows of query tiles that visit its key tile
        # (a masked pair's weight is 0, and 0 * NaN is NaN); SDPA on CPU spreads it to every row
        q, k, v = qkv(H=1, Q=Q, K=K)
        v[0, 0, 20, 3] = float("nan")
        got = nan_rows(getattr(m, name)(q, k, v))
        tile_rows = {i for i in range(Q) if visits[i // 16, 20 // 16]}
        assert users <= got <= tile_rows
    finally:
        del os.environ["PATTERNC_TILE"]


def test_sdpa_spreads_nan_at_least_as_far(m):
    # the comparison docs/reliability.md makes: torch's SDPA (CPU, boolean mask) puts NaN
    # in every row that uses the bad key or value, and (today) in every other row as well
    allowed = m.causal.mask(40, 40)[0]
    users = set(allowed[:, 20].nonzero().flatten().tolist())
    for where in (1, 2):
        tensors = qkv(H=1, Q=40, K=40)
        tensors[where][0, 0, 20, 3] = float("nan")
        assert nan_rows(F.scaled_dot_product_attention(*tensors, attn_mask=allowed)) >= users


def test_params_at_their_limits_work(m):
    q, k, v = qkv(Q=12, K=12)
    assert_matches(m, "pat", q, k, v, n=2 ** 31 - 1, w=2 ** 31 - 1)  # every key, through the largest params
    assert_matches(m, "pat", q, k, v, n=0, w=1, g=1e-30)  # an empty sink; a decay rate near 0
    with pytest.raises(ValueError, match="`n >= 0` failed"):
        m.pat(q, k, v, n=-(2 ** 31 - 1))
