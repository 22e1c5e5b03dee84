"""Compiled modules on disk: `compile_file` writes one, `load` compiles into a
cache and imports it.

Cache entries are keyed by the source's content and file name, the versions of
patternc, torch and triton and a hash of the compiler's own files (so an upgrade,
or an edit to the compiler in a checkout, never serves stale code). Writes are
atomic (a temporary file renamed into place), so two processes compiling the
same file at once both end with a whole module. Each entry ends with a line
holding the sha256 of the text above it; an entry whose text does not match
(truncated, garbage) or that fails to import is compiled again. The text that
was checked is the text executed (no bytecode cache), so nothing can change in
between. The cache directory is created private to the user (mode 0o700).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

from . import __version__, resources
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
    return (f"patternc={__version__} compiler={compiler_digest()} torch={torch.__version__} "
            f"triton={triton.__version__}")


@lru_cache(maxsize=1)
def compiler_digest() -> str:
    """sha256 of the compiler's own files: its modules, grammar and templates."""
    here = Path(__file__).resolve().parent
    files = sorted(here.glob("*.py"))
    for folder in resources.PACKAGE_DIRS:
        for base in (here / folder, here.parent / folder):  # installed, or a checkout
            if base.is_dir():
                files += sorted(f for f in base.iterdir() if f.suffix in (".jinja", ".lark", ".py"))
    digest = hashlib.sha256()
    for f in files:
        digest.update(f"{f.parent.name}/{f.name}\n".encode())
        digest.update(f.read_bytes())
    return digest.hexdigest()[:16]


def cache_key(source: str, filename: str = "<string>") -> str:
    """The key of a compilation: everything the generated text depends on."""
    text = "\n".join((_versions(), filename, source))
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:24]  # bad text: compile reports it


TRAILER = "# patternc cache entry, sha256 of the text above: "


def sealed(text: str) -> str:
    """`text` (ending in a newline) with the trailer line that lets a reader check it is whole."""
    return f"{text}{TRAILER}{hashlib.sha256(text.encode()).hexdigest()}\n"


def unsealed(text: str) -> str | None:
    """The text above a valid trailer, or None (truncated, garbage, edited)."""
    body, _, last = text.rstrip("\n").rpartition("\n")
    if not last.startswith(TRAILER):
        return None
    body += "\n"
    return body if hashlib.sha256(body.encode()).hexdigest() == last[len(TRAILER):] else None


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
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
    source = read_source(path)
    text = compile_source(source, str(path))
    target = Path(out_dir) / (module_name(path.stem) + ".py")
    write_atomic(target, text)
    return target


def import_path(path: Path, name: str, text: str | None = None):
    """Import a module from a file under a unique name (Triton reads the file
    to compile its kernels, so modules must live on disk). `text`, when given,
    is the file's content as the caller read and checked it: that is what runs."""
    path = Path(path)
    if text is None:
        text = path.read_text(encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        exec(compile(text, str(path), "exec"), module.__dict__)  # noqa: S102 - our own generated module
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def read_source(path) -> str:
    """The text of an `.attn` file; PatterncError (E0100) when it is not UTF-8.
    A UTF-8 byte order mark is skipped."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        from .cli import _not_utf8  # the CLI's diagnostic for the same problem
        raise _not_utf8(data, e, str(path)) from None


def load(path):
    """Compile (or reuse the cached compilation of) a `.attn` file and import it."""
    path = Path(path)
    return load_source(read_source(path), str(path), stem=path.stem)


def load_source(source: str, filename: str = "<string>", stem: str = "patterns"):
    """Compile `source` into the cache (or reuse its entry) and import it."""
    key = cache_key(source, filename)
    name = f"patternc_{module_name(stem)}_{key}"
    if name in sys.modules:
        return sys.modules[name]
    target = cache_dir() / f"{name}.py"
    cached = _read_entry(target, source)
    if cached is not None:
        try:
            return import_path(target, name, cached)
        except Exception:
            pass  # an entry that does not import: compile it again
    text = compile_source(source, filename)
    text += "" if text.endswith("\n") else "\n"  # the trailer takes a line of its own
    write_atomic(target, sealed(text))
    return import_path(target, name, text)


def _read_entry(target: Path, source: str) -> str | None:
    """A cache entry's module text, or None when it is missing, not whole, or
    not compiled from `source` (its SOURCE_SHA256 line says which source it is)."""
    try:
        text = unsealed(target.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return None
    digest = hashlib.sha256(source.encode("utf-8", "surrogatepass")).hexdigest()
    return text if text is not None and f'\nSOURCE_SHA256 = "{digest}"\n' in text else None
