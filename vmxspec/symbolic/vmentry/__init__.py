"""The second semantics of the SDM's VM-entry checks: one Z3 formula per rule, for ``vmentry_valid``.

``violations(sym)`` maps every rule id of the four VM-entry stages (controls, host, guest,
msr_load) to a Z3 boolean that is true exactly when the rule is violated. It is written from the
rule catalogue and the SDM, independently of the reference interpreter (``vmxspec.interp``), and
shares with it only ``vmxspec.arch``; the differential tests hold the two to the same verdicts.

Decisions, each documented where it is made:

* Unevaluated rules (host.py): HOST-ASSIZE-LMA needs the executing processor's ``cpu.efer``;
  without it the formula is ``False`` and ``unevaluated`` names the rule and the key it needs.
  ``vmentry_ok`` therefore does not depend on it; a property must report such a rule as open.
* MSR-load area (msr_load.py): count and address may both be open; memory is concrete. Entries are
  judged in Python; Z3 sees only which candidate entries fall inside the processed range.
* Memory reads at symbolic addresses (state.py): If chains over the non-zero words, never arrays.

``EntryEncoding`` builds the formulas once per state and answers any number of questions ("can
rule R be violated?", "can any rule?", "can every check pass?") on one solver, each in its own
push/pop scope.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import z3

from vmxspec.arch.rules import Stage, rules_for
from vmxspec.symbolic.state import SymbolicError, SymState
from vmxspec.symbolic.vmentry import controls, guest, host, msr_load
from vmxspec.symbolic.vmentry.common import Bool, Enc

#: The four stages of VM entry, in the order the processor performs them.
VMENTRY_STAGES: tuple[Stage, ...] = (Stage.CONTROLS, Stage.HOST, Stage.GUEST, Stage.MSR_LOAD)

_ENCODERS: dict[Stage, Callable[[Enc], dict[str, Bool]]] = {
    Stage.CONTROLS: controls.encode,
    Stage.HOST: host.encode,
    Stage.GUEST: guest.encode,
    Stage.MSR_LOAD: msr_load.encode,
}

#: Default bounds for every solver call (DESIGN.md: timeouts are ``unknown``, never ``proved``).
DEFAULT_TIMEOUT_MS = 30_000
DEFAULT_RLIMIT = 50_000_000


def _stages(stages: Iterable[Stage | str]) -> tuple[Stage, ...]:
    chosen = {Stage(s) for s in stages}
    bad = chosen - set(VMENTRY_STAGES)
    if bad:
        raise SymbolicError(f"not a VM-entry stage: {', '.join(sorted(s.value for s in bad))}")
    return tuple(s for s in VMENTRY_STAGES if s in chosen)


def catalogue_ids(stages: Iterable[Stage | str] = VMENTRY_STAGES) -> frozenset[str]:
    """The rule ids the catalogue lists for ``stages``: exactly what ``violations`` covers."""
    return frozenset(r.id for s in _stages(stages) for r in rules_for(s))


def violations(sym: SymState, stages: Iterable[Stage | str] = VMENTRY_STAGES,
               simplify: bool = True) -> dict[str, Bool]:
    """Rule id -> a formula that is true exactly when the rule is violated.

    With ``simplify`` (the default) each formula is partially evaluated by ``z3.simplify``: over a
    fully concrete state every formula is the constant True or False.
    """
    e = Enc(sym)
    out: dict[str, Bool] = {}
    for stage in _stages(stages):
        encoded = _ENCODERS[stage](e)
        expected = {r.id for r in rules_for(stage)}
        if set(encoded) != expected:
            raise SymbolicError(f"internal: the {stage.value} encoder covers {sorted(set(encoded) ^ expected)} "
                                "differently from the rule catalogue")
        for rule in rules_for(stage):
            formula = encoded[rule.id]
            out[rule.id] = z3.simplify(formula) if simplify else formula
    return out


def unevaluated(sym: SymState, stages: Iterable[Stage | str] = VMENTRY_STAGES) -> dict[str, str]:
    """Rules that cannot be decided for ``sym`` (their formula is False), with the state key they need."""
    return host.unevaluated(Enc(sym)) if Stage.HOST in _stages(stages) else {}


def vmentry_ok(sym: SymState, stages: Iterable[Stage | str] = VMENTRY_STAGES) -> Bool:
    """No rule of ``stages`` is violated (unevaluated rules do not count: see ``unevaluated``)."""
    return z3.simplify(z3.Not(z3.Or(False, *violations(sym, stages).values())))


@dataclass(frozen=True, slots=True)
class Witness:
    """Values of the open fields under which ``violated`` (every rule the model breaks) fail."""

    fields: dict[str, int]
    violated: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    """The solver's answer to "is there a value of the open fields that violates ...?".

    ``sat``: yes, and ``witness`` says which values; ``unsat``: no value does (the rule holds for
    every value of the open fields); ``unknown``: the solver gave up (``reason`` says why).
    """

    status: Literal["sat", "unsat", "unknown"]
    witness: Witness | None = None
    reason: str = ""


@dataclass(slots=True)
class EntryEncoding:
    """Every VM-entry rule of one state, encoded once and asked about any number of times.

    The formulas are built (and partially evaluated) once, in ``__post_init__``. Each question runs
    on one long-lived solver inside a push/pop scope that holds only what that question needs (the
    one rule's formula, or the disjunction of all of them), so a question about a simple rule does
    not pay for the If chains of another; each call is bounded by ``timeout_ms`` and ``rlimit``.
    """

    sym: SymState
    stages: tuple[Stage, ...] = VMENTRY_STAGES
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    rlimit: int = DEFAULT_RLIMIT
    formulas: dict[str, Bool] = field(init=False)
    unevaluated: dict[str, str] = field(init=False)
    _solver: z3.Solver = field(init=False, repr=False)
    _any: Bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.timeout_ms <= 0 or self.rlimit <= 0:
            raise SymbolicError("timeout and rlimit must be positive (0 would mean no limit)")
        self.stages = _stages(self.stages)
        self.formulas = violations(self.sym, self.stages)
        self.unevaluated = unevaluated(self.sym, self.stages)
        self._solver = z3.Solver()
        self._solver.set("timeout", self.timeout_ms)
        self._solver.set("rlimit", self.rlimit)
        self._any = z3.simplify(z3.Or(False, *self.formulas.values()))

    @property
    def ok(self) -> Bool:
        """True exactly when no rule is violated."""
        return z3.simplify(z3.Not(self._any))

    def possibly_violated(self) -> frozenset[str]:
        """Rules whose formula is not the constant False (the only ones worth asking about)."""
        return frozenset(rule for rule, formula in self.formulas.items() if not z3.is_false(formula))

    def find_violation(self, rule: str | None = None, assume: Iterable[Bool] = ()) -> Answer:
        """Is there a value of the open fields that violates ``rule`` (any rule, if None)?

        ``assume`` adds constraints on the open fields (e.g. a spec's ``assume``), for this question
        only.
        """
        if rule is not None and rule not in self.formulas:
            raise SymbolicError(f"'{rule}' is not a rule of the stages encoded here")
        goal = self._any if rule is None else self.formulas[rule]
        return self._ask(goal, assume)

    def holds(self, assume: Iterable[Bool] = ()) -> Answer:
        """Is there a value of the open fields that passes every check? (The vacuity question.)"""
        return self._ask(self.ok, assume)

    def _ask(self, goal: Bool, assume: Iterable[Bool]) -> Answer:
        extra = list(assume)
        if z3.is_false(goal) and not extra:
            return Answer("unsat")  # folded away: no solver call needed
        self._solver.push()
        try:
            self._solver.add(goal, *extra)
            result = self._solver.check()
            if result == z3.sat:
                return Answer("sat", self._witness(self._solver.model()))
            if result == z3.unsat:
                return Answer("unsat")
            return Answer("unknown", reason=self._solver.reason_unknown())
        finally:
            self._solver.pop()

    def violated_by(self, values: Mapping[str, int]) -> frozenset[str]:
        """The rules violated when the open fields take ``values`` (evaluated in Z3, no solving)."""
        pins = self.sym.pins(values)
        return frozenset(rule for rule, formula in self.formulas.items()
                         if z3.is_true(z3.simplify(z3.substitute(formula, *pins) if pins else formula)))

    def _witness(self, model: z3.ModelRef) -> Witness:
        fields = self.sym.values_from_model(model)
        violated = tuple(rule for rule, formula in self.formulas.items()
                         if z3.is_true(model.eval(formula, model_completion=True)))
        return Witness(fields, violated)


def find_violation(sym: SymState, rule: str | None = None, stages: Iterable[Stage | str] = VMENTRY_STAGES,
                   timeout_ms: int = DEFAULT_TIMEOUT_MS) -> Answer:
    """One-shot form of ``EntryEncoding(sym).find_violation(rule)``."""
    return EntryEncoding(sym, _stages(stages), timeout_ms).find_violation(rule)


__all__ = [
    "VMENTRY_STAGES",
    "Answer",
    "EntryEncoding",
    "SymState",
    "SymbolicError",
    "Witness",
    "catalogue_ids",
    "find_violation",
    "unevaluated",
    "violations",
    "vmentry_ok",
]
