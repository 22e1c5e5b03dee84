"""The checker: golden diagnostics per error class, several errors at once, no
cascades, every LANGUAGE.md example clean, and the IR shapes (normalisations)."""
from __future__ import annotations

import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from patternc import ir, syntax
from patternc.check import check, check_source, decide
from patternc.diagnostics import PatterncError, Span

from language_examples import LONGFORMER_FILE, PREDICATES_FILE
from pattern_sources import pattern_source

# ------------------------------------------------------------------ helpers


def checked(source: str):
    return check_source(textwrap.dedent(source), "t.attn")


def diagnostics(source: str):
    with pytest.raises(PatterncError) as info:
        checked(source)
    return info.value.diagnostics


def only(source: str):
    found = diagnostics(source)
    assert len(found) == 1, "\n".join(d.render() for d in found)
    return found[0]


def mask_of(body: str, params: str = ""):
    return checked(f"pattern t({params}) {{\n    {body}\n}}\n")[0].groups[0].mask


def in_pattern(body: str, params: str = "w: int = 4, g: float = 0.5") -> str:
    """One pattern around `body`; the body's first line is line 2, indented by 4."""
    return f"pattern t({params}) {{\n    " + body.replace("\n", "\n    ") + "\n}\n"


# ------------------------------------------------------------------ golden diagnostics
# (body, code, line, column, message fragment, note fragment or None); the body
# sits in `in_pattern`, so column 5 is the start of its first line.
GOLDEN = [
    # E02xx names
    ("mask causl", "E0201", 2, 10, "unknown name 'causl'", "did you mean 'causal'?"),
    ("mask window(ww)", "E0201", 2, 17, "unknown name 'ww'", "did you mean 'w'?"),
    ("mask window(a)\nlet a = 3", "E0201", 2, 17, "unknown name 'a'", None),
    ("mask window(w) | glbal(2)", "E0202", 2, 22, "unknown function 'glbal'", "did you mean 'global'?"),
    ("let p = 3\nmask causal", "E0205", 2, 9, "'p' is reserved", "choose another name"),
    ("let N = 3\nmask causal", "E0205", 2, 9, "'N' is reserved", None),
    ("let window = 3\nmask causal", "E0205", 2, 9, "'window' is a mask primitive", None),
    ("let max = 3\nmask causal", "E0205", 2, 9, "'max' is a function", None),
    ("let decay = 3\nmask causal", "E0205", 2, 9, "'decay' is a score modifier", None),
    ("let w = 3\nmask causal", "E0206", 2, 9, "'w' is already defined as a param (line 1)", None),
    ("let a = 3\nlet a = 4\nmask causal", "E0206", 3, 9, "'a' is already defined as a let (line 2)", None),
    ("mask random(1, 64, sed=3)", "E0207", 2, 24, "random() has no keyword argument 'sed'", "did you mean 'seed'?"),
    ("mask buckets(8, round=2)", "E0207", 2, 21, "no keyword argument 'round'", "did you mean 'rounds'?"),
    ("mask window(3, x=1)", "E0207", 2, 20, "window() has no keyword argument 'x'", "takes no keyword arguments"),
    ("mask causal\ntile q=64, k=64", "E0207", 3, 16, "tile has no entry 'k'", None),
    # E03xx kinds and arity
    ("mask p + 1", "E0301", 2, 10, "mask needs a mask or a condition, got an int that depends on 'p'", None),
    ("mask causal & 3", "E0301", 2, 19, "`&` combines masks and booleans, got an int", None),
    ("mask causal + causal", "E0301", 2, 10, "`+` needs numbers, got a mask", "the union of masks is `A | B`"),
    ("mask 3 - causal", "E0301", 2, 10, "`-` needs two numbers or two masks", "difference"),
    ("mask causal == 3", "E0301", 2, 10, "`==` compares two numbers or two booleans", None),
    ("mask window(causal)", "E0301", 2, 17, "window() size must be an int, got a mask", None),
    ("mask !w", "E0301", 2, 10, "`!` needs a mask or a boolean, got an int", None),
    ("mask -causal", "E0301", 2, 10, "unary `-` needs a number, got a mask", "`!A`"),
    ("mask causal\nrequire w", "E0301", 3, 13, "require needs a condition, got an int", None),
    ("mask blocks(4) { w }", "E0301", 2, 22, "the body of blocks must be a mask", None),
    ("mask window(2.5)", "E0302", 2, 17, "float 2.5 cannot be used here", "floats are only allowed"),
    ("mask j < g", "E0302", 2, 14, "float param 'g' cannot be used here", "in require"),
    ("mask window(1, 2, 3)", "E0303", 2, 10, "window() takes 1 or 2 arguments, got 3", "window(w) or window(l, r)"),
    ("mask random(3)", "E0303", 2, 10, "random() takes 2 arguments, got 1", "outside blocks(b) { }"),
    ("mask blocks(64) { random(3, 2) }", "E0303", 2, 23, "random() takes 1 argument, got 2",
     "the block size comes from blocks"),
    ("mask min(p) < 3", "E0303", 2, 10, "min() takes 2 arguments, got 1", "min(a, b)"),
    ("mask causal\nscore decay(0.5, 1)", "E0303", 3, 11, "decay() takes 1 argument, got 2", None),
    ("mask window(p)", "E0304", 2, 17, "window() size must not depend on 'p'", "predicate"),
    ("mask causal\nscore softcap(j)", "E0304", 3, 19, "must not depend on 'j'", None),
    ("mask causal()", "E0305", 2, 10, "'causal' takes no arguments", "write `causal`"),
    ("mask window", "E0305", 2, 10, "'window' needs arguments", "window(w) or window(l, r)"),
    ("mask min < 3", "E0305", 2, 10, "'min' is a function and needs arguments", None),
    ("mask w(3)", "E0305", 2, 10, "'w' is a param, not a function", None),
    ("mask causal\nscore decay", "E0305", 3, 11, "'decay' needs an argument", "decay(g)"),
    ("mask causal\nscore alibi()", "E0305", 3, 11, "alibi takes no arguments", None),
    ("mask random(1, 2, seed=1, seed=2)", "E0306", 2, 31, "keyword argument 'seed' given twice", None),
    ("mask causal\ntile q=64", "E0306", 3, 5, "kv= is missing", None),
    ("mask blocks(4) { segments }", "E0307", 2, 22, "segments cannot be used inside blocks", "segment ids"),
    ("mask blocks(4) { buckets(8) }", "E0307", 2, 22, "buckets cannot be used inside blocks", "LSH"),
    ("let s = segments | causal\nmask blocks(4) { s }", "E0307", 3, 22, "'s' uses segments", None),
    ("mask alibi", "E0309", 2, 10, "'alibi' is a score modifier, not a mask", "score alibi"),
    ("mask causal\nscore causal", "E0309", 3, 11, "'causal' is a mask primitive, not a score modifier", None),
    ("mask causal\nscore alibl", "E0201", 3, 11, "unknown score modifier 'alibl'", "did you mean 'alibi'?"),
    ("mask causal\nrequire p > 0", "E0310", 3, 13, "require needs a condition on params and sizes only", "'p'"),
    ("mask global([1, 2]) | [3]", "E0312", 2, 27, "a list is only allowed as the argument of global", None),
    ("mask causal\ntile q=w, kv=64", "E0313", 3, 12, "tile q= must be an integer constant", None),
    # E04xx values
    ("mask window(-1)", "E0401", 2, 17, "window() size must be >= 0, got -1", None),
    ("mask window(3, -2)", "E0401", 2, 20, "window() right size must be >= 0, got -2", None),
    ("mask dilated(2, 0)", "E0401", 2, 21, "dilated() dilation must be >= 1, got 0", None),
    ("mask strided(0)", "E0401", 2, 18, "strided() stride must be >= 1, got 0", None),
    ("mask block(0)", "E0401", 2, 16, "block() block size must be >= 1, got 0", None),
    ("mask global(-1)", "E0401", 2, 17, "global() count must be >= 0", None),
    ("mask sink(-1)", "E0401", 2, 15, "sink() count must be >= 0", None),
    ("mask prefix(-4)", "E0401", 2, 17, "prefix() length must be >= 0", None),
    ("mask random(-1, 64)", "E0401", 2, 17, "random() count must be >= 0", None),
    ("mask random(1, 0)", "E0401", 2, 20, "random() block size must be >= 1", None),
    ("mask buckets(3)", "E0401", 2, 18, "buckets() bucket count must be even, got 3", None),
    ("mask buckets(0)", "E0401", 2, 18, "buckets() bucket count must be >= 2, got 0", None),
    ("mask buckets(4, rounds=0)", "E0401", 2, 28, "buckets() rounds must be >= 1, got 0", None),
    ("mask blocks(0) { causal }", "E0401", 2, 17, "blocks size must be >= 1, got 0", None),
    ("mask window(-K - 1)", "E0401", 2, 17, "window() size must be >= 0; `-K - 1` never is", None),
    ("mask causal\nscore decay(0)", "E0401", 3, 17, "decay() rate must be > 0, got 0", None),
    ("mask causal\nscore decay(1.5)", "E0401", 3, 17, "decay() rate must be <= 1, got 1.5", None),
    ("mask causal\nscore softcap(-2.0)", "E0401", 3, 19, "softcap() cap must be > 0, got -2.0", None),
    ("mask window(4611686018427387904)", "E0402", 2, 17, "integer 4611686018427387904 is too large", "2**62"),
    ("mask window(2147483648 * 2147483648)", "E0402", 2, 17, "is 4611686018427387904, too large", None),
    ("mask p // 0 < 3", "E0403", 2, 15, "division by zero", None),
    ("mask j % (2 - 2) < 3", "E0403", 2, 14, "modulo by zero", None),
    ("mask p // (K - K) < 3", "E0403", 2, 15, "division by zero: `K - K` is always 0", None),
    ("mask causal\nrequire 1 > 2", "E0404", 3, 13, "requirement `1 > 2` can never hold", None),
    ("mask causal\nrequire K < 0", "E0404", 3, 13, "requirement `K < 0` can never hold", None),
    ("heads 4..4 { mask causal }", "E0405", 2, 5, "heads 4..4 is empty", None),
    ("heads 0..4 { mask causal }\nheads 2..H { mask full }", "E0406", 3, 5, "heads 2..H overlap heads 0..4 (line 2)",
     "exactly once"),
    ("heads 2..4 { mask causal }\nheads 4..8 { mask full }", "E0407", 2, 5, "heads 0..2 are in no heads block", None),
    ("heads -1..H { mask causal }", "E0401", 2, 11, "heads start must be >= 0, got -1", None),
    ("mask causal\ntile q=48, kv=64", "E0408", 3, 12, "tile q= must be a power of two from 16 to 256, got 48", None),
    ("mask causal\ntile q=64, kv=512", "E0408", 3, 19, "got 512", None),
    # E05xx structure
    ("let a = 3", "E0501", 1, 9, "pattern 't' has no mask", "mask EXPR"),
    ("mask causal\nmask full", "E0502", 3, 5, "pattern 't' has more than one mask", "line 2"),
    ("heads 0..H { score alibi }", "E0501", 2, 5, "this heads block has no mask", None),
    ("heads 0..H { mask causal; mask full }", "E0502", 2, 31, "this heads block has more than one mask", None),
    ("mask causal\nheads 0..H { mask full }", "E0503", 2, 5, "a pattern with heads blocks has its masks inside them",
     None),
    ("mask causal\ntile q=64, kv=64\ntile q=32, kv=32", "E0504", 4, 5, "at most one tile", "line 3"),
    ("heads 0..H { mask causal; tile q=64, kv=64 }", "E0505", 2, 31, "write it at the top level", None),
]


@pytest.mark.parametrize("body, code, line, column, message, note", GOLDEN,
                         ids=[f"{g[1]}-{n}" for n, g in enumerate(GOLDEN)])
def test_golden_diagnostic(body, code, line, column, message, note):
    found = only(in_pattern(body))
    assert (found.code, found.span.line, found.span.column) == (code, line, column), found.render()
    assert message in found.message
    if note is not None:
        assert any(note in n for n in found.notes), found.notes


@pytest.mark.parametrize("params, code, message", [
    ("w: int, w: int", "E0204", "'w' is already defined as a param"),
    ("p: int = 1", "E0205", "'p' is reserved: it is the query position"),
    ("causal: int = 1", "E0205", "'causal' is a mask primitive"),
    ("lambda: int = 1", "E0205", "params become keyword arguments"),
    ("w: int = 2.5", "E0311", "int param 'w' has a float default 2.5"),
    ("w: int = 4611686018427387904", "E0402", "default 4611686018427387904 of 'w' is too large"),
])
def test_param_diagnostics(params, code, message):
    found = only(f"pattern t({params}) {{\n    mask causal\n}}\n")
    assert found.code == code and message in found.message, found.render()
    assert found.span.line == 1


def test_param_default_must_be_a_literal():
    found = only("pattern t(w: int = 2 + 3) {\n    mask causal\n}\n")
    assert found.code == "E0311" and "must be a number literal" in found.message


def test_duplicate_pattern():
    found = only("pattern a() { mask causal }\npattern a() { mask full }\n")
    assert (found.code, found.span.line, found.span.column) == ("E0203", 2, 9)
    assert "first defined (line 1)" in found.notes[0]


def test_rendered_with_file_line_and_caret():
    with pytest.raises(PatterncError) as info:
        checked(in_pattern("mask window(w) | glbal(2)"))
    text = info.value.render()
    assert "t.attn:2:22: error[E0202]: unknown function 'glbal'" in text
    assert "    mask window(w) | glbal(2)" in text
    assert "note: did you mean 'global'?" in text


# ------------------------------------------------------------------ several errors, no cascades
def test_several_errors_across_patterns_reported_together():
    source = """\
        pattern a(w: int = 4) {
            mask window(ww) | causl
        }
        pattern b() {
            mask strided(0)
            score decay(2)
        }
    """
    found = diagnostics(source)
    assert [(d.code, d.span.line) for d in found] == [("E0201", 2), ("E0201", 2), ("E0401", 5), ("E0401", 6)]


def test_good_patterns_survive_next_to_bad_ones():
    with pytest.raises(PatterncError) as info:
        checked("pattern ok() { mask causal }\npattern bad() { mask causl }\n")
    assert len(info.value.diagnostics) == 1


@pytest.mark.parametrize("body", [
    "mask window(glbal) | causal",
    "mask (p + causl) < 3 & causal",
    "let a = causl\nmask a | window(a) | (a < 3)",
    "mask !(!(!(causl)))",
    "mask blocks(x) { random(y) }",
    "mask causal\nheads 0..causl { mask full }",
])
def test_no_cascades(body):
    found = diagnostics(in_pattern(body))
    assert len(found) == (2 if "random(y)" in body or "heads" in body else 1), [d.render() for d in found]


# ------------------------------------------------------------------ clean examples
LANGUAGE_EXAMPLES = LONGFORMER_FILE + "\n" + PREDICATES_FILE + """
pattern bigbird() {
    mask blocks(64) { window(1) | global(2) | random(3) }
}

pattern prefix_lm(n: int) {
    mask causal | prefix(n)
}
"""

EVERYTHING = """
pattern everything(w: int = 8, d: int = 2, s: float = 30, g: float = 0.95) {
    let near = abs(p - j) <= 4 & j <= p
    let half = H // 2
    require K % 64 == 0 & w <= K
    require g < 1.0
    score alibi
    heads 0..half {
        mask near | full - none | dilated(w, d) | dilated(1, 2, d) | strided(4) | block(16)
        score decay(g), softcap(s)
    }
    heads half..H {
        let local = window(w, 0) | global([0, 5, 9]) | global(2) | sink(4)
        mask (local == causal) | random(2, 16, seed=7) | segments | buckets(8, rounds=2, seed=1)
           | blocks(16) { window(1) | random(1, seed=3) | (Q - p < 2) } | (h % 2 == 0 & N > 0)
    }
    tile q=64, kv=128
}
"""


def test_language_examples_check_clean():
    names = [p.name for p in checked(LANGUAGE_EXAMPLES)]
    assert names == ["longformer", "streaming", "natten2d", "fixed", "bigbird", "prefix_lm"]


def test_every_construct_checks_clean():
    (pattern,) = checked(EVERYTHING)
    assert len(pattern.groups) == 2 and pattern.tile == (64, 128)
    assert pattern.runtime_inputs == ("rotations", "segments")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern_source())
def test_generated_patterns_check_clean(case):
    source, _ = case
    (pattern,) = check_source(source)
    assert pattern.name == "pat"


# ------------------------------------------------------------------ IR shapes
W, D, K = ir.Var("w"), ir.Var("d"), ir.Var("K")


@pytest.mark.parametrize("body, expected", [
    ("mask window(w)", ir.Window(W, W)),
    ("mask window(w, 0)", ir.Window(W, ir.Const(0))),
    ("mask dilated(w, d)", ir.Dilated(W, W, D)),
    ("mask sink(w)", ir.KeyPrefix(W, "sink")),
    ("mask prefix(w)", ir.KeyPrefix(W, "prefix")),
    ("mask causal - window(w)", ir.And(ir.Causal(), ir.Not(ir.Window(W, W)))),
    ("mask causal == full", ir.Not(ir.Xor(ir.Causal(), ir.Full()))),
    ("mask causal != full", ir.Xor(ir.Causal(), ir.Full())),
    ("mask none", ir.Empty()),
    ("mask random(3, w)", ir.BlockMap(W, ir.Random(ir.Const(3), ir.Const(0)))),
    ("mask random(3, w, seed=d)", ir.BlockMap(W, ir.Random(ir.Const(3), D))),
    ("mask blocks(w) { random(2) }", ir.BlockMap(W, ir.Random(ir.Const(2), ir.Const(0)))),
    ("mask buckets(w)", ir.Buckets(W, ir.Const(1), ir.Const(0))),
    ("mask buckets(w, rounds=d, seed=5)", ir.Buckets(W, D, ir.Const(5))),
    ("mask global([1, w])", ir.GlobalList((ir.Const(1), W))),
    ("mask j < N", ir.Compare("<", ir.Index("j"), K)),
    ("mask window(-3 + w)", ir.Window(ir.Arith("+", ir.Const(-3), W), ir.Arith("+", ir.Const(-3), W))),
    ("mask p - j <= -w", ir.Compare("<=", ir.Arith("-", ir.Index("p"), ir.Index("j")), ir.Neg(W))),
    ("let a = abs(p - j)\nlet m = a < w\nmask m & segments",
     ir.And(ir.Compare("<", ir.Abs(ir.Arith("-", ir.Index("p"), ir.Index("j"))), W), ir.Segments())),
    ("mask min(i, h) == max(d, 2)",
     ir.Compare("==", ir.Arith("min", ir.Index("i"), ir.Index("h")), ir.Arith("max", D, ir.Const(2)))),
])
def test_normalisations(body, expected):
    assert mask_of(body, "w: int = 4, d: int = 2") == expected


def test_pattern_without_heads_has_one_group_over_all_heads():
    (pattern,) = checked("pattern t() {\n    score alibi\n    mask causal\n}\n")
    (group,) = pattern.groups
    assert (group.start, group.stop, group.mask) == (ir.Const(0), ir.Var("H"), ir.Causal())
    assert [m.kind for m in group.modifiers] == ["alibi"]
    assert not pattern.has_heads and pattern.tile is None


def test_heads_groups_top_level_modifiers_come_first():
    (pattern,) = checked("""\
        pattern t(c: float = 5) {
            heads 0..2 { mask causal; score softcap(c) }
            let x = 3
            heads 2..H { mask window(x) }
            score alibi, decay(0.5)
        }
    """)
    first, second = pattern.groups
    assert (first.start, first.stop, second.start, second.stop) == (ir.Const(0), ir.Const(2), ir.Const(2), ir.Var("H"))
    assert [(m.kind, m.arg) for m in first.modifiers] == [
        ("alibi", None), ("decay", ir.Const(0.5)), ("softcap", ir.Var("c"))]
    assert [m.kind for m in second.modifiers] == ["alibi", "decay"]
    assert second.mask == ir.Window(ir.Const(3), ir.Const(3))
    assert first.span.line == 2 and second.span.line == 4
    assert pattern.has_heads


def test_heads_lets_are_local():
    found = diagnostics("""\
        pattern t() {
            heads 0..1 { let a = causal; mask a }
            heads 1..H { mask a }
        }
    """)
    assert [(d.code, d.span.line) for d in found] == [("E0201", 3)]


def test_params_in_ir():
    (pattern,) = checked("pattern t(w: int = -3, n: int, g: float = 1, c: float = 0.5) { mask window(n) }\n")
    assert [(p.name, p.type, p.default) for p in pattern.params] == [
        ("w", "int", -3), ("n", "int", None), ("g", "float", 1.0), ("c", "float", 0.5)]
    assert isinstance(pattern.params[2].default, float)
    assert pattern.params[0].span.line == 1 and pattern.span.line == 1


# ------------------------------------------------------------------ requirements
def requirements(body: str, params: str = "w: int = 4, b: int = 8, g: float = 0.5"):
    return [(r.text, r.cond) for r in checked(in_pattern(body, params))[0].requirements]


def test_undecided_values_become_requirements_once():
    reqs = requirements("mask window(w) | window(w, w) | strided(b)")
    assert reqs == [("w >= 0", ir.Compare(">=", W, ir.Const(0))),
                    ("b >= 1", ir.Compare(">=", ir.Var("b"), ir.Const(1)))]


def test_decidable_values_are_decided_now():
    assert requirements("let w8 = K // 8\nmask window(w8) | block(K % 8 + 1) | global(abs(w))") == []
    assert requirements("mask window(3) | buckets(8)\nrequire 2 > 1\nrequire K >= 0") == []


def test_user_requirement_keeps_its_text_and_span():
    (pattern,) = checked(in_pattern("mask causal\nrequire K % b == 0 & g <= 1.0", "b: int = 8, g: float = 0.5"))
    divisor, req = pattern.requirements
    assert divisor.text == "b != 0"  # found inside the condition, so checked before it
    assert req.text == "K % b == 0 & g <= 1.0"
    assert req.cond == ir.And(ir.Compare("==", ir.Arith("%", K, ir.Var("b")), ir.Const(0)),
                              ir.Compare("<=", ir.Var("g"), ir.Const(1.0)))
    assert (req.span.line, req.span.column) == (3, 13)


def test_float_params_are_not_treated_as_integers():
    # 2g != 1 would hold for every integer g; g is a float, so it stays a requirement
    assert [t for t, _ in requirements("mask causal\nrequire g * 2 != 1")] == ["g * 2 != 1"]


def test_divisor_requirement():
    assert requirements("mask p // w < j // 4") == [("w != 0", ir.Compare("!=", W, ir.Const(0)))]


def test_modifier_requirements():
    texts = [t for t, _ in requirements("mask causal\nscore decay(g), softcap(w)")]
    assert texts == ["g > 0", "g <= 1", "w > 0"]


def test_buckets_requirements():
    texts = [t for t, _ in requirements("mask buckets(w + 1, rounds=b)")]
    assert texts == ["w + 1 >= 2", "(w + 1) % 2 == 0", "b >= 1"]


def test_requirements_inside_blocks_are_stated_on_token_sizes():
    (_, (text, cond)) = requirements("mask blocks(b) { window(K - 3) }")
    up = ir.Arith("-", ir.Var("b"), ir.Const(1))
    blocks_k = ir.Arith("//", ir.Arith("+", K, up), ir.Var("b"))
    assert text == "K - 3 >= 0"
    assert cond == ir.Compare(">=", ir.Arith("-", blocks_k, ir.Const(3)), ir.Const(0))
    assert requirements("mask blocks(b) { window(1) }") == [("b >= 1", ir.Compare(">=", ir.Var("b"), ir.Const(1)))]


def test_heads_requirements():
    texts = [t for t, _ in requirements("heads 0..w { mask causal }\nheads w..H { mask full }")]
    assert texts == ["0 < w", "w >= 0", "w < H"]


@pytest.mark.parametrize("cond, expected", [
    (ir.Compare(">=", ir.Arith("//", K, ir.Const(8)), ir.Const(0)), True),
    (ir.Compare("<", K, ir.Const(0)), False),
    (ir.Compare(">=", W, ir.Const(0)), None),
    (ir.Compare(">", ir.Var("H"), ir.Const(0)), True),
    (ir.And(ir.Compare(">", K, ir.Const(-1)), ir.Compare(">=", W, ir.Const(0))), None),
    (ir.Or(ir.Compare(">", K, ir.Const(-1)), ir.Compare(">=", W, ir.Const(0))), True),
    (ir.Not(ir.Compare("==", ir.Const(2), ir.Const(2))), False),
])
def test_decide(cond, expected):
    assert decide(cond) is expected


def test_check_accepts_a_tree_and_names_the_file():
    from patternc.parse import parse

    source = "pattern t() { mask causl }\n"
    with pytest.raises(PatterncError) as info:
        check(parse(source, "x.attn"), source, "x.attn")
    assert info.value.filename == "x.attn" and info.value.source == source
    (pattern,) = check(parse("pattern t() { mask causal }"), filename="y.attn")
    assert pattern.filename == "y.attn"


# ------------------------------------------------------------------ robustness
def _node(cls, *args):
    """A syntax node without positions (spans default to unknown)."""
    node = cls(*args)
    if not isinstance(getattr(node, "span", None), Span):  # tolerate a span field without a default
        object.__setattr__(node, "span", Span.unknown())
    return node


_NAMES = st.sampled_from(["w", "g", "p", "j", "h", "K", "N", "causal", "segments", "window", "alibi", "min", "x",
                          "random", "decay"])
_FUNCS = st.sampled_from(["window", "dilated", "strided", "global", "random", "buckets", "min", "abs", "alibi",
                          "decay", "causal", "foo", "w"])


def _exprs():
    leaf = st.one_of(st.integers(-3, 2**63).map(lambda v: _node(syntax.IntLit, v)),
                     st.sampled_from([0.5, 2.0]).map(lambda v: _node(syntax.FloatLit, v)),
                     _NAMES.map(lambda n: _node(syntax.Name, n)))

    def extend(inner):
        keyword = st.tuples(st.sampled_from(["seed", "rounds", "x"]), inner).map(lambda t: _node(syntax.Keyword, *t))
        return st.one_of(
            st.tuples(st.sampled_from(["-", "!"]), inner).map(lambda t: _node(syntax.Unary, *t)),
            st.tuples(st.sampled_from(["|", "&", "==", "<", "+", "-", "*", "//", "%"]), inner, inner)
            .map(lambda t: _node(syntax.Binary, *t)),
            st.tuples(_FUNCS, st.lists(inner, max_size=3).map(tuple), st.lists(keyword, max_size=2).map(tuple))
            .map(lambda t: _node(syntax.Call, *t)),
            st.lists(inner, max_size=2).map(lambda items: _node(syntax.ListLit, tuple(items))),
            st.tuples(inner, inner).map(lambda t: _node(syntax.Blocks, *t)),
        )
    return st.recursive(leaf, extend, max_leaves=10)


def _statements(nested: bool):
    e = _exprs()
    choices = [e.map(lambda x: _node(syntax.Mask, x)), e.map(lambda x: _node(syntax.Require, x)),
               st.tuples(_NAMES, e).map(lambda t: _node(syntax.Let, *t)),
               st.lists(e, min_size=1, max_size=2).map(lambda m: _node(syntax.Score, tuple(m))),
               st.lists(st.tuples(st.sampled_from(["q", "kv"]), e).map(lambda t: _node(syntax.Keyword, *t)),
                        max_size=2).map(lambda k: _node(syntax.Tile, tuple(k)))]
    if not nested:
        choices.append(st.tuples(e, e, st.lists(_statements(True), max_size=3).map(tuple))
                       .map(lambda t: _node(syntax.Heads, *t)))
    return st.one_of(choices)


_PARAMS = st.lists(st.tuples(_NAMES, st.sampled_from(["int", "float", "bool"]), st.one_of(st.none(), _exprs()))
                   .map(lambda t: _node(syntax.Param, *t)), max_size=3)
_PATTERNS = st.tuples(st.sampled_from(["a", "b", "class"]), _PARAMS.map(tuple),
                      st.lists(_statements(False), max_size=5).map(tuple)).map(lambda t: _node(syntax.Pattern, *t))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(_PATTERNS, min_size=1, max_size=2))
def test_any_tree_gives_ir_or_diagnostics(patterns):
    try:
        check(_node(syntax.File, tuple(patterns)))
    except PatterncError as error:
        assert error.diagnostics and all(d.code[:3] in ("E02", "E03", "E04", "E05") for d in error.diagnostics)


@pytest.mark.parametrize("source, name", [
    ("pattern range() { mask causal }", "range"),          # a Python builtin: the module would shadow it
    ("pattern a__b() { mask causal }", "a__b"),            # the module's own globals are pattern__what
    ("pattern a(scale: int = 1) { mask causal }", "scale"),  # a keyword of the generated call itself
    ("pattern a(sorted: int = 1) { mask causal }", "sorted"),
])
def test_names_the_generated_module_needs_are_refused_by_the_checker(source, name):
    with pytest.raises(PatterncError) as info:
        check_source(source)
    (diagnostic,) = info.value.diagnostics
    assert diagnostic.code == "E0205" and f"'{name}'" in diagnostic.message
