"""Lay out EPT paging structures in a host-physical region from guest-physical mappings.

``build_ept_tables`` takes mappings (a guest-physical range, its host-physical target, R/W/X and
user-execute permissions, memory type, IPAT, optionally a pinned page size) and returns the EPT
pointer and the memory words that hold the tables, ready for ``State.memory``. Each mapping is cut
into the largest pages that both its alignment and the allowed page sizes permit, unless it pins
one. Tables are allocated one 4-KByte page after another from ``table_base``, in the order the
walk first needs them, so the same mappings always give the same words.

Entries that reference a table get ``nonleaf_permissions`` (by default R, W, X and XU), so that a
translation's permissions are exactly its leaf's: the SDM ANDs permissions over every level, and
full permissions above the leaf make the AND the leaf's own. Bit 10 (XU) is ignored unless
mode-based execute control is on, so setting it is harmless without MBEC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from itertools import pairwise
from typing import NamedTuple

from vmxspec.arch import ept as A


class EptBuildError(ValueError):
    """The mappings cannot be laid out (the message says which mapping and why)."""


@dataclass(frozen=True, slots=True)
class EptMapping:
    """``size`` bytes of guest-physical space from ``gpa`` mapped to host-physical ``hpa`` onwards."""

    gpa: int
    size: int
    hpa: int
    read: bool = True
    write: bool = True
    execute: bool = True
    #: Bit 10: execute for user-mode linear addresses under mode-based execute control.
    user_execute: bool = False
    memtype: int = A.MemType.WB
    ipat: bool = False
    #: Pin the page size (4 KiB, 2 MiB or 1 GiB) instead of choosing the largest that fits.
    page_size: int | None = None

    @classmethod
    def with_permissions(cls, gpa: int, size: int, hpa: int, permissions: str, *, memtype: int = A.MemType.WB,
                         ipat: bool = False, page_size: int | None = None) -> EptMapping:
        """A mapping with permissions written as letters: ``"rwx"``, ``"r-x"``, ``"rxu"`` (u = XU)."""
        letters = set(permissions.replace("-", "").lower())
        if not letters <= set("rwxu"):
            raise EptBuildError(f"permissions are letters from 'rwxu', got {permissions!r}")
        return cls(gpa, size, hpa, "r" in letters, "w" in letters, "x" in letters, "u" in letters, memtype, ipat,
                   page_size)

    @property
    def permission_bits(self) -> int:
        """Bits 0, 1, 2 and 10 of the leaf entries."""
        return ((A.R if self.read else 0) | (A.W if self.write else 0) | (A.X if self.execute else 0)
                | (A.XU if self.user_execute else 0))

    @property
    def leaf_bits(self) -> int:
        """Every bit of a leaf entry except the page frame and the page-size bit."""
        return self.permission_bits | (self.memtype << A.MEMTYPE_SHIFT) | (A.IPAT if self.ipat else 0)

    @property
    def end(self) -> int:
        return self.gpa + self.size


class EptTables(NamedTuple):
    """The EPT pointer and the memory words of the tables (8-byte-aligned address -> value)."""

    eptp: int
    memory: dict[int, int]


ALL_PAGE_SIZES: frozenset[int] = frozenset(A.PAGE_SIZE_BY_LEVEL.values())


def page_sizes_allowed(ept_vpid_cap: int) -> frozenset[int]:
    """The page sizes IA32_VMX_EPT_VPID_CAP allows: 4 KiB always, 2 MiB with bit 16, 1 GiB with bit 17."""
    sizes = {A.PAGE_4K}
    for level, cap_bit in A.PAGE_SIZE_CAPS.items():
        if cap_bit.get(ept_vpid_cap):
            sizes.add(A.PAGE_SIZE_BY_LEVEL[level])
    return frozenset(sizes)


def _check_mapping(i: int, m: EptMapping, levels: int, maxphyaddr: int) -> None:
    where = f"mapping {i} (GPA {m.gpa:#x}, size {m.size:#x})"
    if m.size <= 0 or m.gpa < 0 or m.hpa < 0:
        raise EptBuildError(f"{where}: size must be positive and addresses non-negative")
    align = m.page_size if m.page_size is not None else A.PAGE_4K
    if m.page_size is not None and m.page_size not in ALL_PAGE_SIZES:
        raise EptBuildError(f"{where}: page size {m.page_size:#x} is not 4 KiB, 2 MiB or 1 GiB")
    for name, value in (("GPA", m.gpa), ("HPA", m.hpa), ("size", m.size)):
        if value % align:
            raise EptBuildError(f"{where}: {name} {value:#x} is not a multiple of the page size {align:#x}")
    gpa_limit = 1 << min(A.gpa_width(levels), maxphyaddr)
    if m.end > gpa_limit:
        raise EptBuildError(f"{where}: ends at {m.end:#x}, beyond the {gpa_limit:#x} a {levels}-level walk "
                            f"with MAXPHYADDR {maxphyaddr} can translate")
    if m.hpa + m.size > 1 << maxphyaddr:
        raise EptBuildError(f"{where}: host range ends at {m.hpa + m.size:#x}, beyond MAXPHYADDR {maxphyaddr}")
    if not 0 <= m.memtype <= 7:
        raise EptBuildError(f"{where}: memory type {m.memtype} does not fit bits 5:3")


class _Layout:
    """Tables under construction: entry words by address, and which entries reference which table."""

    def __init__(self, table_base: int, table_limit: int, nonleaf_permissions: int) -> None:
        self.next_table = table_base
        self.table_limit = table_limit
        self.nonleaf_permissions = nonleaf_permissions
        self.entries: dict[int, int] = {}
        self.children: dict[int, int] = {}
        self.root = self.allocate()

    def allocate(self) -> int:
        table = self.next_table
        if table + A.TABLE_SIZE > self.table_limit:
            raise EptBuildError(f"no room for another EPT table: the table region ends at {self.table_limit:#x}")
        self.next_table += A.TABLE_SIZE
        return table

    def place(self, gpa: int, hpa: int, page_size: int, leaf_bits: int, levels: int) -> None:
        """Write the leaf mapping the page at ``gpa``, creating the tables above it as needed."""
        leaf_level = A.LEVEL_BY_PAGE_SIZE[page_size]
        table = self.root
        for level in range(levels, leaf_level, -1):
            address = table + 8 * ((gpa >> A.index_shift(level)) & 0x1FF)
            child = self.children.get(address)
            if child is None:
                if address in self.entries:
                    raise EptBuildError(f"GPA {gpa:#x}: a larger page already covers it")
                child = self.allocate()
                self.children[address] = child
                self.entries[address] = child | self.nonleaf_permissions
            table = child
        address = table + 8 * ((gpa >> A.index_shift(leaf_level)) & 0x1FF)
        if address in self.entries:
            raise EptBuildError(f"GPA {gpa:#x}: already mapped")
        self.entries[address] = hpa | leaf_bits | (A.PAGE_SIZE_BIT if leaf_level > 1 else 0)


def build_ept_tables(mappings: Iterable[EptMapping], *, table_base: int, table_limit: int | None = None,
                     levels: int = 4, eptp_memtype: int = A.MemType.WB, accessed_dirty: bool = False,
                     page_sizes: Collection[int] = ALL_PAGE_SIZES, maxphyaddr: int = 52,
                     nonleaf_permissions: int = A.RWX | A.XU) -> EptTables:
    """Lay out EPT tables for ``mappings`` from ``table_base`` (up to ``table_limit``, exclusive).

    ``levels`` is the page-walk length (4 or 5). ``page_sizes`` bounds the sizes chosen
    automatically (use ``page_sizes_allowed(cap)`` to follow a processor); a mapping's pinned
    ``page_size`` is honoured even if not listed, so that a spec asking for a page size the
    processor lacks produces the entry the checker must then report. Raises EptBuildError.
    """
    if levels not in (4, 5):
        raise EptBuildError(f"the page-walk length is 4 or 5, got {levels}")
    if not 0 <= eptp_memtype <= 7:
        raise EptBuildError(f"the EPTP memory type does not fit bits 2:0: {eptp_memtype}")
    if table_base % A.TABLE_SIZE or table_base < 0:
        raise EptBuildError(f"the table region must start 4-KByte aligned, got {table_base:#x}")
    limit = 1 << maxphyaddr if table_limit is None else min(table_limit, 1 << maxphyaddr)
    unknown = set(page_sizes) - ALL_PAGE_SIZES
    if unknown:
        raise EptBuildError(f"page sizes are 4 KiB, 2 MiB or 1 GiB, got {sorted(unknown)}")
    sizes = sorted(set(page_sizes) | {A.PAGE_4K}, reverse=True)

    ordered = sorted(enumerate(mappings), key=lambda item: item[1].gpa)
    for i, m in ordered:
        _check_mapping(i, m, levels, maxphyaddr)
    for (i, a), (j, b) in pairwise(ordered):
        if b.gpa < a.end:
            raise EptBuildError(f"mappings {i} and {j} overlap at GPA {b.gpa:#x}")

    layout = _Layout(table_base, limit, nonleaf_permissions)
    for _, m in ordered:
        bits = m.leaf_bits
        offset = 0
        while offset < m.size:
            gpa, hpa, remaining = m.gpa + offset, m.hpa + offset, m.size - offset
            if m.page_size is not None:
                size = m.page_size
            else:
                size = next(s for s in sizes if not gpa % s and not hpa % s and remaining >= s)
            layout.place(gpa, hpa, size, bits, levels)
            offset += size

    eptp = layout.root | ((levels - 1) << A.EPTP["pwl_minus_1"].lsb) | eptp_memtype
    if accessed_dirty:
        eptp |= A.EPTP_AD
    memory = {address: value for address, value in sorted(layout.entries.items()) if value}
    return EptTables(eptp, memory)
