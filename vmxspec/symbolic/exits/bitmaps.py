"""Concrete bitmap pages as interval sets of set bits.

An MSR, I/O or VMREAD/VMWRITE bitmap is concrete memory in the built state. Rather than give Z3 a
4-KByte array (DESIGN.md: never model memory as an SMT array), the page is swept once in Python
into sorted runs ``[lo, hi)`` of set bits; "bit ``x`` is set" is then a disjunction of range tests
over the symbolic index (``terms.member``), and a page that is all ones or all zeros becomes a
single comparison or a constant.

The sweep reads whole 64-bit words and only looks at single bits inside words that are neither
0 nor all ones, so a realistic bitmap (long runs) costs a few hundred word reads.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.symbolic.exits.terms import Runs


def _byte(memory: Mapping[int, int], address: int) -> int:
    word = memory.get(address & ~7, 0)
    return word >> 8 * (address & 7) & 0xFF


def _word(memory: Mapping[int, int], address: int) -> int:
    """The little-endian 64-bit value at any byte ``address`` (unlisted words read as 0)."""
    if not address & 7:
        return memory.get(address, 0)
    return sum(_byte(memory, address + i) << 8 * i for i in range(8))


def set_runs(memory: Mapping[int, int], base: int, nbits: int) -> Runs:
    """The runs of set bits among bits ``0 .. nbits-1`` of the bitmap at byte ``base``.

    Bit ``n`` is bit ``n % 8`` of byte ``base + n // 8`` (SDM: "bit n ... byte n/8, bit n mod 8").
    """
    runs: list[list[int]] = []

    def add(lo: int, hi: int) -> None:
        if runs and runs[-1][1] == lo:
            runs[-1][1] = hi
        else:
            runs.append([lo, hi])

    for first in range(0, nbits, 64):
        count = min(64, nbits - first)
        word = _word(memory, base + first // 8) & ((1 << count) - 1)
        if not word:
            continue
        if word == (1 << count) - 1:
            add(first, first + count)
            continue
        i = 0
        while i < count:
            if word >> i & 1:
                j = i
                while j < count and word >> j & 1:
                    j += 1
                add(first + i, first + j)
                i = j
            else:
                i += 1
    return tuple((lo, hi) for lo, hi in runs)


def shift(runs: Runs, offset: int) -> Runs:
    return tuple((lo + offset, hi + offset) for lo, hi in runs)


def contains(runs: Runs, value: int) -> bool:
    """Whether ``value`` lies in one of ``runs`` (for explanations of concrete values)."""
    return any(lo <= value < hi for lo, hi in runs)


def full(nbits: int) -> Runs:
    return ((0, nbits),) if nbits else ()

