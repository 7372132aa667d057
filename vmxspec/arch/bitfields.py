"""Named bit ranges inside architectural registers and fields.

Layouts (IA32_VMX_BASIC, IA32_VMX_MISC, access rights, the EPT pointer, ...) are written as
tuples of ``BitField`` so that a report can name the bits it talks about and a test can check that
no two fields of one layout overlap.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class BitField:
    """Bits ``lsb .. lsb + width - 1`` of a register, with the SDM's name for them."""

    name: str
    lsb: int
    width: int = 1
    title: str = ""

    @property
    def mask(self) -> int:
        return ((1 << self.width) - 1) << self.lsb

    def get(self, value: int) -> int:
        return (value >> self.lsb) & ((1 << self.width) - 1)

    def put(self, value: int, field_value: int) -> int:
        return (value & ~self.mask) | ((field_value << self.lsb) & self.mask)


class Layout:
    """An ordered, named collection of bit fields of one register."""

    def __init__(self, register: str, width: int, fields: tuple[BitField, ...]) -> None:
        self.register = register
        self.width = width
        self.fields = fields
        self._by_name = {f.name: f for f in fields}

    def __getitem__(self, name: str) -> BitField:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[BitField]:
        return iter(self.fields)

    def names_of(self, value: int) -> list[str]:
        """Names of the single-bit fields set in ``value`` (for messages)."""
        return [f.name for f in self.fields if f.width == 1 and value & f.mask]


def mask(lo: int, hi: int) -> int:
    """Bits ``lo`` through ``hi`` inclusive, as the SDM writes ranges ("bits 63:32")."""
    return ((1 << (hi - lo + 1)) - 1) << lo


def bits_of(value: int) -> list[int]:
    """Positions of the set bits of ``value``, lowest first."""
    out = []
    pos = 0
    while value:
        if value & 1:
            out.append(pos)
        value >>= 1
        pos += 1
    return out
