"""Golden output of ``vmxspec why`` for every shipped example state.

The expected files were generated once and then read line by line against the SDM: each names
the rules the example's description says it breaks, and no others. Regenerate after an
intentional change with ``VMXSPEC_UPDATE_GOLDEN=1 pytest tests/golden`` and review the diff the
same way before committing it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmxspec.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples" / "states").glob("*.json"))
GOLDEN = Path(__file__).resolve().parent / "why"


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_why_output(example: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(ROOT)
    status = main(["why", str(example.relative_to(ROOT))])
    out = capsys.readouterr().out
    expected_path = GOLDEN / f"{example.stem}.txt"
    actual = f"exit status {status}\n{out}"
    if os.environ.get("VMXSPEC_UPDATE_GOLDEN"):
        expected_path.write_text(actual)
    assert actual == expected_path.read_text()


def test_every_golden_file_has_an_example() -> None:
    assert {p.stem for p in GOLDEN.glob("*.txt")} == {p.stem for p in EXAMPLES}


#: What each example's description promises, written by hand from the SDM conditions.
EXPECTED_RULES = {
    "kvm-baseline": set(),
    "broken-controls": {"CTL-PIN-RSVD", "CTL-PI-VID", "CTL-EPTP-MT"},
    "broken-host": {"HOST-SEL-TR", "HOST-ASSIZE1-RIP"},
    "broken-guest": {"GUEST-SEG-CS-DB", "GUEST-RFLAGS-IF"},
    "broken-msr-load": {"MSRLOAD-FS-GS-BASE", "MSRLOAD-WRMSR-GP"},
    "kvm-l1-nested-caps": {"CTL-CR3-COUNT", "CTL-EPTP-MT"},
    "iommu-two-devices": set(),
}


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_example_breaks_exactly_what_it_says(example: Path) -> None:
    import json

    from vmxspec.interp.vmentry import check_vm_entry
    from vmxspec.state import load_state

    result = check_vm_entry(load_state(json.loads(example.read_text())))
    assert result.complete
    assert {v.rule.id for v in result.violations} == EXPECTED_RULES[example.stem]
