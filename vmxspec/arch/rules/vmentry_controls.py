"""Rules: checks on the VMX control fields (VM-instruction error 7).

Condition wording follows the SDM sections "Checks on VMX Controls"; ids and the KVM, Bochs and
kvm-unit-tests locations come from ``shared/reference/vmentry-checks.md``.
"""

from __future__ import annotations

from vmxspec.arch.rules import SECTION_ENTRY, SECTION_EXEC, SECTION_EXIT, Rule, Stage

_C = Stage.CONTROLS
_KVM = "KVM"
_BX = "Bochs"
_KUT = "kvm-unit-tests"


def _r(id: str, section: str, condition: str, fields: tuple[str, ...], caps: tuple[str, ...] = (),
       kvm: str = "", bochs: str = "", kut: str = "", divergence: str = "") -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut)) if where)
    return Rule(id, _C, section, condition, fields, caps, impls, divergence)


PIN, PROC, PROC2, PROC3 = ("PIN_BASED_VM_EXEC_CONTROL", "CPU_BASED_VM_EXEC_CONTROL",
                           "SECONDARY_VM_EXEC_CONTROL", "TERTIARY_VM_EXEC_CONTROL")
EXIT, EXIT2, ENTRY = "VM_EXIT_CONTROLS", "SECONDARY_VM_EXIT_CONTROLS", "VM_ENTRY_CONTROLS"
INFO, ERRCODE, ILEN = "VM_ENTRY_INTR_INFO_FIELD", "VM_ENTRY_EXCEPTION_ERROR_CODE", "VM_ENTRY_INSTRUCTION_LEN"

RULES: tuple[Rule, ...] = (
    _r("CTL-PIN-RSVD", SECTION_EXEC,
       "The pin-based VM-execution controls must respect the allowed 0-settings and allowed 1-settings "
       "of IA32_VMX_TRUE_PINBASED_CTLS if IA32_VMX_BASIC[55] = 1, else of IA32_VMX_PINBASED_CTLS.",
       (PIN,), ("IA32_VMX_BASIC", "IA32_VMX_PINBASED_CTLS", "IA32_VMX_TRUE_PINBASED_CTLS"),
       kvm="nested.c:nested_check_vm_execution_controls (vmx_control_verify)",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_pin_based_ctls"),
    _r("CTL-PROC-RSVD", SECTION_EXEC,
       "The primary processor-based VM-execution controls must respect the allowed settings of "
       "IA32_VMX_TRUE_PROCBASED_CTLS if IA32_VMX_BASIC[55] = 1, else of IA32_VMX_PROCBASED_CTLS.",
       (PROC,), ("IA32_VMX_BASIC", "IA32_VMX_PROCBASED_CTLS", "IA32_VMX_TRUE_PROCBASED_CTLS"),
       kvm="nested.c:nested_check_vm_execution_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_primary_processor_based_ctls"),
    _r("CTL-PROC2-RSVD", SECTION_EXEC,
       "If \"activate secondary controls\" is 1, the secondary processor-based VM-execution controls must "
       "respect the allowed settings of IA32_VMX_PROCBASED_CTLS2. If it is 0, the field is not checked and "
       "the processor behaves as if all secondary controls were 0.",
       (PROC, PROC2), ("IA32_VMX_PROCBASED_CTLS2",),
       kvm="nested.c:nested_check_vm_execution_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_secondary_processor_based_ctls"),
    _r("CTL-PROC3-RSVD", SECTION_EXEC,
       "If \"activate tertiary controls\" is 1, every tertiary processor-based VM-execution control that "
       "IA32_VMX_PROCBASED_CTLS3 does not allow to be 1 must be 0.",
       (PROC, PROC3), ("IA32_VMX_PROCBASED_CTLS3",), bochs="vmx.cc:VMenterLoadCheckVmControls",
       divergence="KVM never advertises tertiary controls to L1, so bit 17 fails CTL-PROC-RSVD there."),
    _r("CTL-CR3-COUNT", SECTION_EXEC,
       "The CR3-target count must not be greater than the number of CR3-target values the processor "
       "supports, IA32_VMX_MISC[24:16].",
       ("CR3_TARGET_COUNT",), ("IA32_VMX_MISC",),
       kvm="nested.c:nested_check_vm_execution_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_cr3_targets",
       divergence="Bochs compares against a hard-coded 4; KVM's nested IA32_VMX_MISC reports 0 targets, "
                  "so any non-zero count fails under KVM."),
    _r("CTL-IOBMP-ADDR", SECTION_EXEC,
       "If \"use I/O bitmaps\" is 1, the addresses of I/O bitmaps A and B must each be 4-KByte aligned and "
       "must not set any bit beyond the processor's physical-address width.",
       (PROC, "IO_BITMAP_A", "IO_BITMAP_B"), ("MAXPHYADDR",),
       kvm="nested.c:nested_vmx_check_io_bitmap_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_io_bitmaps"),
    _r("CTL-MSRBMP-ADDR", SECTION_EXEC,
       "If \"use MSR bitmaps\" is 1, the address of the MSR bitmaps must be 4-KByte aligned and must not "
       "set any bit beyond the processor's physical-address width.",
       (PROC, "MSR_BITMAP"), ("MAXPHYADDR",),
       kvm="nested.c:nested_vmx_check_msr_bitmap_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_msr_bitmap"),
    _r("CTL-VAPIC-ADDR", SECTION_EXEC,
       "If \"use TPR shadow\" is 1, the virtual-APIC address must be 4-KByte aligned and must not set any "
       "bit beyond the processor's physical-address width.",
       (PROC, "VIRTUAL_APIC_PAGE_ADDR"), ("MAXPHYADDR",),
       kvm="nested.c:nested_vmx_check_tpr_shadow_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_apic_virt_addr"),
    _r("CTL-TPR-THRESHOLD-RSVD", SECTION_EXEC,
       "If \"use TPR shadow\" is 1 and \"virtual-interrupt delivery\" is 0, bits 31:4 of the TPR threshold "
       "must be 0.",
       (PROC, PROC2, "TPR_THRESHOLD"), (),
       kvm="nested.c:nested_vmx_check_tpr_shadow_controls (since 2025)",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_tpr_threshold",
       divergence="Older KVM leaves this check to the hardware on vmcs02."),
    _r("CTL-TPR-VTPR", SECTION_EXEC,
       "If \"use TPR shadow\" is 1, \"virtual-interrupt delivery\" is 0 and \"virtualize APIC accesses\" "
       "is 0, bits 3:0 of the TPR threshold must not be greater than bits 7:4 of VTPR (byte 80H of the "
       "virtual-APIC page).",
       (PROC, PROC2, "TPR_THRESHOLD", "VIRTUAL_APIC_PAGE_ADDR"), (),
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:try_tpr_threshold_and_vtpr",
       divergence="KVM does not check this in software; the CPU enforces it on vmcs02."),
    _r("CTL-TPR-SHADOW-DEPS", SECTION_EXEC,
       "If \"use TPR shadow\" is 0, \"virtualize x2APIC mode\", \"APIC-register virtualization\" and "
       "\"virtual-interrupt delivery\" must all be 0.",
       (PROC, PROC2), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_apic_virtual_ctls"),
    _r("CTL-APIC-ACCESS-ADDR", SECTION_EXEC,
       "If \"virtualize APIC accesses\" is 1, the APIC-access address must be 4-KByte aligned and must not "
       "set any bit beyond the processor's physical-address width.",
       (PROC2, "APIC_ACCESS_ADDR"), ("MAXPHYADDR",),
       kvm="nested.c:nested_vmx_check_apic_access_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_apic_access_addr"),
    _r("CTL-X2APIC-APICACC", SECTION_EXEC,
       "If \"virtualize x2APIC mode\" is 1, \"virtualize APIC accesses\" must be 0.",
       (PROC2,), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_apic_virtual_ctls"),
    _r("CTL-VID-EXTINT", SECTION_EXEC,
       "If \"virtual-interrupt delivery\" is 1, \"external-interrupt exiting\" must be 1.",
       (PIN, PROC2), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_virtual_intr_ctls"),
    _r("CTL-PI-VID", SECTION_EXEC,
       "If \"process posted interrupts\" is 1, \"virtual-interrupt delivery\" must be 1.",
       (PIN, PROC2), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_posted_intr",
       divergence="Bochs checks this only when \"use TPR shadow\" is 1; with TPR shadow 0 it accepts "
                  "posted interrupts without virtual-interrupt delivery."),
    _r("CTL-PI-ACK", SECTION_EXEC,
       "If \"process posted interrupts\" is 1, the \"acknowledge interrupt on exit\" VM-exit control "
       "must be 1.",
       (PIN, EXIT), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_posted_intr"),
    _r("CTL-PI-NV", SECTION_EXEC,
       "If \"process posted interrupts\" is 1, bits 15:8 of the posted-interrupt notification vector "
       "must be 0.",
       (PIN, "POSTED_INTR_NV"), (), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_posted_intr"),
    _r("CTL-PI-DESC", SECTION_EXEC,
       "If \"process posted interrupts\" is 1, bits 5:0 of the posted-interrupt descriptor address must "
       "be 0 and the address must not set any bit beyond the processor's physical-address width.",
       (PIN, "POSTED_INTR_DESC_ADDR"), ("MAXPHYADDR",), kvm="nested.c:nested_vmx_check_apicv_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_pi_desc_addr"),
    _r("CTL-NMI-VNMI", SECTION_EXEC,
       "If \"NMI exiting\" is 0, \"virtual NMIs\" must be 0.",
       (PIN,), (), kvm="nested.c:nested_vmx_check_nmi_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_nmi_ctrls"),
    _r("CTL-VNMI-NMIWIN", SECTION_EXEC,
       "If \"virtual NMIs\" is 0, \"NMI-window exiting\" must be 0.",
       (PIN, PROC), (), kvm="nested.c:nested_vmx_check_nmi_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_nmi_ctrls"),
    _r("CTL-VPID-NONZERO", SECTION_EXEC,
       "If \"enable VPID\" is 1, the virtual-processor identifier must not be 0000H.",
       (PROC2, "VIRTUAL_PROCESSOR_ID"), (), kvm="nested.c:nested_check_vm_execution_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_vpid"),
    _r("CTL-EPTP-MT", SECTION_EXEC,
       "If \"enable EPT\" is 1, the EPT paging-structure memory type (EPTP bits 2:0) must be a value the "
       "processor supports: 0 (UC) if IA32_VMX_EPT_VPID_CAP[8] = 1, 6 (WB) if IA32_VMX_EPT_VPID_CAP[14] = 1.",
       (PROC2, "EPT_POINTER"), ("IA32_VMX_EPT_VPID_CAP",), kvm="nested.c:nested_vmx_check_eptp",
       bochs="vmx.cc:is_eptptr_valid", kut="vmx_tests.c:test_ept_eptp",
       divergence="Bochs accepts types 0 and 6 without reading IA32_VMX_EPT_VPID_CAP; KVM never "
                  "advertises UC to L1."),
    _r("CTL-EPTP-PWL", SECTION_EXEC,
       "If \"enable EPT\" is 1, EPTP bits 5:3 (page-walk length minus 1) must be 3 with "
       "IA32_VMX_EPT_VPID_CAP[6] = 1, or 4 with IA32_VMX_EPT_VPID_CAP[7] = 1.",
       (PROC2, "EPT_POINTER"), ("IA32_VMX_EPT_VPID_CAP",), kvm="nested.c:nested_vmx_check_eptp",
       bochs="vmx.cc:is_eptptr_valid", kut="vmx_tests.c:test_ept_eptp",
       divergence="Bochs accepts only a 4-level walk."),
    _r("CTL-EPTP-AD", SECTION_EXEC,
       "If \"enable EPT\" is 1, EPTP bit 6 (enable accessed and dirty flags) must be 0 unless "
       "IA32_VMX_EPT_VPID_CAP[21] = 1.",
       (PROC2, "EPT_POINTER"), ("IA32_VMX_EPT_VPID_CAP",), kvm="nested.c:nested_vmx_check_eptp",
       bochs="vmx.cc:is_eptptr_valid", kut="vmx_tests.c:test_eptp_ad_bit"),
    _r("CTL-EPTP-RSVD", SECTION_EXEC,
       "If \"enable EPT\" is 1, EPTP bits 11:8 must be 0, and bit 7 (supervisor shadow-stack control) must "
       "be 0 unless IA32_VMX_EPT_VPID_CAP[23] = 1.",
       (PROC2, "EPT_POINTER"), ("IA32_VMX_EPT_VPID_CAP",), kvm="nested.c:nested_vmx_check_eptp",
       bochs="vmx.cc:is_eptptr_valid", kut="vmx_tests.c:test_ept_eptp",
       divergence="KVM treats bits 11:7 as reserved (it does not expose the shadow-stack control)."),
    _r("CTL-EPTP-MAXPHY", SECTION_EXEC,
       "If \"enable EPT\" is 1, EPTP bits 63:N must be 0, where N is the processor's physical-address "
       "width.",
       (PROC2, "EPT_POINTER"), ("MAXPHYADDR",), kvm="nested.c:nested_vmx_check_eptp",
       bochs="vmx.cc:is_eptptr_valid", kut="vmx_tests.c:test_ept_eptp"),
    _r("CTL-URG-EPT", SECTION_EXEC,
       "If \"unrestricted guest\" is 1, \"enable EPT\" must be 1.",
       (PROC2,), (), kvm="nested.c:nested_vmx_check_unrestricted_guest_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_ept_eptp"),
    _r("CTL-MBEC-EPT", SECTION_EXEC,
       "If \"mode-based execute control for EPT\" is 1, \"enable EPT\" must be 1.",
       (PROC2,), (), kvm="nested.c:nested_vmx_check_mode_based_ept_exec_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_mode_based_execute_control"),
    _r("CTL-PML-EPT", SECTION_EXEC,
       "If \"enable PML\" is 1, \"enable EPT\" must be 1.",
       (PROC2,), (), kvm="nested.c:nested_vmx_check_pml_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_pml"),
    _r("CTL-PML-ADDR", SECTION_EXEC,
       "If \"enable PML\" is 1, the PML address must be 4-KByte aligned and must not set any bit beyond "
       "the processor's physical-address width.",
       (PROC2, "PML_ADDRESS"), ("MAXPHYADDR",), kvm="nested.c:nested_vmx_check_pml_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_pml"),
    _r("CTL-VMFUNC-RSVD", SECTION_EXEC,
       "If \"enable VM functions\" is 1, every bit of the VM-function controls that IA32_VMX_VMFUNC does "
       "not allow must be 0.",
       (PROC2, "VM_FUNCTION_CONTROL"), ("IA32_VMX_VMFUNC",),
       kvm="nested.c:nested_check_vm_execution_controls", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-VMFUNC-EPT", SECTION_EXEC,
       "If \"enable VM functions\" is 1 and \"EPTP switching\" (VM-function control 0) is 1, \"enable "
       "EPT\" must be 1.",
       (PROC2, "VM_FUNCTION_CONTROL"), (), kvm="nested.c:nested_check_vm_execution_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-VMFUNC-LIST-ADDR", SECTION_EXEC,
       "If \"enable VM functions\" is 1 and \"EPTP switching\" is 1, the EPTP-list address must be 4-KByte "
       "aligned and must not set any bit beyond the processor's physical-address width.",
       (PROC2, "VM_FUNCTION_CONTROL", "EPTP_LIST_ADDRESS"), ("MAXPHYADDR",),
       kvm="nested.c:nested_check_vm_execution_controls", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-SHADOW-BMP-ADDR", SECTION_EXEC,
       "If \"VMCS shadowing\" is 1, the VMREAD-bitmap and VMWRITE-bitmap addresses must each be 4-KByte "
       "aligned and must not set any bit beyond the processor's physical-address width.",
       (PROC2, "VMREAD_BITMAP", "VMWRITE_BITMAP"), ("MAXPHYADDR",),
       kvm="nested.c:nested_vmx_check_shadow_vmcs_controls", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-VE-ADDR", SECTION_EXEC,
       "If \"EPT-violation #VE\" is 1, the virtualization-exception information address must be 4-KByte "
       "aligned and must not set any bit beyond the processor's physical-address width.",
       (PROC2, "VE_INFORMATION_ADDRESS"), ("MAXPHYADDR",), bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-TSC-MULT", SECTION_EXEC,
       "If \"use TSC scaling\" is 1, the TSC multiplier must not be 0.",
       (PROC2, "TSC_MULTIPLIER"), (), kvm="nested.c:nested_check_vm_execution_controls (since 2025)",
       bochs="vmx.cc:VMenterLoadCheckVmControls",
       divergence="Older KVM did not check this in software."),
    _r("CTL-SPP", SECTION_EXEC,
       "If \"sub-page write permissions for EPT\" is 1, \"enable EPT\" must be 1 and the SPP-table pointer "
       "must be 4-KByte aligned and must not set any bit beyond the processor's physical-address width.",
       (PROC2, "SPPT_POINTER"), ("MAXPHYADDR",), bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-PT-GPA", SECTION_EXEC,
       "If \"Intel PT uses guest physical addresses\" is 1, \"enable EPT\" must be 1, the \"load "
       "IA32_RTIT_CTL\" VM-entry control must be 1 and the \"clear IA32_RTIT_CTL\" VM-exit control must "
       "be 1.",
       (PROC2, EXIT, ENTRY), (),
       divergence="Not checked by KVM (feature not exposed to L1); Bochs marks the control unimplemented."),
    _r("CTL-EXIT-RSVD", SECTION_EXIT,
       "The primary VM-exit controls must respect the allowed settings of IA32_VMX_TRUE_EXIT_CTLS if "
       "IA32_VMX_BASIC[55] = 1, else of IA32_VMX_EXIT_CTLS.",
       (EXIT,), ("IA32_VMX_BASIC", "IA32_VMX_EXIT_CTLS", "IA32_VMX_TRUE_EXIT_CTLS"),
       kvm="nested.c:nested_check_vm_exit_controls", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-EXIT2-RSVD", SECTION_EXIT,
       "If \"activate secondary controls\" (VM-exit control 31) is 1, every secondary VM-exit control that "
       "IA32_VMX_EXIT_CTLS2 does not allow to be 1 must be 0.",
       (EXIT, EXIT2), ("IA32_VMX_EXIT_CTLS2",), bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-EXIT-PREEMPT-SAVE", SECTION_EXIT,
       "If \"activate VMX-preemption timer\" is 0, \"save VMX-preemption timer value\" must be 0.",
       (PIN, EXIT), (), kvm="nested.c:nested_check_vm_execution_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_vmx_preemption_timer"),
    _r("CTL-EXIT-MSR-STORE", SECTION_EXIT,
       "If the VM-exit MSR-store count is not 0, the VM-exit MSR-store address must be 16-byte aligned, "
       "must not set any bit beyond the physical-address width, and the address of its last byte "
       "(address + 16 * count - 1) must not either; with IA32_VMX_BASIC[48] = 1 both must fit in 32 bits.",
       ("VM_EXIT_MSR_STORE_COUNT", "VM_EXIT_MSR_STORE_ADDR"), ("MAXPHYADDR", "IA32_VMX_BASIC"),
       kvm="nested.c:nested_vmx_check_msr_switch", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_exit_msr_store"),
    _r("CTL-EXIT-MSR-LOAD", SECTION_EXIT,
       "If the VM-exit MSR-load count is not 0, the VM-exit MSR-load address must be 16-byte aligned, "
       "must not set any bit beyond the physical-address width, and the address of its last byte "
       "(address + 16 * count - 1) must not either; with IA32_VMX_BASIC[48] = 1 both must fit in 32 bits.",
       ("VM_EXIT_MSR_LOAD_COUNT", "VM_EXIT_MSR_LOAD_ADDR"), ("MAXPHYADDR", "IA32_VMX_BASIC"),
       kvm="nested.c:nested_vmx_check_msr_switch", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-ENTRY-RSVD", SECTION_ENTRY,
       "The VM-entry controls must respect the allowed settings of IA32_VMX_TRUE_ENTRY_CTLS if "
       "IA32_VMX_BASIC[55] = 1, else of IA32_VMX_ENTRY_CTLS.",
       (ENTRY,), ("IA32_VMX_BASIC", "IA32_VMX_ENTRY_CTLS", "IA32_VMX_TRUE_ENTRY_CTLS"),
       kvm="nested.c:nested_check_vm_entry_controls", bochs="vmx.cc:VMenterLoadCheckVmControls"),
    _r("CTL-ENTRY-SMM", SECTION_ENTRY,
       "Outside SMM, \"entry to SMM\" and \"deactivate dual-monitor treatment\" must be 0; the two must "
       "never both be 1.",
       (ENTRY,), (), bochs="vmx.cc:VMenterLoadCheckVmControls",
       divergence="Bochs checks only \"deactivate dual-monitor treatment\"; KVM relies on never advertising "
                  "either bit."),
    _r("CTL-ENTRY-MSR-LOAD", SECTION_ENTRY,
       "If the VM-entry MSR-load count is not 0, the VM-entry MSR-load address must be 16-byte aligned, "
       "must not set any bit beyond the physical-address width, and the address of its last byte "
       "(address + 16 * count - 1) must not either; with IA32_VMX_BASIC[48] = 1 both must fit in 32 bits.",
       ("VM_ENTRY_MSR_LOAD_COUNT", "VM_ENTRY_MSR_LOAD_ADDR"), ("MAXPHYADDR", "IA32_VMX_BASIC"),
       kvm="nested.c:nested_vmx_check_entry_msr_switch_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_entry_msr_load"),
    _r("CTL-EVINJ-TYPE", SECTION_ENTRY,
       "If the VM-entry interruption-information field is valid, the interruption type must not be 1 "
       "(reserved), and may be 7 (other event) only if the processor supports the 1-setting of the "
       "\"monitor trap flag\" control.",
       (INFO,), ("IA32_VMX_PROCBASED_CTLS", "IA32_VMX_TRUE_PROCBASED_CTLS"),
       kvm="nested.c:nested_check_vm_entry_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_invalid_event_injection"),
    _r("CTL-EVINJ-VEC", SECTION_ENTRY,
       "If the interruption-information field is valid: for an NMI the vector must be 2; for a hardware "
       "exception the vector must be at most 31; for other event the vector must be 0.",
       (INFO,), (), kvm="nested.c:nested_check_vm_entry_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_invalid_event_injection"),
    _r("CTL-EVINJ-ERRCODE", SECTION_ENTRY,
       "If the interruption-information field is valid and IA32_VMX_BASIC[56] = 0, \"deliver error code\" "
       "must be 1 exactly when the type is hardware exception, the vector is one that pushes an error code "
       "(8, 10-14, 17), and either \"unrestricted guest\" is 0 or guest CR0.PE is 1. With "
       "IA32_VMX_BASIC[56] = 1 it must be 0 for every type other than hardware exception.",
       (INFO, PROC2, "GUEST_CR0"), ("IA32_VMX_BASIC",),
       kvm="nested.c:nested_check_vm_entry_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_invalid_event_injection",
       divergence="Older KVM always applies the IA32_VMX_BASIC[56] = 0 rule; Bochs skips the whole check "
                  "on CET-capable models."),
    _r("CTL-EVINJ-ERRCODE-RSVD", SECTION_ENTRY,
       "If the interruption-information field is valid and \"deliver error code\" is 1, bits 31:16 of the "
       "VM-entry exception error code must be 0.",
       (INFO, ERRCODE), (), kvm="nested.c:nested_check_vm_entry_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_invalid_event_injection"),
    _r("CTL-EVINJ-RSVD", SECTION_ENTRY,
       "If the interruption-information field is valid, its bits 30:12 must be 0.",
       (INFO,), (), kvm="nested.c:nested_check_vm_entry_controls", bochs="vmx.cc:VMenterLoadCheckVmControls",
       kut="vmx_tests.c:test_invalid_event_injection"),
    _r("CTL-EVINJ-ILEN", SECTION_ENTRY,
       "If the interruption-information field is valid and the type is software interrupt, privileged "
       "software exception or software exception, the VM-entry instruction length must be in the range "
       "0-15, and 0 only if IA32_VMX_MISC[30] = 1.",
       (INFO, ILEN), ("IA32_VMX_MISC",), kvm="nested.c:nested_check_vm_entry_controls",
       bochs="vmx.cc:VMenterLoadCheckVmControls", kut="vmx_tests.c:test_invalid_event_injection",
       divergence="KVM's nested IA32_VMX_MISC does not set bit 30, so length 0 always fails under KVM."),
)
