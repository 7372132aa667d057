"""The shipped platform presets: consistent by the SDM's rules, and each one what it claims to be.

skylake_server is pinned to the reference baseline (whose VMCS passes every VM-entry check), so the
baseline's caps and the preset can never drift apart. kvm_nested_default is checked bit by bit
against facts read off KVM's nested.c by hand, independently of ``derive_kvm_nested``.
"""

from __future__ import annotations

import json
import re

import pytest

from tests.states import BASELINE_PATH, baseline_doc
from vmxspec.arch import capabilities
from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP, MISC
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.presets import (
    KVM_NESTED_DEFAULT,
    PRESETS,
    SAPPHIRE_RAPIDS,
    SKYLAKE_SERVER,
    Preset,
    consistency_problems,
    derive_kvm_nested,
    preset,
)
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import load_state

NAMES = sorted(PRESETS)


def test_at_least_three_presets_by_name() -> None:
    assert {"skylake_server", "sapphire_rapids", "kvm_nested_default"} <= set(PRESETS)
    for name, p in PRESETS.items():
        assert p.name == name and preset(name) is p


def test_unknown_preset_is_a_key_error_with_a_suggestion() -> None:
    with pytest.raises(KeyError, match="skylake_server"):
        preset("skylake-server")
    with pytest.raises(KeyError, match="known presets"):
        preset("zzz")


@pytest.mark.parametrize("name", NAMES)
def test_preset_is_consistent(name: str) -> None:
    assert consistency_problems(PRESETS[name]) == []


@pytest.mark.parametrize("name", NAMES)
def test_preset_documents_itself(name: str) -> None:
    p = PRESETS[name]
    assert p.title and p.description
    assert "MODELED" in p.sources or "DERIVED" in p.sources
    # Every full-width number the sources quote is one of the preset's values.
    quoted = {int(h, 16) for h in re.findall(r"0x([0-9a-f]{16})\b", p.sources)}
    assert quoted <= set(p.caps.values())
    for msr in p.caps:
        short = msr.removeprefix("IA32_VMX_").removeprefix("TRUE_").removesuffix("_CTLS")
        assert short in p.sources, f"{name}: sources do not mention {short}"


@pytest.mark.parametrize("name", NAMES)
def test_preset_caps_are_immutable(name: str) -> None:
    with pytest.raises(TypeError):
        PRESETS[name].caps["IA32_VMX_BASIC"] = 0  # type: ignore[index]


@pytest.mark.parametrize("name", NAMES)
def test_state_caps_round_trip_through_the_state_reader(name: str) -> None:
    p = PRESETS[name]
    doc = {"format": "vmxspec-state/1", "caps": p.to_state_caps()}
    json.dumps(doc)  # plain JSON
    state = load_state(doc)
    assert state.caps == dict(p.caps)
    assert state.maxphyaddr == p.maxphyaddr
    assert (state.maxlinaddr or capabilities.DEFAULT_MAXLINADDR) == p.maxlinaddr


# -- skylake_server == the reference baseline ----------------------------------------------------

def test_skylake_equals_the_baseline_caps_exactly() -> None:
    caps = json.loads(BASELINE_PATH.read_text())["caps"]
    assert SKYLAKE_SERVER.to_state_caps() == caps
    assert list(SKYLAKE_SERVER.to_state_caps()) == list(caps)  # same order, too
    state = load_state(baseline_doc())
    assert state.caps == dict(SKYLAKE_SERVER.caps)
    assert (state.maxphyaddr, state.maxlinaddr) == (46, None)
    assert SKYLAKE_SERVER.maxlinaddr == capabilities.DEFAULT_MAXLINADDR


def test_baseline_vmcs_passes_on_the_skylake_preset() -> None:
    doc = baseline_doc()
    doc["caps"] = SKYLAKE_SERVER.to_state_caps()
    result = check_vm_entry(load_state(doc))
    assert result.complete and result.passed, [v.rule.id for v in result.violations]


# -- sapphire_rapids --------------------------------------------------------------------------

def test_sapphire_rapids_has_the_newer_features() -> None:
    caps = SAPPHIRE_RAPIDS.caps
    assert caps["IA32_VMX_EPT_VPID_CAP"] & EPT_VPID_CAP["pwl5"].mask
    assert caps["IA32_VMX_EPT_VPID_CAP"] & EPT_VPID_CAP["sss_control"].mask
    assert capabilities.allowed1(caps["IA32_VMX_PROCBASED_CTLS"]) & control_mask(
        ControlField.PROC, "activate_tertiary_controls")
    assert caps["IA32_VMX_PROCBASED_CTLS3"] == control_mask(ControlField.PROC3, "ipi_virtualization")
    assert capabilities.allowed1(caps["IA32_VMX_EXIT_CTLS"]) & control_mask(ControlField.EXIT, "load_cet_state")
    assert capabilities.allowed1(caps["IA32_VMX_ENTRY_CTLS"]) & control_mask(ControlField.ENTRY, "load_cet_state")
    assert caps["IA32_VMX_BASIC"] & BASIC["no_hw_errcode_cc"].mask
    assert "IA32_VMX_EXIT_CTLS2" not in caps
    assert (SAPPHIRE_RAPIDS.maxphyaddr, SAPPHIRE_RAPIDS.maxlinaddr) == (46, 57)
    assert SAPPHIRE_RAPIDS.to_state_caps()["MAXLINADDR"] == 57
    # LA57 is allowed in CR4 exactly because 57-bit linear addresses are.
    assert caps["IA32_VMX_CR4_FIXED1"] >> 12 & 1


# -- kvm_nested_default, checked against KVM facts written out by hand -------------------------

def test_kvm_nested_default_matches_hand_read_kvm_facts() -> None:
    caps = KVM_NESTED_DEFAULT.caps
    basic = caps["IA32_VMX_BASIC"]
    assert BASIC["revision_id"].get(basic) == 0x11E5_7ED0           # VMCS12_REVISION
    assert BASIC["vmcs_size"].get(basic) == 0x1000                  # VMCS12_SIZE
    assert BASIC["vmcs_memtype"].get(basic) == 6                    # WB
    assert basic & BASIC["true_ctls"].mask and basic & BASIC["ins_outs_info"].mask
    assert not basic & (BASIC["dual_monitor"].mask | BASIC["no_hw_errcode_cc"].mask)

    misc = caps["IA32_VMX_MISC"]
    assert misc == 0x2000_0165  # rate 5, store LMA, HLT, wait-for-SIPI, VMWRITE any field
    assert MISC["cr3_target_count"].get(misc) == 0 and not misc & MISC["zero_len_injection"].mask

    ept = caps["IA32_VMX_EPT_VPID_CAP"]
    assert not ept & EPT_VPID_CAP["memtype_uc"].mask and ept & EPT_VPID_CAP["memtype_wb"].mask
    assert not ept & EPT_VPID_CAP["advanced_vmexit_info"].mask
    assert ept == 0x0000_0F01_0633_4041

    assert caps["IA32_VMX_TRUE_PINBASED_CTLS"] == 0x0000_00FF_0000_0016
    assert caps["IA32_VMX_TRUE_PROCBASED_CTLS"] == 0xFFF9_FFFE_0400_6172
    assert caps["IA32_VMX_TRUE_EXIT_CTLS"] == 0x00FF_FFFF_0003_6DFB
    assert caps["IA32_VMX_TRUE_ENTRY_CTLS"] == 0x0001_F3FF_0000_11FB
    assert caps["IA32_VMX_PROCBASED_CTLS2"] == 0x0213_7BFF_0000_0000
    sec = capabilities.allowed1(caps["IA32_VMX_PROCBASED_CTLS2"])
    assert not sec & control_mask(ControlField.PROC2, "pause_loop_exiting", "mode_based_execute_control",
                                  "ept_violation_ve", "enable_encls_exiting")
    assert sec & control_mask(ControlField.PROC2, "vmcs_shadowing", "enable_pml")
    assert caps["IA32_VMX_VMFUNC"] == 1
    assert (caps["IA32_VMX_CR0_FIXED0"], caps["IA32_VMX_CR4_FIXED0"]) == (0x8000_0021, 0x2000)
    assert caps["IA32_VMX_CR4_FIXED1"] == SKYLAKE_SERVER.caps["IA32_VMX_CR4_FIXED1"] | 1 << 11  # UMIP
    assert caps["IA32_VMX_VMCS_ENUM"] == 0x32
    assert "IA32_VMX_PROCBASED_CTLS3" not in caps and "IA32_VMX_EXIT_CTLS2" not in caps


def test_kvm_nested_never_offers_more_than_the_host_except_emulated_features() -> None:
    host, l1 = SKYLAKE_SERVER.caps, KVM_NESTED_DEFAULT.caps
    emulated = {
        "IA32_VMX_TRUE_PINBASED_CTLS": 0,  # the preemption timer exists on the host too
        "IA32_VMX_TRUE_PROCBASED_CTLS": 0,
        "IA32_VMX_TRUE_EXIT_CTLS": 0,
        "IA32_VMX_TRUE_ENTRY_CTLS": 0,
        "IA32_VMX_PROCBASED_CTLS2": 0,
    }
    for msr, extra in emulated.items():
        assert capabilities.allowed1(l1[msr]) & ~(capabilities.allowed1(host[msr]) | extra) == 0, msr
    assert l1["IA32_VMX_EPT_VPID_CAP"] & ~host["IA32_VMX_EPT_VPID_CAP"] == 0


def test_derivation_follows_the_host() -> None:
    # On the 5-level-EPT host, KVM passes 5-level walks through; on Skylake it cannot.
    spr = derive_kvm_nested(SAPPHIRE_RAPIDS.caps)
    assert spr["IA32_VMX_EPT_VPID_CAP"] & EPT_VPID_CAP["pwl5"].mask
    assert not KVM_NESTED_DEFAULT.caps["IA32_VMX_EPT_VPID_CAP"] & EPT_VPID_CAP["pwl5"].mask
    # Without EPT on the host, nested EPT, EPT_VPID_CAP's EPT half and VMFUNC disappear.
    no_ept = dict(SKYLAKE_SERVER.caps)
    no_ept["IA32_VMX_PROCBASED_CTLS2"] &= ~(control_mask(ControlField.PROC2, "enable_ept") << 32)
    derived = derive_kvm_nested(no_ept)
    assert not capabilities.allowed1(derived["IA32_VMX_PROCBASED_CTLS2"]) & control_mask(
        ControlField.PROC2, "enable_ept", "unrestricted_guest", "enable_pml")
    assert "IA32_VMX_VMFUNC" not in derived
    assert derived["IA32_VMX_EPT_VPID_CAP"] & 0xFFFF_FFFF == 0
    # With SGX, ENCLS exiting is offered.
    sgx = derive_kvm_nested(SKYLAKE_SERVER.caps, host_has_sgx=True)
    assert capabilities.allowed1(sgx["IA32_VMX_PROCBASED_CTLS2"]) & control_mask(
        ControlField.PROC2, "enable_encls_exiting")


# -- the consistency checker itself --------------------------------------------------------------

def _variant(**caps: int | None) -> Preset:
    merged = dict(SKYLAKE_SERVER.caps)
    for name, value in caps.items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return Preset("variant", "t", "d", "MODELED", merged, 46)


@pytest.mark.parametrize(("change", "expected"), [
    ({"IA32_VMX_TRUE_EXIT_CTLS": 0x03FF_FFFF_0003_6FFB}, "allowed-0"),
    ({"IA32_VMX_TRUE_EXIT_CTLS": 0x01FF_FFFF_0003_6DFB}, "allowed-1 halves"),
    ({"IA32_VMX_PINBASED_CTLS": 0x0000_00FF_0000_0006, "IA32_VMX_TRUE_PINBASED_CTLS": 0x0000_00FF_0000_0006},
     "default1"),
    ({"IA32_VMX_PROCBASED_CTLS3": 0x10}, "PROCBASED_CTLS3 present"),
    ({"IA32_VMX_VMFUNC": None}, "VMFUNC missing"),
    ({"IA32_VMX_TRUE_ENTRY_CTLS": None}, "TRUE_ENTRY_CTLS missing"),
    ({"IA32_VMX_CR4_FIXED0": 0x2000 | 1 << 12}, "CR4 bits"),
    ({"IA32_VMX_ENTRY_CTLS": 0x0007_FFFF_0008_11FF, "IA32_VMX_TRUE_ENTRY_CTLS": 0x0007_FFFF_0008_11FB},
     "not allowed to be 1"),
    ({"IA32_VMX_NOT_AN_MSR": 0}, "unknown"),
])
def test_consistency_checker_catches(change: dict[str, int | None], expected: str) -> None:
    problems = consistency_problems(_variant(**change))
    assert any(expected in p for p in problems), problems


def test_consistency_checker_catches_bad_widths() -> None:
    bad = Preset("w", "t", "d", "MODELED", dict(SKYLAKE_SERVER.caps), maxphyaddr=60, maxlinaddr=50)
    problems = consistency_problems(bad)
    assert any("MAXPHYADDR" in p for p in problems) and any("MAXLINADDR" in p for p in problems)
