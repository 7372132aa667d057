"""Nested exits: does every event that exits under one VMCS (vmcs01, or L1's vmcs12) still exit
under the vmcs02 L0 builds, for every vmcs12 L1 may write?

Three views of a VMCS feed the same exit encoders as ``exits(VM)``:

* vmcs01 is the VM's own, concrete ``VmcsView``;
* vmcs12 is ``FreeVmcs``: every field a variable (``vmcs12.NAME``), constrained by the caller with
  the block's bounds and assumptions, and every bitmap an uninterpreted predicate over its index
  space (MSR indices, ports, field encodings): "any bitmap L1 may write" is exactly an arbitrary
  predicate, and Z3 decides quantifier-free formulas over one without arrays;
* vmcs02 is ``DerivedVmcs``: the fields the nested block defines are terms over the other two; the
  bitmaps it defines are set expressions (union, intersection, difference) over theirs; every other
  field is vmcs01's (L0's host state and structure addresses; the guest-state area, vmcs12's, is
  never read by an exit decision).

For one event, a violation is an operand, guest context and vmcs12 for which the event exits by
its own rule under the first VMCS (``Decision.exits_itself``: no fault first, not blocked) and
escapes under vmcs02 (``Decision.escape``). The witness is vmcs02 made concrete (fields and bitmap
pages), with the interpreter question that replays the escape.

With ``explain``, a proof is repeated with facts freed one at a time (``check.needed``): vmcs01's
given fields and bitmap regions, vmcs02's definitions (``("def", FIELD)``, ``("setdef",
TARGET)``: the defined value becomes unknown), and the labelled constraints (domains, bounds,
assumptions); a violation moves the fewest open values (vmcs01's open fields, the vmcs12 fields the
escape reads) off their defaults.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import z3

from vmxspec import ir
from vmxspec.state.model import State
from vmxspec.symbolic.exits import bitmaps
from vmxspec.symbolic.exits.check import (
    MTF_REASON,
    EventResult,
    Explaining,
    General,
    Needs,
    Status,
    Witness,
    bounded_solver,
    fewest_open_changes,
    free_constants,
    needed,
    readable_model,
    solver_unknown_reason,
)
from vmxspec.symbolic.exits.decision import Decision, Values
from vmxspec.symbolic.exits.encode import EventQuery, build
from vmxspec.symbolic.exits.env import Env
from vmxspec.symbolic.exits.ept import EptUnsupported
from vmxspec.symbolic.exits.guest import Guest
from vmxspec.symbolic.exits.msr_io import IO_BITMAP_BITS, IO_LAYOUT, MSR_LAYOUT, MSR_REGION_BITS
from vmxspec.symbolic.exits.terms import BV, FALSE, TRUE, Bool, Runs, bv, complement, zext
from vmxspec.symbolic.exits.vmcs import ALL_FACTS, FREE_PREFIX, UNSET_PREFIX, Fact, NotConcrete, VmcsView, width_of
from vmxspec.symbolic.ir_to_z3 import Encoder
from vmxspec.symbolic.solver import Budget

# ---- bitmap sets --------------------------------------------------------------------------------

#: The index space of each intercept set (sema's names): bits of the index.
SET_WIDTH = {"msr_read": 32, "msr_write": 32, "io": 16, "vmread": 15, "vmwrite": 15}
#: The vmcs02 definition target that holds each set.
SET_TARGET = {"msr_read": "msr_bitmap", "msr_write": "msr_bitmap", "io": "io_bitmap", "vmread": "vmread_bitmap",
              "vmwrite": "vmwrite_bitmap"}


def regions() -> dict[tuple[str, int], tuple[str, int, int]]:
    """(address field, byte offset) -> (set, first index, bits) for every bitmap page region."""
    out = {("MSR_BITMAP", offset): ("msr_write" if write else "msr_read", first, MSR_REGION_BITS)
           for (write, _), (offset, first, _) in MSR_LAYOUT.items()}
    out.update({(f, 0): ("io", first, IO_BITMAP_BITS) for f, first in IO_LAYOUT})
    out.update({("VMREAD_BITMAP", 0): ("vmread", 0, 1 << 15), ("VMWRITE_BITMAP", 0): ("vmwrite", 0, 1 << 15)})
    return out


@dataclass(frozen=True, slots=True)
class SetRef:
    """An intercept set of vmcs01 or vmcs12 (``msr_bitmap`` stands for the read or write set the
    region asks about)."""

    role: str
    bitmap: str


@dataclass(frozen=True, slots=True)
class SetOp:
    op: str  # "or", "and", "sub"
    left: SetExpr
    right: SetExpr


SetExpr = SetRef | SetOp


def _set_name(ref: SetRef, asked: str) -> str:
    return asked if ref.bitmap == "msr_bitmap" else ref.bitmap


class FreeVmcs(VmcsView):
    """vmcs12: every field a variable, every bitmap an uninterpreted predicate."""

    def __init__(self, prefix: str = "vmcs12.") -> None:
        super().__init__(State())
        self.prefix = prefix
        self.vars: dict[str, BV] = {}
        self.sets: dict[str, z3.FuncDeclRef] = {}

    def field(self, name: str) -> BV:
        if name not in self.reads:
            self.reads.append(name)
        var = self.vars.get(name)
        if var is None:
            var = z3.BitVec(self.prefix + name, width_of(name))
            self.vars[name] = var
        return var

    def concrete(self, name: str) -> int | None:
        return None

    def member(self, set_name: str, index: BV) -> Bool:
        fn = self.sets.get(set_name)
        if fn is None:
            fn = z3.Function(f"{self.prefix}{set_name}", z3.BitVecSort(SET_WIDTH[set_name]), z3.BoolSort())
            self.sets[set_name] = fn
        return fn(index)

    def bitmap_runs(self, address_field: str, byte_offset: int, nbits: int) -> Runs:
        raise NotConcrete(address_field, f"is {self.prefix[:-1]}'s: its bitmap is any bitmap")

    def bitmap_bit(self, address_field: str, byte_offset: int, nbits: int, index: BV) -> Bool:
        set_name, first, _ = regions()[(address_field, byte_offset)]
        width = SET_WIDTH[set_name]
        return self.member(set_name, zext(index, width) + bv(first, width))


def base_member(base: VmcsView, set_name: str, x: BV) -> Bool:
    """Membership of ``x`` in a concrete VMCS's intercept set (indices outside every region of the
    set are in it: MSRs outside both ranges always exit)."""
    cases: list[tuple[Bool, Bool]] = []
    width = SET_WIDTH[set_name]
    for (address, offset), (name, first, nbits) in regions().items():
        if name != set_name:
            continue
        inside = z3.And(z3.UGE(x, bv(first, width)), z3.ULE(x, bv(first + nbits - 1, width)))
        index = z3.Extract(nbits.bit_length() - 2, 0, x - bv(first, width))
        cases.append((inside, base.bitmap_bit(address, offset, nbits, index)))
    out: Bool = TRUE
    for inside, value in reversed(cases):
        out = z3.If(inside, value, out)
    return out


class DerivedVmcs(VmcsView):
    """vmcs02: defined fields as terms, defined bitmaps as set expressions, the rest vmcs01's."""

    def __init__(self, base: VmcsView, free: FreeVmcs, fields: Mapping[str, BV], sets: Mapping[str, SetExpr],
                 freed: frozenset[Fact] = frozenset(), track: bool = False) -> None:
        super().__init__(base.state, freed=freed, track=track)
        self.base = base
        self.free = free
        self.defined = dict(fields)
        self.set_defs = dict(sets)

    def field(self, name: str) -> BV:
        if name not in self.reads:
            self.reads.append(name)
        term = self.defined.get(name)
        if term is None:
            return self.base.field(name)
        if self._use(("def", name)):  # --explain: the definition's value is unknown
            var = z3.BitVec(f"{FREE_PREFIX}vmcs02.{name}", term.size())
            if ("def", name) not in self.tracked:
                self.pin_back(("def", name), var == term)
            return var
        return term

    def concrete(self, name: str) -> int | None:
        return None if name in self.defined else self.base.concrete(name)

    def evaluate(self, expr: SetExpr, set_name: str, x: BV) -> Bool:
        if isinstance(expr, SetRef):
            name = _set_name(expr, set_name)
            if expr.role == "vmcs12":
                return self.free.member(name, zext(x, SET_WIDTH[name]))
            return base_member(self.base, name, zext(x, SET_WIDTH[name]))
        left, right = self.evaluate(expr.left, set_name, x), self.evaluate(expr.right, set_name, x)
        if expr.op == "or":
            return z3.Or(left, right)
        if expr.op == "and":
            return z3.And(left, right)
        return z3.And(left, z3.Not(right))

    def bitmap_bit(self, address_field: str, byte_offset: int, nbits: int, index: BV) -> Bool:
        set_name, first, _ = regions()[(address_field, byte_offset)]
        definition = self.set_defs.get(SET_TARGET[set_name])
        if definition is None:
            return self.base.bitmap_bit(address_field, byte_offset, nbits, index)
        width = SET_WIDTH[set_name]
        x = zext(index, width) + bv(first, width)
        if self._use(("setdef", SET_TARGET[set_name])):  # --explain: the defined set is unknown
            fn = z3.Function(f"{FREE_PREFIX}vmcs02.{set_name}", z3.BitVecSort(width), z3.BoolSort())
            self.pin_back(("setdef", SET_TARGET[set_name]), fn(x) == self.evaluate(definition, set_name, x))
            return fn(x)
        return self.evaluate(definition, set_name, x)


# ---- making vmcs02 concrete -----------------------------------------------------------------------

def _runs_of_model(model: z3.ModelRef, fn: z3.FuncDeclRef | None, width: int) -> Runs:
    """The set a model gives an uninterpreted predicate: its explicit entries and its default."""
    if fn is None:
        return ()
    interp = model[fn]
    if interp is None:
        return ()
    if isinstance(interp, z3.FuncInterp):
        default = z3.is_true(interp.else_value())
        entries = [interp.entry(i) for i in range(interp.num_entries())]
        flipped = sorted(e.arg_value(0).as_long() for e in entries if z3.is_true(e.value()) != default)
        listed: Runs = tuple((v, v + 1) for v in flipped)
        return complement(listed, 1 << width) if default else listed
    return ((0, 1 << width),) if z3.is_true(interp) else ()


def _union(a: Runs, b: Runs) -> Runs:
    out: list[list[int]] = []
    for lo, hi in sorted((*a, *b)):
        if out and lo <= out[-1][1]:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return tuple((lo, hi) for lo, hi in out)


def _runs_expr(view: DerivedVmcs, model: z3.ModelRef, expr: SetExpr, set_name: str) -> Runs:
    width = SET_WIDTH[set_name]
    if isinstance(expr, SetRef):
        name = _set_name(expr, set_name)
        if expr.role == "vmcs12":
            return _runs_of_model(model, view.free.sets.get(name), width)
        out: Runs = ()
        for (address, offset), (region_set, first, nbits) in regions().items():
            if region_set == name:
                out = _union(out, bitmaps.shift(view.base.bitmap_runs(address, offset, nbits), first))
        inside = tuple(sorted((first, first + nbits) for (_, _), (s, first, nbits) in regions().items() if s == name))
        return _union(out, complement(inside, 1 << width))
    left, right = _runs_expr(view, model, expr.left, set_name), _runs_expr(view, model, expr.right, set_name)
    if expr.op == "or":
        return _union(left, right)
    universe = 1 << width
    if expr.op == "and":
        return complement(_union(complement(left, universe), complement(right, universe)), universe)
    return complement(_union(complement(left, universe), right), universe)


def _write_bits(memory: dict[int, int], base: int, runs: Runs, first: int, nbits: int) -> None:
    """The bitmap region at ``base``: bit ``i`` set iff ``first + i`` lies in ``runs``."""
    for i in range(0, nbits, 64):
        memory.pop(base + i // 8, None)
    for lo, hi in runs:
        lo, hi = max(lo - first, 0), min(hi - first, nbits)
        for bit in range(lo, hi):
            address = base + (bit >> 6) * 8
            memory[address] = memory.get(address, 0) | 1 << (bit & 63)


def concrete_vmcs02(view: DerivedVmcs, values: Values) -> tuple[dict[str, int], dict[int, int]]:
    """vmcs02's defined fields and its memory (vmcs01's, with the defined bitmap pages rewritten)."""
    vmcs = {name: values(term) for name, term in view.defined.items()}
    memory = dict(view.base.state.memory)
    for (address, offset), (set_name, first, nbits) in regions().items():
        definition = view.set_defs.get(SET_TARGET[set_name])
        if definition is None:
            continue
        page = view.base.state.vmcs.get(address, vmcs.get(address))
        if page is None:  # vmcs01 has no such page: put vmcs02's after everything else in memory
            page = (max(memory, default=0xFFF) | 0xFFF) + 1
            vmcs[address] = page
        runs = _runs_expr(view, values.model, definition, set_name)
        _write_bits(memory, page + offset, runs, first, nbits)
    return vmcs, memory


# ---- the check ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NestedProblem:
    """vmcs01 (the built ``state`` with its ``open_vars``), vmcs02's definitions (field terms over
    vmcs01's values and the ``vmcs12.NAME`` variables; bitmap set expressions), and the constraints
    on the open values and vmcs12 (domains, bounds, assumptions)."""

    state: State
    open_vars: Mapping[str, BV] = field(default_factory=dict)
    fields02: Mapping[str, BV] = field(default_factory=dict)
    sets02: Mapping[str, SetExpr] = field(default_factory=dict)
    constraints: Sequence[Bool] = ()
    #: Which VMCS must not lose exits: "vmcs01" (preserves_exits) or "vmcs12" (honors_exits).
    reference: str = "vmcs01"
    #: vmcs12 values a counterexample should keep when it can (the fewest control bits set), so
    #: that it shows the one setting the escape needs.
    preferred: Mapping[str, int] = field(default_factory=dict)
    #: For ``--explain``: the constraints that stand for a spec line (index -> label; several may
    #: share one), and each open vmcs01 field's default.
    labels: Mapping[int, str] = field(default_factory=dict)
    defaults: Mapping[str, int] = field(default_factory=dict)
    #: For ``--explain`` (definitions lowered with vmcs01's given fields as ``free.NAME``): the
    #: equality pinning each such variable, by fact.
    pins: Mapping[Fact, Bool] = field(default_factory=dict)


#: Control-register events whose vmcs01 decision compares with L1's read shadow, which means
#: nothing to L2: for them "vmcs01 exits" is "a bit L0 owns changes", and L2 can change a bit
#: without an exit exactly when vmcs02's guest/host mask does not own it. (event -> (CR, bits)).
OWNED_BITS: dict[str, tuple[int, int]] = {"MOV_TO_CR0": (0, (1 << 64) - 1), "MOV_TO_CR4": (4, (1 << 64) - 1),
                                          "LMSW": (0, 0xF), "CLTS": (0, 1 << 3)}


def ownership_lost(base: VmcsView, vmcs02: VmcsView, cr: int, bits: int) -> BV:
    """The CR bits (among ``bits``) vmcs01's guest/host mask owns and vmcs02's does not."""
    name = f"CR{cr}_GUEST_HOST_MASK"
    return base.field(name) & ~vmcs02.field(name) & bv(bits, 64)


def symbols(term: z3.ExprRef) -> set[str]:
    """The names of every uninterpreted constant and function ``term`` applies."""
    out: set[str] = set()
    stack, seen = [term], set()
    while stack:
        t = stack.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_app(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out.add(t.decl().name())
        stack.extend(t.children())
    return out


def _depends_on_unset(goal: Bool, model: z3.ModelRef, timeout_ms: int, rlimit: int) -> list[str] | None:
    """The fields vmcs01 does not set that the escape needs particular values of: with every other
    symbol (operands, guest context, open values, vmcs12's fields and bitmap bits) fixed to the
    model, does the goal hold for *every* value of the unset ones? ([] if so; None if undecided.)"""
    unset = sorted({n for n in symbols(goal) if n.startswith(UNSET_PREFIX)})
    if not unset:
        return []
    fixed: list[Bool] = [z3.Not(goal)]
    for term in _applications(goal):
        if not term.decl().name().startswith(UNSET_PREFIX):
            fixed.append(term == model.eval(term, model_completion=True))
    solver = bounded_solver(fixed, timeout_ms, rlimit)
    result = solver.check()
    if result == z3.unsat:
        return []
    if result == z3.unknown:
        return None
    return sorted({n[len(UNSET_PREFIX):].split("@")[0] for n in unset})


def _applications(term: z3.ExprRef) -> list[z3.ExprRef]:
    """Every application of an uninterpreted constant or function in ``term``."""
    out: dict[int, z3.ExprRef] = {}
    stack, seen = [term], set()
    while stack:
        t = stack.pop()
        if t.get_id() in seen:
            continue
        seen.add(t.get_id())
        if z3.is_app(t) and t.decl().kind() == z3.Z3_OP_UNINTERPRETED:
            out[t.get_id()] = t
        stack.extend(t.children())
    return list(out.values())


@dataclass(slots=True)
class _Query:
    """One event's comparison: the views, both decisions and the goal (exits under the reference
    VMCS, escapes under vmcs02)."""

    guest: Guest
    base: VmcsView
    free: FreeVmcs
    vmcs02: DerivedVmcs
    first: Decision
    second: Decision
    goal: Bool
    lost: BV | None
    owned: tuple[int, int] | None

    @property
    def used(self) -> list[Fact]:
        return [*self.base.used, *(f for f in self.vmcs02.used if f not in self.base.used)]

    @property
    def tracked(self) -> dict[Fact, list[Bool]]:
        return {**self.base.tracked, **self.vmcs02.tracked}


def _query(problem: NestedProblem, event: EventQuery, freed: frozenset[Fact] = frozenset(),
           track: bool = False) -> _Query:
    """Build the comparison (``freed``, ``track``: facts read as unknown, and what pins them back,
    for ``--explain``); raises NotConcrete / EptUnsupported as ``build`` does."""
    guest = Guest()
    base, free = VmcsView(problem.state, problem.open_vars, opaque=True, freed=freed, track=track), FreeVmcs()
    reference: VmcsView = free if problem.reference == "vmcs12" else base
    vmcs02 = DerivedVmcs(base, free, problem.fields02, problem.sets02, freed, track)
    first = build(Env(reference, guest), event)
    second = build(Env(vmcs02, guest), event)
    owned = OWNED_BITS.get(event.name) if problem.reference == "vmcs01" else None
    lost: BV | None = None
    if owned is not None:
        cr, bits = owned
        lost = ownership_lost(base, vmcs02, cr, bits)
        exits_first = lost != bv(0, 64)
    else:
        exits_first = z3.And(first.valid, first.possible, first.exits_itself)
    goal = z3.And(exits_first, second.valid, second.escape)
    return _Query(guest, base, free, vmcs02, first, second, goal, lost, owned)


def explain_nested_event(problem: NestedProblem, event: EventQuery, *, timeout_ms: int, rlimit: int) -> Needs:
    """What a proof of one nested event needs (``check.needed`` over vmcs01's given facts, vmcs02's
    definitions and the labelled constraints), within one more timeout's worth of calls."""
    budget = Budget(timeout_ms, rlimit)
    job: Explaining

    def holds(freed: frozenset[Fact], dropped: frozenset[str]) -> tuple[bool | None, list[Fact]]:
        try:
            query = _query(problem, event, freed)
        except (NotConcrete, EptUnsupported):
            return False, list(freed)
        result = budget.check(bounded_solver([*job.kept(freed, dropped), query.goal], timeout_ms, rlimit))
        return (True if result == z3.unsat else None if result == z3.unknown else False), query.used

    def general() -> General | None:
        try:
            query = _query(problem, event, frozenset({ALL_FACTS}), track=True)
        except (NotConcrete, EptUnsupported):
            return None
        return General([query.goal], query.tracked, query.used)

    job = Explaining(holds, problem.labels, problem.constraints, problem.pins, budget, general)
    return needed(job)


def check_nested_event(problem: NestedProblem, event: EventQuery, *, timeout_ms: int, rlimit: int,
                       explain: bool = False) -> EventResult:
    """One event: an operand, guest context and vmcs12 for which it exits under the reference VMCS
    and escapes under vmcs02 (violated; with ``explain``, the one that moves the fewest open
    values), none (proved), or why neither could be shown."""
    started = time.perf_counter()
    minimal: bool | None = None

    def done(status: Status, reason: str = "", witness: Witness | None = None, smtlib: str = "") -> EventResult:
        return EventResult(event, status, time.perf_counter() - started, reason, witness, smtlib, minimal)

    try:
        query = _query(problem, event)
    except NotConcrete as exc:
        return done("unknown", f"the decision reads a bitmap whose address {exc}")
    except EptUnsupported as exc:
        return done("unknown", str(exc))
    guest, base, free, vmcs02 = query.guest, query.base, query.free, query.vmcs02
    first, second, goal, lost, owned = query.first, query.second, query.goal, query.lost, query.owned
    solver = bounded_solver([*problem.constraints, goal], timeout_ms, rlimit)
    result = solver.check()
    if result == z3.unsat:
        return done("proved")
    if result == z3.unknown:
        return done("unknown", solver_unknown_reason(solver))
    smtlib = solver.to_smt2()
    prefer = [free.field(name) == bv(value, width_of(name)) for name, value in problem.preferred.items()]
    prefer += [var == bv(0, var.size()) for var in base.unset.values()]
    if explain:
        # The open values are vmcs01's open fields and the vmcs12 fields the comparison reads.
        opened: dict[str, z3.ExprRef] = dict(problem.open_vars)
        defaults = dict(problem.defaults)
        for name in sorted(free.vars):
            opened[f"vmcs12.{name}"] = free.vars[name]
            defaults[f"vmcs12.{name}"] = problem.preferred.get(name, 0)
        best, minimal = fewest_open_changes(solver, opened, defaults, timeout_ms, rlimit)
        solver.push()
        solver.add(*(var == best.eval(var, model_completion=True) for var in opened.values()))
        model = readable_model(solver, second, Env(vmcs02, guest), vmcs02, prefer) or best
        solver.pop()
    else:
        model = readable_model(solver, second, Env(vmcs02, guest), vmcs02, prefer) or solver.model()
    values = Values(model)
    simplified = z3.simplify(goal)
    names = sorted({str(c) for c in free_constants(simplified)})
    depends = _depends_on_unset(simplified, model, timeout_ms, rlimit)
    if depends is None or depends:
        shown = ", ".join(depends) if depends else "(undecided)"
        return done("unknown", f"an escape exists under vmcs02 for some values of fields vmcs01 does not set: {shown}")
    fields, memory = concrete_vmcs02(vmcs02, values)
    for name, var in problem.open_vars.items():
        fields.setdefault(name, values(var))
    # Fields vmcs01 does not set that vmcs02's decision reads: the escape holds whatever they hold
    # (checked above), but the interpreter needs a value to replay it.
    context = [*second.operands.values(), *guest.all_terms()]
    pins = [(t, z3.BoolVal(values.flag(t)) if z3.is_bool(t) else bv(values(t), t.size())) for t in context]
    pinned = z3.simplify(z3.substitute(z3.And(second.escape, second.exit), *pins))
    filled = {str(t)[len(UNSET_PREFIX):]: values(t) for t in free_constants(pinned) if str(t).startswith(UNSET_PREFIX)}
    for name, value in filled.items():
        fields.setdefault(name, value)
    mtf = values.flag(second.exit)
    expect: dict[str, object] = {"match": {"exit": True, "reason": MTF_REASON} if mtf else {"exit": False}}
    reads = sorted(n[len(free.prefix):] for n in names if n.startswith(free.prefix))
    vmcs12 = {f"vmcs12.{name}": values(free.field(name)) for name in reads}
    explanation = f"{first.name} exits under {problem.reference} but not under vmcs02: {second.why(values)}"
    if lost is not None and owned is not None:
        explanation = (f"vmcs01 owns CR{owned[0]} bits {values(lost):#x} (they are set in its CR{owned[0]} guest/host "
                       f"mask) and vmcs02 does not, so L2 changes them without a VM exit; for example, "
                       f"{second.why(values)}")
    if reads:
        shown = ", ".join(f"{k[len('vmcs12.'):]} = {v:#x}" for k, v in vmcs12.items())
        explanation += f" (with vmcs12 {shown})"
    if filled:
        explanation += (f" (vmcs01 does not set {', '.join(sorted(filled))}; the escape holds whatever they hold, "
                        "shown as 0)")
    operands = {key: values(term) for key, term in second.operands.items()}
    return done("violated", witness=Witness(second.query(values), expect, guest.document(values), fields, vmcs12,
                                            operands, explanation, memory), smtlib=smtlib)


def nested_problem_from_ir(state: State, open_fields: Mapping[str, ir.Var], fields02: Mapping[str, ir.Term],
                           sets02: Mapping[str, SetExpr], constraints: Sequence[ir.Term], reference: str,
                           extra: Sequence[Bool] = (), preferred: Mapping[str, int] | None = None,
                           labels: Mapping[int, str] | None = None,
                           defaults: Mapping[str, int] | None = None,
                           pins: Mapping[Fact, ir.Term] | None = None) -> NestedProblem:
    """Encode the property's IR: ``fields02`` are 64-bit terms over the VM's open-field variables,
    ``unset.NAME`` variables (vmcs01 fields the state lacks) and ``vmcs12.NAME`` variables (of each
    field's width), which become the same Z3 constants the views use. ``extra`` are constraints
    already in Z3 (``vmcs12_passes_controls``), after ``constraints`` in the indices ``labels``
    (``--explain``) gives; ``pins`` pin the ``free.NAME`` variables of vmcs01's given fields the
    definitions were lowered with (explaining only)."""
    encoder = Encoder(z3.main_ctx())
    open_vars = {name: encoder.constant(var) for name, var in open_fields.items()}
    terms = {name: z3.Extract(width_of(name) - 1, 0, encoder.encode(term)) for name, term in fields02.items()}
    encoded = (*(encoder.encode(term) for term in constraints), *extra)
    encoded_pins = {fact: encoder.encode(term) for fact, term in (pins or {}).items()}
    return NestedProblem(state, open_vars, terms, dict(sets02), encoded, reference, dict(preferred or {}),
                         dict(labels or {}), dict(defaults or {}), encoded_pins)


def vmcs12_passes_controls(caps: Mapping[str, int], maxphyaddr: int | None) -> Bool:
    """vmcs12 passes the SDM's VM-entry checks on the VMX controls against ``caps``, the capability
    MSRs L1 sees: L0 runs L2 only on such a vmcs12 (what happens with the others is ``entry_safe``'s
    question). The formulas are the VM-entry encoder's (``vmxspec.symbolic.vmentry``), over the same
    ``vmcs12.NAME`` variables the exit decisions read."""
    from vmxspec.arch import vmcs_fields
    from vmxspec.symbolic.state import SymState
    from vmxspec.symbolic.vmentry import violations

    sym = SymState.from_dicts({}, caps=dict(caps), open_fields=list(vmcs_fields.BY_NAME), maxphyaddr=maxphyaddr,
                              prefix="vmcs12.")
    return z3.simplify(z3.Not(z3.Or(FALSE, *violations(sym, ["controls"]).values())))
