"""EPT walk properties: tables built from mappings translate back to the mappings, and no table,
however garbled, makes the walk fail with anything but a StateError.

The round trip checks the builder and the walk against the mappings alone (not against each
other's internals): every sampled mapped address translates to the mapping's target plus the
offset, with the mapping's permissions and memory type, through a page that lies inside the
mapping; every address outside the mappings is a not-present violation.
"""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.arch import ept as A
from vmxspec.build import EptMapping, build_ept_tables, page_sizes_allowed
from vmxspec.interp.ept import translate_gpa
from vmxspec.state import State, StateError

CAP = 0x06334141  # exec-only, 4-level, UC/WB, 2M, 1G, A/D
CAP5 = CAP | (1 << 7)
MAXPHYADDR = 46
TABLE_BASE = 0x3F00_0000_0000
#: Permission sets that are not misconfigurations with execute-only support: r, rw, rx, rwx, x.
VALID_PERMISSIONS = ("r", "rw", "rx", "rwx", "x")
SIZES = (A.PAGE_4K, 2 * A.PAGE_4K, 5 * A.PAGE_4K, A.PAGE_2M, A.PAGE_2M + 3 * A.PAGE_4K, 2 * A.PAGE_2M,
         A.PAGE_1G)


@st.composite
def mapping_sets(draw: st.DrawFn) -> list[EptMapping]:
    """Up to 5 non-overlapping mappings, sometimes adjacent, aligned so that large pages can occur."""
    mappings = []
    gpa = draw(st.sampled_from((0, A.PAGE_4K, A.PAGE_2M, A.PAGE_1G, 0x80_0000_0000)))
    for _ in range(draw(st.integers(1, 5))):
        size = draw(st.sampled_from(SIZES))
        # A 1-GiB mapping cut into 4-KiB pages would need 262,144 entries: keep its GPA and HPA at least
        # 2-MiB aligned so that the tests stay fast.
        big = size >= A.PAGE_1G
        align = draw(st.sampled_from((A.PAGE_2M, A.PAGE_1G) if big else (A.PAGE_4K, A.PAGE_2M, A.PAGE_1G)))
        extra = draw(st.sampled_from((0, A.PAGE_2M) if big else (0, 0, A.PAGE_4K, A.PAGE_2M)))
        gpa = (gpa + align - 1) // align * align + extra
        hpa_align = draw(st.sampled_from((A.PAGE_2M, A.PAGE_1G) if big else (A.PAGE_4K, A.PAGE_2M, A.PAGE_1G)))
        hpa = draw(st.integers(0, (1 << 40) // hpa_align - 1)) * hpa_align
        mappings.append(EptMapping.with_permissions(
            gpa, size, hpa, draw(st.sampled_from(VALID_PERMISSIONS)),
            memtype=draw(st.sampled_from((0, 1, 4, 5, 6))), ipat=draw(st.booleans())))
        gpa += size
    return mappings


ACCESS_NEEDS = {"read": "read", "write": "write", "fetch": "execute"}


def _state(eptp: int, memory: dict[int, int], cap: int = CAP, maxphyaddr: int = MAXPHYADDR) -> State:
    return State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=maxphyaddr,
                  vmcs={"EPT_POINTER": eptp, "CPU_BASED_VM_EXEC_CONTROL": 0}, memory=memory)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mappings=mapping_sets(), five_level=st.booleans(), ad=st.booleans(), small_pages=st.booleans(),
       data=st.data())
def test_built_tables_translate_back_to_the_mappings(mappings: list[EptMapping], five_level: bool, ad: bool,
                                                     small_pages: bool, data: st.DataObject) -> None:
    levels = 5 if five_level else 4
    cap = CAP5 if five_level else CAP
    sizes = page_sizes_allowed(cap if not small_pages else cap & ~(1 << 17))
    eptp, memory = build_ept_tables(mappings, table_base=TABLE_BASE, levels=levels, accessed_dirty=ad,
                                    page_sizes=sizes, maxphyaddr=MAXPHYADDR)
    state = _state(eptp, memory, cap)
    for m in mappings:
        offsets = {0, m.size - 1, data.draw(st.integers(0, m.size - 1), label="offset")}
        for offset in offsets:
            gpa = m.gpa + offset
            for access in ("read", "write", "fetch"):
                o = translate_gpa(state, gpa, access)
                allowed = getattr(m, ACCESS_NEEDS[access])
                if not allowed:
                    assert o.result == "ept_violation", o.message()
                    assert (o.qualification or 0) >> 3 & 7 == m.permission_bits & 7
                    continue
                assert o.result == "ok", o.message()
                assert o.hpa == m.hpa + offset
                assert o.memtype == m.memtype
                assert o.page_size in sizes
                page_start = gpa & ~((o.page_size or 0) - 1)
                assert m.gpa <= page_start and page_start + (o.page_size or 0) <= m.end
                if ad:
                    leaf = o.steps[-1]
                    assert o.ad_updates[leaf.address] & (A.ACCESSED | A.DIRTY) == (
                        A.ACCESSED | (A.DIRTY if access == "write" else 0))
                else:
                    assert o.ad_updates == {}


@settings(max_examples=60, deadline=None)
@given(mappings=mapping_sets(), data=st.data())
def test_unmapped_addresses_are_not_present_violations(mappings: list[EptMapping], data: st.DataObject) -> None:
    eptp, memory = build_ept_tables(mappings, table_base=TABLE_BASE, maxphyaddr=MAXPHYADDR)
    state = _state(eptp, memory)
    ends = sorted((m.gpa, m.end) for m in mappings)
    candidates = [0, *(end for _, end in ends), *(start - 1 for start, _ in ends if start),
                  data.draw(st.integers(0, (1 << MAXPHYADDR) - 1), label="gpa")]
    for gpa in candidates:
        if gpa >= 1 << MAXPHYADDR or any(start <= gpa < end for start, end in ends):
            continue
        o = translate_gpa(state, gpa, data.draw(st.sampled_from(("read", "write", "fetch")), label="access"))
        assert o.result == "ept_violation" and o.rule == "EPT-VIOLATION-NOT-PRESENT", o.message()
        assert (o.qualification or 0) & 0x38 == 0


# -- garbage tables -------------------------------------------------------------------------------------

REGION = 0x10_0000
PAGES = 6


_USUAL_LOW = (7, 0x407, 0x107, 3, 1, 5)
_ODD_LOW = (4, 0x400, 0x404, 2, 6, 0, 0x37, 0xB7, 0x77, 0x3F, 0x17, 0x1B7, 0x3B7, 0x3B4, 0x80)
_HIGH = (1 << 63, 1 << 52, 1 << 45, 1 << 47, 1 << 51, 1 << 12, 1 << 20, 1 << 29, 0xFFF0_0000_0000_0000)


def _entry(rng: random.Random) -> int:
    """An entry that mostly points back into the region with plausible low bits, sometimes odd or
    random bits, sometimes any 64-bit value at all."""
    roll = rng.random()
    if roll < 0.1:
        return rng.getrandbits(64)
    low = rng.choice(_USUAL_LOW) if roll < 0.75 else rng.choice(_ODD_LOW) if roll < 0.9 else rng.getrandbits(12)
    high = rng.choice(_HIGH) if rng.random() < 0.15 else 0
    return REGION + rng.randrange(PAGES) * 4096 | low | high


@st.composite
def garbage_states(draw: st.DrawFn) -> tuple[State, int, str, bool, bool]:
    """Tables whose entries point back into a small region, so that walks go deep, with random
    permission, memory-type, page-size and high bits; random capabilities, MAXPHYADDR and controls;
    mostly valid EPT pointers. The structure comes from a ``random.Random`` seeded by hypothesis, so
    that the weights stay as written (hypothesis' own draws favour edge values)."""
    rng = random.Random(draw(st.integers(0, 2**64 - 1)))
    memory = {REGION + page * 4096 + 8 * index: _entry(rng)
              for page in range(PAGES) for index in range(4) if rng.random() < 0.9}
    levels = rng.choice((4, 4, 5))
    eptp = REGION + rng.randrange(PAGES) * 4096 | rng.choice((0, 0x40)) | rng.choice((0, 6, 6)) | (levels - 1) << 3
    if rng.random() < 0.1:
        eptp = rng.getrandbits(64)
    caps = (CAP5, 0x067341C1, 0x063041C1) if levels == 5 else (CAP, 0x06334140, 0x06304141, 0x06734141)
    cap = rng.choice(caps) if rng.random() < 0.9 else rng.getrandbits(64)
    maxphyaddr = rng.choice((32, 39, 46, 48, 52))
    vmcs: dict[str, int] = {"EPT_POINTER": eptp}
    if rng.random() < 0.9:
        vmcs["CPU_BASED_VM_EXEC_CONTROL"] = rng.choice((0, 1 << 31))
        if rng.random() < 0.9:
            vmcs["SECONDARY_VM_EXEC_CONTROL"] = rng.choice((0, 1 << 22, 0xFFFF_FFFF))
    state = State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=maxphyaddr, vmcs=vmcs, memory=memory)
    gpa = sum(rng.randrange(4) << A.index_shift(level) for level in range(levels, 0, -1))
    gpa = (gpa | rng.getrandbits(12)) & ((1 << maxphyaddr) - 1)
    if rng.random() < 0.05:
        gpa = rng.getrandbits(64)
    access = rng.choice(("read", "write", "fetch"))
    paging = access != "fetch" and rng.random() < 0.3
    return state, gpa, access, rng.random() < 0.5, paging


@settings(max_examples=300, deadline=None)
@given(garbage_states())
def test_garbage_tables_give_an_answer_or_a_state_error(case: tuple[State, int, str, bool, bool]) -> None:
    state, gpa, access, user, paging = case
    try:
        o = translate_gpa(state, gpa, access, user=user, paging_structure=paging)
    except StateError as err:
        assert err.code in ("bad-query", "missing-field", "missing-capability")
        return
    answer = o.to_json()
    json.dumps(answer)
    assert o.message() and all(s.describe(bool(o.mbec)) for s in o.steps)
    assert o.steps and o.steps[-1].address == o.entry_address and o.steps[-1].level == o.level
    if o.result == "ok":
        assert o.hpa is not None and o.page_size is not None
        assert o.hpa >> (state.maxphyaddr or 64) == 0
        assert o.hpa & (o.page_size - 1) == gpa & (o.page_size - 1)
        assert set(o.ad_updates) <= {s.address for s in o.steps}
    elif o.result == "ept_violation":
        assert o.qualification is not None and o.qualification & 0x80
        assert (o.qualification & 7) != 0
    else:
        assert o.rule is not None and o.rule.startswith("EPT-MISCONFIG-")
