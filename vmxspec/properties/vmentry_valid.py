"""``vmentry_valid(VM)``: every SDM VM-entry check holds, for every value of the VM's open fields.

The concrete part of the VM (platform, tables, every fixed field) is built once by the state
builder; the fields the spec leaves ``any`` become solver variables constrained by their domain
and by the spec's ``assume`` statements. A violation comes with the concrete VMCS the solver
chose, which the reference interpreter must confirm (``check.replay``) before it is shown.

Open table values are not solver variables: VM entry never walks the EPT or the VT-d tables. The
checks read memory in four places only (``memory_read``), so an open raw entry whose bytes lie
outside them cannot change the verdict and is built at any admissible value. One that lies inside
them, and an open ``map`` target of the VM's EPT (which moves its tables and the bitmaps the
builder places after them), is enumerated like the translation properties do
(``symbolic.reach.open_values``): every combination up to ``MAX_CHOICES`` is checked on its own
state, and the first violation is reported with that state.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from vmxspec import ir
from vmxspec.arch import msrs, vmcs_fields
from vmxspec.arch.capabilities import MISC
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.exits import VTPR_OFFSET
from vmxspec.arch.guest_state import PAE_CR3_PDPT, PDPTE_COUNT, PDPTE_SIZE, VMCS_LINK_NONE
from vmxspec.arch.registers import CR0_PG, CR4_PAE
from vmxspec.arch.rules import BY_ID as RULES
from vmxspec.build.from_model import BuildError, Built, build_state, state_document
from vmxspec.check.results import Counterexample, Outcome, Verdict, unique_lines
from vmxspec.diagnostics import Span
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.choices import each_choice
from vmxspec.properties.exits import counterexample_details, fact_spans
from vmxspec.sema.expressions import Apply, BitmapRef, EntityKind, EntityRef, Expr, FieldRef, VmcsRole
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered, LoweringError, lower_condition
from vmxspec.sema.model import FieldValue, Model, Open, PropertyProof, Vm
from vmxspec.state.model import State
from vmxspec.symbolic.reach.open_values import (
    MAX_CHOICES,
    TABLE_KINDS,
    Choices,
    Slot,
    combine,
    describe_choice,
    pin_tables,
    slots,
    smallest,
    written_at,
)
from vmxspec.symbolic.reach.world import World, WorldError
from vmxspec.symbolic.vmentry.spec_check import OpenField, check_entry

_DOC = """Every check the SDM makes at VM entry (controls, host state, guest state, MSR loading)
holds for the VM's VMCS, for every value the spec leaves open (`any`) within its domain and the
spec's `assume` statements. A violation shows a VMCS that fails and the rule it breaks, replayed
through the reference interpreter. Fields a check needs that the spec does not set make the
property an error (the spec is incomplete), never an assumed zero. VM entry reads memory only for
VTPR, the linked VMCS's header, the PDPTEs (PAE paging without EPT) and the MSR-load area: an open
EPT entry elsewhere cannot change the verdict, and one there is checked for each of its values."""


def _vm(ctx: PropertyContext) -> Vm | str:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    if len(proof.args) != 1 or not isinstance(proof.args[0], EntityRef) or proof.args[0].kind is not EntityKind.VM:
        return "vmentry_valid takes one VM"
    name = proof.args[0].name
    vm = ctx.model.vms.get(name)
    return vm if vm is not None else f"no VM named '{name}'"


def _placeholder(value: Open) -> int:
    """Any admissible value: the builder needs a number; the solver chooses the real one."""
    low = value.domain.intervals[0][0] if value.domain is not None and value.domain.intervals else 0
    return low & ~value.zero


def pin_open_fields(model: Model, vm: Vm) -> tuple[Model, dict[str, OpenField]]:
    opened: dict[str, OpenField] = {}
    fields = dict(vm.vmcs.fields)
    for name, fv in vm.vmcs.fields.items():
        if isinstance(fv.value, Open):
            mask = ((1 << min(fv.width, fv.value.width)) - 1) & ~fv.value.zero
            domain = fv.value.domain.intervals if fv.value.domain is not None else None
            opened[fv.field] = OpenField(mask, domain)
            fields[name] = FieldValue(fv.field, fv.width, _placeholder(fv.value), span=fv.span)
    pinned_vm = replace(vm, vmcs=replace(vm.vmcs, fields=fields))
    vms = dict(model.vms)
    vms[vm.name] = pinned_vm
    return replace(model, vms=vms), opened


class _Env:
    """Field references of this VM lower to the solver's variables (open) or constants (fixed)."""

    def __init__(self, vm: Vm, built: Built, opened: dict[str, OpenField]) -> None:
        self.vm = vm
        self.built = built
        self.opened = opened

    def field(self, ref: FieldRef) -> ir.Term:
        if ref.vmcs.role is not VmcsRole.VM or ref.vmcs.owner != self.vm.name:
            raise LoweringError(f"this assumption reads {ref.vmcs}'s VMCS, not {self.vm.name}'s", ref)
        width = vmcs_fields.BY_NAME[ref.field].bits
        if ref.field in self.opened:
            return ir.var(ref.field, width, ref.span)
        value = self.built.state.vmcs.get(ref.field)
        if value is None:
            raise LoweringError(f"{ref.field} is not set by the spec", ref)
        return ir.bv(value, width)

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        raise LoweringError("bitmaps cannot appear in a vmentry_valid assumption", ref)

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        raise LoweringError(f"'{node.function}' cannot appear in a vmentry_valid assumption", node)


_USE_TPR_SHADOW = control_mask(ControlField.PROC, "use_tpr_shadow")
_ACTIVATE_SECONDARY = control_mask(ControlField.PROC, "activate_secondary_controls")
_ENABLE_EPT = control_mask(ControlField.PROC2, "enable_ept")
_IA32E_MODE_GUEST = control_mask(ControlField.ENTRY, "ia32e_mode_guest")


@dataclass(frozen=True, slots=True)
class Read:
    """Host-physical bytes ``[start, end)`` that some VM-entry check may read, and which check."""

    start: int
    end: int
    what: str

    def overlaps(self, start: int, end: int) -> bool:
        return start < self.end and self.start < end


@dataclass(frozen=True, slots=True)
class _Possible:
    """What a VMCS field may hold: its lowest and highest value, and the bits set in every value
    and in some value (an open field's bits outside its mask keep the placeholder's value)."""

    low: int
    high: int
    always: int
    some: int

    @classmethod
    def of(cls, state: State, opened: Mapping[str, OpenField], name: str) -> _Possible:
        # An absent field reads as 0, as both semantics read it (the interpreter then reports it
        # missing wherever a check needs it).
        value = state.vmcs.get(name, 0)
        found = opened.get(name)
        if found is None:
            return cls(value, value, value, value)
        kept = value & ~found.mask
        low, high = kept, kept | found.mask
        if found.domain:
            low = max(low, min(lo for lo, _ in found.domain))
            high = min(high, max(hi for _, hi in found.domain) - 1)
        return cls(low, high, kept, kept | found.mask)

    def may_set(self, bit: int) -> bool:
        return bool(self.some & bit)

    def may_clear(self, bit: int) -> bool:
        return not self.always & bit


def memory_read(state: State, opened: Mapping[str, OpenField]) -> list[Read]:
    """Every byte of memory a VM-entry check may read, for every value of the open fields.

    VM entry reads the VMCS, the capability MSRs and memory at exactly four places, which is what
    both semantics read (``interp.vmentry`` and ``symbolic.vmentry``): VTPR on the virtual-APIC
    page (CTL-TPR-VTPR, SDM "VM-Execution Control Fields"), the first 32 bits of the VMCS the link
    pointer references (GUEST-LINK-*, "Checks on Guest Non-Register State"), the four PDPTEs at
    CR3 for PAE paging without EPT ("Checks on Guest Page-Directory-Pointer-Table Entries"), and
    the VM-entry MSR-load area ("Loading MSRs"). No check follows a pointer read from memory, so
    the places depend on VMCS fields alone. Each read is widened to whole 8-byte words, and an
    open field to every value between its lowest and highest: too much is read, never too little.
    """
    def possible(name: str) -> _Possible:
        return _Possible.of(state, opened, name)

    reads: list[Read] = []
    proc, proc2 = possible("CPU_BASED_VM_EXEC_CONTROL"), possible("SECONDARY_VM_EXEC_CONTROL")
    if proc.may_set(_USE_TPR_SHADOW):
        vapic = possible("VIRTUAL_APIC_PAGE_ADDR")
        reads.append(Read(vapic.low + VTPR_OFFSET, vapic.high + VTPR_OFFSET + 1,
                          "VTPR on the virtual-APIC page (VIRTUAL_APIC_PAGE_ADDR)"))
    link = possible("VMCS_LINK_POINTER")
    if not link.low == link.high == VMCS_LINK_NONE:
        reads.append(Read(link.low, link.high + 4, "the header of the VMCS that VMCS_LINK_POINTER references"))
    cr0, cr4, entry = possible("GUEST_CR0"), possible("GUEST_CR4"), possible("VM_ENTRY_CONTROLS")
    without_ept = proc.may_clear(_ACTIVATE_SECONDARY) or proc2.may_clear(_ENABLE_EPT)
    if cr0.may_set(CR0_PG) and cr4.may_set(CR4_PAE) and entry.may_clear(_IA32E_MODE_GUEST) and without_ept:
        cr3 = possible("GUEST_CR3")
        # CR3[31:5] is monotonic in CR3 below 4 GiB; above, it can be any 32-byte aligned 32-bit address.
        low, high = (cr3.low & PAE_CR3_PDPT, cr3.high & PAE_CR3_PDPT) if cr3.high >> 32 == 0 else (0, PAE_CR3_PDPT)
        reads.append(Read(low, high + PDPTE_COUNT * PDPTE_SIZE, "the guest's PDPTEs at GUEST_CR3"))
    count = possible("VM_ENTRY_MSR_LOAD_COUNT")
    if count.high:
        area = possible("VM_ENTRY_MSR_LOAD_ADDR")
        # VM entry processes at most the recommended maximum (MSRLOAD-COUNT-MAX covers the rest).
        limit = msrs.MSR_LIST_UNIT * (MISC["msr_list_size"].get(state.caps.get("IA32_VMX_MISC", 0)) + 1)
        reads.append(Read(area.low, area.high + msrs.MSR_ENTRY_SIZE * min(count.high, limit),
                          "the VM-entry MSR-load area (VM_ENTRY_MSR_LOAD_ADDR)"))
    return [Read(r.start & ~7, (r.end + 7) & ~7, r.what) for r in reads]


@dataclass(frozen=True, slots=True)
class _Prepared:
    """One choice of the table values: the VM's state with placeholders for the open fields, and
    the assumptions lowered against it."""

    built: Built
    opened: dict[str, OpenField]
    assumptions: list[ir.Term]


def _prepare(ctx: PropertyContext, vm: Vm, tables: dict[tuple[object, ...], int]) -> _Prepared | Outcome:
    pinned = pin_tables(ctx.model, tables)
    model, opened = pin_open_fields(pinned, pinned.vms[vm.name])
    try:
        built = build_state(model, vm.name, iommus=False)
    except BuildError as err:
        return Outcome(Verdict.ERROR, f"cannot build {vm.name}'s state: {err}", reason="build")
    state = built.state
    # The processor executing VMLAUNCH runs with the EFER the host state restores on VM exit: the
    # spec's only statement about the host's mode (documented in docs/language.md).
    if state.cpu.efer is None and "HOST_IA32_EFER" in state.vmcs:
        state.cpu.efer = state.vmcs["HOST_IA32_EFER"]
    machine = _machine_memory(model, vm.name, state, opened)
    if isinstance(machine, Outcome):
        return machine
    if machine is not None:
        state.memory = machine
    missing = check_vm_entry(state)
    absent = [f for f in missing.missing_fields if f not in opened]
    if absent or missing.missing_caps:
        names = ", ".join([*absent, *missing.missing_caps][:8])
        return Outcome(Verdict.ERROR, f"the spec does not set what the VM-entry checks read: {names}"
                       f"{' and more' if len(absent) + len(missing.missing_caps) > 8 else ''}", reason="incomplete")
    try:
        env = _Env(vm, built, opened)
        assumptions = [lower_condition(a.condition, env) for a in (*ctx.model.assumptions, *vm.assumptions)
                       if a.scope in (None, vm.name)]
    except LoweringError as err:
        return Outcome(Verdict.ERROR, f"cannot use an assumption: {err}", reason="lowering")
    return _Prepared(built, opened, assumptions)


def _machine_memory(model: Model, vm: str, state: State, opened: Mapping[str, OpenField]
                    ) -> dict[int, int] | Outcome | None:
    """The VM's memory with what the machine holds where VM entry reads outside it, or None when
    it reads nothing that another structure occupies.

    The VM's state is built alone (its VM entry needs no IOMMU), so a read that lands on a VT-d
    table or on another VM's tables or bitmaps (an MSR-load area, a virtual-APIC page, a link
    pointer or PAE PDPTEs placed there) would see zeros where the machine sees those words. The
    whole memory is built only when the spec has other structures and VM entry reads memory at
    all; when it cannot be built, what lies there is unknown, and so is the verdict.
    """
    if not model.iommus and len(model.vms) <= 1:
        return None
    reads = memory_read(state, opened)
    if not reads:
        return None
    try:
        machine = World(model).union().state.memory
    except WorldError as exc:
        return Outcome(Verdict.UNKNOWN, f"VM entry reads {reads[0].what}, and what the spec's other structures "
                       f"hold there cannot be laid out next to {vm}'s: {exc}", reason="not-modelled")
    addresses = list(machine)
    foreign: dict[int, int] = {}
    for read in reads:
        for address in addresses[bisect_left(addresses, read.start):bisect_left(addresses, read.end)]:
            if address not in state.memory:
                foreign[address] = machine[address]
    if not foreign:
        return None
    return dict(sorted({**state.memory, **foreign}.items()))


def _relevant(ctx: PropertyContext, vm: Vm, reads: list[Read]) -> dict[Slot, str] | Outcome:
    """The open table values that can change the verdict, each with why; or unknown, for an open
    value outside the VM's state (an IOMMU's or another VM's) in memory the checks read."""
    found: dict[Slot, str] = {}
    for slot in slots(ctx.model):
        if slot.kind not in TABLE_KINDS:
            continue
        own = slot.vm == vm.name and slot.kind == "ept"
        at = written_at(ctx.model, slot)
        if at is None:
            if own:
                found[slot] = f"it lays out {vm.name}'s EPT and what the builder places after it"
            continue
        read = next((r for r in reads if r.overlaps(*at)), None)
        if read is None:
            continue
        if not own:
            return Outcome(Verdict.UNKNOWN, f"{slot.what} is open and lies in {read.what}, but vmentry_valid reads "
                           f"memory from {vm.name}'s own structures only", reason="not-modelled")
        found[slot] = f"it lies in {read.what}"
    return found


@register("vmentry_valid", "every SDM VM-entry check holds for every value of the open fields", _DOC)
def check(ctx: PropertyContext) -> Outcome:
    vm = _vm(ctx)
    if isinstance(vm, str):
        return Outcome(Verdict.ERROR, vm, reason="bad-arguments")
    every = slots(ctx.model)
    first = _prepare(ctx, vm, {s.key: smallest(s.value) for s in every if s.kind in TABLE_KINDS})
    if isinstance(first, Outcome):
        return first
    relevant = _relevant(ctx, vm, memory_read(first.built.state, first.opened))
    if isinstance(relevant, Outcome):
        return relevant
    if not relevant:
        return _decide(ctx, vm, first, {})
    found = combine(list(relevant), every)
    if found.unknown:
        why = "; ".join(f"{slot.what} matters: {reason}" for slot, reason in relevant.items())
        return Outcome(Verdict.UNKNOWN, f"{why}; its values cannot be enumerated ({found.unknown}; at most "
                       f"{MAX_CHOICES} combinations are checked)", reason="not-modelled")
    return _enumerate(ctx, vm, found)


def _enumerate(ctx: PropertyContext, vm: Vm, found: Choices) -> Outcome:
    """Every combination on its own state."""
    def decide(values: dict[tuple[object, ...], int]) -> Outcome:
        prepared = _prepare(ctx, vm, values)
        return prepared if isinstance(prepared, Outcome) else _decide(
            ctx, vm, prepared, describe_choice(found.relevant, values))

    return each_choice(found, decide, explain=ctx.options.explain)


def _decide(ctx: PropertyContext, vm: Vm, prepared: _Prepared, chosen: dict[str, int]) -> Outcome:
    """The solver's verdict on one state; ``chosen`` are the table values it was built with."""
    built, opened = prepared.built, prepared.opened
    state = built.state
    verdict = check_entry(state, opened, prepared.assumptions, ctx.options.timeout_ms, ctx.options.rlimit,
                          explain=ctx.options.explain)
    tables = ", ".join(f"{what} = {value:#x}" for what, value in chosen.items())
    if verdict.status == "proved":
        if verdict.unevaluated:
            rule, needs = next(iter(verdict.unevaluated.items()))
            return Outcome(Verdict.UNKNOWN, f"every other check holds, but {rule} needs {needs}",
                           reason="unevaluated", smtlib=verdict.smtlib)
        free = f" for every value of {', '.join(sorted(opened))}" if opened else ""
        depends_on, notes = _explained(ctx, vm, verdict.core, verdict.core_note) if ctx.options.explain else ((), {})
        return Outcome(Verdict.PROVED, f"{vm.name}'s VMCS passes every VM-entry check{free}",
                       smtlib=verdict.smtlib, depends_on=depends_on, details=notes)
    if verdict.status == "vacuous":
        return Outcome(Verdict.VACUOUS, verdict.reason, reason="vacuous", smtlib=verdict.smtlib)
    if verdict.status == "unknown":
        where = f" (with {tables})" if tables else ""
        return Outcome(Verdict.UNKNOWN, f"the solver gave up{where}: {verdict.reason}", reason=verdict.reason,
                       smtlib=verdict.smtlib)
    state.vmcs.update(verdict.values)
    document = state_document(replace(built, state=state))
    document["cpu"] = {"efer": hex(state.cpu.efer)} if state.cpu.efer is not None else {}
    rule = verdict.violated[0]
    chosen_fields = ", ".join(f"{k} = {v:#x}" for k, v in sorted(verdict.values.items()))
    with_ = ", ".join(part for part in (tables, chosen_fields) if part)
    explanation = (f"with {with_}: " if with_ else "") + "; ".join(
        f"{r} ({RULES[r].section})" for r in verdict.violated[:4])
    cex = Counterexample(document, {"kind": "vmentry"}, {"match": {"result": "fail"}, "violates": rule},
                         explanation, {**chosen, **verdict.values})
    when = f" with {tables}" if tables else ""
    details: dict[str, object] = {"violated": list(verdict.violated)}
    if ctx.options.explain:
        changed = {k: v for k, v in verdict.values.items() if v != opened[k].default}
        details["counterexample"] = counterexample_details(changed, verdict.minimal)
    return Outcome(Verdict.VIOLATED, f"{vm.name}'s VMCS can fail VM entry{when}: {rule}", cex,
                   details=details, smtlib=verdict.smtlib)


def _explained(ctx: PropertyContext, vm: Vm, core: tuple[str, ...] | None, note: str
               ) -> tuple[tuple[Span, ...], dict[str, object]]:
    """``--explain``: the lines of the core's facts (``field:NAME``, ``assume:I``), and always the
    platform, whose capability MSRs every VM-entry check reads as constants (they are not in the
    core), and HOST_IA32_EFER's line, the executing processor's EFER (a constant too)."""
    if core is None:
        return (), {"explain_notes": [note]}
    facts = fact_spans(vm, addresses_move=False)
    sources = [a for a in (*ctx.model.assumptions, *vm.assumptions) if a.scope in (None, vm.name)]
    spans = [ctx.model.platform.span if ctx.model.platform is not None else None,
             facts.get(("field", "HOST_IA32_EFER"))]
    for label in core:
        kind, _, name = label.partition(":")
        spans.append(facts.get(("field", name)) if kind == "field" else sources[int(name)].span)
    return unique_lines(spans), ({"explain_notes": [note]} if note else {})
