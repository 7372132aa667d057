"""The VMX capability MSRs (SDM Appendix A) and their layouts.

A capability MSR that the state leaves out means "not supported" exactly where the SDM says the
MSR only exists when some other capability bit is set; otherwise a check that needs it reports
it as missing. ``exists_if`` carries that SDM fact.

Where the facts come from: MSR numbers 0x480-0x490 from kvm-unit-tests ``lib/x86/msr.h`` and Linux
``msr-index.h``; 0x491 (VMFUNC) and 0x492 (PROCBASED_CTLS3) from Linux ``msr-index.h``; 0x493
(EXIT_CTLS2) from the KVM FRED series' ``msr-index.h`` hunk and Bochs ``vmx.h``. The existence
conditions are the SDM Appendix A wording (quoted for EPT_VPID_CAP and VMFUNC by the SDM mirror
at xem.github.io, A.10/A.11). The BASIC, MISC and EPT_VPID_CAP layouts agree between the SDM,
Linux ``vmx.h`` (``VMX_BASIC_*``, ``VMX_MISC_*``, ``VMX_EPT_*``/``VMX_VPID_*``), Bochs ``vmx.h`` /
``vmcs.cc`` (BASIC bit 58, EPT_VPID_CAP bits 23 and 53:48) and ``ia32-doc``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmxspec.arch.bitfields import BitField, Layout


@dataclass(frozen=True, slots=True)
class ExistsIf:
    """The MSR exists iff bit ``bit`` of capability MSR ``msr`` is 1 (any of several, OR-ed)."""

    msr: str
    bit: int


@dataclass(frozen=True, slots=True)
class CapabilityMsr:
    name: str
    number: int
    title: str
    exists_if: tuple[ExistsIf, ...] = ()


CAPABILITY_MSRS: tuple[CapabilityMsr, ...] = (
    CapabilityMsr("IA32_VMX_BASIC", 0x480, "Basic VMX information"),
    CapabilityMsr("IA32_VMX_PINBASED_CTLS", 0x481, "Allowed settings of the pin-based controls"),
    CapabilityMsr("IA32_VMX_PROCBASED_CTLS", 0x482, "Allowed settings of the primary processor-based controls"),
    CapabilityMsr("IA32_VMX_EXIT_CTLS", 0x483, "Allowed settings of the primary VM-exit controls"),
    CapabilityMsr("IA32_VMX_ENTRY_CTLS", 0x484, "Allowed settings of the VM-entry controls"),
    CapabilityMsr("IA32_VMX_MISC", 0x485, "Miscellaneous VMX data"),
    CapabilityMsr("IA32_VMX_CR0_FIXED0", 0x486, "CR0 bits fixed to 1 in VMX operation"),
    CapabilityMsr("IA32_VMX_CR0_FIXED1", 0x487, "CR0 bits allowed to be 1 in VMX operation"),
    CapabilityMsr("IA32_VMX_CR4_FIXED0", 0x488, "CR4 bits fixed to 1 in VMX operation"),
    CapabilityMsr("IA32_VMX_CR4_FIXED1", 0x489, "CR4 bits allowed to be 1 in VMX operation"),
    CapabilityMsr("IA32_VMX_VMCS_ENUM", 0x48A, "Highest VMCS field index"),
    CapabilityMsr(
        "IA32_VMX_PROCBASED_CTLS2", 0x48B, "Allowed settings of the secondary processor-based controls",
        (ExistsIf("IA32_VMX_PROCBASED_CTLS", 63),),
    ),
    CapabilityMsr(
        "IA32_VMX_EPT_VPID_CAP", 0x48C, "EPT and VPID capabilities",
        (ExistsIf("IA32_VMX_PROCBASED_CTLS2", 33), ExistsIf("IA32_VMX_PROCBASED_CTLS2", 37)),
    ),
    CapabilityMsr(
        "IA32_VMX_TRUE_PINBASED_CTLS", 0x48D, "TRUE allowed settings of the pin-based controls",
        (ExistsIf("IA32_VMX_BASIC", 55),),
    ),
    CapabilityMsr(
        "IA32_VMX_TRUE_PROCBASED_CTLS", 0x48E,
        "TRUE allowed settings of the primary processor-based controls", (ExistsIf("IA32_VMX_BASIC", 55),),
    ),
    CapabilityMsr(
        "IA32_VMX_TRUE_EXIT_CTLS", 0x48F, "TRUE allowed settings of the VM-exit controls",
        (ExistsIf("IA32_VMX_BASIC", 55),),
    ),
    CapabilityMsr(
        "IA32_VMX_TRUE_ENTRY_CTLS", 0x490, "TRUE allowed settings of the VM-entry controls",
        (ExistsIf("IA32_VMX_BASIC", 55),),
    ),
    CapabilityMsr(
        "IA32_VMX_VMFUNC", 0x491, "Allowed VM functions", (ExistsIf("IA32_VMX_PROCBASED_CTLS2", 45),),
    ),
    CapabilityMsr(
        "IA32_VMX_PROCBASED_CTLS3", 0x492, "Allowed 1-settings of the tertiary processor-based controls",
        (ExistsIf("IA32_VMX_PROCBASED_CTLS", 49),),
    ),
    CapabilityMsr(
        "IA32_VMX_EXIT_CTLS2", 0x493, "Allowed 1-settings of the secondary VM-exit controls",
        (ExistsIf("IA32_VMX_EXIT_CTLS", 63),),
    ),
)

BY_NAME: dict[str, CapabilityMsr] = {m.name: m for m in CAPABILITY_MSRS}
BY_NUMBER: dict[int, CapabilityMsr] = {m.number: m for m in CAPABILITY_MSRS}

#: Capability MSRs whose whole 64-bit value is an allowed-1 mask (no allowed-0 half).
ALLOWED1_ONLY_MSRS: frozenset[str] = frozenset({"IA32_VMX_PROCBASED_CTLS3", "IA32_VMX_EXIT_CTLS2",
                                                "IA32_VMX_VMFUNC"})


def allowed0(msr_value: int) -> int:
    """Bits 31:0: a bit set here must be 1 in the control (SDM A.3.1 "allowed 0-settings")."""
    return msr_value & 0xFFFF_FFFF


def allowed1(msr_value: int) -> int:
    """Bits 63:32: a bit clear here must be 0 in the control ("allowed 1-settings")."""
    return msr_value >> 32


BASIC = Layout("IA32_VMX_BASIC", 64, (
    BitField("revision_id", 0, 31, "VMCS revision identifier"),
    BitField("vmcs_size", 32, 13, "VMXON/VMCS region size in bytes"),
    BitField("physaddr_width_32", 48, 1, "Addresses of VMX structures limited to 32 bits"),
    BitField("dual_monitor", 49, 1, "Dual-monitor treatment of SMIs and SMM supported"),
    BitField("vmcs_memtype", 50, 4, "Memory type for the VMCS and referenced structures"),
    BitField("ins_outs_info", 54, 1, "VM exits for INS/OUTS report instruction information"),
    BitField("true_ctls", 55, 1, "TRUE capability MSRs for the default1 controls exist"),
    BitField("no_hw_errcode_cc", 56, 1,
             "Injected hardware exceptions need not match the error-code consistency check"),
    BitField("nested_exception", 58, 1, "Nested-exception support (FRED)"),
))

MISC = Layout("IA32_VMX_MISC", 64, (
    BitField("preemption_timer_rate", 0, 5, "VMX-preemption timer counts down when TSC bit X changes"),
    BitField("store_lma", 5, 1, "VM exits store EFER.LMA into the IA-32e mode guest control"),
    BitField("activity_hlt", 6, 1, "HLT activity state supported"),
    BitField("activity_shutdown", 7, 1, "Shutdown activity state supported"),
    BitField("activity_wait_sipi", 8, 1, "Wait-for-SIPI activity state supported"),
    BitField("pt_in_vmx", 14, 1, "Intel PT can be used in VMX operation"),
    BitField("rdmsr_smbase", 15, 1, "RDMSR can read IA32_SMBASE in SMM"),
    BitField("cr3_target_count", 16, 9, "Number of CR3-target values supported"),
    BitField("msr_list_size", 25, 3, "Recommended maximum MSRs in each MSR list is 512 * (N + 1)"),
    BitField("smm_monitor_ctl_b2", 28, 1, "IA32_SMM_MONITOR_CTL bit 2 can be set"),
    BitField("vmwrite_any_field", 29, 1, "VMWRITE can write any supported field, including exit info"),
    BitField("zero_len_injection", 30, 1,
             "VM entry can inject software interrupts and exceptions with instruction length 0"),
    BitField("mseg_revision", 32, 32, "MSEG revision identifier"),
))

EPT_VPID_CAP = Layout("IA32_VMX_EPT_VPID_CAP", 64, (
    BitField("execute_only", 0, 1, "EPT execute-only translations"),
    BitField("pwl4", 6, 1, "Page-walk length of 4"),
    BitField("pwl5", 7, 1, "Page-walk length of 5"),
    BitField("memtype_uc", 8, 1, "EPT paging structures may be uncacheable (UC)"),
    BitField("memtype_wb", 14, 1, "EPT paging structures may be write-back (WB)"),
    BitField("pde_2m", 16, 1, "EPT PDEs may map 2-MByte pages"),
    BitField("pdpte_1g", 17, 1, "EPT PDPTEs may map 1-GByte pages"),
    BitField("invept", 20, 1, "INVEPT supported"),
    BitField("ad_flags", 21, 1, "Accessed and dirty flags for EPT"),
    BitField("advanced_vmexit_info", 22, 1, "Advanced VM-exit information for EPT violations"),
    BitField("sss_control", 23, 1, "Supervisor shadow-stack control (EPTP bit 7)"),
    BitField("invept_single_context", 25, 1, "Single-context INVEPT"),
    BitField("invept_all_context", 26, 1, "All-context INVEPT"),
    BitField("invvpid", 32, 1, "INVVPID supported"),
    BitField("invvpid_individual_address", 40, 1, "Individual-address INVVPID"),
    BitField("invvpid_single_context", 41, 1, "Single-context INVVPID"),
    BitField("invvpid_all_context", 42, 1, "All-context INVVPID"),
    BitField("invvpid_single_context_retaining_globals", 43, 1,
             "Single-context-retaining-globals INVVPID"),
    BitField("max_hlat_prefix_size", 48, 6, "Maximum HLAT prefix size"),
))

VMFUNC = Layout("IA32_VMX_VMFUNC", 64, (
    BitField("eptp_switching", 0, 1, "EPTP switching (VM function 0)"),
))

#: Width of the "MAXPHYADDR" pseudo-capability (CPUID.80000008H:EAX[7:0]) and its legal range.
MAXPHYADDR_RANGE = (32, 52)
#: Linear-address width (CPUID.80000008H:EAX[15:8]): 48, or 57 with 5-level paging.
MAXLINADDR_VALUES = (48, 57)
DEFAULT_MAXLINADDR = 48
