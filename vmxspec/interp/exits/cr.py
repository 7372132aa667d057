"""Control-register accesses (MOV CR, CLTS, LMSW) and MOV DR.

SDM "Instructions That Cause VM Exits Conditionally" (CLTS, LMSW, MOV from/to CR3 and CR8, MOV to
CR0 and CR4, MOV DR), "TPR Virtualization", and the tables "Exit Qualification for Control-Register
Accesses" and "Exit Qualification for MOV DR". The CPL check of MOV CR, CLTS and LMSW comes first
(``arch.exits`` lists it); MOV DR is the exception the SDM names: its exit precedes the CPL #GP.
"""

from __future__ import annotations

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlField
from vmxspec.arch.registers import CR4
from vmxspec.interp.exits.context import ExitContext, rid
from vmxspec.interp.exits.outcome import ExitOutcome, Fault, exits, no_exit

PROC, PROC2 = ControlField.PROC, ControlField.PROC2
_CR3_LOAD = A.ctl(PROC, "cr3_load_exiting")
_CR3_STORE = A.ctl(PROC, "cr3_store_exiting")
_CR8_LOAD = A.ctl(PROC, "cr8_load_exiting")
_CR8_STORE = A.ctl(PROC, "cr8_store_exiting")
_TPR_SHADOW = A.ctl(PROC, "use_tpr_shadow")
_VID = A.ctl(PROC2, "virtual_interrupt_delivery")
_MOV_DR = A.ctl(PROC, "mov_dr_exiting")
_TS = 1 << 3
_DE = CR4["DE"].mask

_TPR_THRESHOLD = rid("EXIT-TPR-THRESHOLD")
_CR8_RESERVED = rid("FAULT-CR8-RESERVED")
_UD_DR = rid("FAULT-UD-DR")
_CPL = rid("FAULT-CPL")


def cr_qualification(cr: int, access: int, gpr: int = 0, lmsw_memory: int = 0, lmsw_source: int = 0) -> int:
    """SDM "Exit Qualification for Control-Register Accesses"."""
    q = A.CR_QUAL
    value = q["cr"].put(0, cr)
    value = q["access_type"].put(value, access)
    value = q["lmsw_memory"].put(value, lmsw_memory)
    value = q["gpr"].put(value, gpr)
    return q["lmsw_source"].put(value, lmsw_source)


def decide_cr(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome | Fault:
    m = facts.mnemonic
    if m == "MOV_TO_CR0":
        return _masked_write(ctx, facts, ops, 0)
    if m == "MOV_TO_CR4":
        return _masked_write(ctx, facts, ops, 4)
    if m == "MOV_TO_CR3":
        return _cr3_load(ctx, facts, ops)
    if m == "MOV_TO_CR8":
        return _cr8_load(ctx, facts, ops)
    if m == "CLTS":
        return _clts(ctx, facts)
    if m == "LMSW":
        return _lmsw(ctx, facts, ops)
    control, cr = (_CR3_STORE, 3) if m == "MOV_FROM_CR3" else (_CR8_STORE, 8)
    qual = cr_qualification(cr, A.CR_MOV_FROM, ops["gpr"])
    if ctx.has(control):
        return exits(28, qual, facts.rule, f"MOV from CR{cr} causes a VM exit: {ctx.setting(control)}")
    more = ""
    if cr == 8:
        more = "; it reads VTPR[7:4]" if ctx.has(_TPR_SHADOW) else "; it reads the real TPR"
    return no_exit(facts.rule, f"MOV from CR{cr} does not cause a VM exit: {ctx.setting(control)}{more}")


def _masked_write(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], cr: int) -> ExitOutcome:
    value = ops["value"]
    mask = ctx.field(f"CR{cr}_GUEST_HOST_MASK")
    shadow = ctx.field(f"CR{cr}_READ_SHADOW")
    differ = mask & (value ^ shadow)
    what = f"MOV to CR{cr} of {value:#x}"
    if differ:
        return exits(28, cr_qualification(cr, A.CR_MOV_TO, ops["gpr"]), facts.rule,
                     f"{what} causes a VM exit: bits {differ:#x} are set in the CR{cr} guest/host mask ({mask:#x}) "
                     f"and differ from the CR{cr} read shadow ({shadow:#x})")
    if not mask:
        return no_exit(facts.rule, f"{what} does not cause a VM exit: the CR{cr} guest/host mask is 0")
    return no_exit(facts.rule, f"{what} does not cause a VM exit: it matches the CR{cr} read shadow ({shadow:#x}) "
                   f"at every bit set in the CR{cr} guest/host mask ({mask:#x})")


def _cr3_load(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int]) -> ExitOutcome:
    value = ops["value"]
    what = f"MOV to CR3 of {value:#x}"
    if not ctx.has(_CR3_LOAD):
        return no_exit(facts.rule, f"{what} does not cause a VM exit: \"CR3-load exiting\" is 0")
    count = ctx.field("CR3_TARGET_COUNT")
    # VM entry fails for a count above 4, so a running guest never has one; compare what exists.
    for n in range(min(count, A.CR3_TARGETS)):
        if ctx.field(f"CR3_TARGET_VALUE{n}") == value:
            return no_exit(facts.rule, f"{what} does not cause a VM exit: it equals CR3-target value {n} "
                           f"(the CR3-target count is {count})")
    targets = "the CR3-target count is 0" if not count else f"it equals none of the first {count} CR3-target values"
    return exits(28, cr_qualification(3, A.CR_MOV_TO, ops["gpr"]), facts.rule,
                 f"{what} causes a VM exit: \"CR3-load exiting\" is 1 and {targets}")


def _cr8_load(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int]) -> ExitOutcome | Fault:
    value = ops["value"]
    what = f"MOV to CR8 of {value:#x}"
    if ctx.has(_CR8_LOAD):
        return exits(28, cr_qualification(8, A.CR_MOV_TO, ops["gpr"]), facts.rule,
                     f"{what} causes a VM exit: \"CR8-load exiting\" is 1")
    if value >> 4:
        return Fault("#GP(0)", _CR8_RESERVED, f"{what} does not exit (\"CR8-load exiting\" is 0) and raises #GP(0): "
                     "bits 63:4 of CR8 are reserved")
    if not ctx.has(_TPR_SHADOW):
        return no_exit(facts.rule, f"{what} does not cause a VM exit: \"CR8-load exiting\" and \"use TPR shadow\" "
                       "are 0, so it writes the real TPR")
    if ctx.has(_VID):
        return no_exit(facts.rule, f"{what} does not cause a VM exit: it writes VTPR, and with \"virtual-interrupt "
                       "delivery\" 1 PPR virtualization follows instead of a TPR-threshold check")
    threshold = ctx.field("TPR_THRESHOLD") & 0xF
    if value < threshold:
        return exits(43, 0, _TPR_THRESHOLD, f"{what} writes VTPR and then causes a trap-like VM exit (TPR below "
                     f"threshold): VTPR[7:4] = {value} is less than TPR_THRESHOLD[3:0] = {threshold}")
    return no_exit(_TPR_THRESHOLD, f"{what} does not cause a VM exit: it writes VTPR, and VTPR[7:4] = {value} is "
                   f"not less than TPR_THRESHOLD[3:0] = {threshold}")


def _clts(ctx: ExitContext, facts: A.InstructionFacts) -> ExitOutcome:
    mask = ctx.field("CR0_GUEST_HOST_MASK")
    shadow = ctx.field("CR0_READ_SHADOW")
    bits = f"CR0 guest/host mask bit 3 (TS) is {int(bool(mask & _TS))} and CR0 read shadow bit 3 is " \
           f"{int(bool(shadow & _TS))}"
    if mask & shadow & _TS:
        return exits(28, cr_qualification(0, A.CR_CLTS), facts.rule, f"CLTS causes a VM exit: {bits}")
    effect = "; CR0.TS is left unchanged" if mask & _TS else ""
    return no_exit(facts.rule, f"CLTS does not cause a VM exit: {bits}{effect}")


def _lmsw(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int]) -> ExitOutcome:
    source = ops["value"]
    mask = ctx.field("CR0_GUEST_HOST_MASK") & 0xF
    shadow = ctx.field("CR0_READ_SHADOW")
    what = f"LMSW of {source:#x}"
    qual = cr_qualification(0, A.CR_LMSW, lmsw_memory=ops.get("operand", 0), lmsw_source=source)
    if mask & source & 1 and not shadow & 1:
        return exits(28, qual, facts.rule, f"{what} causes a VM exit: it would set CR0.PE, which the CR0 guest/host "
                     "mask owns and the CR0 read shadow has clear")
    differ = mask & 0xE & (source ^ shadow)
    if differ:
        return exits(28, qual, facts.rule, f"{what} causes a VM exit: bits {differ:#x} of 3:1 are set in the CR0 "
                     "guest/host mask and differ from the CR0 read shadow")
    return no_exit(facts.rule, f"{what} does not cause a VM exit: bits 3:0 that the CR0 guest/host mask owns match "
                   "the CR0 read shadow (LMSW cannot clear PE)")


def decide_dr(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome | Fault:
    dr, gpr = ops["dr"], ops["gpr"]
    direction = int(facts.mnemonic == "MOV_FROM_DR")
    what = f"MOV {'from' if direction else 'to'} DR{dr}"
    if ctx.has(_MOV_DR):
        q = A.DR_QUAL
        qual = q["gpr"].put(q["direction"].put(q["dr"].put(0, dr), direction), gpr)
        return exits(29, qual, facts.rule, f"{what} causes a VM exit: \"MOV-DR exiting\" is 1 (this exit has "
                     "priority over the #UD, #DB and #GP faults of MOV DR)")
    if dr in (4, 5) and ctx.cpu("cr4") & _DE:
        return Fault("#UD", _UD_DR, f"{what} does not exit (\"MOV-DR exiting\" is 0) and raises #UD: CR4.DE = 1 "
                     "makes DR4 and DR5 invalid")
    cpl = ctx.cpu("cpl")
    if cpl:
        return Fault("#GP(0)", _CPL, f"{what} does not exit (\"MOV-DR exiting\" is 0) and at CPL {cpl} raises #GP(0)")
    return no_exit(facts.rule, f"{what} does not cause a VM exit: \"MOV-DR exiting\" is 0")
