"""``vmentry_valid`` end to end: spec -> state with open fields -> solver -> replayed verdict.

The base spec is ``specs/examples/shadow_paging.vmx`` (a complete VMCS whose promise is that every
VM-entry check holds for every value of its open fields under its assumptions); each test changes
one line and states by hand what the SDM then says. The open-table tests start from
``specs/examples/raw_entries.vmx``, whose EPT has an open page-table entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.build.from_model import build_state
from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.properties.vmentry_valid import memory_read
from vmxspec.sema import analyze
from vmxspec.state.model import State
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import EntryEncoding
from vmxspec.symbolic.vmentry.spec_check import OpenField

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


# -- open table entries: VM entry reads memory only at VTPR, the linked VMCS, the PDPTEs and the MSR-load area --

RAW = (ROOT / "specs" / "examples" / "raw_entries.vmx").read_text()
_PT1 = "pte at 0x4000_3008 = any in { 0x0, 0x1_0020_1035 }"
_NO_MSR_LOAD = "    VM_ENTRY_MSR_LOAD_COUNT  = 0\n"
_GUARD = "    entry at 0x4000_3010 = 0x0  # PT[2]: a guard page, explicitly not present\n"


def _msr_load(index: str, data: str) -> str:
    """raw_entries.vmx with a one-entry MSR-load area at 0x4000_7000 (a page the EPT walk does not
    read), its two words written as raw entries of the EPT block."""
    assert _NO_MSR_LOAD in RAW and _GUARD in RAW
    text = RAW.replace(_NO_MSR_LOAD, "    VM_ENTRY_MSR_LOAD_COUNT  = 1\n    VM_ENTRY_MSR_LOAD_ADDR   = 0x4000_7000\n")
    return text.replace(_GUARD, f"{_GUARD}    entry at 0x4000_7000 = {index}\n    entry at 0x4000_7008 = {data}\n")


@pytest.mark.parametrize("pt1", [_PT1, "pte at 0x4000_3008 = any"], ids=["two-values", "unbounded"])
def test_an_open_entry_no_check_reads_does_not_matter(pt1: str, tmp_path: Path) -> None:
    """PT[1] is outside every memory VM entry reads: proved without enumerating it (unbounded too)."""
    assert _PT1 in RAW
    verdict, outcome = _vmentry(tmp_path, RAW.replace(_PT1, pt1))
    assert verdict is Verdict.PROVED, outcome.message  # type: ignore[attr-defined]
    assert "choices" not in outcome.details  # type: ignore[attr-defined]


def test_open_msr_load_data_is_checked_for_each_value(tmp_path: Path) -> None:
    # Two valid IA32_PAT values (memory types 0, 4, 6, 7 and 6 only).
    verdict, outcome = _vmentry(tmp_path, _msr_load("0x277", "any in { 0x0007_0406_0007_0406, 0x0606_0606_0606_0606 }"))
    assert verdict is Verdict.PROVED, outcome.message  # type: ignore[attr-defined]
    assert outcome.details["choices"] == 2  # type: ignore[attr-defined]
    assert "the entry at 0x40007008 in raw's EPT" in outcome.message  # type: ignore[attr-defined]


@pytest.mark.parametrize(("index", "data", "address", "bad", "rule"), [
    # SDM "Loading MSRs": WRMSR would #GP on a PAT entry with memory type 2 (reserved).
    ("0x277", "any in { 0x0007_0406_0007_0406, 0x0007_0406_0007_0402 }", 0x4000_7008, 0x0007_0406_0007_0402,
     "MSRLOAD-WRMSR-GP"),
    # The MSR-load area may not name IA32_FS_BASE (VM entry loads it from the guest-state area).
    ("any in { 0x277, 0xc000_0100 }", "0x0", 0x4000_7000, 0xC000_0100, "MSRLOAD-FS-GS-BASE"),
])
def test_a_bad_value_in_the_msr_load_area_is_violated(index: str, data: str, address: int, bad: int, rule: str,
                                                      tmp_path: Path) -> None:
    verdict, outcome = _vmentry(tmp_path, _msr_load(index, data))
    assert verdict is Verdict.VIOLATED, outcome.message  # type: ignore[attr-defined]
    cex = outcome.counterexample  # type: ignore[attr-defined]
    assert cex.expect["violates"] == rule
    assert cex.open_values[f"the entry at {address:#x} in raw's EPT"] == bad
    assert int(cex.state["memory"][f"{address:#x}"], 16) == bad
    assert f"= {bad:#x}" in outcome.message  # type: ignore[attr-defined]
    confirmed = replay(cex.state, cex.query, cex.expect)
    assert confirmed.confirmed, confirmed.why


def test_an_unbounded_entry_in_the_msr_load_area_is_unknown(tmp_path: Path) -> None:
    verdict, outcome = _vmentry(tmp_path, _msr_load("0x277", "any"))
    assert verdict is Verdict.UNKNOWN
    assert outcome.reason == "not-modelled"  # type: ignore[attr-defined]
    assert "MSR-load area" in outcome.message  # type: ignore[attr-defined]


def test_an_open_vtd_entry_in_the_msr_load_area_is_unknown(tmp_path: Path) -> None:
    """The VM's state holds its own structures only, so an IOMMU's open entry there cannot be checked."""
    context = "context_entry at 0x4000_9000 = 0x102 << 64 | 0x4000_0001"
    assert context in RAW
    text = RAW.replace(_NO_MSR_LOAD, "    VM_ENTRY_MSR_LOAD_COUNT  = 1\n    VM_ENTRY_MSR_LOAD_ADDR   = 0x4000_9000\n")
    text = text.replace(context, "context_entry at 0x4000_9000 = any in { 0x0, 0x4000_0001 }")
    verdict, outcome = _vmentry(tmp_path, text)
    assert verdict is Verdict.UNKNOWN
    assert "context_entry at 0x40009000 of dmar1" in outcome.message  # type: ignore[attr-defined]


def _concrete_raw_state(tmp_path: Path) -> State:
    """raw_entries.vmx with its open values fixed and every memory-reading check switched on: TPR
    shadow (VTPR), a VMCS link pointer, PAE paging without EPT (PDPTEs at CR3), three MSR-load entries."""
    text = (RAW.replace(_PT1, "pte at 0x4000_3008 = 0x0").replace("any width 32", "0x10_0020")
            .replace("GUEST_RIP                    = any", "GUEST_RIP                    = 0x10_0000")
            .replace("TSC_OFFSET          = any", "TSC_OFFSET          = 0"))
    path = tmp_path / "concrete.vmx"
    path.write_text(text)
    model, diagnostics = analyze(path)
    assert model is not None, [d.headline() for d in diagnostics]
    state = build_state(model, "raw", iommus=False).state
    state.vmcs["CPU_BASED_VM_EXEC_CONTROL"] |= control_mask(ControlField.PROC, "use_tpr_shadow")
    state.vmcs["SECONDARY_VM_EXEC_CONTROL"] &= ~control_mask(ControlField.PROC2, "enable_ept")
    state.vmcs.update(VIRTUAL_APIC_PAGE_ADDR=0x4000_7000, TPR_THRESHOLD=0x3, VMCS_LINK_POINTER=0x4000_8000,
                      VM_ENTRY_MSR_LOAD_COUNT=3, VM_ENTRY_MSR_LOAD_ADDR=0x4000_9010)
    state.cpu.efer = state.vmcs["HOST_IA32_EFER"]
    return state


def test_memory_read_covers_what_both_semantics_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = _concrete_raw_state(tmp_path)
    reads = memory_read(state, {})
    assert {r.what.split(" (")[0] for r in reads} == {
        "VTPR on the virtual-APIC page", "the header of the VMCS that VMCS_LINK_POINTER references",
        "the guest's PDPTEs at GUEST_CR3", "the VM-entry MSR-load area"}
    # The interpreter: every byte it reads lies in one of them.
    seen: list[tuple[int, int]] = []
    read_u64 = State.read_u64

    def recorder(width: int) -> Callable[[State, int], int]:
        def read(self: State, address: int) -> int:
            seen.append((address, width))
            return read_u64(self, address) & ((1 << 8 * width) - 1)
        return read
    for name, width in (("read_u64", 8), ("read_u32", 4), ("read_u8", 1)):
        monkeypatch.setattr(State, name, recorder(width))
    before = check_vm_entry(state)
    monkeypatch.undo()
    assert len(seen) >= 4 + 4 + 3 * 2
    for address, width in seen:
        assert any(r.start <= address and address + width <= r.end for r in reads), hex(address)
    # Both semantics: filling every other word around the regions with ones changes no verdict.
    noisy = replace(state, memory=dict(state.memory))
    for r in reads:
        for word in (*range(r.start - 64, r.start, 8), *range(r.end, r.end + 64, 8), r.start + 0x1000):
            noisy.memory[word] = (1 << 64) - 1
    assert noisy.memory != state.memory

    def rules(s: State) -> tuple[set[str], frozenset[str]]:
        return ({v.rule.id for v in check_vm_entry(s).violations},
                EntryEncoding(SymState.from_state(s)).possibly_violated())
    assert rules(state)[0] == rules(state)[1] == {v.rule.id for v in before.violations}
    assert rules(noisy) == rules(state)
    # And the regions are what the checks read: ones inside them do change the verdict.
    inside = replace(state, memory=dict(state.memory))
    for r in reads:
        for word in range(r.start, r.end, 8):
            inside.memory[word] = (1 << 64) - 1
    assert rules(inside)[0] != rules(state)[0]
    assert rules(inside)[1] != rules(state)[1]


def test_memory_read_widens_an_open_address_over_its_domain() -> None:
    state = State(vmcs={"VM_ENTRY_MSR_LOAD_COUNT": 2, "VM_ENTRY_MSR_LOAD_ADDR": 0x5000,
                        "VMCS_LINK_POINTER": (1 << 64) - 1})
    opened = {"VM_ENTRY_MSR_LOAD_ADDR": OpenField((1 << 64) - 1, ((0x5000, 0x6000),))}
    (area,) = memory_read(state, opened)
    # The area may start anywhere in 0x5000 .. 0x5fff; two entries of 16 bytes, to whole words.
    assert (area.start, area.end) == (0x5000, 0x6020)
