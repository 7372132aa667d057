"""Lowering resolved expressions (``assume``, user assertions, nested definitions) to IR terms.

Spec numbers have no width; VMCS fields do. A constant takes the width of what it meets, and two
fields of different widths meet at the wider one (zero-extended), as C's usual conversions would
for unsigned values. A constant that does not fit the width it is given is an error, never
silently truncated. What a name *means* in a particular check (a concrete field value, or a solver
variable for an open one; the intercept set of a bitmap; the meaning of ``translates`` over a
VM's tables) is the caller's ``LowerEnv``: lowering itself decides nothing about the machine.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Protocol

from vmxspec import ir
from vmxspec.sema.expressions import (
    Apply,
    Binary,
    BinaryOp,
    BitmapRef,
    Const,
    EntityRef,
    Expr,
    FieldRef,
    Member,
    Quantified,
    QuantifierKind,
    Slice,
    Unary,
    UnaryOp,
    Var,
)
from vmxspec.sema.intervals import IntervalSet

#: A lowered operand: an IR term, or a spec number that has not met a width yet.
Lowered = ir.Term | int


class LoweringError(Exception):
    """The expression cannot be lowered as written (the message says why, at ``span``)."""

    def __init__(self, message: str, node: Expr) -> None:
        super().__init__(message)
        self.node = node


class LowerEnv(Protocol):
    def field(self, ref: FieldRef) -> ir.Term:
        """The term for a VMCS field: a constant where the spec fixes it, a variable where it is open."""

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        """The set a bitmap intercepts."""

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        """A built-in function (``translates``, ``readable`` ...) applied to its arguments."""


#: Width given to bound variables and to constants that never meet a field: wide enough for any
#: address or MSR index the language can write.
DEFAULT_WIDTH = 64


def _width_for(value: int) -> int:
    return max(DEFAULT_WIDTH, value.bit_length())


def as_term(value: Lowered, width: int, node: Expr) -> ir.Term:
    if isinstance(value, int):
        if value < 0 or value >> width:
            raise LoweringError(f"{value:#x} does not fit in {width} bits", node)
        return ir.bv(value, width)
    if value.sort == ir.BOOL:
        raise LoweringError("a condition is used where a number is expected", node)
    if value.width < width:
        return ir.zero_extend(value, width - value.width)
    return value


def as_bool(value: Lowered, node: Expr) -> ir.Term:
    if isinstance(value, int) or value.sort != ir.BOOL:
        raise LoweringError("a number is used where a condition is expected", node)
    return value


def _unify(left: Lowered, right: Lowered, node: Expr) -> tuple[Lowered, Lowered]:
    if isinstance(left, int) and isinstance(right, int):
        return left, right
    widths = [v.width for v in (left, right) if not isinstance(v, int)]
    width = max(widths)
    return as_term(left, width, node), as_term(right, width, node)


TermOp = Callable[[ir.Term, ir.Term], ir.Term]
_ARITH: dict[BinaryOp, tuple[TermOp, Callable[[int, int], int]]] = {
    BinaryOp.BIT_OR: (ir.bvor, operator.or_),
    BinaryOp.BIT_XOR: (ir.bvxor, operator.xor),
    BinaryOp.BIT_AND: (ir.bvand, operator.and_),
    BinaryOp.SHL: (ir.shl, operator.lshift),
    BinaryOp.SHR: (ir.lshr, operator.rshift),
    BinaryOp.ADD: (ir.add, operator.add),
    BinaryOp.SUB: (ir.sub, operator.sub),
    BinaryOp.MUL: (ir.mul, operator.mul),
}
_COMPARE: dict[BinaryOp, tuple[TermOp, Callable[[int, int], bool]]] = {
    BinaryOp.EQ: (ir.eq, operator.eq),
    BinaryOp.NE: (ir.ne, operator.ne),
    BinaryOp.LT: (ir.ult, operator.lt),
    BinaryOp.LE: (ir.ule, operator.le),
    BinaryOp.GT: (ir.ugt, operator.gt),
    BinaryOp.GE: (ir.uge, operator.ge),
}
_BITWISE = frozenset({BinaryOp.BIT_AND, BinaryOp.BIT_OR, BinaryOp.BIT_XOR})


def _inverted(expr: Expr) -> bool:
    return isinstance(expr, Unary) and expr.op is UnaryOp.INVERT


_LOGIC: dict[BinaryOp, TermOp] = {BinaryOp.AND: ir.and_, BinaryOp.OR: ir.or_, BinaryOp.IMPLIES: ir.implies}


class Lowerer:
    """Lowers one expression tree; bound variables of quantifiers are kept in ``scope``."""

    def __init__(self, env: LowerEnv) -> None:
        self.env = env
        self.scope: dict[str, ir.Term] = {}

    def condition(self, expr: Expr) -> ir.Term:
        return as_bool(self.lower(expr), expr)

    def lower(self, expr: Expr) -> Lowered:
        match expr:
            case Const(value=constant):
                return constant
            case FieldRef():
                return self.env.field(expr)
            case Var(name=name):
                if name not in self.scope:
                    raise LoweringError(f"'{name}' is not bound here", expr)
                return self.scope[name]
            case Unary(op=UnaryOp.NOT, operand=operand):
                return ir.not_(self.condition(operand))
            case Unary(op=UnaryOp.INVERT, operand=operand):
                inverted = self.lower(operand)
                if isinstance(inverted, int):
                    raise LoweringError("'~' needs a width: apply it to a field, not a bare number", expr)
                return ir.bvnot(as_term(inverted, inverted.width, expr))
            case Binary(op=op, left=left, right=right) if op in _LOGIC:
                return _LOGIC[op](self.condition(left), self.condition(right))
            case Binary(op=op, left=left, right=right) if op in _BITWISE and _inverted(left) != _inverted(right):
                # ``vmcs01.pin & ~virtual_nmis``: the complement of a bare number is taken at the
                # width of the value across the operator, which is what the bit names refer to.
                lowered_left = self._complement(left, right) if _inverted(left) else self.lower(left)
                lowered_right = self._complement(right, left) if _inverted(right) else self.lower(right)
                return self._binary(op, lowered_left, lowered_right, expr)
            case Binary(op=op, left=left, right=right):
                return self._binary(op, self.lower(left), self.lower(right), expr)
            case Slice(base=base, high=high, low=low):
                sliced = self.lower(base)
                if isinstance(sliced, int):
                    return (sliced >> low) & ((1 << (high - low + 1)) - 1)
                term = as_term(sliced, sliced.width, expr)
                if high >= term.width:
                    raise LoweringError(f"bit {high} is beyond a {term.width}-bit value", expr)
                return ir.extract(term, high, low)
            case Member(item=item, collection=collection):
                return self._member(self.lower(item), collection, expr)
            case Quantified():
                return self._quantified(expr)
            case Apply():
                return self.env.apply(expr, self.lower)
            case EntityRef() | BitmapRef():
                raise LoweringError("a structure is used where a number or condition is expected", expr)
        raise LoweringError(f"cannot lower {type(expr).__name__}", expr)

    def _complement(self, inverted: Expr, across: Expr) -> Lowered:
        assert isinstance(inverted, Unary)
        inner, other = self.lower(inverted.operand), self.lower(across)
        if isinstance(inner, int) and not isinstance(other, int) and other.sort != ir.BOOL:
            return ~inner & ((1 << other.width) - 1)
        return self.lower(inverted)

    def _binary(self, op: BinaryOp, left: Lowered, right: Lowered, node: Expr) -> Lowered:
        left, right = _unify(left, right, node)
        if op in _COMPARE:
            term_op, int_op = _COMPARE[op]
            if isinstance(left, int) and isinstance(right, int):
                return ir.TRUE if int_op(left, right) else ir.FALSE
            assert not isinstance(left, int) and not isinstance(right, int)
            return term_op(left, right)
        term_op2, int_op2 = _ARITH[op]
        if isinstance(left, int) and isinstance(right, int):
            result = int_op2(left, right)
            if result < 0:
                raise LoweringError("the constant expression is negative", node)
            return result
        assert not isinstance(left, int) and not isinstance(right, int)
        return term_op2(left, right)

    def _member(self, item: Lowered, collection: IntervalSet | Expr, node: Expr) -> ir.Term:
        values = collection if isinstance(collection, IntervalSet) else self._set(collection)
        if isinstance(item, int):
            return ir.TRUE if item in values else ir.FALSE
        term = as_term(item, item.width, node)
        limit = 1 << term.width
        return ir.or_(*(ir.in_range(term, lo, min(hi, limit)) for lo, hi in values.intervals if lo < limit))

    def _set(self, expr: Expr) -> IntervalSet:
        if isinstance(expr, BitmapRef):
            return self.env.bitmap(expr)
        raise LoweringError("expected a set (a range, a set literal or a bitmap)", expr)

    def _quantified(self, expr: Quantified) -> ir.Term:
        saved = dict(self.scope)
        try:
            return self._bind(expr, 0)
        finally:
            self.scope = saved

    def _bind(self, expr: Quantified, index: int) -> ir.Term:
        if index == len(expr.bindings):
            return self.condition(expr.body)
        binding = expr.bindings[index]
        domain = binding.domain if isinstance(binding.domain, IntervalSet) else self._set(binding.domain)
        width = _width_for(max((hi - 1 for _, hi in domain.intervals), default=0))
        bound = ir.var(f"{binding.var}@{binding.span.line}:{binding.span.column}", width, binding.span)
        self.scope[binding.var] = bound
        body = self._bind(expr, index + 1)
        quantify = ir.forall if expr.kind is QuantifierKind.FORALL else ir.exists
        parts = [quantify(bound, lo, hi, body) for lo, hi in domain.intervals]
        return ir.and_(*parts) if expr.kind is QuantifierKind.FORALL else ir.or_(*parts)


def lower_condition(expr: Expr, env: LowerEnv) -> ir.Term:
    return Lowerer(env).condition(expr)
