"""Passing and failing boundary cases for the EPT walk, every rule of ``arch/rules/ept.py``.

Every expected value here is worked out by hand from the SDM (Vol. 3C "EPT Translation Mechanism",
"EPT Misconfigurations", "EPT Violations", "Accessed and Dirty Flags for EPT", "EPT and Memory
Typing", table "Exit Qualification for EPT Violations"), never copied from the code's output.

The hand-built layout: EPTP 0x10001e (PML4 table at 0x100000, WB, 4-level), PDPT at 0x101000, PD at
0x102000, PT at 0x103000, 4-KByte page at 0x200000. GPA 0x80_8060_4567 = (1 << 39) | (2 << 30) |
(3 << 21) | (4 << 12) | 0x567 selects PML4E 1 (0x100008), PDPTE 2 (0x101010), PDE 3 (0x102018) and
PTE 4 (0x103020), and translates to 0x200567. Huge leaves map frame 0x4000_0000: the 2-MByte page
gives 0x4000_4567 (GPA bits 20:0 = 0x4567), the 1-GByte page 0x4060_4567 (GPA bits 29:0 = 0x60_4567).

Qualification arithmetic used throughout: bit 0 read, 1 write, 2 fetch; bits 5:3 the AND of R, W, X
(R = 0x08, W = 0x10, X = 0x20); bit 6 the AND of XU under MBEC (0x40); bit 7 linear address valid
(0x80); bit 8 access to the translation of the linear address (0x100); bit 9 user-mode linear
address (0x200, advanced information only).
"""

from __future__ import annotations

import json

import pytest

from vmxspec.arch import ept as A
from vmxspec.arch.rules import Stage, rules_for
from vmxspec.build import EptBuildError, EptMapping, build_ept_tables, page_sizes_allowed
from vmxspec.interp.ept import EptOutcome, translate_gpa
from vmxspec.state import State, StateError

# IA32_VMX_EPT_VPID_CAP values (reference/ept.md section 14): bit 0 exec-only, 6 4-level, 7 5-level,
# 8 UC, 14 WB, 16 2M, 17 1G, 20 INVEPT, 21 A/D, 22 advanced exit information.
CAP = 0x06334141
CAP_NO_XONLY = 0x06334140
CAP_NO_1G = 0x06314141
CAP_NO_2M_1G = 0x06304141
CAP_5LEVEL = 0x063341C1
CAP_ADVANCED = 0x06734141
CAP_ADVANCED_NO_XONLY = 0x06734140
CAP_NO_AD = 0x06134141

PML4, PDPT, PD, PT, PAGE, HUGE = 0x100000, 0x101000, 0x102000, 0x103000, 0x200000, 0x4000_0000
PML5 = 0x104000
GPA = 0x80_8060_4567
E4, E3, E2, E1 = 0x100008, 0x101010, 0x102018, 0x103020
E5 = 0x104008
GPA5 = 0x1_0080_8060_4567  # GPA with PML5 index 1 (bit 48)
EPTP = 0x10001E
EPTP_AD = 0x10005E
EPTP5 = 0x104026  # PML5 table at 0x104000, WB, 5-level (4 << 3 = 0x20)
WB = 6 << 3  # leaf memory type WB in bits 5:3
PS = 1 << 7
XU = 1 << 10
HPA_4K, HPA_2M, HPA_1G = 0x200567, 0x4000_4567, 0x4060_4567

PROC_SECONDARY = 1 << 31
PROC2_MBEC = (1 << 22) | (1 << 1)  # MBEC and enable EPT

BIT = [1 << n for n in range(64)]


def tables(e4: int = PDPT | 7, e3: int = PD | 7, e2: int = PT | 7, e1: int = PAGE | WB | 7) -> dict[int, int]:
    return {E4: e4, E3: e3, E2: e2, E1: e1}


def make_state(memory: dict[int, int], cap: int = CAP, maxphyaddr: int = 46, eptp: int | None = EPTP,
               proc: int | None = 0, proc2: int | None = None, cr0: int | None = None) -> State:
    state = State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=maxphyaddr, memory=dict(memory))
    if eptp is not None:
        state.vmcs["EPT_POINTER"] = eptp
    if proc is not None:
        state.vmcs["CPU_BASED_VM_EXEC_CONTROL"] = proc
    if proc2 is not None:
        state.vmcs["SECONDARY_VM_EXEC_CONTROL"] = proc2
    state.cpu.cr0 = cr0
    return state


def mbec_state(memory: dict[int, int], cap: int = CAP_ADVANCED, eptp: int = EPTP) -> State:
    return make_state(memory, cap=cap, eptp=eptp, proc=PROC_SECONDARY, proc2=PROC2_MBEC)


def walk(memory: dict[int, int], access: str = "read", gpa: int = GPA, **kwargs: object) -> EptOutcome:
    user = bool(kwargs.pop("user", False))
    paging = bool(kwargs.pop("paging_structure", False))
    return translate_gpa(make_state(memory, **kwargs), gpa, access, user=user,  # type: ignore[arg-type]
                         paging_structure=paging)


def assert_ok(o: EptOutcome, hpa: int = HPA_4K, page_size: int = 4096, memtype: int = 6) -> None:
    assert (o.result, o.hpa, o.page_size, o.memtype) == ("ok", hpa, page_size, memtype), o.message()


def assert_violation(o: EptOutcome, qualification: int, level: int, rule: str | None = None) -> None:
    assert o.result == "ept_violation", o.message()
    assert (o.qualification, o.level) == (qualification, level), (hex(o.qualification or 0), o.level)
    if rule is not None:
        assert o.rule == rule


def assert_misconfig(o: EptOutcome, rule: str, level: int, entry: int) -> None:
    assert o.result == "ept_misconfig", o.message()
    assert (o.rule, o.level, o.entry_address) == (rule, level, entry), o.message()


# -- the plain walk -------------------------------------------------------------------------------------

def test_four_level_walk_to_a_4k_page() -> None:
    o = walk(tables())
    assert_ok(o)
    assert [(s.level, s.address, s.decision) for s in o.steps] == [
        (4, E4, "table"), (3, E3, "table"), (2, E2, "table"), (1, E1, "page")]
    assert o.ad_updates == {}


def test_page_offset_extremes() -> None:
    assert_ok(walk(tables(), gpa=GPA & ~0xFFF), hpa=0x200000)
    assert_ok(walk(tables(), gpa=GPA | 0xFFF), hpa=0x200FFF)


def test_2m_page_and_1g_page() -> None:
    assert_ok(walk(tables(e2=HUGE | PS | WB | 7)), HPA_2M, A.PAGE_2M)
    assert_ok(walk(tables(e3=HUGE | PS | WB | 7)), HPA_1G, A.PAGE_1G)


def test_ps_bit_of_a_pte_is_ignored() -> None:
    assert_ok(walk(tables(e1=PAGE | PS | WB | 7)))


def test_to_json_formats() -> None:
    ok = walk(tables(), "write", eptp=EPTP_AD)
    assert ok.to_json() == {"result": "ok", "hpa": "0x200567", "page_size": 4096, "memtype": 6,
                            "ad_updates": {"0x100008": "0x101107", "0x101010": "0x102107",
                                           "0x102018": "0x103107", "0x103020": "0x200337"}}
    violation = walk(tables(e1=PAGE | WB | 1), "write")
    assert violation.to_json() == {"result": "ept_violation", "qualification": "0x18a", "level": 1}
    misconfig = walk(tables(e2=PT | 2))
    assert misconfig.to_json() == {"result": "ept_misconfig", "entry": "0x102018", "level": 2,
                                   "rule": "EPT-MISCONFIG-W-NO-R"}
    for outcome in (ok, violation, misconfig):
        json.dumps(outcome.to_json())
        assert outcome.message()
        assert all(step.describe() for step in outcome.steps)


# -- every R/W/X combination at every level ---------------------------------------------------------

OK, MIS = "ok", "misconfig"
#: bits 2:0 -> {access: expected}, cap bit 0 = 1. Violations carry their qualification: access bit,
#: AND of R/W/X in bits 5:3 (the other levels grant RWX, so the AND is the restricted entry's own
#: bits), and 0x180 (bits 7 and 8). Not-present entries (000b) give bits 5:3 = 0.
RWX_TABLE: dict[int, dict[str, object]] = {
    0b000: {"read": 0x181, "write": 0x182, "fetch": 0x184},
    0b001: {"read": OK, "write": 0x18A, "fetch": 0x18C},
    0b010: {"read": MIS, "write": MIS, "fetch": MIS},
    0b011: {"read": OK, "write": OK, "fetch": 0x19C},
    0b100: {"read": 0x1A1, "write": 0x1A2, "fetch": OK},
    0b101: {"read": OK, "write": 0x1AA, "fetch": OK},
    0b110: {"read": MIS, "write": MIS, "fetch": MIS},
    0b111: {"read": OK, "write": OK, "fetch": OK},
}
VIOLATION_RULES = {"read": "EPT-VIOLATION-READ", "write": "EPT-VIOLATION-WRITE", "fetch": "EPT-VIOLATION-FETCH"}
ENTRY_AT = {4: E4, 3: E3, 2: E2, 1: E1}


def restricted(level: int, rwx: int, huge: int | None) -> tuple[dict[int, int], int, int, int]:
    """Tables with ``rwx`` at ``level`` (leaf at ``huge`` if given), with the expected HPA, page size
    and leaf level."""
    memory = tables()
    leaf_level = huge or 1
    if huge == 2:
        memory[E2] = HUGE | PS | WB | 7
        del memory[E1]
    elif huge == 3:
        memory[E3] = HUGE | PS | WB | 7
        del memory[E2], memory[E1]
    memory[ENTRY_AT[level]] = (memory[ENTRY_AT[level]] & ~7) | rwx
    hpa, size = {1: (HPA_4K, A.PAGE_4K), 2: (HPA_2M, A.PAGE_2M), 3: (HPA_1G, A.PAGE_1G)}[leaf_level]
    return memory, hpa, size, leaf_level


RWX_CASES = [(level, huge, rwx, access)
             for huge in (None, 2, 3) for level in (4, 3, 2, 1) if huge is None or level >= huge
             for rwx in range(8) for access in ("read", "write", "fetch")]


@pytest.mark.parametrize(("level", "huge", "rwx", "access"), RWX_CASES)
def test_rwx_combination_at_level(level: int, huge: int | None, rwx: int, access: str) -> None:
    memory, hpa, size, leaf_level = restricted(level, rwx, huge)
    expected = RWX_TABLE[rwx][access]
    o = walk(memory, access)
    if expected == OK:
        assert_ok(o, hpa, size)
    elif expected == MIS:
        assert_misconfig(o, "EPT-MISCONFIG-W-NO-R", level, ENTRY_AT[level])
    elif rwx == 0:
        assert_violation(o, int(expected), level, "EPT-VIOLATION-NOT-PRESENT")  # type: ignore[call-overload]
    else:
        assert_violation(o, int(expected), leaf_level, VIOLATION_RULES[access])  # type: ignore[call-overload]
        assert o.denied_at == (level,)


@pytest.mark.parametrize("level", [4, 3, 2, 1])
@pytest.mark.parametrize("access", ["read", "write", "fetch"])
def test_execute_only_without_the_capability_is_a_misconfiguration(level: int, access: str) -> None:
    memory, *_ = restricted(level, 0b100, None)
    assert_misconfig(walk(memory, access, cap=CAP_NO_XONLY), "EPT-MISCONFIG-XONLY-NO-CAP", level,
                     ENTRY_AT[level])


def test_execute_only_capability_boundary() -> None:
    memory, *_ = restricted(1, 0b101, None)  # R+X needs no capability
    assert_ok(walk(memory, "fetch", cap=CAP_NO_XONLY))


def test_permissions_and_over_levels() -> None:
    # PML4E R-X, PDPTE RW-, PDE RWX, PTE RWX: the AND is R--.
    memory = tables(e4=PDPT | 5, e3=PD | 3)
    assert_ok(walk(memory, "read"))
    assert_violation(walk(memory, "write"), 0x2 | 0x08 | 0x180, 1, "EPT-VIOLATION-WRITE")
    o = walk(memory, "fetch")
    assert_violation(o, 0x4 | 0x08 | 0x180, 1, "EPT-VIOLATION-FETCH")
    assert o.denied_at == (3,)


# -- reserved bits, level by level ------------------------------------------------------------------

RSVD_CASES: list[tuple[str, dict[int, int], str | None, int]] = [
    # (name, tables, expected misconfiguration rule or None for "no misconfiguration", level)
    *[(f"PML4E bit {b}", tables(e4=PDPT | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-NONLEAF", 4) for b in (3, 4, 5, 6)],
    ("PML4E bit 7", tables(e4=PDPT | 7 | PS), "EPT-MISCONFIG-PS-PML4E", 4),
    *[(f"PDPTE bit {b}", tables(e3=PD | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-NONLEAF", 3) for b in (3, 4, 5, 6)],
    *[(f"PDE bit {b}", tables(e2=PT | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-NONLEAF", 2) for b in (3, 4, 5, 6)],
    *[(f"{name} bit {b} (>= MAXPHYADDR 46)", tables(**{key: base | BIT[b]}), "EPT-MISCONFIG-RSVD-PHYS", lvl)
      for name, key, base, lvl in (("PML4E", "e4", PDPT | 7, 4), ("PDPTE", "e3", PD | 7, 3),
                                   ("PDE", "e2", PT | 7, 2), ("PTE", "e1", PAGE | WB | 7, 1))
      for b in (46, 47, 50, 51)],
    *[(f"2M leaf bit {b}", tables(e2=HUGE | PS | WB | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-2M-ALIGN", 2)
      for b in (12, 13, 16, 20)],
    *[(f"1G leaf bit {b}", tables(e3=HUGE | PS | WB | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-1G-ALIGN", 3)
      for b in (12, 20, 21, 29)],
    *[(f"2M leaf bit {b}", tables(e2=HUGE | PS | WB | 7 | BIT[b]), "EPT-MISCONFIG-RSVD-PHYS", 2)
      for b in (46, 51)],
    # Ignored bits: 8, 9 (A/D off), 10 (MBEC off), 11 and 52-63 at every level, leaf or not.
    *[(f"{name} ignored bit {b}", tables(**{key: base | BIT[b]}), None, 0)
      for name, key, base in (("PML4E", "e4", PDPT | 7), ("PDPTE", "e3", PD | 7), ("PDE", "e2", PT | 7),
                              ("PTE", "e1", PAGE | WB | 7))
      for b in (8, 9, 10, 11, 52, 57, 58, 60, 61, 62, 63)],
    *[(f"2M leaf ignored bit {b}", tables(e2=HUGE | PS | WB | 7 | BIT[b]), None, 0) for b in (8, 9, 11, 52, 63)],
    *[(f"1G leaf ignored bit {b}", tables(e3=HUGE | PS | WB | 7 | BIT[b]), None, 0) for b in (8, 9, 11, 52, 63)],
]


@pytest.mark.parametrize(("name", "memory", "rule", "level"), RSVD_CASES, ids=[c[0] for c in RSVD_CASES])
def test_reserved_and_ignored_bits(name: str, memory: dict[int, int], rule: str | None, level: int) -> None:
    o = walk(memory)
    if rule is None:
        assert o.result == "ok", o.message()
    else:
        assert_misconfig(o, rule, level, ENTRY_AT[level])


def test_address_bit_below_maxphyaddr_is_not_reserved() -> None:
    # Bit 45 (N - 1) is the top address bit of the leaf frame: the page moves, nothing is reserved.
    assert_ok(walk(tables(e1=PAGE | BIT[45] | WB | 7)), hpa=0x2000_0020_0567)
    # In a non-leaf entry it moves the next table to memory that reads as 0: a not-present PTE.
    assert_violation(walk(tables(e2=PT | BIT[45] | 7)), 0x181, 1, "EPT-VIOLATION-NOT-PRESENT")


def test_maxphyaddr_decides_which_bits_are_reserved() -> None:
    memory = tables(e1=PAGE | BIT[46] | WB | 7)
    assert_misconfig(walk(memory, maxphyaddr=46), "EPT-MISCONFIG-RSVD-PHYS", 1, E1)
    assert_ok(walk(memory, maxphyaddr=47), hpa=0x4000_0020_0567)
    # With MAXPHYADDR 52 no bit of 51:12 is reserved in a 4-KByte leaf.
    assert_ok(walk(tables(e1=PAGE | BIT[51] | WB | 7), maxphyaddr=52), hpa=0x8_0000_0020_0567)


def test_large_page_frame_boundary_bits() -> None:
    # Bit 21 is the lowest frame bit of a 2-MByte page, bit 30 of a 1-GByte page.
    assert_ok(walk(tables(e2=HUGE | BIT[21] | PS | WB | 7)), 0x4020_4567, A.PAGE_2M)
    assert_ok(walk(tables(e3=0x8000_0000 | BIT[30] | PS | WB | 7)), 0xC060_4567, A.PAGE_1G)


def test_not_present_entries_ignore_reserved_bits() -> None:
    # Bits 63:3 of an entry with bits 2:0 = 000b are ignored, the page-size bit and bits 51:46 included.
    assert_violation(walk(tables(e4=PDPT | 0xF8 | BIT[50])), 0x181, 4, "EPT-VIOLATION-NOT-PRESENT")
    assert_violation(walk(tables(e2=HUGE | PS | (7 << 3))), 0x181, 2, "EPT-VIOLATION-NOT-PRESENT")


# -- large pages and the capability bits -------------------------------------------------------------

def test_1g_pages_need_capability_bit_17() -> None:
    memory = tables(e3=HUGE | PS | WB | 7)
    assert_ok(walk(memory, cap=CAP), HPA_1G, A.PAGE_1G)
    assert_misconfig(walk(memory, cap=CAP_NO_1G), "EPT-MISCONFIG-PS-1G-NO-CAP", 3, E3)


def test_2m_pages_need_capability_bit_16() -> None:
    memory = tables(e2=HUGE | PS | WB | 7)
    assert_ok(walk(memory, cap=CAP_NO_1G), HPA_2M, A.PAGE_2M)
    assert_misconfig(walk(memory, cap=CAP_NO_2M_1G), "EPT-MISCONFIG-PS-2M-NO-CAP", 2, E2)
    # Without either capability a 4-KByte walk is unaffected.
    assert_ok(walk(tables(), cap=CAP_NO_2M_1G))


# -- five-level walks -------------------------------------------------------------------------------

def five_level(e5: int = PML4 | 7, **kwargs: int) -> dict[int, int]:
    return {E5: e5, **tables(**kwargs)}


def walk5(memory: dict[int, int], access: str = "read", gpa: int = GPA5, cap: int = CAP_5LEVEL) -> EptOutcome:
    return translate_gpa(make_state(memory, cap=cap, maxphyaddr=52, eptp=EPTP5), gpa, access)


def test_five_level_walk() -> None:
    o = walk5(five_level())
    assert_ok(o)
    assert [s.level for s in o.steps] == [5, 4, 3, 2, 1]
    assert o.steps[0].address == E5


def test_five_level_pml5e_rules() -> None:
    assert_misconfig(walk5(five_level(e5=PML4 | PS | 7)), "EPT-MISCONFIG-PS-PML4E", 5, E5)
    assert_misconfig(walk5(five_level(e5=PML4 | BIT[6] | 7)), "EPT-MISCONFIG-RSVD-NONLEAF", 5, E5)
    assert_misconfig(walk5(five_level(e5=PML4 | 2)), "EPT-MISCONFIG-W-NO-R", 5, E5)
    assert_violation(walk5(five_level(e5=PML4)), 0x181, 5, "EPT-VIOLATION-NOT-PRESENT")
    assert_violation(walk5(five_level(e5=PML4 | 1), "write"), 0x18A, 1, "EPT-VIOLATION-WRITE")
    assert_ok(walk5(five_level(e5=PML4 | 7 | BIT[11] | BIT[63])))


def test_five_level_needs_capability_bit_7() -> None:
    with pytest.raises(StateError) as err:
        walk5(five_level(), cap=CAP)
    assert (err.value.code, err.value.path) == ("bad-query", "vmcs.EPT_POINTER")


def test_gpa_width_of_the_walk() -> None:
    # A 4-level walk translates 48 bits: with MAXPHYADDR 52, GPA 2^48 - 1 is walked, 2^48 is not.
    o = walk({}, gpa=(1 << 48) - 1, maxphyaddr=52)
    assert_violation(o, 0x181, 4, "EPT-VIOLATION-NOT-PRESENT")
    assert o.entry_address == PML4 + 8 * 511
    with pytest.raises(StateError) as err:
        walk({}, gpa=1 << 48, maxphyaddr=52)
    assert (err.value.code, err.value.path) == ("bad-query", "query.gpa")
    # No GPA at or above 2^MAXPHYADDR exists.
    assert walk({}, gpa=(1 << 46) - 1).result == "ept_violation"
    with pytest.raises(StateError):
        walk({}, gpa=1 << 46)


# -- memory types ------------------------------------------------------------------------------------

@pytest.mark.parametrize("memtype", range(8))
@pytest.mark.parametrize("leaf_level", [1, 2, 3])
def test_leaf_memory_type(memtype: int, leaf_level: int) -> None:
    memory = tables()
    entry = {1: PAGE, 2: HUGE | PS, 3: HUGE | PS}[leaf_level] | (memtype << 3) | 7
    memory[ENTRY_AT[leaf_level]] = entry
    o = walk(memory, "write")
    if memtype in (2, 3, 7):
        assert_misconfig(o, "EPT-MISCONFIG-MEMTYPE", leaf_level, ENTRY_AT[leaf_level])
    else:
        hpa, size = {1: (HPA_4K, A.PAGE_4K), 2: (HPA_2M, A.PAGE_2M), 3: (HPA_1G, A.PAGE_1G)}[leaf_level]
        assert_ok(o, hpa, size, memtype)


def test_ipat_and_cr0_cd() -> None:
    assert_ok(walk(tables(e1=PAGE | (4 << 3) | BIT[6] | 7)), memtype=4)  # IPAT: the EPT type, WT
    assert_ok(walk(tables(e1=PAGE | WB | 7), cr0=0x8000_0031), memtype=6)  # CD = 0
    assert_ok(walk(tables(e1=PAGE | WB | 7), cr0=0xC000_0031), memtype=0)  # CD = 1: UC
    assert_ok(walk(tables(e1=PAGE | WB | BIT[6] | 7), cr0=0xC000_0031), memtype=0)
    assumed = walk(tables())
    assert any("PAT" in a for a in assumed.assumptions) and any("CR0.CD" in a for a in assumed.assumptions)


def test_pat_combination_table() -> None:
    # SDM Vol. 3A "Effective Page-Level Memory Types", EPT type in place of the MTRR type.
    cases = [((6, 0), 0), ((6, 7), 0), ((6, 1), 1), ((6, 4), 4), ((6, 5), 5), ((6, 6), 6),
             ((0, 1), 1), ((0, 6), 0), ((1, 7), 1), ((1, 4), 0), ((4, 6), 4), ((4, 5), 5),
             ((5, 6), 5), ((5, 7), 1), ((5, 4), 4)]
    for (ept_type, pat_type), expected in cases:
        assert A.effective_memtype(ept_type, False, pat_type) == expected, (ept_type, pat_type)
        assert A.effective_memtype(ept_type, True, pat_type) == ept_type
        assert A.effective_memtype(ept_type, False, pat_type, cr0_cd=True) == 0


def test_non_leaf_memory_type_bits_are_reserved() -> None:
    # A PDE that references a table has no memory type: bits 5:3 = WB there are reserved.
    assert_misconfig(walk(tables(e2=PT | WB | 7)), "EPT-MISCONFIG-RSVD-NONLEAF", 2, E2)


# -- order between misconfiguration and violation --------------------------------------------------

def test_misconfiguration_below_a_read_only_entry_beats_the_write_violation() -> None:
    assert_misconfig(walk(tables(e4=PDPT | 1, e1=PAGE | (7 << 3) | 7), "write"), "EPT-MISCONFIG-MEMTYPE", 1, E1)


def test_write_only_leaf_is_a_misconfiguration_for_a_write() -> None:
    assert_misconfig(walk(tables(e1=PAGE | WB | 2), "write"), "EPT-MISCONFIG-W-NO-R", 1, E1)


def test_not_present_entry_hides_the_entries_below() -> None:
    o = walk(tables(e2=PT | 0, e1=PAGE | WB | 2), "write")
    assert_violation(o, 0x182, 2, "EPT-VIOLATION-NOT-PRESENT")
    assert [s.level for s in o.steps] == [4, 3, 2]


def test_misconfigured_entry_hides_a_not_present_entry_below() -> None:
    memory = tables(e3=PD | 6)
    del memory[E2]
    assert_misconfig(walk(memory), "EPT-MISCONFIG-W-NO-R", 3, E3)


def test_misconfiguration_does_not_depend_on_the_access() -> None:
    for access in ("read", "write", "fetch"):
        assert_misconfig(walk(tables(e2=HUGE | PS | WB | 7 | BIT[12]), access), "EPT-MISCONFIG-RSVD-2M-ALIGN",
                         2, E2)


def test_every_condition_of_one_entry_is_listed_in_sdm_order() -> None:
    o = walk(tables(e1=PAGE | BIT[46] | (7 << 3) | 2))
    assert o.misconfig_rules == ("EPT-MISCONFIG-W-NO-R", "EPT-MISCONFIG-RSVD-PHYS", "EPT-MISCONFIG-MEMTYPE")
    assert o.rule == "EPT-MISCONFIG-W-NO-R"


# -- accessed and dirty flags -------------------------------------------------------------------------

A_BIT, D_BIT = 1 << 8, 1 << 9


def test_ad_read_sets_accessed_on_every_entry() -> None:
    o = walk(tables(), "read", eptp=EPTP_AD)
    assert o.ad_updates == {E4: PDPT | 7 | A_BIT, E3: PD | 7 | A_BIT, E2: PT | 7 | A_BIT, E1: PAGE | WB | 7 | A_BIT}


def test_ad_fetch_sets_accessed_only() -> None:
    o = walk(tables(), "fetch", eptp=EPTP_AD)
    assert o.ad_updates[E1] == PAGE | WB | 7 | A_BIT


def test_ad_write_sets_dirty_on_the_leaf_only() -> None:
    o = walk(tables(), "write", eptp=EPTP_AD)
    assert o.ad_updates == {E4: 0x101107, E3: 0x102107, E2: 0x103107, E1: 0x200337}


def test_ad_write_through_a_2m_page() -> None:
    o = walk(tables(e2=HUGE | PS | WB | 7), "write", eptp=EPTP_AD)
    assert o.ad_updates == {E4: 0x101107, E3: 0x102107, E2: 0x4000_03B7}


def test_ad_paging_structure_access_counts_as_a_write() -> None:
    o = walk(tables(), "read", paging_structure=True, eptp=EPTP_AD)
    assert o.result == "ok"
    assert o.ad_updates[E1] == PAGE | WB | 7 | A_BIT | D_BIT


def test_ad_flags_already_set_are_not_rewritten() -> None:
    memory = tables(e4=PDPT | 7 | A_BIT, e1=PAGE | WB | 7 | A_BIT)
    assert set(walk(memory, "read", eptp=EPTP_AD).ad_updates) == {E3, E2}
    memory = tables(e4=PDPT | 7 | A_BIT, e3=PD | 7 | A_BIT, e2=PT | 7 | A_BIT, e1=PAGE | WB | 7 | A_BIT | D_BIT)
    assert walk(memory, "write", eptp=EPTP_AD).ad_updates == {}
    # D already set, A not: a read sets A only.
    assert walk(tables(e1=PAGE | WB | 7 | D_BIT), "read", eptp=EPTP_AD).ad_updates[E1] == PAGE | WB | 7 | A_BIT | D_BIT


def test_ad_disabled_and_failing_walks_change_nothing() -> None:
    assert walk(tables(), "write").ad_updates == {}
    assert walk(tables(e1=PAGE | WB | 1), "write", eptp=EPTP_AD).ad_updates == {}
    assert walk(tables(e1=PAGE | WB | 2), "write", eptp=EPTP_AD).ad_updates == {}


# -- guest paging-structure accesses and qualification bits 7-11 --------------------------------------

def test_paging_structure_read_clears_bit_8() -> None:
    o = walk(tables(e1=PAGE | WB | 4), "read", paging_structure=True)  # execute-only leaf
    assert_violation(o, 0x1 | 0x20 | 0x80, 1, "EPT-VIOLATION-READ")
    assert o.qualification_unknown & (BIT[9] | BIT[10] | BIT[11]) == BIT[9] | BIT[10] | BIT[11]


def test_paging_structure_access_needs_write_when_ad_is_on() -> None:
    memory = tables(e1=PAGE | WB | 1)
    assert_ok(walk(memory, "read", paging_structure=True))  # A/D off: a read
    o = walk(memory, "read", paging_structure=True, eptp=EPTP_AD)
    assert_violation(o, 0x1 | 0x2 | 0x08 | 0x80, 1, "EPT-VIOLATION-AD-PAGING-WRITE")
    assert not o.qualification_unknown & 1


def test_paging_structure_not_present_with_ad_on() -> None:
    o = walk(tables(e2=PT), "read", paging_structure=True, eptp=EPTP_AD)
    assert_violation(o, 0x1 | 0x2 | 0x80, 2, "EPT-VIOLATION-NOT-PRESENT")


def test_guest_ad_update_is_a_read_modify_write() -> None:
    o = walk(tables(e1=PAGE | WB | 1), "write", paging_structure=True)
    assert_violation(o, 0x1 | 0x2 | 0x08 | 0x80, 1, "EPT-VIOLATION-WRITE")
    assert o.qualification_unknown & 1  # bit 0 is implementation-specific for a read-modify-write


def test_paging_structure_fetch_is_a_bad_query() -> None:
    with pytest.raises(StateError) as err:
        walk(tables(), "fetch", paging_structure=True)
    assert err.value.code == "bad-query"


def test_advanced_information_needs_capability_bit_22() -> None:
    memory = tables(e1=PAGE | WB)  # not-present leaf
    assert_violation(walk(memory, cap=CAP_ADVANCED, user=True), 0x381, 1)
    assert_violation(walk(memory, cap=CAP_ADVANCED, user=False), 0x181, 1)
    assert_violation(walk(memory, cap=CAP, user=True), 0x181, 1)
    o = walk(memory, cap=CAP_ADVANCED, user=True)
    # Bit 9 comes from the question; 10, 11 (guest R/W, XD) and 12 (NMI unblocking) it cannot give.
    assert o.qualification_unknown & 0x1E00 == 0x1C00
    assert walk(memory, cap=CAP, user=True).qualification_unknown & 0x1E00 == 0x1E00
    # A paging-structure access has bit 8 = 0, so bits 9-11 are undefined whatever the capability.
    assert_violation(walk(memory, cap=CAP_ADVANCED, user=True, paging_structure=True), 0x81, 1)


def test_bit_6_is_undefined_without_mbec() -> None:
    o = walk(tables(e1=PAGE | WB | XU | 1), "write")
    assert_violation(o, 0x18A, 1)
    assert o.qualification_unknown & 0x40


# -- mode-based execute control -------------------------------------------------------------------------

def mbec_tables(leaf_bits: int, nonleaf: int = 7 | XU) -> dict[int, int]:
    return tables(e4=PDPT | nonleaf, e3=PD | nonleaf, e2=PT | nonleaf, e1=PAGE | WB | leaf_bits)


def mwalk(memory: dict[int, int], access: str, user: bool = False, cap: int = CAP_ADVANCED) -> EptOutcome:
    return translate_gpa(mbec_state(memory, cap=cap), GPA, access, user=user)


def test_mbec_user_execute_only_leaf() -> None:
    memory = mbec_tables(XU)
    assert_ok(mwalk(memory, "fetch", user=True))
    # Supervisor fetch needs X: FETCH | XU-AND (bit 6) | 0x180.
    assert_violation(mwalk(memory, "fetch"), 0x4 | 0x40 | 0x180, 1, "EPT-VIOLATION-FETCH")
    assert_violation(mwalk(memory, "read"), 0x1 | 0x40 | 0x180, 1, "EPT-VIOLATION-READ")
    assert_violation(mwalk(memory, "write", user=True), 0x2 | 0x40 | 0x180 | 0x200, 1, "EPT-VIOLATION-WRITE")


def test_mbec_user_fetch_needs_xu_not_x() -> None:
    memory = mbec_tables(7)
    assert_violation(mwalk(memory, "fetch", user=True), 0x4 | 0x38 | 0x180 | 0x200, 1, "EPT-VIOLATION-FETCH-USER")
    assert_ok(mwalk(memory, "fetch"))
    # XU must be in every entry: a PDPTE without it denies user fetches.
    memory = mbec_tables(7 | XU)
    memory[E3] = PD | 7
    o = mwalk(memory, "fetch", user=True)
    assert_violation(o, 0x4 | 0x38 | 0x180 | 0x200, 1, "EPT-VIOLATION-FETCH-USER")
    assert o.denied_at == (3,)


def test_mbec_xu_alone_makes_a_non_leaf_entry_present() -> None:
    memory = mbec_tables(7 | XU)
    memory[E2] = PT | XU
    assert_ok(mwalk(memory, "fetch", user=True))
    assert_violation(mwalk(memory, "read"), 0x1 | 0x40 | 0x180, 1, "EPT-VIOLATION-READ")


def test_mbec_execute_only_forms_need_capability_bit_0() -> None:
    for leaf in (XU, 4, 4 | XU):
        assert_misconfig(mwalk(mbec_tables(leaf), "fetch", user=True, cap=CAP_ADVANCED_NO_XONLY),
                         "EPT-MISCONFIG-XONLY-NO-CAP", 1, E1)


def test_mbec_write_without_read_is_still_a_misconfiguration() -> None:
    assert_misconfig(mwalk(mbec_tables(2 | XU), "read"), "EPT-MISCONFIG-W-NO-R", 1, E1)


def test_without_mbec_bit_10_alone_is_not_present() -> None:
    o = walk(tables(e1=PAGE | WB | XU), "fetch", user=True)
    assert_violation(o, 0x184, 1, "EPT-VIOLATION-NOT-PRESENT")
    # And with MBEC off, a user fetch uses X as before.
    assert_ok(walk(tables(e1=PAGE | WB | 4), "fetch", user=True))


def test_mbec_controls_are_read_only_when_they_matter() -> None:
    plain = tables()
    assert_ok(walk(plain, proc=None))  # no bit 10 anywhere, not a user fetch
    with pytest.raises(StateError) as err:
        walk(tables(e1=PAGE | WB | XU), proc=None)
    assert (err.value.code, err.value.path) == ("missing-field", "vmcs.CPU_BASED_VM_EXEC_CONTROL")
    with pytest.raises(StateError) as err:
        walk(tables(e1=PAGE | WB | XU), proc=PROC_SECONDARY)
    assert (err.value.code, err.value.path) == ("missing-field", "vmcs.SECONDARY_VM_EXEC_CONTROL")
    with pytest.raises(StateError):
        walk(plain, "fetch", user=True, proc=None)
    # "activate secondary controls" = 0: MBEC is off whatever the secondary field holds.
    assert_violation(walk(tables(e1=PAGE | WB | XU), proc=0, proc2=PROC2_MBEC), 0x181, 1)


# -- inputs that must be given -----------------------------------------------------------------------

def test_missing_inputs_are_reported_not_assumed() -> None:
    state = make_state(tables())
    state.maxphyaddr = None
    with pytest.raises(StateError) as err:
        translate_gpa(state, GPA, "read")
    assert (err.value.code, err.value.path) == ("missing-capability", "caps.MAXPHYADDR")
    state = make_state(tables())
    del state.caps["IA32_VMX_EPT_VPID_CAP"]
    with pytest.raises(StateError) as err:
        translate_gpa(state, GPA, "read")
    assert (err.value.code, err.value.path) == ("missing-capability", "caps.IA32_VMX_EPT_VPID_CAP")
    state = make_state(tables(), eptp=None)
    with pytest.raises(StateError) as err:
        translate_gpa(state, GPA, "read")
    assert (err.value.code, err.value.path) == ("missing-field", "vmcs.EPT_POINTER")
    assert_ok(translate_gpa(state, GPA, "read", eptp=EPTP))


@pytest.mark.parametrize(("eptp", "cap"), [
    (0x100026, CAP),             # 5-level without cap bit 7
    (0x100016, CAP),             # page-walk length 3
    (0x100019, CAP),             # memory type 1
    (0x10005E, CAP_NO_AD),       # A/D without cap bit 21
    (0x10011E, CAP),             # bit 8 reserved
    (0x10009E, CAP),             # bit 7 without the shadow-stack capability
    (0x4000_0010_001E, CAP),     # bit 46 >= MAXPHYADDR
])
def test_eptp_that_vm_entry_rejects(eptp: int, cap: int) -> None:
    with pytest.raises(StateError) as err:
        walk(tables(), eptp=eptp, cap=cap)
    assert (err.value.code, err.value.path) == ("bad-query", "vmcs.EPT_POINTER")
    with pytest.raises(StateError) as err:
        translate_gpa(make_state(tables(), cap=cap), GPA, "read", eptp=eptp)
    assert err.value.path == "query.eptp"


def test_eptp_boundaries_vm_entry_accepts() -> None:
    assert_ok(walk(tables(), eptp=0x100018))  # UC paging structures
    assert_ok(walk(tables(), eptp=0x10001E | BIT[7], cap=CAP | BIT[23]))  # shadow-stack control allowed


def test_bad_access_kind() -> None:
    with pytest.raises(StateError) as err:
        walk(tables(), "execute")
    assert (err.value.code, err.value.path) == ("bad-query", "query.access")


# -- the rule catalogue ---------------------------------------------------------------------------------

RULE_SCENARIOS: dict[str, EptOutcome] = {}


def _scenarios() -> dict[str, EptOutcome]:
    if not RULE_SCENARIOS:
        RULE_SCENARIOS.update({
            "EPT-MISCONFIG-W-NO-R": walk(tables(e3=PD | 2)),
            "EPT-MISCONFIG-XONLY-NO-CAP": walk(tables(e1=PAGE | WB | 4), cap=CAP_NO_XONLY),
            "EPT-MISCONFIG-RSVD-PHYS": walk(tables(e4=PDPT | BIT[46] | 7)),
            "EPT-MISCONFIG-PS-PML4E": walk(tables(e4=PDPT | PS | 7)),
            "EPT-MISCONFIG-RSVD-NONLEAF": walk(tables(e3=PD | BIT[3] | 7)),
            "EPT-MISCONFIG-PS-1G-NO-CAP": walk(tables(e3=HUGE | PS | WB | 7), cap=CAP_NO_1G),
            "EPT-MISCONFIG-PS-2M-NO-CAP": walk(tables(e2=HUGE | PS | WB | 7), cap=CAP_NO_2M_1G),
            "EPT-MISCONFIG-RSVD-1G-ALIGN": walk(tables(e3=HUGE | BIT[29] | PS | WB | 7)),
            "EPT-MISCONFIG-RSVD-2M-ALIGN": walk(tables(e2=HUGE | BIT[20] | PS | WB | 7)),
            "EPT-MISCONFIG-MEMTYPE": walk(tables(e1=PAGE | (3 << 3) | 7)),
            "EPT-VIOLATION-NOT-PRESENT": walk({}),
            "EPT-VIOLATION-READ": walk(tables(e1=PAGE | WB | 4)),
            "EPT-VIOLATION-WRITE": walk(tables(e1=PAGE | WB | 5), "write"),
            "EPT-VIOLATION-AD-PAGING-WRITE": walk(tables(e1=PAGE | WB | 5), paging_structure=True, eptp=EPTP_AD),
            "EPT-VIOLATION-FETCH": walk(tables(e1=PAGE | WB | 3), "fetch"),
            "EPT-VIOLATION-FETCH-USER": mwalk(mbec_tables(7), "fetch", user=True),
        })
    return RULE_SCENARIOS


def test_every_rule_has_a_scenario_and_the_scenario_reports_it() -> None:
    catalogue = {r.id for r in rules_for(Stage.EPT)}
    assert set(_scenarios()) == catalogue
    for rule, outcome in _scenarios().items():
        assert outcome.rule == rule, (rule, outcome.message())


def test_rules_name_sdm_sections() -> None:
    for rule in rules_for(Stage.EPT):
        assert rule.section in ("EPT Misconfigurations", "EPT Violations")
        assert rule.implementations


# -- the builder ---------------------------------------------------------------------------------------

def test_builder_one_4k_page_by_hand() -> None:
    # Tables from 0x10000: PML4 0x10000, PDPT 0x11000, PD 0x12000, PT 0x13000; non-leaf entries RWX+XU
    # (0x407); the leaf is 0x5000 | WB (0x30) | RWX.
    eptp, memory = build_ept_tables([EptMapping(0x0, 0x1000, 0x5000)], table_base=0x10000)
    assert eptp == 0x1001E
    assert memory == {0x10000: 0x11407, 0x11000: 0x12407, 0x12000: 0x13407, 0x13000: 0x5037}


def test_builder_picks_a_2m_page_by_alignment() -> None:
    # GPA 0x4020_0000: PML4 index 0, PDPT index 1, PD index 1; the leaf 0x20_0000 | PS | WB | RWX.
    eptp, memory = build_ept_tables([EptMapping(0x4020_0000, 0x20_0000, 0x20_0000)], table_base=0x10000,
                                    accessed_dirty=True)
    assert eptp == 0x1005E
    assert memory == {0x10000: 0x11407, 0x11008: 0x12407, 0x12008: 0x2000B7}


def test_builder_page_sizes_follow_alignment_and_caps() -> None:
    def leaf_sizes(mapping: EptMapping, sizes: frozenset[int]) -> set[int]:
        eptp, memory = build_ept_tables([mapping], table_base=0x1000_0000, page_sizes=sizes, maxphyaddr=46)
        state = make_state(memory, eptp=eptp)
        samples = [*range(mapping.gpa, mapping.end, A.PAGE_4K * 97), mapping.end - 1]
        return {translate_gpa(state, g, "read").page_size or 0 for g in samples}

    one_g = EptMapping(0x4000_0000, 0x4000_0000, 0x8000_0000)
    assert leaf_sizes(one_g, page_sizes_allowed(CAP)) == {A.PAGE_1G}
    assert leaf_sizes(one_g, page_sizes_allowed(CAP_NO_1G)) == {A.PAGE_2M}
    four_m = EptMapping(0x40_0000, 0x40_0000, 0x80_0000)
    assert leaf_sizes(four_m, page_sizes_allowed(CAP)) == {A.PAGE_2M}
    assert leaf_sizes(four_m, page_sizes_allowed(CAP_NO_2M_1G)) == {A.PAGE_4K}
    # HPA only 4-KByte aligned: 4-KByte pages whatever the caps allow.
    assert leaf_sizes(EptMapping(0x20_0000, 0x20_0000, 0x1000), page_sizes_allowed(CAP)) == {A.PAGE_4K}
    # 2 MiB + 4 KiB: one 2-MByte page and one 4-KByte page.
    assert leaf_sizes(EptMapping(0x20_0000, 0x20_1000, 0x40_0000), page_sizes_allowed(CAP)) == {
        A.PAGE_2M, A.PAGE_4K}


def test_builder_pinned_page_size_is_honoured_even_without_the_capability() -> None:
    eptp, memory = build_ept_tables([EptMapping(0, A.PAGE_2M, 0, page_size=A.PAGE_2M)], table_base=0x10_0000)
    state = make_state(memory, eptp=eptp, cap=CAP_NO_2M_1G)
    assert translate_gpa(state, 0x1234, "read").rule == "EPT-MISCONFIG-PS-2M-NO-CAP"


def test_builder_encodes_what_it_is_given() -> None:
    _, memory = build_ept_tables([EptMapping.with_permissions(0, 0x1000, 0x5000, "-w-", memtype=7)],
                                 table_base=0x10000)
    assert memory[0x13000] == 0x5000 | (7 << 3) | 2
    assert EptMapping.with_permissions(0, 0x1000, 0, "rxu").permission_bits == 1 | 4 | XU


@pytest.mark.parametrize(("mappings", "kwargs"), [
    ([EptMapping(0, 0x2000, 0), EptMapping(0x1000, 0x1000, 0x9000)], {}),           # overlap
    ([EptMapping(0x800, 0x1000, 0)], {}),                                            # misaligned GPA
    ([EptMapping(0, 0x1000, 0x10)], {}),                                             # misaligned HPA
    ([EptMapping(0, A.PAGE_2M, 0x1000, page_size=A.PAGE_2M)], {}),                   # pinned, misaligned
    ([EptMapping(1 << 48, 0x1000, 0)], {"maxphyaddr": 52}),                          # beyond 4-level reach
    ([EptMapping(0, 0x1000, 1 << 46)], {"maxphyaddr": 46}),                          # HPA beyond MAXPHYADDR
    ([EptMapping(0, 0x1000, 0)], {"table_limit": 0x12000}),                          # no room for tables
    ([EptMapping(0, 0x1000, 0)], {"levels": 3}),
    ([EptMapping(0, 0, 0)], {}),
])
def test_builder_refuses_what_cannot_be_laid_out(mappings: list[EptMapping], kwargs: dict[str, int]) -> None:
    with pytest.raises(EptBuildError):
        build_ept_tables(mappings, table_base=0x10000, **kwargs)  # type: ignore[arg-type]


def test_builder_five_levels() -> None:
    eptp, memory = build_ept_tables([EptMapping(1 << 48, 0x1000, 0x7000)], table_base=0x10000, levels=5)
    assert eptp == 0x10026
    state = make_state(memory, cap=CAP_5LEVEL, maxphyaddr=52, eptp=eptp)
    assert_ok(translate_gpa(state, (1 << 48) | 0x123, "write"), hpa=0x7123)
