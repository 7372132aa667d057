"""Whether a spec's assumptions can hold at all.

The translation properties never read what ``assume`` constrains (VMCS fields), so they need no
solver to decide; but a proof under assumptions nothing satisfies is vacuous, and DESIGN.md says a
vacuous proof is reported as such, never as proved. This asks the solver, once per spec, whether
the top-level and per-VM assumptions, together with what each open field admits (its width, its
``in`` set, its bits that must be 0), have a solution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from vmxspec import ir
from vmxspec.arch import vmcs_fields
from vmxspec.sema.expressions import Apply, BitmapRef, Expr, FieldRef, VmcsRole
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered, LoweringError, lower_condition
from vmxspec.sema.model import Model, Open
from vmxspec.symbolic.solver import Assumption, Proved, Vacuous, prove


@dataclass(frozen=True, slots=True)
class Satisfiable:
    """``status`` is "sat", "vacuous" (no solution), "unknown" (the solver gave up, or an
    assumption could not be lowered: ``reason`` says which)."""

    status: str
    reason: str = ""


class _Env:
    """Fields lower to constants where the spec fixes them and to variables where it leaves them
    open; each open field's own constraints are collected in ``constraints``."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.constraints: list[ir.Term] = []
        self.seen: set[str] = set()

    def field(self, ref: FieldRef) -> ir.Term:
        vm = self.model.vms.get(ref.vmcs.owner) if ref.vmcs.role is VmcsRole.VM else None
        if vm is None:
            raise LoweringError(f"{ref.vmcs} is not a VM's VMCS", ref)
        width = vmcs_fields.BY_NAME[ref.field].bits
        value = vm.vmcs.fields.get(ref.field)
        if value is None:
            control = next((c for c in vm.vmcs.controls.values() if c.field.vmcs_field == ref.field), None)
            if control is None:
                raise LoweringError(f"{ref.field} of {vm.name} is not set by the spec", ref)
            return ir.bv(control.value, width)
        if not isinstance(value.value, Open):
            return ir.bv(value.value, width)
        name = f"{vm.name}.{ref.field}"
        var = ir.var(name, width)
        if name not in self.seen:
            self.seen.add(name)
            self.constraints.append(_admits(var, value.value, width))
        return var

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        vm = self.model.vms.get(ref.vmcs.owner) if ref.vmcs.role is VmcsRole.VM else None
        found = vm.vmcs.intercepts.get(ref.bitmap) if vm is not None else None
        if found is None:
            raise LoweringError(f"{ref.vmcs} has no {ref.bitmap} intercept list", ref)
        return found

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        raise LoweringError(f"'{node.function}' in an assumption is not supported here", node)


def _admits(var: ir.Term, value: Open, width: int) -> ir.Term:
    parts = []
    if value.width < width:
        parts.append(ir.ult(var, 1 << value.width))
    if value.zero:
        parts.append(ir.eq(ir.bvand(var, value.zero & ((1 << width) - 1)), 0))
    if value.domain is not None:
        parts.append(ir.or_(*(ir.in_range(var, lo, min(hi, 1 << width)) for lo, hi in value.domain if lo < 1 << width)))
    return ir.and_(*parts) if parts else ir.TRUE


_CACHE: list[tuple[Model, Satisfiable]] = []


def satisfiable(model: Model, timeout_ms: int, rlimit: int) -> Satisfiable:
    """Whether the spec's top-level and VM assumptions have a solution (cached per model)."""
    if _CACHE and _CACHE[0][0] is model:
        return _CACHE[0][1]
    conditions = [a.condition for a in model.assumptions]
    for vm in model.vms.values():
        conditions.extend(a.condition for a in vm.assumptions)
    if not conditions:
        found = Satisfiable("sat")
    else:
        env = _Env(model)
        try:
            terms = [lower_condition(c, env) for c in conditions]
        except LoweringError as exc:
            found = Satisfiable("unknown", f"an assumption cannot be checked for consistency: {exc}")
        else:
            assumptions = [Assumption(t) for t in (*terms, *env.constraints)]
            verdict = prove(ir.TRUE, assumptions, timeout_ms=timeout_ms, rlimit=rlimit)
            found = (Satisfiable("sat") if isinstance(verdict, Proved) else Satisfiable("vacuous")
                     if isinstance(verdict, Vacuous) else Satisfiable("unknown", f"the solver could not tell whether "
                                                                     f"the assumptions can hold ({verdict.status})"))
    _CACHE[:] = [(model, found)]
    return found
