"""Builders checked against the reference interpreter.

A spec is analysed and built into a state; then every address a ``map`` gives translates, through
the built EPT and VT-d tables and the interpreter's walks (``translate_gpa``, ``translate_dma``),
to the target the spec gave, with exactly its permissions; holes fault; every intercept listed
exits (``decide_exit``) and a sample of those not listed does not. The builder's refusals (open
values, no room for tables) are diagnostics, and what it does not derive stays absent.
"""

from __future__ import annotations

import json
import random
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.arch import ept as A
from vmxspec.arch.exits import MSR_REGIONS
from vmxspec.build.from_model import BuildError, Built, build_state, state_document
from vmxspec.cli import main
from vmxspec.interp.ept import translate_gpa
from vmxspec.interp.exits import decide_exit
from vmxspec.interp.vtd import translate_dma
from vmxspec.sema import IntervalSet, Model, analyze
from vmxspec.sema.model import OwnTables, PageMap, Vm
from vmxspec.state import State, load_state
from vmxspec.state.model import CpuState
from vmxspec.syntax import parse

SPEC = """
platform skylake_server
hypervisor { memory 0 .. 4G }

vm guest1 {
  ram 0 .. 1G at 4G
  ram 4G .. 0x1_0040_0000 at 8G
  ept {
    tables in 0x8000_0000 .. 0x8040_0000
    root at 0x8000_1000
    map 0 .. 0x3fe0_0000 -> 4G rwx wb
    map 0x3fe0_0000 .. 0x3fe0_4000 -> 0x1_3fe0_0000 rx uc page 4K
    map 0x3fe0_4000 .. 0x3fe1_0000 -> 0x1_3fe0_4000 r wt ipat
    map 0x3ff0_0000 .. 1G -> 0x1_3ff0_0000 rw suppress_ve
    map 4G .. 0x1_0040_0000 -> 8G rwx wb page 2M
    hole 0x3fe1_0000 .. 0x3ff0_0000
  }
  vmcs {
    pin = external_interrupt_exiting | nmi_exiting
    proc = hlt_exiting | use_msr_bitmaps | use_io_bitmaps | activate_secondary_controls
    proc2 = enable_ept | enable_vpid | vmcs_shadowing
    vpid = 1
    GUEST_CR0 = PG | NE | ET | PE
    msr_bitmap intercept read write all except { IA32_FS_BASE, IA32_GS_BASE, IA32_SYSENTER_CS ..= IA32_SYSENTER_EIP }
    msr_bitmap intercept write { IA32_EFER, 0x480 ..= 0x491 }
    msr_bitmap intercept read { 0x1a0 }
    io_bitmap intercept { 0x20 ..= 0x21, 0x3f8 ..= 0x3ff, 0x7fff ..= 0x8001, 0xffff }
    exception_bitmap intercept { DB, UD, PF, AC, MC }
    vmread_bitmap intercept all except { GUEST_RIP, GUEST_RSP, VM_EXIT_REASON, GUEST_PHYSICAL_ADDRESS }
    vmwrite_bitmap intercept { EPT_POINTER, MSR_BITMAP, CPU_BASED_VM_EXEC_CONTROL }
  }
  devices { 03:00.0 }
}

iommu dmar0 {
  tables in 0x8100_0000 .. 0x8140_0000
  device 03:00.0 -> domain 1 uses guest1.ept
  device 04:00.0 -> domain 2 { map 0 .. 2M -> 0x3000_0000 rw  map 4M .. 0x40_1000 -> 0x3020_0000 r }
  device 05:00.0 -> domain 3 passthrough
}
"""


def _model(text: str, tmp_path: Path, name: str = "s.vmx") -> Model:
    path = tmp_path / name
    path.write_text(text)
    model, diagnostics = analyze(path)
    assert model is not None, [d.headline() for d in diagnostics]
    return model


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Model, Built]:
    model = _model(SPEC, tmp_path_factory.mktemp("spec"))
    return model, build_state(model)


def _samples(start: int, end: int, rng: random.Random, n: int = 6) -> list[int]:
    picks = {start, end - 1, start + (end - start) // 2, (start + 0xFFF) & ~0xFFF, (end - 1) & ~0xFFF}
    picks.update(rng.randrange(start, end) for _ in range(n))
    return sorted(picks)


def _check_ept(state: State, vm: Vm, rng: random.Random) -> None:
    assert vm.ept is not None
    for m in vm.ept.maps:
        assert isinstance(m.target, int)
        for gpa in _samples(m.start, m.end, rng):
            for access, allowed in (("read", m.read), ("write", m.write), ("fetch", m.execute)):
                out = translate_gpa(state, gpa, access)
                if allowed:
                    assert out.result == "ok", (hex(gpa), access, out.to_json())
                    assert out.hpa == m.target + gpa - m.start
                    assert out.memtype == m.memtype
                    if m.page_size is not None:
                        assert out.page_size == m.page_size
                else:
                    assert out.result == "ept_violation", (hex(gpa), access, out.to_json())
    for hole in vm.ept.holes:
        for gpa in _samples(hole.start, hole.end, rng):
            assert translate_gpa(state, gpa, "read").result == "ept_violation"


def test_every_mapped_address_translates_to_its_target_with_its_rights(built: tuple[Model, Built]) -> None:
    model, b = built
    _check_ept(b.state, model.vms["guest1"], random.Random(1))


def test_pinned_and_chosen_page_sizes_and_flags(built: tuple[Model, Built]) -> None:
    state = built[1].state
    assert translate_gpa(state, 0x1000, "read").page_size == A.PAGE_2M  # 4G target: largest that fits
    assert translate_gpa(state, 0x3FE0_1000, "read").page_size == A.PAGE_4K  # pinned
    assert translate_gpa(state, 0x1_0000_0000, "read").page_size == A.PAGE_2M  # pinned
    ipat = translate_gpa(state, 0x3FE0_5000, "read")
    suppressed = translate_gpa(state, 0x3FF0_0000, "read")
    assert ipat.steps[-1].value & A.IPAT
    assert suppressed.steps[-1].value >> 63 == 1
    assert state.vmcs["EPT_POINTER"] & ~0xFFF == 0x8000_1000


def test_dma_follows_the_spec(built: tuple[Model, Built]) -> None:
    model, b = built
    state, rng = b.state, random.Random(2)
    ept = model.vms["guest1"].ept
    assert ept is not None
    for m in ept.maps:  # domain 1 uses guest1.ept: same ranges, targets and read/write rights
        assert isinstance(m.target, int)
        for iova in _samples(m.start, m.end, rng):
            for access, allowed in (("read", m.read), ("write", m.write)):
                out = translate_dma(state, 0x0300, iova, access)
                if allowed:
                    assert (out.result, out.hpa, out.domain_id) == ("ok", m.target + iova - m.start, 1)
                else:
                    assert out.result == "fault"
    for hole in ept.holes:
        assert translate_dma(state, 0x0300, hole.start, "read").result == "fault"
    domain2 = model.iommus["dmar0"].domains[2].translation
    assert isinstance(domain2, OwnTables)
    for m in domain2.paging.maps:
        assert isinstance(m.target, int)
        for iova in _samples(m.start, m.end, rng):
            out = translate_dma(state, 0x0400, iova, "read")
            assert (out.result, out.hpa) == ("ok", m.target + iova - m.start)
            assert translate_dma(state, 0x0400, iova, "write").result == ("ok" if m.write else "fault")
    assert translate_dma(state, 0x0400, 2 << 20, "read").result == "fault"
    assert translate_dma(state, 0x0500, 0x1234_5000, "write").hpa == 0x1234_5000  # pass-through
    assert translate_dma(state, 0x0600, 0, "read").result == "fault"  # not attached


def _exit_state(b: Built) -> State:
    state = load_state(state_document(b))
    state.cpu = CpuState(cpl=0, cr0=0x8000_0031, cr3=0, cr4=0x2020, rflags=0x2, efer=0x500,
                         interruptibility=0, activity_state="active", in_smm=False)
    return state


def _exits(state: State, event: dict[str, object]) -> bool:
    return decide_exit(state, event).exit


def test_listed_msrs_exit_and_others_do_not(built: tuple[Model, Built]) -> None:
    model, b = built
    state = _exit_state(b)
    icpt = model.vms["guest1"].vmcs.intercepts
    rng = random.Random(3)
    for insn, values in (("RDMSR", icpt.msr_read), ("WRMSR", icpt.msr_write)):
        assert values is not None
        inside = [m for r in MSR_REGIONS for m in (r.first, r.last, *rng.sample(range(r.first, r.last + 1), 200))]
        for msr in [*inside, 0x1A0, 0x174, 0x176, 0xC000_0080, 0xC000_0100, 0x480, 0x491, 0x4B56_4D00]:
            assert _exits(state, {"kind": "instruction", "insn": insn, "ecx": msr}) == (msr in values), (insn, msr)
    assert not _exits(state, {"kind": "instruction", "insn": "RDMSR", "ecx": 0x175})  # excepted
    assert _exits(state, {"kind": "instruction", "insn": "WRMSR", "ecx": 0xC000_0080})  # listed again


def test_listed_ports_exit_and_others_do_not(built: tuple[Model, Built]) -> None:
    model, b = built
    state = _exit_state(b)
    io = model.vms["guest1"].vmcs.intercepts.io
    assert io is not None
    for port in [*io.members(), 0, 0x1F, 0x22, 0x3F7, 0x400, 0x7FFE, 0x8002, 0xFFFE,
                 *random.Random(4).sample(range(0x10000), 300)]:
        for insn in ("IN", "OUT"):
            event: dict[str, object] = {"kind": "instruction", "insn": insn, "port": port, "size": 1, "operand": "dx"}
            assert _exits(state, event) == (port in io), (insn, hex(port))


def test_listed_exceptions_exit_and_others_do_not(built: tuple[Model, Built]) -> None:
    model, b = built
    state = _exit_state(b)
    listed = model.vms["guest1"].vmcs.intercepts.exceptions
    assert listed is not None
    for vector in [v for v in range(32) if v != 2]:
        event: dict[str, object] = {"kind": "exception", "vector": vector}
        if vector in (8, 10, 11, 12, 13, 14, 17):
            event["error_code"] = 0
        if vector == 14:
            event["linear_address"] = 0x1000
        assert _exits(state, event) == (vector in listed), vector


def test_listed_vmcs_fields_exit_on_vmread_and_vmwrite(built: tuple[Model, Built]) -> None:
    model, b = built
    state = _exit_state(b)
    icpt = model.vms["guest1"].vmcs.intercepts
    for insn, values in (("VMREAD", icpt.vmread), ("VMWRITE", icpt.vmwrite)):
        assert values is not None
        for field in (0x681E, 0x681C, 0x4402, 0x2400, 0x2401, 0x201A, 0x201B, 0x2004, 0x4002, 0x6800, 0x0000):
            expected = field in values
            assert _exits(state, {"kind": "instruction", "insn": insn, "field": field}) == expected, (insn, hex(field))
    assert 0x2401 not in (icpt.vmread or IntervalSet())  # GUEST_PHYSICAL_ADDRESS's high half is excepted too


def test_only_what_the_spec_determines_is_in_the_vmcs(built: tuple[Model, Built]) -> None:
    vmcs = built[1].state.vmcs
    assert vmcs["PIN_BASED_VM_EXEC_CONTROL"] == 0x1F  # nmi | ext-int | default1 0x16
    assert vmcs["VIRTUAL_PROCESSOR_ID"] == 1 and vmcs["GUEST_CR0"] == 0x8000_0031
    assert vmcs["EXCEPTION_BITMAP"] == (1 << 1) | (1 << 6) | (1 << 14) | (1 << 17) | (1 << 18)
    assert vmcs["PAGE_FAULT_ERROR_CODE_MASK"] == vmcs["PAGE_FAULT_ERROR_CODE_MATCH"] == 0
    for absent in ("GUEST_RIP", "GUEST_CR3", "HOST_CR0", "VM_EXIT_CONTROLS", "VM_ENTRY_CONTROLS", "VMCS_LINK_POINTER"):
        assert absent not in vmcs
    derived = " ".join(built[1].derived)
    for name in ("EPT_POINTER", "MSR_BITMAP", "IO_BITMAP_A", "VMREAD_BITMAP", "EXCEPTION_BITMAP"):
        assert name in derived


def test_the_document_is_a_valid_state(built: tuple[Model, Built]) -> None:
    b = built[1]
    doc = json.loads(json.dumps(state_document(b, "s.vmx")))
    again = load_state(doc)
    assert (again.caps, again.vmcs, again.memory, again.maxphyaddr) == (b.state.caps, b.state.vmcs, b.state.memory,
                                                                       b.state.maxphyaddr)
    assert again.iommus == b.state.iommus
    assert doc["x-vmxspec"]["vm"] == "guest1"


def test_bitmap_pinned_by_the_vmcs_is_placed_there(tmp_path: Path) -> None:
    text = SPEC.replace("vpid = 1", "vpid = 1\n    MSR_BITMAP = 0x8030_0000")
    b = build_state(_model(text, tmp_path))
    assert b.state.vmcs["MSR_BITMAP"] == 0x8030_0000
    state = _exit_state(b)
    assert _exits(state, {"kind": "instruction", "insn": "WRMSR", "ecx": 0xC000_0080})


# ---- refusals ----------------------------------------------------------------------------------


def _build_error(text: str, tmp_path: Path, vm: str | None = None) -> BuildError:
    with pytest.raises(BuildError) as info:
        build_state(_model(text, tmp_path), vm)
    return info.value


def test_open_values_are_named_each_at_its_any(tmp_path: Path) -> None:
    text = SPEC.replace("vpid = 1", "vpid = 1\n    GUEST_RIP = any width 48\n    TSC_OFFSET = any")
    err = _build_error(text, tmp_path)
    assert [d.code for d in err.diagnostics] == ["build-open-value", "build-open-value"]
    assert "GUEST_RIP" in err.diagnostics[0].message and "TSC_OFFSET" in err.diagnostics[1].message
    assert err.diagnostics[0].span.line == SPEC[:SPEC.index("vpid = 1")].count("\n") + 2


def test_no_table_region_or_no_room_is_a_layout_error(tmp_path: Path) -> None:
    no_region = SPEC.replace("    tables in 0x8000_0000 .. 0x8040_0000\n    root at 0x8000_1000\n", "")
    assert _build_error(no_region, tmp_path).diagnostics[0].code == "build-layout"
    tiny = SPEC.replace("tables in 0x8000_0000 .. 0x8040_0000", "tables in 0x8000_0000 .. 0x8000_4000")
    err = _build_error(tiny, tmp_path)
    assert err.diagnostics[0].code == "build-layout" and "room" in err.diagnostics[0].message
    collide = SPEC.replace("vpid = 1", "vpid = 1\n    IO_BITMAP_A = 0x8000_1000")
    err = _build_error(collide, tmp_path)
    assert "share the page at 0x80001000" in err.diagnostics[0].message


def test_several_vms_need_a_choice(tmp_path: Path) -> None:
    text = SPEC + "\nvm guest2 { }\n"
    assert _build_error(text, tmp_path).diagnostics[0].code == "usage"
    assert "did you mean 'guest1'" in _build_error(text, tmp_path, "guest_1").diagnostics[0].message
    assert build_state(_model(text, tmp_path), "guest2").state.vmcs == {}


def test_several_iommu_units_get_device_scopes(tmp_path: Path) -> None:
    text = SPEC + ("\niommu dmar1 {\n  tables in 0x8200_0000 .. 0x8210_0000\n"
                   "  device 06:00.0 -> domain 7 passthrough\n}\n")
    state = build_state(_model(text, tmp_path)).state
    assert [u.scope for u in state.iommus] == [("03:00.0", "04:00.0", "05:00.0"), ("06:00.0",)]
    assert translate_dma(state, 0x0600, 0x5000, "read").hpa == 0x5000
    assert translate_dma(state, 0x0300, 0x5000, "read").hpa == 0x1_0000_5000


# ---- the command line -------------------------------------------------------------------------


def test_cli_state_writes_the_state(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.vmx"
    spec.write_text(SPEC)
    assert main(["state", str(spec)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert load_state(doc).vmcs["VIRTUAL_PROCESSOR_ID"] == 1
    out = tmp_path / "out.json"
    assert main(["state", str(spec), "--vm", "guest1", "-o", str(out)]) == 0
    assert json.loads(out.read_text()) == doc


def test_cli_state_open_values_and_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "s.vmx"
    spec.write_text(SPEC.replace("vpid = 1", "vpid = any"))
    assert main(["state", str(spec)]) == 2
    err = capsys.readouterr().err
    assert "guest1's VIRTUAL_PROCESSOR_ID is left open" in err and "[build-open-value]" in err and "^~~" in err
    spec.write_text(SPEC.replace("vpid = 1", "vpid = 0x1_0000"))
    assert main(["state", str(spec)]) == 2
    assert "[sema-width]" in capsys.readouterr().err
    assert main(["state", str(spec), "--vm", "nope"]) == 2
    assert main(["state", str(tmp_path / "missing.vmx")]) == 2
    assert "[io-error]" in capsys.readouterr().err


# ---- generated specs ---------------------------------------------------------------------------

_PERMS = ("r", "rw", "rx", "rwx", "x")


@st.composite
def generated_specs(draw: st.DrawFn) -> str:
    """A VM with random aligned maps (sizes and targets that exercise every page size), random
    holes between them, and random MSR, port and exception lists."""
    lines = ["platform skylake_server", "vm g {", "  ept {", "    tables in 0x4000_0000 .. 0x4100_0000"]
    gpa = 0
    for _ in range(draw(st.integers(1, 6))):
        size = draw(st.sampled_from((1, 3, 512, 1024, 262_144))) * A.PAGE_4K
        align = A.PAGE_1G if size >= A.PAGE_1G else A.PAGE_2M if size >= A.PAGE_2M else A.PAGE_4K
        gpa = (gpa + align - 1) // align * align + draw(st.sampled_from((0, align)))
        target = 0x10_0000_0000 + draw(st.integers(0, 64)) * align
        memtype = draw(st.sampled_from(("uc", "wb", "wt")))
        lines.append(f"    map {gpa:#x} .. {gpa + size:#x} -> {target:#x} {draw(st.sampled_from(_PERMS))} {memtype}")
        gpa += size
    lines.append("  }")
    msrs = draw(st.lists(st.sampled_from((0x10, 0x174, 0x1A0, 0x277, 0x1FFF, 0xC000_0080, 0xC000_0100,
                                          0xC000_1FFF, 0x4B56_4D00)), max_size=5, unique=True))
    ports = draw(st.lists(st.integers(0, 0xFFFF), max_size=5, unique=True))
    vectors = draw(st.lists(st.sampled_from((0, 1, 3, 6, 7, 13, 17, 18)), max_size=4, unique=True))
    every = draw(st.booleans())
    items = ", ".join(hex(m) for m in msrs)
    lines += ["  vmcs {", "    proc = use_msr_bitmaps | use_io_bitmaps | activate_secondary_controls",
              "    proc2 = enable_ept",
              f"    msr_bitmap intercept {'all except ' if every else ''}{{ {items} }}",
              f"    io_bitmap intercept {{ {', '.join(hex(p) for p in ports)} }}",
              f"    exception_bitmap intercept {{ {', '.join(str(v) for v in vectors)} }}", "  }", "}"]
    return "\n".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated_specs(), st.randoms(use_true_random=False))
def test_generated_specs_build_states_the_interpreter_agrees_with(text: str, rng: random.Random) -> None:
    model, diagnostics = analyze(parse(text, "g.vmx"))
    assert model is not None, [d.headline() for d in diagnostics]
    b = build_state(model)
    vm = model.vms["g"]
    _check_ept(b.state, vm, rng)
    state = _exit_state(b)
    icpt = vm.vmcs.intercepts
    assert icpt.msr_read is not None and icpt.io is not None and icpt.exceptions is not None
    for msr in (0x10, 0x174, 0x1A0, 0x277, 0x1FFF, 0xC000_0080, 0xC000_0100, 0xC000_1FFF, 0x4B56_4D00, 0x2000,
                rng.randrange(1 << 32)):
        for insn in ("RDMSR", "WRMSR"):
            assert _exits(state, {"kind": "instruction", "insn": insn, "ecx": msr}) == (msr in icpt.msr_read)
    for port in [*icpt.io.members(), rng.randrange(0x10000)]:
        assert _exits(state, {"kind": "instruction", "insn": "IN", "port": port, "size": 1, "operand": "dx"}) == \
            (port in icpt.io)
    for vector in (0, 1, 3, 6, 7, 18):
        assert _exits(state, {"kind": "exception", "vector": vector}) == (vector in icpt.exceptions)


def test_maps_in_the_model_are_sorted_and_disjoint(built: tuple[Model, Built]) -> None:
    ept = built[0].vms["guest1"].ept
    assert ept is not None
    maps: tuple[PageMap, ...] = ept.maps
    assert all(a.end <= b.start for a, b in pairwise(maps))


RAW = """
platform skylake_server
vm raw {
  ram 0 .. 0x20_1000 at 0x1_0000_0000
  ept {
    tables in 0x4000_0000 .. 0x4001_0000
    root at 0x4000_0000
    pml4e at 0x4000_0000 = 0x4000_1007
    pdpte at 0x4000_1000 = 0x4000_2007
    pde at 0x4000_2000 = 0x1_0000_00b7
    pde at 0x4000_2008 = 0x4000_3007
    pte at 0x4000_3000 = 0x1_0020_0037
  }
  vmcs {
    proc = use_msr_bitmaps | activate_secondary_controls
    proc2 = enable_ept
    msr_bitmap intercept read write { IA32_EFER }
  }
}
"""


def test_raw_entries_are_written_verbatim_and_nothing_is_placed_over_them(tmp_path: Path) -> None:
    b = build_state(_model(RAW, tmp_path))
    state = b.state
    assert state.memory[0x4000_2000] == 0x1_0000_00B7
    assert state.vmcs["EPT_POINTER"] == 0x4000_001E
    assert state.vmcs["MSR_BITMAP"] == 0x4000_4000  # the first page no raw entry uses
    out = translate_gpa(state, 0x20_0010, "write")
    assert (out.result, out.hpa, out.page_size) == ("ok", 0x1_0020_0010, A.PAGE_4K)
    assert translate_gpa(state, 0x1234, "fetch").hpa == 0x1_0000_1234
    pinned = RAW.replace("proc2 = enable_ept", "proc2 = enable_ept\n    MSR_BITMAP = 0x4000_3000")
    err = _build_error(pinned, tmp_path)
    assert "raw entries would share the page at 0x40003000" in err.diagnostics[0].message


RAW_OVER_VTD = """
platform skylake_server
vm v {
  ept {
    tables in 0x8000_0000 .. 0x8000_4000
    root at 0x8000_0000
    pte at 0x8600_0000 = {value}  # the word the unit's root entry for bus 0 occupies
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
}
iommu dmar0 {
  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
  tables in 0x8600_0000 .. 0x8610_0000
  root at 0x8600_0000
  device 0000:00:01.0 -> domain 1 {
    map 0x0 .. 0x1000 -> 0x1_0000_0000 rw
  }
}
"""


def test_a_raw_entry_that_another_structure_overwrites_is_a_layout_error(tmp_path: Path) -> None:
    """The unit's tables are laid out after the VM's raw entries; a raw word they would overwrite
    with another value is refused rather than silently lost. The same value is no conflict."""
    built = build_state(_model(RAW_OVER_VTD.replace("{value}", "0x9"), tmp_path), iommus=False)
    assert built.state.memory[0x8600_0000] == 0x9
    err = _build_error(RAW_OVER_VTD.replace("{value}", "0x9"), tmp_path)
    assert err.diagnostics[0].code == "build-layout" and "0x86000000" in err.diagnostics[0].message
    without = RAW_OVER_VTD.replace("    pte at 0x8600_0000 = {value}  # the word the unit's root entry for bus 0 "
                                   "occupies\n", "")
    context = build_state(_model(without, tmp_path), iommus=True).state.memory[0x8600_0000]
    assert context & 1
    agreeing = build_state(_model(RAW_OVER_VTD.replace("{value}", hex(context)), tmp_path), iommus=True)
    assert agreeing.state.memory[0x8600_0000] == context
