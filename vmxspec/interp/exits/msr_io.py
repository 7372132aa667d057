"""RDMSR/WRMSR and the MSR bitmaps; IN/INS/OUT/OUTS and the I/O bitmaps.

SDM "Instructions That Cause VM Exits Conditionally" (RDMSR, WRMSR, IN, INS/INSB/INSW/INSD, OUT,
OUTS/OUTSB/OUTSW/OUTSD), "MSR-Bitmap Address", "I/O-Bitmap Addresses" and the table "Exit
Qualification for I/O Instructions". Layouts come from ``vmxspec.arch.exits``.
"""

from __future__ import annotations

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlField
from vmxspec.arch.registers import RFLAGS
from vmxspec.interp.exits.context import ExitContext, rid
from vmxspec.interp.exits.outcome import ExitOutcome, Fault, exits, no_exit
from vmxspec.state import StateError

_USE_MSR_BITMAPS = A.ctl(ControlField.PROC, "use_msr_bitmaps")
_USE_IO_BITMAPS = A.ctl(ControlField.PROC, "use_io_bitmaps")
_UNCOND_IO = A.ctl(ControlField.PROC, "unconditional_io_exiting")
_IOPL, _VM = RFLAGS["IOPL"], RFLAGS["VM"].mask

_MSR_NO_BITMAP, _MSR_RANGE, _MSR_BITMAP = rid("EXIT-MSR-NO-BITMAP"), rid("EXIT-MSR-RANGE"), rid("EXIT-MSR-BITMAP")
_IO_UNCOND, _IO_WRAP, _IO_BITMAP = rid("EXIT-IO-UNCOND"), rid("EXIT-IO-WRAP"), rid("EXIT-IO-BITMAP")
_IO_PERMISSION = rid("FAULT-IO-PERMISSION")


def decide_msr(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome:
    write = facts.mnemonic == "WRMSR"
    reason = 32 if write else 31
    msr = ops["ecx"]
    if not ctx.has(_USE_MSR_BITMAPS):
        return exits(reason, 0, _MSR_NO_BITMAP, f"{name} causes a VM exit: \"use MSR bitmaps\" is 0")
    region = A.msr_region(msr, write)
    if region is None:
        return exits(reason, 0, _MSR_RANGE, f"{name} causes a VM exit: the MSR is in neither 0-0x1fff nor "
                     "0xc0000000-0xc0001fff, so no bitmap covers it")
    bit = msr - region.first
    base = ctx.field("MSR_BITMAP")
    address = base + region.offset + (bit >> 3)
    if ctx.state.read_u8(address) >> (bit & 7) & 1:
        return exits(reason, 0, _MSR_BITMAP, f"{name} causes a VM exit: bit {bit:#x} of the {region.name} "
                     f"(byte {address:#x}) is 1")
    return no_exit(_MSR_BITMAP, f"{name} does not cause a VM exit: bit {bit:#x} of the {region.name} "
                   f"(byte {address:#x}) is 0")


def io_qualification(facts: A.InstructionFacts, ops: dict[str, int]) -> int:
    """SDM "Exit Qualification for I/O Instructions"."""
    q = A.IO_QUAL
    value = q["size"].put(0, ops["size"] - 1)
    value = q["direction"].put(value, int(facts.mnemonic in ("IN", "INS")))
    value = q["string"].put(value, int(facts.mnemonic in ("INS", "OUTS")))
    value = q["rep"].put(value, ops.get("rep", 0))
    value = q["immediate"].put(value, ops.get("operand", 0))
    return q["port"].put(value, ops["port"])


def decide_io(ctx: ExitContext, facts: A.InstructionFacts, ops: dict[str, int], name: str) -> ExitOutcome | Fault:
    port, size = ops["port"], ops["size"]
    what = f"{name}{' with REP' if ops.get('rep') else ''} of {size} byte{'s' if size > 1 else ''} at port {port:#x}"
    fault = _io_permission(ctx, ops, what)
    if fault is not None:
        return fault
    qual = io_qualification(facts, ops)
    if not ctx.has(_USE_IO_BITMAPS):
        if ctx.has(_UNCOND_IO):
            return exits(30, qual, _IO_UNCOND, f"{what} causes a VM exit: \"use I/O bitmaps\" is 0 and "
                         "\"unconditional I/O exiting\" is 1")
        return no_exit(_IO_UNCOND, f"{what} does not cause a VM exit: \"use I/O bitmaps\" and \"unconditional I/O "
                       "exiting\" are both 0")
    if port + size > 0x10000:
        return exits(30, qual, _IO_WRAP, f"{what} causes a VM exit: the access wraps around past port 0xffff")
    for p in range(port, port + size):
        bitmap = A.IO_BITMAPS[p >> 15]
        if ctx.bitmap_bit(bitmap.field, p - bitmap.first):
            letter = bitmap.field[-1]
            return exits(30, qual, _IO_BITMAP, f"{what} causes a VM exit: the bit for port {p:#x} in I/O bitmap "
                         f"{letter} is 1")
    bits = f"the bit for port {port:#x} is" if size == 1 else f"the bits for ports {port:#x}-{port + size - 1:#x} are"
    return no_exit(_IO_BITMAP, f"{what} does not cause a VM exit: \"use I/O bitmaps\" is 1 and {bits} 0")


def _io_permission(ctx: ExitContext, ops: dict[str, int], what: str) -> Fault | None:
    """SDM: #GP from the TSS I/O permission bits has priority over the VM exit. The TSS is guest
    memory the state does not describe, so the event says what it allows (``io_permitted``)."""
    cpl = ctx.cpu("cpl")
    if not cpl:
        return None
    rflags = ctx.cpu("rflags")
    iopl = _IOPL.get(rflags)
    if not rflags & _VM and cpl <= iopl:
        return None
    where = "in virtual-8086 mode" if rflags & _VM else f"with CPL {cpl} > IOPL {iopl}"
    permitted = ops.get("io_permitted")
    if permitted is None:
        raise StateError("bad-query", f"{what} {where} depends on the I/O-permission bitmap in the guest's TSS: "
                         "say whether it allows the access with 'io_permitted'", "query.event.io_permitted")
    if permitted:
        return None
    return Fault("#GP(0)", _IO_PERMISSION, f"{what} {where} raises #GP(0): the TSS I/O-permission bitmap does not "
                 "allow it")
