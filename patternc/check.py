"""The checker: syntax tree -> checked IR, one `ir.CheckedPattern` per pattern.

One walk per pattern, statement by statement, resolves names, infers kinds,
checks values and structure and builds the IR at the same time. Every problem
in the file is collected and raised once as a `PatterncError`. A sub-expression
that failed yields the `ERROR` value, which its parents pass on silently, so
one mistake gives one diagnostic.

Meanings fixed here (LANGUAGE.md leaves them to the compiler):
- `let`s are inlined where they are used, as if their text were written there.
  A let is checked once, where it is defined (never inside `blocks`); used
  inside `blocks(b) { }` it therefore reads block indices and block counts.
- Head groups: a pattern without `heads` blocks has one group, heads 0..H.
  With `heads` blocks each block is a group; the top-level `score` modifiers
  apply to every head first, then the block's own, each list in the order
  written, wherever the statements stand in the pattern.
- Values (window sizes >= 0, ...) are decided now when they hold or fail for
  every value of the params and sizes (Q, K >= 0; H, D >= 1), never by looking
  at defaults; the others become `ir.Requirement`s that `bind` evaluates at
  call time. Inside `blocks(b)` they are stated on token sizes (K -> ceil(K/b)).
- Floats appear only as score modifier arguments and in `require`.

Codes (stable):
  E0201 unknown name          E0202 unknown function     E0203 duplicate pattern
  E0204 duplicate param       E0205 reserved name        E0206 name already defined
  E0207 unknown keyword       E0301 wrong kind           E0302 float not allowed
  E0303 wrong argument count  E0304 argument not static  E0305 called / not called
  E0306 keyword repeated or missing                      E0307 data-dependent in blocks
  E0308 unknown param type    E0309 modifier vs mask     E0310 require not static
  E0311 bad param default     E0312 list outside global  E0313 tile not constant
  E0401 value out of range    E0402 integer too large    E0403 division by zero
  E0404 require never holds   E0405 empty heads range    E0406 heads overlap
  E0407 heads not covered     E0408 bad tile size
  E0501 no mask               E0502 several masks        E0503 top mask with heads
  E0504 several tiles         E0505 tile inside heads    E0506 heads inside heads
  E0507 nested too deeply

Longer than our ~400-line aim: the expression checker (`_Exprs`) and the
statement checker share per-pattern state (requirements, float params) and the
value checks; splitting them would mean passing that state through every call.
"""
from __future__ import annotations

import builtins
import keyword
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, is_dataclass

import sympy

from . import ir, syntax
from .diagnostics import Collector, Span, suggest
from .parse import parse

try:  # the printer is written alongside; fall back to a local one until it exists
    from .printer import to_source as _to_source
except ImportError:  # pragma: no cover - depends on the build order
    _to_source = None

INT_LIMIT = 2**62
# Limits on an expression once its `let`s are inlined. The generated Python nests
# as deep as the expression (CPython's parser gives up near 200 levels, and each
# enclosing `blocks` adds levels to every index and size: see `compiled_depth`),
# and `let m2 = m1 | m1` doubles the generated code at every line.
MAX_DEPTH = 100
MAX_NODES = 2000

INT, FLOAT, BOOL, MASK, ERR = "int", "float", "bool", "mask", "error"
NUMERIC, LOGICAL = (INT, FLOAT), (BOOL, MASK)

SIZES = {"Q": "Q", "K": "K", "N": "K", "H": "H", "D": "D"}
INDICES = ("i", "p", "j", "h")
RESERVED = {
    "i": "the query row", "p": "the query position", "j": "the key position", "h": "the head",
    "Q": "the query length", "K": "the key length", "N": "the key length (N is K)",
    "H": "the number of heads", "D": "the head dimension",
}
BARE_PRIMITIVES = {"full": ir.Full(), "none": ir.Empty(), "causal": ir.Causal(), "segments": ir.Segments()}
FUNCTIONS = {"min": 2, "max": 2, "abs": 1}
MODIFIERS = ("alibi", "decay", "softcap")
# Params become keyword arguments of the generated Python function, patterns its
# function names: neither may be a Python keyword. (`q`, `k`, `v` stay allowed:
# LANGUAGE.md's natten2d example has a param `k`; codegen must rename its own.)
# Pattern and param names become Python names of the generated module: a
# pattern may not take a name the module uses at its top level (Python keywords
# and builtins, its imports and constants), and a param not one of those nor a
# keyword argument of the call itself.
MODULE_NAMES = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | {
    "torch", "triton", "tl", "math", "os", "OrderedDict", "PATTERNS", "SOURCE_SHA256"}
CALL_KEYWORDS = frozenset({"scale", "return_lse", "segments", "rotations"})


@dataclass(frozen=True)
class Signature:
    usage: str
    arities: tuple[int, ...]
    keywords: tuple[str, ...] = ()


SIGNATURES = {
    "window": Signature("window(w) or window(l, r)", (1, 2)),
    "dilated": Signature("dilated(w, d) or dilated(l, r, d)", (2, 3)),
    "strided": Signature("strided(s)", (1,)),
    "block": Signature("block(b)", (1,)),
    "global": Signature("global(g) or global([t1, t2, ...])", (1,)),
    "sink": Signature("sink(s)", (1,)),
    "prefix": Signature("prefix(n)", (1,)),
    "random": Signature("random(r, b) or random(r, b, seed=S)", (2,), ("seed",)),
    "buckets": Signature("buckets(n) or buckets(n, rounds=R, seed=S)", (1,), ("rounds", "seed")),
}
RANDOM_IN_BLOCKS = Signature("random(r) or random(r, seed=S) inside blocks(b) { }", (1,), ("seed",))
IN_BLOCKS_WHY = {
    "segments": "segment ids belong to single tokens, not to blocks of positions",
    "buckets": "LSH hashes belong to single queries and keys, not to blocks of positions",
}


# ------------------------------------------------------------------ values
@dataclass(frozen=True)
class Val:
    """A checked expression: its kind, its IR, and its number when it is a constant."""

    kind: str
    node: object = None
    value: object = None


ERROR = Val(ERR)


@dataclass(frozen=True)
class Binding:
    what: str  # 'param' or 'let'
    val: Val
    span: Span


@dataclass(frozen=True)
class Ctx:
    scope: dict
    blocks: tuple = ()  # sizes of the enclosing blocks(b), outermost first
    floats: bool = False  # floats allowed (modifier arguments, require)


def describe(val: Val) -> str:
    if val.kind == INT and not ir.is_static(val.node):
        return "an int that depends on " + _index_in(val.node)
    return {INT: "an int", FLOAT: "a float", BOOL: "a boolean", MASK: "a mask"}.get(val.kind, val.kind)


def _index_in(node) -> str:
    names = [n.name for n in ir.walk(node) if isinstance(n, ir.Index)]
    return f"'{names[0]}'" if names else "the data (segments, buckets)"


def text(node) -> str:
    """Source text of a syntax node, for messages and requirement texts."""
    if _to_source is not None:
        try:
            return _to_source(node)
        except Exception:  # a printer bug must not hide the diagnostic
            pass
    return _fallback_source(node)


_PREC = {"|": 1, "&": 2, "==": 3, "!=": 3, "<": 3, "<=": 3, ">": 3, ">=": 3,
         "+": 4, "-": 4, "*": 5, "//": 5, "%": 5}


def _prec(node) -> int:
    if isinstance(node, syntax.Binary):
        return _PREC.get(node.op, 0)
    return 6 if isinstance(node, syntax.Unary) else 7


def _fallback_source(node) -> str:
    if isinstance(node, (syntax.IntLit, syntax.FloatLit)):
        return repr(node.value)
    if isinstance(node, syntax.Name):
        return node.id
    if isinstance(node, syntax.Unary):
        inner = _fallback_source(node.operand)
        return node.op + (inner if _prec(node.operand) >= 6 else f"({inner})")
    if isinstance(node, syntax.Binary):
        p = _PREC.get(node.op, 0)
        left, right = _fallback_source(node.left), _fallback_source(node.right)
        left = left if _prec(node.left) > p or (_prec(node.left) == p and p != 3) else f"({left})"
        right = right if _prec(node.right) > p else f"({right})"
        return f"{left} {node.op} {right}"
    if isinstance(node, syntax.Call):
        args = [_fallback_source(a) for a in node.args] + [f"{k.name}={_fallback_source(k.value)}" for k in node.kwargs]
        return f"{node.func}({', '.join(args)})"
    if isinstance(node, syntax.ListLit):
        return "[" + ", ".join(_fallback_source(a) for a in node.items) + "]"
    if isinstance(node, syntax.Blocks):
        return f"blocks({_fallback_source(node.size)}) {{ {_fallback_source(node.body)} }}"
    return "?"


def atom_text(node) -> str:
    src = text(node)
    return src if _prec(node) >= 6 else f"({src})"


def span_of(node, name_span_attr: str | None = None) -> Span:
    if name_span_attr:
        s = getattr(node, name_span_attr, None)
        if s is not None and s.line > 0:
            return s
    return node.span


def _got(val: Val, node) -> str:
    """How a value that fails a check for sure is shown: its number, or its text."""
    return f", got {val.value}" if val.value is not None else f"; `{text(node)}` never is"


def where(span: Span) -> str:
    return f" (line {span.line})" if span.line > 0 else ""


# ------------------------------------------------------------------ deciding
_ASSUMED = {
    "Q": sympy.Symbol("Q", integer=True, nonnegative=True),
    "K": sympy.Symbol("K", integer=True, nonnegative=True),
    "H": sympy.Symbol("H", integer=True, positive=True),
    "D": sympy.Symbol("D", integer=True, positive=True),
}
_SIGN_TESTS = {
    ">=": lambda d: d.is_nonnegative, ">": lambda d: d.is_positive,
    "<=": lambda d: d.is_nonpositive, "<": lambda d: d.is_negative,
    "==": lambda d: d.is_zero, "!=": lambda d: None if d.is_zero is None else not d.is_zero,
}


def decide(cond, float_params=frozenset()):
    """True or False when a static condition holds or fails for every value of
    its params and sizes, else None (to be checked at call time)."""
    if isinstance(cond, ir.Not):
        inner = decide(cond.a, float_params)
        return None if inner is None else not inner
    if isinstance(cond, (ir.And, ir.Or, ir.Xor)):
        a, b = decide(cond.a, float_params), decide(cond.b, float_params)
        if isinstance(cond, ir.And):
            return False if False in (a, b) else (True if a and b else None)
        if isinstance(cond, ir.Or):
            return True if True in (a, b) else (False if a is False and b is False else None)
        return None if None in (a, b) else a != b
    if not any(isinstance(n, ir.Var) for n in ir.walk(cond)):
        try:
            return bool(ir.eval_static(cond, {}))
        except (ArithmeticError, TypeError):
            return None
    try:
        subs = {ir.symbol(name): s for name, s in _ASSUMED.items()}
        subs.update({ir.symbol(name): sympy.Symbol(name, real=True) for name in float_params})
        diff = ir.to_sympy(cond.a).xreplace(subs) - ir.to_sympy(cond.b).xreplace(subs)
        verdict = _SIGN_TESTS[cond.op](diff)
    except Exception:  # sympy could not tell: leave it to call time
        return None
    return None if verdict is None else bool(verdict)


def _replace_vars(node, mapping: dict):
    if isinstance(node, ir.Var):
        return mapping.get(node.name, node)
    if isinstance(node, tuple):
        return tuple(_replace_vars(n, mapping) for n in node)
    if is_dataclass(node) and not isinstance(node, (ir.Const, Span)):
        return type(node)(*(_replace_vars(getattr(node, f.name), mapping) for f in fields(node)))
    return node


def in_token_sizes(cond, blocks: tuple):
    """A condition written inside blocks(b1) { blocks(b2) { } } restated on token
    sizes: there K means ceil(K / b), innermost first."""
    for b in reversed(blocks):
        up = ir.Arith("-", b, ir.Const(1))
        cdiv = {s: ir.Arith("//", ir.Arith("+", ir.Var(s), up), b) for s in ("Q", "K")}
        cond = _replace_vars(cond, cdiv)
    return cond


# ------------------------------------------------------------------ entry points
def check(file: syntax.File, source: str | None = None, filename: str = "<string>") -> tuple[ir.CheckedPattern, ...]:
    """The checked patterns of a file, or a PatterncError with every problem."""
    out = Collector()
    seen: dict[str, syntax.Pattern] = {}
    checked = []
    with _deep_recursion():
        for pattern in file.patterns:
            _check_pattern_name(out, pattern, seen)
            before = len(out.diagnostics)
            try:
                result = _Statements(out, filename).pattern(pattern)
            except RecursionError:
                out.error("E0507", f"pattern '{pattern.name}' is nested too deeply to check",
                          span_of(pattern, "name_span"), "split it with `let`s")
                result = None
            if result is not None and len(out.diagnostics) == before:
                problem = next(filter(None, map(too_big, result.groups + result.requirements)), "")
                if problem:
                    out.error("E0507", f"pattern '{pattern.name}' {problem}", span_of(pattern, "name_span"),
                              "simplify it: long chains of `let`s, nested blocks or a long global([...]) list")
                else:
                    checked.append(result)
    out.raise_if_any(source, filename)
    return tuple(checked)


def check_source(source: str, filename: str = "<string>") -> tuple[ir.CheckedPattern, ...]:
    """Parse and check; diagnostics carry the source and file name."""
    return check(parse(source, filename), source, filename)


def too_big(node) -> str:
    """Why an expression (lets inlined) is too large to compile, or ''."""
    nodes = expanded_size(node)
    if nodes > MAX_NODES:
        return f"has {nodes} nodes once its lets are inlined (at most {MAX_NODES} can be compiled)"
    depth = compiled_depth(node)
    if depth > MAX_DEPTH:
        return f"nests {depth} levels deep once its lets are inlined (at most {MAX_DEPTH} can be compiled)"
    return ""


def expanded_size(root) -> int:
    """Nodes in the tree, shared sub-trees counted at every use (linear time:
    each distinct node object is visited once)."""
    sizes: dict[int, int] = {}
    stack = [(root, False)]
    while stack:
        node, ready = stack.pop()
        kids = list(ir.children(node))
        if ready:
            sizes[id(node)] = 1 + sum(sizes[id(kid)] for kid in kids)
        elif id(node) not in sizes:
            stack.append((node, True))
            stack.extend((kid, False) for kid in kids if id(kid) not in sizes)
    return sizes[id(root)]


def compiled_depth(root) -> int:
    """How deep the generated code nests for this tree (call on trees of at most
    MAX_NODES nodes). Inside k enclosing blocks(b) an index stands for k floor
    divisions, Q, K (and a random draw, which reads K) for k ceiling divisions of
    3 levels each; global([...]) is a balanced tree of `or`s over its positions."""
    best, stack = 0, [(root, 1, 0, 0)]
    while stack:
        node, depth, blocks, extra = stack.pop()
        if isinstance(node, ir.Index) and node.name != "h":
            depth += blocks + extra
        elif (isinstance(node, ir.Var) and node.name in ("Q", "K")) or isinstance(node, ir.Random):
            depth += 3 * blocks + extra
        elif isinstance(node, ir.GlobalList):
            depth += (len(node.positions) - 1).bit_length() + 1
        best = max(best, depth)
        for kid in ir.children(node):
            if isinstance(node, ir.BlockMap) and kid is node.body:
                stack.append((kid, depth + 1, blocks + 1, max(extra, compiled_depth(node.size))))
            else:
                stack.append((kid, depth + 1, blocks, extra))
    return best


@contextmanager
def _deep_recursion(limit: int = 6000):
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, limit))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _check_pattern_name(out: Collector, pattern: syntax.Pattern, seen: dict) -> None:
    span = span_of(pattern, "name_span")
    if pattern.name in seen:
        out.error("E0203", f"pattern '{pattern.name}' is defined twice",
                  span, f"first defined{where(seen[pattern.name].span) or ' above'}")
        return
    seen[pattern.name] = pattern
    if pattern.name in MODULE_NAMES or pattern.name.startswith("_") or "__" in pattern.name:
        out.error("E0205", f"'{pattern.name}' cannot name a pattern: it becomes a Python function name",
                  span, "choose another name")


# ------------------------------------------------------------------ expressions
class _Exprs:
    """Checks expressions of one pattern and builds their IR; value checks it
    cannot decide now become requirements of the pattern."""

    def __init__(self, out: Collector):
        self.out = out
        self.requirements: list[ir.Requirement] = []
        self.float_params: set[str] = set()

    def error(self, code: str, message: str, span: Span, *notes: str) -> Val:
        self.out.error(code, message, span, *notes)
        return ERROR

    def expr(self, node, ctx: Ctx) -> Val:
        visit = {
            syntax.IntLit: self._int, syntax.FloatLit: self._float, syntax.Name: self._name,
            syntax.Unary: self._unary, syntax.Binary: self._binary, syntax.Call: self._call,
            syntax.ListLit: self._list, syntax.Blocks: self._blocks,
        }.get(type(node))
        if visit is None:
            span = getattr(node, "span", Span.unknown())
            return self.error("E0301", f"not an expression: {type(node).__name__}", span)
        return visit(node, ctx)

    # -------------------------------------------------------------- leaves
    def _int(self, node, ctx) -> Val:
        if abs(node.value) >= INT_LIMIT:
            return self.error("E0402", f"integer {node.value} is too large", node.span,
                              "integers must be smaller than 2**62 in magnitude")
        return Val(INT, ir.Const(node.value), node.value)

    def _float(self, node, ctx) -> Val:
        if not ctx.floats:
            return self._float_here(f"float {node.value!r}", node.span)
        return Val(FLOAT, ir.Const(node.value), node.value)

    def _float_here(self, what: str, span: Span) -> Val:
        return self.error("E0302", f"{what} cannot be used here: an int, a boolean or a mask is needed", span,
                          "floats are only allowed as score modifier arguments (decay, softcap) and in require")

    def _name(self, node, ctx) -> Val:
        name = node.id
        if name in ctx.scope:
            return self._bound(node, ctx.scope[name], ctx)
        if name in SIZES:
            return Val(INT, ir.Var(SIZES[name]))
        if name in INDICES:
            return Val(INT, ir.Index(name))
        if name in BARE_PRIMITIVES:
            if name == "segments" and ctx.blocks:
                return self._data_in_blocks(name, node.span)
            return Val(MASK, BARE_PRIMITIVES[name])
        if name in SIGNATURES:
            return self.error("E0305", f"'{name}' needs arguments", node.span, f"write {SIGNATURES[name].usage}")
        if name in FUNCTIONS:
            return self.error("E0305", f"'{name}' is a function and needs arguments", node.span,
                              f"write {name}(a, b)" if FUNCTIONS[name] == 2 else f"write {name}(x)")
        if name in MODIFIERS:
            return self._modifier_outside(name, node.span)
        known = list(ctx.scope) + list(SIZES) + list(INDICES) + list(BARE_PRIMITIVES) + list(SIGNATURES)
        return self.error("E0201", f"unknown name '{name}'", node.span, suggest(name, known))

    def _bound(self, node, binding: Binding, ctx) -> Val:
        val = binding.val
        if val.kind == FLOAT and not ctx.floats:
            return self._float_here(f"float {binding.what} '{node.id}'", node.span)
        if ctx.blocks and val.kind == MASK:
            for leaf in ir.walk(val.node):
                if isinstance(leaf, (ir.Segments, ir.Buckets)):
                    return self._data_in_blocks(type(leaf).__name__.lower(), node.span, node.id)
        return val

    def _data_in_blocks(self, primitive: str, span: Span, via: str | None = None) -> Val:
        what = f"'{via}' uses {primitive}, which" if via else primitive
        return self.error("E0307", f"{what} cannot be used inside blocks(b) {{ }}", span,
                          f"{IN_BLOCKS_WHY[primitive]}; combine it outside the blocks")

    def _modifier_outside(self, name: str, span: Span) -> Val:
        return self.error("E0309", f"'{name}' is a score modifier, not a mask", span,
                          f"modifiers go in a `score` statement: score {name}" + ("" if name == "alibi" else "(...)"))

    # -------------------------------------------------------------- operators
    def _unary(self, node, ctx) -> Val:
        val = self.expr(node.operand, ctx)
        if val.kind == ERR:
            return val
        if node.op == "-":
            if val.kind not in NUMERIC:
                return self.error("E0301", f"unary `-` needs a number, got {describe(val)}", node.span,
                                  "the complement of a mask is `!A`")
            if isinstance(val.node, ir.Const):
                return Val(val.kind, ir.Const(-val.value), -val.value)
            return Val(val.kind, ir.Neg(val.node), None if val.value is None else -val.value)
        if node.op == "!":
            if val.kind not in LOGICAL:
                return self.error("E0301", f"`!` needs a mask or a boolean, got {describe(val)}", node.span,
                                  "compare integers first, e.g. `!(x > 0)`")
            return Val(val.kind, ir.Not(val.node))
        return self.error("E0301", f"unknown operator `{node.op}`", node.span)

    def _binary(self, node, ctx) -> Val:
        a, b = self.expr(node.left, ctx), self.expr(node.right, ctx)
        if ERR in (a.kind, b.kind):
            return ERROR
        op = node.op
        if a.kind in LOGICAL and b.kind in LOGICAL and op in ("&", "|", "-", "==", "!="):
            return Val(BOOL if a.kind == b.kind == BOOL else MASK, _LOGIC[op](a.node, b.node))
        if a.kind in NUMERIC and b.kind in NUMERIC:
            if op in ("+", "-", "*", "//", "%"):
                return self._arith(node, a, b, ctx)
            if op in _PREC and _PREC[op] == 3:
                static = ir.is_static(a.node) and ir.is_static(b.node)
                return Val(BOOL if static else MASK, ir.Compare(op, a.node, b.node))
        return self._mismatch(node, a, b)

    def _mismatch(self, node, a: Val, b: Val) -> Val:
        op = node.op
        if op in ("&", "|"):
            bad, side = (node.left, a) if a.kind not in LOGICAL else (node.right, b)
            return self.error("E0301", f"`{op}` combines masks and booleans, got {describe(side)}", bad.span,
                              "compare integers to make a condition, e.g. `x > 0`")
        if op in ("+", "*", "//", "%", "<", "<=", ">", ">="):
            bad, side = (node.left, a) if a.kind not in NUMERIC else (node.right, b)
            note = "the union of masks is `A | B`" if op == "+" else ""
            return self.error("E0301", f"`{op}` needs numbers, got {describe(side)}", bad.span, note)
        if op == "-":
            return self.error("E0301", f"`-` needs two numbers or two masks, got {describe(a)} and {describe(b)}",
                              node.span, "on masks, `A - B` is the difference `A & !B`")
        if op in ("==", "!="):
            return self.error("E0301", f"`{op}` compares two numbers or two booleans, got {describe(a)} "
                              f"and {describe(b)}", node.span)
        return self.error("E0301", f"unknown operator `{op}`", node.span)

    def _arith(self, node, a: Val, b: Val, ctx) -> Val:
        op = node.op
        kind = FLOAT if FLOAT in (a.kind, b.kind) else INT
        if op in ("//", "%") and not self._divisor_ok(node, b, ctx):
            return ERROR
        value = None
        if a.value is not None and b.value is not None:
            value = _PY_ARITH[op](a.value, b.value)
            if kind == INT and abs(value) >= INT_LIMIT:
                return self.error("E0402", f"`{text(node)}` is {value}, too large", node.span,
                                  "integers must be smaller than 2**62 in magnitude")
        return Val(kind, ir.Arith(op, a.node, b.node), value)

    def _divisor_ok(self, node, b: Val, ctx) -> bool:
        what = "division" if node.op == "//" else "modulo"
        if b.value is not None:
            if b.value == 0:
                self.error("E0403", f"{what} by zero", node.right.span)
                return False
            return True
        if not ir.is_static(b.node):
            return True  # a divisor over i/p/j/h: the predicate's own business
        cond = ir.Compare("!=", b.node, ir.Const(0))
        return self.need(ctx, cond, f"{text(node.right)} != 0", node.right,
                         "E0403", f"{what} by zero: `{text(node.right)}` is always 0", None)

    # -------------------------------------------------------------- value checks
    def need(self, ctx, cond, req_text: str, node, code: str, message: str, note: str | None) -> bool:
        """Decide `cond` now, or keep it as a requirement; False when it fails now."""
        cond = in_token_sizes(cond, ctx.blocks)
        verdict = decide(cond, frozenset(self.float_params))
        if verdict is False:
            self.out.error(code, message, node.span, *((note,) if note else ()))
            return False
        if verdict is None and all(r.cond != cond for r in self.requirements):
            self.requirements.append(ir.Requirement(cond, req_text, node.span))
        return True

    def at_least(self, ctx, val: Val, node, bound, what: str, strict: bool = False) -> bool:
        return self.bound(ctx, val, node, ">" if strict else ">=", bound, what)

    def bound(self, ctx, val: Val, node, op: str, bound, what: str) -> bool:
        """`val op bound`, e.g. a window size >= 0; False when it fails now."""
        cond = ir.Compare(op, val.node, ir.Const(bound))
        return self.need(ctx, cond, f"{text(node)} {op} {bound}", node, "E0401",
                         f"{what} must be {op} {bound}{_got(val, node)}", None)

    def even(self, ctx, val: Val, node, what: str) -> bool:
        cond = ir.Compare("==", ir.Arith("%", val.node, ir.Const(2)), ir.Const(0))
        return self.need(ctx, cond, f"{atom_text(node)} % 2 == 0", node, "E0401",
                         f"{what} must be even{_got(val, node)}", None)

    def static_int(self, node, ctx, what: str) -> Val | None:
        """An int argument fixed per call (over params and sizes), or None after an error."""
        val = self.expr(node, ctx)
        if val.kind == ERR:
            return None
        if val.kind == FLOAT:
            self._float_here(f"{what} (a float)", node.span)
            return None
        if val.kind != INT:
            self.error("E0301", f"{what} must be an int, got {describe(val)}", node.span)
            return None
        if not ir.is_static(val.node):
            self.error("E0304", f"{what} must not depend on {_index_in(val.node)}", node.span,
                       "arguments are fixed per call; write a predicate such as `abs(p - j) <= w` instead")
            return None
        return val

    def static_number(self, node, ctx, what: str) -> Val | None:
        val = self.expr(node, ctx)
        if val.kind == ERR:
            return None
        if val.kind not in NUMERIC:
            self.error("E0301", f"{what} must be a number, got {describe(val)}", node.span)
            return None
        if not ir.is_static(val.node):
            self.error("E0304", f"{what} must not depend on {_index_in(val.node)}", node.span)
            return None
        return val

    # -------------------------------------------------------------- calls
    def _call(self, node, ctx) -> Val:
        name = node.func
        if name in FUNCTIONS:
            return self._function(node, ctx)
        if name in SIGNATURES:
            return self._primitive(node, ctx)
        span = span_of(node, "func_span")
        for arg in list(node.args) + [k.value for k in node.kwargs]:
            if not isinstance(arg, syntax.ListLit):
                self.expr(arg, ctx)  # independent mistakes inside still get reported
        if name in BARE_PRIMITIVES:
            return self.error("E0305", f"'{name}' takes no arguments", span, f"write `{name}`")
        if name in MODIFIERS:
            return self._modifier_outside(name, span)
        if name in ctx.scope:
            return self.error("E0305", f"'{name}' is a {ctx.scope[name].what}, not a function", span)
        return self.error("E0202", f"unknown function '{name}'", span,
                          suggest(name, list(FUNCTIONS) + list(SIGNATURES)))

    def _function(self, node, ctx) -> Val:
        name, arity = node.func, FUNCTIONS[node.func]
        usage = f"{name}(a, b)" if arity == 2 else f"{name}(x)"
        for kw in node.kwargs:
            self.error("E0207", f"{name}() takes no keyword arguments", kw.span, f"write {usage}")
        vals = [self.expr(a, ctx) for a in node.args]
        if len(vals) != arity:
            return self.error("E0303", f"{name}() takes {arity} argument{'s' if arity > 1 else ''}, "
                              f"got {len(vals)}", node.span, f"write {usage}")
        if node.kwargs or any(v.kind == ERR for v in vals):
            return ERROR
        for arg, val in zip(node.args, vals):
            if val.kind not in NUMERIC:
                return self.error("E0301", f"{name}() needs numbers, got {describe(val)}", arg.span)
        kind = FLOAT if any(v.kind == FLOAT for v in vals) else INT
        known = all(v.value is not None for v in vals)
        if name == "abs":
            return Val(kind, ir.Abs(vals[0].node), abs(vals[0].value) if known else None)
        value = _PY_ARITH[name](vals[0].value, vals[1].value) if known else None
        return Val(kind, ir.Arith(name, vals[0].node, vals[1].node), value)

    def _primitive(self, node, ctx) -> Val:
        name = node.func
        span = span_of(node, "func_span")
        if name == "buckets" and ctx.blocks:
            return self._data_in_blocks(name, span)
        sig = RANDOM_IN_BLOCKS if name == "random" and ctx.blocks else SIGNATURES[name]
        keywords = self._keywords(node, sig, ctx)
        if len(node.args) not in sig.arities:
            for arg in node.args:
                if not isinstance(arg, syntax.ListLit):
                    self.expr(arg, ctx)
            return self._arity(node, sig, ctx)
        if name == "global" and isinstance(node.args[0], syntax.ListLit):
            return self._global_list(node.args[0], ctx)
        roles = _ROLES[name][len(node.args)]
        args = [self.static_int(a, ctx, f"{name}() {role}") for a, role in zip(node.args, roles)]
        if keywords is None or any(a is None for a in args):
            return ERROR
        if not self._arguments_in_range(ctx, node, args, roles, keywords):
            return ERROR
        kw = {k: val.node for k, (val, _) in keywords.items()}
        return Val(MASK, _MAKE[name]([a.node for a in args], kw))

    def _arguments_in_range(self, ctx, node, args, roles, keywords) -> bool:
        """Every argument's value check (all are run, so each bad argument is reported)."""
        results = [self.at_least(ctx, val, src, _LEAST[role], f"{node.func}() {role}")
                   for val, src, role in zip(args, node.args, roles)]
        if node.func == "buckets" and results[0]:
            results.append(self.even(ctx, args[0], node.args[0], "buckets() bucket count"))
        results += [self.at_least(ctx, val, src, _LEAST[k], f"{node.func}() {k}")
                    for k, (val, src) in keywords.items() if k in _LEAST]
        return all(results)

    def _keywords(self, node, sig: Signature, ctx) -> dict | None:
        found: dict[str, Val] = {}
        ok = True
        for kw in node.kwargs:
            if kw.name not in sig.keywords:
                note = suggest(kw.name, sig.keywords) or (
                    f"{node.func} takes no keyword arguments" if not sig.keywords
                    else "it takes " + ", ".join(f"{k}=" for k in sig.keywords))
                self.error("E0207", f"{node.func}() has no keyword argument '{kw.name}'", kw.span, note)
                ok = False
            elif kw.name in found:
                self.error("E0306", f"keyword argument '{kw.name}' given twice", kw.span)
                ok = False
            else:
                val = self.static_int(kw.value, ctx, f"{node.func}() {kw.name}")
                ok = ok and val is not None
                found[kw.name] = (val, kw.value)
        return found if ok else None

    def _arity(self, node, sig: Signature, ctx) -> Val:
        count = len(node.args)
        note = f"write {sig.usage}"
        if node.func == "random":
            note = ("inside blocks(b) { }, the block size comes from blocks: write random(r)" if ctx.blocks
                    else "outside blocks(b) { }, random needs its block size: write random(r, b)")
        arities = " or ".join(map(str, sig.arities))
        plural = "" if sig.arities == (1,) else "s"
        return self.error("E0303", f"{node.func}() takes {arities} argument{plural}, got {count}",
                          node.span, note)

    def _global_list(self, node, ctx) -> Val:
        items = [self.static_int(item, ctx, "global position") for item in node.items]
        if any(v is None for v in items):
            return ERROR
        return Val(MASK, ir.GlobalList(tuple(v.node for v in items)))

    def _list(self, node, ctx) -> Val:
        return self.error("E0312", "a list is only allowed as the argument of global([t1, t2, ...])", node.span)

    def _blocks(self, node, ctx) -> Val:
        size = self.static_int(node.size, ctx, "blocks size")
        ok = size is not None and self.at_least(ctx, size, node.size, 1, "blocks size")
        inner = Ctx(ctx.scope, ctx.blocks + (size.node if size else ir.Const(1),), ctx.floats)
        body = self.expr(node.body, inner)
        if body.kind in NUMERIC:
            return self.error("E0301", f"the body of blocks must be a mask, got {describe(body)}", node.body.span)
        if not ok or body.kind == ERR:
            return ERROR
        return Val(MASK, ir.BlockMap(size.node, body.node))


# ------------------------------------------------------------------ primitives
_LOGIC = {
    "&": ir.And, "|": ir.Or, "-": lambda a, b: ir.And(a, ir.Not(b)),
    "==": lambda a, b: ir.Not(ir.Xor(a, b)), "!=": ir.Xor,
}
_PY_ARITH = {
    "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
    "//": lambda a, b: a // b, "%": lambda a, b: a % b, "min": min, "max": max,
}
# The role of each positional argument, by primitive and argument count, and
# the least value each role allows.
_ROLES = {
    "window": {1: ("size",), 2: ("left size", "right size")},
    "dilated": {2: ("size", "dilation"), 3: ("left size", "right size", "dilation")},
    "strided": {1: ("stride",)},
    "block": {1: ("block size",)},
    "global": {1: ("count",)},
    "sink": {1: ("count",)},
    "prefix": {1: ("length",)},
    "random": {1: ("count",), 2: ("count", "block size")},
    "buckets": {1: ("bucket count",)},
}
_LEAST = {"size": 0, "left size": 0, "right size": 0, "dilation": 1, "stride": 1, "block size": 1,
          "count": 0, "length": 0, "bucket count": 2, "rounds": 1}


def _seed(kw: dict):
    return kw.get("seed", ir.Const(0))


# The IR of each primitive from its argument IRs x (positional) and kw (keywords);
# window(w) and dilated(w, d) repeat w on both sides.
_MAKE = {
    "window": lambda x, kw: ir.Window(x[0], x[-1]),
    "dilated": lambda x, kw: ir.Dilated(x[0], x[-2], x[-1]),
    "strided": lambda x, kw: ir.Strided(x[0]),
    "block": lambda x, kw: ir.BlockDiag(x[0]),
    "global": lambda x, kw: ir.Global(x[0]),
    "sink": lambda x, kw: ir.KeyPrefix(x[0], "sink"),
    "prefix": lambda x, kw: ir.KeyPrefix(x[0], "prefix"),
    "random": lambda x, kw: (ir.Random(x[0], _seed(kw)) if len(x) == 1
                             else ir.BlockMap(x[1], ir.Random(x[0], _seed(kw)))),
    "buckets": lambda x, kw: ir.Buckets(x[0], kw.get("rounds", ir.Const(1)), _seed(kw)),
}


# ------------------------------------------------------------------ statements
@dataclass
class _Body:
    """What the statements of a pattern (or of one heads block) contributed."""

    masks: list = field(default_factory=list)  # (Val, syntax.Mask)
    modifiers: list = field(default_factory=list)
    heads: list = field(default_factory=list)  # _Heads
    tiles: list = field(default_factory=list)


@dataclass(frozen=True)
class _Heads:
    start: Val | None
    stop: Val | None
    nonempty: bool
    mask: object
    modifiers: tuple
    stmt: syntax.Heads


class _Statements:
    """Checks one pattern: params, statements, structure; builds the CheckedPattern."""

    def __init__(self, out: Collector, filename: str):
        self.out = out
        self.filename = filename
        self.exprs = _Exprs(out)

    def pattern(self, pattern: syntax.Pattern) -> ir.CheckedPattern | None:
        params, scope = self.params(pattern.params)
        body = self.body(pattern.body, scope, in_heads=False)
        modifiers = tuple(body.modifiers)
        if body.heads:
            for _, stmt in body.masks:
                self.out.error("E0503", "a pattern with heads blocks has its masks inside them", stmt.span,
                               "this mask would apply to no head; move it into the heads blocks")
            self.heads_layout(body.heads)
            groups = [ir.HeadGroup(h.start.node, h.stop.node, h.mask, modifiers + h.modifiers, h.stmt.span)
                      for h in body.heads if h.start and h.stop and h.mask is not None]
        else:
            mask = self.one_mask(body.masks, span_of(pattern, "name_span"), f"pattern '{pattern.name}'")
            span = body.masks[0][1].span if body.masks else pattern.span
            groups = [ir.HeadGroup(ir.Const(0), ir.Var("H"), mask, modifiers, span)] if mask is not None else []
        tile = self.tile(body.tiles, scope)
        if not groups or len(groups) != max(1, len(body.heads)):
            return None
        return ir.CheckedPattern(pattern.name, params, tuple(groups), tuple(self.exprs.requirements),
                                 tile, pattern.span, self.filename)

    # -------------------------------------------------------------- params and names
    def params(self, params) -> tuple[tuple[ir.Param, ...], dict]:
        scope: dict[str, Binding] = {}
        checked = []
        for prm in params:
            free = self.new_name(prm.name, prm.span, scope, "param")
            if prm.type not in ("int", "float"):
                self.out.error("E0308", f"unknown type '{prm.type}' for param '{prm.name}'", prm.span,
                               suggest(prm.type, ("int", "float")) or "params are `int` or `float`")
            kind = FLOAT if prm.type == "float" else INT
            if kind == FLOAT:
                self.exprs.float_params.add(prm.name)
            # a name in error still binds (to ERROR), so its uses report nothing more
            scope.setdefault(prm.name, Binding("param", Val(kind, ir.Var(prm.name)) if free else ERROR, prm.span))
            checked.append(ir.Param(prm.name, prm.type, self.default(prm), prm.span))
        return tuple(checked), scope

    def default(self, prm: syntax.Param):
        node = prm.default
        if node is None:
            return None
        lit, sign = (node.operand, -1) if isinstance(node, syntax.Unary) and node.op == "-" else (node, 1)
        if not isinstance(lit, (syntax.IntLit, syntax.FloatLit)):
            self.out.error("E0311", f"the default of '{prm.name}' must be a number literal", node.span,
                           "defaults are written like `= 64` or `= -1`")
            return None
        value = sign * lit.value
        if prm.type == "int" and isinstance(lit, syntax.FloatLit):
            self.out.error("E0311", f"int param '{prm.name}' has a float default {value!r}", node.span,
                           f"declare it `{prm.name}: float` or give an int default")
            return None
        if prm.type == "int" and abs(value) >= INT_LIMIT:
            self.out.error("E0402", f"default {value} of '{prm.name}' is too large", node.span,
                           "integers must be smaller than 2**62 in magnitude")
            return None
        return float(value) if prm.type == "float" else value

    def new_name(self, name: str, span: Span, scope: dict, what: str) -> bool:
        """Report a param or let that would shadow or repeat a name; True if the name is free."""
        if name in RESERVED:
            self.out.error("E0205", f"'{name}' is reserved: it is {RESERVED[name]}", span, "choose another name")
        elif name in SIGNATURES or name in BARE_PRIMITIVES or name == "blocks":
            self.out.error("E0205", f"'{name}' is a mask primitive and cannot be redefined", span,
                           "choose another name")
        elif name in FUNCTIONS or name in MODIFIERS:
            kind = "function" if name in FUNCTIONS else "score modifier"
            self.out.error("E0205", f"'{name}' is a {kind} and cannot be redefined", span, "choose another name")
        elif name in scope:
            first = scope[name]
            code = "E0204" if what == first.what == "param" else "E0206"
            self.out.error(code, f"'{name}' is already defined as a {first.what}{where(first.span)}", span,
                           "names cannot be redefined or shadowed")
        # ('__' inside a name: the generated module names its own globals `pattern__what`)
        elif what == "param" and (name in MODULE_NAMES | CALL_KEYWORDS or name.startswith("_") or "__" in name):
            self.out.error("E0205", f"'{name}' cannot be a param: params become keyword arguments of the "
                           "generated Python function", span, "choose another name")
        else:
            return True
        return False

    # -------------------------------------------------------------- statements
    def body(self, stmts, scope: dict, in_heads: bool) -> _Body:
        scope = dict(scope)
        acc = _Body()
        for stmt in stmts:
            if isinstance(stmt, syntax.Let):
                self.let(stmt, scope)
            elif isinstance(stmt, syntax.Mask):
                acc.masks.append((self.mask(stmt, scope), stmt))
            elif isinstance(stmt, syntax.Require):
                self.require(stmt, scope)
            elif isinstance(stmt, syntax.Score):
                acc.modifiers.extend(self.score(stmt, scope))
            elif isinstance(stmt, syntax.Heads):
                if in_heads:
                    self.out.error("E0506", "heads blocks cannot be nested", stmt.span)
                else:
                    acc.heads.append(self.heads(stmt, dict(scope)))
            elif isinstance(stmt, syntax.Tile):
                if in_heads:
                    self.out.error("E0505", "tile is a hint for the whole pattern: write it at the top level",
                                   stmt.span)
                else:
                    acc.tiles.append(stmt)
        return acc

    def let(self, stmt: syntax.Let, scope: dict) -> None:
        val = self.exprs.expr(stmt.value, Ctx(scope))
        span = span_of(stmt, "name_span")
        problem = too_big(val.node) if val.node is not None else ""
        if problem:  # stop a chain of lets here, before it grows any further
            self.out.error("E0507", f"let '{stmt.name}' {problem}", span, "use fewer levels of lets")
            val = ERROR
        if self.new_name(stmt.name, span, scope, "let"):
            scope[stmt.name] = Binding("let", val, span)
        elif stmt.name not in scope:  # reserved or a primitive's name: its uses report nothing more
            scope[stmt.name] = Binding("let", ERROR, span)

    def mask(self, stmt: syntax.Mask, scope: dict) -> Val:
        val = self.exprs.expr(stmt.expr, Ctx(scope))
        if val.kind in NUMERIC:
            self.out.error("E0301", f"mask needs a mask or a condition, got {describe(val)}", stmt.expr.span,
                           "compare it to make a condition, e.g. `p - j < 8`")
            return ERROR
        return val

    def one_mask(self, masks: list, span: Span, owner: str):
        """The mask IR of a pattern or heads block (exactly one mask), or None."""
        if not masks:
            self.out.error("E0501", f"{owner} has no mask", span, "add a statement `mask EXPR`")
            return None
        for _, extra in masks[1:]:
            self.out.error("E0502", f"{owner} has more than one mask", extra.span,
                           f"the first mask is{where(masks[0][1].span) or ' above'}; combine them with | or &")
        val = masks[0][0]
        return None if val.kind == ERR or len(masks) > 1 else val.node

    def require(self, stmt: syntax.Require, scope: dict) -> None:
        val = self.exprs.expr(stmt.cond, Ctx(scope, floats=True))
        source = text(stmt.cond)
        if val.kind == ERR:
            return
        if val.kind in NUMERIC:
            self.out.error("E0301", f"require needs a condition, got {describe(val)}", stmt.cond.span,
                           f"compare it, e.g. `require {source} > 0`")
        elif val.kind == MASK:
            self.out.error("E0310", "require needs a condition on params and sizes only", stmt.cond.span,
                           f"this one depends on {_index_in(val.node)} or on a mask primitive")
        else:
            self.exprs.need(Ctx(scope), val.node, source, stmt.cond, "E0404",
                            f"requirement `{source}` can never hold", None)

    def score(self, stmt: syntax.Score, scope: dict) -> list[ir.Modifier]:
        mods = (self.modifier(node, Ctx(scope, floats=True)) for node in stmt.modifiers)
        return [m for m in mods if m is not None]

    def modifier(self, node, ctx: Ctx) -> ir.Modifier | None:
        name = node.id if isinstance(node, syntax.Name) else node.func if isinstance(node, syntax.Call) else None
        span = span_of(node, "func_span")
        if name not in MODIFIERS:
            if name in SIGNATURES or name in BARE_PRIMITIVES:
                self.out.error("E0309", f"'{name}' is a mask primitive, not a score modifier", span,
                               "score takes alibi, decay(g), softcap(c); masks go in `mask`")
            elif name is None:
                self.out.error("E0309", "score takes modifiers: alibi, decay(g), softcap(c)", node.span)
            else:
                self.out.error("E0201", f"unknown score modifier '{name}'", span,
                               suggest(name, MODIFIERS) or "score takes alibi, decay(g), softcap(c)")
            return None
        if name == "alibi":
            if isinstance(node, syntax.Call):
                self.out.error("E0305", "alibi takes no arguments", node.span, "write `score alibi`")
                return None
            return ir.Modifier("alibi", None, node.span)
        return self.modifier_with_arg(name, node, ctx)

    def modifier_with_arg(self, name: str, node, ctx: Ctx) -> ir.Modifier | None:
        usage = "decay(g)" if name == "decay" else "softcap(c)"
        if isinstance(node, syntax.Name):
            self.out.error("E0305", f"'{name}' needs an argument", node.span, f"write {usage}")
            return None
        for kw in node.kwargs:
            self.out.error("E0207", f"{name}() has no keyword argument '{kw.name}'", kw.span, f"write {usage}")
        if len(node.args) != 1:
            self.out.error("E0303", f"{name}() takes 1 argument, got {len(node.args)}", node.span, f"write {usage}")
            return None
        what = "decay() rate" if name == "decay" else "softcap() cap"
        arg = self.exprs.static_number(node.args[0], ctx, what)
        if arg is None or node.kwargs:
            return None
        ok = self.exprs.at_least(ctx, arg, node.args[0], 0, what, strict=True)
        if ok and name == "decay":
            ok = self.exprs.bound(ctx, arg, node.args[0], "<=", 1, what)
        return ir.Modifier(name, arg.node, node.span) if ok else None

    # -------------------------------------------------------------- heads and tile
    def heads(self, stmt: syntax.Heads, scope: dict) -> _Heads:
        ctx = Ctx(scope)
        start = self.exprs.static_int(stmt.start, ctx, "heads start")
        stop = self.exprs.static_int(stmt.stop, ctx, "heads stop")
        nonempty = False
        if start is not None:
            nonempty = self.exprs.at_least(ctx, start, stmt.start, 0, "heads start")
        if start is not None and stop is not None:
            rng = f"{text(stmt.start)}..{text(stmt.stop)}"
            nonempty = self.exprs.need(ctx, ir.Compare("<", start.node, stop.node),
                                       f"{text(stmt.start)} < {text(stmt.stop)}", stmt, "E0405",
                                       f"heads {rng} is empty", "a heads block covers heads start <= h < stop") \
                and nonempty
        body = self.body(stmt.body, scope, in_heads=True)
        mask = self.one_mask(body.masks, stmt.span, "this heads block")
        return _Heads(start, stop, nonempty, mask, tuple(body.modifiers), stmt)

    def heads_layout(self, blocks: list[_Heads]) -> None:
        """Overlaps (decided for every size) and, for literal bounds, gaps."""
        usable = [h for h in blocks if h.start and h.stop and h.nonempty]
        for n, later in enumerate(usable):
            for earlier in usable[:n]:
                overlap = ir.And(ir.Compare("<", earlier.start.node, later.stop.node),
                                 ir.Compare("<", later.start.node, earlier.stop.node))
                if decide(overlap, frozenset(self.exprs.float_params)):
                    self.out.error("E0406", f"heads {_range(later)} overlap heads {_range(earlier)}"
                                   f"{where(earlier.stmt.span)}", later.stmt.span,
                                   "heads blocks must cover 0..H exactly once")
        if len(usable) == len(blocks) and all(h.start.value is not None and h.stop.value is not None
                                              for h in usable):
            covered = 0
            for h in sorted(usable, key=lambda h: (h.start.value, h.stop.value)):
                if h.start.value > covered:
                    self.out.error("E0407", f"heads {covered}..{h.start.value} are in no heads block",
                                   h.stmt.span, "heads blocks must cover 0..H exactly once")
                covered = max(covered, h.stop.value)

    def tile(self, tiles: list, scope: dict):
        if not tiles:
            return None
        for extra in tiles[1:]:
            self.out.error("E0504", "a pattern has at most one tile", extra.span,
                           f"the first tile is{where(tiles[0].span) or ' above'}")
        sizes: dict[str, int] = {}
        ok = True
        for entry in tiles[0].entries:
            size = self.tile_size(entry, sizes, Ctx(scope))
            ok = ok and size is not None
            if size is not None:
                sizes[entry.name] = size
        missing = [k for k in ("q", "kv") if k not in sizes]
        if ok and missing:
            self.out.error("E0306", f"tile needs both q= and kv=; {' and '.join(missing)}= is missing",
                           tiles[0].span, "write `tile q=64, kv=64`")
        return (sizes["q"], sizes["kv"]) if not missing and ok and len(tiles) == 1 else None

    def tile_size(self, entry: syntax.Keyword, sizes: dict, ctx: Ctx) -> int | None:
        if entry.name not in ("q", "kv"):
            self.out.error("E0207", f"tile has no entry '{entry.name}'", entry.span,
                           suggest(entry.name, ("q", "kv")) or "tile takes q= and kv=")
            return None
        if entry.name in sizes:
            self.out.error("E0306", f"tile {entry.name}= is given twice", entry.span)
            return None
        val = self.exprs.expr(entry.value, ctx)
        if val.kind == ERR:
            return None
        if val.kind != INT or val.value is None:
            self.out.error("E0313", f"tile {entry.name}= must be an integer constant", entry.value.span,
                           "tile sizes are fixed when the kernel is compiled")
            return None
        if not (16 <= val.value <= 256 and val.value & (val.value - 1) == 0):
            self.out.error("E0408", f"tile {entry.name}= must be a power of two from 16 to 256, got {val.value}",
                           entry.value.span)
            return None
        return val.value


def _range(h: _Heads) -> str:
    return f"{text(h.stmt.start)}..{text(h.stmt.stop)}"
