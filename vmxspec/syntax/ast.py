"""The spec language's syntax tree: frozen dataclasses, each with the source span it came from.

The tree records what was written, not what it means: names stay names (``Name("hlt_exiting")``)
until sema resolves them against ``vmxspec.arch``, so one tree serves the checker, the formatter
and error messages. Every identifier the user wrote is a ``Name`` node with its own span, so sema
can underline exactly the misspelt word.

Spans are excluded from equality and from ``repr`` (``compare=False``): two trees are equal when they
say the same thing, wherever it was written. That is what makes ``parse(print(tree)) == tree`` the
formatter's contract, and lets tests write expected trees by hand without positions. For the same
reason ``Number.text`` (the spelling, ``0x1000`` versus ``4K``) is kept for the formatter but is not
compared.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from enum import Enum

from vmxspec.diagnostics import NOWHERE, Span

__all__ = [
    "NOWHERE", "AnyValue", "AssignOp", "Assume", "Attr", "Attribute", "Bdf", "Binary", "BinaryOp",
    "Binding", "Bits", "Call", "Comment", "DeviceAssignment", "Devices", "Domain", "DomainTables",
    "EntryKind", "Ept", "Event", "Expr", "Group", "Hole", "Hypervisor", "Import", "Intercept", "Iommu",
    "IommuItem", "Map", "Member", "Memory", "Name", "Nested", "NestedItem", "Node", "Number",
    "PagingItem", "Party", "Passthrough", "Platform", "Prove", "Quantifier", "QuantifierKind", "Ram", "Range",
    "RawEntry", "Root", "SetLiteral", "Setting", "Shared", "Span", "SpecFile", "Tables", "TopItem",
    "Translation", "Unary", "UnaryOp", "Uses", "Vm", "VmItem", "Vmcs", "VmcsItem", "children", "walk",
]


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node: only the span, keyword-only so subclasses list their own fields first."""

    span: Span = field(default=NOWHERE, compare=False, repr=False, kw_only=True)


# --------------------------------------------------------------------------------------------
# Expressions
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name(Node):
    """An identifier: a VM, a control bit, a VMCS field, an MSR, a property, a bound variable..."""

    name: str


@dataclass(frozen=True, slots=True)
class Number(Node):
    """An unsigned literal. ``text`` is its spelling (``0x8000_0000``, ``2G``), kept for printing."""

    value: int
    text: str = field(default="", compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Bdf(Node):
    """A PCI requester id, ``segment:bus:device.function``; ``segment`` is None when not written."""

    segment: int | None
    bus: int
    device: int
    function: int


@dataclass(frozen=True, slots=True)
class Attribute(Node):
    """``base.name``: a VM's part (``guest1.ept``), a VMCS field (``vmcs12.pin``)..."""

    base: Expr
    name: Name


@dataclass(frozen=True, slots=True)
class Call(Node):
    """``callee(args)``: built-in properties and functions; sema checks the callee exists."""

    callee: Expr
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Bits(Node):
    """``base[high:low]`` (a bit range, as the SDM writes "bits 7:0") or ``base[bit]``."""

    base: Expr
    high: Expr
    low: Expr | None = None


class UnaryOp(Enum):
    INVERT = "~"
    NOT = "not"


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: UnaryOp
    operand: Expr


class BinaryOp(Enum):
    """Binary operators, by their spelling."""

    IMPLIES = "implies"
    OR = "or"
    AND = "and"
    EQ = "=="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="
    BIT_OR = "|"
    BIT_XOR = "^"
    BIT_AND = "&"
    SHL = "<<"
    SHR = ">>"
    ADD = "+"
    SUB = "-"
    MUL = "*"


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: BinaryOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``item in collection``: membership in a range, a set literal or a named set."""

    item: Expr
    collection: Expr


@dataclass(frozen=True, slots=True)
class Range(Node):
    """``low .. high`` (half-open, high excluded) or ``low ..= high`` (inclusive)."""

    low: Expr
    high: Expr
    inclusive: bool = False


@dataclass(frozen=True, slots=True)
class SetLiteral(Node):
    """``{ a, b .. c, 03:00.0 }``: an unordered collection of values, ranges or PCI addresses."""

    items: tuple[Expr, ...]


class QuantifierKind(Enum):
    FORALL = "forall"
    EXISTS = "exists"


@dataclass(frozen=True, slots=True)
class Binding(Node):
    """``var in domain`` inside a quantifier; the domain is a range, a set or a named collection."""

    var: Name
    domain: Expr


@dataclass(frozen=True, slots=True)
class Quantifier(Node):
    """``forall x in A .. B, y in S: body``: bounded, so the solver can always decide it."""

    kind: QuantifierKind
    bindings: tuple[Binding, ...]
    body: Expr


@dataclass(frozen=True, slots=True)
class AnyValue(Node):
    """``any [width W] [in D] [within C] [without S]``: a value the solver may choose.

    ``width`` bounds it to W bits; ``domain`` to a range or set; ``within`` to what a capability
    source allows (``vmcs12 = any within platform``: only what L0 advertises); ``without`` removes
    named bits or values. What is chosen (a number, a whole VMCS) follows from the target.
    """

    width: Expr | None = None
    domain: Expr | None = None
    within: Expr | None = None
    without: Expr | None = None


Expr = (
    Name | Number | Bdf | Attribute | Call | Bits | Unary | Binary | Member | Range | SetLiteral
    | Quantifier | AnyValue
)


# --------------------------------------------------------------------------------------------
# Statements
# --------------------------------------------------------------------------------------------


class AssignOp(Enum):
    """``=`` gives the whole value; ``+=`` sets the named bits; ``-=`` clears them."""

    SET = "="
    ADD = "+="
    REMOVE = "-="


@dataclass(frozen=True, slots=True)
class Setting(Node):
    """``target op value``: a VMCS field, a control, an MSR (by name or number), a nested field."""

    target: Expr
    op: AssignOp
    value: Expr


@dataclass(frozen=True, slots=True)
class Import(Node):
    """``import "relative/path.vmx"`` (the path as written, resolved by sema)."""

    path: str


@dataclass(frozen=True, slots=True)
class Platform(Node):
    """``platform NAME { overrides }``: a shipped preset, with capability MSRs or MAXPHYADDR set."""

    name: Name
    settings: tuple[Setting, ...] = ()


@dataclass(frozen=True, slots=True)
class Ram(Node):
    """``ram A .. B at HOST``: guest-physical RAM backed by host-physical memory at HOST."""

    range: Range
    host: Expr


@dataclass(frozen=True, slots=True)
class Attr(Node):
    """A mapping attribute: ``rwx``, ``wb``, ``page 2M``, ``suppress_ve``... (sema knows them)."""

    name: Name
    value: Number | None = None


@dataclass(frozen=True, slots=True)
class Map(Node):
    """``map A .. B -> HOST attrs``: guest-physical A..B translates to HOST with these attributes."""

    range: Range
    target: Expr
    attrs: tuple[Attr, ...] = ()


@dataclass(frozen=True, slots=True)
class Hole(Node):
    """``hole A .. B``: nothing may translate here (an access must cause an EPT violation)."""

    range: Range


class EntryKind(Enum):
    """The level (or VT-d structure) a raw entry claims to be; ``entry`` leaves it to the walk."""

    ENTRY = "entry"
    PML5E = "pml5e"
    PML4E = "pml4e"
    PDPTE = "pdpte"
    PDE = "pde"
    PTE = "pte"
    ROOT_ENTRY = "root_entry"
    CONTEXT_ENTRY = "context_entry"


@dataclass(frozen=True, slots=True)
class RawEntry(Node):
    """``pml4e at ADDRESS = VALUE``: a paging-structure entry at a host-physical address."""

    kind: EntryKind
    address: Expr
    value: Expr


@dataclass(frozen=True, slots=True)
class Root(Node):
    """``root at ADDRESS``: where the top-level table lives (EPTP or VT-d root-table address)."""

    address: Expr


@dataclass(frozen=True, slots=True)
class Tables(Node):
    """``tables in A .. B``: the host region where builders may lay out paging structures."""

    range: Range


PagingItem = Map | Hole | RawEntry | Root | Tables


@dataclass(frozen=True, slots=True)
class Ept(Node):
    items: tuple[PagingItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Intercept(Node):
    """``msr_bitmap intercept read write { ... }`` / ``io_bitmap intercept all except { ... }``.

    ``modes`` are the words between ``intercept`` and the list (``read write``). With ``all``, the
    items are the exceptions; without it, they are what is intercepted.
    """

    bitmap: Name
    modes: tuple[Name, ...]
    all: bool
    items: tuple[Expr, ...] = ()


VmcsItem = Setting | Intercept


@dataclass(frozen=True, slots=True)
class Vmcs(Node):
    items: tuple[VmcsItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Devices(Node):
    """``devices { 0000:03:00.0, ... }``: PCI devices assigned to the VM."""

    devices: tuple[Bdf, ...] = ()


@dataclass(frozen=True, slots=True)
class Assume(Node):
    """``assume CONDITION``: constrains what ``any`` values the solver may pick."""

    condition: Expr


VmItem = Ram | Ept | Vmcs | Devices | Assume


@dataclass(frozen=True, slots=True)
class Vm(Node):
    name: Name
    items: tuple[VmItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Uses(Node):
    """``uses guest1.ept``: the domain shares another structure's translation tables."""

    source: Expr


@dataclass(frozen=True, slots=True)
class Passthrough(Node):
    """``passthrough``: DMA addresses are host-physical (no translation)."""


@dataclass(frozen=True, slots=True)
class DomainTables(Node):
    """``{ map ... }`` after a domain: its own second-level tables (EPT format)."""

    items: tuple[PagingItem, ...] = ()


Translation = Uses | Passthrough | DomainTables


@dataclass(frozen=True, slots=True)
class DeviceAssignment(Node):
    """``device BDF -> domain N [uses X | passthrough | { ... }]``."""

    device: Bdf
    domain: Number
    translation: Translation | None = None


@dataclass(frozen=True, slots=True)
class Domain(Node):
    """``domain N uses X`` / ``domain N passthrough`` / ``domain N { map ... }``."""

    domain: Number
    translation: Translation


@dataclass(frozen=True, slots=True)
class Group(Node):
    """``group { BDF, ... }``: devices that cannot be isolated from each other (an IOMMU group)."""

    devices: tuple[Bdf, ...] = ()


IommuItem = Setting | DeviceAssignment | Domain | Group | RawEntry | Root | Tables


@dataclass(frozen=True, slots=True)
class Iommu(Node):
    """``iommu NAME { ... }``: one DMA-remapping unit."""

    name: Name
    items: tuple[IommuItem, ...] = ()


@dataclass(frozen=True, slots=True)
class Memory(Node):
    """``memory A .. B`` in ``hypervisor { }``: host memory that no VM or device may reach."""

    range: Range


@dataclass(frozen=True, slots=True)
class Hypervisor(Node):
    regions: tuple[Memory, ...] = ()


@dataclass(frozen=True, slots=True)
class Party(Node):
    """``vm1 rw`` in a ``shared`` block: who shares the region (a VM or ``hypervisor``, always a
    ``Name``) and the rights it may have there, as the one word written (``r``, ``rw``, ``rwx``...;
    sema checks the letters, so a misspelling is reported where it stands)."""

    party: Name
    rights: Name


@dataclass(frozen=True, slots=True)
class Shared(Node):
    """``shared NAME A .. B { party rights ... }``: host memory that these parties may all reach,
    each with at most the rights given (``isolated`` excuses overlap there, and only there)."""

    name: Name
    range: Range
    parties: tuple[Party, ...] = ()


@dataclass(frozen=True, slots=True)
class Event(Node):
    """One event in ``prove exits(VM) { ... }``: ``CPUID``, ``WRMSR IA32_EFER``, ``OUT 0x20 ..= 0x21``."""

    name: Name
    arg: Expr | None = None


@dataclass(frozen=True, slots=True)
class Prove(Node):
    """``prove CLAIM`` or ``prove exits(VM) { events }`` (``events`` is None without braces)."""

    claim: Expr
    events: tuple[Event, ...] | None = None


NestedItem = Setting | Assume | Prove


@dataclass(frozen=True, slots=True)
class Nested(Node):
    """``nested NAME on VM { vmcs12 = any ...; vmcs02.pin = ...; prove ... }``."""

    name: Name
    vm: Name
    items: tuple[NestedItem, ...] = ()


TopItem = Import | Platform | Vm | Iommu | Hypervisor | Shared | Nested | Assume | Prove


@dataclass(frozen=True, slots=True)
class Comment(Node):
    """``# text`` (``text`` includes the '#'); kept so the formatter can put comments back."""

    text: str


@dataclass(frozen=True, slots=True)
class SpecFile(Node):
    """A whole file: its statements in order, and its comments in order (see printer.py)."""

    items: tuple[TopItem, ...] = ()
    comments: tuple[Comment, ...] = ()


def children(node: Node) -> Iterator[Node]:
    """The nodes directly below ``node``, in field order (tuples flattened)."""
    for f in fields(node):
        if f.name == "span":
            continue
        value = getattr(node, f.name)
        if isinstance(value, Node):
            yield value
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield item


def walk(node: Node) -> Iterator[Node]:
    """Every node below and including ``node``, parents before children (iterative: no depth limit)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
