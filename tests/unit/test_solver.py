"""The solver driver: each verdict, bounded calls, incremental sessions, unsat cores, SMT-LIB output.

A violation's model is replayed through the reference evaluator here, as the checker will: the
goal must be false and every assumption true under it.
"""

from __future__ import annotations

import pytest
import z3

from vmxspec import ir
from vmxspec.diagnostics import Span
from vmxspec.interp import ir_eval
from vmxspec.symbolic.solver import (
    Assumption,
    Proved,
    Session,
    Unknown,
    UnknownReason,
    Vacuous,
    Violated,
    prove,
    to_smtlib,
    unknown_reason,
)

X = ir.var("x", 8, source=Span("spec.vmx", 2, 3, 2, 6))
Y = ir.var("y", 8, source=Span("spec.vmx", 3, 3, 3, 6))
FLAG = ir.bool_var("flag")

#: A 64-bit semiprime (two 32-bit primes): inverting the multiplication is factoring.
SEMIPRIME = 4294967291 * 4294967279


def _factoring_goal() -> ir.Term:
    a, b = ir.var("a", 64), ir.var("b", 64)
    return ir.not_(ir.and_(ir.eq(ir.mul(a, b), SEMIPRIME), ir.ugt(a, 1), ir.ugt(b, 1)))


def _replays(verdict: Violated, goal: ir.Term, assumptions: list[ir.Term]) -> None:
    for assumption in assumptions:
        assert ir_eval.holds(assumption, verdict.model)
    assert not ir_eval.holds(goal, verdict.model)


def test_proved() -> None:
    verdict = prove(ir.ule(ir.bvand(X, 0xF0), 0xF0))
    assert isinstance(verdict, Proved) and verdict.status == "proved"
    assert verdict.core is None  # cores only when explaining


def test_proved_under_assumptions() -> None:
    verdict = prove(ir.ult(ir.add(X, Y), 20), [ir.ult(X, 10), ir.ult(Y, 10)])
    assert isinstance(verdict, Proved)


def test_violated_with_a_model_that_replays() -> None:
    assumptions = [ir.ult(Y, 10), ir.implies(FLAG, ir.eq(X, Y))]
    goal = ir.ugt(ir.add(X, Y), X)  # fails where x + y wraps, or y = 0
    verdict = prove(goal, assumptions)
    assert isinstance(verdict, Violated) and verdict.status == "violated"
    assert set(verdict.model) == {X, Y, FLAG}  # every free variable, the assumptions' too
    _replays(verdict, goal, assumptions)


def test_goal_folded_to_false_still_gets_a_model() -> None:
    verdict = prove(ir.ult(X, 0), [ir.eq(Y, 7)])
    assert isinstance(verdict, Violated)
    assert verdict.model[Y] == 7


def test_unknown_on_a_tiny_timeout() -> None:
    verdict = prove(_factoring_goal(), timeout_ms=1)
    assert isinstance(verdict, Unknown) and verdict.status == "unknown"
    assert verdict.reason is UnknownReason.TIMEOUT
    assert verdict.check == "goal"


def test_unknown_on_a_tiny_rlimit() -> None:
    verdict = prove(_factoring_goal(), rlimit=1000)
    assert isinstance(verdict, Unknown)
    assert verdict.reason is UnknownReason.RLIMIT


def test_every_call_must_be_bounded() -> None:
    with pytest.raises(ValueError, match="bounded"):
        prove(ir.TRUE, timeout_ms=0)
    with pytest.raises(ValueError, match="bounded"):
        Session(rlimit=0)
    session = Session()
    with pytest.raises(ValueError, match="bounded"):
        session.prove(ir.TRUE, rlimit=0)


def test_unsatisfiable_assumptions_are_vacuous_never_proved() -> None:
    contradiction = [ir.ult(X, 3), ir.ugt(X, 5)]
    for goal in (ir.ult(X, 10), ir.ugt(X, 200), ir.TRUE):
        verdict = prove(goal, contradiction)
        assert isinstance(verdict, Vacuous) and verdict.status == "vacuous", goal


def test_session_reuses_assumptions_and_checks_vacuity_once() -> None:
    session = Session([ir.ult(X, 10), ir.eq(Y, ir.add(X, 1))])
    cached = len(session.encoder.cache)
    assert isinstance(session.prove(ir.ule(Y, 10)), Proved)
    assert isinstance(session.prove(ir.ne(Y, 0)), Proved)
    assert isinstance(session.prove(ir.ult(Y, 10)), Violated)
    assert isinstance(session.prove(ir.ule(Y, 10)), Proved)
    # three goal checks, one vacuity check for the first proof, and the repeated goal again
    assert session.calls == 5
    # the assumptions were encoded once, when the session started; goals add only their own nodes
    assert all(a.term in session.encoder.cache for a in session.assumptions)
    assert len(session.encoder.cache) > cached


def test_session_goals_do_not_leak_into_each_other() -> None:
    session = Session([ir.ult(X, 10)])
    assert isinstance(session.prove(ir.eq(X, 3)), Violated)  # asserts x != 3 inside a scope
    verdict = session.prove(ir.ne(X, 3))  # must still see x = 3 as possible
    assert isinstance(verdict, Violated) and verdict.model[X] == 3


def test_vacuity_is_remembered_per_session() -> None:
    session = Session([ir.ult(X, 3), ir.ugt(X, 5)])
    assert isinstance(session.prove(ir.TRUE), Vacuous)
    assert isinstance(session.prove(ir.ult(X, 1)), Vacuous)
    assert session.calls == 3  # two goals, one vacuity check


def test_unsat_core_maps_to_assumptions_and_sources() -> None:
    relevant = Assumption(ir.ult(X, 10), source=Span("spec.vmx", 7, 1, 7, 20), label="x small")
    irrelevant = Assumption(ir.ugt(Y, 3), source=Span("spec.vmx", 8, 1, 8, 20))
    also_needed = Assumption(ir.eq(FLAG, True), source=Span("spec.vmx", 9, 1, 9, 20))
    goal = ir.and_(ir.ult(X, 100), FLAG)
    verdict = prove(goal, [irrelevant, relevant, also_needed], explain=True)
    assert isinstance(verdict, Proved)
    assert verdict.core == (relevant, also_needed)
    # the assumptions' spans, then those of the variables they and the goal mention (FLAG has none)
    assert verdict.sources == (relevant.source, also_needed.source, X.source)


def test_vacuous_core_names_the_conflict() -> None:
    low = Assumption(ir.ult(X, 3), source="line 4")
    high = Assumption(ir.ugt(X, 5), source="line 5")
    other = Assumption(ir.eq(Y, 1), source="line 6")
    verdict = prove(ir.TRUE, [other, low, high], explain=True)
    assert isinstance(verdict, Vacuous)
    assert verdict.core == (low, high)
    assert verdict.sources == ("line 4", "line 5", X.source)


def test_large_quantifiers_reach_z3_as_quantifiers() -> None:
    i = ir.var("i", 32)
    mask = ir.var("mask", 32)
    goal = ir.forall(i, 0, 1 << 32, ir.ule(ir.bvand(i, mask), i))
    assert isinstance(goal, ir.ForAll)
    assert isinstance(prove(goal), Proved)
    wrong = ir.forall(i, 1, 1 << 32, ir.ult(ir.bvand(i, mask), i))  # false when mask has all of i's bits
    verdict = prove(wrong)
    assert isinstance(verdict, Violated) and set(verdict.model) == {mask}


def test_small_quantifiers_are_unrolled_and_replay() -> None:
    i = ir.var("i", 4)
    goal = ir.forall(i, 0, 12, ir.ne(ir.zero_extend(i, 4), X))
    verdict = prove(goal, [ir.ult(X, 16)])
    assert isinstance(verdict, Violated) and verdict.model[X] < 12
    _replays(verdict, goal, [ir.ult(X, 16)])


def test_smtlib_reproduces_the_query() -> None:
    assumptions = [Assumption(ir.ult(X, 10), label="x below 10"), Assumption(ir.ult(Y, 10), source="line\n9")]
    for goal, expected in ((ir.ult(ir.add(X, Y), 20), z3.unsat), (ir.ult(ir.add(X, Y), 18), z3.sat)):
        text = to_smtlib(goal, assumptions)
        assert "; assumption 1: x below 10" in text and "; assumption 2: line 9" in text
        assert "(declare-fun x () (_ BitVec 8))" in text
        solver = z3.Solver()
        solver.from_string(text)
        assert solver.check() == expected


def test_variables_sharing_a_name_stay_distinct_in_smtlib() -> None:
    narrow, wide = ir.var("v", 8), ir.var("v", 16)
    goal = ir.eq(ir.zero_extend(narrow, 8), wide)
    text = to_smtlib(goal, [ir.ult(wide, 0x100)])
    solver = z3.Solver()
    solver.from_string(text)
    assert solver.check() == z3.sat
    verdict = prove(goal, [ir.ult(wide, 0x100)])
    assert isinstance(verdict, Violated) and verdict.model[narrow] != verdict.model[wide]


def test_unknown_reasons_are_classified() -> None:
    assert unknown_reason("timeout") is UnknownReason.TIMEOUT
    assert unknown_reason("max. resource limit exceeded") is UnknownReason.RLIMIT
    # incremental Z3 says "canceled" for both limits: what the call measured decides
    assert unknown_reason("canceled", timed_out=True) is UnknownReason.TIMEOUT
    assert unknown_reason("canceled", rlimit_exhausted=True) is UnknownReason.RLIMIT
    assert unknown_reason("canceled") is UnknownReason.INCOMPLETE
    assert unknown_reason("(incomplete quantifiers)") is UnknownReason.INCOMPLETE


def test_limits_are_per_call_and_classified_in_a_session() -> None:
    session = Session()
    hard = _factoring_goal()
    rlimited = session.prove(hard, rlimit=1000)
    timed_out = session.prove(hard, timeout_ms=1)
    assert isinstance(rlimited, Unknown) and rlimited.reason is UnknownReason.RLIMIT
    assert isinstance(timed_out, Unknown) and timed_out.reason is UnknownReason.TIMEOUT
    assert isinstance(session.prove(ir.TRUE), Proved)  # the session is still usable


def test_goals_and_assumptions_must_be_boolean_terms() -> None:
    with pytest.raises(TypeError, match="goal must be a bool"):
        prove(X)
    with pytest.raises(TypeError, match="assumption must be a bool"):
        prove(ir.TRUE, [X])
