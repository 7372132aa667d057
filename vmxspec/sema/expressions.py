"""Resolved expressions: what ``assume``, ``prove`` and nested ``vmcs02`` definitions mean.

The syntax tree's expressions hold names; these hold what the names were resolved to: a VMCS field
of a particular VMCS (with its width), a constant (a control bit, a CR0 bit, an MSR number), a
bound variable, a VM or IOMMU. Nothing here is evaluated: a checker lowers these trees to solver
terms, and the interpreter-side replay evaluates them on a concrete state. Operators reuse the
syntax tree's enums, which name them by their spelling.

Every node keeps the span of the text it was resolved from, so that an unsat core or a failing
assertion can be shown at the right place (``--explain``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.sema.intervals import IntervalSet
from vmxspec.syntax.ast import BinaryOp, QuantifierKind, UnaryOp

__all__ = [
    "Apply", "Binary", "BinaryOp", "BitmapRef", "Bound", "Const", "EntityKind", "EntityRef", "Expr", "FieldRef",
    "Kind", "Member", "Quantified", "QuantifierKind", "Slice", "Unary", "UnaryOp", "Var", "VmcsRef",
    "VmcsRole",
]


class Kind(Enum):
    """What an expression denotes: a number, a condition, a set of numbers, or a named structure."""

    VALUE = "value"
    BOOL = "condition"
    SET = "set"
    ENTITY = "structure"


class VmcsRole(Enum):
    """Which VMCS a field reference reads: a VM's own, or one of a nested block's three."""

    VM = "vm"
    VMCS01 = "vmcs01"
    VMCS12 = "vmcs12"
    VMCS02 = "vmcs02"


@dataclass(frozen=True, slots=True)
class VmcsRef:
    """A VMCS: ``role`` VM with ``owner`` the VM's name, or a nested role with ``owner`` the nested
    block's name (whose vmcs01 is its VM's VMCS)."""

    role: VmcsRole
    owner: str

    def __str__(self) -> str:
        return self.owner if self.role is VmcsRole.VM else f"{self.owner}.{self.role.value}"


@dataclass(frozen=True, slots=True)
class Node:
    span: Span = field(default=NOWHERE, compare=False, repr=False, kw_only=True)


@dataclass(frozen=True, slots=True)
class Const(Node):
    value: int


@dataclass(frozen=True, slots=True)
class FieldRef(Node):
    """A VMCS field (by its Linux name) of one VMCS; control fields are fields too."""

    vmcs: VmcsRef
    field: str
    width: int


@dataclass(frozen=True, slots=True)
class BitmapRef(Node):
    """The intercept set of one bitmap of one VMCS: ``msr_read``, ``msr_write``, ``io``,
    ``exceptions``, ``vmread`` or ``vmwrite`` (``msr_bitmap`` in a nested definition is the pair)."""

    vmcs: VmcsRef
    bitmap: str


@dataclass(frozen=True, slots=True)
class Var(Node):
    """A variable bound by an enclosing quantifier."""

    name: str


class EntityKind(Enum):
    VM = "vm"
    EPT = "ept"
    IOMMU = "iommu"
    HYPERVISOR = "hypervisor"
    VMCS = "vmcs"
    REGION = "region"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class EntityRef(Node):
    """A named structure used as an argument: ``guest1``, ``guest1.ept``, ``dmar0``, ``hypervisor``,
    ``vmcs12``, a host region (``protects(0x1000 .. 0x2000)``, in ``region``) or a PCI device
    (``translates(dmar0, 04:00.0, iova)``, in ``bdf``: segment, bus, device, function)."""

    kind: EntityKind
    name: str
    vmcs: VmcsRef | None = None
    region: IntervalSet | None = None
    bdf: tuple[int, int, int, int] | None = None


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: UnaryOp
    operand: Expr


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: BinaryOp
    left: Expr
    right: Expr


@dataclass(frozen=True, slots=True)
class Slice(Node):
    """Bits ``high:low`` of ``base`` (``low == high`` for one bit)."""

    base: Expr
    high: int
    low: int


@dataclass(frozen=True, slots=True)
class Member(Node):
    """``item in collection``: a constant set (ranges and set literals) or a bitmap's set."""

    item: Expr
    collection: IntervalSet | Expr


@dataclass(frozen=True, slots=True)
class Apply(Node):
    """A built-in function applied to arguments (``translates(guest1.ept, gpa)``)."""

    function: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Bound(Node):
    """One quantified variable and the finite set it ranges over."""

    var: str
    domain: IntervalSet | Expr


@dataclass(frozen=True, slots=True)
class Quantified(Node):
    kind: QuantifierKind
    bindings: tuple[Bound, ...]
    body: Expr


Expr = Const | FieldRef | BitmapRef | Var | EntityRef | Unary | Binary | Slice | Member | Apply | Quantified
