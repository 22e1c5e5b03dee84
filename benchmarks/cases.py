"""The benchmark cases of issue 6: each a `.attn` pattern and the identical
FlexAttention `mask_mod`, so both compute the same attention."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # one pattern named `case`
    params: Callable[[int], dict]  # N -> params of the pattern (and runtime tensors)
    mask_mod: Callable  # (N, device, module, params, q=, k=) -> FlexAttention mask_mod
    per_head: bool = False  # the mask differs by head (count allowed pairs over all heads)


def _dense(N, device, module, params, **inputs):
    return lambda b, h, q, k: (q >= 0) & (k >= 0)


def _causal(N, device, module, params, **inputs):
    return lambda b, h, q, k: k <= q


def _window(N, device, module, params, **inputs):
    return lambda b, h, q, k: (k <= q) & (k >= q - 1023)


def _block_local(N, device, module, params, **inputs):
    return lambda b, h, q, k: (q // 1024) == (k // 1024)


def _prefix(N, device, module, params, **inputs):
    n = N // 4
    return lambda b, h, q, k: (k <= q) | (k < n)


def _longformer(N, device, module, params, **inputs):
    return lambda b, h, q, k: ((q - k).abs() <= 256) | (q < 64) | (k < 64)


def _dilated(N, device, module, params, **inputs):
    return lambda b, h, q, k: ((q - k).abs() <= 1024) & ((q - k) % 4 == 0)


def _documents(N, device, module, params, **inputs):
    segments = params["segments"][0]
    return lambda b, h, q, k: (segments[q] == segments[k]) & (k <= q)


def document_segments(N, device="cuda", seed=0):
    """4 to 30 packed documents of random lengths, as ids (1, N)."""
    gen = torch.Generator().manual_seed(seed)
    count = int(torch.randint(4, 31, (1,), generator=gen))
    cuts = torch.sort(torch.randperm(N - 1, generator=gen)[:count - 1] + 1).values
    ids = torch.zeros(N, dtype=torch.int64)
    ids[cuts] = 1
    return torch.cumsum(ids, 0).view(1, N).to(device)


def _bigbird(N, device, module, params, **inputs):
    blocks = module.bigbird_blocks.mask(N // 64, N // 64)[0].to(device)  # the identical random draw
    return lambda b, h, q, k: blocks[q // 64, k // 64]


def _lsh(N, device, module, params, q, k, **inputs):
    # the identical mask: the hashes patternc's kernels use (computed outside
    # FlexAttention's timing; patternc's time includes hashing and sorting)
    query, key = (t[0, 0] for t in module.case.hashes(q, k))  # round 0, batch 0: (H, N)
    return lambda b, h, q, k: query[h, q] == key[h, k]


CASES = [
    Case("dense", "pattern case() { mask full }", lambda N: {}, _dense),
    Case("causal", "pattern case() { mask causal }", lambda N: {}, _causal),
    Case("window", "pattern case() { mask causal & window(1023, 0) }", lambda N: {}, _window),
    Case("block-local", "pattern case() { mask block(1024) }", lambda N: {}, _block_local),
    Case("prefix-LM", "pattern case(n: int) { mask causal | prefix(n) }", lambda N: {"n": N // 4}, _prefix),
    Case("documents", "pattern case() { mask segments & causal }", lambda N: {"segments": document_segments(N)},
         _documents),
    Case("Longformer", "pattern case() { mask window(256) | global(64) }", lambda N: {}, _longformer),
    Case("BigBird", "pattern case() { mask blocks(64) { window(1) | global(2) | random(3) } }\n"
                    "pattern bigbird_blocks() { mask window(1) | global(2) | random(3, 1) }", lambda N: {}, _bigbird),
    Case("dilated", "pattern case() { mask dilated(256, 4) }", lambda N: {}, _dilated),
    Case("LSH", "pattern case() { mask buckets(16) }", lambda N: {}, _lsh, per_head=True),
]
