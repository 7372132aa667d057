"""The VMX control fields and every named bit in them (SDM "VM-Execution Control Fields",
"VM-Exit Control Fields", "VM-Entry Control Fields").

Each bit has a spec-language name (the SDM's title in snake case), the Linux ``vmx.h`` macro
where Linux has one, and the SDM title for messages. The capability MSRs that bound each field
are named here too, because which MSR bounds which field is itself an SDM fact.

Where the facts come from (positions and names only):

* Linux ``arch/x86/include/asm/vmx.h`` and ``vmxfeatures.h`` (mainline; ``VMCS_CONTROL_BIT(x)`` is
  bit ``VMX_FEATURE_x & 0x1f``) for every ``linux`` name, plus the KVM CET series
  (``VM_EXIT_LOAD_CET_STATE`` bit 28, ``VM_ENTRY_LOAD_CET_STATE`` bit 20) and the KVM FRED series
  (``VM_EXIT_ACTIVATE_SECONDARY_CONTROLS`` bit 31, ``SECONDARY_VM_EXIT_{SAVE,LOAD}_IA32_FRED``
  bits 0/1, ``VM_ENTRY_LOAD_IA32_FRED`` bit 23). The ``*_ALWAYSON_WITHOUT_TRUE_MSR`` constants
  there are the ``DEFAULT1`` masks below.
* Bochs ``bochs/cpu/vmx_ctrls.h`` at 783b58fd for every position, including the ones Linux does
  not name: tertiary bits 0-3, 6-8, VM-exit bits 26, 27, 29, 30, secondary VM-exit bits 2 and 3,
  VM-entry bits 19, 21, 22 and 24.
* Xen ``xen/arch/x86/include/asm/hvm/vmx/vmcs.h`` (tertiary bits 0-4 and 7) and ``ia32-doc``
  (SDM-derived MSR tables: secondary bit 21 "PASID translation", tertiary bit 6, secondary
  VM-exit bit 3) as independent cross-checks.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class ControlField(Enum):
    """A VMX control field, with its VMCS field and the capability MSRs that bound it."""

    PIN = "pin"
    PROC = "proc"
    PROC2 = "proc2"
    PROC3 = "proc3"
    EXIT = "exit"
    EXIT2 = "exit2"
    ENTRY = "entry"

    @property
    def vmcs_field(self) -> str:
        return _FIELD_INFO[self][0]

    @property
    def title(self) -> str:
        return _FIELD_INFO[self][1]

    @property
    def capability_msr(self) -> str:
        """The non-TRUE capability MSR (the only one for fields without a TRUE variant)."""
        return _FIELD_INFO[self][2]

    @property
    def true_capability_msr(self) -> str | None:
        """The TRUE capability MSR used instead when IA32_VMX_BASIC[55] = 1."""
        return _FIELD_INFO[self][3]

    @property
    def width(self) -> int:
        return 64 if self in (ControlField.PROC3, ControlField.EXIT2) else 32

    @property
    def default1(self) -> int:
        """Bits reported as "default1" (SDM Appendix A): always 1 in the non-TRUE MSR's allowed-0."""
        return DEFAULT1[self]


_FIELD_INFO: dict[ControlField, tuple[str, str, str, str | None]] = {
    ControlField.PIN: (
        "PIN_BASED_VM_EXEC_CONTROL", "pin-based VM-execution controls",
        "IA32_VMX_PINBASED_CTLS", "IA32_VMX_TRUE_PINBASED_CTLS",
    ),
    ControlField.PROC: (
        "CPU_BASED_VM_EXEC_CONTROL", "primary processor-based VM-execution controls",
        "IA32_VMX_PROCBASED_CTLS", "IA32_VMX_TRUE_PROCBASED_CTLS",
    ),
    ControlField.PROC2: (
        "SECONDARY_VM_EXEC_CONTROL", "secondary processor-based VM-execution controls",
        "IA32_VMX_PROCBASED_CTLS2", None,
    ),
    ControlField.PROC3: (
        "TERTIARY_VM_EXEC_CONTROL", "tertiary processor-based VM-execution controls",
        "IA32_VMX_PROCBASED_CTLS3", None,
    ),
    ControlField.EXIT: (
        "VM_EXIT_CONTROLS", "primary VM-exit controls", "IA32_VMX_EXIT_CTLS", "IA32_VMX_TRUE_EXIT_CTLS",
    ),
    ControlField.EXIT2: (
        "SECONDARY_VM_EXIT_CONTROLS", "secondary VM-exit controls", "IA32_VMX_EXIT_CTLS2", None,
    ),
    ControlField.ENTRY: (
        "VM_ENTRY_CONTROLS", "VM-entry controls", "IA32_VMX_ENTRY_CTLS", "IA32_VMX_TRUE_ENTRY_CTLS",
    ),
}

#: SDM Appendix A.2-A.5: the "default1" class of each control field. The non-TRUE capability MSR
#: reports these as fixed to 1; the TRUE MSR may allow some of them to be 0.
DEFAULT1: dict[ControlField, int] = {
    ControlField.PIN: 0x0000_0016,
    ControlField.PROC: 0x0401_E172,
    ControlField.PROC2: 0,
    ControlField.PROC3: 0,
    ControlField.EXIT: 0x0003_6DFF,
    ControlField.EXIT2: 0,
    ControlField.ENTRY: 0x0000_11FF,
}


@dataclass(frozen=True, slots=True)
class ControlBit:
    field: ControlField
    bit: int
    name: str
    title: str
    linux: str | None = None

    @property
    def mask(self) -> int:
        return 1 << self.bit


def _bits(field: ControlField, rows: tuple[tuple[int, str, str, str | None], ...]) -> tuple[ControlBit, ...]:
    return tuple(ControlBit(field, bit, name, title, linux) for bit, name, title, linux in rows)


PIN, PROC, PROC2, PROC3 = ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.PROC3
EXIT, EXIT2, ENTRY = ControlField.EXIT, ControlField.EXIT2, ControlField.ENTRY

CONTROL_BITS: tuple[ControlBit, ...] = (
    *_bits(PIN, (
        (0, "external_interrupt_exiting", "External-interrupt exiting", "PIN_BASED_EXT_INTR_MASK"),
        (3, "nmi_exiting", "NMI exiting", "PIN_BASED_NMI_EXITING"),
        (5, "virtual_nmis", "Virtual NMIs", "PIN_BASED_VIRTUAL_NMIS"),
        (6, "activate_vmx_preemption_timer", "Activate VMX-preemption timer",
         "PIN_BASED_VMX_PREEMPTION_TIMER"),
        (7, "process_posted_interrupts", "Process posted interrupts", "PIN_BASED_POSTED_INTR"),
    )),
    *_bits(PROC, (
        (2, "interrupt_window_exiting", "Interrupt-window exiting", "CPU_BASED_INTR_WINDOW_EXITING"),
        (3, "use_tsc_offsetting", "Use TSC offsetting", "CPU_BASED_USE_TSC_OFFSETTING"),
        (7, "hlt_exiting", "HLT exiting", "CPU_BASED_HLT_EXITING"),
        (9, "invlpg_exiting", "INVLPG exiting", "CPU_BASED_INVLPG_EXITING"),
        (10, "mwait_exiting", "MWAIT exiting", "CPU_BASED_MWAIT_EXITING"),
        (11, "rdpmc_exiting", "RDPMC exiting", "CPU_BASED_RDPMC_EXITING"),
        (12, "rdtsc_exiting", "RDTSC exiting", "CPU_BASED_RDTSC_EXITING"),
        (15, "cr3_load_exiting", "CR3-load exiting", "CPU_BASED_CR3_LOAD_EXITING"),
        (16, "cr3_store_exiting", "CR3-store exiting", "CPU_BASED_CR3_STORE_EXITING"),
        (17, "activate_tertiary_controls", "Activate tertiary controls",
         "CPU_BASED_ACTIVATE_TERTIARY_CONTROLS"),
        (19, "cr8_load_exiting", "CR8-load exiting", "CPU_BASED_CR8_LOAD_EXITING"),
        (20, "cr8_store_exiting", "CR8-store exiting", "CPU_BASED_CR8_STORE_EXITING"),
        (21, "use_tpr_shadow", "Use TPR shadow", "CPU_BASED_TPR_SHADOW"),
        (22, "nmi_window_exiting", "NMI-window exiting", "CPU_BASED_NMI_WINDOW_EXITING"),
        (23, "mov_dr_exiting", "MOV-DR exiting", "CPU_BASED_MOV_DR_EXITING"),
        (24, "unconditional_io_exiting", "Unconditional I/O exiting", "CPU_BASED_UNCOND_IO_EXITING"),
        (25, "use_io_bitmaps", "Use I/O bitmaps", "CPU_BASED_USE_IO_BITMAPS"),
        (27, "monitor_trap_flag", "Monitor trap flag", "CPU_BASED_MONITOR_TRAP_FLAG"),
        (28, "use_msr_bitmaps", "Use MSR bitmaps", "CPU_BASED_USE_MSR_BITMAPS"),
        (29, "monitor_exiting", "MONITOR exiting", "CPU_BASED_MONITOR_EXITING"),
        (30, "pause_exiting", "PAUSE exiting", "CPU_BASED_PAUSE_EXITING"),
        (31, "activate_secondary_controls", "Activate secondary controls",
         "CPU_BASED_ACTIVATE_SECONDARY_CONTROLS"),
    )),
    *_bits(PROC2, (
        (0, "virtualize_apic_accesses", "Virtualize APIC accesses",
         "SECONDARY_EXEC_VIRTUALIZE_APIC_ACCESSES"),
        (1, "enable_ept", "Enable EPT", "SECONDARY_EXEC_ENABLE_EPT"),
        (2, "descriptor_table_exiting", "Descriptor-table exiting", "SECONDARY_EXEC_DESC"),
        (3, "enable_rdtscp", "Enable RDTSCP", "SECONDARY_EXEC_ENABLE_RDTSCP"),
        (4, "virtualize_x2apic_mode", "Virtualize x2APIC mode", "SECONDARY_EXEC_VIRTUALIZE_X2APIC_MODE"),
        (5, "enable_vpid", "Enable VPID", "SECONDARY_EXEC_ENABLE_VPID"),
        (6, "wbinvd_exiting", "WBINVD exiting", "SECONDARY_EXEC_WBINVD_EXITING"),
        (7, "unrestricted_guest", "Unrestricted guest", "SECONDARY_EXEC_UNRESTRICTED_GUEST"),
        (8, "apic_register_virtualization", "APIC-register virtualization",
         "SECONDARY_EXEC_APIC_REGISTER_VIRT"),
        (9, "virtual_interrupt_delivery", "Virtual-interrupt delivery",
         "SECONDARY_EXEC_VIRTUAL_INTR_DELIVERY"),
        (10, "pause_loop_exiting", "PAUSE-loop exiting", "SECONDARY_EXEC_PAUSE_LOOP_EXITING"),
        (11, "rdrand_exiting", "RDRAND exiting", "SECONDARY_EXEC_RDRAND_EXITING"),
        (12, "enable_invpcid", "Enable INVPCID", "SECONDARY_EXEC_ENABLE_INVPCID"),
        (13, "enable_vm_functions", "Enable VM functions", "SECONDARY_EXEC_ENABLE_VMFUNC"),
        (14, "vmcs_shadowing", "VMCS shadowing", "SECONDARY_EXEC_SHADOW_VMCS"),
        (15, "enable_encls_exiting", "Enable ENCLS exiting", "SECONDARY_EXEC_ENCLS_EXITING"),
        (16, "rdseed_exiting", "RDSEED exiting", "SECONDARY_EXEC_RDSEED_EXITING"),
        (17, "enable_pml", "Enable PML", "SECONDARY_EXEC_ENABLE_PML"),
        (18, "ept_violation_ve", "EPT-violation #VE", "SECONDARY_EXEC_EPT_VIOLATION_VE"),
        (19, "conceal_vmx_from_pt", "Conceal VMX from PT", "SECONDARY_EXEC_PT_CONCEAL_VMX"),
        (20, "enable_xsaves_xrstors", "Enable XSAVES/XRSTORS", "SECONDARY_EXEC_ENABLE_XSAVES"),
        (21, "pasid_translation", "PASID translation", None),
        (22, "mode_based_execute_control", "Mode-based execute control for EPT",
         "SECONDARY_EXEC_MODE_BASED_EPT_EXEC"),
        (23, "sub_page_write_permissions", "Sub-page write permissions for EPT", None),
        (24, "pt_uses_guest_physical_addresses", "Intel PT uses guest physical addresses",
         "SECONDARY_EXEC_PT_USE_GPA"),
        (25, "use_tsc_scaling", "Use TSC scaling", "SECONDARY_EXEC_TSC_SCALING"),
        (26, "enable_user_wait_and_pause", "Enable user wait and pause",
         "SECONDARY_EXEC_ENABLE_USR_WAIT_PAUSE"),
        (27, "enable_pconfig", "Enable PCONFIG", None),
        (28, "enable_enclv_exiting", "Enable ENCLV exiting", None),
        (30, "vmm_bus_lock_detection", "VMM bus-lock detection", "SECONDARY_EXEC_BUS_LOCK_DETECTION"),
        (31, "instruction_timeout", "Instruction timeout", "SECONDARY_EXEC_NOTIFY_VM_EXITING"),
    )),
    *_bits(PROC3, (
        (0, "loadiwkey_exiting", "LOADIWKEY exiting", None),
        (1, "enable_hlat", "Enable HLAT", None),
        (2, "ept_paging_write_control", "EPT paging-write control", None),
        (3, "guest_paging_verification", "Guest-paging verification", None),
        (4, "ipi_virtualization", "IPI virtualization", "TERTIARY_EXEC_IPI_VIRT"),
        (6, "enable_msr_list_instructions", "Enable MSR-list instructions", None),
        (7, "virtualize_ia32_spec_ctrl", "Virtualize IA32_SPEC_CTRL", None),
        (8, "apic_timer_virtualization", "APIC-timer virtualization", None),
    )),
    *_bits(EXIT, (
        (2, "save_debug_controls", "Save debug controls", "VM_EXIT_SAVE_DEBUG_CONTROLS"),
        (9, "host_address_space_size", "Host address-space size", "VM_EXIT_HOST_ADDR_SPACE_SIZE"),
        (12, "load_ia32_perf_global_ctrl", "Load IA32_PERF_GLOBAL_CTRL",
         "VM_EXIT_LOAD_IA32_PERF_GLOBAL_CTRL"),
        (15, "acknowledge_interrupt_on_exit", "Acknowledge interrupt on exit", "VM_EXIT_ACK_INTR_ON_EXIT"),
        (18, "save_ia32_pat", "Save IA32_PAT", "VM_EXIT_SAVE_IA32_PAT"),
        (19, "load_ia32_pat", "Load IA32_PAT", "VM_EXIT_LOAD_IA32_PAT"),
        (20, "save_ia32_efer", "Save IA32_EFER", "VM_EXIT_SAVE_IA32_EFER"),
        (21, "load_ia32_efer", "Load IA32_EFER", "VM_EXIT_LOAD_IA32_EFER"),
        (22, "save_vmx_preemption_timer_value", "Save VMX-preemption timer value",
         "VM_EXIT_SAVE_VMX_PREEMPTION_TIMER"),
        (23, "clear_ia32_bndcfgs", "Clear IA32_BNDCFGS", "VM_EXIT_CLEAR_BNDCFGS"),
        (24, "conceal_vmx_from_pt", "Conceal VMX from PT", "VM_EXIT_PT_CONCEAL_PIP"),
        (25, "clear_ia32_rtit_ctl", "Clear IA32_RTIT_CTL", "VM_EXIT_CLEAR_IA32_RTIT_CTL"),
        (26, "clear_ia32_lbr_ctl", "Clear IA32_LBR_CTL", None),
        (27, "clear_uinv", "Clear UINV", None),
        (28, "load_cet_state", "Load CET state", "VM_EXIT_LOAD_CET_STATE"),
        (29, "load_pkrs", "Load PKRS", None),
        (30, "save_ia32_perf_global_ctl", "Save IA32_PERF_GLOBAL_CTL", None),
        (31, "activate_secondary_controls", "Activate secondary controls",
         "VM_EXIT_ACTIVATE_SECONDARY_CONTROLS"),
    )),
    *_bits(EXIT2, (
        (0, "save_ia32_fred", "Save IA32_FRED", "SECONDARY_VM_EXIT_SAVE_IA32_FRED"),
        (1, "load_ia32_fred", "Load IA32_FRED", "SECONDARY_VM_EXIT_LOAD_IA32_FRED"),
        (2, "load_ia32_spec_ctrl", "Load IA32_SPEC_CTRL", None),
        (3, "prematurely_busy_shadow_stack", "Prematurely busy shadow stack", None),
    )),
    *_bits(ENTRY, (
        (2, "load_debug_controls", "Load debug controls", "VM_ENTRY_LOAD_DEBUG_CONTROLS"),
        (9, "ia32e_mode_guest", "IA-32e mode guest", "VM_ENTRY_IA32E_MODE"),
        (10, "entry_to_smm", "Entry to SMM", "VM_ENTRY_SMM"),
        (11, "deactivate_dual_monitor_treatment", "Deactivate dual-monitor treatment",
         "VM_ENTRY_DEACT_DUAL_MONITOR"),
        (13, "load_ia32_perf_global_ctrl", "Load IA32_PERF_GLOBAL_CTRL",
         "VM_ENTRY_LOAD_IA32_PERF_GLOBAL_CTRL"),
        (14, "load_ia32_pat", "Load IA32_PAT", "VM_ENTRY_LOAD_IA32_PAT"),
        (15, "load_ia32_efer", "Load IA32_EFER", "VM_ENTRY_LOAD_IA32_EFER"),
        (16, "load_ia32_bndcfgs", "Load IA32_BNDCFGS", "VM_ENTRY_LOAD_BNDCFGS"),
        (17, "conceal_vmx_from_pt", "Conceal VMX from PT", "VM_ENTRY_PT_CONCEAL_PIP"),
        (18, "load_ia32_rtit_ctl", "Load IA32_RTIT_CTL", "VM_ENTRY_LOAD_IA32_RTIT_CTL"),
        (19, "load_uinv", "Load UINV", None),
        (20, "load_cet_state", "Load CET state", "VM_ENTRY_LOAD_CET_STATE"),
        (21, "load_guest_ia32_lbr_ctl", "Load guest IA32_LBR_CTL", None),
        (22, "load_pkrs", "Load PKRS", None),
        (23, "load_ia32_fred", "Load IA32_FRED", "VM_ENTRY_LOAD_IA32_FRED"),
        (24, "load_ia32_spec_ctrl", "Load IA32_SPEC_CTRL", None),
    )),
)

BITS_BY_FIELD: dict[ControlField, dict[str, ControlBit]] = {f: {} for f in ControlField}
for _b in CONTROL_BITS:
    BITS_BY_FIELD[_b.field][_b.name] = _b

BY_LINUX_NAME: dict[str, ControlBit] = {b.linux: b for b in CONTROL_BITS if b.linux}


def control_mask(field: ControlField, *names: str) -> int:
    """The mask of the named bits of ``field``; a wrong name is a bug and fails at import time."""
    out = 0
    for name in names:
        out |= BITS_BY_FIELD[field][name].mask
    return out


def bit_name(field: ControlField, bit: int) -> str:
    """The bit's name, or ``bit N`` for a bit the SDM leaves reserved or vmxspec does not name."""
    for b in BITS_BY_FIELD[field].values():
        if b.bit == bit:
            return b.name
    if DEFAULT1[field] >> bit & 1:
        return f"bit {bit} (reserved, default1)"
    return f"bit {bit} (reserved)"
