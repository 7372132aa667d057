"""Whole tables out of sparse memory, fast.

A state's memory is a map of 8-byte words where every word not listed reads as 0, and an entry
that reads as 0 is not present in any format vmxspec models (EPT, VT-d root, context, PASID and
second-level entries all have a present or permission bit that 0 clears). So a whole-table
traversal only needs the *listed, non-zero* words of a table, and those are a contiguous slice of
the sorted addresses: one bisection per table instead of 512 lookups, which is what keeps the
traversal of a million-entry host close to the time it took to write the words.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from itertools import pairwise


class TableMemory:
    """Read-only view of a word map that lists the non-zero words of an address range.

    Only 8-byte-aligned addresses hold entries (the walks read aligned words; a word listed at an
    unaligned address is never read by them), so unaligned keys are ignored.
    """

    __slots__ = ("_keys", "_memory")

    def __init__(self, memory: Mapping[int, int]) -> None:
        self._memory = memory
        keys = list(memory)
        if any(a > b for a, b in pairwise(keys)):
            keys.sort()
        self._keys = keys

    def get(self, address: int) -> int:
        return self._memory.get(address, 0)

    def words(self, start: int, end: int) -> list[tuple[int, int]]:
        """``(address, value)`` of every aligned non-zero word in ``[start, end)``, by address."""
        keys = self._keys
        lo = bisect_left(keys, start)
        hi = bisect_left(keys, end, lo)
        memory = self._memory
        out = []
        for address in keys[lo:hi]:
            if not address & 7:
                value = memory[address]
                if value:
                    out.append((address, value))
        return out

    def entries(self, table: int, size: int, count: int) -> dict[int, int]:
        """Index -> the non-zero words of each ``size``-byte entry of a table of ``count`` entries,
        OR-ed into one int per entry (qword ``i`` at bits ``64*i``), for entries of several words."""
        out: dict[int, int] = {}
        for address, value in self.words(table, table + size * count):
            offset = address - table
            index = offset // size
            out[index] = out.get(index, 0) | value << (8 * (offset % size))
        return out
