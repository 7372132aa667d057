"""The IR: a small solver-agnostic term language that specs lower to and both semantics implement.

Terms are booleans and bit-vectors of explicit width: constants, variables (what a spec leaves
open), applications of the ops in ``vmxspec.ir.ops.OPS``, and bounded quantifiers. Terms are
hash-consed (structurally equal terms are one object) and built through smart constructors that
fold whatever is already constant, so only what the spec leaves open ever reaches the solver.

Two independent implementations give the IR its meaning: ``vmxspec.interp.ir_eval`` (plain ints,
the reference) and ``vmxspec.symbolic.ir_to_z3`` (Z3 expressions). The differential tests hold
them, and the folding here, to the table.

Building terms::

    from vmxspec import ir
    x = ir.var("x", 8)
    ir.and_(ir.ult(x, 0x10), ir.bit(x, 3))       # ints take the width of the other operand
    ir.bvand(x, 0)                               # -> the constant 0: folded while built
    ir.forall(i, 0, 64, ir.implies(...))         # bounded, half-open [0, 64)
"""

from vmxspec.ir import rewrite as _rewrite  # noqa: F401  (registers the smart constructors' identities)
from vmxspec.ir.build import (
    RULES,
    TermLike,
    add,
    and_,
    apply,
    ashr,
    bool_var,
    bvand,
    bvneg,
    bvnot,
    bvor,
    bvxor,
    coerce,
    concat,
    eq,
    extract,
    implies,
    ite,
    lshr,
    mul,
    ne,
    not_,
    ones,
    or_,
    sge,
    sgt,
    shl,
    sign_extend,
    sle,
    slt,
    sub,
    udiv,
    uge,
    ugt,
    ule,
    ult,
    urem,
    var,
    xor,
    zero,
    zero_extend,
)
from vmxspec.ir.ops import OPS, Op, Signature, op
from vmxspec.ir.quant import FOLD_QUANTIFIER_LIMIT, exists, forall, rebuild, substitute
from vmxspec.ir.sorts import BOOL, IRTypeError, Sort, bv_sort
from vmxspec.ir.sugar import bit, in_range, one_of
from vmxspec.ir.terms import (
    FALSE,
    TRUE,
    App,
    Const,
    Exists,
    ForAll,
    Quantifier,
    Term,
    Var,
    boolean,
    bv,
    free_var_set,
    free_vars,
    is_const,
    subterms,
    to_text,
)

__all__ = [
    "BOOL", "FALSE", "FOLD_QUANTIFIER_LIMIT", "OPS", "RULES", "TRUE", "App", "Const", "Exists", "ForAll",
    "IRTypeError", "Op", "Quantifier", "Signature", "Sort", "Term", "TermLike", "Var", "add", "and_", "apply",
    "ashr", "bit", "bool_var", "boolean", "bv", "bv_sort", "bvand", "bvneg", "bvnot", "bvor", "bvxor", "coerce",
    "concat", "eq", "exists", "extract", "forall", "free_var_set", "free_vars", "implies", "in_range", "is_const",
    "ite", "lshr", "mul", "ne", "not_", "one_of", "ones", "op", "or_", "rebuild", "sge", "sgt", "shl",
    "sign_extend", "sle", "slt", "sub", "substitute", "subterms", "to_text", "udiv", "uge", "ugt", "ule", "ult",
    "urem", "var", "xor", "zero", "zero_extend",
]
