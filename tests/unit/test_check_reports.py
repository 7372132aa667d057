"""``vmxspec check --format sarif|junit``: the documents CI services read.

The SARIF log is checked against the parts of the SARIF 2.1.0 schema that every consumer relies
on (written out below, so no schema download is needed); the JUnit XML is parsed back and its
counts compared with the verdicts."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from vmxspec.check.driver import SpecReport
from vmxspec.check.results import Counterexample, Outcome, Result, Verdict
from vmxspec.cli import main
from vmxspec.codes import Severity
from vmxspec.diagnostics import Diagnostic, Note, Span
from vmxspec.properties import load_all
from vmxspec.report.check_junit import reports_junit
from vmxspec.report.check_sarif import artifact_uri, reports_sarif

_LEVELS = {"none", "note", "warning", "error"}


def sarif_problems(doc: Any) -> list[str]:
    """What a document lacks of SARIF 2.1.0's required structure (empty: nothing)."""
    problems: list[str] = []

    def need(ok: bool, what: str) -> bool:
        if not ok:
            problems.append(what)
        return ok

    if not need(isinstance(doc, dict), "the log is an object"):
        return problems
    need(doc.get("version") == "2.1.0", "version is 2.1.0")
    need(isinstance(doc.get("$schema"), str) and "sarif" in doc["$schema"] and "2.1.0" in doc["$schema"],
         "$schema names the 2.1.0 schema")
    runs = doc.get("runs")
    if not need(isinstance(runs, list) and bool(runs), "runs is a non-empty array"):
        return problems
    for r, run in enumerate(runs):
        driver: Any = run.get("tool", {}).get("driver") if isinstance(run, dict) else None
        if not need(isinstance(driver, dict), f"runs[{r}].tool.driver is an object"):
            continue
        need(isinstance(driver.get("name"), str) and bool(driver["name"]), f"runs[{r}].tool.driver.name")
        rules = driver.get("rules", [])
        need(isinstance(rules, list), f"runs[{r}].tool.driver.rules is an array")
        ids = [rule.get("id") for rule in rules]
        need(all(isinstance(i, str) and i for i in ids), f"runs[{r}] every rule has an id")
        need(len(ids) == len(set(ids)), f"runs[{r}] rule ids are unique")
        for rule in rules:
            short = rule.get("shortDescription")
            need(short is None or isinstance(short.get("text"), str), f"rule {rule.get('id')} shortDescription.text")
        need(run.get("columnKind", "utf16CodeUnits") in ("utf16CodeUnits", "unicodeCodePoints"), "columnKind")
        results = run.get("results")
        if not need(isinstance(results, list), f"runs[{r}].results is an array"):
            continue
        for i, result in enumerate(results):
            where = f"runs[{r}].results[{i}]"
            need(isinstance(result.get("message", {}).get("text"), str), f"{where}.message.text")
            need(result.get("level", "warning") in _LEVELS, f"{where}.level")
            if "ruleIndex" in result:
                index = result["ruleIndex"]
                need(isinstance(index, int) and 0 <= index < len(rules) and rules[index]["id"] == result.get("ruleId"),
                     f"{where}.ruleIndex points at its ruleId")
            locations = result.get("locations", [])
            need(isinstance(locations, list), f"{where}.locations is an array")
            for location in [*locations, *result.get("relatedLocations", [])]:
                physical = location.get("physicalLocation", {})
                need(isinstance(physical.get("artifactLocation", {}).get("uri"), str), f"{where} location uri")
                region = physical.get("region")
                if region is not None:
                    need(isinstance(region.get("startLine"), int) and region["startLine"] >= 1, f"{where} startLine")
                    need(region.get("startColumn", 1) >= 1, f"{where} startColumn")
                    if "endLine" in region:
                        need((region["endLine"], region.get("endColumn", 1)) >= (region["startLine"],
                                                                                 region.get("startColumn", 1)),
                             f"{where} region ends after it starts")
            need(isinstance(result.get("properties", {}), dict), f"{where}.properties is an object")
    return problems


def _span(line: int, column: int = 1, path: str = "specs/a.vmx") -> Span:
    return Span(path, line, column, line, column + 10)


def _result(title: str, verdict: Verdict, line: int, **outcome: Any) -> Result:
    return Result(title, _span(line), 0.25, Outcome(verdict, outcome.pop("message", f"{verdict.value} message"),
                                                    **outcome))


CEX = Counterexample(state={}, query={"kind": "exit"}, expect={"exits": False},
                     explanation="WRMSR 0xc0000082 does not exit", open_values={"g.GUEST_RIP": 0x10})


@pytest.fixture
def reports() -> list[SpecReport]:
    a = SpecReport("specs/a.vmx", sources={"specs/a.vmx": "line\n" * 20})
    a.results = [
        _result("isolated(g, hypervisor)", Verdict.PROVED, 3),
        _result("exits(g)", Verdict.VIOLATED, 4, counterexample=CEX),
        _result("vmentry_valid(g)", Verdict.UNKNOWN, 5, reason="timeout"),
        _result("g.vmcs.GUEST_RIP == 3", Verdict.VACUOUS, 6, reason="vacuous"),
        _result("entry_safe(vmcs12, vmcs02)", Verdict.ERROR, 7, message="internal error: boom\x00",
                reason="internal-error", details={"traceback": "Traceback ...\x01"}),
    ]
    a.properties = ["isolated", "exits", "vmentry_valid", "assert", "entry_safe"]
    a.diagnostics = [Diagnostic(Severity.WARNING, "sema-ram-unmapped", "RAM not mapped", _span(2))]
    b = SpecReport("specs/b.vmx", sources={"specs/b.vmx": "prove isolated(g, hypervisr)\n"})
    notes = (Note("'g' defined here", _span(1, 1, "specs/b.vmx")), Note("no span here"))
    b.diagnostics = [Diagnostic(Severity.ERROR, "sema-unknown-name", "unknown name 'hypervisr'",
                                _span(1, 19, "specs/b.vmx"), notes)]
    return [a, b]


def test_sarif_has_the_required_structure(reports: list[SpecReport]) -> None:
    doc = reports_sarif(reports)
    assert sarif_problems(doc) == []
    assert sarif_problems(json.loads(json.dumps(doc))) == []  # and survives serialisation


def test_the_sarif_checker_itself_catches_broken_logs(reports: list[SpecReport]) -> None:
    doc: Any = reports_sarif(reports)
    del doc["runs"][0]["results"][0]["message"]
    doc["version"] = "2.0.0"
    assert sarif_problems(doc) == ["version is 2.1.0", "runs[0].results[0].message.text"]


def test_sarif_results_rules_and_levels(reports: list[SpecReport]) -> None:
    doc: Any = json.loads(json.dumps(reports_sarif(reports)))
    (run,) = doc["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "vmxspec" and driver["version"]
    registry = load_all()
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert set(rules) == {"isolated", "exits", "vmentry_valid", "assert", "entry_safe", "sema-ram-unmapped",
                          "sema-unknown-name"}
    assert rules["exits"]["shortDescription"]["text"] == registry["exits"].summary
    assert rules["sema-unknown-name"]["shortDescription"]["text"]
    results = run["results"]
    # Diagnostics first per spec, then the non-proved verdicts in source order; proved is no result.
    assert [(r["ruleId"], r["level"]) for r in results] == [
        ("sema-ram-unmapped", "warning"), ("exits", "error"), ("vmentry_valid", "warning"), ("assert", "warning"),
        ("entry_safe", "error"), ("sema-unknown-name", "error")]
    violated = results[1]
    assert violated["message"]["text"].startswith("exits(g): violated: violated message")
    assert "WRMSR 0xc0000082 does not exit" in violated["message"]["text"]
    assert violated["properties"]["verdict"] == "violated"
    assert violated["properties"]["time_s"] == 0.25
    assert violated["properties"]["counterexample"] == CEX.explanation
    assert violated["properties"]["open_values"] == {"g.GUEST_RIP": "0x10"}
    (location,) = violated["locations"]
    assert location["physicalLocation"]["artifactLocation"]["uri"] == "specs/a.vmx"
    assert location["physicalLocation"]["region"] == {"startLine": 4, "startColumn": 1, "endLine": 4,
                                                      "endColumn": 11}
    assert results[2]["properties"]["reason"] == "timeout"
    unknown_name = results[-1]
    assert unknown_name["locations"][0]["physicalLocation"]["region"]["startColumn"] == 19
    assert unknown_name["relatedLocations"][0]["message"]["text"] == "'g' defined here"
    assert "Note: no span here" in unknown_name["message"]["text"]


def test_sarif_uris_are_relative_and_escaped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert artifact_uri("specs/my spec.vmx") == "specs/my%20spec.vmx"
    assert artifact_uri(str(tmp_path / "proofs" / "a.vmx")) == "proofs/a.vmx"
    assert artifact_uri("/elsewhere/a.vmx").startswith("file:///elsewhere/a.vmx")


def test_junit_counts_and_elements(reports: list[SpecReport]) -> None:
    root = ET.fromstring(reports_junit(reports))  # parses, NUL and all
    assert root.tag == "testsuites"
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "6", "failures": "1", "errors": "2", "skipped": "2"}
    a, b = root.findall("testsuite")
    assert (a.get("name"), b.get("name")) == ("specs/a.vmx", "specs/b.vmx")
    assert {k: a.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "5", "failures": "1", "errors": "1", "skipped": "2"}
    cases = a.findall("testcase")
    assert [c.get("name") for c in cases] == [r.title for r in reports[0].results]
    assert {c.get("classname") for c in cases} == {"specs/a.vmx"}
    assert cases[0].get("time") == "0.250" and list(cases[0]) == []
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == "violated message"
    assert "counterexample: WRMSR 0xc0000082 does not exit" in (failure.text or "")
    assert "g.GUEST_RIP = 0x10" in (failure.text or "")
    assert [c.find("skipped") is not None for c in cases] == [False, False, True, True, False]
    skipped = cases[2].find("skipped")
    assert skipped is not None and "timeout" in (skipped.get("message") or "")
    error = cases[4].find("error")
    assert error is not None and error.get("type") == "internal-error"
    assert "\x00" not in (error.get("message") or "") and "Traceback" in (error.text or "")
    system_err = a.find("system-err")
    assert system_err is not None and "sema-ram-unmapped" in (system_err.text or "")
    (spec_error,) = b.findall("testcase")
    error = spec_error.find("error")
    assert error is not None and error.get("type") == "sema-unknown-name"
    assert "prove isolated(g, hypervisr)" in (error.text or "")  # rendered with the source line
    assert {k: b.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
        "tests": "1", "failures": "0", "errors": "1", "skipped": "0"}


SPEC = """platform skylake_server

vm g {
  ram 0x0 .. 2G at 0x1_0000_0000
  ept {
    tables in 0x8000_0000 .. 0x8010_0000
    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb
    map 1G .. 2G -> 0x1_0000_0000 w wb
  }
}

prove no_misconfig(g.ept)
prove forall gpa in 0x0 .. 1G: translates(g.ept, gpa)
"""


@pytest.mark.parametrize("fmt", ["sarif", "junit"])
def test_cli_formats_on_a_real_spec(fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "g.vmx"
    spec.write_text(SPEC)
    broken = tmp_path / "broken.vmx"
    broken.write_text("platform skylake_server\nprove isolated(nobody, hypervisor)\n")
    status = main(["check", "--format", fmt, "--bundle-dir", str(tmp_path / "b"), str(spec), str(broken)])
    assert status == 2  # the broken spec; the write-only EPT entry alone would be 1
    out = capsys.readouterr().out
    if fmt == "sarif":
        doc = json.loads(out)
        assert sarif_problems(doc) == []
        results = doc["runs"][0]["results"]
        assert [(r["ruleId"], r["level"]) for r in results] == [("no_misconfig", "error"),
                                                                ("sema-unknown-name", "error")]
        assert results[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
        assert {rule["id"] for rule in doc["runs"][0]["tool"]["driver"]["rules"]} == {
            "no_misconfig", "assert", "sema-unknown-name"}
    else:
        root = ET.fromstring(out)
        assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == {
            "tests": "3", "failures": "1", "errors": "1", "skipped": "0"}
        failure = root.find("testsuite/testcase/failure")
        assert failure is not None and failure.text
