"""Block runtime: what a mask's value tree means, as a dense mask and as exact block classes.

Its source is copied verbatim into every generated module (top-level names
renamed `_rt_<name>`), so it imports only torch and math, keeps no state but
constants, and is deterministic. A *value tree* is a mask whose static values
are already ints (patternc/lower.py builds them from the checked IR):

    ("full",) ("empty",) ("causal",) ("window", l, r) ("dilated", l, r, d) ("strided", s)
    ("block", b) ("global", g) ("global_list", (t1, ...)) ("prefix", n) ("random", r, seed)
    ("segments",) ("buckets", n, rounds, seed) ("blocks", b, body)
    ("not", a) ("and", a, b) ("or", a, b) ("xor", a, b) ("cmp", op, x, y)

Integer expressions x, y: an int | ("idx", "i"|"p"|"j"|"h") | ("size", "Q"|"K")
| ("arith", op, x, y) for op in + - * // % min max (Python floor semantics)
| ("neg", x) | ("abs", x). Query row i sits at position p = i + K - Q.

Entry points:
- `dense`: the boolean mask, the ground truth;
- `classify`: EMPTY / PARTIAL / FULL for every (query tile, key tile), exactly;
- `block_tables`: the classes as the count/index tables the kernels read;
- `random_table` and `make_rotations`: the seeded draws of `random` and `buckets`.

Longer than the project's ~400-line aim: one self-contained file is what gets
vendored, and the evaluator and the tile analysis must stay side by side.
"""
import torch

EMPTY, PARTIAL, FULL = 0, 1, 2
UNDECIDED = 3  # the tile analysis could not decide: the tile's pairs are evaluated

_MASK32 = 0xFFFFFFFF
_RANGE_LIMIT = 2**60  # interval bounds beyond this count as unbounded (int64 stays exact)
_REFINE_ELEMENTS = 2**22  # pairs evaluated at once when undecided tiles are refined


# ====================================================================== seeded draws
def _mul32(x, c):
    """(x * c) mod 2**32 for int64 x in [0, 2**32): c is split in 16-bit halves so
    no product passes 2**48 (int64 arithmetic stays exact on every device)."""
    low = x * (c & 0xFFFF)
    high = ((x * (c >> 16)) & 0xFFFF) << 16
    return (low + high) & _MASK32


def _mix32(x):
    """A bijective 32-bit integer hash (the `lowbias32` finaliser) on int64 tensors."""
    x = x ^ (x >> 16)
    x = _mul32(x, 0x7FEB352D)
    x = x ^ (x >> 15)
    x = _mul32(x, 0x846CA68B)
    return x ^ (x >> 16)


def random_table(r, seed, n_query_blocks, n_key_blocks):
    """The key blocks each query block sees under `random(r)`: a LongTensor
    (n_query_blocks, min(r, n_key_blocks)), each row r distinct key blocks in
    increasing order.

    Key block c gets the score mix32(mix32(mix32(seed mod 2**32) ^ q) ^ c) in
    row q, where mix32 is the lowbias32 hash (x ^= x >> 16; x *= 0x7feb352d;
    x ^= x >> 15; x *= 0x846ca68b; x ^= x >> 16, all mod 2**32); row q takes the
    r key blocks of smallest score. mix32 is a bijection, so the scores of a row
    are distinct and there are no ties. Only exact integer arithmetic is used:
    the table depends on nothing but (r, seed, n_query_blocks, n_key_blocks),
    never on the torch version or the device. Queries index rows by their
    position block p // b, so callers pass n_query_blocks = n_key_blocks."""
    width = max(0, min(int(r), n_key_blocks))
    rows = torch.arange(n_query_blocks, dtype=torch.int64)[:, None]
    cols = torch.arange(n_key_blocks, dtype=torch.int64)[None, :]
    row_keys = _mix32(_mix32(torch.tensor(seed % 2**32, dtype=torch.int64)) ^ rows)
    scores = _mix32(row_keys ^ cols)
    chosen = torch.topk(scores, width, dim=1, largest=False).indices
    return torch.sort(chosen, dim=1).values


def random_bitmap(r, seed, n_blocks, device="cpu"):
    """`random_table(r, seed, n_blocks, n_blocks)` as an (n_blocks, n_blocks)
    bool matrix: [query block, key block] is allowed."""
    bitmap = torch.zeros((n_blocks, n_blocks), dtype=torch.bool)
    bitmap.scatter_(1, random_table(r, seed, n_blocks, n_blocks), True)
    return bitmap.to(device)


def make_rotations(rounds, D, n, seed, device="cpu", dtype=torch.float32):
    """The LSH rotations of `buckets(n, rounds=rounds, seed=seed)`: (rounds, D, n // 2),
    standard normal, drawn on the CPU from torch.Generator().manual_seed(seed)
    (so they do not depend on the device), then moved."""
    generator = torch.Generator().manual_seed(seed % 2**63)
    rotations = torch.randn((rounds, D, n // 2), generator=generator, dtype=torch.float32)
    return rotations.to(device=device, dtype=dtype)


# ====================================================================== the evaluator
class _Frame:
    """Where a tree is evaluated: integer index tensors i, p, j, h that broadcast
    against each other; the sizes Q and K of this level (numbers of blocks
    inside `blocks`); `grid` when i, p are rows (1, 1, R, 1) and j is
    arange(K) as (1, 1, 1, K), so `blocks` can evaluate its body on the block
    grid once; `kleene` for three-valued results (0 no, 1 maybe, 2 yes) where
    data-dependent leaves are unknown; runtime tensors; a per-call cache."""

    __slots__ = ("index", "sizes", "grid", "kleene", "runtime", "top", "cache", "device")

    def __init__(self, index, sizes, grid, kleene, runtime, top, cache, device):
        self.index, self.sizes, self.grid, self.kleene = index, sizes, grid, kleene
        self.runtime, self.top, self.cache, self.device = runtime, top, cache, device

    def inner(self, index, sizes):
        return _Frame(index, sizes, self.grid, self.kleene, self.runtime, False, self.cache, self.device)

    def constant(self, value):
        ndim = max(t.dim() for t in self.index.values())
        return torch.full((1,) * ndim, value, dtype=torch.bool, device=self.device)

    def bitmap(self, r, seed, n):
        key = ("bitmap", r, seed, n)
        if key not in self.cache:
            self.cache[key] = random_bitmap(r, seed, n, self.device)
        return self.cache[key]


def _check_divisor(value, what):
    if isinstance(value, int):
        bad = value == 0
    else:
        bad = bool((value == 0).any())
    if bad:
        raise ZeroDivisionError(f"{what}: division or modulo by zero")


def _floordiv(a, b):
    _check_divisor(b, "//")
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    return torch.div(torch.as_tensor(a), torch.as_tensor(b), rounding_mode="floor")


def _mod(a, b):
    _check_divisor(b, "%")
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    return torch.remainder(torch.as_tensor(a), torch.as_tensor(b))


def _arith(op, a, b):
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "//":
        return _floordiv(a, b)
    if op == "%":
        return _mod(a, b)
    if op in ("min", "max"):
        if isinstance(a, int) and isinstance(b, int):
            return min(a, b) if op == "min" else max(a, b)
        pick = torch.minimum if op == "min" else torch.maximum
        return pick(torch.as_tensor(a), torch.as_tensor(b))
    raise ValueError(f"unknown integer operator {op!r}")


def _value(x, frame):
    """An integer expression: an int, or an int64 tensor over the frame's indices."""
    if isinstance(x, int):
        return x
    tag = x[0]
    if tag == "idx":
        return frame.index[x[1]]
    if tag == "size":
        if x[1] not in frame.sizes:
            raise ValueError(f"('size', {x[1]!r}) must be folded to an int before evaluation")
        return frame.sizes[x[1]]
    if tag == "neg":
        return -_value(x[1], frame)
    if tag == "abs":
        return abs(_value(x[1], frame))
    if tag == "arith":
        return _arith(x[1], _value(x[2], frame), _value(x[3], frame))
    raise ValueError(f"not an integer expression: {x!r}")


_COMPARE = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b,
}


def _leaf(t, frame):
    """A primitive or comparison as a bool tensor broadcastable over the frame."""
    tag = t[0]
    p, j = frame.index["p"], frame.index["j"]
    if tag in ("full", "empty"):
        return frame.constant(tag == "full")
    if tag == "causal":
        return j <= p
    if tag == "window":
        return (j >= p - t[1]) & (j <= p + t[2])
    if tag == "dilated":
        _check_divisor(t[3], "dilated")
        return (j >= p - t[1] * t[3]) & (j <= p + t[2] * t[3]) & (torch.remainder(p - j, t[3]) == 0)
    if tag == "strided":
        _check_divisor(t[1], "strided")
        return torch.remainder(p - j, t[1]) == 0
    if tag == "block":
        return _floordiv(p, t[1]) == _floordiv(j, t[1])
    if tag == "global":
        return (p < t[1]) | (j < t[1])
    if tag == "global_list":
        listed = torch.tensor(list(t[1]), dtype=torch.int64, device=frame.device)
        return torch.isin(p, listed) | torch.isin(j, listed)
    if tag == "prefix":
        return j < t[1]
    if tag == "random":
        return _random_leaf(t[1], t[2], frame)
    if tag == "cmp":
        result = _COMPARE[t[1]](_value(t[2], frame), _value(t[3], frame))
        return result if torch.is_tensor(result) else frame.constant(bool(result))
    if tag == "segments":
        return _segments_leaf(frame)
    if tag == "buckets":
        return _buckets_leaf(t[1], t[2], t[3], frame)
    raise ValueError(f"unknown mask node {tag!r}")


def _random_leaf(r, seed, frame):
    """Query (block) p sees the drawn key (blocks) of row p of the table; the table
    has one row per key block, and positions outside it (p < 0) see nothing."""
    n = frame.sizes["K"]
    p, j = frame.index["p"], frame.index["j"]
    if n == 0:
        return frame.constant(False)
    inside = (p >= 0) & (p < n) & (j >= 0) & (j < n)
    return frame.bitmap(r, seed, n)[p.clamp(0, n - 1), j.clamp(0, n - 1)] & inside


def _segments_leaf(frame):
    """segments[b, p] == segments[b, j]; a query row at p < 0 (Q > K) has no
    segment and sees nothing."""
    segments = frame.runtime.get("segments")
    if segments is None:
        raise ValueError("the pattern uses `segments`: pass segments, an integer tensor (B, K)")
    if not (frame.top and frame.grid):
        raise ValueError("`segments` is only defined at token level (not inside blocks)")
    K = frame.sizes["K"]
    if segments.dim() != 2 or segments.shape[1] != K:
        raise ValueError(f"segments must have shape (B, K={K}), got {tuple(segments.shape)}")
    B = segments.shape[0]
    p = frame.index["p"].reshape(-1)
    query = segments[:, p.clamp(0, max(K - 1, 0))].view(B, 1, -1, 1)
    key = segments[:, frame.index["j"].reshape(-1)].view(B, 1, 1, -1)
    return (query == key) & (p >= 0).view(1, 1, -1, 1)


def _lsh(x, rotations):
    """hash_r(x) = argmax([x @ Rot_r, -(x @ Rot_r)]) for every round r: (R, B, H, L)."""
    projected = torch.einsum("bhld,rde->rbhle", x, rotations)
    return torch.cat([projected, -projected], dim=-1).argmax(dim=-1)


def _buckets_leaf(n, rounds, seed, frame):
    """Some round r has hash_r(q[b, h, i]) == hash_r(k[b, h // (H // H_kv), j]).
    The hashes are computed here from q, k and the rotations, or given as
    `hashes` = (query (R, B, H, Q), key (R, B, H_kv, K)): the generated module
    hashes on the device and passes its own, so its mask is the kernels' mask."""
    if not (frame.top and frame.grid):
        raise ValueError("`buckets` is only defined at token level (not inside blocks)")
    heads = frame.index["h"].reshape(-1)
    if frame.runtime.get("hashes") is not None:
        query, key = (t.to(frame.device) for t in frame.runtime["hashes"])
        if query.shape[0] != rounds or key.shape[0] != rounds:
            raise ValueError(f"hashes must have {rounds} rounds, got {query.shape[0]} and {key.shape[0]}")
        group = query.shape[2] // key.shape[2]
        query, key = query[:, :, heads], key[:, :, torch.div(heads, group, rounding_mode="floor")]
        return (query[..., :, None] == key[..., None, :]).any(dim=0)
    q, k = frame.runtime.get("q"), frame.runtime.get("k")
    if q is None or k is None:
        raise ValueError("the pattern uses `buckets`: pass q (B, H, Q, D) and k (B, H_kv, K, D)")
    rotations = frame.runtime.get("rotations")
    if rotations is None:
        rotations = make_rotations(rounds, q.shape[-1], n, seed, q.device)
    if tuple(rotations.shape) != (rounds, q.shape[-1], n // 2):
        raise ValueError(f"rotations must have shape (rounds={rounds}, D={q.shape[-1]}, n/2={n // 2}), "
                         f"got {tuple(rotations.shape)}")
    group = q.shape[1] // k.shape[1]
    work = torch.promote_types(torch.promote_types(q.dtype, rotations.dtype), torch.float32)
    rotations = rotations.to(device=q.device, dtype=work)
    query = _lsh(q[:, heads].to(work), rotations)
    key = _lsh(k[:, torch.div(heads, group, rounding_mode="floor")].to(work), rotations)
    return (query[..., :, None] == key[..., None, :]).any(dim=0)


def _take(x, index, dim):
    """x gathered along dim, unless x is broadcast (size 1) along it."""
    return x if x.shape[dim] == 1 else x.index_select(dim, index)


def _blocks(b, body, frame):
    """The pair is allowed when (p // b, j // b) is allowed by body (and i -> i // b,
    Q, K -> numbers of blocks). On a grid, body is evaluated once per distinct
    (i // b, p // b) row and per key block, then gathered back to the tokens."""
    if b < 1:
        raise ValueError(f"blocks({b}): the block size must be >= 1")
    sizes = {"Q": -(-frame.sizes["Q"] // b), "K": -(-frame.sizes["K"] // b)}
    if not frame.grid:
        index = {n: v if n == "h" else torch.div(v, b, rounding_mode="floor") for n, v in frame.index.items()}
        return _evaluate(body, frame.inner(index, sizes))
    rows_i = torch.div(frame.index["i"].reshape(-1), b, rounding_mode="floor")
    rows_p = torch.div(frame.index["p"].reshape(-1), b, rounding_mode="floor")
    new_row = torch.ones_like(rows_i, dtype=torch.bool)
    new_row[1:] = (rows_i[1:] != rows_i[:-1]) | (rows_p[1:] != rows_p[:-1])
    row_of = torch.cumsum(new_row.to(torch.int64), 0) - 1
    first = new_row.nonzero().reshape(-1)
    index = {"i": rows_i[first].view(1, 1, -1, 1), "p": rows_p[first].view(1, 1, -1, 1),
             "j": torch.arange(sizes["K"], device=frame.device).view(1, 1, 1, -1), "h": frame.index["h"]}
    body_mask = _evaluate(body, frame.inner(index, sizes))
    col_of = torch.div(frame.index["j"].reshape(-1), b, rounding_mode="floor")
    return _take(_take(body_mask, row_of, -2), col_of, -1)


def _evaluate(t, frame):
    """The mask of a value tree: bool, or Kleene int8 (0 no, 1 maybe, 2 yes)."""
    tag = t[0]
    if tag == "not":
        a = _evaluate(t[1], frame)
        return 2 - a if frame.kleene else ~a
    if tag in ("and", "or", "xor"):
        a, b = _evaluate(t[1], frame), _evaluate(t[2], frame)
        if not frame.kleene:
            return a & b if tag == "and" else (a | b if tag == "or" else a ^ b)
        if tag == "xor":
            return torch.where((a == 1) | (b == 1), 1, (a != b).to(torch.int8) * 2).to(torch.int8)
        return torch.minimum(a, b) if tag == "and" else torch.maximum(a, b)
    if tag == "blocks":
        return _blocks(t[1], t[2], frame)
    if frame.kleene and tag in ("segments", "buckets"):
        return frame.constant(True).to(torch.int8)  # depends on the data: maybe
    leaf = _leaf(t, frame)
    return leaf.to(torch.int8) * 2 if frame.kleene else leaf


def dense(tree, Q, K, heads, *, segments=None, q=None, k=None, rotations=None, hashes=None, device="cpu"):
    """The mask of `tree` for heads `heads` (1-D indices h): a bool tensor
    (B or 1, len(heads), Q, K), B > 1 only where segments or buckets make it
    batch-dependent. The result may be an expanded view (call .contiguous()
    to write into it). segments: (B, K) ints; buckets need q (B, H, Q, D),
    k (B, H_kv, K, D) and optionally rotations (rounds, D, n/2), or their
    hashes (query (R, B, H, Q), key (R, B, H_kv, K))."""
    heads = torch.as_tensor(heads, dtype=torch.int64, device=device).reshape(-1)
    if Q == 0 or K == 0 or heads.numel() == 0:
        return torch.zeros((1, heads.numel(), Q, K), dtype=torch.bool, device=device)
    runtime = {name: value.to(device) for name, value in
               (("segments", segments), ("q", q), ("k", k), ("rotations", rotations)) if value is not None}
    if hashes is not None:
        runtime["hashes"] = tuple(t.to(device) for t in hashes)
    rows = torch.arange(Q, dtype=torch.int64, device=device).view(1, 1, Q, 1)
    index = {"i": rows, "p": rows + (K - Q), "h": heads.view(1, -1, 1, 1),
             "j": torch.arange(K, dtype=torch.int64, device=device).view(1, 1, 1, K)}
    frame = _Frame(index, {"Q": Q, "K": K}, True, False, runtime, True, {}, device)
    mask = _evaluate(tree, frame)
    return mask.expand(mask.shape[0], heads.numel(), Q, K)


# ====================================================================== tile classes
class _Box:
    """Every tile as a box of index ranges: i0..i1 and p0..p1 are (1, nq, 1),
    j0..j1 (1, 1, nk), h the head (G, 1, 1). At token level `offset` = K - Q
    (p = i + offset); inside `blocks` it is None and ranges are floored by b.
    Every (p, j) and every (i, j) of a box is reached by some pair of its tile,
    but inside blocks not every (i, p): there the box only bounds them.
    `magnitude` bounds every |index|; `sizes` are this level's Q and K."""

    __slots__ = ("i0", "i1", "p0", "p1", "j0", "j1", "h", "offset", "sizes", "magnitude", "cache")

    def __init__(self, i0, i1, p0, p1, j0, j1, h, offset, sizes, magnitude, cache):
        self.i0, self.i1, self.p0, self.p1, self.j0, self.j1 = i0, i1, p0, p1, j0, j1
        self.h, self.offset, self.sizes, self.magnitude, self.cache = h, offset, sizes, magnitude, cache

    def range(self, name):
        return {"i": (self.i0, self.i1), "p": (self.p0, self.p1), "j": (self.j0, self.j1),
                "h": (self.h, self.h)}[name]

    def blocks(self, b):
        if b < 1:
            raise ValueError(f"blocks({b}): the block size must be >= 1")
        down = [torch.div(v, b, rounding_mode="floor") for v in (self.i0, self.i1, self.p0, self.p1, self.j0, self.j1)]
        sizes = {"Q": -(-self.sizes["Q"] // b), "K": -(-self.sizes["K"] // b)}
        return _Box(*down, self.h, None, sizes, self.magnitude, self.cache)


def _classes(some, every):
    """Class of tiles where some pair / every pair is allowed (tiles are never empty)."""
    return torch.where(every, FULL, torch.where(some, PARTIAL, EMPTY)).to(torch.int8)


def _constant_class(value):
    return torch.full((1, 1, 1), value, dtype=torch.int8)


def _flip(c):
    return torch.where(c == FULL, EMPTY, torch.where(c == EMPTY, FULL, c)).to(torch.int8)


def _combine(tag, a, b):
    """Classes of A op B from those of A and B where that is sound; UNDECIDED else."""
    if tag == "or":
        c = torch.where((a == FULL) | (b == FULL), FULL, torch.where(a == EMPTY, b, torch.where(b == EMPTY, a, UNDECIDED)))
    elif tag == "and":
        c = torch.where((a == EMPTY) | (b == EMPTY), EMPTY, torch.where(a == FULL, b, torch.where(b == FULL, a, UNDECIDED)))
    else:
        c = torch.where(a == EMPTY, b, torch.where(b == EMPTY, a, torch.where(
            a == FULL, _flip(b), torch.where(b == FULL, _flip(a), UNDECIDED))))
    return c.to(torch.int8)


def _delta_class(box, lo, hi, step):
    """Tiles of `lo <= p - j <= hi and (p - j) % step == 0` (lo, hi None: unbounded).
    Over a tile p - j takes every integer of [p0 - j1, p1 - j0]."""
    d0, d1 = box.p0 - box.j1, box.p1 - box.j0
    a = d0 if lo is None else torch.clamp(d0, min=lo)
    b = d1 if hi is None else torch.clamp(d1, max=hi)
    some = torch.div(b, step, rounding_mode="floor") * step >= a  # a multiple of step in [a, b]
    every = (a == d0) & (b == d1)
    if step != 1:
        every = every & (d0 == d1) & (torch.remainder(d0, step) == 0)
    return _classes(some, every)


def _block_class(b, box):
    """p // b == j // b: over a tile p // b and j // b take every value of their ranges."""
    _check_divisor(b, "block")
    fp = [torch.div(v, b, rounding_mode="floor") for v in (box.p0, box.p1)]
    fj = [torch.div(v, b, rounding_mode="floor") for v in (box.j0, box.j1)]
    p_lo, p_hi = torch.minimum(*fp), torch.maximum(*fp)
    j_lo, j_hi = torch.minimum(*fj), torch.maximum(*fj)
    some = torch.maximum(p_lo, j_lo) <= torch.minimum(p_hi, j_hi)
    return _classes(some, (p_lo == p_hi) & (j_lo == j_hi) & (p_lo == j_lo))


def _listed_class(positions, box):
    """p in T or j in T: every pair allowed when every p or every j is listed."""
    listed = torch.tensor(sorted(set(positions)), dtype=torch.int64).view(-1, 1, 1, 1)
    if listed.numel() == 0:
        return _constant_class(EMPTY)
    p_hits = ((listed >= box.p0) & (listed <= box.p1)).sum(0)
    j_hits = ((listed >= box.j0) & (listed <= box.j1)).sum(0)
    every = (p_hits == box.p1 - box.p0 + 1) | (j_hits == box.j1 - box.j0 + 1)
    return _classes((p_hits > 0) | (j_hits > 0), every)


def _random_class(r, seed, box):
    """Counts of drawn (query block, key block) cells in each box, by 2-D prefix sums."""
    n = box.sizes["K"]
    key = ("sums", r, seed, n)
    if key not in box.cache:
        sums = torch.zeros((n + 1, n + 1), dtype=torch.int64)
        sums[1:, 1:] = random_bitmap(r, seed, n).to(torch.int64).cumsum(0).cumsum(1)
        box.cache[key] = sums
    sums = box.cache[key]
    r0, r1 = box.p0.clamp(min=0), box.p1.clamp(min=-1, max=n - 1)  # rows p < 0 see nothing
    c0, c1 = box.j0.clamp(0, n - 1), box.j1.clamp(0, n - 1)
    hits = sums[r1 + 1, c1 + 1] - sums[r0, c1 + 1] - sums[r1 + 1, c0] + sums[r0, c0]
    hits = torch.where(r0 <= r1, hits, 0)
    area = (box.p1 - box.p0 + 1) * (box.j1 - box.j0 + 1)
    return _classes(hits > 0, hits == area)


def _primitive_class(t, box):
    tag = t[0]
    if tag in ("full", "empty"):
        return _constant_class(FULL if tag == "full" else EMPTY)
    if tag == "causal":
        return _delta_class(box, 0, None, 1)
    if tag == "window":
        return _delta_class(box, -t[2], t[1], 1)
    if tag == "dilated":
        _check_divisor(t[3], "dilated")
        return _delta_class(box, -t[2] * t[3], t[1] * t[3], abs(t[3]))
    if tag == "strided":
        _check_divisor(t[1], "strided")
        return _delta_class(box, None, None, abs(t[1]))
    if tag == "block":
        return _block_class(t[1], box)
    if tag == "global":
        return _classes((box.p0 < t[1]) | (box.j0 < t[1]), (box.p1 < t[1]) | (box.j1 < t[1]))
    if tag == "global_list":
        return _listed_class(t[1], box)
    if tag == "prefix":
        return _classes(box.j0 < t[1], box.j1 < t[1])
    if tag == "random":
        return _random_class(t[1], t[2], box)
    raise ValueError(f"unknown mask node {tag!r}")


# ---------------------------------------------------------------- predicates
def _linear(x, sizes):
    """x as {index name: coefficient, "1": constant} when affine in i, p, j, h; else None."""
    if isinstance(x, int):
        return {"1": x}
    tag = x[0]
    if tag == "idx":
        return {x[1]: 1}
    if tag == "size":
        return {"1": sizes[x[1]]} if x[1] in sizes else None
    if tag == "neg":
        a = _linear(x[1], sizes)
        return None if a is None else {n: -c for n, c in a.items()}
    if tag != "arith" or x[1] not in ("+", "-", "*"):
        return None
    a, b = _linear(x[2], sizes), _linear(x[3], sizes)
    if a is None or b is None:
        return None
    if x[1] == "*":
        if set(a) <= {"1"} or set(b) <= {"1"}:
            scale, form = (a.get("1", 0), b) if set(a) <= {"1"} else (b.get("1", 0), a)
            return {n: scale * c for n, c in form.items()}
        return None
    sign = 1 if x[1] == "+" else -1
    return {n: a.get(n, 0) + sign * b.get(n, 0) for n in set(a) | set(b)}


def _linear_range(form, box):
    """(min, max, exact, unit) of an affine form over each box, or None if it may
    overflow. exact: min and max are reached by the tile's pairs (i is p - offset at
    token level; inside blocks a form of both i and p is only bounded); unit: every
    coefficient is +-1, so every integer between min and max is reached too."""
    form = {n: c for n, c in form.items() if c != 0 or n == "1"}
    if box.offset is not None and "i" in form:
        c = form.pop("i")
        form["p"] = form.get("p", 0) + c
        form["1"] = form.get("1", 0) - c * box.offset
    names = [n for n in form if n != "1" and form[n] != 0]
    constant = form.get("1", 0)
    if sum(abs(form[n]) for n in names) * box.magnitude + abs(constant) > _RANGE_LIMIT:
        return None
    lo = hi = torch.tensor(constant, dtype=torch.int64)
    for n in names:
        c, (v_lo, v_hi) = form[n], box.range(n)
        lo, hi = (lo + c * v_lo, hi + c * v_hi) if c > 0 else (lo + c * v_hi, hi + c * v_lo)
    exact = not ("i" in names and "p" in names)
    return lo, hi, exact, all(abs(form[n]) == 1 for n in names)


def _fit(lo, hi, ok):
    ok = ok & (lo.abs() <= _RANGE_LIMIT) & (hi.abs() <= _RANGE_LIMIT)
    return torch.where(ok, lo, 0), torch.where(ok, hi, 0), ok


def _range(x, box):
    """(lo, hi, ok): bounds of an integer expression over each box (sound, maybe
    loose); where ok is False it is unbounded (a divisor may be 0, or overflow)."""
    form = _linear(x, box.sizes)
    found = None if form is None else _linear_range(form, box)
    if found is not None:
        return found[0], found[1], torch.tensor(True)
    if isinstance(x, int) or x[0] in ("idx", "size"):
        zero = torch.tensor(0)
        return zero, zero, torch.tensor(False)
    if x[0] == "neg":
        lo, hi, ok = _range(x[1], box)
        return -hi, -lo, ok
    if x[0] == "abs":
        lo, hi, ok = _range(x[1], box)
        low = torch.where(lo > 0, lo, torch.where(hi < 0, -hi, 0))
        return low, torch.maximum(lo.abs(), hi.abs()), ok
    return _interval(x[1], _range(x[2], box), _range(x[3], box))


def _interval(op, a, b):
    (a_lo, a_hi, a_ok), (b_lo, b_hi, b_ok) = a, b
    ok = a_ok & b_ok
    if op == "+":
        return _fit(a_lo + b_lo, a_hi + b_hi, ok)
    if op == "-":
        return _fit(a_lo - b_hi, a_hi - b_lo, ok)
    if op in ("min", "max"):
        pick = torch.minimum if op == "min" else torch.maximum
        return pick(a_lo, b_lo), pick(a_hi, b_hi), ok
    if op == "*":
        pairs = [(x, y) for x in (a_lo, a_hi) for y in (b_lo, b_hi)]
        big = [(x.double() * y.double()).abs() > _RANGE_LIMIT for x, y in pairs]
        corners = [torch.where(g, 0, x) * torch.where(g, 0, y) for (x, y), g in zip(pairs, big)]
        ok = ok & ~(big[0] | big[1] | big[2] | big[3])
        return _fit(_least(corners), _most(corners), ok)
    positive, negative = b_lo > 0, b_hi < 0
    ok = ok & (positive | negative)  # a divisor that may be 0: unbounded
    d_lo, d_hi = torch.where(ok, b_lo, 1), torch.where(ok, b_hi, 1)
    if op == "//":  # x / y is monotone in each of x, y while y keeps its sign
        corners = [torch.div(x, y, rounding_mode="floor") for x in (a_lo, a_hi) for y in (d_lo, d_hi)]
        return _fit(_least(corners), _most(corners), ok)
    # %: one divisor m and one quotient: x % m = x - m * q grows with x
    same = (d_lo == d_hi) & (torch.div(a_lo, d_lo, rounding_mode="floor") == torch.div(a_hi, d_lo, rounding_mode="floor"))
    lo = torch.where(same, torch.remainder(a_lo, d_lo), torch.where(positive, 0, b_lo + 1))
    hi = torch.where(same, torch.remainder(a_hi, d_lo), torch.where(positive, b_hi - 1, 0))
    unchanged = (positive & (a_lo >= 0) & (a_hi < b_lo)) | (negative & (a_hi <= 0) & (a_lo > b_hi))
    return _fit(torch.where(unchanged, a_lo, lo), torch.where(unchanged, a_hi, hi), ok)


def _least(values):
    out = values[0]
    for v in values[1:]:
        out = torch.minimum(out, v)
    return out


def _most(values):
    out = values[0]
    for v in values[1:]:
        out = torch.maximum(out, v)
    return out


_ALWAYS_NEVER = {  # op -> (holds everywhere, holds nowhere), from the range [lo, hi] of a - b
    "<": (lambda lo, hi: hi < 0, lambda lo, hi: lo >= 0),
    "<=": (lambda lo, hi: hi <= 0, lambda lo, hi: lo > 0),
    ">": (lambda lo, hi: lo > 0, lambda lo, hi: hi <= 0),
    ">=": (lambda lo, hi: lo >= 0, lambda lo, hi: hi < 0),
    "==": (lambda lo, hi: (lo == 0) & (hi == 0), lambda lo, hi: (lo > 0) | (hi < 0)),
    "!=": (lambda lo, hi: (lo > 0) | (hi < 0), lambda lo, hi: (lo == 0) & (hi == 0)),
}


def _compare_class(t, box):
    """a op b by the range of a - b: FULL or EMPTY where it decides; PARTIAL where
    a - b is affine and its range is reached exactly; UNDECIDED else."""
    op, difference = t[1], ("arith", "-", t[2], t[3])
    form = _linear(difference, box.sizes)
    found = None if form is None else _linear_range(form, box)
    if found is not None:
        lo, hi, exact, unit = found
        ok = torch.tensor(True)
        mixed = PARTIAL if exact and (unit or op not in ("==", "!=")) else UNDECIDED
    else:
        lo, hi, ok = _range(difference, box)
        mixed = UNDECIDED
    always, never = _ALWAYS_NEVER[op]
    return torch.where(ok & always(lo, hi), FULL, torch.where(ok & never(lo, hi), EMPTY, mixed)).to(torch.int8)


def _analyse(t, box):
    """Classes of every tile (broadcastable to (G, nq, nk)), UNDECIDED where unknown.
    Data-dependent leaves are PARTIAL: they may hold anywhere."""
    tag = t[0]
    if tag == "not":
        return _flip(_analyse(t[1], box))
    if tag in ("and", "or", "xor"):
        return _combine(tag, _analyse(t[1], box), _analyse(t[2], box))
    if tag == "blocks":
        return _analyse(t[2], box.blocks(t[1]))
    if tag == "cmp":
        return _compare_class(t, box)
    if tag in ("segments", "buckets"):
        return _constant_class(PARTIAL)
    return _primitive_class(t, box)


def _refine(tree, Q, K, heads, block_q, block_k, tiles):
    """Exact classes of the tiles (g, query tile, key tile) listed in `tiles`, from
    their pairs, a batch of tiles at a time. Data-dependent leaves are 'maybe'
    (three-valued logic): such tiles are EMPTY or FULL only if so for every input."""
    cache, found = {}, []
    rows_q, rows_k = torch.arange(block_q), torch.arange(block_k)
    step = max(1, _REFINE_ELEMENTS // (block_q * block_k))
    for start in range(0, tiles.shape[0], step):
        g, tq, tk = tiles[start:start + step].unbind(1)
        i = (tq[:, None] * block_q + rows_q).unsqueeze(2)
        j = (tk[:, None] * block_k + rows_k).unsqueeze(1)
        valid = (i < Q) & (j < K)
        i, j = i.clamp(max=Q - 1), j.clamp(max=K - 1)
        h = heads[g].view(-1, 1, 1) if heads.numel() else torch.zeros((1, 1, 1), dtype=torch.int64)
        frame = _Frame({"i": i, "p": i + (K - Q), "j": j, "h": h}, {"Q": Q, "K": K}, False, True, {}, True, cache, "cpu")
        values = _evaluate(tree, frame).expand(valid.shape)
        some = ((values > 0) & valid).flatten(1).any(1)
        every = ((values == 2) | ~valid).flatten(1).all(1)
        found.append(_classes(some, every))
    return torch.cat(found)


def _mentions(tree, leaf):
    if tree == leaf:
        return True
    return isinstance(tree, tuple) and any(_mentions(part, leaf) for part in tree)


def classify(tree, Q, K, heads, block_q, block_k, device="cpu"):
    """The class of every (query tile, key tile): an int8 tensor (G, nq, nk) with
    nq = ceil(Q / block_q), nk = ceil(K / block_k), G = len(heads) where the tree
    mentions the head h, else 1. Classes are exact over the tile's valid pairs
    (rows < Q, columns < K): PARTIAL only when the tile really mixes.

    Each node classifies every tile at once from the tile's index ranges (window,
    causal, dilated and strided by the range of p - j; block by the ranges of
    p // b and j // b; random by prefix sums of its bitmap; predicates by
    interval arithmetic). Combinations that no rule decides (A | B with both
    PARTIAL, loose predicate bounds) are evaluated pair by pair, on those tiles
    only. Data-dependent leaves (segments, buckets) are conservative: they may
    hold anywhere, so such tiles are EMPTY or FULL only if so for every input."""
    if block_q < 1 or block_k < 1:
        raise ValueError(f"tile sizes must be >= 1, got {block_q}x{block_k}")
    heads = torch.as_tensor(heads, dtype=torch.int64).reshape(-1).cpu()
    n_q, n_k = -(-Q // block_q), -(-K // block_k)
    by_head = _mentions(tree, ("idx", "h"))
    rows = heads.numel() if by_head else 1
    if n_q == 0 or n_k == 0 or rows == 0:
        return torch.zeros((rows, n_q, n_k), dtype=torch.int8, device=device)
    i0 = torch.arange(n_q).view(1, -1, 1) * block_q
    i1 = torch.clamp(i0 + block_q, max=Q) - 1
    j0 = torch.arange(n_k).view(1, 1, -1) * block_k
    j1 = torch.clamp(j0 + block_k, max=K) - 1
    h = heads.view(-1, 1, 1) if by_head else torch.zeros((1, 1, 1), dtype=torch.int64)
    magnitude = max(Q, K, abs(K - Q), int(heads.abs().max()) if heads.numel() else 0) + 1
    box = _Box(i0, i1, i0 + (K - Q), i1 + (K - Q), j0, j1, h, K - Q, {"Q": Q, "K": K}, magnitude, {})
    classes = _analyse(tree, box).expand(rows, n_q, n_k).clone()
    undecided = classes == UNDECIDED
    if undecided.any():
        classes[undecided] = _refine(tree, Q, K, heads, block_q, block_k, undecided.nonzero())
    return classes.to(device)


# ====================================================================== kernel tables
def _index_table(selected):
    """Per row of `selected` (G, R, C): how many, and which columns (increasing,
    padded with 0 to the widest row, at least 1 wide)."""
    count = selected.sum(-1)
    width = max(1, int(count.max()) if count.numel() else 0)
    order = torch.sort((~selected).to(torch.int8), dim=-1, stable=True).indices[..., :width]
    if order.shape[-1] < width:
        order = torch.nn.functional.pad(order, (0, width - order.shape[-1]))
    slots = torch.arange(width, device=selected.device)
    index = torch.where(slots < count.unsqueeze(-1), order, 0)
    return count.to(torch.int32), index.to(torch.int32)


def block_tables(classes):
    """The kernels' tables from classes (G, nq, nk), as int32 tensors:
    full_count / partial_count (G, nq): how many FULL / PARTIAL key tiles each
    query tile visits, full_index / partial_index (G, nq, width): which, in
    increasing order, padded with 0; and the transposed tables for the backward
    pass, per key tile the query tiles: t_full_count (G, nk), t_full_index, ...

        for g, m in ...: for t in range(full_count[g, m]): visit key tile full_index[g, m, t]
    """
    tables = {}
    for kind, value in (("full", FULL), ("partial", PARTIAL)):
        selected = classes == value
        tables[f"{kind}_count"], tables[f"{kind}_index"] = _index_table(selected)
        tables[f"t_{kind}_count"], tables[f"t_{kind}_index"] = _index_table(selected.transpose(1, 2))
    return tables
