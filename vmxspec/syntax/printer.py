"""The canonical formatter: ``print(tree) -> str``, with ``parse(print(tree)) == tree``.

The layout is fixed, so two people's specs look alike and diffs show only meaning: two-space
indentation, one statement per line, ``..`` with spaces, the ``=`` of consecutive settings aligned,
the fewest parentheses that keep the meaning, and one blank line around each top-level block. What
the layout does not fix is kept from the source: single blank lines between statements (runs of them
collapse to one) and the spelling of numbers (``0x8000_0000`` stays, ``2G`` stays).

Comments are kept. The parser records them with their positions; here each one is put back by
position: comments before a statement stay before it (at the statement's indentation), a comment
after a statement on its last line stays at the end of that line, comments before a block's '}'
stay there. A comment inside a one-line statement that was written over several lines (between two
items of a list, say) moves to just before the statement: the only case where a comment moves, and
it then stays put on every later run, so formatting is idempotent. The comments are part of
``SpecFile`` (text and order compare equal after a round trip; positions do not).

Lines are kept under ``WIDTH`` where that is easy: a long intercept, device or event list goes one
item per line, and a long ``a | b | c`` value breaks before ``|`` under its ``=``. Other long lines
stay long.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

from vmxspec.syntax import ast
from vmxspec.syntax.literals import format_bdf, format_number

WIDTH = 100
INDENT = "  "
#: Trailing comments of consecutive lines are aligned only if that puts them at most this far right.
_COMMENT_COLUMN = 72

# ---- expressions ----

#: Binding power of each operator (higher binds tighter); an operand of lower power needs parens.
_POWER = {
    ast.BinaryOp.IMPLIES: 1, ast.BinaryOp.OR: 2, ast.BinaryOp.AND: 3,
    ast.BinaryOp.EQ: 5, ast.BinaryOp.NE: 5, ast.BinaryOp.LT: 5, ast.BinaryOp.LE: 5, ast.BinaryOp.GT: 5,
    ast.BinaryOp.GE: 5, ast.BinaryOp.BIT_OR: 6, ast.BinaryOp.BIT_XOR: 7, ast.BinaryOp.BIT_AND: 8,
    ast.BinaryOp.SHL: 9, ast.BinaryOp.SHR: 9, ast.BinaryOp.ADD: 10, ast.BinaryOp.SUB: 10,
    ast.BinaryOp.MUL: 11,
}
_QUANTIFIER, _NOT, _COMPARE, _BIT_OR, _INVERT, _OPERAND = 0, 4, 5, 6, 12, 13


def print_expr(e: ast.Expr, level: int = 0) -> str:
    """``e`` as source text, parenthesised if it binds looser than ``level`` needs.

    Ranges, ``any`` values and PCI addresses are printed as themselves: the grammar only allows
    them in places (values, list items, arguments) that never need parentheses.
    """
    power, text = _expr(e)
    return f"({text})" if power < level else text


def _expr(e: ast.Expr) -> tuple[int, str]:
    match e:
        case ast.Name(name=name):
            return _OPERAND, name
        case ast.Number(value=value, text=text):
            return _OPERAND, format_number(value, text)
        case ast.SetLiteral(items=items):
            return _OPERAND, "{ " + ", ".join(_item(i) for i in items) + " }" if items else "{}"
        case ast.Attribute(base=base, name=name):
            return _OPERAND, f"{print_expr(base, _OPERAND)}.{name.name}"
        case ast.Call(callee=callee, args=args):
            return _OPERAND, f"{print_expr(callee, _OPERAND)}({', '.join(_item(a) for a in args)})"
        case ast.Bits(base=base, high=high, low=low):
            low_text = "" if low is None else ":" + print_expr(low)
            return _OPERAND, f"{print_expr(base, _OPERAND)}[{print_expr(high)}{low_text}]"
        case ast.Unary(op=ast.UnaryOp.INVERT, operand=operand):
            return _INVERT, "~" + print_expr(operand, _INVERT)
        case ast.Unary(operand=operand):
            return _NOT, "not " + print_expr(operand, _NOT)
        case ast.Binary(op=op, left=left, right=right):
            power = _POWER[op]
            if op is ast.BinaryOp.IMPLIES:  # right-associative
                left_level, right_level = power + 1, power
            elif power == _COMPARE:  # not associative at all
                left_level = right_level = _BIT_OR
            else:
                left_level, right_level = power, power + 1
            return power, f"{print_expr(left, left_level)} {op.value} {print_expr(right, right_level)}"
        case ast.Member(item=item, collection=collection):
            where = _range(collection) if isinstance(collection, ast.Range) else print_expr(collection, _BIT_OR)
            return _COMPARE, f"{print_expr(item, _BIT_OR)} in {where}"
        case ast.Quantifier(kind=kind, bindings=bindings, body=body):
            bound = ", ".join(f"{b.var.name} in {_domain(b.domain)}" for b in bindings)
            return _QUANTIFIER, f"{kind.value} {bound}: {print_expr(body)}"
        case ast.Range():
            return _OPERAND, _range(e)
        case ast.AnyValue():
            return _OPERAND, _any(e)
        case ast.Bdf(segment=segment, bus=bus, device=device, function=function):
            return _OPERAND, format_bdf(segment, bus, device, function)
    raise TypeError(f"not an expression: {e!r}")


def _range(r: ast.Range) -> str:
    return f"{print_expr(r.low, _OPERAND)} {'..=' if r.inclusive else '..'} {print_expr(r.high, _OPERAND)}"


def _value(e: ast.Expr) -> str:
    """What may follow '=': an expression, a range or ``any``."""
    return print_expr(e)


def _item(e: ast.Expr) -> str:
    """A list item or call argument: an expression, a range or a PCI address."""
    return print_expr(e)


def _domain(e: ast.Expr) -> str:
    """After ``in`` in a binding or ``any in``: a range or an operand."""
    return _range(e) if isinstance(e, ast.Range) else print_expr(e, _OPERAND)


def _target(e: ast.Expr) -> str:
    """After ``at`` or ``->``: an operand or ``any``."""
    return _any(e) if isinstance(e, ast.AnyValue) else print_expr(e, _OPERAND)


def _any(a: ast.AnyValue) -> str:
    parts = ["any"]
    if a.width is not None:
        parts.append(f"width {print_expr(a.width, _OPERAND)}")
    if a.domain is not None:
        parts.append(f"in {_domain(a.domain)}")
    if a.within is not None:
        parts.append(f"within {print_expr(a.within, _OPERAND)}")
    if a.without is not None:
        parts.append(f"without {print_expr(a.without, _OPERAND)}")
    return " ".join(parts)


def _or_terms(e: ast.Expr) -> list[ast.Expr]:
    """``a | b | c`` as [a, b, c] (the parser builds it left-nested)."""
    terms: list[ast.Expr] = []
    while isinstance(e, ast.Binary) and e.op is ast.BinaryOp.BIT_OR:
        terms.append(e.right)
        e = e.left
    terms.append(e)
    return terms[::-1]


# ---- statements ----

_BLOCKS = (ast.Vm, ast.Ept, ast.Vmcs, ast.Iommu, ast.Hypervisor, ast.Shared, ast.Nested)


def _is_block(node: ast.Node) -> bool:
    """Statements printed over several lines with a '{' ... '}' body."""
    if isinstance(node, _BLOCKS):
        return True
    if isinstance(node, ast.Platform):
        return bool(node.settings)
    if isinstance(node, ast.Domain | ast.DeviceAssignment):
        return isinstance(node.translation, ast.DomainTables)
    return False


def _start(node: ast.Node) -> tuple[int, int]:
    return (node.span.line, node.span.column)


@dataclass
class _Lines:
    """The output, and the comments still to place (in source order)."""

    comments: Sequence[ast.Comment]
    out: list[str]
    next_comment: int = 0
    #: Output line index -> where its trailing comment starts (aligned in ``finish``).
    trailing: dict[int, int] = field(default_factory=dict)

    def emit(self, depth: int, text: str) -> None:
        self.out.append(INDENT * depth + text if text else "")

    def blank(self) -> None:
        if self.out and self.out[-1] != "" and not self.out[-1].endswith("{"):
            self.out.append("")

    def take_before(self, position: tuple[int, int]) -> list[ast.Comment]:
        """The comments before ``position`` (line, column) that are not placed yet."""
        taken = []
        while self.next_comment < len(self.comments):
            c = self.comments[self.next_comment]
            if (c.span.line, c.span.column) >= position:
                break
            taken.append(c)
            self.next_comment += 1
        return taken

    def take_on_line(self, line: int) -> ast.Comment | None:
        """The next comment if it sits on ``line`` (a comment after code on that line)."""
        if self.next_comment < len(self.comments) and line > 0:
            c = self.comments[self.next_comment]
            if c.span.line == line:
                self.next_comment += 1
                return c
        return None

    def append_comment(self, comment: ast.Comment | None) -> None:
        if comment is not None:
            self.trailing[len(self.out) - 1] = len(self.out[-1])
            self.out[-1] += "  " + comment.text

    def finish(self) -> list[str]:
        """The lines, with the trailing comments of consecutive lines starting in one column
        (as gofmt does), unless that column would be far to the right."""
        out = list(self.out)
        index = sorted(self.trailing)
        runs: list[list[int]] = []
        for i in index:
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            column = max(self.trailing[i] for i in run) + 2
            if len(run) < 2 or column > _COMMENT_COLUMN:
                continue
            for i in run:
                code, comment = out[i][: self.trailing[i]], out[i][self.trailing[i] + 2:]
                out[i] = code.ljust(column) + comment
        return out


class _Printer:
    def __init__(self, spec: ast.SpecFile) -> None:
        self.lines = _Lines(spec.comments, [])
        self.spec = spec
        self.last_line = 0  # the source line of what was printed last (0: unknown)

    def run(self) -> str:
        self.items(0, self.spec.items, top=True)
        lines = self.lines
        self.comment_run(0, lines.take_before((1 << 62, 0)), self.last_line)
        out = lines.finish()
        while out and out[-1] == "":
            out.pop()
        return "\n".join(out) + "\n" if out else ""

    def comment_run(self, depth: int, comments: list[ast.Comment], after_line: int) -> None:
        """Own-line comments, keeping one blank line where the source had one or more."""
        for c in comments:
            if after_line > 0 and c.span.line > after_line + 1:
                self.lines.blank()
            self.lines.emit(depth, c.text)
            after_line = c.span.line
        if comments:
            self.last_line = after_line

    def items(self, depth: int, items: Sequence[ast.Node], top: bool = False) -> None:
        aligns = _alignment(items, self.lines.comments)
        previous: ast.Node | None = None
        for i, (item, align) in enumerate(zip(items, aligns, strict=True)):
            block = _is_block(item)
            # Comments before the statement; for a one-line statement also those inside it.
            cut = _start(item) if block else (item.span.end_line, 0)
            leading = self.lines.take_before(cut) if item.span.line > 0 else []
            first_line = leading[0].span.line if leading else item.span.line
            gap = self.last_line > 0 and first_line > self.last_line + 1
            forced = top and previous is not None and (block or _is_block(previous))
            if previous is not None and (gap or forced):
                self.lines.blank()
            self.comment_run(depth, leading, self.last_line if leading else 0)
            if leading and item.span.line > leading[-1].span.line + 1:
                self.lines.blank()
            self.statement(depth, item, align)
            # A comment at the end of the line is this statement's, unless another one starts on it.
            if i + 1 == len(items) or items[i + 1].span.line != item.span.end_line:
                self.lines.append_comment(self.lines.take_on_line(item.span.end_line))
            self.last_line = item.span.end_line
            previous = item

    def block(self, depth: int, header: str, node: ast.Node, body: Sequence[ast.Node]) -> None:
        span = node.span
        inside = self.lines.next_comment < len(self.lines.comments) and span.line > 0 and \
            self.lines.comments[self.lines.next_comment].span.line < span.end_line
        if not body and not inside:
            self.lines.emit(depth, header + " {}")
            return
        self.lines.emit(depth, header + " {")
        first = _start(body[0]) if body else (span.end_line, span.end_column)
        if span.line > 0 and first[0] > span.line:
            self.lines.append_comment(self.lines.take_on_line(span.line))
        self.last_line = span.line
        self.items(depth + 1, body)
        if span.line > 0:
            self.comment_run(depth + 1, self.lines.take_before((span.end_line, span.end_column - 1)),
                             self.last_line)
        self.lines.emit(depth, "}")

    def statement(self, depth: int, node: ast.Node, align: _Align) -> None:
        emit = self.lines.emit
        match node:
            case ast.Import(path=path):
                emit(depth, f'import "{path}"')
            case ast.Platform(name=name, settings=settings):
                if settings:
                    self.block(depth, f"platform {name.name}", node, settings)
                else:
                    emit(depth, f"platform {name.name}")
            case ast.Vm(name=name, items=items):
                self.block(depth, f"vm {name.name}", node, items)
            case ast.Ram(range=rng, host=host):
                emit(depth, f"ram {_range(rng)} at {_target(host)}")
            case ast.Ept(items=items):
                self.block(depth, "ept", node, items)
            case ast.Map(range=rng, target=target, attrs=attrs):
                emit(depth, f"map {_range(rng)} -> {_target(target)}" + "".join(" " + _attr(a) for a in attrs))
            case ast.Hole(range=rng):
                emit(depth, f"hole {_range(rng)}")
            case ast.RawEntry(kind=kind, address=address, value=value):
                emit(depth, f"{kind.value} at {print_expr(address, _OPERAND)} = {_value(value)}")
            case ast.Root(address=address):
                emit(depth, f"root at {print_expr(address, _OPERAND)}")
            case ast.Tables(range=rng):
                emit(depth, f"tables in {_range(rng)}")
            case ast.Vmcs(items=items):
                self.block(depth, "vmcs", node, items)
            case ast.Setting():
                self.setting(depth, node, align)
            case ast.Intercept(bitmap=bitmap, modes=modes, all=everything, items=items):
                head = " ".join([bitmap.name, "intercept", *(m.name for m in modes)])
                if everything:
                    head += " all"
                    if items:
                        head += " except"
                if items or not everything:
                    self.listing(depth, head, [_item(i) for i in items])
                else:
                    emit(depth, head)
            case ast.Devices(devices=devices):
                self.listing(depth, "devices", [_item(d) for d in devices])
            case ast.Iommu(name=name, items=items):
                self.block(depth, f"iommu {name.name}", node, items)
            case ast.DeviceAssignment(device=device, domain=domain, translation=translation):
                self.translated(depth, f"device {_item(device)} -> domain {_item(domain)}", node, translation)
            case ast.Domain(domain=domain, translation=translation):
                self.translated(depth, f"domain {_item(domain)}", node, translation)
            case ast.Group(devices=devices):
                self.listing(depth, "group", [_item(d) for d in devices])
            case ast.Hypervisor(regions=regions):
                self.block(depth, "hypervisor", node, regions)
            case ast.Memory(range=rng):
                emit(depth, f"memory {_range(rng)}")
            case ast.Shared(name=name, range=rng, parties=parties):
                self.block(depth, f"shared {name.name} {_range(rng)}", node, parties)
            case ast.Party(party=party, rights=rights):
                emit(depth, f"{party.name} {rights.name}")
            case ast.Nested(name=name, vm=vm, items=items):
                self.block(depth, f"nested {name.name} on {vm.name}", node, items)
            case ast.Assume(condition=condition):
                self.wrapped(depth, "assume ", condition)
            case ast.Prove(claim=claim, events=events):
                if events is None:
                    self.wrapped(depth, "prove ", claim)
                else:
                    self.listing(depth, f"prove {print_expr(claim)}", [_event(e) for e in events])
            case _:
                raise TypeError(f"not a statement: {node!r}")

    def translated(self, depth: int, head: str, node: ast.Node, translation: ast.Translation | None) -> None:
        match translation:
            case None:
                self.lines.emit(depth, head)
            case ast.Uses(source=source):
                self.lines.emit(depth, f"{head} uses {print_expr(source, _OPERAND)}")
            case ast.Passthrough():
                self.lines.emit(depth, f"{head} passthrough")
            case ast.DomainTables(items=items):
                self.block(depth, head, node, items)

    def setting(self, depth: int, node: ast.Setting, align: _Align) -> None:
        target = print_expr(node.target, _OPERAND)
        self.wrapped(depth, f"{target.ljust(align.width)} {node.op.value.rjust(align.op_width)} ", node.value)

    def wrapped(self, depth: int, head: str, value: ast.Expr) -> None:
        """``head`` + value; a too-long ``a | b | c`` breaks before '|', aligned under the '='."""
        text = _value(value)
        indent = len(INDENT) * depth
        terms = _or_terms(value)
        if indent + len(head) + len(text) <= WIDTH or len(terms) < 2:
            self.lines.emit(depth, head + text)
            return
        pad = " " * max(len(head) - 2, 0)
        line = head + print_expr(terms[0], _BIT_OR + 1)
        for term in terms[1:]:
            piece = print_expr(term, _BIT_OR + 1)
            if indent + len(line) + 3 + len(piece) > WIDTH:
                self.lines.emit(depth, line)
                line = pad + "| " + piece
            else:
                line += " | " + piece
        self.lines.emit(depth, line)

    def listing(self, depth: int, head: str, items: list[str]) -> None:
        """``head { a, b }``, or one item per line when that would be too long."""
        one_line = f"{head} {{ {', '.join(items)} }}" if items else f"{head} {{}}"
        if len(INDENT) * depth + len(one_line) <= WIDTH:
            self.lines.emit(depth, one_line)
            return
        self.lines.emit(depth, head + " {")
        for item in items:
            self.lines.emit(depth + 1, item + ",")
        self.lines.emit(depth, "}")


_ALIGN_LIMIT = 32


@dataclass(frozen=True)
class _Align:
    """How one setting lines up with its neighbours."""

    width: int = 0  # the target is padded to this width (0: not aligned)
    op_width: int = 1  # '=' is right-aligned to this width (2 when the run has '+=' or '-=')


def _alignment(items: Sequence[ast.Node], comments: Sequence[ast.Comment]) -> list[_Align]:
    """For each item, how it aligns: consecutive settings line up their '=' as in ``pin   = ...`` /
    ``proc  = ...``, unless a target is too long. A blank line or an own-line comment between two
    settings ends the run (as it will in the output, so a second formatting aligns alike)."""
    aligns = [_Align()] * len(items)
    run: list[ast.Setting] = []
    where: list[int] = []
    lines = [c.span.line for c in comments]

    def close() -> None:
        if len(run) > 1:
            width = max(len(print_expr(s.target, _OPERAND)) for s in run)
            if width <= _ALIGN_LIMIT:
                op_width = 2 if any(s.op is not ast.AssignOp.SET for s in run) else 1
                for i in where:
                    aligns[i] = _Align(width, op_width)
        run.clear()
        where.clear()

    for i, item in enumerate(items):
        if not isinstance(item, ast.Setting):
            close()
            continue
        if run and item.span.line > 0:
            previous = run[-1].span.end_line
            # Own-line comments land between the two: those after the previous statement's line
            # and before this one's last line (comments inside a statement move before it).
            between = bisect_right(lines, item.span.end_line - 1) - bisect_right(lines, previous)
            if item.span.line > previous + 1 or between:
                close()
        run.append(item)
        where.append(i)
    close()
    return aligns


def _attr(a: ast.Attr) -> str:
    return a.name.name if a.value is None else f"{a.name.name} {print_expr(a.value)}"


def _event(e: ast.Event) -> str:
    return e.name.name if e.arg is None else f"{e.name.name} {_domain(e.arg)}"


def print(node: ast.Node) -> str:
    """The canonical text of a spec file, or of one expression or statement (for messages)."""
    if isinstance(node, ast.SpecFile):
        return _Printer(node).run()
    if isinstance(node, ast.Expr):
        return print_expr(node)
    printer = _Printer(ast.SpecFile((), ()))
    printer.statement(0, node, _Align())
    return "\n".join(printer.lines.out)

