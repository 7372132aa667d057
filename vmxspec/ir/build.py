"""Smart constructors: build IR terms, folding whatever is already decided (partial evaluation).

Lowering builds every term through these functions, never through ``App`` directly. Each one
checks sorts and widths (``IRTypeError`` at the line that made the mistake), and then:

* folds an application whose operands are all constants into a constant (``vmxspec.ir.fold``);
* applies identities that make concrete parts vanish even next to symbolic ones: ``x & 0 = 0``,
  ``x | ones = ones``, ``ite(true, a, b) = a``, ``and`` with a false operand, ``extract`` of a
  ``concat`` or ``zero_extend`` down to the part it reads, quantifiers whose body does not depend
  on the bound variable, ... Each rule is a plain equivalence (the differential tests compare every
  folded term with its unfolded twin under random assignments);
* returns the hash-consed node otherwise.

The identities live in ``vmxspec.ir.rewrite`` (registered in ``RULES`` when ``vmxspec.ir`` is
imported); quantifiers and substitution in ``vmxspec.ir.quant``; what the spec language's
expressions desugar to (ranges, sets, bit tests) in ``vmxspec.ir.sugar``.

Plain Python ints are accepted where the other operands fix the width (``bvand(x, 0xFF)``); a bare
int with nothing to take a width from is an error, as is an int that does not fit (no silent
wrapping: write ``ones(w)`` for all ones). Python bools are accepted where a boolean is expected.

And and or are n-ary: build a big conjunction with one call (``and_(*parts)``), not by folding
pairs, which re-flattens at every step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from vmxspec.ir.fold import FOLDERS
from vmxspec.ir.ops import Op, Signature, op
from vmxspec.ir.sorts import BOOL, IRTypeError, Sort, bv_sort
from vmxspec.ir.terms import FALSE, TRUE, App, Const, Term, Var, boolean

TermLike = Term | int | bool


def ones(width: int) -> Const:
    return Const((1 << width) - 1, bv_sort(width))


def zero(width: int) -> Const:
    return Const(0, bv_sort(width))


def var(name: str, width: int, source: object = None) -> Var:
    """A ``width``-bit variable; ``source`` is what ``--explain`` shows for it (usually a Span)."""
    return Var(name, bv_sort(width), source)


def bool_var(name: str, source: object = None) -> Var:
    return Var(name, BOOL, source)


# -- operand coercion -------------------------------------------------------------------------------

def coerce(name: str, value: TermLike, sort: Sort | None) -> Term:
    """``value`` as a term of ``sort`` (an int needs a bit-vector sort, a bool a BOOL one)."""
    if isinstance(value, Term):
        return value
    if isinstance(value, bool):
        if sort is not None and sort.is_bv:
            raise IRTypeError(f"{name}: a Python bool cannot stand for a {sort} operand")
        return boolean(value)
    if isinstance(value, int):
        if sort is None:
            raise IRTypeError(
                f"{name}: cannot tell the width of the int {value!r}: give at least one operand as a term")
        if sort.is_bool:
            raise IRTypeError(f"{name}: the int {value!r} cannot stand for a bool operand (use True/False)")
        return Const(value, sort)
    raise IRTypeError(f"{name}: an operand must be an IR term, an int or a bool, not {value!r}")


def coerce_all(the_op: Op, args: tuple[TermLike, ...]) -> tuple[Term, ...]:
    sig = the_op.signature
    if sig in (Signature.BV_BINARY, Signature.BV_COMPARE, Signature.EQUALITY):
        sort = next((a.sort for a in args if isinstance(a, Term)), None)
        if sort is None and all(isinstance(a, bool) for a in args):
            sort = BOOL
        return tuple(coerce(the_op.name, a, sort) for a in args)
    if sig is Signature.ITE and len(args) == 3:
        sort = next((a.sort for a in args[1:] if isinstance(a, Term)), None)
        if sort is None and all(isinstance(a, bool) for a in args[1:]):
            sort = BOOL
        return (coerce("ite", args[0], BOOL), *(coerce("ite", a, sort) for a in args[1:]))
    if sig in (Signature.BOOL_UNARY, Signature.BOOL_BINARY, Signature.BOOL_NARY):
        return tuple(coerce(the_op.name, a, BOOL) for a in args)
    return tuple(coerce(the_op.name, a, None) for a in args)


# -- the generic constructor ----------------------------------------------------------------------

#: A rewrite for one op: given operands (not all constant), parameters and the result sort, an
#: equivalent simpler term, or None to keep the application as it is.
Rule = Callable[[tuple[Term, ...], tuple[int, ...], Sort], Term | None]

#: Op name -> its rewrite (filled by ``vmxspec.ir.rewrite``).
RULES: dict[str, Rule] = {}


def apply(name: str | Op, args: Iterable[TermLike], params: Iterable[int] = ()) -> Term:
    """``name(args)[params]``, checked and folded: what every named builder below calls."""
    the_op = name if isinstance(name, Op) else op(name)
    terms = coerce_all(the_op, tuple(args))
    params = tuple(params)
    if the_op.name == "and":
        return and_(*terms)
    if the_op.name == "or":
        return or_(*terms)
    sort = the_op.result_sort(tuple(t.sort for t in terms), params)
    if all(isinstance(t, Const) for t in terms):
        values = tuple(t.value for t in terms if isinstance(t, Const))
        widths = tuple(t.sort.width for t in terms)
        return Const(FOLDERS[the_op.name](values, widths, params), sort)
    rule = RULES.get(the_op.name)
    if rule is not None:
        simpler = rule(terms, params, sort)
        if simpler is not None:
            return simpler
    return App(the_op, terms, params)


# -- the named builders -----------------------------------------------------------------------------

def bvand(a: TermLike, b: TermLike) -> Term:
    return apply("bvand", (a, b))


def bvor(a: TermLike, b: TermLike) -> Term:
    return apply("bvor", (a, b))


def bvxor(a: TermLike, b: TermLike) -> Term:
    return apply("bvxor", (a, b))


def bvnot(a: Term) -> Term:
    return apply("bvnot", (a,))


def bvneg(a: Term) -> Term:
    return apply("bvneg", (a,))


def add(a: TermLike, b: TermLike) -> Term:
    return apply("add", (a, b))


def sub(a: TermLike, b: TermLike) -> Term:
    return apply("sub", (a, b))


def mul(a: TermLike, b: TermLike) -> Term:
    return apply("mul", (a, b))


def shl(a: TermLike, b: TermLike) -> Term:
    return apply("shl", (a, b))


def lshr(a: TermLike, b: TermLike) -> Term:
    return apply("lshr", (a, b))


def ashr(a: TermLike, b: TermLike) -> Term:
    return apply("ashr", (a, b))


def udiv(a: TermLike, b: TermLike) -> Term:
    return apply("udiv", (a, b))


def urem(a: TermLike, b: TermLike) -> Term:
    return apply("urem", (a, b))


def extract(a: Term, hi: int, lo: int) -> Term:
    """Bits ``hi`` down to ``lo`` of ``a`` (the SDM's "bits hi:lo")."""
    return apply("extract", (a,), (hi, lo))


def concat(*parts: Term) -> Term:
    """The parts side by side, the first most significant; one part is returned as it is."""
    if len(parts) == 1 and isinstance(parts[0], Term):
        return parts[0]
    return apply("concat", parts)


def zero_extend(a: Term, n: int) -> Term:
    """``a`` widened by ``n`` zero bits."""
    return apply("zero_extend", (a,), (n,))


def sign_extend(a: Term, n: int) -> Term:
    return apply("sign_extend", (a,), (n,))


def eq(a: TermLike, b: TermLike) -> Term:
    return apply("eq", (a, b))


def ne(a: TermLike, b: TermLike) -> Term:
    return apply("ne", (a, b))


def ult(a: TermLike, b: TermLike) -> Term:
    return apply("ult", (a, b))


def ule(a: TermLike, b: TermLike) -> Term:
    return apply("ule", (a, b))


def ugt(a: TermLike, b: TermLike) -> Term:
    return apply("ugt", (a, b))


def uge(a: TermLike, b: TermLike) -> Term:
    return apply("uge", (a, b))


def slt(a: TermLike, b: TermLike) -> Term:
    return apply("slt", (a, b))


def sle(a: TermLike, b: TermLike) -> Term:
    return apply("sle", (a, b))


def sgt(a: TermLike, b: TermLike) -> Term:
    return apply("sgt", (a, b))


def sge(a: TermLike, b: TermLike) -> Term:
    return apply("sge", (a, b))


def ite(c: TermLike, a: TermLike, b: TermLike) -> Term:
    return apply("ite", (c, a, b))


def not_(a: TermLike) -> Term:
    return apply("not", (a,))


def implies(a: TermLike, b: TermLike) -> Term:
    return apply("implies", (a, b))


def xor(a: TermLike, b: TermLike) -> Term:
    """Boolean exclusive or (``bvxor`` is the bitwise one)."""
    return apply("xor", (a, b))


def _junction(name: str, unit: Const, zero_: Const, args: tuple[TermLike, ...]) -> Term:
    seen: dict[Term, None] = {}
    for position, arg in enumerate(args, 1):
        term = coerce(name, arg, BOOL)
        if not term.sort.is_bool:
            raise IRTypeError(f"{name}: operand {position} must be a bool, got {term.sort}")
        for part in term.args if isinstance(term, App) and term.op.name == name else (term,):
            if part is zero_:
                return zero_
            if part is not unit:
                seen.setdefault(part)
    for part in seen:
        if isinstance(part, App) and part.op.name == "not" and part.args[0] in seen:
            return zero_  # x and not x / x or not x
    parts = tuple(seen)
    if not parts:
        return unit
    return parts[0] if len(parts) == 1 else App(name, parts)


def and_(*args: TermLike) -> Term:
    """Every operand holds: n-ary and flattened; ``and_()`` is true."""
    return _junction("and", TRUE, FALSE, args)


def or_(*args: TermLike) -> Term:
    """Some operand holds: n-ary and flattened; ``or_()`` is false."""
    return _junction("or", FALSE, TRUE, args)
