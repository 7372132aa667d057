"""``assertion`` questions: the truth of a user assertion on one concrete state.

A counterexample to ``prove CONDITION`` is often not one access (``forall gpa in R: translates``
is; ``target(a.ept, x) != target(b.ept, y)`` is not). So that every counterexample can still be
replayed through ``vmxspec eval``, the claim itself travels in the query, as the serialised
expression tree ``check.assert_eval.expr_to_json`` writes, with the values of the variables its
top-level ``forall`` bound. The answer is ``{"value": true|false}``; the translation functions in
the claim are answered by the reference interpreter, one access at a time.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.questions.common import check_keys, required
from vmxspec.state import State, StateError
from vmxspec.state.numbers import describe, parse_number

_KEYS = ("kind", "claim", "bindings", "text")
#: What a claim that vmxspec did not write (or a claim that does not fit the state) raises while it
#: is rebuilt or evaluated; each becomes an error answer, never a traceback.
_MALFORMED = (KeyError, TypeError, ValueError, AssertionError, IndexError, AttributeError)


def answer_assertion(state: State, query: Mapping[str, object]) -> dict[str, object]:
    from vmxspec.check.assert_eval import NotEvaluable, evaluate, expr_from_json

    check_keys(query, _KEYS)
    raw = query.get("bindings", {})
    if not isinstance(raw, Mapping):
        raise StateError("bad-query", f"'bindings' is an object of numbers, got {describe(raw)}", "query.bindings")
    bindings = {str(name): parse_number(value, f"query.bindings.{name}") for name, value in raw.items()}
    try:
        claim = expr_from_json(required(query, "claim"))
    except _MALFORMED as exc:
        raise StateError("bad-query", f"'claim' is not an assertion vmxspec wrote: {exc!r}", "query.claim") from exc
    try:
        value = evaluate(claim, state, bindings)
    except NotEvaluable as exc:
        raise StateError("unsupported-query", f"the assertion cannot be evaluated on this state: {exc}",
                         "query.claim") from exc
    except _MALFORMED as exc:
        raise StateError("bad-query", f"the claim does not fit this state: {exc!r}", "query.claim") from exc
    answer: dict[str, object] = {"value": value}
    text = query.get("text")
    if isinstance(text, str):
        answer["text"] = text
    return answer
