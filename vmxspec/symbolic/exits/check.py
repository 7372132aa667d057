"""Searching for an escape: one bounded Z3 query per event, and a witness when there is one.

For each event the query is: the operand lies in the spec's set, the event is well formed and
producible, the open values satisfy their domains and the spec's assumptions, and the event
escapes (``Decision.escape``). Unsat proves the event; sat gives a model, which is then

1. made readable: the counterexample prefers an ordinary guest context, small operands and unset
   fields read as 0 (preference literals, dropped one unsat core at a time);
2. checked for robustness: with the operands, the guest context and the open values pinned, the
   escape must hold for *every* value of the unset fields; otherwise it depends on what the spec
   never said, and the event is "unknown", naming the fields;
3. rendered as an interpreter question with the answer the interpreter must give (``exit`` false,
   or an MTF-only exit; for EPT_VIOLATION an ``ept`` question answered "ok").

Every solver call has a timeout and an rlimit; running out of either is "unknown", never "proved".

With ``explain`` (``vmxspec check --explain``), once the verdict is known:

* a proved event is re-proved with given facts freed one at a time (``explain_event``): a field
  the built state gives, a bitmap region at a given address, or a labelled constraint (an open
  field's domain, an assumption). A fact whose freeing breaks the proof is needed; the result is
  a minimal set of needed facts (deletion, so every fact in it is needed given the others). The
  decision is rebuilt for each trial rather than given tracked equalities, because encoders
  decide in Python what a concretely disabled control never consults: a freed control then
  reads everything it could, exactly as an open one does.
* a violation's model is replaced by one that moves the fewest open fields off their defaults
  (``solver.fewest_changes``) before it is made readable.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import z3

from vmxspec.state.model import State
from vmxspec.symbolic.exits.decision import Decision, Values
from vmxspec.symbolic.exits.encode import EventQuery, build
from vmxspec.symbolic.exits.env import Env
from vmxspec.symbolic.exits.ept import EptUnsupported
from vmxspec.symbolic.exits.guest import Guest
from vmxspec.symbolic.exits.terms import Bool, bv, in_runs
from vmxspec.symbolic.exits.vmcs import ALL_FACTS, UNSET_PREFIX, Fact, NotConcrete, VmcsView
from vmxspec.symbolic.solver import Budget, fewest_changes, minimal_core

Status = Literal["proved", "violated", "unknown"]
#: The basic exit reason of an MTF VM exit.
MTF_REASON = 37


@dataclass(frozen=True, slots=True)
class ExitProblem:
    """What every event of one ``exits`` proof is checked against.

    ``open_vars``: the VM's open VMCS fields by name, as Z3 variables of the field's width (the
    caller constrains them in ``constraints``, with their ``any`` domains and the assumptions it
    could lower). ``named``: every open value by the name to report it under (VMCS fields and the
    rest), for counterexamples. ``untrusted``: open fields an assumption mentions that could not
    be lowered, with why; an escape that reads one is unknown, since the assumption might exclude
    it.
    """

    state: State
    open_vars: Mapping[str, z3.BitVecRef] = field(default_factory=dict)
    constraints: Sequence[Bool] = ()
    named: Mapping[str, z3.ExprRef] = field(default_factory=dict)
    untrusted: Mapping[str, str] = field(default_factory=dict)
    #: For ``--explain``: labels of the constraints that stand for a spec line (index -> label,
    #: e.g. ``field:GUEST_CR3`` for an open field's domain, ``assume:2``); the others (pins of
    #: values the built state depends on) are never dropped.
    labels: Mapping[int, str] = field(default_factory=dict)
    #: For ``--explain``: each open field's default (what a counterexample prefers to leave it at).
    defaults: Mapping[str, int] = field(default_factory=dict)
    #: For ``--explain`` (a problem lowered with given fields as ``free.NAME`` variables): the
    #: equality that pins each such variable to its value, by fact; added unless the fact is freed.
    pins: Mapping[Fact, Bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Needs:
    """What a proved event cannot do without (``explain_event``): given facts (``("field", NAME)``,
    ``("bitmap", ADDRESS_FIELD, OFFSET)``) and constraint labels. ``minimal`` is False when a trial
    was undecided (the facts then still suffice); ``note`` says what went wrong, if anything."""

    facts: tuple[Fact, ...] = ()
    constraints: tuple[str, ...] = ()
    minimal: bool = True
    note: str = ""


@dataclass(frozen=True, slots=True)
class Witness:
    """An escape: the interpreter question that replays it, the answer it must get, the guest
    context, the VMCS values the solver chose (open fields, and unset fields the decision read),
    every open value, the operand values and the explanation."""

    query: dict[str, object]
    expect: dict[str, object]
    cpu: dict[str, object]
    vmcs: dict[str, int]
    open_values: dict[str, int]
    operands: dict[str, int]
    explanation: str
    #: The memory of the witness state when it differs from the built state's (nested: vmcs02's
    #: bitmap pages); None when the built state's memory stands.
    memory: dict[int, int] | None = None


@dataclass(frozen=True, slots=True)
class EventResult:
    event: EventQuery
    status: Status
    time_s: float
    reason: str = ""
    witness: Witness | None = None
    #: The escape query in SMT-LIB 2 (violations only), for reproduction bundles.
    smtlib: str = ""
    #: ``--explain``, violated: whether the witness moves the fewest open values off their defaults.
    minimal: bool | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"event": self.event.describe(), "verdict": self.status,
                                  "time_s": round(self.time_s, 4)}
        if self.reason:
            out["reason"] = self.reason
        if self.witness is not None:
            out["explanation"] = self.witness.explanation
            out["operands"] = {k: f"{v:#x}" for k, v in self.witness.operands.items()}
        return out


def bounded_solver(constraints: Sequence[Bool], timeout_ms: int, rlimit: int) -> z3.Solver:
    if timeout_ms <= 0 or rlimit <= 0:
        raise ValueError(f"every solver call must be bounded: timeout_ms={timeout_ms}, rlimit={rlimit}")
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.set("rlimit", rlimit)
    for c in constraints:
        solver.add(c)
    return solver


def solver_unknown_reason(solver: z3.Solver) -> str:
    text = solver.reason_unknown()
    if "resource" in text or "rlimit" in text:
        return "the solver's resource limit (rlimit) ran out"
    if "timeout" in text or "canceled" in text:
        return "the solver ran out of time"
    return f"the solver could not decide ({text})"


def check_event(problem: ExitProblem, event: EventQuery, *, timeout_ms: int, rlimit: int,
                explain: bool = False) -> EventResult:
    """Prove ``event`` always exits, or find an escape, or say why neither was possible (with
    ``explain``, an escape that moves the fewest open values; what a proof needs is
    ``explain_event``'s question, asked once the whole property is proved)."""
    started = time.perf_counter()
    minimal: bool | None = None

    def done(status: Status, reason: str = "", witness: Witness | None = None, smtlib: str = "") -> EventResult:
        return EventResult(event, status, time.perf_counter() - started, reason, witness, smtlib, minimal)

    view = VmcsView(problem.state, problem.open_vars)
    env = Env(view, Guest())
    try:
        decision = build(env, event)
    except NotConcrete as exc:
        return done("unknown", f"the decision reads a bitmap whose address {exc}")
    except EptUnsupported as exc:
        return done("unknown", str(exc))
    goal = _escape_goal(decision, event)
    solver = bounded_solver([*problem.constraints, *goal], timeout_ms, rlimit)
    result = solver.check()
    if result == z3.unsat:
        return done("proved", _never_happens(problem, goal[:2] + goal[3:], timeout_ms, rlimit))
    if result == z3.unknown:
        return done("unknown", solver_unknown_reason(solver))
    smtlib = solver.to_smt2()
    if explain:
        model, minimal = fewest_open_changes(solver, problem.open_vars, problem.defaults, timeout_ms, rlimit)
        solver.push()  # the readable model keeps the open values the fewest-changes model chose
        solver.add(*(var == model.eval(var, model_completion=True) for var in problem.open_vars.values()))
        model = readable_model(solver, decision, env, view) or model
        solver.pop()
    else:
        model = readable_model(solver, decision, env, view) or solver.model()
    values = Values(model)
    depends = _unset_dependencies(decision, env, view, problem, values, timeout_ms, rlimit)
    if depends is None:
        return done("unknown", "the solver could not decide whether the escape depends on fields the spec does not set")
    if depends:
        return done("unknown", f"an escape exists for some values of {', '.join(depends)}, which the spec does not "
                               "set: set them (or leave them `any`) to decide")
    shaky = [f"{name} ({why})" for name, why in problem.untrusted.items() if name in view.reads]
    if shaky:
        return done("unknown", "an escape exists, but it reads open fields an assumption constrains that vmxspec could "
                               f"not use: {'; '.join(shaky)}")
    return done("violated", witness=_witness(decision, env, view, problem, values), smtlib=smtlib)


def fewest_open_changes(solver: z3.Solver, open_vars: Mapping[str, z3.ExprRef], defaults: Mapping[str, int],
                        timeout_ms: int, rlimit: int) -> tuple[z3.ModelRef, bool]:
    """A model of the sat query on ``solver`` that moves the fewest open values off their defaults
    (0 where none is given), and whether that is shown minimal (``solver.fewest_changes``)."""
    first = solver.model()
    changes: dict[str, z3.ExprRef] = {}
    for name, var in open_vars.items():
        default = defaults.get(name, 0)
        changes[name] = var != (z3.BoolVal(bool(default)) if z3.is_bool(var) else bv(default, var.size()))
    return fewest_changes(solver, changes, first, Budget(timeout_ms, rlimit))


#: A trial of ``needed``: with these facts freed and these constraint labels dropped, does the
#: proof still hold (None: undecided), and which given facts did the decision read?
Trial = Callable[[frozenset[Fact], frozenset[str]], tuple[bool | None, list[Fact]]]


#: Facts an explanation keeps when either they or another would do: a nested block's vmcs02
#: definitions, which are what ``preserves_exits`` and ``honors_exits`` are about. (Without a
#: preference, "vmcs01 does not intercept WBINVD" and "vmcs02.proc2 keeps vmcs01's bits" are both
#: minimal reasons for WBINVD; only the second survives a change of vmcs01.)
PREFERRED_KINDS = ("def", "setdef")


@dataclass(frozen=True, slots=True)
class General:
    """A decision built with every given fact freed and tracked (``VmcsView`` with ``ALL_FACTS``
    and ``track``): the query's own parts, what pins each fact back, and the facts read."""

    goal: Sequence[Bool]
    tracked: Mapping[Fact, Sequence[Bool]]
    used: Sequence[Fact]


@dataclass(frozen=True, slots=True)
class Explaining:
    """What ``needed`` works on: ``holds`` tries one choice of freed facts and dropped labels;
    ``labels`` names the constraints that stand for a spec line (index -> label), ``constraints``
    are all of them; ``pins`` pin the ``free.NAME`` variables of IR-lowered terms (definitions,
    assumptions) by fact; ``general`` builds the decision with everything freed and tracked."""

    holds: Trial
    labels: Mapping[int, str]
    constraints: Sequence[Bool]
    pins: Mapping[Fact, Bool]
    budget: Budget
    general: Callable[[], General | None] | None = None

    def kept(self, free: frozenset[Fact], dropped: frozenset[str]) -> list[Bool]:
        """The constraints not dropped, and the pins of the facts not freed."""
        return [*(c for i, c in enumerate(self.constraints) if self.labels.get(i) not in dropped),
                *(pin for fact, pin in self.pins.items() if fact not in free)]


def _via_core(job: Explaining, general: General) -> Needs | None:
    """One unsat core over the pinning equalities of the general build (and the labelled
    constraints), confirmed by one trial that frees everything else; None when either fails (the
    caller then falls back to deletion by trials)."""
    solver = z3.Solver()
    solver.add(*(c for i, c in enumerate(job.constraints) if i not in job.labels), *general.goal)
    facts: dict[str, z3.BoolRef] = {}
    items: dict[str, Fact | str] = {}
    tracked: dict[Fact, list[Bool]] = {fact: list(pins) for fact, pins in general.tracked.items()}
    for fact, pin in job.pins.items():
        tracked.setdefault(fact, []).append(pin)
    for fact, equalities in tracked.items():
        facts[repr(fact)] = z3.And(*equalities)
        items[repr(fact)] = fact
    for label in dict.fromkeys(job.labels.values()):
        facts[f"label {label}"] = z3.And(*(c for i, c in enumerate(job.constraints) if job.labels.get(i) == label))
        items[f"label {label}"] = label
    prefer = [key for key, item in items.items() if isinstance(item, tuple) and item[0] in PREFERRED_KINDS]
    core = minimal_core(solver, facts, job.budget, prefer=prefer)
    if not core.found:
        return None
    chosen = {items[key] for key in core.labels}
    free = frozenset(fact for fact in tracked if fact not in chosen)
    dropped = frozenset(label for label in job.labels.values() if label not in chosen)
    proved, read = job.holds(free, dropped)
    if proved is not True:
        return None
    kept = tuple(label for label in dict.fromkeys(job.labels.values()) if label in chosen)
    note = "" if core.minimal else "the budget ran out: some facts listed may not be needed"
    facts_kept = [fact for fact in dict.fromkeys([*read, *job.pins]) if fact not in free]
    return Needs(tuple(facts_kept), kept, core.minimal, note)


def needed(job: Explaining) -> Needs:
    """The facts and constraint labels a proof needs (see ``explain_event``).

    First, when ``job.general`` can build the decision with every fact freed and tracked, one
    unsat core over the tracked equalities, confirmed by a trial (``_via_core``). Otherwise
    deletion by trials over a growing queue of facts and labels, in halves: a group of candidates
    is freed at once when the proof survives that, and split otherwise, so a proof that needs k of
    n facts costs about 2k log(n/k) trials, not n.
    """
    proved, used = job.holds(frozenset(), frozenset())
    if proved is not True:
        return Needs(minimal=False, note="the proof could not be repeated within the budget")
    built = job.general() if job.general is not None else None
    if built is not None:
        found = _via_core(job, built)
        if found is not None:
            return found
    free: frozenset[Fact] = frozenset()
    dropped: frozenset[str] = frozenset()
    candidates: list[Fact | str] = [*dict.fromkeys([*used, *job.pins]), *dict.fromkeys(job.labels.values())]
    # Freed first, so kept when either would do (``PREFERRED_KINDS``): the others.
    queue = sorted(candidates, key=lambda item: isinstance(item, tuple) and item[0] in PREFERRED_KINDS)
    kept: list[str] = []
    minimal = True

    def attempt(items: Sequence[Fact | str]) -> bool | None:
        nonlocal free, dropped, used
        trial_free = free | {i for i in items if isinstance(i, tuple)}
        trial_dropped = dropped | {i for i in items if isinstance(i, str)}
        proved, read = job.holds(trial_free, trial_dropped)
        if proved is True:
            free, dropped, used = trial_free, trial_dropped, read
            queue.extend(fact for fact in read if fact not in queue)
        return proved

    def settle(items: Sequence[Fact | str]) -> None:
        nonlocal minimal
        if not items:
            return
        proved = attempt(items)
        if proved is True:
            return
        if len(items) == 1:
            minimal = minimal and proved is not None
            if isinstance(items[0], str):
                kept.append(items[0])
            return
        half = len(items) // 2
        settle(items[:half])
        settle(items[half:])

    position = 0
    while position < len(queue):
        batch = queue[position:]
        position = len(queue)
        settle(batch)
    facts = tuple(fact for fact in dict.fromkeys([*used, *job.pins]) if fact not in free)
    note = "" if minimal else "the budget ran out: some facts listed may not be needed"
    return Needs(facts, tuple(kept), minimal, note)


def _escape_goal(decision: Decision, event: EventQuery) -> list[Bool]:
    goal = [decision.valid, decision.possible, decision.escape]
    if event.operand is not None and event.values is not None:
        goal.append(in_runs(_as_bv(decision.operands[event.operand]), event.values))
    return goal


def explain_event(problem: ExitProblem, event: EventQuery, *, timeout_ms: int, rlimit: int) -> Needs:
    """The given facts and labelled constraints a proof of ``event`` needs (module docstring).

    ``problem`` is best lowered for explaining (given fields in assumptions as pinned ``free.NAME``
    variables, ``problem.pins``), so that freeing a field frees it everywhere. A fact stays pinned
    when freeing it (with everything freed so far) breaks the proof; the pinned facts the last
    proof read, and the kept constraints, are what it needs. All trials share one budget: one
    more timeout's worth of calls.
    """
    budget = Budget(timeout_ms, rlimit)
    job: Explaining

    def holds(free: frozenset[Fact], dropped: frozenset[str]) -> tuple[bool | None, list[Fact]]:
        view = VmcsView(problem.state, problem.open_vars, freed=free)
        try:
            decision = build(Env(view, Guest()), event)
        except (NotConcrete, EptUnsupported):
            return False, view.used
        solver = bounded_solver([*job.kept(free, dropped), *_escape_goal(decision, event)], timeout_ms, rlimit)
        result = budget.check(solver)
        return (True if result == z3.unsat else None if result == z3.unknown else False), view.used

    def general() -> General | None:
        view = VmcsView(problem.state, problem.open_vars, freed=frozenset({ALL_FACTS}), track=True)
        try:
            decision = build(Env(view, Guest()), event)
        except (NotConcrete, EptUnsupported):
            return None
        return General(_escape_goal(decision, event), view.tracked, view.used)

    job = Explaining(holds, problem.labels, problem.constraints, problem.pins, budget, general)
    return needed(job)


def _never_happens(problem: ExitProblem, occurs: Sequence[Bool], timeout_ms: int, rlimit: int) -> str:
    """For a proof: say so when the event cannot occur at all with the operands the spec gives (a
    reserved exception vector, say), which makes the proof trivially true."""
    solver = bounded_solver([*problem.constraints, *occurs], timeout_ms, rlimit)
    if solver.check() == z3.unsat:
        return "no such event can occur with the operands given: the claim holds trivially"
    return ""


def _as_bv(term: z3.ExprRef) -> z3.BitVecRef:
    if not z3.is_bv(term):
        raise TypeError(f"the operand {term} is not a bit-vector")
    return term


def readable_model(solver: z3.Solver, decision: Decision, env: Env, view: VmcsView,
                   extra: Sequence[Bool] = ()) -> z3.ModelRef | None:
    """A model that keeps as many preferences as possible (None if the solver gives up)."""
    prefs: list[Bool] = [*extra, *decision.prefer, *env.guest.preferences()]
    prefs += [var == bv(0, var.size()) for var in view.unset.values()]
    literals = {z3.Bool(f"prefer!{i}"): p for i, p in enumerate(prefs)}
    for literal, p in literals.items():
        solver.add(z3.Implies(literal, p))
    active = list(literals)
    for _ in range(len(prefs) + 1):
        result = solver.check(*active)
        if result == z3.sat:
            return solver.model()
        if result != z3.unsat:
            return None
        core = {str(c) for c in solver.unsat_core()}
        if not core:
            return None
        active = [lit for lit in active if str(lit) not in core]
    return None


def _pins(decision: Decision, env: Env, problem: ExitProblem, values: Values) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    terms: list[z3.ExprRef] = [*decision.operands.values(), *env.guest.all_terms(), *problem.open_vars.values()]
    out = []
    for term in terms:
        value = values(term)
        out.append((term, z3.BoolVal(bool(value)) if z3.is_bool(term) else bv(value, term.size())))
    return out


def _unset_dependencies(decision: Decision, env: Env, view: VmcsView, problem: ExitProblem, values: Values,
                        timeout_ms: int, rlimit: int) -> list[str] | None:
    """The unset fields the escape depends on, once everything else is pinned to the model ([] if
    none; None if the solver gives up)."""
    if not view.unset:
        return []
    pinned = z3.simplify(z3.substitute(z3.And(decision.valid, decision.escape), *_pins(decision, env, problem, values)))
    if z3.is_true(pinned):
        return []
    solver = bounded_solver([z3.Not(pinned)], timeout_ms, rlimit)
    result = solver.check()
    if result == z3.unsat:
        return []
    if result == z3.unknown:
        return None
    names = {str(v) for v in free_constants(pinned)}
    return sorted(n[len(UNSET_PREFIX):] for n in names if n.startswith(UNSET_PREFIX))


def free_constants(term: z3.ExprRef) -> list[z3.ExprRef]:
    seen: dict[int, z3.ExprRef] = {}
    stack = [term]
    visited: set[int] = set()
    while stack:
        t = stack.pop()
        if t.get_id() in visited:
            continue
        visited.add(t.get_id())
        if z3.is_const(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            seen[t.get_id()] = t
        stack.extend(t.children())
    return list(seen.values())


def _needed_unset(decision: Decision, env: Env, view: VmcsView, problem: ExitProblem, values: Values) -> list[str]:
    """Unset fields the counterexample must show: those the escape's rule reads, and those the exit
    decision still reads once the model's operands and guest context are pinned (the monitor trap
    flag's control, say). The interpreter asks for exactly such fields."""
    pinned_exit = z3.simplify(z3.substitute(decision.exit, *_pins(decision, env, problem, values)))
    names = {str(c) for c in free_constants(z3.And(decision.valid, decision.escape))}
    names |= {str(c) for c in free_constants(pinned_exit)}
    return [name for name, var in view.unset.items() if str(var) in names]


def _witness(decision: Decision, env: Env, view: VmcsView, problem: ExitProblem, values: Values) -> Witness:
    vmcs = {name: values(var) for name, var in problem.open_vars.items()}
    filled = {name: values(view.unset[name]) for name in _needed_unset(decision, env, view, problem, values)}
    vmcs.update(filled)
    if decision.question == "ept":
        expect: dict[str, object] = {"match": {"result": "ok"}}
    else:
        mtf = values.flag(decision.exit)
        expect = {"match": {"exit": True, "reason": MTF_REASON} if mtf else {"exit": False}}
    explanation = decision.why(values)
    if decision.question == "exit" and values.flag(decision.exit):
        explanation += "; \"monitor trap flag\" is 1, so an MTF VM exit follows, but only after the event took effect"
    if filled:
        shown = ", ".join(f"{name} = {value:#x}" for name, value in filled.items())
        explanation += (f" (the spec does not set {', '.join(filled)}; the escape holds whatever it holds, "
                        f"shown as {shown})")
    operands = {key: values(term) for key, term in decision.operands.items()}
    return Witness(decision.query(values), expect, env.guest.document(values), vmcs,
                   {name: values(term) for name, term in problem.named.items()}, operands, explanation)
