"""Structural rules of the code base that no single feature test would notice breaking."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vmxspec.arch.rules import RULES, Stage
from vmxspec.codes import BY_ID as CODES
from vmxspec.interp.vmentry import ALL_STAGES
from vmxspec.interp.vmentry.registry import CHECKS

PACKAGE = Path(__file__).resolve().parents[2] / "vmxspec"

#: Third-party library -> the only subpackages allowed to import it (DESIGN.md, "Layout").
ALLOWED_IMPORTERS = {
    "lark": ("syntax",),
    "z3": ("symbolic",),
    "rich": ("report", "cli.py"),
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("library", sorted(ALLOWED_IMPORTERS))
def test_only_designated_packages_import(library: str) -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE)
        if library in _imports(path) and relative.parts[0] not in ALLOWED_IMPORTERS[library]:
            offenders.append(str(relative))
    assert offenders == []


def test_nothing_imports_the_cli() -> None:
    offenders = [str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.py")
                 if p.name not in ("cli.py", "__main__.py") and "vmxspec.cli" in p.read_text()]
    assert offenders == []


def test_rule_ids_are_unique_and_well_formed() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for rule_id in ids:
        assert re.fullmatch(r"[A-Z][A-Z0-9]*(-[A-Z0-9]+)+", rule_id), rule_id


def test_every_vmentry_rule_has_exactly_one_check() -> None:
    vmentry_rules = {r.id for r in RULES if r.stage in ALL_STAGES}
    assert set(CHECKS) == vmentry_rules


def test_every_rule_names_real_fields_and_an_sdm_section() -> None:
    from vmxspec.arch import capabilities, vmcs_fields

    for rule in RULES:
        assert rule.section and rule.condition
        for name in rule.fields:
            assert name in vmcs_fields.BY_NAME, (rule.id, name)
        for cap in rule.caps:
            assert cap in capabilities.BY_NAME or cap in ("MAXPHYADDR", "MAXLINADDR"), (rule.id, cap)


def test_vmentry_stages_cover_the_four_groups() -> None:
    assert {s.value for s in ALL_STAGES} == {"controls", "host", "guest", "msr_load"}
    assert Stage.CONTROLS in ALL_STAGES


def test_every_code_used_in_the_package_is_registered() -> None:
    used = set()
    pattern = re.compile(r"StateError\(\s*\"([a-z0-9-]+)\"")
    for path in PACKAGE.rglob("*.py"):
        used.update(pattern.findall(path.read_text()))
    assert used <= set(CODES), used - set(CODES)
