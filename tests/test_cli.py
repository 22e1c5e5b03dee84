"""The command line: `patternc check` on good, bad, missing and non-UTF-8 files,
through a subprocess (`python -m patternc`) and in process (`cli.main`), with
exit codes, the `FILE:LINE:COL: error[CODE]: message` format and its caret line,
and never a Python traceback, whatever the input."""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import patternc
from patternc import cli

REPO = Path(__file__).resolve().parent.parent
GOOD = "# two patterns\npattern a(w: int = 4) {\n    mask window(w)\n}\npattern b() { mask causal }\n"
# two problems on line 3: an unknown name (col 17) and an unknown function (col 23)
BAD = "pattern a() {\n    # comment\n    mask window(ww) | glbal(3)\n}\n"
HEAD = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E\d{4})\]: (?P<message>.+)$")


# ------------------------------------------------------------------ running it two ways
def run_subprocess(args, stdin: bytes | None = None):
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("PATTERNC_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "patternc", *args], input=stdin, capture_output=True,
                          env=env, timeout=120)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.fixture(params=["subprocess", "in_process"])
def run(request, capsys, monkeypatch):
    """run(args) -> (exit status, stdout, stderr), in a subprocess or through cli.main."""
    if request.param == "subprocess":
        return run_subprocess
    monkeypatch.delenv("PATTERNC_DEBUG", raising=False)

    def in_process(args):
        status = cli.main(list(args))
        out, err = capsys.readouterr()
        return status, out, err
    return in_process


@pytest.fixture
def files(tmp_path):
    def write(name: str, content: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        return str(path)
    return write


def heads(stderr: str):
    return [m.groupdict() for m in map(HEAD.match, stderr.splitlines()) if m]


def assert_no_traceback(out: str, err: str):
    assert "Traceback" not in out + err
    assert "internal error" not in err


# ------------------------------------------------------------------ check
def test_good_file(run, files):
    path = files("good.attn", GOOD)
    status, out, err = run(["check", path])
    assert (status, out, err) == (0, f"{path}: ok (2 patterns: a, b)\n", "")


def test_one_pattern_is_singular(run, files):
    path = files("one.attn", "pattern only() { mask full }")
    assert run(["check", path])[:2] == (0, f"{path}: ok (1 pattern: only)\n")


def test_bad_file_reports_every_problem_with_caret(run, files):
    path = files("bad.attn", BAD)
    status, out, err = run(["check", path])
    assert status == 1 and out == ""
    assert_no_traceback(out, err)
    found = heads(err)
    assert [(d["file"], d["line"], d["col"], d["code"]) for d in found] == [
        (path, "3", "17", "E0201"), (path, "3", "23", "E0202")]
    assert found[0]["message"] == "unknown name 'ww'"
    lines = err.splitlines()
    first = lines.index(next(l for l in lines if HEAD.match(l)))
    source_line, caret_line = lines[first + 1], lines[first + 2]
    margin = source_line.index("mask") - 4  # the renderer indents the quoted line
    assert source_line[margin:] == "    mask window(ww) | glbal(3)"
    assert caret_line[:margin].isspace() and caret_line.index("^") == margin + 17 - 1  # under column 17
    assert caret_line.strip() == "^~"  # as wide as the name
    assert "did you mean 'global'?" in err


def test_syntax_error(run, files):
    path = files("syntax.attn", "pattern a() {\n    mask window(3\n}\n")
    status, out, err = run(["check", path])
    assert status == 1 and out == ""
    assert heads(err) and all(d["code"].startswith("E01") for d in heads(err))
    assert_no_traceback(out, err)


def test_good_and_bad_files_together(run, files):
    good, bad = files("good.attn", GOOD), files("bad.attn", BAD)
    status, out, err = run(["check", good, bad])
    assert status == 1
    assert out == f"{good}: ok (2 patterns: a, b)\n"
    assert {d["file"] for d in heads(err)} == {bad}


def test_missing_file(run, files):
    good = files("good.attn", GOOD)
    status, out, err = run(["check", "nonexistent.attn", good])
    assert status == 2
    assert err == "patternc: error: cannot read 'nonexistent.attn': No such file or directory\n"
    assert out == f"{good}: ok (2 patterns: a, b)\n"  # the other files are still checked


def test_directory_is_not_a_file(run, tmp_path):
    status, out, err = run(["check", str(tmp_path)])
    assert status == 2 and err.startswith(f"patternc: error: cannot read '{tmp_path}': ")


def test_invalid_utf8(run, files):
    path = files("latin1.attn", "pattern a() {\n    mask full  # caf\xe9\n}\n".encode("latin-1"))
    status, out, err = run(["check", path])
    assert status == 1 and out == ""
    (found,) = heads(err)
    assert found == {"file": path, "line": "2", "col": "21", "code": "E0100",
                     "message": "file is not valid UTF-8 (byte 0xe9 at offset 34)"}
    assert_no_traceback(out, err)


def test_empty_file_is_clean(run, files):
    path = files("empty.attn", "")
    assert run(["check", path])[:2] == (0, f"{path}: ok (0 patterns)\n")


def test_byte_order_mark_is_skipped(run, files):
    path = files("bom.attn", b"\xef\xbb\xbf" + GOOD.encode())
    assert run(["check", path])[0] == 0


def test_stdin():
    status, out, err = run_subprocess(["check", "-"], stdin=GOOD.encode())
    assert (status, out) == (0, "<stdin>: ok (2 patterns: a, b)\n")
    status, out, err = run_subprocess(["check", "-"], stdin=BAD.encode())
    assert status == 1 and heads(err)[0]["file"] == "<stdin>"


def test_all_examples_check_through_the_cli():
    examples = sorted(str(p.relative_to(REPO)) for p in (REPO / "examples").glob("*.attn"))
    status, out, err = run_subprocess(["check", *examples])
    assert (status, err) == (0, "")
    assert [line.split(":")[0] for line in out.splitlines()] == examples


# ------------------------------------------------------------------ usage
def test_version(run):
    status, out, _ = run(["--version"])
    assert (status, out) == (0, f"patternc {patternc.__version__}\n")


def test_no_command_prints_help(run):
    status, out, err = run([])
    assert status == 2 and "usage: patternc" in err and "check" in err


@pytest.mark.parametrize("args", [["bogus"], ["check"], ["check", "--no-such-flag", "x.attn"]])
def test_usage_errors(run, args):
    status, out, err = run(args)
    assert status == 2 and "usage:" in err
    assert_no_traceback(out, err)


def test_help_lists_check(capsys):
    assert cli.main(["--help"]) == 0
    assert "check" in capsys.readouterr().out


# ------------------------------------------------------------------ never a traceback
def test_compiler_bug_is_an_internal_error(monkeypatch, capsys, files):
    import patternc.check

    def broken(source, filename="<string>"):
        raise RuntimeError("boom")
    monkeypatch.setattr(patternc.check, "check_source", broken)
    monkeypatch.delenv("PATTERNC_DEBUG", raising=False)
    good, other = files("good.attn", GOOD), files("other.attn", GOOD)
    assert cli.main(["check", good, other]) == 3
    out, err = capsys.readouterr()
    assert out == "" and "Traceback" not in err
    assert err.splitlines() == [
        f"patternc: internal error while checking '{good}': RuntimeError: boom (please report)",
        f"patternc: internal error while checking '{other}': RuntimeError: boom (please report)"]


def test_bug_outside_a_command_is_an_internal_error(monkeypatch, capsys):
    def broken(args):
        raise ValueError("bad state")
    monkeypatch.setattr(cli, "COMMANDS", (cli.Command("check", "", lambda p: None, broken),))
    assert cli.main(["check"]) == 3
    assert capsys.readouterr().err == "patternc: internal error: ValueError: bad state (please report)\n"


def test_debug_shows_the_traceback_of_an_internal_error(monkeypatch, capsys):
    def broken(args):
        raise ValueError("bad state")
    monkeypatch.setattr(cli, "COMMANDS", (cli.Command("check", "", lambda p: None, broken),))
    monkeypatch.setenv("PATTERNC_DEBUG", "1")
    assert cli.main(["check"]) == 3
    assert "Traceback" in capsys.readouterr().err


FRAGMENTS = ["pattern", "p", "(", ")", "{", "}", "mask", "let", "x", "=", "require", "score", "heads",
             "tile", "q=16", "kv", "blocks", "window", "global", "random", "segments", "buckets", "alibi",
             "decay", "softcap", ":", "int", "float", ",", "..", "0", "3", "1.5", "1e999", "|", "&", "-",
             "!", "//", "%", "<=", "==", "[", "]", "#", "\n", ";", " ", "\t", "\r", "é", "\x00", "\\", "'"]


@settings(max_examples=40, deadline=None)
@given(st.one_of(
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map(" ".join),
    st.lists(st.sampled_from(FRAGMENTS), max_size=40).map("".join).map(lambda s: f"pattern a() {{ {s} }}"),
    st.binary(max_size=60).map(lambda b: b.decode("latin-1"))))
def test_no_input_gives_a_traceback(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.attn"
        path.write_bytes(text.encode("utf-8", errors="surrogateescape"))
        code, out, err = _in_process(["check", str(path)])
    assert code in (0, 1), err
    assert_no_traceback(out, err)


def test_invalid_bytes_never_give_a_traceback():
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bytes.attn"
        path.write_bytes(bytes(range(256)))
        code, out, err = _in_process(["check", str(path)])
    assert code == 1 and heads(err)[0]["code"] == "E0100"


def _in_process(args):
    """cli.main with stdout and stderr captured (for hypothesis tests, where
    function-scoped fixtures such as capsys cannot be used)."""
    import contextlib
    import io
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()
