"""Z3 helpers in expression style: constants, bit tests, interval membership, first-match chains.

Everything here builds terms; nothing branches on a Z3 value in Python. The one exception is
``is_false``/``is_true``, which ask ``z3.simplify`` whether a term is *already* a constant, so
that a family can skip reading a part of the state a concretely-disabled control never consults
(partial evaluation, DESIGN.md "Encoding for speed").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeAlias

import z3

#: A Z3 bit-vector or boolean term (z3 ships no type hints; the names document intent).
BV: TypeAlias = z3.BitVecRef
Bool: TypeAlias = z3.BoolRef
#: Half-open ``[lo, hi)`` integer ranges, sorted and disjoint.
Runs: TypeAlias = tuple[tuple[int, int], ...]

TRUE: Bool = z3.BoolVal(True)
FALSE: Bool = z3.BoolVal(False)


def bv(value: int, width: int) -> BV:
    return z3.BitVecVal(value, width)


def is_false(term: Bool) -> bool:
    """Whether ``term`` simplifies to the constant False (it is then safe to skip what it guards)."""
    return bool(z3.is_false(z3.simplify(term)))


def is_true(term: Bool) -> bool:
    return bool(z3.is_true(z3.simplify(term)))


def bit(value: BV, index: int) -> Bool:
    """Bit ``index`` of ``value`` is 1."""
    return z3.Extract(index, index, value) == 1


def any_bits(value: BV, mask: int) -> Bool:
    """Some bit of ``mask`` is 1 in ``value``."""
    return value & bv(mask, value.size()) != 0


def bit_at(value: BV, index: BV) -> Bool:
    """Bit ``index`` (a symbolic position) of ``value``; positions past the top read as 0."""
    width = max(value.size(), index.size())
    wide_value = z3.ZeroExt(width - value.size(), value)
    wide_index = z3.ZeroExt(width - index.size(), index)
    return z3.Extract(0, 0, z3.LShR(wide_value, wide_index)) == 1


def zext(value: BV, width: int) -> BV:
    return value if value.size() >= width else z3.ZeroExt(width - value.size(), value)


def in_runs(x: BV, runs: Iterable[tuple[int, int]]) -> Bool:
    """``x`` lies in one of the half-open ``runs`` (clamped to ``x``'s width): a disjunction of
    range tests, never an array."""
    width = x.size()
    top = 1 << width
    cases = []
    for lo, hi in runs:
        lo, hi = max(lo, 0), min(hi, top)
        if lo >= hi:
            continue
        if lo == 0 and hi == top:
            return TRUE
        if hi - lo == 1:
            cases.append(x == bv(lo, width))
        elif lo == 0:
            cases.append(z3.ULT(x, bv(hi, width)))
        elif hi == top:
            cases.append(z3.UGE(x, bv(lo, width)))
        else:
            cases.append(z3.And(z3.UGE(x, bv(lo, width)), z3.ULT(x, bv(hi, width))))
    if not cases:
        return FALSE
    return cases[0] if len(cases) == 1 else z3.Or(*cases)


def complement(runs: Sequence[tuple[int, int]], end: int) -> Runs:
    """``[0, end)`` without ``runs`` (sorted, disjoint)."""
    out: list[tuple[int, int]] = []
    cursor = 0
    for lo, hi in runs:
        if lo > cursor:
            out.append((cursor, min(lo, end)))
        cursor = max(cursor, hi)
    if cursor < end:
        out.append((cursor, end))
    return tuple((lo, hi) for lo, hi in out if lo < hi)


def member(x: BV, runs: Sequence[tuple[int, int]], universe: int) -> Bool:
    """``x in runs``, written as whichever of the set or its complement has fewer ranges."""
    other = complement(runs, universe)
    if len(other) < len(runs):
        return z3.And(z3.ULT(x, bv(universe, x.size())) if universe < 1 << x.size() else TRUE,
                      z3.Not(in_runs(x, other)))
    return in_runs(x, runs)


def first_match(cases: Sequence[tuple[Bool, Bool]], default: Bool) -> Bool:
    """The value of the first case whose condition holds, else ``default`` (an If chain)."""
    out = default
    for condition, value in reversed(cases):
        out = z3.If(condition, value, out)
    return out


def either(conditions: Sequence[Bool]) -> Bool:
    if not conditions:
        return FALSE
    return conditions[0] if len(conditions) == 1 else z3.Or(*conditions)


def every(conditions: Sequence[Bool]) -> Bool:
    if not conditions:
        return TRUE
    return conditions[0] if len(conditions) == 1 else z3.And(*conditions)
