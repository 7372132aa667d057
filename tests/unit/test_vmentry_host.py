"""Passing and failing boundary cases for every check on the host-state area.

Each case starts from the KVM-like baseline (which passes every check), changes the few fields the
SDM condition talks about, and states by hand which host-state rules must fail. Only the host stage
is evaluated, so a case may use a control (e.g. "load CET state") that the baseline's capability
MSRs do not allow. Baseline: VM-exit controls 0x002fefff (host address-space size, load PAT, load
EFER), VM-entry controls 0x0000d3ff (IA-32e mode guest), HOST_CR0 0x80050033, HOST_CR4 0x3726e0,
IA32_VMX_CR0_FIXED0/1 0x80000021/0xffffffff, IA32_VMX_CR4_FIXED0/1 0x2000/0x7767ff, MAXPHYADDR 46,
48-bit linear addresses, cpu.efer 0xd01 (LMA = 1).
"""

from __future__ import annotations

import pytest

from tests.states import baseline, rule_ids
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State

EXIT, ENTRY = 0x002F_EFFF, 0x0000_D3FF
CR0, CR4 = 0x8005_0033, 0x0037_26E0
HOST64, LOAD_PERF, LOAD_PAT, LOAD_EFER, LOAD_CET, LOAD_PKRS = 1 << 9, 1 << 12, 1 << 19, 1 << 21, 1 << 28, 1 << 29
IA32E_GUEST = 1 << 9
CR0_PE, CR0_NE, CR0_WP = 1 << 0, 1 << 5, 1 << 16
CR4_PAE, CR4_LA57, CR4_VMXE, CR4_PCIDE, CR4_CET = 1 << 5, 1 << 12, 1 << 13, 1 << 17, 1 << 23
CR4_FIXED1 = 0x7767FF

# The last canonical addresses of each half with 48-bit linear addresses, and their neighbours.
TOP_LOW, BOTTOM_HIGH = 0x0000_7FFF_FFFF_FFFF, 0xFFFF_8000_0000_0000
NONCANON_LOW, NONCANON_HIGH = 0x0000_8000_0000_0000, 0xFFFF_7FFF_FFFF_FFFF

CET = {"VM_EXIT_CONTROLS": EXIT | LOAD_CET, "HOST_S_CET": 0, "HOST_SSP": 0, "HOST_INTR_SSP_TABLE": 0}


def host(state: State) -> set[str]:
    return rule_ids(state, ("host",))


def host32(**fields: int) -> State:
    """The baseline turned into a consistent 32-bit (PAE) host: outside IA-32e mode, 32-bit guest."""
    state = baseline(**{"VM_EXIT_CONTROLS": EXIT & ~HOST64, "VM_ENTRY_CONTROLS": ENTRY & ~IA32E_GUEST,
                        "HOST_CR4": CR4 & ~CR4_PCIDE, "HOST_RIP": 0x81C0_0000, "HOST_IA32_EFER": 0x801,
                        **fields})
    state.cpu.efer = 0x801
    return state


def with_caps(state: State, **caps: int) -> State:
    state.caps.update(caps)
    return state


CASES: list[tuple[str, dict[str, int], set[str]]] = [
    ("baseline", {}, set()),
    # HOST-CR0-FIXED: FIXED0 = PE | NE | PG, FIXED1 = bits 31:0
    ("CR0 = FIXED0 exactly", {"HOST_CR0": 0x8000_0021}, set()),
    ("CR0.PE clear", {"HOST_CR0": CR0 & ~CR0_PE}, {"HOST-CR0-FIXED"}),
    ("CR0.NE clear", {"HOST_CR0": CR0 & ~CR0_NE}, {"HOST-CR0-FIXED"}),
    ("CR0 bit 32", {"HOST_CR0": CR0 | 1 << 32}, {"HOST-CR0-FIXED"}),
    # HOST-CR4-FIXED: FIXED0 = VMXE, FIXED1 = 0x7767ff (no UMIP, LA57, CET)
    ("CR4 = VMXE | PAE", {"HOST_CR4": CR4_VMXE | CR4_PAE}, set()),
    ("CR4.VMXE clear", {"HOST_CR4": CR4 & ~CR4_VMXE}, {"HOST-CR4-FIXED"}),
    ("CR4.LA57 not allowed", {"HOST_CR4": CR4 | CR4_LA57}, {"HOST-CR4-FIXED"}),
    ("CR4.UMIP (bit 11) not allowed", {"HOST_CR4": CR4 | 1 << 11}, {"HOST-CR4-FIXED"}),
    # HOST-CR4-CET-WP is unconditional; WP without CET is fine
    ("CR0.WP clear without CET", {"HOST_CR0": CR0 & ~CR0_WP}, set()),
    # HOST-CR3-MAXPHY: bits 63:46 reserved
    ("CR3 highest page below 2^46", {"HOST_CR3": 0x3FFF_FFFF_F000}, set()),
    ("CR3 bit 46", {"HOST_CR3": 1 << 46}, {"HOST-CR3-MAXPHY"}),
    ("CR3 bit 63", {"HOST_CR3": 1 << 63 | 0x10A000}, {"HOST-CR3-MAXPHY"}),
    ("CR3 LAM_U57 without LAM", {"HOST_CR3": 1 << 61 | 0x10A000}, {"HOST-CR3-MAXPHY"}),
    # HOST-SYSENTER-CANONICAL
    ("SYSENTER_ESP top of the low half", {"HOST_IA32_SYSENTER_ESP": TOP_LOW}, set()),
    ("SYSENTER_EIP bottom of the high half", {"HOST_IA32_SYSENTER_EIP": BOTTOM_HIGH}, set()),
    ("SYSENTER_ESP non-canonical", {"HOST_IA32_SYSENTER_ESP": NONCANON_LOW}, {"HOST-SYSENTER-CANONICAL"}),
    ("SYSENTER_EIP non-canonical", {"HOST_IA32_SYSENTER_EIP": NONCANON_HIGH}, {"HOST-SYSENTER-CANONICAL"}),
    # HOST-CET-*: only with "load CET state"
    ("load CET state with SUPPRESS only", {**CET, "HOST_S_CET": 0x400}, set()),
    ("load CET state with bits 5:0 and TRACKER", {**CET, "HOST_S_CET": 0x83F}, set()),
    ("S_CET SUPPRESS and TRACKER", {**CET, "HOST_S_CET": 0xC00}, {"HOST-CET-SCET"}),
    ("S_CET reserved bit 6", {**CET, "HOST_S_CET": 0x40}, {"HOST-CET-SCET"}),
    ("S_CET reserved bit 9", {**CET, "HOST_S_CET": 0x200}, {"HOST-CET-SCET"}),
    ("S_CET not checked without load CET state", {"HOST_S_CET": 0xFFFF_FFFF_FFFF_FFFF}, set()),
    ("SSP 4-byte aligned", {**CET, "HOST_SSP": 0xFFFF_8000_0000_1004}, set()),
    ("SSP bit 1", {**CET, "HOST_SSP": 0xFFFF_8000_0000_1002}, {"HOST-CET-SSP-ALIGN"}),
    ("SSP bit 0", {**CET, "HOST_SSP": 0x1001}, {"HOST-CET-SSP-ALIGN"}),
    ("interrupt SSP table canonical", {**CET, "HOST_INTR_SSP_TABLE": BOTTOM_HIGH}, set()),
    ("interrupt SSP table non-canonical", {**CET, "HOST_INTR_SSP_TABLE": NONCANON_LOW}, {"HOST-CET-INTR-SSP-TABLE"}),
    # HOST-PERF-GLOBAL-CTRL: bits 63:49 reserved
    ("PERF_GLOBAL_CTRL bits 48:0",
     {"VM_EXIT_CONTROLS": EXIT | LOAD_PERF, "HOST_IA32_PERF_GLOBAL_CTRL": (1 << 49) - 1}, set()),
    ("PERF_GLOBAL_CTRL bit 49",
     {"VM_EXIT_CONTROLS": EXIT | LOAD_PERF, "HOST_IA32_PERF_GLOBAL_CTRL": 1 << 49}, {"HOST-PERF-GLOBAL-CTRL"}),
    ("PERF_GLOBAL_CTRL not loaded", {"HOST_IA32_PERF_GLOBAL_CTRL": 1 << 63}, set()),
    # HOST-PAT: every byte in {0, 1, 4, 5, 6, 7}
    ("PAT all UC-", {"HOST_IA32_PAT": 0x0707_0707_0707_0707}, set()),
    ("PAT WB/WT/UC-/UC/WC/WP", {"HOST_IA32_PAT": 0x0001_0504_0706_0406}, set()),
    ("PAT byte 0 = 2", {"HOST_IA32_PAT": 0x0007_0406_0007_0402}, {"HOST-PAT"}),
    ("PAT byte 7 = 3", {"HOST_IA32_PAT": 0x0307_0406_0007_0406}, {"HOST-PAT"}),
    ("PAT byte 4 = 8", {"HOST_IA32_PAT": 0x0007_0408_0007_0406}, {"HOST-PAT"}),
    ("PAT not loaded", {"VM_EXIT_CONTROLS": EXIT & ~LOAD_PAT, "HOST_IA32_PAT": 0x02}, set()),
    # HOST-EFER-RSVD: only SCE, LME, LMA, NXE
    ("EFER without NXE", {"HOST_IA32_EFER": 0x501}, set()),
    ("EFER bit 12 (SVME) reserved on Intel", {"HOST_IA32_EFER": 0x1D01}, {"HOST-EFER-RSVD"}),
    ("EFER bit 63", {"HOST_IA32_EFER": 1 << 63 | 0xD01}, {"HOST-EFER-RSVD"}),
    ("EFER bit 1", {"HOST_IA32_EFER": 0xD03}, {"HOST-EFER-RSVD"}),
    ("EFER not loaded", {"VM_EXIT_CONTROLS": EXIT & ~LOAD_EFER, "HOST_IA32_EFER": 0xFFFF}, set()),
    # HOST-EFER-LMA-LME with a 64-bit host
    ("EFER LMA clear", {"HOST_IA32_EFER": 0x901}, {"HOST-EFER-LMA-LME"}),
    ("EFER LME clear", {"HOST_IA32_EFER": 0xC01}, {"HOST-EFER-LMA-LME"}),
    # HOST-PKRS
    ("PKRS bits 31:0", {"VM_EXIT_CONTROLS": EXIT | LOAD_PKRS, "HOST_IA32_PKRS": 0xFFFF_FFFF}, set()),
    ("PKRS bit 32", {"VM_EXIT_CONTROLS": EXIT | LOAD_PKRS, "HOST_IA32_PKRS": 1 << 32}, {"HOST-PKRS"}),
    ("PKRS not loaded", {"HOST_IA32_PKRS": 1 << 63}, set()),
    # HOST-SEL-CS, HOST-SEL-TR, HOST-SEL-SS (64-bit host)
    ("CS selector 0008H", {"HOST_CS_SELECTOR": 0x8}, set()),
    ("CS selector 0", {"HOST_CS_SELECTOR": 0}, {"HOST-SEL-CS"}),
    ("TR selector 0", {"HOST_TR_SELECTOR": 0}, {"HOST-SEL-TR"}),
    ("SS selector 0 with a 64-bit host", {"HOST_SS_SELECTOR": 0}, set()),
    ("CS selector with RPL only (not zero)", {"HOST_CS_SELECTOR": 0x3}, {"HOST-SEL-RPL-TI"}),
    # HOST-ASSIZE1-*
    ("CR4.PAE clear with a 64-bit host", {"HOST_CR4": CR4 & ~CR4_PAE}, {"HOST-ASSIZE1-PAE"}),
    ("RIP top of the low half", {"HOST_RIP": TOP_LOW}, set()),
    ("RIP bottom of the high half", {"HOST_RIP": BOTTOM_HIGH}, set()),
    ("RIP 0x0000800000000000", {"HOST_RIP": NONCANON_LOW}, {"HOST-ASSIZE1-RIP"}),
    ("RIP 0xffff7fffffffffff", {"HOST_RIP": NONCANON_HIGH}, {"HOST-ASSIZE1-RIP"}),
    ("S_CET and SSP canonical", {**CET, "HOST_S_CET": BOTTOM_HIGH | 0x400, "HOST_SSP": TOP_LOW & ~3}, set()),
    ("S_CET non-canonical", {**CET, "HOST_S_CET": NONCANON_LOW}, {"HOST-ASSIZE1-CET"}),
    ("SSP non-canonical", {**CET, "HOST_SSP": NONCANON_HIGH & ~3}, {"HOST-ASSIZE1-CET"}),
    ("S_CET canonical form not checked without load CET state", {"HOST_S_CET": NONCANON_LOW}, set()),
]


@pytest.mark.parametrize(("fields", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES])
def test_host_case(fields: dict[str, int], expected: set[str]) -> None:
    assert host(baseline(**fields)) == expected


SELECTORS = ("ES", "CS", "SS", "DS", "FS", "GS", "TR")


@pytest.mark.parametrize("seg", SELECTORS)
@pytest.mark.parametrize(("low_bits", "bad"), [(0, False), (1, True), (2, True), (3, True), (4, True)])
def test_selector_rpl_ti(seg: str, low_bits: int, bad: bool) -> None:
    state = baseline(**{f"HOST_{seg}_SELECTOR": 0x18 | low_bits})
    assert host(state) == ({"HOST-SEL-RPL-TI"} if bad else set())


@pytest.mark.parametrize("base", ["HOST_FS_BASE", "HOST_GS_BASE", "HOST_GDTR_BASE", "HOST_IDTR_BASE", "HOST_TR_BASE"])
@pytest.mark.parametrize(("value", "bad"), [(TOP_LOW, False), (BOTTOM_HIGH, False), (NONCANON_LOW, True),
                                            (NONCANON_HIGH, True), (1 << 63, True)])
def test_base_canonical(base: str, value: int, bad: bool) -> None:
    assert host(baseline(**{base: value})) == ({"HOST-BASE-CANONICAL"} if bad else set())


def test_canonical_follows_the_linear_address_width() -> None:
    """With 57-bit linear addresses, bit 47 no longer has to be copied upward; bit 56 does."""
    state = baseline(HOST_RIP=NONCANON_LOW, HOST_GS_BASE=0xFF00_0000_0000_0000, HOST_IA32_SYSENTER_ESP=1 << 56)
    state.maxlinaddr = 57
    assert host(state) == {"HOST-SYSENTER-CANONICAL"}


def test_cr4_cet_requires_wp() -> None:
    cet_caps = {"IA32_VMX_CR4_FIXED1": CR4_FIXED1 | CR4_CET}
    assert host(with_caps(baseline(HOST_CR4=CR4 | CR4_CET), **cet_caps)) == set()
    assert host(with_caps(baseline(HOST_CR4=CR4 | CR4_CET, HOST_CR0=CR0 & ~CR0_WP), **cet_caps)) == {"HOST-CR4-CET-WP"}


def test_cr3_lam_bits_with_lam() -> None:
    lam_caps = {"IA32_VMX_CR4_FIXED1": CR4_FIXED1 | 1 << 28}
    assert host(with_caps(baseline(HOST_CR3=3 << 61 | 0x10A000), **lam_caps)) == set()
    assert host(with_caps(baseline(HOST_CR3=1 << 63 | 0x10A000), **lam_caps)) == {"HOST-CR3-MAXPHY"}
    assert host(with_caps(baseline(HOST_CR3=1 << 60 | 0x10A000), **lam_caps)) == {"HOST-CR3-MAXPHY"}


HOST32_CASES: list[tuple[str, dict[str, int], set[str]]] = [
    ("consistent 32-bit host", {}, set()),
    ("SS selector 0", {"HOST_SS_SELECTOR": 0}, {"HOST-SEL-SS"}),
    ("CR4.PCIDE", {"HOST_CR4": CR4}, {"HOST-ASSIZE0-PCIDE"}),
    ("CR4.PAE may be 0", {"HOST_CR4": CR4 & ~(CR4_PCIDE | CR4_PAE)}, set()),
    ("RIP 0xffffffff", {"HOST_RIP": 0xFFFF_FFFF}, set()),
    ("RIP bit 32", {"HOST_RIP": 1 << 32}, {"HOST-ASSIZE0-RIP"}),
    ("RIP canonical but 64-bit", {"HOST_RIP": 0xFFFF_FFFF_81C0_0000}, {"HOST-ASSIZE0-RIP"}),
    ("EFER LMA = LME = 0", {"HOST_IA32_EFER": 0x1}, set()),
    ("EFER LME = 1", {"HOST_IA32_EFER": 0x901}, {"HOST-EFER-LMA-LME"}),
    ("EFER LMA = LME = 1", {"HOST_IA32_EFER": 0xD01}, {"HOST-EFER-LMA-LME"}),
    ("IA-32e mode guest", {"VM_ENTRY_CONTROLS": ENTRY}, {"HOST-ASSIZE0-GUEST64", "HOST-ASSIZE-LMA"}),
    ("CET: S_CET and SSP bits 31:0",
     {**CET, "VM_EXIT_CONTROLS": EXIT & ~HOST64 | LOAD_CET, "HOST_S_CET": 0xFFFF_F400, "HOST_SSP": 0xFFFF_FFFC},
     set()),
    ("CET: S_CET bit 32", {**CET, "VM_EXIT_CONTROLS": EXIT & ~HOST64 | LOAD_CET, "HOST_S_CET": 1 << 32},
     {"HOST-ASSIZE0-CET"}),
    ("CET: SSP bit 32", {**CET, "VM_EXIT_CONTROLS": EXIT & ~HOST64 | LOAD_CET, "HOST_SSP": 1 << 32},
     {"HOST-ASSIZE0-CET"}),
    ("CET: high halves not checked without load CET state", {"HOST_S_CET": 1 << 32, "HOST_SSP": 1 << 32}, set()),
]


@pytest.mark.parametrize(("fields", "expected"), [(f, e) for _, f, e in HOST32_CASES],
                         ids=[c[0] for c in HOST32_CASES])
def test_host32_case(fields: dict[str, int], expected: set[str]) -> None:
    assert host(host32(**fields)) == expected


# HOST-ASSIZE-LMA: (cpu.efer, host address-space size, IA-32e mode guest) -> violated rules
LMA_CASES = [
    (0xD01, 1, 1, set()),
    (0xD01, 1, 0, set()),
    (0xD01, 0, 0, {"HOST-ASSIZE-LMA"}),
    (0x801, 0, 0, set()),
    (0x801, 1, 1, {"HOST-ASSIZE-LMA"}),
    (0x801, 1, 0, {"HOST-ASSIZE-LMA"}),
    (0x801, 0, 1, {"HOST-ASSIZE-LMA", "HOST-ASSIZE0-GUEST64"}),
    (0x400, 1, 1, set()),  # LMA alone decides
]


@pytest.mark.parametrize(("efer", "host64", "guest64", "expected"), LMA_CASES)
def test_address_space_size_against_lma(efer: int, host64: int, guest64: int, expected: set[str]) -> None:
    state = host32(VM_EXIT_CONTROLS=EXIT if host64 else EXIT & ~HOST64,
                   VM_ENTRY_CONTROLS=ENTRY if guest64 else ENTRY & ~IA32E_GUEST,
                   HOST_CR4=CR4 if host64 else CR4 & ~CR4_PCIDE,
                   HOST_IA32_EFER=0xD01 if host64 else 0x801)
    state.cpu.efer = efer
    assert host(state) == expected


def test_lma_check_is_unevaluated_without_cpu_efer() -> None:
    state = baseline(VM_EXIT_CONTROLS=EXIT & ~HOST64, HOST_CR4=CR4 & ~CR4_PCIDE, HOST_RIP=0x81C0_0000,
                     HOST_IA32_EFER=0x801)
    state.cpu.efer = None
    result = check_vm_entry(state, (Stage.HOST,))
    assert result.complete
    assert {v.rule.id for v in result.violations} == {"HOST-ASSIZE0-GUEST64"}
    assert [(u.rule.id, u.needs) for u in result.unevaluated] == [("HOST-ASSIZE-LMA", "cpu.efer")]


def test_baseline_evaluates_every_host_check() -> None:
    result = check_vm_entry(baseline(), (Stage.HOST,))
    assert result.passed and result.complete and result.unevaluated == []


def test_host_failure_is_vm_instruction_error_8() -> None:
    result = check_vm_entry(baseline(HOST_TR_SELECTOR=0), (Stage.CONTROLS, Stage.HOST))
    assert result.vm_instruction_error == 8
    assert result.exit_reason is None


def test_fields_a_disabled_check_needs_are_not_read() -> None:
    """Without "load CET state", "load PKRS" or "load IA32_PERF_GLOBAL_CTRL", the baseline lacks those
    fields and is still complete."""
    for name in ("HOST_S_CET", "HOST_SSP", "HOST_INTR_SSP_TABLE", "HOST_IA32_PKRS", "HOST_IA32_PERF_GLOBAL_CTRL"):
        assert name not in baseline().vmcs
    assert check_vm_entry(baseline(), (Stage.HOST,)).complete
