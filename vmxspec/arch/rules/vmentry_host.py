"""Rules: checks on the host-state area (VM-instruction error 8).

Condition wording follows the SDM sections "Checks on Host Control Registers, MSRs, and SSP",
"Checks on Host Segment and Descriptor-Table Registers" and "Checks Related to Address-Space Size".
Implementation locations: KVM ``arch/x86/kvm/vmx/nested.c`` (nested_vmx_check_host_state,
nested_vmx_check_address_space_size), Bochs ``bochs/cpu/vmx.cc`` (VMenterLoadCheckHostState) and
kvm-unit-tests ``x86/vmx_tests.c`` (vmx_host_state_area_test and the test_host_* functions).
"""

from __future__ import annotations

from vmxspec.arch.rules import SECTION_HOST_ASSIZE, SECTION_HOST_REGS, SECTION_HOST_SEGS, Rule, Stage

_H = Stage.HOST
_KVM = "KVM"
_BX = "Bochs"
_KUT = "kvm-unit-tests"

_KVM_HOST = "nested.c:nested_vmx_check_host_state"
_BX_HOST = "vmx.cc:VMenterLoadCheckHostState"


def _r(id: str, section: str, condition: str, fields: tuple[str, ...], caps: tuple[str, ...] = (),
       kvm: str = "", bochs: str = "", kut: str = "", divergence: str = "") -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut)) if where)
    return Rule(id, _H, section, condition, fields, caps, impls, divergence)


EXIT, ENTRY = "VM_EXIT_CONTROLS", "VM_ENTRY_CONTROLS"
SELECTORS = tuple(f"HOST_{s}_SELECTOR" for s in ("ES", "CS", "SS", "DS", "FS", "GS", "TR"))
BASES = ("HOST_FS_BASE", "HOST_GS_BASE", "HOST_GDTR_BASE", "HOST_IDTR_BASE", "HOST_TR_BASE")

RULES: tuple[Rule, ...] = (
    # -- Checks on Host Control Registers, MSRs, and SSP -------------------------------------------
    _r("HOST-CR0-FIXED", SECTION_HOST_REGS,
       "The CR0 field must not set any bit to a value not supported in VMX operation: every bit that is 1 "
       "in IA32_VMX_CR0_FIXED0 must be 1, and every bit that is 0 in IA32_VMX_CR0_FIXED1 must be 0. Unlike "
       "the guest CR0 check there are no exceptions (PE and PG are fixed to 1 even with \"unrestricted "
       "guest\").",
       ("HOST_CR0",), ("IA32_VMX_CR0_FIXED0", "IA32_VMX_CR0_FIXED1"),
       kvm=f"{_KVM_HOST} (nested_host_cr0_valid)", bochs=_BX_HOST, kut="vmx_tests.c:test_host_ctl_regs"),
    _r("HOST-CR4-FIXED", SECTION_HOST_REGS,
       "The CR4 field must not set any bit to a value not supported in VMX operation: every bit that is 1 "
       "in IA32_VMX_CR4_FIXED0 (VMXE) must be 1, and every bit that is 0 in IA32_VMX_CR4_FIXED1 must be 0.",
       ("HOST_CR4",), ("IA32_VMX_CR4_FIXED0", "IA32_VMX_CR4_FIXED1"),
       kvm=f"{_KVM_HOST} (nested_host_cr4_valid)", bochs=_BX_HOST, kut="vmx_tests.c:test_host_ctl_regs"),
    _r("HOST-CR4-CET-WP", SECTION_HOST_REGS,
       "If bit 23 of the CR4 field (CET) is 1, bit 16 of the CR0 field (WP) must be 1.",
       ("HOST_CR0", "HOST_CR4"),
       kvm=f"{_KVM_HOST} (since 2025)", bochs=_BX_HOST,
       divergence="Bochs checks this only when the \"load CET state\" VM-exit control is 1; KVM before 2025 "
                  "did not check it."),
    _r("HOST-CR3-MAXPHY", SECTION_HOST_REGS,
       "Bits 63:52 of the CR3 field, and bits 51:32 beyond the processor's physical-address width, must be "
       "0. On a processor with linear-address masking (IA32_VMX_CR4_FIXED1 allows CR4.LAM_SUP, bit 28), "
       "bits 62:61 (LAM_U48, LAM_U57) may be 1.",
       ("HOST_CR3",), ("MAXPHYADDR", "IA32_VMX_CR4_FIXED1"),
       kvm=f"{_KVM_HOST} (kvm_vcpu_is_legal_cr3)", bochs=_BX_HOST, kut="vmx_tests.c:test_host_ctl_regs",
       divergence="Bochs does not exempt the LAM bits."),
    _r("HOST-SYSENTER-CANONICAL", SECTION_HOST_REGS,
       "The IA32_SYSENTER_ESP field and the IA32_SYSENTER_EIP field must each contain a canonical address.",
       ("HOST_IA32_SYSENTER_ESP", "HOST_IA32_SYSENTER_EIP"), ("MAXLINADDR",),
       kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:vmx_host_state_area_test (test_canonical)"),
    _r("HOST-CET-SCET", SECTION_HOST_REGS,
       "If the \"load CET state\" VM-exit control is 1, the IA32_S_CET field must not set any bit reserved in "
       "the MSR (bits 9:6), and its bits 10 (SUPPRESS) and 11 (TRACKER) must not both be 1.",
       (EXIT, "HOST_S_CET"),
       kvm=f"{_KVM_HOST} (is_valid_cet_state, since 2025)", bochs=f"{_BX_HOST} (is_invalid_cet_control)"),
    _r("HOST-CET-SSP-ALIGN", SECTION_HOST_REGS,
       "If the \"load CET state\" VM-exit control is 1, bits 1:0 of the SSP field must be 0.",
       (EXIT, "HOST_SSP"), kvm=f"{_KVM_HOST} (is_valid_cet_state, since 2025)", bochs=_BX_HOST),
    _r("HOST-CET-INTR-SSP-TABLE", SECTION_HOST_REGS,
       "If the \"load CET state\" VM-exit control is 1, the IA32_INTERRUPT_SSP_TABLE_ADDR field must contain "
       "a canonical address.",
       (EXIT, "HOST_INTR_SSP_TABLE"), ("MAXLINADDR",),
       kvm=f"{_KVM_HOST} (is_valid_cet_state, since 2025)", bochs=_BX_HOST),
    _r("HOST-PERF-GLOBAL-CTRL", SECTION_HOST_REGS,
       "If the \"load IA32_PERF_GLOBAL_CTRL\" VM-exit control is 1, the bits reserved in the "
       "IA32_PERF_GLOBAL_CTRL MSR must be 0 in the field for that register. vmxspec takes the widest "
       "architectural layout (general-purpose counter enables 31:0, fixed-counter enables 47:32, "
       "PERF_METRICS 48), so bits 63:49 are reserved.",
       (EXIT, "HOST_IA32_PERF_GLOBAL_CTRL"),
       kvm=f"{_KVM_HOST} (kvm_valid_perf_global_ctrl)", kut="vmx_tests.c:test_load_host_perf_global_ctrl",
       divergence="KVM and kvm-unit-tests also reserve the enable bits of counters the (virtual) PMU does not "
                  "have, from CPUID leaf 0AH, which a vmxspec state does not carry. Bochs does not implement "
                  "the control."),
    _r("HOST-PAT", SECTION_HOST_REGS,
       "If the \"load IA32_PAT\" VM-exit control is 1, the IA32_PAT field must hold a value WRMSR could write "
       "without fault at CPL 0: each of its 8 bytes must be 0 (UC), 1 (WC), 4 (WT), 5 (WP), 6 (WB) or "
       "7 (UC-).",
       (EXIT, "HOST_IA32_PAT"),
       kvm=f"{_KVM_HOST} (kvm_pat_valid)", bochs=f"{_BX_HOST} (isValidMSR_PAT)",
       kut="vmx_tests.c:test_load_host_pat"),
    _r("HOST-EFER-RSVD", SECTION_HOST_REGS,
       "If the \"load IA32_EFER\" VM-exit control is 1, the bits reserved in the IA32_EFER MSR must be 0 in "
       "the IA32_EFER field: every bit other than SCE (0), LME (8), LMA (10) and NXE (11).",
       (EXIT, "HOST_IA32_EFER"),
       kvm=f"{_KVM_HOST} (kvm_valid_efer)", bochs=_BX_HOST, kut="vmx_tests.c:test_host_efer",
       divergence="KVM, Bochs and kvm-unit-tests derive the reserved bits from the CPU model (NXE is "
                  "reserved without NX support)."),
    _r("HOST-EFER-LMA-LME", SECTION_HOST_REGS,
       "If the \"load IA32_EFER\" VM-exit control is 1, the LMA bit (10) and the LME bit (8) of the IA32_EFER "
       "field must each equal the \"host address-space size\" VM-exit control.",
       (EXIT, "HOST_IA32_EFER"),
       kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_efer"),
    _r("HOST-PKRS", SECTION_HOST_REGS,
       "If the \"load PKRS\" VM-exit control is 1, bits 63:32 of the IA32_PKRS field must be 0.",
       (EXIT, "HOST_IA32_PKRS"), bochs=_BX_HOST,
       divergence="KVM does not offer \"load PKRS\" to L1 and does not check the field."),
    # -- Checks on Host Segment and Descriptor-Table Registers -----------------------------------
    _r("HOST-SEL-RPL-TI", SECTION_HOST_SEGS,
       "In the selector field of each of CS, SS, DS, ES, FS, GS and TR, the RPL (bits 1:0) and the TI flag "
       "(bit 2) must be 0.",
       SELECTORS, kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_segment_regs"),
    _r("HOST-SEL-CS", SECTION_HOST_SEGS,
       "The selector field for CS must not be 0000H.",
       ("HOST_CS_SELECTOR",), kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_segment_regs"),
    _r("HOST-SEL-TR", SECTION_HOST_SEGS,
       "The selector field for TR must not be 0000H.",
       ("HOST_TR_SELECTOR",), kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_segment_regs"),
    _r("HOST-SEL-SS", SECTION_HOST_SEGS,
       "If the \"host address-space size\" VM-exit control is 0, the selector field for SS must not be "
       "0000H.",
       (EXIT, "HOST_SS_SELECTOR"), kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_segment_regs"),
    _r("HOST-BASE-CANONICAL", SECTION_HOST_SEGS,
       "The base-address fields for FS, GS, GDTR, IDTR and TR must contain canonical addresses.",
       BASES, ("MAXLINADDR",), kvm=_KVM_HOST, bochs=_BX_HOST,
       kut="vmx_tests.c:test_host_segment_regs, test_host_desc_tables"),
    # -- Checks Related to Address-Space Size ------------------------------------------------------
    _r("HOST-ASSIZE-LMA", SECTION_HOST_ASSIZE,
       "If the logical processor is outside IA-32e mode (IA32_EFER.LMA = 0) at the time of VM entry, the "
       "\"IA-32e mode guest\" VM-entry control and the \"host address-space size\" VM-exit control must both "
       "be 0; if it is in IA-32e mode (IA32_EFER.LMA = 1), \"host address-space size\" must be 1. The "
       "processor's IA32_EFER is the executing context's (state key cpu.efer); without it this check is "
       "reported as not evaluated.",
       (EXIT, ENTRY),
       kvm="nested.c:nested_vmx_check_address_space_size", bochs=_BX_HOST,
       divergence="KVM compares only \"host address-space size\" with EFER.LMA; the \"IA-32e mode guest\" "
                  "half then fails HOST-ASSIZE0-GUEST64 instead."),
    _r("HOST-ASSIZE0-GUEST64", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 0, the \"IA-32e mode guest\" VM-entry control "
       "must be 0.",
       (EXIT, ENTRY), kvm=_KVM_HOST, bochs=_BX_HOST),
    _r("HOST-ASSIZE0-PCIDE", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 0, bit 17 of the CR4 field (PCIDE) must be 0.",
       (EXIT, "HOST_CR4"), kvm=_KVM_HOST, bochs=_BX_HOST),
    _r("HOST-ASSIZE0-RIP", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 0, bits 63:32 of the RIP field must be 0.",
       (EXIT, "HOST_RIP"), kvm=_KVM_HOST, bochs=_BX_HOST),
    _r("HOST-ASSIZE0-CET", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 0 and the \"load CET state\" VM-exit control is "
       "1, bits 63:32 of the IA32_S_CET field and of the SSP field must be 0.",
       (EXIT, "HOST_S_CET", "HOST_SSP"), kvm=f"{_KVM_HOST} (since 2025)", bochs=_BX_HOST),
    _r("HOST-ASSIZE1-PAE", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 1, bit 5 of the CR4 field (PAE) must be 1.",
       (EXIT, "HOST_CR4"), kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_addr_size"),
    _r("HOST-ASSIZE1-RIP", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 1, the RIP field must contain a canonical "
       "address.",
       (EXIT, "HOST_RIP"), ("MAXLINADDR",), kvm=_KVM_HOST, bochs=_BX_HOST, kut="vmx_tests.c:test_host_addr_size",
       divergence="KVM (since 2024) takes the width from the CR4 field: 57 bits if HOST_CR4.LA57 is 1, else 48, "
                  "so on a processor with 57-bit linear addresses it rejects a RIP that is 57-bit but not "
                  "48-bit canonical when LA57 is 0. The SDM names no width here; vmxspec uses the processor's "
                  "linear-address width, as for every other canonical check."),
    _r("HOST-ASSIZE1-CET", SECTION_HOST_ASSIZE,
       "If the \"host address-space size\" VM-exit control is 1 and the \"load CET state\" VM-exit control is "
       "1, the IA32_S_CET field and the SSP field must contain canonical addresses.",
       (EXIT, "HOST_S_CET", "HOST_SSP"), ("MAXLINADDR",), kvm=f"{_KVM_HOST} (since 2025)", bochs=_BX_HOST),
)
