"""Golden tests for syntax diagnostics: small spec files carrying their expected diagnostics inline.

Expectations are comments (the spec language's own ``#``), mypy-style, on the line they refer to::

    ram 0 .. 2G at 4G;  # E:20: unexpected character ';'; ... [syntax-unexpected-character]
    vm guest1 {         # N:11: 'vm guest1' opened here

``# E:COL: message [code]`` is an error whose span starts at this line and column; ``# N:COL: text``
is a note pointing here; ``# N: text`` (no column) is a note without a position, belonging to the
error on the same line. A line may carry several. Expectations are read from the raw text, so they
also work where the parser never reads them (inside an unterminated string, after a stray '#').
The file's diagnostics must be exactly the expected ones, and together the files must use every
``syntax-*`` code in the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vmxspec.codes import CODES
from vmxspec.diagnostics import render
from vmxspec.syntax import try_parse_bytes

GOLDEN = Path(__file__).parent / "syntax"
FILES = sorted(GOLDEN.glob("*.vmx"))
_MARK = re.compile(r"#\s*([EN])(?::(\d+))?:\s")

Expectation = tuple[str, int, int | None, str]


def expected(data: bytes) -> list[Expectation]:
    out: list[Expectation] = []
    for number, line in enumerate(data.decode("utf-8", errors="replace").splitlines(), 1):
        marks = list(_MARK.finditer(line))
        for i, m in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
            column = int(m.group(2)) if m.group(2) else None
            out.append((m.group(1), number, column, line[m.end():end].rstrip()))
    return sorted(out, key=str)


def actual(data: bytes, path: str) -> list[Expectation]:
    result = try_parse_bytes(data, path)
    out: list[Expectation] = []
    for d in result.diagnostics:
        out.append(("E", d.span.line, d.span.column, f"{d.message} [{d.code}]"))
        for note in d.notes:
            if note.span is None:
                out.append(("N", d.span.line, None, note.message))
            else:
                out.append(("N", note.span.line, note.span.column, note.message))
    return sorted(out, key=str)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden(path: Path) -> None:
    data = path.read_bytes()
    want = expected(data)
    assert want, f"{path.name} expects no diagnostic: every golden file must expect at least one"
    got = actual(data, path.name)
    assert got == want


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden_renders_with_a_caret(path: Path) -> None:
    data = path.read_bytes()
    result = try_parse_bytes(data, path.name)
    for d in result.diagnostics:
        text = render(d, result.text)
        headline, _source_line, caret = text.splitlines()[:3]
        assert headline == f"{path.name}:{d.span.line}:{d.span.column}: error: {d.message} [{d.code}]"
        assert caret.strip().startswith("^")


def test_every_syntax_code_has_a_golden_file() -> None:
    used = {m for p in FILES for kind, _, _, text in expected(p.read_bytes()) if kind == "E"
            for m in re.findall(r"\[([a-z-]+)\]$", text)}
    registered = {c.id for c in CODES if c.id.startswith("syntax-")}
    assert registered - used == set(), "syntax codes without a golden file"
    assert used - registered == set(), "golden files expect codes that are not registered"
