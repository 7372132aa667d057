"""Hypothesis: the parser never fails with an exception, and the formatter round-trips.

* Random mutations of the example specs (tokens deleted, duplicated, swapped, replaced; the text
  truncated; random bytes or characters inserted) and random bytes: the parser answers with a tree
  or with diagnostics, never an exception, never an internal error, and every diagnostic points
  into the file and renders.
* Generated trees and the well-formed mutants: ``parse(print(t)) == t`` and printing is idempotent.
* The driver's fast path for one-line ``map`` statements builds exactly what the grammar builds.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.codes import BY_ID
from vmxspec.diagnostics import render
from vmxspec.syntax import ast as A
from vmxspec.syntax import parse, try_parse, try_parse_bytes
from vmxspec.syntax.parser import ParseResult
from vmxspec.syntax.printer import print as print_spec

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = (ROOT / "specs" / "examples" / "kvm_guest.vmx").read_text()
_LEXEME = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|[A-Za-z0-9_]+(?::[0-9A-Za-z_]+)*(?:\.[0-9])?|\.\.=?|->|[-+!=<>]=|<<|>>|.',
                     re.S)
TOKENS = _LEXEME.findall(EXAMPLE)
VOCABULARY = sorted(set(TOKENS) | {"{", "}", "(", ")", "[", "]", ",", ":", "..", "..=", "->", "=", "==",
                                   "vm", "ept", "map", "any", "forall", "03:00.0", "0x", "4k", "#", '"',
                                   "\x00", "\ufeff", "é", ";", "@", "\t", "\r\n"})
#: More examples for a deeper search: VMXSPEC_FUZZ_EXAMPLES=5000 pytest tests/property/test_syntax_fuzz.py
EXAMPLES = int(os.environ.get("VMXSPEC_FUZZ_EXAMPLES", "150"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check_result(result: ParseResult, text: str, path: str) -> None:
    """A tree, or diagnostics that are registered, point into the file and render."""
    if result.ok:
        assert result.diagnostics == ()
        return
    assert result.diagnostics
    lines = text.count("\n") + 1
    for d in result.diagnostics:
        assert d.code in BY_ID and d.code != "internal-error", d
        assert d.span.path == path
        assert 1 <= d.span.line <= lines and d.span.column >= 1, d
        assert render(d, result.text)


def check_round_trip(spec: A.SpecFile) -> None:
    text = print_spec(spec)
    again = parse(text)
    assert again == spec
    assert print_spec(again) == text


# ---- mutations ----

mutation = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, len(TOKENS) - 1)),
    st.tuples(st.just("duplicate"), st.integers(0, len(TOKENS) - 1)),
    st.tuples(st.just("swap"), st.integers(0, len(TOKENS) - 1), st.integers(0, len(TOKENS) - 1)),
    st.tuples(st.just("replace"), st.integers(0, len(TOKENS) - 1), st.sampled_from(VOCABULARY)),
    st.tuples(st.just("insert"), st.integers(0, len(TOKENS) - 1), st.text(min_size=1, max_size=3)),
)


def mutate(ops: list[tuple[object, ...]]) -> str:
    tokens = list(TOKENS)
    for op in ops:
        kind, i = op[0], min(int(op[1]), len(tokens) - 1)  # type: ignore[call-overload]
        if kind == "delete" and len(tokens) > 1:
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            j = min(int(op[2]), len(tokens) - 1)  # type: ignore[call-overload]
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind in ("replace", "insert"):
            tokens[i:i + (kind == "replace")] = [str(op[2])]
    return "".join(tokens)


@FAST
@given(st.lists(mutation, min_size=1, max_size=4))
def test_mutated_examples_give_diagnostics_not_exceptions(ops: list[tuple[object, ...]]) -> None:
    text = mutate(ops)
    result = try_parse(text, "m.vmx")
    check_result(result, text, "m.vmx")
    if result.spec is not None:
        check_round_trip(result.spec)


@FAST
@given(st.integers(0, len(EXAMPLE)), st.binary(max_size=8))
def test_truncated_and_corrupted_bytes(cut: int, noise: bytes) -> None:
    data = EXAMPLE.encode()
    for variant in (data[:cut], data[:cut] + noise + data[cut:]):
        result = try_parse_bytes(variant, "b.vmx")
        check_result(result, result.text or "", "b.vmx")


@FAST
@given(st.binary(max_size=200))
def test_random_bytes(data: bytes) -> None:
    result = try_parse_bytes(data, "r.vmx")
    check_result(result, result.text or "", "r.vmx")


# ---- generated trees ----

_KEYWORDS = {
    "all", "and", "any", "assume", "at", "context_entry", "device", "devices", "domain", "entry", "ept",
    "except", "exists", "forall", "group", "hole", "hypervisor", "implies", "import", "in", "intercept",
    "iommu", "map", "memory", "nested", "not", "on", "or", "passthrough", "pde", "pdpte", "platform",
    "pml4e", "pml5e", "prove", "pte", "ram", "root", "root_entry", "tables", "uses", "vm", "vmcs", "width",
    "within", "without",
}
names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,7}", fullmatch=True).filter(lambda s: s not in _KEYWORDS).map(A.Name)
numbers = st.integers(0, (1 << 64) - 1).map(A.Number)
bdfs = st.builds(A.Bdf, st.none() | st.integers(0, 0xFFFF), st.integers(0, 0xFF), st.integers(0, 0x1F),
                 st.integers(0, 7))
leaves: st.SearchStrategy[A.Expr] = st.one_of(names, numbers)


def _extend(inner: st.SearchStrategy[A.Expr]) -> st.SearchStrategy[A.Expr]:
    ranges = st.builds(A.Range, inner, inner, st.booleans())
    items = st.lists(st.one_of(inner, ranges, bdfs), max_size=3).map(tuple)
    return st.one_of(
        st.builds(A.Binary, st.sampled_from(list(A.BinaryOp)), inner, inner),
        st.builds(A.Unary, st.sampled_from(list(A.UnaryOp)), inner),
        st.builds(A.Attribute, inner, names),
        st.builds(A.Call, names, items),
        st.builds(A.Bits, inner, inner, st.none() | inner),
        st.builds(A.SetLiteral, items),
        st.builds(A.Member, inner, st.one_of(inner, ranges)),
        st.builds(A.Quantifier, st.sampled_from(list(A.QuantifierKind)),
                  st.lists(st.builds(A.Binding, names, st.one_of(inner, ranges)), min_size=1, max_size=2).map(tuple),
                  inner),
    )


exprs = st.recursive(leaves, _extend, max_leaves=8)
ranges = st.builds(A.Range, exprs, exprs, st.booleans())
anys = st.builds(A.AnyValue, st.none() | exprs, st.none() | ranges | exprs, st.none() | exprs, st.none() | exprs)
values = st.one_of(exprs, ranges, anys)
targets = st.one_of(exprs, anys)


@st.composite
def lvalues(draw: st.DrawFn) -> A.Expr:
    if draw(st.booleans()):
        return draw(numbers)
    out: A.Expr = draw(names)
    for name in draw(st.lists(names, max_size=2)):
        out = A.Attribute(out, name)
    return out


settings_ = st.builds(A.Setting, lvalues(), st.sampled_from(list(A.AssignOp)), values)
paging = st.one_of(
    st.builds(A.Map, ranges, targets, st.lists(st.builds(A.Attr, names, st.none() | numbers), max_size=3).map(tuple)),
    st.builds(A.Hole, ranges),
    st.builds(A.RawEntry, st.sampled_from(list(A.EntryKind)), exprs, values),
    st.builds(A.Root, exprs),
    st.builds(A.Tables, ranges),
)
paging_block = st.lists(paging, max_size=3).map(tuple)
intercepts = st.builds(A.Intercept, names, st.lists(names, max_size=2).map(tuple), st.booleans(),
                       st.lists(st.one_of(exprs, ranges, bdfs), max_size=3).map(tuple))
assumes = st.builds(A.Assume, exprs)
events = st.builds(A.Event, names, st.none() | exprs | ranges)
proves = st.builds(A.Prove, exprs, st.none() | st.lists(events, max_size=3).map(tuple))
translations = st.one_of(st.builds(A.Uses, exprs), st.just(A.Passthrough()), st.builds(A.DomainTables, paging_block))
devices = st.lists(bdfs, max_size=3).map(tuple)
vm_items = st.one_of(
    st.builds(A.Ram, ranges, targets),
    st.builds(A.Ept, paging_block),
    st.builds(A.Vmcs, st.lists(st.one_of(settings_, intercepts), max_size=4).map(tuple)),
    st.builds(A.Devices, devices),
    assumes,
)
iommu_items = st.one_of(
    settings_,
    st.builds(A.DeviceAssignment, bdfs, numbers, st.none() | translations),
    st.builds(A.Domain, numbers, translations),
    st.builds(A.Group, devices),
    paging.filter(lambda p: not isinstance(p, A.Map | A.Hole)),
)
top_items = st.one_of(
    st.builds(A.Import, st.from_regex(r'[^"\n\r]{0,12}', fullmatch=True)),
    st.builds(A.Platform, names, st.lists(settings_, max_size=3).map(tuple)),
    st.builds(A.Vm, names, st.lists(vm_items, max_size=4).map(tuple)),
    st.builds(A.Iommu, names, st.lists(iommu_items, max_size=4).map(tuple)),
    st.builds(A.Hypervisor, st.lists(st.builds(A.Memory, ranges), max_size=2).map(tuple)),
    st.builds(A.Shared, names, ranges, st.lists(st.builds(A.Party, names, names), max_size=3).map(tuple)),
    st.builds(A.Nested, names, names, st.lists(st.one_of(settings_, assumes, proves), max_size=3).map(tuple)),
    assumes,
    proves,
)
specs = st.builds(A.SpecFile, st.lists(top_items, max_size=4).map(tuple))


@settings(max_examples=2 * EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(specs)
def test_formatter_round_trips_generated_trees(spec: A.SpecFile) -> None:
    check_round_trip(spec)


# ---- the map fast path ----

number_text = st.one_of(
    st.integers(0, (1 << 64) - 1).map(hex), st.integers(0, 10**6).map(str),
    st.sampled_from(["4K", "2M", "1G", "0x8000_0000", "0x1_0000_0000", "12ab", "0x1g", "4k"]),
)
attr_text = st.tuples(st.sampled_from(["rwx", "r", "wb", "uc", "page", "ignore_pat", "all", "map", "x_1"]),
                      st.none() | number_text).map(lambda t: t[0] if t[1] is None else f"{t[0]} {t[1]}")


@FAST
@given(number_text, st.sampled_from(["..", "..=", " .. ", "..= "]), number_text, number_text,
       st.lists(attr_text, max_size=4), st.sampled_from(["\n", "  # c\n", " ", "\n  x_2 ", "\n  hole 0 .. 1 "]))
def test_map_fast_path_agrees_with_the_grammar(low: str, op: str, high: str, target: str, attrs: list[str],
                                               after: str) -> None:
    line = f"map {low}{op}{high} -> {target} {' '.join(attrs)}".rstrip()
    fast = try_parse(f"vm g {{ ept {{\n{line}{after}}} }}")
    # Splitting the statement over two lines, at a comment, always takes the grammar's path.
    split = line.replace(" -> ", " # split\n -> ", 1)
    slow = try_parse(f"vm g {{ ept {{\n{split}{after}}} }}")
    assert fast.ok == slow.ok
    if fast.spec is not None and slow.spec is not None:
        assert fast.spec.items == slow.spec.items
    else:
        assert [(d.code, d.message) for d in fast.diagnostics] == [(d.code, d.message) for d in slow.diagnostics]
