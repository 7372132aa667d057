"""Semantic analysis: what the model says a spec means, and how files and names are resolved.

The diagnostics themselves are pinned by the golden files (``tests/golden/sema``); these tests
check the model: values, bit sets, intercept sets, maps, expressions, spans, imports.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmxspec.arch.controls import ControlField
from vmxspec.codes import BY_ID, Severity
from vmxspec.diagnostics import Diagnostic
from vmxspec.sema import IntervalSet, Model, Open, analyze
from vmxspec.sema import expressions as E
from vmxspec.sema.model import AssertionProof, OwnTables, Passthrough, PropertyProof, UsesEpt
from vmxspec.syntax import parse

ROOT = Path(__file__).resolve().parents[2]
KVM = ROOT / "specs" / "examples" / "kvm_guest.vmx"


def model_of(text: str) -> Model:
    model, diagnostics = analyze(parse(text, "t.vmx"))
    assert model is not None, [d.headline() for d in diagnostics]
    return model


def diagnostics_of(text: str) -> list[Diagnostic]:
    return analyze(parse(text, "t.vmx"))[1]


def codes_of(text: str) -> list[str]:
    return [d.code for d in diagnostics_of(text)]


# ---- the shipped example ----------------------------------------------------------------------


def test_kvm_guest_analyses_without_a_diagnostic() -> None:
    model, diagnostics = analyze(KVM)
    assert diagnostics == []
    assert model is not None
    assert model.platform is not None and model.platform.maxphyaddr == 46
    assert model.platform.caps["IA32_VMX_VMFUNC"] == 0  # overridden by number
    vm = model.vms["kvm_guest"]
    assert [(r.start, r.end, r.host) for r in vm.ram] == [(0, 3 << 30, 1 << 32), (4 << 30, 5 << 30, 0x1_C000_0000)]
    assert vm.ept is not None and vm.ept.root == 0x8000_0000 and len(vm.ept.maps) == 3 and len(vm.ept.holes) == 2
    assert vm.vmcs.controls[ControlField.PIN].value == 0x3F  # three named bits + default1 0x16
    assert vm.vmcs.value("VIRTUAL_PROCESSOR_ID") == 1
    cr3 = vm.vmcs.value("GUEST_CR3")
    assert isinstance(cr3, Open) and cr3.domain == IntervalSet.span(0, 3 << 30)
    assert {s.what for s in model.open_values()} == {"kvm_guest's TSC_OFFSET", "kvm_guest's GUEST_CR3",
                                                      "kvm_guest's GUEST_RIP"}
    domains = model.iommus["dmar0"].domains
    assert isinstance(domains[1].translation, UsesEpt) and isinstance(domains[0].translation, Passthrough)
    assert [p.property for p in model.proofs if isinstance(p, PropertyProof)] == [
        "vmentry_valid", "no_misconfig", "isolated", "dma_isolated", "exits"]
    assert isinstance(model.proofs[-1], AssertionProof)


def test_every_example_analyses_without_internal_errors() -> None:
    for path in sorted((ROOT / "specs" / "examples").glob("*.vmx")):
        _, diagnostics = analyze(path)
        assert all(d.code != "internal-error" for d in diagnostics), path


# ---- VMCS ---------------------------------------------------------------------------------------


def test_controls_are_named_bits_plus_what_the_platform_requires() -> None:
    vmcs = model_of("platform skylake_server vm g { vmcs { proc = hlt_exiting  proc += use_msr_bitmaps "
                    "proc -= 0x2 exit = host_address_space_size } }").vms["g"].vmcs
    proc = vmcs.controls[ControlField.PROC]
    assert proc.named == (1 << 7) | (1 << 28) and proc.cleared == 2
    assert proc.fixed1 == 0x0400_6172  # IA32_VMX_TRUE_PROCBASED_CTLS allowed-0 (BASIC[55] = 1)
    assert proc.value == (proc.named | proc.fixed1) & ~2
    # Without TRUE MSRs the plain MSR's allowed-0 settings (with every default1 bit) apply.
    plain = model_of("platform skylake_server { IA32_VMX_BASIC -= true_ctls } vm g { vmcs { proc = hlt_exiting } }")
    assert plain.vms["g"].vmcs.controls[ControlField.PROC].fixed1 == 0x0401_E172


def test_raw_fields_and_aliases() -> None:
    vmcs = model_of("platform skylake_server vm g { vmcs { PIN_BASED_VM_EXEC_CONTROL = 0x1  vpid = 7 "
                    "cr0_mask = PG | PE  0x681e = 0x1000  GUEST_CR4 = VMXE  GUEST_CR4 += PAE "
                    "GUEST_RFLAGS = fixed1 | IF } }").vms["g"].vmcs
    assert vmcs.controls == {} and vmcs.control(ControlField.PIN) == 1  # raw: taken exactly
    assert vmcs.value("VIRTUAL_PROCESSOR_ID") == 7
    assert vmcs.value("CR0_GUEST_HOST_MASK") == (1 << 31) | 1
    assert vmcs.value("GUEST_RIP") == 0x1000
    assert vmcs.value("GUEST_CR4") == (1 << 13) | (1 << 5)
    assert vmcs.value("GUEST_RFLAGS") == 0x202


def test_any_values_keep_their_constraints() -> None:
    model = model_of("platform skylake_server vm g { vmcs { GUEST_RIP = any width 48 "
                     "GUEST_CR0 = any without { CD, NW }  GUEST_CR3 = any in { 0x1000, 0x3000 .. 0x5000 } } }")
    vmcs = model.vms["g"].vmcs
    rip, cr0, cr3 = (vmcs.value(f) for f in ("GUEST_RIP", "GUEST_CR0", "GUEST_CR3"))
    assert isinstance(rip, Open) and rip.width == 48 and rip.admits((1 << 48) - 1) and not rip.admits(1 << 48)
    assert isinstance(cr0, Open) and cr0.zero == (1 << 30) | (1 << 29) and not cr0.admits(1 << 30)
    assert isinstance(cr3, Open) and cr3.domain == IntervalSet.of((0x1000, 0x1001), (0x3000, 0x5000))


def test_intercept_lists_become_the_sets_that_exit() -> None:
    icpt = model_of("""platform skylake_server vm g { vmcs {
        msr_bitmap intercept read all except { IA32_FS_BASE, 0x10 ..= 0x11 }
        msr_bitmap intercept write { IA32_FS_BASE }
        io_bitmap intercept { 0x60, 0x64 }
        exception_bitmap intercept { PF, 18 }
        vmread_bitmap intercept { GUEST_RIP, EPT_POINTER }
    } }""").vms["g"].vmcs.intercepts
    assert icpt.msr_read is not None and icpt.msr_write is not None
    assert 0xC000_0100 not in icpt.msr_read and 0xC000_0100 in icpt.msr_write
    assert 0x10 not in icpt.msr_read and 0x12 in icpt.msr_read and 0x12 not in icpt.msr_write
    assert icpt.io == IntervalSet.values((0x60, 0x64))
    assert icpt.exceptions == IntervalSet.values((14, 18))
    assert icpt.vmread == IntervalSet.values((0x681E, 0x201A, 0x201B))  # a 64-bit field's high half too
    assert icpt.vmwrite is None


def test_msrs_outside_the_bitmap_always_count_as_intercepted() -> None:
    icpt = model_of("platform skylake_server vm g { vmcs { msr_bitmap intercept read { IA32_EFER } } }").vms["g"]
    read = icpt.vmcs.intercepts.msr_read
    assert read is not None and 0xC000_0080 in read and 0x4B56_4D00 in read and 0x10 not in read


# ---- paging -------------------------------------------------------------------------------------


def test_maps_are_normalised_and_consistent_overlaps_merged() -> None:
    text = """platform skylake_server hypervisor { memory 0 .. 64G } vm g { ept {
        tables in 0x1000_0000 .. 0x1010_0000
        map 2M .. 6M -> 0x1_0020_0000 rw uc
        map 0 ..= 0x3f_ffff -> 0x1_0000_0000 rw uc
        map 8M .. 10M -> any in 0x2_0000_0000 .. 0x3_0000_0000 rx page 2M
    } }"""
    model, diagnostics = analyze(parse(text, "t.vmx"))
    assert [d.code for d in diagnostics] == ["sema-redundant"]
    assert model is not None and model.vms["g"].ept is not None
    maps = model.vms["g"].ept.maps
    assert [(m.start, m.end, m.target) for m in maps[:1]] == [(0, 6 << 20, 0x1_0000_0000)]
    assert (maps[0].read, maps[0].write, maps[0].execute, maps[0].memtype) == (True, True, False, 0)
    target = maps[1].target
    assert isinstance(target, Open) and target.zero == (2 << 20) - 1 and maps[1].page_size == 2 << 20


def test_raw_vtd_entries_may_be_wider_than_64_bits() -> None:
    unit = model_of("""platform skylake_server iommu d {
        tables in 0x4000_8000 .. 0x4000_a000
        root_entry at 0x4000_8030 = 0x4000_9001
        context_entry at 0x4000_9000 = 0x102 << 64 | 0x4000_0001
    }""").iommus["d"]
    assert [(e.kind, e.size, e.value) for e in unit.entries] == [
        ("root_entry", 16, 0x4000_9001), ("context_entry", 32, 0x102 << 64 | 0x4000_0001)]


def test_iommu_domains_and_groups() -> None:
    unit = model_of("""platform skylake_server vm g { ept { map 0 .. 2M -> 4G rw } }
        iommu d { segment = 0  haw = 39
          device 03:00.0 -> domain 1 uses g.ept
          device 03:00.1 -> domain 1
          domain 2 { map 0 .. 4K -> 0x5000 r }
          group { 03:00.0, 03:00.1 }
        }""").iommus["d"]
    assert unit.haw == 39 and unit.cap is None
    assert [(str(a.device), a.did) for a in unit.attachments] == [("0000:03:00.0", 1), ("0000:03:00.1", 1)]
    assert isinstance(unit.domains[2].translation, OwnTables)
    assert [[str(b) for b in g] for g in unit.groups] == [["0000:03:00.0", "0000:03:00.1"]]


# ---- expressions --------------------------------------------------------------------------------


def test_names_take_the_meaning_of_the_field_beside_them() -> None:
    model = model_of("""platform skylake_server vm g { vmcs { proc = hlt_exiting } assume GUEST_CR0 & PG != 0 }
        assume g.vmcs.proc & hlt_exiting != 0 and g.vmcs.VM_EXIT_CONTROLS & exit.load_ia32_pat == 0""")
    vm_assume = model.vms["g"].assumptions[0].condition
    assert isinstance(vm_assume, E.Binary) and isinstance(vm_assume.left, E.Binary)
    assert vm_assume.left.right == E.Const(1 << 31)
    assert vm_assume.left.left == E.FieldRef(E.VmcsRef(E.VmcsRole.VM, "g"), "GUEST_CR0", 64)
    top = model.assumptions[0].condition
    assert isinstance(top, E.Binary) and isinstance(top.left, E.Binary) and isinstance(top.left.left, E.Binary)
    assert top.left.left.right == E.Const(1 << 7)
    assert isinstance(top.right, E.Binary) and isinstance(top.right.left, E.Binary)
    assert top.right.left.right == E.Const(1 << 19)


def test_quantifiers_calls_and_spans() -> None:
    text = ("platform skylake_server vm g { ept { map 0 .. 4K -> 4G r } }\n"
            "iommu d { device 03:00.0 -> domain 1 uses g.ept }\n"
            "prove forall m in { IA32_EFER, 0x10 }, a in 0 .. 4K: translates(g.ept, a) and translates(d, 03:00.0, a)"
            " and m != 0\n")
    proof = model_of(text).proofs[0]
    assert isinstance(proof, AssertionProof)
    claim = proof.claim
    assert isinstance(claim, E.Quantified)
    assert [b.domain for b in claim.bindings] == [IntervalSet.values((0x10, 0xC000_0080)), IntervalSet.span(0, 4096)]
    assert claim.span.line == 3 and claim.span.column == 7
    body = claim.body
    assert isinstance(body, E.Binary) and isinstance(body.left, E.Binary)
    dma = body.left.right
    assert isinstance(dma, E.Apply) and dma.function == "translates"
    device = dma.args[1]
    assert isinstance(device, E.EntityRef) and device.bdf == (0, 3, 0, 0)


def test_exit_events_resolve_their_operands() -> None:
    proof = model_of("""platform skylake_server vm g { }
        prove exits(g) { CPUID, WRMSR { IA32_EFER, IA32_LSTAR }, OUT 0x20 ..= 0x21, EXCEPTION PF, VMREAD GUEST_RIP,
                         MOV_TO_CR0 PG, EPT_VIOLATION 0xfee0_0000 .. 0xfee0_1000, NMI }""").proofs[0]
    assert isinstance(proof, PropertyProof) and proof.events is not None
    got = {e.name: (e.kind, e.operand, e.values) for e in proof.events}
    assert got["CPUID"] == ("instruction", None, None)
    assert got["WRMSR"] == ("instruction", "ecx", IntervalSet.values((0xC000_0080, 0xC000_0082)))
    assert got["OUT"][2] == IntervalSet.span(0x20, 0x22)
    assert got["EXCEPTION"] == ("exception", "vector", IntervalSet.values((14,)))
    assert got["VMREAD"][2] == IntervalSet.values((0x681E,))
    assert got["MOV_TO_CR0"][2] == IntervalSet.values((1 << 31,))
    assert got["EPT_VIOLATION"][:2] == ("ept_violation", "gpa")
    assert got["NMI"] == ("nmi", None, None)


def test_nested_blocks() -> None:
    nested = model_of("""platform skylake_server vm l1 { vmcs { pin = nmi_exiting } }
        nested l0 on l1 {
          vmcs12 = any within kvm_nested_default without { enable_pml, exit.load_ia32_pat }
          vmcs02.pin = vmcs01.pin & ~virtual_nmis | vmcs12.pin
          vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap
          assume vmcs12.proc & use_tpr_shadow == 0
          prove honors_exits(vmcs12, vmcs02)
        }""").nested["l0"]
    assert nested.vm == "l1" and nested.vmcs12 is not None and nested.vmcs12.source == "kvm_nested_default"
    assert nested.vmcs12.excluded == {ControlField.PROC2: 1 << 17, ControlField.EXIT: 1 << 19}
    pin = nested.vmcs02["PIN_BASED_VM_EXEC_CONTROL"].expr
    assert isinstance(pin, E.Binary) and isinstance(pin.left, E.Binary) and isinstance(pin.left.right, E.Unary)
    assert pin.left.right.operand == E.Const(1 << 5)
    bitmap = nested.vmcs02["msr_bitmap"].expr
    assert isinstance(bitmap, E.Binary) and bitmap.left == E.BitmapRef(E.VmcsRef(E.VmcsRole.VMCS01, "l0"),
                                                                          "msr_bitmap")
    proof = nested.proofs[0]
    assert isinstance(proof, PropertyProof) and proof.scope == "l0"


# ---- files --------------------------------------------------------------------------------------


def test_imports_are_read_once_and_merged(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "platform.vmx").write_text("platform skylake_server\n")
    (tmp_path / "lib" / "vm.vmx").write_text('import "platform.vmx"\nvm g { ram 0 .. 4K at 0x1000 }\n')
    (tmp_path / "main.vmx").write_text('import "lib/vm.vmx"\nimport "lib/platform.vmx"\nprove vmentry_valid(g)\n')
    model, diagnostics = analyze(tmp_path / "main.vmx")
    assert diagnostics == [] and model is not None
    assert [Path(f).name for f in model.files] == ["main.vmx", "vm.vmx", "platform.vmx"]
    assert model.vms["g"].ram[0].span.path.endswith("lib/vm.vmx")


def test_errors_in_imported_files_are_reported_in_those_files(tmp_path: Path) -> None:
    (tmp_path / "bad.vmx").write_text("vm g { ram 0 .. 4K at }\n")
    (tmp_path / "main.vmx").write_text('import "bad.vmx"\nplatform skylake_server\n')
    sources: dict[str, str] = {}
    model, diagnostics = analyze(tmp_path / "main.vmx", sources=sources)
    assert model is None
    assert [(Path(d.span.path).name, d.code) for d in diagnostics] == [("bad.vmx", "syntax-unexpected-token")]
    assert set(sources) == {str(tmp_path / "main.vmx"), str(tmp_path / "bad.vmx")}


def test_unreadable_and_malformed_roots(tmp_path: Path) -> None:
    _, diagnostics = analyze(tmp_path / "nope.vmx")
    assert [d.code for d in diagnostics] == ["io-error"]
    (tmp_path / "bad.vmx").write_bytes(b"vm g { \xff }")
    assert [d.code for d in analyze(tmp_path / "bad.vmx")[1]] == ["syntax-encoding"]


def test_warnings_do_not_stop_the_model() -> None:
    model, diagnostics = analyze(parse("platform skylake_server vm g { devices { 03:00.0 } }", "t.vmx"))
    assert model is not None and [d.code for d in diagnostics] == ["sema-device-untranslated"]
    assert all(d.severity is Severity.WARNING for d in diagnostics)


def test_every_code_sema_reports_is_registered() -> None:
    import re

    used: set[str] = set()
    for path in (ROOT / "vmxspec" / "sema").glob("*.py"):
        used.update(re.findall(r'"((?:sema|build)-[a-z-]+)"', path.read_text()))
    used.update(re.findall(r'"((?:sema|build)-[a-z-]+)"', (ROOT / "vmxspec" / "build" / "from_model.py").read_text()))
    assert used <= set(BY_ID), used - set(BY_ID)


@pytest.mark.parametrize("text", [
    "prove exits(g) { WRMSR any }",
    "vm g { vmcs { pin = (nmi_exiting) } } nested n on g { vmcs02 = 1 }",
    "vm g { ept { entry at 0 = any } }",
    "assume forall x in 0 .. 4: x[70:0] == 1",
    "vm g { vmcs { exception_bitmap intercept all except { 1 .. 0 } } }",
    "iommu d { domain 1 { hole 0 .. 4K } device 03:00.0 -> domain 1 }",
])
def test_odd_specs_give_diagnostics_not_exceptions(text: str) -> None:
    for d in diagnostics_of("platform skylake_server " + text):
        assert d.code != "internal-error", d


# ---- interval sets ------------------------------------------------------------------------------

small_sets = st.lists(st.tuples(st.integers(0, 64), st.integers(0, 16)), max_size=6).map(
    lambda pairs: IntervalSet(tuple((s, s + n) for s, n in pairs)))


def _members(s: IntervalSet) -> set[int]:
    return set(s.members())


@given(small_sets, small_sets)
def test_interval_set_algebra_matches_python_sets(a: IntervalSet, b: IntervalSet) -> None:
    assert _members(a | b) == _members(a) | _members(b)
    assert _members(a & b) == _members(a) & _members(b)
    assert _members(a - b) == _members(a) - _members(b)
    assert _members(a.complement(100)) == set(range(100)) - _members(a)
    assert a.size == len(_members(a))
    assert all((v in a) == (v in _members(a)) for v in range(-1, 90))
    for start, end in ((0, 1), (3, 9), (10, 30)):
        assert a.covers(start, end) == (set(range(start, end)) <= _members(a))
    assert list(a.intervals) == sorted(a.intervals)
    assert all(x[1] < y[0] for x, y in zip(a.intervals, a.intervals[1:], strict=False))


def test_raw_entries_count_for_coverage_and_attachment() -> None:
    text = """platform skylake_server
        vm g {
          ram 0 .. 4M at 0x1_0000_0000
          ept {
            root at 0x4000_0000
            pml4e at 0x4000_0000 = 0x4000_1007
            pdpte at 0x4000_1000 = 0x4000_2007
            pde at 0x4000_2000 = 0x1_0000_0087
          }
          devices { 03:00.0 }
        }
        iommu d {
          root at 0x5000_0000
          root_entry at 0x5000_0030 = 0x5000_1001
          context_entry at 0x5000_1000 = 0x102 << 64 | 0x4000_0001
        }"""
    diagnostics = diagnostics_of(text)
    assert [d.code for d in diagnostics] == ["sema-ram-unmapped"]  # 2M .. 4M; the device is attached
    assert "0x200000 .. 0x400000" in diagnostics[0].message
    assert codes_of(text.replace("0x1_0000_0087", "any")) == []  # an open entry: coverage unknown


# ---- shared regions and access rights -----------------------------------------------------------

SHARED = """platform skylake_server
    hypervisor { memory 0 .. 4G }
    vm a { ram 0 .. 1G at 4G  ept { tables in 0x8000_0000 .. 0x8010_0000  map 0 .. 1G -> 4G rwx
                                    map 1G .. (1G + 4K) -> 0x2_0000_0000 rw } }
    vm b { ram 0 .. 1G at 5G  ept { tables in 0x8010_0000 .. 0x8020_0000  map 0 .. 1G -> 5G rwx
                                    map 1G .. (1G + 4K) -> 0x2_0000_0000 r } }
    shared ring 0x2_0000_0000 ..= 0x2_0000_ffff { a rw  b r  hypervisor xwr }
"""


def test_shared_regions_resolve_to_host_ranges_and_rights() -> None:
    from vmxspec.sema.model import EXECUTE, READ, WRITE, rights_text

    model = model_of(SHARED)
    (ring,) = model.shared
    assert (ring.name, ring.start, ring.end) == ("ring", 0x2_0000_0000, 0x2_0001_0000)  # '..=' made half-open
    assert {p: r.rights for p, r in ring.parties.items()} == {"a": READ | WRITE, "b": READ,
                                                              "hypervisor": READ | WRITE | EXECUTE}
    assert ring.shared_by("a", "hypervisor") and ring.shared_by("b", "a") and not ring.shared_by("a", "c")
    assert ring.span.line == 7 and ring.parties["b"].span.column == ring.span.column + 52
    assert [rights_text(r) for r in (READ, READ | WRITE, EXECUTE | READ, 0)] == ["r", "rw", "rx", "none"]
    # The maps into the ring are owned memory now: no sema-unowned-host-memory for them.
    assert diagnostics_of(SHARED) == []
    assert codes_of(SHARED.replace("    shared ring 0x2_0000_0000 ..= 0x2_0000_ffff { a rw  b r  hypervisor xwr }",
                                   "")) == ["sema-unowned-host-memory", "sema-unowned-host-memory"]


def test_protects_rights_and_shared_region_arguments() -> None:
    model = model_of(SHARED + "prove protects(ring, wx)\nprove protects(hypervisor)\nprove protects(0 .. 4K, r)\n"
                              "prove forall h in ring: h >= 0x2_0000_0000\n")
    ring, hypervisor, literal, assertion = model.proofs
    assert isinstance(ring, PropertyProof) and ring.args[1] == E.Const(6)  # W (bit 1) | X (bit 2)
    target = ring.args[0]
    assert isinstance(target, E.EntityRef) and target.kind is E.EntityKind.REGION and target.name == "ring"
    assert target.region == IntervalSet.span(0x2_0000_0000, 0x2_0001_0000)
    assert isinstance(hypervisor, PropertyProof) and len(hypervisor.args) == 1
    assert isinstance(literal, PropertyProof) and literal.args[1] == E.Const(1)
    assert isinstance(assertion, AssertionProof)


@pytest.mark.parametrize(("line", "code"), [
    ("prove protects(ring, rwxu)", "sema-access"),
    ("prove protects(ring, 2)", "sema-arguments"),
    ("prove protects(a.ram)", "sema-arguments"),
    ("prove isolated(a, ring)", "sema-arguments"),
    ("prove isolated(ring, b, w)", "sema-arguments"),
    ("shared ring2 0x2_0000_f000 .. 0x2_0001_1000 { a r  b r }", "sema-shared-overlap"),
    ("shared ring2 0x2_0001_0000 .. 0x2_0001_1000 { a r  a r }", "sema-shared-party"),
    ("shared ring2 0x2_0001_0000 .. 0x2_0001_1000 { a r  c r }", "sema-unknown-name"),
    ("shared a 0x2_0001_0000 .. 0x2_0001_1000 { a r  b r }", "sema-duplicate"),
])
def test_shared_and_rights_mistakes_are_errors(line: str, code: str) -> None:
    found = codes_of(SHARED + line + "\n")
    assert code in found and all(BY_ID[c].severity is not Severity.ERROR or c == code for c in found), found


def test_adjacent_shared_regions_do_not_overlap() -> None:
    model = model_of(SHARED + "shared next 0x2_0001_0000 .. 0x2_0001_1000 { a r  b r }\n")
    assert [(r.name, r.start) for r in model.shared] == [("ring", 0x2_0000_0000), ("next", 0x2_0001_0000)]
