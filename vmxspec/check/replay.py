"""Replaying a counterexample in the reference interpreter.

A counterexample is only shown once the interpreter, asked the counterexample's question about its
state, gives an answer that contains everything ``expect`` says. ``expect`` keys:

- ``match``: an object whose every key must equal the answer's (``{"exit": false}``,
  ``{"result": "ept_misconfig"}``, ...);
- ``violates``: a rule id the answer's ``violations`` must contain (vmentry questions);
- ``hpa_in``: a list of ``[start, end)`` pairs (as ``"0x..."`` strings) one of which must contain
  the answer's ``hpa`` (a translation that reaches memory it must not);
- ``rule``: the answer's ``rule`` must be this id;
- ``result_in``: a list of results one of which the answer's ``result`` must be (what "this access
  does not translate" looks like: ``["ept_violation", "ept_misconfig"]``);
- ``assertion``: a user assertion that must be false on the state: ``{"text": the assertion as
  written, "claim": its resolved expression (``check.assert_eval.expr_to_json``), "bindings": the
  witness values of its top-level ``forall`` variables as "0x..." strings}``. It is re-evaluated
  concretely by ``check.assert_eval`` (translation functions through the reference interpreter),
  independently of the symbolic lowering that found it. A query ``{"kind": "assertion"}`` with
  the claim in it is an ``eval`` question like any other (``questions.assertion``), expected to
  answer ``{"value": false}``; without the claim (counterexamples saved before queries carried
  it) no question is asked and the expectation's evaluation is the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vmxspec.questions import answer_question
from vmxspec.state.numbers import parse_number


@dataclass(frozen=True, slots=True)
class Replay:
    confirmed: bool
    answer: dict[str, object]
    why: str


def replay(state: Mapping[str, object], query: Mapping[str, object], expect: Mapping[str, object]) -> Replay:
    if query.get("kind") == "assertion" and "claim" not in query:
        answer: dict[str, object] = {}
    else:
        answer = answer_question({"state": dict(state), "query": dict(query)})
        if "error" in answer:
            return Replay(False, answer, f"the interpreter rejected the question: {answer['error']}")
    problems = _mismatches(answer, expect)
    if "assertion" in expect:
        problems.extend(_assertion(state, expect["assertion"], answer))
    elif query.get("kind") == "assertion" and "claim" not in query:
        problems.append("an 'assertion' query needs an 'assertion' expectation")
    return Replay(not problems, answer, "; ".join(problems))


def _assertion(state: Mapping[str, object], spec: object, answer: dict[str, object]) -> list[str]:
    """Re-evaluate a user assertion on the state: the violation stands only if it is false."""
    from vmxspec.check.assert_eval import NotEvaluable, evaluate, expr_from_json
    from vmxspec.state.errors import StateError
    from vmxspec.state.load import load_state

    if not isinstance(spec, Mapping) or "claim" not in spec:
        return ["an 'assertion' expectation needs the claim"]
    text = spec.get("text", "the assertion")
    try:
        raw = spec.get("bindings", {})
        bindings = {str(k): parse_number(v, str(k)) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        value = evaluate(expr_from_json(spec["claim"]), load_state(dict(state)), bindings)
    except (NotEvaluable, StateError, ValueError, KeyError, TypeError) as exc:
        return [f"cannot evaluate {text} on the state: {exc}"]
    answer["value"] = value
    return [f"expected {text} to be false, it evaluates to true"] if value else []


def _mismatches(answer: Mapping[str, object], expect: Mapping[str, object]) -> list[str]:
    problems = []
    match = expect.get("match", {})
    if isinstance(match, Mapping):
        for key, want in match.items():
            if answer.get(key) != want:
                problems.append(f"expected {key} = {want!r}, the interpreter answered {answer.get(key)!r}")
    if "violates" in expect:
        violations = answer.get("violations", [])
        rules = [v.get("rule") for v in violations if isinstance(v, Mapping)] if isinstance(violations, list) else []
        if expect["violates"] not in rules:
            problems.append(f"expected a violation of {expect['violates']}, the interpreter reported {rules}")
    if "rule" in expect and answer.get("rule") != expect["rule"]:
        problems.append(f"expected rule {expect['rule']}, the interpreter named {answer.get('rule')!r}")
    if "result_in" in expect:
        allowed = expect["result_in"]
        if not isinstance(allowed, list) or answer.get("result") not in allowed:
            problems.append(f"expected a result in {allowed}, the interpreter answered {answer.get('result')!r}")
    if "hpa_in" in expect:
        hpa = answer.get("hpa")
        ranges = expect["hpa_in"]
        inside = False
        if isinstance(hpa, str) and isinstance(ranges, list):
            value = parse_number(hpa, "hpa")
            inside = any(parse_number(lo, "lo") <= value < parse_number(hi, "hi") for lo, hi in ranges)
        if not inside:
            problems.append(f"expected a host-physical address in {ranges}, the interpreter answered {hpa!r}")
    return problems
