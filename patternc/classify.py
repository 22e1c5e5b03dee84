"""Block classification of a checked pattern: for every head, which (query tile,
key tile) pairs are EMPTY (skipped), PARTIAL (masked) or FULL (no mask at all).

    classes = classify(pattern, Q=1000, K=1000, H=8, params={}, block_q=64, block_k=64)
    print(classes.to_string())

Classes are exact (PARTIAL only when a tile really mixes allowed and masked
pairs); blockrt.classify explains how. Heads whose group does not mention `h`
share one row of `classes`.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import blockrt, ir
from .bind import bind
from .lower import group_trees

SYMBOLS = {blockrt.EMPTY: ".", blockrt.PARTIAL: "+", blockrt.FULL: "#"}


@dataclass(frozen=True)
class BlockClasses:
    """classes (G, nq, nk) int8 and head_row (H,): head h's classes are
    classes[head_row[h]]; tiles are block_q query rows by block_k keys."""

    classes: torch.Tensor
    head_row: torch.Tensor
    block_q: int
    block_k: int

    def for_head(self, h: int) -> torch.Tensor:
        return self.classes[int(self.head_row[h])]

    def per_head(self) -> torch.Tensor:
        """(H, nq, nk): every head's classes."""
        return self.classes[self.head_row]

    def counts(self) -> dict:
        """How many (head, query tile, key tile) triples are of each class."""
        per_head = self.per_head()
        return {name: int((per_head == value).sum())
                for name, value in (("empty", blockrt.EMPTY), ("partial", blockrt.PARTIAL), ("full", blockrt.FULL))}

    def density(self) -> float:
        """The fraction of tiles a kernel visits (not EMPTY), over all heads."""
        counts = self.counts()
        total = sum(counts.values())
        return (counts["partial"] + counts["full"]) / total if total else 0.0

    def to_string(self, max_tiles: int = 64) -> str:
        """A picture per distinct row of classes: '#' full, '+' partial, '.' empty
        (query tiles down, key tiles across, cut at max_tiles)."""
        lines = []
        for row in range(self.classes.shape[0]):
            heads = [h for h in range(self.head_row.numel()) if int(self.head_row[h]) == row]
            if not heads:
                continue
            lines.append(f"heads {_ranges(heads)} ({self.block_q}x{self.block_k} tiles):")
            for tiles in self.classes[row][:max_tiles]:
                lines.append("".join(SYMBOLS[int(c)] for c in tiles[:max_tiles]))
        return "\n".join(lines)


def _ranges(heads: list[int]) -> str:
    spans, start = [], heads[0]
    for prev, h in zip(heads, heads[1:] + [None]):
        if h != prev + 1:
            spans.append(f"{start}" if start == prev else f"{start}..{prev + 1}")
            start = h
    return ", ".join(spans)


def classify(pattern: ir.CheckedPattern, Q: int, K: int, H: int, params: dict | None,
             block_q: int, block_k: int) -> BlockClasses:
    """The exact block classes of every head of `pattern` for these sizes and tiles."""
    env = bind(pattern, params, Q, K, H)
    rows, head_row, count = [], torch.zeros(H, dtype=torch.int64), 0
    for start, stop, tree in group_trees(pattern, env):
        classes = blockrt.classify(tree, Q, K, torch.arange(start, stop), block_q, block_k)
        per_head = classes.shape[0] > 1
        head_row[start:stop] = count + (torch.arange(stop - start) if per_head else 0)
        rows.append(classes)
        count += classes.shape[0]
    return BlockClasses(torch.cat(rows), head_row, block_q, block_k)
