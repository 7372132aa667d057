"""``vmentry_valid`` over the open fields of a spec: the solver side of the property.

The property (``vmxspec.properties.vmentry_valid``) builds the concrete state with placeholder
values for the open fields; here those fields become variables again, restricted to their
``any`` domain and to the spec's assumptions (IR terms), and the solver answers two questions on
one solver: can the assumptions hold at all (vacuity), and can any rule be violated under them?

With ``explain`` (``vmxspec check --explain``), after the verdict is decided as above:

* a proof is asked again with every field the spec pins made a variable (``SymState`` anchors)
  and "field = its value" a tracked fact, as are each open field's domain and each assumption;
  the minimal unsat core (``solver.minimal_core``) names the facts, ``field:NAME`` and
  ``assume:I``, the proof needs. Capabilities stay Python constants: they are not in the core.
* a violation is searched again for the model that moves the fewest open fields off their
  default (the lowest value their domain admits), ``solver.fewest_changes``.

Neither step can change the verdict: both run only after it is known, on a separate solver.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import z3

from vmxspec import ir
from vmxspec.state import State
from vmxspec.symbolic.ir_to_z3 import Encoder
from vmxspec.symbolic.solver import Budget, fewest_changes, minimal_core
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import EntryEncoding, Witness


@dataclass(frozen=True, slots=True)
class OpenField:
    """An open VMCS field: the bits the solver may choose and the value ranges it must stay in."""

    mask: int
    domain: tuple[tuple[int, int], ...] | None = None

    @property
    def default(self) -> int:
        """The value a counterexample prefers: the lowest its domain starts at (0 without one),
        with the bits it may not set cleared."""
        low = self.domain[0][0] if self.domain else 0
        return low & self.mask


@dataclass(frozen=True, slots=True)
class EntryVerdict:
    status: Literal["proved", "violated", "unknown", "vacuous"]
    values: dict[str, int]
    violated: tuple[str, ...] = ()
    reason: str = ""
    unevaluated: Mapping[str, str] | None = None
    smtlib: str = ""
    #: Explain, proved: the facts the proof needs (``field:NAME``, ``assume:I``); None when the
    #: core could not be computed (``core_note`` says why).
    core: tuple[str, ...] | None = None
    core_note: str = ""
    #: Explain, violated: whether ``values`` moves the fewest open fields off their defaults.
    minimal: bool | None = None


def _domain(var: z3.BitVecRef, domain: tuple[tuple[int, int], ...]) -> z3.BoolRef:
    return z3.Or(False, *(z3.And(z3.UGE(var, lo), z3.ULT(var, hi)) if hi < 1 << var.size() else z3.UGE(var, lo)
                          for lo, hi in domain))


def check_entry(state: State, open_fields: Mapping[str, OpenField], assumptions: Iterable[ir.Term],
                timeout_ms: int, rlimit: int, explain: bool = False) -> EntryVerdict:
    sym = SymState.from_state(state, {name: f.mask for name, f in open_fields.items()})
    encoding = EntryEncoding(sym, timeout_ms=timeout_ms, rlimit=rlimit)
    encoder = Encoder(z3.main_ctx())
    assumptions = list(assumptions)
    constraints: list[z3.BoolRef] = []
    for name, f in open_fields.items():
        if f.domain is not None:
            constraints.append(_domain(sym.field(name), f.domain))
    constraints.extend(encoder.encode(term) for term in assumptions)
    smtlib = _smtlib(encoding, constraints)
    feasible = _satisfiable(constraints, timeout_ms, rlimit) if constraints else "sat"
    if feasible == "unsat":
        return EntryVerdict("vacuous", {}, reason="the open fields' domains and the assumptions cannot all hold",
                            smtlib=smtlib)
    answer = encoding.find_violation(None, constraints)
    if answer.status == "sat":
        assert answer.witness is not None
        if explain:
            values, violated, minimal = _fewest(encoding, open_fields, constraints, answer.witness, timeout_ms,
                                                rlimit)
            return EntryVerdict("violated", values, violated, smtlib=smtlib, minimal=minimal)
        return EntryVerdict("violated", dict(answer.witness.fields), answer.witness.violated, smtlib=smtlib)
    if answer.status == "unknown" or feasible == "unknown":
        return EntryVerdict("unknown", {}, reason=answer.reason or "the solver could not decide the assumptions",
                            smtlib=smtlib)
    if explain:
        core, note = _core(state, open_fields, assumptions, timeout_ms, rlimit)
        return EntryVerdict("proved", {}, unevaluated=dict(encoding.unevaluated), smtlib=smtlib, core=core,
                            core_note=note)
    return EntryVerdict("proved", {}, unevaluated=dict(encoding.unevaluated), smtlib=smtlib)


def _core(state: State, open_fields: Mapping[str, OpenField], assumptions: list[ir.Term], timeout_ms: int,
          rlimit: int) -> tuple[tuple[str, ...] | None, str]:
    """The facts a proof needs (see the module docstring): every given field anchored, the query
    asked on a fresh solver with each fact tracked."""
    anchors = set(state.vmcs) - set(open_fields)
    sym = SymState.from_state(state, {name: f.mask for name, f in open_fields.items()}, anchors=anchors)
    encoding = EntryEncoding(sym, timeout_ms=timeout_ms, rlimit=rlimit)
    encoder = Encoder(z3.main_ctx())
    facts: dict[str, z3.BoolRef] = {f"field:{name}": fact for name, fact in sorted(sym.anchor_facts().items())}
    for name, f in open_fields.items():
        if f.domain is not None:
            facts[f"field:{name}"] = _domain(sym.field(name), f.domain)
    for i, term in enumerate(assumptions):
        facts[f"assume:{i}"] = encoder.encode(term)
    solver = z3.Solver()
    solver.add(z3.Not(encoding.ok))
    core = minimal_core(solver, facts, Budget(timeout_ms, rlimit))
    if not core.found:
        return None, f"the unsat core could not be computed ({core.reason})"
    return core.labels, "" if core.minimal else "the core may not be minimal (the budget ran out)"


def _fewest(encoding: EntryEncoding, open_fields: Mapping[str, OpenField], constraints: list[z3.BoolRef],
            first: Witness, timeout_ms: int, rlimit: int) -> tuple[dict[str, int], tuple[str, ...], bool]:
    """A violation whose open fields differ from their defaults as little as any can (``first``,
    the one already found, when the search cannot even start within the budget)."""
    sym = encoding.sym
    solver = z3.Solver()
    solver.add(*constraints, z3.Not(encoding.ok))
    budget = Budget(timeout_ms, rlimit)
    if budget.check(solver) != z3.sat:
        return dict(first.fields), first.violated, False
    changes = {name: sym.field(name) != z3.BitVecVal(f.default, sym.field(name).size())
               for name, f in open_fields.items()}
    model, minimal = fewest_changes(solver, changes, solver.model(), budget)
    values = sym.values_from_model(model)
    violated = tuple(rule for rule, formula in encoding.formulas.items()
                     if z3.is_true(model.eval(formula, model_completion=True)))
    return values, violated, minimal


def _satisfiable(constraints: list[z3.BoolRef], timeout_ms: int, rlimit: int) -> str:
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.set("rlimit", rlimit)
    solver.add(*constraints)
    return str(solver.check())


def _smtlib(encoding: EntryEncoding, constraints: list[z3.BoolRef]) -> str:
    solver = z3.Solver()
    solver.add(*constraints)
    solver.add(z3.Not(encoding.ok))
    text: str = solver.to_smt2()
    return text
