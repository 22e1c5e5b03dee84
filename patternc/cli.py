"""The `patternc` command line: a table of subcommands, each a small function.

    patternc check FILE...      report every problem in .attn files (exit 0 clean, 1 not)

Exit status, for every subcommand:
    0  done, nothing wrong
    1  the input has problems (diagnostics were printed)
    2  usage or I/O error (bad arguments, unreadable file)
    3  internal error: a bug in patternc (please report)
  130  interrupted

Adding a subcommand: write `_configure_NAME(parser)` (its arguments) and
`run_NAME(args) -> int` (the work; import heavy stages inside it so that
`patternc --help` stays fast), then add one `Command` line to `COMMANDS`.
Read files with `read_source` and raise `CliError` for usage and I/O problems;
`PatterncError`s and bugs are handled by `main`, so no input ever ends in a
Python traceback (`PATTERNC_DEBUG=1` adds the traceback of an internal error).
"""
from __future__ import annotations

import argparse
import os
import sys
import traceback
from dataclasses import dataclass
from typing import Callable, Sequence

from . import __version__
from .diagnostics import Diagnostic, PatterncError, Span

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
STDIN = "-"


class CliError(Exception):
    """A usage or I/O problem: printed as `patternc: error: MESSAGE`, exit `status`."""

    def __init__(self, message: str, status: int = EXIT_USAGE):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ------------------------------------------------------------------ reading sources
def read_source(path: str) -> str:
    """The text of an .attn file (`-` is standard input).

    Raises CliError when the file cannot be read, and PatterncError (E0100)
    pointing at the first byte that is not UTF-8. A UTF-8 byte order mark is
    skipped."""
    data = _read_bytes(path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise _not_utf8(data, e, path) from None


def display_name(path: str) -> str:
    """The file name diagnostics show for `path`."""
    return "<stdin>" if path == STDIN else path


def _read_bytes(path: str) -> bytes:
    try:
        if path == STDIN:
            return sys.stdin.buffer.read()
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise CliError(f"cannot read '{path}': {e.strerror or e}") from None


def _not_utf8(data: bytes, e: UnicodeDecodeError, path: str) -> PatterncError:
    # Point at the bad byte itself: its line, and its column counted in the
    # characters of the text before it on that line.
    offset = e.start
    line_start = data.rfind(b"\n", 0, offset) + 1
    line = data.count(b"\n", 0, offset) + 1
    column = len(data[line_start:offset].decode("utf-8", errors="replace")) + 1
    shown = data.decode("utf-8", errors="replace")  # the bad byte shows as U+FFFD
    char_offset = len(data[:offset].decode("utf-8", errors="replace"))
    span = Span(line, column, line, column + 1, char_offset, char_offset + 1)
    diagnostic = Diagnostic("E0100", f"file is not valid UTF-8 (byte 0x{data[offset]:02x} at offset {offset})",
                            span, ("save the file as UTF-8",))
    return PatterncError([diagnostic], shown, display_name(path))


# ------------------------------------------------------------------ check
def _configure_check(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="an .attn file ('-' reads standard input)")


def run_check(args: argparse.Namespace) -> int:
    """Check every file; print its diagnostics to stderr or `FILE: ok (...)` to stdout."""
    return max(_check_one(path) for path in args.files)


def _check_one(path: str) -> int:
    from .check import check_source  # the checker pulls in sympy: only when needed

    name = display_name(path)
    try:
        patterns = check_source(read_source(path), name)
    except CliError as e:
        _error(e.message)
        return e.status
    except PatterncError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_PROBLEMS
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # a bug: report it for this file, then go on with the others
        _internal_error(e, f"while checking '{name}'")
        return EXIT_INTERNAL
    print(f"{name}: ok ({_count(patterns)})")
    return EXIT_OK


def _count(patterns) -> str:
    noun = "pattern" if len(patterns) == 1 else "patterns"
    names = ", ".join(p.name for p in patterns)
    return f"{len(patterns)} {noun}: {names}" if patterns else f"0 {noun}"


# ------------------------------------------------------------------ the table
COMMANDS: tuple[Command, ...] = (
    Command("check", "check .attn files and report every problem", _configure_check, run_check),
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="patternc",
        description="patternc: a compiler for sparse attention patterns (.attn files) to Triton kernels.",
        epilog="exit status: 0 ok, 1 problems in the input, 2 usage or I/O error, 3 internal error",
    )
    parser.add_argument("--version", action="version", version=f"patternc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        sub = commands.add_parser(command.name, help=command.help, description=command.help)
        command.configure(sub)
        sub.set_defaults(run=command.run)
    return parser


# ------------------------------------------------------------------ entry point
def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (never raises, never a traceback)."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if getattr(args, "run", None) is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        return args.run(args)
    except SystemExit as e:  # argparse: --help, --version, usage errors
        return _exit_status(e.code)
    except CliError as e:
        _error(e.message)
        return e.status
    except PatterncError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_PROBLEMS
    except KeyboardInterrupt:
        print("patternc: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `patternc check *.attn | head -1`
        _silence_stdout()
        return EXIT_PROBLEMS
    except BaseException as e:  # noqa: BLE001 - the last net: a bug becomes one line, not a traceback
        _internal_error(e)
        return EXIT_INTERNAL


def _exit_status(code) -> int:
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_USAGE


def _error(message: str) -> None:
    print(f"patternc: error: {message}", file=sys.stderr)


def _internal_error(e: BaseException, context: str = "") -> None:
    if _debug_level() >= 1:
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    where = f" {context}" if context else ""
    detail = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
    print(f"patternc: internal error{where}: {detail} (please report)", file=sys.stderr)


def _debug_level() -> int:
    try:
        return int(os.environ.get("PATTERNC_DEBUG", "0"))
    except ValueError:
        return 0


def _silence_stdout() -> None:
    # Python flushes stdout at exit; after a broken pipe that flush would fail
    # again and print a traceback-like warning, so point stdout at /dev/null.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


def console() -> None:
    """The `python -m patternc` entry: exit with main's status."""
    sys.exit(main())
