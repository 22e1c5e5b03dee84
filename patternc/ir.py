"""The checked IR: what a pattern means, with names resolved and `let`s inlined.

A pattern is a tuple of head groups; each group has one mask expression and its
score modifiers. Mask expressions are trees of the nodes below. Integer
expressions are either *static* (over params and sizes Q K H D: known at call
time, symbolic in sympy before) or *indexed* (they mention i, p, j or h).

Every stage after the checker reads this: `semantics` (dense mask, the ground
truth), `classify` (block classes), `plan` and `codegen`.

Conventions fixed here, so that no later stage has to decide them:
- `N` is resolved to `K`; `window(w)` is `Window(w, w)`; `dilated(w, d)` is
  `Dilated(w, w, d)`; `sink(s)` and `prefix(n)` are both `KeyPrefix`; `A - B`
  is `And(A, Not(B))`; `A == B` on booleans is `Not(Xor(A, B))`.
- `random(r, b, seed=S)` outside `blocks` is `BlockMap(b, Random(r, S))`;
  `Random` is only ever evaluated on block coordinates.
- Inside `BlockMap(b, body)`, indices are block indices (`p // b`, `j // b`,
  `i // b`) and Q, K are the numbers of blocks, rounded up.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Iterator, Union

import sympy

from .diagnostics import Span



def _span():
    return field(default_factory=Span.unknown, compare=False, repr=False)

SIZES = ("Q", "K", "H", "D")
INDICES = ("i", "p", "j", "h")


# ------------------------------------------------------------ integer nodes
@dataclass(frozen=True)
class Const:
    value: Union[int, float]


@dataclass(frozen=True)
class Var:
    """A param or a size (Q, K, H, D)."""

    name: str


@dataclass(frozen=True)
class Index:
    """i (query row), p (query position), j (key position) or h (head)."""

    name: str


@dataclass(frozen=True)
class Arith:
    op: str  # '+', '-', '*', '//', '%', 'min', 'max'
    a: "IntExpr"
    b: "IntExpr"


@dataclass(frozen=True)
class Neg:
    a: "IntExpr"


@dataclass(frozen=True)
class Abs:
    a: "IntExpr"


IntExpr = Union[Const, Var, Index, Arith, Neg, Abs]


# ------------------------------------------------------------ boolean / mask nodes
@dataclass(frozen=True)
class Compare:
    op: str  # '==', '!=', '<', '<=', '>', '>='
    a: IntExpr
    b: IntExpr


@dataclass(frozen=True)
class Not:
    a: "MaskExpr"


@dataclass(frozen=True)
class And:
    a: "MaskExpr"
    b: "MaskExpr"


@dataclass(frozen=True)
class Or:
    a: "MaskExpr"
    b: "MaskExpr"


@dataclass(frozen=True)
class Xor:
    a: "MaskExpr"
    b: "MaskExpr"


@dataclass(frozen=True)
class Full:
    pass


@dataclass(frozen=True)
class Empty:
    pass


@dataclass(frozen=True)
class Causal:
    """j <= p"""


@dataclass(frozen=True)
class Window:
    """p - left <= j <= p + right"""

    left: IntExpr
    right: IntExpr


@dataclass(frozen=True)
class Dilated:
    """p - left*d <= j <= p + right*d and (p - j) mod d == 0"""

    left: IntExpr
    right: IntExpr
    dilation: IntExpr


@dataclass(frozen=True)
class Strided:
    """(p - j) mod stride == 0"""

    stride: IntExpr


@dataclass(frozen=True)
class BlockDiag:
    """p // size == j // size  (the language's `block(b)`)"""

    size: IntExpr


@dataclass(frozen=True)
class Global:
    """p < count or j < count"""

    count: IntExpr


@dataclass(frozen=True)
class GlobalList:
    """p in positions or j in positions"""

    positions: tuple[IntExpr, ...]


@dataclass(frozen=True)
class KeyPrefix:
    """j < count  (the language's `sink(s)` and `prefix(n)`)"""

    count: IntExpr
    spelling: str = "prefix"  # which keyword the user wrote, for printing only


@dataclass(frozen=True)
class Random:
    """Query (block) p sees `count` distinct key (blocks) drawn from `seed`.
    Always inside a BlockMap; see `random_table` in blockrt for the draw."""

    count: IntExpr
    seed: IntExpr = Const(0)


@dataclass(frozen=True)
class Segments:
    """segments[b, p] == segments[b, j]; a runtime (B, K) integer tensor."""


@dataclass(frozen=True)
class Buckets:
    """LSH: some round r has hash_r(q_i) == hash_r(k_j)."""

    count: IntExpr
    rounds: IntExpr = Const(1)
    seed: IntExpr = Const(0)


@dataclass(frozen=True)
class BlockMap:
    """blocks(size) { body }"""

    size: IntExpr
    body: "MaskExpr"


MaskExpr = Union[
    Compare, Not, And, Or, Xor, Full, Empty, Causal, Window, Dilated, Strided, BlockDiag,
    Global, GlobalList, KeyPrefix, Random, Segments, Buckets, BlockMap,
]


# ------------------------------------------------------------ pattern
@dataclass(frozen=True)
class Param:
    name: str
    type: str  # 'int' or 'float'
    default: Union[int, float, None]
    span: Span = _span()


@dataclass(frozen=True)
class Modifier:
    kind: str  # 'alibi', 'decay', 'softcap'
    arg: Union[IntExpr, None] = None
    span: Span = _span()


@dataclass(frozen=True)
class Requirement:
    """A static boolean that must hold at call time (user `require`s, and value
    checks such as `w >= 0` the checker could not decide before the call)."""

    cond: MaskExpr  # only Compare/Not/And/Or/Xor over static IntExprs
    text: str
    span: Span = _span()


@dataclass(frozen=True)
class HeadGroup:
    start: IntExpr
    stop: IntExpr
    mask: MaskExpr
    modifiers: tuple[Modifier, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class CheckedPattern:
    name: str
    params: tuple[Param, ...]
    groups: tuple[HeadGroup, ...]
    requirements: tuple[Requirement, ...] = ()
    tile: Union[tuple[int, int], None] = None  # (q, kv) hint
    span: Span = _span()
    filename: str = "<string>"

    @property
    def has_heads(self) -> bool:
        return len(self.groups) > 1 or self.groups[0].stop != Var("H") or self.groups[0].start != Const(0)

    @property
    def runtime_inputs(self) -> tuple[str, ...]:
        """Names of call-time tensors the pattern needs ('segments', 'rotations')."""
        found = set()
        for g in self.groups:
            for node in walk(g.mask):
                if isinstance(node, Segments):
                    found.add("segments")
                elif isinstance(node, Buckets):
                    found.add("rotations")
        return tuple(sorted(found))

    @property
    def is_data_dependent(self) -> bool:
        return bool(self.runtime_inputs)


# ------------------------------------------------------------ helpers
def children(node) -> Iterator:
    for f in fields(node):
        value = getattr(node, f.name)
        if is_dataclass(value) and not isinstance(value, Span):
            yield value
        elif isinstance(value, tuple):
            yield from (v for v in value if is_dataclass(v) and not isinstance(v, Span))


def walk(node) -> Iterator:
    """Pre-order over a node and everything below it (iterative: trees can be deep)."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(list(children(n))))


def is_static(expr) -> bool:
    return not any(isinstance(n, (Index, Segments, Buckets)) for n in walk(expr))


def mentions(expr, name: str) -> bool:
    return any(isinstance(n, (Index, Var)) and n.name == name for n in walk(expr))


_SYMBOLS = {}


def symbol(name: str) -> sympy.Symbol:
    if name not in _SYMBOLS:
        _SYMBOLS[name] = sympy.Symbol(name, integer=True)
    return _SYMBOLS[name]


def to_sympy(expr: IntExpr) -> sympy.Expr:
    """A static or indexed integer expression as sympy (floor division and
    Python-style modulo keep their meaning)."""
    if isinstance(expr, Const):
        return sympy.Integer(expr.value) if isinstance(expr.value, int) else sympy.Float(expr.value)
    if isinstance(expr, (Var, Index)):
        return symbol(expr.name)
    if isinstance(expr, Neg):
        return -to_sympy(expr.a)
    if isinstance(expr, Abs):
        return sympy.Abs(to_sympy(expr.a))
    a, b = to_sympy(expr.a), to_sympy(expr.b)
    return {
        "+": lambda: a + b,
        "-": lambda: a - b,
        "*": lambda: a * b,
        "//": lambda: sympy.floor(a / b),
        "%": lambda: sympy.Mod(a, b),
        "min": lambda: sympy.Min(a, b),
        "max": lambda: sympy.Max(a, b),
    }[expr.op]()


def eval_static(expr, env: dict):
    """Evaluate a static integer or boolean expression with Python semantics.
    `env` maps params and sizes to numbers. Raises ZeroDivisionError on // 0 or % 0."""
    if isinstance(expr, Const):
        return expr.value
    if isinstance(expr, Var):
        return env[expr.name]
    if isinstance(expr, Neg):
        return -eval_static(expr.a, env)
    if isinstance(expr, Abs):
        return abs(eval_static(expr.a, env))
    if isinstance(expr, Not):
        return not eval_static(expr.a, env)
    if isinstance(expr, (And, Or, Xor)):
        a, b = bool(eval_static(expr.a, env)), bool(eval_static(expr.b, env))
        return {And: a and b, Or: a or b, Xor: a != b}[type(expr)]
    if isinstance(expr, Compare):
        a, b = eval_static(expr.a, env), eval_static(expr.b, env)
        return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[expr.op]
    if isinstance(expr, Arith):
        a, b = eval_static(expr.a, env), eval_static(expr.b, env)
        if expr.op == "+":
            return a + b
        if expr.op == "-":
            return a - b
        if expr.op == "*":
            return a * b
        if expr.op == "//":
            return a // b
        if expr.op == "%":
            return a % b
        return min(a, b) if expr.op == "min" else max(a, b)
    raise TypeError(f"not a static expression: {type(expr).__name__}")


def cdiv(a: int, b: int) -> int:
    return -(-a // b)
