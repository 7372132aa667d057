"""Hand-written cases for the symbolic VM-entry encoder (``vmxspec.symbolic.vmentry``).

Each solver answer that says "violated" is replayed in the reference interpreter, as the checker
will do: the two semantics must agree on the model.
"""

from __future__ import annotations

import time

import pytest
import z3

from tests.states import baseline
from vmxspec.arch.rules import RULES, Stage
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State
from vmxspec.symbolic.state import SymbolicError, SymState
from vmxspec.symbolic.vmentry import (
    VMENTRY_STAGES,
    EntryEncoding,
    catalogue_ids,
    find_violation,
    unevaluated,
    violations,
    vmentry_ok,
)

PIN = "PIN_BASED_VM_EXEC_CONTROL"
#: Baseline IA32_VMX_TRUE_PINBASED_CTLS = 0x000000ff_00000016: bits 1, 2, 4 must be 1, bits 8-31 must be 0.
PIN_MUST_BE_1, PIN_MAY_BE_1 = 0x16, 0xFF


def interp_ids(state: State, stages: tuple[Stage, ...] = VMENTRY_STAGES) -> set[str]:
    return {v.rule.id for v in check_vm_entry(state, stages).violations}


def replay(sym: SymState, fields: dict[str, int]) -> set[str]:
    return interp_ids(sym.to_state(fields))


# -- coverage and partial evaluation ---------------------------------------------------------------

def test_encoder_covers_exactly_the_catalogue() -> None:
    catalogue = {r.id for r in RULES if r.stage in VMENTRY_STAGES}
    assert catalogue_ids() == catalogue
    assert set(violations(SymState.from_state(baseline()))) == catalogue
    for stage in VMENTRY_STAGES:
        assert set(violations(SymState.from_state(baseline()), (stage,))) == {r.id for r in RULES
                                                                              if r.stage is stage}


def test_concrete_baseline_folds_to_constants_and_passes() -> None:
    formulas = violations(SymState.from_state(baseline()))
    assert all(z3.is_false(f) for f in formulas.values()), [r for r, f in formulas.items() if not z3.is_false(f)]
    assert z3.is_true(vmentry_ok(SymState.from_state(baseline())))


def test_concrete_broken_state_matches_interpreter() -> None:
    state = baseline(PIN_BASED_VM_EXEC_CONTROL=0x1_0016, HOST_CR4=0, GUEST_RFLAGS=0)
    formulas = violations(SymState.from_state(state))
    assert {r for r, f in formulas.items() if z3.is_true(f)} == interp_ids(state)
    assert {"CTL-PIN-RSVD", "HOST-CR4-FIXED", "GUEST-RFLAGS-RSVD"} <= interp_ids(state)


def test_stages_may_be_named_by_string_and_bad_ones_are_refused() -> None:
    assert set(violations(SymState.from_state(baseline()), ("host",))) == catalogue_ids((Stage.HOST,))
    with pytest.raises(SymbolicError):
        violations(SymState.from_state(baseline()), (Stage.EPT,))


# -- allowed settings of the pin-based controls --------------------------------------------------

def test_open_pin_controls_can_violate_pin_rsvd() -> None:
    sym = SymState.from_state(baseline(), [PIN])
    answer = EntryEncoding(sym).find_violation("CTL-PIN-RSVD")
    assert answer.status == "sat" and answer.witness is not None
    value = answer.witness.fields[PIN]
    assert value & PIN_MUST_BE_1 != PIN_MUST_BE_1 or value & ~PIN_MAY_BE_1
    assert "CTL-PIN-RSVD" in replay(sym, answer.witness.fields)
    assert set(answer.witness.violated) == replay(sym, answer.witness.fields)


def test_only_allowed_pin_bits_open_cannot_violate_pin_rsvd() -> None:
    # Bits 0, 3, 5, 6, 7 are the ones the capability MSR lets software choose.
    sym = SymState.from_state(baseline(), {PIN: PIN_MAY_BE_1 & ~PIN_MUST_BE_1})
    encoding = EntryEncoding(sym)
    assert encoding.find_violation("CTL-PIN-RSVD").status == "unsat"
    # ... but other rules over those bits can still fail (virtual NMIs without NMI exiting).
    answer = encoding.find_violation("CTL-NMI-VNMI")
    assert answer.status == "sat" and answer.witness is not None
    assert "CTL-NMI-VNMI" in replay(sym, answer.witness.fields)


def test_assumptions_restrict_one_question_only() -> None:
    sym = SymState.from_state(baseline(), [PIN])
    encoding = EntryEncoding(sym)
    pin = sym.variables[PIN]
    allowed = [pin & ~PIN_MAY_BE_1 == 0, pin & PIN_MUST_BE_1 == PIN_MUST_BE_1]
    assert encoding.find_violation("CTL-PIN-RSVD", assume=allowed).status == "unsat"
    assert encoding.find_violation("CTL-PIN-RSVD").status == "sat"


def test_rule_that_folds_to_false_needs_no_solver() -> None:
    encoding = EntryEncoding(SymState.from_state(baseline(), [PIN]))
    assert "HOST-CR0-FIXED" not in encoding.possibly_violated()
    assert encoding.find_violation("HOST-CR0-FIXED").status == "unsat"
    with pytest.raises(SymbolicError):
        encoding.find_violation("NO-SUCH-RULE")


# -- unevaluated rules ------------------------------------------------------------------------------

def test_assize_lma_without_cpu_efer_is_unevaluated_not_violated() -> None:
    state = baseline(VM_EXIT_CONTROLS=0x002FEFFF & ~(1 << 9))  # host address-space size 0
    state.cpu.efer = None
    sym = SymState.from_state(state)
    assert z3.is_false(violations(sym)["HOST-ASSIZE-LMA"])
    assert unevaluated(sym) == {"HOST-ASSIZE-LMA": "cpu.efer"}
    result = check_vm_entry(state)
    assert [u.rule.id for u in result.unevaluated] == ["HOST-ASSIZE-LMA"]
    assert "HOST-ASSIZE-LMA" not in interp_ids(state)


def test_assize_lma_with_cpu_efer_is_decided() -> None:
    sym = SymState.from_state(baseline(), ["VM_EXIT_CONTROLS"])  # cpu.efer = 0xd01: LMA = 1
    assert unevaluated(sym) == {}
    answer = find_violation(sym, "HOST-ASSIZE-LMA")
    assert answer.status == "sat" and answer.witness is not None
    assert not answer.witness.fields["VM_EXIT_CONTROLS"] >> 9 & 1
    assert "HOST-ASSIZE-LMA" in replay(sym, answer.witness.fields)


# -- memory reads at symbolic addresses -----------------------------------------------------------

@pytest.mark.parametrize("address", [0x1000, 0x1003, 0x1008, 0x0FFF, 0x2000, 0xFFFF_FFFF_FFFF_FFF8,
                                     0xFFFF_FFFF_FFFF_FFFD, 0])
def test_symbolic_read_equals_concrete_read(address: int) -> None:
    memory = {0x1000: 0x1122_3344_5566_7788, 0x1008: 0x99AA_BBCC_DDEE_FF00, 0xFFFF_FFFF_FFFF_FFF8: 0xABCD,
              0: 0x42}
    sym = SymState.from_dicts({}, memory=memory)
    state = State(memory=dict(memory))
    a = z3.BitVec("a", 64)
    for read, concrete in ((sym.read_u64, state.read_u64), (sym.read_u32, state.read_u32),
                           (sym.read_u8, state.read_u8)):
        symbolic = z3.simplify(z3.substitute(read(a), (a, z3.BitVecVal(address, 64))))
        assert symbolic.as_long() == concrete(address), (read.__name__, hex(address))


def test_read_past_the_end_of_memory_does_not_wrap() -> None:
    sym = SymState.from_dicts({}, memory={0: 0xFF})
    wide = z3.ZeroExt(8, z3.BitVecVal(0xFFFF_FFFF_FFFF_FFF8, 64)) + 8  # 2^64: past the end, not address 0
    assert z3.simplify(sym.read_u64(wide)).as_long() == 0


def test_vtpr_read_with_open_virtual_apic_address() -> None:
    # Use TPR shadow without virtual-interrupt delivery and without APIC-access virtualization:
    # TPR threshold 8 must not exceed VTPR[7:4]. Memory holds one virtual-APIC page with VTPR 0x20.
    state = baseline(SECONDARY_VM_EXEC_CONTROL=0x001010AB & ~1, TPR_THRESHOLD=8)
    state.memory[0x5000 + 0x80] = 0x20
    state.memory[0x6000 + 0x80] = 0x90
    sym = SymState.from_state(state, ["VIRTUAL_APIC_PAGE_ADDR"])
    encoding = EntryEncoding(sym)
    vapic = sym.variables["VIRTUAL_APIC_PAGE_ADDR"]
    answer = encoding.find_violation("CTL-TPR-VTPR", assume=[vapic == 0x5000])
    assert answer.status == "sat"
    assert encoding.find_violation("CTL-TPR-VTPR", assume=[vapic == 0x6000]).status == "unsat"
    # Any page other than 0x6000 reads VTPR 0 or 2: the solver finds one, the interpreter agrees.
    answer = encoding.find_violation("CTL-TPR-VTPR")
    assert answer.status == "sat" and answer.witness is not None
    assert "CTL-TPR-VTPR" in replay(sym, answer.witness.fields)


def test_vmcs_link_pointer_open() -> None:
    state = baseline()
    state.memory[0x7000] = 0x4            # revision 4, not a shadow VMCS: valid for this state
    state.memory[0x9000] = 0x8000_0004    # a shadow VMCS, but VMCS shadowing is 0
    sym = SymState.from_state(state, ["VMCS_LINK_POINTER"])
    encoding = EntryEncoding(sym)
    link = sym.variables["VMCS_LINK_POINTER"]
    assert encoding.find_violation(assume=[link == 0x7000]).status == "unsat"
    answer = encoding.find_violation("GUEST-LINK-SHADOW")
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["VMCS_LINK_POINTER"] == 0x9000
    assert "GUEST-LINK-SHADOW" in replay(sym, answer.witness.fields)
    answer = encoding.find_violation("GUEST-LINK-REVISION")
    assert answer.status == "sat" and answer.witness is not None
    assert "GUEST-LINK-REVISION" in replay(sym, answer.witness.fields)


def test_pdptes_from_memory_with_open_cr3() -> None:
    from tests.unit.test_vmentry_guest import BASES

    fields, memory = BASES["pae"]  # PAE paging without EPT: PDPTEs come from memory at CR3[31:5]
    state = baseline(**fields)
    state.memory.update(memory)
    state.memory[0x8_0010] = 0x1 | 1 << 50  # a present PDPTE with a bit beyond MAXPHYADDR (46)
    assert "GUEST-PDPTE-RSVD" not in interp_ids(state)
    sym = SymState.from_state(state, ["GUEST_CR3"])
    answer = find_violation(sym, "GUEST-PDPTE-RSVD")
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["GUEST_CR3"] & 0xFFFF_FFE0 in range(0x7_FFF0, 0x8_0011)
    assert "GUEST-PDPTE-RSVD" in replay(sym, answer.witness.fields)


# -- the MSR-load area: symbolic count and address -------------------------------------------------

AREA = 0x8000
EFER, FS_BASE, LSTAR = 0xC000_0080, 0xC000_0100, 0xC000_0082


def _area_state(entries: list[tuple[int, int]], count: int) -> State:
    state = baseline(VM_ENTRY_MSR_LOAD_ADDR=AREA, VM_ENTRY_MSR_LOAD_COUNT=count)
    for i, (index, data) in enumerate(entries):
        state.memory[AREA + 16 * i] = index
        state.memory[AREA + 16 * i + 8] = data
    return state


def test_msr_load_with_open_count() -> None:
    state = _area_state([(LSTAR, 0xFFFF_FFFF_8100_0000), (FS_BASE, 0), (EFER, 0xD01)], 1)
    sym = SymState.from_state(state, ["VM_ENTRY_MSR_LOAD_COUNT"])
    encoding = EntryEncoding(sym)
    count = sym.variables["VM_ENTRY_MSR_LOAD_COUNT"]
    answer = encoding.find_violation("MSRLOAD-FS-GS-BASE")
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["VM_ENTRY_MSR_LOAD_COUNT"] >= 2
    assert "MSRLOAD-FS-GS-BASE" in replay(sym, answer.witness.fields)
    assert encoding.find_violation("MSRLOAD-FS-GS-BASE", assume=[z3.ULE(count, 1)]).status == "unsat"
    # Beyond the recommended maximum (512 * (N + 1), N = IA32_VMX_MISC[27:25] = 0 here) the count
    # itself is the failure.
    answer = encoding.find_violation("MSRLOAD-COUNT-MAX")
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["VM_ENTRY_MSR_LOAD_COUNT"] > 512
    assert encoding.find_violation("MSRLOAD-COUNT-MAX", assume=[z3.ULE(count, 512)]).status == "unsat"
    assert "MSRLOAD-COUNT-MAX" in replay(sym, answer.witness.fields)


def test_msr_load_with_open_address() -> None:
    state = _area_state([(LSTAR, 0x0000_8000_0000_0000)], 1)  # LSTAR not canonical: WRMSR faults
    state.vmcs["VM_ENTRY_MSR_LOAD_ADDR"] = 0x1_0000  # nothing there
    assert "MSRLOAD-WRMSR-GP" not in interp_ids(state)
    sym = SymState.from_state(state, ["VM_ENTRY_MSR_LOAD_ADDR"])
    answer = find_violation(sym, "MSRLOAD-WRMSR-GP")
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.fields["VM_ENTRY_MSR_LOAD_ADDR"] == AREA
    assert "MSRLOAD-WRMSR-GP" in replay(sym, answer.witness.fields)


def test_msr_load_efer_lme_depends_on_open_guest_fields() -> None:
    # Loading EFER with LME = 0 while the guest has paging on and LME = 1 fails ...
    state = _area_state([(EFER, 0x1)], 1)
    sym = SymState.from_state(state, ["GUEST_CR0"])
    encoding = EntryEncoding(sym)
    cr0 = sym.variables["GUEST_CR0"]
    assert encoding.find_violation("MSRLOAD-EFER-LME", assume=[cr0 == 0x80050033]).status == "sat"
    # ... and only then: with CR0.PG = 0 the write is fine.
    assert encoding.find_violation("MSRLOAD-EFER-LME", assume=[cr0 & (1 << 31) == 0]).status == "unsat"


# -- the whole property ------------------------------------------------------------------------------

TEN_OPEN = ("PIN_BASED_VM_EXEC_CONTROL", "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL",
            "VM_ENTRY_CONTROLS", "GUEST_CR0", "GUEST_CR4", "GUEST_RFLAGS", "GUEST_CS_AR_BYTES",
            "VM_ENTRY_INTR_INFO_FIELD", "GUEST_INTERRUPTIBILITY_INFO")


def test_ten_open_fields_valid_and_invalid_choices_exist() -> None:
    sym = SymState.from_state(baseline(), TEN_OPEN)
    encoding = EntryEncoding(sym)
    holds = encoding.holds()
    assert holds.status == "sat" and holds.witness is not None
    assert replay(sym, holds.witness.fields) == set()
    answer = encoding.find_violation()
    assert answer.status == "sat" and answer.witness is not None
    assert answer.witness.violated and set(answer.witness.violated) == replay(sym, answer.witness.fields)
    assert encoding.violated_by({name: baseline().vmcs[name] for name in TEN_OPEN}) == frozenset()


def test_building_is_fast_enough_to_run_per_state() -> None:
    start = time.perf_counter()
    violations(SymState.from_state(baseline()))
    concrete = time.perf_counter() - start
    start = time.perf_counter()
    violations(SymState.from_state(baseline(), TEN_OPEN))
    opened = time.perf_counter() - start
    # Generous bounds (a loaded CI machine): typical figures are ~0.03 s and ~0.1 s.
    assert concrete < 2.0 and opened < 5.0


# -- SymState construction ------------------------------------------------------------------------

def test_symstate_refuses_bad_input() -> None:
    with pytest.raises(SymbolicError):
        SymState.from_dicts({"NO_SUCH_FIELD": 1})
    with pytest.raises(SymbolicError):
        SymState.from_dicts({"GUEST_CS_SELECTOR": 1 << 16})
    with pytest.raises(SymbolicError):
        SymState.from_dicts({}, memory={0x1004: 1})
    with pytest.raises(SymbolicError):
        SymState.from_dicts({}, open_fields={"GUEST_CS_SELECTOR": 1 << 16})
    with pytest.raises(SymbolicError):
        SymState.from_dicts({}, caps={"IA32_VMX_NOPE": 1})
    with pytest.raises(SymbolicError):
        SymState.from_dicts({}, open_fields=["GUEST_CR0"]).to_state({})


def test_from_dicts_reads_maxphyaddr_from_caps_and_absent_fields_read_zero() -> None:
    sym = SymState.from_dicts({"GUEST_CR0": 0x31}, caps={"MAXPHYADDR": 39, "IA32_VMX_BASIC": 4},
                              open_fields=["GUEST_CR4"])
    assert sym.maxphyaddr == 39 and sym.caps == {"IA32_VMX_BASIC": 4}
    assert z3.simplify(sym.field("GUEST_CR3")).as_long() == 0
    assert "GUEST_CR3" in sym.absent_fields and "GUEST_CR4" not in sym.absent_fields
    assert sym.is_open("GUEST_CR4") and not sym.is_open("GUEST_CR0")


def test_partly_open_field_keeps_its_other_bits() -> None:
    sym = SymState.from_state(baseline(), {"GUEST_CR0": 1 << 16})  # only WP open
    model_values = {"GUEST_CR0": 0}
    assert sym.concrete_vmcs(model_values)["GUEST_CR0"] == 0x80050033 & ~(1 << 16)
    assert sym.to_state({"GUEST_CR0": 0xFFFF_FFFF}).vmcs["GUEST_CR0"] == 0x80050033
