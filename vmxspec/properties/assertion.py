"""``prove CONDITION``: user assertions, decided by the solver over the spec's concrete tables.

The claim is lowered to IR (``vmxspec.sema.lower``) with this module's meaning of its names:

* a VMCS field is its built value, or, when the spec leaves it ``any``, a solver variable named
  ``VM.FIELD`` constrained by its domain (the ``Open``'s width, domain and zero bits);
* a bitmap is the spec's intercept set for it (``Intercepts``); ``VM.ram`` its ``ram`` set;
* ``translates``/``readable``/``writable``/``executable(VM.ept, gpa)`` is membership of ``gpa`` in
  the union of the EPT runs (``symbolic.reach``'s reading of the concrete tables, never the
  interpreter) with that permission; ``target`` is an if-then-else chain over those runs, and an
  unconstrained variable where nothing translates, so no proof can rest on its value there;
  ``translates(IOMMU, device, iova)`` (and ``readable``/``writable``/``target``) the same over
  the runs of the device's requests without PASID.

A top-level ``forall`` is skolemised: its variables become free solver variables (named as the
spec names them) constrained to their domains, so a violation's model *is* the witness. What
this reading does not cover (nested VMCSs, an open EPT pointer or control, a device outside its
unit's scope, MBEC-dependent entries) gives ``unknown`` with reason "not-modelled", never a proof.

Open values inside the tables (raw entries, map targets) are not solver variables: the claim is
decided once for each combination of those it reads (``symbolic.reach.open_values``, as the
translation properties do), on the tables built for that combination, up to ``MAX_CHOICES``
combinations (beyond, unknown). It holds only if it holds for each; a violation is the first
combination's, with that combination's state. Which tables the claim reads is learnt by lowering
it once with every table value at its smallest.

A violation is replayed by the driver. Its expectation always carries the claim and the witness
(``expect["assertion"]``, evaluated concretely by ``check.assert_eval``, which asks the reference
interpreter for every translation); when the failing body is one translation, the counterexample
also asks the interpreter the single ``ept`` or ``dma`` question at the witness address.

``--explain``: once a proof stands, the claim is lowered again with every given field a variable
pinned by a tracked fact (its spec line) and every translation a variable pinned, map line by map
line, to the runs the tables give over that line's range; the assumptions and open fields'
domains are tracked too, and the minimal unsat core's sources are the lines the proof depends on
(an intercept list the claim reads is listed whenever it is read: it reaches the solver as a
constant set). A violation's model moves the fewest open fields off their defaults.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from vmxspec import ir
from vmxspec.arch import ept as A
from vmxspec.arch import vmcs_fields
from vmxspec.build.from_model import FORMAT, Built, state_document
from vmxspec.check.assert_eval import Evaluator as ConcreteEvaluator
from vmxspec.check.assert_eval import NotEvaluable, evaluate, expr_to_json
from vmxspec.check.results import Counterexample, Outcome, Verdict, unique_lines
from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.choices import each_choice
from vmxspec.properties.exits import counterexample_details, default_of, fact_spans
from vmxspec.sema.expressions import (
    Apply,
    BitmapRef,
    Bound,
    EntityKind,
    EntityRef,
    Expr,
    FieldRef,
    Quantified,
    QuantifierKind,
    Unary,
    UnaryOp,
    VmcsRole,
)
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import DEFAULT_WIDTH, Lowered, Lowerer, LoweringError, as_term
from vmxspec.sema.model import AssertionProof, Assumption, FieldValue, Model, Open
from vmxspec.state.errors import StateError
from vmxspec.state.load import load_state
from vmxspec.state.model import State
from vmxspec.symbolic.reach.evidence import dma_query, ept_access, hexs
from vmxspec.symbolic.reach.open_values import (
    MAX_CHOICES,
    TABLE_KINDS,
    Needs,
    combine,
    describe_choice,
    pin_tables,
    slots,
    smallest,
)
from vmxspec.symbolic.reach.world import World, WorldError
from vmxspec.symbolic.solver import Assumption as Tracked
from vmxspec.symbolic.solver import Proved, Unknown, Vacuous, prove

_DOC = """`prove CONDITION`: the condition holds for every value the spec leaves open (within its
domain and the `assume` statements) and, for a top-level `forall`, for every value of its
variables. Translation functions read the spec's concrete EPT and VT-d tables. A violation names
the witness (the `forall` variables and the open fields) and is re-evaluated on the concrete state
through the reference interpreter before it is shown."""

_FUNCTIONS = ("translates", "readable", "writable", "executable", "target")
#: Fields whose value changes what an EPT translates: left open, the tables are not one reading.
_EPT_FIELDS = ("EPT_POINTER", "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL")
_EPT_ACCESS = {"readable": "read", "writable": "write", "executable": "fetch", "translates": "read"}


class NotModelled(Exception):
    """Part of the claim is outside what this checker reads: the verdict is unknown."""


@dataclass(frozen=True, slots=True)
class _OpenField:
    vm: str
    field: str
    value: Open
    width: int

    @property
    def name(self) -> str:
        return f"{self.vm}.{self.field}"

    def variable(self) -> ir.Term:
        return ir.var(self.name, self.width)

    def constraint(self) -> ir.Term:
        """Its ``Open``: within its width and domain, with its ``zero`` bits clear."""
        term = self.variable()
        mask = ((1 << min(self.width, self.value.width)) - 1) & ~self.value.zero
        parts = [ir.eq(ir.bvand(term, ir.bv(~mask & ((1 << self.width) - 1), self.width)), ir.bv(0, self.width))]
        if self.value.domain is not None:
            parts.append(_in_set(term, self.value.domain))
        return ir.and_(*parts)


def _in_set(term: ir.Term, values: IntervalSet) -> ir.Term:
    limit = 1 << term.width
    return ir.or_(*(ir.in_range(term, lo, min(hi, limit)) for lo, hi in values.intervals if lo < limit))


def _pin(model: Model) -> tuple[Model, dict[tuple[str, str], _OpenField]]:
    """Every open VMCS field gets an admissible placeholder, so the VM can be built; the solver
    chooses its real value through the field's variable."""
    opened: dict[tuple[str, str], _OpenField] = {}
    vms = dict(model.vms)
    for vm in model.vms.values():
        fields = dict(vm.vmcs.fields)
        for name, fv in vm.vmcs.fields.items():
            if isinstance(fv.value, Open):
                width = vmcs_fields.BY_NAME[fv.field].bits
                opened[(vm.name, fv.field)] = _OpenField(vm.name, fv.field, fv.value, width)
                domain = fv.value.domain
                low = domain.intervals[0][0] if domain is not None and domain.intervals else 0
                fields[name] = FieldValue(fv.field, fv.width, low & ~fv.value.zero, span=fv.span)
        vms[vm.name] = replace(vm, vmcs=replace(vm.vmcs, fields=fields))
    return replace(model, vms=vms), opened


class _Env:
    """What the claim's names mean (the module docstring); records what the claim used. ``model``
    has its table values pinned (one combination); its open VMCS fields are ``opened``."""

    def __init__(self, model: Model, world: World, opened: dict[tuple[str, str], _OpenField],
                 explain: bool = False) -> None:
        self.model = model
        self.world = world
        self.opened = opened
        self.vms: set[str] = set()
        self.eptvms: set[str] = set()
        self.units: set[str] = set()
        self.undefined = 0
        #: With ``explain``: the tracked facts the claim's given values stand on (module docstring),
        #: and the lines of what reaches the solver as a constant (intercept lists).
        self.explain = explain
        self.facts: dict[str, Tracked] = {}
        self.constants: list[Span] = []

    def _vm(self, name: str, node: Expr) -> str:
        if name not in self.model.vms:
            raise LoweringError(f"no VM named '{name}'", node)
        return name

    def field(self, ref: FieldRef) -> ir.Term:
        if ref.vmcs.role is not VmcsRole.VM:
            raise NotModelled(f"{ref.vmcs}'s fields (nested VMCSs are not modelled in assertions)")
        vm = self._vm(ref.vmcs.owner, ref)
        self.vms.add(vm)
        width = vmcs_fields.BY_NAME[ref.field].bits
        if (vm, ref.field) in self.opened:
            return self.opened[(vm, ref.field)].variable()
        value = self.world.vm_state(vm).state.vmcs.get(ref.field)
        if value is None:
            raise LoweringError(f"{vm}'s {ref.field} is not set by the spec", ref)
        if self.explain:
            var = ir.var(f"{vm}.{ref.field}@spec", width)
            span = fact_spans(self.model.vms[vm], addresses_move=False).get(("field", ref.field), NOWHERE)
            self.facts.setdefault(var.name, Tracked(ir.eq(var, ir.bv(value, width)), span))
            return var
        return ir.bv(value, width)

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        if ref.vmcs.role is not VmcsRole.VM:
            raise NotModelled(f"{ref.vmcs}'s bitmaps (nested VMCSs are not modelled in assertions)")
        vm = self._vm(ref.vmcs.owner, ref)
        self.vms.add(vm)
        values = getattr(self.model.vms[vm].vmcs.intercepts, ref.bitmap, None)
        if not isinstance(values, IntervalSet):
            raise LoweringError(f"{vm}'s VMCS gives no {ref.bitmap} intercept list", ref)
        if self.explain:
            self.constants.append(self.model.vms[vm].vmcs.intercepts.spans.get(ref.bitmap, NOWHERE))
        return values

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        if node.function not in _FUNCTIONS:
            raise NotModelled(f"the function '{node.function}'")
        head = node.args[0] if node.args else None
        if isinstance(head, EntityRef) and head.kind in (EntityKind.VM, EntityKind.EPT) and len(node.args) == 2:
            return self._ept(node, head.name, lower(node.args[1]))
        if isinstance(head, EntityRef) and head.kind is EntityKind.IOMMU and len(node.args) == 3:
            device = node.args[1]
            if not isinstance(device, EntityRef) or device.bdf is None:
                raise LoweringError(f"'{node.function}' of an IOMMU takes a PCI device second", node)
            return self._dma(node, head.name, device.bdf, lower(node.args[2]))
        raise LoweringError(f"'{node.function}' takes a VM's EPT and an address, or an IOMMU, a device and an "
                            "IOVA", node)

    def _address(self, value: Lowered, node: Expr) -> ir.Term:
        term = as_term(value, DEFAULT_WIDTH, node)
        if term.width > DEFAULT_WIDTH:
            raise NotModelled("an address wider than 64 bits")
        return term

    def _ept(self, node: Apply, vm_name: str, address: Lowered) -> Lowered:
        vm = self._vm(vm_name, node)
        self.vms.add(vm)
        self.eptvms.add(vm)
        for name in _EPT_FIELDS:
            if (vm, name) in self.opened:
                raise NotModelled(f"{vm}'s {name} is open, and the EPT's reading depends on it")
        try:
            ept = self.world.ept(vm)
        except WorldError as exc:
            raise LoweringError(f"cannot read {vm}'s EPT: {exc}", node) from None
        gpa = self._address(address, node)
        runs: list[tuple[int, int, int]] = []
        if ept is not None:
            if ept.undetermined or ept.eptp_problems:
                raise NotModelled(f"{vm}'s EPT depends on mode-based execute control or has a bad EPT pointer")
            for run in ept.runs:
                accessible = ept.accessible(run)
                if accessible is None:
                    raise NotModelled(f"whether {vm}'s EPT run at {run.start:#x} is accessible depends on MBEC")
                allowed = {"translates": accessible, "target": accessible, "readable": bool(run.perms & A.R),
                           "writable": bool(run.perms & A.W), "executable": bool(run.perms & A.X)}
                if allowed[node.function]:
                    runs.append((run.start, run.end, run.hpa))
        paging = self.model.vms[vm].ept
        lines = [(m.start, m.end, m.span) for m in paging.maps] if paging is not None else []
        return self._result(node, gpa, runs, lines, paging.span if paging is not None else NOWHERE)

    def _dma(self, node: Apply, unit_name: str, bdf: tuple[int, int, int, int], address: Lowered) -> Lowered:
        if unit_name not in self.model.iommus:
            raise LoweringError(f"no IOMMU named '{unit_name}'", node)
        if node.function == "executable":
            raise LoweringError("'executable' is defined for EPT only (VT-d has no execute permission)", node)
        self.units.add(unit_name)
        try:
            unit = self.world.unit(unit_name)
        except WorldError as exc:
            raise LoweringError(f"cannot read {unit_name}'s tables: {exc}", node) from None
        segment, bus, dev, fn = bdf
        sid = bus << 8 | dev << 3 | fn
        if segment != unit.segment or not unit.remaps(sid):
            raise NotModelled(f"{unit_name} does not remap device {segment:04x}:{bus:02x}:{dev:02x}.{fn}")
        iova = self._address(address, node)
        runs: list[tuple[int, int, int]] = []
        device = unit.devices.get(sid)
        if not unit.blocked and device is not None and device.plain is not None:
            if device.unmodelled:
                raise NotModelled(f"{unit_name}'s translation for the device ({', '.join(device.unmodelled)})")
            need = {"translates": 3, "target": 3, "readable": 1, "writable": 2}[node.function]
            runs = [(r.start, r.end, r.hpa) for r in device.plain.runs if r.perms & need]
        return self._result(node, iova, runs, [], self.model.iommus[unit_name].span)

    def _result(self, node: Apply, address: ir.Term, runs: list[tuple[int, int, int]],
                lines: list[tuple[int, int, Span]], rest: Span) -> ir.Term:
        """The translation as a term over ``address``; with ``explain``, a variable pinned to it by
        one tracked fact per line of ``lines`` (over that line's range) and one for the rest."""
        if node.function != "target":
            value: ir.Term = ir.or_(*(ir.in_range(address, lo, hi) for lo, hi, _ in runs))
        else:
            self.undefined += 1
            value = ir.var(f"target?{self.undefined}", DEFAULT_WIDTH, node.span)
            for lo, hi, hpa in reversed(runs):
                shifted = ir.add(ir.sub(address, ir.bv(lo, DEFAULT_WIDTH)), ir.bv(hpa, DEFAULT_WIDTH))
                value = ir.ite(ir.in_range(address, lo, hi), shifted, value)
        if not self.explain:
            return value
        self.undefined += 1
        name = f"{node.function}?{self.undefined}@spec"
        stand_in = ir.bool_var(name) if value.sort == ir.BOOL else ir.var(name, value.width)
        inside = []
        for i, (lo, hi, span) in enumerate(lines):
            inside.append(ir.in_range(address, lo, hi))
            self.facts[f"{name}#{i}"] = Tracked(ir.implies(inside[-1], ir.eq(stand_in, value)), span)
        self.facts[f"{name}#rest"] = Tracked(ir.implies(ir.not_(ir.or_(*inside)), ir.eq(stand_in, value)), rest)
        return stand_in


class _Lowerer(Lowerer):
    """The shared lowering, with ``VM.ram`` (a region) accepted where a set is expected."""

    def _set(self, expr: Expr) -> IntervalSet:
        if isinstance(expr, EntityRef) and expr.region is not None:
            return expr.region
        return super()._set(expr)


def _skolemise(claim: Expr) -> tuple[list[Bound], Expr]:
    """The variables of the claim's leading ``forall``s (their names distinct) and the body."""
    bound: list[Bound] = []
    while isinstance(claim, Quantified) and claim.kind is QuantifierKind.FORALL:
        names = [b.var for b in claim.bindings]
        if len(set(names)) != len(names) or set(names) & {b.var for b in bound}:
            break
        bound.extend(claim.bindings)
        claim = claim.body
    return bound, claim


def _title(ctx: PropertyContext) -> str:
    from vmxspec.check.driver import title

    return title(ctx.proof, dict(ctx.sources))


@dataclass(slots=True)
class _Claim:
    """The claim lowered against one combination of the table values."""

    env: _Env
    world: World
    body: Expr
    goal: ir.Term
    assumptions: list[ir.Term]
    witness: dict[str, ir.Term]
    opened: dict[tuple[str, str], _OpenField]
    #: The table values it was built with, and where each assumption is written (``--explain``).
    tables: dict[tuple[object, ...], int] | None = None
    sources: tuple[Span, ...] = ()


@register("assert", "a user assertion (prove CONDITION) holds for every open value", _DOC)
def check(ctx: PropertyContext) -> Outcome:
    every = slots(ctx.model)
    probe = _lower(ctx, {s.key: smallest(s.value) for s in every if s.kind in TABLE_KINDS})
    if isinstance(probe, Outcome):
        return probe
    env = probe.env
    # The tables the claim reads: a VM's EPT (with the IOMMUs' entries, which may be written into
    # it), or an IOMMU's, which reads every structure of the spec in one memory (``World.union``).
    needs = Needs(frozenset({"ept"}), None if env.units else frozenset(env.eptvms), iommu=bool(env.eptvms or env.units))
    relevant = [s for s in every if s.kind in TABLE_KINDS and needs.wants(s)]
    if not relevant:
        return _solve(ctx, probe, {})
    found = combine(relevant, every)
    if found.unknown:
        why = f"the open table values the assertion reads cannot be enumerated ({found.unknown}; at most {MAX_CHOICES} "
        return Outcome(Verdict.UNKNOWN, f"not modelled: {why}combinations are checked)",
                       reason=f"not-modelled: {found.unknown}")

    def decide(values: dict[tuple[object, ...], int]) -> Outcome:
        claim = _lower(ctx, values)
        return claim if isinstance(claim, Outcome) else _solve(ctx, claim, describe_choice(found.relevant, values))

    return each_choice(found, decide, explain=ctx.options.explain)


def _lower(ctx: PropertyContext, tables: dict[tuple[object, ...], int], explain: bool = False) -> _Claim | Outcome:
    """The claim over the tables built with ``tables``, the open VMCS fields as variables (with
    ``explain``, the given values as tracked variables too: the module docstring)."""
    proof = ctx.proof
    assert isinstance(proof, AssertionProof)
    tabled = pin_tables(ctx.model, tables)
    model, opened = _pin(tabled)
    world = World(model)
    env = _Env(tabled, world, opened, explain)
    lowerer = _Lowerer(env)
    bound, body = _skolemise(proof.claim)
    try:
        witness: dict[str, ir.Term] = {}
        domains = []
        for binding in bound:
            domain = binding.domain if isinstance(binding.domain, IntervalSet) else lowerer._set(binding.domain)
            width = max(DEFAULT_WIDTH, max((hi - 1 for _, hi in domain.intervals), default=0).bit_length())
            witness[binding.var] = ir.var(binding.var, width, binding.span)
            lowerer.scope[binding.var] = witness[binding.var]
            domains.append(_in_set(witness[binding.var], domain))
        goal = ir.implies(ir.and_(*domains), lowerer.condition(body))
        claim_vms = set(env.vms)
        relevant = set(claim_vms) | ({proof.scope} if proof.scope is not None and proof.scope in ctx.model.vms
                                     else set())
        sources: list[Assumption] = [a for a in ctx.model.assumptions if a.scope is None or a.scope in relevant]
        for name in sorted(relevant):
            sources.extend(a for a in ctx.model.vms[name].assumptions if a not in sources)
        assumptions = [_Lowerer(env).condition(a.condition) for a in sources]
    except NotModelled as exc:
        return Outcome(Verdict.UNKNOWN, f"not modelled: {exc}", reason=f"not-modelled: {exc}")
    except LoweringError as exc:
        return Outcome(Verdict.ERROR, f"cannot check the assertion: {exc}", reason="lowering")
    except WorldError as exc:
        return Outcome(Verdict.ERROR, f"cannot build the spec's state: {exc}", reason="build")
    return _Claim(env, world, body, goal, assumptions, witness, opened, tables, tuple(a.span for a in sources))


def _solve(ctx: PropertyContext, claim: _Claim, tables: dict[str, int]) -> Outcome:
    """The solver's verdict on one combination; ``tables`` are its table values, by what they are."""
    goal, assumptions, opened, witness = claim.goal, list(claim.assumptions), claim.opened, claim.witness
    used = set(ir.free_vars(goal, *assumptions))
    assumptions.extend(f.constraint() for f in opened.values() if f.variable() in used)
    prefer = {ir.var(f.name, f.width): default_of(f.value, f.width) for f in opened.values()
              if f.variable() in used} if ctx.options.explain else None
    verdict = prove(goal, assumptions, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit, prefer=prefer)
    in_goal = set(ir.free_vars(goal))
    free = sorted({*witness, *(f.name for f in opened.values() if f.variable() in in_goal)})
    if isinstance(verdict, Proved):
        over = f" for every value of {', '.join(free)}" if free else ""
        if ctx.options.explain:
            depends_on, notes = _explained(ctx, claim)
            return Outcome(Verdict.PROVED, f"the assertion holds{over}", depends_on=depends_on, details=notes)
        return Outcome(Verdict.PROVED, f"the assertion holds{over}")
    if isinstance(verdict, Vacuous):
        return Outcome(Verdict.VACUOUS, "the assumptions cannot all hold: the assertion is vacuously true",
                       reason="vacuous")
    if isinstance(verdict, Unknown):
        return Outcome(Verdict.UNKNOWN, f"the solver gave up ({verdict.check}): {verdict.detail}",
                       reason=verdict.reason.value)
    values = {var.name: value for var, value in verdict.model.items()}
    chosen = {name: values[name] for name in witness if name in values}
    fields = {f: values[f.name] for f in opened.values() if f.name in values}
    outcome = _counterexample(ctx, claim.env, claim.world, claim.body, chosen, fields, tables)
    if ctx.options.explain and outcome.verdict is Verdict.VIOLATED:
        changed = {f.name: v for f, v in fields.items() if v != default_of(f.value, f.width)}
        outcome.details["counterexample"] = counterexample_details(changed, verdict.minimal)
    return outcome


def _explained(ctx: PropertyContext, claim: _Claim) -> tuple[tuple[Span, ...], dict[str, object]]:
    """``--explain`` for a proof: the claim lowered again with tracked facts (module docstring),
    and the lines of the minimal unsat core's sources."""
    assert claim.tables is not None
    tracked = _lower(ctx, claim.tables, explain=True)
    if isinstance(tracked, Outcome):
        return (), {"explain_notes": [f"the claim cannot be lowered with its facts tracked: {tracked.message}"]}
    facts = [Tracked(term, span) for term, span in zip(tracked.assumptions, tracked.sources, strict=True)]
    facts.extend(tracked.env.facts.values())
    used = set(ir.free_vars(tracked.goal, *(f.term for f in facts)))
    facts.extend(Tracked(f.constraint(), tracked.env.model.vms[f.vm].vmcs.fields[f.field].span)
                 for f in tracked.opened.values() if f.variable() in used)
    verdict = prove(tracked.goal, facts, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit, explain=True)
    if not isinstance(verdict, Proved) or verdict.core is None:
        return (), {"explain_notes": [f"the unsat core could not be computed ({verdict.status})"]}
    spans = [*tracked.env.constants, *(a.source for a in verdict.core if isinstance(a.source, Span))]
    return unique_lines(spans), {}


def _counterexample(ctx: PropertyContext, env: _Env, world: World, body: Expr, chosen: dict[str, int],
                    fields: dict[_OpenField, int], tables: dict[str, int]) -> Outcome:
    """The witness as a state and question the reference interpreter can confirm; ``world`` is
    built with the table values ``tables``, which the explanation names with the witness."""
    shown = ", ".join([*(f"{k} = {v:#x}" for k, v in tables.items()), *(f"{k} = {v:#x}" for k, v in chosen.items()),
                       *(f"{f.name} = {v:#x}" for f, v in sorted(fields.items(), key=lambda i: i[0].name))])
    where = f"with {shown}" if shown else "as the spec is"
    if len(env.vms) > 1 or (env.units and len(env.units) > 1):
        return Outcome(Verdict.UNKNOWN, f"the assertion fails {where}, but a counterexample over several VMs or "
                       "IOMMUs cannot be replayed in one state", reason="not-modelled: several VMs in one witness")
    document = _document(world, env, fields)
    if document is None:
        return Outcome(Verdict.UNKNOWN, f"the assertion fails {where}, but the VM and the IOMMU are not in one "
                       "state", reason="not-modelled: VM and IOMMU in one witness")
    try:
        state = load_state(document)
        evaluate(body, state, chosen)
        query, expect = _question(env, world, body, state, chosen)
    except (NotEvaluable, StateError) as exc:
        return Outcome(Verdict.UNKNOWN, f"the solver finds the assertion false {where}, but it cannot be "
                       f"confirmed concretely: {exc}", reason=f"not-modelled: {exc}")
    text = _title(ctx)
    claim = {"text": text, "claim": expr_to_json(body), "bindings": {k: hexs(v) for k, v in chosen.items()}}
    expect["assertion"] = claim
    if query.get("kind") == "assertion":
        # No single access is the witness: the claim itself is the question, so that `vmxspec eval`
        # can replay this counterexample like any other (questions.assertion).
        query = {"kind": "assertion", **claim}
        expect["match"] = {"value": False}
    open_values = {**tables, **chosen, **{f.name: v for f, v in fields.items()}}
    cex = Counterexample(document, query, expect, f"{text} is false {where}", open_values)
    witness = {k: hexs(v) for k, v in open_values.items()}
    return Outcome(Verdict.VIOLATED, f"the assertion fails {where}", cex, details={"witness": witness})


def _document(world: World, env: _Env, fields: dict[_OpenField, int]) -> dict[str, object] | None:
    vm = next(iter(env.vms), None)
    built: Built | None
    if env.units:
        built = world.union()
        if vm is not None and built.vm != vm:
            return None
    elif vm is not None:
        built = world.ept_source(vm) if vm in env.eptvms else world.vm_state(vm)
    else:
        return {"format": FORMAT}
    vmcs = dict(built.state.vmcs)
    vmcs.update({f.field: v for f, v in fields.items() if f.vm == built.vm})
    return state_document(replace(built, state=replace(built.state, vmcs=vmcs)))


def _question(env: _Env, world: World, body: Expr, state: State, chosen: dict[str, int]
              ) -> tuple[dict[str, object], dict[str, object]]:
    """One interpreter question for a body that is one translation (possibly negated); otherwise
    the ``assertion`` query, which the caller fills with the claim."""
    negated = isinstance(body, Unary) and body.op is UnaryOp.NOT
    inner = body.operand if isinstance(body, Unary) and negated else body
    if not isinstance(inner, Apply) or inner.function == "target" or not inner.args:
        return {"kind": "assertion"}, {}
    head = inner.args[0]
    assert isinstance(head, EntityRef)
    evaluator = ConcreteEvaluator(state, chosen)
    address = evaluator.number(inner.args[-1]).value
    if head.kind is EntityKind.IOMMU:
        device = inner.args[1]
        assert isinstance(device, EntityRef) and device.bdf is not None
        segment, bus, dev, fn = device.bdf
        sid = bus << 8 | dev << 3 | fn
        access = {"writable": "write"}.get(inner.function, "read")
        if negated and inner.function == "translates":
            found = world.unit(head.name).devices.get(sid)
            plain = found.plain.runs if found is not None and found.plain is not None else []
            run = next((r for r in plain if r.start <= address < r.end), None)
            access = "read" if run is None or run.perms & 1 else "write"
        query = dma_query(segment, sid, address, access)
        if negated:
            return query, {"match": {"result": "ok"}}
        return query, {"result_in": ["fault", "blocked", "interrupt"]}
    ept = world.ept(head.name)
    run_at = ept.run_at(address) if ept is not None else None
    if negated and inner.function == "translates" and ept is not None and run_at is not None:
        keys = ept_access(ept, run_at)
    else:
        keys = {"access": _EPT_ACCESS[inner.function]}
    query = {"kind": "ept", "gpa": hexs(address), **keys}
    if negated:
        return query, {"match": {"result": "ok"}}
    return query, {"result_in": ["ept_violation", "ept_misconfig"]}
