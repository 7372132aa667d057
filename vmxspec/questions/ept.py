"""``ept`` questions: the EPT translation of one guest-physical access."""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.interp.ept import EptOutcome, translate_gpa
from vmxspec.questions.common import check_keys, choice, flag, number
from vmxspec.state import State

_KEYS = ("kind", "gpa", "access", "user", "paging_structure", "eptp")
ACCESSES = ("read", "write", "fetch")


def ask_ept(state: State, query: Mapping[str, object]) -> EptOutcome:
    check_keys(query, _KEYS)
    eptp = number(query, "eptp") if "eptp" in query else None
    return translate_gpa(state, number(query, "gpa"), choice(query, "access", ACCESSES),
                         user=flag(query, "user"), paging_structure=flag(query, "paging_structure"), eptp=eptp)


def outcome_json(outcome: EptOutcome) -> dict[str, object]:
    answer = outcome.to_json()
    if outcome.rule is not None:
        answer.setdefault("rule", outcome.rule)
    if outcome.qualification_unknown:
        answer["qualification_unknown"] = f"{outcome.qualification_unknown:#x}"
    return answer


def answer_ept(state: State, query: Mapping[str, object]) -> dict[str, object]:
    return outcome_json(ask_ept(state, query))
