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
variables they mention. The core is then shrunk by a deletion pass (``shrink``) until no
assumption in it can be left out, within the call's budget. The deletion pass runs on Z3's
incremental bit-blasting SAT solver when the query is quantifier-free bit-vectors
(``_deletion_solver``): there it takes milliseconds a call where the default solver's SMT core
can take seconds.

Two helpers serve every encoder's ``--explain`` (they work on any Z3 solver, not only a Session):

* ``minimal_core``: given labelled facts (the spec's pinned values, as tracked equalities), a
  subset of them that still makes the query unsat, shrunk until every fact in it is needed;
* ``fewest_changes``: given a sat query and, per open value, "this value differs from its
  default", a model that changes as few as possible (MaxSAT in ``z3.Optimize``), or the first
  model when the search runs out of budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
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
    #: With ``prefer``: whether no model changes fewer preferred variables (None: not asked;
    #: False: the search ran out of budget and this is the best model found).
    minimal: bool | None = None
    #: With ``prefer``: the preferred variables this model sets to another value.
    changed: tuple[Var, ...] = ()
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


class Budget:
    """One explanation's time budget, spread over many bounded calls.

    Explaining takes several solver calls (a core, then one call per fact to shrink it; or an
    optimisation). Each call keeps the caller's rlimit and gets what is left of one
    timeout, so that an explanation costs at most about one more proof's worth of time.
    """

    def __init__(self, timeout_ms: int, rlimit: int) -> None:
        _check_limits(timeout_ms, rlimit)
        self.timeout_ms = timeout_ms
        self.rlimit = rlimit
        self.deadline = time.perf_counter() + timeout_ms / 1000
        #: What the fresh solvers of this explanation's deletion steps took (ms): ``_decide``
        #: gives the incremental solver about as long before it asks a fresh one.
        self.fresh_ms: list[float] = []

    def remaining_ms(self) -> int:
        return int((self.deadline - time.perf_counter()) * 1000)

    def check(self, solver: z3.Solver, *assumptions: z3.ExprRef) -> z3.CheckSatResult:
        """One call under what is left (unknown, without calling, once nothing is). The solver's
        timeout is put back to the whole budget's afterwards, for the caller's own later calls."""
        left = self.remaining_ms()
        if left <= 0:
            return z3.unknown
        solver.set("timeout", left)
        solver.set("rlimit", self.rlimit)
        try:
            return solver.check(*assumptions)
        finally:
            solver.set("timeout", self.timeout_ms)


@dataclass(frozen=True, slots=True)
class Core:
    """Labelled facts that together make a query unsat.

    ``found`` is False when even all the facts together could not be shown to (the query was
    undecided): ``labels`` is then empty and means nothing. ``minimal``: no label can be left out
    (every one was tried); False when the budget ran out first, the labels then still suffice.
    """

    labels: tuple[str, ...]
    found: bool
    minimal: bool
    reason: str = ""


def shrink(solver: z3.Solver, core: Sequence[z3.ExprRef], budget: Budget,
           background: Iterable[z3.ExprRef] = ()) -> tuple[list[z3.ExprRef], bool]:
    """Deletion on an unsat core of assumption literals: a literal is dropped when the query stays
    unsat without it (the candidates are then cut to the new, smaller core). Returns the literals
    kept, in their order, and whether every one was shown to be needed (False when a call was
    undecided; what is kept still suffices)."""
    base = list(background)
    keep: list[z3.ExprRef] = []
    candidates = list(core)
    minimal = True
    while candidates:
        literal = candidates.pop(0)
        result, core_names = _decide(solver, [*base, *keep, *candidates], budget)
        if result == z3.unsat:
            # A kept literal is needed by every subset too, so only the candidates shrink.
            if core_names is not None:
                candidates = [c for c in candidates if str(c) in core_names]
            continue
        if result == z3.unknown:
            minimal = False
        keep.append(literal)
    order = [str(c) for c in core]
    return sorted(keep, key=lambda c: order.index(str(c))), minimal


def _deletion_solver(solver: z3.Solver, extra: Iterable[z3.ExprRef] = ()) -> z3.Solver:
    """The solver an explanation's many calls under assumption literals run on.

    Z3's default solver answers under assumptions with its SMT core, which bit-blasts lazily: on
    vmxspec's larger queries (the VM-entry checks of two whole VMCSs, for entry_safe) its first
    model can take seconds, and its times are heavy-tailed. For quantifier-free bit-vector
    queries, which vmxspec's encodings are, Z3's incremental SAT solver (``SolverFor("QF_BV")``:
    bit-blast once, then CDCL under the assumptions, keeping what it learnt) answers the same
    calls in milliseconds, with the same answers: on tests/unit/test_explain.py's entry_safe spec
    the deletion pass went from about 5 s of solver time to under 1 s, finding the same core.
    So a query (``solver``'s assertions) that is QF_BV with ``extra`` (the facts to be added) is
    copied to a new such solver; any other is left on ``solver``, which is returned.
    """
    ctx = solver.ctx
    goal = z3.Goal(ctx=ctx)
    goal.add(*solver.assertions(), *extra)
    if z3.Probe("is-qfbv", ctx)(goal) != 1.0:
        return solver
    sat_based = z3.SolverFor("QF_BV", ctx=ctx)
    sat_based.add(*solver.assertions())
    return sat_based


#: How long a deletion step asks the incremental solver before it asks a fresh one instead, until
#: a fresh solver has shown what it costs (then about that, within these bounds).
_INCREMENTAL_MS = 400
_INCREMENTAL_MIN_MS = 50


def _incremental_ms(budget: Budget) -> int:
    """The incremental solver's share of one deletion step.

    Its times are heavy-tailed: most answers come at once, a few take seconds that a fresh solver
    would need a fraction of (on entry_safe's explanation before ``_deletion_solver``, the SMT
    core gave up on up to a third of the steps at 400 ms, each of which a fresh solver then
    settled in about 150 ms). Giving it about as long as a fresh solver has taken so far in this
    explanation (the ski-rental rule) keeps a step near at most twice what the better of the two
    would have cost, without knowing in advance which that is.
    """
    if not budget.fresh_ms:
        return _INCREMENTAL_MS
    typical = sum(budget.fresh_ms) / len(budget.fresh_ms)
    return int(min(_INCREMENTAL_MS, max(_INCREMENTAL_MIN_MS, typical)))


def _decide(solver: z3.Solver, assumptions: Sequence[z3.ExprRef], budget: Budget
            ) -> tuple[z3.CheckSatResult, set[str] | None]:
    """One deletion step: sat or unsat, with the unsat core's names when there is one.

    Z3 answers under assumption literals incrementally, which is quick to find a model (the
    usual answer: the fact left out was needed) but can be several times slower than a fresh,
    non-incremental solver, to show unsat and sometimes to find a model. So the incremental solver
    gets a short first try (``_incremental_ms``), and a fresh solver with the literals asserted
    decides what it leaves open (without a core then), within what is left of the budget.
    """
    first = Budget(min(_incremental_ms(budget), max(budget.remaining_ms(), 1)), budget.rlimit)
    first.deadline = min(first.deadline, budget.deadline)
    result = first.check(solver, *assumptions)
    solver.set("timeout", budget.timeout_ms)
    if result == z3.unsat:
        return result, {str(c) for c in solver.unsat_core()}
    if result == z3.sat:
        return result, None
    fresh = z3.Solver(ctx=solver.ctx)
    fresh.add(*solver.assertions(), *assumptions)
    started = time.perf_counter()
    result = budget.check(fresh)
    if result != z3.unknown:
        budget.fresh_ms.append((time.perf_counter() - started) * 1000)
    return result, None


def minimal_core(solver: z3.Solver, facts: Mapping[str, z3.ExprRef], budget: Budget,
                 background: Iterable[z3.ExprRef] = (), prefer: Iterable[str] = ()) -> Core:
    """Which of ``facts`` (label -> Z3 boolean) the unsat query on ``solver`` needs.

    ``solver`` holds the query without the facts; ``background`` are assumption literals the
    query is checked under anyway (a Session's). Each fact is guarded by a fresh literal, on the
    solver ``_deletion_solver`` picks, in a push/pop scope (``solver`` itself is left as it was);
    Z3's core is then shrunk by ``shrink``.

    Minimal cores are not unique: when either of two facts suffices, a core holds one of them.
    ``prefer`` names the facts to keep in such a choice (say, the definition that preserves an
    intercept rather than the setting that happens not to ask for it): the other facts are shrunk
    first with every preferred one assumed, then the preferred ones with what was kept.
    """
    ctx = solver.ctx
    base = list(background)
    solver = _deletion_solver(solver, facts.values())
    solver.push()
    try:
        literals: dict[str, z3.ExprRef] = {}
        for label, fact in facts.items():
            literal = z3.FreshBool("vmxspec!fact", ctx)
            literals[label] = literal
            solver.add(z3.Implies(literal, fact))
        by_name = {str(lit): label for label, lit in literals.items()}
        result = budget.check(solver, *base, *literals.values())
        if result != z3.unsat:
            why = "the query is satisfiable with every fact" if result == z3.sat else solver.reason_unknown()
            return Core((), False, False, why)
        names = {str(c) for c in solver.unsat_core()}
        wanted = set(prefer)
        preferred = [lit for label, lit in literals.items() if label in wanted]
        others = [lit for label, lit in literals.items() if label not in wanted and str(lit) in names]
        kept, minimal = shrink(solver, others, budget, [*base, *preferred])
        if preferred:
            # The preferred facts the kept ones still need: cut to a core first (one call), since
            # most of them are in no core at all and each would cost a call of its own.
            if budget.check(solver, *base, *kept, *preferred) == z3.unsat:
                names = {str(c) for c in solver.unsat_core()}
                preferred = [lit for lit in preferred if str(lit) in names]
            kept_preferred, minimal_preferred = shrink(solver, preferred, budget, [*base, *kept])
            kept, minimal = [*kept, *kept_preferred], minimal and minimal_preferred
        chosen = {by_name[str(lit)] for lit in kept}
        return Core(tuple(label for label in facts if label in chosen), True, minimal)
    finally:
        solver.pop()


def fewest_changes(solver: z3.Solver, changes: Mapping[str, z3.ExprRef], first: z3.ModelRef, budget: Budget,
                   background: Iterable[z3.ExprRef] = ()) -> tuple[z3.ModelRef, bool]:
    """A model of the sat query on ``solver`` in which as few of ``changes`` (label -> "this open
    value is not its default") hold as possible, and whether that is shown minimal.

    The query's assertions (and ``background``, assumption literals it is checked under) go to a
    ``z3.Optimize`` with one soft constraint "unchanged" per open value, of weight 1: its MaxSAT
    engine (core-guided) finds the optimum far faster than bisecting on a cardinality bound.
    Within what is left of the budget; when the optimiser is undecided, its best model so far if
    it has a better one, else ``first``, and neither is claimed minimal.
    """
    terms = list(changes.values())
    if not terms:
        return first, True

    def count(model: z3.ModelRef) -> int:
        return sum(bool(z3.is_true(model.eval(t, model_completion=True))) for t in terms)

    left = budget.remaining_ms()
    if left <= 0:
        return first, False
    optimizer = z3.Optimize(ctx=solver.ctx)
    optimizer.set("timeout", left)
    optimizer.set("rlimit", budget.rlimit)
    optimizer.add(*solver.assertions(), *background)
    for term in terms:
        optimizer.add_soft(z3.Not(term), 1)
    result = optimizer.check()
    if result == z3.sat:
        return optimizer.model(), True
    try:
        best = optimizer.model()
    except z3.Z3Exception:
        return first, False
    return (best, False) if count(best) < count(first) and _satisfies(solver, best, background) else (first, False)


def _satisfies(solver: z3.Solver, model: z3.ModelRef, background: Iterable[z3.ExprRef]) -> bool:
    """Whether ``model`` (an undecided optimiser's best so far) satisfies every assertion."""
    return all(z3.is_true(model.eval(a, model_completion=True)) for a in (*solver.assertions(), *background))


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
        literals = [literal for literal in self._literals if str(literal) in in_core]
        kept, _ = shrink(_deletion_solver(self.solver), literals, Budget(self.timeout_ms, self.rlimit))
        names = {str(literal) for literal in kept}
        return tuple(a for name, a in self._tracked.items() if name in names)

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

    def _model(self, goal: Term, model: z3.ModelRef) -> dict[Var, int]:
        values: dict[Var, int] = {}
        for var in free_vars(goal, *(a.term for a in self.assumptions)):
            value = model.eval(self.encoder.constant(var), model_completion=True)
            values[var] = int(z3.is_true(value)) if var.sort.is_bool else int(value.as_long())
        return values

    def _fewest(self, goal: Term, prefer: Mapping[Var, int], started: float, timeout_ms: int | None,
                rlimit: int | None) -> Violated:
        """The violation whose model changes the fewest preferred variables (see ``prove``)."""
        changes: dict[str, z3.ExprRef] = {}
        for var, value in prefer.items():
            constant = self.encoder.constant(var)
            wanted = z3.BoolVal(bool(value), self.encoder.ctx) if var.sort.is_bool \
                else z3.BitVecVal(value, var.sort.width, self.encoder.ctx)
            changes[var.name] = constant != wanted
        budget = Budget(self.timeout_ms if timeout_ms is None else timeout_ms,
                        self.rlimit if rlimit is None else rlimit)
        model, minimal = fewest_changes(self.solver, changes, self.solver.model(), budget, self._literals)
        values = self._model(goal, model)
        changed = tuple(var for var, value in prefer.items() if values.get(var, value) != value)
        return Violated(values, time.perf_counter() - started, minimal, changed)

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

    def prove(self, goal: Term, *, timeout_ms: int | None = None, rlimit: int | None = None,
              prefer: Mapping[Var, int] | None = None) -> Verdict:
        """Decide ``goal`` under the session's assumptions (limits default to the session's).

        ``prefer`` (for ``--explain``): a violation's model then sets as few of these variables to
        anything but the given value as any model can (``fewest_changes``), within one more
        timeout's worth of calls; ``Violated.minimal`` says whether that was shown.
        """
        if not isinstance(goal, Term) or not goal.sort.is_bool:
            raise TypeError(f"a goal must be a bool IR term, got {goal!r}")
        started = time.perf_counter()
        self.solver.push()
        try:
            self.solver.add(z3.Not(self.encoder.encode(goal)))
            result = self._check(timeout_ms, rlimit)
            if result == z3.sat:
                if prefer is None:
                    return Violated(self._model(goal, self.solver.model()), time.perf_counter() - started)
                return self._fewest(goal, prefer, started, timeout_ms, rlimit)
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
          rlimit: int = DEFAULT_RLIMIT, explain: bool = False, unroll_limit: int = UNROLL_LIMIT,
          prefer: Mapping[Var, int] | None = None) -> Verdict:
    """One goal under ``assumptions`` (a one-goal ``Session``; use a Session for several)."""
    session = Session(assumptions, timeout_ms=timeout_ms, rlimit=rlimit, explain=explain, unroll_limit=unroll_limit)
    return session.prove(goal, prefer=prefer)


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
