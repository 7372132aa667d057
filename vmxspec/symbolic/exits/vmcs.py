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

Freed facts (``--explain`` only): a given field named in ``freed`` reads as an unconstrained
variable ``free.NAME``, and a bitmap region named there as an unconstrained predicate,
exactly as if the spec had left them open; ``used`` records every given fact a decision read (a
field, or a bitmap region at a given address). ``check.explain_event`` frees facts to find those
a proof cannot do without. ``ALL_FACTS`` in ``freed`` frees every given fact; with ``track``, each
freed fact also records what pins it back (``tracked``: the variable equals the value, the
predicate agrees with the page at every index it is applied to), so that one unsat core over those
equalities can say which facts matter.

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
FREE_PREFIX = "free."

#: A given fact a decision may read: ("field", NAME) or ("bitmap", ADDRESS_FIELD, BYTE_OFFSET).
Fact = tuple[str, ...]
#: In ``freed``: every given fact.
ALL_FACTS: Fact = ("*",)


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

    def __init__(self, state: State, open_vars: Mapping[str, BV] | None = None, opaque: bool = False,
                 freed: frozenset[Fact] = frozenset(), track: bool = False) -> None:
        self.state = state
        self.open_vars = dict(open_vars or {})
        #: Given facts read as unknown (see the module docstring, "Freed facts").
        self.freed = freed
        #: Every given fact read, in order, freed or not.
        self.used: list[Fact] = []
        #: With ``track``: per freed fact, the equalities that pin it back to the given value.
        self.track = track
        self.tracked: dict[Fact, list[Bool]] = {}
        self._free_vars: dict[str, BV] = {}
        #: With ``opaque``, a bitmap at an address that is not concrete reads as an unconstrained
        #: predicate ``unset.FIELD@OFFSET`` (whatever the page holds) instead of raising NotConcrete.
        self.opaque = opaque
        #: Every field an encoder asked for, in order.
        self.reads: list[str] = []
        #: Variables standing for fields neither given nor open.
        self.unset: dict[str, BV] = {}
        self._runs: dict[tuple[str, int, int], Runs] = {}

    # -- fields ------------------------------------------------------------------------------------

    def _use(self, fact: Fact) -> bool:
        """Record a read of a given fact; True when it is freed."""
        if fact not in self.used:
            self.used.append(fact)
        return fact in self.freed or ALL_FACTS in self.freed

    def pin_back(self, fact: Fact, equality: Bool) -> None:
        """With ``track``: record what makes a freed fact's stand-in its given value again."""
        if self.track:
            self.tracked.setdefault(fact, []).append(equality)

    def field(self, name: str) -> BV:
        if name not in self.reads:
            self.reads.append(name)
        var = self.open_vars.get(name)
        if var is not None:
            return var
        value = self.state.vmcs.get(name)
        if value is not None:
            if self._use(("field", name)):
                var = self._free_vars.get(name)
                if var is None:
                    var = z3.BitVec(FREE_PREFIX + name, width_of(name))
                    self._free_vars[name] = var
                    self.pin_back(("field", name), var == bv(value, width_of(name)))
                return var
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
        value = self.state.vmcs.get(name)
        if value is not None and self._use(("field", name)):
            return None
        return value

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
        if self._use(("field", address_field)):
            raise NotConcrete(address_field, "is freed, so the bitmap it points to is unknown")
        runs = bitmaps.set_runs(self.state.memory, base + byte_offset, nbits)
        self._runs[key] = runs
        return runs

    def bitmap_bit(self, address_field: str, byte_offset: int, nbits: int, index: BV) -> Bool:
        """Bit ``index`` (a symbolic position below ``nbits``) of the bitmap at ``address_field`` +
        ``byte_offset``: a disjunction of range tests over the concrete page."""
        base = self.state.vmcs.get(address_field) if address_field not in self.open_vars else None
        region = ("bitmap", address_field, str(byte_offset))
        if base is not None and self._use(region):
            # Freed: whatever the page holds, wherever it is (its address is then not read at all).
            page = z3.Function(f"{FREE_PREFIX}{address_field}@{byte_offset:#x}", z3.BitVecSort(index.size()),
                               z3.BoolSort())
            if self.track:
                runs = bitmaps.set_runs(self.state.memory, base + byte_offset, nbits)
                self.pin_back(region, page(index) == member(index, runs, nbits))
            return page(index)
        try:
            runs = self.bitmap_runs(address_field, byte_offset, nbits)
        except NotConcrete:
            if not self.opaque:
                raise
            page = z3.Function(f"{UNSET_PREFIX}{address_field}@{byte_offset:#x}", z3.BitVecSort(index.size()),
                               z3.BoolSort())
            return page(index)
        return member(index, runs, nbits)
