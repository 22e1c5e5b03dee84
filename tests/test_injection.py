"""Code-generation safety: no text of an `.attn` file (or its file name) can
become code in the generated module.

Every textual field of the language gets hostile content: pattern, param, let,
keyword, tile and modifier names (Python keywords, builtins, the module's own
names, `__import__`, `os`, `exec`, ...), comments (quotes, backslash escapes,
newlines, NUL, Jinja syntax, code), numbers written as Python would (`1e5`,
`0x10`, `1_000`, `1j`) and unicode lookalikes. Each input must give either a
diagnostic or a module that
- parses, imports only math, os, collections, torch, triton, triton.language;
- calls nothing dangerous anywhere (exec, eval, __import__, open, os.system,
  subprocess, ...) and, at import time, only what every module calls;
- holds the hostile text only inside string literals and comments;
- creates no sentinel file when imported, nor when its function is called.
Generated text is also deterministic (same input, same bytes, whatever the
hash seed) and opens with a header naming its source and the source's sha256.
"""
from __future__ import annotations

import ast
import hashlib
import io
import os
import subprocess
import sys
import tokenize
from pathlib import Path

os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported

import pytest  # noqa: E402
import torch  # noqa: E402

import patternc  # noqa: E402
from patternc import PatterncError  # noqa: E402
from patternc.loader import import_path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALLOWED_IMPORTS = {"math", "os", "collections", "torch", "triton", "triton.language"}
DANGEROUS_CALLS = {"exec", "eval", "compile", "__import__", "input", "breakpoint"}
# calls no module makes today; a template that starts to use one legitimately moves it out of here
UNEXPECTED_CALLS = {"open", "globals", "locals", "vars", "setattr", "delattr", "getattr", "print", "help", "exit",
                    "quit"}
DANGEROUS_ROOTS = {"subprocess", "importlib", "shutil", "socket", "pickle", "builtins", "sys", "ctypes", "pty"}
DANGEROUS_OS = {"system", "popen", "remove", "unlink", "rmdir", "removedirs", "rename", "replace", "kill", "fork",
                "putenv", "chdir", "chmod", "makedirs", "mkdir", "open", "write"}
STRING_TOKENS = {tokenize.STRING, tokenize.COMMENT} | {
    getattr(tokenize, name) for name in ("FSTRING_START", "FSTRING_MIDDLE", "FSTRING_END")  # Python 3.12
    if hasattr(tokenize, name)}



# ---------------------------------------------------------------------- the checks
def call_name(node: ast.Call) -> str:
    """'os.system' for os.system(...), 'exec' for exec(...), '' when not a plain chain."""
    func, parts = node.func, []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name):
        return ""
    parts.append(func.id)
    return ".".join(reversed(parts))


def import_time_calls(tree: ast.Module) -> set[str]:
    """Calls that run when the module is imported: at the top level, in
    decorators and in class bodies (not inside function bodies)."""
    found, stack = set(), list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            stack.extend(node.decorator_list)
            stack.extend(node.args.defaults + [d for d in node.args.kw_defaults if d is not None])
            continue
        if isinstance(node, ast.Lambda):
            continue
        if isinstance(node, ast.Call):
            found.add(call_name(node))
        stack.extend(ast.iter_child_nodes(node))
    return found


def code_only(text: str) -> str:
    """The module with every string literal and comment blanked out (offsets kept)."""
    lines = text.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    chars = list(text)
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type in STRING_TOKENS:
            begin = starts[tok.start[0] - 1] + tok.start[1]
            end = starts[tok.end[0] - 1] + tok.end[1]
            for n in range(begin, end):
                if chars[n] not in "\r\n":
                    chars[n] = " "
    return "".join(chars)


_BASELINE = {}


def baseline() -> dict:
    """What every generated module has: its import-time calls and its identifiers."""
    if not _BASELINE:
        text = patternc.compile_source("pattern a(w: int = 2) { mask window(w) | segments; score softcap(2.0) }\n"
                                       "pattern b() { mask blocks(4) { random(1) } }")
        tree = ast.parse(text)
        _BASELINE["calls"] = import_time_calls(tree)
        _BASELINE["all calls"] = {call_name(n) for n in ast.walk(tree) if isinstance(n, ast.Call)}
        _BASELINE["identifiers"] = identifiers(tree)
    return _BASELINE


def identifiers(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            found.add(node.id)
        elif isinstance(node, ast.arg):
            found.add(node.arg)
        elif isinstance(node, ast.Attribute):
            found.add(node.attr)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            found.add(node.name)
    return found


def assert_safe_module(text: str, markers=()) -> ast.Module:
    """The checks of the module docstring; `markers` are pieces of hostile text
    that may appear only inside strings and comments."""
    tree = ast.parse(text)  # a SyntaxError here: the input broke the module
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert {a.name for a in node.names} <= ALLOWED_IMPORTS, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            assert node.module in ALLOWED_IMPORTS and node.level == 0, ast.unparse(node)
        elif isinstance(node, ast.Call):
            name = call_name(node)
            root, _, rest = name.partition(".")
            assert name not in DANGEROUS_CALLS, f"call to {name}"
            assert name not in UNEXPECTED_CALLS - baseline()["all calls"], f"call to {name}"
            assert root not in DANGEROUS_ROOTS, f"call to {name}"
            assert not (root == "os" and rest.split(".")[-1] in DANGEROUS_OS), f"call to {name}"
    extra = import_time_calls(tree) - baseline()["calls"]
    assert not extra, f"calls at import time beyond every module's: {sorted(extra)}"
    for node in tree.body:  # top-level expressions: docstrings only
        if isinstance(node, ast.Expr):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), ast.unparse(node)
    defined = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
               if isinstance(t, ast.Name)]
    defined += [node.name for node in tree.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))]
    twice = {name for name in defined if defined.count(name) > 1}
    assert not twice, f"top-level names bound twice (one shadows the other): {sorted(twice)}"
    if markers:
        code = code_only(text)
        for marker in markers:
            assert marker not in code, f"{marker!r} reached the module's code"
    return tree


def generated(source: str, filename: str = "<injection>") -> str | None:
    """The module text, or None when the compiler gave diagnostics."""
    try:
        return patternc.compile_source(source, filename)
    except PatterncError as e:
        assert e.diagnostics and all(d.code.startswith("E0") for d in e.diagnostics)
        return None


def import_fresh(text: str, tmp_path: Path, name: str = "injected"):
    path = tmp_path / f"{name}.py"
    path.write_text(text, encoding="utf-8")
    module = import_path(path, f"patternc_test_{name}_{hashlib.sha256(text.encode()).hexdigest()[:12]}")
    return module


def call(fn):
    """Run a generated attention function once (the code a docstring could hide runs then)."""
    x = torch.randn(1, 1, 8, 16)
    assert fn(x, x, x).shape == x.shape


# ---------------------------------------------------------------------- names
HOSTILE_NAMES = (
    "__import__", "os", "sys", "exec", "eval", "compile", "open", "print", "getattr", "globals", "subprocess",
    "import", "class", "def", "lambda", "return", "yield", "None", "True", "False", "not", "is", "in", "async",
    "await", "match", "case", "type", "_", "__", "__init__", "__builtins__", "__name__", "__file__", "__all__",
    "self", "cls", "torch", "triton", "tl", "math", "OrderedDict", "PATTERNS", "SOURCE_SHA256", "_REQUIRED",
    "_check_inputs", "_rt_classify", "_q", "q", "k", "v", "params", "env", "out", "lse", "scale", "return_lse",
    "segments", "rotations", "a__env", "a__forward", "x__y", "s0", "f0", "valid", "group", "rand0_ptr",
    "range", "int", "float", "len", "object", "Exception", "super",
)
FIELDS = {
    "pattern": "pattern {n}() {{ mask causal }}",
    "param": "pattern a({n}: int = 3) {{ mask window({n}) }}",
    "float param": "pattern a({n}: float = 0.5) {{ mask causal; score decay({n}) }}",
    "let int": "pattern a() {{ let {n} = 2; mask window({n}) }}",
    "let mask": "pattern a() {{ let {n} = causal; mask {n} | sink(1) }}",
    "keyword": "pattern a() {{ mask random(1, 4, {n}=3) }}",
    "blocks keyword": "pattern a() {{ mask blocks(4) {{ random(1, {n}=1) }} }}",
    "tile entry": "pattern a() {{ tile {n}=16, kv=16; mask causal }}",
    "modifier": "pattern a() {{ mask causal; score {n} }}",
    "function": "pattern a() {{ mask {n}(p, j) > 0 }}",
    "called name": "pattern a() {{ mask window({n}(1)) }}",
}


COMBINED = {  # all the names a field accepted, in one file (one compile per field)
    "pattern": lambda names: "\n".join(f"pattern {n}() {{ mask causal }}" for n in names),
    "param": lambda names: f"pattern a({', '.join(f'{n}: int = 3' for n in names)}) {{ mask window({names[0]}) }}",
    "float param": lambda names: (f"pattern a({', '.join(f'{n}: float = 0.5' for n in names)}) "
                                  f"{{ mask causal; score decay({names[0]}) }}"),
    "let int": lambda names: ("pattern a() {\n" + "".join(f"let {n} = 2\n" for n in names)
                              + f"mask window({' + '.join(names)})\n}}"),
    "let mask": lambda names: ("pattern a() {\n" + "".join(f"let {n} = window(2)\n" for n in names)
                               + f"mask {' | '.join(names)}\n}}"),
}


def accepted_names(field: str) -> list[str]:
    """The hostile names a field takes: they pass the checker (which also holds
    the generated module's name rules)."""
    names = []
    for name in HOSTILE_NAMES:
        source = FIELDS[field].format(n=name)
        try:
            patternc.check_source(source)
        except PatterncError as e:
            assert all(d.code.startswith(("E01", "E02", "E03", "E04")) for d in e.diagnostics)
            continue
        names.append(name)
    return names


@pytest.mark.parametrize("field", FIELDS)
def test_hostile_names_in_every_field(field):
    names = accepted_names(field)
    if field in ("keyword", "blocks keyword", "modifier", "function", "called name"):
        assert names == []  # none of these names is a keyword, modifier or function
    elif field == "tile entry":
        assert names == ["q"]  # the one real tile entry among them
    else:
        assert names, field
        tree = assert_safe_module(generated(COMBINED[field](names)))
        if field == "pattern":
            assert set(names) <= {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}


def test_refused_names_get_the_name_diagnostics():
    for source, code in [("pattern exec() { mask causal }", "E0205"), ("pattern os() { mask causal }", "E0205"),
                         ("pattern a(exec: int = 1) { mask causal }", "E0205"),
                         ("pattern a(__import__: int = 1) { mask causal }", "E0205"),
                         ("pattern a(a__env: int = 1) { mask causal }", "E0205"),
                         ("pattern class() { mask causal }", "E0205")]:
        with pytest.raises(PatterncError) as info:
            patternc.compile_source(source)
        assert code in [d.code for d in info.value.diagnostics], source


def test_params_named_like_the_generated_functions_locals_work(tmp_path):
    # the generated function binds its params before it makes locals of these names
    names = ("q", "k", "v", "params", "env", "out", "lse", "config", "sm_scale", "B", "H_kv", "self", "group",
             "valid", "s0", "f0", "plan_for", "static_plan")
    params = ", ".join(f"{n}: int = 1" for n in names)
    source = f"pattern a({params}) {{ mask window(q, k) | sink(v) }}"
    text = generated(source)
    assert_safe_module(text)
    module = import_fresh(text, tmp_path, "locals")
    x = torch.randn(1, 1, 12, 16)
    values = {n: 1 for n in names} | {"q": 2, "k": 0, "v": 3}
    out = module.a(x, x, x, **values)
    mask = module.a.mask(12, 12, **values)[0]
    scores = (x[0, 0] @ x[0, 0].T / 4).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(out[0, 0], torch.softmax(scores, -1) @ x[0, 0], atol=1e-4, rtol=1e-4)


def test_let_names_never_reach_the_module():
    for name in ("exec", "__import__", "subprocess", "open", "evil_name", "os"):
        for source in (f"pattern a() {{ let {name} = 2; mask window({name}) }}",
                       f"pattern a() {{ let {name} = causal; mask {name} }}"):
            tree = assert_safe_module(generated(source))
            assert name not in identifiers(tree) - baseline()["identifiers"]


# ---------------------------------------------------------------------- comments
def sentinel_code(path: Path) -> str:
    return f"open(r'{path}', 'w').write('pwned')"


def comment_payloads(sentinel: Path) -> dict:
    code = sentinel_code(sentinel)
    return {
        "triple double quotes": f'""" ; {code} ; """',
        "triple single quotes": f"''' ; {code} ; '''",
        "escaped quotes": f'\\""" ; {code} ; x = """',
        "jinja expression": "{{ 7 * 7 }} {{ config }} {% raw %}",
        "jinja statement": "{% for x in range(3) %}X{% endfor %} {# c #}",
        "format braces": "{0} {__import__} %s %(x)s",
        "python comment of code": f"import os; {code}",
        "backslash at the end": "ends with a backslash \\",
        "backslash N": "\\N oops",
        "backslash u": "\\u12 oops",
        "backslash x": "\\x4 oops",
        "carriage return": f"x\r{code}",
        "NUL": "nul \x00 here",
        "line separators": f"a\u2028{code}\u2029b\x85c\x0c",
        "bidi override": "\u202e}\u2066 mask full \u2069",
        "coding cookie": "-*- coding: latin-1 -*-",
    }


PLACES = {
    "inside the pattern": "pattern a() {{\n    # {c}\n    mask causal  # {c}\n}}\n",
    "before the pattern": "# {c}\npattern a() {{ mask causal }}\n# {c}\n",
}


def _comment_cases():
    for place in PLACES:
        for name in comment_payloads(Path("/x")):
            yield pytest.param(place, name, id=f"{place}-{name}")


@pytest.mark.parametrize("place,payload", list(_comment_cases()))
def test_comments_stay_comments(place, payload, tmp_path):
    sentinel = tmp_path / "sentinel"
    comment = comment_payloads(sentinel)[payload]
    source = PLACES[place].format(c=comment)
    text = generated(source)
    if text is None:  # the lexer refused a character of it (NUL, U+2028, bidi controls)
        return
    assert_safe_module(text, markers=(str(sentinel), "pwned"))
    assert "49" not in code_only(text).split("PATTERNS", 1)[0]  # jinja did not evaluate `{{ 7 * 7 }}`
    module = import_fresh(text, tmp_path)
    assert not sentinel.exists()
    if place == "inside the pattern":  # the pattern's text is kept verbatim, as data
        assert module.a.source == source[:source.rindex("}") + 1]
        call(module.a)
        assert not sentinel.exists()


# ---------------------------------------------------------------------- file names
def filename_payloads(sentinel: Path) -> dict:
    code = sentinel_code(sentinel)
    return {
        "newline and code": f"x.attn\n{code}\n#",
        "carriage return and code": f"x.attn\r{code}\r#",
        "triple quotes": f'x""" ; {code} ; """.attn',
        "backslash N": "dir\\Name.attn",
        "quotes": "it's \"here\".attn",
        "jinja": "{{ 7 * 7 }}.attn",
        "unicode": "ünïcödé ☃.attn",
        "coding cookie": "x -*- coding: latin-1 -*-.attn",
    }


@pytest.mark.parametrize("payload", [
    pytest.param(name)
    for name in filename_payloads(Path("/x"))])
def test_file_names_stay_text(payload, tmp_path):
    sentinel = tmp_path / "sentinel"
    filename = filename_payloads(sentinel)[payload]
    text = generated("pattern a() { mask causal }", filename)
    assert_safe_module(text, markers=(str(sentinel), "pwned"))
    call(import_fresh(text, tmp_path).a)
    assert not sentinel.exists()


# ---------------------------------------------------------------------- numbers and lookalikes
NUMBERS = ("1e5", "0x10", "0o7", "0b1", "1_000", "1j", "1e5j", "5.", ".5", "1__0", "00012", "0012.5", "1e-400",
           "1e308", "9" * 30, "１２", "٣", "1.0e+3", "1E3", "0e0", "inf", "nan", "NaN", "-0", "+1")


@pytest.mark.parametrize("number", NUMBERS)
def test_numbers_written_as_python_would(number):
    for template in ("pattern a() {{ mask window({x}) }}", "pattern a() {{ mask causal; score softcap({x}) }}",
                     "pattern a(w: float = {x}) {{ mask causal; score decay(w) }}",
                     "pattern a() {{ mask p - j == {x} }}"):
        text = generated(template.format(x=number))
        if text is not None:
            tree = assert_safe_module(text)
            for node in ast.walk(tree):  # a number reaches the module only as a real int or float
                if isinstance(node, ast.Constant):
                    assert not isinstance(node.value, complex)


def test_numbers_reach_the_module_as_their_values():
    text = generated("pattern a(w: int = 00012, g: float = 0012.5) { mask window(w) | sink(1000) }")
    assert "('w', 'int', 12)" in text and "('g', 'float', 12.5)" in text


LOOKALIKES = {
    "fullwidth keyword": "ｐattern a() { mask causal }",
    "cyrillic a": "pattern a() { mask cаusal }",
    "greek omicron": "pattern a() { mask causal | gl\u03bfbal(2) }",
    "fullwidth brackets": "pattern a（） { mask causal }",
    "zero-width space": "pattern a() { mask ca\u200busal }",
    "no-break space": "pattern a() {\u00a0mask causal }",
    "mathematical letters": "pattern 𝐚() { mask causal }",
    "accented name": "pattern caf\u00e9() { mask causal }",
    "combining accent": "pattern cafe\u0301() { mask causal }",
    "unicode minus": "pattern a() { mask window(\u22121) }",
    "smart quotes": "pattern a() { mask \u201ccausal\u201d }",
}


@pytest.mark.parametrize("name", LOOKALIKES)
def test_unicode_lookalikes_are_unknown_characters(name):
    with pytest.raises(PatterncError) as info:
        patternc.compile_source(LOOKALIKES[name])
    assert "E0101" in [d.code for d in info.value.diagnostics]


# ---------------------------------------------------------------------- determinism and header
def example_sources() -> dict:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples").glob("*.attn"))}


def test_generated_source_is_deterministic():
    for name, source in example_sources().items():
        first, second = generated(source, name), generated(source, name)
        assert first == second, name


def test_generated_source_does_not_depend_on_the_hash_seed():
    script = ("import hashlib, pathlib, patternc\n"
              "for p in sorted(pathlib.Path('examples').glob('*.attn')):\n"
              "    try:\n"
              "        text = patternc.compile_source(p.read_text(), p.name)\n"
              "    except patternc.PatterncError:\n"
              "        text = 'diagnostics'\n"
              "    print(p.name, hashlib.sha256(text.encode()).hexdigest())\n")
    outputs = []
    for seed in ("0", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed, PYTHONPATH=str(ROOT))
        run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
        assert run.returncode == 0, run.stderr
        outputs.append(run.stdout)
    assert outputs[0] == outputs[1] and outputs[0].count("\n") >= 1


def test_header_names_the_source_and_its_hash():
    source = "# a comment\npattern a() { mask causal }\n"
    text = generated(source, "dir/file.attn")
    digest = hashlib.sha256(source.encode()).hexdigest()
    first = text.splitlines()[0]
    assert first == f"# Generated by patternc {patternc.__version__} from dir/file.attn (sha256 {digest})."
    assert f'SOURCE_SHA256 = "{digest}"' in text
    assert generated(source + " ", "dir/file.attn").splitlines()[0] != first
