"""``preserves_exits(vmcs01, vmcs02)`` and ``honors_exits(vmcs12, vmcs02)`` inside a ``nested`` block.

For every vmcs12 the block allows (controls within the ``within`` source's capability MSRs, minus
the ``without`` bits, passing the SDM's VM-entry checks on the VMX controls against those
capabilities, since L0 runs L2 on no other vmcs12; and the block's assumptions), every guest event
that exits under the first VMCS by its own rule must exit under the vmcs02 the block defines:

* ``preserves_exits``: L0's intercepts (vmcs01) survive the merge;
* ``honors_exits``: whatever L1 intercepts (vmcs12) exits to L0, which can reflect it.

Events: every instruction vmxspec models, exceptions (with the #PF filter), external interrupts,
NMIs, software interrupts, triple faults, INIT, SIPI and task switches, each over every operand and
guest context. EPT violations are not compared (vmcs02's EPT is L0's, a different address space).

What is lowered: vmcs02 field definitions and assumptions over vmcs01 and vmcs12 fields (``proc2``
read as the secondary controls in effect), bitmap definitions as unions, intersections and
differences of vmcs01's and vmcs12's intercept sets. vmcs12's bitmaps are arbitrary (uninterpreted
predicates); its other fields are free within the bounds. Its guest-state area is not assumed to
pass VM entry (no exit decision reads it).
A definition or assumption vmxspec cannot lower makes the property unknown, never proved.

With ``--explain``, a proof lists the lines its events' proofs need (vmcs01's settings and
intercept statements, the vmcs02 definitions, the ``vmcs12`` bounds, assumptions), and a
violation's counterexample moves the fewest open values (vmcs12's fields, vmcs01's ``any``s) off
their defaults (vmcs12's controls: the bits the bound requires; anything else: 0).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

from vmxspec import ir
from vmxspec.arch import vmcs_fields
from vmxspec.arch.capabilities import BASIC, allowed0, allowed1
from vmxspec.arch.controls import ControlField
from vmxspec.arch.exits import INSTRUCTIONS, Decider
from vmxspec.check.results import Counterexample, Outcome, Verdict
from vmxspec.diagnostics import Span
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.exits import (
    ExitsEnv,
    Lowered,
    Prepared,
    Unlowerable,
    counterexample_details,
    explained,
    fewest_first,
    lower,
    prepare,
    summarize,
)
from vmxspec.sema import expressions as E
from vmxspec.sema.lower import Lowerer, LoweringError
from vmxspec.sema.model import Nested, PropertyProof, Vmcs12Bounds
from vmxspec.symbolic.exits import EventQuery, EventResult
from vmxspec.symbolic.exits.nested import (
    NestedProblem,
    SetExpr,
    SetOp,
    SetRef,
    check_nested_event,
    explain_nested_event,
    nested_problem_from_ir,
    vmcs12_passes_controls,
)
from vmxspec.symbolic.exits.vmcs import Fact
from vmxspec.syntax.ast import BinaryOp

_PROC, _PROC2 = ControlField.PROC.vmcs_field, ControlField.PROC2.vmcs_field
_ACTIVATE_SECONDARY_BIT = 31
_SET_TARGETS = ("msr_bitmap", "io_bitmap", "vmread_bitmap", "vmwrite_bitmap")
_SET_OPS = {BinaryOp.BIT_OR: "or", BinaryOp.BIT_AND: "and", BinaryOp.SUB: "sub"}


class NestedEnv(ExitsEnv):
    """Field references of vmcs01 (the built state's values, the VM's open variables, or
    ``unset.NAME`` for a field vmcs01 lacks) and of vmcs12 (variables ``vmcs12.NAME``); ``proc2``
    of either is the secondary controls in effect."""

    def __init__(self, prepared: Prepared, ctx: PropertyContext, explain: bool = False) -> None:
        super().__init__(ctx.model, prepared.opens, prepared.vm.name if explain else None)
        self.prepared = prepared

    def field(self, ref: E.FieldRef) -> ir.Term:
        value = self.raw(ref)
        if ref.field == _PROC2 and ref.vmcs.role is not E.VmcsRole.VM:
            proc = self.raw(replace(ref, field=_PROC, width=32))
            return ir.ite(ir.bit(proc, _ACTIVATE_SECONDARY_BIT), value, ir.bv(0, value.width))
        return value

    def raw(self, ref: E.FieldRef) -> ir.Term:
        role = ref.vmcs.role
        width = vmcs_fields.BY_NAME[ref.field].bits if ref.field in vmcs_fields.BY_NAME else ref.width
        if role is E.VmcsRole.VMCS12:
            return ir.var(f"vmcs12.{ref.field}", width)
        if role is E.VmcsRole.VMCS01:
            vm = self.prepared.vm
            name = f"{vm.name}.{ref.field}"
            if name in self.opens.vars and vm.vmcs.fields.get(ref.field) is not None:
                return self.opens.vars[name]
            value = self.prepared.built.state.vmcs.get(ref.field)
            if value is not None:
                return self.given(vm.name, ref.field, value, width)
            return ir.var(f"unset.{ref.field}", width)
        if role is E.VmcsRole.VM:
            return super().field(ref)
        raise Unlowerable("vmcs02 is what the block defines; it cannot be read in its own definitions", ref)


def field_value(env: NestedEnv, name: str, expr: E.Expr) -> ir.Term:
    """A vmcs02 field's definition as a 64-bit term (the symbolic side cuts it to the field)."""
    value = Lowerer(env).lower(expr)
    width = vmcs_fields.BY_NAME[name].bits
    if isinstance(value, int):
        return ir.bv(value & ((1 << width) - 1), 64)
    if value.sort == ir.BOOL:
        raise Unlowerable(f"vmcs02.{name} is defined by a condition, not a number", expr)
    return ir.zero_extend(value, 64 - value.width) if value.width < 64 else ir.extract(value, 63, 0)


def set_expr(expr: E.Expr) -> SetExpr:
    if isinstance(expr, E.BitmapRef) and expr.vmcs.role in (E.VmcsRole.VMCS01, E.VmcsRole.VMCS12):
        if expr.bitmap == "exceptions":
            raise Unlowerable("the exception bitmap is the field EXCEPTION_BITMAP, not a bitmap page", expr)
        return SetRef(expr.vmcs.role.value, expr.bitmap)
    if isinstance(expr, E.Binary) and expr.op in _SET_OPS:
        return SetOp(_SET_OPS[expr.op], set_expr(expr.left), set_expr(expr.right))
    raise Unlowerable(f"{type(expr).__name__} in a bitmap definition", expr)


def bounds(b: Vmcs12Bounds | None) -> Iterator[ir.Term]:
    """vmcs12's controls within the source's capability MSRs (TRUE MSRs when IA32_VMX_BASIC[55])
    and without the excluded bits; its CR3-target count within the four targets a VMCS holds."""
    yield ir.ule(ir.var("vmcs12.CR3_TARGET_COUNT", 32), 4)
    if b is None:
        return
    caps = b.caps or {}
    true_ctls = bool(BASIC["true_ctls"].get(caps.get("IA32_VMX_BASIC", 0)))
    for which in (ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.EXIT, ControlField.ENTRY):
        var = ir.var(f"vmcs12.{which.vmcs_field}", which.width)
        excluded = b.excluded.get(which, 0)
        if excluded:
            yield ir.eq(ir.bvand(var, excluded), 0)
        if b.caps is None:
            continue
        msr = which.true_capability_msr if true_ctls and which.true_capability_msr else which.capability_msr
        value = caps.get(msr)
        if value is None:
            yield ir.eq(var, 0)
            continue
        must = allowed0(value) & 0xFFFF_FFFF
        may = allowed1(value) & 0xFFFF_FFFF
        yield ir.eq(ir.bvand(var, must), must)
        yield ir.eq(ir.bvand(var, ~may & 0xFFFF_FFFF), 0)


def minimal_controls(b: Vmcs12Bounds | None) -> dict[str, int]:
    """Each vmcs12 control field with only the bits its capability MSR requires (what a
    counterexample prefers: the escape then shows the one control it needs)."""
    if b is None or b.caps is None:
        return {}
    true_ctls = bool(BASIC["true_ctls"].get(b.caps.get("IA32_VMX_BASIC", 0)))
    out = {}
    for which in (ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.EXIT, ControlField.ENTRY):
        msr = which.true_capability_msr if true_ctls and which.true_capability_msr else which.capability_msr
        out[which.vmcs_field] = allowed0(b.caps.get(msr, 0)) & 0xFFFF_FFFF
    return out


def nested_events() -> list[EventQuery]:
    """Every event to compare: MSR and I/O first (the classic losses), then the rest."""
    order = {Decider.MSR: 0, Decider.IO: 1, Decider.CR: 2}
    insns = sorted(INSTRUCTIONS.values(), key=lambda f: (order.get(f.decider, 3), f.mnemonic))
    out = [EventQuery(f.mnemonic, "instruction") for f in insns]
    out += [EventQuery(kind.upper(), kind) for kind in ("exception", "external_interrupt", "nmi", "software_interrupt",
                                                         "triple_fault", "init_signal", "sipi", "task_switch")]
    return out


def _check(ctx: PropertyContext, reference: str) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof) and proof.scope is not None
    nested: Nested = ctx.model.nested[proof.scope]
    roles = [a.vmcs.role.value for a in proof.args if isinstance(a, E.EntityRef) and a.vmcs is not None]
    if roles != [reference, "vmcs02"]:
        return Outcome(Verdict.ERROR, f"{proof.property} compares {reference} with vmcs02: write "
                       f"{proof.property}({reference}, vmcs02)", reason="arguments")
    vm = ctx.model.vms[nested.vm]
    prepared = prepare(ctx, vm)
    if isinstance(prepared, Outcome):
        return prepared
    lowered = _lower(ctx, nested, prepared, reference, explain=False)
    if isinstance(lowered, Outcome):
        return lowered
    problem, parts = lowered
    vacuous = _vacuous(ctx, list(parts.constraints))
    if vacuous is not None:
        return vacuous
    results = [check_nested_event(problem, e, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit)
               for e in nested_events()]
    if ctx.options.explain:
        fewest_first(results, lambda e: check_nested_event(problem, e, timeout_ms=ctx.options.timeout_ms,
                                                           rlimit=ctx.options.rlimit, explain=True))
    verdict, message, first = summarize(results, f"events that exit under {reference}")
    details: dict[str, object] = {"nested": nested.name, "proved": sum(r.status == "proved" for r in results),
                                  "events": [r.to_json() for r in results if r.status != "proved"]}
    if verdict is Verdict.VIOLATED and first is not None:
        cex = _counterexample(prepared, first, proof.span.path or None)
        if ctx.options.explain:
            defaults = {**{f"vmcs12.{k}": v for k, v in minimal_controls(nested.vmcs12).items()},
                        **prepared.opens.defaults}
            changed = {k: v for k, v in cex.open_values.items() if v != defaults.get(k, 0)}
            details["counterexample"] = counterexample_details(changed, bool(first.minimal) and prepared.base_minimal)
        return Outcome(verdict, message, cex, details=details, smtlib=first.smtlib)
    if verdict is Verdict.PROVED and ctx.options.explain:
        return _explain(ctx, nested, prepared, reference, verdict, message, details)
    return Outcome(verdict, message, reason=first.reason if first is not None else "", details=details)


@dataclass(frozen=True, slots=True)
class _Lowered:
    """What ``_lower`` gives besides the problem: the IR constraints (for the vacuity question)
    and the VM's lowered assumptions (whose labels and spans ``--explain`` maps back)."""

    constraints: tuple[ir.Term, ...]
    vm: Lowered


def _lower(ctx: PropertyContext, nested: Nested, prepared: Prepared, reference: str, explain: bool
           ) -> tuple[NestedProblem, _Lowered] | Outcome:
    """The block's definitions, bounds and assumptions as a problem (``explain``: with vmcs01's
    given fields as pinned variables, so that freeing one frees it in the definitions too)."""
    vm = prepared.vm
    env = NestedEnv(prepared, ctx, explain)
    lowered_vm = lower(ctx.model, prepared.opens, vm, explain=True) if explain else prepared.lowered
    try:
        fields = {name: field_value(env, name, d.expr) for name, d in nested.vmcs02.items()
                  if name not in _SET_TARGETS}
        sets = {name: set_expr(d.expr) for name, d in nested.vmcs02.items() if name in _SET_TARGETS}
        assumptions = [Lowerer(env).condition(a.condition) for a in nested.assumptions]
    except (LoweringError, ir.IRTypeError) as exc:
        return Outcome(Verdict.UNKNOWN, f"vmxspec cannot lower the nested block's definitions or assumptions: {exc}",
                       reason="not-lowered")
    bound_terms = list(bounds(nested.vmcs12))
    constraints = [*lowered_vm.constraints, *bound_terms, *assumptions]
    extra = []
    if nested.vmcs12 is not None and nested.vmcs12.caps is not None:
        extra.append(vmcs12_passes_controls(nested.vmcs12.caps, prepared.built.state.maxphyaddr))
    # --explain: which constraints (by index; extra ones follow ``constraints``) a line stands for.
    labels = dict(lowered_vm.labels)
    first_bound = len(lowered_vm.constraints)
    labels.update({first_bound + i: "bounds" for i in range(len(bound_terms))})
    labels.update({first_bound + len(bound_terms) + i: f"nested-assume:{i}" for i in range(len(assumptions))})
    labels.update({len(constraints) + i: "bounds" for i in range(len(extra))})
    open_fields = prepared.opens.vmcs_fields(vm)
    defaults = {name: prepared.opens.defaults[f"{vm.name}.{name}"] for name in open_fields}
    problem = nested_problem_from_ir(prepared.built.state, open_fields, fields, sets, constraints,
                                     reference, extra, minimal_controls(nested.vmcs12), labels, defaults,
                                     {**lowered_vm.pins, **env.pins})
    return problem, _Lowered(tuple(constraints), lowered_vm)


def _explain(ctx: PropertyContext, nested: Nested, prepared: Prepared, reference: str, verdict: Verdict,
             message: str, details: dict[str, object]) -> Outcome:
    """A proof's depends_on: every event's needs, asked of the problem lowered for explaining."""
    lowered = _lower(ctx, nested, prepared, reference, explain=True)
    if isinstance(lowered, Outcome):
        return Outcome(verdict, message, details={**details, "explain_notes": [lowered.message]})
    problem, parts = lowered
    needs = [(e, explain_nested_event(problem, e, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit))
             for e in nested_events()]
    spans: dict[str, Span] = {f"nested-assume:{i}": a.span for i, a in enumerate(nested.assumptions)}
    if nested.vmcs12 is not None:
        spans["bounds"] = nested.vmcs12.span
    definitions: dict[Fact, Span] = {("setdef" if name in _SET_TARGETS else "def", name): d.span
                                     for name, d in nested.vmcs02.items()}
    depends_on, notes = explained(ctx, prepared.vm, parts.vm, needs, spans, definitions)
    return Outcome(verdict, message, depends_on=depends_on, details={**details, **notes})


def _vacuous(ctx: PropertyContext, constraints: list[ir.Term]) -> Outcome | None:
    from vmxspec.symbolic import solver

    verdict = solver.prove(ir.FALSE, constraints, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit)
    if isinstance(verdict, solver.Vacuous):
        return Outcome(Verdict.VACUOUS, "no vmcs12 satisfies the block's bounds and assumptions", reason="vacuous")
    if isinstance(verdict, solver.Unknown):
        return Outcome(Verdict.UNKNOWN, f"could not solve the bounds and assumptions ({verdict.reason.value})",
                       reason=verdict.reason.value)
    return None


def _counterexample(prepared: Prepared, result: EventResult, spec: str | None) -> Counterexample:
    from vmxspec.build.from_model import state_document

    witness = result.witness
    assert witness is not None
    doc = state_document(prepared.built, spec)
    vmcs = dict(doc.get("vmcs", {}))  # type: ignore[call-overload]
    vmcs.update({name: f"{value:#x}" for name, value in witness.vmcs.items()})
    doc["vmcs"] = vmcs
    if witness.memory is not None:
        doc["memory"] = {f"{a:#x}": f"{v:#x}" for a, v in sorted(witness.memory.items()) if v}
    doc["cpu"] = witness.cpu
    meta = dict(doc.get("x-vmxspec", {}))  # type: ignore[call-overload]
    meta["vmcs02"] = "the VMCS L0 runs L2 on, for the vmcs12 in open_values (guest state: vmcs01's)"
    doc["x-vmxspec"] = meta
    return Counterexample(doc, witness.query, witness.expect, witness.explanation, dict(witness.open_values))


@register("preserves_exits", "every intercept L0 sets in vmcs01 still exits under vmcs02", __doc__ or "")
def check_preserves_exits(ctx: PropertyContext) -> Outcome:
    return _check(ctx, "vmcs01")


@register("honors_exits", "every event L1 intercepts in vmcs12 exits under vmcs02", __doc__ or "")
def check_honors_exits(ctx: PropertyContext) -> Outcome:
    return _check(ctx, "vmcs12")
