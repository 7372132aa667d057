"""``entry_safe(vmcs12, vmcs02)`` on the nested specs: the UMIP bug, the example merge, and the
proofs/ gate with vmcs01's MSR autoload areas left unset; and the MSR-load encoding that last case
leans on (a count of 0 reads nothing, wherever the area is; runs of entries are the entries)."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import z3

from tests.states import baseline
from vmxspec.arch.rules import Stage
from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Outcome, Verdict
from vmxspec.properties import PropertyContext
from vmxspec.properties.entry_safe import check
from vmxspec.sema.analyze import analyze
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import find_violation, msr_load, violations

ROOT = Path(__file__).resolve().parents[2]
BUG = str(ROOT / "specs/bugs/nested_entry_umip.vmx")
EXAMPLE = str(ROOT / "specs/examples/nested_l0_l1.vmx")
GATE = ROOT / "proofs" / "nested_kvm.vmx"
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


# -- vmcs01's MSR autoload areas left unset -----------------------------------------------------------

#: The lines of proofs/nested_kvm.vmx that pin vmcs01's autoload areas (their counts stay 0).
AUTOLOAD = ("    VM_ENTRY_MSR_LOAD_ADDR  = 0x8020_0000\n", "    VM_EXIT_MSR_STORE_ADDR  = 0x8020_2000\n",
            "    VM_EXIT_MSR_LOAD_ADDR   = 0x8020_4000\n")


def test_gate_merge_is_proved_with_the_autoload_addresses_unset(tmp_path: Path) -> None:
    """vmcs02 then takes vmcs01's unset, symbolic VM-entry MSR-load address with vmcs01's count 0:
    no entry is processed wherever the area is. The encoder used to make a candidate entry of every
    start near every non-zero word of L1's memory (about 20,000) and the proof ran out of its
    resource limit (unknown); with the default limits it is now proved."""
    text = GATE.read_text()
    for line in AUTOLOAD:
        assert text.count(line) == 1, line
        text = text.replace(line, "")
    shutil.copytree(GATE.parent / "common", tmp_path / "common")
    spec = tmp_path / "gap.vmx"
    spec.write_text(text)
    outcome = _entry_safe(str(spec))
    assert outcome.verdict is Verdict.PROVED, (outcome.message, outcome.reason)


AREA = 0x8000
FS_BASE = 0xC000_0100


def _area(count: int) -> SymState:
    """An entry VM entry refuses (FS_BASE) at ``AREA``, the count ``count``, the address open."""
    state = baseline(VM_ENTRY_MSR_LOAD_ADDR=AREA, VM_ENTRY_MSR_LOAD_COUNT=count)
    state.memory[AREA] = FS_BASE
    return SymState.from_state(state, ["VM_ENTRY_MSR_LOAD_ADDR"])


def test_msr_load_count_zero_reads_no_entry_wherever_the_area_is() -> None:
    formulas = violations(_area(0), (Stage.MSR_LOAD,))
    # Constant false as built: no candidate entry reached Z3 at all.
    assert all(z3.is_false(formulas[rule]) for rule in msr_load.RULE_IDS), formulas
    # The same memory with one entry to load fails, at the area that holds the entry.
    answer = find_violation(_area(1), "MSRLOAD-FS-GS-BASE", (Stage.MSR_LOAD,))
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["VM_ENTRY_MSR_LOAD_ADDR"] == AREA


@pytest.mark.parametrize("starts", [
    [AREA + 16 * i for i in (*range(10), 12, 13)] + [AREA + 8 + 16 * i for i in (0, 1, 2, 7)] + [AREA - 1],
    [0, 1, 16, 17, 32, 48, 0x1_0000],
    [(1 << 64) - 16 * i for i in range(1, 6)] + [(1 << 64) - 15, (1 << 64) - 1],
])
def test_msr_load_runs_say_what_their_entries_say(starts: list[int]) -> None:
    """For every area address and count: some entry of a run is processed exactly when one of the
    entries merged into it is (``Area.processed_run`` against ``Area.processed``, entry by entry)."""
    area = msr_load.Area.of(z3.BitVec("area", 64), z3.BitVec("count", 32))
    runs = list(msr_load.entry_runs(starts))
    assert len(runs) < len(starts)
    each = z3.Or(False, *(area.processed(start) for start in starts))
    merged = z3.Or(False, *(area.processed_run(low, a, b) for low, a, b in runs))
    solver = z3.Solver()
    solver.add(each != merged)
    assert solver.check() == z3.unsat
