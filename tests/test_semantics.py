"""Lowering to value trees, the dense mask of whole patterns (head groups,
params) and the float64 reference attention against a naive loop."""
from __future__ import annotations

import math

import pytest
import torch

from patternc import ir
from patternc.lower import group_trees, to_tree
from patternc.semantics import dense_mask, masked_attention, reference_attention

C, V, I = ir.Const, ir.Var, ir.Index


def one_group(mask, modifiers=()):
    return (ir.HeadGroup(C(0), V("H"), mask, tuple(modifiers)),)


def pattern(mask, params=(), modifiers=()):
    return ir.CheckedPattern("pat", tuple(params), one_group(mask, modifiers))


# ====================================================================== lowering
def test_primitives_lower_with_static_values_folded():
    env = {"w": 5, "g": 2, "Q": 10, "K": 12, "H": 2, "D": None}
    mask = ir.Or(ir.Window(V("w"), ir.Arith("//", V("w"), C(2))), ir.Global(ir.Arith("+", V("g"), C(1))))
    assert to_tree(mask, env) == ("or", ("window", 5, 2), ("global", 3))
    assert to_tree(ir.Dilated(C(1), C(2), C(3)), env) == ("dilated", 1, 2, 3)
    assert to_tree(ir.KeyPrefix(C(4), "sink"), env) == ("prefix", 4)
    assert to_tree(ir.GlobalList((C(1), V("g"))), env) == ("global_list", (1, 2))
    assert to_tree(ir.Not(ir.Xor(ir.Causal(), ir.Segments())), env) == ("not", ("xor", ("causal",), ("segments",)))
    assert to_tree(ir.Buckets(C(4), C(2), C(9)), env) == ("buckets", 4, 2, 9)
    assert to_tree(ir.And(ir.Full(), ir.Empty()), env) == ("and", ("full",), ("empty",))


def test_predicates_keep_indices_and_fold_static_parts():
    env = {"w": 5, "Q": 10, "K": 12, "H": 2, "D": None}
    pred = ir.Compare("<=", ir.Abs(ir.Arith("-", I("p"), I("j"))), ir.Arith("*", V("w"), C(2)))
    assert to_tree(pred, env) == ("cmp", "<=", ("abs", ("arith", "-", ("idx", "p"), ("idx", "j"))), 10)
    assert to_tree(ir.Compare("<", V("w"), V("K")), env) == ("full",)
    assert to_tree(ir.Compare(">", V("w"), V("K")), env) == ("empty",)
    assert to_tree(ir.Compare("==", ir.Neg(I("h")), C(-1)), env) == ("cmp", "==", ("neg", ("idx", "h")), -1)


def test_sizes_inside_blocks_are_numbers_of_blocks():
    env = {"Q": 10, "K": 23, "H": 1, "D": None}
    last = ir.Compare(">=", I("j"), ir.Arith("-", V("K"), C(1)))
    inner = ir.BlockMap(C(2), ir.Or(last, ir.Random(C(1), C(3))))
    tree = to_tree(ir.BlockMap(C(4), ir.And(inner, ir.Compare("<", I("p"), V("Q")))), env)
    # K: 23 tokens -> 6 blocks of 4 -> 3 blocks of 2; Q: 10 -> 3
    assert tree == ("blocks", 4, ("and", ("blocks", 2, ("or", ("cmp", ">=", ("idx", "j"), 2), ("random", 1, 3))),
                                  ("cmp", "<", ("idx", "p"), 3)))
    with pytest.raises(ValueError):
        to_tree(ir.BlockMap(C(0), ir.Full()), env)


def test_group_trees_evaluate_the_head_ranges():
    groups = (ir.HeadGroup(C(0), ir.Arith("//", V("H"), C(2)), ir.Causal()),
              ir.HeadGroup(ir.Arith("//", V("H"), C(2)), V("H"), ir.Full()))
    pat = ir.CheckedPattern("pat", (), groups)
    assert group_trees(pat, {"H": 6, "Q": 1, "K": 1, "D": None}) == [(0, 3, ("causal",)), (3, 6, ("full",))]


# ====================================================================== dense masks of patterns
def test_dense_mask_combines_head_groups_and_params():
    by_head = ir.Compare("<", I("j"), ir.Arith("+", I("h"), V("w")))
    groups = (ir.HeadGroup(C(0), C(1), ir.Window(V("w"), C(0))),
              ir.HeadGroup(C(1), V("H"), by_head))
    pat = ir.CheckedPattern("pat", (ir.Param("w", "int", 2),), groups)
    Q, K, H = 6, 9, 3
    for params, w in (({}, 2), ({"w": 4}, 4)):
        mask = dense_mask(pat, Q, K, H, params)
        assert mask.shape == (1, H, Q, K)
        for h in range(H):
            for i in range(Q):
                p = i + K - Q
                for j in range(K):
                    want = (p - w <= j <= p) if h == 0 else j < h + w
                    assert bool(mask[0, h, i, j]) == want
    with pytest.raises(TypeError):
        dense_mask(pat, Q, K, H, {"x": 1})
    with pytest.raises(ValueError):  # heads 0..1 and 1..H do not cover 0..H when H = 0
        dense_mask(pat, Q, K, 0)


def test_dense_mask_with_segments_is_per_batch():
    pat = pattern(ir.And(ir.Causal(), ir.Segments()))
    segments = torch.tensor([[0, 0, 1, 1], [0, 1, 1, 1]])
    mask = dense_mask(pat, 4, 4, 2, segments=segments)
    assert mask.shape == (2, 2, 4, 4)
    assert not mask[0, 0, 2, 1] and mask[1, 0, 2, 1]


# ====================================================================== attention
def naive_attention(q, k, v, allowed, scale, modifiers=(), H=None):
    """A loop over rows and keys, straight from LANGUAGE.md."""
    B, Hq, Q, D = q.shape
    K, group = k.shape[2], q.shape[1] // k.shape[1]
    out = torch.zeros((B, Hq, Q, D), dtype=torch.float64)
    lse = torch.full((B, Hq, Q), float("-inf"), dtype=torch.float64)
    for b in range(B):
        for h in range(Hq):
            for i in range(Q):
                p = i + K - Q
                scores = {}
                for j in range(K):
                    if not allowed(b, h, i, j):
                        continue
                    s = float(q[b, h, i] @ k[b, h // group, j]) * scale
                    for kind, arg in modifiers:
                        if kind == "alibi":
                            s -= 2 ** (-8 * (h + 1) / Hq) * abs(p - j)
                        elif kind == "decay":
                            s += abs(p - j) * math.log(arg)
                        else:
                            s = arg * math.tanh(s / arg)
                    scores[j] = s
                if not scores:
                    continue
                top = max(scores.values())
                total = sum(math.exp(s - top) for s in scores.values())
                lse[b, h, i] = top + math.log(total)
                for j, s in scores.items():
                    out[b, h, i] += math.exp(s - top) / total * v[b, h // group, j].double()
    return out, lse


def random_qkv(B, H, H_kv, Q, K, D, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(shape, generator=gen, dtype=torch.float64)
                 for shape in ((B, H, Q, D), (B, H_kv, K, D), (B, H_kv, K, D)))


@pytest.mark.parametrize("Q,K", [(7, 7), (5, 9), (9, 5)])
def test_reference_attention_matches_a_naive_loop(Q, K):
    mods = (ir.Modifier("alibi"), ir.Modifier("decay", V("g")), ir.Modifier("softcap", C(2.5)))
    pat = pattern(ir.Or(ir.And(ir.Causal(), ir.Window(C(3), C(0))), ir.KeyPrefix(C(1))),
                  (ir.Param("g", "float", 0.8),), mods)
    q, k, v = random_qkv(2, 4, 2, Q, K, 8)
    out, lse = reference_attention(pat, q, k, v, params={"g": 0.7})
    mask = dense_mask(pat, Q, K, 4)

    def allowed(b, h, i, j):
        return bool(mask[0, h, i, j])

    want_out, want_lse = naive_attention(q, k, v, allowed, 1 / math.sqrt(8),
                                         (("alibi", None), ("decay", 0.7), ("softcap", 2.5)))
    torch.testing.assert_close(out, want_out)
    torch.testing.assert_close(lse, want_lse)


def test_modifiers_follow_head_groups():
    groups = (ir.HeadGroup(C(0), C(1), ir.Full(), (ir.Modifier("softcap", C(1.0)),)),
              ir.HeadGroup(C(1), V("H"), ir.Causal()))
    pat = ir.CheckedPattern("pat", (), groups)
    q, k, v = random_qkv(1, 2, 2, 4, 6, 4, seed=3)
    out, lse = reference_attention(pat, q, k, v, scale=0.3)
    first, first_lse = naive_attention(q[:, :1], k[:, :1], v[:, :1], lambda b, h, i, j: True, 0.3,
                                       (("softcap", 1.0),))
    second, _ = naive_attention(q[:, 1:], k[:, 1:], v[:, 1:], lambda b, h, i, j: j <= i + 2, 0.3)
    torch.testing.assert_close(out[:, :1], first)
    torch.testing.assert_close(lse[:, :1], first_lse)
    torch.testing.assert_close(out[:, 1:], second)


def test_rows_with_nothing_allowed_give_zeros_and_minus_inf():
    pat = pattern(ir.And(ir.Causal(), ir.Compare("<", I("j"), ir.Arith("-", I("p"), C(4)))),
                  modifiers=(ir.Modifier("alibi"),))
    q, k, v = random_qkv(1, 2, 1, 6, 6, 4)
    out, lse = reference_attention(pat, q, k, v)
    assert not torch.isnan(out).any() and not torch.isnan(lse).any()
    assert torch.all(out[:, :, :5] == 0) and torch.all(lse[:, :, :5] == float("-inf"))  # j < p - 4
    assert torch.isfinite(lse[:, :, 5:]).all()
    nothing = masked_attention(q, k, v, torch.zeros(1, 1, 6, 6, dtype=torch.bool))
    assert torch.all(nothing[0] == 0) and torch.all(nothing[1] == float("-inf"))


def test_masked_attention_equals_softmax_attention_when_full():
    q, k, v = random_qkv(2, 2, 2, 5, 7, 8, seed=1)
    out, lse = masked_attention(q, k, v, torch.ones(1, 1, 5, 7, dtype=torch.bool), scale=0.5)
    scores = q @ k.transpose(-1, -2) * 0.5
    torch.testing.assert_close(out, torch.softmax(scores, -1) @ v)
    torch.testing.assert_close(lse, torch.logsumexp(scores, -1))


# ====================================================================== from source (LANGUAGE.md examples)
LANGUAGE_EXAMPLES = """
pattern streaming(w: int = 6, sinks: int = 2) {
    mask causal & (window(w, 0) | sink(sinks))
}
pattern natten2d(w: int = 8, k: int = 3) {
    let r = k // 2
    mask abs(min(max(p // w, r), K // w - 1 - r) - j // w) <= r
       & abs(min(max(p % w, r), w - 1 - r) - j % w) <= r
}
pattern fixed(b: int = 8, c: int = 2) {
    mask causal & (block(b) | (j % b >= b - c))
}
"""

FORMULAS = {
    "streaming": lambda p, j, K: j <= p and (p - 6 <= j <= p or j < 2),
    "natten2d": lambda p, j, K: (abs(min(max(p // 8, 1), K // 8 - 2) - j // 8) <= 1
                                 and abs(min(max(p % 8, 1), 6) - j % 8) <= 1),
    "fixed": lambda p, j, K: j <= p and (p // 8 == j // 8 or j % 8 >= 6),
}


def test_language_examples_from_source():
    try:
        from patternc.pipeline import check_source
        patterns = check_source(LANGUAGE_EXAMPLES)
    except Exception as error:  # the front end is written alongside this module
        pytest.skip(f"front end not ready: {type(error).__name__}")
    for pat in patterns:
        for Q, K in ((64, 64), (40, 64)):
            mask = dense_mask(pat, Q, K, 1)[0, 0]
            for i in range(Q):
                for j in range(K):
                    assert bool(mask[i, j]) == FORMULAS[pat.name](i + K - Q, j, K), (pat.name, i, j)
