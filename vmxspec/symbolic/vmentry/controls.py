"""Symbolic encoding of the checks on the VMX control fields (SDM "Checks on VMX Controls").

Each formula is true exactly when the rule is violated. Capability MSRs are concrete, so every
allowed-settings mask is computed here in Python and enters Z3 as a constant.
"""

from __future__ import annotations

import z3

from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP, MISC, VMFUNC, allowed0, allowed1
from vmxspec.arch.controls import BITS_BY_FIELD, ControlField
from vmxspec.arch.events import ERROR_CODE_VECTORS, INTR_INFO, MAX_INSTRUCTION_LENGTH, InterruptionType
from vmxspec.arch.msrs import MSR_ENTRY_SIZE
from vmxspec.arch.registers import CR0_PE
from vmxspec.symbolic.state import ADDRESS_BITS, BV
from vmxspec.symbolic.vmentry.common import (
    Bool,
    Enc,
    all_set,
    any_set,
    bit,
    bits,
    eq,
    get,
    high_bits_nonzero,
    one_of,
    ugt,
)

PIN, PROC, PROC2, PROC3 = ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.PROC3
EXIT, EXIT2, ENTRY = ControlField.EXIT, ControlField.EXIT2, ControlField.ENTRY

#: The TPR threshold's bits 3:0 are compared with VTPR bits 7:4; VTPR is byte 80H of the virtual-APIC page.
VTPR_OFFSET = 0x80


def bounding_msr(e: Enc, which: ControlField) -> str:
    """The capability MSR that bounds ``which``: its TRUE variant when IA32_VMX_BASIC[55] = 1."""
    true_msr = which.true_capability_msr
    if true_msr is not None and BASIC["true_ctls"].get(e.cap("IA32_VMX_BASIC")):
        return true_msr
    return which.capability_msr


def violates_allowed_settings(e: Enc, which: ControlField, value: BV) -> Bool:
    """``value`` has a 0 where the allowed-0 half demands 1, or a 1 the allowed-1 half forbids."""
    msr = e.cap(bounding_msr(e, which))
    if which.width == 64:
        must_be_1, may_be_1 = 0, msr  # tertiary and secondary VM-exit controls: allowed-1 only
    else:
        must_be_1, may_be_1 = allowed0(msr), allowed1(msr)
    width_mask = (1 << which.width) - 1
    return z3.Or(z3.Not(all_set(value, must_be_1)), any_set(value, ~may_be_1 & width_mask))


def _msr_area_bad(e: Enc, count_field: str, address_field: str) -> Bool:
    """The SDM's checks on a VM-exit/VM-entry MSR area: with a non-zero count, the address is
    16-byte aligned, it and the area's last byte are within MAXPHYADDR, and both fit in 32 bits
    when IA32_VMX_BASIC[48] says VMX structures live below 4 GiB."""
    count = e.f(count_field)
    address = e.f(address_field)
    wide = z3.ZeroExt(ADDRESS_BITS - 64, address)
    last = wide + z3.ZeroExt(ADDRESS_BITS - 32, count) * MSR_ENTRY_SIZE - 1
    bad = z3.Or(bits(address, 3, 0) != 0, e.beyond_phys(wide), e.beyond_phys(last))
    if BASIC["physaddr_width_32"].get(e.cap("IA32_VMX_BASIC")):
        bad = z3.Or(bad, high_bits_nonzero(wide, 32), high_bits_nonzero(last, 32))
    return z3.And(count != 0, bad)


def _ept_cap(e: Enc, name: str) -> bool:
    return bool(EPT_VPID_CAP[name].get(e.cap("IA32_VMX_EPT_VPID_CAP")))


def encode(e: Enc) -> dict[str, Bool]:
    pin, proc, exit_, entry = e.pin, e.proc, e.exit, e.entry
    on = e.on
    v: dict[str, Bool] = {}

    # -- VM-execution control fields ------------------------------------------------------------
    v["CTL-PIN-RSVD"] = violates_allowed_settings(e, PIN, pin)
    v["CTL-PROC-RSVD"] = violates_allowed_settings(e, PROC, proc)
    v["CTL-PROC2-RSVD"] = z3.And(on(PROC, "activate_secondary_controls"),
                                 violates_allowed_settings(e, PROC2, e.f("SECONDARY_VM_EXEC_CONTROL")))
    v["CTL-PROC3-RSVD"] = z3.And(on(PROC, "activate_tertiary_controls"),
                                 violates_allowed_settings(e, PROC3, e.f("TERTIARY_VM_EXEC_CONTROL")))
    v["CTL-CR3-COUNT"] = ugt(e.f("CR3_TARGET_COUNT"), MISC["cr3_target_count"].get(e.cap("IA32_VMX_MISC")))

    v["CTL-IOBMP-ADDR"] = z3.And(on(PROC, "use_io_bitmaps"), z3.Or(e.bad_page_address(e.f("IO_BITMAP_A")),
                                                                  e.bad_page_address(e.f("IO_BITMAP_B"))))
    v["CTL-MSRBMP-ADDR"] = z3.And(on(PROC, "use_msr_bitmaps"), e.bad_page_address(e.f("MSR_BITMAP")))

    tpr_shadow = on(PROC, "use_tpr_shadow")
    vid = on(PROC2, "virtual_interrupt_delivery")
    apic_accesses = on(PROC2, "virtualize_apic_accesses")
    vapic = e.f("VIRTUAL_APIC_PAGE_ADDR")
    threshold = e.f("TPR_THRESHOLD")
    v["CTL-VAPIC-ADDR"] = z3.And(tpr_shadow, e.bad_page_address(vapic))
    v["CTL-TPR-THRESHOLD-RSVD"] = z3.And(tpr_shadow, z3.Not(vid), bits(threshold, 31, 4) != 0)
    vtpr = e.sym.read_u8(z3.ZeroExt(ADDRESS_BITS - 64, vapic) + VTPR_OFFSET)
    v["CTL-TPR-VTPR"] = z3.And(tpr_shadow, z3.Not(vid), z3.Not(apic_accesses),
                               z3.UGT(bits(threshold, 3, 0), bits(vtpr, 7, 4)))
    v["CTL-TPR-SHADOW-DEPS"] = z3.And(z3.Not(tpr_shadow), z3.Or(on(PROC2, "virtualize_x2apic_mode"),
                                                                on(PROC2, "apic_register_virtualization"), vid))
    v["CTL-APIC-ACCESS-ADDR"] = z3.And(apic_accesses, e.bad_page_address(e.f("APIC_ACCESS_ADDR")))
    v["CTL-X2APIC-APICACC"] = z3.And(on(PROC2, "virtualize_x2apic_mode"), apic_accesses)
    v["CTL-VID-EXTINT"] = z3.And(vid, z3.Not(on(PIN, "external_interrupt_exiting")))

    posted = on(PIN, "process_posted_interrupts")
    descriptor = e.f("POSTED_INTR_DESC_ADDR")
    v["CTL-PI-VID"] = z3.And(posted, z3.Not(vid))
    v["CTL-PI-ACK"] = z3.And(posted, z3.Not(on(EXIT, "acknowledge_interrupt_on_exit")))
    v["CTL-PI-NV"] = z3.And(posted, bits(e.f("POSTED_INTR_NV"), 15, 8) != 0)
    v["CTL-PI-DESC"] = z3.And(posted, z3.Or(bits(descriptor, 5, 0) != 0, e.beyond_phys(descriptor)))

    vnmi = on(PIN, "virtual_nmis")
    v["CTL-NMI-VNMI"] = z3.And(z3.Not(on(PIN, "nmi_exiting")), vnmi)
    v["CTL-VNMI-NMIWIN"] = z3.And(z3.Not(vnmi), on(PROC, "nmi_window_exiting"))
    v["CTL-VPID-NONZERO"] = z3.And(on(PROC2, "enable_vpid"), e.f("VIRTUAL_PROCESSOR_ID") == 0)

    ept = on(PROC2, "enable_ept")
    eptp = e.f("EPT_POINTER")
    memtype = bits(eptp, 2, 0)
    walk = bits(eptp, 5, 3)
    memtype_ok = z3.Or(z3.And(eq(memtype, 0), _ept_cap(e, "memtype_uc")),
                       z3.And(eq(memtype, 6), _ept_cap(e, "memtype_wb")))
    walk_ok = z3.Or(z3.And(eq(walk, 3), _ept_cap(e, "pwl4")), z3.And(eq(walk, 4), _ept_cap(e, "pwl5")))
    v["CTL-EPTP-MT"] = z3.And(ept, z3.Not(memtype_ok))
    v["CTL-EPTP-PWL"] = z3.And(ept, z3.Not(walk_ok))
    v["CTL-EPTP-AD"] = z3.And(ept, bit(eptp, 6), not _ept_cap(e, "ad_flags"))
    v["CTL-EPTP-RSVD"] = z3.And(ept, z3.Or(bits(eptp, 11, 8) != 0,
                                           z3.And(bit(eptp, 7), not _ept_cap(e, "sss_control"))))
    v["CTL-EPTP-MAXPHY"] = z3.And(ept, e.beyond_phys(eptp))
    v["CTL-URG-EPT"] = z3.And(on(PROC2, "unrestricted_guest"), z3.Not(ept))
    v["CTL-MBEC-EPT"] = z3.And(on(PROC2, "mode_based_execute_control"), z3.Not(ept))
    pml = on(PROC2, "enable_pml")
    v["CTL-PML-EPT"] = z3.And(pml, z3.Not(ept))
    v["CTL-PML-ADDR"] = z3.And(pml, e.bad_page_address(e.f("PML_ADDRESS")))

    vmfunc_on = on(PROC2, "enable_vm_functions")
    vmfunc = e.f("VM_FUNCTION_CONTROL")
    eptp_switching = z3.And(vmfunc_on, bit(vmfunc, VMFUNC["eptp_switching"].lsb))
    v["CTL-VMFUNC-RSVD"] = z3.And(vmfunc_on, any_set(vmfunc, ~e.cap("IA32_VMX_VMFUNC")))
    v["CTL-VMFUNC-EPT"] = z3.And(eptp_switching, z3.Not(ept))
    v["CTL-VMFUNC-LIST-ADDR"] = z3.And(eptp_switching, e.bad_page_address(e.f("EPTP_LIST_ADDRESS")))
    v["CTL-SHADOW-BMP-ADDR"] = z3.And(on(PROC2, "vmcs_shadowing"),
                                      z3.Or(e.bad_page_address(e.f("VMREAD_BITMAP")),
                                            e.bad_page_address(e.f("VMWRITE_BITMAP"))))
    v["CTL-VE-ADDR"] = z3.And(on(PROC2, "ept_violation_ve"), e.bad_page_address(e.f("VE_INFORMATION_ADDRESS")))
    v["CTL-TSC-MULT"] = z3.And(on(PROC2, "use_tsc_scaling"), e.f("TSC_MULTIPLIER") == 0)
    v["CTL-SPP"] = z3.And(on(PROC2, "sub_page_write_permissions"),
                          z3.Or(z3.Not(ept), e.bad_page_address(e.f("SPPT_POINTER"))))
    v["CTL-PT-GPA"] = z3.And(on(PROC2, "pt_uses_guest_physical_addresses"),
                             z3.Or(z3.Not(ept), z3.Not(on(ENTRY, "load_ia32_rtit_ctl")),
                                   z3.Not(on(EXIT, "clear_ia32_rtit_ctl"))))

    # -- VM-exit control fields -----------------------------------------------------------------
    v["CTL-EXIT-RSVD"] = violates_allowed_settings(e, EXIT, exit_)
    v["CTL-EXIT2-RSVD"] = z3.And(on(EXIT, "activate_secondary_controls"),
                                 violates_allowed_settings(e, EXIT2, e.f("SECONDARY_VM_EXIT_CONTROLS")))
    v["CTL-EXIT-PREEMPT-SAVE"] = z3.And(z3.Not(on(PIN, "activate_vmx_preemption_timer")),
                                        on(EXIT, "save_vmx_preemption_timer_value"))
    v["CTL-EXIT-MSR-STORE"] = _msr_area_bad(e, "VM_EXIT_MSR_STORE_COUNT", "VM_EXIT_MSR_STORE_ADDR")
    v["CTL-EXIT-MSR-LOAD"] = _msr_area_bad(e, "VM_EXIT_MSR_LOAD_COUNT", "VM_EXIT_MSR_LOAD_ADDR")

    # -- VM-entry control fields ----------------------------------------------------------------
    v["CTL-ENTRY-RSVD"] = violates_allowed_settings(e, ENTRY, entry)
    to_smm = on(ENTRY, "entry_to_smm")
    deactivate = on(ENTRY, "deactivate_dual_monitor_treatment")
    outside_smm = not e.sym.in_smm
    v["CTL-ENTRY-SMM"] = z3.Or(z3.And(outside_smm, z3.Or(to_smm, deactivate)), z3.And(to_smm, deactivate))
    v["CTL-ENTRY-MSR-LOAD"] = _msr_area_bad(e, "VM_ENTRY_MSR_LOAD_COUNT", "VM_ENTRY_MSR_LOAD_ADDR")
    v.update(_event_injection(e))
    return v


def _event_injection(e: Enc) -> dict[str, Bool]:
    """SDM "Checks on VM-Entry Control Fields", event injection (only if the valid bit is 1)."""
    info = e.f("VM_ENTRY_INTR_INFO_FIELD")
    valid = bit(info, INTR_INFO["valid"].lsb)
    kind = get(info, INTR_INFO["type"])
    vector = get(info, INTR_INFO["vector"])
    deliver = bit(info, INTR_INFO["deliver_error_code"].lsb)
    T = InterruptionType

    # "Other event" needs the 1-setting of "monitor trap flag" in the MSR that bounds the
    # primary processor-based controls.
    mtf_bit = BITS_BY_FIELD[PROC]["monitor_trap_flag"].bit
    mtf_allowed = bool(allowed1(e.cap(bounding_msr(e, PROC))) >> mtf_bit & 1)
    bad_type = z3.Or(eq(kind, T.RESERVED), z3.And(eq(kind, T.OTHER_EVENT), not mtf_allowed))

    bad_vector = z3.Or(z3.And(eq(kind, T.NMI), z3.Not(eq(vector, 2))),
                       z3.And(eq(kind, T.HARDWARE_EXCEPTION), ugt(vector, 31)),
                       z3.And(eq(kind, T.OTHER_EVENT), vector != 0))

    hardware_exception = eq(kind, T.HARDWARE_EXCEPTION)
    if BASIC["no_hw_errcode_cc"].get(e.cap("IA32_VMX_BASIC")):
        bad_errcode: Bool = z3.And(z3.Not(hardware_exception), deliver)
    else:
        protected = z3.Or(z3.Not(e.on(PROC2, "unrestricted_guest")), any_set(e.f("GUEST_CR0"), CR0_PE))
        needs_code = z3.And(hardware_exception, one_of(vector, ERROR_CODE_VECTORS), protected)
        bad_errcode = deliver != needs_code

    ilen = e.f("VM_ENTRY_INSTRUCTION_LEN")
    zero_len_ok = bool(MISC["zero_len_injection"].get(e.cap("IA32_VMX_MISC")))
    software = one_of(kind, (T.SOFTWARE_INTERRUPT, T.PRIVILEGED_SOFTWARE_EXCEPTION, T.SOFTWARE_EXCEPTION))
    bad_length = z3.Or(ugt(ilen, MAX_INSTRUCTION_LENGTH), z3.And(ilen == 0, not zero_len_ok))

    return {
        "CTL-EVINJ-TYPE": z3.And(valid, bad_type),
        "CTL-EVINJ-VEC": z3.And(valid, bad_vector),
        "CTL-EVINJ-ERRCODE": z3.And(valid, bad_errcode),
        "CTL-EVINJ-ERRCODE-RSVD": z3.And(valid, deliver,
                                         bits(e.f("VM_ENTRY_EXCEPTION_ERROR_CODE"), 31, 16) != 0),
        "CTL-EVINJ-RSVD": z3.And(valid, bits(info, 30, 12) != 0),
        "CTL-EVINJ-ILEN": z3.And(valid, software, bad_length),
    }

