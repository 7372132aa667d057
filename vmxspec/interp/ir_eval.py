"""Concrete evaluation of IR terms over plain ints: the reference meaning of the op table.

This is the side of the IR that counterexamples are replayed against, so it is written from the
op table's meanings (``vmxspec.ir.ops``) alone, with Python ints and masks, and shares no code with
the solver's side: not the Z3 encoder, and not the constant folding the smart constructors do
(``vmxspec.ir.fold``), which is on the solver's side of every comparison.

Booleans are evaluated as 0 and 1; ``evaluate`` returns an int for either sort and ``holds`` a
bool for a boolean term. A bounded quantifier is evaluated by enumerating its range, stopping at
the first value that decides it; a range larger than ``quantifier_limit`` is refused with
``EvalError`` (enumerating 2^32 MSR indices in Python is not an answer, it is a hang).

The traversal is iterative, with one memo per quantifier level: a subterm that does not mention
a quantifier's variable is evaluated once, not once per value of the variable.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vmxspec.ir.terms import App, Const, Quantifier, Term, Var, free_var_set

#: Largest quantifier range ``evaluate`` enumerates by default (all 16-bit I/O ports fit).
QUANTIFIER_LIMIT = 1 << 16


class EvalError(Exception):
    """A term cannot be evaluated: a variable without a value, or a quantifier too large to enumerate."""


#: (operand values, operand widths, parameters) -> result. Booleans are 0/1 with width 1.
Impl = Callable[[list[int], list[int], tuple[int, ...]], int]


def _ones(width: int) -> int:
    return (1 << width) - 1


def _signed(value: int, width: int) -> int:
    """Two's-complement reading of a ``width``-bit value."""
    sign_bit = 1 << (width - 1)
    return (value & (sign_bit - 1)) - (value & sign_bit)


def _shift_left(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, amount = v
    return (x << amount) & _ones(w[0]) if amount < w[0] else 0


def _shift_right_logical(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, amount = v
    return x >> amount if amount < w[0] else 0


def _shift_right_arithmetic(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, amount = v
    width = w[0]
    negative = (x >> (width - 1)) & 1
    if amount >= width:
        return _ones(width) if negative else 0
    shifted = x >> amount
    if negative:  # the vacated top `amount` bits take the sign
        shifted |= _ones(width) ^ _ones(width - amount)
    return shifted


def _divide(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, y = v
    return _ones(w[0]) if y == 0 else x // y


def _remainder(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, y = v
    return x if y == 0 else x % y


def _extract(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    hi, lo = p
    return (v[0] >> lo) & _ones(hi - lo + 1)


def _concat(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    result = 0
    for value, width in zip(v, w, strict=True):
        result = (result << width) | value
    return result


def _sign_extend(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
    x, width, extra = v[0], w[0], p[0]
    return x | (_ones(extra) << width) if (x >> (width - 1)) & 1 else x


def _signed_compare(compare: Callable[[int, int], bool]) -> Impl:
    def impl(v: list[int], w: list[int], p: tuple[int, ...]) -> int:
        return int(compare(_signed(v[0], w[0]), _signed(v[1], w[1])))
    return impl


IMPLEMENTATIONS: dict[str, Impl] = {
    "bvand": lambda v, w, p: v[0] & v[1],
    "bvor": lambda v, w, p: v[0] | v[1],
    "bvxor": lambda v, w, p: v[0] ^ v[1],
    "bvnot": lambda v, w, p: _ones(w[0]) - v[0],
    "bvneg": lambda v, w, p: ((1 << w[0]) - v[0]) & _ones(w[0]),
    "add": lambda v, w, p: (v[0] + v[1]) % (1 << w[0]),
    "sub": lambda v, w, p: (v[0] - v[1]) % (1 << w[0]),
    "mul": lambda v, w, p: (v[0] * v[1]) % (1 << w[0]),
    "shl": _shift_left,
    "lshr": _shift_right_logical,
    "ashr": _shift_right_arithmetic,
    "udiv": _divide,
    "urem": _remainder,
    "extract": _extract,
    "concat": _concat,
    "zero_extend": lambda v, w, p: v[0],
    "sign_extend": _sign_extend,
    "eq": lambda v, w, p: int(v[0] == v[1]),
    "ne": lambda v, w, p: int(v[0] != v[1]),
    "ult": lambda v, w, p: int(v[0] < v[1]),
    "ule": lambda v, w, p: int(v[0] <= v[1]),
    "ugt": lambda v, w, p: int(v[0] > v[1]),
    "uge": lambda v, w, p: int(v[0] >= v[1]),
    "slt": _signed_compare(lambda a, b: a < b),
    "sle": _signed_compare(lambda a, b: a <= b),
    "sgt": _signed_compare(lambda a, b: a > b),
    "sge": _signed_compare(lambda a, b: a >= b),
    "ite": lambda v, w, p: v[1] if v[0] == 1 else v[2],
    "and": lambda v, w, p: int(all(x == 1 for x in v)),
    "or": lambda v, w, p: int(any(x == 1 for x in v)),
    "not": lambda v, w, p: int(v[0] == 0),
    "implies": lambda v, w, p: int(v[0] == 0 or v[1] == 1),
    "xor": lambda v, w, p: int(v[0] != v[1]),
}


def _width(term: Term) -> int:
    return 1 if term.sort.is_bool else term.sort.width


class _Frame:
    """The values known at one quantifier level: ``bound`` is this level's variable (None at top).

    A subterm is memoised in the innermost frame whose variable it mentions, so subterms that do
    not mention an inner variable are shared by all of that variable's values.
    """

    __slots__ = ("bound", "env", "memo", "parent")

    def __init__(self, env: Mapping[Var, int], bound: Var | None, parent: _Frame | None) -> None:
        self.env = env
        self.bound = bound
        self.parent = parent
        self.memo: dict[Term, int] = {}

    def owner(self, term: Term) -> _Frame:
        frame = self
        while frame.parent is not None and frame.bound not in free_var_set(term):
            frame = frame.parent
        return frame


class _Evaluator:
    def __init__(self, limit: int) -> None:
        self.limit = limit

    def value(self, root: Term, frame: _Frame) -> int:
        stack = [root]
        while stack:
            term = stack[-1]
            owner = frame.owner(term)
            if term in owner.memo:
                stack.pop()
                continue
            if isinstance(term, App):
                missing = [a for a in term.args if a not in frame.owner(a).memo]
                if missing:
                    stack.extend(missing)
                    continue
                values = [frame.owner(a).memo[a] for a in term.args]
                result = IMPLEMENTATIONS[term.op.name](values, [_width(a) for a in term.args], term.params)
            elif isinstance(term, Const):
                result = term.value
            elif isinstance(term, Var):
                result = self.variable(term, frame.env)
            elif isinstance(term, Quantifier):
                result = self.quantifier(term, frame)
            else:  # pragma: no cover - every Term subclass is handled above
                raise AssertionError(type(term))
            owner.memo[term] = result
            stack.pop()
        return frame.owner(root).memo[root]

    @staticmethod
    def variable(var: Var, env: Mapping[Var, int]) -> int:
        if var not in env:
            raise EvalError(f"no value for variable {var.name} ({var.sort})")
        value = env[var]
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int) or not 0 <= value <= var.sort.mask:
            raise EvalError(f"value {value!r} for variable {var.name} does not fit its sort {var.sort}")
        return value

    def quantifier(self, term: Quantifier, frame: _Frame) -> int:
        count = term.hi - term.lo
        if count > self.limit:
            raise EvalError(
                f"{term.kind} {term.var.name} ranges over {count} values "
                f"([{term.lo:#x}, {term.hi:#x})), more than the {self.limit} this evaluator enumerates")
        deciding = 1 if term.kind == "exists" else 0
        for value in range(term.lo, term.hi):
            inner = _Frame({**frame.env, term.var: value}, term.var, frame)
            if self.value(term.body, inner) == deciding:
                return deciding
        return 1 - deciding


def evaluate(term: Term, env: Mapping[Var, int], *, quantifier_limit: int = QUANTIFIER_LIMIT) -> int:
    """The value of ``term`` when each variable has its value in ``env`` (booleans are 0 and 1)."""
    return _Evaluator(quantifier_limit).value(term, _Frame(env, None, None))


def holds(term: Term, env: Mapping[Var, int], *, quantifier_limit: int = QUANTIFIER_LIMIT) -> bool:
    """Whether the boolean ``term`` is true under ``env``."""
    if not term.sort.is_bool:
        raise EvalError(f"holds() needs a bool term, got a {term.sort}")
    return evaluate(term, env, quantifier_limit=quantifier_limit) == 1
