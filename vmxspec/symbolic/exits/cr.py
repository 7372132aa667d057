"""Control-register accesses (MOV to/from CR0, CR3, CR4, CR8; CLTS; LMSW) and MOV DR.

SDM "Instructions That Cause VM Exits Conditionally", "TPR Virtualization" and 25.3 (what a MOV to
CR0/CR4 that does not exit does). The privilege check (CPL > 0: #GP) of MOV CR, CLTS and LMSW is
in the fact table and comes first; MOV DR's exit precedes its #UD (DR4/DR5 with CR4.DE = 1) and
#GP (CPL > 0), which are raised instead of executing only when it does not exit.
"""

from __future__ import annotations

import z3

from vmxspec.arch import exits as A
from vmxspec.arch.registers import CR0, CR4
from vmxspec.symbolic.exits.decision import Values
from vmxspec.symbolic.exits.env import PROC, PROC2, Env, ctl
from vmxspec.symbolic.exits.instructions import Family, hexs, operand
from vmxspec.symbolic.exits.terms import FALSE, Bool, bit, bv, either, is_false

_CR3_LOAD, _CR3_STORE = ctl(PROC, "cr3_load_exiting"), ctl(PROC, "cr3_store_exiting")
_CR8_LOAD, _CR8_STORE = ctl(PROC, "cr8_load_exiting"), ctl(PROC, "cr8_store_exiting")
_TPR_SHADOW = ctl(PROC, "use_tpr_shadow")
_VID = ctl(PROC2, "virtual_interrupt_delivery")
_MOV_DR = ctl(PROC, "mov_dr_exiting")
_TS = CR0["TS"].lsb
_GP = A.FAULT_VECTORS["#GP(0)"][0]
_UD = A.FAULT_VECTORS["#UD"][0]

#: CR0 bits a MOV to CR0 can set without #GP: the defined bits below 32 (bits 63:32 are reserved).
_CR0_DEFINED = sum(f.mask for f in CR0.fields)
_CR4_DEFINED = sum(f.mask for f in CR4.fields)


def _gpr(values: Values) -> dict[str, object]:
    return {"gpr": 0}


def masked_write(env: Env, facts: A.InstructionFacts, cr: int) -> Family:
    """MOV to CR0/CR4 exits iff some bit set in the guest/host mask differs between the source
    operand and the read shadow: (value XOR shadow) AND mask != 0."""
    value = operand("value", 64)
    mask, shadow = env.field(f"CR{cr}_GUEST_HOST_MASK"), env.field(f"CR{cr}_READ_SHADOW")
    own = mask & (value ^ shadow) != bv(0, 64)
    # A counterexample reads best as a value the guest could really write (no #GP after a non-exit).
    if cr == 0:
        prefer = [value & bv(~_CR0_DEFINED & (1 << 64) - 1, 64) == bv(0, 64),
                  z3.Implies(bit(value, CR0["PG"].lsb), bit(value, CR0["PE"].lsb)),
                  z3.Implies(bit(value, CR0["NW"].lsb), bit(value, CR0["CD"].lsb))]
    else:
        prefer = [value & bv(~_CR4_DEFINED & (1 << 64) - 1, 64) == bv(0, 64)]

    def why(values: Values) -> str:
        v, m, s = values(value), values(mask), values(shadow)
        if not m:
            return f"MOV to CR{cr} of {v:#x} does not exit: the CR{cr} guest/host mask is 0"
        return (f"MOV to CR{cr} of {v:#x} does not exit: it equals the CR{cr} read shadow ({s:#x}) in every bit the "
                f"CR{cr} guest/host mask ({m:#x}) owns")

    return Family(own, {"value": value}, doc=lambda v: {"value": hexs(v(value)), **_gpr(v)}, why=why, prefer=prefer)


def cr3_load(env: Env, facts: A.InstructionFacts) -> Family:
    """MOV to CR3 exits iff "CR3-load exiting" is 1 and the source equals none of the first
    CR3_TARGET_COUNT target values (only the first four exist; a larger count fails VM entry)."""
    value = operand("value", 64)
    load = env.ctl(_CR3_LOAD)
    matches: list[Bool] = []
    if not is_false(load):
        count = env.field("CR3_TARGET_COUNT")
        for n in range(A.CR3_TARGETS):
            used = z3.ULT(bv(n, 32), count)
            if is_false(used):
                continue
            matches.append(z3.And(used, env.field(f"CR3_TARGET_VALUE{n}") == value))
    own = z3.And(load, z3.Not(either(matches)))

    def why(values: Values) -> str:
        v = values(value)
        if not values.flag(load):
            return f"MOV to CR3 of {v:#x} does not exit: \"CR3-load exiting\" is 0"
        n = next(i for i, c in enumerate(matches) if values.flag(c))
        return f"MOV to CR3 of {v:#x} does not exit: it equals CR3-target value {n}"

    return Family(own, {"value": value}, doc=lambda v: {"value": hexs(v(value)), **_gpr(v)}, why=why)


def cr8_load(env: Env, facts: A.InstructionFacts) -> Family:
    """MOV to CR8: exits if "CR8-load exiting" is 1. Otherwise a value above 15 raises #GP
    (reserved bits), and with "use TPR shadow" 1 and "virtual-interrupt delivery" 0 the write to
    VTPR is followed by a trap-like exit (TPR below threshold) iff value < TPR_THRESHOLD[3:0]."""
    value = operand("value", 64)
    load = env.ctl(_CR8_LOAD)
    small = z3.ULT(value, bv(16, 64))
    shadow, vid = env.ctl(_TPR_SHADOW), env.ctl(_VID)
    below: Bool = FALSE
    virtualized = z3.And(shadow, z3.Not(vid))
    if not is_false(virtualized):
        threshold = env.field("TPR_THRESHOLD") & bv(0xF, 32)
        below = z3.And(virtualized, small, z3.ULT(z3.Extract(31, 0, value), threshold))
    own = z3.Or(load, below)
    after = [(z3.Not(small), _GP)]

    def why(values: Values) -> str:
        v = values(value)
        head = f"MOV to CR8 of {v:#x} does not exit: \"CR8-load exiting\" is 0"
        if not values.flag(shadow):
            return f"{head} and \"use TPR shadow\" is 0, so it writes the real TPR"
        if values.flag(vid):
            return f"{head}; it writes VTPR, and with \"virtual-interrupt delivery\" 1 no TPR-threshold exit follows"
        return f"{head}; it writes VTPR, and {v} is not below TPR_THRESHOLD[3:0]"

    return Family(own, {"value": value}, after=after, doc=lambda v: {"value": hexs(v(value)), **_gpr(v)}, why=why)


def clts(env: Env, facts: A.InstructionFacts) -> Family:
    """CLTS exits iff bit 3 (TS) is 1 in both the CR0 guest/host mask and the CR0 read shadow."""
    mask, shadow = env.field("CR0_GUEST_HOST_MASK"), env.field("CR0_READ_SHADOW")
    own = z3.And(bit(mask, _TS), bit(shadow, _TS))

    def why(values: Values) -> str:
        return (f"CLTS does not exit: CR0 guest/host mask bit 3 (TS) is {values(mask) >> 3 & 1} and CR0 read shadow "
                f"bit 3 is {values(shadow) >> 3 & 1}")

    return Family(own, why=why)


def lmsw(env: Env, facts: A.InstructionFacts) -> Family:
    """LMSW exits iff it would set PE where the mask owns PE and the shadow has it clear, or changes
    (relative to the shadow) one of bits 3:1 that the mask owns. It cannot clear PE."""
    source = operand("value", 16)
    mask = z3.Extract(15, 0, env.field("CR0_GUEST_HOST_MASK"))
    shadow = z3.Extract(15, 0, env.field("CR0_READ_SHADOW"))
    sets_pe = z3.And(bit(mask, 0), bit(source, 0), z3.Not(bit(shadow, 0)))
    own = z3.Or(sets_pe, mask & bv(0xE, 16) & (source ^ shadow) != bv(0, 16))

    def why(values: Values) -> str:
        return (f"LMSW of {values(source):#x} does not exit: bits 3:0 the CR0 guest/host mask owns match the CR0 read "
                "shadow (and LMSW cannot clear PE)")

    return Family(own, {"value": source}, doc=lambda v: {"value": hexs(v(source))}, why=why)


def cr_store(env: Env, facts: A.InstructionFacts) -> Family:
    control, cr = (_CR3_STORE, 3) if facts.mnemonic == "MOV_FROM_CR3" else (_CR8_STORE, 8)
    own = env.ctl(control)

    def why(values: Values) -> str:
        more = ""
        if cr == 8:
            more = ("; it reads VTPR[7:4]" if values.flag(env.ctl(_TPR_SHADOW)) else "; it reads the real TPR")
        return f"MOV from CR{cr} does not exit: \"CR{cr}-store exiting\" is 0{more}"

    return Family(own, doc=_gpr, why=why)


def control_register(env: Env, facts: A.InstructionFacts) -> Family:
    m = facts.mnemonic
    if m in ("MOV_TO_CR0", "MOV_TO_CR4"):
        return masked_write(env, facts, int(m[-1]))
    builders = {"MOV_TO_CR3": cr3_load, "MOV_TO_CR8": cr8_load, "CLTS": clts, "LMSW": lmsw,
                "MOV_FROM_CR3": cr_store, "MOV_FROM_CR8": cr_store}
    return builders[m](env, facts)


def debug_register(env: Env, facts: A.InstructionFacts) -> Family:
    """MOV DR exits iff "MOV-DR exiting" is 1, ahead of its own faults; without the exit, DR4/DR5
    with CR4.DE = 1 raise #UD and CPL > 0 raises #GP."""
    dr = operand("dr", 3)
    own = env.ctl(_MOV_DR)
    g = env.guest
    after = [(z3.And(z3.Or(dr == bv(4, 3), dr == bv(5, 3)), g.cr4_bit("DE")), _UD), (g.cpl != bv(0, 2), _GP)]
    direction = "from" if facts.mnemonic == "MOV_FROM_DR" else "to"

    def why(values: Values) -> str:
        return f"MOV {direction} DR{values(dr)} does not exit: \"MOV-DR exiting\" is 0"

    return Family(own, {"dr": dr}, after=after, doc=lambda v: {"dr": v(dr), "gpr": 0}, why=why)


__all__ = ["control_register", "debug_register"]
