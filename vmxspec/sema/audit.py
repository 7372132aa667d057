"""Warnings about the spec as a whole: legal, but rarely what was meant.

These look across VMs, IOMMUs and the hypervisor's memory: a device given to two VMs, a device
whose DMA no IOMMU translates, guest RAM the EPT leaves unmapped, and translations into host
memory that belongs to nobody the spec knows (no VM's RAM, not the hypervisor's, in no ``shared``
region). The isolation
*properties* (``isolated``, ``dma_isolated``) are the checker's job; these only flag what is
probably an oversight before any proof is attempted.

Specs written at the raw level count too: an EPT given as raw entries is walked (from its root,
through the entries the spec gives) to find what it maps, and a device is attached if the unit's
raw root and context entries make a present context entry for it. Where a raw entry is left open
(``any``), what it maps cannot be known here and the coverage warning is not given.
"""

from __future__ import annotations

from vmxspec.arch import ept as ept_facts
from vmxspec.diagnostics import Span
from vmxspec.sema.context import Context
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import Bdf, IommuUnit, OwnTables, Paging, Region, SharedRegion, Vm
from vmxspec.sema.reporter import note

#: Past this many unowned targets in one block, the rest are summed up in one warning.
_MAX_UNOWNED = 10


def audit(vms: dict[str, Vm], iommus: dict[str, IommuUnit], hypervisor: list[Region],
          shared: tuple[SharedRegion, ...], ctx: Context) -> None:
    _devices(vms, iommus, ctx)
    for vm in vms.values():
        _ram_coverage(vm, ctx)
    owned = IntervalSet(tuple((r.host, r.host + r.end - r.start) for vm in vms.values() for r in vm.ram
                              if isinstance(r.host, int)) + tuple((r.start, r.end) for r in hypervisor)
                        + tuple((r.start, r.end) for r in shared))
    for vm in vms.values():
        if vm.ept is not None:
            _unowned(vm.ept, owned, f"{vm.name}'s EPT", ctx)
    for unit in iommus.values():
        for domain in unit.domains.values():
            if isinstance(domain.translation, OwnTables):
                _unowned(domain.translation.paging, owned, f"{unit.name} domain {domain.did}", ctx)


def _devices(vms: dict[str, Vm], iommus: dict[str, IommuUnit], ctx: Context) -> None:
    owner: dict[Bdf, tuple[str, Span]] = {}
    attached = {a.device for unit in iommus.values() for a in unit.attachments}
    attached |= {b for unit in iommus.values() for b in _raw_attached(unit)}
    for vm in vms.values():
        for d in vm.devices:
            if d.bdf in owner:
                other, where = owner[d.bdf]
                ctx.reporter.report("sema-device-shared", f"device {d.bdf} is assigned to '{vm.name}' and to "
                                    f"'{other}': both VMs can drive it and see its DMA", d.span,
                                    note(f"assigned to '{other}' here", where))
            else:
                owner[d.bdf] = (vm.name, d.span)
            if d.bdf not in attached:
                ctx.report("sema-device-untranslated", f"device {d.bdf} is assigned to '{vm.name}' but no IOMMU "
                           "attaches it to a domain: its DMA is not remapped and reaches all host memory", d.span)


def _raw_attached(unit: IommuUnit) -> set[Bdf]:
    """Devices whose legacy context entry the unit's raw entries make present: a present root entry
    in the root table at ``root`` points at a context table holding a present context entry."""
    if unit.root is None:
        return set()
    values = {e.address: e.value for e in unit.entries if isinstance(e.value, int)}
    found: set[Bdf] = set()
    for bus in range(256):
        root_entry = values.get(unit.root + 16 * bus, 0)
        if not root_entry & 1:
            continue
        table = root_entry & ept_facts.address_mask(52)
        for devfn in range(256):
            if values.get(table + 16 * devfn, 0) & 1:
                found.add(Bdf(unit.segment, bus, devfn >> 3, devfn & 7))
    return found


def _raw_ept_mapped(paging: Paging) -> IntervalSet | None:
    """What raw EPT entries map, walking from the root; None if a walk meets an open entry."""
    if paging.root is None or not paging.entries:
        return IntervalSet()
    values = {e.address: e.value for e in paging.entries}
    out: list[tuple[int, int]] = []
    stack = [(paging.root, 4, 0)]
    while stack:
        table, level, base = stack.pop()
        for index in range(512):
            value = values.get(table + 8 * index, 0)
            if not isinstance(value, int):
                return None
            if not value & 7:
                continue
            gpa = base + (index << ept_facts.index_shift(level))
            if level == 1 or (level in (2, 3) and value & ept_facts.PAGE_SIZE_BIT):
                out.append((gpa, gpa + ept_facts.PAGE_SIZE_BY_LEVEL[level]))
            elif level > 1:
                stack.append((value & ept_facts.address_mask(52), level - 1, gpa))
    return IntervalSet(tuple(out))


def _ram_coverage(vm: Vm, ctx: Context) -> None:
    if vm.ept is None:
        return
    raw = _raw_ept_mapped(vm.ept)
    if raw is None:
        return
    covered = vm.ept.mapped() | raw | IntervalSet(tuple((h.start, h.end) for h in vm.ept.holes))
    for ram in vm.ram:
        missing = IntervalSet.span(ram.start, ram.end) - covered
        if missing:
            first = missing.intervals[0]
            more = f" (and {len(missing.intervals) - 1} more ranges)" if len(missing.intervals) > 1 else ""
            ctx.report("sema-ram-unmapped", f"the EPT maps no part of {first[0]:#x} .. {first[1]:#x} of this RAM"
                       f"{more}: guest accesses there cause EPT violations (declare a 'hole' if that is meant)",
                       ram.span)


def _unowned(paging: Paging, owned: IntervalSet, where: str, ctx: Context) -> None:
    count = 0
    for m in paging.maps:
        if not isinstance(m.target, int):
            continue
        end = m.target + m.end - m.start
        if owned.covers(m.target, end):
            continue
        count += 1
        if count <= _MAX_UNOWNED:
            ctx.report("sema-unowned-host-memory", f"the map translates to host {m.target:#x} .. {end:#x}, which is "
                       "in no VM's RAM, not declared in 'hypervisor { memory ... }' and in no 'shared' region", m.span)
    if count > _MAX_UNOWNED:
        ctx.report("sema-unowned-host-memory", f"{count - _MAX_UNOWNED} more maps of {where} translate to host "
                   "memory that no VM's RAM or hypervisor region holds", paging.span)
