"""A machine state whose VMCS fields may be left open: the symbolic encoder's input.

The concrete ``vmxspec.state.State`` holds plain ints; a ``SymState`` holds every VMCS field as a
Z3 bit-vector of the field's architectural width (``vmxspec.arch.vmcs_fields``). A field the spec
pins is a ``BitVecVal`` (Z3 folds it away before anything reaches the solver); a field left *open*
is a named ``BitVec`` variable, the only thing the solver gets to choose. A field may also be open
in some bits only (``open_fields={"GUEST_CR0": 1 << 16}``): the other bits keep their value.

What stays concrete, and why:

* Capability MSRs, MAXPHYADDR and MAXLINADDR are Python ints: in this first version a spec names a
  platform, so every rule can compute its masks in Python and hand Z3 a constant.
* ``cpu.in_smm`` and ``cpu.efer`` are concrete or absent, exactly as in the state format.
* Memory is a concrete sparse map of 8-byte words. Reads at a *symbolic* address never use SMT
  arrays (DESIGN.md, "Encoding for speed"): a word read is an ``If`` chain over the words that are
  present and non-zero, defaulting to 0, which is what the state format says unlisted words hold.
  Addresses are widened to 72 bits first, so a read that runs past 2^64 sees zeros, not address 0.

Anchored fields (``--explain`` only): a field the spec pins may be made a variable too, while the
state remembers its value, so that a caller can assert "field = value" as a tracked fact and ask
an unsat core which facts a proof needs (``anchor_facts``). The encoders see no difference; only a
memory read at an address that is concrete *at the anchored values* changes: it reads that
address's word when the address takes its anchored value and an unconstrained word ("memory
elsewhere is unknown") otherwise, instead of an If chain over all of memory. With every anchor
asserted the two readings agree; without one, the havoc reading only admits more, so a core found
with it is a core of the exact reading as well.

Fields the state leaves out read as 0, as the state format's reader does for the interpreter;
``absent_fields`` names them so a caller can refuse to call a verdict built on them. Absent
capability MSRs read as 0 ("not supported"); an absent MAXPHYADDR means no address bit is out of
range (width 64), an absent MAXLINADDR means 48.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeAlias

import z3

from vmxspec.arch import capabilities, vmcs_fields
from vmxspec.arch.capabilities import DEFAULT_MAXLINADDR
from vmxspec.state.model import CpuState, State

_MASK64 = (1 << 64) - 1
#: Addresses are computed with this many bits so that "address + offset" never wraps: the state
#: format's memory ends at 2^64, and a read past it yields zeros rather than low memory.
ADDRESS_BITS = 72

#: A Z3 bit-vector term (z3 ships no type hints, so this is Any to mypy; the name documents intent).
BV: TypeAlias = z3.BitVecRef


class SymbolicError(Exception):
    """A request the symbolic encoder does not support (a usage error, never a verdict)."""


def _field_info(name: str) -> vmcs_fields.VmcsField:
    info = vmcs_fields.BY_NAME.get(name)
    if info is None:
        raise SymbolicError(f"'{name}' is not a VMCS field")
    return info


#: Which fields to leave open: names (every bit open), or name -> mask of the bits left open (the
#: other bits keep the state's value).
OpenFields: TypeAlias = Iterable[str] | Mapping[str, int]


def _open_masks(open_fields: OpenFields) -> dict[str, int]:
    if isinstance(open_fields, Mapping):
        masks = {name: int(m) for name, m in open_fields.items()}
    else:
        masks = {name: _field_info(name).max_value for name in open_fields}
    for name, m in masks.items():
        info = _field_info(name)
        if not 0 < m <= info.max_value:
            raise SymbolicError(f"open-bit mask {m:#x} of {name} is empty or wider than {info.bits} bits")
    return masks


@dataclass(slots=True)
class SymState:
    """VMCS fields as Z3 bit-vectors (concrete or open) over concrete capabilities and memory.

    Build one with ``from_state`` (a concrete state, some fields re-opened) or ``from_dicts``.
    ``open_masks`` maps each open field to the bits the solver may choose (all of them, unless a
    mask was given); the other bits of a partly open field keep their value from ``vmcs``.
    """

    vmcs: dict[str, int]
    caps: dict[str, int] = field(default_factory=dict)
    memory: dict[int, int] = field(default_factory=dict)
    open_masks: dict[str, int] = field(default_factory=dict)
    maxphyaddr: int | None = None
    maxlinaddr: int | None = None
    in_smm: bool | None = None
    efer: int | None = None
    #: Name prefix of the Z3 variables, so that two SymStates can share one solver.
    prefix: str = ""
    #: Given fields that are variables anyway (see the module docstring, "Anchored fields").
    anchors: frozenset[str] = frozenset()
    _vars: dict[str, BV] = field(default_factory=dict, init=False, repr=False)
    _anchor_vars: dict[str, BV] = field(default_factory=dict, init=False, repr=False)
    _anchor_pins: list[tuple[BV, BV]] = field(default_factory=list, init=False, repr=False)
    _terms: dict[str, BV] = field(default_factory=dict, init=False, repr=False)
    _read_cache: dict[str, BV] = field(default_factory=dict, init=False, repr=False)
    _words: tuple[tuple[int, int], ...] = field(default=(), init=False, repr=False)

    def __post_init__(self) -> None:
        self.open_masks = _open_masks(self.open_masks)
        for name, value in self.vmcs.items():
            if not 0 <= value <= _field_info(name).max_value:
                raise SymbolicError(f"{name} = {value:#x} does not fit in {_field_info(name).bits} bits")
        for name, open_mask in self.open_masks.items():
            info = _field_info(name)
            var = z3.BitVec(self.prefix + name, info.bits)
            self._vars[name] = var
            if open_mask == info.max_value:
                self._terms[name] = var
            else:
                kept = self.vmcs.get(name, 0) & ~open_mask
                self._terms[name] = z3.BitVecVal(kept, info.bits) | (var & z3.BitVecVal(open_mask, info.bits))
        self.anchors = frozenset(self.anchors)
        for name in sorted(self.anchors):
            if name in self.open_masks or name not in self.vmcs:
                raise SymbolicError(f"only a field the state gives and does not open can be anchored: {name}")
            info = _field_info(name)
            var = z3.BitVec(self.prefix + name, info.bits)
            self._anchor_vars[name] = var
            self._terms[name] = var
            self._anchor_pins.append((var, z3.BitVecVal(self.vmcs[name], info.bits)))
        for address in self.memory:
            if address & 7 or not 0 <= address <= _MASK64:
                raise SymbolicError(f"memory address {address:#x} is not an 8-byte aligned 64-bit address")
        # The non-zero words, by address: all a read can ever see besides 0. Memory is fixed from here on.
        self._words = tuple(sorted((a, v) for a, v in self.memory.items() if v))

    # -- constructors ------------------------------------------------------------------------------

    @classmethod
    def from_state(cls, state: State, open_fields: OpenFields = (), prefix: str = "",
                   anchors: Iterable[str] = ()) -> SymState:
        """The concrete ``state`` with ``open_fields`` replaced by fresh variables (and ``anchors``
        made variables whose values the state remembers)."""
        return cls(vmcs=dict(state.vmcs), caps=dict(state.caps), memory=dict(state.memory),
                   open_masks=_open_masks(open_fields), maxphyaddr=state.maxphyaddr, maxlinaddr=state.maxlinaddr,
                   in_smm=state.cpu.in_smm, efer=state.cpu.efer, prefix=prefix, anchors=frozenset(anchors))

    @classmethod
    def from_dicts(cls, vmcs: Mapping[str, int], caps: Mapping[str, int] | None = None,
                   memory: Mapping[int, int] | None = None, open_fields: OpenFields = (),
                   maxphyaddr: int | None = None, maxlinaddr: int | None = None, in_smm: bool | None = None,
                   efer: int | None = None, prefix: str = "") -> SymState:
        """From explicit dicts; ``caps`` may carry ``MAXPHYADDR`` / ``MAXLINADDR`` as the state format does."""
        cap_values = dict(caps or {})
        maxphy = cap_values.pop("MAXPHYADDR", maxphyaddr)
        maxlin = cap_values.pop("MAXLINADDR", maxlinaddr)
        for name in cap_values:
            if name not in capabilities.BY_NAME:
                raise SymbolicError(f"'{name}' is not a capability MSR")
        return cls(vmcs=dict(vmcs), caps=cap_values, memory=dict(memory or {}), open_masks=_open_masks(open_fields),
                   maxphyaddr=maxphy, maxlinaddr=maxlin, in_smm=in_smm, efer=efer, prefix=prefix)

    # -- fields ------------------------------------------------------------------------------------

    def field(self, name: str) -> BV:
        """The field as a bit-vector of its width: a term over its variable if open, else its value
        (0 if the state does not give it)."""
        term = self._terms.get(name)
        if term is None:
            term = z3.BitVecVal(self.vmcs.get(name, 0), _field_info(name).bits)
            self._terms[name] = term
        return term

    @property
    def open_fields(self) -> frozenset[str]:
        return frozenset(self.open_masks)

    def is_open(self, name: str) -> bool:
        return name in self.open_masks

    @property
    def variables(self) -> dict[str, BV]:
        """The open fields' variables by field name."""
        return dict(self._vars)

    def anchor_facts(self) -> dict[str, z3.BoolRef]:
        """Each anchored field's "variable = the state's value", by field name."""
        return {name: var == value for (name, var), (_, value) in zip(self._anchor_vars.items(), self._anchor_pins,
                                                                       strict=True)}

    def add_anchor_pins(self, pins: Iterable[tuple[BV, BV]]) -> None:
        """More (variable, value) pairs the havoc reading of memory treats as anchors (variables a
        caller made for values it tracks itself, e.g. a derived VMCS's inputs)."""
        self._anchor_pins.extend(pins)
        self._read_cache.clear()

    def anchored_value(self, term: BV) -> int | None:
        """The value ``term`` takes when every anchor has its value, if that makes it a constant and
        it is not one already (None otherwise)."""
        if not self._anchor_pins or z3.is_bv_value(term):
            return None
        folded = z3.simplify(z3.substitute(term, *self._anchor_pins))
        return folded.as_long() if z3.is_bv_value(folded) else None

    @property
    def absent_fields(self) -> frozenset[str]:
        """Fields neither given nor open: they read as 0."""
        return frozenset(vmcs_fields.BY_NAME) - set(self.vmcs) - self.open_fields

    # -- capabilities ------------------------------------------------------------------------------

    def cap(self, name: str) -> int:
        """A capability MSR's value; absent MSRs read as 0 ("not supported")."""
        if name not in capabilities.BY_NAME:
            raise SymbolicError(f"'{name}' is not a capability MSR")
        return self.caps.get(name, 0)

    @property
    def physical_width(self) -> int:
        """MAXPHYADDR, or 64 when the state does not give it (no address bit is then out of range)."""
        return 64 if self.maxphyaddr is None else self.maxphyaddr

    @property
    def linear_width(self) -> int:
        return DEFAULT_MAXLINADDR if self.maxlinaddr is None else self.maxlinaddr

    # -- memory ------------------------------------------------------------------------------------

    @property
    def nonzero_words(self) -> tuple[tuple[int, int], ...]:
        return self._words

    def concrete_u64(self, address: int) -> int:
        """The little-endian 64-bit value at a concrete ``address`` (any alignment, zeros past 2^64)."""
        offset = address & 7
        base = address - offset
        low = self.memory.get(base, 0) if base <= _MASK64 else 0
        if offset == 0:
            return low
        high = self.memory.get(base + 8, 0) if base + 8 <= _MASK64 else 0
        return ((low >> (8 * offset)) | (high << (64 - 8 * offset))) & _MASK64

    def _word_at(self, base: BV, align: int = 8) -> BV:
        """The word at an 8-aligned symbolic address: an If chain over the non-zero words (only
        those at multiples of ``align``, when the caller guarantees that alignment)."""
        out: BV = z3.BitVecVal(0, 64)
        width = base.size()
        for address, value in reversed(self._words):
            if address % align == 0:
                out = z3.If(base == z3.BitVecVal(address, width), z3.BitVecVal(value, 64), out)
        return out

    def read_u64(self, address: BV | int, align: int = 1) -> BV:
        """64 bits at ``address`` (little-endian, any alignment).

        ``address`` is an int or a bit-vector of at least 64 bits; it is widened to ADDRESS_BITS
        so that callers may add offsets without wrapping. A concrete address is read in Python.
        ``align`` (a power of two) promises that the address is a multiple of it wherever the
        caller uses the value (e.g. under a "4-KByte aligned" guard): the If chain then skips
        words no such address can see. Where the promise does not hold the value is unspecified.
        """
        if isinstance(address, int):
            return z3.BitVecVal(self.concrete_u64(address), 64)
        wide = _widen(address)
        folded = z3.simplify(wide)
        if z3.is_bv_value(folded):
            return z3.BitVecVal(self.concrete_u64(folded.as_long()), 64)
        key = f"{align}:{folded.sexpr()}"
        cached = self._read_cache.get(key)
        if cached is not None:
            return cached
        anchored = self.anchored_value(folded)
        if anchored is not None:
            # Explain mode: the anchored address's word, and "unknown" anywhere else.
            elsewhere = z3.FreshConst(z3.BitVecSort(64), f"{self.prefix}elsewhere")
            value = z3.If(folded == z3.BitVecVal(anchored, ADDRESS_BITS),
                          z3.BitVecVal(self.concrete_u64(anchored), 64), elsewhere)
            self._read_cache[key] = value
            return value
        if align >= 8:
            value = self._word_at(folded, align)
        else:
            offset_bits = z3.ZeroExt(64 - 3, z3.Extract(2, 0, folded)) * 8
            base = folded & z3.BitVecVal(~7 & ((1 << ADDRESS_BITS) - 1), ADDRESS_BITS)
            low = self._word_at(base)
            high = self._word_at(base + 8)
            # A shift by 64 yields 0 in Z3, so an aligned read takes nothing from the next word.
            value = z3.LShR(low, offset_bits) | (high << (64 - offset_bits))
        self._read_cache[key] = value
        return value

    def read_u32(self, address: BV | int, align: int = 1) -> BV:
        return z3.Extract(31, 0, self.read_u64(address, align))

    def read_u8(self, address: BV | int, align: int = 1) -> BV:
        return z3.Extract(7, 0, self.read_u64(address, align))

    # -- models ------------------------------------------------------------------------------------

    def values_from_model(self, model: z3.ModelRef) -> dict[str, int]:
        """Each open field's whole value in ``model`` (bits the model leaves free are 0)."""
        return {name: model.eval(self._terms[name], model_completion=True).as_long() for name in self.open_masks}

    def concrete_vmcs(self, values: Mapping[str, int]) -> dict[str, int]:
        """The VMCS fields with every open field set from ``values`` (whole-field values; the bits
        of a partly open field outside its mask keep their value)."""
        missing = self.open_fields - set(values)
        if missing:
            raise SymbolicError(f"no value for open field(s) {', '.join(sorted(missing))}")
        out = dict(self.vmcs)
        for name, open_mask in self.open_masks.items():
            out[name] = (self.vmcs.get(name, 0) & ~open_mask) | (values[name] & open_mask)
        return out

    def pins(self, values: Mapping[str, int]) -> list[tuple[BV, BV]]:
        """(variable, value) pairs for ``z3.substitute``: every open field pinned to ``values``."""
        return [(var, z3.BitVecVal(values[name] & self.open_masks[name], var.size()))
                for name, var in self._vars.items()]

    def to_state(self, values: Mapping[str, int]) -> State:
        """A concrete ``State`` with the open fields set from ``values`` (for interpreter replay)."""
        return State(caps=dict(self.caps), maxphyaddr=self.maxphyaddr, maxlinaddr=self.maxlinaddr,
                     vmcs=self.concrete_vmcs(values), memory=dict(self.memory),
                     cpu=CpuState(in_smm=self.in_smm, efer=self.efer))

    def pinned(self, values: Mapping[str, int]) -> SymState:
        """This state with every open field fixed to ``values`` (no variables left)."""
        return SymState(vmcs=self.concrete_vmcs(values), caps=dict(self.caps), memory=dict(self.memory),
                        maxphyaddr=self.maxphyaddr, maxlinaddr=self.maxlinaddr, in_smm=self.in_smm,
                        efer=self.efer, prefix=self.prefix)


def _widen(address: BV) -> BV:
    size = address.size()
    if size < 64:
        raise SymbolicError(f"an address needs at least 64 bits, got {size}")
    if size >= ADDRESS_BITS:
        return address
    return z3.ZeroExt(ADDRESS_BITS - size, address)


def wide_address(value: BV) -> BV:
    """``value`` zero-extended to ADDRESS_BITS, for address arithmetic that must not wrap."""
    return _widen(value)
