"""``vmxspec eval`` never raises and answers every line exactly once, whatever it is fed.

Random JSON, random mutations of a valid question (deleted, retyped, widened, renamed keys), and
raw bytes. Every answer is either a verdict or an error object with a registered code.
"""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.states import baseline_doc
from vmxspec.cli import eval_stream
from vmxspec.codes import BY_ID as CODES
from vmxspec.questions import answer_question

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                      st.floats(allow_nan=False), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=20)

_BASE = {"state": baseline_doc(), "query": {"kind": "vmentry"}}
_PATHS: list[tuple[str, ...]] = [("query",), ("query", "kind"), ("state",), ("state", "caps"), ("state", "vmcs"),
                                 ("state", "cpu"), ("state", "format")]
_PATHS += [("state", "vmcs", k) for k in list(baseline_doc()["vmcs"])[:80:3]]  # type: ignore[call-overload]
_PATHS += [("state", "caps", k) for k in baseline_doc()["caps"]]  # type: ignore[attr-defined]


def _check_answer(answer: dict[str, Any]) -> None:
    if "error" in answer:
        assert answer["error"]["code"] in CODES
        assert isinstance(answer["error"]["message"], str)
    else:
        assert answer["result"] in ("pass", "fail")
        if answer["result"] == "fail":
            assert answer["violations"]


def _mutate(doc: dict[str, Any], path: tuple[str, ...], action: str, value: object) -> dict[str, Any]:
    target: Any = doc
    for key in path[:-1]:
        if not isinstance(target, dict) or key not in target:
            return doc
        target = target[key]
    if not isinstance(target, dict):
        return doc
    last = path[-1]
    if action == "delete":
        target.pop(last, None)
    elif action == "replace":
        target[last] = value
    elif action == "rename":
        if last in target:
            target[last + "X"] = target.pop(last)
    elif action == "widen" and last in target:
        target[last] = hex(2**64 + 5)
    return doc


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.sampled_from(_PATHS), st.sampled_from(["delete", "replace", "rename", "widen"]), json_value)
def test_mutated_questions_get_an_answer(path: tuple[str, ...], action: str, value: object) -> None:
    doc = _mutate(json.loads(json.dumps(_BASE)), path, action, value)
    _check_answer(answer_question(doc))


@settings(max_examples=150, deadline=None)
@given(json_value)
def test_random_json_gets_an_answer(doc: object) -> None:
    _check_answer(answer_question(doc))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=60).filter(lambda b: b"\n" not in b and b"\r" not in b), max_size=6))
def test_every_nonblank_line_gets_exactly_one_answer(lines: list[bytes]) -> None:
    out = io.StringIO()
    eval_stream(io.BytesIO(b"\n".join(lines)), out)
    answers = out.getvalue().splitlines()
    assert len(answers) == sum(1 for line in lines if line.strip())
    for text in answers:
        _check_answer(json.loads(text))


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=0, max_value=2**64 - 1), st.sampled_from(sorted(baseline_doc()["vmcs"])))  # type: ignore[call-overload]
def test_random_field_values_never_crash_the_checks(value: int, field: str) -> None:
    doc = json.loads(json.dumps(_BASE))
    doc["state"]["vmcs"][field] = hex(value)
    _check_answer(answer_question(doc))
