"""Internal consistency of the arch tables, plus facts spot-checked by hand against the SDM.

Both semantics read these tables, so a wrong row is a wrong verdict in both at once and no
differential test can notice it. These tests catch the mechanical mistakes (a duplicated encoding,
a width that contradicts the encoding, overlapping bits) and pin a sample of facts that were read
off the SDM, Linux and Bochs by hand.
"""

from __future__ import annotations

import itertools

import pytest

from vmxspec.arch import capabilities, controls, errors, exit_reasons, vmcs_fields
from vmxspec.arch.bitfields import Layout
from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP, MISC, VMFUNC
from vmxspec.arch.controls import CONTROL_BITS, ControlField
from vmxspec.arch.presets import PRESETS
from vmxspec.arch.presets._model import TRUE_PAIRS
from vmxspec.arch.vmcs_fields import FIELDS, Group, Width

LAYOUTS: tuple[Layout, ...] = (BASIC, MISC, EPT_VPID_CAP, VMFUNC)


# -- VMCS fields -----------------------------------------------------------------------------------

def test_field_names_and_encodings_are_unique() -> None:
    assert len({f.name for f in FIELDS}) == len(FIELDS)
    assert len({f.encoding for f in FIELDS}) == len(FIELDS)
    assert len(vmcs_fields.BY_NAME) == len(vmcs_fields.BY_ENCODING) == len(FIELDS)


@pytest.mark.parametrize("field", FIELDS, ids=lambda f: f.name)
def test_encoding_agrees_with_declared_width_and_group(field: vmcs_fields.VmcsField) -> None:
    # SDM "Field Encoding in VMCS": bits 14:13 width, 11:10 type, 12 and 31:15 reserved.
    assert (field.encoding >> 13) & 3 == field.width.value
    assert (field.encoding >> 10) & 3 == field.group.value
    assert field.encoding & ~0x6FFF == 0


@pytest.mark.parametrize("field", [f for f in FIELDS if f.width is Width.W64], ids=lambda f: f.name)
def test_64bit_fields_use_the_full_access_encoding(field: vmcs_fields.VmcsField) -> None:
    # Bit 0 = 1 is the "high" access to the upper 32 bits, never a field of its own.
    assert field.encoding & 1 == 0


def test_no_field_encoding_has_access_type_high() -> None:
    assert all(f.encoding & 1 == 0 for f in FIELDS)


def test_field_names_are_upper_case_identifiers() -> None:
    for f in FIELDS:
        assert f.name.isidentifier() and f.name == f.name.upper(), f.name
        assert not f.name.endswith("_HIGH"), f.name


def test_widths_in_bits() -> None:
    assert [w.bits for w in (Width.W16, Width.W32, Width.W64, Width.NATURAL)] == [16, 32, 64, 64]
    assert vmcs_fields.BY_NAME["GUEST_ES_SELECTOR"].max_value == 0xFFFF


@pytest.mark.parametrize(("name", "encoding", "width", "group"), [
    ("VIRTUAL_PROCESSOR_ID", 0x0000, Width.W16, Group.CONTROL),
    ("GUEST_ES_SELECTOR", 0x0800, Width.W16, Group.GUEST),
    ("HOST_TR_SELECTOR", 0x0C0C, Width.W16, Group.HOST),
    ("IO_BITMAP_A", 0x2000, Width.W64, Group.CONTROL),
    ("EPT_POINTER", 0x201A, Width.W64, Group.CONTROL),
    ("TERTIARY_VM_EXEC_CONTROL", 0x2034, Width.W64, Group.CONTROL),
    ("SECONDARY_VM_EXIT_CONTROLS", 0x2044, Width.W64, Group.CONTROL),
    ("GUEST_PHYSICAL_ADDRESS", 0x2400, Width.W64, Group.EXIT_INFO),
    ("VMCS_LINK_POINTER", 0x2800, Width.W64, Group.GUEST),
    ("GUEST_IA32_FRED_CONFIG", 0x281A, Width.W64, Group.GUEST),
    ("HOST_IA32_FRED_SSP3", 0x2C16, Width.W64, Group.HOST),
    ("PIN_BASED_VM_EXEC_CONTROL", 0x4000, Width.W32, Group.CONTROL),
    ("CPU_BASED_VM_EXEC_CONTROL", 0x4002, Width.W32, Group.CONTROL),
    ("VM_EXIT_CONTROLS", 0x400C, Width.W32, Group.CONTROL),
    ("VM_ENTRY_CONTROLS", 0x4012, Width.W32, Group.CONTROL),
    ("SECONDARY_VM_EXEC_CONTROL", 0x401E, Width.W32, Group.CONTROL),
    ("VM_INSTRUCTION_ERROR", 0x4400, Width.W32, Group.EXIT_INFO),
    ("VM_EXIT_REASON", 0x4402, Width.W32, Group.EXIT_INFO),
    ("GUEST_ACTIVITY_STATE", 0x4826, Width.W32, Group.GUEST),
    ("VMX_PREEMPTION_TIMER_VALUE", 0x482E, Width.W32, Group.GUEST),
    ("HOST_IA32_SYSENTER_CS", 0x4C00, Width.W32, Group.HOST),
    ("CR0_GUEST_HOST_MASK", 0x6000, Width.NATURAL, Group.CONTROL),
    ("EXIT_QUALIFICATION", 0x6400, Width.NATURAL, Group.EXIT_INFO),
    ("GUEST_CR0", 0x6800, Width.NATURAL, Group.GUEST),
    ("GUEST_RIP", 0x681E, Width.NATURAL, Group.GUEST),
    ("GUEST_S_CET", 0x6828, Width.NATURAL, Group.GUEST),
    ("HOST_RIP", 0x6C16, Width.NATURAL, Group.HOST),
    ("HOST_INTR_SSP_TABLE", 0x6C1C, Width.NATURAL, Group.HOST),
])
def test_spot_checked_fields(name: str, encoding: int, width: Width, group: Group) -> None:
    f = vmcs_fields.BY_NAME[name]
    assert (f.encoding, f.width, f.group) == (encoding, width, group)
    assert vmcs_fields.BY_ENCODING[encoding] is f


# -- control bits ----------------------------------------------------------------------------------

@pytest.mark.parametrize("fld", list(ControlField), ids=lambda f: f.value)
def test_control_bits_do_not_overlap_and_fit_the_field(fld: ControlField) -> None:
    bits = [b for b in CONTROL_BITS if b.field is fld]
    positions = [b.bit for b in bits]
    assert len(positions) == len(set(positions))
    assert all(0 <= p < fld.width for p in positions)
    assert len({b.name for b in bits}) == len(bits)
    assert set(controls.BITS_BY_FIELD[fld]) == {b.name for b in bits}


#: The only default1 bits with a defined meaning: controls the first VMX processors supported only
#: the 1-setting of, which the TRUE MSRs may allow to be 0 (SDM A.2; Bochs TRUE_*_LO constants).
NAMED_DEFAULT1: dict[ControlField, set[str]] = {
    ControlField.PROC: {"cr3_load_exiting", "cr3_store_exiting"},
    ControlField.EXIT: {"save_debug_controls"},
    ControlField.ENTRY: {"load_debug_controls"},
}


@pytest.mark.parametrize("fld", list(ControlField), ids=lambda f: f.value)
def test_default1_bits_are_reserved_bits_except_the_historic_ones(fld: ControlField) -> None:
    overlap = {b.name for b in controls.BITS_BY_FIELD[fld].values() if fld.default1 & b.mask}
    assert overlap == NAMED_DEFAULT1.get(fld, set())
    assert fld.default1 >> fld.width == 0


def test_control_names_are_identifiers() -> None:
    for b in CONTROL_BITS:
        assert b.name.isidentifier() and b.name == b.name.lower(), b.name
        assert b.title, b.name
        assert b.linux is None or (b.linux.isidentifier() and b.linux == b.linux.upper()), b.linux


def test_linux_names_are_unique() -> None:
    names = [b.linux for b in CONTROL_BITS if b.linux]
    assert len(names) == len(set(names)) == len(controls.BY_LINUX_NAME)


def test_control_fields_name_existing_vmcs_fields_and_msrs() -> None:
    for fld in ControlField:
        vmcs = vmcs_fields.BY_NAME[fld.vmcs_field]
        assert vmcs.group is Group.CONTROL
        assert vmcs.width.bits == fld.width
        assert fld.capability_msr in capabilities.BY_NAME
        assert fld.true_capability_msr is None or fld.true_capability_msr in capabilities.BY_NAME


def test_bit_name_reports_reserved_and_default1_bits() -> None:
    assert controls.bit_name(ControlField.PROC, 31) == "activate_secondary_controls"
    assert "default1" in controls.bit_name(ControlField.PROC, 1)
    assert controls.bit_name(ControlField.PROC, 0) == "bit 0 (reserved)"


@pytest.mark.parametrize(("fld", "bit", "name", "linux"), [
    (ControlField.PIN, 0, "external_interrupt_exiting", "PIN_BASED_EXT_INTR_MASK"),
    (ControlField.PIN, 7, "process_posted_interrupts", "PIN_BASED_POSTED_INTR"),
    (ControlField.PROC, 17, "activate_tertiary_controls", "CPU_BASED_ACTIVATE_TERTIARY_CONTROLS"),
    (ControlField.PROC, 21, "use_tpr_shadow", "CPU_BASED_TPR_SHADOW"),
    (ControlField.PROC, 31, "activate_secondary_controls", "CPU_BASED_ACTIVATE_SECONDARY_CONTROLS"),
    (ControlField.PROC2, 1, "enable_ept", "SECONDARY_EXEC_ENABLE_EPT"),
    (ControlField.PROC2, 7, "unrestricted_guest", "SECONDARY_EXEC_UNRESTRICTED_GUEST"),
    (ControlField.PROC2, 22, "mode_based_execute_control", "SECONDARY_EXEC_MODE_BASED_EPT_EXEC"),
    (ControlField.PROC2, 31, "instruction_timeout", "SECONDARY_EXEC_NOTIFY_VM_EXITING"),
    (ControlField.PROC3, 4, "ipi_virtualization", "TERTIARY_EXEC_IPI_VIRT"),
    (ControlField.PROC3, 8, "apic_timer_virtualization", None),
    (ControlField.EXIT, 2, "save_debug_controls", "VM_EXIT_SAVE_DEBUG_CONTROLS"),
    (ControlField.EXIT, 9, "host_address_space_size", "VM_EXIT_HOST_ADDR_SPACE_SIZE"),
    (ControlField.EXIT, 28, "load_cet_state", "VM_EXIT_LOAD_CET_STATE"),
    (ControlField.EXIT, 31, "activate_secondary_controls", "VM_EXIT_ACTIVATE_SECONDARY_CONTROLS"),
    (ControlField.EXIT2, 1, "load_ia32_fred", "SECONDARY_VM_EXIT_LOAD_IA32_FRED"),
    (ControlField.EXIT2, 3, "prematurely_busy_shadow_stack", None),
    (ControlField.ENTRY, 2, "load_debug_controls", "VM_ENTRY_LOAD_DEBUG_CONTROLS"),
    (ControlField.ENTRY, 9, "ia32e_mode_guest", "VM_ENTRY_IA32E_MODE"),
    (ControlField.ENTRY, 20, "load_cet_state", "VM_ENTRY_LOAD_CET_STATE"),
    (ControlField.ENTRY, 23, "load_ia32_fred", "VM_ENTRY_LOAD_IA32_FRED"),
])
def test_spot_checked_control_bits(fld: ControlField, bit: int, name: str, linux: str | None) -> None:
    b = controls.BITS_BY_FIELD[fld][name]
    assert (b.bit, b.linux) == (bit, linux)
    assert controls.control_mask(fld, name) == 1 << bit


def test_default1_masks_match_the_sdm_and_linux() -> None:
    # Linux *_ALWAYSON_WITHOUT_TRUE_MSR; SDM Appendix A.3-A.5 default1 classes.
    assert ControlField.PIN.default1 == 0x16
    assert ControlField.PROC.default1 == 0x0401_E172
    assert ControlField.EXIT.default1 == 0x0003_6DFF
    assert ControlField.ENTRY.default1 == 0x0000_11FF
    for fld in (ControlField.PROC2, ControlField.PROC3, ControlField.EXIT2):
        assert fld.default1 == 0


def test_control_mask_rejects_unknown_names() -> None:
    with pytest.raises(KeyError):
        controls.control_mask(ControlField.PROC, "no_such_control")


# -- capability MSRs and layouts ---------------------------------------------------------------------

def test_capability_msr_names_and_numbers_are_unique() -> None:
    msrs = capabilities.CAPABILITY_MSRS
    assert len({m.name for m in msrs}) == len({m.number for m in msrs}) == len(msrs)
    assert [m.number for m in msrs] == list(range(0x480, 0x494))


def test_exists_if_references_known_msrs_and_bits() -> None:
    for m in capabilities.CAPABILITY_MSRS:
        for cond in m.exists_if:
            assert cond.msr in capabilities.BY_NAME and cond.msr != m.name
            assert 0 <= cond.bit < 64


@pytest.mark.parametrize(("name", "number", "conditions"), [
    ("IA32_VMX_BASIC", 0x480, ()),
    ("IA32_VMX_VMCS_ENUM", 0x48A, ()),
    ("IA32_VMX_PROCBASED_CTLS2", 0x48B, (("IA32_VMX_PROCBASED_CTLS", 63),)),
    ("IA32_VMX_EPT_VPID_CAP", 0x48C, (("IA32_VMX_PROCBASED_CTLS2", 33), ("IA32_VMX_PROCBASED_CTLS2", 37))),
    ("IA32_VMX_TRUE_ENTRY_CTLS", 0x490, (("IA32_VMX_BASIC", 55),)),
    ("IA32_VMX_VMFUNC", 0x491, (("IA32_VMX_PROCBASED_CTLS2", 45),)),
    ("IA32_VMX_PROCBASED_CTLS3", 0x492, (("IA32_VMX_PROCBASED_CTLS", 49),)),
    ("IA32_VMX_EXIT_CTLS2", 0x493, (("IA32_VMX_EXIT_CTLS", 63),)),
])
def test_spot_checked_capability_msrs(name: str, number: int, conditions: tuple[tuple[str, int], ...]) -> None:
    m = capabilities.BY_NAME[name]
    assert m.number == number and capabilities.BY_NUMBER[number] is m
    assert tuple((c.msr, c.bit) for c in m.exists_if) == conditions


@pytest.mark.parametrize("layout", LAYOUTS, ids=lambda lay: lay.register)
def test_layout_fields_do_not_overlap_and_fit(layout: Layout) -> None:
    for a, b in itertools.combinations(layout.fields, 2):
        assert a.mask & b.mask == 0, (a.name, b.name)
    for f in layout:
        assert f.width >= 1 and f.lsb >= 0 and f.lsb + f.width <= layout.width, f.name
        assert f.name in layout and layout[f.name] is f
    assert len({f.name for f in layout.fields}) == len(layout.fields)


@pytest.mark.parametrize(("layout", "name", "lsb", "width"), [
    (BASIC, "revision_id", 0, 31),
    (BASIC, "vmcs_size", 32, 13),
    (BASIC, "vmcs_memtype", 50, 4),
    (BASIC, "true_ctls", 55, 1),
    (BASIC, "no_hw_errcode_cc", 56, 1),
    (MISC, "cr3_target_count", 16, 9),
    (MISC, "msr_list_size", 25, 3),
    (MISC, "zero_len_injection", 30, 1),
    (EPT_VPID_CAP, "pwl5", 7, 1),
    (EPT_VPID_CAP, "memtype_wb", 14, 1),
    (EPT_VPID_CAP, "ad_flags", 21, 1),
    (EPT_VPID_CAP, "invvpid", 32, 1),
    (EPT_VPID_CAP, "max_hlat_prefix_size", 48, 6),
])
def test_spot_checked_layout_fields(layout: Layout, name: str, lsb: int, width: int) -> None:
    assert (layout[name].lsb, layout[name].width) == (lsb, width)


def test_allowed_settings_halves() -> None:
    assert capabilities.allowed0(0xFFF9_FFFE_0401_E172) == 0x0401_E172
    assert capabilities.allowed1(0xFFF9_FFFE_0401_E172) == 0xFFF9_FFFE


# -- VM-instruction errors and exit reasons -----------------------------------------------------------

def test_vm_instruction_errors() -> None:
    table = errors.VM_INSTRUCTION_ERRORS
    assert set(table) == set(range(1, 29)) - {14, 21, 27}
    assert errors.VMX_ERROR_INVALID_CONTROL_FIELD == 7 and "control" in table[7]
    assert errors.VMX_ERROR_INVALID_HOST_STATE_FIELD == 8 and "host-state" in table[8]


def test_exit_reasons_unique_and_in_range() -> None:
    reasons = exit_reasons.EXIT_REASONS
    assert len({r.number for r in reasons}) == len({r.name for r in reasons}) == len(reasons)
    assert all(0 <= r.number <= 0xFFFF and r.name.isidentifier() and r.name.isupper() for r in reasons)
    reserved = {35, 38, 42, 71, 82, 83}
    assert {r.number for r in reasons} == set(range(86)) - reserved


@pytest.mark.parametrize(("number", "name"), [
    (0, "EXCEPTION_NMI"), (2, "TRIPLE_FAULT"), (7, "INTERRUPT_WINDOW"), (10, "CPUID"),
    (28, "CR_ACCESS"), (31, "MSR_READ"), (32, "MSR_WRITE"), (33, "INVALID_STATE"),
    (34, "MSR_LOAD_FAIL"), (41, "MCE_DURING_VMENTRY"), (48, "EPT_VIOLATION"), (49, "EPT_MISCONFIG"),
    (52, "PREEMPTION_TIMER"), (62, "PML_FULL"), (74, "BUS_LOCK"), (75, "NOTIFY"), (77, "TDCALL"),
])
def test_spot_checked_exit_reasons(number: int, name: str) -> None:
    assert exit_reasons.BY_NUMBER[number].name == name
    assert exit_reasons.BY_NAME[name].number == number


def test_exit_reason_flags() -> None:
    assert exit_reasons.EXIT_REASON_FAILED_VMENTRY == 0x8000_0000
    assert exit_reasons.EXIT_REASON_ENCLAVE_MODE == 0x0800_0000
    assert (exit_reasons.EXIT_REASON_INVALID_GUEST_STATE, exit_reasons.EXIT_REASON_MSR_LOADING) == (33, 34)


# -- TRUE vs non-TRUE capability MSRs in the shipped presets ---------------------------------------

@pytest.mark.parametrize("name", sorted(PRESETS))
def test_true_and_non_true_msrs_relate_in_every_preset(name: str) -> None:
    # SDM A.3: the non-TRUE MSR reports the default1 bits as fixed to 1, otherwise the same.
    caps = PRESETS[name].caps
    for fld, plain, true in TRUE_PAIRS:
        if true not in caps:
            continue
        assert capabilities.allowed0(caps[plain]) == capabilities.allowed0(caps[true]) | fld.default1
        assert capabilities.allowed1(caps[plain]) == capabilities.allowed1(caps[true])
