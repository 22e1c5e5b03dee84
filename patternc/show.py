"""Pictures of a pattern's mask with its block map: for the terminal (text, or
ANSI colours) and as a PNG written with zlib and struct alone.

    pic = picture(pattern, Q=1024, K=1024, H=1, params={"w": 256})
    print(render_text(pic, color=False))
    Path("mask.png").write_bytes(render_png(pic))

A picture is a grid of pixels, each the fraction of its (query, key) pairs the
mask allows, tinted by the class of the tile it lies in: blue where the tile is
FULL (computed without mask arithmetic), orange where it is PARTIAL (the
predicate decides, pair by pair), grey where it is EMPTY (never computed).
Pixels are exact fractions from the dense mask up to DENSE_LIMIT pairs; above
it they are the classes of pixel-sized tiles (none, some, all), still exact.
"""
from __future__ import annotations

import math
import struct
import zlib
from dataclasses import dataclass

import torch

from . import blockrt, ir
from .bind import bind
from .classify import SYMBOLS, classify
from .lower import group_trees

DENSE_LIMIT = 2**26  # pairs of one head evaluated densely for a picture (64 MB of bools)
DATA_LIMIT = 2**26  # pairs of all heads, for masks that depend on the data (segments, buckets)

# colours (RGB): tile backgrounds, and the ink of allowed pairs in them
BACKGROUND = {blockrt.EMPTY: (236, 236, 236), blockrt.PARTIAL: (253, 226, 186), blockrt.FULL: (44, 104, 176)}
INK = {blockrt.EMPTY: (236, 236, 236), blockrt.PARTIAL: (214, 96, 12), blockrt.FULL: (44, 104, 176)}
GRID = (176, 176, 176)
PAPER, TEXT = (255, 255, 255), (40, 40, 40)


@dataclass(frozen=True)
class MaskPicture:
    """What `picture` measured. pixels (R, C) float: the fraction of allowed
    pairs in each pixel's block of pixel_q x pixel_k pairs (for one head);
    pixel_tiles (R, C) int8: the class of the tile each pixel lies in; tiles
    (nq, nk) int8: the shown head's block map; counts: tiles of each class over
    every head."""

    name: str
    Q: int
    K: int
    H: int
    head: int
    params: dict
    pixels: torch.Tensor
    pixel_tiles: torch.Tensor
    pixel_q: int
    pixel_k: int
    exact_pixels: bool
    tiles: torch.Tensor
    block_q: int
    block_k: int
    counts: dict
    pair_density: float | None  # of the shown head; None where not measured
    heads_differ: bool
    note: str = ""

    @property
    def tile_density(self) -> float:
        total = sum(self.counts.values())
        return (self.counts["full"] + self.counts["partial"]) / total if total else 0.0


def example_segments(K: int, documents: int = 4, seed: int = 0, batch: int = 1) -> torch.Tensor:
    """Document ids (batch, K) of `documents` packed documents of random lengths,
    for patterns that read `segments` when the caller gave none."""
    gen = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(batch):
        count = max(1, min(documents, K))
        cuts = torch.sort(torch.randperm(max(K - 1, 0), generator=gen)[:count - 1] + 1).values
        ids = torch.zeros(K, dtype=torch.int64)
        ids[cuts] = 1
        rows.append(torch.cumsum(ids, 0))
    return torch.stack(rows)


def picture(pattern: ir.CheckedPattern, Q: int, K: int, H: int = 1, params: dict | None = None, *,
            head: int = 0, tile: tuple[int, int] | None = None, max_pixels: int = 1024,
            segments: torch.Tensor | None = None, documents: int = 4) -> MaskPicture:
    """Measure the picture of `pattern` at these sizes (raises TypeError or
    ValueError for bad params, sizes or head, like `bind`)."""
    env = bind(pattern, params, Q, K, H)
    if not 0 <= head < H:
        raise ValueError(f"head {head} is out of range: the pattern runs with H={H} heads (0..{H - 1})")
    block_q, block_k = tile or pattern.tile or (128, 128)
    pixel_q, pixel_k = max(1, math.ceil(Q / max_pixels)), max(1, math.ceil(K / max_pixels))
    given = {name: env[name] for name in (p.name for p in pattern.params)}
    common = dict(name=pattern.name, Q=Q, K=K, H=H, head=head, params=given, pixel_q=pixel_q, pixel_k=pixel_k,
                  block_q=block_q, block_k=block_k)
    if pattern.is_data_dependent:
        return _data_picture(pattern, env, common, segments, documents)
    classes = classify(pattern, Q, K, H, given, block_q, block_k)
    tree = next(tree for start, stop, tree in group_trees(pattern, env) if start <= head < stop)
    if Q * K <= DENSE_LIMIT:
        mask = blockrt.dense(tree, Q, K, [head])[0, 0]
        pixels, _, _ = pool(mask, pixel_q, pixel_k)
        density, exact = float(mask.float().mean()) if Q * K else 0.0, True
    else:  # too many pairs to evaluate: pixel-sized tiles' classes (none / some / all), still exact
        pixel_classes = blockrt.classify(tree, Q, K, [head], pixel_q, pixel_k)[0]
        pixels, density, exact = pixel_classes.float() / 2, None, False
    tiles = classes.for_head(head)
    return MaskPicture(**common, pixels=pixels, pixel_tiles=_pixel_tiles(tiles, pixels.shape, common),
                       exact_pixels=exact, tiles=tiles, counts=classes.counts(), pair_density=density,
                       heads_differ=classes.classes.shape[0] > 1, note=_residue_note(group_trees(pattern, env)))


def _residue_note(groups) -> str:
    """Dilated and strided masks run per residue class (blocks in positions
    order are drawn here, not the kernels' compressed ones): say so."""
    def moduli(tree):
        if tree[0] == "and":
            return moduli(tree[1]) + moduli(tree[2])
        return [tree[-1]] if tree[0] in ("dilated", "strided") and tree[-1] >= 2 else []
    found = [moduli(tree) for start, stop, tree in groups if stop > start]
    if not found or not all(found):
        return ""
    return (f"the kernels run this mask per residue class mod {found[0][0]} (patternc explain): there its "
            "tiles are dense bands, not the sparse tiles drawn here")


def _data_picture(pattern, env, common, segments, documents) -> MaskPicture:
    """Masks that read segments or buckets: drawn for example inputs (documents
    of random lengths; random q and k), tiles classified from the dense mask."""
    from .semantics import dense_mask

    Q, K, H = env["Q"], env["K"], env["H"]
    if Q * K * H > DATA_LIMIT:
        raise ValueError(f"pattern '{pattern.name}' depends on the data: its picture needs the dense mask, and "
                         f"Q*K*H = {Q * K * H} pairs is too many (at most {DATA_LIMIT}); use smaller sizes")
    runtime, notes = {}, []
    if "segments" in pattern.runtime_inputs:
        runtime["segments"] = example_segments(K, documents) if segments is None else segments[:1]
        count = int(runtime["segments"].unique().numel())
        given = "given" if segments is not None else "example"
        notes.append(f"segments: {count} {given} document{'s' if count != 1 else ''}"
                     + (" of random lengths" if segments is None else " (batch element 0)"))
    if "rotations" in pattern.runtime_inputs:
        gen = torch.Generator().manual_seed(0)
        runtime["q"] = torch.randn(1, H, Q, 64, generator=gen)
        runtime["k"] = torch.randn(1, H, K, 64, generator=gen)
        notes.append("buckets: hashes of random q and k (D=64)")
    mask = dense_mask(pattern, Q, K, H, common["params"], **runtime)[0]
    tiles = torch.stack([tile_classes(mask[h], common["block_q"], common["block_k"]) for h in range(H)])
    counts = {name: int((tiles == value).sum()) for name, value in
              (("empty", blockrt.EMPTY), ("partial", blockrt.PARTIAL), ("full", blockrt.FULL))}
    head = common["head"]
    pixels, _, _ = pool(mask[head], common["pixel_q"], common["pixel_k"])
    differ = bool((tiles != tiles[:1]).any())
    return MaskPicture(**common, pixels=pixels, pixel_tiles=_pixel_tiles(tiles[head], pixels.shape, common),
                       exact_pixels=True, tiles=tiles[head], counts=counts,
                       pair_density=float(mask[head].float().mean()) if Q * K else 0.0,
                       heads_differ=differ, note="; ".join(notes))


def pool(mask: torch.Tensor, rows: int, cols: int):
    """(fraction allowed, any allowed, all allowed) of every rows x cols block of a
    (Q, K) bool mask; blocks at the edges count their valid pairs only."""
    Q, K = mask.shape
    R, C = math.ceil(Q / rows) if Q else 0, math.ceil(K / cols) if K else 0
    padded = torch.zeros(R * rows, C * cols, dtype=torch.float32)
    valid = torch.zeros_like(padded)
    padded[:Q, :K] = mask.float()
    valid[:Q, :K] = 1
    allowed = padded.view(R, rows, C, cols).sum((1, 3))
    total = valid.view(R, rows, C, cols).sum((1, 3))
    return allowed / total.clamp(min=1), allowed > 0, allowed == total


def tile_classes(mask: torch.Tensor, block_q: int, block_k: int) -> torch.Tensor:
    """EMPTY / PARTIAL / FULL of every tile of a dense (Q, K) mask."""
    _, some, every = pool(mask, block_q, block_k)
    return torch.where(every & some, blockrt.FULL, torch.where(some, blockrt.PARTIAL, blockrt.EMPTY)).to(torch.int8)


def _pixel_tiles(tiles: torch.Tensor, shape, common) -> torch.Tensor:
    """The class of the tile under each pixel (its first pair)."""
    R, C = shape
    rows = (torch.arange(R) * common["pixel_q"] // common["block_q"]).clamp(max=max(tiles.shape[0] - 1, 0))
    cols = (torch.arange(C) * common["pixel_k"] // common["block_k"]).clamp(max=max(tiles.shape[1] - 1, 0))
    if tiles.numel() == 0:
        return torch.zeros((R, C), dtype=torch.int8)
    return tiles[rows][:, cols]


# ------------------------------------------------------------------ colours
def rgb_image(pic: MaskPicture) -> torch.Tensor:
    """(R, C, 3) float: every pixel's tile background mixed with ink by its fraction."""
    background = torch.tensor([BACKGROUND[c] for c in range(3)], dtype=torch.float32)
    ink = torch.tensor([INK[c] for c in range(3)], dtype=torch.float32)
    classes = pic.pixel_tiles.long()
    f = pic.pixels.unsqueeze(-1)
    return background[classes] * (1 - f) + ink[classes] * f


# ------------------------------------------------------------------ terminal
def render_text(pic: MaskPicture, *, color: bool = False, columns: int = 64, max_lines: int = 32) -> str:
    """The picture for a terminal: about `columns` characters wide, with a
    legend, the density and the tile counts. color=True draws ANSI 24-bit
    colours with half blocks (two pixels per character); else plain ASCII."""
    R, C = pic.pixels.shape
    aspect = (pic.Q / pic.K) if pic.K else 1.0
    cols = max(1, min(columns, C))
    rows_per_line = 2 if color else 1
    lines = max(1, round(cols * aspect / 2))  # a character is about twice as tall as wide
    if lines > max_lines:
        cols = max(1, round(cols * max_lines / lines))
        lines = max_lines
    cols, lines = min(cols, C), min(lines, math.ceil(R / rows_per_line))
    grid_rows = min(R, lines * rows_per_line)
    body = _color_body(pic, grid_rows, cols) if color else _ascii_body(pic, grid_rows, cols)
    return "\n".join([title(pic)] + body + _footer(pic, color))


def _cells(values: torch.Tensor, rows: int, cols: int) -> torch.Tensor:
    """Average `values` (R, C, ...) over a rows x cols grid of rectangles."""
    R, C = values.shape[:2]
    r_edges = [round(a * R / rows) for a in range(rows + 1)]
    c_edges = [round(b * C / cols) for b in range(cols + 1)]
    out = torch.stack([torch.stack([values[r_edges[a]:max(r_edges[a + 1], r_edges[a] + 1),
                                           c_edges[b]:max(c_edges[b + 1], c_edges[b] + 1)].float().mean((0, 1))
                                    for b in range(cols)]) for a in range(rows)])
    return out


def _ascii_body(pic: MaskPicture, rows: int, cols: int) -> list[str]:
    fractions = _cells(pic.pixels, rows, cols)
    visited = _cells((pic.pixel_tiles != blockrt.EMPTY).float(), rows, cols)
    lines = ["+" + "-" * cols + "+"]
    for a in range(rows):
        chars = []
        for b in range(cols):
            f, v = float(fractions[a, b]), float(visited[a, b])
            chars.append("#" if f >= 0.999 else ":" if f > 0.001 else "." if v > 0 else " ")
        lines.append("|" + "".join(chars) + "|")
    return lines + ["+" + "-" * cols + "+"]


def _color_body(pic: MaskPicture, rows: int, cols: int) -> list[str]:
    colours = _cells(rgb_image(pic), rows + rows % 2, cols).round().to(torch.int64).tolist()
    lines = []
    for a in range(0, len(colours), 2):
        top, bottom = colours[a], colours[min(a + 1, len(colours) - 1)]
        line, last = [], None
        for t, u in zip(top, bottom):  # upper half block: foreground the top pixel, background the bottom one
            if (t, u) != last:
                line.append(f"\x1b[38;2;{t[0]};{t[1]};{t[2]}m\x1b[48;2;{u[0]};{u[1]};{u[2]}m")
                last = (t, u)
            line.append("\u2580")
        lines.append("".join(line) + "\x1b[0m")
    return lines


def title(pic: MaskPicture) -> str:
    params = " ".join(f"{k}={v}" for k, v in pic.params.items())
    head = f", head {pic.head} of {pic.H}" if pic.H > 1 else ""
    return f"{pic.name}: Q={pic.Q} K={pic.K}{head}" + (f" ({params})" if params else "")


def _footer(pic: MaskPicture, color: bool) -> list[str]:
    if color:
        def swatch(rgb):
            return f"\x1b[48;2;{rgb[0]};{rgb[1]};{rgb[2]}m  \x1b[0m"
        legend = (f"{swatch(INK[blockrt.FULL])} full tile  {swatch(INK[blockrt.PARTIAL])} allowed in a partial tile  "
                  f"{swatch(BACKGROUND[blockrt.PARTIAL])} masked in a partial tile  "
                  f"{swatch(BACKGROUND[blockrt.EMPTY])} empty tile (skipped)")
    else:
        legend = "# allowed   : partly allowed   . masked in a computed tile   (blank) skipped tile"
    lines = [legend, summary(pic)]
    if pic.tiles.shape[0] <= 64 and pic.tiles.shape[1] <= 64 and not color:
        lines.append(f"block map, head {pic.head} ({pic.block_q}x{pic.block_k} tiles: # full, + partial, . empty):")
        lines += ["".join(SYMBOLS[int(c)] for c in row) for row in pic.tiles]
    if pic.heads_differ:
        lines.append(f"heads differ: this is head {pic.head} (--head picks another); tile counts are over all heads")
    if pic.note:
        lines.append(pic.note)
    if not pic.exact_pixels:
        lines.append(f"(each pixel is {pic.pixel_q}x{pic.pixel_k} pairs: drawn as none, some or all allowed)")
    return lines


def summary(pic: MaskPicture) -> str:
    """'density 27.1% of pairs; 128x128 tiles: 8 full, 14 partial, 42 empty (34.4% visited)'."""
    c = pic.counts
    pairs = "" if pic.pair_density is None else f"density {100 * pic.pair_density:.1f}% of pairs; "
    return (f"{pairs}{pic.block_q}x{pic.block_k} tiles: {c['full']} full, {c['partial']} partial, "
            f"{c['empty']} empty ({100 * pic.tile_density:.1f}% visited)")


# ------------------------------------------------------------------ PNG
def render_png(pic: MaskPicture, size: int = 1024) -> bytes:
    """An 8-bit RGB PNG: the mask (enlarged to at least ~512 pixels where it
    is small, at most `size`), tile grid lines, and a legend underneath."""
    image = rgb_image(pic)
    R, C = image.shape[:2]
    scale = max(1, min(size // max(R, C, 1), 512 // max(R, C, 1) + 1))
    image = image.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
    _grid_lines(image, pic, scale)
    canvas = _with_legend(image.round().clamp(0, 255).to(torch.uint8), pic)
    return png_bytes(canvas)


def _grid_lines(image: torch.Tensor, pic: MaskPicture, scale: int) -> None:
    """Tile boundaries, where tiles are at least 4 pixels apart."""
    step_r, step_c = pic.block_q / pic.pixel_q * scale, pic.block_k / pic.pixel_k * scale
    grid = torch.tensor(GRID, dtype=image.dtype)
    if step_r >= 4:
        for t in range(1, math.ceil(image.shape[0] / step_r)):
            image[round(t * step_r)] = grid
    if step_c >= 4:
        for t in range(1, math.ceil(image.shape[1] / step_c)):
            image[:, round(t * step_c)] = grid


def _with_legend(image: torch.Tensor, pic: MaskPicture, margin: int = 12) -> torch.Tensor:
    height, width = image.shape[:2]
    width_out = max(width + 2 * margin, 400)
    scale = 2 if width_out < 800 else 3  # the font's pixel size
    lines = [(None, title(pic).upper()), (INK[blockrt.FULL], "FULL TILE: NO MASK ARITHMETIC"),
             (INK[blockrt.PARTIAL], "ALLOWED PAIR IN A PARTIAL TILE"),
             (BACKGROUND[blockrt.PARTIAL], "MASKED PAIR IN A PARTIAL TILE"),
             (BACKGROUND[blockrt.EMPTY], "EMPTY TILE: SKIPPED"), (None, summary(pic).upper())]
    indent = 8 * scale
    text_rows = []
    for swatch, text in lines:
        for k, part in enumerate(_wrap(text, (width_out - 2 * margin - indent) // (4 * scale))):
            text_rows.append((swatch if k == 0 else None, part))
    line_height = 7 * scale
    canvas = torch.full((height + 2 * margin + len(text_rows) * line_height + margin, width_out, 3), 255,
                        dtype=torch.uint8)
    left = (width_out - width) // 2
    canvas[margin:margin + height, left:left + width] = image
    y = height + 2 * margin
    for swatch, text in text_rows:
        if swatch is not None:
            canvas[y:y + 5 * scale, margin:margin + 5 * scale] = torch.tensor(swatch, dtype=torch.uint8)
        _draw_text(canvas, text, margin + indent, y, scale)
        y += line_height
    return canvas


def _wrap(text: str, width: int) -> list[str]:
    out, line = [], ""
    for word in text.split(" "):
        if line and len(line) + 1 + len(word) > width:
            out.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return out + [line]


def png_bytes(image: torch.Tensor) -> bytes:
    """PNG bytes of an (height, width, 3) uint8 image: 8-bit RGB, no filter."""
    height, width = image.shape[:2]
    rows = image.contiguous().numpy().reshape(height, width * 3)
    raw = b"".join(b"\x00" + row.tobytes() for row in rows)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8 bits, RGB, deflate, no filter, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# ------------------------------------------------------------------ a 3x5 pixel font for the legend
_FONT = dict(zip(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:%=()-/+#_?;",
    """010101111101101 110101110101110 011100100100011 110101101101110 111100110100111 111100110100100
    011100101101011 101101111101101 111010010010111 001001001101010 101101110101101 100100100100111
    101111101101101 110101101101101 010101101101010 110101110100100 010101101110011 110101110101101
    011100010001110 111010010010010 101101101101111 101101101101010 101101101111101 101101010101101
    101101010010010 111001010100111 111101101101111 010110010010111 110001010100111 110001010001110
    101101111001001 111100110001110 011100111101111 111001010010010 111101111101111 111101111001110
    000000000000000 000000000000010 000000000010100 000010000010000 101001010100101 000111000111000
    001010010010001 100010010010100 000000111000000 001001010100100 000010111010000 101111101111101
    000000000000111 110001010000010 000010000010100""".split()))


def _draw_text(canvas: torch.Tensor, text: str, x: int, y: int, s: int) -> None:
    """`text` in the 3x5 font, each font pixel s x s, from (x, y) at its top left."""
    ink = torch.tensor(TEXT, dtype=torch.uint8)
    for n, char in enumerate(text.upper()):
        bits = _FONT.get(char, _FONT["?"])
        left = x + n * 4 * s
        if left + 3 * s > canvas.shape[1]:
            break
        for r in range(5):
            for c in range(3):
                if bits[r * 3 + c] == "1":
                    canvas[y + r * s:y + (r + 1) * s, left + c * s:left + (c + 1) * s] = ink
