"""bind: defaults, unknown/missing/mistyped params, sizes, requirements and the
heads layout, each failure with a message naming what went wrong."""
from __future__ import annotations

import textwrap

import pytest

from patternc import ir
from patternc.bind import bind, group_ranges
from patternc.check import check_source


def pattern(source: str) -> ir.CheckedPattern:
    (checked,) = check_source(textwrap.dedent(source), "t.attn")
    return checked


LONGFORMER = pattern("""\
    pattern longformer(w: int = 256, g: int = 64) {
        mask window(w) | global(g)
    }
""")

MIXED = pattern("""\
    pattern mixed(n: int, c: float = 30, b: int = 64) {
        require K % b == 0
        mask causal | prefix(n)
        score softcap(c)
    }
""")

SPLIT = pattern("""\
    pattern split(cut: int = 2) {
        heads 0..cut { mask causal }
        heads cut..H { mask full }
    }
""")


# ------------------------------------------------------------------ params
def test_defaults_filled_and_sizes_added():
    assert bind(LONGFORMER, {}, Q=10, K=12, H=2) == {"w": 256, "g": 64, "Q": 10, "K": 12, "H": 2, "D": None}
    env = bind(LONGFORMER, {"g": 3}, 10, 12, 2, D=64)
    assert (env["w"], env["g"], env["D"]) == (256, 3, 64)


def test_float_params_accept_ints_and_become_floats():
    env = bind(MIXED, {"n": 4, "c": 5}, 128, 128, 1)
    assert env["c"] == 5.0 and isinstance(env["c"], float)
    assert env["n"] == 4 and isinstance(env["n"], int)


def test_unknown_param_with_suggestion():
    with pytest.raises(TypeError, match=r"pattern 'longformer' has no parameter 'wd'; did you mean 'w'\?"):
        bind(LONGFORMER, {"wd": 3}, 10, 10, 1)


def test_missing_required_param():
    with pytest.raises(TypeError, match=r"pattern 'mixed' is missing required parameter 'n'"):
        bind(MIXED, {"c": 1.0}, 64, 64, 1)


@pytest.mark.parametrize("value", [True, 2.0, "3", None])
def test_int_params_need_ints(value):
    with pytest.raises(TypeError, match=r"parameter 'w' must be an int"):
        bind(LONGFORMER, {"w": value}, 10, 10, 1)


@pytest.mark.parametrize("value", [False, "3", None])
def test_float_params_need_numbers(value):
    with pytest.raises(TypeError, match=r"parameter 'c' must be a float"):
        bind(MIXED, {"n": 1, "c": value}, 64, 64, 1)


def test_float_params_must_be_finite_and_ints_in_range():
    with pytest.raises(ValueError, match="must be finite"):
        bind(MIXED, {"n": 1, "c": float("inf")}, 64, 64, 1)
    with pytest.raises(ValueError, match="too large"):
        bind(LONGFORMER, {"w": 2**62}, 10, 10, 1)


@pytest.mark.parametrize("sizes, error, fragment", [
    ((-1, 4, 1), ValueError, "size Q must be >= 0, got -1"),
    ((4, -1, 1), ValueError, "size K must be >= 0, got -1"),
    ((4, 4, 0), ValueError, "size H must be >= 1, got 0"),
    ((4.0, 4, 1), TypeError, "size Q must be an int"),
    ((4, True, 1), TypeError, "size K must be an int"),
])
def test_sizes(sizes, error, fragment):
    with pytest.raises(error, match=fragment):
        bind(LONGFORMER, {}, *sizes)


def test_zero_lengths_are_allowed():
    assert bind(LONGFORMER, {}, 0, 0, 1)["K"] == 0


# ------------------------------------------------------------------ requirements
def test_failed_requirement_names_pattern_text_and_values():
    with pytest.raises(ValueError) as info:
        bind(LONGFORMER, {"w": -3}, 10, 10, 1)
    assert str(info.value) == "pattern 'longformer': requirement `w >= 0` failed (w=-3)"


def test_user_requirement_with_sizes():
    with pytest.raises(ValueError, match=r"requirement `K % b == 0` failed \(K=100, b=64\)"):
        bind(MIXED, {"n": 1}, 100, 100, 1)
    assert bind(MIXED, {"n": 1}, 100, 128, 1)["K"] == 128


def test_divisor_requirement_comes_before_its_use():
    with pytest.raises(ValueError, match=r"requirement `b != 0` failed \(b=0\)"):
        bind(MIXED, {"n": 1, "b": 0}, 64, 64, 1)


def test_modifier_requirement():
    with pytest.raises(ValueError, match=r"requirement `c > 0` failed \(c=-1.0\)"):
        bind(MIXED, {"n": 1, "c": -1}, 64, 64, 1)


def test_requirements_on_D_wait_until_D_is_known():
    needs_d = pattern("pattern d() {\n    require D % 16 == 0\n    mask causal\n}\n")
    assert bind(needs_d, {}, 4, 4, 1)["D"] is None
    assert bind(needs_d, {}, 4, 4, 1, D=64)["D"] == 64
    with pytest.raises(ValueError, match=r"`D % 16 == 0` failed \(D=40\)"):
        bind(needs_d, {}, 4, 4, 1, D=40)


def test_requirement_inside_blocks_uses_block_counts():
    blocky = pattern("pattern b() {\n    mask blocks(64) { window(K - 3) }\n}\n")
    bind(blocky, {}, 130, 130, 1)  # ceil(130 / 64) = 3 blocks
    with pytest.raises(ValueError, match=r"`K - 3 >= 0` failed \(K=128\)"):
        bind(blocky, {}, 128, 128, 1)  # 2 blocks


def test_requirement_that_divides_by_zero_is_reported():
    handmade = ir.CheckedPattern(
        "z", (ir.Param("w", "int", 0),), (ir.HeadGroup(ir.Const(0), ir.Var("H"), ir.Full()),),
        (ir.Requirement(ir.Compare(">", ir.Arith("//", ir.Var("K"), ir.Var("w")), ir.Const(0)), "K // w > 0"),))
    with pytest.raises(ValueError, match=r"pattern 'z': requirement `K // w > 0` divides by zero \(K=4, w=0\)"):
        bind(handmade, {}, 4, 4, 1)


# ------------------------------------------------------------------ heads
def test_group_ranges():
    env = bind(SPLIT, {}, 4, 4, 8)
    assert group_ranges(SPLIT, env) == [(0, 2), (2, 8)]
    assert group_ranges(LONGFORMER, bind(LONGFORMER, {}, 4, 4, 3)) == [(0, 3)]


def test_heads_range_that_cannot_be_empty_is_a_requirement():
    with pytest.raises(ValueError, match=r"requirement `0 < cut` failed \(cut=0\)"):
        bind(SPLIT, {"cut": 0}, 4, 4, 8)
    with pytest.raises(ValueError, match=r"requirement `cut < H` failed \(cut=8, H=8\)"):
        bind(SPLIT, {"cut": 8}, 4, 4, 8)


@pytest.mark.parametrize("source, H, problem", [
    ("heads 0..4 { mask causal }\nheads 4..8 { mask full }", 6, "heads 6..8 are past H=6"),
    ("heads 0..4 { mask causal }\nheads 4..8 { mask full }", 10, "heads 8..10 are not covered"),
    ("heads 0..H // 2 { mask causal }\nheads 2..H { mask full }", 8, "heads 2..4 are covered twice"),
    ("heads 0..H // 2 { mask causal }\nheads H - 1..H { mask full }", 8, "heads 4..7 are not covered"),
])
def test_heads_must_cover_every_head_once(source, H, problem):
    heads = pattern("pattern hd() {\n" + textwrap.indent(source, "    ") + "\n}\n")
    with pytest.raises(ValueError) as info:
        bind(heads, {}, 4, 4, H)
    message = str(info.value)
    assert message.startswith(f"pattern 'hd': heads blocks must cover heads 0..{H} exactly once; got ")
    assert problem in message


def test_heads_cover_exactly():
    heads = pattern("pattern hd() {\n    heads 0..H // 2 { mask causal }\n    heads H // 2..H { mask full }\n}\n")
    for H in (2, 3, 8):
        assert group_ranges(heads, bind(heads, {}, 4, 4, H)) == [(0, H // 2), (H // 2, H)]
