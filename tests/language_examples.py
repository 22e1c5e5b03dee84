"""The two example files of LANGUAGE.md, word for word, shared by the tests."""

LONGFORMER_FILE = """\
# Longformer: a local window plus a few global tokens.
pattern longformer(w: int = 256, g: int = 64) {
    mask window(w) | global(g)
}

# Mistral-style causal sliding window with attention sinks (StreamingLLM).
pattern streaming(w: int = 4096, sinks: int = 4) {
    mask causal & (window(w, 0) | sink(sinks))
}
"""

PREDICATES_FILE = """\
# 2-D neighbourhood attention on a 32-wide canvas (NATTEN-style, 7x7 kernel)
pattern natten2d(w: int = 32, k: int = 7) {
    let r = k // 2
    mask abs(min(max(p // w, r), K // w - 1 - r) - j // w) <= r
       & abs(min(max(p % w, r), w - 1 - r) - j % w) <= r
}

# Sparse Transformer "fixed": a block, plus the last c columns of every block
pattern fixed(b: int = 128, c: int = 8) {
    mask causal & (block(b) | (j % b >= b - c))
}
"""
