"""blockrt against LANGUAGE.md: every value-tree node's dense mask against a
literal Python loop of its formula; the seeded draws; the kernel tables.
The tree strategy here is shared with test_classify.py."""
from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patternc import blockrt

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))


# ====================================================================== the formulas, in Python ints
def py_int(x, env):
    if isinstance(x, int):
        return x
    tag = x[0]
    if tag in ("idx", "size"):
        return env[x[1]]
    if tag == "neg":
        return -py_int(x[1], env)
    if tag == "abs":
        return abs(py_int(x[1], env))
    a, b = py_int(x[2], env), py_int(x[3], env)
    return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "//": lambda: a // b,
            "%": lambda: a % b, "min": lambda: min(a, b), "max": lambda: max(a, b)}[x[1]]()


def py_allowed(t, env, tables=None):
    """Is the pair allowed, by LANGUAGE.md (env: i, p, j, h, Q, K)."""
    tag, p, j = t[0], env["p"], env["j"]
    if tag == "full":
        return True
    if tag == "empty":
        return False
    if tag == "causal":
        return j <= p
    if tag == "window":
        return p - t[1] <= j <= p + t[2]
    if tag == "dilated":
        left, right, d = t[1:]
        return p - left * d <= j <= p + right * d and (p - j) % d == 0
    if tag == "strided":
        return (p - j) % t[1] == 0
    if tag == "block":
        return p // t[1] == j // t[1]
    if tag == "global":
        return p < t[1] or j < t[1]
    if tag == "global_list":
        return p in t[1] or j in t[1]
    if tag == "prefix":
        return j < t[1]
    if tag == "random":
        n = env["K"]
        rows = blockrt.random_table(t[1], t[2], n, n).tolist()
        return 0 <= p < n and j in rows[p]
    if tag == "blocks":
        b = t[1]
        inner = {"i": env["i"] // b, "p": p // b, "j": j // b, "h": env["h"],
                 "Q": -(-env["Q"] // b), "K": -(-env["K"] // b)}
        return py_allowed(t[2], inner)
    if tag == "not":
        return not py_allowed(t[1], env)
    if tag in ("and", "or", "xor"):
        a, b = py_allowed(t[1], env), py_allowed(t[2], env)
        return {"and": a and b, "or": a or b, "xor": a != b}[tag]
    if tag == "cmp":
        a, b = py_int(t[2], env), py_int(t[3], env)
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[t[1]]
    raise AssertionError(tag)


def py_dense(tree, Q, K, heads):
    out = torch.zeros((len(heads), Q, K), dtype=torch.bool)
    for hi, h in enumerate(heads):
        for i in range(Q):
            for j in range(K):
                out[hi, i, j] = py_allowed(tree, {"i": i, "p": i + K - Q, "j": j, "h": h, "Q": Q, "K": K})
    return out


def assert_dense_matches(tree, Q, K, heads=(0,)):
    got = blockrt.dense(tree, Q, K, torch.tensor(heads))
    assert got.shape == (1, len(heads), Q, K)
    assert torch.equal(got[0], py_dense(tree, Q, K, heads)), tree


# ====================================================================== trees (shared with test_classify)
small = st.integers(-3, 14)
nonzero = st.integers(-5, 6).filter(lambda n: n != 0)


@st.composite
def int_exprs(draw, depth=0):
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(st.one_of(
            st.sampled_from([("idx", "i"), ("idx", "p"), ("idx", "j"), ("idx", "h"),
                             ("size", "Q"), ("size", "K")]),
            st.integers(-20, 40)))
    op = draw(st.sampled_from(["+", "-", "*", "//", "%", "min", "max", "neg", "abs"]))
    a = draw(int_exprs(depth=depth + 1))
    if op in ("neg", "abs"):
        return (op, a)
    if op in ("//", "%"):
        # a divisor that is never 0: a constant, or +-(abs(x) + c) with c >= 1
        divisor = draw(st.one_of(nonzero, st.tuples(st.just("arith"), st.just("+"),
                                                    st.tuples(st.just("abs"), int_exprs(depth=depth + 1)),
                                                    st.integers(1, 4))))
        if not isinstance(divisor, int) and draw(st.booleans()):
            divisor = ("neg", divisor)
        return ("arith", op, a, divisor)
    if op == "*":
        return ("arith", op, a, draw(st.integers(-3, 3)) if draw(st.booleans()) else draw(int_exprs(depth=2)))
    return ("arith", op, a, draw(int_exprs(depth=depth + 1)))


@st.composite
def primitives(draw, in_blocks=0):
    kind = draw(st.sampled_from(["full", "empty", "causal", "window", "dilated", "strided", "block", "global",
                                 "global_list", "prefix", "cmp", "cmp", "random", "blocks"]))
    if kind in ("full", "empty", "causal"):
        return (kind,)
    if kind == "window":
        return ("window", draw(small), draw(small))
    if kind == "dilated":
        return ("dilated", draw(small), draw(small), draw(nonzero))
    if kind == "strided":
        return ("strided", draw(nonzero))
    if kind == "block":
        return ("block", draw(st.integers(-4, 9).filter(lambda n: n != 0)))
    if kind in ("global", "prefix"):
        return (kind, draw(st.integers(-2, 30)))
    if kind == "global_list":
        return ("global_list", tuple(draw(st.lists(st.integers(-3, 60), max_size=4))))
    if kind == "cmp":
        op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
        return ("cmp", op, draw(int_exprs()), draw(int_exprs()))
    if kind == "random":
        return ("random", draw(st.integers(0, 4)), draw(st.integers(-5, 99)))
    if in_blocks >= 2:
        return ("causal",)
    return ("blocks", draw(st.integers(1, 9)), draw(trees(depth=1, in_blocks=in_blocks + 1)))


@st.composite
def trees(draw, depth=0, in_blocks=0):
    if depth >= 3 or draw(st.integers(0, 2)) == 0:
        return draw(primitives(in_blocks))
    op = draw(st.sampled_from(["not", "and", "or", "xor", "and", "or"]))
    a = draw(trees(depth + 1, in_blocks))
    if op == "not":
        return ("not", a)
    return (op, a, draw(trees(depth + 1, in_blocks)))


# ====================================================================== dense
@pytest.mark.parametrize("tree", [
    ("full",), ("empty",), ("causal",), ("window", 2, 2), ("window", 3, 0), ("window", 0, 4),
    ("dilated", 2, 2, 3), ("dilated", 1, 3, 2), ("strided", 3), ("block", 4), ("global", 3),
    ("global_list", (0, 5, 11)), ("prefix", 4), ("blocks", 3, ("random", 2, 7)),
])
@pytest.mark.parametrize("Q,K", [(7, 7), (5, 13), (13, 5), (1, 9), (9, 1)])
def test_each_primitive_matches_its_formula(tree, Q, K):
    assert_dense_matches(tree, Q, K)


@pytest.mark.parametrize("tree", [
    ("cmp", "==", ("arith", "//", ("arith", "-", ("idx", "j"), ("idx", "p")), 3), -1),
    ("cmp", "==", ("arith", "%", ("arith", "-", ("idx", "j"), ("idx", "p")), -3), -2),
    ("cmp", "<", ("arith", "//", ("idx", "p"), -2), ("arith", "%", ("neg", ("idx", "j")), 4)),
    ("cmp", "==", ("arith", "%", ("idx", "p"), 5), ("arith", "//", ("idx", "j"), ("neg", 2))),
    ("cmp", "<=", ("abs", ("arith", "min", ("idx", "p"), ("arith", "-", ("idx", "j"), 9))),
     ("arith", "max", 2, ("idx", "h"))),
])
def test_predicates_with_negative_floor_division_and_modulo(tree):
    # Q > K makes p negative too
    for Q, K in ((11, 6), (6, 11)):
        assert_dense_matches(tree, Q, K, heads=(0, 3))


def test_blocks_and_nested_blocks():
    causal_blocks = ("blocks", 4, ("causal",))
    got = blockrt.dense(causal_blocks, 10, 10, [0])[0, 0]
    want = torch.tensor([[j // 4 <= i // 4 for j in range(10)] for i in range(10)])
    assert torch.equal(got, want)
    nested = ("blocks", 2, ("or", ("blocks", 3, ("window", 0, 0)),
                            ("cmp", ">=", ("idx", "j"), ("arith", "-", ("size", "K"), 1))))
    for Q, K in ((17, 23), (23, 17), (1, 30)):
        assert_dense_matches(nested, Q, K)
    # inside blocks i and p are block indices: i // b and p // b differ when b does not divide K - Q
    by_row = ("blocks", 3, ("cmp", "==", ("idx", "i"), ("arith", "-", ("idx", "p"), 1)))
    assert_dense_matches(by_row, 10, 14)


@SETTINGS
@given(trees(), st.integers(1, 18), st.integers(1, 18), st.lists(st.integers(0, 5), min_size=1, max_size=2))
def test_random_trees_match_the_formulas(tree, Q, K, heads):
    assert_dense_matches(tree, Q, K, tuple(heads))


def test_empty_sizes():
    assert blockrt.dense(("causal",), 0, 5, [0, 1]).shape == (1, 2, 0, 5)
    assert blockrt.dense(("causal",), 5, 0, [0]).shape == (1, 1, 5, 0)


def test_segments():
    segments = torch.tensor([[0, 0, 1, 1, 1, 2, 2], [5, 5, 5, 5, 6, 6, 6]])
    for Q in (7, 4, 9):
        got = blockrt.dense(("and", ("causal",), ("segments",)), Q, 7, [0, 1], segments=segments)
        assert got.shape == (2, 2, Q, 7)
        for b in range(2):
            for i in range(Q):
                p = i + 7 - Q
                for j in range(7):
                    want = 0 <= p and j <= p and bool(segments[b, p] == segments[b, j])
                    assert bool(got[b, 1, i, j]) == want
    with pytest.raises(ValueError, match="segments"):
        blockrt.dense(("segments",), 3, 7, [0])


def test_buckets_follow_the_hash_formula_with_grouped_heads():
    gen = torch.Generator().manual_seed(1)
    B, H, H_kv, Q, K, D, n, rounds = 2, 4, 2, 5, 6, 8, 4, 2
    q = torch.randn(B, H, Q, D, generator=gen, dtype=torch.float64)
    k = torch.randn(B, H_kv, K, D, generator=gen, dtype=torch.float64)
    rot = torch.randn(rounds, D, n // 2, generator=gen, dtype=torch.float64)
    heads = [1, 3]
    got = blockrt.dense(("buckets", n, rounds, 0), Q, K, heads, q=q, k=k, rotations=rot)
    assert got.shape == (B, 2, Q, K)

    def hash_(x, r):
        y = x @ rot[r]
        return int(torch.argmax(torch.cat([y, -y])))

    for b in range(B):
        for hi, h in enumerate(heads):
            for i in range(Q):
                for j in range(K):
                    want = any(hash_(q[b, h, i], r) == hash_(k[b, h // 2, j], r) for r in range(rounds))
                    assert bool(got[b, hi, i, j]) == want
    # without rotations they are drawn from the seed, deterministically
    first = blockrt.dense(("buckets", n, rounds, 5), Q, K, heads, q=q, k=k)
    again = blockrt.dense(("buckets", n, rounds, 5), Q, K, heads, q=q, k=k,
                          rotations=blockrt.make_rotations(rounds, D, n, 5))
    assert torch.equal(first, again)
    # or the hashes are given (the generated module passes the kernels' own): the same mask
    projected = torch.einsum("bhld,rde->rbhle", q, rot)
    query = torch.cat([projected, -projected], -1).argmax(-1)
    projected = torch.einsum("bhld,rde->rbhle", k, rot)
    key = torch.cat([projected, -projected], -1).argmax(-1)
    assert torch.equal(blockrt.dense(("buckets", n, rounds, 0), Q, K, heads, hashes=(query, key)), got)
    with pytest.raises(ValueError, match="hashes must have 3 rounds, got 2 and 2"):
        blockrt.dense(("buckets", n, 3, 0), Q, K, heads, hashes=(query, key))


def test_division_by_zero_raises():
    with pytest.raises(ZeroDivisionError):
        blockrt.dense(("strided", 0), 3, 3, [0])
    with pytest.raises(ZeroDivisionError):
        blockrt.dense(("cmp", "==", ("arith", "%", ("idx", "p"), ("idx", "j")), 0), 3, 3, [0])


# ====================================================================== random_table
def py_mix32(x):
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def py_random_table(r, seed, rows, cols):
    base = py_mix32(seed % 2**32)
    table = []
    for q in range(rows):
        row = py_mix32(base ^ q)
        scored = sorted(range(cols), key=lambda c: py_mix32(row ^ c))
        table.append(sorted(scored[:max(0, min(r, cols))]))
    return table


@pytest.mark.parametrize("r,seed,rows,cols", [(3, 0, 5, 9), (2, 12345, 7, 7), (4, -7, 3, 4), (9, 1, 4, 6),
                                              (0, 3, 4, 4), (1, 2**40 + 3, 2, 50)])
def test_random_table_is_the_documented_hash(r, seed, rows, cols):
    table = blockrt.random_table(r, seed, rows, cols)
    assert table.dtype == torch.int64 and table.shape == (rows, max(0, min(r, cols)))
    assert table.tolist() == py_random_table(r, seed, rows, cols)


def test_random_table_rows_are_distinct_sorted_and_deterministic():
    table = blockrt.random_table(5, 42, 64, 40)
    assert torch.equal(table, blockrt.random_table(5, 42, 64, 40))
    for row in table.tolist():
        assert len(set(row)) == 5 and row == sorted(row) and all(0 <= c < 40 for c in row)
    assert not torch.equal(table, blockrt.random_table(5, 43, 64, 40))
    # pinned: the draw is part of the API, it must not change by accident
    assert blockrt.random_table(2, 0, 3, 6).tolist() == py_random_table(2, 0, 3, 6)
    assert blockrt.random_table(2, 0, 3, 6).tolist() == [[0, 3], [0, 4], [1, 5]]


# ====================================================================== block_tables
@SETTINGS
@given(st.integers(1, 3), st.integers(0, 6), st.integers(0, 6), st.data())
def test_block_tables_list_the_classes(G, nq, nk, data):
    values = data.draw(st.lists(st.sampled_from([0, 1, 2]), min_size=G * nq * nk, max_size=G * nq * nk))
    classes = torch.tensor(values, dtype=torch.int8).view(G, nq, nk)
    tables = blockrt.block_tables(classes)
    assert all(t.dtype == torch.int32 for t in tables.values())
    for kind, value in (("full", blockrt.FULL), ("partial", blockrt.PARTIAL)):
        count, index = tables[f"{kind}_count"], tables[f"{kind}_index"]
        t_count, t_index = tables[f"t_{kind}_count"], tables[f"t_{kind}_index"]
        assert count.shape == (G, nq) and t_count.shape == (G, nk)
        assert index.shape[:2] == (G, nq) and index.shape[2] == max(1, int(count.max()) if count.numel() else 0)
        assert t_index.shape[:2] == (G, nk)
        for g in range(G):
            for m in range(nq):
                listed = index[g, m, :count[g, m]].tolist()
                assert listed == [n for n in range(nk) if classes[g, m, n] == value]
                assert index[g, m, count[g, m]:].eq(0).all()
            for n in range(nk):
                listed = t_index[g, n, :t_count[g, n]].tolist()
                assert listed == [m for m in range(nq) if classes[g, m, n] == value]


def test_module_imports_only_torch_and_math():
    import inspect
    lines = inspect.getsource(blockrt).splitlines()
    imports = [ln for ln in lines if ln.startswith(("import ", "from "))]
    assert imports == ["import torch"]  # the generated module imports torch and math itself
    assert not any(ln.lstrip().startswith(("import ", "from ")) for ln in lines if ln.startswith(" "))
