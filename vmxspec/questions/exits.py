"""``exit`` questions: does this guest event cause a VM exit, and with which reason?"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.interp.exits import EVENT_KINDS, ExitOutcome, decide_exit
from vmxspec.questions.common import check_keys, required
from vmxspec.state import State, StateError
from vmxspec.state.numbers import describe


def ask_exit(state: State, query: Mapping[str, object]) -> ExitOutcome:
    check_keys(query, ("kind", "event"))
    event = required(query, "event")
    if not isinstance(event, dict):
        raise StateError("bad-query", f"'event' is an object, got {describe(event)}", "query.event")
    return decide_exit(state, event)


def answer_exit(state: State, query: Mapping[str, object]) -> dict[str, object]:
    return ask_exit(state, query).to_json()


def event_from_words(words: list[str]) -> dict[str, object]:
    """The event a person types on the command line: ``WRMSR ecx=0x1a0`` or ``exception vector=14``.

    The first word is an event kind or, for instructions, the mnemonic; the rest are ``key=value``
    operands, with ``true``/``false`` read as booleans and everything else left for the event parser
    (which reads numbers in the state format's notation).
    """
    if not words:
        raise StateError("bad-query", "name an event: an instruction mnemonic (e.g. RDMSR) or an event kind", "event")
    head, *operands = words
    event: dict[str, object] = {"kind": head} if head in EVENT_KINDS else {"kind": "instruction", "insn": head}
    for word in operands:
        key, sep, value = word.partition("=")
        if not sep or not key:
            raise StateError("bad-query", f"operands are key=value, got {word!r}", f"event.{word}")
        event[key] = True if value == "true" else False if value == "false" else value
    return event
