"""Sets of unsigned integers as sorted, disjoint half-open intervals.

Intercept lists (MSR indices, ports, exception vectors, VMCS field encodings), the domains of
``any`` values and of bounded quantifiers, and the address ranges sema compares are all sets of
integers that are dense in a few places and empty elsewhere: "every MSR except six" is two
intervals, not four billion members. Keeping them as intervals makes set algebra exact and cheap,
and gives a later checker the aligned ranges it lowers to solver constraints.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

Interval = tuple[int, int]


def _normalize(intervals: Iterable[Interval]) -> tuple[Interval, ...]:
    """Sorted, merged (overlapping or adjacent intervals joined), empty ones dropped."""
    out: list[list[int]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1][1] = end
        else:
            out.append([start, end])
    return tuple((s, e) for s, e in out)


@dataclass(frozen=True, slots=True)
class IntervalSet:
    """An immutable set of integers: ``intervals`` are ``[start, end)`` pairs, sorted and disjoint.

    Construct with ``IntervalSet.of(...)`` (any intervals, normalised) or the helpers below; the
    constructor itself normalises too, so every instance keeps the invariant.
    """

    intervals: tuple[Interval, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "intervals", _normalize(self.intervals))

    @staticmethod
    def of(*intervals: Interval) -> IntervalSet:
        return IntervalSet(intervals)

    @staticmethod
    def span(start: int, end: int) -> IntervalSet:
        """``[start, end)``."""
        return IntervalSet(((start, end),))

    @staticmethod
    def values(values: Iterable[int]) -> IntervalSet:
        return IntervalSet(tuple((v, v + 1) for v in values))

    # ---- queries ----

    def __contains__(self, value: object) -> bool:
        if not isinstance(value, int):
            return False
        i = bisect_right(self.intervals, (value, 1 << 200)) - 1
        return i >= 0 and self.intervals[i][0] <= value < self.intervals[i][1]

    def __iter__(self) -> Iterator[Interval]:
        return iter(self.intervals)

    def __bool__(self) -> bool:
        return bool(self.intervals)

    @property
    def size(self) -> int:
        """How many integers the set holds."""
        return sum(e - s for s, e in self.intervals)

    @property
    def first(self) -> int | None:
        return self.intervals[0][0] if self.intervals else None

    @property
    def last(self) -> int | None:
        """The largest member (not the end of the last interval)."""
        return self.intervals[-1][1] - 1 if self.intervals else None

    def members(self) -> Iterator[int]:
        """Every member, in order (only for sets known to be small)."""
        for start, end in self.intervals:
            yield from range(start, end)

    def covers(self, start: int, end: int) -> bool:
        """Whether every integer of ``[start, end)`` is in the set."""
        i = bisect_right(self.intervals, (start, 1 << 200)) - 1
        return i >= 0 and self.intervals[i][0] <= start and end <= self.intervals[i][1]

    # ---- algebra ----

    def union(self, other: IntervalSet) -> IntervalSet:
        return IntervalSet(self.intervals + other.intervals)

    def intersection(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        a, b = self.intervals, other.intervals
        i = j = 0
        while i < len(a) and j < len(b):
            start, end = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
            if start < end:
                out.append((start, end))
            if a[i][1] < b[j][1]:
                i += 1
            else:
                j += 1
        return IntervalSet(tuple(out))

    def difference(self, other: IntervalSet) -> IntervalSet:
        out: list[Interval] = []
        b = other.intervals
        j = 0
        for start, end in self.intervals:
            while j < len(b) and b[j][1] <= start:
                j += 1
            k = j
            cursor = start
            while k < len(b) and b[k][0] < end:
                if b[k][0] > cursor:
                    out.append((cursor, b[k][0]))
                cursor = max(cursor, b[k][1])
                k += 1
            if cursor < end:
                out.append((cursor, end))
        return IntervalSet(tuple(out))

    def complement(self, universe_end: int) -> IntervalSet:
        """``[0, universe_end)`` without the set."""
        return IntervalSet.span(0, universe_end).difference(self)

    __or__ = union
    __and__ = intersection
    __sub__ = difference

    def __str__(self) -> str:
        if not self.intervals:
            return "{}"
        parts = [f"{s:#x}" if e == s + 1 else f"{s:#x} ..= {e - 1:#x}" for s, e in self.intervals[:8]]
        if len(self.intervals) > 8:
            parts.append(f"... ({len(self.intervals) - 8} more)")
        return "{ " + ", ".join(parts) + " }"


EMPTY = IntervalSet()
