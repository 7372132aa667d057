"""The interval maps a VT-d traversal produces (see ``vmxspec.symbolic.reach.vtd``).

A device's ``runs`` say which host ranges its requests reach and through which leaf; a finding
names an entry with reserved bits or an invalid value and one request that reaches it, so a
counterexample can ask the reference interpreter exactly that request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from vmxspec.arch import vtd as V

INTR_START = V.INTERRUPT_RANGE_BASE
INTR_END = V.INTERRUPT_RANGE_LAST + 1


class DmaRun(NamedTuple):
    """IOVAs ``[start, end)`` reach ``hpa + (iova - start)`` with ``perms`` (1 = read, 2 = write).

    ``level`` is the leaf's level and ``entry`` the leaf that maps ``start``'s page (0 for an
    identity run: pass-through or a translated request)."""

    start: int
    end: int
    hpa: int
    perms: int
    level: int
    entry: int

    @property
    def hpa_end(self) -> int:
        return self.hpa + self.end - self.start

    def hpa_of(self, iova: int) -> int:
        return self.hpa + iova - self.start

    def leaf_at(self, iova: int) -> int:
        return self.entry + 8 * ((iova - self.start) >> V.index_shift(self.level)) if self.level else 0


class Request(NamedTuple):
    """One DMA request, as a ``dma`` question asks it."""

    sid: int
    iova: int
    access: str
    pasid: int | None = None
    at: str = "untranslated"


class DmaFinding(NamedTuple):
    """An entry (or register) with reserved bits set or an invalid value that ``request`` reaches;
    ``rule`` is the reference interpreter's rule id for the fault the request then takes."""

    rule: str
    what: str
    entry: int
    value: int
    why: str
    request: Request


@dataclass(slots=True)
class Translation:
    """What one way of addressing a device's requests (without PASID, or one PASID) reaches."""

    did: int
    kind: str
    runs: list[DmaRun]
    #: The entry that selected this translation (context or PASID-table entry), for messages.
    entry: int


@dataclass(slots=True)
class DeviceMap:
    sid: int
    root_entry: int
    context_entry: int
    #: Requests without PASID (None when they fault, with ``blocked`` saying why).
    plain: Translation | None = None
    blocked: str = ""
    pasids: dict[int, Translation] = field(default_factory=dict)
    ats: bool = False
    #: Translation types this reading does not model (first-level, nested), by PASID.
    unmodelled: list[str] = field(default_factory=list)

    def translations(self) -> list[tuple[int | None, Translation]]:
        out: list[tuple[int | None, Translation]] = [] if self.plain is None else [(None, self.plain)]
        out.extend(sorted(self.pasids.items()))
        return out

    def domain_ids(self) -> set[int]:
        return {t.did for _, t in self.translations()}


@dataclass(slots=True)
class UnitMap:
    index: int
    segment: int
    mode: str
    devices: dict[int, DeviceMap] = field(default_factory=dict)
    findings: list[DmaFinding] = field(default_factory=list)
    #: Page address -> what the unit reads there ("root table", "second-level page directory", ...).
    tables: dict[int, str] = field(default_factory=dict)
    #: Source-ids this unit remaps, by bus: the devfns.
    scope: dict[int, list[int]] = field(default_factory=dict)
    #: Why every request faults or is blocked before any table is read ("" otherwise).
    blocked: str = ""

    def remaps(self, sid: int) -> bool:
        return (sid & 0xFF) in self.scope.get(sid >> 8, ())


def source_id_text(segment: int, sid: int) -> str:
    """How a ``dma`` question names the requester: "SSSS:BB:DD.F"."""
    return f"{segment:04x}:{sid >> 8:02x}:{sid >> 3 & 0x1F:02x}.{sid & 7}"
