"""Sorts of IR terms: booleans and bit-vectors of an explicit width, and the error for mixing them.

Widths are explicit everywhere because the architecture is: a VMCS field is 16, 32 or 64 bits, a
physical address has MAXPHYADDR bits, an MSR index 32. A term whose operands disagree in width is
rejected when it is built (``IRTypeError``), so a width mistake in lowering surfaces at the line
that made it, not as a wrong verdict from the solver.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


class IRTypeError(TypeError):
    """A term was built with operands of the wrong sort, width, count or parameters."""


@dataclass(frozen=True, slots=True)
class Sort:
    """``BOOL`` or ``bv_sort(width)``; compare with ``==`` (sorts are small values, not interned terms)."""

    kind: str  # "bool" or "bv"
    width: int  # 0 for bool

    @property
    def is_bool(self) -> bool:
        return self.kind == "bool"

    @property
    def is_bv(self) -> bool:
        return self.kind == "bv"

    @property
    def mask(self) -> int:
        """All ones of this width (1 for bool, whose values are 0 and 1)."""
        return 1 if self.is_bool else (1 << self.width) - 1

    def __str__(self) -> str:
        return "bool" if self.is_bool else f"bv{self.width}"

    def __repr__(self) -> str:
        return str(self)


BOOL = Sort("bool", 0)


@cache
def bv_sort(width: int) -> Sort:
    """The sort of ``width``-bit vectors; width must be a positive int."""
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise IRTypeError(f"a bit-vector width must be a positive integer, not {width!r}")
    return Sort("bv", width)


def as_sort(width_or_sort: int | Sort) -> Sort:
    """Accept a width (an int, for a bit-vector) or a sort."""
    if isinstance(width_or_sort, Sort):
        return width_or_sort
    return bv_sort(width_or_sort)
