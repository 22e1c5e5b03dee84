"""Expression emitters: the checked IR printed as Triton (device) and Python (host) code.

Three printers share this module because they must agree on one meaning:
- `TritonPrinter` prints a mask as a Triton boolean expression over the tile's
  index tensors `i`, `p` (BLOCK_M, 1), `j` (1, BLOCK_N) and the scalar head `h`;
- `python_static` prints a static integer expression as host Python reading `env`;
- `python_tree` prints a mask as host Python that builds blockrt's value tree.

Static sub-expressions (over params and sizes) are never recomputed on the GPU:
`hoist_statics` replaces each maximal one by a named scalar (`s0`, `s1`, ...)
that the host computes once per call and passes to the kernel.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from . import ir



# ------------------------------------------------------------ blocks(b) { } flattened
@dataclass(frozen=True)
class RandomLookup:
    """`random(r)` inside `blocks(b)`: the pair is allowed when the key block `col`
    is in the drawn set of the query block `row`. The kernel reads a bitmap the
    host builds from blockrt.random_table; `table` numbers the bitmaps."""

    table: int
    row: ir.IntExpr
    col: ir.IntExpr


def cdiv_expr(a: ir.IntExpr, b: ir.IntExpr) -> ir.IntExpr:
    """ceil(a / b) as IR: -((-a) // b)."""
    return ir.Neg(ir.Arith("//", ir.Neg(a), b))


def substitute(node, mapping: dict):
    """Replace Index/Var leaves (by name) throughout a tree; BlockMap bodies are
    rewritten by `flatten_blocks` before they reach here."""
    if isinstance(node, (ir.Index, ir.Var)) and (type(node), node.name) in mapping:
        return mapping[(type(node), node.name)]
    if isinstance(node, tuple):
        return tuple(substitute(n, mapping) for n in node)
    if not hasattr(node, "__dataclass_fields__") or isinstance(node, ir.Const):
        return node
    changes = {name: substitute(getattr(node, name), mapping) for name in node.__dataclass_fields__
               if name != "span"}
    return replace(node, **changes) if changes else node


def flatten_blocks(mask, randoms: list):
    """Rewrite `blocks(b) { body }` into a token-level mask: inside the body,
    p -> p // b, j -> j // b, i -> i // b, Q -> ceil(Q / b), K -> ceil(K / b).
    `Random` leaves become RandomLookup on the (block) row and column; their
    (count, seed, block) triples are appended to `randoms`."""
    def visit(node, frame):
        if isinstance(node, ir.BlockMap):
            b = substitute(node.size, frame)  # its Q, K are the enclosing level's (block counts when nested)
            inner = {key: (ir.Arith("//", value, b) if key[0] is ir.Index and key[1] != "h" else value)
                     for key, value in frame.items()}
            inner[(ir.Var, "Q")] = cdiv_expr(frame[(ir.Var, "Q")], b)
            inner[(ir.Var, "K")] = cdiv_expr(frame[(ir.Var, "K")], b)
            return visit(node.body, inner)
        if isinstance(node, ir.Random):
            randoms.append((node, frame))
            return RandomLookup(len(randoms) - 1, frame[(ir.Index, "p")], frame[(ir.Index, "j")])
        if isinstance(node, (ir.Not,)):
            return ir.Not(visit(node.a, frame))
        if isinstance(node, (ir.And, ir.Or, ir.Xor)):
            return type(node)(visit(node.a, frame), visit(node.b, frame))
        if isinstance(node, (ir.Full, ir.Empty, ir.Compare, ir.Segments, ir.Buckets)):
            return substitute(node, frame)
        # a primitive speaks of p and j implicitly: spell it out, then substitute
        return visit(desugar(node), frame)

    identity = {(ir.Index, n): ir.Index(n) for n in ir.INDICES}
    identity.update({(ir.Var, n): ir.Var(n) for n in ("Q", "K")})
    return visit(mask, identity)


# ------------------------------------------------------------ statics hoisted to scalars
class Statics:
    """Maximal static sub-expressions, numbered in order of first appearance."""

    def __init__(self):
        self.exprs: list[ir.IntExpr] = []

    def name(self, expr) -> str:
        if expr not in self.exprs:
            self.exprs.append(expr)
        return f"s{self.exprs.index(expr)}"


def _is_int_node(node) -> bool:
    return isinstance(node, (ir.Const, ir.Var, ir.Index, ir.Arith, ir.Neg, ir.Abs))


# ------------------------------------------------------------ sign analysis
def nonnegative(expr) -> bool:
    """True when expr is >= 0 for every call (sound, not complete): decides
    whether `//` and `%` may use the hardware's truncating forms."""
    if isinstance(expr, ir.Const):
        return expr.value >= 0
    if isinstance(expr, ir.Index):
        return expr.name in ("i", "j", "h")  # p = i + K - Q is negative when Q > K
    if isinstance(expr, ir.Var):
        return expr.name in ir.SIZES
    if isinstance(expr, ir.Abs):
        return True
    if isinstance(expr, ir.Arith):
        if expr.op in ("+", "*", "//", "min", "max"):
            return nonnegative(expr.a) and nonnegative(expr.b) if expr.op != "max" else (
                nonnegative(expr.a) or nonnegative(expr.b))
        if expr.op == "%":
            return positive(expr.b)
    return False


def positive(expr) -> bool:
    if isinstance(expr, ir.Const):
        return expr.value > 0
    return False


# ------------------------------------------------------------ Triton printer
class TritonPrinter:
    """Prints IR as Triton source. Static sub-expressions become scalar names."""

    def __init__(self, statics: Statics):
        self.statics = statics

    def int(self, e) -> str:
        if isinstance(e, ir.Const):
            return repr(int(e.value))
        if ir.is_static(e) and not isinstance(e, ir.Index):
            return self.statics.name(e)
        if isinstance(e, ir.Index):
            return e.name
        if isinstance(e, ir.Neg):
            return f"(-{self.int(e.a)})"
        if isinstance(e, ir.Abs):
            return f"tl.abs({self.int(e.a)})"
        a, b = self.int(e.a), self.int(e.b)
        if e.op in ("+", "-", "*"):
            return f"({a} {e.op} {b})"
        if e.op == "min":
            return f"tl.minimum({a}, {b})"
        if e.op == "max":
            return f"tl.maximum({a}, {b})"
        exact = nonnegative(e.a) and nonnegative(e.b)
        if e.op == "//":
            return f"({a} // {b})" if exact else f"_floordiv({a}, {b})"
        return f"({a} % {b})" if exact else f"_floormod({a}, {b})"

    def mask(self, e) -> str:
        p, j = ir.Index("p"), ir.Index("j")
        if isinstance(e, ir.Full):
            return "(j >= 0)"
        if isinstance(e, ir.Empty):
            return "(j < 0)"
        if isinstance(e, ir.Causal):
            return "(j <= p)"
        if isinstance(e, ir.Compare):
            return f"({self.int(e.a)} {e.op} {self.int(e.b)})"
        if isinstance(e, ir.Not):
            return f"(~{self.mask(e.a)})"
        if isinstance(e, (ir.And, ir.Or, ir.Xor)):
            op = {ir.And: "&", ir.Or: "|", ir.Xor: "^"}[type(e)]
            return f"({self.mask(e.a)} {op} {self.mask(e.b)})"
        if isinstance(e, ir.Segments):
            return "_same_segment(seg_base, p, j, K)"
        if isinstance(e, ir.Buckets):
            return "_bucket_hit(qhash_base, khash_base, qhash_round, khash_round, n_rounds, bucket_round, i, j, Q, K)"
        if isinstance(e, RandomLookup):
            return f"_random_hit(rand{e.table}_ptr, rand{e.table}_rows, rand{e.table}_cols, {self.int(e.row)}, {self.int(e.col)})"
        return self.mask(desugar(e))


def desugar(e):
    """Primitives as predicates over (p, j): one definition, shared by the
    Triton printer and usable by any other printer."""
    p, j = ir.Index("p"), ir.Index("j")
    delta = ir.Arith("-", p, j)
    C = ir.Compare
    if isinstance(e, ir.Causal):
        return C("<=", j, p)
    if isinstance(e, ir.Window):
        return ir.And(C(">=", j, ir.Arith("-", p, e.left)), C("<=", j, ir.Arith("+", p, e.right)))
    if isinstance(e, ir.Dilated):
        lo = ir.Arith("-", p, ir.Arith("*", e.left, e.dilation))
        hi = ir.Arith("+", p, ir.Arith("*", e.right, e.dilation))
        return ir.And(ir.And(C(">=", j, lo), C("<=", j, hi)),
                      C("==", ir.Arith("%", delta, e.dilation), ir.Const(0)))
    if isinstance(e, ir.Strided):
        return C("==", ir.Arith("%", delta, e.stride), ir.Const(0))
    if isinstance(e, ir.BlockDiag):
        return C("==", ir.Arith("//", p, e.size), ir.Arith("//", j, e.size))
    if isinstance(e, ir.Global):
        return ir.Or(C("<", p, e.count), C("<", j, e.count))
    if isinstance(e, ir.GlobalList):
        if not e.positions:
            return ir.Empty()
        # a balanced tree of `or`s: the generated code nests log2(n) deep, where
        # a chain would nest n deep (Python's parser stops at ~200 levels)
        terms = [ir.Or(C("==", p, t), C("==", j, t)) for t in e.positions]
        while len(terms) > 1:
            terms = [ir.Or(*terms[i:i + 2]) if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
        return terms[0]
    if isinstance(e, ir.KeyPrefix):
        return C("<", j, e.count)
    raise NotImplementedError(f"{type(e).__name__} has no token-level predicate here")


# ------------------------------------------------------------ host Python printers
def python_static(e, env: str = "env") -> str:
    """A static int/bool expression as Python reading `env[...]` (same floor semantics)."""
    if isinstance(e, ir.Const):
        return repr(e.value)
    if isinstance(e, ir.Var):
        return f"{env}[{e.name!r}]"
    if isinstance(e, ir.Neg):
        return f"(-{python_static(e.a, env)})"
    if isinstance(e, ir.Abs):
        return f"abs({python_static(e.a, env)})"
    if isinstance(e, ir.Not):
        return f"(not {python_static(e.a, env)})"
    if isinstance(e, (ir.And, ir.Or, ir.Xor)):
        op = {ir.And: "and", ir.Or: "or", ir.Xor: "!="}[type(e)]
        return f"(bool({python_static(e.a, env)}) {op} bool({python_static(e.b, env)}))"
    if isinstance(e, ir.Compare):
        return f"({python_static(e.a, env)} {e.op} {python_static(e.b, env)})"
    if isinstance(e, ir.Arith):
        a, b = python_static(e.a, env), python_static(e.b, env)
        if e.op in ("min", "max"):
            return f"{e.op}({a}, {b})"
        return f"({a} {e.op} {b})"
    raise TypeError(f"not static: {type(e).__name__}")
