"""``proofs/``, the project's CI proof gate: every ``prove`` there is proved, together they use every
built-in property, and they are not vacuous gates: the mistakes they exist to catch turn them red.

The mutation tests copy ``proofs/`` (imports and all) and make one classic mistake in one spec; the
proof the spec's header says guards against it must then be violated.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from vmxspec.check.driver import SpecReport, check_paths, check_proof, title
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.cli import main
from vmxspec.properties import load_all
from vmxspec.sema.analyze import analyze

ROOT = Path(__file__).resolve().parents[2]
PROOFS = ROOT / "proofs"


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory) -> list[SpecReport]:
    bundles = tmp_path_factory.mktemp("bundles")
    return check_paths([str(PROOFS)], CheckOptions(), jobs=2, bundle_dir=str(bundles))


def test_every_prove_in_proofs_is_proved(reports: list[SpecReport]) -> None:
    assert {Path(r.path).relative_to(PROOFS).as_posix() for r in reports} == {
        p.relative_to(PROOFS).as_posix() for p in PROOFS.rglob("*.vmx")}
    assert [(r.path, d.headline()) for r in reports for d in r.diagnostics] == []
    not_proved = [(r.path, x.title, x.verdict.value, x.outcome.message) for r in reports for x in r.results
                  if x.verdict is not Verdict.PROVED]
    assert not_proved == []
    assert sum(len(r.results) for r in reports) >= 30


def test_the_gate_uses_every_built_in_property(reports: list[SpecReport]) -> None:
    used = {name for r in reports for name in r.properties}
    missing = set(load_all()) - used
    assert missing == set(), f"add a proof to proofs/ that uses {sorted(missing)}"


def test_every_spec_says_what_it_proves_and_why() -> None:
    for path in PROOFS.glob("*.vmx"):
        header = path.read_text().split("\n\n", 1)[0]
        assert header.startswith("# Gate: ") and "# Why it matters: " in header, path.name


def test_the_proof_specs_are_formatted(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--check", str(PROOFS)]) == 0, capsys.readouterr().out


def test_the_two_nested_blocks_prove_things_about_one_merge() -> None:
    text = (PROOFS / "nested_kvm.vmx").read_text()
    blocks = re.findall(r"^nested \w+ on l1 \{\n(.*?)^\}", text, re.MULTILINE | re.DOTALL)
    assert len(blocks) == 2

    def merge(block: str) -> list[str]:
        return [line for line in block.splitlines() if not line.lstrip().startswith(("prove ", "assume ", "#"))]

    assert merge(blocks[0]) == merge(blocks[1])


# -- the gates bite -------------------------------------------------------------------------------

def _verdict(path: Path, prefix: str, tmp_path: Path) -> Verdict:
    sources: dict[str, str] = {}
    model, diagnostics = analyze(str(path), sources=sources)
    assert model is not None, [d.headline() for d in diagnostics]
    (proof,) = [p for p in model.proofs_everywhere() if title(p, sources).startswith(prefix)]
    result = check_proof(model, proof, str(path), sources, CheckOptions(), str(tmp_path / "bundles"), load_all())
    return result.verdict


@pytest.mark.parametrize(("spec", "before", "after", "guard"), [
    # CVE-2015-8104: a guest that can take #DB without an exit can hang the host.
    ("kvm_guest.vmx", "intercept { DB, UD, AC, MC }", "intercept { UD, AC, MC }", "exits(kvm)"),
    # The hypervisor does not record a single-stepped #DB in BS (KVM before its fix): VM entry fails.
    ("kvm_guest.vmx", "  assume GUEST_INTERRUPTIBILITY_INFO != 0 or GUEST_ACTIVITY_STATE != 0 implies "
     "GUEST_RFLAGS & TF == 0 or GUEST_PENDING_DBG_EXCEPTIONS != 0\n", "", "vmentry_valid(kvm)"),
    # A typo in a DMA domain's target: the NVMe controller reaches the web VM's memory.
    ("three_vms_iommu.vmx", "map 0x0 .. 1G -> 0x1_8000_0000 rw", "map 0x0 .. 1G -> 0x1_0000_0000 rw",
     "dma_isolated(dmar0)"),
    # L0 forgets L1's MSR bitmap (specs/bugs/nested_msr_bitmap_not_merged.vmx): L2 reaches the MSRs
    # that L0 passes through to L1 but L1 intercepts.
    ("nested_kvm.vmx", "vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap",
     "vmcs02.msr_bitmap = vmcs01.msr_bitmap", "honors_exits(vmcs12, vmcs02)"),
])
def test_a_classic_mistake_turns_its_gate_red(spec: str, before: str, after: str, guard: str,
                                              tmp_path: Path) -> None:
    copy = tmp_path / "proofs"
    shutil.copytree(PROOFS, copy)
    path = copy / spec
    text = path.read_text()
    assert text.count(before) >= 1, before
    path.write_text(text.replace(before, after))
    assert _verdict(path, guard, tmp_path) is Verdict.VIOLATED
