"""The compile cache (patternc/loader.py): keys, atomic writes, concurrent
compiles and recovery from corrupted entries.

- a key covers everything the generated text depends on: the source, its file
  name, and the versions of patternc, torch, triton and of the compiler's own
  files; changing any one gives a new entry;
- writes are atomic: a failed write leaves the old entry and no temporary file;
- several processes compiling the same file at once all succeed and leave one
  whole entry;
- an entry that is truncated, garbage, edited, not UTF-8, or that fails to
  import is compiled again, and the new entry is whole.
"""
from __future__ import annotations

import os

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import hashlib  # noqa: E402
import stat  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

import patternc  # noqa: E402
from patternc import PatterncError, loader  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCE = "pattern cached(w: int = 3) { mask window(w, 0) | sink(1) }\n"


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """An empty cache directory, and no module of these tests imported yet."""
    root = tmp_path / "cache"
    monkeypatch.setenv("PATTERNC_CACHE", str(root))
    forget_all()
    yield root
    forget_all()


def forget_all() -> None:
    for name in [n for n in sys.modules if n.startswith(("patternc_cached_", "patternc_broken_"))]:
        del sys.modules[name]


def entries(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file()) if root.exists() else []


def forget(source: str, filename: str, stem: str) -> None:
    """Drop the imported module, so the next load reads the cache again."""
    sys.modules.pop(f"patternc_{loader.module_name(stem)}_{loader.cache_key(source, filename)}", None)


def works(module) -> None:
    x = torch.randn(1, 1, 6, 16)
    mask = module.cached.mask(6, 6)[0]
    out = module.cached(x, x, x)
    scores = (x[0, 0] @ x[0, 0].T / 4).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(out[0, 0], torch.softmax(scores, -1) @ x[0, 0], atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------- keys
def test_keys_cover_content_file_name_and_versions(monkeypatch):
    base = loader.cache_key(SOURCE, "a.attn")
    assert loader.cache_key(SOURCE, "a.attn") == base
    assert loader.cache_key(SOURCE + " ", "a.attn") != base  # content
    assert loader.cache_key(SOURCE, "b.attn") != base  # the file name is in the module's text
    monkeypatch.setattr(loader, "__version__", "99.0")
    assert loader.cache_key(SOURCE, "a.attn") != base  # patternc's version
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "0.0.1")
    assert loader.cache_key(SOURCE, "a.attn") != base  # torch's
    monkeypatch.undo()
    import triton
    monkeypatch.setattr(triton, "__version__", "0.0.1")
    assert loader.cache_key(SOURCE, "a.attn") != base  # triton's
    monkeypatch.undo()
    monkeypatch.setattr(loader, "compiler_digest", lambda: "edited")
    assert loader.cache_key(SOURCE, "a.attn") != base  # the compiler's own files, edited in a checkout
    monkeypatch.undo()
    assert loader.cache_key(SOURCE, "a.attn") == base


def test_compiler_digest_covers_modules_grammar_and_templates():
    loader.compiler_digest.cache_clear()
    digest = loader.compiler_digest()
    assert len(digest) == 16 and digest == loader.compiler_digest()
    # which files it reads: every module, the grammar and every template
    here = Path(loader.__file__).resolve().parent
    assert (here / "loader.py").exists()
    assert (ROOT / "grammar" / "attn.lark").exists() and (ROOT / "templates" / "pattern.py.jinja").exists()


def test_a_new_version_or_content_gives_a_new_entry(cache, monkeypatch):
    first = patternc.load_source(SOURCE, "a.attn", stem="cached")
    assert len(entries(cache)) == 1
    assert patternc.load_source(SOURCE, "a.attn", stem="cached") is first  # same key: same module
    patternc.load_source(SOURCE.replace("3", "4"), "a.attn", stem="cached")
    assert len(entries(cache)) == 2
    monkeypatch.setattr(loader, "__version__", "99.0")
    upgraded = patternc.load_source(SOURCE, "a.attn", stem="cached")
    assert upgraded is not first and len(entries(cache)) == 3
    works(upgraded)


def test_cache_directory_is_private(cache):
    patternc.load_source(SOURCE, "a.attn", stem="cached")
    assert stat.S_IMODE(cache.stat().st_mode) & 0o077 == 0


# ---------------------------------------------------------------------- atomic writes
def test_write_is_atomic_when_it_fails_midway(tmp_path, monkeypatch):
    target = tmp_path / "entry.py"
    loader.write_atomic(target, "old = 1\n")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(loader.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        loader.write_atomic(target, "new = 2\n" * 10_000)
    assert target.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["entry.py"]  # no temporary file left


def test_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "deep" / "entry.py"
    loader.write_atomic(target, "x = 1\n")
    loader.write_atomic(target, "x = 2\n")
    assert [p.name for p in target.parent.iterdir()] == ["entry.py"] and target.read_text() == "x = 2\n"


def test_a_failed_compile_writes_nothing(cache):
    with pytest.raises(PatterncError):
        patternc.load_source("pattern broken() { mask cusal }", "b.attn", stem="broken")
    assert entries(cache) == []


def test_entries_are_sealed(cache):
    patternc.load_source(SOURCE, "a.attn", stem="cached")
    (entry,) = entries(cache)
    text = entry.read_text(encoding="utf-8")
    assert text.splitlines()[-1].startswith(loader.TRAILER)
    assert loader.unsealed(text) == patternc.compile_source(SOURCE, "a.attn")


# ---------------------------------------------------------------------- corrupted entries
def corruptions(text: str) -> dict:
    return {
        "truncated": text[: len(text) // 2],
        "truncated at a line end": text[: text.index("\n", len(text) // 2) + 1],
        "one byte changed": text.replace("window", "wind0w", 1),
        "garbage": "\x00\x01garbage (((\n" * 100,
        "valid Python, wrong module": "PATTERNS = []\n",
        "trailer removed": "\n".join(text.splitlines()[:-1]) + "\n",
        "empty": "",
        "sealed, but raises on import": loader.sealed("raise RuntimeError('broken entry')\n"),
        "sealed, but another module": loader.sealed("PATTERNS = []\n"),
        "sealed, but another source's": loader.sealed(patternc.compile_source(SOURCE.replace("3", "5"), "a.attn")),
    }


@pytest.mark.parametrize("kind", list(corruptions("x\ny\n")))
def test_corrupted_entries_are_compiled_again(cache, kind):
    patternc.load_source(SOURCE, "a.attn", stem="cached")
    (entry,) = entries(cache)
    entry.write_text(corruptions(entry.read_text(encoding="utf-8"))[kind], encoding="utf-8")
    forget(SOURCE, "a.attn", "cached")
    module = patternc.load_source(SOURCE, "a.attn", stem="cached")
    works(module)
    assert loader.unsealed(entry.read_text(encoding="utf-8")) == patternc.compile_source(SOURCE, "a.attn")


def test_an_entry_that_is_not_utf8_is_compiled_again(cache):
    patternc.load_source(SOURCE, "a.attn", stem="cached")
    (entry,) = entries(cache)
    entry.write_bytes(b"\xff\xfe" + entry.read_bytes()[100:])
    forget(SOURCE, "a.attn", "cached")
    works(patternc.load_source(SOURCE, "a.attn", stem="cached"))
    assert loader.unsealed(entry.read_text(encoding="utf-8")) is not None


# ---------------------------------------------------------------------- processes at once
RACER = """
import os, sys, time
os.environ["TRITON_INTERPRET"] = "1"
import torch, patternc
go = sys.argv[2]
while not os.path.exists(go):  # start compiling together
    time.sleep(0.005)
module = patternc.load(sys.argv[1])
x = torch.randn(1, 1, 6, 16)
assert module.cached(x, x, x).shape == x.shape
print("ok", module.__file__)
"""


def test_processes_compiling_the_same_file_at_once_all_succeed(cache, tmp_path):
    path = tmp_path / "racing.attn"
    path.write_text(SOURCE, encoding="utf-8")
    go = tmp_path / "go"
    env = dict(os.environ, PATTERNC_CACHE=str(cache), PYTHONPATH=str(ROOT))
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), str(go)], env=env, cwd=tmp_path,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    time.sleep(3)  # let them import torch and triton
    go.touch()
    results = [racer.communicate(timeout=300) for racer in racers]
    for racer, (out, err) in zip(racers, results):
        assert racer.returncode == 0, err[-3000:]
        assert out.startswith("ok ")
    assert len({out for out, _ in results}) == 1  # one entry, the same for all
    (entry,) = entries(cache)
    whole = loader.unsealed(entry.read_text(encoding="utf-8"))
    assert whole is not None and f'SOURCE_SHA256 = "{hashlib.sha256(SOURCE.encode()).hexdigest()}"' in whole


def test_load_reads_files_as_utf8_with_or_without_a_byte_order_mark(cache, tmp_path):
    plain, marked = tmp_path / "plain.attn", tmp_path / "marked.attn"
    plain.write_text("# ünïcödé comment\n" + SOURCE, encoding="utf-8")
    marked.write_bytes(b"\xef\xbb\xbf" + plain.read_bytes())
    works(patternc.load(plain))
    works(patternc.load(marked))


def test_compile_file_writes_the_module(tmp_path):
    path = tmp_path / "my-patterns.attn"
    path.write_text(SOURCE, encoding="utf-8")
    target = patternc.compile_file(path, tmp_path / "build")
    assert target.name == "my_patterns.py"
    assert target.read_text(encoding="utf-8") == patternc.compile_source(SOURCE, str(path))
