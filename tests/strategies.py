"""Hypothesis strategies for `patternc.syntax` trees: syntactically valid (the
parser could have built them), not necessarily meaningful to the checker.

    files()            File of 1-3 patterns
    patterns()         Pattern with params and a body of statements
    statements()       let / mask / require / score / heads / tile
    exprs()            any expression (ints, floats, names, calls, lists, blocks, operators)
    int_exprs()        integer arithmetic over indices, sizes and literals
    mask_exprs()       primitives (calls and names), predicates, combinators, blocks

Trees carry no spans (`==` ignores spans). Literals are never negative: the
parser reads `-3` as `Unary('-', IntLit(3))`, and so do these strategies.
"""
from __future__ import annotations

from functools import lru_cache

from hypothesis import strategies as st

from patternc import syntax

# small alphabets, none of them keywords
INDEX_NAMES = ("i", "p", "j", "h")
SIZE_NAMES = ("Q", "K", "N", "H", "D")
USER_NAMES = ("w", "g", "r", "b", "x", "n_2", "_tmp", "Width")
MASK_NAMES = ("full", "none", "causal", "segments")
MODIFIER_NAMES = ("alibi",)
PRIMITIVES = ("window", "dilated", "strided", "block", "global", "sink", "prefix", "random", "buckets")
INT_FUNCS = ("min", "max", "abs")
KWARG_NAMES = ("seed", "rounds")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
ARITHMETIC = ("+", "-", "*", "//", "%")
COMBINATORS = ("|", "&", "-")

int_lits = st.one_of(st.integers(0, 300), st.integers(0, 10 ** 40)).map(syntax.IntLit)
float_lits = (st.floats(min_value=0, allow_nan=False, allow_infinity=False)
              .map(lambda v: syntax.FloatLit(abs(v))))
names = st.sampled_from(INDEX_NAMES + SIZE_NAMES + USER_NAMES + MASK_NAMES + MODIFIER_NAMES).map(syntax.Name)
user_names = st.sampled_from(USER_NAMES)


def _named(build):
    """A strategy that shows as `name(args)` (not its whole nested definition, which
    hypothesis warns about), built once per arguments."""
    cached = lru_cache(maxsize=None)(build)

    def strategy(draw, *args):
        return draw(cached(*args))

    strategy.__name__ = strategy.__qualname__ = build.__name__
    strategy.__doc__ = build.__doc__
    return st.composite(strategy)


@_named
def int_exprs(max_leaves: int = 8):
    leaves = st.one_of(int_lits, st.sampled_from(INDEX_NAMES + SIZE_NAMES + USER_NAMES).map(syntax.Name))

    def extend(inner):
        return st.one_of(
            st.builds(syntax.Binary, st.sampled_from(ARITHMETIC), inner, inner),
            st.builds(syntax.Unary, st.just("-"), inner),
            st.builds(lambda f, a, b: syntax.Call(f, (a,) if f == "abs" else (a, b)),
                      st.sampled_from(INT_FUNCS), inner, inner),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@st.composite
def _keywords(draw, values):
    chosen = draw(st.lists(st.sampled_from(KWARG_NAMES), max_size=2, unique=True))
    return tuple(syntax.Keyword(name, draw(values)) for name in chosen)


@_named
def primitive_calls():
    args = int_exprs(3)
    lists = st.lists(int_lits, min_size=1, max_size=4).map(lambda items: syntax.ListLit(tuple(items)))
    return st.builds(syntax.Call, st.sampled_from(PRIMITIVES),
                     st.lists(st.one_of(args, lists), min_size=1, max_size=3).map(tuple), _keywords(int_lits))


@_named
def predicates():
    return st.builds(syntax.Binary, st.sampled_from(COMPARISONS), int_exprs(4), int_exprs(4))


@_named
def mask_exprs(max_leaves: int = 8):
    leaves = st.one_of(st.sampled_from(MASK_NAMES).map(syntax.Name), primitive_calls(), predicates())

    def extend(inner):
        return st.one_of(
            st.builds(syntax.Binary, st.sampled_from(COMBINATORS), inner, inner),
            st.builds(syntax.Unary, st.just("!"), inner),
            st.builds(syntax.Blocks, int_exprs(2), inner),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@_named
def exprs(max_leaves: int = 10):
    """Any expression the grammar allows, operators mixed freely across kinds."""
    leaves = st.one_of(int_lits, float_lits, names)

    def extend(inner):
        return st.one_of(
            st.builds(syntax.Binary, st.sampled_from(COMPARISONS + ARITHMETIC + ("|", "&")), inner, inner),
            st.builds(syntax.Unary, st.sampled_from(["-", "!"]), inner),
            st.builds(syntax.Call, st.sampled_from(PRIMITIVES + INT_FUNCS + ("decay", "f")),
                      st.lists(inner, max_size=3).map(tuple), _keywords(inner)),
            st.lists(inner, max_size=3).map(lambda items: syntax.ListLit(tuple(items))),
            st.builds(syntax.Blocks, inner, inner),
        )

    return st.recursive(leaves, extend, max_leaves=max_leaves)


@_named
def modifiers():
    return st.one_of(
        st.just(syntax.Name("alibi")),
        st.builds(lambda v: syntax.Call("decay", (v,)), float_lits),
        st.builds(lambda v: syntax.Call("softcap", (v,)), st.one_of(float_lits, int_lits)),
    )


@_named
def simple_statements():
    any_expr = st.one_of(mask_exprs(), exprs(6))
    return st.one_of(
        st.builds(syntax.Let, user_names, st.one_of(int_exprs(), mask_exprs())),
        st.builds(syntax.Mask, any_expr),
        st.builds(syntax.Require, st.one_of(predicates(), exprs(4))),
        st.builds(syntax.Score, st.lists(modifiers(), min_size=1, max_size=3).map(tuple)),
        st.builds(syntax.Tile, st.lists(st.builds(syntax.Keyword, st.sampled_from(["q", "kv"]),
                                                  st.sampled_from([16, 32, 64, 128]).map(syntax.IntLit)),
                                        min_size=1, max_size=2, unique_by=lambda k: k.name).map(tuple)),
    )


@_named
def statements(depth: int = 1):
    """A statement; `heads` blocks nest up to `depth` levels."""
    if depth <= 0:
        return simple_statements()
    heads = st.builds(syntax.Heads, int_exprs(2), int_exprs(2),
                      st.lists(statements(depth - 1), max_size=3).map(tuple))
    return st.one_of(simple_statements(), heads)


@_named
def params():
    return st.builds(syntax.Param, user_names, st.sampled_from(["int", "float"]),
                     st.one_of(st.none(), int_lits, float_lits,
                               int_lits.map(lambda v: syntax.Unary("-", v)), int_exprs(3)))


@_named
def patterns():
    return st.builds(syntax.Pattern, st.sampled_from(["longformer", "p1", "bigbird", "_x", "Mixed_Case"]),
                     st.lists(params(), max_size=3, unique_by=lambda p: p.name).map(tuple),
                     st.lists(statements(), max_size=5).map(tuple))


@_named
def files():
    return st.lists(patterns(), min_size=1, max_size=3).map(lambda ps: syntax.File(tuple(ps)))
