"""Which source-ids a VT-d unit remaps: its device scope (ACPI DMAR "DMA Remapping Hardware Unit
Definition Structure"), read from the state's ``scope`` strings independently of the interpreter."""

from __future__ import annotations

import re
from collections.abc import Sequence

from vmxspec.state.model import IommuUnit

_SCOPE = re.compile(r"(?:([0-9a-fA-F]{1,4}):)?([0-9a-fA-F]{1,2})(?:-([0-9a-fA-F]{1,2}))?:"
                    r"(?:\*|([0-9a-fA-F]{1,2})\.([0-7]))")


def _scope_sids(entry: str, segment: int) -> list[int]:
    """The source-ids one device-scope entry names: "BB:DD.F", "BB:*" or "BB-CC:*", optionally after
    "SSSS:" (the DMAR table's endpoint and bridge scopes)."""
    m = _SCOPE.fullmatch(entry.strip())
    if not m or (m.group(1) and int(m.group(1), 16) != segment) or (m.group(3) and m.group(4)):
        raise ValueError(f"{entry!r} is not a device scope of segment {segment:#x}")
    first = int(m.group(2), 16)
    last = int(m.group(3), 16) if m.group(3) else first
    if m.group(4) is not None:
        device = int(m.group(4), 16)
        if device > 0x1F:
            raise ValueError(f"{entry!r}: device {device:#x} is above 0x1f")
        return [first << 8 | device << 3 | int(m.group(5))]
    return [bus << 8 | devfn for bus in range(first, last + 1) for devfn in range(256)]


def remapped_sids(units: Sequence[IommuUnit], index: int) -> dict[int, list[int]]:
    """Bus -> devfns of the source-ids unit ``index`` remaps ("DMA Remapping Hardware Unit
    Definition Structure"): a unit with a device scope remaps what its scope lists and no earlier
    unit's scope claims; the first unit of a segment without a scope remaps the rest of it."""
    unit = units[index]
    claimed = bytearray(1 << 16)
    mine = bytearray(1 << 16)
    first_catch_all = None
    for i, other in enumerate(units):
        if other.segment != unit.segment:
            continue
        if not other.scope:
            if first_catch_all is None:
                first_catch_all = i
            continue
        for entry in other.scope:
            for sid in _scope_sids(entry, other.segment):
                if i == index and not claimed[sid]:
                    mine[sid] = 1
                claimed[sid] = 1
    if not unit.scope and first_catch_all == index:
        mine = bytearray(1 - c for c in claimed)
    out: dict[int, list[int]] = {}
    for bus in range(256):
        row = mine[bus << 8:(bus + 1) << 8]
        if any(row):
            out[bus] = [d for d in range(256) if row[d]]
    return out
