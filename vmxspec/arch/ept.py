"""EPT facts as data: the EPT pointer, the paging-structure entry formats, memory types, reserved
bits per level, and the exit qualification of an EPT violation.

Read with the SDM, Vol. 3C, "EPT Translation Mechanism", "EPT Misconfigurations", "EPT
Violations", "Accessed and Dirty Flags for EPT", "EPT and Memory Typing" and the table "Exit
Qualification for EPT Violations". Nothing here walks a table: the reference interpreter
(``vmxspec.interp.ept``), the table builder (``vmxspec.build.ept_tables``) and the symbolic
encoder each apply these facts on their own.

Levels are numbered as the SDM counts a walk: 5 = PML5E, 4 = PML4E, 3 = PDPTE, 2 = PDE, 1 = PTE.
"""

from __future__ import annotations

from enum import IntEnum

from vmxspec.arch.bitfields import BitField, Layout, mask
from vmxspec.arch.capabilities import EPT_VPID_CAP

# -- levels and page sizes ------------------------------------------------------------------------

PAGE_4K = 1 << 12
PAGE_2M = 1 << 21
PAGE_1G = 1 << 30

#: Entry name per level (what the SDM calls an entry of that table).
LEVEL_NAMES: dict[int, str] = {5: "PML5E", 4: "PML4E", 3: "PDPTE", 2: "PDE", 1: "PTE"}
#: Table name per level (the table an entry of that level lives in).
TABLE_NAMES: dict[int, str] = {5: "PML5 table", 4: "PML4 table", 3: "page-directory-pointer table",
                               2: "page directory", 1: "page table"}
#: The page an entry of this level maps when it is a leaf. A PML4E or PML5E never maps a page.
PAGE_SIZE_BY_LEVEL: dict[int, int] = {1: PAGE_4K, 2: PAGE_2M, 3: PAGE_1G}
LEVEL_BY_PAGE_SIZE: dict[int, int] = {size: level for level, size in PAGE_SIZE_BY_LEVEL.items()}
PAGE_SIZE_NAMES: dict[int, str] = {PAGE_4K: "4 KiB", PAGE_2M: "2 MiB", PAGE_1G: "1 GiB"}

ENTRIES_PER_TABLE = 512
TABLE_SIZE = 4096


def index_shift(level: int) -> int:
    """Lowest guest-physical-address bit of the 9-bit index that selects an entry at ``level``.

    SDM "EPT Translation Mechanism": the PML5E is selected by GPA bits 56:48, the PML4E by 47:39, the
    PDPTE by 38:30, the PDE by 29:21 and the PTE by 20:12.
    """
    return 12 + 9 * (level - 1)


def gpa_width(levels: int) -> int:
    """Guest-physical-address bits a walk of ``levels`` levels translates: 48 (4-level) or 57 (5-level)."""
    return index_shift(levels) + 9


# -- EPT pointer (VMCS field EPT_POINTER, encoding 0x201A) -----------------------------------------

EPTP = Layout("EPT_POINTER", 64, (
    BitField("memtype", 0, 3, "Memory type for accesses to the EPT paging structures (0 = UC, 6 = WB)"),
    BitField("pwl_minus_1", 3, 3, "EPT page-walk length minus 1 (3 = 4-level, 4 = 5-level)"),
    BitField("accessed_dirty", 6, 1, "Enable accessed and dirty flags for EPT"),
    BitField("sss_control", 7, 1, "Enable supervisor shadow-stack control (reserved without the capability)"),
    BitField("reserved_11_8", 8, 4, "Reserved (must be 0)"),
    BitField("address", 12, 40, "Physical address of the top EPT table (bits N-1:12; 51:N reserved)"),
))

EPTP_AD = EPTP["accessed_dirty"].mask
#: Page-walk-length field values and the IA32_VMX_EPT_VPID_CAP bit that allows each.
EPTP_PWL_CAPS: dict[int, BitField] = {3: EPT_VPID_CAP["pwl4"], 4: EPT_VPID_CAP["pwl5"]}


# -- memory types -----------------------------------------------------------------------------------

class MemType(IntEnum):
    """Memory-type encodings shared by EPT entries, the EPTP, MTRRs and the PAT (SDM Vol. 3A "Memory
    Cache Control"). UC_MINUS exists only as a PAT encoding; 2 and 3 are reserved everywhere."""

    UC = 0
    WC = 1
    WT = 4
    WP = 5
    WB = 6
    UC_MINUS = 7


MEMTYPE_NAMES: dict[int, str] = {0: "UC", 1: "WC", 4: "WT", 5: "WP", 6: "WB", 7: "UC-"}

#: Values of bits 5:3 of a leaf EPT entry that the SDM defines; 2, 3 and 7 are reserved and cause an
#: EPT misconfiguration ("EPT Misconfigurations").
EPT_MEMTYPES: frozenset[int] = frozenset({MemType.UC, MemType.WC, MemType.WT, MemType.WP, MemType.WB})
EPT_RESERVED_MEMTYPES: frozenset[int] = frozenset({2, 3, 7})

#: EPTP bits 2:0 that VM entry accepts, with the IA32_VMX_EPT_VPID_CAP bit that allows each.
EPTP_MEMTYPE_CAPS: dict[int, BitField] = {MemType.UC: EPT_VPID_CAP["memtype_uc"],
                                          MemType.WB: EPT_VPID_CAP["memtype_wb"]}

_UC, _WC, _WT, _WP, _WB, _UCM = (MemType.UC, MemType.WC, MemType.WT, MemType.WP, MemType.WB,
                                 MemType.UC_MINUS)

#: SDM Vol. 3A table "Effective Page-Level Memory Types for Pentium III and More Recent Processor
#: Families", read with the EPT memory type in place of the MTRR type ("Memory Type Used for
#: Translated Guest-Physical Addresses", IPAT = 0). Keys are (EPT type, PAT type). Several UC results
#: are marked implementation-defined in the SDM; Xen's ``mm_type_tbl`` (xen/arch/x86/hvm/mtrr.c)
#: encodes the same matrix.
PAT_COMBINATION: dict[tuple[int, int], int] = {
    (_UC, _UC): _UC, (_UC, _UCM): _UC, (_UC, _WC): _WC, (_UC, _WT): _UC, (_UC, _WB): _UC, (_UC, _WP): _UC,
    (_WC, _UC): _UC, (_WC, _UCM): _WC, (_WC, _WC): _WC, (_WC, _WT): _UC, (_WC, _WB): _WC, (_WC, _WP): _UC,
    (_WT, _UC): _UC, (_WT, _UCM): _UC, (_WT, _WC): _WC, (_WT, _WT): _WT, (_WT, _WB): _WT, (_WT, _WP): _WP,
    (_WP, _UC): _UC, (_WP, _UCM): _WC, (_WP, _WC): _WC, (_WP, _WT): _WT, (_WP, _WB): _WP, (_WP, _WP): _WP,
    (_WB, _UC): _UC, (_WB, _UCM): _UC, (_WB, _WC): _WC, (_WB, _WT): _WT, (_WB, _WB): _WB, (_WB, _WP): _WP,
}


def effective_memtype(ept_memtype: int, ipat: bool, pat_memtype: int = MemType.WB, cr0_cd: bool = False) -> int:
    """The memory type of an access through a leaf with ``ept_memtype`` and ``ipat``.

    SDM "Memory Type Used for Translated Guest-Physical Addresses": UC if CR0.CD = 1; otherwise the
    EPT memory type if IPAT = 1, else the EPT type combined with the guest's PAT type. MTRRs play no
    part. With a guest PAT type of WB (the default the interpreter assumes) the result is the EPT type.
    """
    if cr0_cd:
        return int(MemType.UC)
    if ipat:
        return int(ept_memtype)
    return int(PAT_COMBINATION[(ept_memtype, pat_memtype)])


# -- EPT paging-structure entries -------------------------------------------------------------------

ENTRY = Layout("EPT paging-structure entry", 64, (
    BitField("read", 0, 1, "Read access"),
    BitField("write", 1, 1, "Write access"),
    BitField("execute", 2, 1, "Execute access (supervisor-mode linear addresses when MBEC is on)"),
    BitField("memtype", 3, 3, "EPT memory type (leaf only; reserved in a non-leaf entry)"),
    BitField("ipat", 6, 1, "Ignore PAT memory type (leaf only; reserved in a non-leaf entry)"),
    BitField("page_size", 7, 1, "Maps a page (PDPTE, PDE); reserved in a PML4E/PML5E; ignored in a PTE"),
    BitField("accessed", 8, 1, "Accessed flag (when EPTP bit 6 = 1; ignored otherwise)"),
    BitField("dirty", 9, 1, "Dirty flag (leaf only, when EPTP bit 6 = 1; ignored otherwise)"),
    BitField("user_execute", 10, 1, "Execute access for user-mode linear addresses (MBEC on; else ignored)"),
    BitField("address", 12, 40, "Physical address of the next table or of the page (bits N-1:12)"),
    BitField("verify_guest_paging", 57, 1, "Verify guest paging (HLAT; ignored here)"),
    BitField("paging_write_access", 58, 1, "Paging-write access (HLAT; ignored here)"),
    BitField("supervisor_shadow_stack", 60, 1, "Supervisor shadow-stack page (CET; ignored here)"),
    BitField("sub_page_write", 61, 1, "Sub-page write permissions (SPP; ignored here)"),
    BitField("suppress_ve", 63, 1, "Suppress #VE (EPT-violation #VE; ignored here)"),
))

R = ENTRY["read"].mask
W = ENTRY["write"].mask
X = ENTRY["execute"].mask
XU = ENTRY["user_execute"].mask
RWX = R | W | X
#: The permission bits an entry contributes to the AND over the walk.
PERMISSION_BITS = RWX | XU
MEMTYPE_SHIFT = ENTRY["memtype"].lsb
MEMTYPE_MASK = ENTRY["memtype"].mask
IPAT = ENTRY["ipat"].mask
PAGE_SIZE_BIT = ENTRY["page_size"].mask
ACCESSED = ENTRY["accessed"].mask
DIRTY = ENTRY["dirty"].mask

#: Bits 6:3 of an entry that references another table (memory type and IPAT exist only in a leaf).
RESERVED_NONLEAF = mask(3, 6)
#: Bits 7:3 of a PML5E or PML4E: the non-leaf bits plus the page-size bit, which must be 0 there.
RESERVED_TOP = mask(3, 7)
#: Bits 20:12 of a PDE that maps a 2-MByte page and 29:12 of a PDPTE that maps a 1-GByte page: the
#: page frame must be aligned to the page.
RESERVED_ALIGN: dict[int, int] = {2: mask(12, 20), 3: mask(12, 29)}
#: The capability bit without which bit 7 of an entry at this level may not be 1.
PAGE_SIZE_CAPS: dict[int, BitField] = {2: EPT_VPID_CAP["pde_2m"], 3: EPT_VPID_CAP["pdpte_1g"]}


def physical_reserved(maxphyaddr: int) -> int:
    """Bits 51:N of any present entry, N = MAXPHYADDR. Bits 63:52 are never reserved (ignored)."""
    return mask(maxphyaddr, 51) if maxphyaddr < 52 else 0


def address_mask(maxphyaddr: int) -> int:
    """Bits N-1:12: where an entry or the EPTP holds a physical address."""
    return mask(12, maxphyaddr - 1)


def reserved_bits(level: int, leaf: bool, maxphyaddr: int) -> int:
    """Every bit that must be 0 in a present entry of ``level`` (a leaf or not), page-size capability
    aside (see ``PAGE_SIZE_CAPS``). From the entry-format tables of "EPT Translation Mechanism"."""
    rsvd = physical_reserved(maxphyaddr)
    if level >= 4:
        return rsvd | RESERVED_TOP
    if level == 1:
        return rsvd
    return rsvd | (RESERVED_ALIGN[level] if leaf else RESERVED_NONLEAF)


def permission_names(bits: int, mbec: bool = True) -> str:
    """"R W X XU" style listing of an entry's permission bits (for messages); "none" if empty."""
    names = [n for n, b in (("R", R), ("W", W), ("X", X)) if bits & b]
    if mbec and bits & XU:
        names.append("XU")
    return " ".join(names) or "none"


# -- exit qualification of an EPT violation (exit reason 48) --------------------------------------

QUALIFICATION = Layout("EPT-violation exit qualification", 64, (
    BitField("read", 0, 1, "The access causing the violation was a data read"),
    BitField("write", 1, 1, "The access causing the violation was a data write"),
    BitField("fetch", 2, 1, "The access causing the violation was an instruction fetch"),
    BitField("readable", 3, 1, "AND of bit 0 (R) of the EPT entries used"),
    BitField("writable", 4, 1, "AND of bit 1 (W) of the EPT entries used"),
    BitField("executable", 5, 1, "AND of bit 2 (X; supervisor-mode execute under MBEC) of the entries used"),
    BitField("user_executable", 6, 1, "MBEC on: AND of bit 10 (XU) of the entries used; otherwise undefined"),
    BitField("gla_valid", 7, 1, "The guest linear-address field is valid"),
    BitField("gla_translation", 8, 1,
             "If bit 7 = 1: 1 = access to the translation of a linear address, 0 = access to a guest "
             "paging-structure entry"),
    BitField("user_linear", 9, 1, "Advanced information (cap bit 22, bits 7 and 8 = 1): user-mode linear address"),
    BitField("writable_linear", 10, 1, "Advanced information: the linear address is writable in guest paging"),
    BitField("nx_linear", 11, 1, "Advanced information: the linear address is execute-disable in guest paging"),
    BitField("nmi_unblocking", 12, 1, "NMI unblocking due to IRET"),
    BitField("shadow_stack", 13, 1, "Shadow-stack access"),
    BitField("sss_page", 14, 1, "The leaf maps a supervisor shadow-stack page"),
))

Q_READ = QUALIFICATION["read"].mask
Q_WRITE = QUALIFICATION["write"].mask
Q_FETCH = QUALIFICATION["fetch"].mask
#: Bits 5:3 are bits 2:0 of the AND of the entries used, shifted left by 3.
Q_PERMISSION_SHIFT = QUALIFICATION["readable"].lsb
Q_USER_EXECUTABLE = QUALIFICATION["user_executable"].mask
Q_GLA_VALID = QUALIFICATION["gla_valid"].mask
Q_GLA_TRANSLATION = QUALIFICATION["gla_translation"].mask
Q_USER_LINEAR = QUALIFICATION["user_linear"].mask
Q_WRITABLE_LINEAR = QUALIFICATION["writable_linear"].mask
Q_NX_LINEAR = QUALIFICATION["nx_linear"].mask
Q_ADVANCED = Q_USER_LINEAR | Q_WRITABLE_LINEAR | Q_NX_LINEAR
Q_NMI_UNBLOCKING = QUALIFICATION["nmi_unblocking"].mask

#: Access kinds of an ``ept`` question and the qualification bit that names each.
ACCESSES: dict[str, int] = {"read": Q_READ, "write": Q_WRITE, "fetch": Q_FETCH}
