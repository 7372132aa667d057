"""The guest's live context at the moment of an event, as free variables.

``exits(VM)`` promises an exit "for every guest state it can reach" (docs/language.md). What a
guest reaches depends on its own code, so every part of the live context the decisions read is a
free variable: CPL, CR0, CR4, RFLAGS, the interruptibility state, the activity state, SMM, and
IA32_XSS. This over-approximates what a guest can reach (a proof covers every combination, even
ones a real guest could not set up), which keeps proofs sound; a counterexample picks the guest
state it needs, preferring an ordinary 64-bit kernel's (``preferences``).

The same variables, pinned to a state's ``cpu`` values (``pins``), give the exact decision for
one concrete context, which the differential tests compare with the reference interpreter.
"""

from __future__ import annotations

from collections.abc import Callable

import z3

from vmxspec.arch.exits import ACTIVITY_STATES
from vmxspec.arch.registers import CR0, CR4, RFLAGS
from vmxspec.state.model import CpuState
from vmxspec.symbolic.exits.terms import BV, Bool, bit, bv

#: What a counterexample's guest looks like when nothing forces otherwise: CPL 0, paging and
#: protection on (PG WP NE ET MP PE), a typical CR4 (PAE PGE OSFXSR OSXMMEXCPT VMXE FSGSBASE PCIDE
#: OSXSAVE SMEP SMAP; DE, TSD, PCE, UMIP and SMXE clear), IF = 1, no blocking, active, not in SMM.
TYPICAL: dict[str, int] = {"cpl": 0, "cr0": 0x8005_0033, "cr4": 0x0037_26E0, "rflags": 0x202,
                           "interruptibility": 0, "activity": 0, "ia32_xss": 0}

_WIDTHS = {"cpl": 2, "cr0": 64, "cr4": 64, "rflags": 64, "interruptibility": 32, "activity": 2, "ia32_xss": 64}
ACTIVE, HLT, SHUTDOWN, WAIT_FOR_SIPI = range(4)


class Guest:
    """The live context as Z3 variables (named ``guest.KEY``)."""

    def __init__(self) -> None:
        self.vars: dict[str, BV] = {key: z3.BitVec(f"guest.{key}", width) for key, width in _WIDTHS.items()}
        self.in_smm: Bool = z3.Bool("guest.in_smm")

    @property
    def cpl(self) -> BV:
        return self.vars["cpl"]

    @property
    def cr0(self) -> BV:
        return self.vars["cr0"]

    @property
    def cr4(self) -> BV:
        return self.vars["cr4"]

    @property
    def rflags(self) -> BV:
        return self.vars["rflags"]

    @property
    def interruptibility(self) -> BV:
        return self.vars["interruptibility"]

    @property
    def activity(self) -> BV:
        return self.vars["activity"]

    @property
    def ia32_xss(self) -> BV:
        return self.vars["ia32_xss"]

    def cr0_bit(self, name: str) -> Bool:
        return bit(self.cr0, CR0[name].lsb)

    def cr4_bit(self, name: str) -> Bool:
        return bit(self.cr4, CR4[name].lsb)

    def rflags_bit(self, name: str) -> Bool:
        return bit(self.rflags, RFLAGS[name].lsb)

    @property
    def iopl(self) -> BV:
        return z3.Extract(RFLAGS["IOPL"].lsb + 1, RFLAGS["IOPL"].lsb, self.rflags)

    def activity_is(self, state: int) -> Bool:
        return self.activity == bv(state, 2)

    def all_terms(self) -> list[z3.ExprRef]:
        return [*self.vars.values(), self.in_smm]

    def preferences(self) -> list[Bool]:
        """One literal per part of the typical context (dropped one by one when an escape needs it)."""
        out = [self.vars[key] == bv(value, _WIDTHS[key]) for key, value in TYPICAL.items()]
        out.append(z3.Not(self.in_smm))
        return out

    def pins(self, cpu: CpuState) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
        """Substitution pairs fixing every variable to ``cpu`` (0 / active / not in SMM where absent:
        the reference interpreter would not have answered had it needed an absent key)."""
        values = {"cpl": cpu.cpl, "cr0": cpu.cr0, "cr4": cpu.cr4, "rflags": cpu.rflags,
                  "interruptibility": cpu.interruptibility, "ia32_xss": cpu.ia32_xss,
                  "activity": ACTIVITY_STATES.index(cpu.activity_state) if cpu.activity_state else 0}
        out: list[tuple[z3.ExprRef, z3.ExprRef]] = [
            (self.vars[key], bv((values[key] or 0) & ((1 << _WIDTHS[key]) - 1), _WIDTHS[key])) for key in _WIDTHS]
        out.append((self.in_smm, z3.BoolVal(bool(cpu.in_smm))))
        return out

    def document(self, value: Callable[[z3.ExprRef], int]) -> dict[str, object]:
        """The state format's ``cpu`` object for the values a model gives."""
        return {
            "cpl": value(self.cpl),
            "cr0": f"{value(self.cr0):#x}",
            "cr4": f"{value(self.cr4):#x}",
            "rflags": f"{value(self.rflags):#x}",
            "ia32_xss": f"{value(self.ia32_xss):#x}",
            "interruptibility": f"{value(self.interruptibility):#x}",
            "activity_state": ACTIVITY_STATES[value(self.activity)],
            "in_smm": bool(value(self.in_smm)),
        }
