"""The solver driver: prove an IR goal under IR assumptions, and say exactly what was shown.

Verdicts (DESIGN.md, "Verdicts and exit codes"):

* ``Proved``: the assumptions with the goal's negation are unsat, *and* the assumptions alone are
  sat. Both checks are needed: under unsatisfiable assumptions every goal "holds", and that is
  reported as ``Vacuous``, never as a proof.
* ``Violated``: a model of the assumptions where the goal is false, as a value for every free IR
  variable of the goal and the assumptions (booleans as 0/1). The checker replays it in the
  reference interpreter before reporting it; this module does not import the interpreter.
* ``Unknown``: the solver gave up, with the reason (timeout, resource limit, or incompleteness such
  as a quantifier it could not decide) and which check it was. Never a proof.
* ``Vacuous``: the assumptions are unsatisfiable.

Every solver call is bounded by both a timeout (wall clock, for people) and an rlimit (Z3's
deterministic resource counter, per call: the same query gives the same answer on any machine).
Neither may be 0, which Z3 reads as "no limit".

Incremental use: a ``Session`` asserts its assumptions once, in one Z3 context, and proves any
number of goals against them; each goal's negation lives in a push/pop scope, the encoding cache
and Z3's learned lemmas carry over, and the vacuity check runs once per session (its definite
answer is cached). Unsat cores cost time, so they are computed only with ``explain=True``: each
assumption is then guarded by a fresh literal (``p_i => A_i``), checked under those literals, and
the core's literals map back to the assumptions and their sources, and to the sources of the
variables they mention.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

import z3

from vmxspec.ir.terms import Term, Var, free_vars
from vmxspec.symbolic.ir_to_z3 import UNROLL_LIMIT, Encoder

DEFAULT_TIMEOUT_MS = 30_000
#: About a minute of Z3 work on a current core; the timeout usually binds first.
DEFAULT_RLIMIT = 300_000_000


@dataclass(frozen=True, slots=True)
class Assumption:
    """A constraint the goal may rely on, with where it came from (a Span, for ``--explain``)."""

    term: Term
    source: object = None
    label: str = ""


class UnknownReason(Enum):
    TIMEOUT = "timeout"
    RLIMIT = "rlimit"
    INCOMPLETE = "incomplete"


@dataclass(frozen=True, slots=True)
class Proved:
    """The goal holds under the assumptions, which are satisfiable.

    ``core`` (only with ``explain=True``) is a subset of the assumptions that already implies the
    goal; ``sources`` their sources and those of the variables in the goal and the core, in order.
    """

    time_s: float
    core: tuple[Assumption, ...] | None = None
    sources: tuple[object, ...] = ()
    status: str = field(default="proved", init=False)


@dataclass(frozen=True, slots=True)
class Violated:
    """A model of the assumptions where the goal is false: every free variable's value."""

    model: Mapping[Var, int]
    time_s: float
    status: str = field(default="violated", init=False)


@dataclass(frozen=True, slots=True)
class Unknown:
    """The solver could not decide; ``check`` says which check ("goal" or "vacuity")."""

    reason: UnknownReason
    detail: str
    check: str
    time_s: float
    status: str = field(default="unknown", init=False)


@dataclass(frozen=True, slots=True)
class Vacuous:
    """The assumptions are unsatisfiable (``core``: a conflicting subset, with ``explain=True``)."""

    time_s: float
    core: tuple[Assumption, ...] | None = None
    sources: tuple[object, ...] = ()
    status: str = field(default="vacuous", init=False)


Verdict = Proved | Violated | Unknown | Vacuous


def unknown_reason(z3_reason: str, *, rlimit_exhausted: bool = False, timed_out: bool = False) -> UnknownReason:
    """Classify an unknown from Z3's ``reason_unknown()`` and what the call measured.

    Z3 names the limit it hit when solving from scratch ("timeout", "max. resource limit
    exceeded"), but in incremental mode (after a push, or with assumption literals) it says only
    "canceled" for either; the resources the call used and its duration then decide.
    """
    text = z3_reason.lower()
    if "resource" in text or "rlimit" in text:
        return UnknownReason.RLIMIT
    if "timeout" in text:
        return UnknownReason.TIMEOUT
    if "canceled" in text and rlimit_exhausted:
        return UnknownReason.RLIMIT
    if "canceled" in text and timed_out:
        return UnknownReason.TIMEOUT
    return UnknownReason.INCOMPLETE


def _as_assumption(item: Assumption | Term) -> Assumption:
    assumption = item if isinstance(item, Assumption) else Assumption(item)
    if not isinstance(assumption.term, Term) or not assumption.term.sort.is_bool:
        raise TypeError(f"an assumption must be a bool IR term, got {assumption.term!r}")
    return assumption


def _check_limits(timeout_ms: int, rlimit: int) -> None:
    if timeout_ms <= 0 or rlimit <= 0:
        raise ValueError(
            f"every solver call must be bounded: timeout_ms={timeout_ms}, rlimit={rlimit} (0 means unlimited)")


class Session:
    """Goals proved against one set of assumptions, incrementally (see the module docstring)."""

    def __init__(self, assumptions: Iterable[Assumption | Term] = (), *, timeout_ms: int = DEFAULT_TIMEOUT_MS,
                 rlimit: int = DEFAULT_RLIMIT, explain: bool = False, unroll_limit: int = UNROLL_LIMIT) -> None:
        _check_limits(timeout_ms, rlimit)
        self.timeout_ms = timeout_ms
        self.rlimit = rlimit
        self.explain = explain
        self.assumptions = tuple(_as_assumption(a) for a in assumptions)
        self.encoder = Encoder(z3.Context(), unroll_limit=unroll_limit)
        self.solver = z3.Solver(ctx=self.encoder.ctx)
        #: How many times Z3 was asked (tests and benchmarks read it to see reuse at work).
        self.calls = 0
        self._literals: list[z3.ExprRef] = []
        self._tracked: dict[str, Assumption] = {}  # literal name -> what it guards
        if explain:
            self.solver.set("core.minimize", True)
        for assumption in self.assumptions:
            encoded = self.encoder.encode(assumption.term)
            if explain:
                literal = z3.FreshBool("vmxspec!assume", self.encoder.ctx)
                self._literals.append(literal)
                self._tracked[str(literal)] = assumption
                self.solver.add(z3.Implies(literal, encoded))
            else:
                self.solver.add(encoded)
        self._satisfiable: Vacuous | bool | None = None  # None: not decided yet; True: sat
        self._exhausted = (False, False)  # the last unknown call: (rlimit used up, timeout reached)

    def _rlimit_count(self) -> int:
        try:
            return int(self.solver.statistics().get_key_value("rlimit count"))
        except z3.Z3Exception:  # no check has run yet
            return 0

    def _check(self, timeout_ms: int | None, rlimit: int | None) -> z3.CheckSatResult:
        timeout_ms = self.timeout_ms if timeout_ms is None else timeout_ms
        rlimit = self.rlimit if rlimit is None else rlimit
        _check_limits(timeout_ms, rlimit)
        self.solver.set("timeout", timeout_ms)
        self.solver.set("rlimit", rlimit)
        self.calls += 1
        before, started = self._rlimit_count(), time.perf_counter()
        result = self.solver.check(*self._literals)
        if result == z3.unknown:
            self._exhausted = (self._rlimit_count() - before >= rlimit,
                               (time.perf_counter() - started) * 1000 >= timeout_ms)
        return result

    def _unknown(self, check: str, started: float) -> Unknown:
        text = self.solver.reason_unknown()
        rlimit_exhausted, timed_out = self._exhausted
        reason = unknown_reason(text, rlimit_exhausted=rlimit_exhausted, timed_out=timed_out)
        return Unknown(reason, text, check, time.perf_counter() - started)

    def _core(self) -> tuple[Assumption, ...] | None:
        """After unsat with ``explain``: the assumptions in the core, in the order they were given."""
        if not self.explain:
            return None
        in_core = {str(literal) for literal in self.solver.unsat_core()}
        return tuple(a for name, a in self._tracked.items() if name in in_core)

    @staticmethod
    def _sources(core: tuple[Assumption, ...] | None, *terms: Term) -> tuple[object, ...]:
        """The sources of the core's assumptions, then of the variables in them and in ``terms``."""
        if core is None:
            return ()
        found: list[object] = []
        candidates = [a.source for a in core] + [v.source for v in free_vars(*(a.term for a in core), *terms)]
        for source in candidates:
            if source is not None and not any(source == known for known in found):
                found.append(source)
        return tuple(found)

    def _model(self, goal: Term) -> dict[Var, int]:
        model = self.solver.model()
        values: dict[Var, int] = {}
        for var in free_vars(goal, *(a.term for a in self.assumptions)):
            value = model.eval(self.encoder.constant(var), model_completion=True)
            values[var] = int(z3.is_true(value)) if var.sort.is_bool else int(value.as_long())
        return values

    def _vacuity(self, started: float, timeout_ms: int | None, rlimit: int | None) -> Verdict | None:
        """None when the assumptions are satisfiable; else the verdict that replaces "proved"."""
        if self._satisfiable is True:
            return None
        if isinstance(self._satisfiable, Vacuous):
            return self._satisfiable
        result = self._check(timeout_ms, rlimit)
        if result == z3.sat:
            self._satisfiable = True
            return None
        if result == z3.unsat:
            core = self._core()
            self._satisfiable = Vacuous(time.perf_counter() - started, core, self._sources(core))
            return self._satisfiable
        return self._unknown("vacuity", started)

    def prove(self, goal: Term, *, timeout_ms: int | None = None, rlimit: int | None = None) -> Verdict:
        """Decide ``goal`` under the session's assumptions (limits default to the session's)."""
        if not isinstance(goal, Term) or not goal.sort.is_bool:
            raise TypeError(f"a goal must be a bool IR term, got {goal!r}")
        started = time.perf_counter()
        self.solver.push()
        try:
            self.solver.add(z3.Not(self.encoder.encode(goal)))
            result = self._check(timeout_ms, rlimit)
            if result == z3.sat:
                return Violated(self._model(goal), time.perf_counter() - started)
            if result == z3.unknown:
                return self._unknown("goal", started)
            core = self._core()
        finally:
            self.solver.pop()
        vacuous = self._vacuity(started, timeout_ms, rlimit)
        if vacuous is not None:
            return vacuous
        return Proved(time.perf_counter() - started, core, self._sources(core, goal))


def prove(goal: Term, assumptions: Iterable[Assumption | Term] = (), *, timeout_ms: int = DEFAULT_TIMEOUT_MS,
          rlimit: int = DEFAULT_RLIMIT, explain: bool = False, unroll_limit: int = UNROLL_LIMIT) -> Verdict:
    """One goal under ``assumptions`` (a one-goal ``Session``; use a Session for several)."""
    session = Session(assumptions, timeout_ms=timeout_ms, rlimit=rlimit, explain=explain, unroll_limit=unroll_limit)
    return session.prove(goal)


def to_smtlib(goal: Term, assumptions: Iterable[Assumption | Term] = (), *, unroll_limit: int = UNROLL_LIMIT) -> str:
    """The query ``prove`` asks, as an SMT-LIB 2 script, for reproduction bundles.

    It asserts the assumptions and the goal's negation: ``sat`` means violated, ``unsat`` proved
    (if the assumptions alone are sat).
    """
    encoder = Encoder(z3.Context(), unroll_limit=unroll_limit)
    solver = z3.Solver(ctx=encoder.ctx)
    items = [_as_assumption(a) for a in assumptions]
    for assumption in items:
        solver.add(encoder.encode(assumption.term))
    solver.add(z3.Not(encoder.encode(goal)))
    header = [
        "; vmxspec query: the assumptions and the negated goal.",
        "; sat: the goal is violated (the model is a counterexample); unsat: the goal holds",
        "; (a proof only if the assumptions alone are sat).",
    ]
    for i, assumption in enumerate(items, 1):
        where = assumption.label or ("" if assumption.source is None else str(assumption.source))
        header.append(f"; assumption {i}: {' '.join(where.split())}".rstrip())
    return "\n".join(header) + "\n" + str(solver.to_smt2())
