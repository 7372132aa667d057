"""``nested NAME on VM { }``: L0's view of nested virtualization.

vmcs01 is the VM's own VMCS (L0 runs L1 with it); ``vmcs12 = any within SOURCE without { bits }``
says which VMCSs L1 may write (every one whose controls SOURCE's capability MSRs allow, minus the
listed control bits); ``vmcs02.X = expr`` says how L0 builds each part of the VMCS it runs L2 with,
from vmcs01 and vmcs12. Properties inside the block (``preserves_exits``, ``honors_exits``,
``entry_safe``) quantify over every such vmcs12.
"""

from __future__ import annotations

from vmxspec.arch.controls import ControlField
from vmxspec.arch.presets import PRESETS
from vmxspec.sema import expressions as E
from vmxspec.sema import names as N
from vmxspec.sema.claims import ExprResolver, Scope, field_of_word
from vmxspec.sema.context import Context
from vmxspec.sema.expressions import Kind
from vmxspec.sema.model import Assumption, Definition, Nested, Proof, Vmcs12Bounds
from vmxspec.sema.reporter import note
from vmxspec.syntax import ast

_BITMAP_TARGETS = ("msr_bitmap", "io_bitmap", "vmread_bitmap", "vmwrite_bitmap")


class NestedResolver:
    def __init__(self, node: ast.Nested, ctx: Context) -> None:
        self.node = node
        self.ctx = ctx
        self.name = node.name.name
        self.scope = Scope(nested=self.name)
        self.exprs = ExprResolver(ctx)
        self.vmcs12: Vmcs12Bounds | None = None
        self.vmcs02: dict[str, Definition] = {}
        self.assumptions: list[Assumption] = []
        self.proofs: list[Proof] = []

    def run(self) -> Nested | None:
        vm = self.node.vm
        if vm.name not in self.ctx.vm_nodes:
            self.ctx.report("sema-unknown-name", f"no VM '{vm.name}'{N.suggest(vm.name, self.ctx.vm_nodes)}", vm.span)
            return None
        for item in self.node.items:
            if isinstance(item, ast.Setting):
                self.setting(item)
            elif isinstance(item, ast.Assume):
                condition = self.exprs.condition(item.condition, self.scope, "an assumption")
                if condition is not None:
                    self.assumptions.append(Assumption(condition, self.name, span=item.span))
            else:
                proof = self.exprs.prove(item, self.scope)
                if proof is not None:
                    self.proofs.append(proof)
        return Nested(self.name, vm.name, self.vmcs12, self.vmcs02, tuple(self.assumptions), tuple(self.proofs),
                      span=self.node.span)

    def setting(self, item: ast.Setting) -> None:
        target = item.target
        if item.op is not ast.AssignOp.SET:
            self.ctx.report("sema-type", f"define it with '=': '{item.op.value}' has nothing to add to in a nested "
                            "block", item.span)
            return
        if isinstance(target, ast.Name) and target.name == "vmcs12":
            self.bounds(item)
            return
        if isinstance(target, ast.Attribute) and isinstance(target.base, ast.Name):
            role = target.base.name
            if role == "vmcs02":
                self.definition(item, target)
                return
            if role in ("vmcs01", "vmcs12"):
                self.ctx.report("sema-type", f"{role} is not defined here: "
                                + ("it is the VM's own VMCS, set in its vmcs { } block" if role == "vmcs01"
                                   else "it is whatever L1 writes; bound it with 'vmcs12 = any within ...'"),
                                target.base.span)
                return
        self.ctx.report("sema-unknown-name", "a nested block defines 'vmcs12 = any ...' and 'vmcs02.FIELD = ...'",
                        target.span)

    def bounds(self, item: ast.Setting) -> None:
        value = item.value
        if not isinstance(value, ast.AnyValue):
            self.ctx.report("sema-type", "vmcs12 is whatever L1 writes: give it as 'any within platform', optionally "
                            "'without { control bits }'", value.span)
            return
        if value.width is not None or value.domain is not None:
            bad = value.width if value.width is not None else value.domain
            assert bad is not None
            self.ctx.report("sema-type", "a whole vmcs12 has no width or 'in' set: bound it with 'within' and "
                            "'without'", bad.span)
            return
        if self.vmcs12 is not None:
            self.ctx.reporter.report("sema-duplicate", "vmcs12 is bounded twice", item.span,
                                     note("first bounded here", self.vmcs12.span))
            return
        source: str | None = None
        caps = None
        if value.within is not None:
            w = value.within
            if isinstance(w, ast.Name) and w.name == "platform":
                if self.ctx.platform is None:
                    self.ctx.report("sema-incomplete", "'within platform' needs a 'platform' statement", w.span)
                    return
                source, caps = "platform", dict(self.ctx.platform.caps)
            elif isinstance(w, ast.Name) and w.name in PRESETS:
                source, caps = w.name, dict(PRESETS[w.name].caps)
            else:
                shown = w.name if isinstance(w, ast.Name) else "this"
                self.ctx.report("sema-unknown-preset", f"'{shown}' is neither 'platform' nor a platform preset"
                                f"{N.suggest(shown, [*PRESETS, 'platform'])}", w.span)
                return
        excluded: dict[ControlField, int] = {}
        if value.without is not None:
            items = value.without.items if isinstance(value.without, ast.SetLiteral) else (value.without,)
            for node in items:
                found = self.control_bit(node)
                if found is None:
                    return
                excluded[found[0]] = excluded.get(found[0], 0) | found[1]
        self.vmcs12 = Vmcs12Bounds(source, caps, excluded, span=item.span)

    def control_bit(self, node: ast.Expr) -> tuple[ControlField, int] | None:
        """A control bit named alone (when only one control field has it) or as ``field.bit``."""
        if isinstance(node, ast.Attribute) and isinstance(node.base, ast.Name) and \
                node.base.name in N.CONTROL_ALIASES:
            which = N.CONTROL_ALIASES[node.base.name]
            v = self.ctx.consts.name(node.name, "an excluded control bit", N.CONTROL_BITS[which])
            return None if v is None else (which, v)
        if not isinstance(node, ast.Name):
            self.ctx.report("sema-type", "'without' lists control bits (enable_vm_functions, proc.hlt_exiting)",
                            node.span)
            return None
        owners = [f for f in ControlField if node.name in N.CONTROL_BITS[f].names]
        if len(owners) == 1:
            return owners[0], N.CONTROL_BITS[owners[0]].names[node.name]
        if owners:
            self.ctx.report("sema-ambiguous-name", f"'{node.name}' is a bit of "
                            f"{' and of '.join(f.value for f in owners)}; qualify it: "
                            f"{' or '.join(f'{f.value}.{node.name}' for f in owners)}", node.span)
            return None
        every = [n for f in ControlField for n in N.CONTROL_BITS[f].names]
        self.ctx.report("sema-unknown-control-bit", f"'{node.name}' is not a control bit"
                        f"{N.suggest(node.name, every)}", node.span)
        return None

    def definition(self, item: ast.Setting, target: ast.Attribute) -> None:
        word = target.name.name
        if word in _BITMAP_TARGETS:
            name, expected, names = word, Kind.SET, None
        else:
            f = field_of_word(word)
            if f is None:
                self.ctx.report("sema-unknown-field", f"'{word}' is not a VMCS field, control or bitmap"
                                f"{N.suggest(word, [*N.VMCS_TARGETS, *_BITMAP_TARGETS])}", target.name.span)
                return
            name, expected, names = f[0], Kind.VALUE, f[2]
        if name in self.vmcs02:
            self.ctx.reporter.report("sema-duplicate", f"vmcs02.{word} is defined twice", item.span,
                                     note("first defined here", self.vmcs02[name].span))
            return
        found = self.exprs.expr(item.value, self.scope, names)
        if found is None:
            return
        if found[1] is not expected:
            self.ctx.report("sema-type", f"vmcs02.{word} is a {expected.value}, but this is a {found[1].value}",
                            item.value.span)
            return
        expr: E.Expr = found[0]
        self.vmcs02[name] = Definition(name, expr, span=item.span)


def resolve_nested(node: ast.Nested, ctx: Context) -> Nested | None:
    return NestedResolver(node, ctx).run()
