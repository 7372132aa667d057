"""Replaying a counterexample in the reference interpreter.

A counterexample is only shown once the interpreter, asked the counterexample's question about its
state, gives an answer that contains everything ``expect`` says. ``expect`` keys:

- ``match``: an object whose every key must equal the answer's (``{"exit": false}``,
  ``{"result": "ept_misconfig"}``, ...);
- ``violates``: a rule id the answer's ``violations`` must contain (vmentry questions);
- ``hpa_in``: a list of ``[start, end)`` pairs (as ``"0x..."`` strings) one of which must contain
  the answer's ``hpa`` (a translation that reaches memory it must not);
- ``rule``: the answer's ``rule`` must be this id.
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
    answer = answer_question({"state": dict(state), "query": dict(query)})
    if "error" in answer:
        return Replay(False, answer, f"the interpreter rejected the question: {answer['error']}")
    problems = _mismatches(answer, expect)
    return Replay(not problems, answer, "; ".join(problems))


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
