"""IR terms: constants, variables, op applications and bounded quantifiers, all hash-consed.

Hash-consing: every constructor looks its arguments up in one table and returns the existing
object when a structurally equal term exists. Equality and hashing are therefore identity (fast,
and safe for the large shared DAGs lowering produces), caches keyed on terms (the Z3 encoder's,
the evaluator's memo) hit on every repeated subterm, and "is this the same term?" is ``is``. The
table holds terms weakly: a term lives as long as something uses it.

The classes' constructors build exactly the node asked for (checked, interned, never rewritten);
``vmxspec.ir.build`` has the smart constructors that fold constants, which is what lowering uses.
Tests use both, to check the folding against the unfolded terms.

A term has no truth value: ``if term:`` raises, because a symbolic condition cannot be decided by
Python (DESIGN.md, "Two semantics"); ask ``ir_eval`` or the solver.

Variables are identified by name and sort: ``Var("x", 8)`` twice is one object, ``Var("x", 16)``
another. A variable's ``source`` (an opaque reference, usually the ``Span`` of the spec text that
introduced it, for ``--explain``) is not part of its identity: the first construction's wins.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any, ClassVar

from vmxspec.ir.ops import Op, op
from vmxspec.ir.sorts import BOOL, IRTypeError, Sort, as_sort, bv_sort

_TABLE: weakref.WeakValueDictionary[tuple[object, ...], Term] = weakref.WeakValueDictionary()


class Term:
    """Base of every IR node. Immutable; compare with ``is`` (``==`` is the same thing)."""

    __slots__ = ("__weakref__", "_free", "sort")
    sort: Sort
    _free: frozenset[Var] | None

    def _init(self, sort: Sort) -> None:
        object.__setattr__(self, "sort", sort)
        object.__setattr__(self, "_free", None)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"IR terms are immutable (cannot set {name!r})")

    def __bool__(self) -> bool:
        raise TypeError("an IR term has no Python truth value: evaluate it (ir_eval) or ask the solver")

    @property
    def width(self) -> int:
        """The width of a bit-vector term (an error for a boolean, whose width means nothing)."""
        if not self.sort.is_bv:
            raise IRTypeError(f"{self} is a bool and has no width")
        return self.sort.width

    @property
    def children(self) -> tuple[Term, ...]:
        return ()

    def __str__(self) -> str:
        return to_text(self)

    def __repr__(self) -> str:
        return to_text(self, limit=400)

    def __copy__(self) -> Term:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Term:
        return self


class Const(Term):
    """A constant: a bit-vector value in [0, 2^width) or a boolean (value 0 or 1, sort BOOL)."""

    __slots__ = ("value",)
    value: int

    def __new__(cls, value: int, sort: int | Sort) -> Const:
        sort = as_sort(sort)
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int):
            raise IRTypeError(f"a constant's value must be an int, not {value!r}")
        if not 0 <= value <= sort.mask:
            raise IRTypeError(f"constant {value:#x} does not fit in {sort} (0 .. {sort.mask:#x})")
        key = (Const, value, sort)
        found = _TABLE.get(key)
        if found is not None:
            assert isinstance(found, Const)
            return found
        self = object.__new__(cls)
        self._init(sort)
        object.__setattr__(self, "value", value)
        _TABLE[key] = self
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Const, (self.value, self.sort))


class Var(Term):
    """A variable: a value the spec leaves open (``any``, a guest-chosen operand, a bound index)."""

    __slots__ = ("name", "source")
    name: str
    source: object

    def __new__(cls, name: str, sort: int | Sort, source: object = None) -> Var:
        if not isinstance(name, str) or not name:
            raise IRTypeError(f"a variable's name must be a non-empty string, not {name!r}")
        sort = as_sort(sort)
        key = (Var, name, sort)
        found = _TABLE.get(key)
        if found is not None:
            assert isinstance(found, Var)
            return found
        self = object.__new__(cls)
        self._init(sort)
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "source", source)
        _TABLE[key] = self
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (Var, (self.name, self.sort, self.source))


class App(Term):
    """``op(args)[params]``, exactly as given: width-checked and interned, never simplified."""

    __slots__ = ("args", "op", "params")
    op: Op
    args: tuple[Term, ...]
    params: tuple[int, ...]

    def __new__(cls, operation: str | Op, args: tuple[Term, ...], params: tuple[int, ...] = ()) -> App:
        the_op = operation if isinstance(operation, Op) else op(operation)
        args = tuple(args)
        params = tuple(params)
        for arg in args:
            if not isinstance(arg, Term):
                raise IRTypeError(f"{the_op.name}: operands must be IR terms, got {arg!r} (the builders accept ints)")
        key = (App, the_op.name, args, params)
        found = _TABLE.get(key)
        if found is not None:
            assert isinstance(found, App)
            return found
        sort = the_op.result_sort(tuple(a.sort for a in args), params)
        self = object.__new__(cls)
        self._init(sort)
        object.__setattr__(self, "op", the_op)
        object.__setattr__(self, "args", args)
        object.__setattr__(self, "params", params)
        _TABLE[key] = self
        return self

    @property
    def children(self) -> tuple[Term, ...]:
        return self.args

    def __reduce__(self) -> tuple[Any, ...]:
        return (App, (self.op.name, self.args, self.params))


class Quantifier(Term):
    """``forall``/``exists var in [lo, hi): body``: a bounded quantifier over a bit-vector variable.

    The bounds are concrete ints, half-open like the spec language's ``..``, with
    ``0 <= lo <= hi <= 2^width`` (so the whole domain is ``[0, 2^width)``). Concrete bounds keep
    the choice between enumerating and quantifying a static one; a symbolic bound is written as a
    guard in the body (``forall i in [0, 2^w): i < n implies ...``).
    """

    __slots__ = ("body", "hi", "lo", "var")
    kind: ClassVar[str]
    var: Var
    lo: int
    hi: int
    body: Term

    def __new__(cls, var: Var, lo: int, hi: int, body: Term) -> Quantifier:
        if cls is Quantifier:
            raise TypeError("build a ForAll or an Exists")
        if not isinstance(var, Var) or not var.sort.is_bv:
            raise IRTypeError(f"{cls.kind}: the bound variable must be a bit-vector Var, got {var!r}")
        if not isinstance(body, Term) or not body.sort.is_bool:
            raise IRTypeError(f"{cls.kind}: the body must be a bool term, got {body!r}")
        if type(lo) is not int or type(hi) is not int or not 0 <= lo <= hi <= 1 << var.width:
            raise IRTypeError(
                f"{cls.kind} {var.name}: the range [{lo!r}, {hi!r}) must satisfy 0 <= lo <= hi <= 2^{var.width}")
        key = (cls, var, lo, hi, body)
        found = _TABLE.get(key)
        if found is not None:
            assert isinstance(found, Quantifier)
            return found
        self = object.__new__(cls)
        self._init(BOOL)
        object.__setattr__(self, "var", var)
        object.__setattr__(self, "lo", lo)
        object.__setattr__(self, "hi", hi)
        object.__setattr__(self, "body", body)
        _TABLE[key] = self
        return self

    @property
    def size(self) -> int:
        """How many values the variable ranges over."""
        return self.hi - self.lo

    @property
    def children(self) -> tuple[Term, ...]:
        return (self.body,)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.var, self.lo, self.hi, self.body))


class ForAll(Quantifier):
    __slots__ = ()
    kind = "forall"


class Exists(Quantifier):
    __slots__ = ()
    kind = "exists"


TRUE = Const(1, BOOL)
FALSE = Const(0, BOOL)


def bv(value: int, width: int) -> Const:
    """The ``width``-bit constant ``value`` (which must fit: no silent wrapping)."""
    return Const(value, bv_sort(width))


def boolean(value: bool) -> Const:
    return TRUE if value else FALSE


def is_const(term: Term, value: int | None = None) -> bool:
    """Whether ``term`` is a constant (with ``value``, when given)."""
    return isinstance(term, Const) and (value is None or term.value == value)


# -- traversals (iterative: lowered terms can be far deeper than Python's recursion limit) ---------

def subterms(term: Term) -> Iterator[Term]:
    """Every distinct subterm, each once, children before parents."""
    seen: set[Term] = set()
    stack: list[tuple[Term, bool]] = [(term, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            yield node
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node.children) if child not in seen)


def free_var_set(term: Term) -> frozenset[Var]:
    """The variables occurring free in ``term`` (cached on every node it computes)."""
    if term._free is not None:
        return term._free
    result: frozenset[Var] = frozenset()
    for node in subterms(term):
        if node._free is not None:
            continue
        if isinstance(node, Var):
            free: frozenset[Var] = frozenset((node,))
        elif isinstance(node, Quantifier):
            free = free_var_set(node.body) - {node.var}
        elif isinstance(node, App):
            free = frozenset().union(*(free_var_set(a) for a in node.args))
        else:
            free = frozenset()
        object.__setattr__(node, "_free", free)
        result = free  # the root comes last
    return result


def free_vars(*terms: Term) -> tuple[Var, ...]:
    """The variables free in any of ``terms``, in order of first occurrence (deterministic)."""
    ordered: dict[Var, None] = {}
    has_binder = False
    for term in terms:
        for node in subterms(term):
            if isinstance(node, Var):
                ordered.setdefault(node)
            elif isinstance(node, Quantifier):
                has_binder = True
    if not has_binder:
        return tuple(ordered)
    free = frozenset().union(*(free_var_set(t) for t in terms))
    return tuple(v for v in ordered if v in free)


# -- printing -------------------------------------------------------------------------------------

def _const_text(term: Const) -> str:
    if term.sort.is_bool:
        return "true" if term.value else "false"
    if term.width % 4 == 0:
        return f"#x{term.value:0{term.width // 4}x}"
    return f"#b{term.value:0{term.width}b}"


def to_text(term: Term, limit: int = 100_000) -> str:
    """An SMT-LIB-like s-expression for people (quantifiers print as ``(forall (i bv8 lo..hi) body)``).

    Shared subterms print at each use, so the text of a DAG can be exponentially long: output stops
    after about ``limit`` characters with "...".
    """
    out: list[str] = []
    length = 0
    stack: list[Term | str] = [term]
    while stack:
        if length > limit:
            out.append(" ...")
            break
        item = stack.pop()
        if isinstance(item, str):
            piece = item
        elif isinstance(item, Const):
            piece = _const_text(item)
        elif isinstance(item, Var):
            piece = item.name
        elif isinstance(item, App):
            head = item.op.smtlib
            if item.params:
                head = f"(_ {head} {' '.join(map(str, item.params))})"
            piece = f"({head}"
            stack.append(")")
            for arg in reversed(item.args):
                stack.extend((arg, " "))
        elif isinstance(item, Quantifier):
            piece = f"({item.kind} ({item.var.name} {item.var.sort} {item.lo:#x}..{item.hi:#x}) "
            stack.extend((")", item.body))
        else:  # pragma: no cover - every Term subclass is handled above
            raise AssertionError(type(item))
        out.append(piece)
        length += len(piece)
    return "".join(out)
