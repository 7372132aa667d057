"""Builds AST nodes while lark's LALR parser reduces, so no parse tree is ever materialised.

lark calls one method per grammar rule (named after the rule or its ``-> alias``) with the rule's
children: tokens and the nodes built for sub-rules. Rules marked ``!`` in the grammar keep their
keyword tokens, which give the node its span. Building during the parse is what makes a 100,000-line
spec parse in seconds, and it needs no recursion however deeply the input nests; the depth of
expressions is counted here instead and capped (``MAX_DEPTH``) so that later passes, which do
recurse, never meet a tree deeper than they can handle.

Malformed number and PCI-address literals do not stop the parse: they are recorded as diagnostics
and read as 0, so one run reports all of them.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar

from lark import Token

from vmxspec.diagnostics import Diagnostic, Span
from vmxspec.syntax import ast
from vmxspec.syntax.literals import LiteralError, bdf_value, number_value

#: The deepest expression accepted. Real specs stay far below (OR-ing all 64 bits of a control is
#: 64); the cap keeps the recursive passes after the parser (sema, printer, ``==``) safe.
MAX_DEPTH = 128

Child = Any  # a lark Token or an ast node: lark gives rule callbacks untyped lists
_N = TypeVar("_N", bound=ast.Node)


class TooDeep(Exception):
    """Raised from a callback to abandon the parse; carries where the limit was crossed."""

    def __init__(self, span: Span) -> None:
        super().__init__("expression nested too deeply")
        self.span = span


_BINARY_TOKEN = {
    "EQ": ast.BinaryOp.EQ, "NE": ast.BinaryOp.NE, "LT": ast.BinaryOp.LT, "LE": ast.BinaryOp.LE,
    "GT": ast.BinaryOp.GT, "GE": ast.BinaryOp.GE, "SHL": ast.BinaryOp.SHL, "SHR": ast.BinaryOp.SHR,
    "PLUS": ast.BinaryOp.ADD, "MINUS": ast.BinaryOp.SUB,
}


def _nodes(children: list[Child]) -> list[Any]:
    return [c for c in children if not isinstance(c, Token)]


class Builder:
    """The callbacks; one instance per parse (it holds the file's path and its literal errors)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.diagnostics: list[Diagnostic] = []
        self._depth: dict[int, int] = {}

    def reset(self, path: str) -> None:
        """Start a new file (the builder is shared: lark binds its methods once)."""
        self.path = path
        self.diagnostics = []
        self._depth.clear()

    # ---- spans and depth ----

    def _span(self, first: Child, last: Child) -> Span:
        a = first.span if isinstance(first, ast.Node) else None
        b = last.span if isinstance(last, ast.Node) else None
        line, column = (a.line, a.column) if a is not None else (first.line, first.column)
        end_line, end_column = (b.end_line, b.end_column) if b is not None else (last.end_line,
                                                                                   last.end_column)
        return Span(self.path, line, column, end_line, end_column)

    def _token_span(self, token: Token) -> Span:
        return Span(self.path, token.line or 0, token.column or 0, token.end_line or 0,
                    token.end_column or 0)

    def _deep(self, node: _N, *parts: object) -> _N:
        depth = 1 + max((self._depth.get(id(p), 1) for p in parts if p is not None), default=1)
        if depth > MAX_DEPTH:
            raise TooDeep(node.span)
        self._depth[id(node)] = depth
        return node

    # ---- top level ----

    def start(self, c: list[Child]) -> ast.SpecFile:
        # The file's span and comments are filled in by the parser, which knows the whole text.
        return ast.SpecFile(tuple(c))

    def import_(self, c: list[Child]) -> ast.Import:
        return ast.Import(c[1].value[1:-1], span=self._span(c[0], c[1]))

    def platform(self, c: list[Child]) -> ast.Platform:
        parts = _nodes(c)
        return ast.Platform(parts[0], tuple(parts[1:]), span=self._span(c[0], c[-1]))

    def setting(self, c: list[Child]) -> ast.Setting:
        return ast.Setting(c[0], ast.AssignOp(c[1].value), c[2], span=self._span(c[0], c[2]))

    def vm(self, c: list[Child]) -> ast.Vm:
        parts = _nodes(c)
        return ast.Vm(parts[0], tuple(parts[1:]), span=self._span(c[0], c[-1]))

    def ram(self, c: list[Child]) -> ast.Ram:
        return ast.Ram(c[1], c[3], span=self._span(c[0], c[3]))

    def ept(self, c: list[Child]) -> ast.Ept:
        return ast.Ept(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def map(self, c: list[Child]) -> ast.Map:
        return ast.Map(c[1], c[3], tuple(c[4:]), span=self._span(c[0], c[-1]))

    def attr(self, c: list[Child]) -> ast.Attr:
        name = ast.Name(c[0].value, span=self._token_span(c[0]))
        value = self.number(c[1:]) if len(c) > 1 else None
        return ast.Attr(name, value, span=self._span(c[0], c[-1]))

    def hole(self, c: list[Child]) -> ast.Hole:
        return ast.Hole(c[1], span=self._span(c[0], c[1]))

    def entry(self, c: list[Child]) -> ast.RawEntry:
        return ast.RawEntry(ast.EntryKind(c[0].value), c[2], c[4], span=self._span(c[0], c[4]))

    def root(self, c: list[Child]) -> ast.Root:
        return ast.Root(c[2], span=self._span(c[0], c[2]))

    def tables(self, c: list[Child]) -> ast.Tables:
        return ast.Tables(c[2], span=self._span(c[0], c[2]))

    def vmcs(self, c: list[Child]) -> ast.Vmcs:
        return ast.Vmcs(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def intercept(self, c: list[Child]) -> ast.Intercept:
        parts = _nodes(c)
        everything = any(isinstance(t, Token) and t.type == "ALL" for t in c)
        items: tuple[ast.Expr, ...] = ()
        modes = parts[1:]
        if modes and isinstance(modes[-1], ast.SetLiteral):
            items = modes[-1].items
            modes = modes[:-1]
        return ast.Intercept(parts[0], tuple(modes), everything, items, span=self._span(c[0], c[-1]))

    def devices(self, c: list[Child]) -> ast.Devices:
        return ast.Devices(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def iommu(self, c: list[Child]) -> ast.Iommu:
        parts = _nodes(c)
        return ast.Iommu(parts[0], tuple(parts[1:]), span=self._span(c[0], c[-1]))

    def device(self, c: list[Child]) -> ast.DeviceAssignment:
        parts = _nodes(c)
        translation = parts[2] if len(parts) > 2 else None
        return ast.DeviceAssignment(parts[0], parts[1], translation, span=self._span(c[0], c[-1]))

    def domain(self, c: list[Child]) -> ast.Domain:
        return ast.Domain(c[1], c[2], span=self._span(c[0], c[2]))

    def uses(self, c: list[Child]) -> ast.Uses:
        return ast.Uses(c[1], span=self._span(c[0], c[1]))

    def passthrough(self, c: list[Child]) -> ast.Passthrough:
        return ast.Passthrough(span=self._span(c[0], c[0]))

    def domain_tables(self, c: list[Child]) -> ast.DomainTables:
        return ast.DomainTables(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def group(self, c: list[Child]) -> ast.Group:
        return ast.Group(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def hypervisor(self, c: list[Child]) -> ast.Hypervisor:
        return ast.Hypervisor(tuple(_nodes(c)), span=self._span(c[0], c[-1]))

    def memory(self, c: list[Child]) -> ast.Memory:
        return ast.Memory(c[1], span=self._span(c[0], c[1]))

    def shared(self, c: list[Child]) -> ast.Shared:
        parts = _nodes(c)
        return ast.Shared(parts[0], parts[1], tuple(parts[2:]), span=self._span(c[0], c[-1]))

    def party(self, c: list[Child]) -> ast.Party:
        # ``hypervisor`` is a reserved word, so it arrives as its token, not as a name node.
        who = self.reserved_name(c[:1]) if isinstance(c[0], Token) else c[0]
        return ast.Party(who, c[1], span=self._span(who, c[1]))

    def nested(self, c: list[Child]) -> ast.Nested:
        parts = _nodes(c)
        return ast.Nested(parts[0], parts[1], tuple(parts[2:]), span=self._span(c[0], c[-1]))

    def assume(self, c: list[Child]) -> ast.Assume:
        return ast.Assume(c[1], span=self._span(c[0], c[1]))

    def prove(self, c: list[Child]) -> ast.Prove:
        parts = _nodes(c)
        events = tuple(parts[1:]) if len(c) > 2 else None
        return ast.Prove(parts[0], events, span=self._span(c[0], c[-1]))

    def event(self, c: list[Child]) -> ast.Event:
        return ast.Event(c[0], c[1] if len(c) > 1 else None, span=self._span(c[0], c[-1]))

    # ---- values ----

    def any(self, c: list[Child]) -> ast.AnyValue:
        found: dict[str, Any] = {}
        for i, child in enumerate(c[:-1]):
            if isinstance(child, Token) and child.type != "ANY":
                found[child.type] = c[i + 1]
        node = ast.AnyValue(found.get("WIDTH"), found.get("IN"), found.get("WITHIN"),
                            found.get("WITHOUT"), span=self._span(c[0], c[-1]))
        return self._deep(node, *found.values())

    def range(self, c: list[Child]) -> ast.Range:
        node = ast.Range(c[0], c[2], c[1].type == "DOTDOTEQ", span=self._span(c[0], c[2]))
        return self._deep(node, c[0], c[2])

    # ---- expressions ----

    def quantifier(self, c: list[Child]) -> ast.Quantifier:
        parts = _nodes(c)
        node = ast.Quantifier(ast.QuantifierKind(c[0].value), tuple(parts[:-1]), parts[-1],
                              span=self._span(c[0], c[-1]))
        return self._deep(node, *(b.domain for b in parts[:-1]), parts[-1])

    def binding(self, c: list[Child]) -> ast.Binding:
        return ast.Binding(c[0], c[1], span=self._span(c[0], c[1]))

    def _binary(self, op: ast.BinaryOp, left: Any, right: Any) -> ast.Binary:
        return self._deep(ast.Binary(op, left, right, span=self._span(left, right)), left, right)

    def implies(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.IMPLIES, c[0], c[1])

    def or_(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.OR, c[0], c[1])

    def and_(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.AND, c[0], c[1])

    def bit_or(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.BIT_OR, c[0], c[1])

    def bit_xor(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.BIT_XOR, c[0], c[1])

    def bit_and(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.BIT_AND, c[0], c[1])

    def product(self, c: list[Child]) -> ast.Binary:
        return self._binary(ast.BinaryOp.MUL, c[0], c[1])

    def compare(self, c: list[Child]) -> ast.Binary:
        return self._binary(_BINARY_TOKEN[c[1].type], c[0], c[2])

    shift = compare
    sum = compare

    def member(self, c: list[Child]) -> ast.Member:
        return self._deep(ast.Member(c[0], c[1], span=self._span(c[0], c[1])), c[0], c[1])

    def not_(self, c: list[Child]) -> ast.Unary:
        return self._deep(ast.Unary(ast.UnaryOp.NOT, c[1], span=self._span(c[0], c[1])), c[1])

    def invert(self, c: list[Child]) -> ast.Unary:
        return self._deep(ast.Unary(ast.UnaryOp.INVERT, c[1], span=self._span(c[0], c[1])), c[1])

    def attribute(self, c: list[Child]) -> ast.Attribute:
        return self._deep(ast.Attribute(c[0], c[1], span=self._span(c[0], c[1])), c[0])

    def call(self, c: list[Child]) -> ast.Call:
        args = tuple(c[1:-1])
        return self._deep(ast.Call(c[0], args, span=self._span(c[0], c[-1])), c[0], *args)

    def bits(self, c: list[Child]) -> ast.Bits:
        low = c[2] if len(c) > 3 else None
        return self._deep(ast.Bits(c[0], c[1], low, span=self._span(c[0], c[-1])), c[0], c[1], low)

    def paren(self, c: list[Child]) -> Any:
        inner = c[1]
        depth = self._depth.pop(id(inner), 1)
        node = dataclasses.replace(inner, span=self._span(c[0], c[2]))
        self._depth[id(node)] = depth
        return node

    def set(self, c: list[Child]) -> ast.SetLiteral:
        items = tuple(_nodes(c))
        return self._deep(ast.SetLiteral(items, span=self._span(c[0], c[-1])), *items)

    def reserved_name(self, c: list[Child]) -> ast.Name:
        return ast.Name(c[0].value, span=self._token_span(c[0]))

    def name(self, c: list[Child]) -> ast.Name:
        return ast.Name(c[0].value, span=self._token_span(c[0]))

    def number(self, c: list[Child]) -> ast.Number:
        return self._number(c[0].value, self._token_span(c[0]))

    def _number(self, text: str, span: Span) -> ast.Number:
        try:
            value = number_value(text)
        except LiteralError as e:
            self.diagnostics.append(Diagnostic.error("syntax-bad-number", str(e), span))
            value = 0
        return ast.Number(value, text=text, span=span)

    # ---- the fast path for `map` statements (see driver.py) ----

    def fast_map(self, m: re.Match[str], attrs: re.Pattern[str], line: int, line_start: int) -> ast.Map:
        """The ``Map`` for a one-line ``map`` statement matched by the driver's regular expression.

        Groups: 1 low, 2 ``..``/``..=``, 3 high, 4 target, 5 the attributes. The node is the one the
        grammar's ``map`` rule builds from the same text, spans included.
        """
        path = self.path

        def span(start: int, end: int) -> Span:
            return Span(path, line, start - line_start + 1, line, end - line_start + 1)

        low = self._number(m.group(1), span(m.start(1), m.end(1)))
        high = self._number(m.group(3), span(m.start(3), m.end(3)))
        target = self._number(m.group(4), span(m.start(4), m.end(4)))
        rng = ast.Range(low, high, m.group(2) == "..=", span=span(m.start(1), m.end(3)))
        found = []
        for a in attrs.finditer(m.string, m.start(5), m.end(5)):
            name = ast.Name(a.group(1), span=span(a.start(1), a.end(1)))
            value = self._number(a.group(2), span(a.start(2), a.end(2))) if a.group(2) else None
            found.append(ast.Attr(name, value, span=span(a.start(1), a.end())))
        return ast.Map(rng, target, tuple(found), span=span(m.start(), m.end()))

    def bdf(self, c: list[Child]) -> ast.Bdf:
        token = c[0]
        span = self._token_span(token)
        try:
            segment, bus, device, function = bdf_value(token.value)
        except LiteralError as e:
            self.diagnostics.append(Diagnostic.error("syntax-bad-bdf", str(e), span))
            segment, bus, device, function = None, 0, 0, 0
        return ast.Bdf(segment, bus, device, function, span=span)
