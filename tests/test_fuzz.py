"""Fuzzing the front end: every input, however malformed, ends in diagnostics
(`PatterncError`) or in a clean compile whose text is valid Python; never in
another exception, never in a hang.

Inputs come from four generators:
- grammar-aware: random syntax trees (tests/strategies.py) printed as source,
  and random meaningful patterns (tests/pattern_sources.py, which must compile);
- token soup: random runs of the language's own tokens;
- byte-level mutation of the seeds (examples/*.attn, else LANGUAGE.md's
  examples): bit flips, odd bytes, deletions, duplications, splices, tokens and
  extreme numbers dropped in;
- explicit edge cases (deep nesting, huge numbers, unicode, NUL, CRLF, ...).

The in-suite run is small (< 30 s). A larger campaign runs outside it:

    python tests/test_fuzz.py --inputs 20000 --seed 1

prints the count of each outcome and every finding (see docs/reliability.md).
"""
from __future__ import annotations

import ast
import collections
import contextlib
import random
import re
import signal
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import patternc
from patternc import PatterncError
from patternc.printer import to_source

sys.path.insert(0, str(Path(__file__).parent))  # for the campaign run as a script
import strategies  # noqa: E402
from pattern_sources import pattern_source  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TIME_LIMIT_S = 10.0  # per input; the slowest real input (10,000 nested brackets) takes ~2 s
CODE = re.compile(r"E0\d{3}")

# LANGUAGE.md's examples: the seeds when examples/ is empty
FALLBACK_SEEDS = (
    "# Longformer: a local window plus a few global tokens.\n"
    "pattern longformer(w: int = 256, g: int = 64) {\n    mask window(w) | global(g)\n}\n\n"
    "# Mistral-style causal sliding window with attention sinks (StreamingLLM).\n"
    "pattern streaming(w: int = 4096, sinks: int = 4) {\n    mask causal & (window(w, 0) | sink(sinks))\n}\n",
    "pattern natten2d(w: int = 32, k: int = 7) {\n    let r = k // 2\n"
    "    mask abs(min(max(p // w, r), K // w - 1 - r) - j // w) <= r\n"
    "       & abs(min(max(p % w, r), w - 1 - r) - j % w) <= r\n}\n\n"
    "pattern fixed(b: int = 128, c: int = 8) {\n    mask causal & (block(b) | (j % b >= b - c))\n}\n",
    "pattern bigbird() { tile q=64, kv=64; mask blocks(64) { window(1) | global(2) | random(3) } }\n"
    "pattern docs() { mask segments & causal; score alibi, softcap(30.0), decay(0.9) }\n"
    "pattern split() {\n    require H == 4\n    heads 0..2 { mask causal }\n    heads 2..H { mask full }\n}\n",
)


def seeds() -> list[str]:
    found = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.attn"))]
    return found or list(FALLBACK_SEEDS)


# ---------------------------------------------------------------------- the oracle
class Hang(BaseException):
    """Not an Exception: the compiler's catch-alls (the parser turns any Exception into E0199) must
    not mistake a timeout for a bug of theirs."""


@contextlib.contextmanager
def time_limit(seconds: float):
    """Raise Hang in this (main) thread after `seconds`."""
    def on_alarm(signum, frame):
        raise Hang(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def outcome(text: str, limit: float = TIME_LIMIT_S) -> str:
    """'ok' (a module that Python compiles), 'diagnostics' (a well-formed
    PatterncError), or 'FAIL <what>' for anything else."""
    try:
        with time_limit(limit):
            module_text = patternc.compile_source(text, "<fuzz>")
            compile(module_text, "<generated>", "exec")
    except PatterncError as e:
        return _check_diagnostics(e)
    except Hang:
        return f"FAIL hang (> {limit} s)"
    except BaseException as e:  # noqa: BLE001 - exactly what the fuzzer looks for
        return f"FAIL {type(e).__name__}: {str(e)[:200]}"
    return "ok"


def _check_diagnostics(e: PatterncError) -> str:
    if not e.diagnostics:
        return "FAIL PatterncError without diagnostics"
    for d in e.diagnostics:
        if not CODE.fullmatch(d.code):
            return f"FAIL bad diagnostic code {d.code!r}"
        if d.span.line < 0 or d.span.column < 0:
            return f"FAIL negative position in {d.code}"
    try:
        rendered = e.render()
    except BaseException as err:  # noqa: BLE001
        return f"FAIL rendering diagnostics: {type(err).__name__}: {err}"
    if "<fuzz>:" not in rendered:
        return "FAIL diagnostics do not name the file"
    if "E0199" in rendered:  # the parser's last net: an internal error
        return "FAIL internal parser error (E0199)"
    return "diagnostics"


def assert_handled(text: str, allowed=("ok", "diagnostics")) -> str:
    result = outcome(text)
    assert result in allowed, f"{result}\n--- input ({len(text)} chars) ---\n{text[:2000]!r}"
    return result


# ---------------------------------------------------------------------- generators
TOKENS = (
    "pattern", "mask", "let", "require", "score", "heads", "tile", "blocks", "int", "float",
    "full", "none", "causal", "window", "dilated", "strided", "block", "global", "sink", "prefix",
    "random", "segments", "buckets", "alibi", "decay", "softcap", "min", "max", "abs", "seed", "rounds",
    "i", "p", "j", "h", "Q", "K", "N", "H", "D", "w", "g", "x", "q", "kv", "_x", "__import__", "exec", "os",
    "0", "1", "2", "7", "64", "-1", "0.5", "1e5", "1.0e-3", "2147483648", "99999999999999999999", "0x10",
    "(", ")", "[", "]", "{", "}", ",", ";", ":", "=", "..", ".", "|", "&", "!", "-", "+", "*", "//", "/", "%",
    "==", "!=", "<", "<=", ">", ">=", "\n", "\n\n", " ", "\t", "\r\n", "# comment\n", "#", "'", '"', "\\",
    "\x00", "é", "ｐ", "\u200b", "\ufeff", "\u2028", "\ud800",
)
NUMBERS = ("0", "-1", "1", "3", "2147483647", "2147483648", "-2147483649", "4611686018427387904",
           "99999999999999999999", "1e308", "1e999", "0.0", "1e-320", "9" * 1001)
ODD_BYTES = b"\x00\n\r\t{}()[];#\"'\\\xff\xc3\xa9\xe2\x80\xa8"


def token_soup(rng: random.Random, n: int = 40) -> str:
    return "".join(rng.choice(TOKENS) + rng.choice(("", " ", " ", "\n")) for _ in range(rng.randint(1, n)))


COMMENT_BITS = ('"""', "'''", '"', "'", "\\", "\\N", "\\u12", "\\x4", "\\U0001", "\x00", "\r", "{{ 1 }}",
                "{% if %}", "%s", "{0}", " code ", "é", "\u2028")


def hostile_comment(rng: random.Random) -> bytes:
    text = "".join(rng.choice(COMMENT_BITS) for _ in range(rng.randint(1, 5)))
    return f"# {text}\n".encode("utf-8")


def mutate(rng: random.Random, data: bytes, others: list[bytes], steps: int, comments: bool = False) -> bytes:
    """`steps` random byte-level edits of `data`; with `comments`, also whole
    comment lines of quotes, backslash escapes and template syntax."""
    buf = bytearray(data)
    for _ in range(steps):
        at = rng.randint(0, len(buf))
        end = min(len(buf), at + rng.randint(1, 40))
        op = rng.randrange(10 if comments else 9)
        if op == 9:
            line_start = buf.rfind(b"\n", 0, at) + 1
            buf[line_start:line_start] = hostile_comment(rng)
            continue
        if op == 0 and at < len(buf):
            buf[at] ^= 1 << rng.randrange(8)  # flip a bit
        elif op == 1 and at < len(buf):
            buf[at] = rng.choice(ODD_BYTES)  # an odd byte
        elif op == 2:
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))  # random bytes
        elif op == 3:
            del buf[at:end]  # delete a range
        elif op == 4:
            buf[at:at] = buf[at:end] * rng.randint(1, 4)  # duplicate a range
        elif op == 5 and others:
            other = rng.choice(others)
            start = rng.randint(0, len(other))
            buf[at:at] = other[start:start + rng.randint(1, 200)]  # splice from another seed
        elif op == 6:
            buf[at:at] = rng.choice(TOKENS).encode("utf-8", "surrogatepass")  # a token
        elif op == 7:
            buf = bytearray(re.sub(rb"\d+", lambda m: rng.choice(NUMBERS).encode() if rng.random() < 0.3
                                   else m.group(), bytes(buf)))  # extreme numbers
        else:
            buf[at:end] = b""  # truncate to the end of a range
            del buf[at:]
    return bytes(buf)


def decode(rng: random.Random, data: bytes) -> str:
    """Text for compile_source: bad UTF-8 replaced, or kept as lone surrogates."""
    return data.decode("utf-8", errors=rng.choice(("replace", "surrogateescape", "ignore")))


def mutated_source(rng: random.Random, seed_texts: list[str], comments: bool = False) -> str:
    encoded = [s.encode("utf-8") for s in seed_texts]
    return decode(rng, mutate(rng, rng.choice(encoded), encoded, rng.randint(1, 6), comments))


# ---------------------------------------------------------------------- in-suite fuzzing
# derandomized: the suite sees the same inputs every run (the campaign below explores)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck), database=None,
                derandomize=True)


@FAST
@given(strategies.files())
def test_random_syntax_trees_compile_or_give_diagnostics(tree):
    assert_handled(to_source(tree))


@settings(FAST, max_examples=25)
@given(pattern_source())
def test_meaningful_patterns_compile(case):
    source, _ = case
    assert assert_handled(source, allowed=("ok",)) == "ok"


@settings(FAST, max_examples=150)
@given(st.randoms(use_true_random=False))
def test_token_soup(rng):
    assert_handled(token_soup(rng))


SEEDS = seeds()


@settings(FAST, max_examples=200)
@given(st.randoms(use_true_random=False))
def test_byte_mutations_of_the_examples(rng):
    assert_handled(mutated_source(rng, SEEDS))


@settings(FAST, max_examples=60)
@given(st.text(max_size=200))
def test_arbitrary_text(text):
    assert_handled(text)


@pytest.mark.parametrize("seed", range(len(SEEDS)), ids=lambda i: f"seed{i}")
def test_seeds_compile(seed):
    if assert_handled(SEEDS[seed]) == "diagnostics":
        assert set(codes(SEEDS[seed])) == {"E0601"}  # only "not compiled" (two different buckets)


# ---------------------------------------------------------------------- explicit cases
def codes(text: str) -> list[str]:
    try:
        patternc.compile_source(text)
    except PatterncError as e:
        return [d.code for d in e.diagnostics]
    return []


DEEP = 10_000
EXPLICIT = {
    "nested parentheses": "pattern a() { mask " + "(" * DEEP + "causal" + ")" * DEEP + " }",
    "nested blocks": "pattern a() { mask " + "blocks(2) { " * DEEP + "causal" + " }" * DEEP + " }",
    "nested heads": "pattern a() { " + "heads 0..H { " * DEEP + "mask causal" + " }" * DEEP + " }",
    "unclosed parentheses": "pattern a() { mask " + "(" * DEEP,
    "long operator chain": "pattern a() { mask " + " | ".join(["causal"] * DEEP) + " }",
    "many unary operators": "pattern a() { mask " + "!" * DEEP + "causal }",
    "long let chain": "pattern a() {\n" + "\n".join(
        f"let x{n} = {f'x{n - 1} + 1' if n else '1'}" for n in range(3000)) + "\nmask window(x2999) }",
    "long mask let chain": "pattern a() {\n" + "\n".join(
        f"let m{n} = {f'm{n - 1} | window({n})' if n else 'causal'}" for n in range(3000)) + "\nmask m2999 }",
    "huge global list": "pattern a() { mask global([" + ", ".join(map(str, range(20_000))) + "]) }",
    "huge number": "pattern a() { mask window(99999999999999999999) }",
    "thousand-digit number": "pattern a() { mask window(" + "9" * 5000 + ") }",
    "negative window": "pattern a() { mask window(-1) }",
    "block of zero": "pattern a() { mask block(0) }",
    "odd buckets": "pattern a() { mask buckets(3) }",
    "huge float": "pattern a() { mask causal; score softcap(1e999) }",
    "tiny float": "pattern a() { mask causal; score softcap(1e-320) }",
    "hex number": "pattern a() { mask window(0x10) }",
    "float where int": "pattern a() { mask window(1e5) }",
    "unicode identifier": "pattern attentión() { mask causal }",
    "unicode lookalike": "pattern a() { mask cаusal }",  # Cyrillic a
    "unicode in a comment": "# ‘quotes’ — ünïcödé 𝕏 ☃\npattern a() { mask causal } # ∀ p, j\n",
    "lone surrogate in a comment": "pattern a() { mask causal } # \ud800\n",
    "lone surrogate in code": "pattern a() { mask causal \udcff }",
    "byte order mark": "\ufeffpattern a() { mask causal }",
    "empty file": "",
    "only whitespace": " \n\t\n\r\n",
    "NUL bytes": "pattern a() {\x00 mask causal }\x00",
    "only NUL bytes": "\x00" * 1000,
    "only comments": "# one\n# two\n#\n# pattern a() { mask causal }\n",
    "CRLF": "pattern a() {\r\n    mask causal\r\n}\r\n",
    "CR only": "pattern a() {\r    mask causal\r}\r",
    "form feed and tabs": "\x0cpattern a() {\t\x0cmask causal }",
    "a megabyte of garbage": "@" * 1_000_000,
    "a megabyte of tokens": "pattern ( { mask ) } " * 50_000,
    "many patterns": "\n".join(f"pattern a{n}() {{ mask causal }}" for n in range(200)),
    "many errors": "\n".join(f"pattern a{n}() {{ mask cusal }}" for n in range(500)),
}
EXPECTED_CODES = {  # the codes some of them must give
    "nested parentheses": "E0106", "nested blocks": "E0106", "huge number": "E0402", "negative window": "E0401",
    "block of zero": "E0401", "odd buckets": "E0401", "huge float": "E0109", "hex number": "E0102",
    "float where int": "E0302", "unicode identifier": "E0101", "unicode lookalike": "E0101",
    "lone surrogate in a comment": "E0101", "lone surrogate in code": "E0101", "NUL bytes": "E0101",
    "nested heads": "E0106", "long operator chain": "E0106", "many unary operators": "E0106",
    "long let chain": "E0507", "long mask let chain": "E0507", "huge global list": "E0507",
}
COMPILES = ("tiny float", "unicode in a comment", "empty file", "only whitespace", "only comments", "CRLF",
            "CR only", "form feed and tabs", "many patterns")


@pytest.mark.parametrize("name", EXPLICIT)
def test_explicit_edge_cases(name):
    result = assert_handled(EXPLICIT[name])
    if name in EXPECTED_CODES:
        assert EXPECTED_CODES[name] in codes(EXPLICIT[name])
    if name in COMPILES:
        assert result == "ok"


def test_crlf_gives_the_same_code_as_lf():
    lf = "pattern a(w: int = 3) {\n    mask window(w) | sink(2)  # a comment\n}\n"
    crlf = lf.replace("\n", "\r\n")

    def code(text):  # the module without its texts (docstrings, the kept source, its hash)
        tree = ast.parse(text)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                node.value = ""
        return ast.dump(tree)

    assert code(patternc.compile_source(lf)) == code(patternc.compile_source(crlf))


def test_diagnostics_of_a_crlf_file_point_at_the_right_column():
    with pytest.raises(PatterncError) as info:
        patternc.compile_source("pattern a() {\r\n    mask cusal\r\n}\r\n")
    (d,) = info.value.diagnostics
    assert (d.span.line, d.span.column) == (2, 10)
    assert "\r" not in info.value.render()


def test_invalid_utf8_file_gives_a_diagnostic(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "bad.attn"
    path.write_bytes(b"pattern a() {\n    mask causal \xff\xfe\n}\n")
    with pytest.raises(PatterncError) as info:
        patternc.load(path)
    assert [d.code for d in info.value.diagnostics] == ["E0100"]
    assert info.value.diagnostics[0].span.line == 2


def test_file_with_byte_order_mark_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("PATTERNC_CACHE", str(tmp_path / "cache"))
    path = tmp_path / "bom.attn"
    path.write_bytes(b"\xef\xbb\xbfpattern a() { mask causal }\n")
    assert patternc.load(path).PATTERNS == ["a"]


def test_buckets_patterns_compile_and_two_hashings_give_a_diagnostic():
    assert codes("pattern a() { mask buckets(4) }") == []
    assert codes("pattern a() { mask causal & buckets(4) | window(2) }") == []
    # two different hashings would need two sets of rotations: a diagnostic, not NotImplementedError
    assert codes("pattern a() { mask buckets(4) | buckets(4, seed=1) }") == ["E0601"]


def test_pathological_inputs_are_fast():
    start = time.perf_counter()
    for text in ("(" * 100_000, "pattern a() { mask " + "-" * 100_000 + "1 }", "#" * 1_000_000,
                 "pattern a() {" + "\n" * 1_000_000 + "mask causal }"):
        assert_handled(text)
    assert time.perf_counter() - start < 20


# ---------------------------------------------------------------------- the campaign
def campaign(inputs: int, seed: int, comments: bool) -> int:
    """Run `inputs` fuzz inputs (a quarter from each generator); print counts and findings.
    `comments`: mutations also insert hostile comment lines (which reach the generated
    module's docstrings: see docs/reliability.md, "Known gaps")."""
    rng = random.Random(seed)
    counts, findings = collections.Counter(), []
    seed_texts = seeds()

    def record(kind, text):
        result = outcome(text)
        counts[(kind, result if not result.startswith("FAIL") else "FAIL")] += 1
        if result.startswith("FAIL"):
            findings.append((kind, result, text))

    share = inputs // 4
    start = time.perf_counter()
    for _ in range(share):
        record("mutation", mutated_source(rng, seed_texts, comments))
    for _ in range(share):
        record("token soup", token_soup(rng))
    for kind, strategy, to_text in (("syntax tree", strategies.files(), to_source),
                                    ("pattern", pattern_source(), lambda case: case[0])):
        @settings(max_examples=inputs - 3 * share if kind == "pattern" else share, deadline=None,
                  suppress_health_check=list(HealthCheck), database=None, derandomize=True)
        @given(strategy)
        def run(value):
            record(kind, to_text(value))
        run()
    elapsed = time.perf_counter() - start
    print(f"{sum(counts.values())} inputs in {elapsed:.0f} s")
    for (kind, result), n in sorted(counts.items()):
        print(f"  {kind:12s} {result:12s} {n}")
    family = lambda result: re.sub(r"\(.*|\d+", "", result)[:60]  # noqa: E731 - the message less positions
    seen = collections.Counter(family(result) for _, result, _ in findings)
    shown = set()
    for kind, result, text in findings:
        if family(result) not in shown:
            shown.add(family(result))
            print(f"FINDING ({kind}, {seen[family(result)]} inputs): {result}\n  input: {text[:300]!r}")
    print(f"{len(findings)} failing inputs, {len(seen)} kinds")
    return 1 if findings else 0


if __name__ == "__main__":
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hostile-comments", action="store_true")
    args = parser.parse_args()
    sys.exit(campaign(args.inputs, args.seed, args.hostile_comments))
