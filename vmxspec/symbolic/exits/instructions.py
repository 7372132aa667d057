"""Instruction exits: the faults the SDM orders before the exit, the instruction's own exit rule,
the faults raised instead of executing when it does not exit, then (for ``exit`` only) the
exception bitmap for a fault and the monitor trap flag.

SDM "Relative Priority of Faults and VM Exits", "Instructions That Cause VM Exits Unconditionally"
and "... Conditionally". Which controls and faults apply to which instruction is the shared fact
table ``vmxspec.arch.exits.INSTRUCTIONS``; the Z3 meaning of each entry is written here. The
MSR/I/O families are in ``msr_io``, control and debug registers in ``cr``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import z3

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlBit
from vmxspec.symbolic.exits.decision import Decision, Values
from vmxspec.symbolic.exits.env import PROC, PROC2, Env, ctl, quoted
from vmxspec.symbolic.exits.terms import BV, FALSE, TRUE, Bool, bv, either, every, first_match, is_false, zext

Doc = Callable[[Values], dict[str, object]]


@dataclass(slots=True)
class Family:
    """An instruction family's part of the decision (see ``compose``)."""

    own: Bool
    operands: dict[str, z3.ExprRef] = field(default_factory=dict)
    #: Faults raised instead of executing when the instruction does not exit: (condition, vector).
    after: list[tuple[Bool, int]] = field(default_factory=list)
    #: Faults the decider itself gives priority over the exit (the TSS I/O-permission check).
    before: list[tuple[Bool, int]] = field(default_factory=list)
    doc: Doc = lambda values: {}
    why: Callable[[Values], str] = lambda values: "it does not exit"
    valid: Bool = TRUE
    possible: Bool = TRUE
    prefer: list[Bool] = field(default_factory=list)


def operand(key: str, width: int) -> z3.BitVecRef:
    return z3.BitVec(f"op.{key}", width)


def hexs(value: int) -> str:
    return f"{value:#x}"


def precondition(env: Env, p: A.Precondition) -> Bool:
    """The Z3 condition under which precondition ``p`` raises its fault."""
    g = env.guest
    c = p.check
    cpl_nonzero = g.cpl != bv(0, 2)
    if c is A.Check.CPL:
        return cpl_nonzero
    if c is A.Check.MODE:
        return z3.Or(z3.Not(g.cr0_bit("PE")), g.rflags_bit("VM"))
    if c is A.Check.CR4_CLEAR:
        return z3.Not(g.cr4_bit(p.cr4_bit))
    if c is A.Check.CONTROL_CLEAR:
        assert p.control is not None
        return z3.Not(env.ctl(p.control))
    if c is A.Check.CPL_CR4_SET:
        return z3.And(cpl_nonzero, g.cr4_bit(p.cr4_bit))
    if c is A.Check.CPL_CR4_CLEAR:
        return z3.And(cpl_nonzero, z3.Not(g.cr4_bit(p.cr4_bit)))
    if c is A.Check.CR0_TS:
        return g.cr0_bit("TS")
    if c is A.Check.NOT_IN_SMM:
        return z3.Not(g.in_smm)
    if c is A.Check.IN_SMM:
        return g.in_smm
    raise AssertionError(f"unhandled precondition {c}")


def _fault_vector(p: A.Precondition) -> int:
    return A.FAULT_VECTORS[p.fault][0]


def _fault_exit(env: Env, faults: list[tuple[Bool, int]], mtf: Bool) -> Bool:
    """A fault is an exception: it exits iff its exception-bitmap bit is 1; delivered through the
    guest IDT otherwise, and then the monitor trap flag may exit."""
    return first_match([(c, z3.Or(env.exception_bit(v), mtf)) for c, v in faults], FALSE)


def compose(env: Env, facts: A.InstructionFacts, family: Family) -> tuple[Bool, Bool, Bool]:
    """(exit, escape, intercepted) from the fact table's faults and the family's own rule."""
    before = [(precondition(env, p), _fault_vector(p)) for p in facts.before] + family.before
    after = [(precondition(env, p), _fault_vector(p)) for p in facts.after] + family.after
    before = [(c, v) for c, v in before if not is_false(c)]
    after = [(c, v) for c, v in after if not is_false(c)]
    mtf = env.mtf()
    b_any, a_any = either([c for c, _ in before]), either([c for c, _ in after])
    own = family.own
    not_exiting = z3.If(a_any, _fault_exit(env, after, mtf), mtf) if after else mtf
    exit_ = z3.If(own, TRUE, not_exiting)
    if before:
        exit_ = z3.If(b_any, _fault_exit(env, before, mtf), exit_)
    escape = every([z3.Not(b_any), z3.Not(own), z3.Not(a_any)])
    return exit_, escape, z3.And(z3.Not(b_any), own)


def describe(facts: A.InstructionFacts) -> str:
    m = facts.mnemonic
    return m.replace("MOV_TO_", "MOV to ").replace("MOV_FROM_", "MOV from ")


def decision(env: Env, facts: A.InstructionFacts, family: Family) -> Decision:
    exit_, escape, intercepted = compose(env, facts, family)

    def query(values: Values) -> dict[str, object]:
        return {"kind": "exit", "event": {"kind": "instruction", "insn": facts.mnemonic, **family.doc(values)}}

    return Decision(facts.mnemonic, family.operands, exit_, escape, query, family.why, family.valid,
                    family.possible, family.prefer, intercepted=intercepted)


# -- the simple deciders ------------------------------------------------------------------------------

def _settings(env: Env, values: Values, controls: tuple[ControlBit, ...] = ()) -> str:
    parts = []
    for c in controls:
        on = values.flag(env.ctl(c))
        parts.append(f"{quoted(c)} is {int(on)}")
    return " and ".join(parts)


def required_operands(facts: A.InstructionFacts) -> tuple[dict[str, z3.ExprRef], Doc]:
    """Variables for the numeric operands an ``exit`` question must give (INVLPG's linear address,
    ENCLS's leaf...), and their rendering."""
    ops: dict[str, z3.ExprRef] = {}
    for key in facts.required:
        width = A.OPERAND_WIDTHS.get(key)
        if width is not None:
            ops[key] = operand(key, width)

    def doc(values: Values) -> dict[str, object]:
        return {key: hexs(values(var)) for key, var in ops.items()}

    return ops, doc


def unconditional(env: Env, facts: A.InstructionFacts) -> Family:
    ops, doc = required_operands(facts)
    return Family(TRUE, ops, doc=doc, why=lambda v: f"{describe(facts)} always exits")


def by_controls(env: Env, facts: A.InstructionFacts) -> Family:
    ops, doc = required_operands(facts)
    own = every([env.ctl(c) for c in facts.exit_controls])

    def why(values: Values) -> str:
        return f"{describe(facts)} does not exit: {_settings(env, values, facts.exit_controls)}"

    return Family(own, ops, doc=doc, why=why)


def never(env: Env, facts: A.InstructionFacts) -> Family:
    ops, doc = required_operands(facts)
    text = ("it reads the read shadow in the bits the guest/host mask owns" if facts.rule == "EXIT-CR-READ-SHADOW"
            else "it is not an instruction that causes VM exits in VMX non-root operation")
    return Family(FALSE, ops, doc=doc, why=lambda v: f"{describe(facts)} never exits: {text}")


_PAUSE_EXITING = ctl(PROC, "pause_exiting")
_PLE = ctl(PROC2, "pause_loop_exiting")


def pause(env: Env, facts: A.InstructionFacts) -> Family:
    """PAUSE exiting, else PAUSE-loop exiting at CPL 0 only: within PLE_Gap of the previous PAUSE
    and more than PLE_Window since the loop began (strict comparisons, TSC ticks). The timing is
    an operand the guest controls: ``has_last`` (a previous PAUSE at CPL 0 since VM entry) and the
    two distances."""
    has_last, has_start = z3.Bool("op.has_last_pause"), z3.Bool("op.has_loop_start")
    since_last, since_start = operand("since_last_pause", 64), operand("since_loop_start", 64)
    ple = env.ctl(_PLE)
    loop_exit = FALSE
    within_gap = FALSE
    if not is_false(ple):
        within_gap = z3.ULE(since_last, zext(env.field("PLE_GAP"), 64))
        loop_exit = z3.And(ple, env.guest.cpl == bv(0, 2), has_last, within_gap,
                           z3.UGT(since_start, zext(env.field("PLE_WINDOW"), 64)))
    own = z3.Or(env.ctl(_PAUSE_EXITING), loop_exit)
    # The interpreter needs the loop start exactly when the PAUSE falls within the gap.
    valid = z3.And(z3.Implies(has_start, z3.And(has_last, z3.UGE(since_start, since_last))),
                   z3.Implies(z3.And(ple, z3.Not(env.ctl(_PAUSE_EXITING)), env.guest.cpl == bv(0, 2), has_last,
                                     within_gap), has_start))

    def doc(values: Values) -> dict[str, object]:
        out: dict[str, object] = {}
        if values.flag(has_last):
            out["since_last_pause"] = hexs(values(since_last))
        if values.flag(has_start):
            out["since_loop_start"] = hexs(values(since_start))
        return out

    def why(values: Values) -> str:
        text = "PAUSE does not exit: \"PAUSE exiting\" is 0"
        if values.flag(ple):
            text += " and PAUSE-loop exiting does not fire (" + (
                f"CPL {values(env.guest.cpl)} > 0)" if values(env.guest.cpl) else
                "the PAUSE starts a new loop)" if not values.flag(has_last) or not values.flag(within_gap) else
                "the loop has not run longer than PLE_Window)")
        return text

    return Family(own, {"has_last_pause": has_last, "has_loop_start": has_start, "since_last_pause": since_last,
                        "since_loop_start": since_start}, doc=doc, why=why, valid=valid,
                  prefer=[z3.Not(has_last), z3.Not(has_start)])


_SHADOWING = ctl(PROC2, "vmcs_shadowing")


def vmcs_access(env: Env, facts: A.InstructionFacts) -> Family:
    """VMREAD/VMWRITE: exit unless "VMCS shadowing" is 1, the encoding in the register operand has
    no bit above 14 set, and its bit in the VMREAD (VMWRITE) bitmap is 0."""
    field_ = operand("field", 64)
    shadowing = env.ctl(_SHADOWING)
    high = z3.Extract(63, A.VMCS_FIELD_BITS, field_) != 0
    in_bitmap = FALSE
    if not is_false(shadowing):
        in_bitmap = env.view.bitmap_bit(A.VMCS_ACCESS_BITMAPS[facts.mnemonic], 0, 1 << A.VMCS_FIELD_BITS,
                                        z3.Extract(A.VMCS_FIELD_BITS - 1, 0, field_))
    own = z3.Or(z3.Not(shadowing), high, in_bitmap)

    def why(values: Values) -> str:
        f = values(field_)
        return (f"{facts.mnemonic} of field {f:#06x} does not exit: \"VMCS shadowing\" is 1 and bit {f:#x} of the "
                f"{facts.mnemonic} bitmap is 0, so it accesses the shadow VMCS")

    return Family(own, {"field": field_}, doc=lambda v: {"field": hexs(v(field_))}, why=why)


def xss(env: Env, facts: A.InstructionFacts) -> Family:
    """XSAVES/XRSTORS: exit iff EDX:EAX & IA32_XSS & XSS-exiting bitmap is not 0 (the enable
    control's #UD is in the fact table)."""
    requested = operand("edx_eax", 64)
    common = requested & env.guest.ia32_xss & env.field("XSS_EXIT_BITMAP")
    own = common != bv(0, 64)

    def why(values: Values) -> str:
        return (f"{facts.mnemonic} does not exit: EDX:EAX ({values(requested):#x}) & IA32_XSS "
                f"({values(env.guest.ia32_xss):#x}) & the XSS-exiting bitmap "
                f"({values(env.field('XSS_EXIT_BITMAP')):#x}) is 0")

    return Family(own, {"edx_eax": requested}, doc=lambda v: {"edx_eax": hexs(v(requested))}, why=why)


_ENCLS_EXITING = ctl(PROC2, "enable_encls_exiting")


def encls(env: Env, facts: A.InstructionFacts) -> Family:
    """ENCLS: exit iff "enable ENCLS exiting" and bit min(EAX, 63) of the ENCLS-exiting bitmap."""
    leaf = operand("eax", 32)
    enabled = env.ctl(_ENCLS_EXITING)
    own = FALSE
    index: BV = z3.If(z3.UGT(leaf, bv(A.ENCLS_LAST_BIT, 32)), bv(A.ENCLS_LAST_BIT, 32), leaf)
    if not is_false(enabled):
        bitmap = env.field("ENCLS_EXITING_BITMAP")
        own = z3.And(enabled, z3.Extract(0, 0, z3.LShR(bitmap, z3.ZeroExt(32, index))) == 1)

    def why(values: Values) -> str:
        if not values.flag(enabled):
            return "ENCLS does not exit: \"enable ENCLS exiting\" is 0"
        return f"ENCLS leaf {values(leaf):#x} does not exit: bit {values(index)} of the ENCLS-exiting bitmap is 0"

    return Family(own, {"eax": leaf}, doc=lambda v: {"eax": hexs(v(leaf))}, why=why)


__all__ = ["Family", "by_controls", "compose", "decision", "encls", "never", "operand", "pause",
           "precondition", "required_operands", "unconditional", "vmcs_access", "xss"]
