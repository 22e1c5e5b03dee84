"""What the compiler makes of a pattern, in words and numbers: the checked
pattern, the kernel strategy chosen and why, the block plan at given sizes, and
the density and FLOPs (as sympy formulas where they can be derived exactly).

    text = explain(pattern, syntax_pattern, function, Q=4096, K=4096, H=8, D=64, params={})

`function` is the compiled pattern (a generated module's `NAME`): the plan and
its facts come from its public `NAME.block_plan(Q, K, H, block_m, block_n, ...)`,
the same code the kernels' host side runs. Pair counts are exact: FULL tiles
count whole, PARTIAL tiles are evaluated pair by pair.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import sympy
import torch

from . import blockrt, ir
from .bind import bind
from .lower import group_trees
from .printer import to_source

COUNT_TILE = 128  # tiles used to count allowed pairs (only PARTIAL ones are evaluated pair by pair)


@dataclass(frozen=True)
class Sizes:
    Q: int
    K: int
    H: int
    D: int
    B: int = 1


def explain(pattern: ir.CheckedPattern, syntax_pattern, function, sizes: Sizes, params: dict | None,
            tile: tuple[int, int] | None = None, segments: torch.Tensor | None = None) -> str:
    """The whole explanation as text (raises TypeError / ValueError for bad
    params or sizes, as `bind` does)."""
    env = bind(pattern, params, sizes.Q, sizes.K, sizes.H, sizes.D)
    given = {p.name: env[p.name] for p in pattern.params}
    block_m, block_n = tile or pattern.tile or (128, 128)
    plan = function.block_plan(sizes.Q, sizes.K, sizes.H, block_m, block_n, **given)
    shown = " ".join(f"{k}={v}" for k, v in given.items())
    sections = [
        to_source(syntax_pattern).rstrip(),
        "",
        f"at Q={sizes.Q} K={sizes.K} H={sizes.H} D={sizes.D}" + (f", {shown}" if shown else ""),
        "",
        "strategy",
        *("  " + line for line in strategy(pattern, env, plan, (block_m, block_n))),
        "",
        f"block plan ({block_m}x{block_n} tiles)",
        *("  " + line for line in plan_summary(plan, sizes.H)),
        *("  " + line for line in _documents_summary(pattern, env, (block_m, block_n), segments)),
        "",
        "cost",
        *("  " + line for line in cost(pattern, env, sizes, segments)),
    ]
    return "\n".join(sections)


# ------------------------------------------------------------------ strategy
def strategy(pattern: ir.CheckedPattern, env: dict, plan: dict, tile: tuple[int, int]) -> list[str]:
    """Why the kernels look the way they do, one fact a line."""
    nodes = [n for g in pattern.groups for n in ir.walk(g.mask)]
    lines = []
    dilation = plan["dilation"]
    if dilation > 1:
        trees = [tree for _, _, tree in group_trees(pattern, env)]
        lines.append(_residue_line(trees, dilation))
    elif any(isinstance(n, (ir.Dilated, ir.Strided)) for n in nodes):
        lines.append("dilated/strided terms are mixed with others (not a top-level `&`): no residue-class view; "
                     "partial tiles evaluate the modulo test pair by pair")
    if any(isinstance(n, ir.Buckets) for n in nodes):
        lines.append(_buckets_line(pattern))
    if any(isinstance(n, ir.Segments) for n in nodes):
        lines.append("segments: the plan is made per call, on the device with no host sync: the static classes of "
                     "the rest of the mask AND-ed with each batch element's document classes (per tile, from its "
                     "smallest and largest id: disjoint -> empty, one document on both sides -> full)")
    randoms = [n for n in nodes if isinstance(n, ir.Random)]
    if randoms:
        lines.append(f"random: the seeded draw (a function of seed, Q, K and the block size) becomes a blocks x blocks "
                     f"bitmap on the device; the predicate looks pairs up in it; tile classes come from the "
                     f"bitmap's prefix sums ({len(randoms)} draw{'s' if len(randoms) > 1 else ''})")
    lines += _heads_lines(pattern, env)
    lines += _modifier_lines(pattern)
    lines += _tile_lines(pattern, plan, tile)
    return lines


def _buckets_line(pattern: ir.CheckedPattern) -> str:
    from .codegen import bucket_code

    if bucket_code(pattern).sorted:
        return ("buckets: per call, q and k are hashed on the device (float32, one launch) and their rows sorted "
                "by bucket (a stable counting sort: one scan, one launch); attention then runs in bucket order, one "
                "round at a time: a tile of sorted rows spanning buckets lo..hi reads exactly the sorted keys of "
                "those buckets (bounds from the bucket starts, no plan), pairs met in an earlier round are skipped, "
                "and rounds merge through their lse. The rest of the mask is tested inline. The block plan below "
                "is the static one, which only serves head groups and random tables here")
    return ("buckets (not as `buckets & rest`): q and k are hashed per call and the kernels test the hashes "
            "inline, over the static plan below (every tile the rest of the mask may reach)")


def _residue_line(trees, d: int) -> str:
    found = [c for tree in trees for c in _conjuncts(tree) if c[0] in ("dilated", "strided") and c[-1] % d == 0]
    if found and found[0][0] == "dilated":
        _, left, right, m = found[0]
        term = f"dilated({left}, {right}, {m})"
        inner = f"window({left * (m // d)}, {right * (m // d)})" + ("" if m == d else f" & strided({m // d})")
    else:
        m = found[0][1] if found else d
        term, inner = f"strided({m})", "full" if m == d else f"strided({m // d})"
    return (f"{term}: residue-class view: positions are split into {d} classes mod {d}; within a class every "
            f"pair can be allowed, and the mask is {inner} on the compressed index (position = a*{d} + residue): "
            f"{d} plans, one per class, whose tiles are dense bands instead of 1-in-{d} sparse")


def _conjuncts(tree):
    if tree[0] == "and":
        return _conjuncts(tree[1]) + _conjuncts(tree[2])
    return [tree]


def _heads_lines(pattern: ir.CheckedPattern, env: dict) -> list[str]:
    lines = []
    if len(pattern.groups) > 1:
        ranges = [(ir.eval_static(g.start, env), ir.eval_static(g.stop, env)) for g in pattern.groups]
        shown = ", ".join(f"{a}..{b}" for a, b in ranges)
        lines.append(f"heads: {len(pattern.groups)} groups ({shown}): one plan row per group; the kernels branch "
                     "on the group of their head")
    if any(ir.mentions(g.mask, "h") for g in pattern.groups):
        lines.append("the mask reads h: one plan row per head")
    if not lines:
        lines.append("heads: one mask for every head: one plan row serves them all")
    return lines


def _modifier_lines(pattern: ir.CheckedPattern) -> list[str]:
    words = {"alibi": "alibi: s - 2^(-8(h+1)/H) |p - j|, the slope per head",
             "decay": "decay(g): s + |p - j| ln g", "softcap": "softcap(c): c tanh(s / c), and 1 - tanh^2 in the backward"}
    kinds = []
    for g in pattern.groups:
        for m in g.modifiers:
            if m.kind not in kinds:
                kinds.append(m.kind)
    if not kinds:
        return []
    return [f"score modifiers, applied inside the kernels to the scaled scores of visited pairs: "
            + "; ".join(words[k] for k in kinds)]


def _tile_lines(pattern: ir.CheckedPattern, plan: dict, tile: tuple[int, int]) -> list[str]:
    classes = plan["classes"]
    full = int((classes == blockrt.FULL).sum())
    visited = full + int((classes == blockrt.PARTIAL).sum())
    lines = [f"full tiles: {full} of {visited} visited tiles per plan ({_percent(full, visited)}) run with no mask "
             "arithmetic at all (no predicate, no bounds test); partial tiles evaluate the predicate inline; "
             "empty tiles are never visited"]
    counts = {"full": full, "partial": visited - full}
    kinds = [k for k in ("full", "partial") if plan.get(f"{k}_ranges") and counts[k]]
    if kinds:
        lines.append(f"the {' and '.join(kinds)} key tiles of every query tile are consecutive: the kernel "
                     "computes tile numbers instead of loading them")
    hint = f"the pattern's hint `tile q={pattern.tile[0]}, kv={pattern.tile[1]}`" if pattern.tile else None
    lines.append(f"tiles {tile[0]}x{tile[1]} here ({hint or '--tile'}); at run time "
                 + ("the hint fixes them" if hint else "a GPU times 128x128, 128x64 and 64x64 on the first call of "
                    "each shape and keeps the fastest"))
    lines.append("schedule: query tiles run heaviest first (work = 4 per full + 5 per partial key tile), so long "
                 "rows never trail at the end; on a GPU a row far longer than the average (global tokens) runs "
                 "in pieces side by side, which the last piece to finish merges by their log-sum-exp (the backward "
                 "splits rows and columns of 256 tiles or more)")
    return lines


# ------------------------------------------------------------------ block plan
def plan_summary(plan: dict, H: int) -> list[str]:
    """Tile counts by class over all heads, and key tiles per query tile."""
    classes, dilation = plan["classes"], plan["dilation"]
    head_row = plan["head_row"].to(torch.int64).cpu()
    rows = (head_row.view(-1, 1) * dilation + torch.arange(dilation).view(1, -1)).flatten()
    per_head = classes[rows]  # (H * dilation, nq, nk)
    counts = {name: int((per_head == value).sum()) for name, value in
              (("full", blockrt.FULL), ("partial", blockrt.PARTIAL), ("empty", blockrt.EMPTY))}
    total = sum(counts.values())
    visits = ((per_head == blockrt.FULL) | (per_head == blockrt.PARTIAL)).sum(-1).flatten().float()
    n_q, n_k = plan["n_query_blocks"], plan["n_key_blocks"]
    view = f", per residue class of {dilation} (compressed index)" if dilation > 1 else ""
    distinct = classes.shape[0] // dilation
    lines = [f"{n_q} query tiles x {n_k} key tiles{view}; {distinct} distinct plan row"
             f"{'s' if distinct != 1 else ''} for {H} head{'s' if H != 1 else ''}",
             f"over all heads: {counts['full']} full, {counts['partial']} partial, {counts['empty']} empty "
             f"(of {total}): {_percent(counts['full'] + counts['partial'], total)} of the tiles are visited",
             f"key tiles per query tile: {visits.mean().item():.2f} on average, {int(visits.max())} at most "
             f"(dense attention: {n_k})"]
    return lines


def _documents_summary(pattern: ir.CheckedPattern, env: dict, tile, segments) -> list[str]:
    """For masks that read `segments`: the tiles of one call, on example documents."""
    from .semantics import dense_mask
    from .show import DATA_LIMIT, example_segments, tile_classes

    if "segments" not in pattern.runtime_inputs or env["Q"] * env["K"] * env["H"] > DATA_LIMIT:
        return []
    given = segments is not None
    segments = segments[:1] if given else example_segments(env["K"])
    params = {p.name: env[p.name] for p in pattern.params}
    mask = dense_mask(pattern, env["Q"], env["K"], env["H"], params, segments=segments)[0]
    classes = torch.stack([tile_classes(mask[h], *tile) for h in range(env["H"])])
    counts = [int((classes == c).sum()) for c in (blockrt.FULL, blockrt.PARTIAL, blockrt.EMPTY)]
    documents = int(segments.unique().numel())
    return [f"the static part above is narrowed per call; with {documents} {'given' if given else 'example'} "
            f"documents: {counts[0]} full, {counts[1]} partial, {counts[2]} empty (exact classes; the "
            "per-call plan bounds each tile by its smallest and largest id)"]


def _percent(part, whole) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "0%"


# ------------------------------------------------------------------ cost
def cost(pattern: ir.CheckedPattern, env: dict, sizes: Sizes, segments=None) -> list[str]:
    formula, assumption = pairs_formula(pattern)
    measured, note = count_pairs(pattern, env, segments)
    values = {p.name: env[p.name] for p in pattern.params}
    values.update(Q=sizes.Q, K=sizes.K, H=sizes.H, D=sizes.D, B=sizes.B)
    lines = []
    if formula is not None:
        lines.append(f"allowed pairs (all heads) = {sympy.sstr(formula)}   [{assumption}]")
        long_form = _long_form(formula, values)
        if long_form is not None and long_form != formula:
            lines.append(f"  at Q = K = N, N past the pattern's sizes: {sympy.sstr(long_form)}")
        if formula.has(TRI):
            lines.append("  where tri(x) = x(x+1)/2 for x > 0, else 0")
        predicted = evaluate(formula, values)
        if measured is not None and predicted != measured:
            lines.append(f"  (the formula needs {assumption}: at these sizes it gives {predicted:,}, "
                         f"the count is {measured:,})")
        flops = 4 * _sized("B") * _sized("D") * formula
        lines.append(f"FLOPs forward = 4*B*D*pairs = {sympy.sstr(flops)}")
        lines.append(f"density = pairs / (Q*K*H)")
    else:
        lines.append("allowed pairs: no closed form for this mask; measured at the given sizes")
    if measured is not None:
        QKH = sizes.Q * sizes.K * sizes.H
        lines.append(f"at these sizes{note}: {measured:,} allowed pairs of {QKH:,} "
                     f"(density {_percent(measured, QKH)})")
        forward = 4 * sizes.B * sizes.D * measured
        lines.append(f"FLOPs at B={sizes.B}, D={sizes.D}: forward {_giga(forward)}, forward+backward "
                     f"{_giga(3.5 * forward)} (backward 2.5x forward, FlashAttention's convention)")
    return lines


def _giga(flops: float) -> str:
    return f"{flops / 1e9:.3g} GFLOP"


# ------------------------------------------------------------------ formulas
TRI = sympy.Function("tri")  # tri(x) = 1 + 2 + ... + x = x(x+1)/2 for x > 0, else 0


def _tri_value(x):
    """tri(x), decided where the signs of sizes (> 0) and params (>= 0) decide it."""
    if x.is_nonpositive:
        return sympy.Integer(0)
    if x.is_nonnegative:
        return x * (x + 1) / 2
    return TRI(x)


def _sized(name: str, nonnegative: bool = False) -> sympy.Symbol:
    """The formulas' symbols: sizes are positive, params non-negative."""
    if nonnegative:
        return sympy.Symbol(name, integer=True, nonnegative=True)
    return sympy.Symbol(name, integer=True, positive=True)


def evaluate(formula, values: dict) -> int:
    """The formula's value for these sizes and params (by symbol name)."""
    numbers = {sym: values[sym.name] for sym in formula.free_symbols if sym.name in values}
    expr = formula.subs(numbers).replace(TRI, lambda x: sympy.Max(x, 0) * (sympy.Max(x, 0) + 1) / 2)
    return int(expr)


def _long_form(formula, values: dict):
    """The formula at Q = K = N, with every tri, min and max decided for N much
    larger than the params (their values at this call decide the signs)."""
    N = _sized("N")
    expr = formula.subs({sym: N for sym in formula.free_symbols if sym.name in ("Q", "K")})
    probe = {sym: values[sym.name] for sym in expr.free_symbols if sym.name in values}
    probe[N] = 10**12

    def sign(x):
        value = x.subs(probe)
        return value if value.is_number else None

    for _ in range(4):  # nested min/max: decide the innermost first
        decided = {}
        for atom in expr.atoms(TRI, sympy.Min, sympy.Max):
            values_of = [sign(a) for a in atom.args]
            if any(v is None for v in values_of):
                continue
            if isinstance(atom, TRI):
                x = atom.args[0]
                decided[atom] = x * (x + 1) / 2 if values_of[0] > 0 else sympy.Integer(0)
            else:
                pick = min if isinstance(atom, sympy.Min) else max
                decided[atom] = atom.args[values_of.index(pick(values_of))]
        if not decided:
            break
        expr = expr.subs(decided)
    if expr.has(TRI, sympy.Min, sympy.Max):
        return None
    return tidy(expr)


def tidy(expr):
    """Readable: H times a sum collected by the sizes, e.g. H*(N*(2*w + 1) - w**2 - w)."""
    expr = sympy.expand(expr)
    sizes = sorted((s for s in expr.free_symbols if s.name in ("N", "Q", "K")), key=lambda s: s.name)
    heads = [s for s in expr.free_symbols if s.name == "H"]
    if heads:
        inner = sympy.expand(expr / heads[0])
        if not inner.has(heads[0]):
            return heads[0] * sympy.collect(inner, sizes)
    return sympy.collect(expr, sizes)


def pairs_formula(pattern: ir.CheckedPattern):
    """(allowed pairs of all heads as sympy in Q, K, H and params, the
    assumptions it holds under), or (None, '') where no rule applies."""
    total, assumptions = sympy.Integer(0), ["params >= 0"] if pattern.params else []
    for g in pattern.groups:
        if ir.mentions(g.mask, "h"):
            return None, ""
        found = _mask_formula(g.mask)
        if found is None:
            return None, ""
        per_head, assumption = found
        total += (ir.to_sympy(g.stop) - ir.to_sympy(g.start)) * per_head
        if assumption and assumption not in assumptions:
            assumptions.insert(0, assumption)
    names = {"Q", "K", "H", "D"}
    mapping = {ir.symbol(n): _sized(n) for n in names}
    mapping.update({ir.symbol(p.name): _sized(p.name, nonnegative=True) for p in pattern.params if p.type == "int"})
    total = total.subs(mapping).replace(TRI, _tri_value)
    return tidy(sympy.simplify(total)), ", ".join(assumptions) or "exact"


def _mask_formula(mask):
    Q, K = ir.symbol("Q"), ir.symbol("K")
    if isinstance(mask, ir.Full):
        return Q * K, ""
    if isinstance(mask, ir.Empty):
        return sympy.Integer(0), ""
    band = _band(mask)
    if band is not None:
        return _band_pairs(*band), "Q <= K"
    if isinstance(mask, ir.KeyPrefix):
        return Q * sympy.Min(ir.to_sympy(mask.count), K), ""
    if isinstance(mask, ir.Global):
        g = ir.to_sympy(mask.count)
        rows = sympy.Min(sympy.Max(g - (K - Q), 0), Q)  # query rows at positions p < g
        return rows * K + (Q - rows) * sympy.Min(g, K), ""
    if isinstance(mask, ir.BlockDiag):
        b = ir.to_sympy(mask.size)
        return sympy.floor(K / b) * b**2 + sympy.Mod(K, b)**2, "Q = K"
    if isinstance(mask, ir.Or):
        for a, c in ((mask.a, mask.b), (mask.b, mask.a)):
            if isinstance(c, ir.KeyPrefix) and _band(a) == (None, 0):  # causal | prefix(n): prefix LM
                n = ir.to_sympy(c.count)
                return Q * sympy.Min(n, K) + TRI(K - n) - TRI(K - Q - n), "Q <= K"
    return None


def _band(mask):
    """(keys behind, keys ahead) of a band p - behind <= j <= p + ahead made of
    `causal`, `window` and `full` joined by `&` (None: unbounded), or None."""
    if isinstance(mask, ir.Full):
        return None, None
    if isinstance(mask, ir.Causal):
        return None, 0
    if isinstance(mask, ir.Window):
        return ir.to_sympy(mask.left), ir.to_sympy(mask.right)
    if isinstance(mask, ir.And):
        a, b = _band(mask.a), _band(mask.b)
        if a is None or b is None:
            return None
        return tuple(_least(x, y) for x, y in zip(a, b))
    return None


def _least(x, y):
    return y if x is None else x if y is None else sympy.Min(x, y)


def _band_pairs(behind, ahead):
    """Pairs with p - behind <= j <= p + ahead, rows at p = K-Q..K-1, keys 0..K-1
    (Q <= K): Q(l + r + 1) minus the triangles cut off at j < 0 and j >= K."""
    Q, K = ir.symbol("Q"), ir.symbol("K")
    if behind is None and ahead is None:
        return Q * K
    l = K if behind is None else behind  # K reaches every key: the band is open on that side
    r = K if ahead is None else ahead
    return Q * (l + r + 1) - TRI(r) + TRI(r - Q) - TRI(l - K + Q) + TRI(l - K)


# ------------------------------------------------------------------ counting pairs
def count_pairs(pattern: ir.CheckedPattern, env: dict, segments=None, tile: int = COUNT_TILE):
    """(allowed pairs over all heads, a note), exactly: FULL tiles whole, PARTIAL
    tiles pair by pair. Data-dependent masks are counted on example inputs
    (documents of random lengths), or (None, note) where that is too large."""
    Q, K, H = env["Q"], env["K"], env["H"]
    if pattern.is_data_dependent:
        return _count_dense(pattern, env, segments)
    total = 0
    for start, stop, tree in group_trees(pattern, env):
        heads = torch.arange(start, stop)
        if heads.numel() == 0:
            continue
        classes = blockrt.classify(tree, Q, K, heads, tile, tile)
        area = _tile_area(Q, tile).view(-1, 1) * _tile_area(K, tile).view(1, -1)
        for row in range(classes.shape[0]):
            head = int(heads[row])
            c = classes[row]
            count = int((area * (c == blockrt.FULL)).sum())
            count += _partial_pairs(tree, Q, K, head, (c == blockrt.PARTIAL).nonzero(), tile)
            total += count * (1 if classes.shape[0] > 1 else heads.numel())
    return total, ""


def _tile_area(n: int, tile: int) -> torch.Tensor:
    starts = torch.arange(math.ceil(n / tile)) * tile
    return (torch.clamp(starts + tile, max=n) - starts).to(torch.int64)


def _partial_pairs(tree, Q: int, K: int, head: int, tiles: torch.Tensor, tile: int) -> int:
    """Allowed pairs in the listed (query tile, key tile)s, evaluated a batch of
    tiles at a time (blockrt's evaluator on tile-shaped index tensors)."""
    total, cache, offsets = 0, {}, torch.arange(tile)
    step = max(1, 2**22 // (tile * tile))
    h = torch.full((1, 1, 1), head, dtype=torch.int64)
    for start in range(0, tiles.shape[0], step):
        tq, tk = tiles[start:start + step].unbind(1)
        i = (tq[:, None] * tile + offsets).unsqueeze(2)
        j = (tk[:, None] * tile + offsets).unsqueeze(1)
        valid = (i < Q) & (j < K)
        i, j = i.clamp(max=Q - 1), j.clamp(max=K - 1)
        frame = blockrt._Frame({"i": i, "p": i + (K - Q), "j": j, "h": h}, {"Q": Q, "K": K},
                               False, False, {}, True, cache, "cpu")
        total += int((blockrt._evaluate(tree, frame).expand(valid.shape) & valid).sum())
    return total


def _count_dense(pattern: ir.CheckedPattern, env: dict, segments):
    from .semantics import dense_mask
    from .show import DATA_LIMIT, example_segments

    Q, K, H = env["Q"], env["K"], env["H"]
    if "rotations" in pattern.runtime_inputs or Q * K * H > DATA_LIMIT:
        return None, ""
    params = {p.name: env[p.name] for p in pattern.params}
    if segments is None:
        segments, note = example_segments(K), " (4 example documents of random lengths)"
    else:
        note = ""
    return int(dense_mask(pattern, Q, K, H, params, segments=segments[:1]).sum()), note
