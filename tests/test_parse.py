"""The syntax stage: grammar, parser, printer and syntax errors."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import strategies
from patternc import syntax
from patternc.diagnostics import PatterncError
from patternc.parse import MAX_NESTING, parse
from patternc.printer import to_source
from patternc.resources import read_text
from patternc.syntax import Binary, Blocks, Call, FloatLit, IntLit, Keyword, ListLit, Name, Unary

from language_examples import LONGFORMER_FILE, PREDICATES_FILE

# ------------------------------------------------------------ LANGUAGE.md examples
EVERY_CONSTRUCT = """\
pattern bigbird(b: int = 64, r: int = 3, seed: int = 0, scale: float = 0.5, need: int) {
    require b > 0 & r >= 0
    let local = window(1) | global(2)
    mask blocks(b) { local | random(r) } | random(3, 64, seed=7) | global([1, 2, 3])
    score alibi, decay(0.9), softcap(1e-3)
    tile q=64, kv=128
    heads 0..H // 2 {
        mask causal
        heads 0..1 { mask none; score alibi }
    }
}
"""


def expr_of(text: str):
    """The expression of `mask TEXT` in a one-statement pattern."""
    return parse(f"pattern t() {{\n    mask {text}\n}}\n").patterns[0].body[0].expr


def n(x):
    return Name(x)


def call(f, *args, **kwargs):
    return Call(f, tuple(args), tuple(Keyword(k, v) for k, v in kwargs.items()))


def test_longformer_example():
    file = parse(LONGFORMER_FILE, "longformer.attn")
    longformer, streaming = file.patterns
    assert longformer.name == "longformer"
    assert longformer.params == (syntax.Param("w", "int", IntLit(256)), syntax.Param("g", "int", IntLit(64)))
    assert longformer.body == (syntax.Mask(Binary("|", call("window", n("w")), call("global", n("g")))),)
    window = Binary("|", call("window", n("w"), IntLit(0)), call("sink", n("sinks")))
    assert streaming.body == (syntax.Mask(Binary("&", n("causal"), window)),)


def test_predicates_example():
    natten, fixed = parse(PREDICATES_FILE).patterns
    let, mask = natten.body
    assert let == syntax.Let("r", Binary("//", n("k"), IntLit(2)))
    # the mask continues on a line that starts with '&'
    assert mask.expr.op == "&"
    row = call("min", call("max", Binary("//", n("p"), n("w")), n("r")),
               Binary("-", Binary("-", Binary("//", n("K"), n("w")), IntLit(1)), n("r")))
    assert mask.expr.left == Binary("<=", call("abs", Binary("-", row, Binary("//", n("j"), n("w")))), n("r"))
    last_columns = Binary(">=", Binary("%", n("j"), n("b")), Binary("-", n("b"), n("c")))
    assert fixed.body[0].expr == Binary("&", n("causal"), Binary("|", call("block", n("b")), last_columns))


def test_every_construct():
    (pattern,) = parse(EVERY_CONSTRUCT).patterns
    assert [p.name for p in pattern.params] == ["b", "r", "seed", "scale", "need"]
    assert pattern.params[3] == syntax.Param("scale", "float", FloatLit(0.5))
    assert pattern.params[4].default is None
    require, let, mask, score, tile, heads = pattern.body
    assert isinstance(require, syntax.Require) and require.cond.op == "&"
    assert let.name == "local"
    blocks = mask.expr.left.left
    assert blocks == Blocks(n("b"), Binary("|", n("local"), call("random", n("r"))))
    assert mask.expr.left.right == call("random", IntLit(3), IntLit(64), seed=IntLit(7))
    assert mask.expr.right == call("global", ListLit((IntLit(1), IntLit(2), IntLit(3))))
    assert score.modifiers == (n("alibi"), call("decay", FloatLit(0.9)), call("softcap", FloatLit(1e-3)))
    assert tile.entries == (Keyword("q", IntLit(64)), Keyword("kv", IntLit(128)))
    assert heads.start == IntLit(0) and heads.stop == Binary("//", n("H"), IntLit(2))
    inner = heads.body[1]
    assert isinstance(inner, syntax.Heads)
    assert inner.body == (syntax.Mask(n("none")), syntax.Score((n("alibi"),)))


# ------------------------------------------------------------ precedence
@pytest.mark.parametrize("text, tree", [
    ("A | B - C", Binary("|", n("A"), Binary("-", n("B"), n("C")))),
    ("abs(p - j) <= 4 & j <= p",
     Binary("&", Binary("<=", call("abs", Binary("-", n("p"), n("j"))), IntLit(4)), Binary("<=", n("j"), n("p")))),
    ("a - b - c", Binary("-", Binary("-", n("a"), n("b")), n("c"))),
    ("a // b * c % d", Binary("%", Binary("*", Binary("//", n("a"), n("b")), n("c")), n("d"))),
    ("-a * b", Binary("*", Unary("-", n("a")), n("b"))),
    ("!a & b | c", Binary("|", Binary("&", Unary("!", n("a")), n("b")), n("c"))),
    ("a | b & c", Binary("|", n("a"), Binary("&", n("b"), n("c")))),
    ("a + b == c * d", Binary("==", Binary("+", n("a"), n("b")), Binary("*", n("c"), n("d")))),
    ("(a < b) == (c > d)", Binary("==", Binary("<", n("a"), n("b")), Binary(">", n("c"), n("d")))),
    ("- -3", Unary("-", Unary("-", IntLit(3)))),
    ("!!causal", Unary("!", Unary("!", n("causal")))),
    ("((x))", n("x")),
])
def test_precedence(text, tree):
    assert expr_of(text) == tree


@pytest.mark.parametrize("text, value", [
    ("0", IntLit(0)), ("007", IntLit(7)), ("1.5", FloatLit(1.5)), ("1e-3", FloatLit(1e-3)),
    ("2.5E+2", FloatLit(250.0)), ("123456789012345678901234567890", IntLit(123456789012345678901234567890)),
])
def test_numbers(text, value):
    assert expr_of(text) == value


def test_dotdot_is_not_a_float():
    heads = parse("pattern t() { heads 0..4 { mask full } }").patterns[0].body[0]
    assert (heads.start, heads.stop) == (IntLit(0), IntLit(4))


def test_empty_file_and_comments_only():
    assert parse("") == syntax.File(())
    assert parse("# nothing here\n\n   \n") == syntax.File(())


# ------------------------------------------------------------ separators
def test_semicolons_and_newlines_separate_statements():
    one_line = parse("pattern t(){ let a = 1; mask full; score alibi; }")
    lines = parse("pattern t() {\n\n  let a = 1\n  mask full\n\n  score alibi\n}\n")
    assert one_line == lines
    assert len(one_line.patterns[0].body) == 3


def test_expressions_continue_over_lines():
    continued = parse("""\
pattern t(
    w: int = 3,
    g: int = 4,
) {
    let x =
        w + 1
    mask window(w,
                g) |
        global(g)
        & causal
    score alibi,
          decay(0.5)
    tile q=64,
         kv=64
    heads 0..4
    {
        mask blocks(2)
        {
            full
        }
    }
}
""")
    flat = parse("pattern t(w: int = 3, g: int = 4) { let x = w + 1; mask window(w, g) | global(g) & causal; "
                 "score alibi, decay(0.5); tile q=64, kv=64; heads 0..4 { mask blocks(2) { full } } }")
    assert continued == flat


def test_a_line_starting_with_minus_continues():
    assert expr_of("a\n      - b") == Binary("-", n("a"), n("b"))


def test_patterns_on_one_line_and_separated_by_semicolons():
    file = parse("pattern a() { mask full } pattern b() { mask none }; pattern c() {}")
    assert [p.name for p in file.patterns] == ["a", "b", "c"]


def test_crlf_and_tabs():
    assert parse("pattern t() {\r\n\tmask full\r\n}\r\n") == parse("pattern t() {\n    mask full\n}\n")


# ------------------------------------------------------------ spans
def test_spans():
    source = "pattern win(w: int = 3) {\n    let half = w // 2\n    mask (window(half)) | causal\n}\n"
    (pattern,) = parse(source).patterns
    assert (pattern.name_span.line, pattern.name_span.column, pattern.name_span.end_column) == (1, 9, 12)
    assert (pattern.span.line, pattern.span.end_line) == (1, 4)
    let, mask = pattern.body
    assert (let.name_span.line, let.name_span.column, let.name_span.end_column) == (2, 9, 13)
    assert source[let.span.start:let.span.end] == "let half = w // 2"
    window = mask.expr.left
    assert source[window.span.start:window.span.end] == "(window(half))"  # parentheses included
    assert source[window.func_span.start:window.func_span.end] == "window"
    assert (window.func_span.line, window.func_span.column) == (3, 11)
    assert source[mask.expr.span.start:mask.expr.span.end] == "(window(half)) | causal"
    assert source[pattern.params[0].span.start:pattern.params[0].span.end] == "w: int = 3"


# ------------------------------------------------------------ round trip
@given(strategies.files())
@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=60)
def test_round_trip_files(file):
    text = to_source(file)
    assert parse(text) == file, text


@given(strategies.exprs())
def test_round_trip_expressions(expr):
    assert expr_of(to_source(expr)) == expr


@given(strategies.mask_exprs())
def test_round_trip_masks(expr):
    assert expr_of(to_source(expr)) == expr


def test_printer_output_is_formatted():
    text = to_source(parse(EVERY_CONSTRUCT))
    assert text == """\
pattern bigbird(b: int = 64, r: int = 3, seed: int = 0, scale: float = 0.5, need: int) {
    require b > 0 & r >= 0
    let local = window(1) | global(2)
    mask blocks(b) { local | random(r) } | random(3, 64, seed=7) | global([1, 2, 3])
    score alibi, decay(0.9), softcap(0.001)
    tile q=64, kv=128
    heads 0..H // 2 {
        mask causal
        heads 0..1 {
            mask none
            score alibi
        }
    }
}
"""


def test_printer_breaks_long_lines_before_operators():
    text = to_source(parse(PREDICATES_FILE).patterns[0])
    assert "\n        & abs(min(max(p % w, r), w - 1 - r) - j % w) <= r\n" in text
    assert parse(text).patterns[0] == parse(PREDICATES_FILE).patterns[0]


@pytest.mark.parametrize("tree, text", [
    (Binary("-", n("a"), Binary("-", n("b"), n("c"))), "a - (b - c)"),
    (Binary("<", Binary("<", n("a"), n("b")), n("c")), "(a < b) < c"),
    (Binary("*", Unary("-", n("a")), n("b")), "-a * b"),
    (Unary("-", Binary("*", n("a"), n("b"))), "-(a * b)"),
    (Unary("-", Unary("-", IntLit(1))), "- -1"),
    (Binary("&", Binary("|", n("a"), n("b")), n("c")), "(a | b) & c"),
    (Blocks(IntLit(4), n("full")), "blocks(4) { full }"),
    (call("random", IntLit(3), seed=IntLit(7)), "random(3, seed=7)"),
    (ListLit(()), "[]"),
])
def test_printer_parentheses(tree, text):
    assert to_source(tree) == text


# ------------------------------------------------------------ syntax errors
def errors_of(source: str):
    with pytest.raises(PatterncError) as info:
        parse(source, "bad.attn")
    return [(d.code, d.span.line, d.span.column, d.message) for d in info.value.diagnostics]


GOLDEN_ERRORS = [
    ("pattern t() {\n    mask window(w) @ full\n}\n",
     [("E0101", 2, 20, "unknown character '@'")]),
    ("pattern t() {\n    mask p / 2\n}\n",
     [("E0101", 2, 12, "unknown operator '/'")]),
    ("pattern t() {\n    mask 1. + p\n}\n",
     [("E0101", 2, 11, "a '.' in a number must be followed by a digit")]),
    ("pattern t() {\n    mask a b\n}\n",
     [("E0102", 2, 12, "expected an operator or a new line, found name 'b'")]),
    ("pattern t() {\n    mask\n}\n",
     [("E0102", 2, 9, "expected an expression, found '}'")]),
    ("pattern t() {\n    mask a +\n}\n",
     [("E0102", 2, 13, "expected an expression, found '}'")]),
    ("pattern t(w = 3) {}\n",
     [("E0102", 1, 13, "expected ':', found '='")]),
    ("pattern t(w: integer) {}\n",
     [("E0102", 1, 14, "expected a type ('int' or 'float'), found name 'integer'")]),
    ("pattern t() {\n    tile q=64 kv=128\n}\n",
     [("E0102", 2, 15, "expected an operator, ',' or a new line, found name 'kv'")]),
    ("let x = 3\n",
     [("E0102", 1, 1, "expected 'pattern', found keyword 'let'")]),
    ("pattern t() {\n    mask full\n",
     [("E0103", 2, 14, "missing '}' to close pattern 't' opened at line 1")]),
    ("pattern t() {\n    mask (window(3)\n}\n",
     [("E0103", 2, 20, "missing ')' to close the '(' opened at line 2, column 10")]),
    ("pattern t() {\n    mask [1, 2\n}\n",
     [("E0103", 2, 15, "missing ']' to close the '[' opened at line 2, column 10")]),
    ("pattern t() {\n    mask blocks(2) { full\n    mask causal\n}\n",
     [("E0103", 2, 26, "missing '}' to close the 'blocks' body opened at line 2, column 20")]),
    ("pattern t() {\n    mask full)\n}\n",
     [("E0104", 2, 14, "unmatched ')'")]),
    ("pattern t() {\n    mask a < b < c\n}\n",
     [("E0105", 2, 16, "comparisons cannot be chained; add parentheses")]),
    ("pattern t() {\n    require 0 <= w < 10\n}\n",
     [("E0105", 2, 20, "comparisons cannot be chained; add parentheses")]),
    ("pattern t() {\n    mask random(3, seed=1, 4)\n}\n",
     [("E0107", 2, 28, "positional argument after a keyword argument")]),
    ("pattern t() {\n    let mask = 3\n}\n",
     [("E0108", 2, 9, "'mask' is a keyword and cannot be used as a name")]),
    ("pattern int() {}\n",
     [("E0108", 1, 9, "'int' is a keyword and cannot be used as a name")]),
    ("pattern t() {\n    mask 1e999\n}\n",
     [("E0109", 2, 10, "number 1e999 is too large for a float")]),
    ("pattern t() {\n    mask " + "7" * 1001 + "\n}\n",
     [("E0109", 2, 10, "integer literal has more than 1000 digits")]),
    ("pattern t() {\n    mask full let x = 1\n}\n",
     [("E0110", 2, 15, "expected a new line or ';' before 'let'")]),
]


@pytest.mark.parametrize("source, expected", GOLDEN_ERRORS)
def test_golden_errors(source, expected):
    assert errors_of(source) == expected


def test_error_rendering():
    with pytest.raises(PatterncError) as info:
        parse("pattern t() {\n    mask window(w) @ full\n}\n", "bad.attn")
    assert str(info.value) == (
        "bad.attn:2:20: error[E0101]: unknown character '@'\n"
        "        mask window(w) @ full\n"
        "                       ^")


def test_notes():
    def notes(source):
        with pytest.raises(PatterncError) as info:
            parse(source)
        return info.value.diagnostics[0].notes
    assert notes("pattern t() { mask p = j }") == ("compare with '=='",)
    assert notes("pattern t() { mask a && b }") == ("'&&' is written '&'",)
    assert notes("pattern t() { mask p / 2 }") == ("floor division is written '//'",)
    assert notes("pattern t() { mask 1. }") == ("write '1.0'",)


def test_several_errors_at_once():
    source = """\
pattern a() {
    mask a +
    mask b c
    let = 3
    mask fine
}
x
pattern b(w: int = ) {
    mask full
}
pattern c() {
    heads 0..4 {
        mask (full
    }
    mask d e
}
"""
    assert [(code, line) for code, line, _, _ in errors_of(source)] == [
        ("E0102", 2), ("E0102", 3), ("E0102", 4), ("E0102", 7), ("E0102", 8), ("E0103", 13), ("E0102", 15)]


def test_missing_brace_before_next_pattern_reports_and_goes_on():
    source = "pattern a() {\n    mask full\npattern b() {\n    mask x y\n}\n"
    assert [(code, line) for code, line, _, _ in errors_of(source)] == [("E0103", 2), ("E0102", 4)]


def test_no_knock_on_errors_after_unknown_characters():
    assert [code for code, *_ in errors_of("pattern t() {\n    mask a $ b\n}\n")] == ["E0101"]


# ------------------------------------------------------------ robustness
def only_syntax_errors(source: str):
    """Parse; the only exception allowed is a PatterncError with syntax codes."""
    try:
        parse(source)
    except PatterncError as e:
        assert e.diagnostics
        for d in e.diagnostics:
            assert d.code.startswith("E01") and d.code != "E0199", d
            assert d.span.line >= 1 and d.span.column >= 1, d
        str(e)  # renders


def test_nul_bytes_and_control_characters():
    only_syntax_errors("pattern t() {\x00 mask full }")
    only_syntax_errors("\x00" * 10_000)
    only_syntax_errors("pattern t() { mask full \u2028 \x0b\x0c }\ufeff")


def test_deep_parentheses_are_reported_not_recursed():
    depth = 10_000
    start = time.perf_counter()
    for source in ["(" * depth + "x" + ")" * depth, "(" * depth, "f(" * depth + "x" + ")" * depth,
                   "[" * depth + "]" * depth, "blocks(1) {" * depth + "x" + "}" * depth]:
        codes = [code for code, *_ in errors_of(f"pattern t() {{ mask {source} }}")]
        assert codes == ["E0106"]
    assert time.perf_counter() - start < 5


def test_deep_heads_are_reported():
    depth = 10_000
    source = "pattern t() { " + "heads 0..1 { " * depth + "mask x" + " }" * depth + " }"
    assert [code for code, *_ in errors_of(source)] == ["E0106"]


def test_deep_operator_chains_are_reported():
    for source in ["-" * 10_000 + "x", " | ".join(["x"] * 10_000), "!" * 5000 + "x"]:
        assert [code for code, *_ in errors_of(f"pattern t() {{ mask {source} }}")] == ["E0106"]


def test_nesting_up_to_the_limit_parses():
    depth = MAX_NESTING - 2
    assert expr_of("(" * depth + "x" + ")" * depth) == n("x")
    assert isinstance(expr_of("-" * (MAX_NESTING - 1) + "x"), Unary)


def test_large_inputs_parse_quickly():
    start = time.perf_counter()
    parse("pattern t() {\n" + "    mask x | y\n" * 5000 + "}\n")
    parse("pattern t() { mask x }\n" * 2000)
    only_syntax_errors("pattern t() {\n" + "    mask x y\n" * 5000 + "}\n")
    assert time.perf_counter() - start < 5


@given(st.binary(max_size=300))
def test_random_bytes(data):
    only_syntax_errors(data.decode("utf-8", errors="replace"))
    only_syntax_errors(data.decode("latin-1"))


TOKENS = ["pattern", "t", "(", ")", "{", "}", "[", "]", "mask", "let", "x", "=", "==", "<", "|", "&", "-", "!",
          ",", ";", "\n", "1", "2.5", "..", "heads", "blocks", "score", "tile", "require", ":", "int", "#c\n",
          "random", "seed", "@", " "]


@given(st.lists(st.sampled_from(TOKENS), max_size=60))
def test_random_token_soup(parts):
    only_syntax_errors(" ".join(parts))


@given(strategies.files(), st.data())
@settings(suppress_health_check=[HealthCheck.too_slow])
def test_damaged_files(file, data):
    text = to_source(file)
    cut = data.draw(st.integers(0, len(text)))
    junk = data.draw(st.sampled_from(["", "(", ")", "}", "{", "mask", "\n", "|", "let x =", "@", "<"]))
    only_syntax_errors(text[:cut] + junk + text[cut + data.draw(st.integers(0, 5)):])


# ------------------------------------------------------------ resources
def test_read_text_finds_the_grammar():
    assert "pattern" in read_text("grammar", "attn.lark")
    with pytest.raises(ValueError):
        read_text("elsewhere", "attn.lark")


def test_blank_lines_are_one_separator_with_the_first_line_end_position():
    # a run of line ends lexes as one token (a million blank lines parse in about a second); the
    # parser and its diagnostics see its first line end, as when each line end was a token
    for source, where in (("pattern a() {\n\n  \n\n    mask causal window(3)\n\n}\n", (5, 17, 5, 23)),
                          ("pattern a() {\n    mask causal &\n\n\n   \n}\n", (2, 18, 2, 19)),
                          ("pattern a() {\n  let w =\n\n\n  mask causal\n}\n", (2, 10, 2, 11))):
        with pytest.raises(PatterncError) as error:
            parse(source)
        first = error.value.diagnostics[0]
        assert (first.span.line, first.span.column, first.span.end_line, first.span.end_column) == where, first
    assert error.value.diagnostics[0].message == "expected an expression, found end of line"  # not "';'"
    tree = parse("pattern a() {\n\n\n    let w = 3\n\n\n    mask window(w)\n\n}\n\n\n")
    assert len(tree.patterns[0].body) == 2
