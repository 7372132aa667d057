"""Evaluating the constant parts of a spec: numbers, bit names, ranges, sets and ``any``.

Most of a spec is constant: addresses, field values, control bits, intercept lists. They are
evaluated here, once, against the names their place accepts (a ``BitNames`` context), with every
failure reported at the exact node that caused it: an unknown name at the name, a value too wide
at the value, an empty range at the range. A failed evaluation returns None after reporting, so
callers simply skip what could not be resolved.

Values are unsigned and at most 64 bits wide (the language has no negative numbers); arithmetic
that leaves that range is an error, never wrapped.
"""

from __future__ import annotations

from collections.abc import Iterable

from vmxspec.sema import names as N
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import Open
from vmxspec.sema.reporter import Reporter
from vmxspec.syntax import ast


def describe_node(node: ast.Node) -> str:
    """How a misplaced expression is named in messages."""
    if isinstance(node, ast.Number):
        return "a number"
    if isinstance(node, ast.Range):
        return "a range"
    if isinstance(node, ast.SetLiteral):
        return "a set"
    if isinstance(node, ast.AnyValue):
        return "'any'"
    if isinstance(node, ast.Bdf):
        return "a PCI address"
    if isinstance(node, ast.Call):
        return "a call"
    if isinstance(node, ast.Quantifier):
        return "a quantified condition"
    if isinstance(node, ast.Member) or (isinstance(node, ast.Binary) and node.op in _CONDITIONS):
        return "a condition"
    if isinstance(node, ast.Unary) and node.op is ast.UnaryOp.NOT:
        return "a condition"
    return "this expression"


_CONDITIONS = frozenset({ast.BinaryOp.IMPLIES, ast.BinaryOp.OR, ast.BinaryOp.AND, ast.BinaryOp.EQ,
                         ast.BinaryOp.NE, ast.BinaryOp.LT, ast.BinaryOp.LE, ast.BinaryOp.GT, ast.BinaryOp.GE})


class Constants:
    """Constant evaluation with diagnostics; one per analysis (it only holds the reporter)."""

    def __init__(self, reporter: Reporter) -> None:
        self.reporter = reporter

    # ---- numbers ----

    def number(self, node: ast.Expr, what: str, names: N.BitNames | None = None, width: int = 64) -> int | None:
        """``node`` as a number that fits ``width`` bits; ``names`` are the names it may use."""
        if isinstance(node, ast.Number):  # the common case, kept fast for large specs
            value = node.value
        else:
            found = self._eval(node, what, names, width)
            if found is None:
                return None
            value = found
        if value >> width:
            self.reporter.report("sema-width", f"{_show(value)} does not fit in {width} bits ({what})", node.span)
            return None
        return value

    def _eval(self, node: ast.Expr, what: str, names: N.BitNames | None, width: int) -> int | None:
        if isinstance(node, ast.Number):
            return node.value
        if isinstance(node, ast.Name):
            return self.name(node, what, names)
        if isinstance(node, ast.Attribute):
            return self._qualified_bit(node, what, names)
        if isinstance(node, ast.Binary) and node.op not in _CONDITIONS:
            left = self._eval(node.left, what, names, width)
            right = self._eval(node.right, what, names, width)
            if left is None or right is None:
                return None
            return self._arith(node, left, right, what, max(width, 64))
        if isinstance(node, ast.Unary) and node.op is ast.UnaryOp.INVERT:
            operand = self.number(node.operand, what, names, width)
            return None if operand is None else operand ^ ((1 << width) - 1)
        if isinstance(node, ast.Bits):
            return self._slice(node, what, names, width)
        self.reporter.report("sema-type", f"expected a number for {what}, found {describe_node(node)}", node.span)
        return None

    def _arith(self, node: ast.Binary, left: int, right: int, what: str, limit: int) -> int | None:
        """One operation; ``limit`` is the widest value allowed on the way (64 bits, or the value's own
        width when wider: a 128-bit VT-d context entry is written ``HIGH << 64 | LOW``)."""
        op = node.op
        if op in (ast.BinaryOp.SHL, ast.BinaryOp.SHR) and right >= limit:
            self.reporter.report("sema-width", f"shift by {right} leaves {limit} bits ({what})", node.right.span)
            return None
        value = {
            ast.BinaryOp.BIT_OR: lambda: left | right, ast.BinaryOp.BIT_AND: lambda: left & right,
            ast.BinaryOp.BIT_XOR: lambda: left ^ right, ast.BinaryOp.ADD: lambda: left + right,
            ast.BinaryOp.SUB: lambda: left - right, ast.BinaryOp.MUL: lambda: left * right,
            ast.BinaryOp.SHL: lambda: left << right, ast.BinaryOp.SHR: lambda: left >> right,
        }[op]()
        if value < 0:
            self.reporter.report("sema-width", f"{_show(left)} - {_show(right)} is negative; values are unsigned "
                                 f"({what})", node.span)
            return None
        if value >> limit:
            self.reporter.report("sema-width", f"{_show(value)} does not fit in {limit} bits ({what})", node.span)
            return None
        return value

    def _slice(self, node: ast.Bits, what: str, names: N.BitNames | None, width: int) -> int | None:
        base = self._eval(node.base, what, names, width)
        high = self.number(node.high, "a bit position", width=7)
        low = high if node.low is None else self.number(node.low, "a bit position", width=7)
        if base is None or high is None or low is None:
            return None
        if high < low or high > 63:
            self.reporter.report("sema-bad-range", f"bits {high}:{low} are not a bit range (write high:low, "
                                 "0 to 63)", node.span)
            return None
        return base >> low & ((1 << (high - low + 1)) - 1)

    def name(self, node: ast.Name, what: str, names: N.BitNames | None) -> int | None:
        """A name in a value: looked up in ``names``; an error (with what the name *is*) otherwise."""
        if names is not None and node.name in names.names:
            return names.names[node.name]
        other = N.elsewhere(node.name)
        if names is not None and names.names:
            hint = other or N.suggest(node.name, names.names)
            self.reporter.report(names.code, f"'{node.name}' is not {names.title}{hint}", node.span)
        else:
            self.reporter.report("sema-unknown-name", f"'{node.name}' names nothing here: {what} is a number"
                                 f"{other}", node.span)
        return None

    def _qualified_bit(self, node: ast.Attribute, what: str, names: N.BitNames | None) -> int | None:
        """``proc.hlt_exiting``: a control bit named with its field (needed where the field is not
        implied, as in ``without { ... }``)."""
        base = node.base
        if not isinstance(base, ast.Name) or base.name not in N.CONTROL_ALIASES:
            self.reporter.report("sema-type", f"expected a number for {what}, found {describe_node(node)}", node.span)
            return None
        field = N.CONTROL_ALIASES[base.name]
        bits = N.CONTROL_BITS[field]
        if names is not None and names is not bits and names.names:
            self.reporter.report("sema-type", f"'{base.name}.{node.name.name}' is a bit of {base.name}, but "
                                 f"{what} takes {names.title}", node.span)
            return None
        return self.name(node.name, what, bits)

    # ---- ranges and sets ----

    def range(self, node: ast.Range, what: str, names: N.BitNames | None = None,
              width: int = 64) -> tuple[int, int] | None:
        """A range as half-open ``(start, end)``; empty and backwards ranges are errors."""
        low_ = self.number(node.low, what, names, width)
        high_ = self.number(node.high, what, names, width)
        if low_ is None or high_ is None:
            return None
        low, high = low_, high_
        end = high + 1 if node.inclusive else high
        if end <= low:
            shown = f"{_show(low)} {'..=' if node.inclusive else '..'} {_show(high)}"
            why = "it ends before it starts" if high < low else "it is empty (the end is excluded: write '..=' to " \
                "include it)"
            self.reporter.report("sema-bad-range", f"{shown} is not a range: {why}", node.span)
            return None
        return low, end

    def set(self, items: Iterable[ast.Expr], what: str, names: N.BitNames | None = None,
            width: int = 64) -> IntervalSet | None:
        """Values, ranges and nested set literals, as one set; None if any item failed."""
        out: list[tuple[int, int]] = []
        ok = True
        for item in items:
            if isinstance(item, ast.Range):
                r = self.range(item, what, names, width)
                if r is None:
                    ok = False
                else:
                    out.append(r)
            elif isinstance(item, ast.SetLiteral):
                inner = self.set(item.items, what, names, width)
                if inner is None:
                    ok = False
                else:
                    out.extend(inner.intervals)
            else:
                v = self.number(item, what, names, width)
                if v is None:
                    ok = False
                else:
                    out.append((v, v + 1))
        return IntervalSet(tuple(out)) if ok else None

    def domain(self, node: ast.Expr, what: str, names: N.BitNames | None = None, width: int = 64) -> IntervalSet | None:
        """What ``in`` ranges over: a range, a set literal or one value."""
        if isinstance(node, ast.Range):
            r = self.range(node, what, names, width)
            return None if r is None else IntervalSet.span(*r)
        if isinstance(node, ast.SetLiteral):
            return self.set(node.items, what, names, width)
        return self.set((node,), what, names, width)

    # ---- any ----

    def open(self, node: ast.AnyValue, what: str, names: N.BitNames | None = None, width: int = 64,
             zero: int = 0) -> Open | None:
        """``any [width W] [in D] [without S]`` for a value of ``width`` bits (``within`` bounds only
        a whole vmcs12 and is an error here). ``zero`` adds bits that must be 0 (alignment)."""
        ok = True
        w = width
        if node.width is not None:
            given = self.number(node.width, "the width of 'any'", width=8)
            if given is None:
                ok = False
            elif not 1 <= given <= width:
                self.reporter.report("sema-width", f"'any width {given}' does not fit {what}, which is {width} bits "
                                     "wide", node.width.span)
                ok = False
            else:
                w = given
        domain = None
        if node.domain is not None:
            domain = self.domain(node.domain, what, names, w)
            ok = ok and domain is not None
        if node.within is not None:
            self.reporter.report("sema-type", "'within' bounds a whole vmcs12 by a platform's capabilities "
                                 f"(vmcs12 = any within platform); {what} takes 'in' or 'width'", node.within.span)
            ok = False
        if node.without is not None:
            items = node.without.items if isinstance(node.without, ast.SetLiteral) else (node.without,)
            for item in items:
                bits = self.number(item, what, names, w)
                if bits is None:
                    ok = False
                else:
                    zero |= bits
        return Open(w, domain, zero, span=node.span) if ok else None

    def value(self, node: ast.Expr, what: str, names: N.BitNames | None = None, width: int = 64,
              zero: int = 0) -> int | Open | None:
        """A number or an ``any``."""
        if isinstance(node, ast.AnyValue):
            return self.open(node, what, names, width, zero)
        if isinstance(node, ast.Range):
            self.reporter.report("sema-type", f"expected a number for {what}, found a range", node.span)
            return None
        return self.number(node, what, names, width)


def _show(value: int) -> str:
    return f"{value:#x}" if value > 9 else str(value)
