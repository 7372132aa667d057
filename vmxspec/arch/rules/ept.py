"""Rules: the EPT walk's outcomes, EPT misconfigurations (exit reason 49) and EPT violations (48).

Wording follows the SDM, Vol. 3C, "EPT Misconfigurations" and "EPT Violations" with the entry-format
tables of "EPT Translation Mechanism". The implementation locations come from
``shared/reference/ept.md`` (KVM ``arch/x86/kvm/mmu/mmu.c``, ``paging_tmpl.h``; Bochs
``bochs/cpu/paging.cc``; kvm-unit-tests ``x86/vmx_tests.c``). Where they disagree with the SDM the
rule says so in ``divergence``.

Order (SDM, and the walk loops of KVM and Bochs agree): entries are read from the top; a not-present
entry ends the walk with a violation; a present entry that meets a misconfiguration condition ends it
with a misconfiguration; only after the leaf is reached are the permissions, ANDed over every entry
read, compared with the access. So a misconfiguration anywhere on the path beats a permission
violation, and a not-present entry hides everything below it. When one entry meets several
misconfiguration conditions, the rule reported is the first in the order of ``RULES`` (the SDM's list
order); the exit is the same whichever is named.
"""

from __future__ import annotations

from vmxspec.arch.rules import Rule, Stage

SECTION_MISCONFIG = "EPT Misconfigurations"
SECTION_VIOLATION = "EPT Violations"

_E = Stage.EPT
_KVM = "KVM"
_BX = "Bochs"
_KUT = "kvm-unit-tests"

EPTP = "EPT_POINTER"
PROC, PROC2 = "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL"
CAP = "IA32_VMX_EPT_VPID_CAP"


def _r(id: str, section: str, condition: str, fields: tuple[str, ...] = (EPTP,), caps: tuple[str, ...] = (),
       kvm: str = "", bochs: str = "", kut: str = "", divergence: str = "",
       tags: frozenset[str] = frozenset()) -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut)) if where)
    return Rule(id, _E, section, condition, fields, caps, impls, divergence, tags=tags)


_MISCONFIG = frozenset({"misconfig"})
_VIOLATION = frozenset({"violation"})

MISCONFIG_W_NO_R = "EPT-MISCONFIG-W-NO-R"
MISCONFIG_XONLY = "EPT-MISCONFIG-XONLY-NO-CAP"
MISCONFIG_RSVD_PHYS = "EPT-MISCONFIG-RSVD-PHYS"
MISCONFIG_PS_PML4E = "EPT-MISCONFIG-PS-PML4E"
MISCONFIG_RSVD_NONLEAF = "EPT-MISCONFIG-RSVD-NONLEAF"
MISCONFIG_PS_1G = "EPT-MISCONFIG-PS-1G-NO-CAP"
MISCONFIG_PS_2M = "EPT-MISCONFIG-PS-2M-NO-CAP"
MISCONFIG_ALIGN_1G = "EPT-MISCONFIG-RSVD-1G-ALIGN"
MISCONFIG_ALIGN_2M = "EPT-MISCONFIG-RSVD-2M-ALIGN"
MISCONFIG_MEMTYPE = "EPT-MISCONFIG-MEMTYPE"

VIOLATION_NOT_PRESENT = "EPT-VIOLATION-NOT-PRESENT"
VIOLATION_READ = "EPT-VIOLATION-READ"
VIOLATION_WRITE = "EPT-VIOLATION-WRITE"
VIOLATION_AD_PAGING = "EPT-VIOLATION-AD-PAGING-WRITE"
VIOLATION_FETCH = "EPT-VIOLATION-FETCH"
VIOLATION_FETCH_USER = "EPT-VIOLATION-FETCH-USER"

RULES: tuple[Rule, ...] = (
    # -- misconfigurations, in the SDM's list order ---------------------------------------------
    _r(MISCONFIG_W_NO_R, SECTION_MISCONFIG,
       "Bits 2:0 of an EPT paging-structure entry (any level, leaf or not) must not be 010b (write-only) "
       "or 110b (write/execute). With mode-based execute control, W with XU but without R (bits 2:0 = "
       "010b) is the same case.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (bad_mt_xwr marks 010b and 110b), checked at every level by "
           "paging_tmpl.h:FNAME(is_rsvd_bits_set)",
       bochs="paging.cc:translate_guest_physical (access mask R/W equal to W alone)",
       kut="vmx_tests.c:ept_access_test_write_only, ept_access_test_write_execute (ept_misconfig at "
           "levels 1-4 and huge)",
       tags=_MISCONFIG),
    _r(MISCONFIG_XONLY, SECTION_MISCONFIG,
       "Bits 2:0 of an EPT paging-structure entry must not be 100b (execute-only) unless "
       "IA32_VMX_EPT_VPID_CAP[0] = 1. With mode-based execute control, any present entry with R = 0 and "
       "W = 0 (X alone, XU alone, or X and XU) is execute-only and needs the same capability.",
       (EPTP, PROC, PROC2), (CAP,),
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (100b in bad_mt_xwr unless execonly, which is L1's "
           "IA32_VMX_EPT_VPID_CAP[0])",
       kut="vmx_tests.c:ept_access_test_execute_only (ept_access_misconfig when execute-only is not "
           "supported); MBEC series: ept_access_test_execute_user_only",
       divergence="Bochs always reports execute-only support (cap bit 0 = 1) and has no such check.",
       tags=_MISCONFIG),
    _r(MISCONFIG_RSVD_PHYS, SECTION_MISCONFIG,
       "A present EPT paging-structure entry must not set any bit in 51:N, N being the physical-address "
       "width (MAXPHYADDR). Bits 63:52 are ignored.",
       caps=("MAXPHYADDR",),
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (high_bits_rsvd = bits MAXPHYADDR..51 at every level)",
       bochs="paging.cc:translate_guest_physical (PAGING_EPT_RESERVED_BITS)",
       kut="vmx_tests.c:ept_access_test_reserved_bits (bits maxphyaddr..51 at every level)",
       divergence="Bochs x86-64 builds fix the physical-address width at 40.",
       tags=_MISCONFIG),
    _r(MISCONFIG_PS_PML4E, SECTION_MISCONFIG,
       "Bit 7 of a present EPT PML4E or PML5E is reserved: a PML4E or PML5E never maps a page.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (levels 5 and 4: rsvd_bits(3, 7))",
       bochs="paging.cc:translate_guest_physical (PS bit above the PDPTE level)",
       kut="vmx_tests.c:ept_reserved_bit_at_level(4, 7)",
       tags=_MISCONFIG),
    _r(MISCONFIG_RSVD_NONLEAF, SECTION_MISCONFIG,
       "Bits 6:3 of a present EPT entry that references another table (PML5E, PML4E, or a PDPTE or PDE "
       "with bit 7 = 0) are reserved: the memory type and IPAT exist only in a leaf.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (rsvd_bits(3, 7) at levels 5/4, rsvd_bits(3, 6) at non-leaf "
           "levels 3/2)",
       bochs="paging.cc:translate_guest_physical (non-leaf entry: bits 6:3 must be 0)",
       kut="vmx_tests.c:ept_reserved_bit_at_level(4, 3..6), ept_reserved_bit_at_level_nohuge(2|3, 3..6)",
       divergence="Bochs and KVM also apply the leaf memory-type check at every level; for a non-leaf "
                  "entry bits 5:3 are reserved anyway, so the exit is the same.",
       tags=_MISCONFIG),
    _r(MISCONFIG_PS_1G, SECTION_MISCONFIG,
       "Bit 7 of a present EPT PDPTE may be 1 (mapping a 1-GByte page) only if IA32_VMX_EPT_VPID_CAP[17] = "
       "1; otherwise it is a reserved bit.",
       caps=(CAP,),
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (large_1g_rsvd)",
       bochs="paging.cc:translate_guest_physical (PS at the PDPTE level needs BX_ISA_1G_PAGES)",
       tags=_MISCONFIG),
    _r(MISCONFIG_PS_2M, SECTION_MISCONFIG,
       "Bit 7 of a present EPT PDE may be 1 (mapping a 2-MByte page) only if IA32_VMX_EPT_VPID_CAP[16] = 1; "
       "otherwise it is a reserved bit.",
       caps=(CAP,),
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (large_2m_rsvd)",
       divergence="Bochs always supports 2-MByte EPT pages and has no such check.",
       tags=_MISCONFIG),
    _r(MISCONFIG_ALIGN_1G, SECTION_MISCONFIG,
       "Bits 29:12 of an EPT PDPTE that maps a 1-GByte page are reserved: the page frame is 1-GByte "
       "aligned.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (1-GByte leaf: rsvd_bits(12, 29))",
       bochs="paging.cc:translate_guest_physical (large-page frame against the offset mask)",
       kut="vmx_tests.c:ept_reserved_bit_at_level_huge(3, 12..28)",
       divergence="Bochs clears bit 12 before its alignment test, so it ignores bit 12 of a 1-GByte leaf; "
                  "KVM and kvm-unit-tests treat it as reserved, as the SDM does. kvm-unit-tests never "
                  "tests bit 29.",
       tags=_MISCONFIG),
    _r(MISCONFIG_ALIGN_2M, SECTION_MISCONFIG,
       "Bits 20:12 of an EPT PDE that maps a 2-MByte page are reserved: the page frame is 2-MByte "
       "aligned.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (2-MByte leaf: rsvd_bits(12, 20))",
       bochs="paging.cc:translate_guest_physical (large-page frame against the offset mask)",
       kut="vmx_tests.c:ept_reserved_bit_at_level_huge(2, 12..19)",
       divergence="Bochs clears bit 12 before its alignment test, so it ignores bit 12 of a 2-MByte leaf; "
                  "KVM and kvm-unit-tests treat it as reserved, as the SDM does. kvm-unit-tests never "
                  "tests bit 20.",
       tags=_MISCONFIG),
    _r(MISCONFIG_MEMTYPE, SECTION_MISCONFIG,
       "The last entry used to translate a guest-physical address (a PTE, or a PDE or PDPTE with bit 7 = "
       "1) must not have memory type (bits 5:3) 2, 3 or 7; these values are reserved.",
       kvm="mmu.c:__reset_rsvds_bits_mask_ept (bad_mt_xwr marks memory types 2, 3 and 7)",
       bochs="paging.cc:translate_guest_physical (isMemTypeValidMTRR on bits 5:3)",
       kut="vmx_tests.c:ept_exit_handler_common stage 2 (memory type 2 gives VMX_EPT_MISCONFIG)",
       tags=_MISCONFIG),
    # -- violations -------------------------------------------------------------------------------
    _r(VIOLATION_NOT_PRESENT, SECTION_VIOLATION,
       "An EPT paging-structure entry used by the translation is not present: bits 2:0 are 000b (and, "
       "with mode-based execute control, bit 10 is 0). Its other bits are ignored, and the entries below "
       "it are not read. Exit-qualification bits 5:3 (and 6 with MBEC) are 0.",
       (EPTP, PROC, PROC2),
       kvm="paging_tmpl.h:FNAME(is_present_gpte) before FNAME(is_rsvd_bits_set)",
       bochs="paging.cc:translate_guest_physical (not-present test before any other)",
       kut="vmx_tests.c:ept_access_test_not_present; ept_reserved_bit_at_level* (non-present entries "
           "ignore reserved bits)",
       tags=_VIOLATION),
    _r(VIOLATION_READ, SECTION_VIOLATION,
       "A data read (including the CPU's reads of guest paging structures while EPT A/D flags are off) "
       "needs bit 0 (R) in every EPT entry used.",
       kvm="paging_tmpl.h:FNAME(walk_addr_generic) (pte_access ANDed over levels, permission_fault)",
       bochs="paging.cc:translate_guest_physical (combined_access)",
       kut="vmx_tests.c:ept_access_test_execute_only (read gives RD|PERM_EX)",
       tags=_VIOLATION),
    _r(VIOLATION_WRITE, SECTION_VIOLATION,
       "A data write (including the CPU's writes of guest accessed and dirty flags) needs bit 1 (W) in "
       "every EPT entry used.",
       kvm="paging_tmpl.h:FNAME(walk_addr_generic)",
       bochs="paging.cc:translate_guest_physical",
       kut="vmx_tests.c:ept_access_test_read_only (write gives WR|PERM_RD); "
           "ept_access_test_paddr_read_only_ad_disabled",
       divergence="Bochs updates guest A/D flags through the already-translated host address, so a guest "
                  "A/D write to a read-only guest page table causes no EPT violation there.",
       tags=_VIOLATION),
    _r(VIOLATION_AD_PAGING, SECTION_VIOLATION,
       "With EPTP bit 6 = 1 (accessed and dirty flags for EPT), every access by the CPU to a guest "
       "paging-structure entry is treated as a write for EPT purposes and needs bit 1 (W) in every EPT "
       "entry used (PDPTE loads for PAE paging by MOV to CR stay reads). The exit qualification sets bits "
       "0 and 1.",
       kvm="paging_tmpl.h:FNAME(walk_addr_generic) (nested_access carries the write flag when A/D is on)",
       bochs="paging.cc:translate_guest_physical (rw = BX_WRITE for page walks when A/D is on)",
       kut="vmx_tests.c:ept_access_test_paddr_*_ad_enabled (RD|WR)",
       divergence="Bochs reports only bit 1 (data write) in the qualification, not bits 0 and 1.",
       tags=_VIOLATION),
    _r(VIOLATION_FETCH, SECTION_VIOLATION,
       "An instruction fetch needs bit 2 (X) in every EPT entry used; with mode-based execute control this "
       "applies to supervisor-mode linear addresses (guest U/S = 0).",
       (EPTP, PROC, PROC2),
       kvm="paging_tmpl.h:FNAME(walk_addr_generic)",
       bochs="paging.cc:translate_guest_physical",
       kut="vmx_tests.c:ept_access_test_read_only (fetch gives FETCH|PERM_RD)",
       tags=_VIOLATION),
    _r(VIOLATION_FETCH_USER, SECTION_VIOLATION,
       "With mode-based execute control, an instruction fetch from a user-mode linear address (guest U/S "
       "= 1, whatever the CPL) needs bit 10 (XU) in every EPT entry used; bit 2 does not matter.",
       (EPTP, PROC, PROC2),
       kvm="JonKohler/linux MBEC series, paging_tmpl.h (not mainline)",
       bochs="paging.cc:translate_guest_physical (BX_EPT_MBE_USER_EXECUTE for user pages)",
       kut="MBEC series: vmx_tests.c:ept_access_test_execute_user_only",
       divergence="Bochs sets qualification bit 6 only for fetches; for reads and writes its XU bit "
                  "lands in bit 13. The MBEC series of KVM and kvm-unit-tests set bit 6 on every "
                  "violation.",
       tags=_VIOLATION),
)
