"""The VMCS as the exit decisions read it: each field concrete, open, or unset.

* A field the built state gives is a constant: Z3 folds it away.
* A field the spec leaves open (``any``) is the variable the caller supplies (constrained by the
  caller with the ``any``'s domain and the spec's assumptions).
* A field neither given nor open is **unset**: a fresh, unconstrained variable ``unset.NAME``.
  Nothing is assumed about it. A proof that holds with it free holds whatever the processor has
  there; an escape that depends on its value is not reported as a violation (``check`` turns it
  into "unknown", naming the field).

Bitmap pages are read only at a concrete address (``bitmap_runs``); an open or unset address
raises ``NotConcrete``, which the checker reports as "unknown" for that event, since the page
contents at an unknown address are unknown.

Secondary controls follow the SDM: they count as 0 unless "activate secondary controls" is 1, and
then the field is not read at all (so a spec need not give it).
"""

from __future__ import annotations

from collections.abc import Mapping

import z3

from vmxspec.arch import vmcs_fields
from vmxspec.arch.controls import ControlBit, ControlField, control_mask
from vmxspec.state.model import State
from vmxspec.symbolic.exits import bitmaps
from vmxspec.symbolic.exits.terms import BV, FALSE, Bool, Runs, bit, bv, is_false, member

_FIELDS = {ControlField.PIN: "PIN_BASED_VM_EXEC_CONTROL", ControlField.PROC: "CPU_BASED_VM_EXEC_CONTROL",
           ControlField.PROC2: "SECONDARY_VM_EXEC_CONTROL"}
_ACTIVATE_SECONDARY_BIT = control_mask(ControlField.PROC, "activate_secondary_controls").bit_length() - 1

UNSET_PREFIX = "unset."


class NotConcrete(Exception):
    """A bitmap the decision may consult sits at an address that is not a concrete value."""

    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field} {why}")
        self.field = field
        self.why = why


def width_of(name: str) -> int:
    return vmcs_fields.BY_NAME[name].bits


class VmcsView:
    """One VMCS (and the memory its bitmap addresses point into) for the exit encoders."""

    def __init__(self, state: State, open_vars: Mapping[str, BV] | None = None, opaque: bool = False) -> None:
        self.state = state
        self.open_vars = dict(open_vars or {})
        #: With ``opaque``, a bitmap at an address that is not concrete reads as an unconstrained
        #: predicate ``unset.FIELD@OFFSET`` (whatever the page holds) instead of raising NotConcrete.
        self.opaque = opaque
        #: Every field an encoder asked for, in order.
        self.reads: list[str] = []
        #: Variables standing for fields neither given nor open.
        self.unset: dict[str, BV] = {}
        self._runs: dict[tuple[str, int, int], Runs] = {}

    # -- fields ------------------------------------------------------------------------------------

    def field(self, name: str) -> BV:
        if name not in self.reads:
            self.reads.append(name)
        var = self.open_vars.get(name)
        if var is not None:
            return var
        value = self.state.vmcs.get(name)
        if value is not None:
            return bv(value, width_of(name))
        made = self.unset.get(name)
        if made is None:
            made = z3.BitVec(UNSET_PREFIX + name, width_of(name))
            self.unset[name] = made
        return made

    def concrete(self, name: str) -> int | None:
        """The field's value when it is given and not open (None otherwise)."""
        if name in self.open_vars:
            return None
        return self.state.vmcs.get(name)

    def is_open(self, name: str) -> bool:
        return name in self.open_vars

    # -- controls ----------------------------------------------------------------------------------

    def ctl(self, control: ControlBit) -> Bool:
        """The control is 1 (a secondary control only when "activate secondary controls" is 1)."""
        if control.field is ControlField.PROC2:
            active = bit(self.field(_FIELDS[ControlField.PROC]), _ACTIVATE_SECONDARY_BIT)
            if is_false(active):
                return FALSE
            return z3.And(active, bit(self.field(_FIELDS[ControlField.PROC2]), control.bit))
        return bit(self.field(_FIELDS[control.field]), control.bit)

    # -- bitmaps -----------------------------------------------------------------------------------

    def bitmap_runs(self, address_field: str, byte_offset: int, nbits: int) -> Runs:
        """Runs of set bits of the bitmap at ``address_field`` + ``byte_offset`` (``nbits`` bits)."""
        key = (address_field, byte_offset, nbits)
        found = self._runs.get(key)
        if found is not None:
            return found
        if address_field not in self.reads:
            self.reads.append(address_field)
        if address_field in self.open_vars:
            raise NotConcrete(address_field, "is left open, so the bitmap it points to is unknown")
        base = self.state.vmcs.get(address_field)
        if base is None:
            raise NotConcrete(address_field, "is not set by the spec, so the bitmap it would point to is unknown")
        runs = bitmaps.set_runs(self.state.memory, base + byte_offset, nbits)
        self._runs[key] = runs
        return runs

    def bitmap_bit(self, address_field: str, byte_offset: int, nbits: int, index: BV) -> Bool:
        """Bit ``index`` (a symbolic position below ``nbits``) of the bitmap at ``address_field`` +
        ``byte_offset``: a disjunction of range tests over the concrete page."""
        try:
            runs = self.bitmap_runs(address_field, byte_offset, nbits)
        except NotConcrete:
            if not self.opaque:
                raise
            page = z3.Function(f"{UNSET_PREFIX}{address_field}@{byte_offset:#x}", z3.BitVecSort(index.size()),
                               z3.BoolSort())
            return page(index)
        return member(index, runs, nbits)
