"""Lowering: a checked mask and its environment -> blockrt's *value tree*.

The value tree is the IR with every static value evaluated to a Python int,
as plain tuples (see patternc/blockrt.py for the grammar). Generated modules
build the same trees from source text (codegen.python_tree); here they are
built directly, for the reference semantics and the classifier.

Meanings fixed here:
- A static sub-expression is folded with `ir.eval_static` in the environment of
  its level: inside `blocks(b) { }` the sizes Q and K are numbers of blocks,
  ceil(Q / b) and ceil(K / b) (nested blocks round up again from the level
  above), so no `("size", ...)` node is ever emitted.
- A comparison of two static values folds to `("full",)` or `("empty",)`.
- Integer values must be ints: a float in a mask is a checker bug (TypeError).
"""
from __future__ import annotations

from . import ir


def group_trees(pattern: ir.CheckedPattern, env: dict) -> list[tuple[int, int, tuple]]:
    """(first head, end head, value tree) of each head group, in source order."""
    return [(_static_int(g.start, env), _static_int(g.stop, env), to_tree(g.mask, env)) for g in pattern.groups]


def to_tree(mask, env: dict) -> tuple:
    """The value tree of an IR mask expression in `env` (params and sizes)."""
    if isinstance(mask, ir.Full):
        return ("full",)
    if isinstance(mask, ir.Empty):
        return ("empty",)
    if isinstance(mask, ir.Causal):
        return ("causal",)
    if isinstance(mask, ir.Segments):
        return ("segments",)
    if isinstance(mask, ir.Not):
        return ("not", to_tree(mask.a, env))
    if isinstance(mask, (ir.And, ir.Or, ir.Xor)):
        return (type(mask).__name__.lower(), to_tree(mask.a, env), to_tree(mask.b, env))
    if isinstance(mask, ir.Compare):
        return _compare(mask, env)
    if isinstance(mask, ir.BlockMap):
        return _blocks(mask, env)
    if isinstance(mask, ir.GlobalList):
        return ("global_list", tuple(_static_int(t, env) for t in mask.positions))
    if type(mask) in _PRIMITIVES:
        tag, *names = _PRIMITIVES[type(mask)]
        return (tag, *(_static_int(getattr(mask, name), env) for name in names))
    raise TypeError(f"not a mask expression: {type(mask).__name__}")


# The primitives whose arguments are all static ints: tag, then field names in order.
_PRIMITIVES = {
    ir.Window: ("window", "left", "right"),
    ir.Dilated: ("dilated", "left", "right", "dilation"),
    ir.Strided: ("strided", "stride"),
    ir.BlockDiag: ("block", "size"),
    ir.Global: ("global", "count"),
    ir.KeyPrefix: ("prefix", "count"),
    ir.Random: ("random", "count", "seed"),
    ir.Buckets: ("buckets", "count", "rounds", "seed"),
}


def int_tree(expr, env: dict):
    """An integer expression as a value tree: an int where it is static."""
    if ir.is_static(expr):
        return _static_int(expr, env)
    if isinstance(expr, ir.Index):
        return ("idx", expr.name)
    if isinstance(expr, ir.Neg):
        return ("neg", int_tree(expr.a, env))
    if isinstance(expr, ir.Abs):
        return ("abs", int_tree(expr.a, env))
    if isinstance(expr, ir.Arith):
        return ("arith", expr.op, int_tree(expr.a, env), int_tree(expr.b, env))
    raise TypeError(f"not an integer expression: {type(expr).__name__}")


def _compare(node: ir.Compare, env: dict) -> tuple:
    if ir.is_static(node):
        return ("full",) if ir.eval_static(node, env) else ("empty",)
    return ("cmp", node.op, int_tree(node.a, env), int_tree(node.b, env))


def _blocks(node: ir.BlockMap, env: dict) -> tuple:
    size = _static_int(node.size, env)
    if size < 1:
        raise ValueError(f"blocks({size}): the block size must be >= 1")
    inner = dict(env, Q=ir.cdiv(env["Q"], size), K=ir.cdiv(env["K"], size))
    return ("blocks", size, to_tree(node.body, inner))


def _static_int(expr, env: dict) -> int:
    value = ir.eval_static(expr, env)
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise TypeError(f"expected an integer in a mask, got {value!r}")
    return value
