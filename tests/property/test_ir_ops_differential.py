"""The IR's two semantics, and its constant folding, held to one op table (DESIGN.md, "Two semantics").

* Every op of ``vmxspec.ir.ops.OPS`` exhaustively at small widths: the reference evaluator
  (``ir_eval``), ``z3.simplify`` of the Z3 encoding, and the smart constructors' folding must give
  the same constant for every operand tuple; and the rewrite rules, with each operand in turn left
  symbolic, must still evaluate to it.
* Random IR terms (hypothesis): each recipe is built twice, unfolded (raw ``App`` nodes) and
  through the smart constructors, and evaluated both ways under a random assignment. All four
  answers must agree. Large quantifiers take the Z3-quantifier path in a second property.
* The op table, the evaluator, the encoder and the folder cover exactly the same ops.
* The rewrite rules again, on operands of the shapes they look inside (concat, extensions,
  extracts, negations, comparisons, nested constants), under fixed assignments.
* Seeded bugs: one op read wrongly by one implementation (``ult`` read as ``ule`` in the evaluator,
  ``extract`` off by one bit in the encoder, ``ashr`` folded as ``lshr``, a rewrite that forgets
  ``x | ones`` or negates ``<`` as ``>``) must be caught by the same checks. Each such test passes
  when the bug is detected.
* The IR's own contract: width checking at construction, hash-consing, no truth value, folding
  examples, evaluator errors, and the desugarings (ranges, bit tests, sets) against plain Python.
"""

from __future__ import annotations

import itertools
import pickle
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec import ir
from vmxspec.interp import ir_eval
from vmxspec.ir import fold
from vmxspec.ir.ops import OPS, Op, Signature
from vmxspec.ir.sorts import BOOL, Sort, bv_sort
from vmxspec.symbolic import ir_to_z3

# -- helpers --------------------------------------------------------------------------------------


def z3_value(expr: Any) -> int:
    """The constant ``z3.simplify`` reduces a closed expression to (booleans as 0/1)."""
    simple = z3.simplify(expr)
    if z3.is_true(simple):
        return 1
    if z3.is_false(simple):
        return 0
    if z3.is_bv_value(simple):
        return int(simple.as_long())
    raise AssertionError(f"z3.simplify left a non-constant: {simple}")


#: One encoder (one Z3 context) for the whole module: creating a context costs milliseconds.
SHARED = ir_to_z3.Encoder()


def z3_eval(term: ir.Term, env: dict[ir.Var, int], encoder: ir_to_z3.Encoder = SHARED) -> int:
    """Encode ``term``, pin every variable to its value in ``env``, simplify to a constant."""
    encoded = encoder.encode(term)
    pins = []
    for var, value in env.items():
        if var.sort.is_bool:
            pins.append((encoder.constant(var), z3.BoolVal(bool(value), encoder.ctx)))
        else:
            pins.append((encoder.constant(var), z3.BitVecVal(value, var.sort.width, encoder.ctx)))
    return z3_value(z3.substitute(encoded, *pins) if pins else encoded)


def _consts(sort: Sort) -> list[ir.Const]:
    return [ir.Const(v, sort) for v in range(sort.mask + 1)]


BOOLS = _consts(BOOL)


def op_cases(op: Op) -> Iterator[tuple[tuple[ir.Const, ...], tuple[int, ...]]]:
    """Every operand tuple (and parameter choice) of ``op`` at small widths."""
    sig = op.signature
    if sig is Signature.BV_UNARY:
        for width in (1, 3, 4):
            for a in _consts(bv_sort(width)):
                yield (a,), ()
    elif sig in (Signature.BV_BINARY, Signature.BV_COMPARE, Signature.EQUALITY):
        for width in (1, 3, 4):
            values = _consts(bv_sort(width))
            for a, b in itertools.product(values, values):
                yield (a, b), ()
        if sig is Signature.EQUALITY:
            for a, b in itertools.product(BOOLS, BOOLS):
                yield (a, b), ()
    elif sig is Signature.EXTRACT:
        for a in _consts(bv_sort(4)):
            for hi in range(4):
                for lo in range(hi + 1):
                    yield (a,), (hi, lo)
    elif sig is Signature.CONCAT:
        for widths in ((1, 3), (3, 1), (2, 2), (1, 2, 1)):
            for parts in itertools.product(*(_consts(bv_sort(w)) for w in widths)):
                yield parts, ()
    elif sig is Signature.EXTEND:
        for width in (1, 3):
            for a in _consts(bv_sort(width)):
                for n in range(4):
                    yield (a,), (n,)
    elif sig is Signature.ITE:
        for sort in (BOOL, bv_sort(3)):
            values = _consts(sort)
            for c, a, b in itertools.product(BOOLS, values, values):
                yield (c, a, b), ()
    elif sig is Signature.BOOL_UNARY:
        for a in BOOLS:
            yield (a,), ()
    elif sig is Signature.BOOL_BINARY:
        for a, b in itertools.product(BOOLS, BOOLS):
            yield (a, b), ()
    elif sig is Signature.BOOL_NARY:
        for arity in (2, 3):
            for args in itertools.product(BOOLS, repeat=arity):
                yield args, ()
    else:  # pragma: no cover - the coverage test below fails first
        raise AssertionError(f"no cases for {sig}")


def op_mismatches(name: str) -> list[str]:
    """Every disagreement between ir_eval, z3.simplify and the folding on ``name``'s small cases."""
    op = OPS[name]
    encoder = ir_to_z3.Encoder(SHARED.ctx)  # a fresh cache: a seeded bug must not be hidden by it
    found: list[str] = []
    checked = 0
    for args, params in op_cases(op):
        raw = ir.App(op, args, params)
        reference = ir_eval.evaluate(raw, {})
        checked += 1
        try:
            symbolic = z3_eval(raw, {}, encoder)
        except (z3.Z3Exception, AssertionError) as error:
            found.append(f"{raw}: z3 failed: {error}")
            continue
        folded = ir.apply(op, args, params)
        if not isinstance(folded, ir.Const) or folded.value != reference or symbolic != reference:
            found.append(f"{raw}: ir_eval {reference}, z3 {symbolic}, folded {folded}")
    assert checked >= 2, f"{name}: only {checked} cases"
    return found


def rule_mismatches(name: str) -> list[str]:
    """The rewrite rules, exhaustively: each case again with operands replaced by a variable.

    With one operand symbolic (and, when operands are equal, all of them one variable), the smart
    constructor may rewrite instead of folding; the rewritten term evaluated at the variable's
    value must still give the reference answer.
    """
    op = OPS[name]
    found: list[str] = []
    for args, params in op_cases(op):
        reference = ir_eval.evaluate(ir.App(op, args, params), {})
        choices: list[tuple[int, ...]] = [(i,) for i in range(len(args))]
        if len(args) > 1 and all(a is args[0] for a in args):
            choices.append(tuple(range(len(args))))
        for positions in choices:
            sort = args[positions[0]].sort
            x = ir.Var(f"x_{sort}", sort)
            symbolic = tuple(x if i in positions else a for i, a in enumerate(args))
            built = ir.apply(op, symbolic, params)
            value = ir_eval.evaluate(built, {x: args[positions[0]].value})
            if value != reference:
                found.append(f"{ir.App(op, symbolic, params)} -> {built}: {value} at x = {args[positions[0]].value}, "
                             f"expected {reference}")
    return found


# Operands whose shape the rewrite rules look inside, built raw so the shape is really there.
_X, _Y, _U = ir.Var("x", 4), ir.Var("y", 4), ir.Var("u", 6)
_P, _Q, _R, _S = ir.Var("p", 2), ir.Var("q", 2), ir.Var("r", 3), ir.Var("s", 1)
_C, _D = ir.Var("c", BOOL), ir.Var("d", BOOL)


def _raw(name: str, *args: ir.Term, params: tuple[int, ...] = ()) -> ir.Term:
    return ir.App(name, args, params)


SHAPED_BV4: list[ir.Term] = [
    _raw("bvnot", _X), _raw("bvneg", _X), _raw("bvand", _X, ir.bv(0b0110, 4)), _raw("bvor", _X, ir.bv(0b0110, 4)),
    _raw("add", _X, ir.bv(0b0011, 4)), _raw("concat", _P, _Q), _raw("concat", _S, _R),
    _raw("concat", ir.bv(0b10, 2), _Q),
    _raw("concat", _raw("extract", _X, params=(3, 2)), _raw("extract", _Y, params=(1, 0))),
    _raw("zero_extend", _P, params=(2,)), _raw("sign_extend", _P, params=(2,)), _raw("zero_extend", _R, params=(1,)),
    _raw("sign_extend", _R, params=(1,)), _raw("extract", _U, params=(4, 1)), _raw("ite", _C, _X, _Y),
]
SHAPED_BOOL: list[ir.Term] = [
    _raw("not", _C),
    *(_raw(name, _X, _Y) for name in ("ult", "ule", "ugt", "uge", "slt", "sle", "sgt", "sge", "eq", "ne")),
    _raw("and", _C, _D), _raw("or", _C, _D), _raw("eq", _C, _D), _raw("implies", _C, _D), _raw("xor", _C, _D),
]
_ASSIGNMENT_VARS = (_X, _Y, _U, _P, _Q, _R, _S, _C, _D)


def _assignments() -> list[dict[ir.Var, int]]:
    generator = random.Random(20240601)
    envs = [{v: 0 for v in _ASSIGNMENT_VARS}, {v: v.sort.mask for v in _ASSIGNMENT_VARS}]
    envs += [{v: generator.randint(0, v.sort.mask) for v in _ASSIGNMENT_VARS} for _ in range(30)]
    return envs


ASSIGNMENTS = _assignments()


def _partners(term: ir.Term) -> list[ir.Term]:
    """What a shaped operand meets: constants the rules look for, a variable, itself, its negation."""
    if term.sort.is_bool:
        return [ir.TRUE, ir.FALSE, _C, term, _raw("not", term)]
    mask = term.sort.mask
    return [*(ir.Const(v, term.sort) for v in (0, 1, mask, (mask + 1) >> 1)), _X, term, _raw("bvnot", term)]


def shaped_cases(op: Op) -> Iterator[tuple[tuple[ir.Term, ...], tuple[int, ...]]]:
    """Applications of ``op`` to shaped operands (see SHAPED_BV4, SHAPED_BOOL)."""
    sig = op.signature
    if sig is Signature.BV_UNARY:
        yield from (((t,), ()) for t in SHAPED_BV4 + [_raw(op.name, t) for t in SHAPED_BV4])
    elif sig in (Signature.BV_BINARY, Signature.BV_COMPARE, Signature.EQUALITY):
        shaped = SHAPED_BV4 + (SHAPED_BOOL if sig is Signature.EQUALITY else [])
        for t in shaped:
            for other in _partners(t):
                yield (t, other), ()
                yield (other, t), ()
        if sig is Signature.BV_BINARY:  # constants merging into a constant operand of the same op
            for k in (1, 0b0101, 0b1000, 0b1111):
                yield (_raw(op.name, _X, ir.bv(0b0110, 4)), ir.bv(k, 4)), ()
    elif sig is Signature.EXTRACT:
        for t in [*SHAPED_BV4, _raw("concat", _P, _R), _raw("zero_extend", _raw("concat", _S, _P), params=(2,))]:
            for hi in range(t.width):
                for lo in range(hi + 1):
                    yield (t,), (hi, lo)
    elif sig is Signature.CONCAT:
        halves = [_raw("extract", _X, params=(3, 2)), _raw("extract", _X, params=(1, 0)),
                  _raw("extract", _X, params=(2, 1)), ir.bv(0b01, 2), _P, _raw("concat", _S, ir.bv(1, 1))]
        for a, b in itertools.product(halves + SHAPED_BV4[:6], repeat=2):
            yield (a, b), ()
        yield (halves[0], halves[1], _P), ()
    elif sig is Signature.EXTEND:
        for t in SHAPED_BV4:
            for n in range(3):
                yield (t,), (n,)
                yield (_raw(op.name, t, params=(1,)),), (n,)
    elif sig is Signature.ITE:
        for cond in [*SHAPED_BOOL, _C, ir.TRUE, ir.FALSE]:
            for branches in ((_X, _Y), (_Y, _Y), (SHAPED_BV4[5], ir.bv(3, 4)), (ir.TRUE, _D), (_D, ir.TRUE),
                             (ir.FALSE, _D), (_D, ir.FALSE), (ir.TRUE, ir.FALSE), (ir.FALSE, ir.TRUE), (_D, _C)):
                yield (cond, *branches), ()
    elif sig in (Signature.BOOL_UNARY, Signature.BOOL_BINARY, Signature.BOOL_NARY):
        arity = {Signature.BOOL_UNARY: 1, Signature.BOOL_BINARY: 2}.get(sig, 3)
        for t in SHAPED_BOOL:
            for others in itertools.product(_partners(t), repeat=arity - 1):
                yield (t, *others), ()
                if arity > 1:
                    yield (*others, t), ()
    else:  # pragma: no cover - the coverage test below fails first
        raise AssertionError(f"no shaped cases for {sig}")


def structure_mismatches(name: str) -> list[str]:
    """The rewrite rules on shaped operands: the folded term must equal the raw one everywhere."""
    op = OPS[name]
    found: list[str] = []
    for args, params in shaped_cases(op):
        raw = ir.App(op, args, params)
        built = ir.apply(op, args, params)
        for env in ASSIGNMENTS:
            if ir_eval.evaluate(built, env) != ir_eval.evaluate(raw, env):
                found.append(f"{raw} -> {built} differs under {env}")
                break
    return found


# -- every op, exhaustively -----------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(OPS))
def test_op_agrees_everywhere_at_small_widths(name: str) -> None:
    assert op_mismatches(name) == []


@pytest.mark.parametrize("name", sorted(OPS))
def test_rewrite_rules_preserve_every_op(name: str) -> None:
    assert rule_mismatches(name) == []
    assert structure_mismatches(name) == []


def test_table_and_implementations_cover_the_same_ops() -> None:
    table = set(OPS)
    assert set(ir_eval.IMPLEMENTATIONS) == table
    assert set(ir_to_z3.ENCODERS) == table
    assert set(fold.FOLDERS) == table
    assert set(ir.RULES) <= table
    for op in OPS.values():  # every op has exhaustive cases (op_cases raises otherwise)
        assert next(op_cases(op), None) is not None, op.name


# -- seeded bugs: the checks above must notice --------------------------------------------------------


def test_seeded_bug_in_the_evaluator_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ir_eval.IMPLEMENTATIONS, "ult", lambda v, w, p: int(v[0] <= v[1]))
    assert op_mismatches("ult")


def test_seeded_bug_in_the_encoder_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    def extract_one_bit_too_high(a: Any, p: tuple[int, ...]) -> Any:
        hi, lo = p
        return z3.Extract(hi + 1, lo + 1, a[0]) if hi + 1 < a[0].size() else z3.Extract(hi, lo, a[0])

    monkeypatch.setitem(ir_to_z3.ENCODERS, "extract", extract_one_bit_too_high)
    assert op_mismatches("extract")


def test_seeded_bug_in_the_folding_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(fold.FOLDERS, "ashr", fold.FOLDERS["lshr"])
    assert op_mismatches("ashr")


def test_seeded_bug_in_a_rewrite_rule_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ir.RULES["bvor"]

    def forgets_ones(terms: tuple[ir.Term, ...], params: tuple[int, ...], sort: Sort) -> ir.Term | None:
        a, b = terms
        if ir.is_const(b, sort.mask):
            return a  # wrong: x | ones is ones
        return original(terms, params, sort)

    monkeypatch.setitem(ir.RULES, "bvor", forgets_ones)
    assert rule_mismatches("bvor")


def test_seeded_bug_in_a_structural_rewrite_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """not(x <u y) rewritten to x >u y (instead of x >=u y): wrong only where x = y."""
    original = ir.RULES["not"]

    def flips_wrongly(terms: tuple[ir.Term, ...], params: tuple[int, ...], sort: Sort) -> ir.Term | None:
        (a,) = terms
        if isinstance(a, ir.App) and a.op.name == "ult":
            return ir.App("ugt", a.args)
        return original(terms, params, sort)

    monkeypatch.setitem(ir.RULES, "not", flips_wrongly)
    assert structure_mismatches("not")


def test_seeded_signedness_bug_is_detected_by_random_terms(monkeypatch: pytest.MonkeyPatch) -> None:
    """A subtler bug (slt compared unsigned in the evaluator), found by the random-term check."""
    monkeypatch.setitem(ir_eval.IMPLEMENTATIONS, "slt", lambda v, w, p: int(v[0] < v[1]))
    x, y = ir.var("x", 4), ir.var("y", 4)
    term = ir.ite(ir.App("slt", (x, y)), ir.add(x, 1), y)
    disagreements = [(a, b) for a in range(16) for b in range(16)
                     if ir_eval.evaluate(term, {x: a, y: b}) != z3_eval(term, {x: a, y: b})]
    assert disagreements


# -- random terms ---------------------------------------------------------------------------------

WIDTHS = (1, 2, 3, 4, 5, 8, 16, 32, 64)


@dataclass(frozen=True)
class Recipe:
    """How to build a term; built twice, raw and through the smart constructors."""

    kind: str  # "const", "var", "app", "forall", "exists"
    sort: Sort
    value: int = 0
    name: str = ""
    op: str = ""
    params: tuple[int, ...] = ()
    args: tuple[Recipe, ...] = ()
    lo: int = 0
    hi: int = 0


def build(recipe: Recipe, smart: bool) -> ir.Term:
    if recipe.kind == "const":
        return ir.Const(recipe.value, recipe.sort)
    if recipe.kind == "var":
        return ir.Var(recipe.name, recipe.sort)
    args = tuple(build(a, smart) for a in recipe.args)
    if recipe.kind == "app":
        return ir.apply(recipe.op, args, recipe.params) if smart else ir.App(recipe.op, args, recipe.params)
    bound = ir.Var(recipe.name, recipe.sort)
    if smart:
        return (ir.forall if recipe.kind == "forall" else ir.exists)(bound, recipe.lo, recipe.hi, args[0])
    return (ir.ForAll if recipe.kind == "forall" else ir.Exists)(bound, recipe.lo, recipe.hi, args[0])


def _values(sort: Sort) -> st.SearchStrategy[int]:
    mask = sort.mask
    return st.one_of(st.sampled_from(sorted({0, 1 & mask, mask, (mask + 1) >> 1})), st.integers(0, mask))


BV_RESULT_OPS = [n for n, o in OPS.items() if o.signature in (Signature.BV_UNARY, Signature.BV_BINARY)]
BOOL_RESULT_OPS = [n for n, o in OPS.items() if o.signature in (
    Signature.BV_COMPARE, Signature.EQUALITY, Signature.BOOL_UNARY, Signature.BOOL_BINARY, Signature.BOOL_NARY)]


def _leaf(draw: st.DrawFn, sort: Sort, pool: tuple[tuple[str, Sort], ...]) -> Recipe:
    in_scope = [name for name, s in pool if s == sort]
    choice = draw(st.integers(0, 2))
    if choice == 0:
        return Recipe("const", sort, value=draw(_values(sort)))
    if choice == 1 and in_scope:
        return Recipe("var", sort, name=draw(st.sampled_from(in_scope)))
    index = draw(st.integers(0, 1))
    return Recipe("var", sort, name=f"b{index}" if sort.is_bool else f"x{sort.width}_{index}")


@st.composite
def recipes(draw: st.DrawFn, sort: Sort, depth: int, pool: tuple[tuple[str, Sort], ...] = (),
            structured: bool = False) -> Recipe:
    """A random term of ``sort``; ``pool`` holds the bound variables in scope.

    ``structured`` asks for a composite node of the kinds the rewrite rules look inside (concat,
    extensions, extracts; negations and comparisons), so that rules reading their operands' shape
    are exercised, not only those reading constants.
    """
    if depth == 0 or (not structured and draw(st.integers(0, 5)) == 0):
        return _leaf(draw, sort, pool)
    sub = depth - 1

    def child(child_sort: Sort, pool_: tuple[tuple[str, Sort], ...] = pool) -> Recipe:
        return draw(recipes(child_sort, sub, pool_, structured=draw(st.integers(0, 2)) == 0))

    if sort.is_bv:
        width = sort.width
        shapes = ["extract", "extend"] + (["concat"] if width >= 2 else [])
        if not structured:
            shapes += ["op", "op", "op", "ite"]
        shape = draw(st.sampled_from(shapes))
        if shape == "op":
            name = draw(st.sampled_from(BV_RESULT_OPS))
            arity = 1 if OPS[name].signature is Signature.BV_UNARY else 2
            return Recipe("app", sort, op=name, args=tuple(child(sort) for _ in range(arity)))
        if shape == "ite":
            return Recipe("app", sort, op="ite", args=(child(BOOL), child(sort), child(sort)))
        if shape == "extract":
            source = bv_sort(draw(st.integers(width, min(width + 8, 64))))
            lo = draw(st.integers(0, source.width - width))
            return Recipe("app", sort, op="extract", params=(lo + width - 1, lo), args=(child(source),))
        if shape == "concat":
            split = draw(st.integers(1, width - 1))
            return Recipe("app", sort, op="concat", args=(child(bv_sort(split)), child(bv_sort(width - split))))
        n = draw(st.integers(0, width - 1))
        return Recipe("app", sort, op=draw(st.sampled_from(["zero_extend", "sign_extend"])), params=(n,),
                      args=(child(bv_sort(width - n)),))
    shape = draw(st.sampled_from(["op"] if structured else ["op", "op", "op", "ite", "quantifier"]))
    if shape == "quantifier":
        bound_sort = bv_sort(draw(st.integers(1, 4)))
        name = f"q{depth}_{bound_sort.width}"
        lo = draw(st.integers(0, bound_sort.mask + 1))
        hi = draw(st.integers(lo, bound_sort.mask + 1))
        body = child(BOOL, (*pool, (name, bound_sort)))
        return Recipe(draw(st.sampled_from(["forall", "exists"])), bound_sort, name=name, lo=lo, hi=hi, args=(body,))
    if shape == "ite":
        return Recipe("app", sort, op="ite", args=(child(BOOL), child(BOOL), child(BOOL)))
    name = draw(st.sampled_from(BOOL_RESULT_OPS))
    signature = OPS[name].signature
    if signature in (Signature.BV_COMPARE, Signature.EQUALITY):
        operand = bv_sort(draw(st.sampled_from(WIDTHS)))
        if signature is Signature.EQUALITY and draw(st.booleans()):
            operand = BOOL
        return Recipe("app", sort, op=name, args=(child(operand), child(operand)))
    arity = {Signature.BOOL_UNARY: 1, Signature.BOOL_BINARY: 2}.get(signature) or draw(st.integers(2, 3))
    return Recipe("app", sort, op=name, args=tuple(child(BOOL) for _ in range(arity)))


any_sort = st.one_of(st.just(BOOL), st.sampled_from(WIDTHS).map(bv_sort))


@st.composite
def term_and_assignment(draw: st.DrawFn, max_depth: int = 5) -> tuple[ir.Term, ir.Term, dict[ir.Var, int]]:
    recipe = draw(recipes(draw(any_sort), draw(st.integers(2, max_depth))))
    raw, smart = build(recipe, smart=False), build(recipe, smart=True)
    env = {v: draw(_values(v.sort)) for v in ir.free_vars(raw, smart)}
    return raw, smart, env


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(term_and_assignment())
def test_random_terms_agree_both_ways(case: tuple[ir.Term, ir.Term, dict[ir.Var, int]]) -> None:
    raw, smart, env = case
    assert smart.sort == raw.sort
    reference = ir_eval.evaluate(raw, env)
    assert ir_eval.evaluate(smart, env) == reference, f"folding changed the value of {raw} (to {smart})"
    assert z3_eval(raw, env) == reference, f"z3 disagrees on {raw}"
    assert z3_eval(smart, env) == reference, f"z3 disagrees on the folded {smart}"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_quantifiers_agree_when_z3_quantifies(data: st.DataObject) -> None:
    """With unrolling off, quantifiers reach Z3 as bit-vector quantifiers with range guards."""
    recipe = data.draw(recipes(BOOL, 3).filter(lambda r: r.kind in ("forall", "exists")))
    term = build(recipe, smart=False)
    env = {v: data.draw(_values(v.sort)) for v in ir.free_vars(term)}
    reference = ir_eval.evaluate(term, env)
    encoder = ir_to_z3.Encoder(SHARED.ctx, unroll_limit=0)
    solver = z3.Solver(ctx=encoder.ctx)
    solver.set("timeout", 10_000)
    solver.add(encoder.encode(term) != z3.BoolVal(bool(reference), encoder.ctx))
    for var, value in env.items():
        constant = encoder.constant(var)
        solver.add(constant == (z3.BoolVal(bool(value), encoder.ctx) if var.sort.is_bool
                                else z3.BitVecVal(value, var.sort.width, encoder.ctx)))
    assert solver.check() == z3.unsat, f"z3 quantifier encoding disagrees on {term} under {env}"


# -- the IR's own contract --------------------------------------------------------------------------


def test_wrong_widths_are_rejected_when_built() -> None:
    x, y = ir.var("x", 8), ir.var("y", 16)
    with pytest.raises(ir.IRTypeError, match="operand sorts differ: bv8, bv16"):
        ir.add(x, y)
    with pytest.raises(ir.IRTypeError, match="operand sorts differ"):
        ir.App("add", (x, y))
    with pytest.raises(ir.IRTypeError, match=r"bits \[8:0\] do not lie within a bv8"):
        ir.extract(x, 8, 0)
    with pytest.raises(ir.IRTypeError, match="does not fit in bv8"):
        ir.bvand(x, 0x100)
    with pytest.raises(ir.IRTypeError, match="cannot tell the width"):
        ir.add(1, 2)
    with pytest.raises(ir.IRTypeError, match="must be a bool"):
        ir.and_(ir.ult(x, 3), x)
    with pytest.raises(ir.IRTypeError, match="condition must be a bool"):
        ir.ite(x, x, x)
    with pytest.raises(ir.IRTypeError, match="must be a bit-vector"):
        ir.ult(ir.TRUE, ir.FALSE)
    with pytest.raises(ir.IRTypeError, match="unknown IR op"):
        ir.apply("bvnand", (x, x))
    with pytest.raises(ir.IRTypeError, match="range"):
        ir.forall(ir.var("i", 4), 0, 17, ir.TRUE)


def test_terms_are_hash_consed_and_have_no_truth_value() -> None:
    x = ir.var("x", 8)
    assert ir.App("bvand", (x, ir.bv(3, 8))) is ir.App("bvand", (x, ir.bv(3, 8)))
    assert ir.ult(x, 3) is ir.ult(ir.var("x", 8), ir.bv(3, 8))
    assert ir.var("x", 16) is not x
    term = ir.and_(ir.ult(x, 3), ir.forall(ir.var("i", 4), 0, 3, ir.ult(ir.zero_extend(ir.var("i", 4), 4), x)))
    assert pickle.loads(pickle.dumps(term)) is term
    with pytest.raises(TypeError, match="no Python truth value"):
        bool(ir.ult(x, 3))


def test_partial_evaluation_examples() -> None:
    x, c = ir.var("x", 8), ir.bool_var("c")
    assert ir.bvand(x, 0) is ir.bv(0, 8)
    assert ir.bvor(x, 0xFF) is ir.bv(0xFF, 8)
    assert ir.ite(True, x, ir.bv(1, 8)) is x
    assert ir.and_(c, False) is ir.FALSE
    assert ir.or_(c, ir.not_(c)) is ir.TRUE
    assert ir.and_(c, True) is c
    assert ir.extract(ir.concat(ir.bv(0xAB, 8), x), 15, 8) is ir.bv(0xAB, 8)
    assert ir.extract(ir.zero_extend(x, 8), 15, 8) is ir.bv(0, 8)
    assert ir.eq(ir.zero_extend(x, 8), 0x100) is ir.FALSE
    assert ir.forall(ir.var("i", 4), 0, 16, ir.ule(ir.var("i", 4), 15)) is ir.TRUE
    bitmap = ir.bv(0b1011, 4)
    i = ir.var("i", 4)
    assert ir.exists(i, 0, 4, ir.bit(ir.zero_extend(bitmap, 0), i)) is ir.TRUE
    assert ir.free_vars(ir.forall(i, 0, 3, ir.ult(ir.zero_extend(i, 4), x))) == (x,)


def test_evaluator_refuses_what_it_cannot_answer() -> None:
    x, i = ir.var("x", 32), ir.var("i", 32)
    with pytest.raises(ir_eval.EvalError, match="no value for variable x"):
        ir_eval.evaluate(ir.add(x, 1), {})
    with pytest.raises(ir_eval.EvalError, match="does not fit"):
        ir_eval.evaluate(ir.add(x, 1), {x: 1 << 32})
    huge = ir.ForAll(i, 0, 1 << 32, ir.ule(i, x))
    with pytest.raises(ir_eval.EvalError, match="4294967296 values"):
        ir_eval.evaluate(huge, {x: 5})
    assert ir_eval.holds(ir.ForAll(i, 0, 6, ir.ule(i, x)), {x: 5})
    assert not ir_eval.holds(ir.ForAll(i, 0, 7, ir.ule(i, x)), {x: 5})


def test_deep_terms_need_no_recursion() -> None:
    x = ir.var("x", 16)
    term: ir.Term = x
    for k in range(5000):
        term = ir.add(ir.bvxor(term, k & 0xFF), 1)
    assert ir_eval.evaluate(term, {x: 7}) == z3_eval(term, {x: 7})


def test_desugarings_mean_what_the_spec_says() -> None:
    x, lo_var = ir.var("x", 4), ir.var("lo", 4)
    for lo in range(17):
        for hi in range(17):
            term = ir.in_range(x, lo, hi) if lo < 16 else ir.FALSE
            for value in range(16):
                assert ir_eval.evaluate(term, {x: value}) == int(lo <= value < hi), (lo, hi, value)
    whole = ir.in_range(x, lo_var, 16)
    assert all(ir_eval.holds(whole, {x: v, lo_var: low}) == (low <= v) for v in range(16) for low in range(16))
    for index_width in (2, 3, 5):
        index = ir.var(f"i{index_width}", index_width)
        symbolic = ir.bit(x, index)
        for value in range(16):
            for i in range(1 << index_width):
                expected = (value >> i) & 1
                assert ir_eval.evaluate(symbolic, {x: value, index: i}) == expected
                assert z3_eval(symbolic, {x: value, index: i}) == expected
                if i < 4:
                    assert ir_eval.evaluate(ir.bit(x, i), {x: value}) == expected
    assert all(ir_eval.holds(ir.one_of(x, (1, 5, 9)), {x: v}) == (v in (1, 5, 9)) for v in range(16))
