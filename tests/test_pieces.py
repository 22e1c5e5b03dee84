"""Long jobs split into pieces (global rows in the forward and dQ, global
columns in dK/dV), merged by the last piece to finish: PATTERNC_PIECE=n forces pieces of
at most n tiles, so that small CPU inputs split nearly every job; results must
equal float64 dense masked attention exactly as without pieces."""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import patternc  # noqa: E402
from pattern_sources import pattern_source  # noqa: E402
from test_kernels import run_and_compare, run_backward_and_compare  # noqa: E402

pytestmark = pytest.mark.skipif(os.environ.get("TRITON_INTERPRET") != "1",
                                reason="CPU kernel tests need TRITON_INTERPRET=1 before triton is imported")


class pieces_of:
    """PATTERNC_PIECE=n for the duration of a block."""

    def __init__(self, n):
        self.n = str(n)

    def __enter__(self):
        os.environ["PATTERNC_PIECE"] = self.n

    def __exit__(self, *exc):
        del os.environ["PATTERNC_PIECE"]


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(pattern_source(), st.integers(1, 70), st.integers(1, 70), st.integers(1, 3), st.integers(1, 2),
       st.integers(1, 2), st.sampled_from(["16x16", "32x16", "16x32"]), st.integers(0, 2**16))
def test_random_patterns_in_pieces_match_dense_attention(case, Q, K, piece, B, kv_div, tile, seed):
    source, H = case
    H_kv = H // kv_div if H % kv_div == 0 else H
    with pieces_of(piece):
        run_and_compare(source, H, Q, K, H_kv=H_kv, B=B, tile=tile, seed=seed)
        run_backward_and_compare(source, H, Q, K, H_kv=H_kv, B=B, tile=tile, seed=seed)


@pytest.mark.parametrize("source", [
    "pattern pat() { mask window(3) | global(5) }",  # long rows and long columns
    "pattern pat() { mask dilated(8, 3) }",  # per residue class: the merge's position arithmetic
    "pattern pat() { mask causal & (j < p - 3) | block(5); score softcap(2.0), alibi }",
])
@pytest.mark.parametrize("piece", [1, 2])
def test_known_patterns_in_pieces(source, piece):
    with pieces_of(piece):
        run_and_compare(source, 4, 70, 83, H_kv=2, B=2)
        run_backward_and_compare(source, 4, 70, 83, H_kv=2, B=2)


def test_pieces_cover_every_list_once_heaviest_first():
    module = patternc.load_source("pattern pat() { mask window(1) | global(1) }", "<test>", stem="t")
    iterations = torch.tensor([1, 7, 2, 9, 0, 3])
    work = iterations * 4
    with pieces_of(3):
        table = module._programs(work, iterations, torch.device("cpu"))
    programs = table["programs"].tolist()
    assert table["slots"] == 3 + 3 + 0  # 7 -> 3 pieces, 9 -> 3 pieces, nothing else split
    assert all(len(row) == module._LAUNCH_ROW for row in programs)
    covered = {}
    for job, lo, hi, slot, first, count in programs:
        if slot < 0:
            assert (lo, hi) == (0, module._UNBOUNDED) and iterations[job] <= 3 and count == 0
        else:
            assert 0 < hi - lo <= 3
        covered.setdefault(job, []).append((lo, min(hi, int(iterations[job]))))
    for job, spans in covered.items():
        spans.sort()
        assert spans[0][0] == 0 and spans[-1][1] == iterations[job]
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # no gap, no overlap
    assert sorted(covered) == list(range(6))
    weights = [work[j].item() * ((hi - lo) / iterations[j].item() if slot >= 0 else 1)
               for j, lo, hi, slot, _, _ in programs]
    assert weights == sorted(weights, reverse=True)
    for job, _, _, slot, first, count in programs:  # a split job's pieces: slots first .. first + count - 1
        if slot >= 0:
            slots = sorted(row[3] for row in programs if row[0] == job)
            assert slots == list(range(first, first + count)) and count == 3


def test_no_pieces_without_a_gpu_unless_forced():
    module = patternc.load_source("pattern pat() { mask window(1) | global(1) }", "<test>", stem="t")
    iterations = torch.tensor([50, 1, 1, 1])
    table = module._programs(iterations * 4, iterations, torch.device("cpu"))
    assert table["slots"] == 0 and (table["programs"][:, 3] == -1).all()
    assert table["programs"][:, 0].tolist() == [0, 1, 2, 3]  # heaviest first
    with pieces_of(0):
        assert module._programs(iterations * 4, iterations, torch.device("cpu"))["slots"] == 0


def test_counters_are_back_at_zero_after_every_launch():
    # the last piece of a job resets its arrival counter: a second call (the
    # same counters, made once per schedule and stream) must give the same result
    module = patternc.load_source("pattern pat() { mask window(2) | global(3) }", "<test>", stem="t")
    gen = torch.Generator().manual_seed(0)
    q, k, v = (torch.randn(1, 2, 40, 16, generator=gen, requires_grad=True) for _ in range(3))
    with pieces_of(1):
        runs = []
        for _ in range(2):
            out = module.pat(q, k, v)
            out.backward(torch.ones_like(out))
            runs.append([out.detach().clone()] + [t.grad.clone() for t in (q, k, v)])
            for t in (q, k, v):
                t.grad = None
    for a, b in zip(*runs):
        assert torch.equal(a, b)
    counters = [c for plan in module.pat__plans.entries.values()
                for schedule in plan.get("schedules", {}).values() for c in schedule.get("counters", {}).values()]
    assert counters and all(int(c.abs().sum()) == 0 for c in counters)


def test_backward_splits_only_long_jobs():
    # each split costs time on the GPU's tail and scratch: the backward leaves jobs shorter than
    # _BACKWARD_SHORTEST_SPLIT tiles whole, even on a GPU (the check comes
    # before the device is asked how many SMs it has)
    module = patternc.load_source("pattern pat() { mask window(1) | global(1) }", "<test>", stem="t")
    short = torch.tensor([module._BACKWARD_SHORTEST_SPLIT - 1, 1, 1])
    assert module._piece_length(short, torch.device("cuda"), module._BACKWARD_SHORTEST_SPLIT) is None
    with pieces_of(2):  # forced pieces apply everywhere (the tests' way to split small inputs)
        assert module._piece_length(short, torch.device("cuda"), module._BACKWARD_SHORTEST_SPLIT) == 2


@pytest.mark.parametrize("value", ["abc", "-2", "1.5"])
def test_a_bad_piece_setting_is_named(value):
    module = patternc.load_source("pattern pat() { mask window(1) | global(1) }", "<test>", stem="t")
    with pieces_of(value), pytest.raises(ValueError, match="PATTERNC_PIECE"):
        module._piece_length(torch.tensor([5]), torch.device("cpu"))
