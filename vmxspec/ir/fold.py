"""Constant folding: each op of the table applied to constant operands, while terms are built.

This is the partial evaluator's arithmetic (DESIGN.md, "Encoding for speed"): whatever the spec
fixes is computed here and never reaches Z3. It is deliberately a separate implementation from
``vmxspec.interp.ir_eval``: that one is the reference the solver's answers are replayed against,
and it must not share code with anything on the solver's side of the comparison. The differential
tests compare all three (this, ``ir_eval`` and Z3) on every op.

Each folder takes the operand values (booleans as 0 and 1), the operand widths (0 for a boolean)
and the op's parameters, and returns the value of the result.
"""

from __future__ import annotations

from collections.abc import Callable

Folder = Callable[[tuple[int, ...], tuple[int, ...], tuple[int, ...]], int]


def _mask(width: int) -> int:
    return (1 << width) - 1


def _to_signed(value: int, width: int) -> int:
    return value - (1 << width) if value >> (width - 1) else value


def _shl(v: tuple[int, ...], w: tuple[int, ...], p: tuple[int, ...]) -> int:
    return 0 if v[1] >= w[0] else (v[0] << v[1]) & _mask(w[0])


def _lshr(v: tuple[int, ...], w: tuple[int, ...], p: tuple[int, ...]) -> int:
    return 0 if v[1] >= w[0] else v[0] >> v[1]


def _ashr(v: tuple[int, ...], w: tuple[int, ...], p: tuple[int, ...]) -> int:
    # Python's >> on a negative int is arithmetic; shifting by w - 1 already gives all sign bits.
    return (_to_signed(v[0], w[0]) >> min(v[1], w[0] - 1)) & _mask(w[0])


def _concat(v: tuple[int, ...], w: tuple[int, ...], p: tuple[int, ...]) -> int:
    result = 0
    for value, width in zip(v, w, strict=True):
        result = (result << width) | value
    return result


def _sign_extend(v: tuple[int, ...], w: tuple[int, ...], p: tuple[int, ...]) -> int:
    return _to_signed(v[0], w[0]) & _mask(w[0] + p[0])


def _signed(compare: Callable[[int, int], bool]) -> Folder:
    return lambda v, w, p: int(compare(_to_signed(v[0], w[0]), _to_signed(v[1], w[0])))


FOLDERS: dict[str, Folder] = {
    "bvand": lambda v, w, p: v[0] & v[1],
    "bvor": lambda v, w, p: v[0] | v[1],
    "bvxor": lambda v, w, p: v[0] ^ v[1],
    "bvnot": lambda v, w, p: v[0] ^ _mask(w[0]),
    "bvneg": lambda v, w, p: -v[0] & _mask(w[0]),
    "add": lambda v, w, p: (v[0] + v[1]) & _mask(w[0]),
    "sub": lambda v, w, p: (v[0] - v[1]) & _mask(w[0]),
    "mul": lambda v, w, p: (v[0] * v[1]) & _mask(w[0]),
    "shl": _shl,
    "lshr": _lshr,
    "ashr": _ashr,
    "udiv": lambda v, w, p: v[0] // v[1] if v[1] else _mask(w[0]),
    "urem": lambda v, w, p: v[0] % v[1] if v[1] else v[0],
    "extract": lambda v, w, p: (v[0] >> p[1]) & _mask(p[0] - p[1] + 1),
    "concat": _concat,
    "zero_extend": lambda v, w, p: v[0],
    "sign_extend": _sign_extend,
    "eq": lambda v, w, p: int(v[0] == v[1]),
    "ne": lambda v, w, p: int(v[0] != v[1]),
    "ult": lambda v, w, p: int(v[0] < v[1]),
    "ule": lambda v, w, p: int(v[0] <= v[1]),
    "ugt": lambda v, w, p: int(v[0] > v[1]),
    "uge": lambda v, w, p: int(v[0] >= v[1]),
    "slt": _signed(lambda a, b: a < b),
    "sle": _signed(lambda a, b: a <= b),
    "sgt": _signed(lambda a, b: a > b),
    "sge": _signed(lambda a, b: a >= b),
    "ite": lambda v, w, p: v[1] if v[0] else v[2],
    "and": lambda v, w, p: int(all(v)),
    "or": lambda v, w, p: int(any(v)),
    "not": lambda v, w, p: 1 - v[0],
    "implies": lambda v, w, p: int(not v[0] or bool(v[1])),
    "xor": lambda v, w, p: v[0] ^ v[1],
}
