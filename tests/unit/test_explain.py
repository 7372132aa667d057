"""``vmxspec check --explain``: the spec lines a proof depends on, and minimal counterexamples.

For every SMT-decided property a small spec states by hand which lines its proof needs (marked
``# <- needed`` in the spec text) and which obviously do not matter; then each reported line is
changed to a value that breaks the proof, to show the report is truthful: a line is listed only
if changing it can matter. The counterexample tests open several values of which any one suffices
for a violation, so the minimum is one change, and check that the explained counterexample makes
exactly one (and is still confirmed by the reference interpreter, as the driver replays it).
Finally: explaining never changes a verdict, costs nothing when it is off, and shows in the CLI.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import z3

from vmxspec.arch.msrs import IA32_FS_BASE
from vmxspec.check.driver import SpecReport, check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Outcome, Result, Verdict
from vmxspec.cli import main
from vmxspec.properties import PropertyContext
from vmxspec.properties.vmentry_valid import _prepare
from vmxspec.sema import analyze
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.ir_to_z3 import Encoder
from vmxspec.symbolic.solver import Budget, fewest_changes, minimal_core
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import EntryEncoding, violations
from vmxspec.symbolic.vmentry.spec_check import check_entry

ROOT = Path(__file__).resolve().parents[2]
SHADOW = (ROOT / "specs" / "examples" / "shadow_paging.vmx").read_text()
UMIP = (ROOT / "specs" / "bugs" / "nested_entry_umip.vmx").read_text()
EXPLAIN = CheckOptions(timeout_ms=30_000, explain=True)
PLAIN = CheckOptions(timeout_ms=30_000)


def run(tmp_path: Path, text: str, options: CheckOptions = EXPLAIN, name: str = "spec.vmx") -> SpecReport:
    path = tmp_path / name
    path.write_text(text)
    report = check_spec(str(path), options, bundle_dir=str(tmp_path / "bundles"))
    assert not report.had_errors, [d.headline() for d in report.diagnostics]
    return report


def result(report: SpecReport, prefix: str) -> Result:
    (found,) = [r for r in report.results if r.title.startswith(prefix)]
    return found


def lines(found: Result) -> set[int]:
    return {span.line for span in found.outcome.depends_on}


def line_of(text: str, fragment: str) -> int:
    """The (1-based) line holding ``fragment``; it must be unique."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if fragment in line]
    assert len(hits) == 1, (fragment, hits)
    return hits[0]


def marked(text: str) -> set[int]:
    return {i for i, line in enumerate(text.splitlines(), 1) if line.rstrip().endswith("# <- needed")}


def verdict_after(tmp_path: Path, text: str, old: str, new: str, prefix: str) -> Verdict:
    """The verdict (explain off) once the line holding ``old`` reads ``new`` instead."""
    assert text.count(old) == 1, old
    report = run(tmp_path, text.replace(old, new), PLAIN, name="mutated.vmx")
    found = result(report, prefix)
    if found.verdict is Verdict.VIOLATED:
        cex = found.outcome.counterexample
        assert cex is not None and replay(cex.state, cex.query, cex.expect).confirmed
    return found.verdict


# ---- the solver helpers ---------------------------------------------------------------------------

def test_minimal_core_drops_what_the_proof_does_not_need() -> None:
    x, y, z = z3.BitVecs("x y z", 8)
    solver = z3.Solver()
    solver.add(x + y != 3)  # the negated goal "x + y == 3"
    core = minimal_core(solver, {"x": x == 1, "y": y == 2, "z": z == 7}, Budget(10_000, 10_000_000))
    assert core.found and core.minimal and core.labels == ("x", "y")


def test_minimal_core_outside_bit_vectors_and_leaves_the_query_as_it_was() -> None:
    """Bit-vector queries are shrunk on Z3's incremental SAT solver; any other (integers here)
    stays on the caller's solver. Either way the caller's solver ends as it began."""
    for make in (lambda name: z3.BitVec(name, 8), z3.Int):
        x, y, z = make("x"), make("y"), make("z")
        solver = z3.Solver()
        solver.add(x + y != 3)
        core = minimal_core(solver, {"z": z == 7, "y": y == 2, "x": x == 1}, Budget(10_000, 10_000_000))
        assert core.found and core.minimal and core.labels == ("y", "x")
        assert len(solver.assertions()) == 1 and solver.num_scopes() == 0


def test_minimal_core_keeps_the_preferred_of_two_reasons() -> None:
    a, b = z3.Bools("a b")
    for prefer, expected in (("a", ("a",)), ("b", ("b",))):
        solver = z3.Solver()
        solver.add(z3.Not(z3.Or(a, b)))  # either fact alone proves "a or b"
        core = minimal_core(solver, {"a": a, "b": b}, Budget(10_000, 10_000_000), prefer=[prefer])
        assert core.labels == expected


def test_fewest_changes_finds_the_single_change() -> None:
    values = z3.BitVecs("p q r s", 8)
    solver = z3.Solver()
    solver.add(z3.Sum(*(z3.ZeroExt(8, v) for v in values)) == 200)
    solver.add(*(z3.ULE(v, 200) for v in values))
    assert solver.check() == z3.sat
    # All four at their default 0 sum to 0, so at least one must change; one at 200 suffices.
    changes = {str(v): v != 0 for v in values}
    model, minimal = fewest_changes(solver, changes, solver.model(), Budget(10_000, 10_000_000))
    assert minimal
    assert sum(model.eval(v, model_completion=True).as_long() != 0 for v in values) == 1


def test_anchored_memory_reads_agree_with_the_exact_reading_at_the_anchors() -> None:
    """Explain mode makes given fields variables pinned by tracked facts; a memory read at an
    address that is concrete at the anchors reads that word, and anything elsewhere. With every
    fact asserted the verdict is the exact one; without the address's, the read is unknown."""
    memory = {0x1000: IA32_FS_BASE, 0x1008: 0}  # one MSR-load entry: IA32_FS_BASE, data 0
    vmcs = {"VM_ENTRY_MSR_LOAD_ADDR": 0x1000, "VM_ENTRY_MSR_LOAD_COUNT": 1}
    exact = SymState(vmcs=dict(vmcs), memory=dict(memory))
    assert z3.is_true(violations(exact, ["msr_load"])["MSRLOAD-FS-GS-BASE"])
    anchored = SymState(vmcs=dict(vmcs), memory=dict(memory), anchors=frozenset(vmcs))
    formula = violations(anchored, ["msr_load"])["MSRLOAD-FS-GS-BASE"]
    facts = anchored.anchor_facts()
    solver = z3.Solver()
    solver.add(*facts.values(), z3.Not(formula))
    assert solver.check() == z3.unsat  # pinned: violated, as in the exact reading
    solver = z3.Solver()
    solver.add(facts["VM_ENTRY_MSR_LOAD_ADDR"], formula)
    assert solver.check() == z3.sat  # a count of 1 at the address: violated for some count
    solver = z3.Solver()
    solver.add(facts["VM_ENTRY_MSR_LOAD_COUNT"], z3.Not(formula))
    assert solver.check() == z3.sat  # the area elsewhere may hold anything, a valid entry too
    word = anchored.read_u64(z3.ZeroExt(8, anchored.field("VM_ENTRY_MSR_LOAD_ADDR")))
    solver = z3.Solver()
    solver.add(facts["VM_ENTRY_MSR_LOAD_ADDR"], word != IA32_FS_BASE)
    assert solver.check() == z3.unsat


# ---- exits ----------------------------------------------------------------------------------------

EXITS = """platform skylake_server

vm g {
  vmcs {
    proc = use_msr_bitmaps | hlt_exiting  # <- needed
    MSR_BITMAP  = 0x8000_0000
    IO_BITMAP_A = 0x8000_1000
    IO_BITMAP_B = 0x8000_2000
    GUEST_RSP   = 0x1000
    EXCEPTION_BITMAP = any
    msr_bitmap intercept write { IA32_EFER }  # <- needed
  }
  assume EXCEPTION_BITMAP & 0x40 != 0  # <- needed
  assume EXCEPTION_BITMAP & 0x2 == 0
}

prove exits(g) { WRMSR IA32_EFER, HLT, EXCEPTION UD }
"""


def test_exits_depends_on_the_intercepts_it_uses(tmp_path: Path) -> None:
    found = result(run(tmp_path, EXITS), "exits")
    assert found.verdict is Verdict.PROVED
    assert lines(found) == marked(EXITS)
    # GUEST_RSP, the bitmaps' addresses (the builder writes the list wherever they point) and
    # the assumption about #DB mean nothing to WRMSR, HLT or #UD.
    for fragment in ("GUEST_RSP", "MSR_BITMAP  =", "0x2 == 0"):
        assert line_of(EXITS, fragment) not in lines(found)


def test_exits_wrmsr_alone_needs_only_its_bitmap(tmp_path: Path) -> None:
    # With "use MSR bitmaps" 0 every WRMSR exits: the control does not matter, the bitmap does.
    text = EXITS.replace("prove exits(g) { WRMSR IA32_EFER, HLT, EXCEPTION UD }", "prove exits(g) { WRMSR IA32_EFER }")
    found = result(run(tmp_path, text), "exits")
    assert lines(found) == {line_of(text, "msr_bitmap intercept")}


@pytest.mark.parametrize(("old", "new"), [
    ("proc = use_msr_bitmaps | hlt_exiting", "proc = use_msr_bitmaps"),
    ("msr_bitmap intercept write { IA32_EFER }", "msr_bitmap intercept write { IA32_LSTAR }"),
    ("assume EXCEPTION_BITMAP & 0x40 != 0", "assume EXCEPTION_BITMAP & 0x80 != 0"),
])
def test_exits_every_reported_line_can_break_the_proof(tmp_path: Path, old: str, new: str) -> None:
    assert line_of(EXITS, old) in marked(EXITS)
    assert verdict_after(tmp_path, EXITS, old, new, "exits") is Verdict.VIOLATED


EPT = """platform skylake_server  # <- needed

vm g {
  ram 0x0 .. 1G at 0x1_0000_0000
  ept {  # <- needed
    tables in 0x8000_0000 .. 0x8020_0000
    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb
    hole 0xfee0_0000 .. 0xfee0_1000
  }
  vmcs {
    proc  = activate_secondary_controls  # <- needed
    proc2 = enable_ept  # <- needed
    GUEST_RSP = 0x1000
  }
}

prove exits(g) { EPT_VIOLATION 0xfee0_0000 .. 0xfee0_1000 }
"""


def test_ept_violations_depend_on_the_ept_and_the_controls_that_enable_it(tmp_path: Path) -> None:
    # The decision is a sweep of the built tables (from the EPT pointer the ept block gives, with
    # the platform's EPT capabilities); no map reaches the APIC page. A hole is a statement of
    # intent, not a table entry: it is not what the proof stands on.
    found = result(run(tmp_path, EPT), "exits")
    assert found.verdict is Verdict.PROVED, found.outcome.message
    assert lines(found) == marked(EPT)
    for fragment in ("map 0x0 .. 1G", "hole", "GUEST_RSP"):
        assert line_of(EPT, fragment) not in lines(found)
    # Without EPT (either control) there is no EPT violation to prove.
    assert verdict_after(tmp_path, EPT, "proc2 = enable_ept", "proc2 = enable_vpid", "exits") is not Verdict.PROVED
    assert verdict_after(tmp_path, EPT, "proc  = activate_secondary_controls", "proc  = hlt_exiting",
                         "exits") is not Verdict.PROVED


def test_exits_counterexample_changes_one_open_field(tmp_path: Path) -> None:
    # The three open fields cannot all stay 0 (their sum is 2); any one of them at 2 leaves bit 6
    # of the exception bitmap clear, so #UD escapes: the fewest changes is one.
    text = """platform skylake_server

vm g {
  vmcs {
    EXCEPTION_BITMAP            = any
    PAGE_FAULT_ERROR_CODE_MASK  = any
    PAGE_FAULT_ERROR_CODE_MATCH = any
  }
  assume EXCEPTION_BITMAP + PAGE_FAULT_ERROR_CODE_MASK + PAGE_FAULT_ERROR_CODE_MATCH == 2
}

prove exits(g) { EXCEPTION UD }
"""
    found = result(run(tmp_path, text), "exits")
    assert found.verdict is Verdict.VIOLATED  # replayed by the driver
    chosen = found.outcome.details["counterexample"]
    assert isinstance(chosen, dict)
    assert chosen["changed"] == 1 and chosen["minimal"] is True


# ---- preserves_exits / honors_exits ---------------------------------------------------------------

NESTED = """platform skylake_server

vm l1 {
  vmcs {
    pin   = external_interrupt_exiting | nmi_exiting
    proc  = hlt_exiting | use_msr_bitmaps | activate_secondary_controls  # <- needed
    proc2 = enable_vpid | wbinvd_exiting
    MSR_BITMAP  = 0x8000_0000
    IO_BITMAP_A = 0x8000_1000
    IO_BITMAP_B = 0x8000_2000
    GUEST_RSP   = 0x1000
    POSTED_INTR_NV = 0xf2
    msr_bitmap intercept read write all except { IA32_FS_BASE }
  }
}

nested l0 on l1 {
  vmcs12 = any within kvm_nested_default without { vmcs_shadowing, process_posted_interrupts }  # <- needed

  vmcs02.pin        = vmcs01.pin | vmcs12.pin  # <- needed
  vmcs02.proc       = vmcs01.proc | vmcs12.proc  # <- needed
  vmcs02.proc2      = vmcs01.proc2 | vmcs12.proc2  # <- needed
  vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap  # <- needed

  prove preserves_exits(vmcs01, vmcs02)
}
"""


def test_preserves_exits_depends_on_the_merge(tmp_path: Path) -> None:
    found = result(run(tmp_path, NESTED), "preserves_exits")
    assert found.verdict is Verdict.PROVED, found.outcome.message
    assert lines(found) == marked(NESTED)
    for fragment in ("GUEST_RSP", "POSTED_INTR_NV", "MSR_BITMAP  =", "pin   ="):
        assert line_of(NESTED, fragment) not in lines(found)


@pytest.mark.parametrize(("old", "new"), [
    # vmcs01 exits on every IN, vmcs12 may turn the (empty) I/O bitmaps on.
    ("proc  = hlt_exiting | use_msr_bitmaps | activate_secondary_controls",
     "proc  = hlt_exiting | use_msr_bitmaps | activate_secondary_controls | unconditional_io_exiting"),
    ("without { vmcs_shadowing, process_posted_interrupts }", "without { vmcs_shadowing }"),
    ("vmcs02.pin        = vmcs01.pin | vmcs12.pin", "vmcs02.pin        = vmcs12.pin"),
    ("vmcs02.proc       = vmcs01.proc | vmcs12.proc", "vmcs02.proc       = vmcs12.proc"),
    ("vmcs02.proc2      = vmcs01.proc2 | vmcs12.proc2", "vmcs02.proc2      = vmcs12.proc2"),
    ("vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap", "vmcs02.msr_bitmap = vmcs12.msr_bitmap"),
])
def test_preserves_exits_every_reported_line_can_break_the_proof(tmp_path: Path, old: str, new: str) -> None:
    assert line_of(NESTED, old) in marked(NESTED)
    assert verdict_after(tmp_path, NESTED, old, new, "preserves_exits") is Verdict.VIOLATED


def test_honors_exits_counterexample_changes_no_open_value(tmp_path: Path) -> None:
    # L1's default vmcs12 (only the controls its capabilities require) uses no MSR bitmap, so it
    # intercepts every WRMSR; vmcs02 passes IA32_FS_BASE through: no vmcs12 value needs to move.
    report = run(tmp_path, (ROOT / "specs/bugs/nested_msr_bitmap_not_merged.vmx").read_text())
    found = result(report, "honors_exits")
    assert found.verdict is Verdict.VIOLATED
    chosen = found.outcome.details["counterexample"]
    assert isinstance(chosen, dict)
    assert chosen["changed"] == 0 and chosen["minimal"] is True


# ---- vmentry_valid --------------------------------------------------------------------------------

def test_vmentry_depends_on_the_checked_fields_and_assumptions(tmp_path: Path) -> None:
    found = result(run(tmp_path, SHADOW), "vmentry_valid")
    assert found.verdict is Verdict.PROVED
    needed = {
        "platform skylake_server",  # the capability MSRs every check reads
        "GUEST_CR0 = PG",
        "GUEST_CR3 = any in 0x8100_0000",  # its domain keeps CR3 within MAXPHYADDR
        "assume GUEST_RIP in",  # RIP must be canonical
        "HOST_RIP ",
    }
    unneeded = {
        "GUEST_RSP = any",  # no check reads RSP
        "GUEST_SYSENTER_CS",  # nor the guest's SYSENTER_CS
        "assume GUEST_CR3 & 0xfff == 0",  # CR3's low bits are not checked
        "assume GUEST_RSP in",
        "HOST_RSP ",
    }
    for fragment in needed:
        assert line_of(SHADOW, fragment) in lines(found), fragment
    for fragment in unneeded:
        assert line_of(SHADOW, fragment) not in lines(found), fragment


@pytest.mark.parametrize(("old", "new"), [
    ("  assume GUEST_RIP in 0xffff_ffff_8000_0000 .. 0xffff_ffff_c000_0000  # kernel text\n", "\n"),
    ("GUEST_CR3 = any in 0x8100_0000 .. 0x8200_0000", "GUEST_CR3 = any"),
])
def test_vmentry_reported_assumptions_and_domains_can_break_the_proof(tmp_path: Path, old: str, new: str) -> None:
    assert verdict_after(tmp_path, SHADOW, old, new, "vmentry_valid") is Verdict.VIOLATED


def test_vmentry_every_field_in_the_core_alone_can_break_the_proof() -> None:
    """Each given field the core names is, with every other field at its value, one whose change
    to some other value fails VM entry (asked of the solver directly, one query per field)."""
    model, _ = analyze(str(ROOT / "specs/examples/shadow_paging.vmx"))
    assert model is not None
    vm = model.vms["shadow"]
    proof = next(p for p in model.proofs if isinstance(p, PropertyProof) and p.property == "vmentry_valid")
    prepared = _prepare(PropertyContext(model, proof, PLAIN, {}), vm, {})
    assert not isinstance(prepared, Outcome)
    state, opened, assumptions = prepared.built.state, prepared.opened, prepared.assumptions
    verdict = check_entry(state, opened, assumptions, 30_000, 300_000_000, explain=True)
    assert verdict.status == "proved" and verdict.core is not None
    fields = [label.split(":", 1)[1] for label in verdict.core if label.startswith("field:")]
    given = [name for name in fields if name not in opened]
    assert "GUEST_CR0" in given and "GUEST_RSP" not in fields and "GUEST_SYSENTER_CS" not in fields
    masks = {name: f.mask for name, f in opened.items()}
    sym = SymState.from_state(state, masks, anchors=set(state.vmcs) - set(opened))
    solver = z3.Solver()
    solver.add(z3.Not(EntryEncoding(sym).ok))
    encoder = Encoder(z3.main_ctx())
    solver.add(*(encoder.encode(a) for a in assumptions))
    for name, f in opened.items():
        if f.domain:
            var = sym.field(name)
            solver.add(z3.Or(*(z3.And(z3.UGE(var, lo), z3.ULT(var, hi)) for lo, hi in f.domain)))
    facts = sym.anchor_facts()
    for name in given:
        solver.push()
        solver.add(*(fact for other, fact in facts.items() if other != name))
        assert solver.check() == z3.sat, name
        solver.pop()


def test_vmentry_counterexample_changes_one_open_field(tmp_path: Path) -> None:
    # Each of these is valid at 0 (the example sets them so) and any one of them can fail VM entry
    # on its own (DR7[63:32], DEBUGCTL's reserved bits, a non-canonical SYSENTER_ESP, reserved
    # pending-debug bits).
    # The example's RIP and RSP are open and assumed into kernel ranges (0 is outside them): pin
    # them here, or every counterexample would have to move them too.
    text = SHADOW.replace("GUEST_RSP = any", "GUEST_RSP = 0xffff_c900_0000_0000")
    text = text.replace("GUEST_RIP = any", "GUEST_RIP = 0xffff_ffff_8100_0000")
    fields = ("GUEST_DR7", "GUEST_IA32_DEBUGCTL", "GUEST_SYSENTER_ESP", "GUEST_PENDING_DBG_EXCEPTIONS")
    for field in fields:
        text = re.sub(rf"^(\s+{field}\s*=).*$", r"\1 any", text, count=1, flags=re.M)
    # Their sum is not 0, so one of them at least is not at its default; DR7 = 2^32 alone fails
    # VM entry. (Z3's first model spreads the sum over all four.)
    text = text.replace("  assume GUEST_CR3 & 0xfff == 0", "  assume GUEST_DR7 + GUEST_IA32_DEBUGCTL + "
                        "GUEST_PENDING_DBG_EXCEPTIONS + GUEST_SYSENTER_ESP == 0x1_0000_0000\n"
                        "  assume GUEST_CR3 & 0xfff == 0")
    found = result(run(tmp_path, text), "vmentry_valid")
    assert found.verdict is Verdict.VIOLATED  # the driver replayed it
    chosen = found.outcome.details["counterexample"]
    assert isinstance(chosen, dict)
    assert chosen["changed"] == 1 and chosen["minimal"] is True and chosen["search"] == "minimal"
    changed = chosen["open_values_changed"]
    assert isinstance(changed, dict) and set(changed) <= set(fields)
    cex = found.outcome.counterexample
    assert cex is not None and replay(cex.state, cex.query, cex.expect).confirmed


# ---- entry_safe -----------------------------------------------------------------------------------

def _safe_spec() -> str:
    """The UMIP bug's L1, with a vmcs02 whose guest state is vmcs01's field by field: whatever
    vmcs12 holds, vmcs02 is vmcs01 (which passes VM entry), so entry_safe holds."""
    head = UMIP[:UMIP.index("nested l0 on l1")]
    fields = sorted(set(re.findall(r"^\s+(GUEST_[A-Z0-9_]+)\s*=", head, re.M)))
    defs = "\n".join(f"  vmcs02.{name} = vmcs01.{name}" for name in fields)
    return head + "nested l0 on l1 {\n  vmcs12 = any within kvm_nested_default\n" + defs + \
        "\n  prove entry_safe(vmcs12, vmcs02)\n}\n"


def test_entry_safe_depends_on_the_definitions_that_matter(tmp_path: Path) -> None:
    text = _safe_spec()
    # A generous budget: this explanation asks the solver about a hundred times (each fact of the
    # core is shown needed by a call of its own), and on a slow machine a budget that runs out
    # leaves lines that are not needed in the list (with a note).
    found = result(run(tmp_path, text, CheckOptions(timeout_ms=120_000, explain=True)), "entry_safe")
    assert found.verdict is Verdict.PROVED, found.outcome.message
    assert "explain_notes" not in found.outcome.details
    reported = lines(found)
    # vmcs01 leaves VM_ENTRY_MSR_LOAD_ADDR unset, which vmcs02 takes: only the count of 0 keeps its
    # area, wherever it is, from loading an entry that VM entry refuses.
    for fragment in ("platform skylake_server", "vmcs12 = any within", "vmcs02.GUEST_CR0 = vmcs01.GUEST_CR0",
                     "    GUEST_CR0 = PG", "VM_ENTRY_MSR_LOAD_COUNT  = 0"):
        assert line_of(text, fragment) in reported, fragment
    for fragment in ("vmcs02.GUEST_RSP = vmcs01.GUEST_RSP", "    GUEST_RSP = any", "vmcs02.GUEST_SYSENTER_CS"):
        assert line_of(text, fragment) not in reported, fragment
    # Without the reported definition, vmcs02 takes vmcs12's CR0, which need not suit vmcs01's
    # IA-32e mode controls.
    assert verdict_after(tmp_path, text, "  vmcs02.GUEST_CR0 = vmcs01.GUEST_CR0\n", "",
                         "entry_safe") is Verdict.VIOLATED


# ---- user assertions ------------------------------------------------------------------------------

ASSERTIONS = """platform skylake_server

vm g {
  ram 0x0 .. 1G at 0x1_0000_0000
  ept {
    tables in 0x8000_0000 .. 0x8020_0000
    map 0x0 .. 2M -> 0x1_0000_0000 rwx wb  # <- needed
    map 4G .. (4G + 2M) -> 0x1_4000_0000 rwx wb
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
    CR0_GUEST_HOST_MASK = PG | PE  # <- needed
    GUEST_RSP = 0x1000
    TSC_OFFSET = any
  }
  assume TSC_OFFSET < 10  # <- needed
  assume TSC_OFFSET != 3
}

prove forall gpa in 0x1000 .. 0x2000: translates(g.ept, gpa)
  and g.vmcs.CR0_GUEST_HOST_MASK & PG != 0
  and (g.vmcs.TSC_OFFSET < 20 or g.vmcs.GUEST_RSP == 5)
"""


def test_assertion_depends_on_the_lines_it_reads(tmp_path: Path) -> None:
    found = result(run(tmp_path, ASSERTIONS), "forall")
    assert found.verdict is Verdict.PROVED, found.outcome.message
    assert lines(found) == marked(ASSERTIONS)
    for fragment in ("map 4G", "GUEST_RSP = 0x1000", "TSC_OFFSET != 3"):
        assert line_of(ASSERTIONS, fragment) not in lines(found)


@pytest.mark.parametrize(("old", "new"), [
    ("map 0x0 .. 2M -> 0x1_0000_0000 rwx wb", "map 2M .. 4M -> 0x1_0000_0000 rwx wb"),
    ("CR0_GUEST_HOST_MASK = PG | PE", "CR0_GUEST_HOST_MASK = PE"),
    ("assume TSC_OFFSET < 10", "assume TSC_OFFSET < 30"),
])
def test_assertion_every_reported_line_can_break_the_proof(tmp_path: Path, old: str, new: str) -> None:
    assert line_of(ASSERTIONS, old) in marked(ASSERTIONS)
    assert verdict_after(tmp_path, ASSERTIONS, old, new, "forall") is Verdict.VIOLATED


def test_assertion_counterexample_changes_one_open_field(tmp_path: Path) -> None:
    # At their defaults (0) x + y is 0, not 7: some value must move; x = 7 alone is enough.
    text = """platform skylake_server

vm g {
  vmcs {
    TSC_OFFSET   = any
    TSC_MULTIPLIER = any
    VIRTUAL_PROCESSOR_ID = any
  }
}

prove g.vmcs.TSC_OFFSET + g.vmcs.TSC_MULTIPLIER + g.vmcs.VIRTUAL_PROCESSOR_ID != 7
"""
    found = result(run(tmp_path, text), "g.vmcs")
    assert found.verdict is Verdict.VIOLATED
    chosen = found.outcome.details["counterexample"]
    assert isinstance(chosen, dict)
    assert chosen["changed"] == 1 and chosen["minimal"] is True


# ---- explain off, verdicts, CLI -------------------------------------------------------------------

def _examples_and_bugs() -> Iterator[Path]:
    yield from sorted((ROOT / "specs" / "examples").glob("*.vmx"))
    yield from sorted((ROOT / "specs" / "bugs").glob("*.vmx"))


def test_explain_off_reports_nothing_and_asks_nothing_more(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vmxspec.properties.exits as exits_property
    import vmxspec.symbolic.exits.check as exits_check
    import vmxspec.symbolic.exits.nested as exits_nested
    import vmxspec.symbolic.solver as solver
    import vmxspec.symbolic.vmentry.spec_check as spec_check

    def forbidden(*args: object, **kwargs: object) -> object:
        raise AssertionError("an explanation was computed with --explain off")

    for module, name in ((solver, "minimal_core"), (solver, "fewest_changes"), (spec_check, "minimal_core"),
                         (spec_check, "fewest_changes"), (exits_check, "fewest_changes"),
                         (exits_property, "explain_event"), (exits_nested, "fewest_open_changes")):
        monkeypatch.setattr(module, name, forbidden)
    for spec in (ROOT / "specs/examples/shadow_paging.vmx", ROOT / "specs/bugs/exits_msr_left_out.vmx",
                 ROOT / "specs/bugs/nested_msr_bitmap_not_merged.vmx"):
        report = check_spec(str(spec), PLAIN, bundle_dir=str(tmp_path))
        for found in report.results:
            assert found.outcome.depends_on == ()
            assert "counterexample" not in found.outcome.details
            assert "explain_notes" not in found.outcome.details


def test_explain_never_changes_a_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    """With --explain, every shipped spec still gets the verdict its header promises (what
    tests/unit/test_spec_verdicts.py checks without it): the explanation is a separate query."""
    from tests.unit.test_spec_verdicts import FINDINGS

    paths = [str(p) for p in _examples_and_bugs()]
    main(["check", "--format", "json", "--explain", "--jobs", "2", *paths])
    document = json.loads(capsys.readouterr().out)
    wrong = []
    for r in document["results"]:
        path = Path(r["location"]["path"])
        promised = "violated" if path.parent.name == "bugs" or (path.name, r["property"]) in FINDINGS else "proved"
        if r["verdict"] != promised:
            wrong.append((path.name, r["property"], r["verdict"]))
    assert wrong == []
    assert len(document["results"]) > 40


def test_cli_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "400")  # one line per dependency, however long the temporary path
    spec = tmp_path / "spec.vmx"
    spec.write_text(EXITS)
    status = main(["check", "--explain", str(spec)])
    out = capsys.readouterr().out
    assert status == 0
    assert "depends on:" in out
    where = f"{spec}:{line_of(EXITS, 'msr_bitmap intercept')}:5"
    assert any(line.strip().startswith(where) and "msr_bitmap intercept write { IA32_EFER }" in line
               for line in out.splitlines())
    assert main(["check", "--explain", "--format", "json", str(spec)]) == 0
    (found,) = json.loads(capsys.readouterr().out)["results"]
    assert {d["line"] for d in found["depends_on"]} == marked(EXITS)
    assert all(d["path"] == str(spec) and d["column"] >= 1 for d in found["depends_on"])
    assert main(["check", "--format", "json", str(spec)]) == 0
    (plain,) = json.loads(capsys.readouterr().out)["results"]
    assert "depends_on" not in plain


def test_cli_text_shows_how_a_counterexample_was_chosen(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--explain", str(ROOT / "specs/bugs/exits_msr_left_out.vmx")]) == 1
    out = capsys.readouterr().out
    assert "open values changed from their defaults (minimal)" in out
