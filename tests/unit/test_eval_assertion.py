"""``assertion`` questions in ``vmxspec eval``: a user assertion's truth on one concrete state.

Counterexamples to ``prove CONDITION`` carry their claim in the query so that they, like every
other counterexample, replay through ``vmxspec eval``. The expected values here come from the
baseline state's EPT as the interpreter walks it (guest-physical 0 .. 4 GiB map to 4 GiB up; the
APIC page is not mapped), checked one access at a time below.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.states import baseline, baseline_doc
from vmxspec.check.assert_eval import expr_to_json
from vmxspec.check.replay import replay
from vmxspec.cli import eval_stream
from vmxspec.codes import BY_ID as CODES
from vmxspec.interp.ept import translate_gpa
from vmxspec.questions import answer_question
from vmxspec.sema.expressions import Apply, Binary, BinaryOp, Const, EntityKind, EntityRef, Unary, UnaryOp, Var

EPT = EntityRef(EntityKind.EPT, "g")


def _question(claim: Any, bindings: dict[str, str] | None = None) -> dict[str, Any]:
    query: dict[str, Any] = {"kind": "assertion", "claim": expr_to_json(claim), "text": "the claim"}
    if bindings is not None:
        query["bindings"] = bindings
    return {"state": baseline_doc(), "query": query}


def test_the_baseline_ept_is_what_these_tests_assume() -> None:
    state = baseline()
    assert translate_gpa(state, 0x1000, "write").result == "ok"
    assert translate_gpa(state, 0xfee0_0000, "read").result == "ept_violation"


@pytest.mark.parametrize(("gpa", "function", "value"), [
    (0x1000, "translates", True), (0x1000, "writable", True), (0xfee0_0000, "translates", False),
    (0xfee0_0000, "readable", False), (0x1_0000_0000, "translates", False),
])
def test_translation_functions_are_answered_by_the_interpreter(gpa: int, function: str, value: bool) -> None:
    answer = answer_question(_question(Apply(function, (EPT, Const(gpa)))))
    assert answer == {"value": value, "text": "the claim"}


def test_bound_variables_come_from_the_bindings() -> None:
    claim = Unary(UnaryOp.NOT, Apply("translates", (EPT, Var("gpa"))))
    assert answer_question(_question(claim, {"gpa": "0xfee0_0010"}))["value"] is True
    assert answer_question(_question(claim, {"gpa": "0x2000"}))["value"] is False


def test_target_is_the_host_address() -> None:
    claim = Binary(BinaryOp.EQ, Apply("target", (EPT, Const(0x1000))), Const(0x1_0000_1000))
    assert answer_question(_question(claim))["value"] is True


def test_a_false_claim_replays_as_a_violation_and_a_true_one_does_not() -> None:
    false_claim = _question(Apply("translates", (EPT, Const(0xfee0_0000))))
    true_claim = _question(Apply("translates", (EPT, Const(0x1000))))
    expect = {"match": {"value": False}}
    assert replay(false_claim["state"], false_claim["query"], expect).confirmed
    result = replay(true_claim["state"], true_claim["query"], expect)
    assert not result.confirmed and "value" in result.why


def test_the_eval_stream_answers_an_assertion_line() -> None:
    out = io.StringIO()
    eval_stream(io.BytesIO(json.dumps(_question(Binary(BinaryOp.EQ, Const(1), Const(1)))).encode()), out)
    assert json.loads(out.getvalue()) == {"value": True, "text": "the claim"}


@pytest.mark.parametrize(("query", "code"), [
    ({"kind": "assertion"}, "bad-query"),
    ({"kind": "assertion", "claim": {"nonsense": 1}}, "bad-query"),
    ({"kind": "assertion", "claim": {"const": 7}}, "bad-query"),
    ({"kind": "assertion", "claim": {"var": "x"}, "bindings": []}, "bad-query"),
    ({"kind": "assertion", "claim": {"var": "x"}, "bindings": {"x": "zz"}}, "bad-number"),
    ({"kind": "assertion", "claim": {"const": "0x1"}, "extra": 1}, "unknown-key"),
    ({"kind": "assertion", "claim": {"apply": "translates", "args": [{"const": "0x1"}]}}, "unsupported-query"),
])
def test_bad_assertion_queries_are_error_objects(query: dict[str, Any], code: str) -> None:
    answer: dict[str, Any] = answer_question({"state": baseline_doc(), "query": query})
    assert answer["error"]["code"] == code


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(
        ["const", "var", "apply", "args", "binary", "left", "right", "unary", "operand", "entity", "name", "vmcs",
         "region", "bdf", "quantifier", "bindings", "body", "domain", "member", "in", "slice", "high", "low",
         "field", "width"]), inner, max_size=4)), max_leaves=16)


@settings(max_examples=200, deadline=None)
@given(json_value, json_value)
def test_random_claims_get_an_answer_never_a_traceback(claim: object, bindings: object) -> None:
    answer: dict[str, Any] = answer_question({"state": baseline_doc(),
                                              "query": {"kind": "assertion", "claim": claim, "bindings": bindings}})
    if "error" in answer:
        assert answer["error"]["code"] in CODES
    else:
        assert isinstance(answer["value"], bool)
