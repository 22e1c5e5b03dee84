"""`PatternAttention`: a compiled pattern as an `nn.Module`, to drop into a
transformer block where `F.scaled_dot_product_attention` was.

    attn = PatternAttention("examples/longformer.attn", num_heads=8, w=128)
    out = attn(q, k, v)            # q (B, H, Q, D); k, v (B, H_kv, K, D) -> (B, H, Q, D)

In eager mode it calls the generated function (its backward uses the saved
softmax statistics); while `torch.compile` traces it, it calls the pattern's
custom op (patternc.ops), so a compiled model has no graph break.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import ops


class PatternAttention(nn.Module):
    """Attention under a `.attn` pattern.

    source_or_path: an `.attn` file (str or Path), or the source text itself.
    pattern: which pattern of the file (needed when it holds several).
    num_heads: when given, forward checks that q has this many heads (and
        `mask` draws that many).
    scale: the softmax scale (default 1/sqrt(D)).
    params: the pattern's parameters (w=256, ...), fixed for the module.

    forward(q, k, v, segments=None, rotations=None) takes q (B, H, Q, D) and k, v (B, H_kv, K, D)
    with H % H_kv == 0 (grouped-query attention), in float16, bfloat16 or float32
    on a CUDA device (or the CPU with TRITON_INTERPRET=1 set before import), and
    returns (B, H, Q, D) in q's dtype. `segments` (B, K) integer document ids
    (or `module.function.segments(ids)`, captured once for many calls)
    are required by patterns that read `segments` and refused by the others;
    `rotations` (rounds, D, n/2) replace the seeded draw of `buckets` patterns.
    Queries align bottom-right: query row i sits at position i + K - Q.
    """

    def __init__(self, source_or_path, pattern: str | None = None, num_heads: int | None = None, *,
                 scale: float | None = None, **params):
        super().__init__()
        module = _load(source_or_path)
        names = list(module.PATTERNS)
        if pattern is None:
            if len(names) != 1:
                raise ValueError(f"the source holds {len(names)} patterns ({', '.join(names)}): "
                                 "choose one with pattern=")
            pattern = names[0]
        if pattern not in names:
            raise ValueError(f"no pattern {pattern!r} in the source (its patterns: {', '.join(names)})")
        self.pattern = pattern
        self.function = getattr(module, pattern)
        self.num_heads = num_heads
        self.scale = scale
        specs = ops.param_specs(self.function)
        ops.bind_params(pattern, specs, params)  # unknown, missing or mistyped params fail here, not mid-training
        self.params = dict(params)
        self.attention = ops.register(self.function)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                segments: torch.Tensor | None = None, rotations: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_heads is not None and q.dim() == 4 and q.shape[1] != self.num_heads:
            raise ValueError(f"PatternAttention({self.pattern}): q has {q.shape[1]} heads, the module "
                             f"{self.num_heads}; inputs are (batch, heads, length, head_dim)")
        extra = {name: t for name, t in (("segments", segments), ("rotations", rotations)) if t is not None}
        if torch.compiler.is_compiling():
            return self.attention(q, k, v, scale=self.scale, **self.params, **extra)
        return self.function(q, k, v, scale=self.scale, **self.params, **extra)

    def mask(self, Q: int, K: int | None = None, segments: torch.Tensor | None = None) -> torch.Tensor:
        """The dense bool mask (H, Q, K) this module attends with (B, H, Q, K with segments)."""
        extra = {} if segments is None else {"segments": segments}
        return self.function.mask(Q, Q if K is None else K, self.num_heads or 1, **self.params, **extra)

    def extra_repr(self) -> str:
        shown = ", ".join(f"{k}={v}" for k, v in self.params.items())
        heads = "" if self.num_heads is None else f", num_heads={self.num_heads}"
        return f"pattern={self.pattern}{heads}" + (f", {shown}" if shown else "")


def _load(source_or_path):
    from .loader import load, load_source

    if isinstance(source_or_path, Path):
        return load(source_or_path)
    if not isinstance(source_or_path, str):
        raise TypeError(f"PatternAttention needs an .attn path or source text, got {type(source_or_path).__name__}")
    text = source_or_path
    if "pattern" in text and ("{" in text or "\n" in text):
        return load_source(text, "<PatternAttention>", stem="inline")
    if not Path(text).is_file():
        raise FileNotFoundError(f"no .attn file '{text}' (pass a path, or the source text of a pattern)")
    return load(text)
