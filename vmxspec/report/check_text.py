"""The person's view of ``vmxspec check``: one line per property with its verdict, time and place,
and for a violation the counterexample explained in SDM terms. With ``--explain``, a proof lists
the spec lines it depends on (place and text), and a violation says which open values its
counterexample changes and whether no counterexample changes fewer."""

from __future__ import annotations

import json
from collections.abc import Mapping

from rich.console import Console
from rich.text import Text

from vmxspec.check.driver import SpecReport
from vmxspec.check.results import Outcome, Result, Verdict
from vmxspec.diagnostics import render

_STYLE = {
    Verdict.PROVED: "bold green",
    Verdict.VIOLATED: "bold red",
    Verdict.UNKNOWN: "bold yellow",
    Verdict.VACUOUS: "bold yellow",
    Verdict.ERROR: "bold magenta",
}


def _source_line(sources: Mapping[str, str], path: str, line: int) -> str:
    """The spec line as written (trimmed), or "" when the text is not at hand."""
    lines = sources.get(path, "").splitlines()
    return lines[line - 1].strip() if 0 < line <= len(lines) else ""


def _explained(outcome: Outcome, sources: Mapping[str, str]) -> list[Text]:
    """What ``--explain`` adds: the lines a proof depends on, with their text, the notes on how
    complete that is, and how a counterexample was chosen."""
    lines: list[Text] = []
    if outcome.depends_on:
        lines.append(Text("    depends on:"))
        for span in outcome.depends_on:
            text = _source_line(sources, span.path, span.line)
            lines.append(Text(f"      {span.path}:{span.line}:{span.column}" + (f"  {text}" if text else "")))
    notes = outcome.details.get("explain_notes")
    if isinstance(notes, list):
        lines.extend(Text(f"    explain: {note}") for note in notes)
    chosen = outcome.details.get("counterexample")
    if isinstance(chosen, dict):
        changed = chosen.get("open_values_changed")
        shown = ", ".join(f"{k} = {v}" for k, v in changed.items()) if isinstance(changed, dict) else ""
        lines.append(Text(f"    open values changed from their defaults ({chosen.get('search')}): "
                          f"{shown or 'none'}"))
    return lines


def _result_lines(result: Result, sources: Mapping[str, str] | None = None) -> list[Text]:
    where = f"{result.span.path}:{result.span.line}:{result.span.column}"
    head = Text(f"{where}: ")
    head.append(f"{result.verdict.value:<8}", style=_STYLE[result.verdict])
    head.append(f" {result.title}  ({result.time_s:.2f} s)")
    lines = [head]
    outcome = result.outcome
    if (outcome.message and result.verdict is not Verdict.PROVED) or (outcome.message and outcome.depends_on):
        lines.append(Text(f"    {outcome.message}"))
    if outcome.reason and result.verdict in (Verdict.UNKNOWN, Verdict.ERROR):
        lines.append(Text(f"    reason: {outcome.reason}"))
    cex = outcome.counterexample
    if cex is not None:
        lines.append(Text(f"    counterexample: {cex.explanation}"))
        lines.append(Text(f"    question: {json.dumps(cex.query)}"))
        if cex.open_values:
            chosen = ", ".join(f"{k} = {v:#x}" for k, v in cex.open_values.items())
            lines.append(Text(f"    open values chosen: {chosen}"))
    lines.extend(_explained(outcome, sources or {}))
    return lines


def print_reports(console: Console, reports: list[SpecReport]) -> None:
    counts = {v: 0 for v in Verdict}
    for report in reports:
        for diagnostic in report.diagnostics:
            console.print(Text(render(diagnostic, report.sources.get(diagnostic.span.path))))
        for result in report.results:
            counts[result.verdict] += 1
            for line in _result_lines(result, report.sources):
                console.print(line)
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n) or "no properties"
    console.print(Text(f"{len(reports)} spec file{'s' if len(reports) != 1 else ''}: {summary}", style="bold"))


def reports_json(reports: list[SpecReport]) -> dict[str, object]:
    """The ``--format json`` document: {"results": [...], "diagnostics": [...]}."""
    results = [r.to_json() for report in reports for r in report.results]
    diagnostics = [{"path": d.span.path, "line": d.span.line, "column": d.span.column, "severity": d.severity.value,
                    "code": d.code, "message": d.message} for report in reports for d in report.diagnostics]
    return {"results": results, "diagnostics": diagnostics}
