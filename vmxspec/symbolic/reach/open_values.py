"""The values a spec leaves open (``any``) in what the translation properties read.

Each ``any`` of the spec is a *slot*. A property names the slots that can change its answer
(``Needs``): the EPT maps and raw entries of the VMs it reads, ``EPT_POINTER`` and the
processor-based controls (mode-based execute control decides whether an entry with only bit 10 is
present), the addresses of VMCS-referenced structures, RAM placement, the IOMMUs' entries. Those
are enumerated when every one ranges over a small finite set (``any in { 0, 0x1_0020_1035 }``);
otherwise the property is ``unknown`` ("open values in translation structures are not modelled
yet"), never proved. Every other open value cannot change the answer: a VMCS field is left out of
the state (no translation reads it) and anything else is set to the smallest value it admits.
``assume`` statements constrain VMCS fields only; a relevant field that an assumption mentions is
not enumerated (the assumption could exclude some of its values), so it too gives ``unknown``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, replace

from vmxspec.sema import expressions as E
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import IommuDomain, IommuUnit, Model, Open, OwnTables, Paging, Vm

OPEN_REASON = "open values in translation structures are not modelled yet"
#: Most combinations of open values enumerated before giving up (each one is a full check).
MAX_CHOICES = 64
#: VMCS fields whose value changes what an EPT walk does.
EPT_FIELDS = frozenset({"EPT_POINTER", "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL"})
#: VMCS fields that point at hypervisor-private pages (with the bytes each covers): the bitmaps the
#: builder places, the shadow VMCS (the link pointer, unless all ones), the EPTP list, the PML log
#: and the posted-interrupt descriptor. No device may reach them (``dma_isolated``).
STRUCTURE_FIELDS: dict[str, tuple[int, str]] = {
    "MSR_BITMAP": (4096, "MSR bitmap"),
    "IO_BITMAP_A": (4096, "I/O bitmap A"),
    "IO_BITMAP_B": (4096, "I/O bitmap B"),
    "VMREAD_BITMAP": (4096, "VMREAD bitmap"),
    "VMWRITE_BITMAP": (4096, "VMWRITE bitmap"),
    "VMCS_LINK_POINTER": (4096, "shadow VMCS (VMCS link pointer)"),
    "EPTP_LIST_ADDRESS": (4096, "EPTP list"),
    "PML_ADDRESS": (4096, "page-modification log"),
    "POSTED_INTR_DESC_ADDR": (64, "posted-interrupt descriptor"),
}


@dataclass(frozen=True, slots=True)
class Slot:
    """One ``any`` of the spec: ``key`` locates it in the model, ``kind`` says what it feeds
    ("ram", "ept", "vmcs-ept", "vmcs-structure", "vmcs-other" or "iommu"), ``vm`` whose it is."""

    key: tuple[object, ...]
    what: str
    value: Open
    kind: str
    vm: str | None


@dataclass(frozen=True, slots=True)
class Needs:
    """Which open values can change a property's answer: the slot kinds, for these VMs (None: all),
    and whether the IOMMUs' own open values count."""

    kinds: frozenset[str]
    vms: frozenset[str] | None = None
    iommu: bool = False

    def wants(self, slot: Slot) -> bool:
        if slot.vm is None:
            return self.iommu
        return slot.kind in self.kinds and (self.vms is None or slot.vm in self.vms)


def slots(model: Model) -> list[Slot]:
    out = []
    for vm in model.vms.values():
        for i, ram in enumerate(vm.ram):
            if isinstance(ram.host, Open):
                out.append(Slot(("ram", vm.name, i), f"the host address of {vm.name}'s RAM at {ram.start:#x}",
                                ram.host, "ram", vm.name))
        if vm.ept is not None:
            out.extend(_paging_slots(vm.ept, ("ept", vm.name), f"{vm.name}'s EPT", "ept", vm.name))
        for name, fv in vm.vmcs.fields.items():
            if isinstance(fv.value, Open):
                kind = ("vmcs-ept" if name in EPT_FIELDS else "vmcs-structure" if name in STRUCTURE_FIELDS
                        else "vmcs-other")
                out.append(Slot(("vmcs", vm.name, name), f"{vm.name}'s {name}", fv.value, kind, vm.name))
    for unit in model.iommus.values():
        for i, entry in enumerate(unit.entries):
            if isinstance(entry.value, Open):
                out.append(Slot(("iommu-entry", unit.name, i), f"the {entry.kind} at {entry.address:#x} of "
                                f"{unit.name}", entry.value, "iommu", None))
        for did, domain in unit.domains.items():
            if isinstance(domain.translation, OwnTables):
                out.extend(_paging_slots(domain.translation.paging, ("domain", unit.name, did),
                                         f"{unit.name} domain {did}", "iommu", None))
    return out


def _paging_slots(paging: Paging, key: tuple[object, ...], where: str, kind: str, vm: str | None) -> list[Slot]:
    out = []
    for i, m in enumerate(paging.maps):
        if isinstance(m.target, Open):
            out.append(Slot((*key, "map", i), f"the target of the map at {m.start:#x} in {where}", m.target, kind, vm))
    for i, entry in enumerate(paging.entries):
        if isinstance(entry.value, Open):
            out.append(Slot((*key, "entry", i), f"the {entry.kind} at {entry.address:#x} in {where}", entry.value,
                            kind, vm))
    return out


def _next_clear(value: int, zero: int) -> int:
    """The smallest x >= value with x & zero == 0."""
    while value & zero:
        low = (value & zero) & -(value & zero)
        value = (value | (low - 1)) + 1
    return value


def smallest(value: Open) -> int:
    """The smallest value an ``any`` admits (0 if it admits none: the spec is then contradictory,
    which sema reports)."""
    ranges = value.domain.intervals if value.domain is not None else ((0, 1 << value.width),)
    for lo, hi in ranges:
        x = _next_clear(lo, value.zero)
        if x < hi and value.admits(x):
            return x
    return 0


def members(value: Open, limit: int) -> list[int] | None:
    """Every value the ``any`` admits, or None when there are more than ``limit``."""
    if value.domain is None or value.domain.size > limit * 4:
        return None
    found = [v for lo, hi in value.domain.intervals for v in range(lo, hi) if value.admits(v)]
    return found if len(found) <= limit else None


def _assumed_fields(model: Model) -> set[tuple[str, str]]:
    """(VM, field) pairs some ``assume`` mentions."""
    found: set[tuple[str, str]] = set()
    todo: list[E.Expr] = [a.condition for a in model.assumptions]
    for vm in model.vms.values():
        todo.extend(a.condition for a in vm.assumptions)
    while todo:
        node = todo.pop()
        if isinstance(node, E.FieldRef):
            if node.vmcs.role is E.VmcsRole.VM:
                found.add((node.vmcs.owner, node.field))
        elif isinstance(node, E.Unary):
            todo.append(node.operand)
        elif isinstance(node, E.Binary):
            todo.extend((node.left, node.right))
        elif isinstance(node, E.Slice):
            todo.append(node.base)
        elif isinstance(node, E.Member):
            todo.append(node.item)
            if not isinstance(node.collection, IntervalSet):
                todo.append(node.collection)
        elif isinstance(node, E.Apply):
            todo.extend(node.args)
        elif isinstance(node, E.Quantified):
            todo.append(node.body)
            todo.extend(b.domain for b in node.bindings if not isinstance(b.domain, IntervalSet))
    return found


@dataclass(frozen=True, slots=True)
class Choices:
    """The combinations of open values to check, or (``unknown``) why they cannot be enumerated."""

    combinations: tuple[dict[tuple[object, ...], int], ...]
    relevant: tuple[Slot, ...]
    all_slots: tuple[Slot, ...]
    unknown: str = ""


def choices(model: Model, needs: Needs) -> Choices:
    every = slots(model)
    relevant = [s for s in every if s.kind != "vmcs-other" and needs.wants(s)]
    return combine(relevant, every, _assumed_fields(model))


def combine(relevant: Sequence[Slot], every: Sequence[Slot],
            assumed: AbstractSet[tuple[str, str]] = frozenset()) -> Choices:
    """The combinations of ``relevant``'s values (each of ``every`` else at its smallest value), for a
    property that decides by itself which slots can change its answer; an open VMCS field in
    ``assumed`` (VM, field) is not enumerated, since an assumption could exclude some of its values."""
    domains: list[list[int]] = []
    for slot in relevant:
        values = members(slot.value, MAX_CHOICES)
        if values is None or (slot.key[0] == "vmcs" and (slot.vm, slot.key[2]) in assumed):
            return Choices((), tuple(relevant), tuple(every), f"{slot.what} is {slot.value.describe()}")
        domains.append(values)
    count = 1
    for d in domains:
        count *= max(len(d), 1)
    if count > MAX_CHOICES:
        return Choices((), tuple(relevant), tuple(every), f"{count} combinations of {len(relevant)} open values")
    base = {s.key: smallest(s.value) for s in every if s.kind != "vmcs-other"}
    combos: list[dict[tuple[object, ...], int]] = []
    for combo in itertools.product(*domains):
        chosen = dict(base)
        chosen.update({s.key: v for s, v in zip(relevant, combo, strict=True)})
        combos.append(chosen)
    return Choices(tuple(combos), tuple(relevant), tuple(every))


def pin(model: Model, values: dict[tuple[object, ...], int]) -> Model:
    """The model with every open value replaced by ``values[key]``, and open VMCS fields that no
    translation reads ("vmcs-other") left out."""
    vms = {name: _pin_vm(vm, values) for name, vm in model.vms.items()}
    units = {name: _pin_unit(unit, values) for name, unit in model.iommus.items()}
    return replace(model, vms=vms, iommus=units)


#: Slot kinds that are table contents or placement rather than VMCS fields.
TABLE_KINDS = frozenset({"ram", "ept", "iommu"})


def pin_tables(model: Model, values: dict[tuple[object, ...], int]) -> Model:
    """The model with every open RAM placement, map target and raw entry replaced by ``values[key]``
    and every open VMCS field left open: for properties that give those fields to the solver as
    variables while enumerating the table values."""
    vms = {name: _pin_vm_tables(vm, values) for name, vm in model.vms.items()}
    units = {name: _pin_unit(unit, values) for name, unit in model.iommus.items()}
    return replace(model, vms=vms, iommus=units)


def written_at(model: Model, slot: Slot) -> tuple[int, int] | None:
    """The host bytes ``[start, end)`` a raw entry's value occupies; None for every other slot (a map
    target changes whole tables and where the builder lays them out, RAM placement and VMCS fields
    are not memory contents)."""
    key = slot.key
    entry = None
    if key[0] == "ept" and key[2] == "entry":
        paging = model.vms[str(key[1])].ept
        assert paging is not None
        entry = paging.entries[_index(key[3])]
    elif key[0] == "iommu-entry":
        entry = model.iommus[str(key[1])].entries[_index(key[2])]
    elif key[0] == "domain" and key[3] == "entry":
        translation = model.iommus[str(key[1])].domains[_index(key[2])].translation
        assert isinstance(translation, OwnTables)
        entry = translation.paging.entries[_index(key[4])]
    return None if entry is None else (entry.address, entry.address + entry.size)


def _index(part: object) -> int:
    assert isinstance(part, int)
    return part


def _pin_vm_tables(vm: Vm, values: dict[tuple[object, ...], int]) -> Vm:
    ram = tuple(replace(r, host=values[("ram", vm.name, i)]) if isinstance(r.host, Open) else r
                for i, r in enumerate(vm.ram))
    ept = _pin_paging(vm.ept, ("ept", vm.name), values) if vm.ept is not None else None
    return replace(vm, ram=ram, ept=ept)


def _pin_paging(paging: Paging, key: tuple[object, ...], values: dict[tuple[object, ...], int]) -> Paging:
    maps = tuple(replace(m, target=values[(*key, "map", i)]) if isinstance(m.target, Open) else m
                 for i, m in enumerate(paging.maps))
    entries = tuple(replace(e, value=values[(*key, "entry", i)]) if isinstance(e.value, Open) else e
                    for i, e in enumerate(paging.entries))
    return replace(paging, maps=maps, entries=entries)


def _pin_vm(vm: Vm, values: dict[tuple[object, ...], int]) -> Vm:
    vm = _pin_vm_tables(vm, values)
    fields = {}
    for name, fv in vm.vmcs.fields.items():
        if not isinstance(fv.value, Open):
            fields[name] = fv
        elif ("vmcs", vm.name, name) in values:
            fields[name] = replace(fv, value=values[("vmcs", vm.name, name)])
    return replace(vm, vmcs=replace(vm.vmcs, fields=fields))


def _pin_unit(unit: IommuUnit, values: dict[tuple[object, ...], int]) -> IommuUnit:
    entries = tuple(replace(e, value=values[("iommu-entry", unit.name, i)]) if isinstance(e.value, Open) else e
                    for i, e in enumerate(unit.entries))
    domains: dict[int, IommuDomain] = {}
    for did, d in unit.domains.items():
        if isinstance(d.translation, OwnTables):
            paging = _pin_paging(d.translation.paging, ("domain", unit.name, did), values)
            d = replace(d, translation=replace(d.translation, paging=paging))
        domains[did] = d
    return replace(unit, entries=entries, domains=domains)


def describe_choice(relevant: tuple[Slot, ...], values: dict[tuple[object, ...], int]) -> dict[str, int]:
    return {s.what: values[s.key] for s in relevant}
