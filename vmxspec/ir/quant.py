"""Bounded quantifiers and substitution, built through the smart constructors so they fold.

A quantifier folds away when its range is empty, when its body does not mention the bound
variable, when the range has one value, and, when the body mentions no other variable, by
enumerating up to ``FOLD_QUANTIFIER_LIMIT`` values (the body then folds to a constant for each).
What remains is a ``ForAll``/``Exists`` node; how it reaches the solver (unrolled or as a Z3
quantifier) is the encoder's decision.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.ir.build import TermLike, apply, coerce
from vmxspec.ir.sorts import BOOL, IRTypeError
from vmxspec.ir.terms import FALSE, TRUE, App, Const, Exists, ForAll, Quantifier, Term, Var, free_var_set

#: A quantifier whose body mentions no variable but the bound one is folded to a constant by
#: enumeration when it ranges over at most this many values.
FOLD_QUANTIFIER_LIMIT = 256


def _quantifier(cls: type[Quantifier], bound: Var, lo: int, hi: int, body: TermLike) -> Term:
    body_term = coerce(cls.kind, body, BOOL)
    empty = FALSE if cls is Exists else TRUE
    node = cls(bound, lo, hi, body_term)  # checks the range and sorts first
    if lo == hi:
        return empty
    if isinstance(body_term, Const) or bound not in free_var_set(body_term):
        return body_term
    if hi - lo == 1:
        return substitute(body_term, {bound: Const(lo, bound.sort)})
    if free_var_set(body_term) == {bound} and hi - lo <= FOLD_QUANTIFIER_LIMIT:
        stop = TRUE if cls is Exists else FALSE  # the value that decides the quantifier
        for value in range(lo, hi):
            instance = substitute(body_term, {bound: Const(value, bound.sort)})
            if not isinstance(instance, Const):
                return node  # a nested quantifier too large to fold: keep it
            if instance is stop:
                return stop
        return empty
    return node


def forall(bound: Var, lo: int, hi: int, body: TermLike) -> Term:
    """``body`` holds for every value of ``bound`` in [lo, hi) (half-open; empty is true)."""
    return _quantifier(ForAll, bound, lo, hi, body)


def exists(bound: Var, lo: int, hi: int, body: TermLike) -> Term:
    """``body`` holds for some value of ``bound`` in [lo, hi) (half-open; empty is false)."""
    return _quantifier(Exists, bound, lo, hi, body)


def rebuild(term: Term, children: tuple[Term, ...]) -> Term:
    """``term`` with its children replaced, through the smart constructors (so it folds)."""
    if isinstance(term, App):
        return apply(term.op, children, term.params)
    if isinstance(term, Quantifier):
        return _quantifier(type(term), term.var, term.lo, term.hi, children[0])
    return term


def substitute(term: Term, mapping: Mapping[Var, Term]) -> Term:
    """``term`` with free occurrences of each variable replaced, folding what becomes constant.

    A quantifier's bound variable is not replaced inside it (it shadows). Replacing a variable by
    a term mentioning a bound variable it would move under is refused, not renamed: lowering
    substitutes constants and fresh variables, and capture would be a bug there.
    """
    for key, value in mapping.items():
        if not isinstance(key, Var) or not isinstance(value, Term) or key.sort != value.sort:
            raise IRTypeError(f"substitute: cannot replace {key!r} by {value!r}")
    if not mapping:
        return term
    memo: dict[Term, Term] = {}
    stack: list[Term] = [term]
    while stack:
        node = stack[-1]
        if node in memo:
            stack.pop()
            continue
        if isinstance(node, Var):
            memo[node] = mapping.get(node, node)
        elif isinstance(node, Const):
            memo[node] = node
        elif isinstance(node, Quantifier):
            body_free = free_var_set(node.body)
            inner = {k: v for k, v in mapping.items() if k is not node.var and k in body_free}
            for value in inner.values():
                if node.var in free_var_set(value):
                    raise IRTypeError(f"substitute: {value!r} would be captured by {node.kind} {node.var.name}")
            body = substitute(node.body, inner)
            memo[node] = node if body is node.body else rebuild(node, (body,))
        elif isinstance(node, App):
            pending = [a for a in node.args if a not in memo]
            if pending:
                stack.extend(pending)
                continue
            new = tuple(memo[a] for a in node.args)
            memo[node] = node if all(n is o for n, o in zip(new, node.args, strict=True)) else rebuild(node, new)
        stack.pop()
    return memo[term]
