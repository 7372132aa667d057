"""Random small *closed* specs (every value pinned, no ``any``) for the property-level differential
tests in ``test_properties_differential.py``.

Each generator takes a ``random.Random`` and returns a ``GeneratedSpec``: the spec text, ready to be
written to a file and checked by ``vmxspec.check.driver.check_spec``, and for every ``prove`` line
the facts an independent oracle needs to decide it (which VMs, regions, devices, events). The
generators aim at both verdicts in good proportion, so they produce the classic mistakes on
purpose: maps into another VM's RAM or into the hypervisor, write-only and execute-only
permissions, raw ``entry at`` lines with one bit of a built table flipped (misaligned large pages,
reserved bits, dropped rights, a context entry's domain id or AW changed), stray entries written
into unused slots, devices in pass-through or sharing a domain, intercept lists with gaps.

Why raw entries are derived from a first build: a flipped bit means something only in a word the
builder really wrote, so the generator lays the spec out once (``build_state``), picks words of the
EPT and VT-d tables, and writes them back changed as raw entries, which the builder writes last.

Why the table regions are far apart, and what ``cross`` changes: by default no pointer, flipped or
not, lands in another structure's tables, so each structure is tested on its own. A bug that only
shows when one structure's walk reads another's pages (an EPT read from a state without the VT-d
tables, which walked them as zeros) is then out of reach; ``translation_world(cross=True)`` and
``vmentry_cross_world`` aim at it: entries and VMCS pointers sent onto pages other structures occupy
(``Layout`` finds them in a first build), checked against one memory holding every structure
(``machine_state``).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace

from vmxspec.arch import vmcs_fields
from vmxspec.build.from_model import BuildError, build_state
from vmxspec.interp.vtd import select_unit
from vmxspec.sema.analyze import analyze
from vmxspec.sema.model import Model
from vmxspec.state import State
from vmxspec.syntax.parser import parse

K4, M2, G1 = 1 << 12, 1 << 21, 1 << 30
#: VM i's RAM is guest-physical 0 .. 4G at host-physical HOST_RAM + i * 4G.
HOST_RAM = 0x10_0000_0000
RAM_SIZE = 4 * G1
#: Where VM i lays its EPT out, and the IOMMU its tables (1 MiB each). Any two bases differ in two
#: bits, so that one flipped bit of a table pointer never lands in another structure's tables: an
#: EPT walk that reads another structure is read differently by the checker (see the report of
#: ``test_an_ept_walk_into_the_iommu_tables_reads_them``), which this suite tests on its own.
TABLE_BASES = (0x8000_0000, 0x8300_0000, 0x8500_0000)
VTD_TABLES = 0x8600_0000
EPT_TABLES = TABLE_BASES[0]
TABLE_REGION = 0x10_0000
#: Host memory that is nobody's.
UNOWNED = 0x40_0000_0000
INTR = 0xFEE0_0000
#: A VT-d unit with 4-level second-level tables only (SAGAW bit 2), 2 MiB and 1 GiB pages, MGAW 39;
#: pass-through (PT) but no device TLB (DT), so translated requests are never accepted.
IOMMU_CAP = 0x00D2_008C_4066_0462
IOMMU_ECAP = 0x00F0_50DA
ASSIGNED_BUS = 0x01  # VM i's device is 0000:(ASSIGNED_BUS + i):00.0
HOST_DEVICES = (0x0A00, 0x0A01)  # 0000:0a:00.0 and 0000:0a:00.1, assigned to no VM


@dataclass(frozen=True, slots=True)
class Claim:
    """One ``prove`` line: its text after ``prove``, what kind of claim it is, and its arguments
    in the form the oracle reads (VM names, host ranges, source ids, events...)."""

    text: str
    kind: str
    args: tuple[object, ...] = ()


@dataclass(slots=True)
class GeneratedSpec:
    """A closed spec and, per ``prove`` line number, the claim made there."""

    text: str
    claims: dict[int, Claim] = field(default_factory=dict)
    vms: tuple[str, ...] = ()
    hypervisor: tuple[tuple[int, int], ...] = ()
    #: VM name -> the source ids of its ``devices``.
    devices: dict[str, tuple[int, ...]] = field(default_factory=dict)
    groups: tuple[tuple[int, ...], ...] = ()
    iommu: bool = False
    #: Source id -> input ranges its domain maps (the VM's EPT maps for ``uses``), for DMA claims.
    dma_maps: dict[int, list[str]] = field(default_factory=dict)

    def with_claims(self, claims: list[Claim]) -> GeneratedSpec:
        lines = [*self.text.rstrip("\n").split("\n"), ""]
        numbered: dict[int, Claim] = {}
        for claim in claims:
            lines.append(f"prove {claim.text}")
            numbered[len(lines)] = claim
        return GeneratedSpec("\n".join(lines) + "\n", numbered, self.vms, self.hypervisor, self.devices, self.groups,
                             self.iommu, self.dma_maps)


def bdf(sid: int) -> str:
    return f"0000:{sid >> 8:02x}:{sid >> 3 & 0x1F:02x}.{sid & 7}"


def hx(value: int) -> str:
    return f"{value:#x}"


def analyzed(text: str) -> Model:
    """The model of ``text``; a spec the generator got wrong is a bug of the generator: raise."""
    model, diagnostics = analyze(parse(text, "<generated>"))
    if model is None:
        errors = [d.headline() for d in diagnostics if d.severity.value == "error"]
        raise AssertionError(f"the generator wrote a bad spec: {errors}\n{text}")
    return model


# -- translation worlds: EPTs, RAM, hypervisor memory, one IOMMU ------------------------------------

_PERMISSIONS = ("rwx",) * 6 + ("rw",) * 2 + ("r", "rx", "x", "w", "wx", "rwxu", "u", "rxu")
_MEMTYPES = ("wb",) * 5 + ("uc", "wt", "wp", "wc")
#: Bits a flip is drawn from: rights, memory type, IPAT, page size, A/D, XU, frame bits at the
#: alignment edges, bits at and above MAXPHYADDR 39 and 46, ignored and reserved high bits.
_FLIP_BITS = (0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 7, 7, 7, 8, 10, 11, 12, 13, 20, 21, 29, 30, 38, 39, 45, 46, 51, 52, 62, 63)
_VTD_FLIP_BITS = (0, 1, 0, 1, 2, 3, 7, 7, 11, 12, 20, 21, 38, 39, 39, 47, 52, 62, 63,
                  64, 65, 66, 71, 72, 73, 80, 100)  # 64+: the high word (AW, domain id, reserved)


def _ram_host(i: int) -> int:
    return HOST_RAM + i * RAM_SIZE


def _target(rng: random.Random, i: int, n: int, gpa: int, align: int, careful: bool) -> int:
    """Where a map of VM i goes: mostly its own RAM, sometimes (unless ``careful``) somewhere it
    must not."""
    kind = rng.choice(("own", "shifted") if careful else
                      ("own",) * 8 + ("shifted", "other", "tables", "hypervisor", "unowned", "intr"))
    if kind == "own" or (kind == "other" and n == 1):
        hpa = _ram_host(i) + gpa
    elif kind == "shifted":
        hpa = _ram_host(i) + gpa + rng.choice((M2, M2, 16 * K4))
    elif kind == "other":
        hpa = _ram_host(rng.choice([j for j in range(n) if j != i])) + rng.choice((0, gpa, M2))
    elif kind == "tables":
        hpa = rng.choice((*TABLE_BASES, VTD_TABLES))
    elif kind == "hypervisor":
        hpa = rng.choice((0x10_0000, 0x4000_0000))
    elif kind == "intr":
        hpa = INTR - rng.choice((0, K4, M2))
    else:
        hpa = UNOWNED + rng.randrange(16) * M2
    return hpa - hpa % align


def _maps(rng: random.Random, i: int, n: int, *, vtd: bool, careful: bool = False) -> list[str]:
    """A few non-overlapping maps of small sizes at slots that make 4 KiB, 2 MiB and 1 GiB leaves."""
    slots = [k * M2 for k in range(6)] + [G1, 2 * G1, INTR - M2, INTR]
    out: list[str] = []
    taken: list[tuple[int, int]] = []
    for slot in rng.sample(slots, rng.randint(1, 4)):
        gpa = slot + (rng.choice((0, 0, K4, 3 * K4)) if slot < G1 else 0)
        sizes = [K4, 2 * K4, 5 * K4, 16 * K4]
        if gpa % M2 == 0:
            sizes += [M2, M2, M2 + 3 * K4]
        if gpa % G1 == 0 and slot >= G1:
            sizes += [G1, G1]
        size = rng.choice(sizes)
        if any(gpa < e and s < gpa + size for s, e in taken) or gpa + size > RAM_SIZE:
            continue
        taken.append((gpa, gpa + size))
        align = G1 if size >= G1 else M2 if size >= M2 and rng.random() < 0.85 else K4
        hpa = _target(rng, i, n, gpa, align, careful)
        page = ""
        if size <= 4 * M2 and rng.random() < 0.2:
            page = " page 4K"
        elif align >= M2 and gpa % M2 == 0 and size % M2 == 0 and size <= 8 * M2 and rng.random() < 0.3:
            page = " page 2M"
        if vtd:
            perms = rng.choice(("rw",) * 5 + ("r", "w"))
            out.append(f"    map {hx(gpa)} .. {hx(gpa + size)} -> {hx(hpa)} {perms}{page}")
        else:
            perms = rng.choice(_PERMISSIONS)
            extra = " ipat" if rng.random() < 0.1 else ""
            memtype = rng.choice(_MEMTYPES)
            out.append(f"    map {hx(gpa)} .. {hx(gpa + size)} -> {hx(hpa)} {perms} {memtype}{extra}{page}")
    return out


def _frame(rng: random.Random, n: int, own: int, leaf: bool) -> int:
    """A frame for a stray entry: a table of the same structure, RAM, memory nobody owns, or (for
    an entry that maps a page) any structure."""
    frames = [_ram_host(rng.randrange(n)) + rng.randrange(8) * M2, own + rng.randrange(4) * K4, UNOWNED,
              _ram_host(rng.randrange(n)) + rng.randrange(4) * K4, 0x10_0000]
    if leaf:
        frames += [*TABLE_BASES, VTD_TABLES]
    return rng.choice(frames)


def _raw_words(rng: random.Random, words: dict[int, int], n: int, own: int, *, vtd: bool) -> dict[int, int]:
    """Flipped bits of built words and stray words in unused slots of the same table pages."""
    raw: dict[int, int] = {}
    if not words:
        return raw
    addresses = sorted(words)
    for _ in range(rng.choice((1, 1, 2, 3) if vtd else (0, 0, 1, 1, 1, 2, 3))):
        if vtd:
            # half the time a root or context entry (the few words most of a unit depends on)
            roots = [x for x in addresses if x < own + K4]
            contexts = [x for x in addresses if x & ~0xFFF in {words[r] & ~0xFFF for r in roots}]
            address = rng.choice(roots + contexts if rng.random() < 0.5 and roots + contexts else addresses)
            bit = rng.choice(_VTD_FLIP_BITS)
            if bit >= 64:  # the high word of a 128-bit root or context entry
                address, bit = address | 8, bit - 64
        else:
            address, bit = rng.choice(addresses), rng.choice(_FLIP_BITS)
        raw[address] = raw.get(address, words.get(address, 0)) ^ 1 << bit
    pages = sorted({a & ~0xFFF for a in addresses})
    for _ in range(rng.choice((0, 0, 0, 1, 2))):
        address = rng.choice(pages) + 8 * rng.randrange(8)
        low = rng.choice((1, 2, 3, 3, 0x83) if vtd else (0x7, 0x7, 0x87, 0xB7, 0x3, 0x1, 0x4, 0x2, 0x37, 0x400))
        raw[address] = _frame(rng, n, own, bool(low & 0x80)) | low
    return raw


# -- structures that point into each other ------------------------------------------------------------

#: A cross-structure world's second IOMMU unit lays its tables out here, and remaps this host device.
VTD2_TABLES = 0x8700_0000
HOST2_DEVICE = 0x0B00  # 0000:0b:00.0
#: The frame bits of an EPT entry, a VT-d root or context entry's low word and a second-level entry.
FRAME = ((1 << 52) - 1) & ~0xFFF
NO_LINK = (1 << 64) - 1
#: VMCS fields that point at a page of the VM's own (bitmaps, the shadow VMCS), and what it is.
VMCS_PAGES = {"MSR_BITMAP": "bitmap", "IO_BITMAP_A": "bitmap", "IO_BITMAP_B": "bitmap",
              "VMREAD_BITMAP": "bitmap", "VMWRITE_BITMAP": "bitmap", "VMCS_LINK_POINTER": "link"}
TABLE_KINDS = ("ept", "root", "context", "sl")


class Unlayable(Exception):
    """The spec has no single memory: a build fails, or two structures write different values into
    one word (tables that overlap, a raw entry written over another structure's word). The suites
    skip such a spec; the checker should call it an error (it does not always: see
    ``test_a_raw_entry_over_another_structure_does_not_depend_on_the_order_of_the_vms``)."""


def builds(model: Model) -> dict[str | None, State]:
    """Each VM's state without the IOMMUs' tables (so that a word the IOMMUs overwrite shows), and
    under None the IOMMUs' (with the first VM's structures: a state holds one VMCS)."""
    first = next(iter(model.vms), None)
    try:
        out: dict[str | None, State] = {name: build_state(model, name, iommus=False).state for name in model.vms}
        if model.iommus or first is None:
            out[None] = build_state(model, first).state
    except BuildError as exc:
        raise Unlayable("; ".join(d.headline() for d in exc.diagnostics)) from None
    return out


def machine_state(model: Model, states: dict[str | None, State] | None = None) -> State:
    """Every structure of the spec in one memory, as the machine holds it: the builds merged word by
    word, each VM's (its EPT, bitmaps and raw entries) and the IOMMUs'. A state holds one VMCS:
    this one has the first VM's; a question about a VM puts its own in. Unlayable if two builds
    write one word differently: each structure is written where its spec puts it, so such a spec
    does not say what the machine holds there."""
    states = states if states is not None else builds(model)
    memory: dict[int, int] = {}
    for state in states.values():
        for address, value in state.memory.items():
            old = memory.setdefault(address, value)
            if old != value:
                raise Unlayable(f"two structures write the word at {address:#x}: {old:#x} and {value:#x}")
    base = states.get(None) or next(iter(states.values()))
    return replace(base, vmcs=dict(base.vmcs), memory=dict(sorted(memory.items())))


@dataclass(frozen=True, slots=True)
class Page:
    """One 4 KiB page a structure occupies: whose (a VM or an IOMMU unit), what ("ept", "bitmap",
    "link"; "root", "context", "sl") and, for a paging-structure page, its level (4: the top of a
    4-level walk)."""

    address: int
    owner: str
    kind: str
    level: int = 0


def _table_pages(memory: dict[int, int], root: int, levels: int, present: int, inside: range) -> dict[int, int]:
    """The pages of a clean, built EPT or second-level tree (entries present when ``present``
    bits are, leaves at level 1 or with bit 7), page -> level; pages outside ``inside`` are not
    followed (a map can target a table region, but only the tree's own pages are its tables)."""
    out: dict[int, int] = {}
    todo = [(root, levels)]
    while todo:
        page, level = todo.pop()
        if page in out or page not in inside:
            continue
        out[page] = level
        if level == 1:
            continue
        for i in range(512):
            value = memory.get(page + 8 * i, 0)
            if value & present and not value & 0x80:
                todo.append((value & FRAME, level - 1))
    return out


@dataclass(slots=True)
class Layout:
    """The machine memory of a spec laid out without raw entries, and the pages of each structure
    in it: what a generator points raw entries at."""

    memory: dict[int, int]
    pages: list[Page]

    @classmethod
    def of(cls, model: Model) -> Layout:
        states = builds(model)
        machine = machine_state(model, states)
        memory = machine.memory
        pages: dict[int, Page] = {}
        for name, state in states.items():
            if name is None:
                continue
            paging = model.vms[name].ept
            eptp = state.vmcs.get("EPT_POINTER")
            if paging is not None and paging.tables is not None and eptp is not None:
                inside = range(paging.tables.start, paging.tables.end)
                for page, level in _table_pages(memory, eptp & FRAME, 4, 0x7, inside).items():
                    pages.setdefault(page, Page(page, name, "ept", level))
            for field_name, kind in VMCS_PAGES.items():
                value = state.vmcs.get(field_name)
                if value is not None and value != NO_LINK:
                    pages.setdefault(value & ~0xFFF, Page(value & ~0xFFF, name, kind))
        for unit, registers in zip(model.iommus.values(), machine.iommus, strict=True):
            assert unit.tables is not None
            inside = range(unit.tables.start, unit.tables.end)
            root = registers.rtaddr & FRAME
            pages.setdefault(root, Page(root, unit.name, "root"))
            for bus in range(256):
                low = memory.get(root + 16 * bus, 0)
                if not low & 1:
                    continue
                context = low & FRAME
                pages.setdefault(context, Page(context, unit.name, "context"))
                for devfn in range(256):
                    low, high = memory.get(context + 16 * devfn, 0), memory.get(context + 16 * devfn + 8, 0)
                    if low & 1 and not low >> 2 & 3:  # present, untranslated requests through tables
                        for page, level in _table_pages(memory, low & FRAME, (high & 7) + 2, 0x3, inside).items():
                            pages.setdefault(page, Page(page, unit.name, "sl", level))
        return cls(memory, sorted(pages.values(), key=lambda p: p.address))

    def of_owner(self, owner: str) -> list[Page]:
        return [p for p in self.pages if p.owner == owner]


def _vmcs_pages(rng: random.Random, i: int) -> tuple[str, list[str]]:
    """VM i's primary controls and VMCS lines in a cross-structure world: often an MSR or an I/O
    bitmap (the builder puts them in the VM's table region after its EPT), sometimes a shadow VMCS
    pinned at the region's last page. ``all`` fills a page with all-ones words (misconfigured as
    any paging entry); the short lists make words that read as entries: MSRs 0-2 and 7 are 0x87 (a
    large page at 0, uncached, RWX), ports 0-2, 4 and 5 are 0x37 (RWX, write-back)."""
    bits = ["activate_secondary_controls"]
    lines = []
    if rng.random() < 0.5:
        bits.append("use_msr_bitmaps")
        lines.append("    msr_bitmap intercept " + rng.choice((
            "read write all", "read write all except { 0x10, 0xc0000080 }", "write { 0x10, 0x1a0 ..= 0x1a8 }",
            "read { 0x0 ..= 0x2, 0x7 }", "read { 0x0 ..= 0x2, 0x7, 0x40 ..= 0x42 }")))
    if rng.random() < 0.4:
        bits.append("use_io_bitmaps")
        lines.append("    io_bitmap intercept " + rng.choice((
            "all", "all except { 0x80 }", "{ 0x0 ..= 0x2, 0x4, 0x5 }", "{ 0x0 ..= 0x2, 0x8000 ..= 0x8002 }")))
    if rng.random() < 0.3:
        lines.append(f"    VMCS_LINK_POINTER = {hx(TABLE_BASES[i] + TABLE_REGION - K4)}")
    return " | ".join(bits), lines


def _second_unit(rng: random.Random, vms: tuple[str, ...], devices: dict[str, tuple[int, ...]],
                 ept_maps: dict[str, list[str]], careful: bool) -> tuple[list[str], dict[int, list[str]]]:
    """A second IOMMU unit, dmar1, with its own table region: a VM's second function (added to the
    VM's ``devices``) through the VM's EPT or its own tables, and often a host device with a small
    map. With two units each remaps only the devices attached to it."""
    lines = ["iommu dmar1 {", f"  cap  = {hx(IOMMU_CAP)}", f"  ecap = {hx(IOMMU_ECAP)}",
             f"  tables in {hx(VTD2_TABLES)} .. {hx(VTD2_TABLES + TABLE_REGION)}", f"  root at {hx(VTD2_TABLES)}"]
    maps: dict[int, list[str]] = {}
    j = rng.randrange(len(vms))
    vm, sid = vms[j], (ASSIGNED_BUS + j) << 8 | 1
    devices[vm] = (*devices[vm], sid)
    if rng.random() < 0.5:
        lines.append(f"  device {bdf(sid)} -> domain 1 uses {vm}.ept")
        maps[sid] = ept_maps[vm]
    else:
        maps[sid] = _maps(rng, j, len(vms), vtd=True, careful=careful)
        lines += [f"  device {bdf(sid)} -> domain 1 {{", *maps[sid], "  }"]
    if rng.random() < 0.6:
        target = UNOWNED if careful or rng.random() < 0.5 else rng.choice((VTD_TABLES, EPT_TABLES, _ram_host(0)))
        maps[HOST2_DEVICE] = [f"    map 0x0 .. {hx(16 * K4)} -> {hx(target)} rw"]
        lines += [f"  device {bdf(HOST2_DEVICE)} -> domain 2 {{", *maps[HOST2_DEVICE], "  }"]
    return lines, maps


def _stride(page: Page) -> int:
    return 16 if page.kind in ("root", "context") else 8


def _cross_entries(rng: random.Random, layout: Layout, owner: str) -> dict[int, int]:
    """One or two entries of ``owner``'s tables (a VM's EPT at any level, or an IOMMU unit's root,
    context or second-level tables) that point at a page another structure occupies: another VM's
    EPT, either unit's VT-d tables, a bitmap or shadow-VMCS page. Mostly a built entry keeps its
    other bits and gets the new frame (a context entry its domain id and AW: the ``raw_entries.vmx``
    idiom when the frame is a VM's EPT root); else a new entry in a free slot."""
    mine = [p for p in layout.of_owner(owner) if p.kind in TABLE_KINDS]
    others = [p for p in layout.pages if p not in mine]
    raw: dict[int, int] = {}
    if not mine or not others:
        return raw
    roots = [p for p in others if p.kind == "ept" and p.level == 4]
    for _ in range(rng.choice((1, 1, 2))):
        page = rng.choice(mine)
        target = rng.choice(roots if page.kind == "context" and roots and rng.random() < 0.5 else others).address
        stride = _stride(page)
        used = [a for a in range(page.address, page.address + K4, stride) if layout.memory.get(a, 0) & 0x7]
        if used and rng.random() < 0.75:
            address = rng.choice(used)
            raw[address] = raw.get(address, layout.memory[address]) & ~FRAME | target
            continue
        address = page.address + stride * rng.choice((rng.randrange(8), rng.randrange(K4 // stride)))
        if page.kind == "ept":
            low = rng.choice((0x7, 0x7, 0x3, 0x1, 0x87, 0xB7, 0x37, 0x4))
        elif page.kind == "sl":
            low = rng.choice((0x3, 0x3, 0x1, 0x83))
        else:
            low = 0x1
        raw[address] = target | low
        if page.kind == "context" and not layout.memory.get(address + 8):
            raw[address + 8] = 9 << 8 | 2  # domain 9, AW 2 (4-level)
    return raw


def _cross_claims(rng: random.Random, world: GeneratedSpec, layout: Layout,
                  unit2_maps: dict[int, list[str]]) -> list[Claim]:
    """The second unit's claims, and ``protects`` over a page a walk may now be sent to."""
    claims = []
    if unit2_maps:
        claims += [Claim("dma_isolated(dmar1)", "dma_isolated", ("dmar1",)),
                   Claim("no_misconfig(dmar1)", "no_misconfig_iommu", ("dmar1",))]
        for _ in range(rng.randint(0, 2)):
            sid = rng.choice(sorted(unit2_maps))
            lo, hi = _around(rng, unit2_maps[sid])
            fn = rng.choice(("translates", "readable", "writable"))
            claims.append(Claim(f"forall iova in {hx(lo)} .. {hx(hi)}: {fn}(dmar1, {bdf(sid)}, iova)", "assert_dma",
                                (sid, lo, hi, fn, "dmar1")))
    pages = [p for p in layout.pages if p.kind in ("bitmap", "link")] or layout.pages
    for page in rng.sample(pages, min(len(pages), rng.choice((0, 1, 1, 2)))):
        lo, hi = page.address, page.address + K4
        claims.append(Claim(f"protects({hx(lo)} .. {hx(hi)})", "protects", ((lo, hi),)))
    if unit2_maps and rng.random() < 0.5:
        claims.append(Claim(f"protects({hx(VTD2_TABLES)} .. {hx(VTD2_TABLES + TABLE_REGION)})", "protects",
                            ((VTD2_TABLES, VTD2_TABLES + TABLE_REGION),)))
    return claims


def translation_world(rng: random.Random, cross: bool = False) -> GeneratedSpec:
    """One to three VMs with EPTs (and RAM, devices), hypervisor memory, often an IOMMU; every
    translation property and EPT/VT-d assertion is claimed about it.

    With ``cross``, the structures of the spec also point into each other (``_cross_entries``):
    the VMs get MSR and I/O bitmaps and shadow-VMCS pages in their table regions, a second IOMMU
    unit often joins, and raw entries send EPT and VT-d walks into pages that other structures
    occupy. Without it, the draws are exactly those of the plain suite (its seeds keep their specs)."""
    n = rng.choice((1, 2, 2, 3))
    maxphyaddr = rng.choice((39, 39, 46))
    vms = tuple(f"v{i}" for i in range(n))
    hypervisor = rng.choice(((), ((0, 1 << 32),), ((0, EPT_TABLES),), ((EPT_TABLES, VTD_TABLES + TABLE_REGION),),
                             ((0, 1 << 32), (UNOWNED, UNOWNED + M2))))
    iommu = rng.random() < 0.7
    # A careful world maps only into each VM's own RAM and leaves the VT-d tables as built, so that
    # dma_isolated and isolated are proved often enough to be worth comparing.
    careful = rng.random() < 0.4
    devices: dict[str, tuple[int, ...]] = {vm: ((ASSIGNED_BUS + i) << 8,) if iommu and rng.random() < 0.8 else ()
                                           for i, vm in enumerate(vms)}
    if iommu and n > 1 and not careful and rng.random() < 0.1:  # a device two VMs name
        devices[vms[1]] = devices[vms[1]] + ((ASSIGNED_BUS << 8),)
    head = [f"platform skylake_server {{\n  MAXPHYADDR = {maxphyaddr}\n}}", ""]
    if hypervisor:
        head += ["hypervisor {", *(f"  memory {hx(s)} .. {hx(e)}" for s, e in hypervisor), "}", ""]
    ept_maps = {vm: _maps(rng, i, n, vtd=False, careful=careful) for i, vm in enumerate(vms)}
    holes = {vm: [f"    hole {hx(3 * G1)} .. {hx(3 * G1 + M2)}"] if rng.random() < 0.2 else [] for vm in vms}
    mbec = {vm: rng.random() < 0.2 for vm in vms}
    procs = {vm: "activate_secondary_controls" for vm in vms}
    vmcs_extra: dict[str, list[str]] = {vm: [] for vm in vms}
    if cross:
        for i, vm in enumerate(vms):
            procs[vm], vmcs_extra[vm] = _vmcs_pages(rng, i)

    # The IOMMU: each VM's device through its EPT, its own tables or pass-through; host devices.
    unit: list[str] = []
    groups: list[tuple[int, ...]] = []
    dma_maps: dict[int, list[str]] = {}
    if iommu:
        unit = ["iommu dmar0 {", f"  cap  = {hx(IOMMU_CAP)}", f"  ecap = {hx(IOMMU_ECAP)}",
                f"  tables in {hx(VTD_TABLES)} .. {hx(VTD_TABLES + TABLE_REGION)}", f"  root at {hx(VTD_TABLES)}"]
        did = 0
        attached: list[tuple[int, int]] = []
        for i, vm in enumerate(vms):
            for sid in [s for s in devices[vm] if s == (ASSIGNED_BUS + i) << 8]:
                did += 1
                how = rng.choice(("uses",) * 4 + ("own",) * 3 + (() if careful else ("passthrough",)))
                attached.append((sid, did))
                if how == "uses":
                    unit.append(f"  device {bdf(sid)} -> domain {did} uses {vm}.ept")
                    dma_maps[sid] = ept_maps[vm]
                elif how == "own":
                    dma_maps[sid] = _maps(rng, i, n, vtd=True, careful=careful)
                    unit += [f"  device {bdf(sid)} -> domain {did} {{", *dma_maps[sid], "  }"]
                else:
                    unit.append(f"  device {bdf(sid)} -> domain {did} passthrough")
        for sid in HOST_DEVICES:
            choice = rng.choice(("none", "own") if careful else ("none", "none", "share", "passthrough", "own"))
            if choice == "share" and attached:
                unit.append(f"  device {bdf(sid)} -> domain {rng.choice(attached)[1]}")
            elif choice == "passthrough":
                did += 1
                unit.append(f"  device {bdf(sid)} -> domain {did} passthrough")
            elif choice == "own":
                did += 1
                target = UNOWNED if careful else rng.choice((UNOWNED, EPT_TABLES, _ram_host(0)))
                maps = [f"    map 0x0 .. {hx(16 * K4)} -> {hx(target)} rw"]
                unit += [f"  device {bdf(sid)} -> domain {did} {{", *maps, "  }"]
        if rng.random() < 0.3 and not careful:
            members = [HOST_DEVICES[1], rng.choice([*(d for ds in devices.values() for d in ds), HOST_DEVICES[0]])]
            groups.append(tuple(sorted(set(members))))
            unit.append(f"  group {{ {', '.join(bdf(s) for s in groups[-1])} }}")
    unit2: list[str] = []
    unit2_maps: dict[int, list[str]] = {}
    if cross and iommu and rng.random() < 0.6:
        unit2, unit2_maps = _second_unit(rng, vms, devices, ept_maps, careful)

    def render(raw_ept: dict[str, dict[int, int]], raw_vtd: dict[int, int], raw_vtd2: dict[int, int]) -> str:
        lines = list(head)
        for i, vm in enumerate(vms):
            base = TABLE_BASES[i]
            lines += [f"vm {vm} {{", f"  ram 0x0 .. {hx(RAM_SIZE)} at {hx(_ram_host(i))}", "", "  ept {",
                      f"    tables in {hx(base)} .. {hx(base + TABLE_REGION)}", *ept_maps[vm], *holes[vm],
                      *(f"    entry at {hx(a)} = {hx(v)}" for a, v in sorted(raw_ept.get(vm, {}).items())), "  }",
                      "", "  vmcs {", f"    proc  = {procs[vm]}",
                      "    proc2 = enable_ept" + (" | mode_based_execute_control" if mbec[vm] else ""),
                      *vmcs_extra[vm], "  }"]
            if devices[vm]:
                lines.append(f"  devices {{ {', '.join(bdf(s) for s in devices[vm])} }}")
            lines += ["}", ""]
        if unit:
            lines += [*unit, *(f"  entry at {hx(a)} = {hx(v)}" for a, v in sorted(raw_vtd.items())), "}", ""]
        if unit2:
            lines += [*unit2, *(f"  entry at {hx(a)} = {hx(v)}" for a, v in sorted(raw_vtd2.items())), "}", ""]
        return "\n".join(lines)

    # Lay it out once, then break some of what was laid out.
    model = analyzed(render({}, {}, {}))
    layout = Layout.of(model) if cross else None
    raw_ept: dict[str, dict[int, int]] = {}
    for i, vm in enumerate(vms):
        memory = build_state(model, vm, iommus=False).state.memory
        base = TABLE_BASES[i]
        own = ({a & ~0xFFF for a in memory} if layout is None else
               {p.address for p in layout.pages if p.owner == vm and p.kind == "ept"})  # not its bitmaps
        raw_ept[vm] = _raw_words(rng, {a: v for a, v in memory.items()
                                       if base <= a < base + TABLE_REGION and a & ~0xFFF in own}, n, base, vtd=False)
    raw_vtd: dict[int, int] = {}
    if iommu and not careful:
        memory = build_state(model, vms[0]).state.memory
        raw_vtd = _raw_words(rng, {a: v for a, v in memory.items() if VTD_TABLES <= a < VTD_TABLES + TABLE_REGION},
                             n, VTD_TABLES, vtd=True)
    raw_vtd2: dict[int, int] = {}
    if layout is not None:
        for vm in vms:
            if rng.random() < 0.7:
                raw_ept[vm].update(_cross_entries(rng, layout, vm))
        for name, raw in (("dmar0", raw_vtd), ("dmar1", raw_vtd2)):
            if name in model.iommus and rng.random() < 0.7:
                raw.update(_cross_entries(rng, layout, name))
    text = render(raw_ept, raw_vtd, raw_vtd2)
    world = GeneratedSpec(text, {}, vms, hypervisor, devices, tuple(groups), iommu, dma_maps)
    remapped = None
    if layout is not None and "dmar1" in model.iommus:
        machine = machine_state(analyzed(text))
        remapped = {sid for sid in [*(s for ds in devices.values() for s in ds), *HOST_DEVICES]
                    if select_unit(machine, 0, sid) == 0}
    claims = _translation_claims(rng, world, ept_maps, remapped)
    if layout is not None:
        claims += _cross_claims(rng, world, layout, unit2_maps)
    world = world.with_claims(claims)
    analyzed(world.text)
    return world


def _around(rng: random.Random, maps: list[str]) -> tuple[int, int]:
    """A guest-physical range at the edge of a map (or anywhere), so that claims over it both hold
    and fail."""
    if maps and rng.random() < 0.85:
        words = rng.choice(maps).split()
        lo, hi = int(words[1], 16), int(words[3], 16)
        start = rng.choice((lo, lo, lo + K4, max(lo - K4, 0), lo))
        end = rng.choice((hi, hi, hi + K4, min(lo + K4, hi), start + K4))
        return start, max(end, start + K4)
    start = rng.randrange(0, 8) * M2
    return start, start + rng.choice((K4, M2))


def _translation_claims(rng: random.Random, world: GeneratedSpec, maps: dict[str, list[str]],
                        remapped: set[int] | None = None) -> list[Claim]:
    """Every property over the world, and assertions near its maps; DMA assertions only about the
    devices in ``remapped`` (None: every device, as a single unit remaps them all). About a device
    another unit remaps, the checker answers unknown ("not modelled"), which compares with nothing."""
    vms = world.vms
    claims = [Claim(f"no_misconfig({vm}.ept)", "no_misconfig_ept", (vm,)) for vm in vms]
    for i, a in enumerate(vms):
        for b in vms[i + 1:]:
            claims.append(Claim(f"isolated({a}, {b})", "isolated", (a, b)))
        if world.hypervisor:
            claims.append(Claim(f"isolated({a}, hypervisor)", "isolated", (a, None)))
    regions = [(EPT_TABLES, VTD_TABLES + TABLE_REGION), (_ram_host(len(vms) - 1), _ram_host(len(vms) - 1) + M2),
               (UNOWNED, UNOWNED + 8 * M2), (0x10_0000, 0x10_1000)]
    for lo, hi in rng.sample(regions, 2):
        claims.append(Claim(f"protects({hx(lo)} .. {hx(hi)})", "protects", ((lo, hi),)))
    if world.hypervisor:
        claims.append(Claim("protects(hypervisor)", "protects", world.hypervisor))
    if world.iommu:
        claims += [Claim("dma_isolated(dmar0)", "dma_isolated"), Claim("no_misconfig(dmar0)", "no_misconfig_iommu")]
    for _ in range(rng.randint(1, 3)):
        vm = rng.choice(vms)
        lo, hi = _around(rng, maps[vm])
        fn = rng.choice(("translates", "translates", "readable", "writable", "executable", "target"))
        if fn == "target":
            offset = rng.choice((_ram_host(vms.index(vm)), _ram_host(vms.index(vm)), 0, M2))
            text = (f"forall gpa in {hx(lo)} .. {hx(hi)}: translates({vm}.ept, gpa) implies "
                    f"target({vm}.ept, gpa) == gpa + {hx(offset)}")
            claims.append(Claim(text, "assert_ept_target", (vm, lo, hi, offset)))
        else:
            negate = rng.random() < 0.25
            body = f"{'not ' if negate else ''}{fn}({vm}.ept, gpa)"
            claims.append(Claim(f"forall gpa in {hx(lo)} .. {hx(hi)}: {body}", "assert_ept", (vm, lo, hi, fn, negate)))
    if world.iommu:
        sids = [s for s in [*(s for ds in world.devices.values() for s in ds), *HOST_DEVICES]
                if remapped is None or s in remapped]
        dma_maps = {s: m for s, m in world.dma_maps.items() if remapped is None or s in remapped}
        for _ in range(rng.randint(0, 2 if sids else 0)):
            if dma_maps and rng.random() < 0.7:
                sid = rng.choice(sorted(dma_maps))
                lo, hi = _around(rng, dma_maps[sid])
            else:
                sid = rng.choice(sids)
                lo = rng.choice((0, 0, K4, M2, G1, INTR - K4))
                hi = lo + rng.choice((K4, 2 * K4, 16 * K4, M2))
            fn = rng.choice(("translates", "readable", "writable"))
            claims.append(Claim(f"forall iova in {hx(lo)} .. {hx(hi)}: {fn}(dmar0, {bdf(sid)}, iova)", "assert_dma",
                                (sid, lo, hi, fn)))
    return claims


# -- exits ---------------------------------------------------------------------------------------------

MSR_BITMAP, IO_BITMAP_A, IO_BITMAP_B = 0x8000_0000, 0x8000_1000, 0x8000_2000
#: MSRs an intercept list may name (inside the bitmaps' ranges), and more that events may ask about.
#: Low MSRs at the offsets of the high ones too (0x80, 0x82, 0x100, 0x1fff): a region read at
#: another region's offset then gives another answer.
BITMAP_MSRS = (0x10, 0x80, 0x82, 0x100, 0x1A0, 0x1D9, 0x277, 0x1FFF, 0xC000_0080, 0xC000_0082, 0xC000_0100,
               0xC000_1FFF)
EVENT_MSRS = (*BITMAP_MSRS, 0x2000, 0x4000_0000, 0xC000_2000)
#: Ports around the bitmaps' edges: bitmap A/B at 0x8000, the wrap past 0xffff.
PORTS = (0x20, 0x21, 0x60, 0x64, 0x80, 0x3F8, 0x3FF, 0x7FFE, 0x7FFF, 0x8000, 0x8001, 0xCF8, 0xCFC, 0xFFFE, 0xFFFF)
PROC_BITS = ("hlt_exiting", "invlpg_exiting", "rdpmc_exiting", "rdtsc_exiting", "cr3_load_exiting",
             "use_msr_bitmaps", "use_io_bitmaps", "unconditional_io_exiting")
PROC2_BITS = ("wbinvd_exiting", "enable_vpid", "enable_invpcid")
#: CR0 bits a mask, shadow or written value is drawn from: PE, MP, TS, NE, WP, PG, CD.
CR0_BITS = (1 << 0, 1 << 1, 1 << 3, 1 << 5, 1 << 16, 1 << 31, 1 << 30)
#: CR4 bits: TSD, DE, PSE, PAE, PGE, PCE, OSFXSR, VMXE, SMEP.
CR4_BITS = (1 << 2, 1 << 3, 1 << 4, 1 << 5, 1 << 7, 1 << 8, 1 << 9, 1 << 13, 1 << 20)
CR3_VALUES = (0x1000, 0x2000, 0x3000, 0x4000)
VECTORS = (0, 1, 3, 6, 8, 13, 14, 17, 18)


def _subset(rng: random.Random, pool: tuple[int, ...], most: int) -> list[int]:
    return sorted(rng.sample(pool, rng.randint(0, min(most, len(pool)))))


def _bits(rng: random.Random, pool: tuple[int, ...]) -> int:
    value = 0
    for bit in pool:
        if rng.random() < 0.4:
            value |= bit
    return value


def _intercepts(rng: random.Random, name: str, modes: str, pool: tuple[int, ...],
                allow_all: bool = True) -> tuple[str, set[int]]:
    """An intercept list over ``pool`` (a list, or ``all except`` a list) and the members of
    ``pool`` it intercepts."""
    items = _subset(rng, pool, 5)
    listed = ", ".join(hx(v) for v in items)
    if allow_all and rng.random() < 0.35:
        line = f"    {name} intercept {modes}all except {{ {listed} }}" if items else f"    {name} intercept {modes}all"
        return line, set(pool) - set(items)
    return (f"    {name} intercept {modes}{{ {listed} }}" if items else ""), set(items)


@dataclass(frozen=True, slots=True)
class ExitEventClaim:
    """One event of an ``exits`` claim: the event name and the operand values it is claimed for
    (None: the event takes no operand, or every operand is meant)."""

    name: str
    values: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class _Intercepted:
    """What the generated VMCS intercepts, for drawing operands that (without a bug) exit."""

    msr_read: set[int]
    msr_write: set[int]
    ports: set[int]
    vectors: set[int]
    cr0: tuple[int, int]  # mask, shadow
    cr4: tuple[int, int]


def exits_world(rng: random.Random) -> GeneratedSpec:
    """One VM without EPT (so the bitmaps are pinned), random exiting controls, MSR and I/O
    intercept lists with gaps, an exception bitmap with a #PF filter, CR masks, shadows and CR3
    targets; several ``exits`` claims of one to three events each, whose operands are half the
    time drawn from what the VMCS intercepts (so that both verdicts are common, and a misread bit
    flips one)."""
    proc = [b for b in PROC_BITS if rng.random() < (0.75 if b.startswith("use_") else 0.5)]
    proc2 = [b for b in PROC2_BITS if rng.random() < 0.5]
    if proc2 and rng.random() < 0.8:
        proc.append("activate_secondary_controls")
    lines = ["platform skylake_server", "", "vm g {", "  vmcs {"]
    lines.append(f"    proc  = {' | '.join(proc) if proc else '0'}")
    if proc2:
        lines.append(f"    proc2 = {' | '.join(proc2)}")
    targets = rng.randint(0, 4)
    mask0, mask4 = _bits(rng, CR0_BITS), _bits(rng, CR4_BITS)
    shadow0, shadow4 = _bits(rng, CR0_BITS) & (mask0 | rng.choice((0, ~0))), _bits(rng, CR4_BITS)
    fields = {"MSR_BITMAP": MSR_BITMAP, "IO_BITMAP_A": IO_BITMAP_A, "IO_BITMAP_B": IO_BITMAP_B,
              "CR0_GUEST_HOST_MASK": mask0, "CR0_READ_SHADOW": shadow0,
              "CR4_GUEST_HOST_MASK": mask4, "CR4_READ_SHADOW": shadow4,
              "CR3_TARGET_COUNT": targets,
              **{f"CR3_TARGET_VALUE{k}": rng.choice(CR3_VALUES) for k in range(targets)},
              "PAGE_FAULT_ERROR_CODE_MASK": rng.choice((0, 0, 1, 2, 3, 5, 0x1F, rng.randrange(32))),
              "PAGE_FAULT_ERROR_CODE_MATCH": rng.choice((0, 0, 1, 2, 3, rng.randrange(32)))}
    width = max(len(k) for k in fields)
    lines += [f"    {k.ljust(width)} = {hx(v & (1 << 64) - 1)}" for k, v in fields.items()]
    if rng.random() < 0.4:
        both, read = _intercepts(rng, "msr_bitmap", "read write ", BITMAP_MSRS)
        lines += [both] if both else []
        write = read
    else:  # an item one list intercepts and another excepts from `all` is an error: lists only
        one, read = _intercepts(rng, "msr_bitmap", "read ", BITMAP_MSRS, allow_all=False)
        other, write = _intercepts(rng, "msr_bitmap", "write ", BITMAP_MSRS, allow_all=False)
        lines += [x for x in (one, other) if x]
    io, ports = _intercepts(rng, "io_bitmap", "", PORTS)
    lines += [io] if io else []
    vectors = _subset(rng, VECTORS, 5)
    if vectors:
        lines.append(f"    exception_bitmap intercept {{ {', '.join(str(v) for v in vectors)} }}")
    else:
        lines.append("    EXCEPTION_BITMAP = 0x0")
    lines += ["  }", "}", ""]
    world = GeneratedSpec("\n".join(lines), {}, ("g",))
    icpt = _Intercepted(read, write, ports, set(vectors), (mask0, shadow0), (mask4, shadow4))
    claims = []
    for _ in range(rng.randint(4, 8)):
        events = [_exit_event(rng, icpt) for _ in range(rng.choice((1, 1, 1, 1, 2, 3)))]
        text = ", ".join(e.name + ("" if e.values is None else " { " + ", ".join(hx(v) for v in e.values) + " }")
                         for e in events)
        claims.append(Claim(f"exits(g) {{ {text} }}", "exits", tuple(events)))
    world = world.with_claims(claims)
    analyzed(world.text)
    return world


def _sample(rng: random.Random, pool: tuple[int, ...] | set[int], most: int) -> tuple[int, ...]:
    items = sorted(pool)
    return tuple(sorted(rng.sample(items, rng.randint(1, min(most, len(items))))))


def _exit_event(rng: random.Random, icpt: _Intercepted) -> ExitEventClaim:
    kind = rng.choice(("msr",) * 4 + ("io",) * 4 + ("plain",) * 2 + ("exception", "exception", "cr0", "cr4", "cr3"))
    hit = rng.random() < 0.5  # operands the VMCS intercepts
    if kind == "msr":
        name = rng.choice(("RDMSR", "WRMSR"))
        mine = icpt.msr_read if name == "RDMSR" else icpt.msr_write
        return ExitEventClaim(name, _sample(rng, mine if hit and mine else EVENT_MSRS, 4))
    if kind == "io":
        return ExitEventClaim(rng.choice(("IN", "OUT", "INS", "OUTS")),
                              _sample(rng, icpt.ports if hit and icpt.ports else PORTS, 3))
    if kind == "plain":
        return ExitEventClaim(rng.choice(("CPUID", "HLT", "RDTSC", "RDPMC", "WBINVD", "INVD", "VMCALL", "INVLPG")),
                              None)
    if kind == "exception":
        return ExitEventClaim("EXCEPTION", _sample(rng, icpt.vectors if hit and icpt.vectors else VECTORS, 2))
    if kind == "cr3":
        return ExitEventClaim("MOV_TO_CR3", _sample(rng, CR3_VALUES, 2))
    pool, (mask, shadow) = (CR0_BITS, icpt.cr0) if kind == "cr0" else (CR4_BITS, icpt.cr4)
    values = {_bits(rng, pool) for _ in range(rng.randint(1, 3))}
    if hit and mask:  # values that differ from the shadow in an owned bit
        values = {v for v in values if (v ^ shadow) & mask} or {shadow ^ (mask & -mask)}
    return ExitEventClaim("MOV_TO_CR0" if kind == "cr0" else "MOV_TO_CR4", tuple(sorted(values)))


# -- VM entry -------------------------------------------------------------------------------------------

#: The complete VMCS of ``specs/examples/shadow_paging.vmx`` (a 64-bit guest on shadow paging) with
#: its open values pinned, as the builder lays it out: it passes every VM-entry check.
BASE_VMCS: dict[str, int] = {
    "PIN_BASED_VM_EXEC_CONTROL": 0x3F, "CPU_BASED_VM_EXEC_CONTROL": 0xB699_EFFA, "SECONDARY_VM_EXEC_CONTROL": 0x1068,
    "VM_EXIT_CONTROLS": 0x3F_EFFF, "VM_ENTRY_CONTROLS": 0xD3FF, "EXCEPTION_BITMAP": 0x6_4040,
    "VIRTUAL_PROCESSOR_ID": 0x1, "TSC_OFFSET": 0x1000, "CR3_TARGET_COUNT": 0x0,
    "CR0_GUEST_HOST_MASK": 0xE005_0037, "CR0_READ_SHADOW": 0x8005_0033, "CR4_GUEST_HOST_MASK": 0x76_78F1,
    "CR4_READ_SHADOW": 0x37_06E0, "MSR_BITMAP": 0x8000_0000, "IO_BITMAP_A": 0x8000_1000, "IO_BITMAP_B": 0x8000_2000,
    "PAGE_FAULT_ERROR_CODE_MASK": 0x0, "PAGE_FAULT_ERROR_CODE_MATCH": 0x0,
    "GUEST_CR0": 0x8005_0033, "GUEST_CR3": 0x8100_0000, "GUEST_CR4": 0x37_26E0, "GUEST_DR7": 0x400,
    "GUEST_RSP": 0xFFFF_C900_0000_1000, "GUEST_RIP": 0xFFFF_FFFF_8100_0000, "GUEST_RFLAGS": 0x202,
    "GUEST_IA32_EFER": 0xD01, "GUEST_IA32_PAT": 0x0007_0406_0007_0406, "GUEST_IA32_DEBUGCTL": 0x0,
    "GUEST_SYSENTER_CS": 0x0, "GUEST_SYSENTER_ESP": 0x0, "GUEST_SYSENTER_EIP": 0x0,
    "GUEST_INTERRUPTIBILITY_INFO": 0x0, "GUEST_ACTIVITY_STATE": 0x0, "GUEST_PENDING_DBG_EXCEPTIONS": 0x0,
    "VMCS_LINK_POINTER": 0xFFFF_FFFF_FFFF_FFFF,
    "GUEST_CS_SELECTOR": 0x10, "GUEST_CS_BASE": 0x0, "GUEST_CS_LIMIT": 0xFFFF_FFFF, "GUEST_CS_AR_BYTES": 0xA09B,
    "GUEST_SS_SELECTOR": 0x18, "GUEST_SS_BASE": 0x0, "GUEST_SS_LIMIT": 0xFFFF_FFFF, "GUEST_SS_AR_BYTES": 0xC093,
    "GUEST_DS_SELECTOR": 0x0, "GUEST_DS_BASE": 0x0, "GUEST_DS_LIMIT": 0xFFFF_FFFF, "GUEST_DS_AR_BYTES": 0x1_0000,
    "GUEST_ES_SELECTOR": 0x0, "GUEST_ES_BASE": 0x0, "GUEST_ES_LIMIT": 0xFFFF_FFFF, "GUEST_ES_AR_BYTES": 0x1_0000,
    "GUEST_FS_SELECTOR": 0x0, "GUEST_FS_BASE": 0x0, "GUEST_FS_LIMIT": 0xFFFF_FFFF, "GUEST_FS_AR_BYTES": 0x1_0000,
    "GUEST_GS_SELECTOR": 0x0, "GUEST_GS_BASE": 0xFFFF_8880_7FC0_0000, "GUEST_GS_LIMIT": 0xFFFF_FFFF,
    "GUEST_GS_AR_BYTES": 0x1_0000, "GUEST_LDTR_SELECTOR": 0x0, "GUEST_LDTR_BASE": 0x0, "GUEST_LDTR_LIMIT": 0x0,
    "GUEST_LDTR_AR_BYTES": 0x1_0000, "GUEST_TR_SELECTOR": 0x40, "GUEST_TR_BASE": 0xFFFF_FE00_0000_3000,
    "GUEST_TR_LIMIT": 0x67, "GUEST_TR_AR_BYTES": 0x8B, "GUEST_GDTR_BASE": 0xFFFF_FE00_0000_1000,
    "GUEST_GDTR_LIMIT": 0x7F, "GUEST_IDTR_BASE": 0xFFFF_FE00_0000_0000, "GUEST_IDTR_LIMIT": 0xFFF,
    "VM_ENTRY_INTR_INFO_FIELD": 0x0, "VM_ENTRY_MSR_LOAD_COUNT": 0x0, "VM_EXIT_MSR_STORE_COUNT": 0x0,
    "VM_EXIT_MSR_LOAD_COUNT": 0x0,
    "HOST_CR0": 0x8005_0033, "HOST_CR3": 0x10_A000, "HOST_CR4": 0x37_26E0, "HOST_IA32_EFER": 0xD01,
    "HOST_IA32_PAT": 0x0407_0506_0007_0106, "HOST_CS_SELECTOR": 0x10, "HOST_SS_SELECTOR": 0x18,
    "HOST_DS_SELECTOR": 0x0, "HOST_ES_SELECTOR": 0x0, "HOST_FS_SELECTOR": 0x0, "HOST_GS_SELECTOR": 0x0,
    "HOST_TR_SELECTOR": 0x40, "HOST_FS_BASE": 0x0, "HOST_GS_BASE": 0xFFFF_8882_37C0_0000,
    "HOST_TR_BASE": 0xFFFF_FE00_0000_3000, "HOST_GDTR_BASE": 0xFFFF_FE00_0000_1000,
    "HOST_IDTR_BASE": 0xFFFF_FE00_0000_0000, "HOST_IA32_SYSENTER_CS": 0x10,
    "HOST_IA32_SYSENTER_ESP": 0xFFFF_FE00_0000_3000, "HOST_IA32_SYSENTER_EIP": 0xFFFF_FFFF_81A0_1D50,
    "HOST_RSP": 0xFFFF_C900_00A0_BF40, "HOST_RIP": 0xFFFF_FFFF_81C0_0000,
}
#: Fields a mutation leaves alone: a count the checks then need an area for, not a VMCS bug.
_KEEP = frozenset({"VM_ENTRY_MSR_LOAD_COUNT", "VM_EXIT_MSR_STORE_COUNT", "VM_EXIT_MSR_LOAD_COUNT"})
#: Values that the VM-entry checks treat specially (canonical edges, reserved bits, all ones...).
_SPECIAL = (0, 1, 2, 3, 8, 0x10, 0xFF, 0xFFF, 0x1000, 0xFFFF, 0x1_0000, 0xFFFF_FFFF, 1 << 32, 1 << 46, 1 << 47,
            0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000, 0xFFFF_7FFF_FFFF_FFFF, 1 << 63, (1 << 64) - 1)


def vmentry_world(rng: random.Random) -> GeneratedSpec:
    """The complete shadow-paging VMCS with zero to three fields changed: one bit flipped, or set
    to a value the checks treat specially."""
    vmcs = dict(BASE_VMCS)
    names = sorted(set(vmcs) - _KEEP)
    for _ in range(rng.choice((0, 1, 1, 1, 2, 3))):
        name = rng.choice(names)
        bits = vmcs_fields.BY_NAME[name].bits
        if rng.random() < 0.7:
            vmcs[name] ^= 1 << rng.randrange(bits)
        else:
            vmcs[name] = rng.choice(_SPECIAL) & ((1 << bits) - 1)
    width = max(len(k) for k in vmcs)
    lines = ["platform skylake_server", "", "vm shadow {", "  vmcs {",
             *(f"    {k.ljust(width)} = {hx(v)}" for k, v in vmcs.items()), "  }", "}", ""]
    world = GeneratedSpec("\n".join(lines), {}, ("shadow",)).with_claims([Claim("vmentry_valid(shadow)",
                                                                                 "vmentry_valid", ("shadow",))])
    analyzed(world.text)
    return world


#: ``BASE_VMCS`` as a 32-bit guest with PAE paging: IA-32e mode guest off, EFER.LME and LMA clear,
#: a 32-bit code segment, CR4.PCIDE clear and addresses below 4 GiB. Without EPT, VM entry reads
#: its four PDPTEs from memory at GUEST_CR3 ("Checks on Guest Page-Directory-Pointer-Table Entries").
PAE_VMCS: dict[str, int] = {
    **BASE_VMCS, "VM_ENTRY_CONTROLS": 0xD1FF, "GUEST_IA32_EFER": 0x801, "GUEST_CS_AR_BYTES": 0xC09B,
    "GUEST_CR4": 0x35_26E0, "GUEST_RIP": 0x8100_0000, "GUEST_RSP": 0x1000, "GUEST_GDTR_BASE": 0x9000,
    "GUEST_IDTR_BASE": 0x9800, "GUEST_TR_BASE": 0xA000, "GUEST_GS_BASE": 0x0,
}
#: What a VM-entry check may read from memory, in ``vmentry_cross_world``.
ENTRY_READS = ("msr_load", "vapic", "link", "pae")
_USE_TPR_SHADOW = 1 << 21


def _nonzero_word(rng: random.Random, memory: dict[int, int], page: int, align: int) -> int:
    """Mostly an address (aligned down to ``align``) of a word the page holds, else any aligned one."""
    words = [a for a in range(page, page + K4, 8) if memory.get(a)]
    if words and rng.random() < 0.7:
        return rng.choice(words) & ~(align - 1)
    return page + align * rng.randrange(K4 // align)


def vmentry_cross_world(rng: random.Random) -> GeneratedSpec:
    """The shadow-paging VMCS (or its 32-bit PAE form) beside a VM with an EPT, often bitmaps and an
    IOMMU, where what VM entry reads from memory lies on a page one of those structures occupies:
    the MSR-load area, VTPR on the virtual-APIC page, the header of the VMCS the link pointer
    references, the PDPTEs at GUEST_CR3. The processor reads what the structure put there (a VM's
    state alone would read zeros). Sometimes a raw entry puts a value there that passes the check
    (a VTPR above the threshold, the VMCS revision identifier); sometimes the page is nobody's."""
    reads = [r for r in ENTRY_READS if rng.random() < 0.4] or [rng.choice(ENTRY_READS)]
    vmcs = dict(PAE_VMCS if "pae" in reads else BASE_VMCS)
    iommu = rng.random() < 0.6
    proc, extra = _vmcs_pages(rng, 1)
    maps = _maps(rng, 1, 2, vtd=False)
    sid = (ASSIGNED_BUS + 1) << 8
    unit: list[str] = []
    if iommu:
        unit = ["iommu dmar0 {", f"  cap  = {hx(IOMMU_CAP)}", f"  ecap = {hx(IOMMU_ECAP)}",
                f"  tables in {hx(VTD_TABLES)} .. {hx(VTD_TABLES + TABLE_REGION)}", f"  root at {hx(VTD_TABLES)}",
                f"  device {bdf(sid)} -> domain 1 uses other.ept" if rng.random() < 0.5 else
                f"  device {bdf(sid)} -> domain 1 {{\n{chr(10).join(_maps(rng, 1, 2, vtd=True))}\n  }}"]

    def render(fields: dict[str, int], raw_ept: dict[int, int], raw_vtd: dict[int, int]) -> str:
        width = max(len(k) for k in fields)
        base = TABLE_BASES[1]
        lines = ["platform skylake_server", "", "vm shadow {", "  vmcs {",
                 *(f"    {k.ljust(width)} = {hx(v)}" for k, v in fields.items()), "  }", "}", "",
                 "vm other {", f"  ram 0x0 .. {hx(RAM_SIZE)} at {hx(_ram_host(1))}", "", "  ept {",
                 f"    tables in {hx(base)} .. {hx(base + TABLE_REGION)}", *maps,
                 *(f"    entry at {hx(a)} = {hx(v)}" for a, v in sorted(raw_ept.items())), "  }", "",
                 "  vmcs {", f"    proc  = {proc}", "    proc2 = enable_ept", *extra, "  }"]
        lines += [f"  devices {{ {bdf(sid)} }}", "}", ""] if iommu else ["}", ""]
        if unit:
            lines += [*unit, *(f"  entry at {hx(a)} = {hx(v)}" for a, v in sorted(raw_vtd.items())), "}", ""]
        return "\n".join(lines)

    model = analyzed(render(vmcs, {}, {}))
    layout = Layout.of(model)
    assert model.platform is not None
    revision = model.platform.caps["IA32_VMX_BASIC"] & 0x7FFF_FFFF
    targets = [p for p in layout.pages if p.owner != "shadow"]
    raw: dict[str, dict[int, int]] = {"other": {}, "dmar0": {}}

    def target() -> Page | None:
        return rng.choice(targets) if rng.random() < 0.9 else None  # None: memory nobody owns

    def put(page: Page | None, address: int, value: int) -> None:
        """A raw entry on a table page (raw entries may not share a page with a bitmap)."""
        if page is not None and page.kind in TABLE_KINDS:
            raw[page.owner][address] = value

    for what in reads:
        page = target()
        at = page.address if page is not None else UNOWNED + rng.randrange(4) * K4
        if what == "msr_load":
            vmcs["VM_ENTRY_MSR_LOAD_ADDR"] = _nonzero_word(rng, layout.memory, at, 16)
            vmcs["VM_ENTRY_MSR_LOAD_COUNT"] = rng.choice((1, 1, 2, 3, 4, 16))
        elif what == "vapic":
            vmcs["CPU_BASED_VM_EXEC_CONTROL"] |= _USE_TPR_SHADOW
            vmcs["VIRTUAL_APIC_PAGE_ADDR"] = at
            vmcs["TPR_THRESHOLD"] = rng.randrange(16)
            if rng.random() < 0.4:
                put(page, at + 0x80, rng.choice((0xB7, 0x87, 0x37, 0x07, 0xF7)) | rng.randrange(4) * K4 | at)
        elif what == "link":
            vmcs["VMCS_LINK_POINTER"] = at
            if rng.random() < 0.5:
                put(page, at, revision | rng.choice((0, 0, 1 << 31)) | layout.memory.get(at, 0) & ~0xFFFF_FFFF)
        else:
            vmcs["GUEST_CR3"] = _nonzero_word(rng, layout.memory, at, 32)
    world = GeneratedSpec(render(vmcs, raw["other"], raw["dmar0"]), {}, ("shadow", "other"), (),
                          {"shadow": (), "other": (sid,) if iommu else ()}, (), iommu)
    world = world.with_claims([Claim("vmentry_valid(shadow)", "vmentry_valid", ("shadow",))])
    analyzed(world.text)
    return world
