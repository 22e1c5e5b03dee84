"""Diagnostics as data: every problem carries a code, a span and a message.

Stages collect diagnostics and raise them together as one `PatterncError`, so a
user sees every problem in a file at once, rendered as

    FILE:LINE:COL: error[E0302]: MESSAGE
        mask window(w) | glbal(g)
                         ^
    note: did you mean 'global'?

Codes are stable per stage: E01xx syntax, E02xx names, E03xx kinds and arity,
E04xx values, E05xx structure (mask count, heads), E06xx call-time checks.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

MAX_SHOWN = 50  # "... and N more" past this many


@dataclass(frozen=True)
class Span:
    """A region of source text; lines and columns count from 1, offsets from 0."""

    line: int
    column: int
    end_line: int
    end_column: int
    start: int = 0
    end: int = 0

    @staticmethod
    def unknown() -> "Span":
        return Span(0, 0, 0, 0, 0, 0)

    def to(self, other: "Span") -> "Span":
        """The span from the start of self to the end of other."""
        return Span(self.line, self.column, other.end_line, other.end_column, self.start, other.end)


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    notes: tuple[str, ...] = ()
    severity: str = "error"

    def render(self, source: str | None = None, filename: str = "<string>") -> str:
        line, col = self.span.line, self.span.column
        head = f"{filename}:{line}:{col}: {self.severity}[{self.code}]: {self.message}"
        parts = [head]
        if source is not None and line >= 1:
            # split on "\n" only: the lexer counts lines that way (splitlines would
            # also break at \x0c, \u2028 and others, putting the caret on the wrong line)
            lines = [ln[:-1] if ln.endswith("\r") else ln for ln in source.split("\n")]
            if line <= len(lines):
                text = lines[line - 1].expandtabs(1)
                parts.append("    " + text)
                width = 1
                if self.span.end_line == line and self.span.end_column > col:
                    width = self.span.end_column - col
                width = max(1, min(width, len(text) - col + 2))
                parts.append("    " + " " * (col - 1) + "^" + "~" * (width - 1))
        parts.extend(f"    note: {n}" for n in self.notes)
        return "\n".join(parts)


class PatterncError(Exception):
    """One or more diagnostics about a source file, raised once a stage has collected them."""

    def __init__(self, diagnostics, source: str | None = None, filename: str = "<string>"):
        self.diagnostics = tuple(diagnostics)
        self.source = source
        self.filename = filename
        super().__init__(self.render())

    def render(self) -> str:
        shown = [d.render(self.source, self.filename) for d in self.diagnostics[:MAX_SHOWN]]
        extra = len(self.diagnostics) - MAX_SHOWN
        if extra > 0:
            shown.append(f"... and {extra} more")
        return "\n".join(shown)

    def with_source(self, source: str, filename: str) -> "PatterncError":
        return PatterncError(self.diagnostics, source, filename)


class Collector:
    """Gathers diagnostics during a pass; `raise_if_any` ends the pass with all of them."""

    def __init__(self):
        self.diagnostics: list[Diagnostic] = []

    def error(self, code: str, message: str, span: Span, *notes: str) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, tuple(n for n in notes if n)))

    def raise_if_any(self, source: str | None = None, filename: str = "<string>") -> None:
        if self.diagnostics:
            ordered = sorted(self.diagnostics, key=lambda d: (d.span.line, d.span.column))
            raise PatterncError(ordered, source, filename)


def suggest(name: str, known) -> str:
    """A 'did you mean' note naming the closest known name, or ''."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f"did you mean '{close[0]}'?" if close else ""
