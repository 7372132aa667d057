"""``assume`` and ``prove``: resolving conditions, property arguments and exit events.

A condition is resolved into ``sema.expressions`` nodes, checking as it goes that every name means
something here and that operators get what they need (``and`` conditions, ``&`` numbers or sets,
``in`` a number and a set). Bare names are resolved in the most specific way the place allows:

* a variable bound by an enclosing quantifier;
* in a VM (``vm g { assume ... }``), a VMCS field or control of that VM;
* in a nested block, ``vmcs01``, ``vmcs12``, ``vmcs02``;
* a VM, an IOMMU, ``hypervisor``;
* a constant: a bit of the field on the other side of the operator (``GUEST_CR0 & PG``,
  ``vmcs12.proc & hlt_exiting``), otherwise the one constant table that defines the name (a name
  two tables define differently, like ``load_ia32_pat``, must then be qualified: ``exit.load_ia32_pat``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmxspec.sema import expressions as E
from vmxspec.sema import names as N
from vmxspec.sema.constants import describe_node
from vmxspec.sema.context import Context
from vmxspec.sema.expressions import Kind
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import AssertionProof as AssertionProofModel
from vmxspec.sema.model import ExitEvent, Proof, PropertyProof
from vmxspec.syntax import ast

_LOGIC = frozenset({ast.BinaryOp.AND, ast.BinaryOp.OR, ast.BinaryOp.IMPLIES})
_COMPARE = frozenset({ast.BinaryOp.EQ, ast.BinaryOp.NE, ast.BinaryOp.LT, ast.BinaryOp.LE, ast.BinaryOp.GT,
                      ast.BinaryOp.GE})
_SET_OPS = frozenset({ast.BinaryOp.BIT_OR, ast.BinaryOp.BIT_AND, ast.BinaryOp.SUB})
_BITMAP_ATTRS = {"msr_bitmap": "msr_bitmap", "msr_read": "msr_read", "msr_write": "msr_write",
                 "io_bitmap": "io", "io": "io", "exception_bitmap": "exceptions", "exceptions": "exceptions",
                 "vmread_bitmap": "vmread", "vmread": "vmread", "vmwrite_bitmap": "vmwrite", "vmwrite": "vmwrite"}
_ROLES = {"vmcs01": E.VmcsRole.VMCS01, "vmcs12": E.VmcsRole.VMCS12, "vmcs02": E.VmcsRole.VMCS02}

Resolved = tuple[E.Expr, Kind]


@dataclass
class Scope:
    """Where a condition is written: ``vm`` (fields are that VM's), ``nested`` (vmcs01/12/02 exist),
    and the variables bound around it."""

    vm: str | None = None
    nested: str | None = None
    bound: frozenset[str] = field(default_factory=frozenset)

    @property
    def label(self) -> str | None:
        return self.nested or self.vm

    def bind(self, names: list[str]) -> Scope:
        return Scope(self.vm, self.nested, self.bound | frozenset(names))


def field_of_word(word: str) -> tuple[str, int, N.BitNames | None] | None:
    """A control alias or VMCS field name (or alias): (Linux field name, width, its bit names)."""
    if word in N.CONTROL_ALIASES:
        which = N.CONTROL_ALIASES[word]
        return which.vmcs_field, which.width, N.CONTROL_BITS[which]
    vf = N.field_by_name(word)
    if vf is None:
        return None
    return vf.name, vf.bits, N.FIELD_BITS.get(vf.name)


class ExprResolver:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.report = ctx.reporter.report

    # ---- entry points ----

    def condition(self, node: ast.Expr, scope: Scope, what: str) -> E.Expr | None:
        found = self.expr(node, scope)
        if found is None:
            return None
        if found[1] is not Kind.BOOL:
            self.report("sema-type", f"{what} must be a condition, and this is a {found[1].value}"
                        + (" (compare it: '== 0', '!= 0')" if found[1] is Kind.VALUE else ""), node.span)
            return None
        return found[0]

    def expr(self, node: ast.Expr, scope: Scope, names: N.BitNames | None = None) -> Resolved | None:
        if isinstance(node, ast.Number):
            return E.Const(node.value, span=node.span), Kind.VALUE
        if isinstance(node, ast.Name):
            return self.name(node, scope, names)
        if isinstance(node, ast.Attribute):
            return self.attribute(node, scope)
        if isinstance(node, ast.Binary):
            return self.binary(node, scope, names)
        if isinstance(node, ast.Unary):
            return self.unary(node, scope, names)
        if isinstance(node, ast.Member):
            return self.member(node, scope, names)
        if isinstance(node, ast.Quantifier):
            return self.quantifier(node, scope)
        if isinstance(node, ast.Call):
            return self.call(node, scope)
        if isinstance(node, ast.Bits):
            return self.bits(node, scope, names)
        self.report("sema-type", f"{describe_node(node)} is not a value here", node.span)
        return None

    # ---- names ----

    def name(self, node: ast.Name, scope: Scope, names: N.BitNames | None) -> Resolved | None:
        word = node.name
        span = node.span
        if word in scope.bound:
            return E.Var(word, span=span), Kind.VALUE
        if scope.vm is not None:
            f = field_of_word(word)
            if f is not None:
                return E.FieldRef(E.VmcsRef(E.VmcsRole.VM, scope.vm), f[0], f[1], span=span), Kind.VALUE
        if word in _ROLES:
            if scope.nested is None:
                self.report("sema-unknown-name", f"'{word}' exists only inside a 'nested ... on VM {{ }}' block", span)
                return None
            ref = E.VmcsRef(_ROLES[word], scope.nested)
            return E.EntityRef(E.EntityKind.VMCS, word, ref, span=span), Kind.ENTITY
        if word in self.ctx.vm_nodes:
            return E.EntityRef(E.EntityKind.VM, word, span=span), Kind.ENTITY
        if word in self.ctx.iommu_nodes:
            return E.EntityRef(E.EntityKind.IOMMU, word, span=span), Kind.ENTITY
        if word == "hypervisor":
            return E.EntityRef(E.EntityKind.HYPERVISOR, word, span=span), Kind.ENTITY
        if word in self.ctx.shared_nodes:
            shared = self.ctx.shared.get(word)
            bounds = IntervalSet.span(shared.start, shared.end) if shared is not None else IntervalSet()
            return E.EntityRef(E.EntityKind.REGION, word, region=bounds, span=span), Kind.SET
        if names is not None and names.names:
            if word in names.names:
                return E.Const(names.names[word], span=span), Kind.VALUE
            if N.constants(word):
                self.report(names.code, f"'{word}' is not {names.title}{N.elsewhere(word)}", span)
                return None
        found = N.constants(word)
        values = {v for _, v in found}
        if len(values) == 1:
            return E.Const(values.pop(), span=span), Kind.VALUE
        if found:
            where = " and ".join(t.title for t, _ in found[:3])
            hint = ""
            fields = [a for a, f in N.CONTROL_ALIASES.items() if word in N.CONTROL_BITS[f].names]
            if fields:
                hint = f"; qualify it: {' or '.join(f'{a}.{word}' for a in fields)}"
            self.report("sema-ambiguous-name", f"'{word}' is {where}, with different values{hint}", span)
            return None
        if names is not None and names.names and names.code != "sema-unknown-name":
            self.report(names.code, f"'{word}' is not {names.title}{N.suggest(word, names.names)}", span)
            return None
        candidates = [*scope.bound, *self.ctx.vm_nodes, *self.ctx.iommu_nodes, *self.ctx.shared_nodes, "hypervisor"]
        if scope.vm is not None:
            candidates += N.VMCS_TARGETS
        if scope.nested is not None:
            candidates += list(_ROLES)
        hint = N.suggest(word, candidates) or N.suggest(word, N.all_constant_names())
        if scope.vm is None and N.field_by_name(word) is not None:
            hint = f"; VMCS fields are named with their VM here: VM.vmcs.{word}"
        self.report("sema-unknown-name", f"unknown name '{word}'{hint}", span)
        return None

    def attribute(self, node: ast.Attribute, scope: Scope) -> Resolved | None:
        attr = node.name.name
        span = node.span
        if isinstance(node.base, ast.Name) and node.base.name in N.CONTROL_ALIASES and \
                node.base.name not in scope.bound:
            value = self.ctx.consts.number(node, "a control bit")
            return (E.Const(value, span=span), Kind.VALUE) if value is not None else None
        base = self.expr(node.base, scope)
        if base is None:
            return None
        ref = base[0]
        if isinstance(ref, E.EntityRef) and ref.kind is E.EntityKind.VM:
            if attr == "ept":
                vm = self.ctx.vms.get(ref.name)
                if vm is not None and vm.ept is None:
                    self.report("sema-incomplete", f"'{ref.name}' has no ept {{ }} block", node.name.span)
                    return None
                return E.EntityRef(E.EntityKind.EPT, ref.name, span=span), Kind.ENTITY
            if attr == "vmcs":
                vref = E.VmcsRef(E.VmcsRole.VM, ref.name)
                return E.EntityRef(E.EntityKind.VMCS, ref.name, vref, span=span), Kind.ENTITY
            if attr == "ram":
                vm = self.ctx.vms.get(ref.name)
                region = vm.ram_set() if vm is not None else IntervalSet()
                return E.EntityRef(E.EntityKind.REGION, f"{ref.name}.ram", region=region, span=span), Kind.SET
            return self.vmcs_member(E.VmcsRef(E.VmcsRole.VM, ref.name), node, ["ept", "vmcs", "ram"])
        if isinstance(ref, E.EntityRef) and ref.kind is E.EntityKind.VMCS and ref.vmcs is not None:
            return self.vmcs_member(ref.vmcs, node, [])
        self.report("sema-unknown-name", f"'{attr}' is not a part of {describe_node(node.base)}", node.name.span)
        return None

    def vmcs_member(self, vmcs: E.VmcsRef, node: ast.Attribute, extra: list[str]) -> Resolved | None:
        attr = node.name.name
        f = field_of_word(attr)
        if f is not None:
            return E.FieldRef(vmcs, f[0], f[1], span=node.span), Kind.VALUE
        if attr in _BITMAP_ATTRS:
            return E.BitmapRef(vmcs, _BITMAP_ATTRS[attr], span=node.span), Kind.SET
        hint = N.suggest(attr, [*extra, *N.VMCS_TARGETS, *_BITMAP_ATTRS])
        self.report("sema-unknown-field", f"'{attr}' is not a VMCS field, control or bitmap of {vmcs}{hint}",
                    node.name.span)
        return None

    # ---- operators ----

    def binary(self, node: ast.Binary, scope: Scope, names: N.BitNames | None) -> Resolved | None:
        op = node.op
        if op in _LOGIC:
            lhs = self.condition(node.left, scope, f"the left side of '{op.value}'")
            rhs = self.condition(node.right, scope, f"the right side of '{op.value}'")
            if lhs is None or rhs is None:
                return None
            return E.Binary(op, lhs, rhs, span=node.span), Kind.BOOL
        swap = self._bare(node.left, scope) and not self._bare(node.right, scope)
        first = self.expr(node.right if swap else node.left, scope, names)
        if first is None:
            return None
        second = self.expr(node.left if swap else node.right, scope, names or _context_of(first[0]))
        if second is None:
            return None
        left, right = (second, first) if swap else (first, second)
        kinds = (left[1], right[1])
        if op in _COMPARE:
            if kinds != (Kind.VALUE, Kind.VALUE):
                self._operands(node, op, kinds, "numbers")
                return None
            return E.Binary(op, left[0], right[0], span=node.span), Kind.BOOL
        if kinds == (Kind.SET, Kind.SET) and op in _SET_OPS:
            return E.Binary(op, left[0], right[0], span=node.span), Kind.SET
        if kinds != (Kind.VALUE, Kind.VALUE):
            self._operands(node, op, kinds, "numbers (or, for | & -, two sets)")
            return None
        return E.Binary(op, left[0], right[0], span=node.span), Kind.VALUE

    def _operands(self, node: ast.Binary, op: ast.BinaryOp, kinds: tuple[Kind, Kind], wants: str) -> None:
        self.report("sema-type", f"'{op.value}' needs {wants}, not a {kinds[0].value} and a {kinds[1].value}",
                    node.span)

    def _bare(self, node: ast.Expr, scope: Scope) -> bool:
        """Whether ``node`` is made only of literals and names that are not fields or variables (so
        its names should be read in the other operand's context)."""
        if isinstance(node, ast.Number):
            return True
        if isinstance(node, ast.Name):
            return node.name not in scope.bound and not (scope.vm is not None and field_of_word(node.name))
        if isinstance(node, ast.Binary) and node.op not in _LOGIC and node.op not in _COMPARE:
            return self._bare(node.left, scope) and self._bare(node.right, scope)
        if isinstance(node, ast.Unary):
            return self._bare(node.operand, scope)
        return False

    def unary(self, node: ast.Unary, scope: Scope, names: N.BitNames | None) -> Resolved | None:
        if node.op is ast.UnaryOp.NOT:
            operand = self.condition(node.operand, scope, "the operand of 'not'")
            return (E.Unary(node.op, operand, span=node.span), Kind.BOOL) if operand is not None else None
        found = self.expr(node.operand, scope, names)
        if found is None:
            return None
        if found[1] not in (Kind.VALUE, Kind.SET):
            self.report("sema-type", f"'~' needs a number or a set, not a {found[1].value}", node.span)
            return None
        return E.Unary(node.op, found[0], span=node.span), found[1]

    def bits(self, node: ast.Bits, scope: Scope, names: N.BitNames | None) -> Resolved | None:
        base = self.expr(node.base, scope, names)
        high = self.ctx.consts.number(node.high, "a bit position", width=7)
        low = high if node.low is None else self.ctx.consts.number(node.low, "a bit position", width=7)
        if base is None or high is None or low is None:
            return None
        if base[1] is not Kind.VALUE:
            self.report("sema-type", f"bits of a {base[1].value}: '[ ]' selects bits of a number", node.span)
            return None
        if high < low or high > 63:
            self.report("sema-bad-range", f"bits {high}:{low} are not a bit range (write high:low, 0 to 63)",
                        node.span)
            return None
        return E.Slice(base[0], high, low, span=node.span), Kind.VALUE

    def member(self, node: ast.Member, scope: Scope, names: N.BitNames | None) -> Resolved | None:
        item = self.expr(node.item, scope, names)
        if item is None:
            return None
        if item[1] is not Kind.VALUE:
            self.report("sema-type", f"'in' tests a number, not a {item[1].value}", node.item.span)
            return None
        collection = self.collection(node.collection, scope, names or _context_of(item[0]))
        if collection is None:
            return None
        return E.Member(item[0], collection, span=node.span), Kind.BOOL

    def collection(self, node: ast.Expr, scope: Scope, names: N.BitNames | None) -> IntervalSet | E.Expr | None:
        """What ``in`` may test against: a range or set literal (constant), or a set expression."""
        if isinstance(node, ast.Range | ast.SetLiteral):
            return self.ctx.consts.domain(node, "a set", names or N.UNAMBIGUOUS)
        found = self.expr(node, scope, names)
        if found is None:
            return None
        if found[1] is not Kind.SET:
            self.report("sema-type", f"'in' needs a range or a set, not a {found[1].value}", node.span)
            return None
        ref = found[0]
        if isinstance(ref, E.EntityRef) and ref.region is not None:
            return ref.region
        return ref

    def quantifier(self, node: ast.Quantifier, scope: Scope) -> Resolved | None:
        bindings: list[E.Bound] = []
        inner = scope
        for b in node.bindings:
            domain = self.collection(b.domain, inner, None)
            if domain is None:
                return None
            bindings.append(E.Bound(b.var.name, domain, span=b.span))
            inner = inner.bind([b.var.name])
        body = self.condition(node.body, inner, f"the body of '{node.kind.value}'")
        if body is None:
            return None
        return E.Quantified(node.kind, tuple(bindings), body, span=node.span), Kind.BOOL

    # ---- calls ----

    def call(self, node: ast.Call, scope: Scope) -> Resolved | None:
        callee = node.callee
        if not isinstance(callee, ast.Name):
            self.report("sema-type", "only built-in functions can be called", callee.span)
            return None
        if callee.name in N.PROPERTIES:
            self.report("sema-arguments", f"'{callee.name}' is a property: prove it on its own ('prove "
                        f"{callee.name}(...)'), not inside a condition", callee.span)
            return None
        fn = N.FUNCTIONS.get(callee.name)
        if fn is None:
            self.report("sema-unknown-property", f"no function or property '{callee.name}'"
                        f"{N.suggest(callee.name, [*N.FUNCTIONS, *N.PROPERTIES])}", callee.span)
            return None
        signatures, result = fn
        args = self.arguments(node, callee.name, signatures, scope)
        if args is None:
            return None
        return E.Apply(callee.name, tuple(args), span=node.span), Kind(result)

    def arguments(self, node: ast.Call, name: str, signatures: tuple[tuple[str, ...], ...],
                  scope: Scope) -> list[E.Expr] | None:
        """The arguments, checked against the signature with their number of arguments."""
        kinds = next((k for k in signatures if len(k) == len(node.args)), None)
        if kinds is None:
            shown = " or ".join(_signature(k) for k in signatures)
            self.report("sema-arguments", f"'{name}' takes {shown}, not {len(node.args)}", node.span)
            return None
        out: list[E.Expr] = []
        for i, (arg, kind) in enumerate(zip(node.args, kinds, strict=True)):
            resolved = self.argument(arg, kind, scope, f"argument {i + 1} of '{name}'")
            if resolved is None:
                return None
            out.append(resolved)
        return out

    def argument(self, node: ast.Expr, kind: str, scope: Scope, what: str) -> E.Expr | None:
        if kind == "rights":
            return self.rights(node, what)
        if isinstance(node, ast.Bdf):
            if kind != "device":
                self.report("sema-arguments", f"{what} must be {_KIND_WORDS[kind]}, not a PCI address", node.span)
                return None
            bdf = (node.segment or 0, node.bus, node.device, node.function)
            name = f"{bdf[0]:04x}:{bdf[1]:02x}:{bdf[2]:02x}.{bdf[3]}"
            return E.EntityRef(E.EntityKind.DEVICE, name, bdf=bdf, span=node.span)
        if kind == "region" and isinstance(node, ast.Range):
            r = self.ctx.consts.range(node, what)
            if r is None:
                return None
            if not self.ctx.host_range(r[0], r[1], node.span, "the region"):
                return None
            return E.EntityRef(E.EntityKind.REGION, "region", region=IntervalSet.span(*r), span=node.span)
        found = self.expr(node, scope)
        if found is None:
            return None
        ref, got = found
        if kind == "value":
            if got is Kind.VALUE:
                return ref
        elif isinstance(ref, E.EntityRef):
            ek = ref.kind
            if kind in ("paging", "ept") and ek is E.EntityKind.VM:
                vm = self.ctx.vms.get(ref.name)
                if vm is not None and vm.ept is None:
                    self.report("sema-incomplete", f"'{ref.name}' has no ept {{ }} block", node.span)
                    return None
                return E.EntityRef(E.EntityKind.EPT, ref.name, span=ref.span)
            accepted = {
                "vm": {E.EntityKind.VM}, "vm_or_vmcs": {E.EntityKind.VM, E.EntityKind.VMCS},
                "host": {E.EntityKind.VM, E.EntityKind.HYPERVISOR}, "paging": {E.EntityKind.EPT, E.EntityKind.IOMMU},
                "ept": {E.EntityKind.EPT},
                "iommu": {E.EntityKind.IOMMU}, "region": {E.EntityKind.HYPERVISOR, E.EntityKind.REGION},
                "vmcs": {E.EntityKind.VMCS},
            }[kind]
            if kind == "region" and ek is E.EntityKind.REGION and ref.name.endswith(".ram"):
                self.report("sema-arguments", f"{what} must be host-physical memory; '{ref.name}' is the VM's "
                            "guest-physical RAM (give the host range it is backed by)", node.span)
                return None
            if ek in accepted and not (kind == "vmcs" and (ref.vmcs is None or ref.vmcs.role is E.VmcsRole.VM)):
                return ref
        self.report("sema-arguments", f"{what} must be {_KIND_WORDS[kind]}, not {_describe(found)}", node.span)
        return None

    def rights(self, node: ast.Expr, what: str) -> E.Expr | None:
        """Access rights written as a word of r, w, x (``protects(R, rw)``): their EPT permission bits."""
        if not isinstance(node, ast.Name):
            self.report("sema-arguments", f"{what} must be {_KIND_WORDS['rights']}, not {describe_node(node)}",
                        node.span)
            return None
        found = N.rights(node.name)
        if found is None:
            self.report("sema-access", f"'{node.name}' is not a set of access rights: {N.rights_problem(node.name)}",
                        node.span)
            return None
        return E.Const(found, span=node.span)

    # ---- statements ----

    def prove(self, node: ast.Prove, scope: Scope) -> Proof | None:
        claim = node.claim
        if isinstance(claim, ast.Call) and isinstance(claim.callee, ast.Name) and claim.callee.name in N.PROPERTIES:
            return self.property(node, claim, claim.callee.name, scope)
        if node.events is not None:
            self.report("sema-arguments", "only 'exits(VM)' takes a list of events", claim.span)
            return None
        condition = self.condition(claim, scope, "what 'prove' proves")
        if condition is None:
            return None
        return AssertionProofModel(condition, scope.label, span=node.span)

    def property(self, node: ast.Prove, claim: ast.Call, name: str, scope: Scope) -> Proof | None:
        if name in N.NESTED_PROPERTIES and scope.nested is None:
            self.report("sema-arguments", f"'{name}' compares the VMCSs of a nested block: prove it inside "
                        "'nested ... on VM { }'", claim.callee.span)
            return None
        if name == "exits" and node.events is None:
            self.report("sema-arguments", "'exits' needs the events that must exit: prove exits(VM) { CPUID, "
                        "WRMSR IA32_EFER, ... }", claim.span)
            return None
        if name != "exits" and node.events is not None:
            self.report("sema-arguments", f"'{name}' takes no list of events (only 'exits' does)", claim.span)
            return None
        args = self.arguments(claim, name, N.PROPERTIES[name], scope)
        if args is None:
            return None
        events = None
        if node.events is not None:
            resolved = [self.event(e) for e in node.events]
            if any(e is None for e in resolved):
                return None
            events = tuple(e for e in resolved if e is not None)
        return PropertyProof(name, tuple(args), events, scope.label, span=node.span)

    def event(self, node: ast.Event) -> ExitEvent | None:
        word = node.name.name
        kind = N.EVENTS.get(word)
        if kind is None:
            if word in N.NOT_MODELLED_EVENTS:
                self.report("sema-unknown-event", f"vmxspec does not model {word}'s exits: "
                            f"{N.NOT_MODELLED_EVENTS[word]}", node.name.span)
            else:
                self.report("sema-unknown-event", f"unknown event '{word}'{N.suggest(word, N.EVENTS)}", node.name.span)
            return None
        if node.arg is None:
            return ExitEvent(word, kind.kind, kind.operand, None, span=node.span)
        if kind.operand is None:
            self.report("sema-arguments", f"{word} takes no operand", node.arg.span)
            return None
        values = self.ctx.consts.domain(node.arg, f"the {kind.operand} of {word}", kind.names, kind.width)
        if values is None:
            return None
        if kind.operand == "gpa" and values.last is not None and \
                not self.ctx.host_range(values.first or 0, values.last + 1, node.arg.span, "the address"):
            return None
        return ExitEvent(word, kind.kind, kind.operand, values, span=node.span)


def _signature(kinds: tuple[str, ...]) -> str:
    words = [_KIND_WORDS[k] for k in kinds]
    count = f"{len(kinds)} argument{'s' if len(kinds) != 1 else ''}"
    shown = f"each {words[0]}" if len(set(words)) == 1 and len(words) > 1 else "; ".join(words)
    return f"{count} ({shown})"


_KIND_WORDS = {
    "vm": "a VM",
    "vm_or_vmcs": "a VM (or, in a nested block, a VMCS)",
    "host": "a VM or 'hypervisor'",
    "paging": "translation tables (a VM, VM.ept or an IOMMU)",
    "ept": "an EPT (a VM or VM.ept)",
    "iommu": "an IOMMU",
    "region": "a host range, a shared region or 'hypervisor'",
    "rights": "access rights (letters of r, w, x: w, rw, rwx ...)",
    "vmcs": "vmcs01, vmcs12 or vmcs02",
    "value": "a number",
    "device": "a PCI device (BB:DD.F)",
}


def _describe(found: Resolved) -> str:
    ref, kind = found
    if isinstance(ref, E.EntityRef):
        return {E.EntityKind.VM: "a VM", E.EntityKind.EPT: "an EPT", E.EntityKind.IOMMU: "an IOMMU",
                E.EntityKind.HYPERVISOR: "'hypervisor'", E.EntityKind.VMCS: "a VMCS",
                E.EntityKind.REGION: "a region", E.EntityKind.DEVICE: "a device"}[ref.kind] + f" ('{ref.name}')"
    return f"a {kind.value}"


def _context_of(expr: E.Expr) -> N.BitNames | None:
    """The bit names an expression's value is spelled with: those of the first field it reads."""
    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, E.FieldRef):
            return N.FIELD_BITS.get(e.field)
        if isinstance(e, E.Binary):
            stack.extend((e.right, e.left))
        elif isinstance(e, E.Unary):
            stack.append(e.operand)
    return None
