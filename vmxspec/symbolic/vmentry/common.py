"""What every stage's encoder shares: the control values VM entry acts on, and the SDM's recurring
predicates (a bit is set, an address is page-aligned and within MAXPHYADDR, a linear address is
canonical) written once as Z3 terms.

Everything here is expression-style: the inputs are Z3 bit-vectors, the outputs Z3 terms, and the
only Python ``if`` is on concrete Python values (widths, capability masks).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeAlias

import z3

from vmxspec.arch.bitfields import BitField
from vmxspec.arch.controls import BITS_BY_FIELD, ControlField
from vmxspec.symbolic.state import BV, SymState

#: A Z3 boolean term.
Bool: TypeAlias = z3.BoolRef

TRUE: Bool = z3.BoolVal(True)
FALSE: Bool = z3.BoolVal(False)


def bit(value: BV, n: int) -> Bool:
    """Bit ``n`` of ``value`` is 1."""
    return z3.Extract(n, n, value) == 1


def bits(value: BV, hi: int, lo: int) -> BV:
    """Bits ``hi:lo`` of ``value``, as the SDM writes ranges."""
    return z3.Extract(hi, lo, value)


def get(value: BV, bitfield: BitField) -> BV:
    """The named bit range of ``value`` (a layout field from ``vmxspec.arch``)."""
    return z3.Extract(bitfield.lsb + bitfield.width - 1, bitfield.lsb, value)


def any_set(value: BV, mask: int) -> Bool:
    """Some bit of ``mask`` is 1 in ``value`` (``mask`` is cut to the value's width)."""
    mask &= (1 << value.size()) - 1
    if not mask:
        return FALSE
    return value & z3.BitVecVal(mask, value.size()) != 0


def all_set(value: BV, mask: int) -> Bool:
    mask &= (1 << value.size()) - 1
    return value & z3.BitVecVal(mask, value.size()) == z3.BitVecVal(mask, value.size())


def eq(value: BV, constant: int) -> Bool:
    return value == z3.BitVecVal(constant, value.size())


def one_of(value: BV, constants: Iterable[int]) -> Bool:
    return z3.Or(*(eq(value, c) for c in sorted(constants)), FALSE)


def ugt(value: BV, constant: int) -> Bool:
    return z3.UGT(value, z3.BitVecVal(constant, value.size()))


def high_bits_nonzero(value: BV, lo: int) -> Bool:
    """Some bit at position ``lo`` or above is 1 (false when ``lo`` is beyond the width)."""
    if lo >= value.size():
        return FALSE
    return z3.Extract(value.size() - 1, lo, value) != 0


def bits_identical(value: BV, lo: int) -> Bool:
    """Bits ``width-1 .. lo`` of ``value`` are all 0 or all 1."""
    if lo >= value.size() - 1:
        return TRUE
    top = z3.Extract(value.size() - 1, lo, value)
    return z3.Or(top == 0, top == z3.BitVecVal((1 << top.size()) - 1, top.size()))


def or_all(terms: Iterable[Bool]) -> Bool:
    return z3.Or(FALSE, *terms)


def _named_bit(value: BV, which: ControlField, name: str) -> Bool:
    return bit(value, BITS_BY_FIELD[which][name].bit)


class Enc:
    """One state being encoded: its fields, its concrete platform, and the controls in force.

    The SDM says that with "activate secondary controls" 0 the processor behaves as if every
    secondary control were 0 (likewise for the tertiary and the secondary VM-exit controls); the
    ``proc2``, ``proc3`` and ``exit2`` terms below are those effective values.
    """

    def __init__(self, sym: SymState) -> None:
        self.sym = sym
        self.pin = sym.field("PIN_BASED_VM_EXEC_CONTROL")
        self.proc = sym.field("CPU_BASED_VM_EXEC_CONTROL")
        self.exit = sym.field("VM_EXIT_CONTROLS")
        self.entry = sym.field("VM_ENTRY_CONTROLS")
        self.proc2 = z3.If(_named_bit(self.proc, ControlField.PROC, "activate_secondary_controls"),
                           sym.field("SECONDARY_VM_EXEC_CONTROL"), z3.BitVecVal(0, 32))
        self.proc3 = z3.If(_named_bit(self.proc, ControlField.PROC, "activate_tertiary_controls"),
                           sym.field("TERTIARY_VM_EXEC_CONTROL"), z3.BitVecVal(0, 64))
        self.exit2 = z3.If(_named_bit(self.exit, ControlField.EXIT, "activate_secondary_controls"),
                           sym.field("SECONDARY_VM_EXIT_CONTROLS"), z3.BitVecVal(0, 64))
        self._controls = {
            ControlField.PIN: self.pin, ControlField.PROC: self.proc, ControlField.PROC2: self.proc2,
            ControlField.PROC3: self.proc3, ControlField.EXIT: self.exit, ControlField.EXIT2: self.exit2,
            ControlField.ENTRY: self.entry,
        }

    def f(self, name: str) -> BV:
        return self.sym.field(name)

    def cap(self, name: str) -> int:
        return self.sym.cap(name)

    def control(self, which: ControlField) -> BV:
        """The effective value of a control field."""
        return self._controls[which]

    def on(self, which: ControlField, name: str) -> Bool:
        """The named control (from ``vmxspec.arch.controls``) is 1 in the effective value."""
        return _named_bit(self.control(which), which, name)

    # -- address predicates ---------------------------------------------------------------------

    def beyond_phys(self, address: BV) -> Bool:
        """Some bit at or above MAXPHYADDR is set."""
        return high_bits_nonzero(address, self.sym.physical_width)

    def bad_page_address(self, address: BV) -> Bool:
        """Not 4-KByte aligned, or beyond the physical-address width."""
        return z3.Or(bits(address, 11, 0) != 0, self.beyond_phys(address))

    def non_canonical(self, address: BV) -> Bool:
        """Bits 63:N-1 not all equal, N the processor's linear-address width."""
        return z3.Not(bits_identical(address, self.sym.linear_width - 1))
