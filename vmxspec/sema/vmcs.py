"""``vmcs { }``: control fields as sets of named bits, fields by name or encoding, intercept lists.

Controls (``pin``, ``proc``, ``proc2``, ``proc3``, ``exit``, ``exit2``, ``entry``) are bit sets:
``=`` names the bits, ``+=`` adds bits, ``-=`` clears them. Their value also carries the bits the
platform's capability MSR requires to be 1 (the "default1" class, which have no names), unless the
spec clears them explicitly: that is what every hypervisor does, and without it no spec could name
a passing VMCS. A control written by its VMCS name (``PIN_BASED_VM_EXEC_CONTROL = 0x16``) is a raw
value and is taken exactly.

Other fields take a number (with register bit names for CR0, CR4, EFER and RFLAGS images) or
``any``. ``+=``/``-=`` add and clear bits of a field that has a value.

Intercept lists name what each bitmap intercepts (``all except { ... }`` names what it does not).
Several lists for one bitmap add up; an item both excepted in one list and listed in another is a
conflict.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmxspec.arch import vmcs_fields
from vmxspec.arch.controls import BITS_BY_FIELD, ControlField
from vmxspec.arch.exits import MSR_REGIONS
from vmxspec.diagnostics import Span
from vmxspec.sema import names as N
from vmxspec.sema.context import Context
from vmxspec.sema.intervals import EMPTY, IntervalSet
from vmxspec.sema.model import BITMAP_UNIVERSE, ControlValue, FieldValue, Intercepts, Open, Vmcs
from vmxspec.sema.reporter import note
from vmxspec.syntax import ast

_MSR_BITMAPPED = IntervalSet(tuple((r.first, r.last + 1) for r in MSR_REGIONS))
_MSR_UNBITMAPPED = _MSR_BITMAPPED.complement(1 << 32)


def _terms(node: ast.Expr) -> list[ast.Expr]:
    """The operands of a chain of ``|`` (iteratively: chains can be long)."""
    out: list[ast.Expr] = []
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.Binary) and n.op is ast.BinaryOp.BIT_OR:
            stack.append(n.right)
            stack.append(n.left)
        else:
            out.append(n)
    return out


@dataclass
class _Bits:
    """One control's or field's settings, with where each bit was set or cleared."""

    width: int
    base: int | Open | None = None
    base_span: Span | None = None
    added: int = 0
    removed: int = 0
    first: Span | None = None
    #: Where each bit was set (``=``, ``+=``) and cleared (``-=``), for conflict notes.
    set_at: dict[int, Span] = field(default_factory=dict)
    cleared_at: dict[int, Span] = field(default_factory=dict)


@dataclass
class _Listed:
    """Items an intercept statement gave, with their values, for conflict reports."""

    items: list[tuple[ast.Expr, IntervalSet]] = field(default_factory=list)


class VmcsResolver:
    def __init__(self, ctx: Context, vm: str) -> None:
        self.ctx = ctx
        self.vm = vm
        self.controls: dict[ControlField, _Bits] = {}
        self.fields: dict[str, _Bits] = {}
        self.sets: dict[str, IntervalSet] = {}
        self.set_spans: dict[str, Span] = {}
        self.listed: dict[str, _Listed] = {}
        self.excepted: dict[str, _Listed] = {}
        self.control_spans: dict[ControlField, Span] = {}

    # ---- settings ----

    def setting(self, item: ast.Setting) -> None:
        target = item.target
        if isinstance(target, ast.Name) and target.name in N.CONTROL_ALIASES:
            which = N.CONTROL_ALIASES[target.name]
            if which.vmcs_field in self.fields:
                self._both(target, which, self.fields[which.vmcs_field].first)
                return
            self.control(item, which)
            return
        vf = self.field_of(target)
        if vf is None:
            return
        which_control = N.CONTROL_BY_VMCS_FIELD.get(vf.name)
        if which_control is not None and which_control in self.controls:
            self._both(target, which_control, self.control_spans.get(which_control))
            return
        self.plain_field(item, vf)

    def _both(self, target: ast.Expr, which: ControlField, other: Span | None) -> None:
        self.ctx.reporter.report("sema-conflict", f"the {which.title} are given both as '{which.value}' bits and as "
                                 f"the raw field {which.vmcs_field}", target.span, note("the other is here", other))

    def field_of(self, target: ast.Expr) -> vmcs_fields.VmcsField | None:
        if isinstance(target, ast.Name):
            vf = N.field_by_name(target.name)
            if vf is None:
                if target.name.endswith("_HIGH") and target.name[:-5] in vmcs_fields.BY_NAME:
                    why = f"; '{target.name}' is half of a 64-bit field: set '{target.name[:-5]}' whole"
                else:
                    why = N.suggest(target.name, N.VMCS_TARGETS)
                self.ctx.report("sema-unknown-field", f"unknown VMCS field '{target.name}'{why}", target.span)
            return vf
        if isinstance(target, ast.Number):
            vf = vmcs_fields.BY_ENCODING.get(target.value)
            if vf is None:
                whole = vmcs_fields.BY_ENCODING.get(target.value & ~1) if target.value & 1 else None
                why = (f": it is the high half of {whole.name} ({whole.encoding:#06x}); set the 64-bit field whole"
                       if whole is not None else "")
                self.ctx.report("sema-unknown-field", f"no VMCS field has encoding {target.value:#06x}{why}",
                                target.span)
            return vf
        self.ctx.report("sema-type", "a vmcs setting names a control (pin, proc, ...), a VMCS field or a field "
                        "encoding", target.span)
        return None

    def control(self, item: ast.Setting, which: ControlField) -> None:
        if isinstance(item.value, ast.AnyValue | ast.Range):
            self.ctx.report("sema-type", f"'{which.value}' is a set of named bits; to leave the whole field open, "
                            f"write {which.vmcs_field} = any", item.value.span)
            return
        acc = self.controls.setdefault(which, _Bits(which.width))
        self.control_spans.setdefault(which, item.target.span)
        self.bits(item, acc, which.value, N.CONTROL_BITS[which])

    def plain_field(self, item: ast.Setting, vf: vmcs_fields.VmcsField) -> None:
        acc = self.fields.setdefault(vf.name, _Bits(vf.bits))
        names = N.FIELD_BITS.get(vf.name)
        if item.op is not ast.AssignOp.SET:
            if isinstance(item.value, ast.AnyValue):
                self.ctx.report("sema-type", f"'{item.op.value}' adds or clears bits; 'any' is not bits",
                                item.value.span)
                return
            self.bits(item, acc, vf.name, names)
            return
        value = self.ctx.consts.value(item.value, vf.name, names, vf.bits)
        if value is None:
            return
        self.set_base(acc, value, item, vf.name)

    def bits(self, item: ast.Setting, acc: _Bits, what: str, names: N.BitNames | None) -> None:
        """A ``=``, ``+=`` or ``-=`` of named bits; a bit both set and cleared is reported at the term
        that names it."""
        acc.first = acc.first or item.span
        total = 0
        where: dict[int, Span] = {}
        for term in _terms(item.value):
            v = self.ctx.consts.number(term, what, names, acc.width)
            if v is None:
                return
            total |= v
            while v:
                low = v & -v
                where.setdefault(low, term.span)
                v ^= low
        if item.op is ast.AssignOp.SET:
            self.set_base(acc, total, item, what)
            clash, other = total & acc.removed, acc.cleared_at
        elif item.op is ast.AssignOp.ADD:
            acc.added |= total
            clash, other = total & acc.removed, acc.cleared_at
        else:
            clash, other = total & ((acc.base if isinstance(acc.base, int) else 0) | acc.added), acc.set_at
            acc.removed |= total
        mine = acc.cleared_at if item.op is ast.AssignOp.REMOVE else acc.set_at
        for bit, span in where.items():
            mine.setdefault(bit, span)
        if clash:
            low = clash & -clash
            verb = "set" if item.op is ast.AssignOp.REMOVE else "cleared"
            self.ctx.reporter.report("sema-conflict", f"{_bit_name(what, low)} is both set and cleared", where[low],
                                     note(f"it is {verb} here", other.get(low, acc.first)))

    def set_base(self, acc: _Bits, value: int | Open, item: ast.Setting, what: str) -> None:
        if acc.base is not None:
            assert acc.base_span is not None
            if acc.base != value or isinstance(value, Open):
                self.ctx.reporter.report("sema-conflict", f"{what} is set twice to different values", item.value.span,
                                         note("first set here", acc.base_span))
            else:
                self.ctx.reporter.report("sema-redundant", f"{what} is set twice to the same value", item.span,
                                         note("first set here", acc.base_span))
            return
        acc.base = value
        acc.base_span = item.span
        acc.first = acc.first or item.span

    # ---- intercept lists ----

    def intercept(self, item: ast.Intercept) -> None:
        kind = N.BITMAPS.get(item.bitmap.name)
        if kind is None:
            self.ctx.report("sema-unknown-name", f"unknown bitmap '{item.bitmap.name}'"
                            f"{N.suggest(item.bitmap.name, N.BITMAPS) or '; the bitmaps are ' + ', '.join(N.BITMAPS)}",
                            item.bitmap.span)
            return
        targets = self.modes(item, kind)
        if targets is None:
            return
        universe = BITMAP_UNIVERSE[targets[0]]
        values: list[tuple[ast.Expr, IntervalSet]] = []
        failed = False
        for expr in item.items:
            found = self.ctx.consts.set((expr,), kind.items.title, kind.items, universe.bit_length() - 1)
            if found is None:
                failed = True
                continue
            if kind.name in ("vmread_bitmap", "vmwrite_bitmap"):
                found = found | _high_halves(expr)
            values.append((expr, found))
        if failed:
            for name in targets:  # the list exists, even if broken: no "no list" warning on top
                self.sets.setdefault(name, EMPTY)
                self.set_spans.setdefault(name, item.span)
            if kind.name == "msr_bitmap":
                for name in ("msr_read", "msr_write"):
                    self.sets.setdefault(name, EMPTY)
                    self.set_spans.setdefault(name, item.span)
            return
        given = IntervalSet(tuple(i for _, s in values for i in s.intervals))
        contribution = IntervalSet.span(0, universe) - given if item.all else given
        if item.all and kind.name == "msr_bitmap":
            for expr, s in values:
                outside = s - _MSR_BITMAPPED
                if outside:
                    self.ctx.report("sema-always-exits", f"MSR {outside.first:#x} is outside the MSR bitmap's ranges "
                                    "(0-0x1fff and 0xc0000000-0xc0001fff): RDMSR and WRMSR of it always exit, so it "
                                    "cannot be excepted", expr.span)
        for name in targets:
            self.sets[name] = self.sets.get(name, EMPTY) | contribution
            self.set_spans.setdefault(name, item.span)
            (self.excepted if item.all else self.listed).setdefault(name, _Listed()).items.extend(values)
        if kind.name == "msr_bitmap":
            for name in ("msr_read", "msr_write"):
                self.sets.setdefault(name, EMPTY)
                self.set_spans.setdefault(name, item.span)

    def modes(self, item: ast.Intercept, kind: N.BitmapKind) -> list[str] | None:
        if "" in kind.modes:
            if item.modes:
                self.ctx.report("sema-type", f"{kind.name} has one bit per item for every access: it takes no "
                                f"'{item.modes[0].name}'", item.modes[0].span)
                return None
            return [kind.modes[""]]
        if not item.modes:
            return list(kind.modes.values())
        out: list[str] = []
        for mode in item.modes:
            if mode.name not in kind.modes:
                self.ctx.report("sema-unknown-name", f"'{mode.name}' is not an access of {kind.name}: write "
                                f"{' or '.join(kind.modes)}{N.suggest(mode.name, kind.modes)}", mode.span)
                return None
            out.append(kind.modes[mode.name])
        return out

    def intercept_conflicts(self) -> None:
        for name, listed in self.listed.items():
            excepted = self.excepted.get(name)
            if excepted is None:
                continue
            for expr, values in listed.items:
                for other, excluded in excepted.items:
                    common = values & excluded
                    if common:
                        self.ctx.reporter.report(
                            "sema-conflict", f"{common.first:#x} is intercepted here but excepted from "
                            f"'intercept all' in another list of the same bitmap", expr.span,
                            note("excepted here", other.span))
                        break

    # ---- the block as a whole ----

    def finish(self, span: Span) -> Vmcs:
        self.intercept_conflicts()
        for name in ("msr_read", "msr_write"):  # the sets say what exits: MSRs no bitmap covers always do
            if name in self.sets:
                self.sets[name] = self.sets[name] | _MSR_UNBITMAPPED
        controls = {which: ControlValue(which, _int(acc.base) | acc.added, acc.removed, self.ctx.fixed1(which),
                                        span=acc.first or span)
                    for which, acc in self.controls.items()}
        fields: dict[str, FieldValue] = {}
        for name, acc in self.fields.items():
            value = self.field_value(name, acc)
            if value is not None:
                fields[name] = FieldValue(name, acc.width, value, span=acc.first or span)
        exceptions = self.sets.get("exceptions")
        if exceptions is not None:
            bitmap = sum(1 << v for v in exceptions.members())
            old = fields.get("EXCEPTION_BITMAP")
            if old is not None and old.value != bitmap:
                self.ctx.reporter.report("sema-conflict", f"EXCEPTION_BITMAP is set to {_show(old.value)} but the "
                                         f"exception_bitmap list makes it {bitmap:#x}", old.span,
                                         note("the list is here", self.set_spans["exceptions"]))
        intercepts = Intercepts(self.sets.get("msr_read"), self.sets.get("msr_write"), self.sets.get("io"), exceptions,
                                self.sets.get("vmread"), self.sets.get("vmwrite"), dict(self.set_spans),
                                span=span)
        return Vmcs(controls, fields, intercepts, span=span)

    def field_value(self, name: str, acc: _Bits) -> int | Open | None:
        if acc.base is None:
            if acc.added or acc.removed:
                assert acc.first is not None
                self.ctx.report("sema-incomplete", f"{name} has no value to add bits to or clear bits from: set it "
                                "with '=' first", acc.first)
            return None
        if isinstance(acc.base, Open):
            if acc.added or acc.removed:
                assert acc.first is not None
                self.ctx.report("sema-type", f"{name} is 'any': its bits cannot also be added or cleared (write "
                                "'any without { ... }')", acc.first)
                return None
            return acc.base
        return (acc.base | acc.added) & ~acc.removed


def _int(value: int | Open | None) -> int:
    return value if isinstance(value, int) else 0


def _show(value: int | Open) -> str:
    return f"{value:#x}" if isinstance(value, int) else "any"


def _bit_name(what: str, bit: int) -> str:
    which = N.CONTROL_ALIASES.get(what)
    if which is not None:
        for b in BITS_BY_FIELD[which].values():
            if b.mask == bit:
                return f"'{b.name}'"
    names = N.FIELD_BITS.get(what)
    if names is not None:
        for n, mask in names.names.items():
            if mask == bit:
                return f"{what}.{n}"
    return f"bit {bit.bit_length() - 1} of {what}"


def _high_halves(expr: ast.Expr) -> IntervalSet:
    """A 64-bit field listed by name in a VMREAD/VMWRITE bitmap: its high-half encoding too (a
    32-bit guest reads the upper half with ``encoding | 1``)."""
    if isinstance(expr, ast.Name):
        vf = vmcs_fields.BY_NAME.get(expr.name)
        if vf is not None and vf.width is vmcs_fields.Width.W64:
            return IntervalSet.values((vf.encoding | 1,))
    return EMPTY


@dataclass(frozen=True, slots=True)
class _Effective:
    """Which control bits are in effect (secondary and tertiary controls count only when activated)."""

    known: bool
    bits: dict[ControlField, int]

    def has(self, which: ControlField, name: str) -> bool:
        return bool(self.bits.get(which, 0) & BITS_BY_FIELD[which][name].mask)


def _effective(vmcs: Vmcs) -> _Effective:
    proc = vmcs.control(ControlField.PROC)
    exit_ = vmcs.control(ControlField.EXIT)
    bits: dict[ControlField, int] = {}
    for which in ControlField:
        v = vmcs.control(which)
        bits[which] = v or 0
    if proc is None or not proc & BITS_BY_FIELD[ControlField.PROC]["activate_secondary_controls"].mask:
        bits[ControlField.PROC2] = 0
    if proc is None or not proc & BITS_BY_FIELD[ControlField.PROC]["activate_tertiary_controls"].mask:
        bits[ControlField.PROC3] = 0
    if exit_ is None or not exit_ & BITS_BY_FIELD[ControlField.EXIT]["activate_secondary_controls"].mask:
        bits[ControlField.EXIT2] = 0
    return _Effective(proc is not None, bits)


_ACTIVATORS = (
    (ControlField.PROC2, ControlField.PROC, "activate_secondary_controls"),
    (ControlField.PROC3, ControlField.PROC, "activate_tertiary_controls"),
    (ControlField.EXIT2, ControlField.EXIT, "activate_secondary_controls"),
)


def _control_span(vmcs: Vmcs, which: ControlField) -> Span:
    """Where a control field is set: as bits, as a raw field, or (neither) the vmcs block."""
    if which in vmcs.controls:
        return vmcs.controls[which].span
    raw = vmcs.fields.get(which.vmcs_field)
    return raw.span if raw is not None else vmcs.span


def control_warnings(vmcs: Vmcs, has_ept: bool, ctx: Context) -> None:
    """Warnings for controls that do nothing, and for structures their control does not enable."""
    eff = _effective(vmcs)
    for which, activator, bit in _ACTIVATORS:
        cv = vmcs.controls.get(which)
        if cv is None or not cv.named:
            continue
        act = vmcs.control(activator)
        if act is not None and not act & BITS_BY_FIELD[activator][bit].mask:
            ctx.report("sema-inactive-controls", f"'{which.value}' sets bits, but '{activator.value}' lacks "
                       f"'{bit}': the processor ignores the {which.title}", cv.span)
    if not eff.known:
        return
    icpt = vmcs.intercepts
    spans = icpt.spans
    msr_declared = icpt.msr_read is not None
    if msr_declared and not eff.has(ControlField.PROC, "use_msr_bitmaps"):
        full = IntervalSet.span(0, 1 << 32)
        if icpt.msr_read != full or icpt.msr_write != full:
            ctx.report("sema-control-mismatch", "msr_bitmap lists what to intercept, but 'use_msr_bitmaps' is not "
                       "set: every RDMSR and WRMSR exits", spans["msr_read"])
    if not msr_declared and eff.has(ControlField.PROC, "use_msr_bitmaps") and "MSR_BITMAP" not in vmcs.fields:
        ctx.report("sema-control-mismatch", "'use_msr_bitmaps' is set but no msr_bitmap list says what to intercept "
                   "(and MSR_BITMAP is not set)", _control_span(vmcs, ControlField.PROC))
    if icpt.io is not None and not eff.has(ControlField.PROC, "use_io_bitmaps"):
        uncond = eff.has(ControlField.PROC, "unconditional_io_exiting")
        effective = IntervalSet.span(0, 1 << 16) if uncond else EMPTY
        if icpt.io != effective:
            ctx.report("sema-control-mismatch", "io_bitmap lists what to intercept, but 'use_io_bitmaps' is not set: "
                       + ("every I/O instruction exits" if uncond else "no I/O instruction exits ("
                          "'unconditional_io_exiting' is not set either)"), spans["io"])
    if icpt.io is None and eff.has(ControlField.PROC, "use_io_bitmaps") and "IO_BITMAP_A" not in vmcs.fields:
        ctx.report("sema-control-mismatch", "'use_io_bitmaps' is set but no io_bitmap list says what to intercept "
                   "(and IO_BITMAP_A/B are not set)", _control_span(vmcs, ControlField.PROC))
    shadowing = eff.has(ControlField.PROC2, "vmcs_shadowing")
    for name in ("vmread", "vmwrite"):
        declared = icpt.get(name)
        if declared is not None and not shadowing and declared != IntervalSet.span(0, 1 << 15):
            ctx.report("sema-control-mismatch", f"{name}_bitmap lists what to intercept, but 'vmcs_shadowing' is not "
                       f"in effect: every {name.upper()} exits", spans[name])
        if declared is None and shadowing and f"{name.upper()}_BITMAP" not in vmcs.fields:
            ctx.report("sema-control-mismatch", f"'vmcs_shadowing' is set but no {name}_bitmap list says what to "
                       f"intercept (and {name.upper()}_BITMAP is not set)", _control_span(vmcs, ControlField.PROC2))
    ept_on = eff.has(ControlField.PROC2, "enable_ept")
    if has_ept and not ept_on:
        ctx.report("sema-control-mismatch", "the VM has an ept { } block but 'enable_ept' is not in effect: the "
                   "processor does not use it", _control_span(vmcs, ControlField.PROC2))
    if ept_on and not has_ept and "EPT_POINTER" not in vmcs.fields:
        ctx.report("sema-control-mismatch", "'enable_ept' is set but the VM has no ept { } block (and EPT_POINTER "
                   "is not set)", _control_span(vmcs, ControlField.PROC2))


def resolve_vmcs(blocks: list[ast.Vmcs], ctx: Context, vm: str, span: Span) -> Vmcs:
    resolver = VmcsResolver(ctx, vm)
    for block in blocks:
        for item in block.items:
            if isinstance(item, ast.Setting):
                resolver.setting(item)
            else:
                resolver.intercept(item)
    return resolver.finish(blocks[0].span if blocks else span)
