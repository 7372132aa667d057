"""``vmxspec check --format junit``: the results as JUnit XML, the test-report format every CI
system (Jenkins, GitLab, Azure, GitHub actions that publish test results) can show.

The mapping follows what those viewers expect of a test run: one ``<testsuite>`` per spec file, one
``<testcase>`` per ``prove`` (name: the property as the spec wrote it; classname: the spec's path),
a ``<failure>`` for a violation with the counterexample, an ``<error>`` for an error verdict, and
``<skipped>`` for unknown and vacuous, which are neither passes nor failures. A spec that does not
analyse has no properties to run, so each of its error diagnostics is an erroring test case of its
own: otherwise a broken spec would show as an empty, green suite. Warnings go to the suite's
``<system-err>``. Standard library only (``xml.etree.ElementTree``).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from vmxspec.check.driver import SpecReport
from vmxspec.check.results import Result, Verdict
from vmxspec.codes import Severity
from vmxspec.diagnostics import render

#: Characters XML 1.0 cannot carry at all, even escaped. A spec may contain them (a stray NUL, say)
#: and a diagnostic quotes the source line, so they are replaced rather than written.
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _testcase(parent: ET.Element, result: Result, path: str) -> str:
    """Add the test case of one property; return which counter it bumps (``""`` for a pass)."""
    case = ET.SubElement(parent, "testcase", name=_clean(result.title), classname=_clean(path),
                         time=_seconds(result.time_s), file=_clean(path), line=str(result.span.line))
    outcome = result.outcome
    message = _clean(outcome.message or result.verdict.value)
    if result.verdict is Verdict.VIOLATED:
        failure = ET.SubElement(case, "failure", message=message, type="violated")
        cex = outcome.counterexample
        lines = [f"{result.span}: {result.title} is violated", outcome.message]
        if cex is not None:
            if cex.explanation != outcome.message:
                lines.append(f"counterexample: {cex.explanation}")
            if cex.open_values:
                lines.append("open values chosen: " + ", ".join(f"{k} = {v:#x}" for k, v in cex.open_values.items()))
        failure.text = _clean("\n".join(line for line in lines if line))
        return "failures"
    if result.verdict is Verdict.ERROR:
        error = ET.SubElement(case, "error", message=message, type=outcome.reason or "error")
        trace = outcome.details.get("traceback")
        error.text = _clean(f"{result.span}: {outcome.message}" + (f"\n{trace}" if isinstance(trace, str) else ""))
        return "errors"
    if result.verdict in (Verdict.UNKNOWN, Verdict.VACUOUS):
        why = f"{result.verdict.value}: {outcome.message}" if outcome.message else result.verdict.value
        if outcome.reason:
            why += f" ({outcome.reason})"
        ET.SubElement(case, "skipped", message=_clean(why))
        return "skipped"
    return ""


def _suite(report: SpecReport) -> tuple[ET.Element, dict[str, float]]:
    suite = ET.Element("testsuite", name=_clean(report.path))
    counts: dict[str, float] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for diagnostic in report.diagnostics:
        if diagnostic.severity is not Severity.ERROR:
            continue
        span = diagnostic.span
        case = ET.SubElement(suite, "testcase", name=_clean(f"{diagnostic.code} at {span.line}:{span.column}"),
                             classname=_clean(report.path), time=_seconds(0.0), file=_clean(report.path),
                             line=str(span.line))
        error = ET.SubElement(case, "error", message=_clean(diagnostic.message), type=diagnostic.code)
        error.text = _clean(render(diagnostic, report.sources.get(span.path)))
        counts["tests"] += 1
        counts["errors"] += 1
    for result in report.results:
        bumped = _testcase(suite, result, report.path)
        counts["tests"] += 1
        counts["time"] += result.time_s
        if bumped:
            counts[bumped] += 1
    warnings = [render(d, report.sources.get(d.span.path)) for d in report.diagnostics
                if d.severity is not Severity.ERROR]
    if warnings:
        ET.SubElement(suite, "system-err").text = _clean("\n".join(warnings))
    for key in ("tests", "failures", "errors", "skipped"):
        suite.set(key, str(int(counts[key])))
    suite.set("time", _seconds(counts["time"]))
    return suite, counts


def reports_junit(reports: list[SpecReport]) -> str:
    """The JUnit XML document of a ``vmxspec check`` run (with its XML declaration)."""
    root = ET.Element("testsuites", name="vmxspec")
    totals: dict[str, float] = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0, "time": 0.0}
    for report in reports:
        suite, counts = _suite(report)
        root.append(suite)
        for key, value in counts.items():
            totals[key] += value
    for key in ("tests", "failures", "errors", "skipped"):
        root.set(key, str(int(totals[key])))
    root.set("time", _seconds(totals["time"]))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
