"""The command line: exit codes, one-line errors for bad input, and the eval stream contract."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.states import BASELINE_PATH, baseline_doc
from vmxspec.cli import main


def _write(tmp_path: Path, name: str, doc: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return str(path)


def test_why_passing_state_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["why", str(BASELINE_PATH)]) == 0
    assert "passes every check" in capsys.readouterr().out


def test_why_failing_state_exits_1_and_names_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = baseline_doc()
    doc["vmcs"]["VIRTUAL_PROCESSOR_ID"] = "0"  # type: ignore[index]
    assert main(["why", _write(tmp_path, "s.json", doc)]) == 1
    out = capsys.readouterr().out
    assert "CTL-VPID-NONZERO" in out
    assert "VM-instruction error 7" in out


def test_why_json_is_the_eval_answer(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = baseline_doc()
    doc["vmcs"]["VIRTUAL_PROCESSOR_ID"] = "0"  # type: ignore[index]
    path = _write(tmp_path, "s.json", doc)
    assert main(["why", "--format", "json", path]) == 1
    answer = json.loads(capsys.readouterr().out)
    assert answer["path"] == path
    assert answer["result"] == "fail"
    assert [v["rule"] for v in answer["violations"]] == ["CTL-VPID-NONZERO"]


@pytest.mark.parametrize(("content", "code"), [
    ("{not json", "json-syntax"),
    ('{"vmcs": {"PIN_BASED_VM_EXEC_CONTRL": 1}}', "unknown-field"),
    ('{"vmcs": {"VIRTUAL_PROCESSOR_ID": "0x10000"}}', "value-too-wide"),
    ('{"vmcs": {}}', "missing-field"),
    ("[]", "bad-shape"),
])
def test_why_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              content: str, code: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    assert main(["why", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(str(path)) and err.endswith(f"[{code}]")


def test_why_missing_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["why", "/nonexistent/state.json"]) == 2
    assert "[io-error]" in capsys.readouterr().err


def test_why_checks_subset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    doc = baseline_doc()
    del doc["vmcs"]["GUEST_CR0"]  # type: ignore[attr-defined]
    path = _write(tmp_path, "s.json", doc)
    assert main(["why", "--checks", "controls,host", path]) == 0
    assert main(["why", "--checks", "contrls", path]) == 2
    assert "did you mean 'controls'" in capsys.readouterr().err


def test_eval_answers_every_line_in_order(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    good = json.dumps({"id": "a", "state": baseline_doc(), "query": {"kind": "vmentry"}})
    lines = [good, "{broken", json.dumps({"id": 7, "state": {}, "query": {"kind": "teleport"}}), "", good]
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO("\n".join(lines).encode())))
    assert main(["eval"]) == 2
    answers = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [a.get("id") for a in answers] == ["a", None, 7, "a"]
    assert answers[0]["result"] == "pass"
    assert answers[1]["error"]["code"] == "json-syntax"
    assert answers[2]["error"]["code"] == "bad-query"


def test_explain_rule_and_code(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "CTL-EPTP-AD"]) == 0
    out = capsys.readouterr().out
    assert "IA32_VMX_EPT_VPID_CAP[21]" in out and "nested_vmx_check_eptp" in out
    assert main(["explain", "unknown-key"]) == 0
    assert "'x-'" in capsys.readouterr().out
    assert main(["explain", "CTL-NOPE"]) == 2


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run([sys.executable, "-m", "vmxspec", "explain", "CTL-PIN-RSVD"], capture_output=True,
                          text=True, check=False)
    assert done.returncode == 0
    assert "IA32_VMX_TRUE_PINBASED_CTLS" in done.stdout


def test_exit_command_reads_an_event_from_words(capsys: pytest.CaptureFixture[str]) -> None:
    # Baseline MSR bitmap is all zeros: WRMSR 0x1a0 does not exit; 0xc0002000 is outside both ranges.
    assert main(["exit", str(BASELINE_PATH), "WRMSR", "ecx=0x1a0", "edx_eax=0"]) == 0
    assert "no VM exit" in capsys.readouterr().out
    assert main(["exit", str(BASELINE_PATH), "RDMSR", "ecx=0xc0002000", "--format", "json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["exit"], answer["reason"], answer["reason_name"]) == (True, 31, "MSR_READ")
    assert main(["exit", str(BASELINE_PATH), "RDMSRR", "ecx=1"]) == 2


def test_walk_and_dma_commands(capsys: pytest.CaptureFixture[str]) -> None:
    # Baseline EPT: GPA 0 .. 2 GiB -> HPA 4 GiB with 1 GiB pages; the APIC page is not mapped.
    assert main(["walk", str(BASELINE_PATH), "--gpa", "0x7fff1234", "--access", "write"]) == 0
    assert "HPA 0x17fff1234" in capsys.readouterr().out
    assert main(["walk", str(BASELINE_PATH), "--gpa", "0xfee00000", "--format", "json"]) == 1
    assert json.loads(capsys.readouterr().out)["result"] == "ept_violation"
    iommu = BASELINE_PATH.parent / "iommu-two-devices.json"
    # Domain 2 maps its buffer read-only: a write faults with reason 5 (legacy second-level write).
    assert main(["dma", str(iommu), "--device", "04:00.0", "--iova", "0x100000", "--access", "write"]) == 1
    assert "fault 0x5" in capsys.readouterr().out


def test_explain_a_property(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain", "vmentry_valid"]) == 0
    assert "every SDM VM-entry check" in capsys.readouterr().out
    assert main(["explain", "isolatd"]) == 2
    assert "did you mean 'isolated'" in capsys.readouterr().err
