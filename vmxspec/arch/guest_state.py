"""Layouts of guest-state fields that are not plain registers (SDM "Guest-State Area").

Access rights (SDM "Format of Access Rights"), the interruptibility state, activity states and the
pending debug exceptions field.
"""

from __future__ import annotations

from enum import IntEnum

from vmxspec.arch.bitfields import BitField, Layout, mask

ACCESS_RIGHTS = Layout("access rights", 32, (
    BitField("type", 0, 4, "Segment type"),
    BitField("s", 4, 1, "Descriptor type (0 = system; 1 = code or data)"),
    BitField("dpl", 5, 2, "Descriptor privilege level"),
    BitField("p", 7, 1, "Segment present"),
    BitField("avl", 12, 1, "Available for use by system software"),
    BitField("l", 13, 1, "64-bit mode active (CS only)"),
    BitField("db", 14, 1, "Default operation size (0 = 16-bit segment; 1 = 32-bit segment)"),
    BitField("g", 15, 1, "Granularity"),
    BitField("unusable", 16, 1, "Segment unusable (0 = usable; 1 = unusable)"),
))
AR_TYPE = ACCESS_RIGHTS["type"].mask
AR_S, AR_P, AR_L, AR_DB, AR_G, AR_UNUSABLE = 1 << 4, 1 << 7, 1 << 13, 1 << 14, 1 << 15, 1 << 16
AR_RESERVED_11_8 = mask(8, 11)
AR_RESERVED_31_17 = mask(17, 31)

#: Access rights a virtual-8086 guest's CS, SS, DS, ES, FS and GS must have: type 3, S, DPL 3, P.
AR_VIRTUAL_8086 = 0xF3

#: Segment type values (S = 1), SDM "Code- and Data-Segment Types".
TYPE_ACCESSED = 1 << 0
TYPE_READABLE_OR_WRITABLE = 1 << 1
TYPE_CONFORMING_OR_EXPANDDOWN = 1 << 2
TYPE_CODE = 1 << 3
#: System segment types (S = 0).
TYPE_LDT = 2
TYPE_TSS16_BUSY = 3
TYPE_TSS_BUSY = 11

INTERRUPTIBILITY = Layout("interruptibility state", 32, (
    BitField("sti", 0, 1, "Blocking by STI"),
    BitField("mov_ss", 1, 1, "Blocking by MOV SS"),
    BitField("smi", 2, 1, "Blocking by SMI"),
    BitField("nmi", 3, 1, "Blocking by NMI"),
    BitField("enclave_interruption", 4, 1, "Enclave interruption"),
))
BLOCK_STI, BLOCK_MOV_SS, BLOCK_SMI, BLOCK_NMI, ENCLAVE_INTERRUPTION = 1, 2, 4, 8, 16
INTERRUPTIBILITY_RESERVED = mask(5, 31)


class ActivityState(IntEnum):
    ACTIVE = 0
    HLT = 1
    SHUTDOWN = 2
    WAIT_FOR_SIPI = 3


#: The IA32_VMX_MISC bit that advertises each non-active activity state.
ACTIVITY_STATE_MISC_BIT: dict[ActivityState, str] = {
    ActivityState.HLT: "activity_hlt",
    ActivityState.SHUTDOWN: "activity_shutdown",
    ActivityState.WAIT_FOR_SIPI: "activity_wait_sipi",
}

PENDING_DEBUG = Layout("pending debug exceptions", 64, (
    BitField("b0", 0), BitField("b1", 1), BitField("b2", 2), BitField("b3", 3),
    BitField("enabled_breakpoint", 12, 1, "At least one data or I/O breakpoint was met and enabled"),
    BitField("bs", 14, 1, "Single-step (debug exception would have been triggered)"),
    BitField("rtm", 16, 1, "A debug exception occurred inside an RTM region"),
))
PENDING_DEBUG_BS = 1 << 14
PENDING_DEBUG_ENABLED_BP = 1 << 12
PENDING_DEBUG_RTM = 1 << 16
PENDING_DEBUG_RESERVED = mask(4, 11) | (1 << 13) | (1 << 15) | mask(17, 63)

#: The VMCS link pointer value that means "no shadow VMCS / no link".
VMCS_LINK_NONE = 0xFFFF_FFFF_FFFF_FFFF

#: PAE page-directory-pointer-table entries: P, and the bits reserved below MAXPHYADDR.
PDPTE_P = 1
PDPTE_RESERVED_LOW = mask(1, 2) | mask(5, 8)

# -- Facts the guest-state checks add (SDM "Checks on the Guest State Area") ----------------------

AR_DPL = ACCESS_RIGHTS["dpl"]
#: Access-rights bits that must be 0 in a usable segment (and always in CS, TR): 11:8 and 31:17.
AR_RESERVED = AR_RESERVED_11_8 | AR_RESERVED_31_17

#: Limit bits the granularity flag must agree with: if any bit in 11:0 is 0, G must be 0; if any
#: bit in 31:20 is 1, G must be 1.
LIMIT_LOW_12 = mask(0, 11)
LIMIT_HIGH_12 = mask(20, 31)

#: A virtual-8086 guest's CS, SS, DS, ES, FS and GS: base = selector << 4, limit 0000FFFFH.
V86_BASE_SHIFT = 4
V86_LIMIT = 0xFFFF

#: Read/write, accessed, expand-up data segment: CS may have it under "unrestricted guest".
TYPE_DATA_RW_ACCESSED = 3
#: CS types (without "unrestricted guest"): accessed code segments.
CS_CODE_TYPES = frozenset({9, 11, 13, 15})
CS_NONCONFORMING_TYPES = frozenset({9, 11})
CS_CONFORMING_TYPES = frozenset({13, 15})
#: SS types: read/write, accessed data segments (expand-up or expand-down).
SS_TYPES = frozenset({3, 7})
#: DS, ES, FS, GS with a type up to 11 (data or non-conforming code) need DPL >= RPL.
TYPE_MAX_DATA_OR_NONCONFORMING = 11

#: GDTR and IDTR limit fields: bits 31:16 must be 0.
DTR_LIMIT_RESERVED = mask(16, 31)

#: The injected events (interruption type, vector; None = any vector) VM entry allows in each
#: inactive activity state. The active state allows every event.
ACTIVITY_ALLOWED_EVENTS: dict[ActivityState, frozenset[tuple[int, int | None]]] = {
    ActivityState.HLT: frozenset({
        (0, None),  # external interrupt
        (2, None),  # NMI
        (3, 1),     # hardware exception #DB
        (3, 18),    # hardware exception #MC
        (7, 0),     # other event: pending MTF VM exit
    }),
    ActivityState.SHUTDOWN: frozenset({(2, None), (3, 18)}),
    ActivityState.WAIT_FOR_SIPI: frozenset(),
}

#: With the RTM bit (16) set, pending debug exceptions bits 11:0, 15:13 and 63:17 must be 0 and
#: bit 12 must be 1.
PENDING_DEBUG_RTM_ZERO = mask(0, 11) | mask(13, 15) | mask(17, 63)

#: The first 32 bits of a VMCS region: bits 30:0 revision identifier, bit 31 shadow-VMCS indicator.
VMCS_HEADER_REVISION = mask(0, 30)
VMCS_HEADER_SHADOW = 1 << 31

#: PAE paging: CR3 bits 31:5 locate the 32-byte page-directory-pointer table of four 8-byte PDPTEs.
PAE_CR3_PDPT = mask(5, 31)
PDPTE_COUNT = 4
PDPTE_SIZE = 8

#: Exit qualifications of a VM-entry failure due to invalid guest state (SDM "VM-Entry Failures
#: During or After Loading Guest State"): 0 default, 2 PDPTE loading, 3 NMI injection with blocking
#: by STI (implementation-specific), 4 invalid VMCS link pointer.
ENTRY_FAIL_QUAL_PDPTE = 2
ENTRY_FAIL_QUAL_NMI_STI = 3
ENTRY_FAIL_QUAL_VMCS_LINK = 4
