"""What the spec language's expressions desugar to: ranges, sets of values, bit tests.

The spec's ``x in a .. b`` is half-open, ``x in a ..= b`` inclusive (sema turns it into
``in_range(x, a, b + 1)``, which may be 2^width), a set literal is a disjunction, and ``x[i]``
with a symbolic ``i`` is a shift and a mask (a constant ``i`` is an ``extract``).
"""

from __future__ import annotations

from collections.abc import Iterable

from vmxspec.ir.build import TermLike, and_, bvand, coerce, eq, extract, lshr, ne, or_, uge, ult, zero_extend
from vmxspec.ir.sorts import IRTypeError
from vmxspec.ir.terms import FALSE, TRUE, Term, is_const


def in_range(x: Term, lo: TermLike, hi: TermLike) -> Term:
    """``lo <= x < hi`` (the spec's half-open ``lo .. hi``); an int ``hi`` may be 2^width."""
    if isinstance(hi, int) and not isinstance(hi, bool) and hi == 1 << x.width:
        return TRUE if is_const(coerce("in_range", lo, x.sort), 0) else uge(x, lo)
    if isinstance(lo, int) and isinstance(hi, int) and lo >= hi:
        return FALSE
    return and_(uge(x, lo), ult(x, hi))


def one_of(x: Term, values: Iterable[TermLike]) -> Term:
    """``x`` equals one of ``values`` (a set literal's single values)."""
    return or_(*(eq(x, v) for v in values))


def bit(x: Term, index: TermLike) -> Term:
    """Bit ``index`` of ``x`` is set; a symbolic index past the top reads as a clear bit."""
    if isinstance(index, int) and not isinstance(index, bool):
        if not 0 <= index < x.width:
            raise IRTypeError(f"bit: bit {index} does not exist in a {x.sort}")
        return eq(extract(x, index, index), 1)
    if not isinstance(index, Term) or not index.sort.is_bv:
        raise IRTypeError(f"bit: the index must be an int or a bit-vector term, not {index!r}")
    width = max(x.width, index.width)
    wide_x = zero_extend(x, width - x.width)
    wide_i = zero_extend(index, width - index.width)
    return ne(bvand(lshr(wide_x, wide_i), 1), 0)
