"""Passing and failing boundary cases for every check on the VMX controls.

Each case starts from the KVM-like baseline (which passes every check), changes the few fields the
SDM condition talks about, and states by hand which rules must fail. Baseline controls: pin 0x3f,
primary 0xb6a065fa, secondary 0x001010ab, exit 0x002fefff, entry 0x0000d3ff; MAXPHYADDR 46.
"""

from __future__ import annotations

import pytest

from tests.states import baseline, rule_ids
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State

PIN, PROC, PROC2 = 0x3F, 0xB6A065FA, 0x001010AB
EXIT, ENTRY = 0x002FEFFF, 0x0000D3FF
EPTP = 0x1_0234_505E
URG, EPT_ON, APIC_ACC, VPID = 1 << 7, 1 << 1, 1 << 0, 1 << 5
SEC = 1 << 31
BIT = [1 << n for n in range(64)]


def ctl(state: State) -> set[str]:
    return rule_ids(state, ("controls",))


def with_caps(state: State, **caps: int) -> State:
    state.caps.update(caps)
    return state


CASES: list[tuple[str, dict[str, int], set[str]]] = [
    # CTL-PIN-RSVD: allowed-0 0x16, allowed-1 0xff (TRUE MSR, BASIC[55] = 1)
    ("pin: only default1 bits", {"PIN_BASED_VM_EXEC_CONTROL": 0x16}, set()),
    ("pin: preemption timer (bit 6) allowed", {"PIN_BASED_VM_EXEC_CONTROL": 0x7F}, set()),
    ("pin: default1 bit 4 clear", {"PIN_BASED_VM_EXEC_CONTROL": 0x2F}, {"CTL-PIN-RSVD"}),
    ("pin: bit 8 beyond allowed-1", {"PIN_BASED_VM_EXEC_CONTROL": 0x13F}, {"CTL-PIN-RSVD"}),
    # CTL-PROC-RSVD: TRUE allowed-0 0x04006172, allowed-1 0xfff9fffe
    ("proc: CR3 load/store exiting may be 0 with TRUE MSRs", {"CPU_BASED_VM_EXEC_CONTROL": PROC}, set()),
    ("proc: bit 0 must be 0", {"CPU_BASED_VM_EXEC_CONTROL": PROC | 1}, {"CTL-PROC-RSVD"}),
    ("proc: default1 bit 26 clear", {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[26]}, {"CTL-PROC-RSVD"}),
    # CTL-PROC2-RSVD: allowed-1 0x035fffff
    ("proc2: bit 22 (MBEC) allowed", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[22]}, set()),
    ("proc2: bit 21 not allowed", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[21]}, {"CTL-PROC2-RSVD"}),
    ("proc2: ignored when not activated",
     {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~SEC, "SECONDARY_VM_EXEC_CONTROL": 0xFFFF_FFFF}, set()),
    # CTL-CR3-COUNT: IA32_VMX_MISC[24:16] = 4
    ("cr3 targets: 4 supported", {"CR3_TARGET_COUNT": 4}, set()),
    ("cr3 targets: 5 too many", {"CR3_TARGET_COUNT": 5}, {"CTL-CR3-COUNT"}),
    # page-address rules: 4-KByte aligned, no bit at or above 46
    ("io bitmap A: highest legal page", {"IO_BITMAP_A": 0x3FFF_FFFF_F000}, set()),
    ("io bitmap A: bit 46", {"IO_BITMAP_A": 0x4000_0000_0000}, {"CTL-IOBMP-ADDR"}),
    ("io bitmap B: not aligned", {"IO_BITMAP_B": 0x1_0120_1800}, {"CTL-IOBMP-ADDR"}),
    ("io bitmaps unchecked when unused",
     {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[25], "IO_BITMAP_A": 0x123}, set()),
    ("msr bitmap: not aligned", {"MSR_BITMAP": 0x1_0120_2008}, {"CTL-MSRBMP-ADDR"}),
    ("msr bitmap unchecked when unused",
     {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[28], "MSR_BITMAP": 0x8}, set()),
    ("virtual-APIC page: bit 63", {"VIRTUAL_APIC_PAGE_ADDR": 1 << 63 | 0x1000}, {"CTL-VAPIC-ADDR"}),
    # CTL-TPR-THRESHOLD-RSVD: TPR shadow 1, VID 0 -> bits 31:4 zero
    ("tpr threshold: 0xf", {"TPR_THRESHOLD": 0xF}, set()),
    ("tpr threshold: 0x10", {"TPR_THRESHOLD": 0x10}, {"CTL-TPR-THRESHOLD-RSVD"}),
    ("tpr threshold: bits 31:4 free with VID",
     {"TPR_THRESHOLD": 0x10, "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9]}, set()),
    # CTL-TPR-SHADOW-DEPS
    ("no TPR shadow, no APIC virtualization", {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[21]}, set()),
    ("no TPR shadow but VID", {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[21],
                               "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9]}, {"CTL-TPR-SHADOW-DEPS"}),
    ("no TPR shadow but x2APIC virtualization",
     {"CPU_BASED_VM_EXEC_CONTROL": PROC & ~BIT[21], "SECONDARY_VM_EXEC_CONTROL": (PROC2 & ~APIC_ACC) | BIT[4]},
     {"CTL-TPR-SHADOW-DEPS"}),
    # CTL-APIC-ACCESS-ADDR
    ("APIC-access page: not aligned", {"APIC_ACCESS_ADDR": 0x1_0120_4004}, {"CTL-APIC-ACCESS-ADDR"}),
    # CTL-X2APIC-APICACC
    ("x2APIC virtualization without APIC-access virtualization",
     {"SECONDARY_VM_EXEC_CONTROL": (PROC2 & ~APIC_ACC) | BIT[4]}, set()),
    ("x2APIC virtualization with APIC-access virtualization",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[4]}, {"CTL-X2APIC-APICACC"}),
    # CTL-VID-EXTINT
    ("VID with external-interrupt exiting", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9]}, set()),
    ("VID without external-interrupt exiting",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9], "PIN_BASED_VM_EXEC_CONTROL": PIN & ~1}, {"CTL-VID-EXTINT"}),
    # posted interrupts
    ("posted interrupts with VID, ack, vector 0xff, aligned descriptor",
     {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7], "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9],
      "POSTED_INTR_NV": 0xFF, "POSTED_INTR_DESC_ADDR": 0x100_0040}, set()),
    ("posted interrupts without VID", {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7]}, {"CTL-PI-VID"}),
    ("posted interrupts without ack-on-exit",
     {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7], "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9],
      "VM_EXIT_CONTROLS": EXIT & ~BIT[15]}, {"CTL-PI-ACK"}),
    ("posted interrupts: vector 0x100",
     {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7], "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9],
      "POSTED_INTR_NV": 0x100}, {"CTL-PI-NV"}),
    ("posted interrupts: descriptor 32-byte aligned only",
     {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7], "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9],
      "POSTED_INTR_DESC_ADDR": 0x100_0020}, {"CTL-PI-DESC"}),
    ("posted interrupts: descriptor beyond MAXPHYADDR",
     {"PIN_BASED_VM_EXEC_CONTROL": PIN | BIT[7], "SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[9],
      "POSTED_INTR_DESC_ADDR": 1 << 46}, {"CTL-PI-DESC"}),
    # NMI controls
    ("no NMI exiting, no virtual NMIs", {"PIN_BASED_VM_EXEC_CONTROL": 0x17}, set()),
    ("virtual NMIs without NMI exiting", {"PIN_BASED_VM_EXEC_CONTROL": 0x37}, {"CTL-NMI-VNMI"}),
    ("NMI-window exiting with virtual NMIs", {"CPU_BASED_VM_EXEC_CONTROL": PROC | BIT[22]}, set()),
    ("NMI-window exiting without virtual NMIs",
     {"PIN_BASED_VM_EXEC_CONTROL": 0x1F, "CPU_BASED_VM_EXEC_CONTROL": PROC | BIT[22]}, {"CTL-VNMI-NMIWIN"}),
    # VPID
    ("VPID 0xffff", {"VIRTUAL_PROCESSOR_ID": 0xFFFF}, set()),
    ("VPID 0 with enable VPID", {"VIRTUAL_PROCESSOR_ID": 0}, {"CTL-VPID-NONZERO"}),
    ("VPID 0 without enable VPID", {"VIRTUAL_PROCESSOR_ID": 0, "SECONDARY_VM_EXEC_CONTROL": PROC2 & ~VPID},
     set()),
    # EPTP (caps 0x00000f0106734141: UC, WB, 4-level, A/D; no 5-level, no shadow-stack control)
    ("EPTP memory type UC (cap bit 8)", {"EPT_POINTER": EPTP & ~7}, set()),
    ("EPTP memory type 1 (WC)", {"EPT_POINTER": (EPTP & ~7) | 1}, {"CTL-EPTP-MT"}),
    ("EPTP memory type 7", {"EPT_POINTER": EPTP | 7}, {"CTL-EPTP-MT"}),
    ("EPTP 5-level walk unsupported", {"EPT_POINTER": (EPTP & ~0x38) | 0x20}, {"CTL-EPTP-PWL"}),
    ("EPTP 3-level walk", {"EPT_POINTER": (EPTP & ~0x38) | 0x10}, {"CTL-EPTP-PWL"}),
    ("EPTP without A/D", {"EPT_POINTER": EPTP & ~0x40}, set()),
    ("EPTP bit 7 without shadow-stack control", {"EPT_POINTER": EPTP | BIT[7]}, {"CTL-EPTP-RSVD"}),
    ("EPTP bit 11", {"EPT_POINTER": EPTP | BIT[11]}, {"CTL-EPTP-RSVD"}),
    ("EPTP bit 45 (below MAXPHYADDR)", {"EPT_POINTER": EPTP | BIT[45]}, set()),
    ("EPTP bit 46 (MAXPHYADDR)", {"EPT_POINTER": EPTP | BIT[46]}, {"CTL-EPTP-MAXPHY"}),
    ("EPTP unchecked without EPT",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 & ~(EPT_ON | URG), "EPT_POINTER": 0xFFF}, set()),
    # features that need EPT
    ("unrestricted guest without EPT", {"SECONDARY_VM_EXEC_CONTROL": PROC2 & ~EPT_ON}, {"CTL-URG-EPT"}),
    ("MBEC with EPT", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[22]}, set()),
    ("MBEC without EPT", {"SECONDARY_VM_EXEC_CONTROL": (PROC2 & ~(EPT_ON | URG)) | BIT[22]}, {"CTL-MBEC-EPT"}),
    ("PML with EPT, aligned log", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[17], "PML_ADDRESS": 0x5000}, set()),
    ("PML log not aligned", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[17], "PML_ADDRESS": 0x5008},
     {"CTL-PML-ADDR"}),
    ("PML without EPT", {"SECONDARY_VM_EXEC_CONTROL": (PROC2 & ~(EPT_ON | URG)) | BIT[17], "PML_ADDRESS": 0x5000},
     {"CTL-PML-EPT"}),
    # VM functions (IA32_VMX_VMFUNC = 1: EPTP switching only)
    ("EPTP switching with an aligned list",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[13], "VM_FUNCTION_CONTROL": 1, "EPTP_LIST_ADDRESS": 0x6000}, set()),
    ("VM function 1 not allowed",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[13], "VM_FUNCTION_CONTROL": 2}, {"CTL-VMFUNC-RSVD"}),
    ("VM-function controls ignored without enable VM functions", {"VM_FUNCTION_CONTROL": 2}, set()),
    ("EPTP switching without EPT",
     {"SECONDARY_VM_EXEC_CONTROL": (PROC2 & ~(EPT_ON | URG)) | BIT[13], "VM_FUNCTION_CONTROL": 1,
      "EPTP_LIST_ADDRESS": 0x6000}, {"CTL-VMFUNC-EPT"}),
    ("EPTP list not aligned",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[13], "VM_FUNCTION_CONTROL": 1, "EPTP_LIST_ADDRESS": 0x6001},
     {"CTL-VMFUNC-LIST-ADDR"}),
    # VMCS shadowing, #VE, TSC scaling
    ("shadowing bitmaps aligned",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[14], "VMREAD_BITMAP": 0x7000, "VMWRITE_BITMAP": 0x8000}, set()),
    ("VMREAD bitmap not aligned",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[14], "VMREAD_BITMAP": 0x7800, "VMWRITE_BITMAP": 0x8000},
     {"CTL-SHADOW-BMP-ADDR"}),
    ("#VE information page aligned",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[18], "VE_INFORMATION_ADDRESS": 0x9000}, set()),
    ("#VE information page not aligned",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[18], "VE_INFORMATION_ADDRESS": 0x9010}, {"CTL-VE-ADDR"}),
    ("TSC scaling with multiplier 1", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[25], "TSC_MULTIPLIER": 1}, set()),
    ("TSC scaling with multiplier 0", {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[25], "TSC_MULTIPLIER": 0},
     {"CTL-TSC-MULT"}),
    # Intel PT using guest-physical addresses
    ("PT uses GPA with EPT, load and clear RTIT_CTL",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[24], "VM_ENTRY_CONTROLS": ENTRY | BIT[18],
      "VM_EXIT_CONTROLS": EXIT | BIT[25]}, set()),
    ("PT uses GPA without load RTIT_CTL",
     {"SECONDARY_VM_EXEC_CONTROL": PROC2 | BIT[24], "VM_EXIT_CONTROLS": EXIT | BIT[25]}, {"CTL-PT-GPA"}),
    # VM-exit controls: TRUE allowed-0 0x36dfb, allowed-1 0x3ffffff
    ("exit: save debug controls may be 0", {"VM_EXIT_CONTROLS": EXIT & ~BIT[2]}, set()),
    ("exit: bit 26 not allowed", {"VM_EXIT_CONTROLS": EXIT | BIT[26]}, {"CTL-EXIT-RSVD"}),
    ("exit: default1 bit 0 clear", {"VM_EXIT_CONTROLS": EXIT & ~BIT[0]}, {"CTL-EXIT-RSVD"}),
    ("save preemption timer with the timer", {"PIN_BASED_VM_EXEC_CONTROL": 0x7F,
                                              "VM_EXIT_CONTROLS": EXIT | BIT[22]}, set()),
    ("save preemption timer without the timer", {"VM_EXIT_CONTROLS": EXIT | BIT[22]}, {"CTL-EXIT-PREEMPT-SAVE"}),
    # MSR areas: 16-byte aligned, first and last byte below 2^46
    ("exit MSR store: 2 entries ending at the last byte",
     {"VM_EXIT_MSR_STORE_COUNT": 2, "VM_EXIT_MSR_STORE_ADDR": 0x3FFF_FFFF_FFE0}, set()),
    ("exit MSR store: 3 entries crossing MAXPHYADDR",
     {"VM_EXIT_MSR_STORE_COUNT": 3, "VM_EXIT_MSR_STORE_ADDR": 0x3FFF_FFFF_FFE0}, {"CTL-EXIT-MSR-STORE"}),
    ("exit MSR store: 8-byte aligned", {"VM_EXIT_MSR_STORE_COUNT": 1, "VM_EXIT_MSR_STORE_ADDR": 0x1008},
     {"CTL-EXIT-MSR-STORE"}),
    ("exit MSR store: address ignored with count 0", {"VM_EXIT_MSR_STORE_ADDR": 0x1008}, set()),
    ("exit MSR load: 8-byte aligned", {"VM_EXIT_MSR_LOAD_COUNT": 1, "VM_EXIT_MSR_LOAD_ADDR": 0x1008},
     {"CTL-EXIT-MSR-LOAD"}),
    ("entry MSR load: 8-byte aligned", {"VM_ENTRY_MSR_LOAD_COUNT": 1, "VM_ENTRY_MSR_LOAD_ADDR": 0x1008},
     {"CTL-ENTRY-MSR-LOAD"}),
    # VM-entry controls: TRUE allowed-0 0x11fb, allowed-1 0x7ffff
    ("entry: load debug controls may be 0", {"VM_ENTRY_CONTROLS": ENTRY & ~BIT[2]}, set()),
    ("entry: bit 19 not allowed", {"VM_ENTRY_CONTROLS": ENTRY | BIT[19]}, {"CTL-ENTRY-RSVD"}),
    ("entry to SMM outside SMM", {"VM_ENTRY_CONTROLS": ENTRY | BIT[10]}, {"CTL-ENTRY-SMM"}),
    ("deactivate dual-monitor outside SMM", {"VM_ENTRY_CONTROLS": ENTRY | BIT[11]}, {"CTL-ENTRY-SMM"}),
    # event injection
    ("inject #PF with error code", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0B0E}, set()),
    ("inject #GP without error code", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_030D}, {"CTL-EVINJ-ERRCODE"}),
    ("inject #UD with error code", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0B06}, {"CTL-EVINJ-ERRCODE"}),
    ("inject external interrupt with error code", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0820},
     {"CTL-EVINJ-ERRCODE"}),
    ("unrestricted real-mode guest: #GP without error code",
     {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_030D, "GUEST_CR0": 0x30}, set()),
    ("unrestricted real-mode guest: #GP with error code",
     {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0B0D, "GUEST_CR0": 0x30}, {"CTL-EVINJ-ERRCODE"}),
    ("invalid injection is not checked", {"VM_ENTRY_INTR_INFO_FIELD": 0x7FFF_FFFF}, set()),
    ("inject reserved type 1", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0120}, {"CTL-EVINJ-TYPE"}),
    ("inject other event (MTF supported)", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0700}, set()),
    ("inject other event with vector 1", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0701}, {"CTL-EVINJ-VEC"}),
    ("inject NMI vector 2", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0202}, set()),
    ("inject NMI vector 3", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0203}, {"CTL-EVINJ-VEC"}),
    ("inject hardware exception 31", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_031F}, set()),
    ("inject hardware exception 32", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0320}, {"CTL-EVINJ-VEC"}),
    ("error code 0xffff", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0B0D, "VM_ENTRY_EXCEPTION_ERROR_CODE": 0xFFFF},
     set()),
    ("error code 0x10000", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0B0D, "VM_ENTRY_EXCEPTION_ERROR_CODE": 0x1_0000},
     {"CTL-EVINJ-ERRCODE-RSVD"}),
    ("interruption info bit 12", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_1020}, {"CTL-EVINJ-RSVD"}),
    ("interruption info bit 30", {"VM_ENTRY_INTR_INFO_FIELD": 0xC000_0020}, {"CTL-EVINJ-RSVD"}),
    ("software interrupt, length 15", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0480, "VM_ENTRY_INSTRUCTION_LEN": 15},
     set()),
    ("software interrupt, length 16", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0480, "VM_ENTRY_INSTRUCTION_LEN": 16},
     {"CTL-EVINJ-ILEN"}),
    ("software exception, length 0 (IA32_VMX_MISC[30] = 1)", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0603}, set()),
    ("external interrupt ignores the length", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0020,
                                               "VM_ENTRY_INSTRUCTION_LEN": 16}, set()),
]


@pytest.mark.parametrize(("fields", "expected"), [(f, e) for _, f, e in CASES], ids=[c[0] for c in CASES])
def test_control_rule(fields: dict[str, int], expected: set[str]) -> None:
    assert ctl(baseline(**fields)) == expected


def test_non_true_msrs_when_basic_bit_55_is_clear() -> None:
    # Without TRUE MSRs the default1 bits 15 and 16 (CR3-load/store exiting) are fixed to 1.
    state = baseline()
    state.caps["IA32_VMX_BASIC"] &= ~BIT[55]
    assert ctl(state) == {"CTL-PROC-RSVD"}
    state.vmcs["CPU_BASED_VM_EXEC_CONTROL"] = PROC | BIT[15] | BIT[16]
    assert ctl(state) == set()


def test_non_true_msrs_are_not_needed_when_basic_bit_55_is_set() -> None:
    state = baseline()
    for name in ("IA32_VMX_PINBASED_CTLS", "IA32_VMX_PROCBASED_CTLS", "IA32_VMX_EXIT_CTLS", "IA32_VMX_ENTRY_CTLS"):
        del state.caps[name]
    # EVINJ-TYPE reads the primary allowed-1 half only for type 7; nothing else needs the non-TRUE MSRs.
    assert ctl(state) == set()


def test_tertiary_controls() -> None:
    state = baseline(CPU_BASED_VM_EXEC_CONTROL=PROC | BIT[17], TERTIARY_VM_EXEC_CONTROL=0x10)
    # The preset does not allow "activate tertiary controls" and has no IA32_VMX_PROCBASED_CTLS3,
    # which the SDM then defines as absent: every tertiary control is unsupported.
    assert ctl(state) == {"CTL-PROC-RSVD", "CTL-PROC3-RSVD"}
    with_caps(state, IA32_VMX_TRUE_PROCBASED_CTLS=state.caps["IA32_VMX_TRUE_PROCBASED_CTLS"] | BIT[49],
              IA32_VMX_PROCBASED_CTLS3=0x10)
    assert ctl(state) == set()
    state.vmcs["TERTIARY_VM_EXEC_CONTROL"] = 0x11
    assert ctl(state) == {"CTL-PROC3-RSVD"}


def test_secondary_exit_controls() -> None:
    exit_caps = baseline().caps["IA32_VMX_TRUE_EXIT_CTLS"] | BIT[63]
    state = with_caps(baseline(VM_EXIT_CONTROLS=EXIT | BIT[31], SECONDARY_VM_EXIT_CONTROLS=1),
                      IA32_VMX_TRUE_EXIT_CTLS=exit_caps, IA32_VMX_EXIT_CTLS2=0x3)
    assert ctl(state) == set()
    state.vmcs["SECONDARY_VM_EXIT_CONTROLS"] = 4
    assert ctl(state) == {"CTL-EXIT2-RSVD"}


def test_sub_page_permissions() -> None:
    state = baseline(SECONDARY_VM_EXEC_CONTROL=PROC2 | BIT[23], SPPT_POINTER=0xA000)
    assert ctl(state) == {"CTL-PROC2-RSVD"}  # the preset does not support SPP
    state.caps["IA32_VMX_PROCBASED_CTLS2"] |= BIT[32 + 23]
    assert ctl(state) == set()
    state.vmcs["SPPT_POINTER"] = 0xA800
    assert ctl(state) == {"CTL-SPP"}
    state.vmcs["SECONDARY_VM_EXEC_CONTROL"] = (PROC2 & ~(EPT_ON | URG)) | BIT[23]
    state.vmcs["SPPT_POINTER"] = 0xA000
    assert ctl(state) == {"CTL-SPP"}


@pytest.mark.parametrize(("cap_bit", "memtype", "expected"), [
    (8, 0, {"CTL-EPTP-MT"}),   # UC without IA32_VMX_EPT_VPID_CAP[8]
    (14, 6, {"CTL-EPTP-MT"}),  # WB without IA32_VMX_EPT_VPID_CAP[14]
    (8, 6, set()),             # WB is still supported
])
def test_eptp_memory_type_capabilities(cap_bit: int, memtype: int, expected: set[str]) -> None:
    state = baseline(EPT_POINTER=(EPTP & ~7) | memtype)
    state.caps["IA32_VMX_EPT_VPID_CAP"] &= ~BIT[cap_bit]
    assert ctl(state) == expected


def test_eptp_capability_dependent_bits() -> None:
    five_level = baseline(EPT_POINTER=(EPTP & ~0x38) | 0x20)
    five_level.caps["IA32_VMX_EPT_VPID_CAP"] |= BIT[7]
    assert ctl(five_level) == set()
    no_ad = baseline()
    no_ad.caps["IA32_VMX_EPT_VPID_CAP"] &= ~BIT[21]
    assert ctl(no_ad) == {"CTL-EPTP-AD"}
    sss = baseline(EPT_POINTER=EPTP | BIT[7])
    sss.caps["IA32_VMX_EPT_VPID_CAP"] |= BIT[23]
    assert ctl(sss) == set()


def test_tpr_threshold_against_vtpr() -> None:
    # Applies with TPR shadow 1, VID 0 and APIC-access virtualization 0: threshold[3:0] <= VTPR[7:4].
    state = baseline(SECONDARY_VM_EXEC_CONTROL=PROC2 & ~APIC_ACC, TPR_THRESHOLD=3)
    state.memory[0x1_0120_3080] = 0x30
    assert ctl(state) == set()
    state.memory[0x1_0120_3080] = 0x2F
    assert ctl(state) == {"CTL-TPR-VTPR"}
    state.vmcs["SECONDARY_VM_EXEC_CONTROL"] = PROC2  # APIC-access virtualization on: not checked
    assert ctl(state) == set()


def test_entry_smm_controls_from_smm() -> None:
    state = baseline(VM_ENTRY_CONTROLS=ENTRY | BIT[10])
    state.cpu.in_smm = True
    assert ctl(state) == set()
    state.vmcs["VM_ENTRY_CONTROLS"] = ENTRY | BIT[10] | BIT[11]
    assert ctl(state) == {"CTL-ENTRY-SMM"}


def test_other_event_needs_monitor_trap_flag_support() -> None:
    state = baseline(VM_ENTRY_INTR_INFO_FIELD=0x8000_0700)
    state.caps["IA32_VMX_TRUE_PROCBASED_CTLS"] &= ~BIT[32 + 27]
    state.vmcs["CPU_BASED_VM_EXEC_CONTROL"] = PROC  # baseline does not use MTF
    assert ctl(state) == {"CTL-EVINJ-TYPE"}


def test_error_code_rule_with_basic_bit_56() -> None:
    # IA32_VMX_BASIC[56] = 1: hardware exceptions may deliver an error code or not; other types may not.
    ud = baseline(VM_ENTRY_INTR_INFO_FIELD=0x8000_0B06)
    ud.caps["IA32_VMX_BASIC"] |= BIT[56]
    assert ctl(ud) == set()
    gp = baseline(VM_ENTRY_INTR_INFO_FIELD=0x8000_030D)
    gp.caps["IA32_VMX_BASIC"] |= BIT[56]
    assert ctl(gp) == set()
    ext = baseline(VM_ENTRY_INTR_INFO_FIELD=0x8000_0820)
    ext.caps["IA32_VMX_BASIC"] |= BIT[56]
    assert ctl(ext) == {"CTL-EVINJ-ERRCODE"}


def test_zero_length_injection_needs_misc_bit_30() -> None:
    state = baseline(VM_ENTRY_INTR_INFO_FIELD=0x8000_0603)
    state.caps["IA32_VMX_MISC"] &= ~BIT[30]
    assert ctl(state) == {"CTL-EVINJ-ILEN"}


def test_msr_areas_with_32_bit_physical_addresses() -> None:
    state = baseline(VM_EXIT_MSR_STORE_COUNT=1, VM_EXIT_MSR_STORE_ADDR=0xFFFF_FFF0)
    state.caps["IA32_VMX_BASIC"] |= BIT[48]
    assert ctl(state) == set()
    state.vmcs["VM_EXIT_MSR_STORE_COUNT"] = 2
    assert ctl(state) == {"CTL-EXIT-MSR-STORE"}


def test_every_violation_is_reported_not_only_the_first() -> None:
    state = baseline(PIN_BASED_VM_EXEC_CONTROL=0x2F, VIRTUAL_PROCESSOR_ID=0, CR3_TARGET_COUNT=9,
                     VM_ENTRY_INTR_INFO_FIELD=0x8000_0203)
    assert ctl(state) == {"CTL-PIN-RSVD", "CTL-VPID-NONZERO", "CTL-CR3-COUNT", "CTL-EVINJ-VEC"}
    assert check_vm_entry(state).vm_instruction_error == 7


def test_allowed_settings_message_names_the_bits() -> None:
    result = check_vm_entry(baseline(PIN_BASED_VM_EXEC_CONTROL=0x12F))
    (v,) = [v for v in result.violations if v.rule.id == "CTL-PIN-RSVD"]
    assert v.details["must_be_1"] == ["bit 4 (reserved, default1)"]
    assert v.details["must_be_0"] == ["bit 8 (reserved)"]
    assert v.details["expected"] == 0x3F
    assert v.details["capability_msr"] == "IA32_VMX_TRUE_PINBASED_CTLS"


def test_missing_secondary_capability_is_an_error_only_where_it_must_exist() -> None:
    state = baseline()
    del state.caps["IA32_VMX_PROCBASED_CTLS2"]
    result = check_vm_entry(state)
    # Primary allowed-1 bit 31 is set, so IA32_VMX_PROCBASED_CTLS2 exists and must be given.
    assert "IA32_VMX_PROCBASED_CTLS2" in result.missing_caps
    assert not result.complete


def test_missing_field_is_reported_not_assumed_zero() -> None:
    state = baseline()
    del state.vmcs["EPT_POINTER"]
    result = check_vm_entry(state)
    assert result.missing_fields == ["EPT_POINTER"]
    # Without EPT the field is not read at all.
    state.vmcs["SECONDARY_VM_EXEC_CONTROL"] = PROC2 & ~(EPT_ON | URG)
    assert "EPT_POINTER" not in check_vm_entry(state, (Stage.CONTROLS,)).missing_fields
