"""EPT blocks and IOMMU domains' own tables: maps, holes, raw entries, the root and the table region.

A ``map`` is checked on its own (whole 4 KiB pages, a pinned page size the platform allows and
that both ends and the target are aligned to, addresses the walk and MAXPHYADDR can reach,
attributes that exist) and against the others: two maps that overlap with different translations
are a conflict; overlapping maps that translate identically are merged, with a warning; a hole
that overlaps a map contradicts it.

This pass sees every ``map`` line of a spec, so it is written for speed: literal numbers are read
directly, and overlaps are found with one sort and one sweep.
"""

from __future__ import annotations

import bisect
from dataclasses import replace

from vmxspec.arch import ept as ept_facts
from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.sema import names as N
from vmxspec.sema.context import Context
from vmxspec.sema.model import Open, PageMap, Paging, RawEntry, Region
from vmxspec.sema.reporter import note
from vmxspec.syntax import ast

_PAGE = ept_facts.PAGE_4K
EPT_ENTRY_KINDS = frozenset({"entry", "pml5e", "pml4e", "pdpte", "pde", "pte"})
VTD_ENTRY_KINDS = EPT_ENTRY_KINDS | {"root_entry", "context_entry"}
#: Bytes per raw entry: a root entry is 128 bits; a context entry 128 (legacy) or 256 (scalable mode).
_ENTRY_SIZES = {"root_entry": 16, "context_entry": 32}
_PERMISSIONS: dict[str, tuple[bool, bool, bool, bool] | None] = {}


def _permissions(word: str) -> tuple[bool, bool, bool, bool] | None:
    found = _PERMISSIONS.get(word, ())
    if found == ():
        found = _PERMISSIONS[word] = N.permissions(word)
    return found  # type: ignore[return-value]


class PagingResolver:
    """Resolves one block (``ept { }`` or ``domain N { }``)."""

    def __init__(self, ctx: Context, *, where: str, vtd: bool, page_sizes: frozenset[int] | None,
                 input_limit: int | None) -> None:
        self.ctx = ctx
        self.report = ctx.reporter.report
        self.where = where
        self.vtd = vtd
        self.page_sizes = page_sizes
        self.input_limit = input_limit
        self.maps: list[PageMap] = []
        self.holes: list[Region] = []
        self.entries: dict[int, RawEntry] = {}
        self.root: tuple[int, Span] | None = None
        self.root_statement = NOWHERE
        self.tables: Region | None = None

    # ---- statements ----

    def add(self, item: ast.Node) -> None:
        if isinstance(item, ast.Map):
            m = self.map(item)
            if m is not None:
                self.maps.append(m)
        elif isinstance(item, ast.Hole):
            r = self.input_range(item.range, "the hole")
            if r is not None:
                self.holes.append(Region(r[0], r[1], span=item.span))
        elif isinstance(item, ast.RawEntry):
            self.raw_entry(item)
        elif isinstance(item, ast.Root):
            self.set_root(item)
        elif isinstance(item, ast.Tables):
            self.set_tables(item)

    def input_range(self, node: ast.Range, what: str) -> tuple[int, int] | None:
        low, high = node.low, node.high
        if isinstance(low, ast.Number) and isinstance(high, ast.Number) and high.value >= low.value:
            start, end = low.value, high.value + 1 if node.inclusive else high.value
            if end == start:
                return self.ctx.consts.range(node, what)  # reports the empty range
        else:
            r = self.ctx.consts.range(node, what)
            if r is None:
                return None
            start, end = r
        if start % _PAGE or end % _PAGE:
            bad = node.low if start % _PAGE else node.high
            self.report("sema-alignment", f"{what} must cover whole 4 KiB pages: {_edge(start, end)} is not a "
                        "multiple of 0x1000", bad.span)
            return None
        if self.input_limit is not None and end > self.input_limit:
            self.report("sema-address", f"{what} ends at {end:#x}, beyond the {self.input_limit:#x} that "
                        f"{'the domain' if self.vtd else 'the EPT'} translates", node.span)
            return None
        if not self.vtd and not self.ctx.guest_range(start, end, node.span, what):
            return None
        return start, end

    def map(self, item: ast.Map) -> PageMap | None:
        r = self.input_range(item.range, "the map")
        attrs = self.attributes(item)
        if r is None or attrs is None:
            return None
        start, end = r
        perms, memtype, page, flags = attrs
        align = page or _PAGE
        if page is not None:
            for value, node in ((start, item.range.low), (end, item.range.high)):
                if value % page:
                    self.report("sema-alignment", f"{value:#x} is not aligned to the pinned page size "
                                f"{N.PAGE_SIZES[page]}", node.span)
                    return None
        target = self.target(item.target, start, end, align)
        if target is None:
            return None
        return PageMap(start, end, target, perms[0], perms[1], perms[2], perms[3], memtype, "ipat" in flags,
                       "suppress_ve" in flags, page, span=item.span)

    def target(self, node: ast.Expr, start: int, end: int, align: int) -> int | Open | None:
        width = self.ctx.maxphyaddr or 52
        if isinstance(node, ast.AnyValue):
            return self.ctx.consts.open(node, "the map's target", width=width, zero=align - 1)
        value = node.value if isinstance(node, ast.Number) else self.ctx.consts.number(node, "the map's target")
        if value is None:
            return None
        if value % align:
            self.report("sema-alignment", f"the target {value:#x} is not aligned to "
                        f"{N.PAGE_SIZES.get(align, hex(align))}, so the map cannot be made of "
                        f"{N.PAGE_SIZES.get(align, hex(align))} pages", node.span)
            return None
        if not self.ctx.host_range(value, value + end - start, node.span, "the map's host range"):
            return None
        return value

    def attributes(self, item: ast.Map) -> tuple[tuple[bool, bool, bool, bool], int, int | None, set[str]] | None:
        perms: tuple[bool, bool, bool, bool] | None = None
        memtype: int | None = None
        page: int | None = None
        flags: set[str] = set()
        ok = True
        for attr in item.attrs:
            word = attr.name.name
            p = _permissions(word)
            if attr.value is not None and word != "page":
                self.report("sema-type", f"'{word}' takes no value", attr.value.span)
                ok = False
            if p is not None:
                if self.vtd and (p[2] or p[3]):
                    self.report("sema-unknown-attribute", f"'{word}': DMA remapping grants read and write only "
                                "(write r, w or rw)", attr.name.span)
                    ok = False
                elif perms is not None:
                    self.report("sema-conflict", f"the map's permissions are given twice ('{word}')", attr.name.span)
                    ok = False
                perms = p
            elif word in N.MEMTYPES or word in N.MAP_FLAGS:
                if self.vtd:
                    self.report("sema-unknown-attribute", f"'{word}' is an EPT attribute; an IOMMU domain's maps "
                                "take permissions (r, w, rw) and 'page'", attr.name.span)
                    ok = False
                elif word in N.MEMTYPES:
                    if memtype is not None:
                        self.report("sema-conflict", f"the map's memory type is given twice ('{word}')",
                                    attr.name.span)
                        ok = False
                    memtype = N.MEMTYPES[word]
                else:
                    flags.add("ipat" if word == "ignore_pat" else word)
            elif word == "page":
                page = self.page_size(attr)
                ok = ok and page is not None
            else:
                self.report("sema-unknown-attribute", f"unknown map attribute '{word}'"
                            f"{N.suggest(word, N.MAP_ATTRIBUTES)}", attr.name.span)
                ok = False
        if perms is None and ok:
            self.report("sema-incomplete", "the map gives no permissions: add r, rw, rx or rwx "
                        + ("" if self.vtd else "(a guest-physical range nothing may access is a 'hole')"),
                        item.span)
            ok = False
        if not ok or perms is None:
            return None
        return perms, ept_facts.MemType.WB if memtype is None else memtype, page, flags

    def page_size(self, attr: ast.Attr) -> int | None:
        if attr.value is None:
            self.report("sema-page-size", "'page' needs a size: page 4K, page 2M or page 1G", attr.name.span)
            return None
        size = attr.value.value
        if size not in N.PAGE_SIZES:
            self.report("sema-page-size", f"{attr.value.text or hex(size)} is not a page size: pages are 4K, 2M or "
                        "1G", attr.value.span)
            return None
        if self.page_sizes is not None and size not in self.page_sizes:
            why = (f"CAP_REG.SLLPS bit {35 if size == 1 << 30 else 34} is 0" if self.vtd else
                   f"IA32_VMX_EPT_VPID_CAP bit {17 if size == 1 << 30 else 16} "
                   f"({'pdpte_1g' if size == 1 << 30 else 'pde_2m'}) is 0")
            self.report("sema-page-size", f"the platform does not allow {N.PAGE_SIZES[size]} pages in "
                        f"{'this domain' if self.vtd else 'the EPT'}: {why}", attr.value.span)
            return None
        return size

    def raw_entry(self, item: ast.RawEntry) -> None:
        kind = item.kind.value
        if kind not in (VTD_ENTRY_KINDS if self.vtd else EPT_ENTRY_KINDS):
            self.report("sema-type", f"a {kind} belongs to an IOMMU's tables, not to an EPT", item.span)
            return
        size = _ENTRY_SIZES.get(kind, 8)
        address = self.ctx.consts.number(item.address, f"the address of the {kind}")
        if address is None:
            return
        align = min(size, 16)
        if address % align:
            what = "a paging-structure entry is 8 bytes" if size == 8 else f"a {kind} is {size} bytes"
            self.report("sema-alignment", f"{what} at {'an' if align == 8 else 'a'} {align}-byte-aligned address; "
                        f"{address:#x} is not",
                        item.address.span)
            return
        if not self.ctx.host_range(address, address + size, item.address.span, f"the {kind}"):
            return
        value = self.ctx.consts.value(item.value, f"the {kind}", width=8 * size)
        if value is None:
            return
        entry = RawEntry(kind, address, value, size, span=item.span)
        old = self.entries.get(address)
        if old is not None:
            if old.value != value or isinstance(value, Open):
                self.ctx.reporter.report("sema-conflict", f"the entry at {address:#x} is given two values",
                                         item.value.span, note("first given here", old.span))
            else:
                self.ctx.reporter.report("sema-redundant", f"the entry at {address:#x} is given twice", item.span,
                                         note("first given here", old.span))
            return
        self.entries[address] = entry

    def set_root(self, item: ast.Root) -> None:
        address = self.ctx.consts.number(item.address, "the root table's address")
        if address is None:
            return
        if self.root is not None:
            self.ctx.reporter.report("sema-duplicate", "the root table is placed twice", item.span,
                                     note("first placed here", self.root[1]))
            return
        if address % _PAGE:
            self.report("sema-alignment", f"the root table is a 4 KiB page: {address:#x} is not 4 KiB aligned",
                        item.address.span)
            return
        if self.ctx.host_range(address, address + _PAGE, item.address.span, "the root table"):
            self.root = (address, item.address.span)
            self.root_statement = item.span

    def set_tables(self, item: ast.Tables) -> None:
        r = self.ctx.consts.range(item.range, "the table region")
        if r is None:
            return
        if self.tables is not None:
            self.ctx.reporter.report("sema-duplicate", "the table region is declared twice", item.span,
                                     note("first declared here", self.tables.span))
            return
        start, end = r
        if start % _PAGE or end % _PAGE:
            self.report("sema-alignment", f"the table region holds 4 KiB tables: {_edge(start, end)} "
                        "is not 4 KiB aligned", item.range.span)
            return
        if self.ctx.host_range(start, end, item.range.span, "the table region"):
            self.tables = Region(start, end, span=item.span)

    # ---- the block as a whole ----

    def finish(self, span: Span) -> Paging:
        maps = self.sweep_maps()
        holes = sorted(self.holes, key=lambda h: h.start)
        starts = [m.start for m in maps]
        for hole in holes:
            for i in range(max(bisect.bisect_right(starts, hole.start) - 1, 0), len(maps)):
                m = maps[i]
                if m.start >= hole.end:
                    break
                if m.end > hole.start:
                    self.ctx.reporter.report("sema-conflict", f"the hole {hole.start:#x} .. {hole.end:#x} overlaps "
                                             f"the map {m.start:#x} .. {m.end:#x}: a hole must not translate",
                                             hole.span, note("the map is here", m.span))
                    break
        root = self.root[0] if self.root is not None else None
        if self.root is not None and self.tables is not None and not (
                self.tables.start <= self.root[0] and self.root[0] + _PAGE <= self.tables.end):
            self.ctx.reporter.report("sema-conflict", f"the root table at {self.root[0]:#x} is outside the table "
                                     f"region {self.tables.start:#x} .. {self.tables.end:#x}", self.root[1],
                                     note("the region is declared here", self.tables.span))
        return Paging(tuple(maps), tuple(holes), tuple(sorted(self.entries.values(), key=lambda e: e.address)),
                      root, self.tables, self.root_statement, span=span)

    def sweep_maps(self) -> list[PageMap]:
        """Maps sorted and non-overlapping: identical translations merged (warning), different ones
        reported (error) and dropped."""
        ordered = sorted(self.maps, key=lambda m: m.start)
        out: list[PageMap] = []
        for m in ordered:
            if out and m.start < out[-1].end:
                prev = out[-1]
                if _same_translation(prev, m):
                    self.ctx.reporter.report("sema-redundant", f"the map {m.start:#x} .. {m.end:#x} repeats part of "
                                             "another map with the same translation", m.span,
                                             note("the other map is here", prev.span))
                    if m.end > prev.end:
                        out[-1] = replace(prev, end=m.end)
                else:
                    self.ctx.reporter.report("sema-conflict", f"the map {m.start:#x} .. {m.end:#x} overlaps another "
                                             "map that translates differently", m.span,
                                             note("the other map is here", prev.span))
            else:
                out.append(m)
        return out


def _same_translation(a: PageMap, b: PageMap) -> bool:
    if not isinstance(a.target, int) or not isinstance(b.target, int):
        return False
    return (a.target - a.start == b.target - b.start and a.read == b.read and a.write == b.write
            and a.execute == b.execute and a.user_execute == b.user_execute and a.memtype == b.memtype
            and a.ipat == b.ipat and a.suppress_ve == b.suppress_ve and a.page_size == b.page_size)


def _edge(start: int, end: int) -> str:
    return f"it starts at {start:#x}, which" if start % _PAGE else f"it ends at {end:#x} (excluded), which"


def resolve_paging(items: tuple[ast.PagingItem, ...], span: Span, ctx: Context, *, where: str, vtd: bool,
                   page_sizes: frozenset[int] | None, input_limit: int | None = None) -> Paging:
    resolver = PagingResolver(ctx, where=where, vtd=vtd, page_sizes=page_sizes, input_limit=input_limit)
    for item in items:
        resolver.add(item)
    return resolver.finish(span)
