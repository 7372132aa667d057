"""The checker's reading of translation tables against the reference interpreter's.

``vmxspec.symbolic.reach`` extracts every translation of an EPT or a VT-d unit at once (interval
maps); the interpreter walks one access at a time. On random built tables, with random bits
flipped in their words (so that misconfigurations, reserved bits and garbage pointers occur), the
two must agree on every sampled access: the same host address for a translation, the same entry
and rule for a misconfiguration, and no translation where the other has none. Every finding's
witness request must fault exactly as the extraction says. A one-bit misreading of an entry
format, seeded into the extraction, must be caught by the same comparison.

The interval sweeps the properties decide with are checked against brute force.
"""

from __future__ import annotations

import random
import types
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.arch import ept as A
from vmxspec.arch import vtd as V
from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.build import EptMapping, build_ept_tables
from vmxspec.build.vtd_tables import Attachment, DmaDomain, DmaMapping, build_vtd_tables, cap_value, ecap_value
from vmxspec.interp.ept import translate_gpa
from vmxspec.interp.vtd import translate_dma
from vmxspec.state import IommuUnit, State, StateError
from vmxspec.symbolic.reach import ept as reach_ept
from vmxspec.symbolic.reach import vtd as reach_vtd
from vmxspec.symbolic.reach.ept import EptMap, extract_ept
from vmxspec.symbolic.reach.memory import TableMemory
from vmxspec.symbolic.reach.sweep import Labelled, Span, first_conflict, first_outside, first_overlap
from vmxspec.symbolic.reach.vtd import INTR_END, INTR_START, UnitMap, extract_unit

K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
EPT_TABLES = 0x70_0000_0000  # below 2^39, the smallest MAXPHYADDR drawn
VTD_TABLES = 0x1_0000_0000
_CAP = EPT_VPID_CAP
_BASE_CAP = (_CAP["pwl4"].mask | _CAP["pwl5"].mask | _CAP["memtype_uc"].mask | _CAP["memtype_wb"].mask
             | _CAP["ad_flags"].mask)
_PROC_SECONDARY = 1 << 31
_PROC2_MBEC = 1 << 22


# -- EPT --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EptCase:
    state: State
    eptp: int
    cap: int
    maxphyaddr: int
    mbec: bool | None
    samples: tuple[int, ...]


def _flip(memory: dict[int, int], rng: random.Random, flips: int, strays: int, base: int) -> None:
    """Flip random bits of random words, and write a few stray words into table pages."""
    words = sorted(memory)
    for _ in range(flips):
        address = rng.choice(words)
        memory[address] ^= 1 << rng.randrange(64)
    pages = sorted({a & ~0xFFF for a in words} | {base})
    for _ in range(strays):
        memory[rng.choice(pages) + 8 * rng.randrange(512)] = rng.getrandbits(64) & rng.choice(
            (0xFFF, (1 << 52) - 1, (1 << 64) - 1))


@st.composite
def ept_cases(draw: st.DrawFn) -> EptCase:
    rng = random.Random(draw(st.integers(0, 1 << 32)))
    levels = draw(st.sampled_from((4, 5)))
    maxphyaddr = draw(st.sampled_from((39, 46, 52)))
    cap = _BASE_CAP
    for name in ("execute_only", "pde_2m", "pdpte_1g"):
        if draw(st.booleans()):
            cap |= _CAP[name].mask
    mappings = []
    for slot in sorted(draw(st.lists(st.integers(0, 40), min_size=1, max_size=6, unique=True))):
        # A 1-GiB mapping only where the processor has large pages, at aligned addresses: cut into
        # 4-KiB pages it would take 262,144 entries.
        large = bool(cap & (_CAP["pde_2m"].mask | _CAP["pdpte_1g"].mask))
        size = draw(st.sampled_from((K4, 16 * K4, M2, M2 + K4, G1) if large else (K4, 16 * K4, M2, M2 + K4)))
        gpa = slot * G1 + (draw(st.sampled_from((0, K4, M2))) if size < G1 else 0)
        hpa = draw(st.integers(1, (1 << 38) // G1 - 1)) * G1 + (draw(st.sampled_from((0, K4, M2))) if size < G1 else 0)
        pinned = draw(st.sampled_from((None, None, K4, M2, G1)))
        if pinned is not None and (gpa % pinned or hpa % pinned or size % pinned):
            pinned = None
        if (size == G1 and pinned == K4) or (pinned == M2 and not large):
            pinned = None
        perms = draw(st.sampled_from(("rwx", "rw", "r", "rx", "x", "w", "wx", "u", "rxu", "")))
        mappings.append(EptMapping.with_permissions(gpa, size, hpa, perms, memtype=draw(st.integers(0, 7)),
                                                    ipat=draw(st.booleans()), page_size=pinned))
    sizes = {K4} | ({M2} if cap & _CAP["pde_2m"].mask else set()) | ({G1} if cap & _CAP["pdpte_1g"].mask else set())
    tables = build_ept_tables(mappings, table_base=EPT_TABLES, levels=levels, page_sizes=sizes, maxphyaddr=maxphyaddr)
    memory = dict(tables.memory)
    _flip(memory, rng, draw(st.integers(0, 4)), draw(st.integers(0, 2)), EPT_TABLES)
    mbec = draw(st.sampled_from((None, False, True)))
    vmcs = {"EPT_POINTER": tables.eptp}
    if mbec is not None:
        vmcs["CPU_BASED_VM_EXEC_CONTROL"] = _PROC_SECONDARY
        vmcs["SECONDARY_VM_EXEC_CONTROL"] = _PROC2_MBEC if mbec else 0
    limit = 1 << min(maxphyaddr, A.gpa_width(levels))
    samples = {m.gpa + rng.randrange(m.size) for m in mappings for _ in range(3)}
    samples |= {m.gpa for m in mappings} | {m.end - 1 for m in mappings}
    samples |= {rng.randrange(41 * G1) for _ in range(10)} | {rng.randrange(limit) for _ in range(3)}
    state = State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=maxphyaddr, vmcs=vmcs, memory=memory)
    return EptCase(state, tables.eptp, cap, maxphyaddr, mbec, tuple(sorted(s for s in samples if s < limit)))


def ept_predict(found: EptMap, gpa: int, access: str, user: bool) -> tuple[object, ...]:
    for f in found.findings:
        if f.start <= gpa < f.end:
            return ("ept_misconfig", f.entry, f.level, f.rule)
    for u in found.undetermined:
        if u.start <= gpa < u.end:
            return ("undetermined",)
    run = found.run_at(gpa)
    if run is None:
        return ("ept_violation",)
    if access == "fetch" and user and found.mbec is None:
        return ("undetermined",)
    need = {"read": A.R, "write": A.W}.get(access, A.XU if user and found.mbec else A.X)
    if run.perms & need:
        return ("ok", run.hpa_of(gpa))
    return ("ept_violation",)


def ept_actual(state: State, gpa: int, access: str, user: bool) -> tuple[object, ...]:
    try:
        o = translate_gpa(state, gpa, access, user=user)
    except StateError as exc:
        assert exc.code == "missing-field", exc  # only MBEC can be missing
        return ("undetermined",)
    if o.result == "ok":
        return ("ok", o.hpa)
    if o.result == "ept_misconfig":
        return ("ept_misconfig", o.entry_address, o.level, o.rule)
    return ("ept_violation",)


ACCESSES = (("read", False), ("write", False), ("fetch", False), ("fetch", True))


def ept_disagreements(case: EptCase) -> list[str]:
    found = extract_ept(TableMemory(case.state.memory), case.eptp, case.cap, case.maxphyaddr, case.mbec)
    out = []
    witnesses = [(f.start, "read", False) for f in found.findings]
    for gpa, access, user in [(g, a, u) for g in case.samples for a, u in ACCESSES] + witnesses:
        want = ept_actual(case.state, gpa, access, user)
        got = ept_predict(found, gpa, access, user)
        # Without MBEC known the interpreter refuses some walks the extraction still predicts
        # (qualification bit 6 needs it); only that direction is allowed to differ.
        if want != got and not (want == ("undetermined",) and case.mbec is None and got[0] == "ept_violation"):
            out.append(f"GPA {gpa:#x} {access}{' user' if user else ''}: interpreter {want}, extraction {got}")
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ept_cases())
def test_ept_extraction_agrees_with_the_interpreter(case: EptCase) -> None:
    assert ept_disagreements(case) == []


# -- VT-d -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VtdCase:
    state: State
    sids: tuple[int, ...]
    pasids: tuple[int, ...]
    samples: tuple[int, ...]


@st.composite
def vtd_cases(draw: st.DrawFn) -> VtdCase:
    rng = random.Random(draw(st.integers(0, 1 << 32)))
    scalable = draw(st.booleans())
    sllps = (draw(st.booleans()), draw(st.booleans()))
    aws = draw(st.sampled_from(((1, 2), (2,), (1, 2, 3))))
    cap = cap_value(aws=aws, mgaw=draw(st.sampled_from((39, 48, 57))), sllps_2m=sllps[0], sllps_1g=sllps[1])
    extra = [n for n in ("sc", "dt") if draw(st.booleans())]
    ecap = ecap_value("pt", *extra, *(("smts", "slts", "pasid") if scalable else ()))
    domains = []
    samples: set[int] = set()
    for did in range(1, draw(st.integers(1, 3)) + 1):
        if draw(st.integers(0, 4)) == 0:
            domains.append(DmaDomain(did, passthrough=True, aw=max(aws)))
            continue
        maps = []
        for slot in sorted(draw(st.lists(st.integers(0, 30), min_size=1, max_size=4, unique=True))):
            size = draw(st.sampled_from((K4, 16 * K4, M2, G1) if any(sllps) else (K4, 16 * K4, M2)))
            iova = slot * G1 + (draw(st.sampled_from((0, K4, M2))) if size < G1 else 0)
            hpa = draw(st.sampled_from((0xFE00_0000, 0x1_0000_0000, 0x40_0000_0000))) + draw(st.integers(0, 63)) * M2
            maps.append(DmaMapping(iova, size, hpa, draw(st.booleans()), draw(st.booleans())))
            samples |= {iova, iova + size - 1, iova + rng.randrange(size)}
        aw = draw(st.sampled_from(aws))
        domains.append(DmaDomain(did, tuple(maps), aw=aw))
    sids = tuple(draw(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=3, unique=True)))
    attachments = [Attachment(sid, draw(st.sampled_from([d.did for d in domains]))) for sid in sids]
    pasids: list[int] = []
    if scalable:
        for sid in sids:
            for pasid in draw(st.lists(st.integers(1, 0x3FFF), max_size=2, unique=True)):
                attachments.append(Attachment(sid, draw(st.sampled_from([d.did for d in domains])), pasid))
                pasids.append(pasid)
    ats = [sid for sid in sids if "dt" in extra and draw(st.booleans())] if not scalable else []
    sizes = {K4} | ({M2} if sllps[0] else set()) | ({G1} if sllps[1] else set())
    tables = build_vtd_tables(attachments, domains, table_base=VTD_TABLES, haw=46, scalable=scalable,
                              page_sizes=sizes, max_aw=max(aws), ats=ats)
    memory = dict(tables.memory)
    _flip(memory, rng, draw(st.integers(0, 4)), draw(st.integers(0, 2)), VTD_TABLES)
    samples |= {rng.randrange(1 << 40) for _ in range(5)} | {INTR_START, INTR_END - 1}
    state = State(maxphyaddr=46, memory=memory, iommus=[IommuUnit(cap, ecap, tables.rtaddr, 46)])
    return VtdCase(state, (*sids, rng.randrange(1 << 16)), tuple(pasids), tuple(sorted(samples)))


def vtd_predict(found: UnitMap, sid: int, iova: int, access: str, pasid: int | None, at: str) -> tuple[object, ...]:
    if pasid is None and at == "untranslated" and INTR_START <= iova < INTR_END:
        return ("interrupt",)
    device = found.devices.get(sid)
    if device is None or found.blocked:
        return ("no",)
    if at == "translated":
        ok = device.ats and not INTR_START <= iova < INTR_END
        return ("ok", iova) if ok else ("no",)
    translation = device.plain if pasid is None else device.pasids.get(pasid)
    need = 2 if access == "write" else 1
    for run in translation.runs if translation is not None else ():
        if run.start <= iova < run.end and run.perms & need:
            return ("ok", run.hpa_of(iova))
    return ("no",)


def vtd_disagreements(case: VtdCase) -> list[str]:
    found = extract_unit(TableMemory(case.state.memory), case.state.iommus, 0, 46)
    out = []
    for sid in case.sids:
        for iova in case.samples:
            for access in ("read", "write"):
                for pasid, at in [(None, "untranslated"), (None, "translated")] + [(p, "untranslated")
                                                                                  for p in case.pasids]:
                    o = translate_dma(case.state, sid, iova, access, pasid, at)
                    want = ("ok", o.hpa) if o.result == "ok" else ("interrupt",) if o.result == "interrupt" else ("no",)
                    got = vtd_predict(found, sid, iova, access, pasid, at)
                    if want != got:
                        out.append(f"{sid:#06x} {iova:#x} {access} pasid={pasid} {at}: interpreter {o.to_json()}, "
                                   f"extraction {got}")
    for f in found.findings:
        r = f.request
        o = translate_dma(case.state, r.sid, r.iova, r.access, r.pasid)
        if o.result != "fault" or o.rule != f.rule:
            out.append(f"finding {f.rule} at {f.entry:#x}: its request gets {o.to_json()}")
    return out


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vtd_cases())
def test_vtd_extraction_agrees_with_the_interpreter(case: VtdCase) -> None:
    assert vtd_disagreements(case) == []


# -- seeded bugs --------------------------------------------------------------------------------------

def _misread(module: types.ModuleType, **override: int) -> types.SimpleNamespace:
    """The facts module with one fact read wrongly."""
    facts = {name: getattr(module, name) for name in dir(module) if not name.startswith("__")}
    facts.update(override)
    return types.SimpleNamespace(**facts)


def _fixed_ept_case() -> EptCase:
    cap = _BASE_CAP | _CAP["pde_2m"].mask | _CAP["pdpte_1g"].mask | _CAP["execute_only"].mask
    mappings = [EptMapping.with_permissions(0, M2, 0x1_0000_0000, "rwx"),
                EptMapping.with_permissions(M2, 8 * K4, 0x2_0000_0000, "rw"),
                EptMapping.with_permissions(G1, G1, 0x4_0000_0000, "rx"),
                EptMapping.with_permissions(2 * G1, M2, 0x6_0000_0000, "w"),
                EptMapping.with_permissions(2 * G1 + M2, K4, 0x6_0020_0000, "x"),
                EptMapping.with_permissions(2 * G1 + M2 + K4, K4, 0x6_0020_1000, "r", memtype=7)]
    tables = build_ept_tables(mappings, table_base=EPT_TABLES, maxphyaddr=46)
    state = State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=46,
                  vmcs={"EPT_POINTER": tables.eptp, "CPU_BASED_VM_EXEC_CONTROL": 0}, memory=tables.memory)
    samples = (0, M2 - K4, M2, M2 + 5 * K4, G1, G1 + M2 + 3 * K4, 2 * G1, 2 * G1 + M2, 2 * G1 + M2 + K4)
    return EptCase(state, tables.eptp, cap, 46, False, samples)


@pytest.mark.parametrize("misreading", [
    {"PAGE_SIZE_BIT": 1 << 8},  # bit 7 (page size) read from bit 8 (accessed)
    {"W": 1 << 2},              # the write right read from the execute bit
    {"MEMTYPE_MASK": 0b111 << 2, "MEMTYPE_SHIFT": 2},  # memory type one bit too low
])
def test_a_seeded_ept_misreading_is_caught(monkeypatch: pytest.MonkeyPatch, misreading: dict[str, int]) -> None:
    case = _fixed_ept_case()
    assert ept_disagreements(case) == []
    monkeypatch.setattr(reach_ept, "A", _misread(A, **misreading))
    assert ept_disagreements(case) != []


def test_a_seeded_vtd_misreading_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    domains = [DmaDomain(1, (DmaMapping(0, M2, 0x1_0000_0000), DmaMapping(M2, 4 * K4, 0x2_0000_0000, True, False)))]
    tables = build_vtd_tables({0x300: 1}, domains, table_base=VTD_TABLES, haw=46)
    state = State(maxphyaddr=46, memory=tables.memory,
                  iommus=[IommuUnit(cap_value(), ecap_value("pt"), tables.rtaddr, 46)])
    case = VtdCase(state, (0x300,), (), (0, K4, M2 - 1, M2, M2 + 3 * K4))
    assert vtd_disagreements(case) == []
    monkeypatch.setattr(reach_vtd, "V", _misread(V, SL_PS=1 << 8))  # page size read from bit 8 (accessed)
    assert vtd_disagreements(case) != []


# -- sweeps against brute force --------------------------------------------------------------------------

intervals = st.lists(st.tuples(st.integers(0, 60), st.integers(1, 12)).map(lambda t: (t[0], t[0] + t[1])),
                     max_size=8)


def _points(spans: list[tuple[int, int]]) -> set[int]:
    return {p for s, e in spans for p in range(s, e)}


@settings(max_examples=300, deadline=None)
@given(intervals, intervals)
def test_first_overlap_and_first_outside(left: list[tuple[int, int]], right: list[tuple[int, int]]) -> None:
    both = _points(left) & _points(right)
    hit = first_overlap([Span(s, e, i) for i, (s, e) in enumerate(left)],
                        [Span(s, e, i) for i, (s, e) in enumerate(right)])
    if not both:
        assert hit is None
    else:
        assert hit is not None and hit.start == min(both)
        assert set(range(hit.start, hit.end)) <= both
        assert left[hit.left][0] <= hit.start and hit.end <= left[hit.left][1]
        assert right[hit.right][0] <= hit.start and hit.end <= right[hit.right][1]
    outside = _points(left) - _points(right)
    out = first_outside([Span(s, e, i) for i, (s, e) in enumerate(left)], right)
    if not outside:
        assert out is None
    else:
        assert out is not None and out.start == min(outside)
        assert set(range(out.start, out.end)) <= outside


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(intervals, st.sampled_from("abc")), max_size=3))
def test_first_conflict(groups: list[tuple[list[tuple[int, int]], str]]) -> None:
    spans = [Labelled(s, e, label, None) for items, label in groups for s, e in items]
    owners: dict[int, set[str]] = {}
    for s in spans:
        for p in range(s.start, s.end):
            owners.setdefault(p, set()).add(s.label)
    shared = [p for p, labels in owners.items() if len(labels) > 1]
    found = first_conflict(spans)
    if not shared:
        assert found is None
    else:
        assert found is not None and found[0] == min(shared)
        assert found[2].label != found[3].label
