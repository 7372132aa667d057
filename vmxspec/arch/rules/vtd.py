"""Rules: VT-d DMA remapping, one per decision the reference interpreter can take.

Each rule names the VT-d specification section whose text it restates and the fault reason the
specification's fault-condition table ("Fault Conditions and Remapping Hardware Behavior for Various
Requests") assigns to it. ``FAULT_OF`` maps a rule id to that fault reason; rules whose outcome is
not a fault (a pass-through translation, an interrupt request, a blocked request) map to None.

Implementation locations were read with the search tool in QEMU (``hw/i386/intel_iommu.c``),
VirtualBox (``src/VBox/Devices/Bus/DevIommuIntel.cpp``) and Linux (``drivers/iommu/intel/``); the
``divergence`` text says where an implementation departs from the specification, following
``shared/reference/vtd.md``.
"""

from __future__ import annotations

from vmxspec.arch.rules import Rule, Stage

S_UNIT = "DMA Remapping Hardware Unit Definition Structure"
S_INTR = "Handling Requests to Interrupt Address Range"
S_RTADDR = "Root Table Address Register"
S_ROOT = "Root Entry"
S_SM_ROOT = "Scalable-Mode Root Entry"
S_CTX = "Context Entry"
S_SM_CTX = "Scalable-Mode Context Entry"
S_PDIR = "Scalable-Mode PASID Directory Entry"
S_PASID = "Scalable-Mode PASID Table Entry"
S_SL = "Second-Level Paging Entries"
S_FL = "First-Level Paging Entries"
S_SL_TRANS = "Second-Level Translation"
S_FL_TRANS = "First-Level Translation"
S_NESTED = "Nested Translation"
S_FAULTS = "Fault Conditions and Remapping Hardware Behavior for Various Requests"
S_FPD = "Non-Recoverable Address Translation Faults"
S_ATS = "Handling of Translated Requests"

_QEMU = "QEMU"
_VBOX = "VirtualBox"
_LINUX = "Linux"
_Q = "hw/i386/intel_iommu.c:"
_V = "DevIommuIntel.cpp:"

#: Rule id -> fault reason (FRCD_REG.FR) it reports, or None for outcomes that are not faults.
FAULT_OF: dict[str, int | None] = {}


def _r(id: str, section: str, fault: int | None, condition: str, *, qemu: str = "", vbox: str = "",
       linux: str = "", divergence: str = "", tags: tuple[str, ...] = ()) -> Rule:
    impls = tuple((who, where) for who, where in ((_QEMU, qemu), (_VBOX, vbox), (_LINUX, linux)) if where)
    FAULT_OF[id] = fault
    extra = (f"fault:{fault:#x}",) if fault is not None else ()
    return Rule(id, Stage.DMA, section, condition, (), (), impls, divergence, 0, frozenset((*tags, *extra)))


_LEGACY = ("legacy",)
_SM = ("scalable",)
_BOTH = ("legacy", "scalable")

RULES: tuple[Rule, ...] = (
    # -- which unit, and requests that are not DMA --------------------------------------------------
    _r("DMA-UNIT-SELECT", S_UNIT, None,
       "A request is remapped by the unit of its PCI segment whose device scope lists its source-id; a "
       "unit with an empty scope is the segment's INCLUDE_PCI_ALL unit and takes every device no other "
       "unit lists. A device that no unit covers is not remapped: its DMA reaches host-physical address "
       "= IOVA.",
       linux="drivers/iommu/intel/dmar.c:dmar_find_matched_drhd_unit", tags=_BOTH),
    _r("DMA-INTR-WINDOW", S_INTR, None,
       "An untranslated request without PASID to 0xFEEx_xxxx is an interrupt request, not DMA: it is "
       "never DMA-remapped (whatever the tables map there) and goes to interrupt remapping instead.",
       qemu=_Q + "vtd_find_add_as (interrupt-remapping region overlays 0xFEE00000)", tags=_BOTH),
    _r("DMA-FPD", S_FPD, None,
       "A qualified fault on a request processed through a context, PASID-directory or PASID-table "
       "entry whose FPD bit is 1 is not recorded or reported; the request is still blocked. FPD is "
       "evaluated whatever the entry's present bit is. Non-qualified faults (table access errors, "
       "reserved bits in root, context, PASID-directory and PASID-table entries, root-entry present) "
       "are always recorded.",
       qemu=_Q + "vtd_qualified_faults, vtd_report_fault", vbox=_V + "dmarAtFaultRecord",
       divergence="QEMU looks FPD up through the request's PASID without checking that PASID "
                  "entry's present bit.", tags=_BOTH),
    # -- the root-table address register ------------------------------------------------------------
    _r("DMA-RTADDR-TTM", S_RTADDR, 0x30,
       "RTADDR_REG.TTM must be 00b (legacy), 01b (scalable; needs ECAP.SMTS) or 10b (abort-DMA; needs "
       "ECAP.ADMS). 11b, or a mode the unit does not support, faults every request (RTA.1).",
       vbox=_V + "dmarDrMemReqRemap",
       divergence="QEMU decodes only bit 10 (SMT) and only when built for scalable mode; it never "
                  "raises 0x30.", tags=_BOTH),
    _r("DMA-ABORT-MODE", S_RTADDR, None,
       "With RTADDR_REG.TTM = 10b (abort-DMA mode, ECAP.ADMS = 1) every DMA request is blocked "
       "without walking any table and without a fault record.",
       vbox=_V + "dmarDrMemReqRemap (dmarDrTargetAbort)", tags=_BOTH),
    _r("DMA-PASID-LEGACY", S_FAULTS, 0x31,
       "A request-with-PASID in legacy mode (TTM = 00b) is blocked with fault RTA.2.",
       linux="drivers/iommu/intel/dmar.c:dma_remap_sm_fault_reasons (\"SM: TTM 0 for request with "
             "PASID\")", tags=_LEGACY),
    # -- legacy mode --------------------------------------------------------------------------------
    _r("DMA-ROOT-ACCESS", S_FAULTS, 0x8,
       "The root table is read at RTADDR_REG.RTA + 16 * bus; an RTA with bits at or above the host "
       "address width cannot be accessed (LRT.1).",
       qemu=_Q + "vtd_get_root_entry", vbox=_V + "dmarDrReadRootEntry",
       divergence="QEMU masks RTADDR to the host address width when it is set "
                  "(vtd_root_table_setup), so it never sees such an address.", tags=_LEGACY),
    _r("DMA-ROOT-NOT-PRESENT", S_ROOT, 0x1,
       "The root entry selected by the bus number must be present (bit 0); otherwise LRT.2. The "
       "present bit is checked before the reserved bits.",
       qemu=_Q + "vtd_root_entry_present", vbox=_V + "dmarDrLegacyModeRemapAddr",
       linux="drivers/iommu/intel/iommu.h:struct root_entry", tags=_LEGACY),
    _r("DMA-ROOT-RSVD", S_ROOT, 0xA,
       "A present root entry must have bits 11:1, the context-table-pointer bits 63:HAW and all of "
       "bits 127:64 zero (LRT.3).",
       qemu=_Q + "vtd_root_entry_rsvd_bits_check", vbox=_V + "dmarDrLegacyModeRemapAddr",
       divergence="VirtualBox does not treat pointer bits at or above HAW as reserved.", tags=_LEGACY),
    _r("DMA-CTX-NOT-PRESENT", S_CTX, 0x2,
       "The context entry selected by devfn in the root entry's context table must be present; "
       "otherwise LCT.2 (qualified: the entry's FPD bit counts even though P is 0).",
       qemu=_Q + "vtd_ce_present", vbox=_V + "dmarDrLegacyModeRemapAddr", tags=_LEGACY),
    _r("DMA-CTX-RSVD", S_CTX, 0xB,
       "A present context entry must have bits 11:4, bit 71, bits 127:88 and (unless TT = 10b, where "
       "the second-level pointer is ignored) the pointer bits 63:HAW zero (LCT.3).",
       qemu=_Q + "vtd_context_entry_rsvd_bits_check", vbox=_V + "dmarDrLegacyModeRemapAddr",
       divergence="QEMU checks the pointer bits 63:HAW even with TT = 10b; VirtualBox never checks "
                  "them.", tags=_LEGACY),
    _r("DMA-CTX-TT", S_CTX, 0x3,
       "TT must be 00b, 01b with ECAP.DT = 1, or 10b with ECAP.PT = 1; 11b or an unsupported type is "
       "invalid programming (LCT.4.2).",
       qemu=_Q + "vtd_ce_type_check", vbox=_V + "dmarDrLegacyModeRemapAddr",
       divergence="QEMU checks AW against SAGAW before TT.", tags=_LEGACY),
    _r("DMA-CTX-AT-BLOCKED", S_CTX, 0xD,
       "A translated (ATS) request is allowed only through a context entry with TT = 01b; with TT = "
       "00b or 10b it is blocked (LCT.5).",
       vbox=_V + "dmarDrLegacyModeRemapAddr (kDmarDiag_At_Lm_Ut_At_Block, At_Lm_Pt_At_Block)",
       divergence="QEMU's DMA path has no address-type field and never raises 0xD.", tags=_LEGACY),
    _r("DMA-CTX-AW", S_CTX, 0x3,
       "With TT = 00b or 01b, AW must be 1, 2 or 3 (39-, 48-, 57-bit; 3-, 4-, 5-level tables) and "
       "SAGAW must report it; otherwise LCT.4.1.",
       qemu=_Q + "vtd_is_sl_level_supported, vtd_ce_get_level", vbox=_V + "dmarDrLegacyModeIsAwValid",
       tags=_LEGACY),
    _r("DMA-PT-AW", S_CTX, 0x4,
       "With TT = 10b (pass-through) AW must be the largest AGAW that SAGAW reports; otherwise the "
       "request is blocked as an address-width fault (LGN.1.3).",
       vbox=_V + "dmarDrLegacyModeIsAwValid",
       linux="drivers/iommu/intel/iommu.c:context_setup_pass_through (programs iommu->msagaw)",
       divergence="QEMU accepts any AW that SAGAW reports for pass-through and faults 0x3 for one it "
                  "does not.", tags=_LEGACY),
    _r("DMA-PT", S_CTX, None,
       "An untranslated request through a context entry with TT = 10b is passed through: host-physical "
       "address = IOVA, read and write allowed, no table walk.",
       qemu=_Q + "vtd_dev_pt_enabled", vbox=_V + "dmarDrLegacyModeRemapAddr",
       linux="drivers/iommu/intel/iommu.c:context_setup_pass_through", tags=_LEGACY),
    _r("DMA-ADDR-WIDTH", S_FAULTS, 0x4,
       "The input address of an untranslated request must be below 2^X, X = min(MGAW + 1, the "
       "context entry's AGAW); otherwise LGN.1.",
       qemu=_Q + "vtd_iova_sl_range_check", vbox=_V + "dmarDrSecondLevelTranslate",
       divergence="QEMU skips the check for pass-through; VirtualBox compares against MGAW only.",
       tags=_LEGACY),
    _r("DMA-SL-READ", S_SL, 0x6,
       "A read request needs R = 1 in every second-level entry of the walk (a non-present entry, R = W "
       "= 0, lacks it); checked at each level before the reserved bits (LGN.3).",
       qemu=_Q + "vtd_iova_to_slpte", vbox=_V + "dmarDrSecondLevelTranslate",
       linux="drivers/iommu/intel/dmar.c:dma_remap_fault_reasons (\"PTE Read access is not set\")",
       divergence="VirtualBox reports a non-present entry (R = W = 0) as 0xC.", tags=_LEGACY),
    _r("DMA-SL-WRITE", S_SL, 0x5,
       "A write request needs W = 1 in every second-level entry of the walk; checked at each level "
       "before the reserved bits (LGN.2).",
       qemu=_Q + "vtd_iova_to_slpte", vbox=_V + "dmarDrSecondLevelTranslate",
       linux="drivers/iommu/intel/dmar.c:dma_remap_fault_reasons (\"PTE Write access is not set\")",
       divergence="VirtualBox reports a write to an R = 1, W = 0 entry as read-denied 0x6, and a "
                  "non-present entry as 0xC.", tags=_LEGACY),
    _r("DMA-SL-RSVD", S_SL, 0xC,
       "An entry with R or W set must have its reserved bits zero: 51:HAW and 62 everywhere; 11 except "
       "as SNP in a leaf with ECAP.SC; 7 (PS) in a PML5E/PML4E and in a PDE/PDPE whose page size "
       "SLLPS does not report; 20:12 of a 2-MiB and 29:12 of a 1-GiB leaf (LSL.2).",
       qemu=_Q + "vtd_slpte_nonzero_rsvd", vbox=_V + "dmarDrSecondLevelTranslate",
       divergence="QEMU never checks SLLPS; VirtualBox checks neither HAW nor the low address bits of "
                  "large leaves.", tags=_LEGACY),
    _r("DMA-OUT-INTR", S_INTR, 0xE,
       "An untranslated request whose translated address falls in 0xFEE00000-0xFEEFFFFF is blocked "
       "(LGN.4).",
       qemu=_Q + "vtd_do_iommu_translate", vbox=_V + "dmarDrUpdateIoPageOut",
       divergence="QEMU faults when any part of the page overlaps the range (a 1-GiB page at "
                  "0xC0000000 faults everywhere); VirtualBox checks the page base only; the "
                  "specification speaks of the resulting address, which is what is checked here. "
                  "Linux's fault-reason table has no name for 0xE.", tags=_LEGACY),
    _r("DMA-ATS-TRANSLATED", S_ATS, None,
       "A translated request allowed by the context entry (TT = 01b, or DTE = 1 in scalable mode) is "
       "not translated again: its address is the host-physical address.",
       vbox=_V + "dmarDrLegacyModeRemapAddr", tags=_BOTH),
    _r("DMA-ATS-INTR", S_INTR, None,
       "A translated request to the interrupt address range is treated as an Unsupported Request: "
       "blocked, with no fault record.", tags=_BOTH),
    # -- scalable mode ------------------------------------------------------------------------------
    _r("DMA-SM-ROOT-ACCESS", S_FAULTS, 0x38,
       "In scalable mode the root table is read at RTADDR_REG.RTA + 16 * bus; an RTA at or above the "
       "host address width cannot be accessed (SRT.1).",
       divergence="QEMU masks RTADDR to the host address width.", tags=_SM),
    _r("DMA-SM-ROOT-NOT-PRESENT", S_SM_ROOT, 0x39,
       "The half of the scalable-mode root entry that covers the devfn (lower: 0-127, bit 0; upper: "
       "128-255, bit 64) must be present (SRT.2).",
       qemu=_Q + "vtd_root_entry_present",
       divergence="QEMU reports 0x1, the legacy code.", tags=_SM),
    _r("DMA-SM-ROOT-RSVD", S_SM_ROOT, 0x3A,
       "The half used must have bits 11:1 and pointer bits 63:HAW zero (SRT.3).",
       qemu=_Q + "vtd_root_entry_rsvd_bits_check",
       divergence="QEMU reports 0xA and checks both halves, whichever one the devfn uses.", tags=_SM),
    _r("DMA-SM-CTX-NOT-PRESENT", S_SM_CTX, 0x41,
       "The 256-bit context entry at index devfn & 0x7F of the lower or upper context table must be "
       "present (SCT.2, qualified).",
       qemu=_Q + "vtd_ce_present", divergence="QEMU reports 0x2, the legacy code.", tags=_SM),
    _r("DMA-SM-CTX-RSVD", S_SM_CTX, 0x42,
       "A present scalable-mode context entry must have bits 8:5, pointer bits 63:HAW, 127:85 and "
       "255:128 zero, and DTE, PASIDE, PRE, RID_PASID and RID_PRIV zero unless ECAP reports DT, PASID, "
       "PRS, RPS and RPRIVS (SCT.3).",
       qemu=_Q + "vtd_context_entry_rsvd_bits_check",
       divergence="QEMU reports 0xB and does not tie DTE, PASIDE, PRE, RID_PASID or RID_PRIV to the "
                  "capabilities.", tags=_SM),
    _r("DMA-SM-CTX-DTE", S_SM_CTX, 0x44,
       "A translated request needs DTE = 1 in the scalable-mode context entry (SCT.5).",
       linux="drivers/iommu/intel/dmar.c:dma_remap_sm_fault_reasons",
       divergence="QEMU never raises 0x44.", tags=_SM),
    _r("DMA-SM-CTX-PASIDE", S_SM_CTX, 0x45,
       "A request-with-PASID needs PASIDE = 1 in the scalable-mode context entry (SCT.6).",
       linux="drivers/iommu/intel/pasid.h:is_pasid_enabled",
       divergence="QEMU never raises 0x45.", tags=_SM),
    _r("DMA-SM-PASID-RANGE", S_SM_CTX, 0x46,
       "The PASID of a request-with-PASID must index inside the PASID directory: PASID < 2^(PDTS + 13) "
       "(SCT.7).",
       linux="drivers/iommu/intel/pasid.h:get_pasid_dir_size",
       divergence="QEMU never raises 0x46.", tags=_SM),
    _r("DMA-SM-RID-PASID", S_SM_CTX, 0x48,
       "Requests-without-PASID use RID_PASID (PASID 0 without ECAP.RPS); it must index inside the "
       "PASID directory, RID_PASID < 2^(PDTS + 13) (SCT.9).",
       qemu=_Q + "VTD_CE_GET_RID2PASID",
       divergence="QEMU never raises 0x48 and uses RID_PASID whatever ECAP.RPS says.", tags=_SM),
    _r("DMA-SM-PDIR-NOT-PRESENT", S_PDIR, 0x51,
       "The PASID-directory entry at index PASID[19:6] must be present (SPD.2, qualified).",
       qemu=_Q + "vtd_get_pe_from_pasid_table", linux="drivers/iommu/intel/pasid.h:pasid_pde_is_present",
       tags=_SM),
    _r("DMA-SM-PDIR-RSVD", S_PDIR, 0x52,
       "A present PASID-directory entry must have bits 11:2 and pointer bits 63:HAW zero (SPD.3).",
       divergence="QEMU never raises 0x52.", tags=_SM),
    _r("DMA-SM-PASID-NOT-PRESENT", S_PASID, 0x59,
       "The PASID-table entry at index PASID[5:0] must be present (SPT.2). Present is checked before "
       "reserved bits and before the programming checks.",
       qemu=_Q + "vtd_get_pe_in_pasid_leaf_table",
       divergence="QEMU checks PGTT and the level before the present bit (an all-zero entry gives "
                  "0x5B), and for requests-with-PASID never checks the present bit at all.", tags=_SM),
    _r("DMA-SM-PASID-RSVD", S_PASID, 0x5A,
       "A present PASID-table entry must have bits 11:10, 86:80, 139:136 and 511:192 zero, pointer "
       "bits 63:HAW of the second-level (PGTT 010b, 011b) and first-level (001b, 011b) pointers zero, "
       "and fields tied to capabilities the unit lacks zero: SLEE, ERE, NXE, SMEP (ECAP.ERS), SLADE "
       "(SLADS), SRE (SRS), EAFE (EAFS), bits 127:89 (MTS) (SPT.3).",
       divergence="QEMU never raises 0x5A.", tags=_SM),
    _r("DMA-SM-PASID-PGTT", S_PASID, 0x5B,
       "PGTT must be 001b (needs ECAP.FLTS), 010b (SLTS), 011b (NEST) or 100b (PT); other values are "
       "invalid programming (SPT.4).",
       qemu=_Q + "vtd_pe_type_check", linux="drivers/iommu/intel/pasid.h:PASID_ENTRY_PGTT_*",
       divergence="QEMU treats nested (011b) as always invalid.", tags=_SM),
    _r("DMA-SM-PASID-AW", S_PASID, 0x5B,
       "With PGTT 010b or 011b, AW must be 1, 2 or 3 and reported by SAGAW (SPT.4).",
       qemu=_Q + "vtd_is_sl_level_supported", tags=_SM),
    _r("DMA-SM-PASID-FLPM", S_PASID, 0x5B,
       "With PGTT 001b or 011b, FLPM must be 00b (4-level) or 01b (5-level, needs CAP.FL5LP) (SPT.4).",
       qemu=_Q + "vtd_is_fl_level_supported",
       divergence="QEMU accepts only 4-level first-level tables.", tags=_SM),
    _r("DMA-SM-PASID-SRE", S_PASID, 0x5D,
       "A supervisor request (RID_PRIV = 1 for requests-without-PASID, or a privileged request-with-"
       "PASID) needs SRE = 1 in the PASID-table entry (SPT.6).",
       linux="drivers/iommu/intel/dmar.c:dma_remap_sm_fault_reasons", tags=_SM),
    _r("DMA-SM-PT", S_PASID, None,
       "With PGTT = 100b the request is passed through: host-physical address = IOVA, read and write "
       "allowed.",
       qemu=_Q + "vtd_dev_pt_enabled", linux="drivers/iommu/intel/pasid.h:PASID_ENTRY_PGTT_PT", tags=_SM),
    _r("DMA-SM-PT-ADDR", S_FAULTS, 0x83,
       "A pass-through (PGTT = 100b) request must address below 2^HAW (SGN.4, address beyond the "
       "hardware maximum). This row is our reading of the specification's SGN.4 condition.",
       divergence="QEMU performs no width check for pass-through.", tags=(*_SM, "interpretation")),
    _r("DMA-SM-ADDR-WIDTH", S_FAULTS, 0x84,
       "With PGTT = 010b the input address (with 011b, the first-level output) must be below 2^X, X = "
       "min(MGAW + 1, the PASID entry's AGAW) (SGN.5).",
       qemu=_Q + "vtd_iova_sl_range_check", vbox=_V + "dmarAtFaultRecord (At_Xm_AddrIn_Invalid -> SGN.5)",
       divergence="QEMU reports 0x4, the legacy code.", tags=_SM),
    _r("DMA-SM-SL-NOT-PRESENT", S_SL, 0x79,
       "In scalable mode a second-level entry with R = W = 0 is not present (SSL.2).",
       vbox=_V + "dmarAtFaultRecord (At_Xm_Pte_Not_Present -> SSL.2)",
       divergence="QEMU reports 0x6 or 0x5.", tags=_SM),
    _r("DMA-SM-SL-READ", S_SL, 0x86,
       "In scalable mode a read request needs R = 1 in every second-level entry (SGN.7).",
       vbox=_V + "dmarAtFaultRecord (At_Xm_Perm_Read_Denied -> SGN.7)",
       divergence="QEMU reports 0x6, the legacy code.", tags=_SM),
    _r("DMA-SM-SL-WRITE", S_SL, 0x85,
       "In scalable mode a write request needs W = 1 in every second-level entry (SGN.6).",
       vbox=_V + "dmarAtFaultRecord (At_Xm_Perm_Write_Denied -> SGN.6)",
       divergence="QEMU reports 0x5, the legacy code.", tags=_SM),
    _r("DMA-SM-SL-RSVD", S_SL, 0x7A,
       "In scalable mode a second-level entry with R or W set must have its reserved bits zero, as in "
       "legacy mode except that bit 11 of a leaf is ignored (SSL.3).",
       qemu=_Q + "vtd_slpte_nonzero_rsvd", vbox=_V + "dmarAtFaultRecord (At_Xm_Pte_Sllps_Invalid -> SSL.3)",
       divergence="QEMU reports 0xC, the legacy code; VirtualBox maps reserved bits to SSL.2.", tags=_SM),
    _r("DMA-FL-CANONICAL", S_FL_TRANS, 0x80,
       "First-level translation needs a canonical input address: bits 63:47 (4-level) or 63:56 "
       "(5-level) all equal (SGN.1).",
       qemu=_Q + "vtd_iova_fl_check_canonical",
       divergence="QEMU also limits the address to 2^min(AGAW, aw-bits).", tags=_SM),
    _r("DMA-FL-NOT-PRESENT", S_FL, 0x71,
       "Every first-level entry of the walk must be present (SFL.2).",
       qemu=_Q + "vtd_iova_to_flpte", tags=_SM),
    _r("DMA-FL-RSVD", S_FL, 0x72,
       "A present first-level entry must have bits 51:HAW zero, PS zero in a PML5E/PML4E and in a PDPE "
       "without CAP.FL1GP, and bits 20:13 (2-MiB leaf) or 29:13 (1-GiB leaf) zero (SFL.3).",
       qemu=_Q + "vtd_flpte_nonzero_rsvd", tags=_SM),
    _r("DMA-FL-USER", S_FL, 0x81,
       "A user-mode request needs U/S = 1 in every first-level entry of the walk; the rights are "
       "combined over the walk and checked once it has reached the page (SGN.2).",
       qemu=_Q + "vtd_iova_to_flpte",
       divergence="QEMU checks U/S level by level, before the reserved bits of the same entry.", tags=_SM),
    _r("DMA-FL-WRITE", S_FL, 0x85,
       "A write needs R/W = 1 in every first-level entry of the walk, for a supervisor request only if "
       "WPE = 1 (SGN.6).",
       qemu=_Q + "vtd_iova_to_flpte",
       divergence="QEMU checks R/W level by level, before the reserved bits of the same entry.", tags=_SM),
    _r("DMA-NESTED-ADDR", S_NESTED, 0x74,
       "With nested translation each first-level table address is a guest-physical address that must "
       "be below the second-level width 2^min(MGAW + 1, AGAW) (SFL.5).",
       divergence="QEMU does not implement nested translation.", tags=_SM),
    _r("DMA-NESTED-TOP-READ", S_NESTED, 0x75,
       "With nested translation the second-level translation of the top first-level table must allow "
       "reads (SFL.6).", divergence="QEMU does not implement nested translation.", tags=_SM),
    _r("DMA-NESTED-FL-READ", S_NESTED, 0x76,
       "With nested translation the second-level translation of every lower first-level table must "
       "allow reads (SFL.7).", divergence="QEMU does not implement nested translation.", tags=_SM),
    _r("DMA-NESTED-FL-WRITE", S_NESTED, 0x77,
       "With nested translation a first-level entry whose accessed or dirty flag must be set needs "
       "second-level write permission to its table (SFL.8).",
       divergence="QEMU does not implement nested translation.", tags=_SM),
    _r("DMA-SM-OUT-INTR", S_INTR, 0x87,
       "A request in scalable mode (including a request-with-PASID through pass-through) whose "
       "resulting address falls in 0xFEE00000-0xFEEFFFFF is blocked (SGN.8).",
       qemu=_Q + "vtd_do_iommu_translate",
       divergence="QEMU checks the whole page against the range and skips pass-through.", tags=_SM),
)
