"""Events that are not instructions: exceptions (with the #PF error-code rule), external
interrupts, NMIs, software interrupts, triple faults, INIT, SIPI and task switches.

SDM "Other Causes of VM Exits", "Activity State" (events an inactive processor blocks),
"Posted-Interrupt Processing" and "Monitor Trap Flag". Which of these can escape:

* an exception escapes when its exception-bitmap rule says no exit;
* an external interrupt escapes when "external-interrupt exiting" is 0 (delivered through the guest
  IDT once RFLAGS.IF = 1 and nothing blocks it), or when it is the posted-interrupt notification
  vector with "process posted interrupts" 1 (the processor consumes it without an exit);
* an NMI escapes when "NMI exiting" is 0;
* a software interrupt (INT n) always escapes: the exception bitmap does not apply to it;
* a triple fault, INIT, SIPI and a task switch never escape: they exit, or (INIT in wait-for-SIPI,
  SIPI outside it) are blocked or discarded without reaching the guest.
"""

from __future__ import annotations

import z3

from vmxspec.arch import exits as A
from vmxspec.arch.events import EXCEPTION_MNEMONICS, NMI_VECTOR
from vmxspec.symbolic.exits.decision import Decision, Values
from vmxspec.symbolic.exits.env import PIN, Env, ctl
from vmxspec.symbolic.exits.guest import SHUTDOWN, WAIT_FOR_SIPI
from vmxspec.symbolic.exits.instructions import hexs, operand
from vmxspec.symbolic.exits.terms import FALSE, TRUE, Bool, bit, bv, in_runs, is_false

_EXT_INT = ctl(PIN, "external_interrupt_exiting")
_NMI_EXITING = ctl(PIN, "nmi_exiting")
_VIRTUAL_NMIS = ctl(PIN, "virtual_nmis")
_POSTED = ctl(PIN, "process_posted_interrupts")
_STI, _MOV_SS, _BLOCK_NMI = A.BLOCKING_BY_STI, A.BLOCKING_BY_MOV_SS, A.BLOCKING_BY_NMI

#: Vectors a processor raises as exceptions: the architecturally defined ones (SDM "Exception and
#: Interrupt Reference"), without the NMI. Reserved vectors (9, 15, 22-31) are never raised.
EXCEPTION_VECTORS: tuple[int, ...] = tuple(sorted(v for v in EXCEPTION_MNEMONICS if v != NMI_VECTOR))
#: Page-fault error-code bits the SDM defines: P, W/R, U/S, RSVD, I/D, PK, SS, HLAT (7:0) and SGX (15).
PF_ERROR_CODE_BITS = 0x80FF


def _mnemonic(vector: int) -> str:
    return EXCEPTION_MNEMONICS.get(vector, f"exception {vector}")


def _query(event: dict[str, object]) -> dict[str, object]:
    return {"kind": "exit", "event": event}


def exception(env: Env) -> Decision:
    """Exit iff bit ``vector`` of the exception bitmap is 1; for #PF (vector 14), iff
    ((error code AND PFEC_MASK) == PFEC_MATCH) equals bit 14 (equality follows bit 14, inequality
    reverses it)."""
    vector = operand("vector", 8)
    error_code = operand("error_code", 32)
    mask, match = env.field("PAGE_FAULT_ERROR_CODE_MASK"), env.field("PAGE_FAULT_ERROR_CODE_MATCH")
    pf = vector == bv(A.PF_VECTOR, 8)
    pf_rule = ((error_code & mask) == match) == env.exception_bit(A.PF_VECTOR)
    rule = z3.If(pf, pf_rule, env.exception_bit_at(vector))
    valid = z3.And(z3.ULE(vector, bv(31, 8)), vector != bv(NMI_VECTOR, 8))
    possible = z3.And(in_runs(vector, [(v, v + 1) for v in EXCEPTION_VECTORS]),
                      z3.Implies(pf, error_code & bv(~PF_ERROR_CODE_BITS & 0xFFFF_FFFF, 32) == bv(0, 32)))

    def query(values: Values) -> dict[str, object]:
        v = values(vector)
        event: dict[str, object] = {"kind": "exception", "vector": v}
        if v == A.PF_VECTOR:
            event.update(error_code=hexs(values(error_code)), linear_address="0x0")
        return _query(event)

    def why(values: Values) -> str:
        v = values(vector)
        bitmap = values(env.field("EXCEPTION_BITMAP"))
        if v != A.PF_VECTOR:
            return f"{_mnemonic(v)} does not exit: bit {v} of the exception bitmap is 0"
        ec, m, k = values(error_code), values(mask), values(match)
        equal = ec & m == k
        return (f"#PF with error code {ec:#x} does not exit: error code & PFEC_MASK {m:#x} "
                f"{'=' if equal else '!='} PFEC_MATCH {k:#x} and bit 14 of the exception bitmap is "
                f"{bitmap >> 14 & 1}")

    return Decision("EXCEPTION", {"vector": vector, "error_code": error_code}, z3.Or(rule, env.mtf()),
                    z3.Not(rule), query, why, valid, possible, intercepted=rule)


def _deliverable(env: Env) -> Bool:
    """RFLAGS.IF = 1 and no blocking by STI or MOV SS: a maskable interrupt is delivered now."""
    return z3.And(env.guest.rflags_bit("IF"), env.guest.interruptibility & bv(_STI | _MOV_SS, 32) == bv(0, 32))


def external_interrupt(env: Env) -> Decision:
    vector = operand("vector", 8)
    g = env.guest
    blocked = z3.Or(g.activity_is(SHUTDOWN), g.activity_is(WAIT_FOR_SIPI))
    exiting = env.ctl(_EXT_INT)
    posted_nv: Bool = FALSE
    posted = z3.And(exiting, env.ctl(_POSTED))
    if not is_false(posted):
        posted_nv = z3.And(posted, z3.ZeroExt(8, vector) == env.field("POSTED_INTR_NV"))
    deliverable = _deliverable(env)
    exit_ = z3.And(z3.Not(blocked), z3.If(exiting, z3.Not(posted_nv), z3.And(env.mtf(), deliverable)))
    escape = z3.And(z3.Not(blocked), z3.If(exiting, posted_nv, deliverable))

    def why(values: Values) -> str:
        v = values(vector)
        if values.flag(posted_nv):
            return (f"external interrupt {v:#x} does not exit: it is the posted-interrupt notification vector and "
                    "\"process posted interrupts\" is 1")
        return f"external interrupt {v:#x} does not exit: \"external-interrupt exiting\" is 0"

    return Decision("EXTERNAL_INTERRUPT", {"vector": vector}, exit_, escape,
                    lambda v: _query({"kind": "external_interrupt", "vector": v(vector)}), why,
                    intercepted=z3.And(z3.Not(blocked), exiting, z3.Not(posted_nv)))


def nmi(env: Env) -> Decision:
    g = env.guest
    blocked = g.activity_is(WAIT_FOR_SIPI)
    exiting = env.ctl(_NMI_EXITING)
    held = z3.And(z3.Not(env.ctl(_VIRTUAL_NMIS)), bit(g.interruptibility, _BLOCK_NMI.bit_length() - 1))
    unblocked = g.interruptibility & bv(_BLOCK_NMI | _MOV_SS | _STI, 32) == bv(0, 32)
    exit_ = z3.And(z3.Not(blocked), z3.If(exiting, z3.Not(held), z3.And(env.mtf(), unblocked)))
    escape = z3.And(z3.Not(blocked), z3.Not(exiting), unblocked)
    return Decision("NMI", {}, exit_, escape, lambda v: _query({"kind": "nmi"}),
                    lambda v: "an NMI does not exit: \"NMI exiting\" is 0",
                    intercepted=z3.And(z3.Not(blocked), exiting, z3.Not(held)))


def software_interrupt(env: Env) -> Decision:
    vector = operand("vector", 8)
    return Decision("SOFTWARE_INTERRUPT", {"vector": vector}, env.mtf(), TRUE,
                    lambda v: _query({"kind": "software_interrupt", "vector": v(vector)}),
                    lambda v: f"INT {v(vector):#x} does not exit: a software interrupt is not an exception, so the "
                              "exception bitmap does not apply")


def triple_fault(env: Env) -> Decision:
    return Decision("TRIPLE_FAULT", {}, TRUE, FALSE, lambda v: _query({"kind": "triple_fault"}),
                    lambda v: "a triple fault always exits")


def init_signal(env: Env) -> Decision:
    blocked = env.guest.activity_is(WAIT_FOR_SIPI)
    return Decision("INIT_SIGNAL", {}, z3.Not(blocked), FALSE, lambda v: _query({"kind": "init_signal"}),
                    lambda v: "INIT exits unless the wait-for-SIPI state blocks it", intercepted=z3.Not(blocked))


def sipi(env: Env) -> Decision:
    vector = operand("vector", 8)
    sipi_exits = env.guest.activity_is(WAIT_FOR_SIPI)
    return Decision("SIPI", {"vector": vector}, sipi_exits, FALSE,
                    lambda v: _query({"kind": "sipi", "vector": v(vector)}),
                    lambda v: "a SIPI exits in the wait-for-SIPI state and is discarded otherwise",
                    intercepted=sipi_exits)


def task_switch(env: Env) -> Decision:
    selector = operand("tss_selector", 16)
    return Decision("TASK_SWITCH", {"tss_selector": selector}, TRUE, FALSE,
                    lambda v: _query({"kind": "task_switch", "initiator": "jmp", "tss_selector": v(selector)}),
                    lambda v: "a task switch always exits")


__all__ = ["EXCEPTION_VECTORS", "exception", "external_interrupt", "init_signal", "nmi", "sipi",
           "software_interrupt", "task_switch", "triple_fault"]
