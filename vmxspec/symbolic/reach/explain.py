"""Which spec statements a translation proof read: the ``depends_on`` of ``--explain``.

A proof over concrete tables has no unsat core to ask for; what it relied on is the content of the
statements that made the tables and the sets it swept. These functions name them, from the same
traversals the decisions read, so that a raw entry is listed only when its content reached the
decision:

* an EPT's ``map`` lines (every one: the builder lays out the tables from all of them, and each
  writes entries on the walks the traversal makes, even where a raw entry later replaces its
  leaves), the raw entries in a table the traversal read (not those in pages no walk reaches),
  ``root at``, a hand-written ``EPT_POINTER``, and the control settings that say whether EPT (and
  mode-based execute control) is on, since the verdict would not be a proof without them;
* a VT-d unit's register settings, ``root at``, groups, raw entries, device and domain lines, and
  the statements its domains' tables come from (their own ``map`` lines, or the VM maps a
  ``uses VM.ept`` domain mirrors);
* the ownership a DMA proof compares with: devices and RAM of every VM, the hypervisor's memory,
  and where each VM's paging structures go.
"""

from __future__ import annotations

from vmxspec.arch.controls import ControlField
from vmxspec.diagnostics import Span as Source
from vmxspec.sema.model import Model, OwnTables, Paging, SharedRegion, UsesEpt, Vm
from vmxspec.symbolic.reach.world import World

#: VMCS fields whose value decides whether and how a VM's EPT is walked.
_EPT_FIELDS = ("CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL", "EPT_POINTER")


def ept_controls(vm: Vm) -> list[Source]:
    """The VMCS statements that turn EPT (and mode-based execute control) on or off."""
    vmcs = vm.vmcs
    out = [vmcs.controls[f].span for f in (ControlField.PROC, ControlField.PROC2) if f in vmcs.controls]
    out += [vmcs.fields[name].span for name in _EPT_FIELDS if name in vmcs.fields]
    return out


def paging_lines(paging: Paging, tables: set[int]) -> list[Source]:
    """The ``map`` lines of ``paging``, the raw entries that lie in a page of ``tables`` (the tables
    a traversal read), and ``root at``."""
    out = [m.span for m in paging.maps]
    out += [e.span for e in paging.entries if e.address & ~0xFFF in tables]
    out.append(paging.root_span)
    return out


def ept_lines(world: World, vm: str) -> list[Source]:
    """What ``vm``'s EPT translations, as the traversal found them, were made from."""
    model_vm = world.model.vms[vm]
    out = ept_controls(model_vm)
    ept = world.ept(vm)
    if model_vm.ept is None or ept is None:
        return out
    return out + paging_lines(model_vm.ept, set(ept.tables))


def hypervisor_lines(model: Model) -> list[Source]:
    return [r.span for r in model.hypervisor]


def shared_lines(region: SharedRegion, parties: tuple[str, ...]) -> list[Source]:
    """A shared region's statement and the lines of the parties a proof held to their rights."""
    return [region.span, *(region.parties[p].span for p in parties if p in region.parties)]


def ownership_lines(model: Model) -> list[Source]:
    """Who owns what, for DMA: every VM's devices and RAM, where the paging structures of every VM and
    unit go, and the hypervisor's memory."""
    out: list[Source] = []
    for vm in model.vms.values():
        out += [d.span for d in vm.devices] + [r.span for r in vm.ram]
        if vm.ept is not None:
            out.append(vm.ept.root_span)
            if vm.ept.tables is not None:
                out.append(vm.ept.tables.span)
    for unit in model.iommus.values():
        out.append(unit.root_span)
        if unit.tables is not None:
            out.append(unit.tables.span)
    return out + hypervisor_lines(model)


def unit_lines(world: World, name: str) -> list[Source]:
    """What a VT-d unit's translations were made from: its registers, root, groups, raw entries in the
    tables it read, device and domain lines, and its domains' tables (own maps, or the maps of the
    VM whose EPT a domain uses)."""
    unit = world.model.iommus[name]
    found = world.unit(name)
    read = set(found.tables)
    out = [*unit.setting_spans, *unit.group_spans, unit.root_span]
    out += [e.span for e in unit.entries if e.address & ~0xFFF in read]
    out += [a.span for a in unit.attachments]
    for domain in unit.domains.values():
        out.append(domain.span)
        translation = domain.translation
        if isinstance(translation, OwnTables):
            out += paging_lines(translation.paging, read)
        elif isinstance(translation, UsesEpt):
            paging = world.model.vms[translation.vm].ept
            if paging is not None:
                out += [m.span for m in paging.maps]
    return out
