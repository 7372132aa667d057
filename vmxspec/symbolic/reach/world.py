"""From a resolved spec to the concrete tables the translation properties read.

The builders (``vmxspec.build.from_model``) lay out a spec with nothing left open as a concrete
state. The translation properties need that for every VM (each state holds one VMCS), for every
IOMMU, and for every choice of the relevant values the spec leaves open (``open_values``). A
``World`` is one such choice, built lazily:

* **States.** A VM's EPT is read from a state built without the IOMMUs (so an IOMMU block that
  cannot be laid out does not stop an EPT proof), unless a raw VT-d entry lies in the VM's table
  region (the builder would then place the VM's bitmaps around it). When the EPT walks read a page
  outside the VM's own structures that another structure occupies (a VT-d table, another VM's
  tables), the EPT is read from the whole memory instead: the machine reads what is there. IOMMUs
  are read from the union of every VM's state and the IOMMUs' own: one memory, as on the machine,
  so a context entry that points into some VM's EPT (``raw_entries.vmx``) is read as it is.
* **Ownership.** Each VM's RAM (its ``ram`` lines), the hypervisor's ``memory``, every paging
  structure (EPT and VT-d tables, as the traversals found them) and the pages VMCS fields point to.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

from vmxspec.arch import ept as A
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.build.from_model import BuildError, Built, build_state
from vmxspec.sema.model import Model
from vmxspec.state.model import State
from vmxspec.symbolic.reach.ept import EptMap, extract_ept
from vmxspec.symbolic.reach.memory import TableMemory
from vmxspec.symbolic.reach.open_values import STRUCTURE_FIELDS, Choices, Needs, choices, describe_choice, pin
from vmxspec.symbolic.reach.vtd import UnitMap, extract_unit

_ACTIVATE_SECONDARY = control_mask(ControlField.PROC, "activate_secondary_controls")
_MBEC = control_mask(ControlField.PROC2, "mode_based_execute_control")
_ENABLE_EPT = control_mask(ControlField.PROC2, "enable_ept")
_NO_LINK = (1 << 64) - 1
class WorldError(Exception):
    """The spec does not lay out as concrete tables (the message says why)."""


# -- the concrete world ----------------------------------------------------------------------------------

def mbec_of(vmcs: dict[str, int]) -> bool | None:
    """Whether mode-based execute control is on: the secondary controls count only when "activate
    secondary controls" is set (SDM "Secondary Processor-Based VM-Execution Controls")."""
    proc = vmcs.get("CPU_BASED_VM_EXEC_CONTROL")
    if proc is None:
        return None
    if not proc & _ACTIVATE_SECONDARY:
        return False
    proc2 = vmcs.get("SECONDARY_VM_EXEC_CONTROL")
    return None if proc2 is None else bool(proc2 & _MBEC)


def ept_in_use(vmcs: dict[str, int]) -> bool | None:
    """Whether the VMCS turns EPT on (None: its controls are not given)."""
    proc = vmcs.get("CPU_BASED_VM_EXEC_CONTROL")
    if proc is None:
        return None
    if not proc & _ACTIVATE_SECONDARY:
        return False
    proc2 = vmcs.get("SECONDARY_VM_EXEC_CONTROL")
    return None if proc2 is None else bool(proc2 & _ENABLE_EPT)


@dataclass(frozen=True, slots=True)
class Owned:
    """A host range and what it is, for explanations: ``kind`` is "ram", "hypervisor", "ept",
    "vtd" or "vmcs"; ``owner`` the VM (or IOMMU) it belongs to."""

    start: int
    end: int
    kind: str
    owner: str
    name: str


@dataclass(slots=True)
class World:
    """One pinned model, built lazily: states, extractions and ownership, each computed once."""

    model: Model
    _vm_states: dict[str, Built] = field(default_factory=dict)
    _iommu_state: Built | None = None
    _epts: dict[str, EptMap | None] = field(default_factory=dict)
    #: The VMs whose EPT was read from the whole memory (``_reads_elsewhere``).
    _read_from_union: set[str] = field(default_factory=set)
    _union: Built | None = None
    _units: dict[str, UnitMap] = field(default_factory=dict)

    @property
    def maxphyaddr(self) -> int:
        platform = self.model.platform
        if platform is None:
            raise WorldError("the spec names no platform: EPT and VT-d formats depend on its capabilities")
        return platform.maxphyaddr

    def _build(self, model: Model, vm: str | None) -> Built:
        try:
            return build_state(model, vm)
        except BuildError as exc:
            raise WorldError("cannot lay out the tables: " + "; ".join(d.headline() for d in exc.diagnostics)) from None

    def _iommu_raw_pages(self) -> set[int]:
        return {e.address + 8 * i & ~0xFFF for u in self.model.iommus.values() for e in u.entries
                for i in range(e.size // 8)}

    def vm_state(self, vm: str) -> Built:
        """The VM's state, built without the IOMMUs unless a raw VT-d entry lies in the VM's table
        region (where the builder would then place the VM's bitmaps differently)."""
        if vm not in self._vm_states:
            paging = self.model.vms[vm].ept
            raw = self._iommu_raw_pages()
            shared = paging is not None and paging.tables is not None and any(
                paging.tables.start <= page < paging.tables.end for page in raw)
            model = self.model if shared or not self.model.iommus else replace(self.model, iommus={})
            self._vm_states[vm] = self._build(model, vm)
        return self._vm_states[vm]

    def iommu_state(self) -> Built:
        """A state with every IOMMU's tables (and the first VM's structures)."""
        if self._iommu_state is None:
            self._iommu_state = self._build(self.model, next(iter(self.model.vms), None))
        return self._iommu_state

    def union(self) -> Built:
        """Every structure of the spec in one memory, as on the machine (with the IOMMU state's
        VMCS): what the IOMMUs read, and what a VM's EPT is read from when a VT-d entry is written
        into it."""
        if self._union is not None:
            return self._union
        base = self.iommu_state()
        memory = dict(base.state.memory)
        for name in self.model.vms:
            if name == base.vm:
                continue
            for address, value in self.vm_state(name).state.memory.items():
                old = memory.setdefault(address, value)
                if old != value:
                    raise WorldError(f"{name}'s structures and another's share the word at {address:#x} ({value:#x} "
                                     f"against {old:#x}): their table regions overlap")
        state = State(caps=base.state.caps, maxphyaddr=base.state.maxphyaddr, maxlinaddr=base.state.maxlinaddr,
                      vmcs=dict(base.state.vmcs), memory=dict(sorted(memory.items())), iommus=base.state.iommus)
        self._union = Built(state, base.vm, base.derived)
        return self._union

    def ept_source(self, vm: str) -> Built:
        """The state a counterexample about the VM's EPT is given in: the VM's own, or, when a VT-d
        entry is written into a page its EPT walks read, that state with the whole memory."""
        built = self.vm_state(vm)
        if self.ept(vm) is not None and vm in self._read_from_union:
            union = self.union().state
            state = State(caps=built.state.caps, maxphyaddr=built.state.maxphyaddr,
                          maxlinaddr=built.state.maxlinaddr, vmcs=built.state.vmcs, memory=union.memory,
                          iommus=union.iommus)
            return Built(state, vm, built.derived)
        return built

    def _extract(self, state: State, memory: dict[int, int]) -> EptMap | None:
        eptp = state.vmcs.get("EPT_POINTER")
        if eptp is None:
            return None
        cap = state.caps.get("IA32_VMX_EPT_VPID_CAP", 0)
        return extract_ept(TableMemory(memory), eptp, cap, self.maxphyaddr, mbec_of(state.vmcs))

    def ept(self, vm: str) -> EptMap | None:
        """The VM's EPT interval map; None when the VM has no EPT pointer (nothing is reachable)."""
        if vm not in self._epts:
            state = self.vm_state(vm).state
            found = self._extract(state, state.memory)
            if found is not None and self._reads_elsewhere(vm, state, found):
                self._read_from_union.add(vm)
                found = self._extract(state, self.union().state.memory)
            self._epts[vm] = found
        return self._epts[vm]

    def _reads_elsewhere(self, vm: str, state: State, found: EptMap) -> bool:
        """Whether the EPT's walks read a page that holds another structure of the spec (a VT-d
        table, another VM's EPT or bitmaps): the VM's own state does not contain it and would read
        it as zeros, where the machine reads what is there. The whole memory is then built (once);
        if it cannot be, the WorldError stops the proof rather than let it rest on zeros."""
        paging = self.model.vms[vm].ept
        region = paging.tables if paging is not None else None
        outside = {page for page in found.tables if not (region is not None and region.start <= page < region.end)}
        if outside:  # pages the builder placed outside the region (pinned roots) are the VM's own too
            own = {address & ~0xFFF for address in state.memory}
            outside -= own
        if not outside:
            return False
        if outside & self._iommu_raw_pages():
            return True
        if not self.model.iommus and len(self.model.vms) <= 1:
            return False
        return any(address & ~0xFFF in outside for address in self.union().state.memory)

    def unit_index(self, name: str) -> int:
        return list(self.model.iommus).index(name)

    def unit(self, name: str) -> UnitMap:
        if name not in self._units:
            state = self.union().state
            try:
                self._units[name] = extract_unit(TableMemory(state.memory), state.iommus, self.unit_index(name),
                                                 state.maxphyaddr)
            except ValueError as exc:
                raise WorldError(str(exc)) from None
        return self._units[name]

    # -- ownership --

    def ram(self, vm: str) -> list[Owned]:
        out = []
        for r in self.model.vms[vm].ram:
            assert isinstance(r.host, int)
            out.append(Owned(r.host, r.host + r.end - r.start, "ram", vm,
                             f"{vm}'s RAM (GPA {r.start:#_x} .. {r.end:#_x} at HPA {r.host:#_x})"))
        return out

    def hypervisor(self) -> list[Owned]:
        return [Owned(r.start, r.end, "hypervisor", "hypervisor", f"hypervisor memory {r.start:#_x} .. {r.end:#_x}")
                for r in self.model.hypervisor]

    def structures(self, vm: str) -> list[Owned]:
        """The pages ``vm``'s VMCS fields point at (``STRUCTURE_FIELDS``)."""
        vmcs = self.vm_state(vm).state.vmcs
        out = []
        for name, (size, what) in STRUCTURE_FIELDS.items():
            address = vmcs.get(name)
            if address is None or (name == "VMCS_LINK_POINTER" and address == _NO_LINK):
                continue
            base = address & ~(size - 1)
            out.append(Owned(base, base + size, "vmcs", vm, f"{vm}'s {what} at {base:#_x} ({name})"))
        return out

    def ept_tables(self, vm: str) -> list[Owned]:
        found = self.ept(vm)
        if found is None:
            return []
        return [Owned(p, p + 4096, "ept", vm, f"{vm}'s EPT {A.TABLE_NAMES[level]} at {p:#_x}")
                for p, level in sorted(found.tables.items())]

    def vtd_tables(self, unit: str) -> list[Owned]:
        found = self.unit(unit)
        return [Owned(p, p + 4096, "vtd", unit, f"{unit}'s {what} at {p:#_x}")
                for p, what in sorted(found.tables.items())]


_CACHE: list[tuple[Model, dict[tuple[object, ...], World]]] = []


def worlds(model: Model, needs: Needs) -> tuple[Choices, Iterator[tuple[World, dict[str, int]]]]:
    """The combinations of open values to check for a property with these needs, and for each the
    world it gives with the values chosen for the relevant slots (for the counterexample). Worlds
    are cached per model, so the proofs of one spec share their builds."""
    found = choices(model, needs)
    if not _CACHE or _CACHE[0][0] is not model:
        _CACHE.clear()
        _CACHE.append((model, {}))
    cache = _CACHE[0][1]

    def each() -> Iterator[tuple[World, dict[str, int]]]:
        for values in found.combinations:
            key = tuple(sorted((repr(k), v) for k, v in values.items()))
            world = cache.get(key)
            if world is None:
                world = cache[key] = World(pin(model, values))
            yield world, describe_choice(found.relevant, values)
    return found, each()
