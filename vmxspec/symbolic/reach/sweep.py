"""Interval sweeps: the decisions the isolation properties make over extracted interval maps.

Every question here is "does some point lie in these intervals and in those (or not in those)?",
answered by sorting the intervals once and walking them in order: O(n log n) for the sort, linear
after, however many pages the intervals stand for. Intervals are half-open ``[start, end)``; each
carries a ``tag`` (whatever the caller needs to explain a hit: the run it came from, the region's
name), which the sweeps hand back untouched.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Hashable, Iterable
from typing import Generic, NamedTuple, TypeVar

T = TypeVar("T")
U = TypeVar("U")


class Span(NamedTuple, Generic[T]):
    start: int
    end: int
    tag: T


class Hit(NamedTuple, Generic[T, U]):
    """``[start, end)`` lies in both ``left``'s and ``right``'s interval."""

    start: int
    end: int
    left: T
    right: U


def normalized(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, disjoint, merged (adjacent ones joined), empty ones dropped."""
    out: list[list[int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            if end > out[-1][1]:
                out[-1][1] = end
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def overlaps(left: Iterable[Span[T]], right: Iterable[Span[U]], limit: int = 1) -> list[Hit[T, U]]:
    """The first ``limit`` overlaps (by start address) between any interval of ``left`` and any of
    ``right``. Either side may overlap itself; each side is sorted once."""
    a = sorted((s for s in left if s.end > s.start), key=lambda s: s.start)
    b = sorted((s for s in right if s.end > s.start), key=lambda s: s.start)
    hits: list[Hit[T, U]] = []
    # The interval of each side, among those started so far, that reaches furthest: an interval
    # that starts later overlaps something of the other side iff it starts before that reach.
    i = j = 0
    reach_a: Span[T] | None = None
    reach_b: Span[U] | None = None
    while (i < len(a) or j < len(b)) and len(hits) < limit:
        if j >= len(b) or (i < len(a) and a[i].start <= b[j].start):
            x = a[i]
            i += 1
            if reach_b is not None and reach_b.end > x.start:
                hits.append(Hit(x.start, min(x.end, reach_b.end), x.tag, reach_b.tag))
            if reach_a is None or x.end > reach_a.end:
                reach_a = x
        else:
            y = b[j]
            j += 1
            if reach_a is not None and reach_a.end > y.start:
                hits.append(Hit(y.start, min(y.end, reach_a.end), reach_a.tag, y.tag))
            if reach_b is None or y.end > reach_b.end:
                reach_b = y
    return hits


def first_overlap(left: Iterable[Span[T]], right: Iterable[Span[U]]) -> Hit[T, U] | None:
    found = overlaps(left, right, 1)
    return found[0] if found else None


def first_outside(spans: Iterable[Span[T]], allowed: Iterable[tuple[int, int]]) -> Hit[T, None] | None:
    """The first (lowest) piece of some interval of ``spans`` that no interval of ``allowed``
    covers: ``[start, end)`` with the interval's tag, or None when ``allowed`` covers them all."""
    cover = normalized(allowed)
    best: Hit[T, None] | None = None
    k = 0
    for s in sorted((s for s in spans if s.end > s.start), key=lambda s: s.start):
        if best is not None and s.start >= best.start:
            break
        # Skip the allowed intervals that end before this one starts.
        while k < len(cover) and cover[k][1] <= s.start:
            k += 1
        point = s.start
        m = k
        while m < len(cover) and cover[m][0] <= point < s.end:
            point = max(point, cover[m][1])
            m += 1
        if point < s.end:
            end = cover[m][0] if m < len(cover) and cover[m][0] < s.end else s.end
            best = Hit(point, end, s.tag, None)
    return best


def outside(spans: Iterable[Span[T]], cover: Iterable[tuple[int, int]]) -> list[Span[T]]:
    """The pieces of each interval of ``spans`` that no interval of ``cover`` covers, each with its
    interval's tag (what is left of a VM's reach once the regions that excuse it are cut out)."""
    holes = normalized(cover)
    starts = [start for start, _ in holes]
    out: list[Span[T]] = []
    for s in spans:
        point = s.start
        k = max(bisect_right(starts, point) - 1, 0)
        while point < s.end and k < len(holes) and holes[k][0] < s.end:
            start, end = holes[k]
            if end <= point:
                k += 1
                continue
            if start > point:
                out.append(Span(point, start, s.tag))
            point = max(point, end)
            k += 1
        if point < s.end:
            out.append(Span(point, s.end, s.tag))
    return out


L = TypeVar("L", bound=Hashable)


class Labelled(NamedTuple, Generic[L, T]):
    start: int
    end: int
    label: L
    tag: T


def first_conflict(spans: Iterable[Labelled[L, T]]) -> tuple[int, int, Labelled[L, T], Labelled[L, T]] | None:
    """The lowest address covered by intervals of two different labels, in one sweep over all of
    them (each VM against every other at once): ``(start, end, first, second)`` where ``first``
    started earlier. Keeps the two furthest-reaching intervals of distinct labels seen so far, which
    is all a new interval has to be compared with."""
    best: Labelled[L, T] | None = None
    second: Labelled[L, T] | None = None
    for x in sorted((s for s in spans if s.end > s.start), key=lambda s: s.start):
        for other in (best, second):
            if other is not None and other.label != x.label and other.end > x.start:
                return x.start, min(x.end, other.end), other, x
        if best is None or x.end > best.end:
            if best is not None and best.label != x.label:
                second = best
            best = x
        elif x.label != best.label and (second is None or x.end > second.end):
            second = x
    return None
