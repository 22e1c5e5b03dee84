"""Source text to syntax tree (`syntax.File`), or a PatterncError with every
syntax problem found (codes E01xx).

    source --lex--> tokens --_separators--> tokens --LALR + _Builder--> syntax.File

The grammar is `grammar/attn.lark`. Three pieces around lark:

- lexing restarts after an unknown character, so every bad character is reported;
- `_separators` decides which newlines end statements (the grammar's comment says how);
- `_Recovery` feeds the tokens to lark's interactive LALR parser and, after an
  error, restores a snapshot taken at the start of the current statement (or
  pattern) and skips to the next one, so one file reports several errors.

The tree is built by callbacks at each reduction, never by recursion, so any
nesting parses; expressions deeper than MAX_NESTING are reported instead
(later stages walk trees recursively).

This module is longer than ~400 lines because the error messages, the part
users read, live next to the recovery that produces them.
"""
from __future__ import annotations

import dataclasses
import math
import re
from functools import lru_cache
from typing import NamedTuple

from lark import Lark, TextSlice, Token
from lark.exceptions import UnexpectedCharacters, UnexpectedToken

from . import syntax
from .diagnostics import Diagnostic, PatterncError, Span
from .resources import read_text

MAX_NESTING = 200  # levels of brackets, and of expression trees: deeper is a diagnostic
MAX_INT_DIGITS = 1000
MAX_ERRORS = 50

STATEMENT_KEYWORDS = frozenset({"MASK", "LET", "REQUIRE", "SCORE", "HEADS", "TILE"})
KEYWORDS = STATEMENT_KEYWORDS | {"PATTERN", "BLOCKS", "INT_TYPE", "FLOAT_TYPE"}
COMPARISONS = frozenset({"EQ", "NE", "LT", "LE", "GT", "GE"})
BINARY_OPS = COMPARISONS | {"BAR", "AMP", "PLUS", "MINUS", "STAR", "SLASHSLASH", "PERCENT"}
# a newline after any other token, or before one of CONTINUES, does not end a statement
ENDS_OPERAND = frozenset({"NAME", "INT", "FLOAT", "RPAR", "RSQB", "RBRACE", "INT_TYPE", "FLOAT_TYPE"})
CONTINUES = BINARY_OPS | {"COMMA", "DOTDOT", "EQUAL", "COLON", "RPAR", "RSQB", "LBRACE"}
CLOSERS = {"(": ")", "[": "]", "{": "}"}
OPENERS = frozenset({"LPAR", "LSQB", "LBRACE"})


def parse(source: str, filename: str = "<string>") -> syntax.File:
    """The syntax tree of `source`, or PatterncError listing its syntax errors."""
    not_unicode = _lone_surrogates(source)
    if not_unicode:  # no later stage could encode (hash, write) this text, even in a comment
        raise PatterncError(not_unicode, _SURROGATE.sub("\ufffd", source), filename)
    try:
        tokens, problems = _lex(source)
        tree, errors = _Recovery(tokens).run()
    except Exception as e:  # a parser bug must still end in a diagnostic, never a traceback
        internal = Diagnostic("E0199", f"internal error in the parser ({type(e).__name__}: {e})",
                              Span(1, 1, 1, 1, 0, 0), ("please report this with the file",))
        raise PatterncError([internal], source, filename) from e
    if len(problems) < MAX_ERRORS:  # else lexing stopped early and the parser saw half a file
        lexed_lines = {d.span.line for d in problems}
        problems += [d for d in errors if d.span.line not in lexed_lines]  # skip knock-on errors
    if problems:
        problems.sort(key=lambda d: (d.span.line, d.span.column))
        raise PatterncError(problems[:MAX_ERRORS], source, filename)
    return tree


@lru_cache(maxsize=1)
def _lark() -> Lark:
    return Lark(read_text("grammar", "attn.lark"), parser="lalr", lexer="basic",
                propagate_positions=True, maybe_placeholders=True, transformer=_Builder())


# ---------------------------------------------------------------------- lexing
def _lex(source: str) -> tuple[_Tokens, list[Diagnostic]]:
    """All tokens, restarting after each unknown character; then separators filtered."""
    tokens, problems, pos = [], [], 0
    while True:
        try:
            tokens.extend(_lark().lex(TextSlice(source, pos, len(source))))
            break
        except UnexpectedCharacters as e:
            problems.append(_unknown_character(source, e))
            pos = e.pos_in_stream + 1
            if len(problems) >= MAX_ERRORS:
                break
    return _separators(tokens), problems


def _unknown_character(source: str, e: UnexpectedCharacters) -> Diagnostic:
    pos, char = e.pos_in_stream, source[e.pos_in_stream]
    span = Span(e.line, e.column, e.line, e.column + 1, pos, pos + 1)
    before, after = source[pos - 1:pos], source[pos + 1:pos + 2]
    if char == "." and before.isdigit():
        return Diagnostic("E0101", "a '.' in a number must be followed by a digit", span,
                          (f"write '{_digits(source, pos, -1)}.0'",))
    if char == "." and after.isdigit():
        return Diagnostic("E0101", "a number cannot start with '.'", span,
                          (f"write '0.{_digits(source, pos + 1, 1)}'",))
    if char == "/":
        return Diagnostic("E0101", "unknown operator '/'", span, ("floor division is written '//'",))
    notes = ()
    if char.isalpha():
        notes = ("names use only ASCII letters, digits and '_'",)
    return Diagnostic("E0101", f"unknown character {_show_char(char)}", span, notes)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _lone_surrogates(source: str) -> list[Diagnostic]:
    """Code points U+D800..U+DFFF: text decoded with errors='surrogateescape'."""
    problems = []
    for match in _SURROGATE.finditer(source):
        pos = match.start()
        line = source.count("\n", 0, pos) + 1
        column = pos - source.rfind("\n", 0, pos)
        span = Span(line, column, line, column + 1, pos, pos + 1)
        note = "the text is not valid Unicode (a lone surrogate, from bytes that are not UTF-8)"
        problems.append(Diagnostic("E0101", f"unknown character {_show_char(match.group())}", span, (note,)))
        if len(problems) >= MAX_ERRORS:
            break
    return problems


def _digits(source: str, pos: int, step: int) -> str:
    """The (up to 20) digits before `pos` (step -1) or from `pos` on (step 1)."""
    if step < 0:
        start = pos
        while start > 0 and source[start - 1].isdigit() and pos - start < 20:
            start -= 1
        return source[start:pos]
    end = pos
    while end < len(source) and source[end].isdigit() and end - pos < 20:
        end += 1
    return source[pos:end]


def _show_char(char: str) -> str:
    code = f"U+{ord(char):04X}"
    if char.isprintable() and not char.isspace() and char.isascii():
        return f"'{char}'"
    if char.isprintable() and not char.isspace():
        return f"'{char}' ({code})"
    return code


class _Tokens(NamedTuple):
    tokens: list[Token]       # what the parser sees, ending with $END
    blocks_braces: frozenset  # indices of the '{' that open `blocks(...) { ... }` bodies


def _separators(raw: list[Token]) -> _Tokens:
    """Keep a separator (newline or ';') only where it can end a statement; end with $END."""
    out: list[Token] = []
    opened: list[str] = []  # '(' '[' '{' (a body), 'b(' 'b{' (blocks)
    blocks_braces, closed_blocks, pending = set(), False, None
    for tok in raw:
        if tok.type == "_SEP":
            if pending is None or (pending.value == "\n" and tok.value == ";"):
                pending = tok if len(tok) == 1 else _first_line_end(tok)
            continue
        if pending is not None:
            if _keeps_separator(out[-1] if out else None, pending, tok, opened):
                out.append(pending)
            pending = None
        if tok.type == "LBRACE" and closed_blocks:
            blocks_braces.add(len(out))
        closed_blocks = _track_brackets(opened, tok, out[-1] if out else None, closed_blocks)
        out.append(tok)
    out.append(_end_token(out[-1] if out else None))
    return _Tokens(out, frozenset(blocks_braces))


def _first_line_end(run: Token) -> Token:
    """The first line end of a run of them (blank lines lex as one token): the
    separator the parser and its diagnostics see, as if lexed alone."""
    return Token("_SEP", "\n", start_pos=run.start_pos, line=run.line, column=run.column,
                 end_line=run.line, end_column=run.column + 1, end_pos=run.start_pos + 1)


def _keeps_separator(prev, sep, nxt, opened) -> bool:
    if prev is None or prev.type == "LBRACE" or nxt.type == "RBRACE":
        return False
    if nxt.type in STATEMENT_KEYWORDS or nxt.type == "PATTERN":
        return True  # even inside brackets: the statement before is unfinished, say so there
    if sep.value == ";":
        return True
    if opened and opened[-1] != "{":
        return False
    return prev.type in ENDS_OPERAND and nxt.type not in CONTINUES


def _track_brackets(opened: list[str], tok: Token, prev, closed_blocks: bool) -> bool:
    """Update the open brackets; True when `tok` is the ')' of `blocks(...)`."""
    kind = tok.type
    if kind == "LPAR":
        opened.append("b(" if prev is not None and prev.type == "BLOCKS" else "(")
    elif kind == "LSQB":
        opened.append("[")
    elif kind == "LBRACE":
        opened.append("b{" if closed_blocks else "{")
    elif kind in ("RPAR", "RSQB", "RBRACE"):
        want = {"RPAR": ("(", "b("), "RSQB": ("[",), "RBRACE": ("{", "b{")}[kind]
        for i in range(len(opened) - 1, -1, -1):
            if opened[i] in want:
                closes_blocks = opened[i] == "b("
                del opened[i:]
                return closes_blocks
            if opened[i] in ("{", "b{"):  # a ')' or ']' never closes past a brace
                break
    elif kind in STATEMENT_KEYWORDS:  # cannot be inside brackets: forget the unclosed ones
        while opened and opened[-1] != "{":
            opened.pop()
    elif kind == "PATTERN":
        opened.clear()
    return False


def _end_token(last) -> Token:
    if last is None:
        return Token("$END", "", 0, 1, 1, 1, 1, 0)
    return Token("$END", "", last.end_pos, last.end_line, last.end_column, last.end_line, last.end_column,
                 last.end_pos)


# ----------------------------------------------------------------- recovery
class _Snapshot(NamedTuple):
    parser: object  # lark InteractiveParser, never fed: restored by copying
    opened: tuple   # the driver's open brackets at that point


class _Opened(NamedTuple):
    token: Token
    kind: str  # '(' '[' 'body' 'blocks'
    label: str


class _Problem(Exception):
    """Raised by a _Builder callback: a syntax error found while building a node."""

    def __init__(self, code: str, message: str, span: Span, *notes: str):
        super().__init__(message)
        self.diagnostic = Diagnostic(code, message, span, notes)


class _Recovery:
    """Feeds tokens to the LALR parser; after an error, resumes at the next statement."""

    def __init__(self, tokens: _Tokens):
        self.tokens, self.blocks_braces = tokens
        self.errors: list[Diagnostic] = []
        self.parser = _lark().parse_interactive()
        self.opened: list[_Opened] = []
        self.bodies = 0  # how many of `opened` are bodies
        self.snapshots = [self._snapshot()]  # [top level, then one per open body]
        self.pattern_name = ""
        self.resumed_at = -1

    def run(self) -> tuple[syntax.File | None, list[Diagnostic]]:
        i, result = 0, None
        while i < len(self.tokens) and len(self.errors) < MAX_ERRORS:
            tok = self.tokens[i]
            try:
                if tok.type in OPENERS and len(self.opened) >= MAX_NESTING:
                    raise _Problem("E0106", f"brackets nested too deeply (more than {MAX_NESTING} levels)",
                                   _token_span(tok), "name parts of it with `let`")
                result = self.parser.feed_token(tok)
            except (UnexpectedToken, _Problem) as e:
                if i == self.resumed_at:  # a knock-on error where we resumed: skip that token
                    i = self._resync(i + 1)
                    continue
                error = _diagnose(e, self._accepted(e), self.tokens, i, self.opened)
                self.errors.append(error)
                # a keyword misused as a name is skipped; other tokens may start the next statement
                i = self._resync(i + (error.code == "E0108"))
                continue
            self._advance(tok)
            i += 1
        return result, self.errors

    def _accepted(self, e) -> frozenset:
        """The tokens the parser could take where it failed: exact, unlike the LALR
        table's merged lookahead sets (`e.expected`)."""
        if not isinstance(e, UnexpectedToken):
            return frozenset()
        try:
            return frozenset(self.parser.accepts())
        except Exception:  # lark internals: fall back to the table's set
            return frozenset(e.expected)

    def _snapshot(self) -> _Snapshot:
        return _Snapshot(self.parser.copy(deepcopy_values=False), tuple(self.opened))

    def _advance(self, tok: Token) -> None:
        """Track open brackets and take snapshots where a statement or pattern may start."""
        kind, choices = tok.type, self.parser.choices()
        if kind == "NAME" and self._previous_was("PATTERN"):
            self.pattern_name = tok.value
        if kind in ("LPAR", "LSQB"):
            self.opened.append(_Opened(tok, tok.value, f"the '{tok.value}'"))
        elif kind == "LBRACE" and "MASK" in choices:
            label = f"pattern '{self.pattern_name}'" if self.bodies == 0 else "the 'heads' block"
            self.opened.append(_Opened(tok, "body", label))
            self.bodies += 1
            self.snapshots.append(self._snapshot())
        elif kind == "LBRACE":
            self.opened.append(_Opened(tok, "blocks", "the 'blocks' body"))
        elif kind in ("RPAR", "RSQB", "RBRACE") and self.opened:
            if self.opened.pop().kind == "body":
                self.bodies -= 1
                self.snapshots.pop()
        if kind in ("_SEP", "RBRACE") and not self.opened and "PATTERN" in choices:
            self.snapshots[0] = self._snapshot()
        elif kind == "_SEP" and "MASK" in choices:
            self.snapshots[-1] = self._snapshot()

    def _previous_was(self, kind: str) -> bool:
        stack = self.parser.parser_state.value_stack
        return len(stack) >= 2 and isinstance(stack[-2], Token) and stack[-2].type == kind

    def _resync(self, i: int) -> int:
        """Restore the innermost snapshot and return where to go on feeding tokens."""
        level = len(self.snapshots) - 1
        since = self.opened[len(self.snapshots[level].opened):]  # opened after the snapshot
        bodies = sum(o.kind == "body" for o in since)
        blocks = sum(o.kind == "blocks" for o in since)  # a '}' closes these first
        for k in range(i, len(self.tokens)):
            kind = self.tokens[k].type
            if kind == "$END":
                break
            if kind == "PATTERN":
                return self._restore(0, k)
            if bodies == 0 and level > 0 and kind in STATEMENT_KEYWORDS:
                return self._restore(level, k)
            if bodies == 0 and kind == "_SEP":
                return self._restore(level, k + 1)
            if kind == "LBRACE":
                if k in self.blocks_braces:
                    blocks += 1
                else:
                    bodies += 1
            elif kind == "RBRACE" and blocks > 0:
                blocks -= 1
            elif kind == "RBRACE" and bodies > 0:
                bodies -= 1
            elif kind == "RBRACE" and level > 0:
                return self._restore(level, k)
        return len(self.tokens)

    def _restore(self, level: int, resume: int) -> int:
        snapshot = self.snapshots[level]
        self.parser = snapshot.parser.copy(deepcopy_values=False)
        self.opened = list(snapshot.opened)
        self.bodies = sum(o.kind == "body" for o in self.opened)
        del self.snapshots[level + 1:]
        self.resumed_at = resume
        return resume


# ------------------------------------------------------------------ messages
def _diagnose(e, expected: frozenset, tokens: list[Token], i: int, opened: list[_Opened]) -> Diagnostic:
    """A diagnostic for a parse error at tokens[i], worded for the likely mistake."""
    if isinstance(e, _Problem):
        return e.diagnostic
    tok = e.token
    prev = next((tokens[k] for k in range(i - 1, -1, -1) if tokens[k].type != "_SEP"), None)
    # something missing at the end of a line is shown there, not at the next line's start
    missing_at_end = tok.type == "$END" or tok.value == "\n" or (
        prev is not None and tok.line > prev.end_line and tok.type in ("RPAR", "RSQB", "RBRACE"))
    here = _after(prev) if missing_at_end else _token_span(tok)
    top = opened[-1] if opened else None
    if tok.type in COMPARISONS and _follows_comparison(e.state.value_stack):
        return Diagnostic("E0105", "comparisons cannot be chained; add parentheses", here,
                          ("to test a range, write `lo <= x & x < hi`",))
    if tok.type in KEYWORDS and "NAME" in expected and "INT" not in expected:
        return Diagnostic("E0108", f"'{tok.value}' is a keyword and cannot be used as a name", here)
    if top is not None and _is_unclosed(top, tok, expected):
        where = f"line {top.token.line}" + (f", column {top.token.column}" if top.kind != "body" else "")
        return Diagnostic("E0103", f"missing '{CLOSERS[top.token.value]}' to close {top.label} opened at {where}",
                          _after(prev))
    if tok.type in ("RPAR", "RSQB", "RBRACE") and not any(CLOSERS[o.token.value] == tok.value for o in opened):
        return Diagnostic("E0104", f"unmatched '{tok.value}'", here)
    if (tok.type in STATEMENT_KEYWORDS or tok.type == "PATTERN") and "_SEP" in expected:
        return Diagnostic("E0110", f"expected a new line or ';' before '{tok.value}'", here)
    return Diagnostic("E0102", f"expected {_expected_words(expected)}, found {_describe(tok)}", here,
                      _hints(tok, prev, expected))


def _is_unclosed(top: _Opened, tok: Token, expected: set) -> bool:
    closer = {"(": "RPAR", "[": "RSQB", "{": "RBRACE"}[top.token.value]
    if closer not in expected:
        return False
    if top.kind == "body":  # a statement keyword is fine there: only a new pattern or the end
        return tok.type in ("$END", "PATTERN")
    return tok.type in ("$END", "PATTERN", "_SEP", "RPAR", "RSQB", "RBRACE") or tok.type in STATEMENT_KEYWORDS


def _follows_comparison(value_stack) -> bool:
    return any(isinstance(v, Token) and v.type in COMPARISONS for v in value_stack[-3:])


def _expected_words(expected: set) -> str:
    words = []
    if "INT" in expected:
        words.append("an expression")
    elif "NAME" in expected:
        words.append("a name")
    if expected & (BINARY_OPS - {"MINUS"}):
        words.append("an operator")
    if expected & STATEMENT_KEYWORDS:
        words.append("a statement (mask, let, require, score, heads, tile)")
    if "INT_TYPE" in expected:
        words.append("a type ('int' or 'float')")
    if "PATTERN" in expected:
        words.append("'pattern'")
    punctuation = {"LPAR": "(", "COLON": ":", "EQUAL": "=", "DOTDOT": "..", "COMMA": ",",
                   "LBRACE": "{", "RPAR": ")", "RSQB": "]", "RBRACE": "}"}
    for kind, text in punctuation.items():
        if kind in expected and not (kind == "LPAR" and words):
            words.append(f"'{text}'")
    if "_SEP" in expected and not expected & STATEMENT_KEYWORDS and "PATTERN" not in expected:
        if "'}'" in words:  # a new line is the usual fix
            words.remove("'}'")
        words.append("a new line")
    if not words:
        words.append("end of file" if "$END" in expected else "something else")
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def _describe(tok: Token) -> str:
    value = tok.value if len(tok.value) <= 24 else tok.value[:21] + "..."
    if tok.type == "$END":
        return "end of file"
    if tok.type == "_SEP":
        return "end of line" if value == "\n" else "';'"
    if tok.type == "NAME":
        return f"name '{value}'"
    if tok.type in ("INT", "FLOAT"):
        return f"number {value}"
    if tok.type in KEYWORDS:
        return f"keyword '{value}'"
    return f"'{value}'"


def _hints(tok: Token, prev, expected: set) -> tuple[str, ...]:
    if tok.type == "EQUAL" and "EQ" in expected:
        return ("compare with '=='",)
    if prev is not None and tok.type in ("AMP", "BAR") and prev.type == tok.type:
        return (f"'{tok.value * 2}' is written '{tok.value}'",)
    if tok.type == "LPAR" and prev is not None and prev.type in KEYWORDS - {"BLOCKS"}:
        return (f"'{prev.value}' is a keyword, not a function",)
    return ()


def _token_span(tok: Token) -> Span:
    return Span(tok.line, tok.column, tok.end_line, tok.end_column, tok.start_pos, tok.end_pos)


def _after(tok) -> Span:
    """Just past `tok`: where something missing should have been."""
    if tok is None:
        return Span(1, 1, 1, 2, 0, 0)
    return Span(tok.end_line, tok.end_column, tok.end_line, tok.end_column + 1, tok.end_pos, tok.end_pos)


# ------------------------------------------------------------------ building
class _Seq(NamedTuple):
    """A list under construction: (earlier items, last item); never mutated."""

    before: "_Seq | None"
    item: object


def _items(seq) -> tuple:
    out = []
    while seq is not None:
        out.append(seq.item)
        seq = seq.before
    return tuple(reversed(out))


class _Body(NamedTuple):
    stmts: tuple
    close: Token


def _span(first, last) -> Span:
    a = first.span if not isinstance(first, Token) else _token_span(first)
    b = last.span if not isinstance(last, Token) else _token_span(last)
    return a.to(b)


def _children(node) -> tuple:
    if isinstance(node, syntax.Unary):
        return (node.operand,)
    if isinstance(node, syntax.Binary):
        return (node.left, node.right)
    if isinstance(node, syntax.Call):
        return node.args + tuple(k.value for k in node.kwargs)
    if isinstance(node, syntax.ListLit):
        return node.items
    if isinstance(node, syntax.Blocks):
        return (node.size, node.body)
    return ()


def _shallow(*exprs):
    """The expressions back, or _Problem if one nests deeper than MAX_NESTING (iterative walk)."""
    for expr in exprs:
        stack = [(expr, 1)]
        while stack:
            node, depth = stack.pop()
            if depth > MAX_NESTING:
                raise _Problem("E0106", f"expression nested too deeply (more than {MAX_NESTING} levels)",
                               expr.span, "name parts of it with `let`")
            stack.extend((child, depth + 1) for child in _children(node))
    return exprs[0] if len(exprs) == 1 else exprs


class _Builder:
    """lark callbacks, one per rule or alias, run at each LALR reduction."""

    def file(self, c):
        patterns = _items(c[0]) if c else ()
        span = _span(patterns[0], patterns[-1]) if patterns else Span(1, 1, 1, 1, 0, 0)
        return syntax.File(patterns, span=span)

    def first(self, c):
        return _Seq(None, c[0])

    def append(self, c):
        return _Seq(c[0], c[-1])

    def pattern(self, c):
        keyword, name, body = c[0], c[1], c[-1]
        params = c[3] if len(c) == 6 else ()
        return syntax.Pattern(name.value, params, body.stmts, span=_span(keyword, body.close),
                              name_span=_token_span(name))

    def params(self, c):
        return _items(c[0])

    def param(self, c):
        name, kind, default = c
        if default is not None:
            _shallow(default)
        return syntax.Param(name.value, kind.value, default, span=_span(name, default or kind))

    def body(self, c):
        return _Body(_items(c[1]) if len(c) == 3 else (), c[-1])

    def mask(self, c):
        return syntax.Mask(_shallow(c[1]), span=_span(c[0], c[1]))

    def let(self, c):
        keyword, name, value = c
        return syntax.Let(name.value, _shallow(value), span=_span(keyword, value), name_span=_token_span(name))

    def require(self, c):
        return syntax.Require(_shallow(c[1]), span=_span(c[0], c[1]))

    def score(self, c):
        modifiers = _items(c[1])
        _shallow(*modifiers)
        return syntax.Score(modifiers, span=_span(c[0], modifiers[-1]))

    def heads(self, c):
        keyword, start, stop, body = c
        _shallow(start, stop)
        return syntax.Heads(start, stop, body.stmts, span=_span(keyword, body.close))

    def tile(self, c):
        entries = _items(c[1])
        return syntax.Tile(entries, span=_span(c[0], entries[-1]))

    def keyword(self, c):
        name, value = c
        return syntax.Keyword(name.value, value, span=_span(name, value))

    def binary(self, c):
        left, op, right = c
        return syntax.Binary(op.value, left, right, span=_span(left, right))

    def unary(self, c):
        op, operand = c
        return syntax.Unary(op.value, operand, span=_span(op, operand))

    def int_lit(self, c):
        tok = c[0]
        if len(tok.value) > MAX_INT_DIGITS:
            raise _Problem("E0109", f"integer literal has more than {MAX_INT_DIGITS} digits", _token_span(tok))
        return syntax.IntLit(int(tok.value), span=_token_span(tok))

    def float_lit(self, c):
        tok = c[0]
        value = float(tok.value)
        if math.isinf(value):
            raise _Problem("E0109", f"number {_describe(tok)[7:]} is too large for a float", _token_span(tok))
        return syntax.FloatLit(value, span=_token_span(tok))

    def name(self, c):
        return syntax.Name(c[0].value, span=_token_span(c[0]))

    def call(self, c):
        name, _, args, close = c
        positional, keywords = [], []
        for arg in args or ():
            if isinstance(arg, syntax.Keyword):
                keywords.append(arg)
            elif keywords:
                raise _Problem("E0107", "positional argument after a keyword argument", arg.span,
                               f"put it before '{keywords[0].name}='")
            else:
                positional.append(arg)
        return syntax.Call(name.value, tuple(positional), tuple(keywords), span=_span(name, close),
                           func_span=_token_span(name))

    def args(self, c):
        return _items(c[0])

    def items(self, c):
        return _items(c[0])

    def list_lit(self, c):
        return syntax.ListLit(c[1] or (), span=_span(c[0], c[2]))

    def blocks(self, c):
        keyword, size, body, close = c[0], c[2], c[5], c[6]
        return syntax.Blocks(size, body, span=_span(keyword, close))

    def paren(self, c):
        return dataclasses.replace(c[1], span=_span(c[0], c[2]))
