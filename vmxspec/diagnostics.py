"""Source spans and the diagnostics that point at them, shared by every stage that reads a spec.

A diagnostic is plain data (severity, a code from ``vmxspec.codes``, a message, a span, notes), so
the parser, sema and the reports can all produce and consume it without knowing about each other.
``render`` prints the one human format DESIGN.md fixes::

    path:line:col: error: message [code]
      source line
      ^~~~

Columns are 1-based and count characters (a tab is one column; the caret line reuses the source
line's tabs so the caret still lines up).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from vmxspec.codes import Severity, code


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of a source file: ``line:column`` up to (not including) ``end_line:end_column``.

    Lines and columns are 1-based. A span that covers nothing (end of file) has end == start.
    """

    path: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(path: str, line: int, column: int) -> Span:
        return Span(path, line, column, line, column)

    def cover(self, other: Span) -> Span:
        """The smallest span containing both (same file assumed)."""
        start = min((self.line, self.column), (other.line, other.column))
        end = max((self.end_line, self.end_column), (other.end_line, other.end_column))
        return Span(self.path, start[0], start[1], end[0], end[1])

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}"


#: The span of a node that was not read from a file (built by hand or by a generator).
NOWHERE = Span("<nowhere>", 0, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class Note:
    """A secondary message, usually pointing at a related place ("'vm guest1' opened here")."""

    message: str
    span: Span | None = None


@dataclass(frozen=True, slots=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    span: Span
    notes: tuple[Note, ...] = ()

    @staticmethod
    def error(code_id: str, message: str, span: Span, notes: tuple[Note, ...] = ()) -> Diagnostic:
        """An error with a registered code (an unregistered id fails here, in tests, not for users)."""
        return Diagnostic(code(code_id).severity, code_id, message, span, notes)

    def headline(self) -> str:
        """The first line: ``path:line:col: error: message [code]``."""
        return f"{self.span}: {self.severity.value}: {self.message} [{self.code}]"


#: Source lines longer than this are shown as a window around the caret.
EXCERPT_WIDTH = 100


def source_excerpt(source: str | None, span: Span) -> list[str]:
    """The span's first source line and a caret line under it (nothing if the line is unknown).

    A long line is cut to a window of ``EXCERPT_WIDTH`` characters around the caret, marked with
    "...", and the underline stops at the window's edge.
    """
    if source is None or span.line < 1:
        return []
    start = 0
    for _ in range(span.line - 1):
        start = source.find("\n", start) + 1
        if start == 0:
            return []
    end = source.find("\n", start)
    text = source[start:end if end >= 0 else len(source)].rstrip("\r")
    # Keep what prints: control characters (a NUL, say) would garble the terminal.
    shown = "".join(ch if ch == "\t" or ch.isprintable() else "?" for ch in text)
    col = max(span.column, 1) - 1  # 0-based from here on
    width = 1
    if span.end_line == span.line and span.end_column > span.column:
        width = span.end_column - span.column
    elif span.end_line > span.line:
        width = max(len(shown) - col, 1)
    prefix = suffix = ""
    if len(shown) > EXCERPT_WIDTH:
        first = max(0, min(col - EXCERPT_WIDTH // 3, len(shown) - EXCERPT_WIDTH))
        if first > 0:
            prefix = "..."
        if first + EXCERPT_WIDTH < len(shown):
            suffix = "..."
        shown = shown[first:first + EXCERPT_WIDTH]
        col -= first
    width = max(1, min(width, len(shown) - col))
    lead = "".join("\t" if ch == "\t" else " " for ch in shown[:col]) + " " * max(0, col - len(shown))
    return ["  " + prefix + shown + suffix, "  " + " " * len(prefix) + lead + "^" + "~" * (width - 1)]


def render(diagnostic: Diagnostic, source: str | None = None) -> str:
    """The diagnostic as text, with the source line and a caret when ``source`` is given.

    Notes follow as ``path:line:col: note: message`` lines (without excerpts, to stay short).
    """
    out = [diagnostic.headline(), *source_excerpt(source, diagnostic.span)]
    for note in diagnostic.notes:
        where = f"{note.span}: " if note.span is not None else ""
        out.append(f"{where}note: {note.message}")
    return "\n".join(out)


def render_all(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str] | None = None) -> str:
    """Several diagnostics, in the order given, each with its source excerpt when known."""
    sources = sources or {}
    return "\n".join(render(d, sources.get(d.span.path)) for d in diagnostics)
