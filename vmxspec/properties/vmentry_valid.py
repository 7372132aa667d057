"""``vmentry_valid(VM)``: every SDM VM-entry check holds, for every value of the VM's open fields.

The concrete part of the VM (platform, tables, every fixed field) is built once by the state
builder; the fields the spec leaves ``any`` become solver variables constrained by their domain
and by the spec's ``assume`` statements. A violation comes with the concrete VMCS the solver
chose, which the reference interpreter must confirm (``check.replay``) before it is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from vmxspec import ir
from vmxspec.arch import vmcs_fields
from vmxspec.arch.rules import BY_ID as RULES
from vmxspec.build.from_model import BuildError, Built, build_state, state_document
from vmxspec.check.results import Counterexample, Outcome, Verdict
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.properties import PropertyContext, register
from vmxspec.sema.expressions import Apply, BitmapRef, EntityKind, EntityRef, Expr, FieldRef, VmcsRole
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered, LoweringError, lower_condition
from vmxspec.sema.model import FieldValue, Model, Open, PropertyProof, Vm
from vmxspec.symbolic.vmentry.spec_check import OpenField, check_entry

_DOC = """Every check the SDM makes at VM entry (controls, host state, guest state, MSR loading)
holds for the VM's VMCS, for every value the spec leaves open (`any`) within its domain and the
spec's `assume` statements. A violation shows a VMCS that fails and the rule it breaks, replayed
through the reference interpreter. Fields a check needs that the spec does not set make the
property an error (the spec is incomplete), never an assumed zero."""


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


@register("vmentry_valid", "every SDM VM-entry check holds for every value of the open fields", _DOC)
def check(ctx: PropertyContext) -> Outcome:
    vm = _vm(ctx)
    if isinstance(vm, str):
        return Outcome(Verdict.ERROR, vm, reason="bad-arguments")
    others = [slot for slot in ctx.model.open_values() if (slot.scope == vm.name and "'s EPT" in slot.what)
              or (slot.scope == vm.name and "RAM" in slot.what)]
    if others:
        return Outcome(Verdict.UNKNOWN, f"{others[0].what} is open; vmentry_valid models open VMCS fields only",
                       reason="not-modelled")
    model, opened = pin_open_fields(ctx.model, vm)
    try:
        built = build_state(model, vm.name, iommus=False)
    except BuildError as err:
        return Outcome(Verdict.ERROR, f"cannot build {vm.name}'s state: {err}", reason="build")
    state = built.state
    # The processor executing VMLAUNCH runs with the EFER the host state restores on VM exit: the
    # spec's only statement about the host's mode (documented in docs/language.md).
    if state.cpu.efer is None and "HOST_IA32_EFER" in state.vmcs:
        state.cpu.efer = state.vmcs["HOST_IA32_EFER"]
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
    verdict = check_entry(state, opened, assumptions, ctx.options.timeout_ms, ctx.options.rlimit)
    if verdict.status == "proved":
        if verdict.unevaluated:
            rule, needs = next(iter(verdict.unevaluated.items()))
            return Outcome(Verdict.UNKNOWN, f"every other check holds, but {rule} needs {needs}",
                           reason="unevaluated", smtlib=verdict.smtlib)
        free = f" for every value of {', '.join(sorted(opened))}" if opened else ""
        return Outcome(Verdict.PROVED, f"{vm.name}'s VMCS passes every VM-entry check{free}",
                       smtlib=verdict.smtlib)
    if verdict.status == "vacuous":
        return Outcome(Verdict.VACUOUS, verdict.reason, reason="vacuous", smtlib=verdict.smtlib)
    if verdict.status == "unknown":
        return Outcome(Verdict.UNKNOWN, f"the solver gave up: {verdict.reason}", reason=verdict.reason,
                       smtlib=verdict.smtlib)
    state.vmcs.update(verdict.values)
    document = state_document(replace(built, state=state))
    document["cpu"] = {"efer": hex(state.cpu.efer)} if state.cpu.efer is not None else {}
    rule = verdict.violated[0]
    chosen = ", ".join(f"{k} = {v:#x}" for k, v in sorted(verdict.values.items()))
    explanation = (f"with {chosen}: " if chosen else "") + "; ".join(
        f"{r} ({RULES[r].section})" for r in verdict.violated[:4])
    cex = Counterexample(document, {"kind": "vmentry"}, {"match": {"result": "fail"}, "violates": rule},
                         explanation, dict(verdict.values))
    return Outcome(Verdict.VIOLATED, f"{vm.name}'s VMCS can fail VM entry: {rule}", cex,
                   details={"violated": list(verdict.violated)}, smtlib=verdict.smtlib)
