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
