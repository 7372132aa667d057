"""Every DMA translation a VT-d remapping unit can make, read off its tables in one traversal.

The checker's own reading of the VT-d specification's structures ("Root Entry", "Context Entry",
their scalable-mode forms, "Scalable-Mode PASID Directory Entry", "Scalable-Mode PASID Table Entry",
"Second-Level Paging Entries"), from the facts in ``vmxspec.arch.vtd`` and independent of the
reference interpreter. It enumerates every source-id the unit remaps (its device scope), every
present root and context entry, in scalable mode every PASID a device can use, and every
second-level table below them, and returns per device:

* ``runs``: the IOVA ranges that untranslated requests without PASID can use, with the host
  address, the rights (the AND of R and W over the walk: a read needs R in every entry, a write W)
  and the leaf entry; requests to 0xFEEx_xxxx are interrupt messages and translations into that
  range fault, so both are cut out;
* ``pasids``: the same for each PASID a request-with-PASID can carry;
* ``ats``: whether translated (ATS) requests are accepted: their addresses are host-physical and
  not translated again, so such a device reaches every address outside the interrupt range;

and for the unit: ``findings``, every entry a request reaches whose reserved bits are set or
whose value is invalid (an AW that SAGAW does not report, a translation type the unit lacks, ...),
each with one request that reaches it; and ``tables``, the host pages read as remapping
structures, with what each is. Second-level tables shared by devices (one domain) are decoded once.

First-level and nested translation (scalable-mode PGTT 001b and 011b) are not modelled: a device
that uses them is listed in ``unmodelled`` and its reach is not claimed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from vmxspec.arch import vtd as V
from vmxspec.state.model import IommuUnit
from vmxspec.symbolic.reach.memory import TableMemory
from vmxspec.symbolic.reach.vtd_maps import (
    INTR_END,
    INTR_START,
    DeviceMap,
    DmaFinding,
    DmaRun,
    Request,
    Translation,
    UnitMap,
    source_id_text,
)
from vmxspec.symbolic.reach.vtd_scope import remapped_sids

__all__ = ["INTR_END", "INTR_START", "DeviceMap", "DmaFinding", "DmaRun", "Request", "Translation", "UnitMap",
           "extract_unit", "remapped_sids", "source_id_text"]

_U64 = (1 << 64) - 1
_SL_TABLES = {5: "PML5 table", 4: "PML4 table", 3: "page-directory-pointer table", 2: "page directory",
              1: "page table"}
_PAGE = _U64 & ~0xFFF
_C0, _C1 = V.SM_CONTEXT_0, V.SM_CONTEXT_1
_P0, _P1, _P2 = V.PASID_ENTRY_0, V.PASID_ENTRY_1, V.PASID_ENTRY_2


# -- the unit's registers ------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Regs:
    haw: int
    ttm: int
    rta: int
    mgaw: int
    sagaw: int
    max_aw: int | None
    sllps: int
    ecap: int
    cap: int
    ptr_rsvd: int
    table_mask: int

    def has(self, name: str) -> bool:
        return bool(V.ECAP[name].get(self.ecap))

    def aw_valid(self, aw: int) -> bool:
        return aw in V.VALID_AW and bool(self.sagaw >> aw & 1)

    def width(self, aw: int) -> int:
        """Input addresses at or above 2^width fail the address-width check: min(MGAW, AGAW)."""
        return min(self.mgaw, V.agaw_bits(aw))


def _regs(unit: IommuUnit, haw: int) -> _Regs:
    sagaw = V.CAP["sagaw"].get(unit.cap)
    valid = [aw for aw in V.VALID_AW if sagaw >> aw & 1]
    return _Regs(haw=haw, ttm=V.RTADDR["ttm"].get(unit.rtaddr), rta=unit.rtaddr & V.RTADDR["rta"].mask,
                 mgaw=V.CAP["mgaw"].get(unit.cap) + 1, sagaw=sagaw, max_aw=max(valid) if valid else None,
                 sllps=V.CAP["sllps"].get(unit.cap), ecap=unit.ecap, cap=unit.cap,
                 ptr_rsvd=V.pointer_above_haw(haw), table_mask=V.address_bits(haw))


# -- cutting ranges out of runs --------------------------------------------------------------------------

def _cut_input(runs: list[DmaRun], lo: int, hi: int) -> list[DmaRun]:
    out = []
    for r in runs:
        if r.end <= lo or r.start >= hi:
            out.append(r)
            continue
        if r.start < lo:
            out.append(r._replace(end=lo))
        if r.end > hi:
            out.append(r._replace(start=hi, hpa=r.hpa_of(hi), entry=r.leaf_at(hi)))
    return out


def _cut_output(runs: list[DmaRun], lo: int, hi: int) -> list[DmaRun]:
    out = []
    for r in runs:
        if r.hpa_end <= lo or r.hpa >= hi:
            out.append(r)
            continue
        if r.hpa < lo:
            out.append(r._replace(end=r.start + lo - r.hpa))
        if r.hpa_end > hi:
            start = r.start + hi - r.hpa
            out.append(r._replace(start=start, hpa=hi, entry=r.leaf_at(start)))
    return out


def _identity(limit: int) -> list[DmaRun]:
    return [DmaRun(0, limit, 0, 3, 0, 0)]


# -- second-level tables ------------------------------------------------------------------------------------

class _SlFinding(NamedTuple):
    start: int
    perms: int
    level: int
    entry: int
    value: int
    reserved: int


class _SlSub(NamedTuple):
    runs: list[DmaRun]
    findings: list[_SlFinding]


class _SecondLevel:
    """Decodes second-level tables once per (table, level, mode) and shifts the result into place."""

    def __init__(self, memory: TableMemory, regs: _Regs, tables: dict[int, str]) -> None:
        self.memory = memory
        self.regs = regs
        self.tables = tables
        self.memo: dict[tuple[int, int, bool], _SlSub] = {}
        self.snoop_ok = regs.has("sc")
        self.frame = {level: V.address_bits(regs.haw, V.index_shift(level)) for level in (1, 2, 3)}

    def table(self, address: int, level: int, limit: int, scalable: bool) -> _SlSub:
        span = 1 << (V.index_shift(level) + 9)
        key = (address, level, scalable)
        full = limit >= span
        if full and key in self.memo:
            return self.memo[key]
        self.tables.setdefault(address, f"second-level {_SL_TABLES[level]}")
        sub = self._decode(address, level, min(limit, span), scalable)
        if full:
            self.memo[key] = sub
        return sub

    def _decode(self, address: int, level: int, limit: int, scalable: bool) -> _SlSub:
        regs = self.regs
        shift = V.index_shift(level)
        size = 1 << shift
        leaf_rsvd = V.sl_reserved(level, True, regs.haw, snoop_legal=scalable or self.snoop_ok)
        table_rsvd = V.sl_reserved(level, False, regs.haw, snoop_legal=scalable or self.snoop_ok)
        large = level in V.SLLPS_BIT_BY_LEVEL
        large_ok = large and bool(regs.sllps >> V.SLLPS_BIT_BY_LEVEL[level] & 1)
        frame = self.frame.get(level, 0)
        runs: list[DmaRun] = []
        findings: list[_SlFinding] = []
        cur: list[int] | None = None  # the run being extended: [start, end, hpa, perms, entry]
        for entry, value in self.memory.words(address, address + 8 * ((limit - 1 >> shift) + 1)):
            rw = value & 3
            if not rw:
                continue  # no request gets past an entry with neither R nor W
            start = (entry - address) >> 3 << shift
            ps = large and bool(value & V.SL_PS)
            leaf = ps or level == 1
            reserved = value & (leaf_rsvd if leaf else table_rsvd)
            if ps and not large_ok:
                reserved |= V.SL_PS
            if reserved:
                findings.append(_SlFinding(start, rw, level, entry, value, reserved))
                continue
            if leaf:
                hpa = value & frame
                if cur is not None and cur[1] == start and cur[2] + start - cur[0] == hpa and cur[3] == rw:
                    cur[1] = start + size
                    continue
                if cur is not None:
                    runs.append(DmaRun(cur[0], cur[1], cur[2], cur[3], level, cur[4]))
                cur = [start, start + size, hpa, rw, entry]
                continue
            if cur is not None:
                runs.append(DmaRun(cur[0], cur[1], cur[2], cur[3], level, cur[4]))
                cur = None
            child = self.table(value & regs.table_mask, level - 1, min(size, limit - start), scalable)
            for r in child.runs:
                if r.perms & rw:
                    runs.append(DmaRun(r.start + start, r.end + start, r.hpa, r.perms & rw, r.level, r.entry))
            for f in child.findings:
                if f.perms & rw:
                    findings.append(f._replace(start=f.start + start, perms=f.perms & rw))
        if cur is not None:
            runs.append(DmaRun(cur[0], cur[1], cur[2], cur[3], level, cur[4]))
        return _SlSub(runs, findings)


# -- the traversal ----------------------------------------------------------------------------------------

def _window_point(start: int, end: int) -> int | None:
    """An address of ``[start, end)`` outside the interrupt range, or None."""
    if not INTR_START <= start < INTR_END:
        return start
    return INTR_END if end > INTR_END else None


class _Unit:
    def __init__(self, memory: TableMemory, unit: IommuUnit, regs: _Regs, out: UnitMap) -> None:
        self.memory = memory
        self.unit = unit
        self.regs = regs
        self.out = out
        self.sl = _SecondLevel(memory, regs, out.tables)

    def find(self, rule: str, what: str, entry: int, value: int, why: str, request: Request) -> None:
        self.out.findings.append(DmaFinding(rule, what, entry, value, why, request))

    def second_level(self, device: DeviceMap, pointer: int, aw: int, did: int, scalable: bool, pasid: int | None,
                     entry: int) -> Translation | None:
        """The second-level translation from ``pointer`` with AW ``aw``; records its findings."""
        regs = self.regs
        limit = 1 << regs.width(aw)
        sub = self.sl.table(pointer, V.aw_levels(aw), limit, scalable)
        rule = "DMA-SM-SL-RSVD" if scalable else "DMA-SL-RSVD"
        for f in sub.findings:
            iova = f.start if pasid is not None else _window_point(f.start, f.start + (1 << V.index_shift(f.level)))
            if iova is None:
                continue
            access = "read" if f.perms & 1 else "write"
            name = f"second-level {V.LEVEL_NAMES[f.level]}"
            self.find(rule, name, f.entry, f.value, f"reserved bits {f.reserved:#x} are set",
                      Request(device.sid, iova, access, pasid))
        runs = sub.runs
        if pasid is None:
            runs = _cut_input(runs, INTR_START, INTR_END)
        runs = _cut_output(runs, INTR_START, INTR_END)
        return Translation(did, "second-level", runs, entry)

    # -- legacy mode ("Root Entry", "Context Entry") --

    def legacy(self) -> None:
        regs, memory = self.regs, self.memory
        if regs.rta & regs.ptr_rsvd:
            sid = _first_sid(self.out.scope)
            self.find("DMA-ROOT-ACCESS", "RTADDR_REG", 0, self.unit.rtaddr,
                      f"the root table address {regs.rta:#x} is beyond the host address width ({regs.haw} bits)",
                      Request(sid, 0, "read"))
            self.out.blocked = "DMA-ROOT-ACCESS"
            return
        self.out.tables.setdefault(regs.rta, "root table")
        roots = memory.entries(regs.rta, 16, 256)
        for bus, devfns in self.out.scope.items():
            root = roots.get(bus, 0)
            lo, hi = root & _U64, root >> 64
            if not lo & 1:
                continue
            address = regs.rta + 16 * bus
            reserved = lo & (V.ROOT_LO_RESERVED | regs.ptr_rsvd)
            if reserved or hi:
                self.find("DMA-ROOT-RSVD", f"root entry {bus:#04x}", address, root,
                          f"reserved bits are set (low {reserved:#x}, high {hi:#x})", Request(bus << 8 | devfns[0], 0,
                                                                                               "read"))
                continue
            table = lo & _PAGE
            self.out.tables.setdefault(table, f"context table of bus {bus:#04x}")
            contexts = memory.entries(table, 16, 256)
            for devfn in devfns:
                value = contexts.get(devfn, 0)
                if value & 1:
                    self.legacy_context(bus << 8 | devfn, address, table + 16 * devfn, value)

    def legacy_context(self, sid: int, root: int, address: int, value: int) -> None:
        regs = self.regs
        lo, hi = value & _U64, value >> 64
        tt = V.CONTEXT_LO["tt"].get(lo)
        reserved_lo = lo & (V.CONTEXT_LO_RESERVED | (0 if tt == V.TranslationType.PASS_THROUGH else regs.ptr_rsvd))
        reserved_hi = hi & V.CONTEXT_HI_RESERVED
        what = f"context entry of {_bdf(self.out.segment, sid)}"
        if reserved_lo or reserved_hi:
            self.find("DMA-CTX-RSVD", what, address, value,
                      f"reserved bits are set (low {reserved_lo:#x}, high {reserved_hi:#x})", Request(sid, 0, "read"))
            return
        supported: dict[int, bool] = {V.TranslationType.UNTRANSLATED: True, V.TranslationType.ALL: regs.has("dt"),
                     V.TranslationType.PASS_THROUGH: regs.has("pt")}
        if not supported.get(tt, False):
            why = "reserved" if tt == V.TranslationType.RESERVED else "not supported by ECAP_REG"
            self.find("DMA-CTX-TT", what, address, value, f"TT = {tt:02b}b is {why}", Request(sid, 0, "read"))
            return
        aw, did = V.CONTEXT_HI["aw"].get(hi), V.CONTEXT_HI["did"].get(hi)
        device = DeviceMap(sid, root, address, ats=tt == V.TranslationType.ALL)
        self.out.devices[sid] = device
        if tt == V.TranslationType.PASS_THROUGH:
            if aw != regs.max_aw:
                self.find("DMA-PT-AW", what, address, value, f"pass-through with AW = {aw}: it must be the largest "
                          f"width SAGAW reports ({regs.max_aw})", Request(sid, 0, "read"))
                device.blocked = "DMA-PT-AW"
                return
            runs = _cut_input(_identity(1 << regs.width(aw)), INTR_START, INTR_END)
            device.plain = Translation(did, "pass-through", runs, address)
            return
        if not regs.aw_valid(aw):
            self.find("DMA-CTX-AW", what, address, value, f"AW = {aw} is not a width SAGAW ({regs.sagaw:#07b}) "
                      "reports", Request(sid, 0, "read"))
            device.blocked = "DMA-CTX-AW"
            return
        device.plain = self.second_level(device, lo & _PAGE, aw, did, False, None, address)

    # -- scalable mode ("Scalable-Mode Root Entry", "Scalable-Mode Context Entry", PASID tables) --

    def scalable(self) -> None:
        regs, memory = self.regs, self.memory
        if regs.rta & regs.ptr_rsvd:
            self.find("DMA-SM-ROOT-ACCESS", "RTADDR_REG", 0, self.unit.rtaddr,
                      f"the root table address {regs.rta:#x} is beyond the host address width ({regs.haw} bits)",
                      Request(_first_sid(self.out.scope), 0, "read"))
            self.out.blocked = "DMA-SM-ROOT-ACCESS"
            return
        self.out.tables.setdefault(regs.rta, "scalable-mode root table")
        roots = memory.entries(regs.rta, 16, 256)
        for bus, devfns in self.out.scope.items():
            root = roots.get(bus, 0)
            address = regs.rta + 16 * bus
            for upper in (False, True):
                mine = [d for d in devfns if (d >= 0x80) == upper]
                half = root >> 64 if upper else root & _U64
                if not mine or not half & 1:
                    continue
                reserved = half & (V.SM_ROOT_HALF_RESERVED | regs.ptr_rsvd)
                if reserved:
                    self.find("DMA-SM-ROOT-RSVD", f"{'upper' if upper else 'lower'} half of root entry {bus:#04x}",
                              address, root, f"reserved bits {reserved:#x} are set", Request(bus << 8 | mine[0], 0,
                                                                                            "read"))
                    continue
                table = half & _PAGE
                self.out.tables.setdefault(table, f"{'upper' if upper else 'lower'} context table of bus {bus:#04x}")
                contexts = memory.entries(table, 32, 128)
                for devfn in mine:
                    value = contexts.get(devfn & 0x7F, 0)
                    if value & 1:
                        self.scalable_context(bus << 8 | devfn, address, table + 32 * (devfn & 0x7F), value)

    def _context_reserved(self) -> tuple[int, int]:
        regs = self.regs
        r0 = V.SM_CONTEXT_0_RESERVED | regs.ptr_rsvd
        for name, cap in (("dte", "dt"), ("paside", "pasid"), ("pre", "prs")):
            if not regs.has(cap):
                r0 |= _C0[name].mask
        r1 = V.SM_CONTEXT_1_RESERVED
        for name, cap in (("rid_priv", "rprivs"), ("rid_pasid", "rps")):
            if not regs.has(cap):
                r1 |= _C1[name].mask
        return r0, r1

    def scalable_context(self, sid: int, root: int, address: int, value: int) -> None:
        regs = self.regs
        c0, c1 = value & _U64, value >> 64 & _U64
        upper = value >> 128
        r0, r1 = self._context_reserved()
        what = f"scalable-mode context entry of {_bdf(self.out.segment, sid)}"
        if c0 & r0 or c1 & r1 or upper:
            self.find("DMA-SM-CTX-RSVD", what, address, value, f"reserved bits are set ({c0 & r0:#x}, {c1 & r1:#x}, "
                      f"bits 255:128 {upper:#x})", Request(sid, 0, "read"))
            return
        dte, paside = bool(c0 & _C0["dte"].mask), bool(c0 & _C0["paside"].mask)
        entries = V.pasid_dir_entries(_C0["pdts"].get(c0))
        max_pasid = entries << V.PASID_TABLE_INDEX_BITS
        directory = c0 & _PAGE
        for page in range(directory, directory + 8 * entries, 4096):
            self.out.tables.setdefault(page, f"PASID directory of {_bdf(self.out.segment, sid)}")
        device = DeviceMap(sid, root, address, ats=dte)
        self.out.devices[sid] = device
        rid_pasid = _C1["rid_pasid"].get(c1) if regs.has("rps") else 0
        privileged = regs.has("rprivs") and bool(_C1["rid_priv"].get(c1))
        if rid_pasid >= max_pasid:
            self.find("DMA-SM-RID-PASID", what, address, value, f"RID_PASID {rid_pasid:#x} is beyond the PASID "
                      f"directory ({entries} entries: PASIDs below {max_pasid:#x})", Request(sid, 0, "read"))
            device.blocked = "DMA-SM-RID-PASID"
        else:
            device.plain = self.pasid(device, directory, rid_pasid, None, privileged)
        if not paside:
            return
        for index, d in sorted(self.memory.entries(directory, 8, entries).items()):
            if not d & 1:
                continue
            base = index << V.PASID_TABLE_INDEX_BITS
            if d & (V.PASID_DIR_RESERVED | regs.ptr_rsvd):
                self.pasid(device, directory, base, base, False)  # records the finding
                continue
            for j in sorted(self.memory.entries(d & _PAGE, V.PASID_ENTRY_SIZE, 64)):
                translation = self.pasid(device, directory, base | j, base | j, False)
                if translation is not None:
                    device.pasids[base | j] = translation

    def pasid(self, device: DeviceMap, directory: int, pasid: int, asked: int | None,
              privileged: bool) -> Translation | None:
        """The translation PASID ``pasid`` selects (``asked`` is the PASID the request carries, None
        for requests without PASID, which use RID_PASID)."""
        regs, memory = self.regs, self.memory
        sid = device.sid
        address = directory + 8 * (pasid >> V.PASID_TABLE_INDEX_BITS)
        d = memory.get(address)
        request = Request(sid, 0, "read", asked)
        if not d & 1:
            if asked is None:
                device.blocked = "DMA-SM-PDIR-NOT-PRESENT"
            return None
        reserved = d & (V.PASID_DIR_RESERVED | regs.ptr_rsvd)
        if reserved:
            self.find("DMA-SM-PDIR-RSVD", f"PASID-directory entry {pasid >> 6:#x} of {_bdf(self.out.segment, sid)}",
                      address, d, f"reserved bits {reserved:#x} are set", request)
            if asked is None:
                device.blocked = "DMA-SM-PDIR-RSVD"
            return None
        table = d & _PAGE
        self.out.tables.setdefault(table, f"PASID table of {_bdf(self.out.segment, sid)}")
        address = table + V.PASID_ENTRY_SIZE * (pasid & 0x3F)
        value = memory.entries(address, V.PASID_ENTRY_SIZE, 1).get(0, 0)
        p0, p1, p2 = value & _U64, value >> 64 & _U64, value >> 128 & _U64
        if not p0 & 1:
            if asked is None:
                device.blocked = "DMA-SM-PASID-NOT-PRESENT"
            return None
        what = f"PASID-table entry {pasid:#x} of {_bdf(self.out.segment, sid)}"
        problem = self._pasid_problem(p0, p1, p2, value >> 192)
        if problem:
            rule, why = problem
            self.find(rule, what, address, value, why, request)
            if asked is None:
                device.blocked = rule
            return None
        pgtt = _P0["pgtt"].get(p0)
        did = _P1["did"].get(p1)
        if privileged and not _P2["sre"].get(p2):
            device.blocked = "DMA-SM-PASID-SRE"
            return None
        if pgtt == V.Pgtt.PASS_THROUGH:
            runs = _cut_output(_identity(1 << regs.haw), INTR_START, INTR_END)
            return Translation(did, "pass-through", runs, address)
        if pgtt == V.Pgtt.SECOND_LEVEL:
            return self.second_level(device, p0 & _PAGE, _P0["aw"].get(p0), did, True, asked, address)
        device.unmodelled.append(f"{V.PGTT_NAMES[pgtt]} translation through PASID {pasid:#x}")
        return None

    def _pasid_problem(self, p0: int, p1: int, p2: int, high: int) -> tuple[str, str] | None:
        regs = self.regs
        pgtt = _P0["pgtt"].get(p0)
        uses_sl = pgtt in (V.Pgtt.SECOND_LEVEL, V.Pgtt.NESTED)
        uses_fl = pgtt in (V.Pgtt.FIRST_LEVEL, V.Pgtt.NESTED)
        r0 = V.PASID_ENTRY_0_RESERVED | (regs.ptr_rsvd if uses_sl else 0)
        r1 = V.PASID_ENTRY_1_RESERVED | (0 if regs.has("mts") else V.PASID_ENTRY_1_MTS_FIELDS)
        r2 = V.PASID_ENTRY_2_RESERVED | (regs.ptr_rsvd if uses_fl else 0)
        if not regs.has("ers"):
            r0 |= _P0["slee"].mask
            r2 |= _P2["ere"].mask | _P2["nxe"].mask | _P2["smep"].mask
        if not regs.has("slads"):
            r0 |= _P0["slade"].mask
        if not regs.has("srs"):
            r2 |= _P2["sre"].mask
        if not regs.has("eafs"):
            r2 |= _P2["eafe"].mask
        if p0 & r0 or p1 & r1 or p2 & r2 or high:
            return "DMA-SM-PASID-RSVD", (f"reserved bits are set ({p0 & r0:#x}, {p1 & r1:#x}, {p2 & r2:#x}, "
                                         f"bits 511:192 {high:#x})")
        cap_bit = V.PGTT_CAPS.get(pgtt)
        if cap_bit is None or not cap_bit.get(regs.ecap):
            return "DMA-SM-PASID-PGTT", f"PGTT = {pgtt:03b}b is " + ("reserved" if cap_bit is None else
                                                                    "not supported by ECAP_REG")
        aw = _P0["aw"].get(p0)
        if uses_sl and not regs.aw_valid(aw):
            return "DMA-SM-PASID-AW", f"AW = {aw} is not a width SAGAW ({regs.sagaw:#07b}) reports"
        flpm = _P2["flpm"].get(p2)
        if uses_fl and not (flpm == 0 or (flpm == 1 and V.CAP["fl5lp"].get(regs.cap))):
            return "DMA-SM-PASID-FLPM", f"FLPM = {flpm:02b}b is " + ("reserved" if flpm > 1 else
                                                                   "not supported (CAP_REG.FL5LP = 0)")
        return None


def _first_sid(scope: dict[int, list[int]]) -> int:
    for bus, devfns in scope.items():
        return bus << 8 | devfns[0]
    return 0


_bdf = source_id_text


def extract_unit(memory: TableMemory, units: Sequence[IommuUnit], index: int, maxphyaddr: int | None) -> UnitMap:
    """The interval maps of every device unit ``index`` remaps (see the module docstring).

    Raises ValueError for a unit whose device scope or host address width is malformed."""
    unit = units[index]
    haw = unit.haw if unit.haw is not None else maxphyaddr
    if haw is None or not 32 <= haw <= 52:
        raise ValueError(f"the host address width of IOMMU unit {index} is {haw}: it must be between 32 and 52")
    regs = _regs(unit, haw)
    modes: dict[int, str] = {V.Ttm.LEGACY: "legacy", V.Ttm.SCALABLE: "scalable", V.Ttm.ABORT_DMA: "abort-dma"}
    out = UnitMap(index, unit.segment, modes.get(regs.ttm, "reserved"), scope=remapped_sids(units, index))
    if not out.scope:
        return out
    walk = _Unit(memory, unit, regs, out)
    supported: dict[int, bool] = {V.Ttm.LEGACY: True, V.Ttm.SCALABLE: regs.has("smts"),
                                  V.Ttm.ABORT_DMA: regs.has("adms")}
    if not supported.get(regs.ttm, False):
        why = "reserved" if regs.ttm == V.Ttm.RESERVED else "not supported by ECAP_REG"
        walk.find("DMA-RTADDR-TTM", "RTADDR_REG", 0, unit.rtaddr, f"TTM = {regs.ttm:02b}b is {why}",
                  Request(_first_sid(out.scope), 0, "read"))
        out.blocked = "DMA-RTADDR-TTM"
    elif regs.ttm == V.Ttm.ABORT_DMA:
        out.blocked = "DMA-ABORT-MODE"
    elif regs.ttm == V.Ttm.SCALABLE:
        walk.scalable()
    else:
        walk.legacy()
    return out
