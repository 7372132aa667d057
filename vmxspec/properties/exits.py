"""``prove exits(VM) { events }``: every listed event causes a VM exit, for every operand value in
the spec's set and every guest context.

The check, per ``prove``:

1. every value the spec leaves open (``any``) becomes an IR variable constrained by its domain,
   and every assumption that can be lowered to IR constrains them (``OpenValues``, ``lower``);
   one solution of those constraints (the *base*) pins what the built state depends on (EPT
   targets, raw entries, other VMs), and the state is built (``build_state``);
2. the VM's open VMCS fields stay variables; for each event, ``vmxspec.symbolic.exits`` searches
   for an operand (and guest context, and open values) for which the event escapes;
3. an escape becomes a counterexample: the built state with the solver's field values and guest
   context, the interpreter question that replays it, the answer the interpreter must give, and
   the SDM reason. The driver replays it before anything is reported.

One Outcome per ``prove``: proved only if every event is; violated if one is (the first violated
event's counterexample); otherwise unknown with the first event's reason. Per-event results are in
``Outcome.details["events"]``.

With ``--explain`` (``CheckOptions.explain``), a proof lists in ``Outcome.depends_on`` the spec
lines of the facts some event's proof needs (``symbolic.exits.explain_event``: VMCS fields,
bitmap regions, open fields' domains, assumptions; for EPT_VIOLATION also the map lines over the
addresses asked about and the platform, whose EPT capabilities the walk reads), and a violation's
counterexample moves the fewest open values off their defaults. This module also holds the
helpers the other VMCS properties use to map facts back to spec lines (``fact_spans``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from vmxspec import ir
from vmxspec.build.from_model import BuildError, Built, build_state, state_document
from vmxspec.check.results import Counterexample, Outcome, Verdict, unique_lines
from vmxspec.diagnostics import Span
from vmxspec.properties import PropertyContext, register
from vmxspec.sema import expressions as E
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered as LoweredValue
from vmxspec.sema.lower import Lowerer, LoweringError
from vmxspec.sema.model import (
    ExitEvent,
    IommuUnit,
    Model,
    Open,
    OwnTables,
    Paging,
    PropertyProof,
    Value,
    Vm,
)
from vmxspec.symbolic import solver
from vmxspec.symbolic.exits import EventQuery, EventResult, ExitProblem, check_event
from vmxspec.symbolic.exits.check import Needs, explain_event
from vmxspec.symbolic.exits.ir_problem import problem_from_ir
from vmxspec.symbolic.exits.nested import regions
from vmxspec.symbolic.exits.vmcs import FREE_PREFIX, Fact

DOC = """Every listed event causes a VM exit, for every operand value in the spec's set (MSR index,
port and access size, CR value, vector and #PF error code, VMCS field, guest-physical address...)
and every guest context (CPL, CR0, CR4, RFLAGS, interruptibility, activity state). Faults with
priority over the exit (#UD, CPL checks) are not escapes; an MTF exit after the event is not its
exit. A violation names the event, its operands and the SDM rule that lets it through."""



# ---- open values ----------------------------------------------------------------------------------

Visit = Callable[[str, Open, int], Value]


def _value(value: Value, name: str, width: int, visit: Visit) -> Value:
    return visit(name, value, width) if isinstance(value, Open) else value


def _paging(paging: Paging, where: str, visit: Visit) -> Paging:
    maps = tuple(replace(m, target=_value(m.target, f"{where}.map@{m.start:#x}", 64, visit)) for m in paging.maps)
    entries = tuple(replace(e, value=_value(e.value, f"{where}.{e.kind}@{e.address:#x}", 8 * e.size, visit))
                    for e in paging.entries)
    return replace(paging, maps=maps, entries=entries)


def _vm(vm: Vm, visit: Visit) -> Vm:
    fields = {name: replace(fv, value=_value(fv.value, f"{vm.name}.{name}", fv.width, visit))
              for name, fv in vm.vmcs.fields.items()}
    ram = tuple(replace(r, host=_value(r.host, f"{vm.name}.ram@{r.start:#x}", 64, visit)) for r in vm.ram)
    ept = _paging(vm.ept, f"{vm.name}.ept", visit) if vm.ept is not None else None
    return replace(vm, vmcs=replace(vm.vmcs, fields=fields), ram=ram, ept=ept)


def _unit(unit: IommuUnit, visit: Visit) -> IommuUnit:
    entries = tuple(replace(e, value=_value(e.value, f"{unit.name}.{e.kind}@{e.address:#x}", 8 * e.size, visit))
                    for e in unit.entries)
    domains = {}
    for did, domain in unit.domains.items():
        t = domain.translation
        if isinstance(t, OwnTables):
            paging = _paging(t.paging, f"{unit.name}.domain{did}", visit)
            domain = replace(domain, translation=replace(t, paging=paging))
        domains[did] = domain
    return replace(unit, entries=entries, domains=domains)


def walk_model(model: Model, visit: Visit) -> Model:
    """The model with every open value replaced by ``visit(name, open, width)``; the names are
    stable (``guest1.GUEST_CR3``, ``guest1.ept.map@0x0``, ``dmar0.root_entry@0x...``)."""
    return replace(model, vms={n: _vm(vm, visit) for n, vm in model.vms.items()},
                   iommus={n: _unit(u, visit) for n, u in model.iommus.items()})


@dataclass(slots=True)
class OpenValues:
    """Every open value of a model: its IR variable and the constraint its ``any`` puts on it."""

    vars: dict[str, ir.Var] = field(default_factory=dict)
    domains: dict[str, ir.Term] = field(default_factory=dict)
    #: Where each ``any`` is written, and the value a counterexample prefers for it (``--explain``).
    spans: dict[str, Span] = field(default_factory=dict)
    defaults: dict[str, int] = field(default_factory=dict)

    @classmethod
    def collect(cls, model: Model) -> OpenValues:
        found = cls()

        def visit(name: str, open_: Open, width: int) -> Value:
            var = ir.var(name, width, open_.span)
            found.vars[name] = var
            found.domains[name] = domain(var, open_, width)
            found.spans[name] = open_.span
            found.defaults[name] = default_of(open_, width)
            return open_

        walk_model(model, visit)
        return found

    def vmcs_fields(self, vm: Vm) -> dict[str, ir.Var]:
        return {name: self.vars[f"{vm.name}.{name}"] for name, fv in vm.vmcs.fields.items()
                if isinstance(fv.value, Open)}

    def pin(self, model: Model, values: dict[str, int]) -> Model:
        return walk_model(model, lambda name, open_, width: values[name])


def default_of(open_: Open, width: int) -> int:
    """The value a minimal counterexample leaves an open value at: 0 when its ``any`` admits it,
    otherwise the lowest value of its domain (with the bits it must keep clear cleared), as
    ``vmentry_valid``'s placeholder."""
    low = open_.domain.intervals[0][0] if open_.domain is not None and open_.domain.intervals else 0
    return low & ~open_.zero & ((1 << width) - 1)


def domain(var: ir.Var, open_: Open, width: int) -> ir.Term:
    """What ``any width N in D without Z`` says about ``var``."""
    parts: list[ir.Term] = []
    top = 1 << width
    if open_.width < width:
        parts.append(ir.ult(var, 1 << open_.width))
    if open_.domain is not None:
        parts.append(ir.or_(*(ir.in_range(var, lo, min(hi, top)) for lo, hi in open_.domain if lo < top)))
    if open_.zero & (top - 1):
        parts.append(ir.eq(ir.bvand(var, open_.zero & (top - 1)), 0))
    return ir.and_(*parts)


# ---- assumptions ----------------------------------------------------------------------------------

class Unlowerable(LoweringError):
    """Something this check cannot give a meaning to (a nested role, a built-in function ...)."""

    def __init__(self, message: str, node: E.Expr) -> None:
        super().__init__(message, node)


class ExitsEnv:
    """What names mean in an ``exits`` check (``sema.lower.LowerEnv``): a VM's field is its value,
    or the open value's IR variable (named ``VM.FIELD``, of the field's width); a VM's intercept
    list is its set; nothing else is lowered."""

    def __init__(self, model: Model, opens: OpenValues, explain_vm: str | None = None) -> None:
        self.model = model
        self.opens = opens
        #: ``--explain``: the VM under check, whose given fields lower to ``free.NAME`` variables
        #: pinned by ``pins`` (so that freeing a field frees it in assumptions and definitions too).
        self.explain_vm = explain_vm
        self.pins: dict[Fact, ir.Term] = {}

    def given(self, vm: str, name: str, value: int, width: int) -> ir.Term:
        """A given field's value: a constant, or (explaining ``vm``) its pinned variable."""
        if vm != self.explain_vm:
            return ir.bv(value, width)
        var = ir.var(FREE_PREFIX + name, width)
        self.pins[("field", name)] = ir.eq(var, ir.bv(value, width))
        return var

    def field(self, ref: E.FieldRef) -> ir.Term:
        if ref.vmcs.role is not E.VmcsRole.VM:
            raise Unlowerable("nested VMCS roles mean something only inside their nested block", ref)
        vm = self.model.vms[ref.vmcs.owner]
        fv = vm.vmcs.fields.get(ref.field)
        if fv is not None and isinstance(fv.value, Open):
            return self.opens.vars[f"{vm.name}.{ref.field}"]
        if fv is not None:
            assert isinstance(fv.value, int)
            return self.given(vm.name, ref.field, fv.value, fv.width)
        for which, cv in vm.vmcs.controls.items():
            if which.vmcs_field == ref.field:
                return self.given(vm.name, ref.field, cv.value, which.width)
        raise Unlowerable(f"{vm.name}'s {ref.field} is not set by the spec", ref)

    def bitmap(self, ref: E.BitmapRef) -> IntervalSet:
        if ref.vmcs.role is E.VmcsRole.VM:
            found = self.model.vms[ref.vmcs.owner].vmcs.intercepts.get(ref.bitmap) \
                if ref.bitmap != "msr_bitmap" else None
            if found is not None:
                return found
        raise Unlowerable(f"the intercept set '{ref.bitmap}' of {ref.vmcs} is not known here", ref)

    def apply(self, node: E.Apply, lower: Callable[[E.Expr], LoweredValue]) -> LoweredValue:
        raise Unlowerable(f"'{node.function}' is not lowered for exit checks", node)


def _field_refs(expr: E.Expr) -> Iterator[E.FieldRef]:
    stack: list[object] = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, E.FieldRef):
            yield node
        elif isinstance(node, E.Binary):
            stack += [node.left, node.right]
        elif isinstance(node, E.Unary):
            stack.append(node.operand)
        elif isinstance(node, E.Slice):
            stack.append(node.base)
        elif isinstance(node, E.Member):
            stack += [node.item, node.collection]
        elif isinstance(node, E.Quantified):
            stack += [node.body, *(b.domain for b in node.bindings)]
        elif isinstance(node, E.Apply):
            stack += list(node.args)


@dataclass(slots=True)
class Lowered:
    constraints: list[ir.Term] = field(default_factory=list)
    #: Open fields of the VM that an assumption we could not lower mentions: field -> why.
    untrusted: dict[str, str] = field(default_factory=dict)
    #: For ``--explain``: the constraints that stand for a spec line (index -> label), and where
    #: each label's line is.
    labels: dict[int, str] = field(default_factory=dict)
    spans: dict[str, Span] = field(default_factory=dict)
    #: When lowered for explaining: the pins of the given fields the constraints read.
    pins: dict[Fact, ir.Term] = field(default_factory=dict)

    def add(self, term: ir.Term, label: str, span: Span) -> None:
        self.labels[len(self.constraints)] = label
        self.spans[label] = span
        self.constraints.append(term)


def lower(model: Model, opens: OpenValues, vm: Vm, explain: bool = False) -> Lowered:
    """The open values' domains and every top-level and VM assumption that lowers to IR (with
    ``explain``, the VM's given fields as pinned variables: ``ExitsEnv.given``)."""
    out = Lowered()
    for name, term in opens.domains.items():
        out.add(term, f"open:{name}", opens.spans[name])
    env = ExitsEnv(model, opens, vm.name if explain else None)
    assumptions = [*model.assumptions, *(a for v in model.vms.values() for a in v.assumptions)]
    for i, assumption in enumerate(assumptions):
        try:
            out.add(Lowerer(env).condition(assumption.condition), f"assume:{i}", assumption.span)
        except (LoweringError, ir.IRTypeError) as exc:
            where = f"the assumption at line {assumption.span.line}"
            for ref in _field_refs(assumption.condition):
                fv = vm.vmcs.fields.get(ref.field)
                if ref.vmcs.owner == vm.name and fv is not None and isinstance(fv.value, Open):
                    out.untrusted[ref.field] = f"{where}: {exc}"
    out.pins = env.pins
    return out


# ---- the property ---------------------------------------------------------------------------------

def vm_argument(ctx: PropertyContext) -> Vm:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    arg = proof.args[0]
    assert isinstance(arg, E.EntityRef) and arg.kind is E.EntityKind.VM
    return ctx.model.vms[arg.name]


def event_query(event: ExitEvent) -> EventQuery:
    values = tuple(event.values.intervals) if event.values is not None else None
    return EventQuery(event.name, event.kind, event.operand, values)


@dataclass(frozen=True, slots=True)
class Prepared:
    """The built base state and everything the symbolic check needs."""

    built: Built
    vm: Vm
    opens: OpenValues
    lowered: Lowered
    base: dict[str, int]
    #: ``--explain``: whether the base moves the fewest open values off their defaults.
    base_minimal: bool = True


def prepare(ctx: PropertyContext, vm: Vm) -> Prepared | Outcome:
    """Open values, assumptions, the base solution and the built state (or the Outcome that ends
    the check: vacuous assumptions, an undecided base, a spec the builder cannot lay out)."""
    opens = OpenValues.collect(ctx.model)
    lowered = lower(ctx.model, opens, vm)
    base: dict[str, int] = {name: 0 for name in opens.vars}
    base_minimal = True
    if lowered.constraints:
        # With --explain the base moves the fewest open values off their defaults, as the
        # counterexample's own open fields will.
        prefer = {var: opens.defaults[name] for name, var in opens.vars.items()} if ctx.options.explain else None
        verdict = solver.prove(ir.FALSE, lowered.constraints, timeout_ms=ctx.options.timeout_ms,
                               rlimit=ctx.options.rlimit, prefer=prefer)
        if isinstance(verdict, solver.Vacuous):
            return Outcome(Verdict.VACUOUS, "the assumptions and the `any` domains contradict each other: no "
                           "configuration satisfies them", reason="vacuous")
        if isinstance(verdict, solver.Unknown):
            return Outcome(Verdict.UNKNOWN, f"could not solve the assumptions ({verdict.reason.value})",
                           reason=verdict.reason.value)
        assert isinstance(verdict, solver.Violated)
        base.update({var.name: value for var, value in verdict.model.items() if var.name in base})
        base_minimal = verdict.minimal is not False
    try:
        # The exit decisions read only the VM's VMCS and memory: IOMMU units are left out of the state.
        built = build_state(replace(opens.pin(ctx.model, base), iommus={}), vm.name)
    except BuildError as exc:
        return Outcome(Verdict.ERROR, f"cannot build {vm.name}'s state: {exc}", reason="build")
    return Prepared(built, vm, opens, lowered, base, base_minimal)


def exit_problem(prepared: Prepared, lowered: Lowered) -> ExitProblem:
    """The exit encoders' problem: the built state, the VM's open fields, ``lowered``'s constraints
    (its labels and pins, for explaining) and the other open values pinned to the base."""
    vm, opens = prepared.vm, prepared.opens
    fields = opens.vmcs_fields(vm)
    fixed = {var: prepared.base[name] for name, var in opens.vars.items() if var not in fields.values()}
    return problem_from_ir(prepared.built.state, fields, lowered.constraints, named=opens.vars,
                           untrusted=lowered.untrusted, fixed=fixed, labels=lowered.labels,
                           defaults={name: opens.defaults[f"{vm.name}.{name}"] for name in fields}, pins=lowered.pins)


def run_events(ctx: PropertyContext, prepared: Prepared, events: Sequence[ExitEvent]) -> list[EventResult]:
    vm, opens = prepared.vm, prepared.opens
    problem = exit_problem(prepared, prepared.lowered)
    ept_open = any(name.startswith(f"{vm.name}.ept.") for name in opens.vars)
    out = []
    for event in events:
        query = event_query(event)
        if query.kind == "ept_violation" and ept_open:
            out.append(EventResult(query, "unknown", 0.0, f"{vm.name}'s EPT has open values; EPT_VIOLATION is decided "
                                   "only over a concrete EPT"))
            continue
        out.append(check_event(problem, query, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit))
    if ctx.options.explain:
        fewest_first(out, lambda q: check_event(problem, q, timeout_ms=ctx.options.timeout_ms,
                                                rlimit=ctx.options.rlimit, explain=True))
    return out


def fewest_first(results: list[EventResult], again: Callable[[EventQuery], EventResult]) -> None:
    """``--explain``: the first violated event (the one reported) asked again for the escape that
    moves the fewest open values. Only that one: the others' counterexamples are never shown.
    The verdicts stay the plain run's: should the second answer not be a violation (its readable
    model could rest on a field the spec does not set, which makes an escape "unknown"), the first
    answer stands, with its counterexample reported as first found."""
    for i, result in enumerate(results):
        if result.status == "violated":
            second = again(result.event)
            if second.status == "violated":
                results[i] = second
            return


def counterexample(prepared: Prepared, result: EventResult, spec: str | None) -> Counterexample:
    witness = result.witness
    assert witness is not None
    doc = state_document(prepared.built, spec)
    vmcs = dict(doc.get("vmcs", {}))  # type: ignore[call-overload]
    vmcs.update({name: f"{value:#x}" for name, value in witness.vmcs.items()})
    doc["vmcs"] = vmcs
    doc["cpu"] = witness.cpu
    return Counterexample(doc, witness.query, witness.expect, witness.explanation, dict(witness.open_values))


def summarize(results: Sequence[EventResult], what: str) -> tuple[Verdict, str, EventResult | None]:
    violated = next((r for r in results if r.status == "violated"), None)
    if violated is not None:
        assert violated.witness is not None
        return Verdict.VIOLATED, violated.witness.explanation, violated
    unknown = [r for r in results if r.status == "unknown"]
    if unknown:
        return (Verdict.UNKNOWN, f"{len(unknown)} of {len(results)} events undecided; {unknown[0].event.describe()}: "
                f"{unknown[0].reason}", unknown[0])
    return Verdict.PROVED, f"all {len(results)} {what} cause a VM exit", None


# ---- --explain -------------------------------------------------------------------------------------

def fact_spans(vm: Vm, addresses_move: bool = True) -> dict[Fact, Span]:
    """Where each given fact of the VM's VMCS comes from: a field's setting, a control's bits, the
    intercept statement that fills a bitmap region (and places the page its address field points
    to, unless the spec sets that address itself), the exception list (EXCEPTION_BITMAP and the
    #PF filter it zeroes), and the ``ept`` block (EPT_POINTER, unless set).

    ``addresses_move``: a bitmap's address counts as its intercept statement even when the spec
    sets it, because the builder writes the list wherever the address says, so moving the page
    cannot change what an exit decision reads; only the list can. (VM entry, which checks the
    address itself, passes False.)
    """
    out: dict[Fact, Span] = {}
    icpt = vm.vmcs.intercepts
    if icpt.exceptions is not None and "exceptions" in icpt.spans:
        for name in ("EXCEPTION_BITMAP", "PAGE_FAULT_ERROR_CODE_MASK", "PAGE_FAULT_ERROR_CODE_MATCH"):
            out[("field", name)] = icpt.spans["exceptions"]
    if vm.ept is not None:
        out[("field", "EPT_POINTER")] = vm.ept.span
    for (address, offset), (set_name, _, _) in regions().items():
        span = icpt.spans.get(set_name)
        if span is not None:
            out[("bitmap", address, str(offset))] = span
            out[("field", address)] = span
    for which, cv in vm.vmcs.controls.items():
        out[("field", which.vmcs_field)] = cv.span
    for name, fv in vm.vmcs.fields.items():
        if not (addresses_move and ("bitmap", name, "0") in out):
            out[("field", name)] = fv.span
    return out


def counterexample_details(changed: dict[str, int], minimal: bool | None) -> dict[str, object]:
    """``details["counterexample"]`` of an explained violation: the open values it moves off their
    defaults, and whether no counterexample moves fewer (else it is the first found)."""
    return {"open_values_changed": {k: f"{v:#x}" for k, v in sorted(changed.items())},
            "changed": len(changed), "minimal": bool(minimal),
            "search": "minimal" if minimal else "first found"}


def _ept_spans(ctx: PropertyContext, vm: Vm, event: EventQuery) -> list[Span]:
    """An EPT_VIOLATION proof reads the EPT the builder laid out: the map lines over the addresses
    asked about, the raw entries, and the platform's EPT capabilities."""
    if event.kind != "ept_violation" or vm.ept is None:
        return []
    targets = IntervalSet(event.values) if event.values is not None else None
    spans = [m.span for m in vm.ept.maps if targets is None or targets & IntervalSet(((m.start, m.end),))]
    spans += [e.span for e in vm.ept.entries]
    if ctx.model.platform is not None:
        spans.append(ctx.model.platform.span)
    return spans


def explained(ctx: PropertyContext, vm: Vm, lowered: Lowered, needs: Sequence[tuple[EventQuery, Needs]],
              extra: dict[str, Span] | None = None, more_facts: dict[Fact, Span] | None = None
              ) -> tuple[tuple[Span, ...], dict[str, object]]:
    """depends_on of a proof whose events need ``needs``, and the details to say how complete it
    is (``extra``: spans of constraint labels, ``more_facts``: of facts, beyond the VM's own)."""
    facts = {**fact_spans(vm), **(more_facts or {})}
    labels = {**lowered.spans, **(extra or {})}
    spans: list[Span | None] = []
    notes: list[str] = []
    for event, need in needs:
        spans += [facts.get(fact) for fact in need.facts]
        spans += [labels.get(label) for label in need.constraints]
        spans += _ept_spans(ctx, vm, event)
        if need.note:
            notes.append(f"{event.describe()}: {need.note}")
    details: dict[str, object] = {"explain_notes": notes} if notes else {}
    return unique_lines(spans), details


@register("exits", "every listed event causes a VM exit", DOC)
def check_exits(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof) and proof.events is not None
    vm = vm_argument(ctx)
    prepared = prepare(ctx, vm)
    if isinstance(prepared, Outcome):
        return prepared
    results = run_events(ctx, prepared, proof.events)
    verdict, message, first = summarize(results, "events")
    details: dict[str, object] = {"vm": vm.name, "events": [r.to_json() for r in results]}
    if verdict is Verdict.VIOLATED and first is not None:
        cex = counterexample(prepared, first, proof.span.path or None)
        if ctx.options.explain:
            details["counterexample"] = counterexample_details(
                {k: v for k, v in cex.open_values.items() if v != prepared.opens.defaults.get(k, 0)},
                bool(first.minimal) and prepared.base_minimal)
        return Outcome(verdict, message, cex, details=details, smtlib=first.smtlib)
    reason = first.reason if first is not None else ""
    if verdict is Verdict.PROVED and ctx.options.explain:
        # Asked again with the VM's given fields as pinned variables in the assumptions too.
        lowered = lower(ctx.model, prepared.opens, vm, explain=True)
        problem = exit_problem(prepared, lowered)
        needs = [(r.event, explain_event(problem, r.event, timeout_ms=ctx.options.timeout_ms,
                                         rlimit=ctx.options.rlimit)) for r in results]
        depends_on, notes = explained(ctx, vm, lowered, needs)
        return Outcome(verdict, message, depends_on=depends_on, details={**details, **notes})
    return Outcome(verdict, message, reason=reason, details=details)
