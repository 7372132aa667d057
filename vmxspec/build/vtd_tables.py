"""Lay out VT-d remapping tables in a host-physical region from device and domain assignments.

``build_vtd_tables`` takes which device (source-id) belongs to which domain, and each domain's
mappings (an IOVA range, its host-physical target, read/write) or pass-through, and returns the
RTADDR_REG value and the memory words that hold every table: the root table, the context tables
(legacy 128-bit or scalable-mode 256-bit entries), in scalable mode a PASID directory and PASID
table per device, and one set of second-level page tables per domain (devices of one domain share
them, as the domain-id tags their IOTLB entries). Tables are allocated one 4-KiB page after another
from ``table_base`` in a fixed order, so the same assignments always give the same words.

Non-leaf second-level entries get R and W, so a translation's rights are exactly its leaf's (the
walk ANDs the rights of every level). ``cap_value`` and ``ecap_value`` make matching CAP_REG and
ECAP_REG values. The builder encodes what it is asked for; it refuses only what cannot be laid out
(overlaps, misalignment, addresses out of range, no room for tables).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import NamedTuple

from vmxspec.arch import vtd as V

ALL_PAGE_SIZES: frozenset[int] = frozenset(V.PAGE_SIZE_BY_LEVEL.values())
_LEVEL_BY_SIZE = {size: level for level, size in V.PAGE_SIZE_BY_LEVEL.items()}
_TABLE = 4096


class VtdBuildError(ValueError):
    """The assignments cannot be laid out (the message says which and why)."""


@dataclass(frozen=True, slots=True)
class DmaMapping:
    """``size`` bytes of IOVA space from ``iova`` mapped to host-physical ``hpa`` onwards."""

    iova: int
    size: int
    hpa: int
    read: bool = True
    write: bool = True
    #: Pin the page size (4 KiB, 2 MiB or 1 GiB) instead of choosing the largest that fits.
    page_size: int | None = None

    @property
    def end(self) -> int:
        return self.iova + self.size


@dataclass(frozen=True, slots=True)
class DmaDomain:
    """One domain: its id, its mappings, or pass-through; ``aw`` is the AW field (2 = 48-bit, 4 levels)."""

    did: int
    mappings: tuple[DmaMapping, ...] = ()
    passthrough: bool = False
    aw: int = 2


@dataclass(frozen=True, slots=True)
class Attachment:
    """How a device reaches its domain: without PASID (``pasid`` None) or through one PASID."""

    source_id: int
    did: int
    pasid: int | None = None


class VtdTables(NamedTuple):
    """RTADDR_REG and the memory words of the tables (8-byte-aligned address -> value)."""

    rtaddr: int
    memory: dict[int, int]
    #: The first address after the last table.
    end: int


def cap_value(*, aws: Collection[int] = (1, 2), mgaw: int = 48, sllps_2m: bool = True, sllps_1g: bool = True,
              nd: int = 6, fl1gp: bool = False, fl5lp: bool = False) -> int:
    """A CAP_REG value: SAGAW from the AW values in ``aws``, MGAW, large pages, 2^(4+2*nd) domains."""
    c = V.CAP
    sagaw = sum(1 << aw for aw in aws)
    sllps = (1 if sllps_2m else 0) | (2 if sllps_1g else 0)
    return (c["nd"].put(0, nd) | c["sagaw"].put(0, sagaw) | c["mgaw"].put(0, mgaw - 1) | c["sllps"].put(0, sllps)
            | c["fl1gp"].put(0, int(fl1gp)) | c["fl5lp"].put(0, int(fl5lp)))


def ecap_value(*names: str) -> int:
    """An ECAP_REG value with the named single-bit fields set (``ecap_value("pt", "sc")``)."""
    value = 0
    for name in names:
        if name not in V.ECAP or V.ECAP[name].width != 1:
            raise VtdBuildError(f"{name!r} is not a single-bit ECAP_REG field")
        value |= V.ECAP[name].mask
    return value


@dataclass(slots=True)
class _Layout:
    next_table: int
    limit: int
    words: dict[int, int] = field(default_factory=dict)

    def allocate(self) -> int:
        table = self.next_table
        if table + _TABLE > self.limit:
            raise VtdBuildError(f"no room for another table: the table region ends at {self.limit:#x}")
        self.next_table += _TABLE
        return table

    def put(self, address: int, value: int) -> None:
        self.words[address] = value


def _check_domain(d: DmaDomain, haw: int) -> list[DmaMapping]:
    where = f"domain {d.did}"
    if not 0 <= d.did <= 0xFFFF:
        raise VtdBuildError(f"{where}: a domain-id is 16 bits")
    if d.aw not in V.VALID_AW:
        raise VtdBuildError(f"{where}: AW is 1, 2 or 3 (3-, 4- or 5-level tables), got {d.aw}")
    if d.passthrough and d.mappings:
        raise VtdBuildError(f"{where}: a pass-through domain has no mappings")
    limit = 1 << V.agaw_bits(d.aw)
    ordered = sorted(d.mappings, key=lambda m: m.iova)
    for m in ordered:
        what = f"{where}, mapping at IOVA {m.iova:#x}"
        align = m.page_size if m.page_size is not None else V.PAGE_4K
        if m.page_size is not None and m.page_size not in ALL_PAGE_SIZES:
            raise VtdBuildError(f"{what}: page size {m.page_size:#x} is not 4 KiB, 2 MiB or 1 GiB")
        if m.size <= 0 or m.iova < 0 or m.hpa < 0:
            raise VtdBuildError(f"{what}: size must be positive and addresses non-negative")
        for name, value in (("IOVA", m.iova), ("HPA", m.hpa), ("size", m.size)):
            if value % align:
                raise VtdBuildError(f"{what}: {name} {value:#x} is not a multiple of {align:#x}")
        if m.end > limit:
            raise VtdBuildError(f"{what}: ends at {m.end:#x}, beyond the {V.agaw_bits(d.aw)}-bit domain width")
        if m.hpa + m.size > 1 << haw:
            raise VtdBuildError(f"{what}: host range ends at {m.hpa + m.size:#x}, beyond HAW {haw}")
    for a, b in pairwise(ordered):
        if b.iova < a.end:
            raise VtdBuildError(f"{where}: mappings at IOVA {a.iova:#x} and {b.iova:#x} overlap")
    return ordered


def _build_page_tables(layout: _Layout, d: DmaDomain, mappings: list[DmaMapping], sizes: list[int]) -> int:
    """Second-level tables for one domain; returns the top table's address."""
    levels = V.aw_levels(d.aw)
    top = layout.allocate()
    children: dict[int, int] = {}
    for m in mappings:
        bits = (V.SL_R if m.read else 0) | (V.SL_W if m.write else 0)
        offset = 0
        while offset < m.size:
            iova, hpa, remaining = m.iova + offset, m.hpa + offset, m.size - offset
            size = m.page_size if m.page_size is not None else next(
                s for s in sizes if not iova % s and not hpa % s and remaining >= s)
            leaf_level = _LEVEL_BY_SIZE[size]
            table = top
            for level in range(levels, leaf_level, -1):
                address = table + 8 * (iova >> V.index_shift(level) & 0x1FF)
                child = children.get(address)
                if child is None:
                    if address in layout.words:
                        raise VtdBuildError(f"domain {d.did}: IOVA {iova:#x} is already covered by a larger page")
                    child = layout.allocate()
                    children[address] = child
                    layout.put(address, child | V.SL_R | V.SL_W)
                table = child
            address = table + 8 * (iova >> V.index_shift(leaf_level) & 0x1FF)
            if address in layout.words:
                raise VtdBuildError(f"domain {d.did}: IOVA {iova:#x} is already mapped")
            layout.put(address, hpa | bits | (V.SL_PS if leaf_level > 1 else 0))
            offset += size
    return top


def build_vtd_tables(attachments: Iterable[Attachment] | Mapping[int, int], domains: Iterable[DmaDomain], *,
                     table_base: int, table_limit: int | None = None, haw: int = 46, scalable: bool = False,
                     page_sizes: Collection[int] = ALL_PAGE_SIZES, max_aw: int = 2, ats: Collection[int] = (),
                     fpd: Collection[int] = ()) -> VtdTables:
    """Lay out the tables for ``attachments`` (or a source-id -> domain-id mapping) and ``domains``.

    Legacy mode (the default) uses TT = 00b for translated domains (01b for source-ids in ``ats``)
    and TT = 10b with AW = ``max_aw`` (the largest AW the unit's SAGAW reports) for pass-through
    ones; PASID attachments need ``scalable``. Scalable mode points each device's context entry at
    its own PASID directory; requests-without-PASID use RID_PASID = 0, so the device's attachment
    without PASID fills PASID 0. Domains use PGTT = 010b (second-level) or 100b (pass-through).
    Source-ids in ``fpd`` get FPD = 1 in their context entry. Raises VtdBuildError.
    """
    if table_base % _TABLE or table_base < 0:
        raise VtdBuildError(f"the table region must start 4-KiB aligned, got {table_base:#x}")
    if not 32 <= haw <= 52:
        raise VtdBuildError(f"HAW is between 32 and 52, got {haw}")
    limit = 1 << haw if table_limit is None else min(table_limit, 1 << haw)
    unknown = set(page_sizes) - ALL_PAGE_SIZES
    if unknown:
        raise VtdBuildError(f"page sizes are 4 KiB, 2 MiB or 1 GiB, got {sorted(unknown)}")
    sizes = sorted(set(page_sizes) | {V.PAGE_4K}, reverse=True)
    if isinstance(attachments, Mapping):
        attached = [Attachment(sid, did) for sid, did in sorted(attachments.items())]
    else:
        attached = list(attachments)
    by_did: dict[int, DmaDomain] = {}
    for d in domains:
        if d.did in by_did:
            raise VtdBuildError(f"domain {d.did} is given twice")
        by_did[d.did] = d
    checked = {did: _check_domain(d, haw) for did, d in by_did.items()}

    per_device: dict[int, dict[int | None, int]] = {}
    for a in attached:
        if not 0 <= a.source_id <= 0xFFFF:
            raise VtdBuildError(f"source-id {a.source_id:#x} is not 16 bits")
        if a.did not in by_did:
            raise VtdBuildError(f"source-id {a.source_id:#06x} is attached to domain {a.did}, which is not given")
        if a.pasid is not None and (not scalable or not 0 <= a.pasid < 1 << V.PASID_BITS):
            raise VtdBuildError(f"source-id {a.source_id:#06x}: PASID attachments need scalable mode and a "
                                "20-bit PASID")
        slots = per_device.setdefault(a.source_id, {})
        if a.pasid in slots:
            raise VtdBuildError(f"source-id {a.source_id:#06x} is attached twice"
                                + (f" through PASID {a.pasid:#x}" if a.pasid is not None else ""))
        if (a.pasid == 0 and None in slots) or (a.pasid is None and 0 in slots):
            raise VtdBuildError(f"source-id {a.source_id:#06x}: PASID 0 is the RID_PASID of requests-without-PASID")
        slots[a.pasid] = a.did

    layout = _Layout(table_base, limit)
    root = layout.allocate()
    tables = {did: _build_page_tables(layout, d, checked[did], sizes)
              for did, d in sorted(by_did.items()) if not d.passthrough}
    if scalable:
        _scalable(layout, root, per_device, by_did, tables, ats, fpd)
        rtaddr = root | V.Ttm.SCALABLE << V.RTADDR["ttm"].lsb
    else:
        _legacy(layout, root, per_device, by_did, tables, max_aw, ats, fpd)
        rtaddr = root
    memory = {address: value for address, value in sorted(layout.words.items()) if value}
    return VtdTables(rtaddr, memory, layout.next_table)


def _legacy(layout: _Layout, root: int, per_device: dict[int, dict[int | None, int]], by_did: dict[int, DmaDomain],
            tables: dict[int, int], max_aw: int, ats: Collection[int], fpd: Collection[int]) -> None:
    context_tables: dict[int, int] = {}
    for sid in sorted(per_device):
        did = per_device[sid][None]
        bus, devfn = sid >> 8, sid & 0xFF
        if bus not in context_tables:
            context_tables[bus] = layout.allocate()
            layout.put(root + 16 * bus, context_tables[bus] | 1)
        d = by_did[did]
        if d.passthrough:
            lo, aw = V.TranslationType.PASS_THROUGH << 2, max_aw
        else:
            tt = V.TranslationType.ALL if sid in ats else V.TranslationType.UNTRANSLATED
            lo, aw = tables[did] | tt << 2, d.aw
        address = context_tables[bus] + 16 * devfn
        layout.put(address, lo | 1 | (2 if sid in fpd else 0))
        layout.put(address + 8, did << 8 | aw)


def _scalable(layout: _Layout, root: int, per_device: dict[int, dict[int | None, int]],
              by_did: dict[int, DmaDomain], tables: dict[int, int], ats: Collection[int],
              fpd: Collection[int]) -> None:
    context_tables: dict[tuple[int, bool], int] = {}
    for sid in sorted(per_device):
        slots = per_device[sid]
        bus, devfn = sid >> 8, sid & 0xFF
        upper = devfn >= 0x80
        key = (bus, upper)
        if key not in context_tables:
            context_tables[key] = layout.allocate()
            layout.put(root + 16 * bus + (8 if upper else 0), context_tables[key] | 1)
        pasids = {0 if p is None else p: did for p, did in slots.items()}
        top = max(pasids)
        pdts = 0
        while V.pasid_dir_entries(pdts) << V.PASID_TABLE_INDEX_BITS <= top:
            pdts += 1
        directory = layout.allocate()
        while layout.next_table < directory + 8 * V.pasid_dir_entries(pdts):
            layout.allocate()
        pasid_tables: dict[int, int] = {}
        for pasid, did in sorted(pasids.items()):
            index = pasid >> V.PASID_TABLE_INDEX_BITS
            if index not in pasid_tables:
                pasid_tables[index] = layout.allocate()
                layout.put(directory + 8 * index, pasid_tables[index] | 1)
            d = by_did[did]
            entry = pasid_tables[index] + V.PASID_ENTRY_SIZE * (pasid & 0x3F)
            if d.passthrough:
                layout.put(entry, V.Pgtt.PASS_THROUGH << 6 | 1)
            else:
                layout.put(entry, tables[did] | V.Pgtt.SECOND_LEVEL << 6 | d.aw << 2 | 1)
            layout.put(entry + 8, did)
        paside = any(p is not None for p in slots)
        c0 = (directory | pdts << 9 | (8 if paside else 0) | (4 if sid in ats else 0)
              | (2 if sid in fpd else 0) | 1)
        layout.put(context_tables[key] + 32 * (devfn & 0x7F), c0)
