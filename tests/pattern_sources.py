"""Hypothesis strategies that write random `.attn` patterns as source text:
primitives, combinators, predicates, blocks, heads groups and score modifiers,
with small parameters so that every construct matters at sizes up to ~200."""
from __future__ import annotations

from hypothesis import strategies as st

small = st.integers(min_value=0, max_value=12)
positive = st.integers(min_value=1, max_value=9)

int_atoms = st.sampled_from(["p", "j", "i", "p - j", "j - p", "p + j", "Q", "K", "h"])


@st.composite
def int_expr(draw, depth=0):
    if depth >= 2 or draw(st.booleans()):
        return draw(st.one_of(int_atoms, small.map(str)))
    op = draw(st.sampled_from(["+", "-", "*", "//", "%", "min", "max", "abs"]))
    a, b = draw(int_expr(depth + 1)), draw(int_expr(depth + 1))
    if op == "abs":
        return f"abs({a})"
    if op in ("min", "max"):
        return f"{op}({a}, {b})"
    if op in ("//", "%", "*"):
        # a literal right operand: no division by zero, and products stay far
        # from the kernels' 32-bit index arithmetic limits
        return f"({a}) {op} {draw(positive)}"
    return f"({a}) {op} ({b})"


@st.composite
def predicate(draw):
    a, b = draw(int_expr()), draw(int_expr())
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    return f"{a} {op} {b}"


@st.composite
def primitive(draw, inside_blocks=False):
    choices = ["full", "none", "causal", "window1", "window2", "dilated2", "dilated3", "strided", "block",
               "global", "global_list", "sink", "prefix", "predicate"]
    choices += ["random_in"] if inside_blocks else ["random_out", "blocks"]
    kind = draw(st.sampled_from(choices))
    n = draw(small)
    if kind in ("full", "none", "causal"):
        return kind
    if kind == "window1":
        return f"window({n})"
    if kind == "window2":
        return f"window({n}, {draw(small)})"
    if kind == "dilated2":
        return f"dilated({n}, {draw(positive)})"
    if kind == "dilated3":
        return f"dilated({n}, {draw(small)}, {draw(positive)})"
    if kind == "strided":
        return f"strided({draw(positive)})"
    if kind == "block":
        return f"block({draw(positive)})"
    if kind == "global":
        return f"global({n})"
    if kind == "global_list":
        items = draw(st.lists(st.integers(0, 150), min_size=1, max_size=4, unique=True))
        return "global([" + ", ".join(map(str, items)) + "])"
    if kind == "sink":
        return f"sink({n})"
    if kind == "prefix":
        return f"prefix({n})"
    if kind == "predicate":
        return draw(predicate())
    if kind == "random_in":
        return f"random({draw(st.integers(0, 3))}, seed={draw(st.integers(0, 99))})"
    if kind == "random_out":
        return f"random({draw(st.integers(0, 3))}, {draw(positive)}, seed={draw(st.integers(0, 99))})"
    inner = draw(mask_expr(depth=1, inside_blocks=True))
    return f"blocks({draw(positive)}) {{ {inner} }}"


@st.composite
def mask_expr(draw, depth=0, inside_blocks=False):
    if depth >= 2 or draw(st.integers(0, 2)) == 0:
        return draw(primitive(inside_blocks))
    op = draw(st.sampled_from(["|", "&", "-", "!"]))
    a = draw(mask_expr(depth + 1, inside_blocks))
    if op == "!":
        return f"!({a})"
    b = draw(mask_expr(depth + 1, inside_blocks))
    return f"({a}) {op} ({b})"


modifier = st.sampled_from(["alibi", "decay(0.9)", "decay(0.5)", "softcap(5.0)", "softcap(20)"])


@st.composite
def pattern_source(draw, heads=True):
    """(source, H): one pattern named `pat`, maybe with heads groups and modifiers."""
    H = draw(st.integers(1, 4))
    mods = draw(st.lists(modifier, max_size=2))
    score = f"    score {', '.join(mods)}\n" if mods else ""
    if heads and H > 1 and draw(st.booleans()):
        cut = draw(st.integers(1, H - 1))
        body = score
        for start, stop in ((0, cut), (cut, "H")):
            inner_mods = draw(st.lists(modifier, max_size=1))
            inner = f"; score {', '.join(inner_mods)}" if inner_mods else ""
            body += f"    heads {start}..{stop} {{ mask {draw(mask_expr())}{inner} }}\n"
        return f"pattern pat() {{\n{body}}}\n", H
    return f"pattern pat() {{\n{score}    mask {draw(mask_expr())}\n}}\n", H
