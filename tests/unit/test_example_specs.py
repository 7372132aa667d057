"""specs/: every shipped spec parses, is canonical, and says what it is for.

``specs/examples/`` are the configurations a new user reads and adapts; ``specs/bugs/`` are seeded
mistakes, one or more per built-in property, that the checker must refute. Both are promises the
checker will be held to (``vmxspec check specs/`` must give the verdicts their comments state), so
the comments that state them are checked here for form: an example names what it demonstrates and
its expected verdicts; a bug spec says what is wrong and which of its proofs must be VIOLATED, and
proves nothing else.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.diagnostics import render_all
from vmxspec.syntax import ast as A
from vmxspec.syntax import try_parse_bytes
from vmxspec.syntax.printer import print as print_spec

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted((ROOT / "specs").rglob("*.vmx"))
EXAMPLES = sorted((ROOT / "specs" / "examples").glob("*.vmx"))
BUGS = sorted((ROOT / "specs" / "bugs").glob("*.vmx"))

BUILTIN = ("vmentry_valid", "no_misconfig", "isolated", "dma_isolated", "protects", "exits",
           "preserves_exits", "honors_exits", "entry_safe")
#: How the tests name a `prove` whose claim is not a built-in property call.
USER_ASSERTION = "user assertion"


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def _parse(path: Path) -> A.SpecFile:
    data = path.read_bytes()
    result = try_parse_bytes(data, _name(path))
    assert result.spec is not None, render_all(result.diagnostics, {_name(path): result.text or ""})
    return result.spec


def _header(path: Path) -> str:
    """The comment block the file starts with, without the '#'s."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        lines.append(line[1:].strip())
    return " ".join(lines)


def _proofs(spec: A.SpecFile) -> list[str]:
    """The property each `prove` in the file (nested blocks included) claims."""
    out = []
    for node in A.walk(spec):
        if not isinstance(node, A.Prove):
            continue
        claim = node.claim
        if isinstance(claim, A.Call) and isinstance(claim.callee, A.Name) and claim.callee.name in BUILTIN:
            out.append(claim.callee.name)
        else:
            out.append(USER_ASSERTION)
    return out


def test_there_are_specs_to_check() -> None:
    assert len(EXAMPLES) >= 5
    assert len(BUGS) >= len(BUILTIN) + 1


@pytest.mark.parametrize("path", SPECS, ids=_name)
def test_every_spec_parses(path: Path) -> None:
    _parse(path)


@pytest.mark.parametrize("path", SPECS, ids=_name)
def test_every_spec_is_in_canonical_form(path: Path) -> None:
    text = path.read_bytes().decode("utf-8")
    assert print_spec(_parse(path)) == text, f"{_name(path)} is not formatted: run vmxspec fmt --write on it"


#: Examples whose header does not state their verdicts yet (strict: fixing one makes this fail, so
#: that the entry is removed).
_NO_VERDICTS_YET: dict[str, str] = {}


@pytest.mark.parametrize("path", [
    pytest.param(p, marks=pytest.mark.xfail(strict=True, reason=_NO_VERDICTS_YET[p.name]))
    if p.name in _NO_VERDICTS_YET else p
    for p in EXAMPLES
], ids=_name)
def test_examples_say_what_they_demonstrate_and_expect(path: Path) -> None:
    header = _header(path)
    assert "What it demonstrates" in header, f"{_name(path)}: no 'What it demonstrates' in the header"
    assert "Expected verdict" in header, f"{_name(path)}: no 'Expected verdicts' in the header"
    assert _proofs(_parse(path)), f"{_name(path)} proves nothing"


@pytest.mark.parametrize("path", BUGS, ids=_name)
def test_bug_specs_say_what_is_wrong_and_what_must_be_refuted(path: Path) -> None:
    header = _header(path)
    assert header.startswith("BUG:"), f"{_name(path)}: the header starts with 'BUG: what is wrong'"
    assert "Expected verdict" in header and "VIOLATED" in header
    proofs = _proofs(_parse(path))
    assert proofs, f"{_name(path)} proves nothing"
    for prop in proofs:
        named = "assertion" if prop == USER_ASSERTION else prop
        assert named in header, f"{_name(path)}: the header does not say that {prop} is refuted"


def test_every_property_has_a_seeded_bug() -> None:
    refuted = {prop for path in BUGS for prop in _proofs(_parse(path))}
    assert set(BUILTIN) | {USER_ASSERTION} <= refuted, sorted(set(BUILTIN) - refuted)


def test_the_examples_exercise_every_property() -> None:
    proved = {prop for path in EXAMPLES for prop in _proofs(_parse(path))}
    assert set(BUILTIN) | {USER_ASSERTION} <= proved, sorted(set(BUILTIN) - proved)


def test_the_examples_cover_the_issue_s_configurations() -> None:
    """EPT + VPID, two VMs through one IOMMU, shadow paging, nested, raw entries: by what they contain."""
    specs = {path.name: _parse(path) for path in EXAMPLES}

    def has(spec: A.SpecFile, kind: type[A.Node]) -> bool:
        return any(isinstance(n, kind) for n in A.walk(spec))

    vms = {name: [i for i in spec.items if isinstance(i, A.Vm)] for name, spec in specs.items()}
    assert any(len(v) >= 2 and has(specs[n], A.Iommu) and has(specs[n], A.Group) for n, v in vms.items())
    assert any(v and not any(isinstance(i, A.Ept) for vm in v for i in vm.items) for v in vms.values())
    assert any(has(spec, A.Nested) for spec in specs.values())
    assert any(has(spec, A.RawEntry) and has(spec, A.AnyValue) and has(spec, A.Assume) for spec in specs.values())
