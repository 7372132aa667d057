"""Lowering resolved expressions to IR: widths, folding, sets and quantifiers, checked by evaluating
the lowered term with the reference IR evaluator."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vmxspec import ir
from vmxspec.interp.ir_eval import evaluate
from vmxspec.sema.expressions import (
    Apply,
    Binary,
    BinaryOp,
    BitmapRef,
    Bound,
    Const,
    Expr,
    FieldRef,
    Member,
    Quantified,
    QuantifierKind,
    Slice,
    Unary,
    UnaryOp,
    Var,
    VmcsRef,
    VmcsRole,
)
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.lower import Lowered, LoweringError, lower_condition

VM = VmcsRef(VmcsRole.VM, "g")
CR3 = FieldRef(VM, "GUEST_CR3", 64)
VPID = FieldRef(VM, "VIRTUAL_PROCESSOR_ID", 16)


class Env:
    def field(self, ref: FieldRef) -> ir.Term:
        return ir.var(ref.field, ref.width)

    def bitmap(self, ref: BitmapRef) -> IntervalSet:
        return IntervalSet.of((0x10, 0x20))

    def apply(self, node: Apply, lower: Callable[[Expr], Lowered]) -> Lowered:
        raise LoweringError("no functions here", node)


def holds(expr: Expr, **values: int) -> bool:
    term = lower_condition(expr, Env())
    assignment = {v: values[v.name] for v in ir.free_vars(term)}
    return bool(evaluate(term, assignment))


def test_constant_takes_the_field_width() -> None:
    aligned = Binary(BinaryOp.EQ, Binary(BinaryOp.BIT_AND, CR3, Const(0xFFF)), Const(0))
    assert holds(aligned, GUEST_CR3=0x1000)
    assert not holds(aligned, GUEST_CR3=0x1008)


def test_constant_too_wide_for_its_field_is_an_error() -> None:
    with pytest.raises(LoweringError, match="does not fit in 16 bits"):
        lower_condition(Binary(BinaryOp.EQ, VPID, Const(0x1_0000)), Env())


def test_fields_of_different_widths_meet_at_the_wider() -> None:
    assert holds(Binary(BinaryOp.LT, VPID, CR3), VIRTUAL_PROCESSOR_ID=0xFFFF, GUEST_CR3=0x1_0000)


def test_constants_fold_and_slices() -> None:
    assert lower_condition(Binary(BinaryOp.EQ, Slice(Const(0xABCD), 11, 8), Const(0xB)), Env()) is ir.TRUE
    assert holds(Binary(BinaryOp.EQ, Slice(CR3, 12, 12), Const(1)), GUEST_CR3=0x1000)


def test_membership_in_ranges_and_bitmaps() -> None:
    in_range = Member(CR3, IntervalSet.of((0x1000, 0x3000)))
    assert holds(in_range, GUEST_CR3=0x2FFF) and not holds(in_range, GUEST_CR3=0x3000)
    in_bitmap = Member(CR3, BitmapRef(VM, "msr_read"))
    assert holds(in_bitmap, GUEST_CR3=0x1F) and not holds(in_bitmap, GUEST_CR3=0x20)


def test_quantifier_over_a_range() -> None:
    # forall x in 0 .. 16: x < 16 holds; exists x in 0 .. 16: x == GUEST_CR3 depends on the field.
    always = Quantified(QuantifierKind.FORALL, (Bound("x", IntervalSet.of((0, 16))),),
                        Binary(BinaryOp.LT, Var("x"), Const(16)))
    assert holds(always)
    some = Quantified(QuantifierKind.EXISTS, (Bound("x", IntervalSet.of((0, 16))),),
                      Binary(BinaryOp.EQ, Var("x"), CR3))
    assert holds(some, GUEST_CR3=15) and not holds(some, GUEST_CR3=16)


def test_conditions_and_numbers_do_not_mix() -> None:
    with pytest.raises(LoweringError, match="number is used where a condition"):
        lower_condition(Binary(BinaryOp.AND, CR3, Const(1)), Env())
    with pytest.raises(LoweringError, match="needs a width"):
        lower_condition(Binary(BinaryOp.EQ, Unary(UnaryOp.INVERT, Const(1)), CR3), Env())
    with pytest.raises(LoweringError, match="not bound"):
        lower_condition(Binary(BinaryOp.EQ, Var("y"), CR3), Env())


def test_complement_of_a_bit_name_takes_the_width_across_the_operator() -> None:
    # VPID & ~0x1: the complement is the 16-bit 0xfffe, so bit 0 is cleared and nothing else.
    cleared = Binary(BinaryOp.EQ, Binary(BinaryOp.BIT_AND, VPID, Unary(UnaryOp.INVERT, Const(1))), Const(0xFFFE))
    assert holds(cleared, VIRTUAL_PROCESSOR_ID=0xFFFF)
    assert not holds(cleared, VIRTUAL_PROCESSOR_ID=0x7FFF)
