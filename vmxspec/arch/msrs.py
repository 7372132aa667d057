"""Architectural MSRs: numbers, names, and what WRMSR at CPL 0 requires of the value written.

VM entry loads the VM-entry MSR-load area "as WRMSR would", and fails on an entry whose value
WRMSR would refuse with #GP (SDM "Loading MSRs"). This table holds, for the MSRs vmxspec models,
the facts that decide that refusal without knowing the processor's CPUID:

* ``reserved``: bits the SDM defines as reserved; WRMSR raises #GP if any is 1. Where a bit is
  defined only on processors that enumerate some feature, the mask follows the widest
  architectural definition (the bit counts as defined), as ``registers.py`` does.
* ``canonical``: the MSR holds a linear address and WRMSR raises #GP on a non-canonical value
  (the SDM's WRMSR page lists these MSRs). Canonical means with respect to the processor's
  linear-address width, not the current paging mode.
* ``pat_types``: every byte of the value must be a memory type valid for PAT.
* ``cet_control``: IA32_U_CET / IA32_S_CET layout: bits 10 (SUPPRESS) and 11 (TRACKER) must not
  both be 1.
* ``read_only``: WRMSR always raises #GP.
* ``smm_only``: the MSR can be written only in SMM.
* ``vmentry_may_refuse``: Volume 4 says a processor may refuse to load this MSR from the VM-entry
  MSR-load area (and to store it on VM exits) even though WRMSR can write it ("Implementation
  Specific Behavior on Writing to Certain MSRs").

vmxspec assumes every MSR in this table is implemented. An MSR number that is *not* in the table
is treated as model-specific: vmxspec cannot know what WRMSR does with it, so loading it is never
reported as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass

from vmxspec.arch import capabilities
from vmxspec.arch.bitfields import mask
from vmxspec.arch.registers import (
    BNDCFGS_RESERVED,
    DEBUGCTL_RESERVED,
    EFER_RESERVED,
    PERF_GLOBAL_CTRL_RESERVED,
    PKRS_RESERVED,
    S_CET_RESERVED,
    SSP_RESERVED_LOW,
    UPPER32,
)


@dataclass(frozen=True, slots=True)
class Msr:
    number: int
    name: str
    reserved: int = 0
    canonical: bool = False
    pat_types: bool = False
    cet_control: bool = False
    read_only: bool = False
    smm_only: bool = False
    vmentry_may_refuse: bool = False
    note: str = ""


IA32_TIME_STAMP_COUNTER = 0x10
IA32_BIOS_UPDT_TRIG = 0x79
IA32_BIOS_SIGN_ID = 0x8B
IA32_SMM_MONITOR_CTL = 0x9B
IA32_EFER = 0xC000_0080
IA32_FS_BASE = 0xC000_0100
IA32_GS_BASE = 0xC000_0101

#: x2APIC MSRs: indices whose bits 31:8 are 000008H, i.e. 800H-8FFH.
X2APIC_MSR_FIRST, X2APIC_MSR_LAST = 0x800, 0x8FF

#: IA32_XSS may only enable supervisor state components: 8 (PT), 10 (PASID), 11 (CET_U),
#: 12 (CET_S), 13 (HDC), 14 (UINTR), 15 (LBR), 16 (HWP). The user components (0-7, 9, 17-19) and
#: every undefined bit are reserved in IA32_XSS.
XSS_SUPERVISOR_COMPONENTS = (1 << 8) | mask(10, 16)

#: IA32_SPEC_CTRL bits the SDM defines: 0 IBRS, 1 STIBP, 2 SSBD, 3 IPRED_DIS_U, 4 IPRED_DIS_S,
#: 5 RRSBA_DIS_U, 6 RRSBA_DIS_S, 7 PSFD, 8 DDPD_U, 10 BHI_DIS_S.
SPEC_CTRL_DEFINED = mask(0, 8) | (1 << 10)

#: IA32_SMM_MONITOR_CTL: bit 0 valid, bit 2 SMI unblocking by VMXOFF (when IA32_VMX_MISC[28] = 1),
#: bits 31:12 MSEG base; bits 1, 11:3 and 63:32 are reserved. vmxspec allows bit 2.
SMM_MONITOR_CTL_RESERVED = (1 << 1) | mask(3, 11) | UPPER32

MSRS: tuple[Msr, ...] = (
    Msr(IA32_TIME_STAMP_COUNTER, "IA32_TIME_STAMP_COUNTER"),
    Msr(0x17, "IA32_PLATFORM_ID", read_only=True),
    Msr(0x3B, "IA32_TSC_ADJUST"),
    Msr(0x48, "IA32_SPEC_CTRL", reserved=~SPEC_CTRL_DEFINED & mask(0, 63),
        note="each defined bit is reserved on a processor that does not enumerate its feature"),
    Msr(IA32_BIOS_UPDT_TRIG, "IA32_BIOS_UPDT_TRIG", vmentry_may_refuse=True),
    Msr(IA32_BIOS_SIGN_ID, "IA32_BIOS_SIGN_ID", vmentry_may_refuse=True),
    Msr(IA32_SMM_MONITOR_CTL, "IA32_SMM_MONITOR_CTL", reserved=SMM_MONITOR_CTL_RESERVED, smm_only=True),
    Msr(0xFE, "IA32_MTRRCAP", read_only=True),
    Msr(0x10A, "IA32_ARCH_CAPABILITIES", read_only=True),
    Msr(0x10B, "IA32_FLUSH_CMD", reserved=mask(1, 63)),
    Msr(0x174, "IA32_SYSENTER_CS"),
    Msr(0x175, "IA32_SYSENTER_ESP", canonical=True),
    Msr(0x176, "IA32_SYSENTER_EIP", canonical=True),
    Msr(0x1D9, "IA32_DEBUGCTL", reserved=DEBUGCTL_RESERVED),
    Msr(0x277, "IA32_PAT", pat_types=True),
    Msr(0x38F, "IA32_PERF_GLOBAL_CTRL", reserved=PERF_GLOBAL_CTRL_RESERVED,
        note="bits for counters the processor lacks are reserved too; vmxspec cannot see CPUID leaf 0AH"),
    *(Msr(m.number, m.name, read_only=True) for m in capabilities.CAPABILITY_MSRS),
    *(Msr(0x580 + 2 * n + half, f"IA32_RTIT_ADDR{n}_{'AB'[half]}", canonical=True)
      for n in range(4) for half in range(2)),
    Msr(0x600, "IA32_DS_AREA", canonical=True),
    Msr(0x6A0, "IA32_U_CET", reserved=S_CET_RESERVED, canonical=True, cet_control=True),
    Msr(0x6A2, "IA32_S_CET", reserved=S_CET_RESERVED, canonical=True, cet_control=True),
    *(Msr(0x6A4 + n, f"IA32_PL{n}_SSP", reserved=SSP_RESERVED_LOW, canonical=True) for n in range(4)),
    Msr(0x6A8, "IA32_INTERRUPT_SSP_TABLE_ADDR", canonical=True),
    Msr(0x6E1, "IA32_PKRS", reserved=PKRS_RESERVED),
    Msr(0xD90, "IA32_BNDCFGS", reserved=BNDCFGS_RESERVED, canonical=True),
    Msr(0xDA0, "IA32_XSS", reserved=~XSS_SUPERVISOR_COMPONENTS & mask(0, 63)),
    Msr(IA32_EFER, "IA32_EFER", reserved=EFER_RESERVED,
        note="LMA is read-only: WRMSR ignores it; changing LME while CR0.PG = 1 raises #GP"),
    Msr(0xC000_0081, "IA32_STAR"),
    Msr(0xC000_0082, "IA32_LSTAR", canonical=True),
    Msr(0xC000_0083, "IA32_CSTAR",
        note="unused on Intel processors; the SDM's WRMSR page does not list it among the MSRs that "
             "must hold canonical addresses"),
    Msr(0xC000_0084, "IA32_FMASK", reserved=UPPER32),
    Msr(IA32_FS_BASE, "IA32_FS_BASE", canonical=True),
    Msr(IA32_GS_BASE, "IA32_GS_BASE", canonical=True),
    Msr(0xC000_0102, "IA32_KERNEL_GS_BASE", canonical=True),
    Msr(0xC000_0103, "IA32_TSC_AUX", reserved=UPPER32),
)

BY_NUMBER: dict[int, Msr] = {m.number: m for m in MSRS}
BY_NAME: dict[str, Msr] = {m.name: m for m in MSRS}

#: A VM-entry/VM-exit MSR area entry (SDM "VM-Entry Controls for MSRs"): bits 31:0 the MSR index,
#: bits 63:32 reserved, bits 127:64 the MSR data.
MSR_ENTRY_SIZE = 16
MSR_ENTRY_INDEX = mask(0, 31)
MSR_ENTRY_RESERVED = mask(32, 63)

#: IA32_VMX_MISC[27:25] = N: 512 * (N + 1) is the recommended maximum number of MSRs in each list.
MSR_LIST_UNIT = 512


def msr_name(number: int) -> str:
    """The architectural name, or the number in the SDM's hex style for MSRs not in the table."""
    msr = BY_NUMBER.get(number)
    return msr.name if msr else f"MSR {number:X}H"
