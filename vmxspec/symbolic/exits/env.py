"""What every event encoder reads: the VMCS view, the guest context, and the shared pieces of the
SDM's decision (the exception bitmap for a fault raised instead of an exit, the monitor trap flag).
"""

from __future__ import annotations

from dataclasses import dataclass

import z3

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlBit, ControlField
from vmxspec.symbolic.exits.guest import Guest
from vmxspec.symbolic.exits.terms import BV, Bool, bit, bv
from vmxspec.symbolic.exits.vmcs import VmcsView

PIN, PROC, PROC2 = ControlField.PIN, ControlField.PROC, ControlField.PROC2
MTF = A.ctl(PROC, "monitor_trap_flag")


def ctl(field: ControlField, name: str) -> ControlBit:
    return A.ctl(field, name)


def quoted(control: ControlBit) -> str:
    """A control's name as the SDM writes it in running text: "use MSR bitmaps"."""
    title = control.title
    if not title[:2].isupper():
        title = title[0].lower() + title[1:]
    return f"\"{title}\""


@dataclass(slots=True)
class Env:
    view: VmcsView
    guest: Guest

    def ctl(self, control: ControlBit) -> Bool:
        return self.view.ctl(control)

    def field(self, name: str) -> BV:
        return self.view.field(name)

    def mtf(self) -> Bool:
        return self.view.ctl(MTF)

    def exception_bit(self, vector: int) -> Bool:
        """Bit ``vector`` of the exception bitmap (not the #PF rule: faults raised instead of exits
        are #UD, #NM and #GP)."""
        return bit(self.field("EXCEPTION_BITMAP"), vector)

    def exception_bit_at(self, vector: BV) -> Bool:
        bitmap = self.field("EXCEPTION_BITMAP")
        index = z3.ZeroExt(32 - vector.size(), vector) if vector.size() < 32 else vector
        return z3.Extract(0, 0, z3.LShR(bitmap, index)) == bv(1, 1)
