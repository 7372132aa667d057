"""RDMSR/WRMSR over the four regions of the MSR bitmap, and IN/INS/OUT/OUTS over the I/O bitmaps.

SDM "Instructions That Cause VM Exits Conditionally" (RDMSR, WRMSR, IN, INS, OUT, OUTS),
"MSR-Bitmap Address" and "I/O-Bitmap Addresses". The bitmap pages are concrete: each becomes runs
of set bits (``bitmaps.set_runs``), and "the bit for index x is set" a disjunction of range tests
over the symbolic index.

``MSR_LAYOUT`` and ``IO_LAYOUT`` are this side's reading of the layouts in ``vmxspec.arch.exits``,
kept as module tables so the seeded-bug tests can corrupt one entry and watch the differential
tests notice.
"""

from __future__ import annotations

import z3

from vmxspec.arch import exits as A
from vmxspec.symbolic.exits.decision import Values
from vmxspec.symbolic.exits.env import PROC, Env, ctl
from vmxspec.symbolic.exits.instructions import Family, hexs, operand
from vmxspec.symbolic.exits.terms import FALSE, Bool, bv, either, is_false

_USE_MSR = ctl(PROC, "use_msr_bitmaps")
_USE_IO = ctl(PROC, "use_io_bitmaps")
_UNCOND_IO = ctl(PROC, "unconditional_io_exiting")

#: (write?, high MSRs?) -> (byte offset in the MSR-bitmap page, first MSR of the range, region name).
MSR_LAYOUT: dict[tuple[bool, bool], tuple[int, int, str]] = {
    (r.write, r.first != 0): (r.offset, r.first, r.name) for r in A.MSR_REGIONS}
#: Bits per MSR region (0-1FFFH, C0000000H-C0001FFFH).
MSR_REGION_BITS = 0x2000
#: (VMCS field, first port) of I/O bitmaps A and B, 32768 ports each.
IO_LAYOUT: tuple[tuple[str, int], ...] = tuple((b.field, b.first) for b in A.IO_BITMAPS)
IO_BITMAP_BITS = 0x8000


def _in_region(ecx: z3.BitVecRef, first: int) -> Bool:
    return z3.And(z3.UGE(ecx, bv(first, 32)), z3.ULE(ecx, bv(first + MSR_REGION_BITS - 1, 32)))


def msr_bit(env: Env, write: bool, ecx: z3.BitVecRef) -> tuple[Bool, Bool]:
    """(ECX lies in one of the two bitmap ranges, its bit in the read or write bitmap is set)."""
    in_ranges, bits = [], []
    index = z3.Extract(MSR_REGION_BITS.bit_length() - 2, 0, ecx)
    for high in (False, True):
        offset, first, _ = MSR_LAYOUT[(write, high)]
        inside = _in_region(ecx, first)
        in_ranges.append(inside)
        bits.append(z3.And(inside, env.view.bitmap_bit("MSR_BITMAP", offset, MSR_REGION_BITS, index)))
    return either(in_ranges), either(bits)


def msr(env: Env, facts: A.InstructionFacts) -> Family:
    """Exit if "use MSR bitmaps" is 0, if ECX is outside 0-1FFFH and C0000000H-C0001FFFH, or if
    ECX's bit is set in the read (RDMSR) or write (WRMSR) bitmap for its range."""
    write = facts.mnemonic == "WRMSR"
    ecx = operand("ecx", 32)
    use = env.ctl(_USE_MSR)
    in_ranges = z3.Or(*(_in_region(ecx, first) for first in sorted({v[1] for v in MSR_LAYOUT.values()})))
    bit_set: Bool = FALSE
    if not is_false(use):
        in_ranges, bit_set = msr_bit(env, write, ecx)
    own = z3.Or(z3.Not(use), z3.Not(in_ranges), bit_set)

    def why(values: Values) -> str:
        index = values(ecx)
        head = f"{facts.mnemonic} {index:#x} does not exit"
        high = index >= 0xC000_0000
        offset, first, name = MSR_LAYOUT[(write, high)]
        bit = index - first
        base = env.view.concrete("MSR_BITMAP")
        where = f" (byte {base + offset + (bit >> 3):#x})" if base is not None else ""
        state = "set" if values.flag(bit_set) else "clear"
        return f"{head}: \"use MSR bitmaps\" is 1 and bit {bit:#x} of the MSR bitmap's {name}{where} is {state}"

    return Family(own, {"ecx": ecx}, doc=lambda v: {"ecx": hexs(v(ecx))}, why=why)


def io_bit(env: Env, port: z3.BitVecRef) -> Bool:
    """The bit for ``port`` (17 bits wide, below 10000H) in I/O bitmap A (0-7FFFH) or B (8000H-FFFFH)."""
    index = z3.Extract(IO_BITMAP_BITS.bit_length() - 2, 0, port)
    cases = []
    for field, first in IO_LAYOUT:
        inside = z3.And(z3.UGE(port, bv(first, 17)), z3.ULT(port, bv(first + IO_BITMAP_BITS, 17)))
        cases.append(z3.And(inside, env.view.bitmap_bit(field, 0, IO_BITMAP_BITS, index)))
    return either(cases)


def io(env: Env, facts: A.InstructionFacts) -> Family:
    """With "use I/O bitmaps" 1 ("unconditional I/O exiting" is then ignored): exit if the access
    wraps past port FFFFH, else iff the bit of any byte it covers is set. Otherwise exit iff
    "unconditional I/O exiting". The string forms (with or without REP) follow the same rule per
    execution. Before all that, the TSS I/O-permission check (CPL > IOPL or virtual-8086 mode) may
    raise #GP, which has priority over the exit; whether the TSS bitmap allows the access is an
    operand (``io_permitted``), as in the state format."""
    m = facts.mnemonic
    string = m in ("INS", "OUTS")
    port, size = operand("port", 16), operand("size", 8)
    permitted = z3.Bool("op.io_permitted")
    immediate = z3.Bool("op.immediate")
    rep = z3.Bool("op.rep")
    g = env.guest
    use, uncond = env.ctl(_USE_IO), env.ctl(_UNCOND_IO)
    wide = z3.ZeroExt(1, port)
    wraps = z3.UGT(wide + z3.ZeroExt(9, size), bv(0x10000, 17))
    any_bit: Bool = FALSE
    if not is_false(use):
        any_bit = either([z3.And(z3.UGT(size, bv(k, 8)), io_bit(env, wide + bv(k, 17))) for k in range(4)])
    own = z3.If(use, z3.Or(wraps, any_bit), uncond)
    needs_permission = z3.And(g.cpl != bv(0, 2), z3.Or(g.rflags_bit("VM"), z3.UGT(g.cpl, g.iopl)))
    before = [(z3.And(needs_permission, z3.Not(permitted)), A.FAULT_VECTORS["#GP(0)"][0])]
    valid = z3.Or(*(size == bv(s, 8) for s in A.IO_SIZES))
    if not string:
        valid = z3.And(valid, z3.Implies(immediate, z3.ULE(port, bv(0xFF, 16))))
    prefer = [size == bv(1, 8), z3.Not(immediate), z3.Not(rep), permitted]

    def doc(values: Values) -> dict[str, object]:
        out: dict[str, object] = {"port": hexs(values(port)), "size": values(size),
                                  "io_permitted": values.flag(permitted)}
        if string:
            out["rep"] = values.flag(rep)
        else:
            out["operand"] = "imm" if values.flag(immediate) else "dx"
        return out

    def why(values: Values) -> str:
        p, s = values(port), values(size)
        prefix = " with REP" if string and values.flag(rep) else ""
        what = f"{m}{prefix} of {s} byte{'s' if s > 1 else ''} at port {p:#x}"
        if not values.flag(use):
            return f"{what} does not exit: \"use I/O bitmaps\" and \"unconditional I/O exiting\" are both 0"
        covered = range(p, p + s)
        bits = f"the bit for port {p:#x} is" if s == 1 else f"the bits for ports {p:#x}-{p + s - 1:#x} are"
        letters = sorted({"A" if q < 0x8000 else "B" for q in covered})
        return f"{what} does not exit: \"use I/O bitmaps\" is 1 and {bits} clear in I/O bitmap {' and '.join(letters)}"

    return Family(own, {"port": port, "size": size, "io_permitted": permitted, "immediate": immediate, "rep": rep},
                  before=before, doc=doc, why=why, valid=valid, prefer=prefer)
