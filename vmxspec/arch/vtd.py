"""VT-d DMA-remapping facts as data: registers, table-entry formats, reserved bits, fault reasons.

Read with the Intel VT-d specification ("Intel Virtualization Technology for Directed I/O,
Architecture Specification"), chapters "DMA Remapping", "Address Translation Faults" and
"Translation Structure Formats", and the register descriptions "Capability Register", "Extended
Capability Register" and "Root Table Address Register". Where the specification is silent or
unclear to us, ``shared/reference/vtd.md`` records what QEMU, Linux and VirtualBox do.

Nothing here walks a table: the reference interpreter (``vmxspec.interp.vtd``), the table builder
(``vmxspec.build.vtd_tables``) and the symbolic encoder each apply these facts on their own.

Levels are numbered as the specification counts a walk: 5 = PML5E, 4 = PML4E, 3 = PDPE, 2 = PDE,
1 = PTE, for second-level (second-stage) and first-level (first-stage) tables alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from vmxspec.arch.bitfields import BitField, Layout, mask

# -- registers --------------------------------------------------------------------------------------

CAP = Layout("CAP_REG", 64, (
    BitField("nd", 0, 3, "Number of domains supported: 2^(4 + 2*ND) domain-ids"),
    BitField("afl", 3, 1, "Advanced fault logging"),
    BitField("rwbf", 4, 1, "Required write-buffer flushing"),
    BitField("plmr", 5, 1, "Protected low-memory region"),
    BitField("phmr", 6, 1, "Protected high-memory region"),
    BitField("cm", 7, 1, "Caching mode: not-present and erroneous entries may be cached"),
    BitField("sagaw", 8, 5, "Supported adjusted guest address widths: bit 1 = 39-bit (3-level), "
                            "bit 2 = 48-bit (4-level), bit 3 = 57-bit (5-level); bits 0 and 4 reserved"),
    BitField("mgaw", 16, 6, "Maximum guest address width, minus 1"),
    BitField("zlr", 22, 1, "Zero-length reads"),
    BitField("fro", 24, 10, "Fault-recording register offset / 16"),
    BitField("sllps", 34, 4, "Second-level large-page support: bit 0 (34) = 2 MiB, bit 1 (35) = 1 GiB"),
    BitField("psi", 39, 1, "Page-selective invalidation"),
    BitField("nfr", 40, 8, "Number of fault-recording registers, minus 1"),
    BitField("mamv", 48, 6, "Maximum address mask value"),
    BitField("dwd", 54, 1, "Write draining"),
    BitField("drd", 55, 1, "Read draining"),
    BitField("fl1gp", 56, 1, "First-level 1-GiB page support"),
    BitField("pi", 59, 1, "Posted interrupts"),
    BitField("fl5lp", 60, 1, "First-level 5-level paging support"),
    BitField("ecmds", 61, 1, "Enhanced command support"),
    BitField("esirtps", 62, 1, "Enhanced set interrupt remap table pointer support"),
    BitField("esrtps", 63, 1, "Enhanced set root table pointer support"),
))

ECAP = Layout("ECAP_REG", 64, (
    BitField("c", 0, 1, "Page-walk coherency"),
    BitField("qi", 1, 1, "Queued invalidation"),
    BitField("dt", 2, 1, "Device-TLB (ATS) support: legacy TT = 01b and scalable DTE need it"),
    BitField("ir", 3, 1, "Interrupt remapping"),
    BitField("eim", 4, 1, "Extended interrupt mode (x2APIC)"),
    BitField("pt", 6, 1, "Pass-through: legacy TT = 10b and PGTT = 100b need it"),
    BitField("sc", 7, 1, "Snoop control: makes bit 11 (SNP) of a legacy second-level leaf legal"),
    BitField("iro", 8, 10, "IOTLB register offset / 16"),
    BitField("mhmv", 20, 4, "Maximum handle mask value"),
    BitField("mts", 25, 1, "Memory type support"),
    BitField("nest", 26, 1, "Nested translation support (PGTT = 011b)"),
    BitField("prs", 29, 1, "Page request support"),
    BitField("ers", 30, 1, "Execute request support"),
    BitField("srs", 31, 1, "Supervisor request support"),
    BitField("nwfs", 33, 1, "No write flag support"),
    BitField("eafs", 34, 1, "Extended accessed flag support"),
    BitField("pss", 35, 5, "PASID size supported, minus 1"),
    BitField("pasid", 40, 1, "Process address space ID support"),
    BitField("dit", 41, 1, "Device-TLB invalidation throttle"),
    BitField("pds", 42, 1, "Page-request drain support"),
    BitField("smts", 43, 1, "Scalable-mode translation support"),
    BitField("vcs", 44, 1, "Virtual command support"),
    BitField("slads", 45, 1, "Second-level accessed/dirty support"),
    BitField("slts", 46, 1, "Second-level translation support (PGTT = 010b)"),
    BitField("flts", 47, 1, "First-level translation support (PGTT = 001b)"),
    BitField("smpwcs", 48, 1, "Scalable-mode page-walk coherency support"),
    BitField("rps", 49, 1, "RID_PASID support: without it requests-without-PASID use PASID 0"),
    BitField("adms", 52, 1, "Abort-DMA mode support (RTADDR_REG.TTM = 10b)"),
    BitField("rprivs", 53, 1, "RID_PRIV support"),
))

RTADDR = Layout("RTADDR_REG", 64, (
    BitField("ttm", 10, 2, "Translation table mode: 00 legacy, 01 scalable, 10 abort-DMA, 11 reserved"),
    BitField("rta", 12, 52, "Root table address (4-KiB aligned)"),
))


class Ttm(IntEnum):
    """RTADDR_REG.TTM, "Root Table Address Register"."""

    LEGACY = 0
    SCALABLE = 1
    ABORT_DMA = 2
    RESERVED = 3


# -- root entries (128 bits, indexed by bus) ------------------------------------------------------

ROOT_ENTRY_SIZE = 16
ROOT_LO = Layout("root entry (bits 63:0)", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("ctp", 12, 52, "Context-table pointer (bits HAW-1:12; 63:HAW reserved)"),
))
#: Legacy root entry: bits 11:1 of the low qword and all of the high qword are reserved.
ROOT_LO_RESERVED = mask(1, 11)
ROOT_HI_RESERVED = mask(0, 63)

SM_ROOT_HALF = Layout("scalable-mode root entry half", 64, (
    BitField("p", 0, 1, "Present (LP in bits 63:0 for devfn 0-127, UP in bits 127:64 for devfn 128-255)"),
    BitField("ctp", 12, 52, "Lower/upper context-table pointer (bits HAW-1:12; 63:HAW reserved)"),
))
SM_ROOT_HALF_RESERVED = mask(1, 11)


# -- legacy context entry (128 bits, indexed by devfn) --------------------------------------------

CONTEXT_ENTRY_SIZE = 16
CONTEXT_LO = Layout("context entry (bits 63:0)", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("fpd", 1, 1, "Fault processing disable (evaluated whatever P is)"),
    BitField("tt", 2, 2, "Translation type: 00 untranslated only, 01 all (device-TLB), 10 pass-through, "
                         "11 reserved"),
    BitField("slptptr", 12, 52, "Second-level page-table pointer (ignored with TT = 10b)"),
))
CONTEXT_HI = Layout("context entry (bits 127:64)", 64, (
    BitField("aw", 0, 3, "Address width: AGAW = 30 + 9*AW, levels = AW + 2"),
    BitField("avail", 3, 4, "Ignored (available to software)"),
    BitField("did", 8, 16, "Domain identifier"),
))
CONTEXT_LO_RESERVED = mask(4, 11)
CONTEXT_HI_RESERVED = (1 << 7) | mask(24, 63)


class TranslationType(IntEnum):
    """Legacy context-entry TT field ("Context Entry")."""

    UNTRANSLATED = 0
    ALL = 1
    PASS_THROUGH = 2
    RESERVED = 3


# -- scalable-mode context entry (256 bits, indexed by devfn & 0x7f) ------------------------------

SM_CONTEXT_ENTRY_SIZE = 32
SM_CONTEXT_0 = Layout("scalable-mode context entry (bits 63:0)", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("fpd", 1, 1, "Fault processing disable (evaluated whatever P is)"),
    BitField("dte", 2, 1, "Device-TLB enable (reserved without ECAP.DT)"),
    BitField("paside", 3, 1, "PASID enable: requests-with-PASID are allowed (reserved without ECAP.PASID)"),
    BitField("pre", 4, 1, "Page request enable (reserved without ECAP.PRS)"),
    BitField("pdts", 9, 3, "PASID directory size: 2^(PDTS + 7) entries"),
    BitField("pasiddirptr", 12, 52, "PASID directory pointer (bits HAW-1:12; 63:HAW reserved)"),
))
SM_CONTEXT_1 = Layout("scalable-mode context entry (bits 127:64)", 64, (
    BitField("rid_pasid", 0, 20, "PASID for requests-without-PASID (reserved without ECAP.RPS)"),
    BitField("rid_priv", 20, 1, "Privilege of requests-without-PASID (reserved without ECAP.RPRIVS)"),
))
SM_CONTEXT_0_RESERVED = mask(5, 8)
SM_CONTEXT_1_RESERVED = mask(21, 63)
#: Bits 255:128 are all reserved.
SM_CONTEXT_2_RESERVED = mask(0, 63)
SM_CONTEXT_3_RESERVED = mask(0, 63)


# -- PASID directory entry (64 bits, indexed by PASID[19:6]) --------------------------------------

PASID_DIR_ENTRY_SIZE = 8
PASID_DIR_ENTRY = Layout("scalable-mode PASID directory entry", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("fpd", 1, 1, "Fault processing disable"),
    BitField("smptblptr", 12, 52, "PASID table pointer (bits HAW-1:12; 63:HAW reserved)"),
))
PASID_DIR_RESERVED = mask(2, 11)
#: PASID bits 5:0 index the PASID table; bits 19:6 index the directory.
PASID_TABLE_INDEX_BITS = 6
PASID_BITS = 20


def pasid_dir_entries(pdts: int) -> int:
    """Entries in a PASID directory whose context entry has PDTS = ``pdts``: 2^(PDTS + 7)."""
    return 1 << (pdts + 7)


# -- PASID table entry (512 bits, indexed by PASID[5:0]) ------------------------------------------

PASID_ENTRY_SIZE = 64
PASID_ENTRY_0 = Layout("scalable-mode PASID table entry (bits 63:0)", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("fpd", 1, 1, "Fault processing disable"),
    BitField("aw", 2, 3, "Second-level address width: AGAW = 30 + 9*AW"),
    BitField("slee", 5, 1, "Second-level execute enable (reserved without ECAP.ERS)"),
    BitField("pgtt", 6, 3, "PASID-granular translation type: 001 first-level, 010 second-level, "
                           "011 nested, 100 pass-through"),
    BitField("slade", 9, 1, "Second-level accessed/dirty enable (reserved without ECAP.SLADS)"),
    BitField("slptptr", 12, 52, "Second-level page-table pointer"),
))
PASID_ENTRY_1 = Layout("scalable-mode PASID table entry (bits 127:64)", 64, (
    BitField("did", 0, 16, "Domain identifier"),
    BitField("pwsnp", 23, 1, "Page-walk snoop"),
    BitField("pgsnp", 24, 1, "Page snoop"),
    BitField("cd", 25, 1, "Cache disable (reserved without ECAP.MTS)"),
    BitField("emte", 26, 1, "Extended memory type enable (reserved without ECAP.MTS)"),
    BitField("emt", 27, 3, "Extended memory type (reserved without ECAP.MTS)"),
    BitField("pwt", 30, 1, "Page-level write-through (reserved without ECAP.MTS)"),
    BitField("pcd", 31, 1, "Page-level cache disable (reserved without ECAP.MTS)"),
    BitField("pat", 32, 32, "Page attribute table (reserved without ECAP.MTS)"),
))
PASID_ENTRY_2 = Layout("scalable-mode PASID table entry (bits 191:128)", 64, (
    BitField("sre", 0, 1, "Supervisor request enable (reserved without ECAP.SRS)"),
    BitField("ere", 1, 1, "Execute request enable (reserved without ECAP.ERS)"),
    BitField("flpm", 2, 2, "First-level paging mode: 00 4-level, 01 5-level, 1x reserved"),
    BitField("wpe", 4, 1, "Write protect enable (supervisor writes honour R/W)"),
    BitField("nxe", 5, 1, "No-execute enable (reserved without ECAP.ERS)"),
    BitField("smep", 6, 1, "Supervisor-mode execute prevention (reserved without ECAP.ERS)"),
    BitField("eafe", 7, 1, "Extended accessed flag enable (reserved without ECAP.EAFS)"),
    BitField("flptptr", 12, 52, "First-level page-table pointer"),
))
PASID_ENTRY_0_RESERVED = mask(10, 11)
PASID_ENTRY_1_RESERVED = mask(16, 22)
PASID_ENTRY_1_MTS_FIELDS = mask(25, 63)
PASID_ENTRY_2_RESERVED = mask(8, 11)
#: Bits 511:192 (qwords 3 to 7) are reserved.
PASID_ENTRY_UPPER_RESERVED = mask(0, 63)


class Pgtt(IntEnum):
    """PASID-table-entry PGTT field ("Scalable-Mode PASID Table Entry")."""

    FIRST_LEVEL = 1
    SECOND_LEVEL = 2
    NESTED = 3
    PASS_THROUGH = 4


PGTT_NAMES: dict[int, str] = {1: "first-level only", 2: "second-level only", 3: "nested", 4: "pass-through"}
#: The ECAP bit without which a PGTT value is invalid (all other values are reserved).
PGTT_CAPS: dict[int, BitField] = {Pgtt.FIRST_LEVEL: ECAP["flts"], Pgtt.SECOND_LEVEL: ECAP["slts"],
                                  Pgtt.NESTED: ECAP["nest"], Pgtt.PASS_THROUGH: ECAP["pt"]}


# -- paging-structure entries -----------------------------------------------------------------------

PAGE_4K = 1 << 12
PAGE_2M = 1 << 21
PAGE_1G = 1 << 30
PAGE_SIZE_BY_LEVEL: dict[int, int] = {1: PAGE_4K, 2: PAGE_2M, 3: PAGE_1G}
LEVEL_NAMES: dict[int, str] = {5: "PML5E", 4: "PML4E", 3: "PDPE", 2: "PDE", 1: "PTE"}
ENTRIES_PER_TABLE = 512


def index_shift(level: int) -> int:
    """Lowest input-address bit of the 9-bit index that selects an entry at ``level``."""
    return 12 + 9 * (level - 1)


SL_ENTRY = Layout("second-level paging entry", 64, (
    BitField("r", 0, 1, "Read"),
    BitField("w", 1, 1, "Write"),
    BitField("x", 2, 1, "Execute (used only with execute requests; ignored here)"),
    BitField("emt", 3, 3, "Extended memory type (leaf; ignored without ECAP.MTS)"),
    BitField("ipat", 6, 1, "Ignore PAT (leaf; ignored without ECAP.MTS)"),
    BitField("ps", 7, 1, "Page size (PDE, PDPE; reserved in PML4E/PML5E and where SLLPS lacks the size)"),
    BitField("a", 8, 1, "Accessed (set by hardware with SLADE/SSADE)"),
    BitField("d", 9, 1, "Dirty (leaf; set by hardware with SLADE/SSADE)"),
    BitField("snp", 11, 1, "Snoop (leaf; legal with ECAP.SC, ignored in scalable mode, else reserved)"),
    BitField("address", 12, 40, "Next table or page frame (bits HAW-1:12; 51:HAW reserved)"),
    BitField("tm", 62, 1, "Formerly transient mapping: reserved"),
))
SL_R = SL_ENTRY["r"].mask
SL_W = SL_ENTRY["w"].mask
SL_PS = SL_ENTRY["ps"].mask
SL_A = SL_ENTRY["a"].mask
SL_D = SL_ENTRY["d"].mask
SL_SNP = SL_ENTRY["snp"].mask
SL_TM = SL_ENTRY["tm"].mask

FL_ENTRY = Layout("first-level paging entry", 64, (
    BitField("p", 0, 1, "Present"),
    BitField("rw", 1, 1, "Read/write: 0 = writes are not allowed"),
    BitField("us", 2, 1, "User/supervisor: 0 = user-mode requests are not allowed"),
    BitField("pwt", 3, 1, "Page-level write-through"),
    BitField("pcd", 4, 1, "Page-level cache disable"),
    BitField("a", 5, 1, "Accessed"),
    BitField("d", 6, 1, "Dirty (leaf)"),
    BitField("ps", 7, 1, "Page size (PDE, PDPE; PAT in a PTE; reserved in PML4E/PML5E)"),
    BitField("g", 8, 1, "Global (leaf)"),
    BitField("ea", 10, 1, "Extended accessed (with EAFE)"),
    BitField("address", 12, 40, "Next table or page frame (bits HAW-1:12; 51:HAW reserved)"),
    BitField("xd", 63, 1, "Execute disable (execute requests are not modelled: ignored)"),
))
FL_P = FL_ENTRY["p"].mask
FL_RW = FL_ENTRY["rw"].mask
FL_US = FL_ENTRY["us"].mask
FL_A = FL_ENTRY["a"].mask
FL_D = FL_ENTRY["d"].mask
FL_PS = FL_ENTRY["ps"].mask
FL_EA = FL_ENTRY["ea"].mask


def above_haw(haw: int) -> int:
    """Bits 51:HAW, reserved in every paging entry (bits 63:52 are ignored or defined)."""
    return mask(haw, 51) if haw < 52 else 0


def pointer_above_haw(haw: int) -> int:
    """Bits 63:HAW of a table-pointer field, which the specification treats as reserved."""
    return mask(haw, 63) if haw < 64 else 0


def address_bits(haw: int, page_shift: int = 12) -> int:
    """Bits HAW-1:page_shift: where an entry holds an address of that alignment."""
    return mask(page_shift, haw - 1)


def sl_reserved(level: int, leaf: bool, haw: int, *, snoop_legal: bool) -> int:
    """Every bit that must be 0 in a second-level entry with R or W set, page-size support aside.

    "Second-Level Paging Entries": bits 51:HAW and 62 everywhere; bit 11 outside a leaf, and in a
    leaf unless snoop control makes it the SNP bit; bit 7 in a PML5E/PML4E; bits 20:12 of a 2-MiB
    leaf and 29:12 of a 1-GiB leaf (the frame must be aligned to the page).
    """
    rsvd = above_haw(haw) | SL_TM
    if not leaf or not snoop_legal:
        rsvd |= SL_SNP
    if level >= 4:
        rsvd |= SL_PS
    if leaf and level == 2:
        rsvd |= mask(12, 20)
    elif leaf and level == 3:
        rsvd |= mask(12, 29)
    return rsvd


def fl_reserved(level: int, leaf: bool, haw: int) -> int:
    """Every bit that must be 0 in a present first-level entry, page-size support aside.

    "First-Level Paging Entries" (IA-32e paging formats): bits 51:HAW everywhere; bit 7 (PS) in a
    PML5E/PML4E; bits 20:13 of a 2-MiB leaf and 29:13 of a 1-GiB leaf (bit 12 is PAT there).
    """
    rsvd = above_haw(haw)
    if level >= 4:
        rsvd |= FL_PS
    if leaf and level == 2:
        rsvd |= mask(13, 20)
    elif leaf and level == 3:
        rsvd |= mask(13, 29)
    return rsvd


#: SLLPS bit that allows a second-level leaf at each level (CAP_REG bits 34 and 35).
SLLPS_BIT_BY_LEVEL: dict[int, int] = {2: 0, 3: 1}


def agaw_bits(aw: int) -> int:
    """The adjusted guest address width an AW field selects: 30 + 9*AW (39, 48, 57)."""
    return 30 + 9 * aw


def aw_levels(aw: int) -> int:
    """Page-table levels an AW field selects: AW + 2."""
    return aw + 2


#: AW values the specification defines (SAGAW bits 0 and 4 are reserved).
VALID_AW = (1, 2, 3)


# -- the interrupt address range --------------------------------------------------------------------

#: "Handling Requests to Interrupt Address Range": 0xFEEx_xxxx.
INTERRUPT_RANGE_BASE = 0xFEE0_0000
INTERRUPT_RANGE_LAST = 0xFEEF_FFFF


def in_interrupt_range(address: int) -> bool:
    return INTERRUPT_RANGE_BASE <= address <= INTERRUPT_RANGE_LAST


# -- fault reasons ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FaultReason:
    """One fault reason: the FRCD_REG.FR value, the specification's condition code(s), its name and
    whether it is *qualified* (fault processing disable suppresses its recording)."""

    code: int
    conditions: str
    name: str
    qualified: bool

    @property
    def hex(self) -> str:
        return f"{self.code:#x}"


def _f(code: int, conditions: str, name: str, qualified: bool) -> FaultReason:
    return FaultReason(code, conditions, name, qualified)


#: The DMA-remapping fault reasons. Numbers and condition codes: VirtualBox ``VTDATFAULT``
#: (``include/VBox/iommu-intel.h``); names: Linux ``dma_remap_fault_reasons`` and
#: ``dma_remap_sm_fault_reasons`` (``drivers/iommu/intel/dmar.c``), except 0x3, 0x4, 0xC, 0xD, 0xE and
#: 0x91, which Linux names tersely or not at all (0x91 after QEMU ``VTD_FR_FS_BIT_UPDATE_FAILED``); qualified: QEMU
#: ``vtd_qualified_faults`` for the codes it knows, and by the same rule (faults found before an
#: FPD bit could be read, or in the entry that holds it, are never suppressed) for the rest.
FAULT_REASONS: tuple[FaultReason, ...] = (
    _f(0x1, "LRT.2", "Present bit in root entry is clear", False),
    _f(0x2, "LCT.2", "Present bit in context entry is clear", True),
    _f(0x3, "LCT.4.1-LCT.4.3", "Invalid context entry (AW, TT, or second-level table pointer)", True),
    _f(0x4, "LGN.1.1-LGN.1.3", "Access beyond MGAW (or the context entry's AGAW)", True),
    _f(0x5, "LGN.2", "PTE Write access is not set", True),
    _f(0x6, "LGN.3", "PTE Read access is not set", True),
    _f(0x7, "LSL.1", "Next page table ptr is invalid", True),
    _f(0x8, "LRT.1", "Root table address invalid", False),
    _f(0x9, "LCT.1", "Context table ptr is invalid", False),
    _f(0xA, "LRT.3", "Non-zero reserved fields in root entry", False),
    _f(0xB, "LCT.3", "Non-zero reserved fields in context entry", False),
    _f(0xC, "LSL.2", "Non-zero reserved fields in second-level paging entry", True),
    _f(0xD, "LCT.5", "Translation type blocks a translation or translated request", True),
    _f(0xE, "LGN.4", "Output address in the interrupt address range", True),
    _f(0x30, "RTA.1.1-RTA.1.3", "SM: Invalid Root Table Address (TTM)", False),
    _f(0x31, "RTA.2", "SM: TTM 0 for request with PASID", False),
    _f(0x32, "RTA.3", "SM: TTM 0 for page group request", False),
    _f(0x38, "SRT.1", "SM: Error attempting to access Root Entry", False),
    _f(0x39, "SRT.2", "SM: Present bit in Root Entry is clear", False),
    _f(0x3A, "SRT.3", "SM: Non-zero reserved field set in Root Entry", False),
    _f(0x40, "SCT.1", "SM: Error attempting to access Context Entry", False),
    _f(0x41, "SCT.2", "SM: Present bit in Context Entry is clear", True),
    _f(0x42, "SCT.3", "SM: Non-zero reserved field set in the Context Entry", False),
    _f(0x43, "SCT.4.1-SCT.4.2", "SM: Invalid Context Entry", True),
    _f(0x44, "SCT.5", "SM: DTE field in Context Entry is clear", True),
    _f(0x45, "SCT.6", "SM: PASID Enable field in Context Entry is clear", True),
    _f(0x46, "SCT.7", "SM: PASID is larger than the max in Context Entry", True),
    _f(0x47, "SCT.8", "SM: PRE field in Context-Entry is clear", True),
    _f(0x48, "SCT.9", "SM: RID_PASID field error in Context-Entry", True),
    _f(0x50, "SPD.1", "SM: Error attempting to access the PASID Directory Entry", False),
    _f(0x51, "SPD.2", "SM: Present bit in Directory Entry is clear", True),
    _f(0x52, "SPD.3", "SM: Non-zero reserved field set in PASID Directory Entry", False),
    _f(0x58, "SPT.1", "SM: Error attempting to access PASID Table Entry", False),
    _f(0x59, "SPT.2", "SM: Present bit in PASID Table Entry is clear", True),
    _f(0x5A, "SPT.3", "SM: Non-zero reserved field set in PASID Table Entry", False),
    _f(0x5B, "SPT.4.1-SPT.4.4", "SM: Invalid Scalable-Mode PASID Table Entry", True),
    _f(0x5C, "SPT.5", "SM: ERE field is clear in PASID Table Entry", True),
    _f(0x5D, "SPT.6", "SM: SRE field is clear in PASID Table Entry", True),
    _f(0x70, "SFL.1", "SM: Error attempting to access first-level paging entry", True),
    _f(0x71, "SFL.2", "SM: Present bit in first-level paging entry is clear", True),
    _f(0x72, "SFL.3", "SM: Non-zero reserved field set in first-level paging entry", True),
    _f(0x73, "SFL.4", "SM: Error attempting to access FL-PML4 entry", True),
    _f(0x74, "SFL.5", "SM: First-level entry address beyond MGAW in Nested translation", True),
    _f(0x75, "SFL.6", "SM: Read permission error in FL-PML4 entry in Nested translation", True),
    _f(0x76, "SFL.7", "SM: Read permission error in first-level paging entry in Nested translation", True),
    _f(0x77, "SFL.8", "SM: Write permission error in first-level paging entry in Nested translation", True),
    _f(0x78, "SSL.1", "SM: Error attempting to access second-level paging entry", True),
    _f(0x79, "SSL.2", "SM: Read/Write permission error in second-level paging entry", True),
    _f(0x7A, "SSL.3", "SM: Non-zero reserved field set in second-level paging entry", True),
    _f(0x7B, "SSL.4", "SM: Invalid second-level page table pointer", True),
    _f(0x7C, "SSL.5", "SM: A/D bit update needed in second-level entry when set up in no snoop", True),
    _f(0x80, "SGN.1", "SM: Address in first-level translation is not canonical", True),
    _f(0x81, "SGN.2", "SM: U/S set 0 for first-level translation with user privilege", True),
    _f(0x82, "SGN.3", "SM: No execute permission for request with PASID and ER=1", True),
    _f(0x83, "SGN.4.1-SGN.4.2", "SM: Address beyond the DMA hardware max", True),
    _f(0x84, "SGN.5", "SM: Second-level entry address beyond the max", True),
    _f(0x85, "SGN.6", "SM: No write permission for Write/AtomicOp request", True),
    _f(0x86, "SGN.7", "SM: No read permission for Read/AtomicOp request", True),
    _f(0x87, "SGN.8", "SM: Invalid address-interrupt address range", True),
    _f(0x90, "SFL.9", "SM: A/D bit update needed in first-level entry when set up in no snoop", True),
    _f(0x91, "SFL.10", "SM: First-level accessed/dirty flag update failed", True),
)
FAULT_BY_CODE: dict[int, FaultReason] = {f.code: f for f in FAULT_REASONS}


def fault_name(code: int) -> str:
    reason = FAULT_BY_CODE.get(code)
    return reason.name if reason else "Unknown"


def is_qualified(code: int) -> bool:
    reason = FAULT_BY_CODE.get(code)
    return bool(reason and reason.qualified)
