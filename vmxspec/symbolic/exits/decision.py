"""What an event family's encoder produces: the exit decision, the escape condition, and how to
turn a model of the escape into an interpreter question and a sentence.

Two formulas, on purpose:

* ``exit`` is exactly the reference interpreter's ``exit`` bit for one concrete event in one
  concrete context: a fault raised instead of the exit goes through the exception bitmap, and an
  event that neither exits nor faults is followed by an MTF VM exit when "monitor trap flag" is 1.
  The differential tests compare it with ``decide_exit`` with every variable pinned.
* ``escape`` is what ``exits(VM)`` refutes: the event takes effect in the guest without causing
  its VM exit. A fault with priority over the exit (a #UD, a CPL check: docs/language.md), or one
  raised instead of executing when the event does not exit (MOV DR's #UD, the reserved-bit #GP of
  MOV to CR8), means the event never executes, so it is no escape. An MTF VM exit is no exit *of
  the event*: it comes after the instruction has executed, too late to intercept it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from vmxspec.symbolic.exits.terms import TRUE, Bool


class Values:
    """Concrete values of terms in one Z3 model (missing variables read as 0 / False)."""

    def __init__(self, model: z3.ModelRef) -> None:
        self.model = model

    def __call__(self, term: z3.ExprRef) -> int:
        value = self.model.eval(term, model_completion=True)
        if z3.is_bool(value):
            return int(z3.is_true(value))
        return int(value.as_long())

    def flag(self, term: z3.ExprRef) -> bool:
        return bool(self(term))


Explain = Callable[[Values], str]
Question = Callable[[Values], dict[str, object]]


@dataclass(slots=True)
class Decision:
    """One event's decision over symbolic operands, the VMCS view and the guest context.

    ``operands`` maps the state format's operand keys (``ecx``, ``port``, ``value`` ...) to their
    variables. ``valid`` says the operands form an event the interpreter accepts; ``possible``
    narrows that to what a guest can produce (architecturally defined exception vectors, page-fault
    error-code bits); the escape search uses both. ``query`` builds the interpreter question that
    replays an escape, ``why`` the sentence that explains it. ``prefer`` lists literals that make a
    counterexample read naturally (dropped when the escape needs otherwise).
    """

    name: str
    operands: dict[str, z3.ExprRef]
    exit: Bool
    escape: Bool
    query: Question
    why: Explain
    valid: Bool = TRUE
    possible: Bool = TRUE
    prefer: list[Bool] = field(default_factory=list)
    #: The interpreter question kind the replay asks ("exit", or "ept" for EPT violations).
    question: str = "exit"
    #: The event causes its own VM exit (no fault first, not blocked): what the nested properties
    #: compare between two VMCSs. None: the complement of ``escape`` within valid events.
    intercepted: Bool | None = None

    @property
    def exits_itself(self) -> Bool:
        return self.intercepted if self.intercepted is not None else z3.Not(self.escape)
