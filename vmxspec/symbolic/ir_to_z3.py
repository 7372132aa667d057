"""Encode IR terms as Z3 expressions, one Z3 node per hash-consed IR node.

The encoder is written from the op table's meanings (``vmxspec.ir.ops``) in expression style,
independently of ``vmxspec.interp.ir_eval``; the differential tests hold the two to the same
answers. Each ``Encoder`` owns one Z3 context and caches the encoding of every term it has seen,
keyed on the term object: hash-consing makes that an identity lookup, and a subterm shared by many
obligations (a VMCS field, a table lookup) is encoded once per solver session.

Quantifiers: a bounded quantifier over at most ``unroll_limit`` values is unrolled into a
conjunction (forall) or disjunction (exists) of its instances, each built by IR substitution, so
the smart constructors fold every instance that becomes concrete (a quantifier over the bits of a
concrete bitmap disappears before Z3 sees it). A larger one becomes a Z3 quantifier over the
bit-vector with a range guard: ``ForAll i. lo <= i < hi => body`` and ``Exists i. lo <= i < hi and
body`` (guards omitted where the bound is the edge of the domain). Unrolling small ranges keeps
the query quantifier-free, where Z3 is complete and fast; large ranges stay compact and Z3's
bit-vector quantifier instantiation (MBQI) decides them, possibly answering unknown.

Variables: a Z3 constant per IR variable, named after it. Two IR variables may share a name at
different widths; SMT-LIB cannot say that unambiguously, so the second gets ``name@bvW``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import z3

from vmxspec.ir import quant
from vmxspec.ir.build import and_, or_
from vmxspec.ir.terms import App, Const, Quantifier, Term, Var

#: Quantifiers over at most this many values are unrolled (see the module docstring).
UNROLL_LIMIT = 64

#: (encoded operands, op parameters) -> the encoded application.
Encoding = Callable[[Sequence[z3.ExprRef], tuple[int, ...]], z3.ExprRef]


def _n_ary(function: Callable[..., z3.ExprRef]) -> Encoding:
    return lambda a, p: function(*a)


ENCODERS: dict[str, Encoding] = {
    "bvand": lambda a, p: a[0] & a[1],
    "bvor": lambda a, p: a[0] | a[1],
    "bvxor": lambda a, p: a[0] ^ a[1],
    "bvnot": lambda a, p: ~a[0],
    "bvneg": lambda a, p: -a[0],
    "add": lambda a, p: a[0] + a[1],
    "sub": lambda a, p: a[0] - a[1],
    "mul": lambda a, p: a[0] * a[1],
    "shl": lambda a, p: a[0] << a[1],
    "lshr": lambda a, p: z3.LShR(a[0], a[1]),
    "ashr": lambda a, p: a[0] >> a[1],  # z3's >> on bit-vectors is the arithmetic shift
    "udiv": lambda a, p: z3.UDiv(a[0], a[1]),
    "urem": lambda a, p: z3.URem(a[0], a[1]),
    "extract": lambda a, p: z3.Extract(p[0], p[1], a[0]),
    "concat": _n_ary(z3.Concat),
    "zero_extend": lambda a, p: z3.ZeroExt(p[0], a[0]),
    "sign_extend": lambda a, p: z3.SignExt(p[0], a[0]),
    "eq": lambda a, p: a[0] == a[1],
    "ne": lambda a, p: a[0] != a[1],
    "ult": lambda a, p: z3.ULT(a[0], a[1]),
    "ule": lambda a, p: z3.ULE(a[0], a[1]),
    "ugt": lambda a, p: z3.UGT(a[0], a[1]),
    "uge": lambda a, p: z3.UGE(a[0], a[1]),
    "slt": lambda a, p: a[0] < a[1],  # z3's < and friends on bit-vectors are signed
    "sle": lambda a, p: a[0] <= a[1],
    "sgt": lambda a, p: a[0] > a[1],
    "sge": lambda a, p: a[0] >= a[1],
    "ite": lambda a, p: z3.If(a[0], a[1], a[2]),
    "and": _n_ary(z3.And),
    "or": _n_ary(z3.Or),
    "not": lambda a, p: z3.Not(a[0]),
    "implies": lambda a, p: z3.Implies(a[0], a[1]),
    "xor": lambda a, p: z3.Xor(a[0], a[1]),
}


class Encoder:
    """IR -> Z3 in one context, with a cache of every term encoded so far."""

    def __init__(self, ctx: z3.Context | None = None, *, unroll_limit: int = UNROLL_LIMIT) -> None:
        self.ctx = ctx if ctx is not None else z3.Context()
        self.unroll_limit = unroll_limit
        self.cache: dict[Term, z3.ExprRef] = {}
        #: Every variable given a Z3 constant so far (free or bound), in order.
        self.variables: dict[Var, z3.ExprRef] = {}
        self._names: dict[str, Var] = {}

    def constant(self, var: Var) -> z3.ExprRef:
        """The Z3 constant standing for ``var`` (created on first use)."""
        found = self.variables.get(var)
        if found is not None:
            return found
        name = var.name
        if self._names.setdefault(name, var) is not var:
            name = f"{var.name}@{var.sort}"
        made = z3.Bool(name, self.ctx) if var.sort.is_bool else z3.BitVec(name, var.sort.width, self.ctx)
        self.variables[var] = made
        return made

    def encode(self, root: Term) -> z3.ExprRef:
        """The Z3 expression for ``root`` (iterative: IR terms can be deeper than the recursion limit)."""
        cache = self.cache
        stack = [root]
        while stack:
            term = stack[-1]
            if term in cache:
                stack.pop()
                continue
            if isinstance(term, App):
                missing = [a for a in term.args if a not in cache]
                if missing:
                    stack.extend(missing)
                    continue
                encoded = ENCODERS[term.op.name]([cache[a] for a in term.args], term.params)
            elif isinstance(term, Const):
                if term.sort.is_bool:
                    encoded = z3.BoolVal(bool(term.value), self.ctx)
                else:
                    encoded = z3.BitVecVal(term.value, term.sort.width, self.ctx)
            elif isinstance(term, Var):
                encoded = self.constant(term)
            elif isinstance(term, Quantifier):
                encoded = self._quantifier(term)
            else:  # pragma: no cover - every Term subclass is handled above
                raise AssertionError(type(term))
            cache[term] = encoded
            stack.pop()
        return cache[root]

    def _quantifier(self, term: Quantifier) -> z3.ExprRef:
        if term.hi - term.lo <= self.unroll_limit:
            instances = [quant.substitute(term.body, {term.var: Const(v, term.var.sort)})
                         for v in range(term.lo, term.hi)]
            return self.encode(and_(*instances) if term.kind == "forall" else or_(*instances))
        bound = self.constant(term.var)
        width = term.var.sort.width
        guards = []
        if term.lo > 0:
            guards.append(z3.UGE(bound, z3.BitVecVal(term.lo, width, self.ctx)))
        if term.hi < 1 << width:
            guards.append(z3.ULT(bound, z3.BitVecVal(term.hi, width, self.ctx)))
        body = self.encode(term.body)
        guard = z3.And(*guards) if guards else z3.BoolVal(True, self.ctx)
        if term.kind == "forall":
            return z3.ForAll([bound], z3.Implies(guard, body))
        return z3.Exists([bound], z3.And(guard, body))


def encode(term: Term, ctx: z3.Context | None = None, *, unroll_limit: int = UNROLL_LIMIT) -> z3.ExprRef:
    """One-off encoding of ``term`` (a fresh Encoder; use an Encoder to share the cache)."""
    return Encoder(ctx, unroll_limit=unroll_limit).encode(term)
