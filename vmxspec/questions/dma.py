"""``dma`` questions: the VT-d translation of one DMA request."""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.interp.vtd import DmaOutcome, parse_device, translate_dma
from vmxspec.questions.common import check_keys, choice, flag, number, required
from vmxspec.state import State

_KEYS = ("kind", "source_id", "iova", "access", "pasid", "at", "privileged")


def ask_dma(state: State, query: Mapping[str, object]) -> DmaOutcome:
    check_keys(query, _KEYS)
    segment, sid = parse_device(required(query, "source_id"))
    pasid = number(query, "pasid", 20) if "pasid" in query else None
    return translate_dma(state, sid, number(query, "iova"), choice(query, "access", ("read", "write")),
                         pasid=pasid, at=choice(query, "at", ("untranslated", "translated"), "untranslated"),
                         segment=segment, privileged=flag(query, "privileged"))


def answer_dma(state: State, query: Mapping[str, object]) -> dict[str, object]:
    return ask_dma(state, query).to_json()
