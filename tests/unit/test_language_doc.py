"""docs/language.md: every ```vmx example parses and is already in canonical form.

The reference is where users copy from, so an example that does not parse, or that ``vmxspec fmt``
would rewrite, teaches the wrong thing. These tests keep the page honest as the grammar and the
formatter change: each fenced ``vmx`` block is parsed on its own (each must be a complete file),
and must equal its canonical print. The page must also keep covering the whole grammar: every
statement and expression node appears in at least one example.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from vmxspec.diagnostics import render_all
from vmxspec.syntax import ast as A
from vmxspec.syntax import try_parse
from vmxspec.syntax.printer import print as print_spec

ROOT = Path(__file__).resolve().parents[2]
LANGUAGE = ROOT / "docs" / "language.md"

_FENCE = re.compile(r"^```vmx\n(.*?)^```$", re.M | re.S)


def _blocks() -> list[tuple[int, str]]:
    """``(line, text)`` of every ```vmx block, the line being that of its opening fence."""
    text = LANGUAGE.read_text(encoding="utf-8")
    return [(text.count("\n", 0, m.start()) + 1, m.group(1)) for m in _FENCE.finditer(text)]


BLOCKS = _blocks()


def test_the_reference_has_examples() -> None:
    assert len(BLOCKS) >= 20


@pytest.mark.parametrize(("line", "block"), BLOCKS, ids=[f"line{line}" for line, _ in BLOCKS])
def test_every_example_parses_and_is_canonical(line: int, block: str) -> None:
    where = f"docs/language.md:{line}"
    result = try_parse(block, where)
    assert result.spec is not None, render_all(result.diagnostics, {where: block})
    assert print_spec(result.spec) == block, f"the example at {where} is not in canonical form"


def _nodes() -> list[A.Node]:
    found: list[A.Node] = []
    for _, block in BLOCKS:
        spec = try_parse(block).spec
        assert spec is not None
        found.extend(A.walk(spec))
    return found


def test_the_examples_cover_every_construct() -> None:
    """Each syntax-tree node type, operator, entry kind and assignment operator is shown at least once."""
    nodes = _nodes()
    kinds = {type(n) for n in nodes}
    expected = {
        A.Import, A.Platform, A.Vm, A.Ram, A.Ept, A.Map, A.Hole, A.RawEntry, A.Root, A.Tables, A.Vmcs,
        A.Setting, A.Intercept, A.Devices, A.Iommu, A.DeviceAssignment, A.Domain, A.DomainTables, A.Uses,
        A.Passthrough, A.Group, A.Hypervisor, A.Memory, A.Shared, A.Party, A.Nested, A.Assume, A.Prove, A.Event,
        A.Quantifier, A.Binding, A.AnyValue, A.Range, A.SetLiteral, A.Bdf, A.Attribute, A.Call, A.Bits, A.Unary,
        A.Binary, A.Member, A.Attr, A.Number, A.Name,
    }
    assert expected <= kinds, f"no example shows {sorted(k.__name__ for k in expected - kinds)}"
    ops = {n.op for n in nodes if isinstance(n, A.Binary)}
    # Arithmetic operators other than these appear only in the operator table.
    assert {A.BinaryOp.IMPLIES, A.BinaryOp.AND, A.BinaryOp.OR, A.BinaryOp.EQ, A.BinaryOp.NE, A.BinaryOp.LT,
            A.BinaryOp.BIT_OR, A.BinaryOp.BIT_AND, A.BinaryOp.SHL, A.BinaryOp.SHR, A.BinaryOp.ADD} <= ops
    assert {n.kind for n in nodes if isinstance(n, A.RawEntry)} == set(A.EntryKind) - {A.EntryKind.PML5E}
    assert {n.op for n in nodes if isinstance(n, A.Setting)} == set(A.AssignOp)
    assert {n.kind for n in nodes if isinstance(n, A.Quantifier)} == set(A.QuantifierKind)
    assert {n.op for n in nodes if isinstance(n, A.Unary)} == set(A.UnaryOp)
    assert any(isinstance(n, A.Range) and n.inclusive for n in nodes)
    assert any(isinstance(n, A.Range) and not n.inclusive for n in nodes)
    assert any(isinstance(n, A.Intercept) and n.all and n.items for n in nodes)  # all except { }


def test_every_builtin_property_is_documented_with_an_example() -> None:
    text = LANGUAGE.read_text(encoding="utf-8")
    claims = {n.claim.callee.name for n in _nodes()
              if isinstance(n, A.Prove) and isinstance(n.claim, A.Call) and isinstance(n.claim.callee, A.Name)}
    for prop in ("vmentry_valid", "no_misconfig", "isolated", "dma_isolated", "protects", "exits",
                 "preserves_exits", "honors_exits", "entry_safe"):
        assert prop in claims, f"no example proves {prop}"
        assert f"`{prop}" in text
    assert "### User assertions" in text


def test_internal_links_point_at_headings() -> None:
    """The contents list and cross references use GitHub's heading anchors; a renamed heading breaks them."""
    text = LANGUAGE.read_text(encoding="utf-8")
    anchors = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchors.add(slug)
    links = set(re.findall(r"\]\(#([^)]+)\)", text))
    assert links <= anchors, sorted(links - anchors)
