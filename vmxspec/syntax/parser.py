"""Reading spec text into an ``ast.SpecFile``, or into diagnostics: never into a traceback.

``parse``/``parse_bytes`` return the tree or raise ``SpecSyntaxError`` (which carries the
diagnostics); ``try_parse``/``try_parse_bytes`` return both as a ``ParseResult`` for callers that
render errors themselves. One syntax error stops the parse (LALR recovery mostly produces noise);
every malformed number or PCI address read before it is reported too.

The lark parser is built once, on first use, with the builder's callbacks attached, so trees are
built during the parse. Those callbacks keep per-file state, so parses are serialised by a lock.
"""

from __future__ import annotations

import gc
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path

from lark import Lark
from lark.exceptions import UnexpectedToken
from lark.lexer import PatternStr

from vmxspec.diagnostics import Diagnostic, Span, render_all
from vmxspec.syntax import ast
from vmxspec.syntax.builder import MAX_DEPTH, Builder, TooDeep
from vmxspec.syntax.driver import BadCharacter, Driver
from vmxspec.syntax.errors import bad_character, diagnose

GRAMMAR_PATH = Path(__file__).with_name("grammar.lark")


class _Machine:
    """The lark parser and the one builder its callbacks are bound to."""

    def __init__(self, strict: bool) -> None:
        self.builder = Builder("<input>")
        self.lark = Lark(GRAMMAR_PATH.read_text(encoding="utf-8"), parser="lalr", lexer="contextual",
                         strict=strict, transformer=self.builder,
                         maybe_placeholders=False, propagate_positions=False)
        self.literals = {t.name: t.pattern.value for t in self.lark.terminals
                         if isinstance(t.pattern, PatternStr)}
        self.driver = Driver(self.lark, self.literals)
        self.lock = threading.Lock()


@cache
def _machine() -> _Machine:
    try:
        # strict mode proves the grammar has no conflicts or terminal collisions; it needs the
        # interegular package (lark[interegular]). Without it the tables are the same: the test
        # suite loads the grammar strictly.
        import interegular  # noqa: F401
    except ImportError:
        return _Machine(strict=False)
    return _Machine(strict=True)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """A tree when the text is well formed, and the diagnostics (errors) otherwise."""

    spec: ast.SpecFile | None
    diagnostics: tuple[Diagnostic, ...]
    text: str | None = None

    @property
    def ok(self) -> bool:
        return self.spec is not None


class SpecSyntaxError(Exception):
    """The text is not a well-formed spec; ``diagnostics`` says why (never empty)."""

    def __init__(self, diagnostics: tuple[Diagnostic, ...], text: str | None = None) -> None:
        super().__init__(diagnostics[0].headline() if diagnostics else "syntax error")
        self.diagnostics = diagnostics
        self.text = text

    def render(self) -> str:
        sources = {d.span.path: self.text for d in self.diagnostics if self.text is not None}
        return render_all(self.diagnostics, sources)


def parse(text: str, path: str = "<input>") -> ast.SpecFile:
    result = try_parse(text, path)
    if result.spec is None:
        raise SpecSyntaxError(result.diagnostics, text)
    return result.spec


def parse_bytes(data: bytes, path: str = "<input>") -> ast.SpecFile:
    result = try_parse_bytes(data, path)
    if result.spec is None:
        raise SpecSyntaxError(result.diagnostics, result.text)
    return result.spec


def try_parse_bytes(data: bytes, path: str = "<input>") -> ParseResult:
    """Decode UTF-8 (a leading byte-order mark is allowed) and parse; bad bytes are a diagnostic."""
    text, problem = decode(data, path)
    if problem is not None:
        return ParseResult(None, (problem,), text)
    return try_parse(text, path)


def decode(data: bytes, path: str) -> tuple[str, Diagnostic | None]:
    """The text of ``data``, or as much as decodes plus a syntax-encoding diagnostic."""
    bom = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    body = data[bom:]
    try:
        return body.decode("utf-8"), None
    except UnicodeDecodeError as e:
        good = body[:e.start].decode("utf-8")
        line = good.count("\n") + 1
        column = len(good) - (good.rfind("\n") + 1) + 1
        shown = body[e.start:e.end].hex(" ")
        message = (f"the file is not valid UTF-8: byte{'s' if e.end - e.start > 1 else ''} {shown} "
                   f"at offset {bom + e.start} cannot be decoded")
        span = Span(path, line, column, line, column + 1)
        return body.decode("utf-8", errors="replace"), Diagnostic.error("syntax-encoding", message, span)


def try_parse(text: str, path: str = "<input>") -> ParseResult:
    """Parse ``text``; errors come back as diagnostics, sorted by position."""
    text = text.removeprefix("\ufeff")
    try:
        spec, problems = _parse(text, path)
    except Exception as e:  # a bug, not the user's: still a diagnostic, never a traceback
        problems = [Diagnostic.error("internal-error",
                                     f"internal error while parsing: {type(e).__name__}: {e}",
                                     Span(path, 1, 1, 1, 1))]
        spec = None
    if problems:
        return ParseResult(None, tuple(sorted(problems, key=lambda d: (d.span.line, d.span.column))),
                           text)
    return ParseResult(spec, (), text)


def _parse(text: str, path: str) -> tuple[ast.SpecFile | None, list[Diagnostic]]:
    machine = _machine()
    with machine.lock, _no_collection(large=len(text) > _LARGE):
        builder = machine.builder
        builder.reset(path)
        problems = builder.diagnostics  # the list the callbacks append to (reset replaces it)
        try:
            tree = machine.driver.run(text, builder)
        except UnexpectedToken as e:
            return None, [*problems, diagnose(e, text, path, machine.literals)]
        except BadCharacter as e:
            return None, [*problems, bad_character(text, path, e.pos, e.line, e.column)]
        except TooDeep as e:
            message = f"expression nested too deeply (more than {MAX_DEPTH} levels); split it with names"
            return None, [*problems, Diagnostic.error("syntax-too-deep", message, e.span)]
        finally:
            builder.reset("<input>")  # drop the depth table and the path
        assert isinstance(tree, ast.SpecFile)
        return replace(tree, span=_whole(text, path), comments=comments(text, path)), problems


#: Texts above this size (about 5,000 lines) count as large for the collector (below).
_LARGE = 256 * 1024


@contextmanager
def _no_collection(large: bool) -> Iterator[None]:
    """Keep Python's cyclic collector out of the parse, and out of a large tree's way afterwards.

    A parse allocates some twenty objects a line and frees none, so every collection during it is
    wasted work: on a 100,000-line spec the collector took longer than the parse. A large tree is
    then frozen (``gc.freeze``) so that later collections do not traverse its millions of nodes
    again. That is safe: syntax trees hold no reference cycles, so reference counting still frees
    them when they are dropped.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if large:
            gc.freeze()
        if collecting:
            gc.enable()


_COMMENT_OR_STRING = re.compile(r'"[^"\n]*"|#[^\n]*')


def comments(text: str, path: str) -> tuple[ast.Comment, ...]:
    """Every ``#`` comment of a well-formed text, in order (text without trailing blanks)."""
    found = []
    line, line_start, scanned = 1, 0, 0
    for m in _COMMENT_OR_STRING.finditer(text):
        if m.group(0).startswith('"'):
            continue
        start = m.start()
        line += text.count("\n", scanned, start)
        scanned = start
        line_start = text.rfind("\n", 0, start) + 1
        body = m.group(0).rstrip()
        column = start - line_start + 1
        found.append(ast.Comment(body, span=Span(path, line, column, line, column + len(body))))
    return tuple(found)


def _whole(text: str, path: str) -> Span:
    return Span(path, 1, 1, text.count("\n") + 1, len(text) - text.rfind("\n"))
