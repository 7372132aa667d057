"""``vmentry_valid`` end to end: spec -> state with open fields -> solver -> replayed verdict.

The base spec is ``specs/examples/shadow_paging.vmx`` (a complete VMCS whose promise is that every
VM-entry check holds for every value of its open fields under its assumptions); each test changes
one line and states by hand what the SDM then says.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Verdict

ROOT = Path(__file__).resolve().parents[2]
SHADOW = (ROOT / "specs" / "examples" / "shadow_paging.vmx").read_text()


def _vmentry(tmp_path: Path, text: str) -> tuple[Verdict, object]:
    spec = tmp_path / "spec.vmx"
    spec.write_text(text)
    report = check_spec(str(spec), CheckOptions(timeout_ms=20_000), bundle_dir=str(tmp_path / "bundles"))
    assert not report.had_errors, report.diagnostics
    (result,) = [r for r in report.results if r.title.startswith("vmentry_valid")]
    return result.verdict, result.outcome


def test_the_example_is_proved(tmp_path: Path) -> None:
    verdict, _ = _vmentry(tmp_path, SHADOW)
    assert verdict is Verdict.PROVED


def test_open_rflags_can_clear_the_fixed_bit(tmp_path: Path) -> None:
    # SDM "Checks on Guest RIP, RFLAGS, and SSP": RFLAGS bit 1 must be 1; an open RFLAGS can be 0.
    text = SHADOW.replace("GUEST_RFLAGS                 = 0x202", "GUEST_RFLAGS                 = any")
    verdict, outcome = _vmentry(tmp_path, text)
    assert verdict is Verdict.VIOLATED
    cex = outcome.counterexample  # type: ignore[attr-defined]
    assert "GUEST_RFLAGS" in cex.open_values
    confirmed = replay(cex.state, cex.query, cex.expect)
    assert confirmed.confirmed, confirmed.why


def test_an_assumption_closes_the_gap(tmp_path: Path) -> None:
    text = SHADOW.replace("GUEST_RFLAGS                 = 0x202", "GUEST_RFLAGS                 = any")
    text = text.replace("  assume GUEST_CR3 & 0xfff == 0",
                        "  assume GUEST_RFLAGS == 0x202\n  assume GUEST_CR3 & 0xfff == 0")
    verdict, _ = _vmentry(tmp_path, text)
    assert verdict is Verdict.PROVED


def test_contradictory_assumptions_are_vacuous_not_proved(tmp_path: Path) -> None:
    text = SHADOW.replace("  assume GUEST_CR3 & 0xfff == 0",
                          "  assume GUEST_CR3 & 0xfff == 0\n  assume GUEST_CR3 & 0xfff == 1")
    verdict, _ = _vmentry(tmp_path, text)
    assert verdict is Verdict.VACUOUS


@pytest.mark.parametrize("bug", sorted((ROOT / "specs" / "bugs").glob("vmentry*.vmx")), ids=lambda p: p.stem)
def test_bug_specs_are_refuted_with_a_replayed_counterexample(bug: Path, tmp_path: Path) -> None:
    report = check_spec(str(bug), CheckOptions(timeout_ms=20_000), bundle_dir=str(tmp_path))
    (result,) = [r for r in report.results if r.title.startswith("vmentry_valid")]
    assert result.verdict is Verdict.VIOLATED
