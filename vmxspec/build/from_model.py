"""From a resolved spec (``vmxspec.sema.Model``) with nothing left open to one concrete state.

``build_state(model, vm)`` produces the ``vmxspec-state/1`` state of one VM (the only one when
the spec has one) and of every IOMMU unit, so every spec can be handed to the reference
interpreter. ``state_document`` writes it as JSON data.

What the builder derives, and what it leaves absent
----------------------------------------------------

A state that silently filled in what the spec does not say would hide exactly the bugs vmxspec is
for, so **VMCS fields the spec does not set stay absent** (a check that needs one reports it as
missing). The builder derives only what the spec determines without naming the field:

* the control fields given as bit sets (``pin = ...``): the named bits, plus the bits the platform's
  capability MSR requires to be 1 (its allowed-0 settings, from the TRUE MSR when
  IA32_VMX_BASIC[55] = 1), minus bits the spec clears with ``-=``;
* ``EPT_POINTER`` from the EPT's root: 4-level walk, memory type WB (UC if the platform cannot use
  WB for EPT structures), accessed/dirty flags off;
* the bitmap pages (``MSR_BITMAP``, ``IO_BITMAP_A``/``_B``, ``VMREAD_BITMAP``, ``VMWRITE_BITMAP``)
  from the intercept lists, at the address the spec pins in that field or else in the next free
  page of the VM's EPT table region;
* ``EXCEPTION_BITMAP`` from the exception list, and with it ``PAGE_FAULT_ERROR_CODE_MASK`` and
  ``_MATCH`` = 0 unless the spec sets them (that is what makes "PF in the list" mean "every page
  fault exits", and "PF not in the list" mean "none does");
* for an IOMMU without ``cap``/``ecap``: a CAP_REG with 3- and 4-level tables (SAGAW 39/48 bits),
  MGAW 48, 2 MiB and 1 GiB second-level pages and 2^16 domain ids, and an ECAP_REG with only
  pass-through (PT), and only when a domain is pass-through; without ``haw``, MAXPHYADDR.

The list of what was derived is returned (``Built.derived``) and written into the document under
``"x-vmxspec"``, which readers of the format ignore.

EPT tables are laid out by ``build_ept_tables`` from the root (or the region's start) within the
VM's ``tables in`` region, with the largest page sizes the platform allows unless a map pins one;
``suppress_ve`` sets bit 63 of the leaves afterwards. Raw entries are written last, verbatim, so
they win over a generated word at the same address.

An IOMMU domain that ``uses VM.ept``: EPT and VT-d second-level tables differ in format (EPT has an
execute right, memory type and IPAT in bits 6:2 and its own reserved-bit rules; VT-d second-level
entries have SNP in bit 11, TM in bit 62, and their depth follows the domain's AW field, not the
EPTP), so a VT-d unit cannot walk an EPT as it is. The builder therefore lays out separate VT-d
second-level tables that translate **the same ranges to the same host addresses with the same read
and write rights** as the VM's maps (holes and raw EPT entries are not copied), choosing page sizes
by CAP_REG.SLLPS. The domain's AW is 2 (4-level, 48-bit) when SAGAW allows it, else the largest
supported.

With several IOMMU units, each unit's device scope is the devices attached to it; a single unit
has no scope, so it remaps every device (and faults those with no context entry).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmxspec.arch import capabilities
from vmxspec.arch import ept as A
from vmxspec.arch import vtd as V
from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.arch.exits import MSR_REGIONS
from vmxspec.arch.presets import FULL_WIDTH_MSRS
from vmxspec.build.ept_tables import EptBuildError, EptMapping, build_ept_tables, page_sizes_allowed
from vmxspec.build.vtd_tables import (
    Attachment,
    DmaDomain,
    DmaMapping,
    VtdBuildError,
    build_vtd_tables,
    cap_value,
    ecap_value,
)
from vmxspec.diagnostics import Diagnostic, Span
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import IommuUnit as UnitModel
from vmxspec.sema.model import Model, OwnTables, Paging, Passthrough, RawEntry, UsesEpt, Vm
from vmxspec.sema.names import suggest
from vmxspec.state.model import IommuUnit, State

_PAGE = 4096
FORMAT = "vmxspec-state/1"


class BuildError(Exception):
    """The model does not determine a state; ``diagnostics`` say why (codes build-*, usage)."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        super().__init__(diagnostics[0].headline() if diagnostics else "cannot build a state")
        self.diagnostics = diagnostics


@dataclass(frozen=True, slots=True)
class Built:
    state: State
    vm: str | None
    derived: tuple[str, ...]


def _error(code_id: str, message: str, span: Span) -> BuildError:
    return BuildError([Diagnostic.error(code_id, message, span)])


# ---- memory -------------------------------------------------------------------------------------


@dataclass
class _Memory:
    """The state's memory words, which structure owns each 4 KiB page, and the pages that hold raw
    entries (which tables may share, since raw entries deliberately override their words, but
    bitmaps may not)."""

    words: dict[int, int] = field(default_factory=dict)
    owners: dict[int, str] = field(default_factory=dict)
    raw_pages: set[int] = field(default_factory=set)

    def claim(self, start: int, end: int, what: str, span: Span, *, tables: bool = False) -> None:
        for page in range(start & ~(_PAGE - 1), end, _PAGE):
            other = self.owners.get(page)
            if other is None and not tables and page in self.raw_pages:
                other = "raw entries"
            if other is not None and other != what:
                raise _error("build-layout", f"{what} and {other} would share the page at {page:#x}", span)
            self.owners[page] = what

    def free(self, page: int) -> bool:
        return page not in self.owners and page not in self.raw_pages

    def pages_used(self, words: Iterable[int]) -> set[int]:
        return {a & ~(_PAGE - 1) for a in words}


class _Region:
    """Free pages of a VM's table region, handed out one after another (skipping pages that tables,
    pinned structures or raw entries already use)."""

    def __init__(self, paging: Paging | None, cursor: int | None, memory: _Memory) -> None:
        self.region = paging.tables if paging is not None else None
        self.cursor = cursor if cursor is not None else (self.region.start if self.region is not None else None)
        self.memory = memory

    def allocate(self, what: str, span: Span) -> int:
        if self.region is None or self.cursor is None:
            raise _error("build-layout", f"no place for {what}: declare 'tables in A .. B' in the VM's ept block, "
                         "or pin its address in the vmcs block", span)
        while self.cursor + _PAGE <= self.region.end and not self.memory.free(self.cursor):
            self.cursor += _PAGE
        if self.cursor + _PAGE > self.region.end:
            raise _error("build-layout", f"no room for {what}: the table region {self.region.start:#x} .. "
                         f"{self.region.end:#x} is full", self.region.span)
        page = self.cursor
        self.cursor += _PAGE
        return page


def _set_bits(words: dict[int, int], base: int, first_bit: int, values: IntervalSet, lo: int, hi: int) -> None:
    """Set, in the bitmap at ``base``, bit ``first_bit + (v - lo)`` for each ``v`` in ``values`` ∩ [lo, hi)."""
    for start, end in values.intersection(IntervalSet.span(lo, hi)):
        a, b = first_bit + start - lo, first_bit + end - lo
        for word in range(a >> 6, ((b - 1) >> 6) + 1):
            low = max(a, word << 6) - (word << 6)
            high = min(b, (word + 1) << 6) - (word << 6)
            mask = ((1 << (high - low)) - 1) << low
            address = base + 8 * word
            words[address] = words.get(address, 0) | mask


# ---- the build ----------------------------------------------------------------------------------


class _Builder:
    def __init__(self, model: Model) -> None:
        self.model = model
        self.memory = _Memory()
        raw = [e for vm in model.vms.values() if vm.ept is not None for e in vm.ept.entries]
        raw += [e for unit in model.iommus.values() for e in unit.entries]
        self.memory.raw_pages = {e.address & ~(_PAGE - 1) for e in raw}
        self.derived: list[str] = []
        self.state = State()
        #: Every word a raw entry wrote: address -> (value, the entry), checked once all is built.
        self.raw_words: dict[int, tuple[int, RawEntry]] = {}

    def platform(self) -> None:
        p = self.model.platform
        if p is None:
            return
        self.state.caps = dict(p.caps)
        self.state.maxphyaddr = p.maxphyaddr
        self.state.maxlinaddr = p.maxlinaddr

    # -- a VM --

    def vm(self, vm: Vm) -> None:
        vmcs = self.state.vmcs
        for name, fv in vm.vmcs.fields.items():
            assert isinstance(fv.value, int)
            vmcs[name] = fv.value
        for which, cv in vm.vmcs.controls.items():
            vmcs[which.vmcs_field] = cv.value
            extra = cv.fixed1 & ~cv.cleared & ~cv.named
            self.derived.append(f"{which.vmcs_field} from the '{which.value}' bits"
                                + (f" and the platform's required bits {extra:#x}" if extra else ""))
        cursor = self.ept(vm) if vm.ept is not None else None
        region = _Region(vm.ept, cursor, self.memory)
        self.bitmaps(vm, region)

    def ept(self, vm: Vm) -> int | None:
        """The VM's EPT tables; returns the first free page of the table region after them."""
        paging = vm.ept
        assert paging is not None
        caps = self.state.caps
        cap = caps.get("IA32_VMX_EPT_VPID_CAP", 0)
        memtype = A.MemType.WB if EPT_VPID_CAP["memtype_wb"].get(cap) else A.MemType.UC
        what = f"{vm.name}'s EPT"
        eptp = None
        cursor = None
        if paging.maps:
            if paging.tables is None:
                raise _error("build-layout", f"{what} has maps but no 'tables in A .. B' to lay its tables out in",
                             paging.span)
            base = paging.root if paging.root is not None else paging.tables.start
            mappings = [EptMapping(m.start, m.size, m.target, m.read, m.write, m.execute, m.user_execute, m.memtype,
                                   m.ipat, m.page_size) for m in paging.maps if isinstance(m.target, int)]
            try:
                tables = build_ept_tables(mappings, table_base=base, table_limit=paging.tables.end,
                                          eptp_memtype=memtype, page_sizes=page_sizes_allowed(cap),
                                          maxphyaddr=self.state.maxphyaddr or 52)
            except EptBuildError as exc:
                raise _error("build-layout", f"cannot lay out {what}: {exc}", paging.span) from None
            end = max(self.memory.pages_used(tables.memory), default=base) + _PAGE
            self.memory.claim(base, end, what, paging.span, tables=True)
            self.memory.words.update(tables.memory)
            self._suppress_ve(paging, tables.eptp)
            eptp, cursor = tables.eptp, end
        elif paging.root is not None:
            self.memory.claim(paging.root, paging.root + _PAGE, what, paging.span, tables=True)
            eptp = paging.root | 3 << A.EPTP["pwl_minus_1"].lsb | memtype
            cursor = paging.root + _PAGE if paging.tables is not None else None
        self._raw(paging.entries)
        if eptp is not None and "EPT_POINTER" not in self.state.vmcs:
            self.state.vmcs["EPT_POINTER"] = eptp
            self.derived.append(f"EPT_POINTER {eptp:#x} (root {eptp & ~0xFFF:#x}, 4-level, "
                                f"{A.MEMTYPE_NAMES[memtype]}, no A/D)")
        return cursor

    def _raw(self, entries: Iterable[RawEntry]) -> None:
        """Raw entries, verbatim and last: they win over generated words at the same address. A root
        entry is two words; a context entry two (legacy, 128 bits) or four when its value needs them
        (scalable mode, 256 bits); a paging-structure entry one."""
        for entry in entries:
            assert isinstance(entry.value, int)
            value = entry.value
            words = 1 if entry.size == 8 else 4 if value >> 128 else 2
            for i in range(words):
                word = value >> 64 * i & (1 << 64) - 1
                self.memory.words[entry.address + 8 * i] = word
                self.raw_words[entry.address + 8 * i] = (word, entry)

    def check_raw_words(self) -> None:
        """A raw entry wins over its own structure's generated words, but another structure's
        tables (an IOMMU's, built after the VM's) or another raw entry may later write the same
        word. Silently keeping either value would check a state the spec does not describe, so a
        word two structures disagree on is a layout error."""
        for address, (word, entry) in self.raw_words.items():
            final = self.memory.words.get(address, 0)
            if final != word:
                raise _error("build-layout", f"the raw entry at {entry.address:#x} writes {word:#x} to the word at "
                             f"{address:#x}, which another structure's tables or raw entries set to {final:#x}",
                             entry.span)

    def _suppress_ve(self, paging: Paging, eptp: int) -> None:
        """Bit 63 in every leaf of the maps marked ``suppress_ve`` (the table builder does not set it)."""
        words = self.memory.words
        root = eptp & ~0xFFF
        for m in paging.maps:
            if not m.suppress_ve:
                continue
            gpa = m.start
            while gpa < m.end:
                table, level = root, 4
                while True:
                    address = table + 8 * (gpa >> A.index_shift(level) & 0x1FF)
                    value = words[address]
                    if level == 1 or value & A.PAGE_SIZE_BIT:
                        words[address] = value | 1 << 63
                        gpa += A.PAGE_SIZE_BY_LEVEL[level]
                        break
                    table, level = value & A.address_mask(52), level - 1

    def bitmaps(self, vm: Vm, region: _Region) -> None:
        icpt = vm.vmcs.intercepts
        # (VMCS field, the intercept set its span is kept under, [(set, first bit, lo, hi)])
        pages: list[tuple[str, str, list[tuple[IntervalSet, int, int, int]]]] = []
        if icpt.msr_read is not None and icpt.msr_write is not None:
            pages.append(("MSR_BITMAP", "msr_read", [(icpt.msr_write if r.write else icpt.msr_read, r.offset * 8,
                                                      r.first, r.last + 1) for r in MSR_REGIONS]))
        if icpt.io is not None:
            pages.append(("IO_BITMAP_A", "io", [(icpt.io, 0, 0, 0x8000)]))
            pages.append(("IO_BITMAP_B", "io", [(icpt.io, 0, 0x8000, 0x10000)]))
        for name in ("vmread", "vmwrite"):
            values = icpt.get(name)
            if values is not None:
                pages.append((f"{name.upper()}_BITMAP", name, [(values, 0, 0, 1 << 15)]))
        for field_name, key, layout in pages:
            span = icpt.spans.get(key, vm.vmcs.span)
            what = f"{vm.name}'s {field_name}"
            pinned = self.state.vmcs.get(field_name)
            if pinned is not None:
                if pinned % 8:
                    raise _error("build-layout", f"{field_name} = {pinned:#x} is not 8-byte aligned: the bitmap "
                                 "cannot be written there", vm.vmcs.fields[field_name].span)
                address = pinned
            else:
                address = region.allocate(what, span)
                self.state.vmcs[field_name] = address
                self.derived.append(f"{field_name} {address:#x} (a page of the table region)")
            self.memory.claim(address, address + _PAGE, what, span)
            words: dict[int, int] = {}
            for values, first_bit, lo, hi in layout:
                _set_bits(words, address, first_bit, values, lo, hi)
            self.memory.words.update({a: v for a, v in words.items() if v})
        exceptions = icpt.exceptions
        if exceptions is not None:
            vmcs = self.state.vmcs
            if "EXCEPTION_BITMAP" not in vmcs:
                vmcs["EXCEPTION_BITMAP"] = sum(1 << v for v in exceptions.members())
                self.derived.append("EXCEPTION_BITMAP from the exception list")
            for pf_field in ("PAGE_FAULT_ERROR_CODE_MASK", "PAGE_FAULT_ERROR_CODE_MATCH"):
                if pf_field not in vmcs:
                    vmcs[pf_field] = 0
                    self.derived.append(f"{pf_field} 0 (the exception list decides #PF exits alone)")

    # -- IOMMUs --

    def iommus(self) -> None:
        units = list(self.model.iommus.values())
        for unit in units:
            self.state.iommus.append(self.iommu(unit, scoped=len(units) > 1))

    def iommu(self, unit: UnitModel, scoped: bool) -> IommuUnit:
        what = f"iommu {unit.name}"
        passthrough = any(isinstance(d.translation, Passthrough) for d in unit.domains.values())
        cap = unit.cap
        if cap is None:
            cap = cap_value(aws=(1, 2), mgaw=48, sllps_2m=True, sllps_1g=True, nd=6)
            self.derived.append(f"{what}: cap {cap:#x} (3- and 4-level tables, 2M and 1G pages)")
        ecap = unit.ecap
        if ecap is None:
            ecap = ecap_value("pt") if passthrough else 0
            self.derived.append(f"{what}: ecap {ecap:#x}" + (" (pass-through)" if passthrough else ""))
        haw = unit.haw if unit.haw is not None else self.state.maxphyaddr or 48
        sagaw = V.CAP["sagaw"].get(cap)
        aws = [aw for aw in V.VALID_AW if sagaw >> aw & 1]
        aw = 2 if 2 in aws else max(aws, default=2)
        domains = [self.domain(unit, did, aw) for did in sorted(unit.domains)]
        attachments = [Attachment(a.device.source_id, a.did) for a in unit.attachments]
        if unit.tables is None:
            raise _error("build-layout", f"{what} needs 'tables in A .. B' to lay its root, context and page tables "
                         "out in", unit.span)
        base = unit.root if unit.root is not None else unit.tables.start
        sllps = V.CAP["sllps"].get(cap)
        sizes = {V.PAGE_4K} | {V.PAGE_SIZE_BY_LEVEL[lv] for lv, bit in V.SLLPS_BIT_BY_LEVEL.items() if sllps >> bit & 1}
        try:
            tables = build_vtd_tables(attachments, domains, table_base=base, table_limit=unit.tables.end, haw=haw,
                                      page_sizes=sizes, max_aw=max(aws, default=2))
        except VtdBuildError as exc:
            raise _error("build-layout", f"cannot lay out {what}'s tables: {exc}", unit.span) from None
        self.memory.claim(base, tables.end, what, unit.span, tables=True)
        self.memory.words.update(tables.memory)
        self._raw(unit.entries)
        scope = tuple(f"{a.device.bus:02x}:{a.device.device:02x}.{a.device.function}" for a in unit.attachments) \
            if scoped else ()
        return IommuUnit(cap, ecap, tables.rtaddr, haw, unit.segment, scope)

    def domain(self, unit: UnitModel, did: int, aw: int) -> DmaDomain:
        translation = unit.domains[did].translation
        if isinstance(translation, Passthrough):
            return DmaDomain(did, passthrough=True, aw=aw)
        if isinstance(translation, UsesEpt):
            ept = self.model.vms[translation.vm].ept
            assert ept is not None
            mappings = tuple(DmaMapping(m.start, m.size, m.target, m.read, m.write) for m in ept.maps
                             if isinstance(m.target, int))
            self.derived.append(f"iommu {unit.name} domain {did}: VT-d tables mapping what {translation.vm}'s EPT "
                                "maps (same ranges, targets, read/write)")
            return DmaDomain(did, mappings, aw=aw)
        assert isinstance(translation, OwnTables)
        mappings = tuple(DmaMapping(m.start, m.size, m.target, m.read, m.write, m.page_size)
                         for m in translation.paging.maps if isinstance(m.target, int))
        return DmaDomain(did, mappings, aw=aw)


def _choose_vm(model: Model, vm: str | None) -> Vm | None:
    if vm is not None:
        found = model.vms.get(vm)
        if found is None:
            known = ", ".join(model.vms) or "none"
            raise _error("usage", f"the spec has no VM '{vm}'{suggest(vm, model.vms)} (its VMs: {known})",
                         model.span)
        return found
    if len(model.vms) > 1:
        raise _error("usage", f"the spec defines {len(model.vms)} VMs ({', '.join(model.vms)}): a state holds one "
                     "VMCS, choose its VM with --vm", model.span)
    return next(iter(model.vms.values()), None)


def _open_values(model: Model, vm: Vm | None, iommus: bool = True) -> list[Diagnostic]:
    """Every ``any`` that the state would need a value for: the VM's, and with ``iommus`` the
    IOMMUs' and those of VMs whose EPT an IOMMU domain follows."""
    relevant = {vm.name} if vm is not None else set()
    if iommus:
        for unit in model.iommus.values():
            relevant |= {d.translation.vm for d in unit.domains.values() if isinstance(d.translation, UsesEpt)}
    out = []
    for slot in model.open_values():
        if (slot.scope is None and iommus) or slot.scope in relevant:
            out.append(Diagnostic.error("build-open-value", f"{slot.what} is left open ({slot.value.describe()}): "
                                        "give it a number to build a concrete state", slot.value.span))
    return out


def build_state(model: Model, vm: str | None = None, *, iommus: bool = True) -> Built:
    """The concrete state of ``vm`` (or of the spec's only VM) and, with ``iommus``, every IOMMU
    (a question about one VM alone, such as its VM entry, does not need them); raises BuildError."""
    chosen = _choose_vm(model, vm)
    problems = _open_values(model, chosen, iommus)
    if problems:
        raise BuildError(problems)
    builder = _Builder(model)
    builder.platform()
    if chosen is not None:
        builder.vm(chosen)
    if iommus:
        builder.iommus()
    builder.check_raw_words()
    builder.state.memory = dict(sorted(builder.memory.words.items()))
    return Built(builder.state, chosen.name if chosen is not None else None, tuple(builder.derived))


def _hex(value: int) -> str:
    return f"{value:#x}"


def state_document(built: Built, spec: str | None = None) -> dict[str, object]:
    """The state as a ``vmxspec-state/1`` JSON object (what ``vmxspec state`` prints)."""
    state = built.state
    doc: dict[str, object] = {"format": FORMAT}
    if state.caps or state.maxphyaddr is not None:
        caps: dict[str, object] = {}
        for msr in capabilities.CAPABILITY_MSRS:
            if msr.name in state.caps:
                value = state.caps[msr.name]
                caps[msr.name] = f"{value:#018x}" if msr.name in FULL_WIDTH_MSRS else _hex(value)
        if state.maxphyaddr is not None:
            caps["MAXPHYADDR"] = state.maxphyaddr
        if state.maxlinaddr is not None and state.maxlinaddr != capabilities.DEFAULT_MAXLINADDR:
            caps["MAXLINADDR"] = state.maxlinaddr
        doc["caps"] = caps
    if state.vmcs:
        doc["vmcs"] = {name: _hex(value) for name, value in state.vmcs.items()}
    if state.memory:
        doc["memory"] = {_hex(a): _hex(v) for a, v in state.memory.items()}
    units = [_unit_document(u) for u in state.iommus]
    if len(units) == 1 and not state.iommus[0].scope and state.iommus[0].segment == 0:
        doc["iommu"] = units[0]
    elif units:
        doc["iommus"] = units
    meta: dict[str, object] = {"derived": list(built.derived)}
    if spec is not None:
        meta["spec"] = spec
    if built.vm is not None:
        meta["vm"] = built.vm
    doc["x-vmxspec"] = meta
    return doc


def _unit_document(unit: IommuUnit) -> dict[str, object]:
    out: dict[str, object] = {"cap": f"{unit.cap:#018x}", "ecap": _hex(unit.ecap), "rtaddr": _hex(unit.rtaddr)}
    if unit.haw is not None:
        out["haw"] = unit.haw
    if unit.segment or unit.scope:
        out["segment"] = unit.segment
    if unit.scope:
        out["scope"] = list(unit.scope)
    return out
