"""Instruction exits: the faults with priority over the exit, then the exit decision.

Read next to the SDM sections "Relative Priority of Faults and VM Exits", "Instructions That Cause
VM Exits Unconditionally" and "Instructions That Cause VM Exits Conditionally". The table of facts
(which controls, which faults, in which order) is ``vmxspec.arch.exits.INSTRUCTIONS``; this module
only evaluates it. MSR and I/O instructions are in ``msr_io``, control and debug registers in ``cr``.
"""

from __future__ import annotations

from collections.abc import Callable

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlField
from vmxspec.arch.registers import CR0, CR4, RFLAGS
from vmxspec.interp.exits import cr, msr_io
from vmxspec.interp.exits.context import ExitContext, rid
from vmxspec.interp.exits.outcome import ExitOutcome, Fault, exits, no_exit
from vmxspec.state import StateError

_PE, _TS = CR0["PE"].mask, CR0["TS"].mask
_VM = RFLAGS["VM"].mask
_PAUSE_EXITING = A.ctl(ControlField.PROC, "pause_exiting")
_PLE = A.ctl(ControlField.PROC2, "pause_loop_exiting")
_SHADOWING = A.ctl(ControlField.PROC2, "vmcs_shadowing")
_ENCLS_EXITING = A.ctl(ControlField.PROC2, "enable_encls_exiting")

for _facts in A.INSTRUCTIONS.values():
    rid(_facts.rule)
    for _p in (*_facts.before, *_facts.after):
        rid(_p.rule)
_PAUSE_LOOP_RULE = rid("EXIT-PAUSE-LOOP")


def check(ctx: ExitContext, preconditions: tuple[A.Precondition, ...], name: str) -> Fault | None:
    """The first fault among ``preconditions`` that the guest state raises, in table order."""
    for p in preconditions:
        why = _raises(ctx, p, name)
        if why:
            return Fault(p.fault, p.rule, why)
    return None


def _raises(ctx: ExitContext, p: A.Precondition, name: str) -> str:
    """Why ``p`` faults, or "" when it does not. Reads only the state the check needs."""
    c = p.check
    if c is A.Check.CPL:
        cpl = ctx.cpu("cpl")
        return f"{name} at CPL {cpl} raises {p.fault}" if cpl else ""
    if c is A.Check.MODE:
        if not ctx.cpu("cr0") & _PE:
            return f"{name} is not recognized in real-address mode (CR0.PE = 0) and raises #UD"
        if ctx.cpu("rflags") & _VM:
            return f"{name} is not recognized in virtual-8086 mode (RFLAGS.VM = 1) and raises #UD"
        return ""
    if c is A.Check.CR4_CLEAR:
        return "" if ctx.cpu("cr4") & CR4[p.cr4_bit].mask else f"{name} raises #UD because CR4.{p.cr4_bit} = 0"
    if c is A.Check.CONTROL_CLEAR:
        assert p.control is not None
        return "" if ctx.has(p.control) else f"{name} raises #UD because {ctx.setting(p.control)}"
    if c is A.Check.CPL_CR4_SET or c is A.Check.CPL_CR4_CLEAR:
        cpl = ctx.cpu("cpl")
        if not cpl:
            return ""
        bit = int(bool(ctx.cpu("cr4") & CR4[p.cr4_bit].mask))
        if bit == (c is A.Check.CPL_CR4_SET):
            return f"{name} at CPL {cpl} with CR4.{p.cr4_bit} = {bit} raises #GP(0)"
        return ""
    if c is A.Check.CR0_TS:
        return f"{name} raises #NM because CR0.TS = 1" if ctx.cpu("cr0") & _TS else ""
    if c is A.Check.NOT_IN_SMM:
        return "" if ctx.in_smm() else f"{name} outside system-management mode raises #UD"
    if c is A.Check.IN_SMM:
        return f"{name} in system-management mode raises #UD" if ctx.in_smm() else ""
    raise AssertionError(f"unhandled check {c}")


def qualification(facts: A.InstructionFacts, ops: dict[str, int]) -> int:
    q = facts.qualification
    if q is A.Qualification.DISPLACEMENT:
        return ops.get("displacement", 0)
    if q is A.Qualification.LINEAR_ADDRESS:
        return ops["linear_address"]
    if q is A.Qualification.MONITOR_ARMED:
        return ops.get("monitor_armed", 0)
    return 0


def decide_instruction(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int]) -> ExitOutcome | Fault:
    """The instruction's own outcome: a fault with priority over the exit, an exit, or no exit.
    (What a fault or "no exit" leads to, through the exception bitmap or the monitor trap flag, is
    the caller's business.)"""
    name = _name(facts, ops)
    fault = check(ctx, facts.before, name)
    if fault is not None:
        return fault
    outcome = _DECIDERS[facts.decider](ctx, facts, ops, name)
    if isinstance(outcome, ExitOutcome) and not outcome.exit and facts.after:
        fault = check(ctx, facts.after, name)
        if fault is not None:
            return Fault(fault.fault, fault.rule, f"{outcome.explanation}; then {fault.why}")
    return outcome


def _name(facts: A.InstructionFacts, ops: dict[str, int]) -> str:
    if "ecx" in ops and facts.decider is A.Decider.MSR:
        return f"{facts.mnemonic} of MSR {ops['ecx']:#x}"
    return facts.mnemonic.replace("_", " ").replace("MOV TO", "MOV to").replace("MOV FROM", "MOV from")


Decider = Callable[[ExitContext, A.InstructionFacts, dict[str, int], str], ExitOutcome | Fault]


def _unconditional(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    assert facts.reason is not None
    return exits(facts.reason, qualification(facts, ops), facts.rule,
                 f"{name} causes a VM exit unconditionally in VMX non-root operation")


def _controls(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    assert facts.reason is not None
    settings = " and ".join(ctx.setting(b) for b in facts.exit_controls)
    if all(ctx.has(b) for b in facts.exit_controls):
        return exits(facts.reason, qualification(facts, ops), facts.rule, f"{name} causes a VM exit: {settings}")
    return no_exit(facts.rule, f"{name} does not cause a VM exit: {settings}")


def _never(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    if facts.rule == "EXIT-CR-READ-SHADOW":
        return no_exit(facts.rule, f"{name} never causes a VM exit: it reads the read shadow at the bits set in "
                       "the guest/host mask")
    return no_exit(facts.rule, f"{name} is not an instruction that causes VM exits in VMX non-root operation")


def _pause(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    """SDM "PAUSE": PAUSE exiting first, then PAUSE-loop exiting at CPL 0 only, timed by the event."""
    if ctx.has(_PAUSE_EXITING):
        return exits(40, 0, facts.rule, "PAUSE causes a VM exit: \"PAUSE exiting\" is 1")
    if not ctx.has(_PLE):
        return no_exit(facts.rule, f"PAUSE does not cause a VM exit: \"PAUSE exiting\" is 0 and {ctx.setting(_PLE)}")
    cpl = ctx.cpu("cpl")
    if cpl:
        return no_exit(facts.rule, f"PAUSE does not cause a VM exit: \"PAUSE exiting\" is 0 and \"PAUSE-loop "
                       f"exiting\" is ignored at CPL {cpl}")
    if "since_last_pause" not in ops:
        return no_exit(_PAUSE_LOOP_RULE, "PAUSE does not cause a VM exit: as the first PAUSE at CPL 0 after VM "
                       "entry it starts a PAUSE loop")
    gap = ctx.field("PLE_GAP")
    since_last = ops["since_last_pause"]
    if since_last > gap:
        return no_exit(_PAUSE_LOOP_RULE, f"PAUSE does not cause a VM exit: {since_last} ticks since the previous "
                       f"PAUSE exceed PLE_Gap ({gap}), so it starts a new PAUSE loop")
    if "since_loop_start" not in ops:
        raise StateError("bad-query", f"this PAUSE is within PLE_Gap ({gap}) of the previous one, so whether it "
                         "exits depends on the time since the first PAUSE of the loop: give 'since_loop_start'",
                         "query.event.since_loop_start")
    window = ctx.field("PLE_WINDOW")
    since_start = ops["since_loop_start"]
    if since_start > window:
        return exits(40, 0, _PAUSE_LOOP_RULE, f"PAUSE causes a VM exit (PAUSE-loop exiting): it is within PLE_Gap "
                     f"({gap}) of the previous PAUSE and {since_start} ticks since the loop began exceed "
                     f"PLE_Window ({window})")
    return no_exit(_PAUSE_LOOP_RULE, f"PAUSE does not cause a VM exit: the loop began {since_start} ticks ago, "
                   f"not more than PLE_Window ({window})")


def _vmcs_access(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    assert facts.reason is not None
    field = ops["field"]
    qual = qualification(facts, ops)
    if not ctx.has(_SHADOWING):
        return exits(facts.reason, qual, facts.rule, f"{name} causes a VM exit: {ctx.setting(_SHADOWING)}")
    if field >> A.VMCS_FIELD_BITS:
        return exits(facts.reason, qual, facts.rule, f"{name} of field {field:#x} causes a VM exit: the encoding "
                     "sets bits in 63:15")
    bitmap = A.VMCS_ACCESS_BITMAPS[facts.mnemonic]
    if ctx.bitmap_bit(bitmap, field):
        return exits(facts.reason, qual, facts.rule, f"{name} of field {field:#06x} causes a VM exit: bit {field:#x} "
                     f"of the {facts.mnemonic} bitmap is 1")
    return no_exit(facts.rule, f"{name} of field {field:#06x} does not cause a VM exit: \"VMCS shadowing\" is 1 and "
                   f"bit {field:#x} of the {facts.mnemonic} bitmap is 0, so it accesses the shadow VMCS")


def _xss(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    assert facts.reason is not None
    requested = ops["edx_eax"]
    xss = ctx.cpu("ia32_xss")
    bitmap = ctx.field("XSS_EXIT_BITMAP")
    common = requested & xss & bitmap
    terms = f"EDX:EAX ({requested:#x}) & IA32_XSS ({xss:#x}) & XSS-exiting bitmap ({bitmap:#x})"
    if common:
        return exits(facts.reason, qualification(facts, ops), facts.rule,
                     f"{name} causes a VM exit: {terms} = {common:#x} is not 0")
    return no_exit(facts.rule, f"{name} does not cause a VM exit: {terms} is 0")


def _encls(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    if not ctx.has(_ENCLS_EXITING):
        return no_exit(facts.rule, f"ENCLS does not cause a VM exit: {ctx.setting(_ENCLS_EXITING)}")
    leaf = ops["eax"]
    bit = min(leaf, A.ENCLS_LAST_BIT)
    bitmap = ctx.field("ENCLS_EXITING_BITMAP")
    which = f"bit {bit} of the ENCLS-exiting bitmap" + (f" (EAX = {leaf:#x} > 62)" if leaf > 62 else "")
    if bitmap >> bit & 1:
        return exits(60, 0, facts.rule, f"ENCLS leaf {leaf:#x} causes a VM exit: {which} is 1")
    return no_exit(facts.rule, f"ENCLS leaf {leaf:#x} does not cause a VM exit: {which} is 0")


_DECIDERS: dict[A.Decider, Decider] = {
    A.Decider.UNCONDITIONAL: _unconditional,
    A.Decider.CONTROLS: _controls,
    A.Decider.NEVER: _never,
    A.Decider.PAUSE: _pause,
    A.Decider.VMCS_ACCESS: _vmcs_access,
    A.Decider.XSS: _xss,
    A.Decider.ENCLS: _encls,
    A.Decider.MSR: msr_io.decide_msr,
    A.Decider.IO: msr_io.decide_io,
    A.Decider.CR: cr.decide_cr,
    A.Decider.DR: cr.decide_dr,
}
