"""VM-exit decisions: does this guest event cause a VM exit, with which basic exit reason and exit
qualification, or does the guest take a fault first?

``decide_exit(state, event)`` answers one ``exit`` question (STATE_FORMAT.md). For an instruction
it applies, in the SDM's order: the faults with priority over VM exits (#UD for unrecognized or
disabled instructions, #NM, privilege faults, the TSS I/O-permission check); the instruction's exit
rule; then, if it does not exit, the faults ordered after the exit (VMREAD/VMWRITE at CPL > 0, MOV
DR). A fault raised instead of an exit goes through the exception bitmap like any exception; an
instruction or event delivered without an exit is followed by an MTF VM exit when "monitor trap
flag" is 1.

What the answers assume, and why (the state format cannot say otherwise):

* The processor implements every instruction asked about (CPUID feature bits are not modelled);
  the guest is not in compatibility mode (the state has no live CS.L), so the #UD that compatibility
  mode gives VMX instructions is not reported; DR7.GD = 0 (the state has no live DR7).
* Faults an instruction raises only when it does not exit (a non-existent MSR, reserved bits of
  CR0/CR4, an invalid INVPCID type, segment and paging faults on operands) are not reported: the
  answer is "no exit", and such a fault is an ``exception`` question of its own. Debug traps after
  the instruction (RFLAGS.TF, data breakpoints) likewise.
* PAUSE-loop exiting is timed by the event: ``since_last_pause`` (TSC ticks since the previous PAUSE
  at CPL 0; absent for the first PAUSE after VM entry) and ``since_loop_start`` (ticks since the
  first PAUSE of the current loop). The SDM's "exceeds" is a strict comparison with PLE_Gap and
  PLE_Window.
* Events whose exit the SDM only delays (blocking by STI or MOV SS of an external interrupt or NMI
  that exits) are reported as exiting; the NMI-window exit is held back by blocking by STI (the SDM
  allows either). ``after_vm_entry`` reads the guest-state fields VM entry loads, assumes VM entry
  succeeded and that delivering an injected event raises no fault, and does not model pending debug
  exceptions.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.interp.exits import events
from vmxspec.interp.exits.context import USED_RULES, ExitContext
from vmxspec.interp.exits.instructions import decide_instruction
from vmxspec.interp.exits.outcome import ExitOutcome, Fault
from vmxspec.interp.exits.parse import EVENT_KINDS, Event, parse_event
from vmxspec.state import State


def decide_exit(state: State, event: Mapping[str, object]) -> ExitOutcome:
    """The outcome of one guest event (the ``event`` object of an ``exit`` question).

    Raises StateError ("bad-query", "unsupported-query", "missing-field", "bad-number", ...) for a
    malformed event or a state that lacks what the decision needs; never any other exception.
    """
    return decide_parsed(state, parse_event(event))


def decide_parsed(state: State, event: Event) -> ExitOutcome:
    ctx = ExitContext(state)
    if event.insn is None:
        return events.HANDLERS[event.kind](ctx, event.ops)
    outcome = decide_instruction(ctx, event.insn, event.ops)
    if isinstance(outcome, Fault):
        return events.deliver_fault(ctx, outcome)
    if outcome.exit:
        return outcome
    return events.then_mtf(ctx, outcome, "the instruction")


__all__ = ["EVENT_KINDS", "USED_RULES", "Event", "ExitOutcome", "decide_exit", "decide_parsed", "parse_event"]
