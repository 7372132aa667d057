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
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
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
from vmxspec.symbolic.exits.vmcs import UNSET_PREFIX, NotConcrete, VmcsView

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


def check_event(problem: ExitProblem, event: EventQuery, *, timeout_ms: int, rlimit: int) -> EventResult:
    """Prove ``event`` always exits, or find an escape, or say why neither was possible."""
    started = time.perf_counter()

    def done(status: Status, reason: str = "", witness: Witness | None = None, smtlib: str = "") -> EventResult:
        return EventResult(event, status, time.perf_counter() - started, reason, witness, smtlib)

    view = VmcsView(problem.state, problem.open_vars)
    env = Env(view, Guest())
    try:
        decision = build(env, event)
    except NotConcrete as exc:
        return done("unknown", f"the decision reads a bitmap whose address {exc}")
    except EptUnsupported as exc:
        return done("unknown", str(exc))
    goal = [decision.valid, decision.possible, decision.escape]
    if event.operand is not None and event.values is not None:
        goal.append(in_runs(_as_bv(decision.operands[event.operand]), event.values))
    solver = bounded_solver([*problem.constraints, *goal], timeout_ms, rlimit)
    result = solver.check()
    if result == z3.unsat:
        return done("proved", _never_happens(problem, goal[:2] + goal[3:], timeout_ms, rlimit))
    if result == z3.unknown:
        return done("unknown", solver_unknown_reason(solver))
    smtlib = solver.to_smt2()
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
