"""The concrete semantics of a user assertion, for replaying its counterexamples.

The ``assert`` property decides a claim symbolically (``vmxspec.properties.assertion``: the claim
lowered to IR, the translation functions read off the extracted interval maps). A violation must
then be confirmed by something that shares none of that code (DESIGN.md, "Two semantics"): this
module evaluates the same resolved expression with plain integers on the counterexample's concrete
state, and answers ``translates``/``readable``/``writable``/``executable``/``target`` by asking
the reference interpreter (``vmxspec.interp``) about one access at a time.

Because a counterexample is JSON, the claim travels as a serialised expression tree
(``expr_to_json``/``expr_from_json``) together with the values of the variables the top-level
``forall`` bound (the witness). Values follow the language's width rules independently of the
lowering: spec numbers have no width until they meet a field, operands meet at the wider width,
arithmetic wraps at that width, and ``~`` needs a width.

What cannot be evaluated concretely raises ``NotEvaluable`` (bitmaps, whose concrete reading
from bitmap pages is not implemented here; a nested quantifier over too many values; ``target``
of an address that does not translate): the property then reports ``unknown`` rather than a
counterexample it could not confirm.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vmxspec.interp.ept import translate_gpa
from vmxspec.interp.vtd import translate_dma
from vmxspec.sema.expressions import (
    Apply,
    Binary,
    BinaryOp,
    BitmapRef,
    Bound,
    Const,
    EntityKind,
    EntityRef,
    Expr,
    FieldRef,
    Member,
    Quantified,
    QuantifierKind,
    Slice,
    Unary,
    UnaryOp,
    Var,
    VmcsRef,
    VmcsRole,
)
from vmxspec.sema.intervals import IntervalSet
from vmxspec.state.model import State

#: A nested quantifier is enumerated only over at most this many values.
ENUMERATION_LIMIT = 4096
#: The width bound variables get (as in the language: wide enough for any address).
BOUND_WIDTH = 64


class NotEvaluable(Exception):
    """The claim cannot be evaluated concretely on this state (the message says why)."""


@dataclass(frozen=True, slots=True)
class Num:
    """A number and its width (None: a spec number that has not met a width)."""

    value: int
    width: int | None


Value = Num | bool


# -- serialisation ---------------------------------------------------------------------------------------

def _set_json(values: IntervalSet) -> list[list[str]]:
    return [[f"{lo:#x}", f"{hi:#x}"] for lo, hi in values.intervals]


def _set_from(data: object) -> IntervalSet:
    assert isinstance(data, list)
    return IntervalSet(tuple((int(lo, 16), int(hi, 16)) for lo, hi in data))


def _vmcs_json(ref: VmcsRef | None) -> object:
    return None if ref is None else [ref.role.value, ref.owner]


def _vmcs_from(data: object) -> VmcsRef | None:
    if data is None:
        return None
    assert isinstance(data, list)
    return VmcsRef(VmcsRole(data[0]), str(data[1]))


def expr_to_json(expr: Expr) -> dict[str, object]:
    """A resolved expression as JSON (spans are dropped: they only locate messages)."""
    match expr:
        case Const(value=value):
            return {"const": f"{value:#x}"}
        case FieldRef(vmcs=vmcs, field=name, width=width):
            return {"field": name, "vmcs": _vmcs_json(vmcs), "width": width}
        case BitmapRef(vmcs=vmcs, bitmap=bitmap):
            return {"bitmap": bitmap, "vmcs": _vmcs_json(vmcs)}
        case Var(name=name):
            return {"var": name}
        case EntityRef(kind=kind, name=name, vmcs=vmcs, region=region, bdf=bdf):
            return {"entity": kind.value, "name": name, "vmcs": _vmcs_json(vmcs),
                    "region": None if region is None else _set_json(region), "bdf": None if bdf is None else list(bdf)}
        case Unary(op=op, operand=operand):
            return {"unary": op.name, "operand": expr_to_json(operand)}
        case Binary(op=op, left=left, right=right):
            return {"binary": op.name, "left": expr_to_json(left), "right": expr_to_json(right)}
        case Slice(base=base, high=high, low=low):
            return {"slice": expr_to_json(base), "high": high, "low": low}
        case Member(item=item, collection=collection):
            coll: object = _set_json(collection) if isinstance(collection, IntervalSet) else expr_to_json(collection)
            return {"member": expr_to_json(item), "in": coll}
        case Apply(function=function, args=args):
            return {"apply": function, "args": [expr_to_json(a) for a in args]}
        case Quantified(kind=kind, bindings=bindings, body=body):
            return {"quantifier": kind.name, "body": expr_to_json(body),
                    "bindings": [{"var": b.var, "domain": _set_json(b.domain) if isinstance(b.domain, IntervalSet)
                                  else expr_to_json(b.domain)} for b in bindings]}
    raise TypeError(f"cannot serialise {type(expr).__name__}")


def _domain_from(data: object) -> IntervalSet | Expr:
    return _set_from(data) if isinstance(data, list) else expr_from_json(data)


def expr_from_json(data: object) -> Expr:
    """The inverse of ``expr_to_json``."""
    if not isinstance(data, Mapping):
        raise ValueError(f"an expression is an object, got {data!r}")
    if "const" in data:
        return Const(int(data["const"], 16))
    if "field" in data:
        vmcs = _vmcs_from(data["vmcs"])
        assert vmcs is not None
        return FieldRef(vmcs, str(data["field"]), int(data["width"]))
    if "bitmap" in data:
        vmcs = _vmcs_from(data["vmcs"])
        assert vmcs is not None
        return BitmapRef(vmcs, str(data["bitmap"]))
    if "var" in data:
        return Var(str(data["var"]))
    if "entity" in data:
        bdf = data["bdf"]
        region = data["region"]
        return EntityRef(EntityKind(data["entity"]), str(data["name"]), _vmcs_from(data["vmcs"]),
                         None if region is None else _set_from(region),
                         None if bdf is None else (int(bdf[0]), int(bdf[1]), int(bdf[2]), int(bdf[3])))
    if "unary" in data:
        return Unary(UnaryOp[data["unary"]], expr_from_json(data["operand"]))
    if "binary" in data:
        return Binary(BinaryOp[data["binary"]], expr_from_json(data["left"]), expr_from_json(data["right"]))
    if "slice" in data:
        return Slice(expr_from_json(data["slice"]), int(data["high"]), int(data["low"]))
    if "member" in data:
        return Member(expr_from_json(data["member"]), _domain_from(data["in"]))
    if "apply" in data:
        return Apply(str(data["apply"]), tuple(expr_from_json(a) for a in data["args"]))
    if "quantifier" in data:
        bindings = tuple(Bound(str(b["var"]), _domain_from(b["domain"])) for b in data["bindings"])
        return Quantified(QuantifierKind[data["quantifier"]], bindings, expr_from_json(data["body"]))
    raise ValueError(f"not an expression: {sorted(data)}")


# -- evaluation ------------------------------------------------------------------------------------------

_ARITH: dict[BinaryOp, Callable[[int, int], int]] = {
    BinaryOp.BIT_OR: lambda a, b: a | b, BinaryOp.BIT_XOR: lambda a, b: a ^ b, BinaryOp.BIT_AND: lambda a, b: a & b,
    BinaryOp.SHL: lambda a, b: a << b if b < 4096 else 0, BinaryOp.SHR: lambda a, b: a >> b,
    BinaryOp.ADD: lambda a, b: a + b, BinaryOp.SUB: lambda a, b: a - b, BinaryOp.MUL: lambda a, b: a * b,
}
_COMPARE: dict[BinaryOp, Callable[[int, int], bool]] = {
    BinaryOp.EQ: lambda a, b: a == b, BinaryOp.NE: lambda a, b: a != b, BinaryOp.LT: lambda a, b: a < b,
    BinaryOp.LE: lambda a, b: a <= b, BinaryOp.GT: lambda a, b: a > b, BinaryOp.GE: lambda a, b: a >= b,
}


class Evaluator:
    """Evaluates a claim on one concrete state; ``bindings`` are the bound variables' values."""

    def __init__(self, state: State, bindings: Mapping[str, int]) -> None:
        self.state = state
        self.scope: dict[str, Num] = {k: Num(v, max(BOUND_WIDTH, v.bit_length())) for k, v in bindings.items()}

    def truth(self, expr: Expr) -> bool:
        value = self.value(expr)
        if not isinstance(value, bool):
            raise NotEvaluable("a number is used where a condition is expected")
        return value

    def number(self, expr: Expr) -> Num:
        value = self.value(expr)
        if isinstance(value, bool):
            raise NotEvaluable("a condition is used where a number is expected")
        return value

    def value(self, expr: Expr) -> Value:
        match expr:
            case Const(value=value):
                return Num(value, None)
            case FieldRef(field=name, width=width):
                if name not in self.state.vmcs:
                    raise NotEvaluable(f"the state has no {name}")
                return Num(self.state.vmcs[name] & ((1 << width) - 1), width)
            case Var(name=name):
                if name not in self.scope:
                    raise NotEvaluable(f"no value for '{name}'")
                return self.scope[name]
            case Unary(op=UnaryOp.NOT, operand=operand):
                return not self.truth(operand)
            case Unary(op=UnaryOp.INVERT, operand=operand):
                num = self.number(operand)
                if num.width is None:
                    raise NotEvaluable("'~' of a bare number has no width")
                return Num(~num.value & ((1 << num.width) - 1), num.width)
            case Binary(op=BinaryOp.AND, left=left, right=right):
                return self.truth(left) and self.truth(right)
            case Binary(op=BinaryOp.OR, left=left, right=right):
                return self.truth(left) or self.truth(right)
            case Binary(op=BinaryOp.IMPLIES, left=left, right=right):
                return not self.truth(left) or self.truth(right)
            case Binary(op=op, left=left, right=right):
                return self._binary(op, self.number(left), self.number(right))
            case Slice(base=base, high=high, low=low):
                num = self.number(base)
                bits = (num.value >> low) & ((1 << (high - low + 1)) - 1)
                return Num(bits, None if num.width is None else high - low + 1)
            case Member(item=item, collection=collection):
                return self.number(item).value in self._set(collection)
            case Apply():
                return self._apply(expr)
            case Quantified():
                return self._quantified(expr, 0)
        raise NotEvaluable(f"cannot evaluate {type(expr).__name__}")

    @staticmethod
    def _binary(op: BinaryOp, left: Num, right: Num) -> Value:
        widths = [w for w in (left.width, right.width) if w is not None]
        width = max(widths) if widths else None
        if op in _COMPARE:
            return bool(_COMPARE[op](left.value, right.value))
        result = _ARITH[op](left.value, right.value)
        if width is None:
            if result < 0:
                raise NotEvaluable("the constant expression is negative")
            return Num(result, None)
        return Num(result % (1 << width), width)

    def _set(self, collection: IntervalSet | Expr) -> IntervalSet:
        if isinstance(collection, IntervalSet):
            return collection
        if isinstance(collection, EntityRef) and collection.region is not None:
            return collection.region
        if isinstance(collection, BitmapRef):
            raise NotEvaluable(f"reading the {collection.bitmap} bitmap from a concrete state is not implemented")
        raise NotEvaluable("expected a set")

    def _quantified(self, expr: Quantified, index: int) -> bool:
        if index == len(expr.bindings):
            return self.truth(expr.body)
        binding = expr.bindings[index]
        domain = self._set(binding.domain)
        if domain.size > ENUMERATION_LIMIT:
            raise NotEvaluable(f"'{binding.var}' ranges over {domain.size} values (at most {ENUMERATION_LIMIT} are "
                               "enumerated)")
        saved = self.scope.get(binding.var)
        width = max(BOUND_WIDTH, max((hi - 1 for _, hi in domain.intervals), default=0).bit_length())
        try:
            results = []
            for value in domain.members():
                self.scope[binding.var] = Num(value, width)
                results.append(self._quantified(expr, index + 1))
                if results[-1] != (expr.kind is QuantifierKind.FORALL):
                    break
            return all(results) if expr.kind is QuantifierKind.FORALL else any(results)
        finally:
            if saved is None:
                self.scope.pop(binding.var, None)
            else:
                self.scope[binding.var] = saved

    # -- the translation functions, through the reference interpreter --

    def _apply(self, node: Apply) -> Value:
        if not node.args or not isinstance(node.args[0], EntityRef):
            raise NotEvaluable(f"'{node.function}' needs translation tables first")
        head = node.args[0]
        if head.kind is EntityKind.IOMMU:
            return self._dma(node, head)
        if len(node.args) != 2:
            raise NotEvaluable(f"'{node.function}' of an EPT takes the tables and an address")
        gpa = self.number(node.args[1]).value
        outcomes = {
            "read": translate_gpa(self.state, gpa, "read"),
            "write": translate_gpa(self.state, gpa, "write"),
            "fetch": translate_gpa(self.state, gpa, "fetch"),
            "user-fetch": translate_gpa(self.state, gpa, "fetch", user=True),
        }
        ok = {name: outcome.result == "ok" for name, outcome in outcomes.items()}
        match node.function:
            case "translates":
                return any(ok.values())
            case "readable":
                return ok["read"]
            case "writable":
                return ok["write"]
            case "executable":
                return ok["fetch"]
            case "target":
                for outcome in outcomes.values():
                    if outcome.result == "ok" and outcome.hpa is not None:
                        return Num(outcome.hpa, BOUND_WIDTH)
                raise NotEvaluable(f"target of guest-physical {gpa:#x}, which does not translate")
        raise NotEvaluable(f"unknown function '{node.function}'")

    def _dma(self, node: Apply, head: EntityRef) -> Value:
        if len(node.args) != 3 or not isinstance(node.args[1], EntityRef) or node.args[1].bdf is None:
            raise NotEvaluable(f"'{node.function}' of an IOMMU takes the unit, a device and an IOVA")
        segment, bus, dev, fn = node.args[1].bdf
        sid = bus << 8 | dev << 3 | fn
        iova = self.number(node.args[2]).value
        read = translate_dma(self.state, sid, iova, "read", segment=segment)
        write = translate_dma(self.state, sid, iova, "write", segment=segment)
        match node.function:
            case "translates":
                return read.result == "ok" or write.result == "ok"
            case "readable":
                return read.result == "ok"
            case "writable":
                return write.result == "ok"
            case "target":
                for outcome in (read, write):
                    if outcome.result == "ok" and outcome.hpa is not None:
                        return Num(outcome.hpa, BOUND_WIDTH)
                raise NotEvaluable(f"target of IOVA {iova:#x}, which does not translate")
        raise NotEvaluable(f"'{node.function}' is not defined for an IOMMU")


def evaluate(claim: Expr, state: State, bindings: Mapping[str, int]) -> bool:
    """The claim's truth on ``state`` with the bound variables at ``bindings``."""
    return Evaluator(state, bindings).truth(claim)
