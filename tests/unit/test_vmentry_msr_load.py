"""Passing and failing cases for every check VM entry makes while loading the VM-entry MSR-load area.

Each case writes a small MSR-load area (16-byte entries: MSR index in bits 31:0, reserved bits 63:32,
data in bits 127:64) into the baseline's memory and states by hand which rules fail and which entry
the exit qualification names (1 for the first entry). Baseline guest: IA-32e mode, "load IA32_EFER"
with GUEST_IA32_EFER 0xd01 (LME = 1), GUEST_CR0 0x80050033 (PG = 1); IA32_VMX_MISC[27:25] = 0, so
the recommended maximum list length is 512; 48-bit linear addresses.
"""

from __future__ import annotations

import pytest

from tests.states import baseline, rule_ids
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State

AREA = 0x2000_0000
ENTRY = 0x0000_D3FF
LOAD_EFER, IA32E_GUEST = 1 << 15, 1 << 9
CR0 = 0x8005_0033
CR0_PG = 1 << 31

IA32_EFER, IA32_FS_BASE, IA32_GS_BASE = 0xC000_0080, 0xC000_0100, 0xC000_0101
NONCANON_LOW, BOTTOM_HIGH = 0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000


def with_msrs(*entries: tuple[int, ...], **fields: int) -> State:
    """The baseline with an MSR-load area of ``(index, value[, bits 63:32])`` entries."""
    state = baseline(VM_ENTRY_MSR_LOAD_COUNT=len(entries), VM_ENTRY_MSR_LOAD_ADDR=AREA, **fields)
    for n, (index, value, *high) in enumerate(entries):
        state.memory[AREA + 16 * n] = index | (high[0] if high else 0) << 32
        state.memory[AREA + 16 * n + 8] = value
    return state


def msr_load(state: State) -> set[str]:
    return rule_ids(state, ("msr_load",))


GP = {"MSRLOAD-WRMSR-GP"}

# (description, MSR index, value, violated rules) for a one-entry area.
ONE_ENTRY: list[tuple[str, int, int, set[str]]] = [
    # MSRLOAD-FS-GS-BASE
    ("IA32_FS_BASE", IA32_FS_BASE, 0, {"MSRLOAD-FS-GS-BASE"}),
    ("IA32_GS_BASE", IA32_GS_BASE, BOTTOM_HIGH, {"MSRLOAD-FS-GS-BASE"}),
    ("IA32_KERNEL_GS_BASE may be loaded", 0xC000_0102, BOTTOM_HIGH, set()),
    # MSRLOAD-X2APIC: indices 800H-8FFH, whatever the APIC mode
    ("MSR 7FFH (just below the x2APIC range)", 0x7FF, 0, set()),
    ("x2APIC TPR (808H)", 0x808, 0, {"MSRLOAD-X2APIC"}),
    ("MSR 800H", 0x800, 0, {"MSRLOAD-X2APIC"}),
    ("MSR 8FFH", 0x8FF, 0, {"MSRLOAD-X2APIC"}),
    ("MSR 900H (just above the x2APIC range)", 0x900, 0, set()),
    # MSRLOAD-SMM-ONLY (cpu.in_smm is false)
    ("IA32_SMM_MONITOR_CTL outside SMM", 0x9B, 0, {"MSRLOAD-SMM-ONLY"}),
    # MSRLOAD-MODEL-SPECIFIC
    ("IA32_BIOS_UPDT_TRIG", 0x79, 0x1000, {"MSRLOAD-MODEL-SPECIFIC"}),
    ("IA32_BIOS_SIGN_ID", 0x8B, 0, {"MSRLOAD-MODEL-SPECIFIC"}),
    # MSRLOAD-WRMSR-GP: MSR numbers outside vmxspec's table are model-specific, never failures
    ("unknown MSR 1A0H with all bits set", 0x1A0, 0xFFFF_FFFF_FFFF_FFFF, set()),
    ("unknown MSR 40000000H", 0x4000_0000, 0xFFFF_FFFF_FFFF_FFFF, set()),
    ("IA32_TIME_STAMP_COUNTER takes any value", 0x10, 0xFFFF_FFFF_FFFF_FFFF, set()),
    ("IA32_SYSENTER_CS takes any value", 0x174, 0xFFFF_FFFF_FFFF_FFFF, set()),
    ("IA32_STAR takes any value", 0xC000_0081, 0xFFFF_FFFF_FFFF_FFFF, set()),
    ("IA32_PAT valid types", 0x277, 0x0007_0406_0007_0406, set()),
    ("IA32_PAT byte 0 = 2", 0x277, 0x0007_0406_0007_0402, GP),
    ("IA32_PAT byte 7 = 8", 0x277, 0x0807_0406_0007_0406, GP),
    ("IA32_EFER SCE LME LMA NXE", IA32_EFER, 0xD01, set()),
    ("IA32_EFER with LMA clear (LMA is read-only, ignored)", IA32_EFER, 0x901, set()),
    ("IA32_EFER bit 12", IA32_EFER, 0x1D01, GP),
    ("IA32_EFER bit 63", IA32_EFER, 1 << 63 | 0xD01, GP),
    ("IA32_SYSENTER_ESP top of the low half", 0x175, 0x0000_7FFF_FFFF_FFFF, set()),
    ("IA32_SYSENTER_ESP non-canonical", 0x175, NONCANON_LOW, GP),
    ("IA32_SYSENTER_EIP non-canonical", 0x176, 0xFFFF_7FFF_FFFF_FFFF, GP),
    ("IA32_LSTAR canonical", 0xC000_0082, BOTTOM_HIGH, set()),
    ("IA32_LSTAR non-canonical", 0xC000_0082, 1 << 63, GP),
    ("IA32_CSTAR need not be canonical (SDM)", 0xC000_0083, NONCANON_LOW, set()),
    ("IA32_FMASK bits 31:0", 0xC000_0084, 0xFFFF_FFFF, set()),
    ("IA32_FMASK bit 32", 0xC000_0084, 1 << 32, GP),
    ("IA32_KERNEL_GS_BASE non-canonical", 0xC000_0102, NONCANON_LOW, GP),
    ("IA32_TSC_AUX bits 31:0", 0xC000_0103, 0xFFFF_FFFF, set()),
    ("IA32_TSC_AUX bit 32", 0xC000_0103, 1 << 32, GP),
    ("IA32_DEBUGCTL defined bits", 0x1D9, 0xFFC3, set()),
    ("IA32_DEBUGCTL bit 2", 0x1D9, 0x4, GP),
    ("IA32_DEBUGCTL bit 16", 0x1D9, 1 << 16, GP),
    ("IA32_SPEC_CTRL defined bits", 0x48, 0x5FF, set()),
    ("IA32_SPEC_CTRL bit 9", 0x48, 1 << 9, GP),
    ("IA32_SPEC_CTRL bit 11", 0x48, 1 << 11, GP),
    ("IA32_XSS supervisor components", 0xDA0, 0x1_FD00, set()),
    ("IA32_XSS PKRU (user component 9)", 0xDA0, 1 << 9, GP),
    ("IA32_XSS x87 (user component 0)", 0xDA0, 1, GP),
    ("IA32_PKRS bits 31:0", 0x6E1, 0xFFFF_FFFF, set()),
    ("IA32_PKRS bit 32", 0x6E1, 1 << 32, GP),
    ("IA32_S_CET SUPPRESS only", 0x6A2, 0x400, set()),
    ("IA32_S_CET SUPPRESS and TRACKER", 0x6A2, 0xC00, GP),
    ("IA32_S_CET reserved bit 6", 0x6A2, 0x40, GP),
    ("IA32_S_CET non-canonical", 0x6A2, NONCANON_LOW, GP),
    ("IA32_U_CET TRACKER only", 0x6A0, 0x800, set()),
    ("IA32_U_CET SUPPRESS and TRACKER", 0x6A0, 0xC00, GP),
    ("IA32_PL0_SSP aligned", 0x6A4, BOTTOM_HIGH | 0xFF8, set()),
    ("IA32_PL3_SSP bit 1", 0x6A7, BOTTOM_HIGH | 0xFFA, GP),
    ("IA32_INTERRUPT_SSP_TABLE_ADDR non-canonical", 0x6A8, NONCANON_LOW, GP),
    ("IA32_PERF_GLOBAL_CTRL bits 48:0", 0x38F, (1 << 49) - 1, set()),
    ("IA32_PERF_GLOBAL_CTRL bit 49", 0x38F, 1 << 49, GP),
    ("IA32_BNDCFGS enable, preserve, base", 0xD90, BOTTOM_HIGH | 0x1003, set()),
    ("IA32_BNDCFGS bit 2", 0xD90, 0x4, GP),
    ("IA32_FLUSH_CMD L1D_FLUSH", 0x10B, 1, set()),
    ("IA32_FLUSH_CMD bit 1", 0x10B, 2, GP),
    ("IA32_VMX_BASIC is read-only", 0x480, 0, GP),
    ("IA32_VMX_EXIT_CTLS2 is read-only", 0x493, 0, GP),
    ("IA32_MTRRCAP is read-only", 0xFE, 0, GP),
    ("IA32_ARCH_CAPABILITIES is read-only", 0x10A, 0, GP),
    ("IA32_FS_BASE non-canonical fails twice", IA32_FS_BASE, NONCANON_LOW, {"MSRLOAD-FS-GS-BASE", *GP}),
]


@pytest.mark.parametrize(("index", "value", "expected"), [(i, v, e) for _, i, v, e in ONE_ENTRY],
                         ids=[c[0] for c in ONE_ENTRY])
def test_one_entry(index: int, value: int, expected: set[str]) -> None:
    assert msr_load(with_msrs((index, value))) == expected


@pytest.mark.parametrize(("high", "expected"), [(0, set()), (1, {"MSRLOAD-RSVD"}), (0x8000_0000, {"MSRLOAD-RSVD"})])
def test_entry_bits_63_32_reserved(high: int, expected: set[str]) -> None:
    assert msr_load(with_msrs((0x10, 0, high))) == expected


def test_smm_only_msr_in_smm() -> None:
    state = with_msrs((0x9B, 1))
    state.cpu.in_smm = True
    assert msr_load(state) == set()
    state = with_msrs((0x9B, 1 << 1))  # bit 1 is reserved
    state.cpu.in_smm = True
    assert msr_load(state) == {"MSRLOAD-WRMSR-GP"}


def test_canonical_follows_the_linear_address_width() -> None:
    state = with_msrs((0xC000_0082, NONCANON_LOW), (0xC000_0082, 1 << 56))
    state.maxlinaddr = 57
    result = check_vm_entry(state)
    assert {v.rule.id for v in result.violations} == {"MSRLOAD-WRMSR-GP"}
    assert result.exit_qualification == 2


# MSRLOAD-EFER-LME: (VM-entry controls, GUEST_CR0, IA32_EFER values loaded in order) -> failing entries
EFER_CASES: list[tuple[str, int, int, tuple[int, ...], list[int]]] = [
    ("same LME as GUEST_IA32_EFER", ENTRY, CR0, (0xD01,), []),
    ("LME cleared while paging", ENTRY, CR0, (0x401,), [1]),
    ("LME cleared with paging off", ENTRY, CR0 & ~CR0_PG, (0x401,), []),
    ("second entry changes LME", ENTRY, CR0, (0xD01, 0x401), [2]),
    ("LME from IA-32e mode guest without load IA32_EFER", ENTRY & ~LOAD_EFER, CR0, (0x401,), [1]),
    ("32-bit guest: LME 0 kept", ENTRY & ~(LOAD_EFER | IA32E_GUEST), CR0, (0x801,), []),
    ("32-bit guest: LME set while paging", ENTRY & ~(LOAD_EFER | IA32E_GUEST), CR0, (0x901,), [1]),
]


@pytest.mark.parametrize(("entry_ctls", "cr0", "values", "failing"), [c[1:] for c in EFER_CASES],
                         ids=[c[0] for c in EFER_CASES])
def test_efer_lme_change_while_paging(entry_ctls: int, cr0: int, values: tuple[int, ...], failing: list[int]) -> None:
    state = with_msrs(*((IA32_EFER, v) for v in values), VM_ENTRY_CONTROLS=entry_ctls, GUEST_CR0=cr0)
    result = check_vm_entry(state, (Stage.MSR_LOAD,))
    assert result.complete
    assert sorted(v.exit_qualification or 0 for v in result.violations) == failing
    assert {v.rule.id for v in result.violations} <= {"MSRLOAD-EFER-LME"}


def test_exit_reason_34_and_first_failing_index() -> None:
    state = with_msrs((0xC000_0102, BOTTOM_HIGH), (0x277, 0x0007_0406_0007_0406), (IA32_FS_BASE, 0),
                      (0x808, 0), (0x277, 0x02))
    result = check_vm_entry(state)
    assert result.vm_instruction_error is None
    assert result.exit_reason == 34
    assert result.exit_qualification == 3
    assert sorted((v.exit_qualification, v.rule.id) for v in result.violations) == [
        (3, "MSRLOAD-FS-GS-BASE"), (4, "MSRLOAD-X2APIC"), (5, "MSRLOAD-WRMSR-GP")]


def test_passing_area_loads() -> None:
    state = with_msrs((0xC000_0102, BOTTOM_HIGH), (IA32_EFER, 0xD01), (0x277, 0x0007_0406_0007_0406), (0x48, 1))
    result = check_vm_entry(state)
    assert result.passed and result.complete
    assert result.exit_reason is None and result.exit_qualification is None


def test_host_state_failure_comes_first() -> None:
    result = check_vm_entry(with_msrs((IA32_FS_BASE, 0), HOST_TR_SELECTOR=0))
    assert result.vm_instruction_error == 8
    assert result.exit_reason is None


def test_count_zero_reads_no_area() -> None:
    state = baseline(VM_ENTRY_MSR_LOAD_ADDR=AREA)
    state.memory[AREA] = IA32_FS_BASE
    assert msr_load(state) == set()


@pytest.mark.parametrize(("count", "misc_27_25", "expected", "qualification"), [
    (512, 0, set(), None),
    (513, 0, {"MSRLOAD-COUNT-MAX"}, 513),
    (0xFFFF_FFFF, 0, {"MSRLOAD-COUNT-MAX"}, 513),
    (1024, 1, set(), None),
    (1025, 1, {"MSRLOAD-COUNT-MAX"}, 1025),
])
def test_count_against_recommended_maximum(count: int, misc_27_25: int, expected: set[str],
                                           qualification: int | None) -> None:
    """Unlisted memory reads as 0, so every entry loads MSR 0 (model-specific) with 0 and passes."""
    state = baseline(VM_ENTRY_MSR_LOAD_COUNT=count, VM_ENTRY_MSR_LOAD_ADDR=AREA)
    state.caps["IA32_VMX_MISC"] = 0x7004_C1E7 | misc_27_25 << 25
    result = check_vm_entry(state)
    assert {v.rule.id for v in result.violations} == expected
    assert result.exit_qualification == qualification
    assert result.exit_reason == (34 if expected else None)


def test_entries_beyond_the_maximum_are_not_checked() -> None:
    """A bad entry at 513 is past the point where VM entry already failed (qualification 513)."""
    state = baseline(VM_ENTRY_MSR_LOAD_COUNT=513, VM_ENTRY_MSR_LOAD_ADDR=AREA)
    state.memory[AREA + 16 * 512] = IA32_FS_BASE
    assert msr_load(state) == {"MSRLOAD-COUNT-MAX"}
