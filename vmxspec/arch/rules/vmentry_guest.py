"""Rules: checks on the guest-state area (VM-entry failure, exit reason 33).

Condition wording follows the SDM section "Checks on the Guest State Area" and its subsections,
matched by title (their numbers differ between editions). Where the SDM leaves a check to
"processors that support Intel 64 architecture", vmxspec performs it: it models only such
processors. Implementation locations were read in KVM ``arch/x86/kvm/vmx/nested.c`` (mainline, plus
the 2025 CET series), Bochs ``bochs/cpu/vmx.cc`` @ 783b58fd (``VMenterLoadCheckGuestState``),
kvm-unit-tests ``x86/vmx_tests.c`` @ 1da1819e and VirtualBox ``IEMAllCImplVmxInstr.cpp`` (its
nested-VMX emulation). KVM checks only part of the guest state in software and leaves the rest to
the processor on vmcs02; "KVM" is listed only where it checks in software. The FRED checks follow
the KVM FRED series (Xin Li, 2025: nested_vmx_check_guest_state) and Bochs, which agree on them
except where a rule's divergence says otherwise.
"""

from __future__ import annotations

from vmxspec.arch.guest_state import ENTRY_FAIL_QUAL_PDPTE, ENTRY_FAIL_QUAL_VMCS_LINK
from vmxspec.arch.rules import (
    SECTION_GUEST_DTR,
    SECTION_GUEST_NONREG,
    SECTION_GUEST_PDPTE,
    SECTION_GUEST_REGS,
    SECTION_GUEST_RIP,
    SECTION_GUEST_SEGS,
    Rule,
    Stage,
)

_G = Stage.GUEST
_KVM = "KVM"
_BX = "Bochs"
_KUT = "kvm-unit-tests"
_VBOX = "VirtualBox"


def _r(id: str, section: str, condition: str, fields: tuple[str, ...], caps: tuple[str, ...] = (),
       kvm: str = "", bochs: str = "", kut: str = "", vbox: str = "", divergence: str = "",
       qual: int = 0) -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut), (_VBOX, vbox))
                  if where)
    return Rule(id, _G, section, condition, fields, caps, impls, divergence, qual)


PROC2, ENTRY, PIN = "SECONDARY_VM_EXEC_CONTROL", "VM_ENTRY_CONTROLS", "PIN_BASED_VM_EXEC_CONTROL"
CR0, CR3, CR4, RFLAGS, RIP = "GUEST_CR0", "GUEST_CR3", "GUEST_CR4", "GUEST_RFLAGS", "GUEST_RIP"
INFO = "VM_ENTRY_INTR_INFO_FIELD"
ACT, INTR, PENDDBG = "GUEST_ACTIVITY_STATE", "GUEST_INTERRUPTIBILITY_INFO", "GUEST_PENDING_DBG_EXCEPTIONS"
DEBUGCTL = "GUEST_IA32_DEBUGCTL"
LINK = "VMCS_LINK_POINTER"

_DATA_SEGS = ("ES", "DS", "FS", "GS")
_SEGS = ("ES", "CS", "SS", "DS", "FS", "GS")


def _seg_fields(segs: tuple[str, ...], *parts: str) -> tuple[str, ...]:
    return tuple(f"GUEST_{s}_{p}" for s in segs for p in parts)


_AR6 = _seg_fields(_SEGS, "AR_BYTES")

_BX_GUEST = "vmx.cc:VMenterLoadCheckGuestState"
_KVM_GUEST = "nested.c:nested_vmx_check_guest_state"
_VBOX_REGS = "IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestControlRegsMsrs"
_VBOX_SEGS = "IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestSegRegs"
_VBOX_RIP = "IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestRipRFlags"
_VBOX_NONREG = "IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestNonRegState"
_KUT_AREA = "vmx_tests.c:vmx_guest_state_area_test"
_KVM_FRED = "nested.c:nested_vmx_check_guest_state (FRED series, 2025)"
_FRED_CPL_DIV = ("KVM performs this check only when \"IA-32e mode guest\" is 1 (otherwise GUEST-CR4-FRED fails "
                 "anyway); Bochs and vmxspec perform it whenever CR4.FRED is 1.")

_V86 = "the guest will be virtual-8086 (RFLAGS.VM = 1 in the RFLAGS field)"

_REGS: tuple[Rule, ...] = (
    _r("GUEST-CR0-FIXED", SECTION_GUEST_REGS,
       "The CR0 field must not set any bit to a value not supported in VMX operation: every bit set in "
       "IA32_VMX_CR0_FIXED0 must be 1 and every bit clear in IA32_VMX_CR0_FIXED1 must be 0. PE (bit 0) and "
       "PG (bit 31) are not checked if \"unrestricted guest\" is 1; NW (bit 29) and CD (bit 30) are never "
       "checked, because VM entry does not change them.",
       (CR0, PROC2), ("IA32_VMX_CR0_FIXED0", "IA32_VMX_CR0_FIXED1"),
       kvm=f"{_KVM_GUEST} (nested_guest_cr0_valid)", bochs=_BX_GUEST,
       divergence="KVM and Bochs check NW and CD against the fixed-bit MSRs too; with the usual MSR values "
                  "(neither bit fixed) the outcome is the same."),
    _r("GUEST-CR0-PG-PE", SECTION_GUEST_REGS,
       "If CR0.PG (bit 31) is 1 in the CR0 field, CR0.PE (bit 0) must be 1.",
       (CR0,), kvm=_KVM_GUEST, bochs=_BX_GUEST,
       divergence="Bochs tests this only when \"unrestricted guest\" is 1 (otherwise the fixed bits force "
                  "both to 1)."),
    _r("GUEST-CR4-FIXED", SECTION_GUEST_REGS,
       "The CR4 field must not set any bit to a value not supported in VMX operation: every bit set in "
       "IA32_VMX_CR4_FIXED0 must be 1 and every bit clear in IA32_VMX_CR4_FIXED1 must be 0.",
       (CR4,), ("IA32_VMX_CR4_FIXED0", "IA32_VMX_CR4_FIXED1"),
       kvm=f"{_KVM_GUEST} (nested_guest_cr4_valid)", bochs=_BX_GUEST, vbox=_VBOX_REGS),
    _r("GUEST-CR4-CET-WP", SECTION_GUEST_REGS,
       "If CR4.CET (bit 23) is 1 in the CR4 field, CR0.WP (bit 16) must be 1 in the CR0 field.",
       (CR0, CR4), kvm=_KVM_GUEST, bochs=_BX_GUEST),
    _r("GUEST-DEBUGCTL-RSVD", SECTION_GUEST_REGS,
       "If \"load debug controls\" is 1, the IA32_DEBUGCTL field must not set any bit reserved in the "
       "IA32_DEBUGCTL MSR (bits 5:2 and 63:16).",
       (ENTRY, DEBUGCTL), kvm=f"{_KVM_GUEST} (vmx_is_valid_debugctl)",
       divergence="Bochs does not check the guest IA32_DEBUGCTL field. KVM allows only the bits its guest "
                  "may use (fewer than the architecture defines). Newer processors define bit 2 (bus-lock "
                  "detection); vmxspec's mask still treats it as reserved."),
    _r("GUEST-IA32E-PG-PAE", SECTION_GUEST_REGS,
       "If \"IA-32e mode guest\" is 1, CR0.PG (bit 31) and CR4.PAE (bit 5) must both be 1.",
       (ENTRY, CR0, CR4), kvm=_KVM_GUEST, bochs=_BX_GUEST,
       divergence="Bochs checks only CR4.PAE; with \"unrestricted guest\" 1 it accepts an IA-32e mode guest "
                  "with CR0.PG = 0."),
    _r("GUEST-CR4-PCIDE", SECTION_GUEST_REGS,
       "If \"IA-32e mode guest\" is 0, CR4.PCIDE (bit 17) must be 0.",
       (ENTRY, CR4), bochs=_BX_GUEST),
    _r("GUEST-CR3-MAXPHY", SECTION_GUEST_REGS,
       "Bits 63:52 of the CR3 field, and bits 51:32 beyond the processor's physical-address width, must be 0 "
       "(no bit at or above MAXPHYADDR may be set). On a processor with linear-address masking "
       "(IA32_VMX_CR4_FIXED1 allows CR4.LAM_SUP, bit 28), bits 62:61 (LAM_U48, LAM_U57) may be 1.",
       (CR3,), ("MAXPHYADDR", "IA32_VMX_CR4_FIXED1"), kvm="nested.c:nested_vmx_load_cr3",
       bochs=_BX_GUEST, kut="vmx_tests.c:vmx_pae_test, vmx_pse_test (CR3 reserved bits)",
       divergence="Bochs does not exempt the LAM bits."),
    _r("GUEST-DR7-HIGH", SECTION_GUEST_REGS,
       "If \"load debug controls\" is 1, bits 63:32 of the DR7 field must be 0.",
       (ENTRY, "GUEST_DR7"), kvm=f"{_KVM_GUEST} (kvm_dr7_valid)", bochs=_BX_GUEST,
       kut="vmx_tests.c:test_guest_dr7"),
    _r("GUEST-SYSENTER-CANONICAL", SECTION_GUEST_REGS,
       "The IA32_SYSENTER_ESP field and the IA32_SYSENTER_EIP field must each contain a canonical address.",
       ("GUEST_SYSENTER_ESP", "GUEST_SYSENTER_EIP"), bochs=_BX_GUEST,
       kut=f"{_KUT_AREA} (test_canonical)"),
    _r("GUEST-PERF-GLOBAL-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_PERF_GLOBAL_CTRL\" is 1, the IA32_PERF_GLOBAL_CTRL field must not set any bit "
       "reserved in that MSR (vmxspec: bits 63:49, the widest architectural definition).",
       (ENTRY, "GUEST_IA32_PERF_GLOBAL_CTRL"), kvm=f"{_KVM_GUEST} (kvm_valid_perf_global_ctrl)",
       kut="vmx_tests.c:test_load_guest_perf_global_ctrl",
       divergence="KVM reserves every counter-enable bit beyond the counters its guest PMU has; which bits "
                  "are reserved on real hardware depends on CPUID leaf 0AH, which the state does not carry. "
                  "Bochs does not check the field."),
    _r("GUEST-PAT", SECTION_GUEST_REGS,
       "If \"load IA32_PAT\" is 1, each of the eight bytes of the IA32_PAT field must be a valid memory type: "
       "0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or 7 (UC-).",
       (ENTRY, "GUEST_IA32_PAT"), kvm=f"{_KVM_GUEST} (kvm_pat_valid)", bochs=_BX_GUEST,
       kut="vmx_tests.c:test_load_guest_pat"),
    _r("GUEST-EFER-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_EFER\" is 1, the IA32_EFER field must not set any bit reserved in IA32_EFER (only SCE, "
       "LME, LMA and NXE are defined).",
       (ENTRY, "GUEST_IA32_EFER"), kvm=f"{_KVM_GUEST} (kvm_valid_efer)", bochs=_BX_GUEST,
       kut="vmx_tests.c:test_guest_efer",
       divergence="KVM checks the guest EFER field only on a real VM entry (nested_run_pending), not when "
                  "restoring nested state."),
    _r("GUEST-EFER-LMA", SECTION_GUEST_REGS,
       "If \"load IA32_EFER\" is 1, bit 10 (LMA) of the IA32_EFER field must equal \"IA-32e mode guest\".",
       (ENTRY, "GUEST_IA32_EFER"), kvm=_KVM_GUEST, bochs=_BX_GUEST, kut="vmx_tests.c:test_guest_efer"),
    _r("GUEST-EFER-LME", SECTION_GUEST_REGS,
       "If \"load IA32_EFER\" is 1 and CR0.PG is 1 in the CR0 field, bit 8 (LME) of the IA32_EFER field must "
       "equal bit 10 (LMA).",
       (ENTRY, "GUEST_IA32_EFER", CR0), kvm=_KVM_GUEST, bochs=_BX_GUEST, kut="vmx_tests.c:test_guest_efer",
       divergence="KVM compares LME with \"IA-32e mode guest\" rather than with LMA; the two differ only "
                  "when GUEST-EFER-LMA fails as well."),
    _r("GUEST-BNDCFGS-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_BNDCFGS\" is 1, bits 11:2 (reserved) of the IA32_BNDCFGS field must be 0.",
       (ENTRY, "GUEST_BNDCFGS"), kvm=_KVM_GUEST, kut="vmx_tests.c:test_load_guest_bndcfgs",
       divergence="Bochs does not check the field."),
    _r("GUEST-BNDCFGS-BASE", SECTION_GUEST_REGS,
       "If \"load IA32_BNDCFGS\" is 1, the linear address in bits 63:12 of the IA32_BNDCFGS field must be "
       "canonical.",
       (ENTRY, "GUEST_BNDCFGS"), kvm=_KVM_GUEST, kut="vmx_tests.c:test_load_guest_bndcfgs",
       divergence="Bochs does not check the field."),
    _r("GUEST-RTIT-CTL-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_RTIT_CTL\" is 1, the IA32_RTIT_CTL field must not set any bit reserved in that MSR "
       "(vmxspec: bits 18, 23, 30:28, 54:48 and 63:57, the widest architectural definition).",
       (ENTRY, "GUEST_IA32_RTIT_CTL"),
       divergence="None of the implementations consulted checks this (KVM does not offer the control to L1; "
                  "Bochs has no Intel PT). Which bits a processor reserves depends on CPUID leaf 14H."),
    _r("GUEST-S-CET-RSVD", SECTION_GUEST_REGS,
       "If \"load CET state\" is 1, bits 9:6 (reserved) of the IA32_S_CET field must be 0.",
       (ENTRY, "GUEST_S_CET"), kvm="nested.c:nested_vmx_check_cet_state_common (kvm_is_valid_u_s_cet)",
       bochs=f"{_BX_GUEST} (is_invalid_cet_control)",
       divergence="Bochs also requires the IA32_S_CET field to be canonical (and bits 63:32 to be 0 for a "
                  "guest that is not IA-32e mode); KVM, citing the SDM, does not for the guest field."),
    _r("GUEST-S-CET-SUPPRESS", SECTION_GUEST_REGS,
       "If \"load CET state\" is 1, bits 10 (SUPPRESS) and 11 (TRACKER) of the IA32_S_CET field must not both "
       "be 1.",
       (ENTRY, "GUEST_S_CET"), kvm="nested.c:nested_vmx_check_cet_state_common (kvm_is_valid_u_s_cet)",
       bochs=f"{_BX_GUEST} (is_invalid_cet_control)", kut="vmx_tests.c:vmx_cet_test"),
    _r("GUEST-INTR-SSP-TABLE", SECTION_GUEST_REGS,
       "If \"load CET state\" is 1, the IA32_INTERRUPT_SSP_TABLE_ADDR field must contain a canonical address.",
       (ENTRY, "GUEST_INTR_SSP_TABLE"), kvm="nested.c:nested_vmx_check_cet_state_common",
       bochs=_BX_GUEST),
    _r("GUEST-LBR-CTL-RSVD", SECTION_GUEST_REGS,
       "If \"load guest IA32_LBR_CTL\" is 1, the IA32_LBR_CTL field must not set any bit reserved in that MSR "
       "(vmxspec: bits 15:4 and 63:23, the widest architectural definition).",
       (ENTRY, "GUEST_IA32_LBR_CTL"),
       divergence="None of the implementations consulted checks this. Which bits a processor reserves "
                  "depends on CPUID leaf 1CH."),
    _r("GUEST-PKRS-RSVD", SECTION_GUEST_REGS,
       "If \"load PKRS\" is 1, bits 63:32 of the IA32_PKRS field must be 0.",
       (ENTRY, "GUEST_IA32_PKRS"), bochs=_BX_GUEST),
    _r("GUEST-SPEC-CTRL-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_SPEC_CTRL\" is 1, the IA32_SPEC_CTRL field must not set any bit reserved in that MSR "
       "(vmxspec: every bit but 8:0 and 10, the widest architectural definition).",
       (ENTRY, "GUEST_IA32_SPEC_CTRL"), bochs=f"{_BX_GUEST} (isValidMSR_IA32_SPEC_CTRL)",
       divergence="Which defined bits a processor also reserves depends on CPUID leaf 7, which the state "
                  "does not carry; Bochs reserves the bits of features its CPU model lacks."),
    _r("GUEST-CR4-FRED", SECTION_GUEST_REGS,
       "If \"IA-32e mode guest\" is 0, CR4.FRED (bit 32) must be 0.",
       (ENTRY, CR4), kvm=_KVM_FRED, bochs=_BX_GUEST),
    _r("GUEST-FRED-CONFIG-RSVD", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, bits 2, 5:4 and 11 (reserved) of the IA32_FRED_CONFIG field must be 0.",
       (ENTRY, "GUEST_IA32_FRED_CONFIG"), kvm=_KVM_FRED, bochs=_BX_GUEST,
       divergence="KVM performs the \"load IA32_FRED\" checks only when \"IA-32e mode guest\" is 1; Bochs "
                  "and vmxspec perform them regardless."),
    _r("GUEST-FRED-CONFIG-BASE", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, the entry-point address in bits 63:12 of the IA32_FRED_CONFIG field must "
       "be canonical.",
       (ENTRY, "GUEST_IA32_FRED_CONFIG"), kvm=_KVM_FRED,
       divergence="Bochs checks only the reserved bits of IA32_FRED_CONFIG. KVM checks only when "
                  "\"IA-32e mode guest\" is 1."),
    _r("GUEST-FRED-RSP-ALIGN", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, bits 5:0 of each of the IA32_FRED_RSP1, IA32_FRED_RSP2 and IA32_FRED_RSP3 "
       "fields must be 0 (64-byte aligned stacks).",
       (ENTRY, "GUEST_IA32_FRED_RSP1", "GUEST_IA32_FRED_RSP2", "GUEST_IA32_FRED_RSP3"), kvm=_KVM_FRED,
       bochs=_BX_GUEST, divergence="KVM checks only when \"IA-32e mode guest\" is 1."),
    _r("GUEST-FRED-RSP-CANONICAL", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, the IA32_FRED_RSP1, IA32_FRED_RSP2 and IA32_FRED_RSP3 fields must each "
       "contain a canonical address.",
       (ENTRY, "GUEST_IA32_FRED_RSP1", "GUEST_IA32_FRED_RSP2", "GUEST_IA32_FRED_RSP3"), kvm=_KVM_FRED,
       bochs=_BX_GUEST, divergence="KVM checks only when \"IA-32e mode guest\" is 1."),
    _r("GUEST-FRED-SSP-ALIGN", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, bits 2:0 of each of the IA32_FRED_SSP1, IA32_FRED_SSP2 and IA32_FRED_SSP3 "
       "fields must be 0 (8-byte aligned shadow stacks).",
       (ENTRY, "GUEST_IA32_FRED_SSP1", "GUEST_IA32_FRED_SSP2", "GUEST_IA32_FRED_SSP3"), kvm=_KVM_FRED,
       bochs=_BX_GUEST,
       divergence="Bochs checks the SSP fields only on CET-capable models; KVM only when \"IA-32e mode guest\" "
                  "is 1."),
    _r("GUEST-FRED-SSP-CANONICAL", SECTION_GUEST_REGS,
       "If \"load IA32_FRED\" is 1, the IA32_FRED_SSP1, IA32_FRED_SSP2 and IA32_FRED_SSP3 fields must each "
       "contain a canonical address.",
       (ENTRY, "GUEST_IA32_FRED_SSP1", "GUEST_IA32_FRED_SSP2", "GUEST_IA32_FRED_SSP3"), kvm=_KVM_FRED,
       bochs=_BX_GUEST,
       divergence="Bochs checks the SSP fields only on CET-capable models; KVM only when \"IA-32e mode guest\" "
                  "is 1."),
)


def _seg_rule(id: str, condition: str, fields: tuple[str, ...], kvm: str = "", bochs: str = "", kut: str = "",
              vbox: str = "", divergence: str = "") -> Rule:
    return _r(id, SECTION_GUEST_SEGS, condition, fields, kvm=kvm, bochs=bochs, kut=kut, vbox=vbox,
              divergence=divergence)


_SEGS_RULES: tuple[Rule, ...] = (
    _seg_rule("GUEST-SEG-TR-TI", "The TI flag (bit 2) of the TR selector must be 0.",
              ("GUEST_TR_SELECTOR",), bochs=_BX_GUEST, kut="vmx_tests.c:test_guest_segment_sel_fields",
              vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-TI", "If LDTR is usable, the TI flag (bit 2) of the LDTR selector must be 0.",
              ("GUEST_LDTR_SELECTOR", "GUEST_LDTR_AR_BYTES"), bochs=_BX_GUEST,
              kut="vmx_tests.c:test_guest_segment_sel_fields", vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-SS-RPL",
              f"If \"unrestricted guest\" is 0 and not {_V86}, the RPL (bits 1:0) of the SS selector must "
              "equal the RPL of the CS selector.",
              (PROC2, RFLAGS, "GUEST_SS_SELECTOR", "GUEST_CS_SELECTOR"), bochs=_BX_GUEST,
              kut="vmx_tests.c:test_guest_segment_sel_fields"),
    _seg_rule("GUEST-SEG-V86-BASE",
              f"If {_V86}, the base address of each of CS, SS, DS, ES, FS and GS must be its selector shifted "
              "left by 4 bits.",
              (RFLAGS, *_seg_fields(_SEGS, "SELECTOR", "BASE")), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-V86-LIMIT",
              f"If {_V86}, the limit of each of CS, SS, DS, ES, FS and GS must be 0000FFFFH.",
              (RFLAGS, *_seg_fields(_SEGS, "LIMIT")), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-V86-AR",
              f"If {_V86}, the access rights of each of CS, SS, DS, ES, FS and GS must be 000000F3H (type 3, "
              "S = 1, DPL = 3, P = 1, every other bit 0).",
              (RFLAGS, *_AR6), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-BASE-CANONICAL", "The base addresses of TR, FS and GS must be canonical.",
              ("GUEST_TR_BASE", "GUEST_FS_BASE", "GUEST_GS_BASE"), bochs=_BX_GUEST,
              kut="vmx_tests.c:test_guest_segment_base_addr_fields", vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-BASE", "If LDTR is usable, its base address must be canonical.",
              ("GUEST_LDTR_BASE", "GUEST_LDTR_AR_BYTES"), bochs=_BX_GUEST,
              kut="vmx_tests.c:test_guest_segment_base_addr_fields", vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-CS-BASE", "Bits 63:32 of the CS base address must be 0.",
              ("GUEST_CS_BASE",), bochs=_BX_GUEST, kut="vmx_tests.c:test_guest_segment_base_addr_fields"),
    _seg_rule("GUEST-SEG-BASE-HIGH", "For each of SS, DS and ES that is usable, bits 63:32 of the base address "
              "must be 0.",
              _seg_fields(("SS", "DS", "ES"), "BASE", "AR_BYTES"), bochs=_BX_GUEST,
              kut="vmx_tests.c:test_guest_segment_base_addr_fields"),
    _seg_rule("GUEST-SEG-CS-TYPE",
              f"If not {_V86}, the CS type must be 9, 11, 13 or 15 (accessed code segment); if \"unrestricted "
              "guest\" is 1 it may also be 3 (read/write, accessed, expand-up data segment).",
              (PROC2, RFLAGS, "GUEST_CS_AR_BYTES"), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-SS-TYPE",
              f"If not {_V86} and SS is usable, the SS type must be 3 or 7 (read/write, accessed data segment).",
              (RFLAGS, "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_SEGS,
              divergence="Bochs skips every SS access-rights check when the SS selector's RPL is 0 and the "
                         "guest will be in 64-bit mode (IA-32e mode guest with CS.L = 1), even if SS is "
                         "usable."),
    _seg_rule("GUEST-SEG-DATA-TYPE",
              f"If not {_V86}, for each of DS, ES, FS and GS that is usable: bit 0 of the type (accessed) must "
              "be 1, and if bit 3 (code) is 1 then bit 1 (readable) must be 1.",
              (RFLAGS, *_seg_fields(_DATA_SEGS, "AR_BYTES")), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-S",
              f"If not {_V86}, S (bit 4) must be 1 in the access rights of CS and of each of SS, DS, ES, FS "
              "and GS that is usable.",
              (RFLAGS, *_AR6), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-CS-DPL-TYPE3",
              f"If not {_V86} and the CS type is 3 (possible only with \"unrestricted guest\"), the CS DPL "
              "must be 0.",
              (RFLAGS, "GUEST_CS_AR_BYTES"), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-CS-DPL-NONCONF",
              f"If not {_V86} and the CS type is 9 or 11 (non-conforming code), the CS DPL must equal the SS "
              "DPL.",
              (RFLAGS, "GUEST_CS_AR_BYTES", "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-CS-DPL-CONF",
              f"If not {_V86} and the CS type is 13 or 15 (conforming code), the CS DPL must not be greater "
              "than the SS DPL.",
              (RFLAGS, "GUEST_CS_AR_BYTES", "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-SS-DPL-RPL",
              f"If not {_V86} and \"unrestricted guest\" is 0, the SS DPL must equal the RPL of the SS "
              "selector.",
              (PROC2, RFLAGS, "GUEST_SS_SELECTOR", "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-SS-DPL-ZERO",
              f"If not {_V86}, the SS DPL must be 0 if the CS type is 3 or CR0.PE is 0 in the CR0 field.",
              (RFLAGS, CR0, "GUEST_CS_AR_BYTES", "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_SEGS,
              divergence="Bochs checks this only when \"unrestricted guest\" is 1 (without it, CR0.PE = 0 "
                         "and CS type 3 fail other checks)."),
    _seg_rule("GUEST-SEG-DATA-DPL",
              f"If not {_V86} and \"unrestricted guest\" is 0, for each of DS, ES, FS and GS that is usable "
              "with a type in the range 0-11 (data or non-conforming code), the DPL must not be less than "
              "the RPL of its selector.",
              (PROC2, RFLAGS, *_seg_fields(_DATA_SEGS, "SELECTOR", "AR_BYTES")), bochs=_BX_GUEST,
              vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-P",
              f"If not {_V86}, P (bit 7) must be 1 in the access rights of CS and of each of SS, DS, ES, FS "
              "and GS that is usable.",
              (RFLAGS, *_AR6), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-AR-RSVD",
              f"If not {_V86}, bits 11:8 and 31:17 (reserved) must be 0 in the access rights of CS and of "
              "each of SS, DS, ES, FS and GS that is usable.",
              (RFLAGS, *_AR6), bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)"),
    _seg_rule("GUEST-SEG-CS-DB",
              f"If not {_V86}, \"IA-32e mode guest\" is 1 and CS.L (bit 13) is 1, CS.D/B (bit 14) must be 0.",
              (ENTRY, RFLAGS, "GUEST_CS_AR_BYTES"), bochs=_BX_GUEST),
    _seg_rule("GUEST-SEG-G",
              f"If not {_V86}, for CS and each of SS, DS, ES, FS and GS that is usable: if any bit in 11:0 of "
              "the limit is 0, G (bit 15) must be 0; if any bit in 31:20 of the limit is 1, G must be 1.",
              (RFLAGS, *_AR6, *_seg_fields(_SEGS, "LIMIT")),
              bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)"),
    _seg_rule("GUEST-SEG-TR-TYPE",
              "The TR type must be 11 (busy 32-bit/64-bit TSS); if \"IA-32e mode guest\" is 0 it may also be "
              "3 (busy 16-bit TSS).",
              (ENTRY, "GUEST_TR_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-TR-S", "S (bit 4) must be 0 in the TR access rights.",
              ("GUEST_TR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-TR-P", "P (bit 7) must be 1 in the TR access rights.",
              ("GUEST_TR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-TR-RSVD", "Bits 11:8 and 31:17 (reserved) must be 0 in the TR access rights.",
              ("GUEST_TR_AR_BYTES",), bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)", vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-TR-G",
              "If any bit in 11:0 of the TR limit is 0, TR.G must be 0; if any bit in 31:20 of the limit is "
              "1, TR.G must be 1.",
              ("GUEST_TR_AR_BYTES", "GUEST_TR_LIMIT"), bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)",
              vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-TR-UNUSABLE", "TR must be usable: bit 16 of its access rights must be 0.",
              ("GUEST_TR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-TYPE", "If LDTR is usable, its type must be 2 (LDT).",
              ("GUEST_LDTR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-S", "If LDTR is usable, S (bit 4) must be 0 in its access rights.",
              ("GUEST_LDTR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-P", "If LDTR is usable, P (bit 7) must be 1 in its access rights.",
              ("GUEST_LDTR_AR_BYTES",), bochs=_BX_GUEST, vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-RSVD",
              "If LDTR is usable, bits 11:8 and 31:17 (reserved) must be 0 in its access rights.",
              ("GUEST_LDTR_AR_BYTES",), bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)", vbox=_VBOX_SEGS),
    _seg_rule("GUEST-SEG-LDTR-G",
              "If LDTR is usable: if any bit in 11:0 of its limit is 0, LDTR.G must be 0; if any bit in 31:20 "
              "of the limit is 1, LDTR.G must be 1.",
              ("GUEST_LDTR_AR_BYTES", "GUEST_LDTR_LIMIT"), bochs=f"{_BX_GUEST} (IsLimitAccessRightsConsistent)",
              vbox=_VBOX_SEGS),
    _seg_rule("GUEST-FRED-SS-DPL",
              "If CR4.FRED (bit 32) is 1 in the CR4 field, the SS DPL (the guest's CPL) must be 0 or 3.",
              (CR4, "GUEST_SS_AR_BYTES"), kvm=_KVM_FRED, bochs=_BX_GUEST, divergence=_FRED_CPL_DIV),
    _seg_rule("GUEST-FRED-CPL0-LONG",
              "If CR4.FRED is 1 and the SS DPL is 0, CS.L (bit 13 of the CS access rights) must be 1: with FRED, "
              "CPL 0 runs only in 64-bit mode.",
              (CR4, "GUEST_SS_AR_BYTES", "GUEST_CS_AR_BYTES"), kvm=_KVM_FRED, bochs=_BX_GUEST,
              divergence=_FRED_CPL_DIV),
)

_DTR_RULES: tuple[Rule, ...] = (
    _r("GUEST-DTR-BASE", SECTION_GUEST_DTR, "The GDTR and IDTR base addresses must be canonical.",
       ("GUEST_GDTR_BASE", "GUEST_IDTR_BASE"), bochs=_BX_GUEST, kut=f"{_KUT_AREA} (test_canonical)",
       vbox="IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestGdtrIdtr"),
    _r("GUEST-DTR-LIMIT", SECTION_GUEST_DTR, "Bits 31:16 of the GDTR and IDTR limit fields must be 0.",
       ("GUEST_GDTR_LIMIT", "GUEST_IDTR_LIMIT"), bochs=_BX_GUEST, kut=_KUT_AREA,
       vbox="IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestGdtrIdtr"),
)

_RIP_RULES: tuple[Rule, ...] = (
    _r("GUEST-RIP-HIGH", SECTION_GUEST_RIP,
       "Bits 63:32 of the RIP field must be 0 if \"IA-32e mode guest\" is 0 or CS.L (bit 13 of the CS access "
       "rights) is 0.",
       (ENTRY, RIP, "GUEST_CS_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_RIP),
    _r("GUEST-RIP-LINEAR", SECTION_GUEST_RIP,
       "If \"IA-32e mode guest\" is 1 and CS.L is 1, bits 63:N of the RIP field must be identical, N being the "
       "processor's linear-address width (MAXLINADDR, 48 unless the state says 57). This is weaker than "
       "canonical (bits 63:N-1 identical): a RIP such as 0000_8000_0000_0000H passes and faults in the guest.",
       (ENTRY, RIP, "GUEST_CS_AR_BYTES"), ("MAXLINADDR",), vbox=_VBOX_RIP,
       divergence="VirtualBox requires RIP to be canonical (63:N-1 identical); Bochs does not check the upper "
                  "bits of a 64-bit RIP at all."),
    _r("GUEST-RFLAGS-RSVD", SECTION_GUEST_RIP,
       "Bits 63:22, 15, 5 and 3 (reserved) of the RFLAGS field must be 0 and bit 1 (reserved) must be 1.",
       (RFLAGS,), bochs=_BX_GUEST, vbox=_VBOX_RIP),
    _r("GUEST-RFLAGS-VM", SECTION_GUEST_RIP,
       "RFLAGS.VM (bit 17) must be 0 if \"IA-32e mode guest\" is 1 or CR0.PE is 0 in the CR0 field.",
       (ENTRY, RFLAGS, CR0), bochs=_BX_GUEST, vbox=_VBOX_RIP,
       divergence="Bochs checks only the IA-32e mode half (not CR0.PE = 0)."),
    _r("GUEST-RFLAGS-IF", SECTION_GUEST_RIP,
       "RFLAGS.IF (bit 9) must be 1 if the VM-entry interruption-information field is valid and its "
       "interruption type is 0 (external interrupt).",
       (RFLAGS, INFO), bochs=_BX_GUEST, vbox=_VBOX_RIP),
    _r("GUEST-FRED-CPL3-IOPL", SECTION_GUEST_RIP,
       "If CR4.FRED is 1 in the CR4 field and the SS DPL is 3, RFLAGS.IOPL (bits 13:12) must be 0.",
       (CR4, "GUEST_SS_AR_BYTES", RFLAGS), kvm=_KVM_FRED, bochs=_BX_GUEST, divergence=_FRED_CPL_DIV),
    _r("GUEST-SSP-ALIGN", SECTION_GUEST_RIP,
       "If \"load CET state\" is 1, bits 1:0 of the SSP field must be 0.",
       (ENTRY, "GUEST_SSP"), kvm="nested.c:nested_vmx_check_cet_state_common", bochs=_BX_GUEST),
    _r("GUEST-SSP-LINEAR", SECTION_GUEST_RIP,
       "If \"load CET state\" is 1, bits 63:N of the SSP field must be identical, N being the processor's "
       "linear-address width (weaker than canonical, as for RIP).",
       (ENTRY, "GUEST_SSP"), ("MAXLINADDR",), kvm=_KVM_GUEST,
       divergence="Bochs requires SSP to be canonical, and bits 63:32 to be 0 for a guest that is not "
                  "IA-32e mode. KVM follows the SDM (its check is canonicality for N+1 bits)."),
)

_NONREG_RULES: tuple[Rule, ...] = (
    _r("GUEST-ACTIVITY-SUPPORTED", SECTION_GUEST_NONREG,
       "The activity-state field must be 0 (active), 1 (HLT), 2 (shutdown) or 3 (wait-for-SIPI), and a "
       "non-zero state must be one the processor supports: IA32_VMX_MISC bit 6 (HLT), 7 (shutdown) or "
       "8 (wait-for-SIPI).",
       (ACT,), ("IA32_VMX_MISC",), kvm="nested.c:nested_check_guest_non_reg_state", bochs=_BX_GUEST,
       vbox=_VBOX_NONREG,
       divergence="KVM and Bochs compare against fixed lists instead of IA32_VMX_MISC (KVM: active, HLT and "
                  "wait-for-SIPI, matching what it advertises; Bochs: 0-3)."),
    _r("GUEST-ACTIVITY-HLT-DPL", SECTION_GUEST_NONREG,
       "The activity state must not be HLT if the SS DPL (bits 6:5 of the SS access rights) is not 0.",
       (ACT, "GUEST_SS_AR_BYTES"), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-ACTIVITY-BLOCKING", SECTION_GUEST_NONREG,
       "The activity state must be active if the interruptibility state indicates blocking by STI (bit 0) "
       "or by MOV SS (bit 1).",
       (ACT, INTR), bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       divergence="VirtualBox applies this only when the whole field is exactly 1 or 2 (no other "
                  "blocking bit set)."),
    _r("GUEST-ACTIVITY-EVENT", SECTION_GUEST_NONREG,
       "If the VM-entry interruption-information field is valid, the injected event must be one that the "
       "activity state does not block: HLT allows external interrupts, NMIs, hardware exceptions #DB (1) and "
       "#MC (18) and the pending MTF VM exit (other event, vector 0); shutdown allows NMIs and #MC; "
       "wait-for-SIPI allows none; active allows all.",
       (ACT, INFO), bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       divergence="Bochs checks only shutdown and wait-for-SIPI (and accepts any type with vector 18 in "
                  "shutdown)."),
    _r("GUEST-ACTIVITY-SMM-SIPI", SECTION_GUEST_NONREG,
       "The activity state must not be wait-for-SIPI if \"entry to SMM\" is 1.",
       (ACT, ENTRY), bochs=_BX_GUEST),
    _r("GUEST-INTR-RSVD", SECTION_GUEST_NONREG,
       "Bits 31:5 (reserved) of the interruptibility-state field must be 0.",
       (INTR,), bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       divergence="Bochs also treats bit 4 (enclave interruption) as reserved."),
    _r("GUEST-INTR-STI-MOVSS", SECTION_GUEST_NONREG,
       "The interruptibility state must not indicate blocking by both STI and MOV SS (bits 0 and 1).",
       (INTR,), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-INTR-STI-IF", SECTION_GUEST_NONREG,
       "Blocking by STI (bit 0) must be 0 if RFLAGS.IF is 0 in the RFLAGS field.",
       (INTR, RFLAGS), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-INTR-EXTINT", SECTION_GUEST_NONREG,
       "If the VM-entry interruption-information field is valid with interruption type 0 (external "
       "interrupt), blocking by STI (bit 0) and blocking by MOV SS (bit 1) must both be 0.",
       (INTR, INFO), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-INTR-NMI-MOVSS", SECTION_GUEST_NONREG,
       "If the VM-entry interruption-information field is valid with interruption type 2 (NMI), blocking by "
       "MOV SS (bit 1) must be 0.",
       (INTR, INFO), bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       divergence="Bochs and VirtualBox also fail an NMI injection with blocking by STI. The SDM calls that "
                  "failure implementation-specific (exit qualification 3); vmxspec does not report it."),
    _r("GUEST-INTR-SMI-NOT-SMM", SECTION_GUEST_NONREG,
       "Blocking by SMI (bit 2) must be 0 if the processor is not in SMM (cpu.in_smm; false when absent).",
       (INTR,), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-INTR-SMI-ENTRY-SMM", SECTION_GUEST_NONREG,
       "Blocking by SMI (bit 2) must be 1 if \"entry to SMM\" is 1.",
       (INTR, ENTRY), bochs=_BX_GUEST),
    _r("GUEST-INTR-VNMI", SECTION_GUEST_NONREG,
       "Blocking by NMI (bit 3) must be 0 if \"virtual NMIs\" is 1 and the VM-entry interruption-information "
       "field is valid with interruption type 2 (NMI). With \"virtual NMIs\" 0 there is no such requirement.",
       (INTR, PIN, INFO), bochs=_BX_GUEST, vbox=_VBOX_NONREG),
    _r("GUEST-INTR-ENCLAVE", SECTION_GUEST_NONREG,
       "If enclave interruption (bit 4) is 1, blocking by MOV SS (bit 1) must be 0. (The SDM also requires "
       "SGX support, CPUID.(EAX=07H,ECX=0):EBX[2], which the state does not carry.)",
       (INTR,),
       divergence="Bochs treats bit 4 as reserved; VirtualBox rejects it (no SGX)."),
    _r("GUEST-FRED-CPL3-STI", SECTION_GUEST_NONREG,
       "If CR4.FRED is 1 in the CR4 field and the SS DPL is 3, the interruptibility state must not indicate "
       "blocking by STI (bit 0).",
       (CR4, "GUEST_SS_AR_BYTES", INTR), kvm=_KVM_FRED, bochs=_BX_GUEST, divergence=_FRED_CPL_DIV),
    _r("GUEST-PENDDBG-RSVD", SECTION_GUEST_NONREG,
       "Bits 11:4, 13, 15 and 63:17 (reserved) of the pending debug exceptions field must be 0.",
       (PENDDBG,), bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       divergence="Bochs reads only bits 31:0 of the field and also treats bit 16 (RTM) as reserved."),
    _r("GUEST-PENDDBG-BS", SECTION_GUEST_NONREG,
       "If the interruptibility state indicates blocking by STI or by MOV SS, or the activity state is HLT: "
       "BS (bit 14) of the pending debug exceptions field must be 1 if RFLAGS.TF is 1 and IA32_DEBUGCTL.BTF "
       "(bit 1 of the IA32_DEBUGCTL field) is 0, and must be 0 if RFLAGS.TF is 0 or BTF is 1.",
       (PENDDBG, INTR, ACT, RFLAGS, DEBUGCTL), vbox=_VBOX_NONREG,
       divergence="Bochs does not check the BS bit."),
    _r("GUEST-PENDDBG-RTM", SECTION_GUEST_NONREG,
       "If RTM (bit 16) of the pending debug exceptions field is 1: bits 11:0, 15:13 and 63:17 must be 0, "
       "bit 12 (enabled breakpoint) must be 1, and the interruptibility state must not indicate blocking by "
       "MOV SS. (The SDM also requires RTM support, CPUID.(EAX=07H,ECX=0):EBX[11], which the state does not "
       "carry.)",
       (PENDDBG, INTR),
       divergence="Bochs and VirtualBox reject the RTM bit outright (they do not support RTM)."),
    _r("GUEST-LINK-ALIGN", SECTION_GUEST_NONREG,
       "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bits 11:0 must be 0.",
       (LINK,), kvm="nested.c:nested_vmx_check_vmcs_link_ptr", bochs=_BX_GUEST, vbox=_VBOX_NONREG,
       qual=ENTRY_FAIL_QUAL_VMCS_LINK),
    _r("GUEST-LINK-MAXPHY", SECTION_GUEST_NONREG,
       "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, it must not set any bit beyond the processor's "
       "physical-address width.",
       (LINK,), ("MAXPHYADDR",), kvm="nested.c:nested_vmx_check_vmcs_link_ptr", bochs=_BX_GUEST,
       vbox=_VBOX_NONREG, qual=ENTRY_FAIL_QUAL_VMCS_LINK),
    _r("GUEST-LINK-REVISION", SECTION_GUEST_NONREG,
       "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bits 30:0 of the 32-bit value in memory at that "
       "physical address must be the VMCS revision identifier (IA32_VMX_BASIC bits 30:0). vmxspec reads the "
       "memory only when the pointer is 4-KByte aligned and within the physical-address width.",
       (LINK,), ("IA32_VMX_BASIC",), kvm="nested.c:nested_vmx_check_vmcs_link_ptr", bochs=_BX_GUEST,
       qual=ENTRY_FAIL_QUAL_VMCS_LINK,
       divergence="VirtualBox checks only the address. KVM compares with its own VMCS12 revision."),
    _r("GUEST-LINK-SHADOW", SECTION_GUEST_NONREG,
       "If the VMCS link pointer is not FFFFFFFF_FFFFFFFFH, bit 31 of the 32-bit value in memory at that "
       "physical address must equal \"VMCS shadowing\" (the linked VMCS is a shadow VMCS exactly when VMCS "
       "shadowing is 1). Read under the same conditions as GUEST-LINK-REVISION.",
       (LINK, PROC2), kvm="nested.c:nested_vmx_check_vmcs_link_ptr", bochs=_BX_GUEST,
       qual=ENTRY_FAIL_QUAL_VMCS_LINK),
    _r("GUEST-UINV", SECTION_GUEST_NONREG,
       "If \"load UINV\" is 1, bits 15:8 of the guest UINV field must be 0.",
       (ENTRY, "GUEST_UINV"), bochs=_BX_GUEST),
)

_PDPTE_RULES: tuple[Rule, ...] = (
    _r("GUEST-PDPTE-RSVD", SECTION_GUEST_PDPTE,
       "If the guest will use PAE paging (CR0.PG = 1, CR4.PAE = 1, \"IA-32e mode guest\" = 0), each of the four "
       "PDPTEs that is present (bit 0 = 1) must have bits 2:1, 8:5 and 63:MAXPHYADDR (reserved) clear. With "
       "\"enable EPT\" 1 the PDPTEs are the GUEST_PDPTR0-3 fields; with it 0 they are read from memory at "
       "CR3[31:5] (VM entry may skip that when neither paging mode nor CR3 changes; vmxspec always checks).",
       (CR0, CR4, ENTRY, PROC2, CR3, "GUEST_PDPTR0", "GUEST_PDPTR1", "GUEST_PDPTR2", "GUEST_PDPTR3"),
       ("MAXPHYADDR",), kvm="nested.c:nested_vmx_load_cr3 (load_pdptrs, EPT off)",
       bochs=f"{_BX_GUEST} (CheckPDPTR)", kut="vmx_tests.c:vmx_pae_test (test_vmx_guest_pdptes)",
       vbox="IEMAllCImplVmxInstr.cpp:iemVmxVmentryCheckGuestPdptes", qual=ENTRY_FAIL_QUAL_PDPTE,
       divergence="With EPT, KVM leaves the PDPTE fields to the processor on vmcs02."),
)

RULES: tuple[Rule, ...] = (*_REGS, *_SEGS_RULES, *_DTR_RULES, *_RIP_RULES, *_NONREG_RULES, *_PDPTE_RULES)
