"""Block classes against the dense mask: exact (PARTIAL only when a tile mixes),
for random value trees, sizes that are not multiples of the tiles, Q != K, and
tiles of 1 to 64; decided without evaluating pairs wherever the rules can."""
from __future__ import annotations

import time

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patternc import blockrt, ir
from patternc.classify import BlockClasses, classify
from test_blockrt import trees

C = ir.Const


def classes_from_dense(mask, block_q, block_k):
    """Exact classes of a dense mask (G, Q, K), by counting."""
    G, Q, K = mask.shape
    nq, nk = -(-Q // block_q), -(-K // block_k)
    allowed = torch.zeros((G, nq * block_q, nk * block_k), dtype=torch.int64)
    valid = torch.zeros_like(allowed)
    allowed[:, :Q, :K] = mask.to(torch.int64)
    valid[:, :Q, :K] = 1
    some = allowed.view(G, nq, block_q, nk, block_k).sum((2, 4))
    total = valid.view(G, nq, block_q, nk, block_k).sum((2, 4))
    return torch.where(some == 0, blockrt.EMPTY, torch.where(some == total, blockrt.FULL, blockrt.PARTIAL)).to(torch.int8)


def assert_exact(tree, Q, K, heads, block_q, block_k):
    heads = torch.tensor(heads)
    got = blockrt.classify(tree, Q, K, heads, block_q, block_k)
    want = classes_from_dense(blockrt.dense(tree, Q, K, heads)[0], block_q, block_k)
    assert got.dtype == torch.int8
    assert got.shape[0] in (1, len(heads)) and got.shape[1:] == want.shape[1:]
    assert torch.equal(got.expand_as(want), want), (tree, Q, K, block_q, block_k)


tile = st.one_of(st.integers(1, 9), st.integers(10, 64))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(trees(), st.integers(1, 90), st.integers(1, 90), tile, tile,
       st.lists(st.integers(0, 6), min_size=1, max_size=3, unique=True))
def test_classes_are_exact_on_random_trees(tree, Q, K, block_q, block_k, heads):
    assert_exact(tree, Q, K, heads, block_q, block_k)


@pytest.mark.parametrize("tree", [
    ("causal",), ("window", 5, 2), ("window", -2, 6), ("dilated", 3, 1, 4), ("dilated", 2, 2, -3), ("strided", 5),
    ("block", 7), ("block", -6), ("global", 9), ("global_list", (0, 3, 4, 5, 40)), ("prefix", 11),
    ("random", 2, 5), ("blocks", 6, ("random", 3, 1)), ("blocks", 4, ("blocks", 3, ("window", 1, 0))),
    ("blocks", 5, ("global", 2)),
    ("cmp", "<=", ("idx", "j"), ("arith", "-", ("idx", "p"), 7)),
    ("cmp", "==", ("arith", "-", ("idx", "p"), ("idx", "j")), 4),
    ("cmp", ">", ("arith", "-", ("idx", "p"), ("idx", "i")), ("arith", "-", ("size", "K"), ("size", "Q"))),
    ("cmp", "<", ("arith", "*", 2, ("idx", "j")), ("arith", "+", ("idx", "p"), ("idx", "h"))),
    ("or", ("window", 3, 3), ("prefix", 0)), ("and", ("causal",), ("not", ("empty",))),
    ("xor", ("block", 8), ("full",)), ("and", ("global", 100), ("blocks", 3, ("causal",))),
])
@pytest.mark.parametrize("Q,K,bq,bk", [(70, 70, 16, 16), (45, 93, 8, 32), (93, 45, 32, 8), (50, 60, 1, 7)])
def test_rules_decide_without_evaluating_pairs(tree, Q, K, bq, bk, monkeypatch):
    def refuse(*args):
        raise AssertionError("tiles were evaluated pair by pair")

    monkeypatch.setattr(blockrt, "_refine", refuse)
    assert_exact(tree, Q, K, [0, 2], bq, bk)


def test_undecided_tiles_only_are_evaluated(monkeypatch):
    seen = []
    refine = blockrt._refine

    def spy(tree, Q, K, heads, bq, bk, tiles):
        seen.append(tiles.shape[0])
        return refine(tree, Q, K, heads, bq, bk, tiles)

    monkeypatch.setattr(blockrt, "_refine", spy)
    tree = ("and", ("causal",), ("window", 20, 0))  # two PARTIAL sides on the diagonal tiles only
    assert_exact(tree, 640, 640, [0], 64, 64)
    assert seen and seen[0] <= 2 * 10


def test_large_sizes_are_fast_and_not_dense(monkeypatch):
    monkeypatch.setattr(blockrt, "dense", None)
    tree = ("or", ("and", ("causal",), ("window", 4095, 0)), ("or", ("prefix", 4), ("blocks", 64, ("random", 3, 0))))
    start = time.perf_counter()
    classes = blockrt.classify(tree, 131072, 131072, torch.arange(8), 128, 128)
    assert time.perf_counter() - start < 20
    assert classes.shape == (1, 1024, 1024)
    assert int((classes == blockrt.FULL).sum()) > 0


def test_heads_get_rows_only_when_the_mask_mentions_h():
    by_head = ("cmp", "<", ("idx", "j"), ("arith", "*", 8, ("arith", "+", ("idx", "h"), 1)))
    assert blockrt.classify(by_head, 30, 30, torch.tensor([0, 1, 2]), 8, 8).shape == (3, 4, 4)
    assert blockrt.classify(("causal",), 30, 30, torch.tensor([0, 1, 2]), 8, 8).shape == (1, 4, 4)
    assert_exact(by_head, 30, 30, [0, 1, 2], 8, 8)


def test_data_dependent_leaves_are_conservative():
    tree = ("and", ("causal",), ("segments",))
    got = blockrt.classify(tree, 40, 40, [0], 8, 8)[0]
    causal = classes_from_dense(blockrt.dense(("causal",), 40, 40, [0])[0], 8, 8)[0]
    assert torch.equal(got == blockrt.EMPTY, causal == blockrt.EMPTY)
    assert not (got == blockrt.FULL).any()
    assert (blockrt.classify(("or", ("full",), ("buckets", 4, 1, 0)), 20, 20, [0], 8, 8) == blockrt.FULL).all()
    # whatever the segments, a tile's real class agrees with the conservative one
    tree = ("or", ("xor", ("segments",), ("window", 3, 3)), ("prefix", 2))
    got = blockrt.classify(tree, 37, 41, [0], 8, 8)[0]
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        segments = torch.randint(0, 3, (2, 41), generator=gen).sort(dim=1).values
        mask = blockrt.dense(tree, 37, 41, [0], segments=segments)
        for b in range(2):
            real = classes_from_dense(mask[b], 8, 8)[0]
            assert ((got == blockrt.PARTIAL) | (got == real)).all()


def test_empty_sizes_and_bad_tiles():
    assert blockrt.classify(("full",), 0, 10, [0], 4, 4).shape == (1, 0, 3)
    with pytest.raises(ValueError):
        blockrt.classify(("full",), 4, 4, [0], 0, 4)


# ====================================================================== classify(pattern, ...)
def pattern_with_heads():
    """heads 0..2: window(w) | global(1); heads 2..H: j < 8 (h + 1) (per head)."""
    w = ir.Var("w")
    by_head = ir.Compare("<", ir.Index("j"), ir.Arith("*", C(8), ir.Arith("+", ir.Index("h"), C(1))))
    groups = (ir.HeadGroup(C(0), C(2), ir.Or(ir.Window(w, w), ir.Global(C(1)))),
              ir.HeadGroup(C(2), ir.Var("H"), by_head))
    return ir.CheckedPattern("mixed", (ir.Param("w", "int", 4),), groups)


def test_classify_pattern_rows_and_helpers():
    pattern = pattern_with_heads()
    result = classify(pattern, 40, 48, 4, {"w": 3}, 8, 16)
    assert isinstance(result, BlockClasses)
    assert result.classes.shape == (3, 5, 3)
    assert result.head_row.tolist() == [0, 0, 1, 2]
    from patternc.semantics import dense_mask
    mask = dense_mask(pattern, 40, 48, 4, {"w": 3})[0]
    assert torch.equal(result.per_head(), classes_from_dense(mask, 8, 16))
    assert torch.equal(result.for_head(3), result.classes[2])
    counts = result.counts()
    assert sum(counts.values()) == 4 * 5 * 3
    assert result.density() == (counts["partial"] + counts["full"]) / 60
    picture = result.to_string()
    assert "heads 0..2" in picture and "heads 2" in picture and "heads 3" in picture
    assert set(picture.splitlines()[1]) <= {"#", "+", "."} and len(picture.splitlines()[1]) == 3


def test_classify_pattern_checks_params():
    with pytest.raises(TypeError):
        classify(pattern_with_heads(), 10, 10, 4, {"nope": 1}, 8, 8)
