"""Hypothesis: analysis never fails with an exception, whatever the spec says.

Mutated example specs (tokens deleted, duplicated, swapped, replaced; names misspelt; numbers
changed) that still parse are analysed: the answer is a model or diagnostics, never an exception
and never an internal error; every diagnostic is registered, points into the file and renders. A
model with nothing left open is built into a state, which either succeeds or fails with the
builder's own diagnostics.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.build.from_model import BuildError, build_state
from vmxspec.codes import BY_ID
from vmxspec.diagnostics import render
from vmxspec.sema import analyze
from vmxspec.syntax import try_parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_PATHS = sorted((ROOT / "specs" / "examples").glob("*.vmx"))
EXAMPLES = [p.read_text() for p in EXAMPLE_PATHS]
_LEXEME = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|[A-Za-z0-9_]+(?::[0-9A-Za-z_]+)*(?:\.[0-9])?|\.\.=?|->|[-+!=<>]=|<<|>>|.',
                     re.S)
TOKENS = [_LEXEME.findall(text) for text in EXAMPLES]
WORDS = sorted({t for tokens in TOKENS for t in tokens if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)})
VOCABULARY = sorted({*WORDS, "0", "1", "0x1000", "4K", "2M", "1G", "0xffff_ffff_ffff_ffff", "any", "all", "{", "}",
                     "..", "..=", "|", "&", "~", "-=", "+=", "=", "==", "in", "page", "rwx", "uses", "passthrough"})
RUNS = int(os.environ.get("VMXSPEC_FUZZ_EXAMPLES", "150"))
FAST = settings(max_examples=RUNS, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def misspell(word: str, how: int) -> str:
    if len(word) < 2:
        return word + "x"
    i = how % len(word)
    kind = how % 4
    if kind == 0:
        return word[:i] + word[i + 1:]
    if kind == 1:
        return word[:i] + word[i] + word[i:]
    if kind == 2 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    return word.upper() if word.islower() else word.lower()


mutation = st.one_of(
    st.tuples(st.just("delete"), st.integers(0, 10_000)),
    st.tuples(st.just("duplicate"), st.integers(0, 10_000)),
    st.tuples(st.just("swap"), st.integers(0, 10_000), st.integers(0, 10_000)),
    st.tuples(st.just("replace"), st.integers(0, 10_000), st.sampled_from(VOCABULARY)),
    st.tuples(st.just("misspell"), st.integers(0, 10_000), st.integers(0, 1000)),
)


def mutate(example: int, ops: list[tuple[object, ...]]) -> str:
    tokens = list(TOKENS[example])
    for op in ops:
        kind, i = op[0], int(op[1]) % len(tokens)  # type: ignore[call-overload]
        if kind == "delete" and len(tokens) > 1:
            del tokens[i]
        elif kind == "duplicate":
            tokens.insert(i, tokens[i])
        elif kind == "swap":
            j = int(op[2]) % len(tokens)  # type: ignore[call-overload]
            tokens[i], tokens[j] = tokens[j], tokens[i]
        elif kind == "replace":
            tokens[i] = str(op[2])
        elif kind == "misspell":
            words = [k for k, t in enumerate(tokens) if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", t)]
            k = words[i % len(words)]
            tokens[k] = misspell(tokens[k], int(op[2]))  # type: ignore[call-overload]
    return "".join(tokens)


def check(text: str, path: str) -> None:
    parsed = try_parse(text, path)
    if parsed.spec is None:
        return
    model, diagnostics = analyze(parsed.spec)
    lines = text.count("\n") + 1
    for d in diagnostics:
        assert d.code in BY_ID and d.code != "internal-error", d
        assert d.span.path == path, d
        assert 1 <= d.span.line <= lines and d.span.column >= 1, d
        assert render(d, text)
    if model is None:
        assert any(d.severity.value == "error" for d in diagnostics)
        return
    names: list[str | None] = [*model.vms] or [None]
    for name in names:
        try:
            build_state(model, name)
        except BuildError as err:
            assert err.diagnostics
            assert all(d.code in BY_ID and d.code != "internal-error" for d in err.diagnostics)


@FAST
@given(st.integers(0, len(EXAMPLES) - 1), st.lists(mutation, min_size=1, max_size=4))
def test_mutated_examples_give_diagnostics_not_exceptions(example: int, ops: list[tuple[object, ...]]) -> None:
    check(mutate(example, ops), "m.vmx")


@FAST
@given(st.integers(0, len(EXAMPLES) - 1), st.integers(0, 10_000), st.integers(0, 1000))
def test_one_misspelt_name_is_reported_at_that_name(example: int, which: int, how: int) -> None:
    text = mutate(example, [("misspell", which, how)])
    check(text, "n.vmx")


def test_every_example_analyses_and_builds_without_exceptions() -> None:
    for path, text in zip(EXAMPLE_PATHS, EXAMPLES, strict=True):
        check(text, path.name)
