"""Dispatch of one question to the interpreter, and the error objects for bad questions."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from vmxspec.questions.assertion import answer_assertion
from vmxspec.questions.dma import answer_dma
from vmxspec.questions.ept import answer_ept
from vmxspec.questions.exits import answer_exit
from vmxspec.questions.vmentry import answer_vmentry
from vmxspec.state import State, StateError, load_state
from vmxspec.state.numbers import describe, did_you_mean

Answer = dict[str, object]
_QUESTION_KEYS = ("id", "state", "query")
_KINDS = ("vmentry", "ept", "dma", "exit", "assertion")

_HANDLERS: dict[str, Callable[[State, Mapping[str, object]], Answer]] = {
    "vmentry": answer_vmentry,
    "ept": answer_ept,
    "dma": answer_dma,
    "exit": answer_exit,
    "assertion": answer_assertion,
}


def answer_line(line: str) -> Answer:
    """Answer one JSON Lines question; bad JSON is an error answer, never an exception."""
    try:
        doc = json.loads(line)
    except (json.JSONDecodeError, RecursionError) as exc:
        where = f" at column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        return StateError("json-syntax", f"not valid JSON{where}: {_reason(exc)}").to_json()
    return answer_question(doc)


def _reason(exc: Exception) -> str:
    return exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"


def answer_question(doc: object) -> Answer:
    ident: object = None
    try:
        if not isinstance(doc, dict):
            raise StateError("bad-shape", f"a question is an object, got {describe(doc)}")
        ident = doc.get("id")
        answer = _answer(doc)
    except StateError as err:
        answer = err.to_json()
    except RecursionError:
        answer = StateError("bad-shape", "the question is nested too deeply").to_json()
    if ident is not None:
        answer = {"id": ident, **answer}
    return answer


def _answer(doc: Mapping[str, object]) -> Answer:
    for key in doc:
        if key not in _QUESTION_KEYS and not key.startswith("x-"):
            raise StateError("unknown-key", f"unknown key '{key}'{did_you_mean(key, _QUESTION_KEYS)}", key)
    for key in ("state", "query"):
        if key not in doc:
            raise StateError("bad-shape", f"a question needs '{key}'", key)
    query = doc["query"]
    if not isinstance(query, dict):
        raise StateError("bad-query", f"'query' is an object, got {describe(query)}", "query")
    kind = query.get("kind")
    if not isinstance(kind, str) or kind not in _KINDS:
        shown = kind if isinstance(kind, str) else describe(kind)
        hint = did_you_mean(kind, _KINDS) if isinstance(kind, str) else ""
        raise StateError("bad-query", f"query.kind must be one of {', '.join(_KINDS)}, got {shown!r}{hint}",
                         "query.kind")
    state = load_state(doc["state"], path="")
    return _HANDLERS[kind](state, query)
