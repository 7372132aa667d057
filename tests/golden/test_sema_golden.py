"""Golden tests for sema diagnostics: small spec files carrying their expected diagnostics inline.

The format is the syntax goldens' (``test_syntax_golden.py``), with ``W`` for warnings::

    pin = hlt_exiting  # E:11: 'hlt_exiting' is not a bit of ... [sema-unknown-control-bit]
    ram 0 .. 2G at 4G  # W:3: the EPT maps no part of ... [sema-ram-unmapped]
    vm guest1 { }      # N:4: first defined here

``# E:COL: message [code]`` is an error and ``# W:COL: message [code]`` a warning whose span starts
at this line and column; ``# N:COL: text`` is a note pointing here; ``# N: text`` (no column) is a
note without a position, belonging to the diagnostic on the same line. A golden file may import
helper files from a directory named after it (``import_cycle.vmx`` and ``import_cycle/``); their
inline expectations count too. Each file's diagnostics must be exactly the expected ones, and
together the files must use every ``sema-*`` code in the registry.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vmxspec.codes import CODES
from vmxspec.diagnostics import render
from vmxspec.sema import analyze

GOLDEN = Path(__file__).parent / "sema"
FILES = sorted(GOLDEN.glob("*.vmx"))
_MARK = re.compile(r"#\s*([EWN])(?::(\d+))?:\s")

Expectation = tuple[str, str, int, int | None, str]


def _files_of(path: Path) -> list[Path]:
    helpers = path.with_suffix("")
    return [path, *sorted(helpers.rglob("*.vmx"))] if helpers.is_dir() else [path]


def expected(path: Path) -> list[Expectation]:
    out: list[Expectation] = []
    for file in _files_of(path):
        shown = file.relative_to(GOLDEN).as_posix()
        for number, line in enumerate(file.read_bytes().decode("utf-8", errors="replace").splitlines(), 1):
            marks = list(_MARK.finditer(line))
            for i, m in enumerate(marks):
                end = marks[i + 1].start() if i + 1 < len(marks) else len(line)
                column = int(m.group(2)) if m.group(2) else None
                out.append((shown, m.group(1), number, column, line[m.end():end].rstrip()))
    return sorted(out, key=str)


def actual(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Expectation], dict[str, str]]:
    monkeypatch.chdir(GOLDEN)
    sources: dict[str, str] = {}
    _, diagnostics = analyze(path.name, sources=sources)
    out: list[Expectation] = []
    for d in diagnostics:
        kind = "E" if d.severity.value == "error" else "W"
        out.append((d.span.path, kind, d.span.line, d.span.column, f"{d.message} [{d.code}]"))
        for note in d.notes:
            if note.span is None:
                out.append((d.span.path, "N", d.span.line, None, note.message))
            else:
                out.append((note.span.path, "N", note.span.line, note.span.column, note.message))
    return sorted(out, key=str), sources


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    want = expected(path)
    assert want, f"{path.name} expects no diagnostic: every golden file must expect at least one"
    got, _ = actual(path, monkeypatch)
    assert got == want


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_golden_renders_with_a_caret(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(GOLDEN)
    sources: dict[str, str] = {}
    _, diagnostics = analyze(path.name, sources=sources)
    for d in diagnostics:
        text = render(d, sources[d.span.path])
        headline, _source_line, caret = text.splitlines()[:3]
        assert headline == f"{d.span.path}:{d.span.line}:{d.span.column}: {d.severity.value}: {d.message} [{d.code}]"
        assert caret.strip().startswith("^")


def test_every_sema_code_has_a_golden_file() -> None:
    used = {m for p in FILES for _, kind, _, _, text in expected(p) if kind in "EW"
            for m in re.findall(r"\[([a-z-]+)\]$", text)}
    registered = {c.id for c in CODES if c.id.startswith("sema-")}
    assert registered - used == set(), "sema codes without a golden file"
    assert used - registered == set(), "golden files expect codes that are not registered"


def test_one_golden_file_per_sema_code() -> None:
    codes = {c.id for c in CODES if c.id.startswith("sema-")}
    names = {p.stem.replace("_", "-") for p in FILES}
    assert {c.removeprefix("sema-") for c in codes} <= names
