"""Syntax tree back to `.attn` source: 4-space indents, one statement per line,
parentheses only where the precedence ladder needs them.

`parse(to_source(tree)) == tree` for every tree the parser builds (spans aside).
Literals print as the parser reads them: a negative number is `Unary('-', ...)`
in a parsed tree, so an `IntLit(-3)` built by hand prints as `-3` and reads
back as `Unary('-', IntLit(3))`.
"""
from __future__ import annotations

import math

from . import syntax

INDENT = "    "
WIDTH = 100  # longer `mask`/`let`/`require` lines break before their top-level `|` or `&`

# binding strength, loosest first; comparisons do not chain
PRECEDENCE = {"|": 1, "&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
              "+": 4, "-": 4, "*": 5, "//": 5, "%": 5}
COMPARISON = 3
UNARY = 6
ATOM = 7


def to_source(node) -> str:
    """Source text for a File, Pattern, statement, Param, Keyword or expression."""
    if isinstance(node, syntax.File):
        return "\n\n".join(to_source(p) for p in node.patterns) + ("\n" if node.patterns else "")
    if isinstance(node, syntax.Pattern):
        params = ", ".join(to_source(p) for p in node.params)
        return f"pattern {node.name}({params}) " + _body(node.body, 0)
    if isinstance(node, syntax.Param):
        default = "" if node.default is None else f" = {_expr(node.default)}"
        return f"{node.name}: {node.type}{default}"
    if isinstance(node, syntax.Keyword):
        return f"{node.name}={_expr(node.value)}"
    if isinstance(node, (syntax.Let, syntax.Mask, syntax.Require, syntax.Score, syntax.Heads, syntax.Tile)):
        return _statement(node, 0)
    return _expr(node)


def _body(stmts, depth: int) -> str:
    if not stmts:
        return "{}"
    lines = [INDENT * (depth + 1) + _statement(s, depth + 1) for s in stmts]
    return "{\n" + "".join(line + "\n" for line in lines) + INDENT * depth + "}"


def _statement(node, depth: int) -> str:
    if isinstance(node, syntax.Let):
        return _wrapped(f"let {node.name} = ", node.value, depth)
    if isinstance(node, syntax.Mask):
        return _wrapped("mask ", node.expr, depth)
    if isinstance(node, syntax.Require):
        return _wrapped("require ", node.cond, depth)
    if isinstance(node, syntax.Score):
        return "score " + ", ".join(_expr(m) for m in node.modifiers)
    if isinstance(node, syntax.Heads):
        return f"heads {_expr(node.start)}..{_expr(node.stop)} " + _body(node.body, depth)
    if isinstance(node, syntax.Tile):
        return "tile " + ", ".join(to_source(e) for e in node.entries)
    raise TypeError(f"not a statement: {type(node).__name__}")


def _wrapped(prefix: str, expr, depth: int) -> str:
    """`prefix + expr`, or when too long one operand of its top-level `|`/`&` chain per
    line: a line that starts with an operator continues the statement above."""
    line = prefix + _expr(expr)
    if len(INDENT * depth + line) <= WIDTH or not (isinstance(expr, syntax.Binary) and expr.op in ("|", "&")):
        return line
    op, operands = expr.op, []
    while isinstance(expr, syntax.Binary) and expr.op == op:
        operands.append(expr.right)
        expr = expr.left
    strength = PRECEDENCE[op]
    rest = "".join(f"\n{INDENT * (depth + 1)}{op} {_operand(o, strength + 1)}" for o in reversed(operands))
    return prefix + _operand(expr, strength) + rest


def _expr(node) -> str:
    if isinstance(node, syntax.IntLit):
        return str(node.value)
    if isinstance(node, syntax.FloatLit):
        return _float(node.value)
    if isinstance(node, syntax.Name):
        return node.id
    if isinstance(node, syntax.Unary):
        operand = _operand(node.operand, UNARY)
        return node.op + (" " if operand.startswith("-") else "") + operand  # `- -x`, not `--x`
    if isinstance(node, syntax.Binary):
        strength = PRECEDENCE[node.op]
        # left-associative: a left operand as loose as the operator needs no parentheses,
        # except that comparisons never chain; a right one that loose always does
        left_min = strength + 1 if strength == COMPARISON else strength
        return f"{_operand(node.left, left_min)} {node.op} {_operand(node.right, strength + 1)}"
    if isinstance(node, syntax.Call):
        args = [_expr(a) for a in node.args] + [to_source(k) for k in node.kwargs]
        return f"{node.func}({', '.join(args)})"
    if isinstance(node, syntax.ListLit):
        return "[" + ", ".join(_expr(i) for i in node.items) + "]"
    if isinstance(node, syntax.Blocks):
        return f"blocks({_expr(node.size)}) {{ {_expr(node.body)} }}"
    raise TypeError(f"not an expression: {type(node).__name__}")


def _operand(node, min_strength: int) -> str:
    text = _expr(node)
    return text if _strength(node) >= min_strength else f"({text})"


def _strength(node) -> int:
    if isinstance(node, syntax.Binary):
        return PRECEDENCE[node.op]
    if isinstance(node, syntax.Unary):
        return UNARY
    if isinstance(node, (syntax.IntLit, syntax.FloatLit)) and node.value < 0:
        return UNARY  # prints with a leading '-'
    return ATOM


def _float(value: float) -> str:
    if math.isnan(value):
        raise ValueError("a NaN float literal has no source form")
    if math.isinf(value):
        return "1e999" if value > 0 else "-1e999"
    return repr(value)
