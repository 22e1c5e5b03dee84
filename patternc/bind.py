"""Call-time binding: a checked pattern, the caller's params and the sizes ->
the environment every static expression of the pattern is evaluated in.

`bind` is where the checks the checker could not decide happen: types of the
params, the pattern's requirements (`w >= 0`, user `require`s, ...) and the
heads layout (the groups must cover heads 0..H exactly once). Problems with
the call itself (unknown, missing or mistyped params) raise TypeError; values
that break a requirement raise ValueError naming the pattern, the requirement
and the values involved:

    pattern 'longformer': requirement `w >= 0` failed (w=-3)
"""
from __future__ import annotations

import math
import numbers

from . import ir
from .diagnostics import suggest

INT_LIMIT = 2**62


def bind(pattern: ir.CheckedPattern, params: dict | None, Q: int, K: int, H: int, D: int | None = None) -> dict:
    """{param: value, 'Q', 'K', 'H', 'D': sizes} with defaults filled in, after
    every requirement and the heads layout were checked. A requirement that
    mentions D is skipped while D is None (not known yet)."""
    env = _params(pattern, dict(params or {}))
    env["Q"] = _size(pattern, "Q", Q, 0)
    env["K"] = _size(pattern, "K", K, 0)
    env["H"] = _size(pattern, "H", H, 1)
    env["D"] = None if D is None else _size(pattern, "D", D, 1)
    for requirement in pattern.requirements:
        _require(pattern, requirement, env)
    _check_heads(pattern, env)
    return env


def group_ranges(pattern: ir.CheckedPattern, env: dict) -> list[tuple[int, int]]:
    """The (start, stop) heads range of each head group, in source order."""
    ranges = []
    for group in pattern.groups:
        try:
            ranges.append((ir.eval_static(group.start, env), ir.eval_static(group.stop, env)))
        except ZeroDivisionError:
            raise ValueError(f"pattern '{pattern.name}': a heads range divides by zero "
                             f"({_values(ir.Arith('+', group.start, group.stop), env)})") from None
    return ranges


# ------------------------------------------------------------------ params
def _params(pattern: ir.CheckedPattern, given: dict) -> dict:
    declared = {p.name: p for p in pattern.params}
    unknown = [name for name in given if name not in declared]
    if unknown:
        hints = [suggest(str(name), declared) for name in unknown]
        raise TypeError(f"pattern '{pattern.name}' has no parameter " + ", ".join(f"'{n}'" for n in unknown)
                        + "".join(f"; {h}" for h in hints if h)
                        + f" (its parameters: {', '.join(declared) or 'none'})")
    missing = [p.name for p in pattern.params if p.name not in given and p.default is None]
    if missing:
        raise TypeError(f"pattern '{pattern.name}' is missing required parameter"
                        f"{'s' if len(missing) > 1 else ''} " + ", ".join(f"'{n}'" for n in missing))
    env = {}
    for prm in pattern.params:
        env[prm.name] = _coerce(pattern, prm, given[prm.name]) if prm.name in given else prm.default
    return env


def _coerce(pattern: ir.CheckedPattern, prm: ir.Param, value):
    where = f"pattern '{pattern.name}': parameter '{prm.name}'"
    if prm.type == "int":
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{where} must be an int, got {type(value).__name__} {value!r}")
        value = int(value)
        if abs(value) >= INT_LIMIT:
            raise ValueError(f"{where} is too large: {value} (integers must be below 2**62 in magnitude)")
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{where} must be a float, got {type(value).__name__} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{where} must be finite, got {value}")
    return value


def _size(pattern: ir.CheckedPattern, name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"pattern '{pattern.name}': size {name} must be an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"pattern '{pattern.name}': size {name} must be >= {minimum}, got {value}")
    return int(value)


# ------------------------------------------------------------------ checks
def _require(pattern: ir.CheckedPattern, requirement: ir.Requirement, env: dict) -> None:
    names = _names(requirement.cond)
    if any(env.get(n) is None for n in names):
        return  # D not known yet
    values = _values(requirement.cond, env)
    try:
        holds = ir.eval_static(requirement.cond, env)
    except ZeroDivisionError:
        raise ValueError(f"pattern '{pattern.name}': requirement `{requirement.text}` divides by zero "
                         f"({values})") from None
    if not holds:
        raise ValueError(f"pattern '{pattern.name}': requirement `{requirement.text}` failed ({values})")


def _check_heads(pattern: ir.CheckedPattern, env: dict) -> None:
    ranges = group_ranges(pattern, env)
    problems = _coverage_problems(ranges, env["H"])
    if problems:
        shown = ", ".join(f"{a}..{b}" for a, b in ranges)
        raise ValueError(f"pattern '{pattern.name}': heads blocks must cover heads 0..{env['H']} exactly once; "
                         f"got {shown}: " + "; ".join(problems))


def _coverage_problems(ranges: list[tuple[int, int]], H: int) -> list[str]:
    problems = [f"{a}..{b} is empty" for a, b in ranges if a >= b]
    low = min((a for a, b in ranges if a < b), default=0)
    if low < 0:
        problems.append(f"heads {low}..0 are below 0")
    covered = 0
    for start, stop in sorted((max(a, 0), b) for a, b in ranges if a < b and b > 0):
        if start < covered:
            problems.append(f"heads {start}..{min(stop, covered)} are covered twice")
        elif start > covered:
            problems.append(f"heads {covered}..{start} are not covered")
        covered = max(covered, stop)
    if covered < H:
        problems.append(f"heads {covered}..{H} are not covered")
    elif covered > H:
        problems.append(f"heads {H}..{covered} are past H={H}")
    return problems


def _names(node) -> list[str]:
    seen = []
    for leaf in ir.walk(node):
        if isinstance(leaf, ir.Var) and leaf.name not in seen:
            seen.append(leaf.name)
    return seen


def _values(node, env: dict) -> str:
    return ", ".join(f"{n}={env.get(n)!r}" for n in _names(node))
