"""``vmxspec check --format sarif``: the results as one SARIF 2.1.0 log, for code-scanning services.

CI systems (GitHub code scanning, Azure DevOps, IDE viewers) read SARIF and put each finding on the
line it is about. A proof that holds is not a finding, so only the other verdicts become results:
``violated`` and ``error`` at level ``error``, ``unknown`` and ``vacuous`` (nothing is known to be
wrong, but nothing was proved) at ``warning``. Spec diagnostics are results too, under their
diagnostic code, so a typo in a spec shows up where it is. The rule list holds exactly the
properties and diagnostic codes that occur, with the registries' summaries as descriptions.

Columns count characters (code points), as vmxspec's spans do, so the run says
``columnKind: unicodeCodePoints``. A pure function: no files, no network.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from vmxspec import __version__
from vmxspec.check.driver import SpecReport
from vmxspec.check.results import Result, Verdict
from vmxspec.codes import BY_ID as CODES
from vmxspec.codes import Severity
from vmxspec.diagnostics import Diagnostic, Span

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"

_LEVEL = {
    Verdict.VIOLATED: "error",
    Verdict.ERROR: "error",
    Verdict.UNKNOWN: "warning",
    Verdict.VACUOUS: "warning",
}
_SEVERITY_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTE: "note"}


def artifact_uri(path: str) -> str:
    """A spec's path as a SARIF URI: relative (to the working directory, where CI runs) with ``/``
    separators whenever it can be, since code-scanning services resolve relative URIs against the
    checkout; an absolute path elsewhere becomes a ``file:`` URI."""
    p = Path(path)
    if p.is_absolute():
        try:
            p = p.relative_to(Path.cwd())
        except ValueError:
            return p.as_uri()
    return quote(p.as_posix(), safe="/")


def _location(span: Span) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": {"uri": artifact_uri(span.path)}}
    if span.line >= 1:
        region: dict[str, object] = {"startLine": span.line, "startColumn": max(span.column, 1)}
        if (span.end_line, span.end_column) > (span.line, span.column):
            region["endLine"] = span.end_line
            region["endColumn"] = max(span.end_column, 1)
        physical["region"] = region
    return {"physicalLocation": physical}


def _rule(rule_id: str, short: str, full: str) -> dict[str, object]:
    rule: dict[str, object] = {"id": rule_id, "shortDescription": {"text": short}}
    if full:
        rule["fullDescription"] = {"text": full}
    return rule


def _verdict_result(result: Result, rule_id: str, rule_index: int) -> dict[str, object]:
    outcome = result.outcome
    text = f"{result.title}: {result.verdict.value}"
    if outcome.message:
        text += f": {outcome.message}"
    cex = outcome.counterexample
    if cex is not None and cex.explanation and cex.explanation not in text:
        text += f" Counterexample: {cex.explanation}"
    properties: dict[str, object] = {"verdict": result.verdict.value, "time_s": round(result.time_s, 4)}
    if outcome.reason:
        properties["reason"] = outcome.reason
    if cex is not None:
        properties["counterexample"] = cex.explanation
        properties["question"] = cex.query
        if cex.open_values:
            properties["open_values"] = {k: f"{v:#x}" for k, v in cex.open_values.items()}
    return {"ruleId": rule_id, "ruleIndex": rule_index, "level": _LEVEL[result.verdict], "message": {"text": text},
            "locations": [_location(result.span)], "properties": properties}


def _diagnostic_result(diagnostic: Diagnostic, rule_index: int) -> dict[str, object]:
    out: dict[str, object] = {"ruleId": diagnostic.code, "ruleIndex": rule_index,
                              "level": _SEVERITY_LEVEL[diagnostic.severity],
                              "message": {"text": diagnostic.message}, "locations": [_location(diagnostic.span)]}
    related = [{"id": i, **_location(note.span), "message": {"text": note.message}}
               for i, note in enumerate(diagnostic.notes) if note.span is not None]
    if related:
        out["relatedLocations"] = related
    unplaced = [note.message for note in diagnostic.notes if note.span is None]
    if unplaced:
        out["message"] = {"text": " ".join([diagnostic.message, *(f"Note: {m}" for m in unplaced)])}
    return out


def reports_sarif(reports: list[SpecReport]) -> dict[str, object]:
    """The SARIF log of a ``vmxspec check`` run: one run, one result per finding, in report order
    (each spec's diagnostics, then its non-proved properties in source order)."""
    from vmxspec.properties import load_all

    registry = load_all()
    rules: list[dict[str, object]] = []
    index: dict[str, int] = {}

    def rule_index(rule_id: str, short: str, full: str) -> int:
        if rule_id not in index:
            index[rule_id] = len(rules)
            rules.append(_rule(rule_id, short, full))
        return index[rule_id]

    results: list[dict[str, object]] = []
    for report in reports:
        for diagnostic in report.diagnostics:
            code = CODES.get(diagnostic.code)
            short, full = (code.summary, code.explanation) if code else (diagnostic.code, "")
            results.append(_diagnostic_result(diagnostic, rule_index(diagnostic.code, short, full)))
        for i, result in enumerate(report.results):
            name = report.property_of(i)
            prop = registry.get(name)
            # Every property that was checked is a rule, proved or not: the rule list says what the
            # run covered, and a viewer can show that a property was checked with no findings.
            short, full = (prop.summary, prop.doc) if prop else (f"'{name}': not a property vmxspec can check", "")
            number = rule_index(name, short, full)
            if result.verdict is not Verdict.PROVED:
                results.append(_verdict_result(result, name, number))
    driver = {"name": "vmxspec", "version": __version__, "semanticVersion": __version__, "rules": rules}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{"tool": {"driver": driver}, "columnKind": "unicodeCodePoints", "results": results}],
    }
