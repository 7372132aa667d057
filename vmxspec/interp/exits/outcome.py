"""What an exit decision says: exit or not, the basic exit reason and qualification, the fault the
guest takes instead, the rules that decided it, and a sentence a person can check against the SDM."""

from __future__ import annotations

from dataclasses import dataclass

from vmxspec.arch.exit_reasons import BY_NUMBER


@dataclass(frozen=True, slots=True)
class ExitOutcome:
    """The answer to one ``exit`` question.

    ``rules`` lists every rule consulted, in the order the processor applies them; the last one is
    the rule that settled the answer (``rule``). ``guest_fault`` names a fault the instruction raised
    instead of exiting ("#GP(0)", "#UD", "#NM"); the fault may itself exit, through the exception
    bitmap, and then ``exit`` is true with reason 0.
    """

    exit: bool
    rules: tuple[str, ...]
    explanation: str
    reason: int | None = None
    qualification: int | None = None
    guest_fault: str | None = None

    @property
    def rule(self) -> str:
        return self.rules[-1]

    @property
    def reason_name(self) -> str | None:
        if self.reason is None:
            return None
        known = BY_NUMBER.get(self.reason)
        return known.name if known else f"REASON_{self.reason}"

    def to_json(self) -> dict[str, object]:
        """The STATE_FORMAT.md ``exit`` answer, plus ``rule``, ``rules`` and ``explanation``."""
        out: dict[str, object] = {"exit": self.exit}
        if self.exit:
            out["reason"] = self.reason
            out["reason_name"] = self.reason_name
            out["qualification"] = f"{self.qualification or 0:#x}"
        if self.guest_fault is not None:
            out["guest_fault"] = self.guest_fault
        out["rule"] = self.rule
        if len(self.rules) > 1:
            out["rules"] = list(self.rules)
        out["explanation"] = self.explanation
        return out


@dataclass(frozen=True, slots=True)
class Fault:
    """A fault with priority over the VM exit (an intermediate result, never an answer by itself):
    what the guest raises, the rule that orders it before the exit, and why it is raised."""

    fault: str
    rule: str
    why: str


def exits(reason: int, qualification: int, rule: str, explanation: str) -> ExitOutcome:
    return ExitOutcome(True, (rule,), explanation, reason, qualification)


def no_exit(rule: str, explanation: str) -> ExitOutcome:
    return ExitOutcome(False, (rule,), explanation)
