"""``entry_safe(vmcs12, vmcs02)`` inside a ``nested`` block: L1's valid VMCSs stay valid after the merge.

For every vmcs12 L1 may write (every field free; controls within the ``within`` source's allowed
settings, minus the ``without`` bits; the block's assumptions), if vmcs12 passes every VM-entry
check against the capabilities L1 sees, the vmcs02 L0 builds from it passes every VM-entry check
against the platform's. vmcs02's fields are the block's definitions; a field it does not define is
vmcs12's in the guest-state area and vmcs01's elsewhere (docs/language.md, "Nested
virtualization"). vmcs01's open fields are free too (within their domains and the VM's
assumptions), and a field vmcs01 needs but the spec never sets is a free variable: a proof then
holds whatever it is, and a counterexample names the value it took.

Decisions:

* Memory is the L1 state's, concrete, for both VMCSs (as the VM-entry encoder always has it); the
  link pointer, MSR-load area and PDPTE reads of either VMCS see that memory.
* The executing processor's EFER: L0's (vmcs01's HOST_IA32_EFER) for vmcs02, L1's
  (vmcs01's GUEST_IA32_EFER, when fixed) for vmcs12, for the host address-space check.
* Bitmap definitions (``vmcs02.msr_bitmap = ...``) are ignored: VM entry checks the bitmaps'
  addresses (vmcs01's), never their contents.
* A definition wider than its field keeps its low bits, as VMWRITE does.
* Anything that cannot be lowered (a bitmap or function in a value, another VM's field) makes the
  verdict unknown ("not-modelled"), never proved.

With ``--explain``, a proof is asked again with vmcs01's given fields as variables pinned by
tracked equalities and every vmcs02 definition, bound and assumption tracked; ``depends_on`` lists
the lines of the minimal core's facts, and always the platform and the ``vmcs12`` line, whose
capabilities the two VM-entry checks read as constants. A violation moves the fewest open values
(vmcs12's fields, vmcs01's open fields) off their defaults (vmcs12's controls: the bits the bound
requires; anything else 0, or the lowest value its domain admits).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from vmxspec import ir
from vmxspec.arch import vmcs_fields
from vmxspec.arch.capabilities import BASIC, allowed0, allowed1
from vmxspec.arch.controls import ControlField
from vmxspec.arch.presets import PRESETS
from vmxspec.arch.rules import BY_ID as RULES
from vmxspec.build.from_model import BuildError, Built, build_state, state_document
from vmxspec.check.results import Counterexample, Outcome, Verdict, unique_lines
from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.exits import counterexample_details, fact_spans
from vmxspec.properties.vmentry_valid import pin_open_fields
from vmxspec.sema.expressions import (
    Apply,
    BitmapRef,
    EntityRef,
    Expr,
    FieldRef,
    VmcsRole,
)
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered, Lowerer, LoweringError, as_term
from vmxspec.sema.model import Nested, PropertyProof, Vm, Vmcs12Bounds
from vmxspec.symbolic.vmentry.nested import VMCS12_PREFIX, Vmcs12View, check_entry_safe, explain_entry_safe
from vmxspec.symbolic.vmentry.spec_check import OpenField

_PROC, _PROC2 = ControlField.PROC.vmcs_field, ControlField.PROC2.vmcs_field
_ACTIVATE_SECONDARY_BIT = 31
_BITMAPS = frozenset({"msr_bitmap", "io_bitmap", "vmread_bitmap", "vmwrite_bitmap"})
_VMCS01_PREFIX = "vmcs01."
_UNSET_PREFIX = "vmcs01.unset."
_GIVEN_PREFIX = "vmcs01.given."


class _Env:
    """vmcs12's fields are the solver's ``vmcs12.NAME`` variables; vmcs01's (also read as the VM's
    own fields, in its assumptions) are constants, ``vmcs01.NAME`` variables where open, or
    ``vmcs01.unset.NAME`` where the spec does not set them. ``proc2`` of vmcs01 and vmcs12 is the
    secondary controls in effect (0 unless activated), as the language defines it."""

    def __init__(self, vm: Vm, built: Built, opened: Mapping[str, OpenField], track: bool = False) -> None:
        self.vm = vm
        self.built = built
        self.opened = opened
        self.unset: set[str] = set()
        #: With ``track`` (``--explain``): vmcs01's given fields are variables ``vmcs01.given.NAME``,
        #: each pinned to its value by a fact the caller tracks (name -> (variable, value)).
        self.track = track
        self.given: dict[str, tuple[ir.Var, int]] = {}

    def field(self, ref: FieldRef) -> ir.Term:
        role = ref.vmcs.role
        if role is VmcsRole.VM and ref.vmcs.owner == self.vm.name:
            return self.vmcs01(ref.field, ref)
        if role is VmcsRole.VMCS01 or role is VmcsRole.VMCS12:
            read = self.vmcs01 if role is VmcsRole.VMCS01 else self.vmcs12
            value = read(ref.field, ref)
            if ref.field == _PROC2:
                active = ir.bit(read(_PROC, ref), _ACTIVATE_SECONDARY_BIT)
                return ir.ite(active, value, ir.bv(0, value.width))
            return value
        raise LoweringError(f"entry_safe lowers fields of vmcs01 and vmcs12 only, not {ref.vmcs}", ref)

    def vmcs12(self, name: str, ref: Expr) -> ir.Term:
        return ir.var(VMCS12_PREFIX + name, _bits(name, ref))

    def vmcs01(self, name: str, ref: Expr) -> ir.Term:
        bits = _bits(name, ref)
        if name in self.opened:
            return ir.var(_VMCS01_PREFIX + name, bits)
        value = self.built.state.vmcs.get(name)
        if value is None:
            self.unset.add(name)
            return ir.var(_UNSET_PREFIX + name, bits)
        if self.track:
            var = ir.var(_GIVEN_PREFIX + name, bits)
            self.given[name] = (var, value)
            return var
        return ir.bv(value, bits)

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        raise LoweringError("entry_safe does not model bitmaps in field values or assumptions", ref)

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        raise LoweringError(f"entry_safe does not model '{node.function}'", node)


def _bits(name: str, ref: Expr) -> int:
    info = vmcs_fields.BY_NAME.get(name)
    if info is None:
        raise LoweringError(f"'{name}' is not a VMCS field", ref)
    return info.bits


def _vmcs01_domains(opened: Mapping[str, OpenField]) -> list[ir.Term]:
    """What vmcs01's ``any`` says about its open fields: the bits it may set and its ranges."""
    out: list[ir.Term] = []
    for name, f in opened.items():
        bits = vmcs_fields.BY_NAME[name].bits
        var = ir.var(_VMCS01_PREFIX + name, bits)
        fixed = ~f.mask & ((1 << bits) - 1)
        if fixed:
            out.append(ir.eq(ir.bvand(var, fixed), 0))
        if f.domain is not None:
            out.append(ir.or_(*(ir.in_range(var, lo, min(hi, 1 << bits)) for lo, hi in f.domain if lo < 1 << bits)))
    return out


def _bounds(b: Vmcs12Bounds) -> list[ir.Term]:
    """vmcs12's controls within the source's allowed settings (TRUE MSRs when IA32_VMX_BASIC[55])
    and without the excluded bits. The allowed settings are also VM-entry checks on vmcs12; stating
    them here keeps the vacuity question honest about the bounds alone."""
    caps = b.caps or {}
    true_ctls = bool(BASIC["true_ctls"].get(caps.get("IA32_VMX_BASIC", 0)))
    out: list[ir.Term] = []
    for which in (ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.EXIT, ControlField.ENTRY):
        bits = vmcs_fields.BY_NAME[which.vmcs_field].bits
        var = ir.var(VMCS12_PREFIX + which.vmcs_field, bits)
        full = (1 << bits) - 1
        excluded = b.excluded.get(which, 0) & full
        if excluded:
            out.append(ir.eq(ir.bvand(var, excluded), 0))
        msr = which.true_capability_msr if true_ctls and which.true_capability_msr else which.capability_msr
        value = caps.get(msr)
        if which is ControlField.PROC2:
            continue  # read only when activated: its allowed settings are the VM-entry rule's to check
        if value is None:
            out.append(ir.eq(var, 0))
            continue
        must, may = allowed0(value) & full, allowed1(value) & full
        out.append(ir.eq(ir.bvand(var, must), must))
        out.append(ir.eq(ir.bvand(var, ~may & full), 0))
    return out


def _view12(b: Vmcs12Bounds, built: Built) -> Vmcs12View:
    assert b.caps is not None
    preset = PRESETS.get(b.source or "")
    state = built.state
    maxphy = preset.maxphyaddr if preset is not None else state.maxphyaddr
    maxlin = preset.maxlinaddr if preset is not None else state.maxlinaddr
    # L1 executes VMLAUNCH with the EFER L0 loads for it: vmcs01's guest IA32_EFER.
    return Vmcs12View(b.caps, maxphy, maxlin, state.vmcs.get("GUEST_IA32_EFER"))


def _unknown(message: str) -> Outcome:
    return Outcome(Verdict.UNKNOWN, message, reason="not-modelled")


@register("entry_safe", "every vmcs12 that passes VM entry gives a vmcs02 that passes VM entry", __doc__ or "")
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    roles = [a.vmcs.role.value for a in proof.args if isinstance(a, EntityRef) and a.vmcs is not None]
    if proof.scope is None or proof.scope not in ctx.model.nested or roles != ["vmcs12", "vmcs02"]:
        return Outcome(Verdict.ERROR, "entry_safe is proved in a nested block as entry_safe(vmcs12, vmcs02)",
                       reason="bad-arguments")
    nested: Nested = ctx.model.nested[proof.scope]
    if nested.vmcs12 is None or nested.vmcs12.caps is None:
        return _unknown("not-modelled: entry_safe needs `vmcs12 = any within SOURCE`: the capabilities L1's "
                        "VM entry is checked against")
    vm = ctx.model.vms[nested.vm]
    model, opened = pin_open_fields(ctx.model, vm)
    try:
        built = build_state(model, vm.name, iommus=False)
    except BuildError as err:
        return Outcome(Verdict.ERROR, f"cannot build {vm.name}'s state: {err}", reason="build")
    platform = built.state
    # L0 executes VMLAUNCH of vmcs02 with the EFER its own VM exits restore (as vmentry_valid).
    if platform.cpu.efer is None and "HOST_IA32_EFER" in platform.vmcs:
        platform.cpu.efer = platform.vmcs["HOST_IA32_EFER"]
    env = _Env(vm, built, opened)
    try:
        vmcs02, assumptions, _ = _lower(ctx, nested, vm, env)
    except (LoweringError, ir.IRTypeError) as err:
        return _unknown(f"not-modelled: cannot lower the nested block's definitions or assumptions: {err}")
    constraints = [*_vmcs01_domains(opened), *_bounds(nested.vmcs12), *assumptions]
    view12 = _view12(nested.vmcs12, built)
    defaults12 = _defaults12(nested.vmcs12)
    prefer: dict[ir.Var, int] | None = None
    if ctx.options.explain:
        prefer = {ir.var(VMCS12_PREFIX + name, info.bits): defaults12.get(name, 0)
                  for name, info in vmcs_fields.BY_NAME.items()}
        prefer.update({ir.var(_VMCS01_PREFIX + name, vmcs_fields.BY_NAME[name].bits): f.default
                       for name, f in opened.items()})
    verdict = check_entry_safe(platform, view12, vmcs02, constraints, ctx.options.timeout_ms, ctx.options.rlimit,
                               prefer)
    if verdict.status == "vacuous":
        return Outcome(Verdict.VACUOUS, verdict.reason, reason="vacuous")
    if verdict.status == "unknown":
        return Outcome(Verdict.UNKNOWN, f"the solver gave up: {verdict.reason}", reason=verdict.reason)
    if verdict.status == "proved":
        if verdict.unevaluated:
            rule, needs = next(iter(verdict.unevaluated.items()))
            return Outcome(Verdict.UNKNOWN, f"every other check holds for vmcs02, but {rule} needs {needs}",
                           reason="unevaluated")
        message = ("every vmcs12 that passes VM entry against "
                   f"{nested.vmcs12.source}'s capabilities gives a vmcs02 that passes VM entry")
        if ctx.options.explain:
            try:
                depends_on, notes = _explain(ctx, nested, vm, built, opened, view12)
            except (LoweringError, ir.IRTypeError) as err:
                depends_on, notes = (), {"explain_notes": [f"cannot lower the tracked facts: {err}"]}
            return Outcome(Verdict.PROVED, message, depends_on=depends_on, details=notes)
        return Outcome(Verdict.PROVED, message)
    rule = verdict.rules[0]
    state = replace(platform, vmcs=dict(verdict.vmcs02))
    document = state_document(replace(built, state=state), proof.span.path or None)
    document["cpu"] = {"efer": hex(platform.cpu.efer)} if platform.cpu.efer is not None else {}
    meta = dict(document.get("x-vmxspec", {}))  # type: ignore[call-overload]
    meta["vmcs02"] = "the VMCS L0 runs L2 on, for the vmcs12 in open_values (its fields not listed are 0)"
    document["x-vmxspec"] = meta
    # Fields vmcs01 needs but the spec never sets are free: name those the solver made non-zero,
    # since a violation may rest on them (the spec is then incomplete rather than the merge wrong).
    unset = sorted(name for name in env.unset if verdict.vmcs02.get(name))
    more = f" and {len(unset) - 4} more" if len(unset) > 4 else ""
    explanation = ("a vmcs12 that passes VM entry gives a vmcs02 that fails "
                   + "; ".join(f"{r} ({RULES[r].section})" for r in verdict.rules[:4])
                   + (f" ({len(env.unset)} vmcs01 fields the spec does not set were chosen freely"
                      + (f"; non-zero: {', '.join(unset[:4])}{more}" if unset else "") + ")" if env.unset else ""))
    chosen = {VMCS12_PREFIX + name: value for name, value in verdict.vmcs12.items()}
    cex = Counterexample(document, {"kind": "vmentry"}, {"match": {"result": "fail"}, "violates": rule},
                         explanation, chosen)
    details: dict[str, object] = {"violated": list(verdict.rules), "nested": nested.name}
    if ctx.options.explain:
        changed = {name: value for name, value in chosen.items()
                   if value != defaults12.get(name[len(VMCS12_PREFIX):], 0)}
        details["counterexample"] = counterexample_details(changed, verdict.minimal)
    return Outcome(Verdict.VIOLATED, f"a vmcs12 valid for L1 gives a vmcs02 that fails VM entry: {rule}", cex,
                   details=details)


def _lower(ctx: PropertyContext, nested: Nested, vm: Vm, env: _Env
           ) -> tuple[dict[str, ir.Term], list[ir.Term], list[Span]]:
    """vmcs02's field terms (definitions, then the documented defaults), and the assumptions that
    apply with their spans. Raises LoweringError / IRTypeError."""
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    lowerer = Lowerer(env)
    vmcs02: dict[str, ir.Term] = {}
    for name, definition in nested.vmcs02.items():
        if name in _BITMAPS:
            continue
        bits = _bits(name, definition.expr)
        value = lowerer.lower(definition.expr)
        vmcs02[name] = as_term(value, bits, definition.expr) if isinstance(value, int) or value.width <= bits \
            else value
    where = proof.args[1]
    for name, info in vmcs_fields.BY_NAME.items():
        if name not in vmcs02:  # the documented default: vmcs12's guest state, vmcs01's other fields
            vmcs02[name] = env.vmcs12(name, where) if info.group is vmcs_fields.Group.GUEST \
                else env.vmcs01(name, where)
    sources = [a for a in (*ctx.model.assumptions, *vm.assumptions, *nested.assumptions)
               if a.scope in (None, vm.name, nested.name)]
    return vmcs02, [lowerer.condition(a.condition) for a in sources], [a.span for a in sources]


def _defaults12(b: Vmcs12Bounds) -> dict[str, int]:
    """What a minimal counterexample leaves each vmcs12 control at: the bits its bound requires."""
    caps = b.caps or {}
    true_ctls = bool(BASIC["true_ctls"].get(caps.get("IA32_VMX_BASIC", 0)))
    out = {}
    for which in (ControlField.PIN, ControlField.PROC, ControlField.EXIT, ControlField.ENTRY):
        msr = which.true_capability_msr if true_ctls and which.true_capability_msr else which.capability_msr
        out[which.vmcs_field] = allowed0(caps.get(msr, 0)) & ((1 << vmcs_fields.BY_NAME[which.vmcs_field].bits) - 1)
    return out


def _explain(ctx: PropertyContext, nested: Nested, vm: Vm, built: Built, opened: Mapping[str, OpenField],
             view12: Vmcs12View) -> tuple[tuple[Span, ...], dict[str, object]]:
    """depends_on of a proof: lowered again with vmcs01's given fields and the vmcs02 definitions
    as tracked facts (see the module docstring)."""
    assert nested.vmcs12 is not None
    env = _Env(vm, built, opened, track=True)
    vmcs02, assumptions, assumption_spans = _lower(ctx, nested, vm, env)
    facts: dict[str, ir.Term] = {}
    spans: dict[str, Span] = {}
    for name, term in list(vmcs02.items()):
        if name in nested.vmcs02:  # a definition: its value becomes a variable the fact pins
            var = ir.var(f"vmcs02.defined.{name}", term.width)
            facts[f"def:{name}"], spans[f"def:{name}"] = ir.eq(var, term), nested.vmcs02[name].span
            vmcs02[name] = var
    given = fact_spans(vm)
    for name, (var, value) in env.given.items():
        facts[f"field:{name}"] = ir.eq(var, ir.bv(value, var.width))
        spans[f"field:{name}"] = given.get(("field", name), NOWHERE)
    for name, term in zip(opened, _vmcs01_domains(opened), strict=False):
        facts[f"domain:{name}"] = term
    for name, fv in vm.vmcs.fields.items():
        spans[f"domain:{name}"] = fv.span
    for i, term in enumerate(_bounds(nested.vmcs12)):
        facts[f"bounds:{i}"], spans[f"bounds:{i}"] = term, nested.vmcs12.span
    for i, (term, span) in enumerate(zip(assumptions, assumption_spans, strict=True)):
        facts[f"assume:{i}"], spans[f"assume:{i}"] = term, span
    anchors = {var: value for var, value in env.given.values()}
    core = explain_entry_safe(built.state, view12, vmcs02, [], facts, anchors, ctx.options.timeout_ms,
                              ctx.options.rlimit)
    details: dict[str, object] = {}
    if not core.found:
        details["explain_notes"] = [f"the unsat core could not be computed ({core.reason})"]
        return (), details
    if not core.minimal:
        details["explain_notes"] = ["the budget ran out: some lines listed may not be needed"]
    always = [nested.vmcs12.span] + ([ctx.model.platform.span] if ctx.model.platform is not None else [])
    return unique_lines([*always, *(spans.get(label) for label in core.labels)]), details
