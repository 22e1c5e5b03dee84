"""Generated forward kernels under the Triton interpreter against float64 dense
masked attention: random patterns from the whole language, random sizes (Q != K,
not multiples of the tile), random inputs; out and lse."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import patternc  # noqa: E402
from patternc.semantics import reference_attention  # noqa: E402
from pattern_sources import pattern_source  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")


def run_and_compare(source, H, Q, K, D=16, H_kv=None, B=1, dtype=torch.float32, params=None, seed=0, tile="16x16"):
    module = patternc.load_source(source, "<test>", stem="t")
    pattern = patternc.check_source(source)[0]
    fn = getattr(module, pattern.name)
    gen = torch.Generator().manual_seed(seed)
    H_kv = H_kv or H
    q = torch.randn(B, H, Q, D, generator=gen).to(dtype)
    k = torch.randn(B, H_kv, K, D, generator=gen).to(dtype)
    v = torch.randn(B, H_kv, K, D, generator=gen).to(dtype)
    os.environ["PATTERNC_TILE"] = tile
    try:
        out, lse = fn(q, k, v, return_lse=True, **(params or {}))
    finally:
        del os.environ["PATTERNC_TILE"]
    ref, ref_lse = reference_attention(pattern, q.double(), k.double(), v.double(), params=params)
    assert not torch.isnan(out).any()
    tol = 2e-3 if dtype == torch.float16 else 1e-4
    torch.testing.assert_close(out.double(), ref, atol=tol, rtol=tol)
    assert torch.equal(torch.isinf(lse), torch.isinf(ref_lse))
    finite = torch.isfinite(ref_lse)
    torch.testing.assert_close(lse.double()[finite], ref_lse[finite], atol=tol, rtol=tol)
    return out, lse


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_source(), st.integers(1, 90), st.integers(1, 90), st.sampled_from(["16x16", "32x16", "16x32"]),
       st.integers(0, 2**16))
def test_random_patterns_match_dense_attention(case, Q, K, tile, seed):
    source, H = case
    run_and_compare(source, H, Q, K, tile=tile, seed=seed)


@pytest.mark.parametrize("Q,K", [(1, 1), (1, 70), (70, 1), (33, 17), (17, 33), (64, 64)])
def test_edges_of_sizes(Q, K):
    run_and_compare("pattern pat() { mask causal & window(5, 0) | sink(2) }", 2, Q, K)


def test_grouped_query_attention_and_fp16():
    run_and_compare("pattern pat(w: int = 4) { mask window(w) | global(3) }", 4, 40, 50, D=32, H_kv=2,
                    dtype=torch.float16)


def test_rows_with_nothing_allowed_are_zero_with_lse_minus_inf():
    out, lse = run_and_compare("pattern pat() { mask causal & (j < p - 40) }", 1, 30, 30)
    assert torch.all(out == 0) and torch.all(lse == float("-inf"))


def test_head_dim_not_a_power_of_two_and_batch():
    run_and_compare("pattern pat() { mask block(8) | causal; score softcap(3.0) }", 2, 37, 41, D=24, B=2)


def test_params_reach_the_kernel():
    src = "pattern pat(w: int = 2, g: float = 0.5) { mask window(w, 0); score decay(g) }"
    run_and_compare(src, 1, 40, 40, params={"w": 7, "g": 0.8})


def test_non_contiguous_inputs():
    module = patternc.load_source("pattern pat() { mask causal }", "<test>", stem="t")
    pattern = patternc.check_source("pattern pat() { mask causal }")[0]
    x = torch.randn(1, 20, 2, 16, dtype=torch.float64).float()
    q = k = v = x.transpose(1, 2)  # (1, 2, 20, 16), not contiguous
    out = module.pat(q, k, v)
    ref, _ = reference_attention(pattern, q.double(), k.double(), v.double())
    torch.testing.assert_close(out.double(), ref, atol=1e-4, rtol=1e-4)
