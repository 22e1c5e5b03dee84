"""Code generation: checked patterns -> the source of one Python module.

The module's text comes from the jinja2 templates in `templates/`; Jinja decides
structure only. Everything pattern-specific is computed here as small strings:
the mask predicate and score modifiers in Triton, the host's static scalars,
requirements and value trees in Python. Names in the output come only from the
checked IR (identifiers the grammar admits and the checker vetted) and numbers
are printed as literals, so no text of a `.attn` file reaches the module except
through `repr` (the pattern's source, kept as a string for docstrings).
"""
from __future__ import annotations

import hashlib
import inspect
import io
import tokenize
from dataclasses import dataclass

import jinja2

from . import __version__, blockrt, ir
from .codegen_expr import Statics, TritonPrinter, cdiv_expr, flatten_blocks, python_static, substitute
from .diagnostics import Collector
from .resources import read_text

@dataclass(frozen=True)
class GroupCode:
    """A head group as host Python: its first and end head, and its value tree."""

    label: str
    start: str
    stop: str
    tree: str


@dataclass(frozen=True)
class RandomCode:
    count: str
    seed: str
    blocks: str  # the number of (key) blocks at its level: the bitmap is blocks x blocks


@dataclass(frozen=True)
class BucketCode:
    """`buckets(n, rounds=R, seed=S)` of a pattern: host expressions reading `env`,
    and how the kernels attend. `sorted`: every head group is `buckets & rest`,
    so tokens are attended in bucket order, where the pattern is block-dense;
    else the bucket test runs inline over the static plan. `mask_free`: every
    group is exactly `buckets`, so tiles of one bucket in round 0 need no mask."""

    count: str
    rounds: str
    seed: str
    sorted: bool
    mask_free: bool


@dataclass(frozen=True)
class PatternCode:
    """Everything the pattern template needs, as strings."""

    name: str
    summary: str
    source: str
    filename: str
    params: tuple
    param_specs: str
    groups: tuple[GroupCode, ...]
    keep_lines: tuple[str, ...]
    score_lines: tuple[str, ...]
    score_grad_lines: tuple[str, ...]
    has_modifiers: bool
    has_softcap: bool
    scalar_args: str
    random_params: str
    uses_segments: bool
    static_exprs: tuple[str, ...]
    scalar_table: tuple[tuple[str, str], ...]  # (kernel argument, host expression), for the reader
    randoms: tuple[RandomCode, ...]
    requirements: tuple
    tile_hint: str
    buckets: BucketCode | None = None


# ------------------------------------------------------------ value trees (host)
def python_tree(e, q_expr: ir.IntExpr = ir.Var("Q"), k_expr: ir.IntExpr = ir.Var("K")) -> str:
    """Python source that builds blockrt's value tree of a mask, reading `env`.
    Inside `blocks(b)`, Q and K are block counts: substituted before printing."""
    def static(x):
        return python_static(_sizes(x, q_expr, k_expr))

    def int_tree(x):
        if ir.is_static(x):
            return static(x)
        if isinstance(x, ir.Index):
            return f"('idx', {x.name!r})"
        if isinstance(x, ir.Neg):
            return f"('neg', {int_tree(x.a)})"
        if isinstance(x, ir.Abs):
            return f"('abs', {int_tree(x.a)})"
        return f"('arith', {x.op!r}, {int_tree(x.a)}, {int_tree(x.b)})"

    def visit(n):
        simple = {ir.Full: "full", ir.Empty: "empty", ir.Causal: "causal", ir.Segments: "segments"}
        if type(n) in simple:
            return f"({simple[type(n)]!r},)"
        if isinstance(n, ir.Not):
            return f"('not', {visit(n.a)})"
        if isinstance(n, (ir.And, ir.Or, ir.Xor)):
            return f"({type(n).__name__.lower()!r}, {visit(n.a)}, {visit(n.b)})"
        if isinstance(n, ir.Compare):
            if ir.is_static(n):  # folded as lower.to_tree folds it
                return f"(('full',) if {static(n)} else ('empty',))"
            return f"('cmp', {n.op!r}, {int_tree(n.a)}, {int_tree(n.b)})"
        if isinstance(n, ir.BlockMap):
            b = _sizes(n.size, q_expr, k_expr)
            inner = python_tree(n.body, cdiv_expr(q_expr, b), cdiv_expr(k_expr, b))
            return f"('blocks', {static(n.size)}, {inner})"
        fields = {
            ir.Window: ("window", "left", "right"), ir.Dilated: ("dilated", "left", "right", "dilation"),
            ir.Strided: ("strided", "stride"), ir.BlockDiag: ("block", "size"), ir.Global: ("global", "count"),
            ir.KeyPrefix: ("prefix", "count"), ir.Random: ("random", "count", "seed"),
            ir.Buckets: ("buckets", "count", "rounds", "seed"),
        }
        if isinstance(n, ir.GlobalList):
            items = "".join(static(t) + ", " for t in n.positions)
            return f"('global_list', ({items}))"
        tag, *names = fields[type(n)]
        return "(" + ", ".join([repr(tag)] + [static(getattr(n, f)) for f in names]) + ")"

    return visit(e)


def _sizes(x, q_expr, k_expr):
    return substitute(x, {(ir.Var, "Q"): q_expr, (ir.Var, "K"): k_expr})


# ------------------------------------------------------------ one pattern
def _modifier_lines(mods, statics: Statics, floats: list) -> list[str]:
    lines = []
    for m in mods:
        if m.kind == "alibi":
            lines.append("s = s - tl.exp2(-8.0 * (h + 1) / H) * tl.abs(p - j).to(tl.float32)  # alibi")
        elif m.kind == "decay":
            name = _float_scalar(f"math.log({python_static(m.arg)})", floats)
            lines.append(f"s = s + tl.abs(p - j).to(tl.float32) * {name}  # decay: + |p - j| ln(g)")
        elif m.kind == "softcap":
            name = _float_scalar(f"float({python_static(m.arg)})", floats)
            lines.append(f"s = {name} * _tanh(s / {name})  # softcap")
    return lines


def _modifier_grad_lines(lines: list[str]) -> list[str]:
    """The score lines again, tracking g = d(modified) / d(scaled score): only
    softcap has a derivative other than 1 (c * tanh(s / c) -> 1 - tanh^2)."""
    out = ["g = s * 0.0 + 1.0"]
    for line in lines:
        if line.endswith("# softcap"):
            c = line.split(" * _tanh(")[0].split("= ")[1]
            out += [f"t = _tanh(s / {c})", f"s = {c} * t  # softcap", "g = g * (1.0 - t * t)"]
        else:
            out.append(line)
    return out


def _float_scalar(expr: str, floats: list) -> str:
    if expr not in floats:
        floats.append(expr)
    return f"f{floats.index(expr)}"


def _branches(per_group: list[list[str]], labels: list[str], tail: str) -> list[str]:
    """`if group == 0: ... elif ...` over the head groups (straight code for one group)."""
    if len(per_group) == 1:
        return per_group[0] + [tail]
    lines = []
    for index, (body, label) in enumerate(zip(per_group, labels)):
        head = "if" if index == 0 else ("elif" if index < len(per_group) - 1 else "else")
        cond = f" group == {index}" if head != "else" else ""
        lines.append(f"{head}{cond}:  # heads {label}")
        lines.extend("    " + b for b in (body or ["pass"]))
    return lines + [tail]


def pattern_code(pattern: ir.CheckedPattern, source: str) -> PatternCode:
    statics, floats = Statics(), []
    printer = TritonPrinter(statics)
    randoms: list = []
    keep_bodies, score_bodies, groups = [], [], []
    for g in pattern.groups:
        first = len(randoms)
        flat = flatten_blocks(g.mask, randoms)
        keep = printer.mask(flat)
        label = f"{python_static(g.start)}..{python_static(g.stop)}".replace("env['H']", "H")
        keep_bodies.append([f"keep = valid & {keep}"])
        score_bodies.append(_modifier_lines(g.modifiers, statics, floats))
        groups.append(GroupCode(label, python_static(g.start), python_static(g.stop), python_tree(g.mask)))
    random_code = []
    for node, frame in randoms:
        count = python_static(node.count)
        blocks = python_static(frame[(ir.Var, "K")])
        random_code.append(RandomCode(count, python_static(node.seed), blocks))
    labels = [g.label for g in groups]
    keep_lines = _branches(keep_bodies, labels, "return keep")
    has_mods = any(score_bodies)
    score_lines = _branches([list(b) for b in score_bodies], labels, "return s")
    has_softcap = any(m.kind == "softcap" for g in pattern.groups for m in g.modifiers)
    score_grad_lines = _branches([_modifier_grad_lines(b) for b in score_bodies], labels, "return s, g")
    scalar_names = [f"s{n}" for n in range(len(statics.exprs))] + [f"f{n}" for n in range(len(floats))]
    static_exprs = [python_static(e) for e in statics.exprs] + floats
    random_params = "".join(f", rand{n}_ptr, rand{n}_rows, rand{n}_cols" for n in range(len(randoms)))
    requirements = tuple(
        _Req(python_static(r.cond), f"pattern '{pattern.name}': requirement `{r.text}` failed",
             tuple(sorted({n.name for n in ir.walk(r.cond) if isinstance(n, ir.Var)})))
        for r in pattern.requirements)
    specs = "[" + ", ".join(
        f"({p.name!r}, {p.type!r}, {'_REQUIRED' if p.default is None else repr(p.default)})"
        for p in pattern.params) + "]"
    return PatternCode(
        buckets=bucket_code(pattern),
        name=pattern.name, summary=f"pattern {pattern.name}: {len(pattern.groups)} head group(s)",
        source=source, filename=pattern.filename,
        params=tuple(_P(p.name, p.type, None if p.default is None else repr(p.default)) for p in pattern.params),
        param_specs=specs, groups=tuple(groups), keep_lines=tuple(keep_lines), score_lines=tuple(score_lines),
        score_grad_lines=tuple(score_grad_lines), has_modifiers=has_mods, has_softcap=has_softcap, scalar_args="".join(", " + n for n in scalar_names),
        random_params=random_params, scalar_table=tuple(zip(scalar_names, static_exprs)), uses_segments="segments" in pattern.runtime_inputs, static_exprs=tuple(static_exprs), randoms=tuple(random_code),
        requirements=requirements, tile_hint=repr(pattern.tile),
    )


def _bucket_leaves(pattern: ir.CheckedPattern) -> set:
    return {node for g in pattern.groups for node in ir.walk(g.mask) if isinstance(node, ir.Buckets)}


def _top_conjuncts(mask) -> list:
    out, stack = [], [mask]
    while stack:
        node = stack.pop()
        if isinstance(node, ir.And):
            stack += [node.b, node.a]
        else:
            out.append(node)
    return out


def bucket_code(pattern: ir.CheckedPattern) -> BucketCode | None:
    leaves = _bucket_leaves(pattern)
    if not leaves:
        return None
    leaf = next(iter(leaves))
    is_sorted, mask_free = True, True
    for g in pattern.groups:
        conjuncts = _top_conjuncts(g.mask)
        at_top = [c for c in conjuncts if isinstance(c, ir.Buckets)]
        rest = [c for c in conjuncts if not isinstance(c, ir.Buckets)]
        if not at_top or any(isinstance(n, ir.Buckets) for c in rest for n in ir.walk(c)):
            is_sorted = False
        if any(not isinstance(c, ir.Full) for c in rest):
            mask_free = False
    return BucketCode(python_static(leaf.count), python_static(leaf.rounds), python_static(leaf.seed),
                      is_sorted, is_sorted and mask_free)


@dataclass(frozen=True)
class _Req:
    cond: str
    message: str
    names: tuple


@dataclass(frozen=True)
class _P:
    name: str
    type: str
    default: str | None


# ------------------------------------------------------------ the module
_ENV = None


def _environment() -> jinja2.Environment:
    global _ENV
    if _ENV is None:
        loader = jinja2.FunctionLoader(lambda name: read_text("templates", name))
        _ENV = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                  autoescape=False)
        _ENV.filters["py"] = repr
        _ENV.filters["doc"] = docstring_text
    return _ENV


def docstring_text(text: str) -> str:
    """Text made safe to stand inside a triple-quoted docstring or a comment of
    the generated module: backslashes doubled, quotes escaped, and every
    character that is not printable (line breaks other than "\\n", NUL, lone
    surrogates, ...) written as its escape. Nothing in a `.attn` file (a
    comment's `\"\"\"` included) can end the string and become code."""
    out = []
    for ch in text:
        if ch == "\n":
            out.append(ch)
        elif ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch.isprintable() and not 0xD800 <= ord(ch) <= 0xDFFF:
            out.append(ch)
        else:
            out.append(repr(ch)[1:-1])
    return "".join(out)


def pattern_source(source: str, pattern: ir.CheckedPattern) -> str:
    """The text of one pattern in its file (for docstrings), or the whole file."""
    span = pattern.span
    if span.end > span.start:
        return source[span.start:span.end]
    return source


def generate(patterns, source: str, filename: str) -> str:
    """The Python source of the module for a file's checked patterns."""
    unsupported = Collector()
    for p in patterns:
        if len(_bucket_leaves(p)) > 1:
            unsupported.error("E0601", f"pattern '{p.name}' uses buckets(...) with different arguments: a "
                              "pattern hashes with one set of rotations (the `rotations=` of a call); write one "
                              "buckets(n, rounds=R, seed=S) and reuse it through `let`", p.span)
    unsupported.raise_if_any(source, filename)
    digest = hashlib.sha256(source.encode()).hexdigest()
    codes = [pattern_code(p, pattern_source(source, p)) for p in patterns]
    text = _environment().get_template("module.py.jinja").render(
        version=__version__, filename=filename, digest=digest, pattern_names=[p.name for p in patterns],
        blockrt_source=_blockrt_body(), patterns=codes)
    return text


def _blockrt_body() -> str:
    """blockrt's source, its imports dropped (the module has its own) and every
    top-level name renamed `_rt_<name>`, so that no pattern name can shadow it."""
    source = inspect.getsource(blockrt)
    top = {name for name in vars(blockrt) if not name.startswith("__")
           and getattr(vars(blockrt)[name], "__module__", blockrt.__name__) == blockrt.__name__
           and not inspect.ismodule(vars(blockrt)[name])}
    tokens, previous = [], None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and tok.string in top and previous != ".":
            tok = tok._replace(string="_rt_" + tok.string)
        tokens.append(tok)
        if tok.type not in (tokenize.NL, tokenize.COMMENT):
            previous = tok.string
    text = tokenize.untokenize(tokens)
    lines = [ln for ln in text.splitlines() if not ln.startswith(("import ", "from "))]
    return "\n".join(lines).strip() + "\n"
