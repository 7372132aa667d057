"""VT-d round trip: tables built from random assignments translate every mapped IOVA back to its target.

Random devices, domains and mappings (4-KiB, 2-MiB and 1-GiB pages, read-only, write-only and
no-access mappings, pass-through domains, legacy and scalable mode, requests with and without
PASID) are laid out with ``build_vtd_tables``; sampled addresses inside a mapping must translate to
the mapping's target with its rights, and addresses outside every mapping, devices attached to
nothing and buses with no device must fault with the reason the specification gives. Random
garbage in the tables and registers must never raise anything but StateError.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.arch import vtd
from vmxspec.arch.rules.vtd import FAULT_OF
from vmxspec.build.vtd_tables import (
    Attachment,
    DmaDomain,
    DmaMapping,
    build_vtd_tables,
    cap_value,
    ecap_value,
)
from vmxspec.interp.vtd import DmaOutcome, translate_dma
from vmxspec.state import IommuUnit, State, StateError

HAW = 46
CAP = cap_value(aws=(1, 2), mgaw=48)
ECAP_LEGACY = ecap_value("pt")
ECAP_SCALABLE = ecap_value("pt", "smts", "slts", "pasid")
TABLE_BASE = 0x1_0000_0000
K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
SLOT = 4 << 20  # small mappings live in 4-MiB slots below 256 MiB, 1-GiB ones from 8 GiB up


@dataclass(frozen=True)
class Scenario:
    scalable: bool
    domains: tuple[DmaDomain, ...]
    attachments: tuple[Attachment, ...]


@st.composite
def mappings(draw: st.DrawFn) -> tuple[DmaMapping, ...]:
    out = []
    slots = draw(st.lists(st.integers(0, 63), min_size=1, max_size=4, unique=True))
    for slot in slots:
        read, write = draw(st.booleans()), draw(st.booleans())
        if draw(st.integers(0, 9)) == 0:
            # one 1-GiB page (the builder picks 1 GiB because both sides are aligned)
            hpa = draw(st.integers(1, 500)) * G1
            out.append(DmaMapping((8 + slot) * G1, G1, hpa, read, write))
            continue
        big = draw(st.booleans())
        if big:
            offset, pages = 0, draw(st.sampled_from([512, 513, 1024 - 512]))
            hpa = draw(st.integers(1, 1 << 18)) * M2
        else:
            offset = draw(st.integers(0, 511)) * K4
            pages = draw(st.integers(1, 512 - offset // K4))
            hpa = draw(st.integers(1, 1 << 27)) * K4
        pages = min(pages, (SLOT - offset) // K4)
        out.append(DmaMapping(slot * SLOT + offset, pages * K4, hpa, read, write))
    return tuple(out)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    scalable = draw(st.booleans())
    dids = draw(st.lists(st.integers(1, 0xFFFF), min_size=1, max_size=3, unique=True))
    domains = []
    for did in dids:
        if draw(st.integers(0, 5)) == 0:
            domains.append(DmaDomain(did, passthrough=True))
        else:
            domains.append(DmaDomain(did, draw(mappings()), aw=draw(st.sampled_from([1, 2]))))
    sids = draw(st.lists(st.integers(0, 0xFFFF), min_size=1, max_size=4, unique=True))
    attachments = [Attachment(sid, draw(st.sampled_from(dids))) for sid in sids]
    if scalable:
        for sid in sids:
            for pasid in draw(st.lists(st.integers(1, 0x3FFF), max_size=2, unique=True)):
                attachments.append(Attachment(sid, draw(st.sampled_from(dids)), pasid))
    return Scenario(scalable, tuple(domains), tuple(attachments))


def _state(s: Scenario) -> State:
    # 1-GiB mappings need the AGAW to reach 8 GiB + 64 GiB: AW 1 (39-bit) covers 512 GiB
    tables = build_vtd_tables(s.attachments, s.domains, table_base=TABLE_BASE, haw=HAW, scalable=s.scalable)
    return State(memory=tables.memory, iommus=[IommuUnit(CAP, ECAP_SCALABLE if s.scalable else ECAP_LEGACY,
                                                         tables.rtaddr, HAW)])


def _no_access_fault(scalable: bool, write: bool, entry_missing: bool) -> int:
    """What an access the tables do not grant faults with: legacy 0x6/0x5; scalable 0x79 for an entry
    with R = W = 0 (not present), 0x86/0x85 for one that lacks just the requested right."""
    if not scalable:
        return 0x5 if write else 0x6
    if entry_missing:
        return 0x79
    return 0x85 if write else 0x86


def _expect_mapped(s: Scenario, outcome: DmaOutcome, m: DmaMapping, iova: int, write: bool) -> None:
    granted = m.write if write else m.read
    if granted:
        target = m.hpa + (iova - m.iova)
        if vtd.in_interrupt_range(target):
            assert outcome.result == "fault" and outcome.fault_reason == (0x87 if s.scalable else 0xE)
            return
        assert outcome.result == "ok", outcome.to_json()
        assert outcome.hpa == target
        assert outcome.permissions == ("r" if m.read else "") + ("w" if m.write else "")
    else:
        assert outcome.result == "fault", outcome.to_json()
        assert outcome.fault_reason == _no_access_fault(s.scalable, write, not (m.read or m.write))


@given(s=scenarios(), data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mapped_addresses_round_trip(s: Scenario, data: st.DataObject) -> None:
    state = _state(s)
    domains = {d.did: d for d in s.domains}
    for a in s.attachments:
        d = domains[a.did]
        write = data.draw(st.booleans())
        access = "write" if write else "read"
        if d.passthrough:
            iova = data.draw(st.integers(0, (1 << 39) - 1))
            outcome = translate_dma(state, a.source_id, iova, access, a.pasid)
            if a.pasid is None and vtd.in_interrupt_range(iova):
                assert outcome.result == "interrupt"
            elif vtd.in_interrupt_range(iova):
                assert outcome.fault_reason == 0x87
            else:
                assert (outcome.result, outcome.hpa, outcome.domain_id) == ("ok", iova, d.did)
            continue
        for m in data.draw(st.lists(st.sampled_from(d.mappings), min_size=1, max_size=3)):
            iova = m.iova + data.draw(st.integers(0, m.size - 1))
            outcome = translate_dma(state, a.source_id, iova, access, a.pasid)
            _expect_mapped(s, outcome, m, iova, write)
            if outcome.ok:
                assert outcome.domain_id == d.did


@given(s=scenarios(), data=st.data())
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_unmapped_addresses_fault(s: Scenario, data: st.DataObject) -> None:
    state = _state(s)
    domains = {d.did: d for d in s.domains}
    for a in s.attachments:
        d = domains[a.did]
        if d.passthrough:
            continue
        iova = data.draw(st.integers(0, (1 << 39) - 1))
        if any(m.iova <= iova < m.end for m in d.mappings):
            continue
        write = data.draw(st.booleans())
        outcome = translate_dma(state, a.source_id, iova, "write" if write else "read", a.pasid)
        if a.pasid is None and vtd.in_interrupt_range(iova):
            assert outcome.result == "interrupt"
        else:
            assert outcome.result == "fault", outcome.to_json()
            assert outcome.fault_reason == _no_access_fault(s.scalable, write, True)


@given(s=scenarios(), sid=st.integers(0, 0xFFFF), pasid=st.none() | st.integers(0, 0x3FFF))
@settings(max_examples=150, deadline=None)
def test_unattached_devices_and_pasids_fault(s: Scenario, sid: int, pasid: int | None) -> None:
    state = _state(s)
    attached = {(a.source_id, a.pasid) for a in s.attachments}
    devices = {a.source_id for a in s.attachments}
    if (sid, pasid) in attached or (pasid == 0 and (sid, None) in attached) or (not s.scalable and pasid is not None):
        return
    outcome = translate_dma(state, sid, 0x1000, "read", pasid)
    assert outcome.result == "fault"
    bus, upper = sid >> 8, sid & 0x80
    if not s.scalable:
        present_bus = any(d >> 8 == bus for d in devices)
        assert outcome.fault_reason == (0x2 if present_bus else 0x1)
        return
    present_half = any(d >> 8 == bus and d & 0x80 == upper for d in devices)
    if not present_half:
        assert outcome.fault_reason == 0x39
    elif sid not in devices:
        assert outcome.fault_reason == 0x41
    else:
        paside = any(a.source_id == sid and a.pasid is not None for a in s.attachments)
        if pasid is not None and not paside:
            assert outcome.fault_reason == 0x45
        else:
            # the PASID is beyond the directory (0x46), in an absent directory entry (0x51) or an
            # absent PASID-table entry (0x59)
            assert outcome.fault_reason in (0x46, 0x51, 0x59)


# -- garbage never crashes -------------------------------------------------------------------------

REGION = 0x10000
words = st.one_of(
    st.integers(0, (1 << 64) - 1),
    st.builds(lambda page, low: page * 4096 | low, st.integers(0, REGION // 4096 - 1), st.integers(0, 0xFFF)),
    st.builds(lambda page, bits: page * 4096 | bits, st.integers(0, REGION // 4096 - 1),
              st.sampled_from([0x1, 0x3, 0x7, 0x9, 0x41, 0x89, 0x101, 0x83, 0x87])),
)


@given(memory=st.dictionaries(st.integers(0, REGION // 8 - 1).map(lambda i: i * 8), words, max_size=60),
       cap=st.integers(0, (1 << 64) - 1) | st.just(CAP), ecap=st.integers(0, (1 << 64) - 1) | st.just(ECAP_SCALABLE),
       rtaddr=st.integers(0, REGION).map(lambda a: a & ~0xFFF) | st.integers(0, (1 << 64) - 1),
       rtaddr_mode=st.integers(0, 3), haw=st.integers(20, 64), sid=st.integers(0, 0xFFFF),
       iova=st.integers(0, (1 << 64) - 1) | st.integers(0, 1 << 40), access=st.sampled_from(["read", "write"]),
       pasid=st.none() | st.integers(0, (1 << 20) - 1), at=st.sampled_from(["untranslated", "translated"]),
       privileged=st.booleans(), scope=st.lists(st.text(max_size=10), max_size=2) | st.just([]))
@settings(max_examples=400, deadline=None)
def test_garbage_tables_never_raise_anything_but_state_errors(
        memory: dict[int, int], cap: int, ecap: int, rtaddr: int, rtaddr_mode: int, haw: int, sid: int, iova: int,
        access: str, pasid: int | None, at: str, privileged: bool, scope: list[str]) -> None:
    rtaddr = rtaddr & ~0xC00 | rtaddr_mode << 10
    state = State(memory=memory, iommus=[IommuUnit(cap, ecap, rtaddr, haw, 0, tuple(scope))])
    try:
        outcome = translate_dma(state, sid, iova, access, pasid, at, privileged=privileged)
    except StateError as e:
        assert e.code in ("bad-query", "bad-number", "bad-shape", "missing-field")
        return
    assert outcome.result in ("ok", "fault", "interrupt", "blocked")
    if outcome.result == "fault":
        assert outcome.rule is not None and FAULT_OF[outcome.rule] == outcome.fault_reason
    else:
        assert outcome.rule is None or FAULT_OF[outcome.rule] is None
    if outcome.result == "ok":
        assert outcome.hpa is not None and 0 <= outcome.hpa < 1 << 64
    json.dumps(outcome.to_json())
    json.dumps(outcome.steps_json())


@given(s=scenarios(), data=st.data())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_mutated_tables_never_raise_anything_but_state_errors(s: Scenario, data: st.DataObject) -> None:
    """Valid tables with random bits flipped (in table words and in CAP/ECAP) reach every level of the
    walk, where pure garbage mostly stops at the root entry."""
    state = _state(s)
    addresses = sorted(state.memory)
    for _ in range(data.draw(st.integers(1, 4))):
        address = data.draw(st.sampled_from(addresses))
        state.memory[address] ^= 1 << data.draw(st.integers(0, 63))
    unit = state.iommus[0]
    unit.cap ^= data.draw(st.sampled_from([0, 1 << 8, 1 << 9, 1 << 10, 1 << 11, 1 << 34, 1 << 35, 1 << 56]))
    unit.ecap ^= data.draw(st.sampled_from([0, 1 << 2, 1 << 6, 1 << 7, 1 << 26, 1 << 31, 1 << 40, 1 << 43, 1 << 45,
                                            1 << 46, 1 << 47, 1 << 49, 1 << 53]))
    a = data.draw(st.sampled_from(s.attachments))
    iova = data.draw(st.integers(0, (1 << 48) - 1))
    try:
        outcome = translate_dma(state, a.source_id, iova, data.draw(st.sampled_from(["read", "write"])), a.pasid,
                                data.draw(st.sampled_from(["untranslated", "translated"])))
    except StateError as e:  # pragma: no cover - the registers and query are valid here
        raise AssertionError(f"unexpected StateError {e.code}: {e.message}") from None
    assert outcome.result in ("ok", "fault", "interrupt", "blocked")
    if outcome.result == "fault":
        assert outcome.rule is not None and FAULT_OF[outcome.rule] == outcome.fault_reason
    json.dumps(outcome.to_json())
