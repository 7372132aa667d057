"""The resolved model: what a spec means, as typed, frozen data a checker can lower.

Sema turns the syntax tree (names, as written) into this model (numbers and references, checked):
control fields are ints, VMCS fields are ints or ``Open`` values the solver may choose, intercept
lists are interval sets, EPT and IOMMU mappings are normalised half-open ranges with decoded
attributes, and assumptions and proofs are resolved expression trees (``sema.expressions``).

Every element keeps the span it came from (``span``, excluded from equality like the syntax
tree's), so a verdict can point back at the spec line it depends on.

Addresses and ranges are half-open: ``start`` included, ``end`` excluded, whatever the spec wrote
(``..=`` is converted).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TypeVar

from vmxspec.arch.controls import ControlField
from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.sema.expressions import Expr
from vmxspec.sema.intervals import IntervalSet

_K = TypeVar("_K")
_V = TypeVar("_V")


def _frozen(mapping: Mapping[_K, _V]) -> Mapping[_K, _V]:
    """A read-only copy: the model is shared data that no pass may edit after it is built."""
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class Located:
    """Base: the span of the statement (or value) an element was resolved from."""

    span: Span = field(default=NOWHERE, compare=False, repr=False, kw_only=True)


# ---- values ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Open(Located):
    """A value the spec leaves open (``any``): ``width`` bits, optionally restricted to ``domain``,
    with the bits of ``zero`` required to be 0 (``without``, or the page offset of an address)."""

    width: int
    domain: IntervalSet | None = None
    zero: int = 0

    def admits(self, value: int) -> bool:
        return (0 <= value < 1 << self.width and not value & self.zero
                and (self.domain is None or value in self.domain))

    def describe(self) -> str:
        parts = [f"any {self.width}-bit value"]
        if self.domain is not None:
            parts.append(f"in {self.domain}")
        if self.zero:
            parts.append(f"with bits {self.zero:#x} clear")
        return " ".join(parts)


Value = int | Open


# ---- platform and host ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Platform(Located):
    """The capability MSRs (by architectural name) and CPUID address widths of the host."""

    preset: str
    caps: Mapping[str, int]
    maxphyaddr: int
    maxlinaddr: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "caps", _frozen(self.caps))


@dataclass(frozen=True, slots=True)
class Region(Located):
    """A host- or guest-physical range ``[start, end)``."""

    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


#: Access rights, as the bits of an EPT entry that grant them (SDM "EPT Translation Mechanism": bit 0
#: read, bit 1 write, bit 2 execute), so that a set of rights compares directly with a walk's
#: permissions. Execute means any instruction fetch (user-mode ones too, under mode-based execute
#: control).
READ, WRITE, EXECUTE = 1, 2, 4
_RIGHT_LETTERS = (("r", READ), ("w", WRITE), ("x", EXECUTE))


def rights_text(rights: int) -> str:
    """``rw``-style letters for a set of rights (``none`` for the empty set)."""
    return "".join(letter for letter, bit in _RIGHT_LETTERS if rights & bit) or "none"


@dataclass(frozen=True, slots=True)
class SharedParty(Located):
    """One party of a ``shared`` region: a VM's name or ``hypervisor``, and the rights it may have
    there (``READ | WRITE | EXECUTE`` bits)."""

    name: str
    rights: int


#: The name a ``shared`` region gives the hypervisor as a party (no VM can be called that).
HYPERVISOR = "hypervisor"


@dataclass(frozen=True, slots=True)
class SharedRegion(Located):
    """``shared NAME start .. end { party rights ... }``: host memory its parties may all reach, each
    with at most its rights. ``isolated(A, B)`` excuses A and B reaching the same bytes here when
    both are parties, and then holds each to its rights."""

    name: str
    start: int
    end: int
    parties: Mapping[str, SharedParty] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "parties", _frozen(self.parties))

    def shared_by(self, a: str, b: str) -> bool:
        return a in self.parties and b in self.parties

    def describe(self) -> str:
        return f"shared region '{self.name}' at {self.start:#_x} .. {self.end:#_x}"


# ---- paging (EPT, and an IOMMU domain's own tables) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class PageMap(Located):
    """``map start .. end -> target``: every address ``a`` in the range translates to
    ``target + (a - start)`` with these rights. ``memtype`` is the EPT memory type (ignored by
    VT-d); ``page_size`` is None unless the spec pins one."""

    start: int
    end: int
    target: Value
    read: bool
    write: bool
    execute: bool = False
    user_execute: bool = False
    memtype: int = 6
    ipat: bool = False
    suppress_ve: bool = False
    page_size: int | None = None

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class RawEntry(Located):
    """A paging-structure (or VT-d root/context) entry written verbatim at a host address: ``size``
    bytes (8 for paging entries, 16 for a root entry, 32 for a context entry, whose legacy form uses
    the low 16), little-endian."""

    kind: str
    address: int
    value: Value
    size: int = 8


@dataclass(frozen=True, slots=True)
class Paging(Located):
    """One set of translation tables: high-level maps and holes, raw entries, where the tables go."""

    maps: tuple[PageMap, ...] = ()
    holes: tuple[Region, ...] = ()
    entries: tuple[RawEntry, ...] = ()
    root: int | None = None
    tables: Region | None = None
    #: The ``root at`` statement (NOWHERE without one), for pointing at it.
    root_span: Span = field(default=NOWHERE, compare=False, repr=False)

    def mapped(self) -> IntervalSet:
        """The input addresses the maps translate."""
        return IntervalSet(tuple((m.start, m.end) for m in self.maps))


# ---- VMCS -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ControlValue(Located):
    """A control field given as bits: ``named`` (set with ``=``/``+=``), ``cleared`` (``-=``), and
    ``fixed1``, the bits the platform's capability MSR requires to be 1 (its allowed-0 settings)
    that the spec did not clear. ``value`` is what the VMCS holds."""

    field: ControlField
    named: int
    cleared: int
    fixed1: int

    @property
    def value(self) -> int:
        return (self.named | self.fixed1) & ~self.cleared


@dataclass(frozen=True, slots=True)
class FieldValue(Located):
    """A VMCS field set by name or encoding (control fields given as raw numbers included)."""

    field: str
    width: int
    value: Value


#: The bitmaps intercept lists fill, by the name the spec uses, with the universe each covers.
BITMAP_UNIVERSE: dict[str, int] = {"msr_read": 1 << 32, "msr_write": 1 << 32, "io": 1 << 16, "exceptions": 32,
                                   "vmread": 1 << 15, "vmwrite": 1 << 15}


@dataclass(frozen=True, slots=True)
class Intercepts(Located):
    """What the VMCS's bitmaps intercept, as sets; None where the spec gives no list.

    Each set holds what *exits* once the bitmap is in use: ``msr_read``/``msr_write`` are MSR
    indices, and include every MSR outside the bitmap's two ranges (0-0x1fff, 0xc0000000-
    0xc0001fff), which always exits; ``io`` ports; ``exceptions`` vectors 0-31;
    ``vmread``/``vmwrite`` field encodings (bits 14:0; a 64-bit field listed by name counts with its
    high-half encoding; encodings above 0x7fff always exit).
    ``spans`` holds, per set, the span of the first intercept statement that gave it.
    """

    msr_read: IntervalSet | None = None
    msr_write: IntervalSet | None = None
    io: IntervalSet | None = None
    exceptions: IntervalSet | None = None
    vmread: IntervalSet | None = None
    vmwrite: IntervalSet | None = None
    spans: Mapping[str, Span] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spans", _frozen(self.spans))

    def get(self, name: str) -> IntervalSet | None:
        value: IntervalSet | None = getattr(self, name)
        return value


@dataclass(frozen=True, slots=True)
class Vmcs(Located):
    """A VM's VMCS as the spec gives it. Fields the spec does not mention are absent."""

    controls: Mapping[ControlField, ControlValue] = field(default_factory=dict)
    fields: Mapping[str, FieldValue] = field(default_factory=dict)
    intercepts: Intercepts = field(default_factory=Intercepts)

    def __post_init__(self) -> None:
        object.__setattr__(self, "controls", _frozen(self.controls))
        object.__setattr__(self, "fields", _frozen(self.fields))

    def control(self, which: ControlField) -> int | None:
        """The control field's value, from the bit set or a raw field setting (None if absent or open)."""
        if which in self.controls:
            return self.controls[which].value
        raw = self.fields.get(which.vmcs_field)
        return raw.value if raw is not None and isinstance(raw.value, int) else None

    def value(self, name: str) -> Value | None:
        """A field's value (CR masks and shadows, VPID, ...), or None when the spec does not set it."""
        f = self.fields.get(name)
        return f.value if f is not None else None


# ---- VMs and devices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Bdf:
    """A PCI requester: segment, bus, device, function."""

    segment: int
    bus: int
    device: int
    function: int

    @property
    def source_id(self) -> int:
        return self.bus << 8 | self.device << 3 | self.function

    def __str__(self) -> str:
        return f"{self.segment:04x}:{self.bus:02x}:{self.device:02x}.{self.function}"


@dataclass(frozen=True, slots=True)
class Device(Located):
    bdf: Bdf


@dataclass(frozen=True, slots=True)
class Ram(Located):
    """Guest-physical RAM ``[start, end)`` backed by host memory from ``host``."""

    start: int
    end: int
    host: Value


@dataclass(frozen=True, slots=True)
class Assumption(Located):
    """``assume``: ``scope`` is the VM or nested block it was written in (None at top level)."""

    condition: Expr
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class Vm(Located):
    name: str
    ram: tuple[Ram, ...] = ()
    ept: Paging | None = None
    vmcs: Vmcs = field(default_factory=Vmcs)
    devices: tuple[Device, ...] = ()
    assumptions: tuple[Assumption, ...] = ()

    def ram_set(self) -> IntervalSet:
        return IntervalSet(tuple((r.start, r.end) for r in self.ram))


# ---- IOMMUs ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UsesEpt(Located):
    """The domain translates DMA as the VM's EPT translates guest-physical addresses."""

    vm: str


@dataclass(frozen=True, slots=True)
class Passthrough(Located):
    """DMA addresses are host-physical addresses."""


@dataclass(frozen=True, slots=True)
class OwnTables(Located):
    paging: Paging


Translation = UsesEpt | Passthrough | OwnTables


@dataclass(frozen=True, slots=True)
class IommuDomain(Located):
    did: int
    translation: Translation


@dataclass(frozen=True, slots=True)
class Attachment(Located):
    device: Bdf
    did: int


@dataclass(frozen=True, slots=True)
class IommuUnit(Located):
    """One DMA-remapping unit. ``cap``/``ecap``/``haw`` are None when the spec does not give them."""

    name: str
    cap: int | None = None
    ecap: int | None = None
    haw: int | None = None
    segment: int = 0
    attachments: tuple[Attachment, ...] = ()
    domains: Mapping[int, IommuDomain] = field(default_factory=dict)
    groups: tuple[tuple[Bdf, ...], ...] = ()
    entries: tuple[RawEntry, ...] = ()
    root: int | None = None
    tables: Region | None = None
    #: Where the register settings (cap, ecap, haw, segment), the groups and ``root at`` are written,
    #: so a proof can point at the statements it read.
    setting_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    group_spans: tuple[Span, ...] = field(default=(), compare=False, repr=False)
    root_span: Span = field(default=NOWHERE, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "domains", _frozen(self.domains))


# ---- proofs and nested virtualization -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExitEvent(Located):
    """One event of ``prove exits(VM) { ... }``: ``name`` is the instruction mnemonic or event kind
    (``WRMSR``, ``EXCEPTION``, ``EPT_VIOLATION``), ``kind`` the state format's event kind
    (``instruction``, ``exception``, ... or ``ept_violation``), ``operand`` the key its values bind
    (``ecx``, ``port``, ``vector``, ``field``, ``gpa``, ``value``) and ``values`` the set the spec
    gave, None for every value the guest can choose."""

    name: str
    kind: str
    operand: str | None = None
    values: IntervalSet | None = None


@dataclass(frozen=True, slots=True)
class PropertyProof(Located):
    """``prove PROPERTY(args) [{ events }]`` for a built-in property."""

    property: str
    args: tuple[Expr, ...]
    events: tuple[ExitEvent, ...] | None = None
    scope: str | None = None


@dataclass(frozen=True, slots=True)
class AssertionProof(Located):
    """``prove CONDITION``: a user assertion."""

    claim: Expr
    scope: str | None = None


Proof = PropertyProof | AssertionProof


@dataclass(frozen=True, slots=True)
class Vmcs12Bounds(Located):
    """``vmcs12 = any [within SOURCE] [without { bits }]``: every vmcs12 whose controls the source's
    capability MSRs allow (``source`` is ``platform`` or a preset name, None for no bound), minus
    the ``excluded`` control bits, which L1 may never set."""

    source: str | None
    caps: Mapping[str, int] | None
    excluded: Mapping[ControlField, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.caps is not None:
            object.__setattr__(self, "caps", _frozen(self.caps))
        object.__setattr__(self, "excluded", _frozen(self.excluded))


@dataclass(frozen=True, slots=True)
class Definition(Located):
    """``vmcs02.TARGET = expr``: ``target`` is a VMCS field name or a bitmap (``msr_bitmap``,
    ``io_bitmap``, ``vmread_bitmap``, ``vmwrite_bitmap``)."""

    target: str
    expr: Expr


@dataclass(frozen=True, slots=True)
class Nested(Located):
    """``nested NAME on VM``: vmcs01 is the VM's VMCS; vmcs12 ranges over ``vmcs12``; vmcs02 is
    defined field by field by ``vmcs02``."""

    name: str
    vm: str
    vmcs12: Vmcs12Bounds | None = None
    vmcs02: Mapping[str, Definition] = field(default_factory=dict)
    assumptions: tuple[Assumption, ...] = ()
    proofs: tuple[Proof, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "vmcs02", _frozen(self.vmcs02))


# ---- the whole spec -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OpenSlot:
    """Where a spec leaves a value open: what it is (for messages) and the ``any``'s span."""

    what: str
    value: Open
    scope: str | None


@dataclass(frozen=True, slots=True)
class Model(Located):
    """A resolved spec. ``files`` lists every file read, the root first."""

    platform: Platform | None
    hypervisor: tuple[Region, ...] = ()
    vms: Mapping[str, Vm] = field(default_factory=dict)
    iommus: Mapping[str, IommuUnit] = field(default_factory=dict)
    nested: Mapping[str, Nested] = field(default_factory=dict)
    assumptions: tuple[Assumption, ...] = ()
    proofs: tuple[Proof, ...] = ()
    files: tuple[str, ...] = ()
    #: The ``shared`` regions, by start address (sema rejects overlapping ones).
    shared: tuple[SharedRegion, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "vms", _frozen(self.vms))
        object.__setattr__(self, "iommus", _frozen(self.iommus))
        object.__setattr__(self, "nested", _frozen(self.nested))

    def open_values(self) -> Iterator[OpenSlot]:
        """Every ``any`` in a VM or IOMMU (nested vmcs12 is open by design and not listed)."""
        for vm in self.vms.values():
            for ram in vm.ram:
                if isinstance(ram.host, Open):
                    yield OpenSlot(f"the host address of {vm.name}'s RAM at {ram.start:#x}", ram.host, vm.name)
            if vm.ept is not None:
                yield from _open_paging(vm.ept, f"{vm.name}'s EPT", vm.name)
            for fv in vm.vmcs.fields.values():
                if isinstance(fv.value, Open):
                    yield OpenSlot(f"{vm.name}'s {fv.field}", fv.value, vm.name)
        for unit in self.iommus.values():
            for entry in unit.entries:
                if isinstance(entry.value, Open):
                    yield OpenSlot(f"the {entry.kind} at {entry.address:#x} of {unit.name}", entry.value, None)
            for domain in unit.domains.values():
                if isinstance(domain.translation, OwnTables):
                    yield from _open_paging(domain.translation.paging, f"{unit.name} domain {domain.did}", None)

    def proofs_everywhere(self) -> Iterator[Proof]:
        """Top-level proofs, then each nested block's."""
        yield from self.proofs
        for nested in self.nested.values():
            yield from nested.proofs


def _open_paging(paging: Paging, where: str, scope: str | None) -> Iterator[OpenSlot]:
    for m in paging.maps:
        if isinstance(m.target, Open):
            yield OpenSlot(f"the target of the map at {m.start:#x} in {where}", m.target, scope)
    for entry in paging.entries:
        if isinstance(entry.value, Open):
            yield OpenSlot(f"the {entry.kind} at {entry.address:#x} in {where}", entry.value, scope)
