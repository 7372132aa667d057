"""VT-d DMA-remapping translation: what one DMA request does, read next to the VT-d specification.

``translate_dma`` walks the tables a remapping unit would walk for one request and returns a
``DmaOutcome``: the host-physical address and domain, or the fault reason and the rule it comes
from, plus a ``steps`` list (every entry read and what was decided) for a person's view.

The order of the checks is the specification's: RTADDR_REG's mode, then the root entry (present
before reserved bits), the context entry, and in scalable mode the PASID-directory and PASID-table
entries, then the page walk (at each level the requested permission before the reserved bits), then
the interrupt range of the result. The rules are in ``vmxspec.arch.rules.vtd``; each fault names
one.

Answers besides "ok" and "fault" (documented in the rule catalogue):

* ``interrupt``: an untranslated request without PASID to 0xFEEx_xxxx is an interrupt message, not
  DMA ("Handling Requests to Interrupt Address Range"). It is never DMA-remapped; what the
  interrupt-remapping hardware does with it is not modelled here. No memory is accessed.
* ``blocked``: the request is refused without a fault record: abort-DMA mode, or a translated
  request to the interrupt range (an Unsupported Request).

A fault that fault-processing-disable suppresses is still a fault (the request is blocked); the
answer says ``"recorded": false``.

What is not modelled: read errors on table accesses (memory in ``vmxspec-state/1`` always reads,
as 0 where not listed; only a root-table address beyond the host address width is an access error,
and table pointers beyond it are reserved bits), translation requests (ATS AT = 01b), page requests, execute requests,
caching (the IOTLB, context and PASID caches are taken as empty), the interrupt-remapping table,
memory types, and requests that span more than one page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from vmxspec.arch import vtd
from vmxspec.arch.rules.vtd import FAULT_OF
from vmxspec.state import IommuUnit, State, StateError
from vmxspec.state.numbers import describe, parse_number

ACCESSES = ("read", "write")
ADDRESS_TYPES = ("untranslated", "translated")
_U64 = (1 << 64) - 1
_PAGE = ~0xFFF & _U64
_DTE = vtd.SM_CONTEXT_0["dte"].mask
_PASIDE = vtd.SM_CONTEXT_0["paside"].mask
_SLADE = vtd.PASID_ENTRY_0["slade"].mask
_WPE = vtd.PASID_ENTRY_2["wpe"].mask
_EAFE = vtd.PASID_ENTRY_2["eafe"].mask


# -- the answer -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Step:
    """One structure the unit read (or one decision it took without reading), for a person's view."""

    table: str
    address: int | None
    values: tuple[int, ...]
    decision: str

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"table": self.table, "decision": self.decision}
        if self.address is not None:
            out["address"] = f"{self.address:#x}"
        if self.values:
            out["values"] = [f"{v:#x}" for v in self.values]
        return out


@dataclass(slots=True)
class DmaOutcome:
    """What one DMA request does.

    ``result`` is "ok", "fault", "interrupt" or "blocked" (see the module docstring). ``rule`` names
    the deciding rule for everything but an ordinary translation. ``permissions`` are the rights
    the translation grants ("r", "w", "rw"), ``ad_updates`` the accessed/dirty flags hardware sets
    (entry address -> new value).
    """

    result: str
    hpa: int | None = None
    domain_id: int | None = None
    fault_reason: int | None = None
    rule: str | None = None
    page_size: int | None = None
    permissions: str = ""
    translation: str = ""
    recorded: bool = True
    mode: str = ""
    pasid: int | None = None
    unit: int | None = None
    message: str = ""
    ad_updates: dict[int, int] = field(default_factory=dict)
    steps: list[Step] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def to_json(self) -> dict[str, object]:
        """The ``dma`` answer of STATE_FORMAT.md (extra keys after the documented ones)."""
        out: dict[str, object] = {"result": self.result}
        if self.result == "ok":
            out["hpa"] = f"{self.hpa or 0:#x}"
            out["domain_id"] = self.domain_id
            out["page_size"] = self.page_size
            out["permissions"] = self.permissions
            out["translation"] = self.translation
            if self.rule:
                out["rule"] = self.rule
            if self.ad_updates:
                out["ad_updates"] = {f"{a:#x}": f"{v:#x}" for a, v in sorted(self.ad_updates.items())}
        elif self.result == "fault":
            out["fault_reason"] = f"{self.fault_reason or 0:#x}"
            out["rule"] = self.rule
            out["fault_name"] = vtd.fault_name(self.fault_reason or 0)
            out["recorded"] = self.recorded
            out["message"] = self.message
        else:
            out["rule"] = self.rule
            out["message"] = self.message
        return out

    def steps_json(self) -> list[dict[str, object]]:
        return [s.to_json() for s in self.steps]


# -- parsing the question ----------------------------------------------------------------------------

_BDF = re.compile(r"(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])")


def parse_device(value: object, path: str = "query.source_id") -> tuple[int, int]:
    """(segment, source-id) of a device given as "[SSSS:]BB:DD.F", {"bus", "devfn"[, "segment"]} or a
    16-bit source-id; StateError("bad-query") otherwise."""
    if isinstance(value, bool):
        raise StateError("bad-query", "a source-id is \"BB:DD.F\" or {\"bus\": .., \"devfn\": ..}", path)
    if isinstance(value, int):
        if not 0 <= value <= 0xFFFF:
            raise StateError("bad-query", f"source-id {value} does not fit 16 bits", path)
        return 0, value
    if isinstance(value, str):
        m = _BDF.fullmatch(value.strip())
        if not m:
            raise StateError("bad-query", f"{value!r} is not a device: write \"BB:DD.F\" (hex), e.g. \"03:00.0\"",
                             path)
        segment = int(m.group(1), 16) if m.group(1) else 0
        bus, dev, fn = int(m.group(2), 16), int(m.group(3), 16), int(m.group(4))
        if dev > 0x1F:
            raise StateError("bad-query", f"device number {dev:#x} is above 0x1f", path)
        return segment, bus << 8 | dev << 3 | fn
    if isinstance(value, dict):
        unknown = set(value) - {"bus", "devfn", "segment"}
        if unknown:
            raise StateError("bad-query", f"unknown key '{sorted(unknown)[0]}' in a source-id", path)
        if "bus" not in value or "devfn" not in value:
            raise StateError("bad-query", "a source-id object needs 'bus' and 'devfn'", path)
        try:
            bus = parse_number(value["bus"], f"{path}.bus", 8)
            devfn = parse_number(value["devfn"], f"{path}.devfn", 8)
            segment = parse_number(value.get("segment", 0), f"{path}.segment", 16)
        except StateError as e:
            raise StateError("bad-query", e.message, e.path) from None
        return segment, bus << 8 | devfn
    raise StateError("bad-query", f"a source-id is \"BB:DD.F\" or an object, got {describe(value)}", path)


def parse_source_id(value: object, path: str = "query.source_id") -> int:
    """The 16-bit source-id (bus << 8 | devfn) of "BB:DD.F" or {"bus": .., "devfn": ..}.

    A segment prefix is refused here, because the result could not carry it: use ``parse_device``
    and pass its segment to ``translate_dma``.
    """
    segment, sid = parse_device(value, path)
    if segment:
        raise StateError("bad-query", "this source-id names a PCI segment: read it with parse_device", path)
    return sid


def format_sid(sid: int) -> str:
    return f"{sid >> 8:02x}:{sid >> 3 & 0x1F:02x}.{sid & 7}"


# -- device scopes of units --------------------------------------------------------------------------

_SCOPE = re.compile(r"(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2})(?:-([0-9a-fA-F]{1,2}))?:"
                    r"(?:\*|([0-9a-fA-F]{1,2})\.([0-7]))")


@lru_cache(maxsize=1024)
def _parse_scope(entry: str) -> tuple[int | None, int, int, int | None]:
    """(segment or None, first bus, last bus, devfn or None) of one scope string; ValueError if bad.

    Forms: "BB:DD.F" (an endpoint), "BB:*" (every device on a bus), "BB-CC:*" (a bridge's bus range),
    each with an optional "SSSS:" segment prefix.
    """
    m = _SCOPE.fullmatch(entry.strip())
    if not m:
        raise ValueError(entry)
    segment = int(m.group(1), 16) if m.group(1) else None
    first = int(m.group(2), 16)
    last = int(m.group(3), 16) if m.group(3) else first
    if m.group(4) is None:
        return segment, first, last, None
    if m.group(3) or int(m.group(4), 16) > 0x1F:
        raise ValueError(entry)
    return segment, first, last, int(m.group(4), 16) << 3 | int(m.group(5))


def _unit_path(state: State, index: int) -> str:
    return "iommu" if len(state.iommus) == 1 else f"iommus[{index}]"


def _in_scope(state: State, index: int, unit: IommuUnit, sid: int) -> bool:
    bus, devfn = sid >> 8, sid & 0xFF
    for j, entry in enumerate(unit.scope):
        try:
            segment, first, last, dfn = _parse_scope(entry)
        except ValueError:
            raise StateError("bad-shape", f"{entry!r} is not a device scope: write \"BB:DD.F\", \"BB:*\" or "
                             "\"BB-CC:*\", optionally after \"SSSS:\"",
                             f"{_unit_path(state, index)}.scope[{j}]") from None
        if segment is not None and segment != unit.segment:
            raise StateError("bad-shape", f"scope entry {entry!r} names segment {segment:#x} but the unit is on "
                             f"segment {unit.segment:#x}", f"{_unit_path(state, index)}.scope[{j}]")
        if first <= bus <= last and (dfn is None or dfn == devfn):
            return True
    return False


def select_unit(state: State, segment: int, sid: int) -> int | None:
    """Index of the unit that remaps ``sid`` on ``segment`` (rule DMA-UNIT-SELECT), or None."""
    catch_all = None
    for i, unit in enumerate(state.iommus):
        if unit.segment != segment:
            continue
        if not unit.scope:
            if catch_all is None:
                catch_all = i
        elif _in_scope(state, i, unit, sid):
            return i
    return catch_all


# -- the unit's registers, decoded once -------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Hw:
    cap: int
    ecap: int
    haw: int
    ttm: int
    rta: int
    mgaw: int
    sagaw: int
    max_aw: int | None
    sllps: int
    dt: bool
    pt: bool
    sc: bool
    smts: bool
    adms: bool
    pasid: bool
    prs: bool
    ers: bool
    srs: bool
    eafs: bool
    mts: bool
    nest: bool
    slads: bool
    slts: bool
    flts: bool
    rps: bool
    rprivs: bool
    fl1gp: bool
    fl5lp: bool
    ptr_rsvd: int
    #: (level, leaf, scalable) -> reserved bits of a second-level entry.
    sl_rsvd: dict[tuple[int, bool, bool], int]
    #: (level, leaf) -> reserved bits of a first-level entry.
    fl_rsvd: dict[tuple[int, bool], int]
    #: level -> bits HAW-1:12 (a next-table pointer) and, for leaves, bits HAW-1:page shift.
    table_mask: int
    frame_mask: dict[int, int]
    #: Reserved bits of the scalable-mode context entry (qwords 0 and 1) given the capabilities.
    sm_ctx_rsvd: tuple[int, int]
    #: Reserved bits of PASID-table-entry qwords 0, 1 and 2, pointers aside.
    pasid_rsvd: tuple[int, int, int]


def _flag(ecap: int, name: str) -> bool:
    return bool(vtd.ECAP[name].get(ecap))


def _sm_ctx_reserved(ecap: int, haw: int) -> tuple[int, int]:
    """"Scalable-Mode Context Entry": fixed reserved bits, the pointer above HAW, and the fields a
    capability the unit lacks turns into reserved bits."""
    c0, c1 = vtd.SM_CONTEXT_0, vtd.SM_CONTEXT_1
    r0 = vtd.SM_CONTEXT_0_RESERVED | vtd.pointer_above_haw(haw)
    for name, cap in (("dte", "dt"), ("paside", "pasid"), ("pre", "prs")):
        if not _flag(ecap, cap):
            r0 |= c0[name].mask
    r1 = vtd.SM_CONTEXT_1_RESERVED
    for name, cap in (("rid_priv", "rprivs"), ("rid_pasid", "rps")):
        if not _flag(ecap, cap):
            r1 |= c1[name].mask
    return r0, r1


def _pasid_reserved(ecap: int) -> tuple[int, int, int]:
    """"Scalable-Mode PASID Table Entry": fixed reserved bits and capability-dependent fields."""
    p0, p2 = vtd.PASID_ENTRY_0, vtd.PASID_ENTRY_2
    r0 = vtd.PASID_ENTRY_0_RESERVED
    r1 = vtd.PASID_ENTRY_1_RESERVED | (0 if _flag(ecap, "mts") else vtd.PASID_ENTRY_1_MTS_FIELDS)
    r2 = vtd.PASID_ENTRY_2_RESERVED
    if not _flag(ecap, "ers"):
        r0 |= p0["slee"].mask
        r2 |= p2["ere"].mask | p2["nxe"].mask | p2["smep"].mask
    if not _flag(ecap, "slads"):
        r0 |= p0["slade"].mask
    if not _flag(ecap, "srs"):
        r2 |= p2["sre"].mask
    if not _flag(ecap, "eafs"):
        r2 |= p2["eafe"].mask
    return r0, r1, r2


@lru_cache(maxsize=256)
def _decode(cap: int, ecap: int, rtaddr: int, haw: int) -> _Hw:
    C, E = vtd.CAP, vtd.ECAP
    sagaw = C["sagaw"].get(cap)
    valid = [aw for aw in vtd.VALID_AW if sagaw >> aw & 1]
    sc = bool(E["sc"].get(ecap))
    sl_rsvd = {(level, leaf, scalable): vtd.sl_reserved(level, leaf, haw, snoop_legal=scalable or sc)
               for level in range(1, 6) for leaf in (False, True) for scalable in (False, True)}
    fl_rsvd = {(level, leaf): vtd.fl_reserved(level, leaf, haw) for level in range(1, 6) for leaf in (False, True)}
    return _Hw(
        cap=cap, ecap=ecap, haw=haw,
        ttm=vtd.RTADDR["ttm"].get(rtaddr), rta=rtaddr & vtd.RTADDR["rta"].mask,
        mgaw=C["mgaw"].get(cap) + 1, sagaw=sagaw, max_aw=max(valid) if valid else None,
        sllps=C["sllps"].get(cap),
        dt=bool(E["dt"].get(ecap)), pt=bool(E["pt"].get(ecap)), sc=sc, smts=bool(E["smts"].get(ecap)),
        adms=bool(E["adms"].get(ecap)), pasid=bool(E["pasid"].get(ecap)), prs=bool(E["prs"].get(ecap)),
        ers=bool(E["ers"].get(ecap)), srs=bool(E["srs"].get(ecap)), eafs=bool(E["eafs"].get(ecap)),
        mts=bool(E["mts"].get(ecap)), nest=bool(E["nest"].get(ecap)), slads=bool(E["slads"].get(ecap)),
        slts=bool(E["slts"].get(ecap)), flts=bool(E["flts"].get(ecap)), rps=bool(E["rps"].get(ecap)),
        rprivs=bool(E["rprivs"].get(ecap)), fl1gp=bool(C["fl1gp"].get(cap)), fl5lp=bool(C["fl5lp"].get(cap)),
        ptr_rsvd=vtd.pointer_above_haw(haw), sl_rsvd=sl_rsvd, fl_rsvd=fl_rsvd,
        table_mask=vtd.address_bits(haw),
        sm_ctx_rsvd=_sm_ctx_reserved(ecap, haw), pasid_rsvd=_pasid_reserved(ecap),
        frame_mask={level: vtd.address_bits(haw, vtd.index_shift(level)) for level in (1, 2, 3)},
    )


# -- the walk ---------------------------------------------------------------------------------------

class _Fault(Exception):
    """Raised inside the walk; carries the rule that decided it."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


class _Done(Exception):
    """Raised inside the walk for outcomes that are neither a translation nor a fault."""

    def __init__(self, result: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.result = result
        self.rule = rule
        self.message = message


@dataclass(frozen=True, slots=True)
class _SlCodes:
    """Which rule each second-level failure raises: the codes differ between legacy mode, scalable
    mode and the second-level accesses that nested translation makes to first-level tables."""

    width: str
    not_present: str | None
    read: str
    write: str
    rsvd: str


_LEGACY_SL = _SlCodes("DMA-ADDR-WIDTH", None, "DMA-SL-READ", "DMA-SL-WRITE", "DMA-SL-RSVD")
_SM_SL = _SlCodes("DMA-SM-ADDR-WIDTH", "DMA-SM-SL-NOT-PRESENT", "DMA-SM-SL-READ", "DMA-SM-SL-WRITE", "DMA-SM-SL-RSVD")
_NESTED_TOP = _SlCodes("DMA-NESTED-ADDR", "DMA-NESTED-TOP-READ", "DMA-NESTED-TOP-READ", "DMA-NESTED-FL-WRITE",
                       "DMA-SM-SL-RSVD")
_NESTED_LOWER = _SlCodes("DMA-NESTED-ADDR", "DMA-NESTED-FL-READ", "DMA-NESTED-FL-READ", "DMA-NESTED-FL-WRITE",
                         "DMA-SM-SL-RSVD")
_NESTED_AD = _SlCodes("DMA-NESTED-ADDR", "DMA-NESTED-FL-WRITE", "DMA-NESTED-FL-WRITE", "DMA-NESTED-FL-WRITE",
                      "DMA-SM-SL-RSVD")


@dataclass(slots=True)
class _SlResult:
    hpa: int
    page_size: int
    perms: int


class _Walk:
    """One request's trip through the tables; ``steps`` grows as entries are read."""

    __slots__ = ("ad", "at", "fpd", "hw", "iova", "mem", "pasid", "pasid_used", "privileged", "scalable", "sid",
                 "steps", "write")

    def __init__(self, mem: dict[int, int], hw: _Hw, sid: int, iova: int, write: bool, pasid: int | None,
                 at: str, privileged: bool) -> None:
        self.mem = mem
        self.hw = hw
        self.sid = sid
        self.iova = iova
        self.write = write
        self.pasid = pasid
        self.pasid_used: int | None = pasid
        self.at = at
        self.privileged = privileged
        self.fpd = False
        self.scalable = False
        self.steps: list[Step] = []
        self.ad: dict[int, int] = {}

    # -- helpers -------------------------------------------------------------------------------

    def step(self, table: str, address: int | None, values: tuple[int, ...], decision: str) -> None:
        self.steps.append(Step(table, address, values, decision))

    def fault(self, rule: str, message: str) -> _Fault:
        return _Fault(rule, message)

    def read(self, address: int) -> int:
        return self.mem.get(address, 0)

    # -- legacy mode ("Root Entry", "Context Entry") ----------------------------------------------

    def legacy(self) -> DmaOutcome:
        hw, sid = self.hw, self.sid
        bus, devfn = sid >> 8, sid & 0xFF
        if self.pasid is not None:
            raise self.fault("DMA-PASID-LEGACY", f"request-with-PASID {self.pasid:#x} while RTADDR_REG.TTM = 00b "
                             "(legacy mode)")
        if hw.rta & hw.ptr_rsvd:
            raise self.fault("DMA-ROOT-ACCESS", f"root table address {hw.rta:#x} is beyond the host address "
                             f"width ({hw.haw} bits)")
        address = hw.rta + 16 * bus
        lo, hi = self.read(address), self.read(address + 8)
        if not lo & 1:
            self.step("root table", address, (lo, hi), f"bus {bus:#04x}: not present")
            raise self.fault("DMA-ROOT-NOT-PRESENT", f"root entry {bus:#x} at {address:#x} is not present")
        rsvd_lo = lo & (vtd.ROOT_LO_RESERVED | hw.ptr_rsvd)
        if rsvd_lo or hi:
            self.step("root table", address, (lo, hi), "reserved bits set")
            raise self.fault("DMA-ROOT-RSVD", f"root entry {bus:#x} at {address:#x} has reserved bits set: "
                             f"low {rsvd_lo:#x}, high {hi:#x}")
        ctp = lo & _PAGE
        self.step("root table", address, (lo, hi), f"bus {bus:#04x}: context table at {ctp:#x}")

        address = ctp + 16 * devfn
        lo, hi = self.read(address), self.read(address + 8)
        self.fpd = bool(lo & 2)
        if not lo & 1:
            self.step("context table", address, (lo, hi), f"devfn {devfn:#04x}: not present")
            raise self.fault("DMA-CTX-NOT-PRESENT", f"context entry for {format_sid(sid)} at {address:#x} is not "
                             "present")
        tt = lo >> 2 & 3
        rsvd_lo = lo & (vtd.CONTEXT_LO_RESERVED | (0 if tt == vtd.TranslationType.PASS_THROUGH else hw.ptr_rsvd))
        rsvd_hi = hi & vtd.CONTEXT_HI_RESERVED
        if rsvd_lo or rsvd_hi:
            self.step("context table", address, (lo, hi), "reserved bits set")
            raise self.fault("DMA-CTX-RSVD", f"context entry for {format_sid(sid)} at {address:#x} has reserved "
                             f"bits set: low {rsvd_lo:#x}, high {rsvd_hi:#x}")
        aw, did = hi & 7, hi >> 8 & 0xFFFF
        if (tt == vtd.TranslationType.RESERVED or (tt == vtd.TranslationType.ALL and not hw.dt)
                or (tt == vtd.TranslationType.PASS_THROUGH and not hw.pt)):
            self.step("context table", address, (lo, hi), f"TT = {tt:02b}b is not valid here")
            why = "reserved" if tt == 3 else ("needs ECAP.DT" if tt == 1 else "needs ECAP.PT")
            raise self.fault("DMA-CTX-TT", f"context entry for {format_sid(sid)}: TT = {tt:02b}b ({why})")
        self.step("context table", address, (lo, hi), f"devfn {devfn:#04x}: TT = {tt:02b}b, AW = {aw}, "
                  f"domain {did}")

        if self.at == "translated":
            if tt != vtd.TranslationType.ALL:
                raise self.fault("DMA-CTX-AT-BLOCKED", f"translated request through a context entry with TT = "
                                 f"{tt:02b}b (only 01b allows translated requests)")
            return self.translated(did)

        if tt == vtd.TranslationType.PASS_THROUGH:
            if aw != hw.max_aw:
                raise self.fault("DMA-PT-AW", f"pass-through with AW = {aw}: AW must be the largest AGAW SAGAW "
                                 f"reports ({hw.max_aw if hw.max_aw is not None else 'none'})")
            self.width_check(vtd.agaw_bits(aw), _LEGACY_SL)
            self.step("pass-through", None, (), f"host-physical address = IOVA {self.iova:#x}")
            return DmaOutcome("ok", hpa=self.iova, domain_id=did, rule="DMA-PT", page_size=vtd.PAGE_4K,
                              permissions="rw", translation="pass-through")

        if aw not in vtd.VALID_AW or not hw.sagaw >> aw & 1:
            raise self.fault("DMA-CTX-AW", f"context entry for {format_sid(sid)}: AW = {aw} is not a width "
                             f"SAGAW ({hw.sagaw:#07b}) reports")
        self.width_check(vtd.agaw_bits(aw), _LEGACY_SL)
        result = self.sl_walk(lo & _PAGE, vtd.aw_levels(aw), self.iova, self.write, _LEGACY_SL, False, "")
        return self.finish(result, did, "second-level", "DMA-OUT-INTR")

    # -- scalable mode -------------------------------------------------------------------------

    def scalable_mode(self) -> DmaOutcome:
        hw, sid = self.hw, self.sid
        self.scalable = True
        bus, devfn = sid >> 8, sid & 0xFF
        if hw.rta & hw.ptr_rsvd:
            raise self.fault("DMA-SM-ROOT-ACCESS", f"root table address {hw.rta:#x} is beyond the host address "
                             f"width ({hw.haw} bits)")
        address = hw.rta + 16 * bus
        lo, hi = self.read(address), self.read(address + 8)
        upper = devfn >= 0x80
        half = hi if upper else lo
        which = "upper" if upper else "lower"
        if not half & 1:
            self.step("scalable-mode root table", address, (lo, hi), f"bus {bus:#04x}: {which} half not present")
            raise self.fault("DMA-SM-ROOT-NOT-PRESENT", f"{which} half of root entry {bus:#x} at {address:#x} is "
                             "not present")
        rsvd = half & (vtd.SM_ROOT_HALF_RESERVED | hw.ptr_rsvd)
        if rsvd:
            self.step("scalable-mode root table", address, (lo, hi), f"{which} half: reserved bits set")
            raise self.fault("DMA-SM-ROOT-RSVD", f"{which} half of root entry {bus:#x} at {address:#x} has reserved "
                             f"bits set: {rsvd:#x}")
        ctp = half & _PAGE
        self.step("scalable-mode root table", address, (lo, hi), f"bus {bus:#04x}: {which} context table at "
                  f"{ctp:#x}")

        address = ctp + 32 * (devfn & 0x7F)
        c0, c1, c2, c3 = (self.read(address), self.read(address + 8), self.read(address + 16),
                          self.read(address + 24))
        values = (c0, c1, c2, c3)
        self.fpd = bool(c0 & 2)
        if not c0 & 1:
            self.step("scalable-mode context table", address, values, f"devfn {devfn:#04x}: not present")
            raise self.fault("DMA-SM-CTX-NOT-PRESENT", f"context entry for {format_sid(sid)} at {address:#x} is "
                             "not present")
        rsvd0, rsvd1 = c0 & hw.sm_ctx_rsvd[0], c1 & hw.sm_ctx_rsvd[1]
        if rsvd0 or rsvd1 or c2 or c3:
            self.step("scalable-mode context table", address, values, "reserved bits set")
            raise self.fault("DMA-SM-CTX-RSVD", f"context entry for {format_sid(sid)} at {address:#x} has reserved "
                             f"bits set: {rsvd0:#x}, {rsvd1:#x}, {c2:#x}, {c3:#x}")
        dte, paside = bool(c0 & _DTE), bool(c0 & _PASIDE)
        pdts = c0 >> 9 & 7
        max_pasid = vtd.pasid_dir_entries(pdts) << vtd.PASID_TABLE_INDEX_BITS
        dirptr = c0 & _PAGE
        rid_pasid, rid_priv = c1 & 0xFFFFF, bool(c1 >> 20 & 1)
        self.step("scalable-mode context table", address, values,
                  f"devfn {devfn:#04x}: PASID directory at {dirptr:#x} ({vtd.pasid_dir_entries(pdts)} entries), "
                  f"DTE = {int(dte)}, PASIDE = {int(paside)}, RID_PASID = {rid_pasid:#x}")

        if self.at == "translated":
            if not dte:
                raise self.fault("DMA-SM-CTX-DTE", f"translated request from {format_sid(sid)} but the context "
                                 "entry has DTE = 0")
            if self.pasid is not None and not paside:
                raise self.fault("DMA-SM-CTX-PASIDE", f"translated request-with-PASID {self.pasid:#x} but the "
                                 "context entry has PASIDE = 0")
            return self.translated(None)

        if self.pasid is not None:
            if not paside:
                raise self.fault("DMA-SM-CTX-PASIDE", f"request-with-PASID {self.pasid:#x} from {format_sid(sid)} "
                                 "but the context entry has PASIDE = 0")
            if self.pasid >= max_pasid:
                raise self.fault("DMA-SM-PASID-RANGE", f"PASID {self.pasid:#x} is beyond the PASID directory "
                                 f"(PDTS = {pdts}: PASIDs below {max_pasid:#x})")
            pasid = self.pasid
        else:
            pasid = rid_pasid if hw.rps else 0
            if pasid >= max_pasid:
                raise self.fault("DMA-SM-RID-PASID", f"RID_PASID {pasid:#x} is beyond the PASID directory "
                                 f"(PDTS = {pdts}: PASIDs below {max_pasid:#x})")
            self.privileged = hw.rprivs and rid_priv
        self.pasid_used = pasid

        address = dirptr + 8 * (pasid >> vtd.PASID_TABLE_INDEX_BITS)
        d = self.read(address)
        self.fpd = self.fpd or bool(d & 2)
        if not d & 1:
            self.step("PASID directory", address, (d,), f"PASID {pasid:#x}: not present")
            raise self.fault("DMA-SM-PDIR-NOT-PRESENT", f"PASID-directory entry {pasid >> 6:#x} at {address:#x} is "
                             "not present")
        rsvd = d & (vtd.PASID_DIR_RESERVED | hw.ptr_rsvd)
        if rsvd:
            self.step("PASID directory", address, (d,), "reserved bits set")
            raise self.fault("DMA-SM-PDIR-RSVD", f"PASID-directory entry at {address:#x} has reserved bits set: "
                             f"{rsvd:#x}")
        table = d & _PAGE
        self.step("PASID directory", address, (d,), f"PASID table at {table:#x}")

        address = table + vtd.PASID_ENTRY_SIZE * (pasid & 0x3F)
        mem = self.mem
        p = (mem.get(address, 0), mem.get(address + 8, 0), mem.get(address + 16, 0), mem.get(address + 24, 0),
             mem.get(address + 32, 0), mem.get(address + 40, 0), mem.get(address + 48, 0), mem.get(address + 56, 0))
        p0, p1, p2 = p[0], p[1], p[2]
        self.fpd = self.fpd or bool(p0 & 2)
        if not p0 & 1:
            self.step("PASID table", address, p, f"PASID {pasid:#x}: not present")
            raise self.fault("DMA-SM-PASID-NOT-PRESENT", f"PASID-table entry for PASID {pasid:#x} at {address:#x} "
                             "is not present")
        pgtt = p0 >> 6 & 7
        uses_sl = pgtt in (vtd.Pgtt.SECOND_LEVEL, vtd.Pgtt.NESTED)
        uses_fl = pgtt in (vtd.Pgtt.FIRST_LEVEL, vtd.Pgtt.NESTED)
        r0 = p0 & (hw.pasid_rsvd[0] | (hw.ptr_rsvd if uses_sl else 0))
        r1 = p1 & hw.pasid_rsvd[1]
        r2 = p2 & (hw.pasid_rsvd[2] | (hw.ptr_rsvd if uses_fl else 0))
        high = p[3] | p[4] | p[5] | p[6] | p[7]
        if r0 or r1 or r2 or high:
            self.step("PASID table", address, p, "reserved bits set")
            tail = ", and in bits 511:192" if high else ""
            raise self.fault("DMA-SM-PASID-RSVD", f"PASID-table entry for PASID {pasid:#x} at {address:#x} has "
                             f"reserved bits set: {r0:#x}, {r1:#x}, {r2:#x}{tail}")
        cap_bit = vtd.PGTT_CAPS.get(pgtt)
        if cap_bit is None or not cap_bit.get(hw.ecap):
            self.step("PASID table", address, p, f"PGTT = {pgtt:03b}b is not valid here")
            why = f"needs ECAP.{cap_bit.name.upper()}" if cap_bit is not None else "reserved"
            raise self.fault("DMA-SM-PASID-PGTT", f"PASID-table entry for PASID {pasid:#x}: PGTT = {pgtt:03b}b "
                             f"({why})")
        aw = p0 >> 2 & 7
        if uses_sl and (aw not in vtd.VALID_AW or not hw.sagaw >> aw & 1):
            self.step("PASID table", address, p, f"AW = {aw} is not valid here")
            raise self.fault("DMA-SM-PASID-AW", f"PASID-table entry for PASID {pasid:#x}: AW = {aw} is not a width "
                             f"SAGAW ({hw.sagaw:#07b}) reports")
        flpm = p2 >> 2 & 3
        if uses_fl and not (flpm == 0 or (flpm == 1 and hw.fl5lp)):
            self.step("PASID table", address, p, f"FLPM = {flpm:02b}b is not valid here")
            why = "needs CAP.FL5LP" if flpm == 1 else "reserved"
            raise self.fault("DMA-SM-PASID-FLPM", f"PASID-table entry for PASID {pasid:#x}: FLPM = {flpm:02b}b "
                             f"({why})")
        sre = bool(p2 & 1)
        if self.privileged and not sre:
            self.step("PASID table", address, p, "supervisor request but SRE = 0")
            raise self.fault("DMA-SM-PASID-SRE", f"supervisor request through PASID {pasid:#x} whose entry has "
                             "SRE = 0")
        did = p1 & 0xFFFF
        self.step("PASID table", address, p, f"PASID {pasid:#x}: {vtd.PGTT_NAMES[pgtt]}, domain {did}")

        if pgtt == vtd.Pgtt.PASS_THROUGH:
            if self.iova >> hw.haw:
                raise self.fault("DMA-SM-PT-ADDR", f"pass-through address {self.iova:#x} is beyond the host address "
                                 f"width ({hw.haw} bits)")
            if vtd.in_interrupt_range(self.iova):
                raise self.fault("DMA-SM-OUT-INTR", f"pass-through request-with-PASID to {self.iova:#x}, in the "
                                 "interrupt address range")
            self.step("pass-through", None, (), f"host-physical address = IOVA {self.iova:#x}")
            return DmaOutcome("ok", hpa=self.iova, domain_id=did, rule="DMA-SM-PT", page_size=vtd.PAGE_4K,
                              permissions="rw", translation="pass-through")
        slade = bool(p0 & _SLADE)
        if pgtt == vtd.Pgtt.SECOND_LEVEL:
            self.width_check(vtd.agaw_bits(aw), _SM_SL)
            result = self.sl_walk(p0 & _PAGE, vtd.aw_levels(aw), self.iova, self.write, _SM_SL, slade, "")
            return self.finish(result, did, "second-level", "DMA-SM-OUT-INTR")
        sl = (p0 & _PAGE, aw, slade) if pgtt == vtd.Pgtt.NESTED else None
        result = self.fl_walk(p2 & _PAGE, 5 if flpm == 1 else 4, bool(p2 & _WPE), bool(p2 & _EAFE), sl)
        return self.finish(result, did, "nested" if sl else "first-level", "DMA-SM-OUT-INTR")

    # -- shared pieces -------------------------------------------------------------------------

    def translated(self, did: int | None) -> DmaOutcome:
        """A translated (ATS) request the context entry allows: its address is already host-physical."""
        if vtd.in_interrupt_range(self.iova):
            raise _Done("blocked", "DMA-ATS-INTR", f"translated request to {self.iova:#x}, in the interrupt "
                        "address range: Unsupported Request")
        self.step("translated request", None, (), f"not translated again: host-physical address {self.iova:#x}")
        return DmaOutcome("ok", hpa=self.iova, domain_id=did, rule="DMA-ATS-TRANSLATED", page_size=vtd.PAGE_4K,
                          permissions="rw", translation="translated")

    def width_check(self, agaw: int, codes: _SlCodes, address: int | None = None) -> None:
        width = min(self.hw.mgaw, agaw)
        a = self.iova if address is None else address
        if a >> width:
            raise self.fault(codes.width, f"address {a:#x} is beyond the {width}-bit width "
                             f"(min(MGAW {self.hw.mgaw}, AGAW {agaw}))")

    def finish(self, result: _SlResult, did: int, kind: str, intr_rule: str) -> DmaOutcome:
        if vtd.in_interrupt_range(result.hpa):
            raise self.fault(intr_rule, f"the translation of {self.iova:#x} is {result.hpa:#x}, in the interrupt "
                             "address range")
        perms = ("r" if result.perms & 1 else "") + ("w" if result.perms & 2 else "")
        return DmaOutcome("ok", hpa=result.hpa, domain_id=did, page_size=result.page_size, permissions=perms,
                          translation=kind, ad_updates=self.ad)

    def sl_walk(self, table: int, levels: int, address: int, write: bool, codes: _SlCodes, ad: bool,
                what: str) -> _SlResult:
        """Second-level translation of ``address`` ("Second-Level Translation"). At each level: the
        requested right (R = W = 0 is not present), then reserved bits, then leaf or next table."""
        hw, mem, scalable = self.hw, self.mem, self.scalable
        need = 2 if write else 1
        perms = 3
        entries: list[tuple[int, int, bool]] = []
        for level in range(levels, 0, -1):
            entry_address = table + 8 * (address >> (3 + 9 * level) & 0x1FF)
            e = mem.get(entry_address, 0)
            rw = e & 3
            name = f"second-level {vtd.LEVEL_NAMES[level]}{what}"
            if not rw and codes.not_present is not None:
                self.step(name, entry_address, (e,), "not present (R = W = 0)")
                raise self.fault(codes.not_present, f"{name} at {entry_address:#x} for {address:#x} is not present")
            if not rw & need:
                self.step(name, entry_address, (e,), f"{'W' if write else 'R'} = 0")
                raise self.fault(codes.write if write else codes.read,
                                 f"{name} at {entry_address:#x} for {address:#x} does not allow "
                                 f"{'writes' if write else 'reads'}")
            ps = bool(e & vtd.SL_PS) and level in (2, 3)
            rsvd = e & hw.sl_rsvd[(level, ps or level == 1, scalable)]
            if ps and not hw.sllps >> vtd.SLLPS_BIT_BY_LEVEL[level] & 1:
                rsvd |= vtd.SL_PS
            if rsvd:
                self.step(name, entry_address, (e,), f"reserved bits {rsvd:#x} set")
                raise self.fault(codes.rsvd, f"{name} at {entry_address:#x} has reserved bits set: {rsvd:#x}")
            perms &= rw
            leaf = ps or level == 1
            entries.append((entry_address, e, leaf))
            if leaf:
                size = vtd.PAGE_SIZE_BY_LEVEL[level]
                hpa = (e & hw.frame_mask[level]) | (address & (size - 1))
                self.step(name, entry_address, (e,), f"{size >> 10} KiB page at {hpa - (address & (size - 1)):#x}")
                if ad:
                    for ea, ev, is_leaf in entries:
                        new = ev | vtd.SL_A | (vtd.SL_D if is_leaf and write else 0)
                        if new != ev:
                            self.ad[ea] = new
                return _SlResult(hpa, size, perms)
            table = e & hw.table_mask
            self.step(name, entry_address, (e,), f"next table at {table:#x}")
        raise AssertionError("unreachable: level 1 is always a leaf")

    def fl_walk(self, table: int, levels: int, wpe: bool, eafe: bool,
                sl: tuple[int, int, bool] | None) -> _SlResult:
        """First-level translation ("First-Level Translation"), IA-32e paging style; with ``sl``
        (nested translation) every table address is guest-physical and goes through the second level."""
        hw, iova, write = self.hw, self.iova, self.write
        width = 57 if levels == 5 else 48
        top = iova >> (width - 1)
        if top not in (0, (1 << (65 - width)) - 1):
            raise self.fault("DMA-FL-CANONICAL", f"address {iova:#x} is not canonical for {levels}-level "
                             "first-level translation")
        us = rw = True
        entries: list[tuple[int, int, int, bool]] = []
        hpa = size = 0
        for level in range(levels, 0, -1):
            gpa = table + 8 * (iova >> (3 + 9 * level) & 0x1FF)
            entry_address = gpa
            if sl is not None:
                codes = _NESTED_TOP if level == levels else _NESTED_LOWER
                self.width_check(vtd.agaw_bits(sl[1]), codes, gpa)
                entry_address = self.sl_walk(sl[0], vtd.aw_levels(sl[1]), gpa, False, codes, sl[2],
                                             f" (for first-level table {table:#x})").hpa
            e = self.mem.get(entry_address, 0)
            name = f"first-level {vtd.LEVEL_NAMES[level]}"
            if not e & vtd.FL_P:
                self.step(name, entry_address, (e,), "not present")
                raise self.fault("DMA-FL-NOT-PRESENT", f"{name} at {entry_address:#x} is not present")
            ps = bool(e & vtd.FL_PS) and level in (2, 3)
            leaf = ps or level == 1
            rsvd = e & hw.fl_rsvd[(level, leaf)]
            if ps and level == 3 and not hw.fl1gp:
                rsvd |= vtd.FL_PS
            if rsvd:
                self.step(name, entry_address, (e,), f"reserved bits {rsvd:#x} set")
                raise self.fault("DMA-FL-RSVD", f"{name} at {entry_address:#x} has reserved bits set: {rsvd:#x}")
            us = us and bool(e & vtd.FL_US)
            rw = rw and bool(e & vtd.FL_RW)
            entries.append((entry_address, gpa, e, leaf))
            if leaf:
                size = vtd.PAGE_SIZE_BY_LEVEL[level]
                hpa = (e & hw.frame_mask[level]) | (iova & (size - 1))
                self.step(name, entry_address, (e,), f"{size >> 10} KiB page at {hpa - (iova & (size - 1)):#x}")
                break
            table = e & hw.table_mask
            self.step(name, entry_address, (e,), f"next table at {table:#x}")
        if not self.privileged and not us:
            raise self.fault("DMA-FL-USER", f"user request to {iova:#x} but U/S = 0 in the first-level walk")
        may_write = rw or (self.privileged and not wpe)
        if write and not may_write:
            raise self.fault("DMA-FL-WRITE", f"write to {iova:#x} but R/W = 0 in the first-level walk")
        for entry_address, gpa, e, leaf in entries:
            new = e | vtd.FL_A | (vtd.FL_EA if eafe else 0) | (vtd.FL_D if leaf and write else 0)
            if new != e:
                if sl is not None:
                    self.sl_walk(sl[0], vtd.aw_levels(sl[1]), gpa, True, _NESTED_AD, sl[2],
                                 " (to set accessed/dirty)")
                self.ad[entry_address] = new
        perms = 1 | (2 if may_write else 0)
        if sl is None:
            return _SlResult(hpa, size, perms)
        self.width_check(vtd.agaw_bits(sl[1]), _SM_SL, hpa)
        final = self.sl_walk(sl[0], vtd.aw_levels(sl[1]), hpa, write, _SM_SL, sl[2], " (output)")
        return _SlResult(final.hpa, min(size, final.page_size), perms & final.perms)


# -- the entry point --------------------------------------------------------------------------------

def _check_query(source_id: int, iova: int, access: str, pasid: int | None, at: str, privileged: bool) -> None:
    if not isinstance(source_id, int) or isinstance(source_id, bool) or not 0 <= source_id <= 0xFFFF:
        raise StateError("bad-query", f"source-id must be a 16-bit number, got {source_id!r}", "query.source_id")
    if not isinstance(iova, int) or isinstance(iova, bool) or not 0 <= iova <= _U64:
        raise StateError("bad-query", f"iova must be a 64-bit address, got {iova!r}", "query.iova")
    if access not in ACCESSES:
        raise StateError("bad-query", f"access must be one of {', '.join(ACCESSES)}, got {access!r}", "query.access")
    if at not in ADDRESS_TYPES:
        raise StateError("bad-query", f"at must be one of {', '.join(ADDRESS_TYPES)}, got {at!r}", "query.at")
    if pasid is not None and (isinstance(pasid, bool) or not isinstance(pasid, int)
                              or not 0 <= pasid < 1 << vtd.PASID_BITS):
        raise StateError("bad-query", f"pasid must be a 20-bit number, got {pasid!r}", "query.pasid")
    if privileged and pasid is None:
        raise StateError("bad-query", "only a request-with-PASID can ask for supervisor privilege "
                         "(requests-without-PASID take it from RID_PRIV)", "query.privileged")


def _haw(state: State, index: int, unit: IommuUnit) -> int:
    haw = unit.haw if unit.haw is not None else state.maxphyaddr
    if haw is None:
        raise StateError("missing-field", "the IOMMU's host address width is needed: give 'haw' in the unit or "
                         "caps.MAXPHYADDR", f"{_unit_path(state, index)}.haw")
    if not 32 <= haw <= 52:
        raise StateError("bad-number", f"haw must be between 32 and 52, got {haw}", f"{_unit_path(state, index)}.haw")
    return haw


def translate_dma(state: State, source_id: int, iova: int, access: str, pasid: int | None = None,
                  at: str = "untranslated", *, segment: int = 0, privileged: bool = False) -> DmaOutcome:
    """The VT-d translation of one DMA request: ``source_id`` (bus << 8 | devfn) on PCI ``segment``
    accesses ``iova`` (``access`` "read" or "write"), with an optional 20-bit ``pasid``; ``at`` is
    "untranslated" or "translated" (an ATS translated request). ``privileged`` asks for a supervisor
    request-with-PASID. Raises StateError for a malformed question or a state without an IOMMU."""
    _check_query(source_id, iova, access, pasid, at, privileged)
    if not state.iommus:
        raise StateError("missing-field", "a dma question needs an IOMMU: give 'iommu' or 'iommus' in the state",
                         "iommu")
    index = select_unit(state, segment, source_id)
    if index is None:
        return DmaOutcome("ok", hpa=iova, domain_id=None, rule="DMA-UNIT-SELECT", page_size=vtd.PAGE_4K,
                          permissions="rw", translation="none",
                          steps=[Step("unit selection", None, (), f"no remapping unit of segment {segment:#x} covers "
                                      f"{format_sid(source_id)}: DMA is not remapped")])
    unit = state.iommus[index]
    hw = _decode(unit.cap, unit.ecap, unit.rtaddr, _haw(state, index, unit))
    walk = _Walk(state.memory, hw, source_id, iova, access == "write", pasid, at, privileged)
    walk.step("unit selection", None, (), f"unit {index} (segment {segment:#x}) remaps {format_sid(source_id)}")
    mode = ("legacy", "scalable", "abort-dma", "reserved")[hw.ttm]
    try:
        if pasid is None and at == "untranslated" and vtd.in_interrupt_range(iova):
            raise _Done("interrupt", "DMA-INTR-WINDOW", f"{iova:#x} is in 0xFEEx_xxxx: the request is an interrupt "
                        "request, not DMA")
        if (hw.ttm == vtd.Ttm.RESERVED or (hw.ttm == vtd.Ttm.SCALABLE and not hw.smts)
                or (hw.ttm == vtd.Ttm.ABORT_DMA and not hw.adms)):
            raise walk.fault("DMA-RTADDR-TTM", f"RTADDR_REG.TTM = {hw.ttm:02b}b is "
                             + ("reserved" if hw.ttm == 3 else "not supported (ECAP."
                                + ("SMTS" if hw.ttm == 1 else "ADMS") + " = 0)"))
        if hw.ttm == vtd.Ttm.ABORT_DMA:
            raise _Done("blocked", "DMA-ABORT-MODE", "RTADDR_REG.TTM = 10b: abort-DMA mode blocks every request")
        outcome = walk.scalable_mode() if hw.ttm == vtd.Ttm.SCALABLE else walk.legacy()
    except _Fault as f:
        reason = FAULT_OF[f.rule]
        assert reason is not None
        outcome = DmaOutcome("fault", fault_reason=reason, rule=f.rule, message=f.message,
                             recorded=not (walk.fpd and vtd.is_qualified(reason)))
        walk.step("fault", None, (), f"fault reason {reason:#x} ({vtd.fault_name(reason)}), rule {f.rule}"
                  + ("" if outcome.recorded else "; not recorded: fault processing disabled (DMA-FPD)"))
    except _Done as d:
        outcome = DmaOutcome(d.result, rule=d.rule, message=d.message)
        walk.step(d.result, None, (), d.message)
    outcome.mode = mode
    outcome.unit = index
    outcome.pasid = walk.pasid_used
    outcome.steps = walk.steps
    return outcome
