"""``entry_safe(vmcs12, vmcs02)``: the solver side. Two VMCSs, one solver.

vmcs12 is a ``SymState`` whose every field is open (variables ``vmcs12.NAME``, at each field's
architectural width), checked against the capabilities L1 sees. vmcs02 is a ``DefinedState``: a
``SymState`` whose fields are arbitrary Z3 terms over those variables (and over vmcs01's open or
unset fields), checked against the real platform's capabilities. The question is one solver call:
is there a vmcs12, within the bounds, that passes every VM-entry check while the vmcs02 built from
it fails one? ``unsat`` proves the property.

Both states read the same concrete memory (the L1 state's): the VM-entry encoder never makes
memory symbolic, and vmcs02's memory-reading checks (link pointer, MSR-load area, PDPTEs) are then
judged on exactly the memory the counterexample carries, so the interpreter's replay sees the same.

For ``--explain``: ``explain_entry_safe`` asks the proof's question again with the property's
labelled facts (vmcs01's given fields as variables pinned by tracked equalities, the vmcs02
definitions, bounds, assumptions) and returns the minimal unsat core's labels; with ``prefer``,
``check_entry_safe`` returns the violation whose open values (vmcs12's fields, vmcs01's open
fields) move off their defaults the least (``solver.fewest_changes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Literal

import z3

from vmxspec import ir
from vmxspec.arch import vmcs_fields
from vmxspec.state import State
from vmxspec.symbolic.ir_to_z3 import Encoder
from vmxspec.symbolic.solver import Budget, Core, fewest_changes, minimal_core
from vmxspec.symbolic.state import BV, SymbolicError, SymState
from vmxspec.symbolic.vmentry import unevaluated, violations

#: Name prefix of vmcs12's variables (shared with the property, which lowers ``vmcs12.F`` to them).
VMCS12_PREFIX = "vmcs12."


@dataclass(slots=True)
class DefinedState(SymState):
    """A ``SymState`` whose fields are given Z3 terms (``defined``), e.g. vmcs02's merge of vmcs01
    and vmcs12. ``SymState`` holds only constants or per-field variables; a derived VMCS needs
    expressions over *another* state's variables, which is all this subclass adds. Every defined
    term must have its field's architectural width; undefined fields behave as in ``SymState``."""

    defined: dict[str, BV] = dc_field(default_factory=dict)

    def __post_init__(self) -> None:
        SymState.__post_init__(self)
        for name, term in self.defined.items():
            info = vmcs_fields.BY_NAME.get(name)
            if info is None:
                raise SymbolicError(f"'{name}' is not a VMCS field")
            if not z3.is_bv(term) or term.size() != info.bits:
                raise SymbolicError(f"the term for {name} must be a {info.bits}-bit vector")

    def field(self, name: str) -> BV:
        term = self.defined.get(name)
        # SymState is a slots dataclass: zero-argument super() does not work in its subclasses.
        return term if term is not None else SymState.field(self, name)

    def values(self, model: z3.ModelRef) -> dict[str, int]:
        """Every VMCS field's value in ``model``: a complete, concrete VMCS."""
        return {name: model.eval(self.field(name), model_completion=True).as_long() for name in vmcs_fields.BY_NAME}


@dataclass(frozen=True, slots=True)
class Vmcs12View:
    """What L1 sees when it launches vmcs12: the capabilities L0 advertises and L1's address
    widths; ``efer`` is L1's IA32_EFER (the processor executing L1's VMLAUNCH), None if unknown."""

    caps: Mapping[str, int]
    maxphyaddr: int | None
    maxlinaddr: int | None
    efer: int | None


@dataclass(frozen=True, slots=True)
class SafeVerdict:
    """``violated``: ``vmcs02`` (complete) fails ``rules`` for the vmcs12 ``vmcs12`` (its non-zero
    fields); ``vacuous``: no vmcs12 within the bounds passes VM entry; ``unknown``: ``reason``."""

    status: Literal["proved", "violated", "unknown", "vacuous"]
    vmcs02: dict[str, int] = dc_field(default_factory=dict)
    vmcs12: dict[str, int] = dc_field(default_factory=dict)
    rules: tuple[str, ...] = ()
    reason: str = ""
    unevaluated: Mapping[str, str] = dc_field(default_factory=dict)
    #: With ``prefer``, violated: whether no violation moves fewer open values off their defaults.
    minimal: bool | None = None


def _fit(term: BV, bits: int) -> BV:
    """A definition's value at the field's width: VMWRITE keeps the low bits of a wider value."""
    if term.size() > bits:
        return z3.Extract(bits - 1, 0, term)
    if term.size() < bits:
        return z3.ZeroExt(bits - term.size(), term)
    return term


def _encode(platform: State, view12: Vmcs12View, vmcs02: Mapping[str, ir.Term], encoder: Encoder,
            anchors: Mapping[ir.Var, int] | None = None) -> tuple[SymState, DefinedState, z3.BoolRef,
                                                                  dict[str, z3.BoolRef]]:
    """vmcs12's and vmcs02's states, "vmcs12 passes" and vmcs02's violated rules. ``anchors``
    (explain): variables standing for given values, for the havoc reading of memory."""
    missing = set(vmcs_fields.BY_NAME) - set(vmcs02)
    if missing:
        raise SymbolicError(f"vmcs02 needs a term for every field; missing {', '.join(sorted(missing)[:4])}")
    sym12 = SymState.from_dicts({}, dict(view12.caps), dict(platform.memory), open_fields=list(vmcs_fields.BY_NAME),
                                maxphyaddr=view12.maxphyaddr, maxlinaddr=view12.maxlinaddr,
                                in_smm=platform.cpu.in_smm, efer=view12.efer, prefix=VMCS12_PREFIX)
    defined = {name: _fit(encoder.encode(term), vmcs_fields.BY_NAME[name].bits) for name, term in vmcs02.items()}
    sym02 = DefinedState(vmcs={}, caps=dict(platform.caps), memory=dict(platform.memory),
                         maxphyaddr=platform.maxphyaddr, maxlinaddr=platform.maxlinaddr, in_smm=platform.cpu.in_smm,
                         efer=platform.cpu.efer, prefix="vmcs02.", defined=defined)
    if anchors:
        sym02.add_anchor_pins([(encoder.constant(var), z3.BitVecVal(value, var.sort.width))
                               for var, value in anchors.items()])
    # Rules vmcs12 cannot be judged on (HOST-ASSIZE-LMA without L1's EFER) are left out of ok12:
    # that admits more vmcs12s, which only makes a proof stronger.
    ok12 = z3.Not(z3.Or(False, *violations(sym12).values()))
    return sym12, sym02, ok12, violations(sym02)


def check_entry_safe(platform: State, view12: Vmcs12View, vmcs02: Mapping[str, ir.Term],
                     constraints: Iterable[ir.Term], timeout_ms: int, rlimit: int,
                     prefer: Mapping[ir.Var, int] | None = None) -> SafeVerdict:
    """Is there a vmcs12 (within ``constraints``) passing VM entry under ``view12`` whose vmcs02
    (``vmcs02``: an IR term per field, over ``vmcs12.NAME`` and other variables) fails VM entry
    on ``platform`` (its capabilities, widths, memory and the executing processor's EFER)?
    ``prefer`` (explain): the open values with their defaults; a violation then moves the fewest
    of them (vmcs12 fields by their ``vmcs12.NAME`` variables)."""
    encoder = Encoder(z3.main_ctx())
    sym12, sym02, ok12, bad02 = _encode(platform, view12, vmcs02, encoder)
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.set("rlimit", rlimit)
    solver.add(*(encoder.encode(c) for c in constraints), ok12)
    feasible = solver.check()
    if feasible == z3.unsat:
        return SafeVerdict("vacuous", reason="no vmcs12 within the bounds and assumptions passes VM entry")
    if feasible != z3.sat:
        return SafeVerdict("unknown", reason=solver.reason_unknown())
    solver.add(z3.Or(False, *bad02.values()))
    result = solver.check()
    if result == z3.unsat:
        return SafeVerdict("proved", unevaluated=unevaluated(sym02))
    if result != z3.sat:
        return SafeVerdict("unknown", reason=solver.reason_unknown())
    model = solver.model()
    minimal: bool | None = None
    if prefer is not None:
        changes = {var.name: encoder.constant(var) != z3.BitVecVal(value, var.sort.width)
                   for var, value in prefer.items()}
        model, minimal = fewest_changes(solver, changes, model, Budget(timeout_ms, rlimit))
    rules = tuple(rule for rule, formula in bad02.items() if z3.is_true(model.eval(formula, model_completion=True)))
    chosen12 = {name: value for name, value in sym12.values_from_model(model).items() if value}
    return SafeVerdict("violated", sym02.values(model), chosen12, rules, minimal=minimal)


def explain_entry_safe(platform: State, view12: Vmcs12View, vmcs02: Mapping[str, ir.Term],
                       constraints: Iterable[ir.Term], facts: Mapping[str, ir.Term], anchors: Mapping[ir.Var, int],
                       timeout_ms: int, rlimit: int) -> Core:
    """Which of ``facts`` (label -> IR condition) a proof of ``entry_safe`` needs, ``vmcs02`` and
    ``constraints`` being written over the variables the facts pin (``anchors``: those standing
    for one given value each). ``constraints`` are what the property takes as given regardless.
    Where either a definition or another fact would do, the core keeps the definition (labels
    ``def:...``): the merge is what the property is about."""
    encoder = Encoder(z3.main_ctx())
    _, _, ok12, bad02 = _encode(platform, view12, vmcs02, encoder, anchors)
    solver = z3.Solver()
    solver.add(*(encoder.encode(c) for c in constraints), ok12, z3.Or(False, *bad02.values()))
    return minimal_core(solver, {label: encoder.encode(term) for label, term in facts.items()},
                        Budget(timeout_ms, rlimit), prefer=[label for label in facts if label.startswith("def:")])
