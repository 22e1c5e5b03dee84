"""The `patternc` command line: a table of subcommands, each a small function.

    patternc check FILE...      report every problem in .attn files (exit 0 clean, 1 not)
    patternc compile FILE...    write DIR/<stem>.py for each file (-o DIR, default build/)
    patternc show FILE          a picture of the mask and its block map (terminal, or -o x.png)
    patternc explain FILE       the checked pattern, the kernel strategy, the plan, density, FLOPs
    patternc bench FILE         time it against FlexAttention and dense SDPA (needs a GPU)
    patternc verify FILE        random cases against float64 dense attention, with gradients

Exit status, for every subcommand:
    0  done, nothing wrong
    1  the input has problems (diagnostics were printed)
    2  usage or I/O error (bad arguments, unreadable file)
    3  internal error: a bug in patternc (please report)
  130  interrupted

The commands' work lives in show.py, explain.py, verify.py and benchmark.py;
this module reads arguments, calls them and prints (it is longer than the
project's ~400 lines because six commands' options are spelled out here).

Adding a subcommand: write `_configure_NAME(parser)` (its arguments) and
`run_NAME(args) -> int` (the work; import heavy stages inside it so that
`patternc --help` stays fast), then add one `Command` line to `COMMANDS`.
Read files with `read_source` and raise `CliError` for usage and I/O problems;
`PatterncError`s and bugs are handled by `main`, so no input ever ends in a
Python traceback (`PATTERNC_DEBUG=1` adds the traceback of an internal error).
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from . import __version__
from .diagnostics import Diagnostic, PatterncError, Span, suggest

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


# ------------------------------------------------------------------ compile
def _configure_compile(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="+", metavar="FILE", help="an .attn file")
    parser.add_argument("-o", "--out", default="build", metavar="DIR", help="where modules go (default: build/)")


def run_compile(args: argparse.Namespace) -> int:
    """Compile every file to DIR/<stem>.py with a progress line each
    (`[3/16] x.attn -> build/x.py (2 patterns)`); a file that fails prints its
    diagnostics and the others go on."""
    status, written, total = EXIT_OK, {}, len(args.files)
    for n, path in enumerate(args.files, 1):
        counter = f"[{n}/{total}] {display_name(path)}"
        result, done = _compile_one(path, args.out, written)
        status = max(status, result)
        print(f"{counter} -> {done}" if result == EXIT_OK else f"{counter}: not compiled", flush=True)
    if total > 1:
        print(f"compiled {len(written)} of {total} files into {args.out}/")
    return status


def _compile_one(path: str, out_dir: str, written: dict) -> tuple[int, str]:
    """(exit status, 'target (N patterns)'); `written` maps targets to their files."""
    from .check import check_source
    from .loader import compile_file, module_name

    try:
        if path == STDIN:
            raise CliError("compile reads files, not standard input ('-')")
        target = str(Path(out_dir) / (module_name(Path(path).stem) + ".py"))
        if target in written:
            raise CliError(f"'{path}' and '{written[target]}' would both be written to '{target}': rename one")
        patterns = check_source(read_source(path), display_name(path))
        try:
            compile_file(path, out_dir)
        except OSError as e:
            raise CliError(f"cannot write '{target}': {e.strerror or e}") from None
    except CliError as e:
        _error(e.message)
        return e.status, ""
    except PatterncError as e:
        print(e.render(), file=sys.stderr)
        return EXIT_PROBLEMS, ""
    except (KeyboardInterrupt, MemoryError):
        raise
    except Exception as e:  # a bug: report it for this file, then go on with the others
        _internal_error(e, f"while compiling '{display_name(path)}'")
        return EXIT_INTERNAL, ""
    written[target] = path
    return EXIT_OK, f"{target} ({len(patterns)} pattern{'s' if len(patterns) != 1 else ''})"


# ------------------------------------------------------------------ shared by show, explain, bench, verify
def _configure_file(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("file", metavar="FILE", help="an .attn file ('-' reads standard input)")
    parser.add_argument("--pattern", metavar="NAME", help=f"which pattern of the file (default: {default})")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a value for a pattern parameter (repeat for several)")


def _configure_sizes(parser: argparse.ArgumentParser, q: int) -> None:
    parser.add_argument("--q", type=int, default=q, metavar="Q", help=f"query length (default {q})")
    parser.add_argument("--k", type=int, default=None, metavar="K", help="key length (default: Q)")
    parser.add_argument("--heads", type=int, default=1, metavar="H", help="number of heads (default 1)")
    parser.add_argument("--tile", type=_tile, default=None, metavar="MxN",
                        help="tile sizes of the block map (default: the pattern's tile hint, else 128x128)")


def _tile(text: str) -> tuple[int, int]:
    m, _, n = text.lower().partition("x")
    try:
        tile = (int(m), int(n))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MxN, e.g. 128x64; got {text!r}") from None
    if min(tile) < 1:
        raise argparse.ArgumentTypeError(f"tile sizes must be >= 1, got {text!r}")
    return tile


def parse_params(items: Sequence[str]) -> dict:
    """--param NAME=VALUE ... -> {name: int or float}; CliError for anything else."""
    params = {}
    for item in items:
        name, eq, value = (part.strip() for part in item.partition("="))
        if not eq or not name.isidentifier() or not value:
            raise CliError(f"bad --param '{item}': expected NAME=VALUE, e.g. --param w=256")
        for kind in (int, float):
            try:
                params[name] = kind(value)
                break
            except ValueError:
                continue
        else:
            raise CliError(f"bad --param '{item}': {value!r} is not a number")
    return params


@dataclass(frozen=True)
class Selection:
    """What a command works on: the file, its syntax tree, the chosen checked
    patterns and the --param values."""

    path: str
    source: str
    tree: object
    patterns: tuple
    params: dict

    def syntax_of(self, pattern):
        return next(p for p in self.tree.patterns if p.name == pattern.name)

    def module(self):
        """The compiled module (from the cache when it is there)."""
        from .loader import load_source

        stem = "stdin" if self.path == STDIN else Path(self.path).stem
        return load_source(self.source, display_name(self.path), stem=stem)


def select(args: argparse.Namespace, every: bool) -> Selection:
    """Read and check args.file and pick --pattern; without it every pattern
    (`every`) or the first one, saying so when the file holds several."""
    from .check import check
    from .parse import parse

    name = display_name(args.file)
    source = read_source(args.file)
    tree = parse(source, name)
    patterns = check(tree, source, name)
    names = [p.name for p in patterns]
    if not patterns:
        raise CliError(f"'{name}' holds no pattern")
    if args.pattern is not None:
        chosen = [p for p in patterns if p.name == args.pattern]
        if not chosen:
            hint = suggest(args.pattern, names)
            raise CliError(f"no pattern '{args.pattern}' in '{name}'" + (f"; {hint}" if hint else "")
                           + f" (its patterns: {', '.join(names)})")
    elif every or len(patterns) == 1:
        chosen = list(patterns)
    else:
        chosen = [patterns[0]]
        print(f"{name} holds {len(names)} patterns ({', '.join(names)}): using '{names[0]}' "
              "(--pattern NAME picks another)", file=sys.stderr)
    return Selection(args.file, source, tree, tuple(chosen), parse_params(args.param))


def _sizes(args: argparse.Namespace) -> tuple[int, int, int]:
    Q, K = args.q, args.q if args.k is None else args.k
    for label, value in (("--q", Q), ("--k", K), ("--heads", args.heads)):
        if value < 1:
            raise CliError(f"{label} must be >= 1, got {value}")
    return Q, K, args.heads


def _bound(pattern, params: dict, Q: int, K: int, H: int, D: int | None = None) -> dict:
    """bind(), with an unknown or mistyped param or a failed requirement as a usage error."""
    from .bind import bind

    try:
        return bind(pattern, params, Q, K, H, D)
    except TypeError as e:  # an unknown, missing or mistyped param
        raise CliError(str(e)) from None
    except ValueError as e:  # a value of a size or param (a failed requirement): say which flags set them
        flags = "--q, --k, --heads" + (", --dim" if D is not None else "")
        raise CliError(f"{e} (sizes: {flags}; params: --param NAME=VALUE)") from None


# ------------------------------------------------------------------ show
def _configure_show(parser: argparse.ArgumentParser) -> None:
    _configure_file(parser, "the first")
    _configure_sizes(parser, q=1024)
    parser.add_argument("--head", type=int, default=0, help="which head to draw (default 0)")
    parser.add_argument("-o", "--out", metavar="PNG", help="write a PNG picture instead of drawing in the terminal")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="ANSI colours in the terminal (auto: when standard output is a terminal)")
    parser.add_argument("--width", type=int, default=64, help="columns of the terminal picture (default 64)")
    parser.add_argument("--documents", type=int, default=4,
                        help="example documents for patterns that read `segments` (default 4)")


def run_show(args: argparse.Namespace) -> int:
    """Draw one pattern's mask and block map in the terminal, or as a PNG."""
    from . import show

    selection = select(args, every=False)
    pattern = selection.patterns[0]
    Q, K, H = _sizes(args)
    _bound(pattern, selection.params, Q, K, H)
    try:
        pic = show.picture(pattern, Q, K, H, selection.params, head=args.head, tile=args.tile,
                           documents=max(1, args.documents))
    except ValueError as e:  # a head out of range, or too large a data-dependent mask
        raise CliError(str(e)) from None
    if args.out:
        try:
            Path(args.out).write_bytes(show.render_png(pic))
        except OSError as e:
            raise CliError(f"cannot write '{args.out}': {e.strerror or e}") from None
        print(f"{args.out}: {show.title(pic)}; {show.summary(pic)}")
        return EXIT_OK
    color = args.color == "always" or (args.color == "auto" and _color_terminal())
    print(show.render_text(pic, color=color, columns=max(8, args.width)))
    return EXIT_OK


def _color_terminal() -> bool:
    return sys.stdout.isatty() and os.environ.get("TERM", "") != "dumb" and "NO_COLOR" not in os.environ


# ------------------------------------------------------------------ explain
def _configure_explain(parser: argparse.ArgumentParser) -> None:
    _configure_file(parser, "every pattern")
    _configure_sizes(parser, q=4096)
    parser.add_argument("--dim", type=int, default=64, metavar="D", help="head dimension (default 64)")
    parser.add_argument("--batch", type=int, default=1, metavar="B", help="batch size, for the FLOPs (default 1)")


def run_explain(args: argparse.Namespace) -> int:
    """Explain each chosen pattern: strategy, block plan, density and FLOPs."""
    from .explain import Sizes, explain

    selection = select(args, every=True)
    Q, K, H = _sizes(args)
    if args.dim < 1 or args.batch < 1:
        raise CliError("--dim and --batch must be >= 1")
    # every pattern of a file by default: one whose requirements these sizes fail
    # (say `H >= 2` at the default --heads 1) is reported, the others explained
    chosen, failures = [], []
    for pattern in selection.patterns:
        try:
            _bound(pattern, selection.params, Q, K, H, args.dim)
            chosen.append(pattern)
        except CliError as e:
            if len(selection.patterns) == 1:
                raise
            failures.append(e.message)
    if not chosen:
        raise CliError("\n".join(failures))
    module = selection.module()
    texts = [explain(pattern, selection.syntax_of(pattern), getattr(module, pattern.name),
                     Sizes(Q, K, H, args.dim, args.batch), selection.params, args.tile)
             for pattern in chosen]
    print(("\n\n" + "=" * 72 + "\n\n").join(texts))
    for message in failures:
        _error(message)
    return EXIT_USAGE if failures else EXIT_OK


# ------------------------------------------------------------------ bench
def _configure_bench(parser: argparse.ArgumentParser) -> None:
    _configure_file(parser, "the first")
    parser.add_argument("--n", type=int, default=8192, help="sequence length, Q = K (default 8192)")
    parser.add_argument("--d", type=int, default=128, help="head dimension (default 128)")
    parser.add_argument("--heads", type=int, default=16, help="heads (default 16)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--dtype", choices=("bf16", "fp16"), default="bf16", help="input dtype (default bf16)")
    parser.add_argument("--no-backward", action="store_true", help="time the forward only")
    parser.add_argument("--documents", type=int, default=8, help="documents, for patterns that read `segments`")


def run_bench(args: argparse.Namespace) -> int:
    """Time one pattern against FlexAttention and dense SDPA on the GPU."""
    selection = select(args, every=False)
    pattern = selection.patterns[0]
    import torch

    if not torch.cuda.is_available():
        raise CliError("bench needs a CUDA GPU, and torch sees none (torch.cuda.is_available() is False); "
                       "`patternc verify` checks a pattern on the CPU")
    from . import benchmark
    from .ir import mentions
    from .show import example_segments

    N, H = args.n, args.heads
    _bound(pattern, selection.params, N, N, H, args.d)
    function = getattr(selection.module(), pattern.name)
    extra = {}
    if "segments" in pattern.runtime_inputs:
        extra["segments"] = example_segments(N, args.documents, 0, args.batch).cuda()
    per_head = pattern.has_heads or any(mentions(g.mask, "h") for g in pattern.groups)

    def mask_of(q, k):
        """(B or 1, H or 1, N, N) on the GPU, for FlexAttention's mask_mod; LSH masks
        come from the hashes of the benchmark's own inputs."""
        if "rotations" in pattern.runtime_inputs:
            hashes = function.hashes(q, k, **selection.params)
            mask = function.mask(N, N, H, hashes=hashes, **selection.params, **extra)
        else:
            mask = function.mask(N, N, H if per_head else 1, **selection.params, **extra)
        return (mask if mask.dim() == 4 else mask.unsqueeze(0)).cuda()

    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    row = benchmark.compare(function, selection.params, mask_of, N, args.d, args.batch, H, dtype,
                            backward=not args.no_backward, extra=extra)
    print(f"{pattern.name} on {torch.cuda.get_device_name()}: N={N} D={args.d} B={args.batch} H={H} "
          f"{args.dtype}, density {100 * row['density']:.2f}%")
    print("\n".join(benchmark.table(row)))
    print(f"patternc vs FlexAttention: relative error {row['rel_err_vs_flex']:.2e}; "
          f"first call {row['patternc_first_call_s']:.2f} s (compiles the kernels)")
    return EXIT_OK if row["rel_err_vs_flex"] < 2e-2 else EXIT_PROBLEMS


# ------------------------------------------------------------------ verify
def _configure_verify(parser: argparse.ArgumentParser) -> None:
    _configure_file(parser, "every pattern")
    parser.add_argument("--examples", type=int, default=20, help="random cases per pattern (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the cases (default 0)")
    parser.add_argument("--max-len", type=int, default=96, help="largest Q and K (default 96)")
    parser.add_argument("--heads", type=int, default=None, help="heads (default: random, 1 to 4)")
    parser.add_argument("--no-grad", action="store_true", help="check out and lse only")


def run_verify(args: argparse.Namespace) -> int:
    """Random cases of each pattern against float64 dense attention: bf16 on a
    GPU, float32 through Triton's interpreter on the CPU."""
    selection = select(args, every=True)
    if args.examples < 1 or args.max_len < 1 or (args.heads is not None and args.heads < 1):
        raise CliError("--examples, --max-len and --heads must be >= 1")
    import torch

    gpu = torch.cuda.is_available()
    if not gpu:
        os.environ["TRITON_INTERPRET"] = "1"  # read when the module's kernels are defined, below
    from .verify import TOLERANCE, draw_cases

    device, dtype = ("cuda", torch.bfloat16) if gpu else ("cpu", torch.float32)
    module = selection.module()
    where = "the GPU" if gpu else "the CPU (Triton interpreter)"
    print(f"verifying on {where} in {str(dtype)[6:]} against float64 dense attention; tolerances "
          + ", ".join(f"{k} {v:.0e}" for k, v in TOLERANCE[dtype].items()), flush=True)
    failed = 0
    with _small_tiles(not gpu):
        for pattern in selection.patterns:
            try:
                cases = draw_cases(pattern, selection.params, args.examples, args.seed, args.max_len, args.heads)
            except TypeError as e:  # an unknown or mistyped --param
                raise CliError(str(e)) from None
            except ValueError as e:  # no sizes satisfy the requirements
                raise CliError(f"{e} (choose sizes with --max-len or --heads, values with --param)") from None
            failed += _verify_pattern(pattern, getattr(module, pattern.name), cases, device, dtype, not args.no_grad)
    print("all cases passed" if not failed else f"{failed} case{'s' if failed > 1 else ''} failed")
    return EXIT_OK if not failed else EXIT_PROBLEMS


def _verify_pattern(pattern, function, cases, device, dtype, gradients: bool) -> int:
    """Print one line per case and the worst errors; returns how many failed."""
    from .verify import check_case

    failed, worst = 0, {"out": 0.0, "lse": 0.0, "grad": 0.0}
    for n, case in enumerate(cases, 1):
        result = check_case(pattern, function, case, device, dtype, gradients)
        errors = {"out": result.out_error, "lse": result.lse_error, "grad": result.grad_error}
        shown = "  ".join(f"{k} {v:.1e}" for k, v in errors.items() if v is not None)
        verdict = "ok" if result.ok else f"FAILED: {result.problem}"
        print(f"{pattern.name} [{n}/{len(cases)}] {case}: {shown}  {verdict}", flush=True)
        failed += not result.ok
        for key, value in errors.items():
            if value is not None:
                worst[key] = max(worst[key], value)
    shown = ", ".join(f"{k} {v:.1e}" for k, v in worst.items() if gradients or k != "grad")
    print(f"{pattern.name}: {len(cases) - failed} of {len(cases)} cases passed; worst errors: {shown}", flush=True)
    return failed


@contextlib.contextmanager
def _small_tiles(active: bool):
    """16x16 tiles on the CPU (unless PATTERNC_TILE says otherwise): small
    cases then span many tiles, full, partial and empty ones."""
    if not active or "PATTERNC_TILE" in os.environ:
        yield
        return
    os.environ["PATTERNC_TILE"] = "16x16"
    try:
        yield
    finally:
        os.environ.pop("PATTERNC_TILE", None)


# ------------------------------------------------------------------ the table
COMMANDS: tuple[Command, ...] = (
    Command("check", "check .attn files and report every problem", _configure_check, run_check),
    Command("compile", "compile .attn files to Python modules (DIR/<stem>.py)", _configure_compile, run_compile),
    Command("show", "draw a pattern's mask and block map (terminal, or PNG with -o)", _configure_show, run_show),
    Command("explain", "explain a pattern: kernel strategy, block plan, density and FLOPs", _configure_explain,
            run_explain),
    Command("bench", "time a pattern against FlexAttention and dense SDPA (needs a GPU)", _configure_bench,
            run_bench),
    Command("verify", "check a pattern's kernels against float64 dense attention on random cases",
            _configure_verify, run_verify),
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
