"""Architectural registers and MSRs that the VM-entry checks read: bit layouts and reserved bits.

Reserved masks are the bits the SDM defines as reserved (must be 0) for a processor with the
features vmxspec models; where a bit's reservedness depends on a CPU feature the state cannot
express, the mask follows the SDM's most permissive architectural definition and the rule
catalogue says so.
"""

from __future__ import annotations

from vmxspec.arch.bitfields import BitField, Layout, mask

CR0 = Layout("CR0", 64, (
    BitField("PE", 0), BitField("MP", 1), BitField("EM", 2), BitField("TS", 3), BitField("ET", 4),
    BitField("NE", 5), BitField("WP", 16), BitField("AM", 18), BitField("NW", 29), BitField("CD", 30),
    BitField("PG", 31),
))
CR0_PE, CR0_NE, CR0_WP, CR0_NW, CR0_CD, CR0_PG = (1 << 0, 1 << 5, 1 << 16, 1 << 29, 1 << 30, 1 << 31)

CR4 = Layout("CR4", 64, (
    BitField("VME", 0), BitField("PVI", 1), BitField("TSD", 2), BitField("DE", 3), BitField("PSE", 4),
    BitField("PAE", 5), BitField("MCE", 6), BitField("PGE", 7), BitField("PCE", 8), BitField("OSFXSR", 9),
    BitField("OSXMMEXCPT", 10), BitField("UMIP", 11), BitField("LA57", 12), BitField("VMXE", 13),
    BitField("SMXE", 14), BitField("FSGSBASE", 16), BitField("PCIDE", 17), BitField("OSXSAVE", 18),
    BitField("KL", 19), BitField("SMEP", 20), BitField("SMAP", 21), BitField("PKE", 22), BitField("CET", 23),
    BitField("PKS", 24), BitField("UINTR", 25), BitField("LASS", 27), BitField("LAM_SUP", 28),
    BitField("FRED", 32),
))
CR4_PAE, CR4_LA57, CR4_VMXE, CR4_PCIDE, CR4_CET = (1 << 5, 1 << 12, 1 << 13, 1 << 17, 1 << 23)
CR4_LAM_SUP = 1 << 28

#: CR3 bits 61 (LAM_U57) and 62 (LAM_U48) enable linear-address masking for user pointers; on a
#: processor with LAM (the one whose IA32_VMX_CR4_FIXED1 allows CR4.LAM_SUP) they are not reserved.
CR3_LAM_U57, CR3_LAM_U48 = 1 << 61, 1 << 62

EFER = Layout("IA32_EFER", 64, (
    BitField("SCE", 0), BitField("LME", 8), BitField("LMA", 10), BitField("NXE", 11),
    BitField("SVME", 12), BitField("LMSLE", 13), BitField("FFXSR", 14), BitField("TCE", 15),
))
EFER_LME, EFER_LMA = 1 << 8, 1 << 10
#: IA32_EFER bits Intel processors reserve (SCE, LME, LMA and NXE are the only ones defined).
EFER_RESERVED = ~((1 << 0) | (1 << 8) | (1 << 10) | (1 << 11)) & mask(0, 63)

RFLAGS = Layout("RFLAGS", 64, (
    BitField("CF", 0), BitField("fixed1", 1), BitField("PF", 2), BitField("AF", 4), BitField("ZF", 6),
    BitField("SF", 7), BitField("TF", 8), BitField("IF", 9), BitField("DF", 10), BitField("OF", 11),
    BitField("IOPL", 12, 2), BitField("NT", 14), BitField("RF", 16), BitField("VM", 17),
    BitField("AC", 18), BitField("VIF", 19), BitField("VIP", 20), BitField("ID", 21),
))
RFLAGS_FIXED1 = 1 << 1
RFLAGS_TF, RFLAGS_IF, RFLAGS_VM = 1 << 8, 1 << 9, 1 << 17
#: SDM "Checks on Guest RIP, RFLAGS, and SSP": bits 63:22, 15, 5 and 3 must be 0.
RFLAGS_RESERVED = mask(22, 63) | (1 << 15) | (1 << 5) | (1 << 3)

#: IA32_DEBUGCTL (MSR 1D9H) bits the SDM defines: LBR, BTF, TR, BTS, BTINT, BTS_OFF_OS,
#: BTS_OFF_USR, FREEZE_LBRS_ON_PMI, FREEZE_PERFMON_ON_PMI, ENABLE_UNCORE_PMI, FREEZE_WHILE_SMM,
#: RTM_DEBUG. Bits 5:2 and 63:16 are reserved.
DEBUGCTL_BTF = 1 << 1
DEBUGCTL_RESERVED = mask(2, 5) | mask(16, 63)

#: DR7 bits 63:32 must be 0 (SDM "Checks on Guest Control Registers, Debug Registers, and MSRs").
DR7_RESERVED_HIGH = mask(32, 63)

#: IA32_PAT: each of the eight bytes holds a memory type; 2, 3 and 8..255 are invalid.
PAT_VALID_TYPES = frozenset({0, 1, 4, 5, 6, 7})


def pat_invalid_entries(pat: int) -> list[tuple[int, int]]:
    """(entry index, memory type) of every PAT entry PA0..PA7 that holds an invalid type."""
    entries = ((i, pat >> (8 * i) & 0xFF) for i in range(8))
    return [(i, t) for i, t in entries if t not in PAT_VALID_TYPES]

#: IA32_PERF_GLOBAL_CTRL: PMC enables in bits 31:0 (as many as there are counters), fixed-counter
#: enables in bits 47:32 (architectural PerfMon v5 allows up to 16), bit 48 perf-metrics enable.
#: vmxspec takes the widest architectural definition; the rest is reserved.
PERF_GLOBAL_CTRL_RESERVED = mask(49, 63)

#: IA32_BNDCFGS: bit 0 EN, bit 1 BNDPRESERVE, bits 11:2 reserved, bits 63:12 base (canonical).
BNDCFGS_RESERVED = mask(2, 11)

#: IA32_S_CET: bits 9:6 reserved; bits 10 (SUPPRESS) and 11 (TRACKER) must not both be 1.
S_CET_RESERVED = mask(6, 9)
S_CET_SUPPRESS, S_CET_TRACKER = 1 << 10, 1 << 11

#: IA32_PKRS: bits 63:32 reserved.
PKRS_RESERVED = mask(32, 63)

#: Selector layout.
SELECTOR_RPL = mask(0, 1)
SELECTOR_TI = 1 << 2

# -- Facts the guest-state checks add (SDM "Checks on the Guest State Area") ----------------------

#: CR0 bits VM entry never checks against IA32_VMX_CR0_FIXED0/FIXED1: NW (29) and CD (30) keep their
#: values across VM entry, so the guest-state check ignores them.
CR0_ENTRY_UNCHECKED = CR0_NW | CR0_CD
#: CR0 bits exempt from the fixed-bit check when the "unrestricted guest" control is 1.
CR0_UNRESTRICTED_EXEMPT = CR0_PE | CR0_PG

#: Bits 63:32 of a 64-bit field (a value that must fit in 32 bits).
UPPER32 = mask(32, 63)

#: IA32_BNDCFGS bits 63:12: the linear base address of the bound directory (must be canonical).
BNDCFGS_BASE = mask(12, 63)

#: IA32_RTIT_CTL bits that no Intel PT implementation defines. Defined bits: 13:0 (TraceEn .. BranchEn),
#: 17:14 MTCFreq, 22:19 CycThresh, 27:24 PSBFreq, 31 EventEn, 47:32 ADDR0..3_CFG, 55 DisTNT,
#: 56 InjectPsbPmiOnEnable. Which of those a given processor supports is enumerated by CPUID leaf 14H,
#: which the state does not carry: vmxspec takes the widest architectural definition.
RTIT_CTL_RESERVED = (1 << 18) | (1 << 23) | mask(28, 30) | mask(48, 54) | mask(57, 63)

#: IA32_LBR_CTL: bits 3:0 (LBREn, OS, USR, CALL_STACK) and 22:16 (branch-type filters) are defined;
#: the rest is reserved. CPUID leaf 1CH may reserve some defined bits too (widest definition here).
LBR_CTL_RESERVED = mask(4, 15) | mask(23, 63)

#: SSP bits 1:0: a shadow-stack pointer is 4-byte aligned.
SSP_RESERVED_LOW = mask(0, 1)

#: The guest UINV field (user-interrupt notification vector): bits 15:8 must be 0.
UINV_RESERVED = mask(8, 15)

#: CR4.FRED (bit 32): flexible return and event delivery.
CR4_FRED = 1 << 32
#: RFLAGS.IOPL (bits 13:12).
RFLAGS_IOPL = mask(12, 13)
#: IA32_FRED_CONFIG: bits 2, 5:4 and 11 are reserved; bits 63:12 hold the linear address of the
#: event-delivery entry point (must be canonical).
FRED_CONFIG_RESERVED = (1 << 2) | mask(4, 5) | (1 << 11)
FRED_CONFIG_ENTRY = mask(12, 63)
#: IA32_FRED_RSP1..3 are 64-byte aligned (bits 5:0 zero); IA32_FRED_SSP1..3 are 8-byte aligned
#: (bits 2:0 zero).
FRED_RSP_RESERVED_LOW = mask(0, 5)
FRED_SSP_RESERVED_LOW = mask(0, 2)
