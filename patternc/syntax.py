"""The syntax tree of a `.attn` file: frozen dataclasses, every node with its span.

The parser (`parse.py`) builds these; the printer (`printer.py`) turns them back
into source that parses to an equal tree (spans aside: `==` on nodes ignores
spans, so a round trip compares structure only).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from .diagnostics import Span



def _span():
    """A span field: excluded from == and repr, so trees compare by structure.
    (A fresh field() per use: one shared Field object breaks a class with two.)"""
    return field(default_factory=Span.unknown, compare=False, repr=False)


# ---------------------------------------------------------------- expressions
@dataclass(frozen=True)
class IntLit:
    value: int
    span: Span = _span()


@dataclass(frozen=True)
class FloatLit:
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class Name:
    """A use of a name: a param, a `let`, a size (Q K N H D), an index (i p j h),
    or a primitive without arguments (`causal`, `full`, `none`, `segments`, `alibi`)."""

    id: str
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # '-' or '!'
    operand: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    op: str  # one of: | & == != < <= > >= + - * // %
    left: "Expr"
    right: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Keyword:
    name: str
    value: "Expr"
    span: Span = _span()


@dataclass(frozen=True)
class Call:
    """`name(args, key=value)`: a primitive, a modifier, or min/max/abs."""

    func: str
    args: tuple["Expr", ...] = ()
    kwargs: tuple[Keyword, ...] = ()
    span: Span = _span()
    func_span: Span = _span()


@dataclass(frozen=True)
class ListLit:
    """`[t1, t2, ...]`, the positions of `global([...])`."""

    items: tuple["Expr", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Blocks:
    """`blocks(size) { body }`: body is evaluated on block indices."""

    size: "Expr"
    body: "Expr"
    span: Span = _span()


Expr = Union[IntLit, FloatLit, Name, Unary, Binary, Call, ListLit, Blocks]


# ---------------------------------------------------------------- statements
@dataclass(frozen=True)
class Param:
    name: str
    type: str  # 'int' or 'float'
    default: Expr | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Let:
    name: str
    value: Expr
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class Mask:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Require:
    cond: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Score:
    """`score alibi, decay(0.9)`: modifiers are Name (no arguments) or Call."""

    modifiers: tuple[Expr, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Heads:
    """`heads start..stop { body }`."""

    start: Expr
    stop: Expr
    body: tuple["Stmt", ...]
    span: Span = _span()


@dataclass(frozen=True)
class Tile:
    """`tile q=64, kv=128`."""

    entries: tuple[Keyword, ...]
    span: Span = _span()


Stmt = Union[Let, Mask, Require, Score, Heads, Tile]


@dataclass(frozen=True)
class Pattern:
    name: str
    params: tuple[Param, ...]
    body: tuple[Stmt, ...]
    span: Span = _span()
    name_span: Span = _span()


@dataclass(frozen=True)
class File:
    patterns: tuple[Pattern, ...]
    span: Span = _span()
