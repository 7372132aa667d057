"""The ``assert`` property (user assertions): verdicts on the shipped specs and on small specs, and
counterexamples that the reference interpreter (through ``check.assert_eval``) confirms."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Result, Verdict

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = CheckOptions(timeout_ms=20_000)

_GUEST = """platform skylake_server

vm g {
  ram 0x0 .. 2G at 0x1_0000_0000

  ept {
    tables in 0x8000_0000 .. 0x8020_0000
    map 0x0 .. 2G -> 0x1_0000_0000 rwx wb
    hole 0xfee0_0000 .. 0xfee0_1000
  }

  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept | enable_vpid | unrestricted_guest
    CR0_GUEST_HOST_MASK = PG | PE | WP
    GUEST_CR3 = any
  }
  %s
}

prove %s
"""


def _check(tmp_path: Path, claim: str, assume: str = "") -> Result:
    spec = tmp_path / "spec.vmx"
    spec.write_text(_GUEST % (assume, claim))
    report = check_spec(str(spec), OPTIONS, bundle_dir=str(tmp_path / "bundles"))
    assert not report.had_errors, [d.headline() for d in report.diagnostics]
    (result,) = report.results
    return result


def _replays(result: Result) -> None:
    cex = result.outcome.counterexample
    assert cex is not None
    assert replay(cex.state, cex.query, cex.expect).confirmed


@pytest.mark.parametrize(("spec", "count"), [("kvm_guest", 1), ("shadow_paging", 2), ("two_vms_iommu", 1)])
def test_example_assertions_are_proved(spec: str, count: int, tmp_path: Path) -> None:
    report = check_spec(str(ROOT / "specs" / "examples" / f"{spec}.vmx"), OPTIONS, bundle_dir=str(tmp_path))
    asserted = [r for r in report.results if r.title.startswith("forall") or "==" in r.title]
    assert len(asserted) == count
    assert all(r.verdict is Verdict.PROVED for r in asserted), [(r.title, r.outcome.message) for r in asserted]


RAW = (ROOT / "specs" / "examples" / "raw_entries.vmx").read_text()
RAW_CLAIM = "forall gpa in 0x0 .. 0x20_1000: translates(raw.ept, gpa)"
RAW_PT1 = "pte at 0x4000_3008 = any in { 0x0, 0x1_0020_1035 }"


def _raw(tmp_path: Path, claim: str, text: str = RAW) -> Result:
    """raw_entries.vmx with its assertion replaced by ``claim``: PT[1] (GPA 0x20_1000 .. 0x20_2000)
    is open, absent (0) or a read-execute page at HPA 0x1_0020_1000."""
    assert f"prove {RAW_CLAIM}" in text
    spec = tmp_path / "spec.vmx"
    spec.write_text(text.replace(f"prove {RAW_CLAIM}", f"prove {claim}"))
    report = check_spec(str(spec), OPTIONS, bundle_dir=str(tmp_path / "bundles"))
    assert not report.had_errors, [d.headline() for d in report.diagnostics]
    (result,) = [r for r in report.results if r.title.startswith("forall")]
    return result


def test_open_table_entries_are_enumerated(tmp_path: Path) -> None:
    """The shipped claim reads PT[0] only: it holds for both values of the open PT[1]."""
    result = _raw(tmp_path, RAW_CLAIM)
    assert result.verdict is Verdict.PROVED, result.outcome.message
    assert result.outcome.details["choices"] == 2
    assert "the pte at 0x40003008" in result.outcome.message


@pytest.mark.parametrize(("claim", "value"), [
    # PT[1] absent: GPA 0x20_1000 does not translate.
    ("forall gpa in 0x0 .. 0x20_2000: translates(raw.ept, gpa)", 0x0),
    # PT[1] present: it does.
    ("forall gpa in 0x20_1000 .. 0x20_2000: not translates(raw.ept, gpa)", 0x1_0020_1035),
    # PT[1] present, and it maps GPA 0x20_1000 to HPA 0x1_0020_1000, not to itself.
    ("forall gpa in 0x20_1000 .. 0x20_2000: translates(raw.ept, gpa) implies target(raw.ept, gpa) == gpa",
     0x1_0020_1035),
    # The device's context entry walks the same tables.
    ("forall iova in 0x0 .. 0x20_2000: translates(dmar1, 03:00.0, iova)", 0x0),
])
def test_the_violating_choice_is_the_counterexample(claim: str, value: int, tmp_path: Path) -> None:
    result = _raw(tmp_path, claim)
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None
    assert cex.open_values["the pte at 0x40003008 in raw's EPT"] == value
    assert f"= {value:#x}" in result.outcome.message
    memory = cex.state["memory"]
    assert isinstance(memory, dict)
    assert int(memory.get("0x40003008", "0x0"), 16) == value
    address = cex.open_values.get("gpa", cex.open_values.get("iova"))
    assert address is not None and 0x20_1000 <= address < 0x20_2000
    _replays(result)


def test_a_claim_true_for_both_choices_is_proved(tmp_path: Path) -> None:
    result = _raw(tmp_path, "forall gpa in 0x20_1000 .. 0x20_2000: not writable(raw.ept, gpa)")
    assert result.verdict is Verdict.PROVED, result.outcome.message


def test_too_many_combinations_are_unknown(tmp_path: Path) -> None:
    """Seven more open entries of two values each: 2^8 = 256 combinations, beyond the limit of 64."""
    more = "".join(f"    pte at {0x4000_3010 + 8 * i:#x} = any in {{ 0x0, {0x1_0020_2035 + 0x1000 * i:#x} }}\n"
                   for i in range(7))
    text = RAW.replace("    entry at 0x4000_3010 = 0x0  # PT[2]: a guard page, explicitly not present\n", more)
    assert text != RAW
    result = _raw(tmp_path, RAW_CLAIM, text)
    assert result.verdict is Verdict.UNKNOWN, result.outcome.message
    assert result.outcome.reason.startswith("not-modelled")
    assert "256 combinations" in result.outcome.message


def test_an_unbounded_entry_is_unknown(tmp_path: Path) -> None:
    assert RAW_PT1 in RAW
    result = _raw(tmp_path, RAW_CLAIM, RAW.replace(RAW_PT1, "pte at 0x4000_3008 = any"))
    assert result.verdict is Verdict.UNKNOWN, result.outcome.message
    assert "the pte at 0x40003008 in raw's EPT is any" in result.outcome.message


def test_apic_bug_is_violated_and_replays(tmp_path: Path) -> None:
    report = check_spec(str(ROOT / "specs" / "bugs" / "assertion_apic_page_mapped.vmx"), OPTIONS,
                        bundle_dir=str(tmp_path))
    (result,) = report.results
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None
    assert cex.query["kind"] == "ept"
    assert cex.expect["match"] == {"result": "ok"}
    assert 0xFEE0_0000 <= cex.open_values["gpa"] < 0xFEE0_1000
    _replays(result)


def test_pure_field_assertion_proved(tmp_path: Path) -> None:
    result = _check(tmp_path, "g.vmcs.CR0_GUEST_HOST_MASK & (PG | PE) == PG | PE")
    assert result.verdict is Verdict.PROVED, result.outcome.message


def test_pure_field_assertion_violated(tmp_path: Path) -> None:
    result = _check(tmp_path, "g.vmcs.CR0_GUEST_HOST_MASK & CD != 0")
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None and cex.query["kind"] == "assertion"
    assert cex.query["text"] == "g.vmcs.CR0_GUEST_HOST_MASK & CD != 0" and cex.expect["match"] == {"value": False}
    _replays(result)


def test_open_field_assertion_names_the_field(tmp_path: Path) -> None:
    result = _check(tmp_path, "g.vmcs.GUEST_CR3 < 1G", assume="assume GUEST_CR3 & 0xfff == 0")
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None
    assert cex.open_values["g.GUEST_CR3"] >= 1 << 30 and cex.open_values["g.GUEST_CR3"] & 0xFFF == 0
    _replays(result)


def test_open_field_assertion_proved_under_assumption(tmp_path: Path) -> None:
    result = _check(tmp_path, "g.vmcs.GUEST_CR3 & 0xfff == 0", assume="assume GUEST_CR3 & 0xfff == 0")
    assert result.verdict is Verdict.PROVED, result.outcome.message


def test_forall_over_range_names_the_witness(tmp_path: Path) -> None:
    result = _check(tmp_path, "forall gpa in 0xfedf_f000 .. 0xfee0_2000: translates(g.ept, gpa)")
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None
    assert 0xFEE0_0000 <= cex.open_values["gpa"] < 0xFEE0_1000
    assert cex.expect["result_in"] == ["ept_violation", "ept_misconfig"]
    _replays(result)


def test_target_and_writable_over_ram(tmp_path: Path) -> None:
    result = _check(tmp_path, "forall gpa in 0x0 .. 1G: writable(g, gpa) and target(g.ept, gpa) == gpa + 0x1_0000_0000")
    assert result.verdict is Verdict.PROVED, result.outcome.message


def test_target_violation_replays(tmp_path: Path) -> None:
    result = _check(tmp_path, "forall gpa in 0x0 .. 1G: target(g.ept, gpa) == gpa")
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    _replays(result)


def test_vacuous_assumption(tmp_path: Path) -> None:
    result = _check(tmp_path, "g.vmcs.GUEST_CR3 == 0", assume="assume GUEST_CR3 < 0x1000 and GUEST_CR3 > 0x2000")
    assert result.verdict is Verdict.VACUOUS


def test_replay_rejects_a_true_assertion(tmp_path: Path) -> None:
    """A counterexample whose claim evaluates to true is not confirmed (the disagreement check)."""
    result = _check(tmp_path, "g.vmcs.CR0_GUEST_HOST_MASK & CD != 0")
    cex = result.outcome.counterexample
    assert cex is not None
    claim = {"binary": "NE", "left": {"const": "0x1"}, "right": {"const": "0x0"}}
    expect = {"assertion": {"text": "1 != 0", "claim": claim, "bindings": {}}}
    assert not replay(cex.state, {"kind": "assertion"}, expect).confirmed


def test_replay_result_in() -> None:
    state = {"format": "vmxspec-state/1"}
    claim = {"binary": "EQ", "left": {"const": "0x1"}, "right": {"const": "0x0"}}
    assert replay(state, {"kind": "assertion"}, {"assertion": {"claim": claim, "bindings": {}}}).confirmed
    assert not replay(state, {"kind": "assertion"}, {"result_in": ["ok"]}).confirmed
