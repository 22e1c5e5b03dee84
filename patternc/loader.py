"""Compiled modules on disk: `compile_file` writes one, `load` compiles into a
cache and imports it.

Cache entries are keyed by the source's content and the versions of patternc,
torch and triton, so an upgrade never serves stale code. Writes are atomic
(a temporary file renamed into place), so two processes compiling the same file
at once both end with a whole module; an entry that fails to import is
recompiled once.
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

from . import __version__
from .pipeline import compile_source


def cache_dir() -> Path:
    root = os.environ.get("PATTERNC_CACHE")
    if root:
        return Path(root)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "patternc"


def _versions() -> str:
    import torch
    import triton
    return f"patternc={__version__} torch={torch.__version__} triton={triton.__version__}"


def cache_key(source: str) -> str:
    return hashlib.sha256((_versions() + "\n" + source).encode()).hexdigest()[:24]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def module_name(stem: str) -> str:
    clean = "".join(c if c.isalnum() or c == "_" else "_" for c in stem)
    return clean if clean and not clean[0].isdigit() else "_" + clean


def compile_file(path, out_dir="build") -> Path:
    """Compile a `.attn` file to `out_dir/<stem>.py`; returns the written path."""
    path = Path(path)
    source = path.read_text(encoding="utf-8")
    text = compile_source(source, str(path))
    target = Path(out_dir) / (module_name(path.stem) + ".py")
    write_atomic(target, text)
    return target


def import_path(path: Path, name: str):
    """Import a module from a file under a unique name (Triton reads the file
    to compile its kernels, so modules must live on disk)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def load(path):
    """Compile (or reuse the cached compilation of) a `.attn` file and import it."""
    path = Path(path)
    source = path.read_text(encoding="utf-8")
    return load_source(source, str(path), stem=path.stem)


def load_source(source: str, filename: str = "<string>", stem: str = "patterns"):
    key = cache_key(source)
    name = f"patternc_{module_name(stem)}_{key}"
    if name in sys.modules:
        return sys.modules[name]
    target = cache_dir() / f"{name}.py"
    if target.exists():
        try:
            return import_path(target, name)
        except Exception:
            target.unlink(missing_ok=True)  # a corrupted entry: compile it again
    write_atomic(target, compile_source(source, filename))
    return import_path(target, name)
