"""The identities the smart constructors apply when an application is not all constants.

Each rule is an equivalence over every assignment, however special it looks (``x urem x`` is 0
also for x = 0, because SMT-LIB defines ``0 urem 0`` as 0); the differential tests build random
terms both with and without these rules and compare them under random assignments. Rules aim at
what partial evaluation of a configuration produces: constants next to open values (masks, fields
cut out of a partly known register, comparisons against extreme values, conditions already
decided).
"""

from __future__ import annotations

from vmxspec.ir.build import (
    RULES,
    Rule,
    add,
    and_,
    apply,
    bvand,
    bvnot,
    bvor,
    concat,
    eq,
    extract,
    ite,
    ne,
    not_,
    ones,
    or_,
    zero,
    zero_extend,
)
from vmxspec.ir.sorts import Sort, bv_sort
from vmxspec.ir.terms import FALSE, TRUE, App, Const, Term, is_const


def _swap_const_right(terms: tuple[Term, ...]) -> tuple[Term, Term]:
    a, b = terms
    return (b, a) if isinstance(a, Const) and not isinstance(b, Const) else (a, b)


def _is_app(term: Term, name: str) -> bool:
    return isinstance(term, App) and term.op.name == name


def _complements(a: Term, b: Term, negation: str) -> bool:
    return (isinstance(a, App) and a.op.name == negation and a.args[0] is b) or (
        isinstance(b, App) and b.op.name == negation and b.args[0] is a)


# -- bit-vector rules -------------------------------------------------------------------------------

def _rule_bvand(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if is_const(b, 0):
        return b
    if is_const(b, sort.mask):
        return a
    if a is b:
        return a
    if _complements(a, b, "bvnot"):
        return zero(sort.width)
    if isinstance(b, Const) and isinstance(a, App) and a.op.name == "bvand" and isinstance(a.args[1], Const):
        return bvand(a.args[0], a.args[1].value & b.value)
    return App("bvand", (a, b))


def _rule_bvor(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if is_const(b, 0):
        return a
    if is_const(b, sort.mask):
        return b
    if a is b:
        return a
    if _complements(a, b, "bvnot"):
        return ones(sort.width)
    if isinstance(b, Const) and isinstance(a, App) and a.op.name == "bvor" and isinstance(a.args[1], Const):
        return bvor(a.args[0], a.args[1].value | b.value)
    return App("bvor", (a, b))


def _rule_bvxor(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if is_const(b, 0):
        return a
    if is_const(b, sort.mask):
        return bvnot(a)
    if a is b:
        return zero(sort.width)
    return App("bvxor", (a, b))


def _rule_involution(name: str) -> Rule:
    def rule(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
        (a,) = terms
        return a.args[0] if isinstance(a, App) and a.op.name == name else None
    return rule


def _rule_add(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if is_const(b, 0):
        return a
    if isinstance(b, Const) and isinstance(a, App) and a.op.name == "add" and isinstance(a.args[1], Const):
        return add(a.args[0], (a.args[1].value + b.value) & sort.mask)
    return App("add", (a, b))


def _rule_sub(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = terms
    if is_const(b, 0):
        return a
    if a is b:
        return zero(sort.width)
    return None


def _rule_mul(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if is_const(b, 0):
        return b
    if is_const(b, 1):
        return a
    return App("mul", (a, b))


def _rule_shift(name: str) -> Rule:
    def rule(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
        a, b = terms
        if is_const(b, 0) or is_const(a, 0):
            return a
        if name != "ashr" and isinstance(b, Const) and b.value >= sort.width:
            return zero(sort.width)
        return None
    return rule


def _rule_udiv(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = terms
    if is_const(b, 1):
        return a
    if is_const(b, 0):
        return ones(sort.width)  # SMT-LIB: x udiv 0 is all ones
    return None


def _rule_urem(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = terms
    if is_const(b, 1) or a is b:  # x urem x is 0, also for x = 0 (0 urem 0 = 0)
        return zero(sort.width)
    if is_const(b, 0):
        return a  # SMT-LIB: x urem 0 is x
    return None


def _rule_extract(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    (x,) = terms
    hi, lo = params
    if lo == 0 and hi == x.width - 1:
        return x
    if not isinstance(x, App):
        return None
    name = x.op.name
    if name == "extract":
        return extract(x.args[0], hi + x.params[1], lo + x.params[1])
    if name == "concat":
        # Keep only the parts the range overlaps, each cut down to the overlap.
        pieces: list[Term] = []
        offset = 0
        for part in reversed(x.args):  # least significant part first
            top = offset + part.width - 1
            if top >= lo and offset <= hi:
                pieces.append(extract(part, min(hi, top) - offset, max(lo, offset) - offset))
            offset += part.width
        return pieces[0] if len(pieces) == 1 else concat(*reversed(pieces))
    if name == "zero_extend":
        inner = x.args[0]
        if lo >= inner.width:
            return zero(hi - lo + 1)
        if hi < inner.width:
            return extract(inner, hi, lo)
        return zero_extend(extract(inner, inner.width - 1, lo), hi - inner.width + 1)
    if name == "sign_extend" and hi < x.args[0].width:
        return extract(x.args[0], hi, lo)
    return None


def _rule_concat(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    flat: list[Term] = []
    for term in terms:
        flat.extend(term.args if _is_app(term, "concat") and isinstance(term, App) else (term,))
    merged: list[Term] = []
    for term in flat:
        if merged:
            last = merged[-1]
            if isinstance(last, Const) and isinstance(term, Const):
                merged[-1] = Const((last.value << term.width) | term.value, bv_sort(last.width + term.width))
                continue
            if (isinstance(last, App) and isinstance(term, App) and last.op.name == term.op.name == "extract"
                    and last.args[0] is term.args[0] and last.params[1] == term.params[0] + 1):
                merged[-1] = extract(term.args[0], last.params[0], term.params[1])
                continue
        merged.append(term)
    if len(merged) == 1:
        return merged[0]
    return App("concat", tuple(merged))


def _rule_extend(name: str) -> Rule:
    def rule(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
        (x,) = terms
        if params[0] == 0:
            return x
        if isinstance(x, App) and x.op.name == name:
            return App(name, x.args, (params[0] + x.params[0],))
        return None
    return rule


# -- comparison rules -------------------------------------------------------------------------------

def _rule_eq(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if a is b:
        return TRUE
    if a.sort.is_bool and isinstance(b, Const):
        return a if b.value else not_(a)
    if isinstance(b, Const) and _is_app(a, "zero_extend") and isinstance(a, App):
        inner = a.args[0]
        return FALSE if b.value >> inner.width else eq(inner, Const(b.value, inner.sort))
    if a.sort.is_bool and _complements(a, b, "not"):
        return FALSE
    return App("eq", (a, b))


def _rule_ne(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if a is b:
        return FALSE
    if a.sort.is_bool and isinstance(b, Const):
        return not_(a) if b.value else a
    if isinstance(b, Const) and _is_app(a, "zero_extend") and isinstance(a, App):
        inner = a.args[0]
        return TRUE if b.value >> inner.width else ne(inner, Const(b.value, inner.sort))
    return App("ne", (a, b))


def _rule_compare(name: str) -> Rule:
    """x < y style comparisons: decided when the operands are one term or a constant is extreme."""
    strict = name in ("ult", "ugt", "slt", "sgt")
    signed = name.startswith("s")
    # (smallest, largest) decide: "a < b" is false when b is the smallest or a the largest value.
    below = name in ("ult", "ule", "slt", "sle")

    def rule(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
        a, b = terms
        if a is b:
            return FALSE if strict else TRUE
        width = a.width
        low = 1 << (width - 1) if signed else 0
        high = low - 1 if signed else (1 << width) - 1
        small, big = (a, b) if below else (b, a)  # the claim is "small <(=) big"
        if strict and (is_const(big, low) or is_const(small, high)):
            return FALSE
        if not strict and (is_const(small, low) or is_const(big, high)):
            return TRUE
        return None
    return rule


# -- boolean rules --------------------------------------------------------------------------------

_NEGATION = {"eq": "ne", "ne": "eq", "ult": "uge", "uge": "ult", "ule": "ugt", "ugt": "ule",
             "slt": "sge", "sge": "slt", "sle": "sgt", "sgt": "sle"}


def _rule_not(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    (a,) = terms
    if isinstance(a, App):
        if a.op.name == "not":
            return a.args[0]
        if a.op.name in _NEGATION:
            return apply(_NEGATION[a.op.name], a.args)
    return None


def _rule_implies(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = terms
    if is_const(a):
        return b if a is TRUE else TRUE
    if b is TRUE or a is b:
        return TRUE
    if b is FALSE:
        return not_(a)
    return None


def _rule_xor(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    a, b = _swap_const_right(terms)
    if b is FALSE:
        return a
    if b is TRUE:
        return not_(a)
    if a is b:
        return FALSE
    if _complements(a, b, "not"):
        return TRUE
    return App("xor", (a, b))


def _rule_ite(terms: tuple[Term, ...], params: tuple[int, ...], sort: Sort) -> Term | None:
    c, a, b = terms
    if isinstance(c, Const):
        return a if c.value else b
    if a is b:
        return a
    if isinstance(c, App) and c.op.name == "not":
        return ite(c.args[0], b, a)
    if sort.is_bool:
        if a is TRUE:
            return or_(c, b)
        if a is FALSE:
            return and_(not_(c), b)
        if b is TRUE:
            return or_(not_(c), a)
        if b is FALSE:
            return and_(c, a)
    return None


RULES.update({
    "bvand": _rule_bvand,
    "bvor": _rule_bvor,
    "bvxor": _rule_bvxor,
    "bvnot": _rule_involution("bvnot"),
    "bvneg": _rule_involution("bvneg"),
    "add": _rule_add,
    "sub": _rule_sub,
    "mul": _rule_mul,
    "shl": _rule_shift("shl"),
    "lshr": _rule_shift("lshr"),
    "ashr": _rule_shift("ashr"),
    "udiv": _rule_udiv,
    "urem": _rule_urem,
    "extract": _rule_extract,
    "concat": _rule_concat,
    "zero_extend": _rule_extend("zero_extend"),
    "sign_extend": _rule_extend("sign_extend"),
    "eq": _rule_eq,
    "ne": _rule_ne,
    **{name: _rule_compare(name) for name in ("ult", "ule", "ugt", "uge", "slt", "sle", "sgt", "sge")},
    "ite": _rule_ite,
    "not": _rule_not,
    "implies": _rule_implies,
    "xor": _rule_xor,
})
