"""``sapphire_rapids``: a modeled 4th-generation Xeon (Sapphire Rapids) host.

The point of this preset is the newer capability surface the Skylake baseline cannot exercise:
tertiary controls (IPI virtualization, IA32_VMX_PROCBASED_CTLS3), 5-level EPT, 57-bit linear
addresses, CET (the VM-entry/VM-exit CET controls, BASIC[56], the EPTP supervisor shadow-stack
bit), PKS, UINTR, Arch LBR, bus-lock detection and notify VM exits. Values are built from named
control bits so that each one says what it allows.
"""

from __future__ import annotations

from vmxspec.arch.bitfields import mask
from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.presets._model import Preset

PIN, PROC, PROC2, PROC3 = ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.PROC3
EXIT, ENTRY = ControlField.EXIT, ControlField.ENTRY


def _pair(allowed0: int, allowed1: int) -> int:
    """A two-half control capability MSR: allowed-0 settings low, allowed-1 settings high."""
    return allowed1 << 32 | allowed0


def _ept(*names: str) -> int:
    out = 0
    for name in names:
        out |= EPT_VPID_CAP[name].mask
    return out


_PIN_ALLOWED1 = PIN.default1 | control_mask(
    PIN, "external_interrupt_exiting", "nmi_exiting", "virtual_nmis", "activate_vmx_preemption_timer",
    "process_posted_interrupts")
#: Every primary control except reserved bits 0 and 18 (bit 17, tertiary controls, is allowed).
_PROC_ALLOWED1 = mask(0, 31) & ~(1 << 0 | 1 << 18)
_PROC2_ALLOWED1 = mask(0, 20) | control_mask(
    PROC2, "mode_based_execute_control", "pt_uses_guest_physical_addresses", "use_tsc_scaling",
    "enable_user_wait_and_pause", "enable_pconfig", "vmm_bus_lock_detection", "instruction_timeout")
_PROC3_ALLOWED1 = control_mask(PROC3, "ipi_virtualization")
#: VM-exit controls 0-29: up to clear UINV (27), load CET state (28) and load PKRS (29); no "save
#: IA32_PERF_GLOBAL_CTL" (30) and no secondary VM-exit controls (31, FRED).
_EXIT_ALLOWED1 = mask(0, 29)
#: VM-entry controls 0-22: up to load UINV (19), CET (20), guest IA32_LBR_CTL (21), PKRS (22).
_ENTRY_ALLOWED1 = mask(0, 22)

_TRUE_PROC_ALLOWED0 = PROC.default1 & ~control_mask(PROC, "cr3_load_exiting", "cr3_store_exiting")
_TRUE_EXIT_ALLOWED0 = EXIT.default1 & ~control_mask(EXIT, "save_debug_controls")
_TRUE_ENTRY_ALLOWED0 = ENTRY.default1 & ~control_mask(ENTRY, "load_debug_controls")

_BASIC = (4 | 0x400 << 32 | BASIC["dual_monitor"].mask | 6 << BASIC["vmcs_memtype"].lsb
          | BASIC["ins_outs_info"].mask | BASIC["true_ctls"].mask | BASIC["no_hw_errcode_cc"].mask)

_EPT_VPID = _ept(
    "execute_only", "pwl4", "pwl5", "memtype_uc", "memtype_wb", "pde_2m", "pdpte_1g", "invept",
    "ad_flags", "advanced_vmexit_info", "sss_control", "invept_single_context", "invept_all_context",
    "invvpid", "invvpid_individual_address", "invvpid_single_context", "invvpid_all_context",
    "invvpid_single_context_retaining_globals")

#: CR4 bits a Sapphire Rapids host allows: 0-14 (VME ... SMXE, including UMIP 11 and LA57 12),
#: FSGSBASE 16, PCIDE 17, OSXSAVE 18, SMEP 20, SMAP 21, PKE 22, CET 23, PKS 24, UINTR 25.
_CR4_FIXED1 = mask(0, 14) | mask(16, 18) | mask(20, 25)

SOURCES = """\
MODELED, not dumped: no public capability-MSR dump of a Sapphire Rapids part was available, so
every value is composed from documented bit layouts and the feature list of the part, with the
Skylake preset's conventions wherever Sapphire Rapids changes nothing.

IA32_VMX_BASIC 0x01da040000000004: the Skylake preset's value (revision 4 and VMCS size 0x400 are
  modeled) plus bit 56 (no error-code consistency check for injected hardware exceptions), which
  CET-capable parts report; Linux VMX_BASIC_NO_HW_ERROR_CODE_CC is the same bit. Bit 58 (FRED
  nested exceptions, Bochs) stays 0: Sapphire Rapids has no FRED.
PINBASED / TRUE_PINBASED 0x000000ff00000016: as Skylake.
PROCBASED 0xfffbfffe0401e172 / TRUE 0xfffbfffe04006172: as Skylake plus allowed-1 bit 17
  "activate tertiary controls", so IA32_VMX_PROCBASED_CTLS3 exists.
PROCBASED_CTLS3 0x10: IPI virtualization only (Linux TERTIARY_EXEC_IPI_VIRT, the only tertiary
  control KVM uses; IPI virtualization first shipped on Sapphire Rapids). No LOADIWKEY exiting,
  HLAT, MSR-list or IA32_SPEC_CTRL virtualization.
PROCBASED_CTLS2 0xcf5fffff00000000: bits 0-20 (SGX's ENCLS exiting included), 22 (MBEC), 24-27 (PT
  uses GPA, TSC scaling, user wait/pause for WAITPKG, PCONFIG for TME-MK), 30 (bus-lock detection)
  and 31 (instruction timeout, Linux NOTIFY_VM_EXITING), the two exits KVM added for this part.
EXIT 0x3fffffff00036dff / TRUE 0x3fffffff00036dfb: allowed-1 bits 0-29 (adds clear IA32_LBR_CTL,
  clear UINV, load CET state, load PKRS); no secondary VM-exit controls, so no EXIT_CTLS2.
ENTRY 0x007fffff000011ff / TRUE 0x007fffff000011fb: allowed-1 bits 0-22 (adds load UINV, CET
  state, guest IA32_LBR_CTL, PKRS).
MISC 0x7004c1e5: the Skylake value with preemption-timer rate 5 instead of 7 (modeled; rate 5 is
  what newer parts report in public VirtualBox logs, e.g. MISC 0x300481e5 in
  myspaghetti/macos-virtualbox#662). 4 CR3 targets and zero-length injection (bit 30) kept.
CR0_FIXED0, CR0_FIXED1 and CR4_FIXED0 as Skylake; CR4_FIXED1 0x3f77fff (adds UMIP 11, LA57 12, CET 23,
  PKS 24, UINTR 25).
VMCS_ENUM 0x42: highest index 0x21, the PID-pointer table (encoding 0x2042) that IPI
  virtualization adds; modeled from the encodings, not read from hardware.
EPT_VPID_CAP 0x00000f0106f341c1: the Skylake value plus bit 7 (5-level walks) and bit 23
  (supervisor shadow-stack control in EPTP, CET); max HLAT prefix size 0.
VMFUNC 0x1: EPTP switching.
MAXPHYADDR 46 and MAXLINADDR 57: the address sizes Sapphire Rapids Xeons report (46 physical,
  57 linear with 5-level paging).
"""

SAPPHIRE_RAPIDS = Preset(
    name="sapphire_rapids",
    title="Sapphire Rapids-like host (4th-generation Xeon): tertiary controls, 5-level EPT, CET",
    description=(
        "A 2023 Xeon-class host: everything in skylake_server plus IPI virtualization (tertiary "
        "controls), 5-level EPT and 57-bit linear addresses, CET state load/save and EPTP "
        "supervisor shadow-stack control, PKS, UINTR, Arch LBR, bus-lock detection and notify "
        "VM exits. MAXPHYADDR 46, MAXLINADDR 57."
    ),
    sources=SOURCES,
    caps={
        "IA32_VMX_BASIC": _BASIC,
        "IA32_VMX_PINBASED_CTLS": _pair(PIN.default1, _PIN_ALLOWED1),
        "IA32_VMX_PROCBASED_CTLS": _pair(PROC.default1, _PROC_ALLOWED1),
        "IA32_VMX_EXIT_CTLS": _pair(EXIT.default1, _EXIT_ALLOWED1),
        "IA32_VMX_ENTRY_CTLS": _pair(ENTRY.default1, _ENTRY_ALLOWED1),
        "IA32_VMX_MISC": 0x0000_0000_7004_C1E5,
        "IA32_VMX_CR0_FIXED0": 0x8000_0021,
        "IA32_VMX_CR0_FIXED1": 0xFFFF_FFFF,
        "IA32_VMX_CR4_FIXED0": 0x2000,
        "IA32_VMX_CR4_FIXED1": _CR4_FIXED1,
        "IA32_VMX_VMCS_ENUM": 0x21 << 1,
        "IA32_VMX_PROCBASED_CTLS2": _pair(0, _PROC2_ALLOWED1),
        "IA32_VMX_EPT_VPID_CAP": _EPT_VPID,
        "IA32_VMX_TRUE_PINBASED_CTLS": _pair(PIN.default1, _PIN_ALLOWED1),
        "IA32_VMX_TRUE_PROCBASED_CTLS": _pair(_TRUE_PROC_ALLOWED0, _PROC_ALLOWED1),
        "IA32_VMX_TRUE_EXIT_CTLS": _pair(_TRUE_EXIT_ALLOWED0, _EXIT_ALLOWED1),
        "IA32_VMX_TRUE_ENTRY_CTLS": _pair(_TRUE_ENTRY_ALLOWED0, _ENTRY_ALLOWED1),
        "IA32_VMX_VMFUNC": 0x1,
        "IA32_VMX_PROCBASED_CTLS3": _PROC3_ALLOWED1,
    },
    maxphyaddr=46,
    maxlinaddr=57,
)
