"""The compiler, top to bottom: each stage is a function from one small
immutable value to the next.

    source --parse--> syntax.File --check--> ir.CheckedPattern...
           --codegen--> module source (Triton kernels + host plan code)

Block classification and plans run inside the generated module at call time
(blockrt is vendored into it), because they depend on sizes and params.
`PATTERNC_DEBUG=1` prints the checked IR, `=2` also the generated source.
"""
from __future__ import annotations

import os
import sys

from . import check, codegen


def debug_level() -> int:
    try:
        return int(os.environ.get("PATTERNC_DEBUG", "0"))
    except ValueError:
        return 0


def check_source(source: str, filename: str = "<string>"):
    """Parse and check: the checked patterns of a file, or PatterncError."""
    patterns = check.check_source(source, filename)
    if debug_level() >= 1:
        for p in patterns:
            print(f"[patternc] checked {p.name}: {p}", file=sys.stderr)
    return patterns


def compile_source(source: str, filename: str = "<string>") -> str:
    """The whole pipeline: `.attn` text to the text of a Python module."""
    patterns = check_source(source, filename)
    text = codegen.generate(patterns, source, filename)
    if debug_level() >= 2:
        print(text, file=sys.stderr)
    return text
