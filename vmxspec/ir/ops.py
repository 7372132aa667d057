"""The op table: every operation the IR has, with its signature and its meaning.

This table is the contract between the two semantics. ``vmxspec.interp.ir_eval`` (plain ints) and
``vmxspec.symbolic.ir_to_z3`` (Z3 expressions) each implement every op listed here, independently,
and a test asserts that both cover exactly these names; a third, small implementation folds
constants while terms are built (``vmxspec.ir.fold``). The meanings are SMT-LIB's (QF_BV and Core),
written out here so that neither implementation has to be read to learn what an op does, and so
the corner cases are decided once: division by zero, shifts by the width or more, and signedness.

Booleans and bit-vectors are different sorts. Comparisons produce booleans; ``ite`` chooses between
two terms of one sort; there is no implicit conversion between a 1-bit vector and a boolean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from vmxspec.ir.sorts import BOOL, IRTypeError, Sort, bv_sort


class Signature(Enum):
    """The shapes of op signatures; ``w`` is a width, ``s`` any sort, ``n`` the number of operands."""

    BV_UNARY = "(bv w) -> bv w"
    BV_BINARY = "(bv w, bv w) -> bv w"
    BV_COMPARE = "(bv w, bv w) -> bool"
    EQUALITY = "(s, s) -> bool"
    EXTRACT = "[hi, lo] (bv w) -> bv (hi - lo + 1), where w > hi >= lo >= 0"
    CONCAT = "(bv w1, ..., bv wn) -> bv (w1 + ... + wn), n >= 2, first operand most significant"
    EXTEND = "[n] (bv w) -> bv (w + n), n >= 0"
    ITE = "(bool, s, s) -> s"
    BOOL_UNARY = "(bool) -> bool"
    BOOL_BINARY = "(bool, bool) -> bool"
    BOOL_NARY = "(bool, ..., bool) -> bool, n >= 2"


@dataclass(frozen=True, slots=True)
class Op:
    """One operation: its name in the IR, its SMT-LIB symbol, signature and meaning.

    ``params`` names the integer indices an op carries besides its operands (SMT-LIB's indexed
    identifiers: ``(_ extract hi lo)``, ``(_ zero_extend n)``).
    """

    name: str
    smtlib: str
    signature: Signature
    meaning: str
    params: tuple[str, ...] = ()
    commutative: bool = False

    def result_sort(self, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
        """The sort of an application to operands of ``sorts``; raises IRTypeError when ill-typed."""
        if len(params) != len(self.params) or not all(type(p) is int for p in params):
            raise IRTypeError(f"{self.name}: expected parameters ({', '.join(self.params)}), got {params!r}")
        return _TYPING[self.signature](self, sorts, params)


def _arity(op: Op, sorts: tuple[Sort, ...], count: int) -> None:
    if len(sorts) != count:
        raise IRTypeError(f"{op.name}: expected {count} operand(s), got {len(sorts)}")


def _all_bv(op: Op, sorts: tuple[Sort, ...]) -> None:
    for i, sort in enumerate(sorts):
        if not sort.is_bv:
            raise IRTypeError(f"{op.name}: operand {i + 1} must be a bit-vector, got {sort}")


def _same(op: Op, sorts: tuple[Sort, ...]) -> None:
    if any(s != sorts[0] for s in sorts):
        raise IRTypeError(f"{op.name}: operand sorts differ: {', '.join(map(str, sorts))}")


def _bv_unary(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 1)
    _all_bv(op, sorts)
    return sorts[0]


def _bv_binary(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 2)
    _all_bv(op, sorts)
    _same(op, sorts)
    return sorts[0]


def _bv_compare(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _bv_binary(op, sorts, params)
    return BOOL


def _equality(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 2)
    _same(op, sorts)
    return BOOL


def _extract(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 1)
    _all_bv(op, sorts)
    hi, lo = params
    if not sorts[0].width > hi >= lo >= 0:
        raise IRTypeError(
            f"extract: bits [{hi}:{lo}] do not lie within a {sorts[0]} (need {sorts[0].width} > hi >= lo >= 0)")
    return bv_sort(hi - lo + 1)


def _concat(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    if len(sorts) < 2:
        raise IRTypeError(f"concat: expected at least 2 operands, got {len(sorts)}")
    _all_bv(op, sorts)
    return bv_sort(sum(s.width for s in sorts))


def _extend(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 1)
    _all_bv(op, sorts)
    if params[0] < 0:
        raise IRTypeError(f"{op.name}: cannot extend by a negative number of bits ({params[0]})")
    return bv_sort(sorts[0].width + params[0])


def _ite(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 3)
    if not sorts[0].is_bool:
        raise IRTypeError(f"ite: the condition must be a bool, got {sorts[0]}")
    if sorts[1] != sorts[2]:
        raise IRTypeError(f"ite: the branches' sorts differ: {sorts[1]} and {sorts[2]}")
    return sorts[1]


def _bools(op: Op, sorts: tuple[Sort, ...]) -> Sort:
    for i, sort in enumerate(sorts):
        if not sort.is_bool:
            raise IRTypeError(f"{op.name}: operand {i + 1} must be a bool, got {sort}")
    return BOOL


def _bool_unary(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 1)
    return _bools(op, sorts)


def _bool_binary(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    _arity(op, sorts, 2)
    return _bools(op, sorts)


def _bool_nary(op: Op, sorts: tuple[Sort, ...], params: tuple[int, ...]) -> Sort:
    if len(sorts) < 2:
        raise IRTypeError(f"{op.name}: expected at least 2 operands, got {len(sorts)} (the builders accept fewer)")
    return _bools(op, sorts)


_TYPING: dict[Signature, Callable[[Op, tuple[Sort, ...], tuple[int, ...]], Sort]] = {
    Signature.BV_UNARY: _bv_unary,
    Signature.BV_BINARY: _bv_binary,
    Signature.BV_COMPARE: _bv_compare,
    Signature.EQUALITY: _equality,
    Signature.EXTRACT: _extract,
    Signature.CONCAT: _concat,
    Signature.EXTEND: _extend,
    Signature.ITE: _ite,
    Signature.BOOL_UNARY: _bool_unary,
    Signature.BOOL_BINARY: _bool_binary,
    Signature.BOOL_NARY: _bool_nary,
}

_S = Signature

#: Every op, by name. Values of width w are read as unsigned integers in [0, 2^w) unless the
#: meaning says "signed" (two's complement, in [-2^(w-1), 2^(w-1))). Results wrap modulo 2^w.
OPS: dict[str, Op] = {op.name: op for op in (
    Op("bvand", "bvand", _S.BV_BINARY, "bitwise and", commutative=True),
    Op("bvor", "bvor", _S.BV_BINARY, "bitwise or", commutative=True),
    Op("bvxor", "bvxor", _S.BV_BINARY, "bitwise exclusive or", commutative=True),
    Op("bvnot", "bvnot", _S.BV_UNARY, "bitwise complement: 2^w - 1 - x"),
    Op("bvneg", "bvneg", _S.BV_UNARY, "two's-complement negation: (2^w - x) mod 2^w"),
    Op("add", "bvadd", _S.BV_BINARY, "(x + y) mod 2^w", commutative=True),
    Op("sub", "bvsub", _S.BV_BINARY, "(x - y) mod 2^w"),
    Op("mul", "bvmul", _S.BV_BINARY, "(x * y) mod 2^w", commutative=True),
    Op("shl", "bvshl", _S.BV_BINARY, "(x * 2^y) mod 2^w: shift left by y (unsigned); 0 when y >= w"),
    Op("lshr", "bvlshr", _S.BV_BINARY, "floor(x / 2^y): logical shift right by y (unsigned); 0 when y >= w"),
    Op("ashr", "bvashr", _S.BV_BINARY,
       "arithmetic shift right of signed x by unsigned y, filling with the sign bit; "
       "when y >= w every bit is the sign bit"),
    Op("udiv", "bvudiv", _S.BV_BINARY, "floor(x / y), unsigned; x udiv 0 = 2^w - 1 (all ones), as in SMT-LIB"),
    Op("urem", "bvurem", _S.BV_BINARY, "x mod y, unsigned; x urem 0 = x, as in SMT-LIB"),
    Op("extract", "extract", _S.EXTRACT, "bits hi down to lo of x: floor(x / 2^lo) mod 2^(hi - lo + 1)",
       params=("hi", "lo")),
    Op("concat", "concat", _S.CONCAT, "the operands' bits side by side, the first operand most significant"),
    Op("zero_extend", "zero_extend", _S.EXTEND, "x with n zero bits added above it (the same unsigned value)",
       params=("n",)),
    Op("sign_extend", "sign_extend", _S.EXTEND,
       "x with n copies of its sign bit added above it (the same signed value)", params=("n",)),
    Op("eq", "=", _S.EQUALITY, "x = y (bit-vectors or booleans)", commutative=True),
    Op("ne", "distinct", _S.EQUALITY, "x != y (bit-vectors or booleans)", commutative=True),
    Op("ult", "bvult", _S.BV_COMPARE, "x < y, unsigned"),
    Op("ule", "bvule", _S.BV_COMPARE, "x <= y, unsigned"),
    Op("ugt", "bvugt", _S.BV_COMPARE, "x > y, unsigned"),
    Op("uge", "bvuge", _S.BV_COMPARE, "x >= y, unsigned"),
    Op("slt", "bvslt", _S.BV_COMPARE, "x < y, signed"),
    Op("sle", "bvsle", _S.BV_COMPARE, "x <= y, signed"),
    Op("sgt", "bvsgt", _S.BV_COMPARE, "x > y, signed"),
    Op("sge", "bvsge", _S.BV_COMPARE, "x >= y, signed"),
    Op("ite", "ite", _S.ITE, "if c then x else y"),
    Op("and", "and", _S.BOOL_NARY, "every operand is true", commutative=True),
    Op("or", "or", _S.BOOL_NARY, "some operand is true", commutative=True),
    Op("not", "not", _S.BOOL_UNARY, "not c"),
    Op("implies", "=>", _S.BOOL_BINARY, "not a, or b"),
    Op("xor", "xor", _S.BOOL_BINARY, "exactly one of a and b is true", commutative=True),
)}


def op(name: str) -> Op:
    """The op called ``name``, with a clear error for a name the table does not have."""
    try:
        return OPS[name]
    except KeyError:
        raise IRTypeError(f"unknown IR op {name!r} (known: {', '.join(OPS)})") from None
