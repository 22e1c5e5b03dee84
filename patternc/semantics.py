"""The meaning of a pattern, by brute force: the dense mask and float64 masked
attention. This is the ground truth that block classes, plans and kernels are
tested against, written to follow docs LANGUAGE.md line by line, not to be fast.

    mask = dense_mask(pattern, Q, K, H, params)            # (B or 1, H, Q, K) bool
    out, lse = reference_attention(pattern, q, k, v)        # float64
"""
from __future__ import annotations

import math

import torch

from . import blockrt, ir
from .bind import bind
from .lower import group_trees


def dense_mask(pattern: ir.CheckedPattern, Q: int, K: int, H: int = 1, params: dict | None = None, *,
               segments=None, q=None, k=None, rotations=None, hashes=None, device="cpu") -> torch.Tensor:
    """The allowed (query row, key) pairs of every head: bool (B or 1, H, Q, K);
    B > 1 only when `segments` or `buckets` make the mask depend on the batch.
    Each head group's mask is evaluated on its own heads."""
    D = None if q is None else q.shape[-1]
    env = bind(pattern, params, Q, K, H, D)
    return _groups_mask(group_trees(pattern, env), Q, K, H, device,
                        dict(segments=segments, q=q, k=k, rotations=rotations, hashes=hashes))


def _groups_mask(groups, Q, K, H, device, runtime) -> torch.Tensor:
    parts = [(start, stop, blockrt.dense(tree, Q, K, torch.arange(start, stop), device=device, **runtime))
             for start, stop, tree in groups]
    batch = max((part.shape[0] for _, _, part in parts), default=1)
    mask = torch.zeros((batch, H, Q, K), dtype=torch.bool, device=device)
    for start, stop, part in parts:
        mask[:, start:stop] = part
    return mask


def masked_attention(q, k, v, mask, scale=None, score_fn=None):
    """Dense softmax attention over the allowed pairs, in float64.

    q (B, H, Q, D); k, v (B, H_kv, K, D) with H % H_kv == 0 (kv head h // (H // H_kv)
    serves query head h); mask broadcastable to (B, H, Q, K). `score_fn(s)` modifies
    the scaled scores s (B, H, Q, K) before the softmax. Returns out (B, H, Q, D) and
    lse (B, H, Q): a row with no allowed key gives zeros and lse = -inf, never NaN."""
    q, k, v = q.double(), k.double(), v.double()
    group = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(group, dim=1), v.repeat_interleave(group, dim=1)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else float(scale)
    scores = (q @ k.transpose(-1, -2)) * scale
    if score_fn is not None:
        scores = score_fn(scores)
    scores = scores.masked_fill(~mask.to(scores.device), float("-inf"))
    lse = torch.logsumexp(scores, dim=-1)
    finite = torch.where(torch.isinf(lse), 0.0, lse)  # empty rows: exp(-inf - 0) = 0, not NaN
    weights = torch.exp(scores - finite.unsqueeze(-1))
    return weights @ v, lse


def reference_attention(pattern: ir.CheckedPattern, q, k, v, *, scale=None, params: dict | None = None,
                        segments=None, rotations=None, hashes=None):
    """Attention under `pattern` by the letter of LANGUAGE.md, in float64:
    (out (B, H, Q, D), lse (B, H, Q)). Score modifiers apply in order to the scaled
    scores of each head group (top-level ones first, as the checker arranged)."""
    B, H, Q, D = q.shape
    K = k.shape[2]
    env = bind(pattern, params, Q, K, H, D)
    groups = group_trees(pattern, env)
    mask = _groups_mask(groups, Q, K, H, q.device,
                        dict(segments=segments, q=q, k=k, rotations=rotations, hashes=hashes))
    modifiers = [(start, stop, g.modifiers) for (start, stop, _), g in zip(groups, pattern.groups)]

    def score_fn(s):
        out = s.clone()
        for start, stop, mods in modifiers:
            out[:, start:stop] = apply_modifiers(s[:, start:stop], mods, env, torch.arange(start, stop), H, K)
        return out

    return masked_attention(q, k, v, mask, scale, score_fn)


def apply_modifiers(s, modifiers, env: dict, heads, H: int, K: int):
    """The score modifiers of LANGUAGE.md on scores s (B, len(heads), Q, K), in order:
    alibi: s - 2^(-8(h+1)/H) |p - j|; decay(g): s + |p - j| ln g; softcap(c): c tanh(s / c)."""
    Q = s.shape[-2]
    p = torch.arange(Q, device=s.device).view(Q, 1) + (K - Q)
    distance = (p - torch.arange(K, device=s.device).view(1, K)).abs().to(s.dtype)
    for mod in modifiers:
        if mod.kind == "alibi":
            slopes = torch.pow(2.0, -8.0 * (heads.to(s.dtype) + 1) / H).to(s.device).view(1, -1, 1, 1)
            s = s - slopes * distance
        elif mod.kind == "decay":
            s = s + distance * math.log(ir.eval_static(mod.arg, env))
        elif mod.kind == "softcap":
            cap = float(ir.eval_static(mod.arg, env))
            s = cap * torch.tanh(s / cap)
        else:
            raise ValueError(f"unknown score modifier {mod.kind!r}")
    return s
