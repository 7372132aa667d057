"""The shipped specs give the verdicts their headers promise, and every counterexample replays
through ``vmxspec eval``.

The promises are the headers' "Expected verdict" paragraphs, written by hand from the SDM and the
spec's intent: every `prove` of an example is proved except the findings listed in ``FINDINGS``
(each explained in its spec's header), and every `prove` of a bug spec is violated. A violation is
only worth showing if someone else can check it: its counterexample is written to a file exactly
as ``vmxspec check --format json`` prints it, fed to ``vmxspec eval``, and the answer must contain
what the counterexample says goes wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vmxspec.check.driver import SpecReport, check_paths
from vmxspec.check.replay import _mismatches
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "specs"

#: Example proofs that are expected to fail, and why (each spec's header says the same).
FINDINGS = {
    # vmcs02 copies vmcs12's GUEST_PDPTRn with EPT on; a PAE L2 that L1 runs without EPT has its
    # PDPTEs loaded from memory at VM entry of vmcs12, but checked from the fields at vmcs02's.
    ("nested_l0_l1.vmx", "entry_safe(vmcs12, vmcs02)"),
}


@pytest.fixture(scope="module")
def reports() -> list[SpecReport]:
    return check_paths([str(SPECS)], CheckOptions(), bundle_dir="/nonexistent/bundles-must-not-be-written")


def _results(reports: list[SpecReport]) -> list[tuple[Path, Any]]:
    return [(Path(r.path), result) for r in reports for result in r.results]


def test_every_spec_file_is_checked_without_diagnostics(reports: list[SpecReport]) -> None:
    assert {Path(r.path).name for r in reports} == {p.name for p in SPECS.rglob("*.vmx")}
    assert [(r.path, [d.code for d in r.diagnostics]) for r in reports if r.had_errors] == []


def test_examples_are_proved_except_the_documented_findings(reports: list[SpecReport]) -> None:
    wrong = []
    for path, result in _results(reports):
        if path.parent.name != "examples":
            continue
        want = Verdict.VIOLATED if (path.name, result.title) in FINDINGS else Verdict.PROVED
        if result.verdict is not want:
            wrong.append((path.name, result.title, result.verdict.value, result.outcome.message))
    assert wrong == []


def test_the_documented_findings_still_exist(reports: list[SpecReport]) -> None:
    found = {(p.name, r.title) for p, r in _results(reports) if r.verdict is Verdict.VIOLATED}
    assert found >= FINDINGS


def test_bug_specs_are_refuted(reports: list[SpecReport]) -> None:
    bugs = [(p.name, r) for p, r in _results(reports) if p.parent.name == "bugs"]
    assert len({name for name, _ in bugs}) >= 14
    assert [(name, r.title, r.verdict.value) for name, r in bugs if r.verdict is not Verdict.VIOLATED] == []


def test_every_counterexample_replays_through_vmxspec_eval(reports: list[SpecReport], tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    violations = [(p, r) for p, r in _results(reports) if r.verdict is Verdict.VIOLATED]
    assert violations
    for index, (path, result) in enumerate(violations):
        cex = json.loads(json.dumps(result.to_json()))["counterexample"]
        question = tmp_path / f"q{index}.json"
        question.write_text(json.dumps({"state": cex["state"], "query": cex["query"]}))
        capsys.readouterr()
        status = main(["eval", str(question)])
        answer = json.loads(capsys.readouterr().out)
        assert status == 0, (path.name, result.title, answer)
        assert "error" not in answer, (path.name, result.title, answer)
        assert _mismatches(answer, cex["expect"]) == [], (path.name, result.title, answer, cex["expect"])
        if cex["query"]["kind"] == "assertion":
            assert answer["value"] is False, (path.name, result.title)
