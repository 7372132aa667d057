"""From an event of an ``exits`` list to its ``Decision``: which encoder decides which event.

Instructions go by the fact table's decider (``vmxspec.arch.exits.Decider``); the other events by
the state format's event kind. Every mnemonic of ``INSTRUCTIONS`` and every event kind sema accepts
in an ``exits`` list has an encoder here; a test holds the two lists together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vmxspec.arch import exits as A
from vmxspec.symbolic.exits import cr, events, instructions, msr_io
from vmxspec.symbolic.exits.decision import Decision
from vmxspec.symbolic.exits.env import Env
from vmxspec.symbolic.exits.ept import ept_violation
from vmxspec.symbolic.exits.instructions import Family
from vmxspec.symbolic.exits.terms import Runs


@dataclass(frozen=True, slots=True)
class EventQuery:
    """One event of ``exits(VM) { ... }``: the mnemonic or event name, the state format's event kind
    (``instruction``, ``exception``, ... or ``ept_violation``), the operand key the spec's values
    bind, and those values as runs (None: every value the guest can choose)."""

    name: str
    kind: str
    operand: str | None = None
    values: Runs | None = None

    def describe(self) -> str:
        if self.values is None or self.operand is None:
            return self.name
        shown = ", ".join(f"{lo:#x}" if hi == lo + 1 else f"{lo:#x} ..= {hi - 1:#x}" for lo, hi in self.values[:4])
        more = f", ... ({len(self.values) - 4} more)" if len(self.values) > 4 else ""
        return f"{self.name} {{ {shown}{more} }}" if len(self.values) > 1 else f"{self.name} {shown}"


FamilyBuilder = Callable[[Env, A.InstructionFacts], Family]

FAMILIES: dict[A.Decider, FamilyBuilder] = {
    A.Decider.UNCONDITIONAL: instructions.unconditional,
    A.Decider.CONTROLS: instructions.by_controls,
    A.Decider.NEVER: instructions.never,
    A.Decider.PAUSE: instructions.pause,
    A.Decider.VMCS_ACCESS: instructions.vmcs_access,
    A.Decider.XSS: instructions.xss,
    A.Decider.ENCLS: instructions.encls,
    A.Decider.MSR: msr_io.msr,
    A.Decider.IO: msr_io.io,
    A.Decider.CR: cr.control_register,
    A.Decider.DR: cr.debug_register,
}

EVENTS: dict[str, Callable[[Env], Decision]] = {
    "exception": events.exception,
    "external_interrupt": events.external_interrupt,
    "nmi": events.nmi,
    "software_interrupt": events.software_interrupt,
    "triple_fault": events.triple_fault,
    "init_signal": events.init_signal,
    "sipi": events.sipi,
    "task_switch": events.task_switch,
}

#: Every event kind an ``exits`` list may name that is not an instruction.
EVENT_KINDS: tuple[str, ...] = (*EVENTS, "ept_violation")


class UnknownEvent(Exception):
    """An event name this module has no encoder for (a usage error of the caller)."""


def build(env: Env, event: EventQuery) -> Decision:
    """The decision of ``event``. Raises NotConcrete / EptUnsupported when a part of the state the
    decision needs is not concrete, UnknownEvent for a name no encoder covers."""
    if event.kind == "instruction":
        facts = A.INSTRUCTIONS.get(event.name)
        if facts is None:
            raise UnknownEvent(f"no instruction '{event.name}'")
        return instructions.decision(env, facts, FAMILIES[facts.decider](env, facts))
    if event.kind == "ept_violation":
        return ept_violation(env, event.values)
    encoder = EVENTS.get(event.kind)
    if encoder is None:
        raise UnknownEvent(f"no event kind '{event.kind}'")
    return encoder(env)
