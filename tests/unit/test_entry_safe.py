"""``entry_safe(vmcs12, vmcs02)`` on the two nested specs: the UMIP bug and the example merge."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Outcome, Verdict
from vmxspec.properties import PropertyContext
from vmxspec.properties.entry_safe import check
from vmxspec.sema.analyze import analyze
from vmxspec.sema.model import PropertyProof

ROOT = Path(__file__).resolve().parents[2]
BUG = str(ROOT / "specs/bugs/nested_entry_umip.vmx")
EXAMPLE = str(ROOT / "specs/examples/nested_l0_l1.vmx")
UMIP = 1 << 11


def _entry_safe(path: str) -> Outcome:
    """Only the entry_safe obligation of ``path`` (the example's other proofs are not this test's)."""
    sources: dict[str, str] = {}
    model, _ = analyze(path, sources=sources)
    assert model is not None
    proof = next(p for p in model.proofs_everywhere() if isinstance(p, PropertyProof) and p.property == "entry_safe")
    return check(PropertyContext(model, proof, CheckOptions(), sources))


def test_umip_bug_is_violated_and_replayed_by_the_driver(tmp_path: Path) -> None:
    report = check_spec(BUG, CheckOptions(), bundle_dir=str(tmp_path))
    (result,) = [r for r in report.results if r.title.startswith("entry_safe")]
    assert result.verdict is Verdict.VIOLATED, result.outcome.message
    cex = result.outcome.counterexample
    assert cex is not None
    assert cex.query == {"kind": "vmentry"}
    assert replay(cex.state, cex.query, cex.expect).confirmed
    # The merge has the deliberate gap (vmcs12's CR4.UMIP copied through, which the platform's
    # CR4_FIXED1 forbids) and, like the example's, two more that the solver may report first:
    # PDPTEs of a PAE vmcs12 without EPT, and a TSC multiplier vmcs01 leaves unset.
    assert cex.expect["violates"] in {"GUEST-CR4-FIXED", "GUEST-PDPTE-RSVD", "CTL-TSC-MULT"}
    if cex.expect["violates"] == "GUEST-CR4-FIXED":
        vmcs = cex.state["vmcs"]
        assert isinstance(vmcs, dict)
        assert int(str(vmcs["GUEST_CR4"]), 16) & UMIP  # vmcs12's CR4.UMIP, copied through
        assert cex.open_values["vmcs12.GUEST_CR4"] & UMIP


def test_example_merge_loses_the_pdptes_of_a_vmcs12_without_ept() -> None:
    """Not proved, by the SDM: a vmcs12 with PAE paging (CR0.PG, CR4.PAE, not IA-32e mode) and no
    EPT has its PDPTEs taken from memory at CR3, so its GUEST_PDPTRn fields are ignored and may hold
    reserved bits; vmcs02 keeps vmcs01's "enable EPT", so the processor checks those fields
    (SDM Vol. 3C, "Checks on Guest Page-Directory-Pointer-Table Entries"). KVM reloads them from L2's
    CR3 (nested_vmx_load_cr3); the spec's merge copies vmcs12's."""
    outcome = _entry_safe(EXAMPLE)
    assert outcome.verdict is Verdict.VIOLATED, outcome.message
    cex = outcome.counterexample
    assert cex is not None
    assert replay(cex.state, cex.query, cex.expect).confirmed
    assert cex.expect["violates"] in {"GUEST-PDPTE-RSVD", "CTL-TSC-MULT"}


def test_arguments_the_wrong_way_round_are_an_error() -> None:
    sources: dict[str, str] = {}
    model, _ = analyze(EXAMPLE, sources=sources)
    assert model is not None
    proof = next(p for p in model.proofs_everywhere() if isinstance(p, PropertyProof) and p.property == "entry_safe")
    outcome = check(PropertyContext(model, replace(proof, args=tuple(reversed(proof.args))), CheckOptions(), sources))
    assert outcome.verdict is Verdict.ERROR
