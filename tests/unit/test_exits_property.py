"""``prove exits(VM) { events }`` end to end, on small hand-written specs.

Each family gets a proved case and a violated one; every violation's counterexample is replayed
through ``vmxspec.check.replay`` (the driver does it too: a counterexample the interpreter did not
confirm would show up as an error). The classic bugs of ``specs/bugs`` are here in miniature, and
the shipped example and bug specs are checked through ``check_spec`` at the end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Result, Verdict
from vmxspec.properties import load_all

ROOT = Path(__file__).resolve().parents[2]
OPTIONS = CheckOptions(timeout_ms=20_000)

#: A VM whose bitmaps are pinned (no EPT, so no table region for the builder).
BITMAPS = """
    MSR_BITMAP  = 0x8000_0000
    IO_BITMAP_A = 0x8000_1000
    IO_BITMAP_B = 0x8000_2000
"""


def check(tmp_path: Path, text: str) -> list[Result]:
    path = tmp_path / "spec.vmx"
    path.write_text("platform skylake_server\n\n" + text)
    report = check_spec(str(path), OPTIONS, bundle_dir=str(tmp_path / "bundles"))
    errors = [d.headline() for d in report.diagnostics if d.severity.value == "error"]
    assert not errors, errors
    return [r for r in report.results if r.title.startswith("exits")]


def vm(vmcs: str, extra: str = "") -> str:
    return f"vm g {{\n  vmcs {{\n{vmcs}\n  }}\n{extra}}}\n\n"


def verdict(tmp_path: Path, vmcs: str, events: str, extra: str = "") -> Result:
    results = check(tmp_path, vm(vmcs, extra) + f"prove exits(g) {{ {events} }}\n")
    assert len(results) == 1
    result = results[0]
    if result.verdict is Verdict.VIOLATED:
        cex = result.outcome.counterexample
        assert cex is not None
        confirmed = replay(cex.state, cex.query, cex.expect)
        assert confirmed.confirmed, confirmed.why
    return result


def proved(tmp_path: Path, vmcs: str, events: str, extra: str = "") -> None:
    result = verdict(tmp_path, vmcs, events, extra)
    assert result.verdict is Verdict.PROVED, (result.outcome.message, result.outcome.details)


def violated(tmp_path: Path, vmcs: str, events: str, extra: str = "") -> str:
    result = verdict(tmp_path, vmcs, events, extra)
    assert result.verdict is Verdict.VIOLATED, (result.outcome.message, result.outcome.details)
    return result.outcome.message


def test_registered() -> None:
    assert "exits" in load_all()


# ---- MSRs ------------------------------------------------------------------------------------------

MSRS = "    proc = use_msr_bitmaps\n" + BITMAPS


def test_msr_intercepted_and_out_of_range_msrs_exit(tmp_path: Path) -> None:
    proved(tmp_path, MSRS + "    msr_bitmap intercept write { IA32_EFER, IA32_LSTAR }",
           "WRMSR { IA32_EFER, IA32_LSTAR }, RDMSR 0x4000_0000 ..= 0x4000_00ff, WRMSR 0xc000_2000 ..= 0xffff_ffff")


def test_msr_left_out_of_the_bitmap(tmp_path: Path) -> None:
    message = violated(tmp_path, MSRS + "    msr_bitmap intercept write { IA32_STAR, IA32_CSTAR }",
                       "WRMSR { IA32_STAR, IA32_LSTAR }")
    assert "WRMSR 0xc0000082 does not exit" in message and "write bitmap for high MSRs" in message
    assert "is clear" in message


def test_msr_read_and_write_bitmaps_are_independent(tmp_path: Path) -> None:
    message = violated(tmp_path, MSRS + "    msr_bitmap intercept write { 0x1a0 }", "RDMSR 0x1a0")
    assert "RDMSR 0x1a0 does not exit" in message and "read bitmap for low MSRs" in message


def test_without_msr_bitmaps_every_msr_access_exits(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = hlt_exiting", "RDMSR, WRMSR")


def test_every_msr_except_the_pass_through_ones(tmp_path: Path) -> None:
    spec = MSRS + "    msr_bitmap intercept read write all except { IA32_FS_BASE, IA32_GS_BASE }"
    proved(tmp_path, spec, "RDMSR { 0x0 ..= 0xc000_00ff, 0xc000_0102 ..= 0xffff_ffff }")
    message = violated(tmp_path, spec, "RDMSR")
    assert "0xc0000100" in message or "0xc0000101" in message


# ---- I/O -------------------------------------------------------------------------------------------

IO = "    proc = use_io_bitmaps\n" + BITMAPS


def test_io_port_range_off_by_one(tmp_path: Path) -> None:
    spec = IO + "    io_bitmap intercept all except { 0x2f8 ..= 0x300 }"
    proved(tmp_path, spec, "IN 0x0 .. 0x2f8, OUT 0x301 ..= 0xffff")
    message = violated(tmp_path, spec, "OUT 0x300 ..= 0xffff")
    assert "at port 0x300 does not exit" in message


def test_every_access_size_is_covered(tmp_path: Path) -> None:
    spec = IO + "    io_bitmap intercept { 0x60 }"
    proved(tmp_path, spec, "IN 0x60")  # every access that covers port 0x60 sets its bit
    message = violated(tmp_path, spec, "IN 0x5c ..= 0x5d")  # a 2-byte access at 0x5c does not reach 0x60
    assert "does not exit" in message


def test_a_multi_byte_access_exits_if_any_byte_is_intercepted(tmp_path: Path) -> None:
    # A 4-byte access at 0x5d covers 0x5d-0x60; at 0x5e, 0x5e-0x61: both exit, but 1 byte at 0x5d does not.
    spec = IO + "    io_bitmap intercept { 0x60 }"
    message = violated(tmp_path, spec, "OUTS 0x5d")
    assert "1 byte at port 0x5d" in message


def test_an_access_that_wraps_past_0xffff_exits(tmp_path: Path) -> None:
    spec = IO + "    io_bitmap intercept all except { 0xfffe, 0xffff }"
    message = violated(tmp_path, spec, "IN 0xfffe ..= 0xffff")
    assert "1 byte" in message or "2 bytes at port 0xfffe" in message
    spec = IO + "    io_bitmap intercept { 0xffff }"
    proved(tmp_path, spec, "IN 0xffff, INS 0xffff")  # every size at 0xffff: its bit, or a wrap


def test_unconditional_io_exiting_and_no_io_control(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = unconditional_io_exiting", "IN, OUT, INS, OUTS")
    message = violated(tmp_path, "    proc = hlt_exiting", "OUT 0x80")
    assert "\"use I/O bitmaps\" and \"unconditional I/O exiting\" are both 0" in message


# ---- control and debug registers ----------------------------------------------------------------

def test_cr0_mask_without_pg(tmp_path: Path) -> None:
    spec = """    proc = cr3_load_exiting
    CR0_GUEST_HOST_MASK = PE | NE | WP | CD | NW
    CR0_READ_SHADOW     = PG | WP | NE | ET | MP | PE"""
    message = violated(tmp_path, spec, "MOV_TO_CR0 0x0 .. 0x8000_0000")
    assert "MOV to CR0 of" in message and "does not exit" in message
    proved(tmp_path, spec.replace("PE | NE | WP | CD | NW", "PG | PE | NE | WP | CD | NW"),
           "MOV_TO_CR0 0x0 .. 0x8000_0000")


def test_cr4_writes(tmp_path: Path) -> None:
    spec = """    proc = hlt_exiting
    CR4_GUEST_HOST_MASK = PAE | VMXE
    CR4_READ_SHADOW     = PAE"""
    proved(tmp_path, spec, "MOV_TO_CR4 { 0x0 .. 0x20 }")  # PAE clear: differs from the shadow
    violated(tmp_path, spec, "MOV_TO_CR4 PAE")


def test_clts(tmp_path: Path) -> None:
    proved(tmp_path, "    CR0_GUEST_HOST_MASK = TS\n    CR0_READ_SHADOW = TS", "CLTS")
    message = violated(tmp_path, "    CR0_GUEST_HOST_MASK = TS\n    CR0_READ_SHADOW = 0", "CLTS")
    assert "CLTS does not exit" in message


def test_lmsw_cannot_clear_pe(tmp_path: Path) -> None:
    spec = "    CR0_GUEST_HOST_MASK = PE | MP | EM | TS\n    CR0_READ_SHADOW = 0"
    proved(tmp_path, spec, "LMSW 0x1 ..= 0xf")
    violated(tmp_path, spec, "LMSW")  # LMSW of 0: nothing owned changes
    # With PE set in the shadow, an LMSW that clears PE does not exit: it cannot clear PE.
    violated(tmp_path, "    CR0_GUEST_HOST_MASK = PE\n    CR0_READ_SHADOW = PE", "LMSW { 0x0, 0x2 }")


def test_cr3_load_and_targets(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = cr3_load_exiting\n    CR3_TARGET_COUNT = 0", "MOV_TO_CR3")
    spec = "    proc = cr3_load_exiting\n    CR3_TARGET_COUNT = 1\n    CR3_TARGET_VALUE0 = 0x1000"
    message = violated(tmp_path, spec, "MOV_TO_CR3")
    assert "MOV to CR3 of 0x1000 does not exit: it equals CR3-target value 0" in message
    proved(tmp_path, spec, "MOV_TO_CR3 0x2000 .. 0x10_0000")


def test_cr8(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = cr8_load_exiting | cr8_store_exiting", "MOV_TO_CR8, MOV_FROM_CR8")
    message = violated(tmp_path, "    proc = cr3_load_exiting", "MOV_TO_CR8")
    assert "writes the real TPR" in message
    # With a TPR shadow, only values below the threshold cause the trap-like exit.
    spec = "    proc = use_tpr_shadow\n    TPR_THRESHOLD = 8\n    VIRTUAL_APIC_PAGE_ADDR = 0x8000_3000"
    proved(tmp_path, spec, "MOV_TO_CR8 0x0 .. 0x8")
    violated(tmp_path, spec, "MOV_TO_CR8 0x8")
    # Values above 15 raise #GP: the write never happens, so they are no escape.
    proved(tmp_path, spec, "MOV_TO_CR8 0x10 ..= 0xffff")


def test_mov_dr(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = mov_dr_exiting", "MOV_TO_DR, MOV_FROM_DR 7")
    violated(tmp_path, "    proc = hlt_exiting", "MOV_TO_DR 4")


# ---- exceptions and events ------------------------------------------------------------------------

def test_exception_bitmap(tmp_path: Path) -> None:
    spec = "    exception_bitmap intercept { UD, MC }"
    proved(tmp_path, spec, "EXCEPTION { UD, MC }")
    message = violated(tmp_path, spec, "EXCEPTION GP")
    assert "#GP does not exit: bit 13 of the exception bitmap is 0" in message


def test_page_fault_error_code_filter(tmp_path: Path) -> None:
    proved(tmp_path, "    exception_bitmap intercept { PF }", "EXCEPTION PF")
    spec = "    exception_bitmap intercept { PF }\n    PAGE_FAULT_ERROR_CODE_MASK = 1\n" \
           "    PAGE_FAULT_ERROR_CODE_MATCH = 1"
    message = violated(tmp_path, spec, "EXCEPTION PF")
    assert "#PF with error code 0x0 does not exit" in message or "!= PFEC_MATCH" in message
    # Bit 14 clear with mask = match = 1 reverses the meaning: exactly the faults with P = 0 exit.
    spec = "    exception_bitmap intercept { UD }\n    PAGE_FAULT_ERROR_CODE_MASK = 1\n" \
           "    PAGE_FAULT_ERROR_CODE_MATCH = 1"
    message = violated(tmp_path, spec, "EXCEPTION PF")
    assert "PFEC_MASK 0x1 = PFEC_MATCH 0x1" in message


def test_every_exception(tmp_path: Path) -> None:
    proved(tmp_path, "    EXCEPTION_BITMAP = 0xffff_ffff\n    PAGE_FAULT_ERROR_CODE_MASK = 0\n"
                     "    PAGE_FAULT_ERROR_CODE_MATCH = 0", "EXCEPTION")


def test_interrupts_and_nmis(tmp_path: Path) -> None:
    proved(tmp_path, "    pin = external_interrupt_exiting | nmi_exiting", "EXTERNAL_INTERRUPT, NMI")
    violated(tmp_path, "    pin = nmi_exiting", "EXTERNAL_INTERRUPT 0x20 ..= 0xff")
    violated(tmp_path, "    pin = external_interrupt_exiting", "NMI")


def test_posted_interrupt_notification_vector_does_not_exit(tmp_path: Path) -> None:
    spec = "    pin = external_interrupt_exiting | process_posted_interrupts\n    POSTED_INTR_NV = 0xf2"
    proved(tmp_path, spec, "EXTERNAL_INTERRUPT 0x20 .. 0xf2")
    message = violated(tmp_path, spec, "EXTERNAL_INTERRUPT")
    assert "posted-interrupt notification vector" in message


def test_events_that_always_exit_and_one_that_never_does(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = hlt_exiting", "TRIPLE_FAULT, INIT_SIGNAL, TASK_SWITCH, SIPI")
    violated(tmp_path, "    exception_bitmap intercept all", "SOFTWARE_INTERRUPT 0x80")


# ---- instructions ----------------------------------------------------------------------------------

def test_unconditional_instructions_need_no_controls(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = hlt_exiting", "CPUID, VMCALL, INVD, XSETBV, GETSEC, VMXON, INVEPT, RSM")


def test_instructions_on_controls(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = hlt_exiting | invlpg_exiting | rdtsc_exiting", "HLT, INVLPG, RDTSC, RDTSCP")
    message = violated(tmp_path, "    proc = invlpg_exiting", "HLT")
    assert "\"HLT exiting\" is 0" in message


def test_a_fault_with_priority_over_the_exit_is_no_escape(tmp_path: Path) -> None:
    # RDTSCP with "enable RDTSCP" 0 raises #UD before any exit: it never executes.
    proved(tmp_path, "    proc = hlt_exiting", "RDTSCP, INVPCID, XSAVES")
    violated(tmp_path, "    proc = activate_secondary_controls\n    proc2 = enable_rdtscp", "RDTSCP")


def test_secondary_controls_count_only_when_activated(tmp_path: Path) -> None:
    proved(tmp_path, "    proc = activate_secondary_controls\n    proc2 = wbinvd_exiting", "WBINVD")
    violated(tmp_path, "    proc = hlt_exiting\n    SECONDARY_VM_EXEC_CONTROL = 0x40", "WBINVD")


def test_vmcs_shadowing(tmp_path: Path) -> None:
    spec = ("    proc = activate_secondary_controls\n    proc2 = vmcs_shadowing\n"
            "    VMREAD_BITMAP = 0x8000_3000\n    VMWRITE_BITMAP = 0x8000_4000\n"
            "    vmread_bitmap intercept { EPT_POINTER }\n    vmwrite_bitmap intercept all")
    proved(tmp_path, spec, "VMREAD EPT_POINTER, VMWRITE, VMREAD 0x8000 ..= 0xffff")
    message = violated(tmp_path, spec, "VMREAD GUEST_RIP")
    assert "accesses the shadow VMCS" in message


# ---- EPT violations ----------------------------------------------------------------------------------

EPT = """vm g {
  ept {
    tables in 0x8000_0000 .. 0x8020_0000
    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb
    map 0xfed0_0000 .. 0xfed0_1000 -> 0x2_0000_0000 r uc
    hole 0xfee0_0000 .. 0xfee0_1000
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
}

"""


def test_ept_violations(tmp_path: Path) -> None:
    results = check(tmp_path, EPT + "prove exits(g) { EPT_VIOLATION 0xfee0_0000 .. 0xfee0_1000, "
                                    "EPT_VIOLATION 1G .. 0xfed0_0000 }\n"
                                    "prove exits(g) { EPT_VIOLATION 0xfed0_0800 }\n")
    assert [r.verdict for r in results] == [Verdict.PROVED, Verdict.VIOLATED]
    cex = results[1].outcome.counterexample
    assert cex is not None and cex.query["kind"] == "ept" and cex.query["access"] == "read"
    assert replay(cex.state, cex.query, cex.expect).confirmed


def test_ept_off_is_unknown(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    proc = hlt_exiting", "EPT_VIOLATION 0x1000")
    assert result.verdict is Verdict.UNKNOWN and "EPT is off" in result.outcome.message


# ---- open values, assumptions, unset fields -------------------------------------------------------

def test_open_mask_constrained_by_an_assumption(tmp_path: Path) -> None:
    spec = "    CR0_GUEST_HOST_MASK = any\n    CR0_READ_SHADOW = PG | PE"
    proved(tmp_path, spec, "MOV_TO_CR0 0x0 .. 0x8000_0000", "  assume CR0_GUEST_HOST_MASK & PG != 0\n")
    result = verdict(tmp_path, spec, "MOV_TO_CR0 0x0 .. 0x8000_0000")
    assert result.verdict is Verdict.VIOLATED
    cex = result.outcome.counterexample
    assert cex is not None and not cex.open_values["g.CR0_GUEST_HOST_MASK"] & (1 << 31)


def test_open_control_field(tmp_path: Path) -> None:
    spec = "    CPU_BASED_VM_EXEC_CONTROL = any in { 0x80, 0x1_0080 }"  # HLT exiting, with or without CR3 store
    proved(tmp_path, spec, "HLT")
    violated(tmp_path, spec, "MOV_FROM_CR3")


def test_contradicting_assumptions_are_vacuous(tmp_path: Path) -> None:
    spec = "    CR0_GUEST_HOST_MASK = any width 8"
    result = verdict(tmp_path, spec, "CLTS", "  assume CR0_GUEST_HOST_MASK > 0x1000\n")
    assert result.verdict is Verdict.VACUOUS


def test_an_assumption_that_cannot_be_used_makes_a_violation_unknown(tmp_path: Path) -> None:
    spec = "    CR0_GUEST_HOST_MASK = any\n    CR0_READ_SHADOW = TS"
    # The MSR-bitmap pair has no single set to test membership in: the assumption is not lowered.
    extra = "  assume CR0_GUEST_HOST_MASK in g.vmcs.msr_bitmap\n"
    result = verdict(tmp_path, spec, "CLTS", extra)
    assert result.verdict is Verdict.UNKNOWN and "could not use" in result.outcome.message


def test_a_quantified_assumption_is_used(tmp_path: Path) -> None:
    spec = "    CR0_GUEST_HOST_MASK = any\n    CR0_READ_SHADOW = TS"
    proved(tmp_path, spec, "CLTS", "  assume forall b in { 8 }: CR0_GUEST_HOST_MASK & b != 0\n")


def test_an_escape_that_depends_on_an_unset_field_is_unknown(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    CR0_GUEST_HOST_MASK = PG", "MOV_TO_CR0 0x0 .. 0x8000_0000")
    assert result.verdict is Verdict.UNKNOWN and "CR0_READ_SHADOW" in result.outcome.message


def test_an_unset_field_the_escape_does_not_depend_on(tmp_path: Path) -> None:
    message = violated(tmp_path, "    CR0_GUEST_HOST_MASK = 0", "MOV_TO_CR0")
    assert "the spec does not set CR0_READ_SHADOW" in message


def test_a_bitmap_at_no_address_is_unknown(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    proc = use_msr_bitmaps", "RDMSR 0x10, RDMSR 0x4000_0000")
    assert result.verdict is Verdict.UNKNOWN and "MSR_BITMAP" in result.outcome.message


def test_per_event_details(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    proc = hlt_exiting", "CPUID, HLT, RDTSC")
    events = result.outcome.details["events"]
    assert isinstance(events, list)
    assert [e["verdict"] for e in events] == ["proved", "proved", "violated"]


# ---- the shipped specs ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["kvm_guest", "nested_l0_l1", "shadow_paging"])
def test_example_specs_exits_hold(name: str, tmp_path: Path) -> None:
    report = check_spec(str(ROOT / "specs" / "examples" / f"{name}.vmx"), OPTIONS, bundle_dir=str(tmp_path))
    exits = [r for r in report.results if r.title.startswith("exits")]
    assert exits and all(r.verdict is Verdict.PROVED for r in exits), [r.outcome.message for r in exits]


@pytest.mark.parametrize("name", ["exits_msr_left_out", "exits_io_range_off_by_one", "exits_cr0_mask_without_pg"])
def test_bug_specs_are_refuted(name: str, tmp_path: Path) -> None:
    report = check_spec(str(ROOT / "specs" / "bugs" / f"{name}.vmx"), OPTIONS, bundle_dir=str(tmp_path))
    exits = [r for r in report.results if r.title.startswith("exits")]
    assert exits and all(r.verdict is Verdict.VIOLATED for r in exits), [r.outcome.message for r in exits]
    for r in exits:
        cex = r.outcome.counterexample
        assert cex is not None and replay(cex.state, cex.query, cex.expect).confirmed


# ---- nested: preserves_exits and honors_exits ----------------------------------------------------

L1 = """vm l1 {
  vmcs {
    pin   = external_interrupt_exiting | nmi_exiting | virtual_nmis
    proc  = hlt_exiting | cr8_load_exiting | cr8_store_exiting | use_io_bitmaps | use_msr_bitmaps
          | activate_secondary_controls
    proc2 = enable_vpid
    CR0_GUEST_HOST_MASK = PG | PE
    CR0_READ_SHADOW     = PG | PE
    EXCEPTION_BITMAP    = 0x4_0000
    PAGE_FAULT_ERROR_CODE_MASK  = 0
    PAGE_FAULT_ERROR_CODE_MATCH = 0
    MSR_BITMAP  = 0x8000_0000
    IO_BITMAP_A = 0x8000_1000
    IO_BITMAP_B = 0x8000_2000
    msr_bitmap intercept read write all except { IA32_FS_BASE }
    io_bitmap intercept all except { 0x80 }
  }
}

"""


def nested(tmp_path: Path, definitions: str, proofs: str) -> dict[str, Result]:
    bound = "  vmcs12 = any within kvm_nested_default without { vmcs_shadowing, process_posted_interrupts }\n"
    text = L1 + "nested l0 on l1 {\n" + bound + definitions + proofs + "}\n"
    path = tmp_path / "nested.vmx"
    path.write_text("platform skylake_server\n\n" + text)
    report = check_spec(str(path), OPTIONS, bundle_dir=str(tmp_path / "bundles"))
    errors = [d.headline() for d in report.diagnostics if d.severity.value == "error"]
    assert not errors, errors
    out = {r.title.split("(")[0]: r for r in report.results}
    for r in out.values():
        if r.verdict is Verdict.VIOLATED:
            cex = r.outcome.counterexample
            assert cex is not None and replay(cex.state, cex.query, cex.expect).confirmed
    return out


MERGED = """  vmcs02.pin  = vmcs01.pin | vmcs12.pin
  vmcs02.proc = vmcs01.proc | vmcs12.proc
  vmcs02.proc2 = vmcs01.proc2 | vmcs12.proc2
  vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap
  vmcs02.io_bitmap  = vmcs01.io_bitmap | vmcs12.io_bitmap
  vmcs02.CR0_GUEST_HOST_MASK = vmcs01.CR0_GUEST_HOST_MASK | vmcs12.CR0_GUEST_HOST_MASK
  vmcs02.CR0_READ_SHADOW = vmcs12.GUEST_CR0 & ~vmcs12.CR0_GUEST_HOST_MASK
                         | vmcs12.CR0_READ_SHADOW & vmcs12.CR0_GUEST_HOST_MASK
  vmcs02.EXCEPTION_BITMAP = vmcs01.EXCEPTION_BITMAP | vmcs12.EXCEPTION_BITMAP
"""


def test_nested_merge_preserves_l0s_intercepts(tmp_path: Path) -> None:
    results = nested(tmp_path, MERGED, "  prove preserves_exits(vmcs01, vmcs02)\n")
    result = results["preserves_exits"]
    assert result.verdict is Verdict.PROVED, (result.outcome.message, result.outcome.details)


def test_nested_lost_cr8_intercept(tmp_path: Path) -> None:
    broken = MERGED.replace("vmcs02.proc = vmcs01.proc | vmcs12.proc",
                            "vmcs02.proc = vmcs01.proc & ~(cr8_load_exiting | cr8_store_exiting) | vmcs12.proc")
    result = nested(tmp_path, broken, "  prove preserves_exits(vmcs01, vmcs02)\n")["preserves_exits"]
    assert result.verdict is Verdict.VIOLATED and "CR8" in result.outcome.message


def test_nested_cr0_bit_l0_owns_is_lost(tmp_path: Path) -> None:
    broken = MERGED.replace("vmcs02.CR0_GUEST_HOST_MASK = vmcs01.CR0_GUEST_HOST_MASK | vmcs12.CR0_GUEST_HOST_MASK",
                            "vmcs02.CR0_GUEST_HOST_MASK = vmcs12.CR0_GUEST_HOST_MASK")
    result = nested(tmp_path, broken, "  prove preserves_exits(vmcs01, vmcs02)\n")["preserves_exits"]
    assert result.verdict is Verdict.VIOLATED and "vmcs01 owns CR0 bits" in result.outcome.message


def test_nested_naive_merge_loses_l1s_msr_and_io_intercepts(tmp_path: Path) -> None:
    # With "use MSR bitmaps" 0 in vmcs12, L1 intercepts every MSR; OR-ing the controls turns
    # vmcs01's bitmap on for L2, and IA32_FS_BASE, which L0 passes through, reaches the hardware.
    result = nested(tmp_path, MERGED, "  prove honors_exits(vmcs12, vmcs02)\n")["honors_exits"]
    assert result.verdict is Verdict.VIOLATED
    listed = result.outcome.details["events"]
    assert isinstance(listed, list)
    events = {e["event"]: e["verdict"] for e in listed}
    assert events["RDMSR"] == events["IN"] == events["EXCEPTION"] == "violated"


def test_nested_msr_bitmap_not_merged(tmp_path: Path) -> None:
    broken = MERGED.replace("vmcs02.msr_bitmap = vmcs01.msr_bitmap | vmcs12.msr_bitmap",
                            "vmcs02.msr_bitmap = vmcs01.msr_bitmap")
    result = nested(tmp_path, broken, "  prove honors_exits(vmcs12, vmcs02)\n")["honors_exits"]
    assert result.verdict is Verdict.VIOLATED and "0xc0000100" in result.outcome.message


def test_nested_io_bitmap_intersection_loses_l1s_ports(tmp_path: Path) -> None:
    broken = MERGED.replace("vmcs02.io_bitmap  = vmcs01.io_bitmap | vmcs12.io_bitmap",
                            "vmcs02.io_bitmap  = vmcs01.io_bitmap & vmcs12.io_bitmap")
    result = nested(tmp_path, broken, "  prove honors_exits(vmcs12, vmcs02)\n")["honors_exits"]
    assert result.verdict is Verdict.VIOLATED


def test_nested_pf_filter_must_follow_l1(tmp_path: Path) -> None:
    # vmcs02 keeps vmcs01's #PF mask/match (0/0) while L1 may filter: with bit 14 set by L0 and
    # clear for L1, L1's reversed filter asks for faults that vmcs02 does not deliver as exits.
    result = nested(tmp_path, MERGED, "  prove honors_exits(vmcs12, vmcs02)\n")["honors_exits"]
    assert result.verdict is Verdict.VIOLATED, result.outcome.message


def test_nested_arguments_are_checked(tmp_path: Path) -> None:
    result = nested(tmp_path, MERGED, "  prove preserves_exits(vmcs12, vmcs02)\n")["preserves_exits"]
    assert result.verdict is Verdict.ERROR


def test_nested_example_and_bug_specs(tmp_path: Path) -> None:
    report = check_spec(str(ROOT / "specs" / "examples" / "nested_l0_l1.vmx"), OPTIONS, bundle_dir=str(tmp_path))
    by_title = {r.title.split("(")[0]: r for r in report.results}
    assert by_title["preserves_exits"].verdict is Verdict.PROVED
    # vmcs02's XSS-exiting bitmap merges vmcs01's (0) and vmcs12's, so XSAVES/XRSTORS are decided too.
    assert by_title["honors_exits"].verdict is Verdict.PROVED
    for name, prop in (("nested_lost_cr8_intercept", "preserves_exits"), ("nested_msr_bitmap_not_merged",
                                                                          "honors_exits")):
        report = check_spec(str(ROOT / "specs" / "bugs" / f"{name}.vmx"), OPTIONS, bundle_dir=str(tmp_path))
        result = next(r for r in report.results if r.title.startswith(prop))
        assert result.verdict is Verdict.VIOLATED
        cex = result.outcome.counterexample
        assert cex is not None and replay(cex.state, cex.query, cex.expect).confirmed


def test_an_event_that_cannot_occur_is_proved_and_says_so(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    proc = hlt_exiting", "EXCEPTION 15")  # vector 15 is reserved
    assert result.verdict is Verdict.PROVED
    events = result.outcome.details["events"]
    assert isinstance(events, list) and "holds trivially" in events[0]["reason"]


def test_a_violation_keeps_its_query_for_reproduction(tmp_path: Path) -> None:
    result = verdict(tmp_path, "    proc = hlt_exiting", "RDTSC")
    assert "(check-sat)" in result.outcome.smtlib


def test_every_event_sema_accepts_has_an_encoder() -> None:
    """The names an ``exits`` list may use (sema) and the encoders (symbolic) are the same set."""
    from vmxspec.sema.names import EVENTS
    from vmxspec.state import State
    from vmxspec.symbolic.exits import EVENT_KINDS, EventQuery, build
    from vmxspec.symbolic.exits.env import Env
    from vmxspec.symbolic.exits.ept import EptUnsupported
    from vmxspec.symbolic.exits.guest import Guest
    from vmxspec.symbolic.exits.vmcs import VmcsView

    state = State(vmcs={"CPU_BASED_VM_EXEC_CONTROL": 0, "PIN_BASED_VM_EXEC_CONTROL": 0})
    kinds = {kind.kind for kind in EVENTS.values() if kind.kind != "instruction"}
    assert kinds == set(EVENT_KINDS)
    for name, kind in EVENTS.items():
        try:
            decision = build(Env(VmcsView(state), Guest()), EventQuery(name, kind.kind, kind.operand))
        except EptUnsupported:
            assert kind.kind == "ept_violation"
            continue
        assert kind.operand is None or kind.operand in decision.operands, name
