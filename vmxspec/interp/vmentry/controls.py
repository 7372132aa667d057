"""SDM "Checks on VMX Controls": VM-execution, VM-exit and VM-entry control fields.

Each function is one rule of ``arch/rules/vmentry_controls.py``; read them next to the SDM section
of the same title. A failure here is VMfailValid with VM-instruction error 7.
"""

from __future__ import annotations

from vmxspec.arch.bitfields import bits_of, mask
from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP, MISC, VMFUNC
from vmxspec.arch.controls import ControlField, bit_name, control_mask
from vmxspec.arch.ept import EPTP, EPTP_AD, EPTP_MEMTYPE_CAPS, EPTP_PWL_CAPS, MEMTYPE_NAMES
from vmxspec.arch.events import (
    CET_ERROR_CODE_VECTOR,
    ERROR_CODE_VECTORS,
    INTR_INFO,
    INTR_INFO_DELIVER_ERROR_CODE,
    INTR_INFO_RESERVED,
    INTR_INFO_VALID,
    MAX_INSTRUCTION_LENGTH,
    NMI_VECTOR,
    SOFTWARE_EVENT_TYPES,
    InterruptionType,
)
from vmxspec.arch.registers import CR0_PE
from vmxspec.arch.rules import Rule
from vmxspec.interp.vmentry.context import EntryContext
from vmxspec.interp.vmentry.registry import check

PIN, PROC, PROC2, PROC3 = ControlField.PIN, ControlField.PROC, ControlField.PROC2, ControlField.PROC3
EXIT, EXIT2, ENTRY = ControlField.EXIT, ControlField.EXIT2, ControlField.ENTRY

EXT_INT_EXITING = control_mask(PIN, "external_interrupt_exiting")
NMI_EXITING = control_mask(PIN, "nmi_exiting")
VIRTUAL_NMIS = control_mask(PIN, "virtual_nmis")
PREEMPTION_TIMER = control_mask(PIN, "activate_vmx_preemption_timer")
POSTED_INTERRUPTS = control_mask(PIN, "process_posted_interrupts")

NMI_WINDOW = control_mask(PROC, "nmi_window_exiting")
USE_TPR_SHADOW = control_mask(PROC, "use_tpr_shadow")
USE_IO_BITMAPS = control_mask(PROC, "use_io_bitmaps")
USE_MSR_BITMAPS = control_mask(PROC, "use_msr_bitmaps")
MONITOR_TRAP_FLAG = control_mask(PROC, "monitor_trap_flag")
ACTIVATE_SECONDARY = control_mask(PROC, "activate_secondary_controls")
ACTIVATE_TERTIARY = control_mask(PROC, "activate_tertiary_controls")

VIRT_APIC_ACCESSES = control_mask(PROC2, "virtualize_apic_accesses")
ENABLE_EPT = control_mask(PROC2, "enable_ept")
VIRT_X2APIC = control_mask(PROC2, "virtualize_x2apic_mode")
ENABLE_VPID = control_mask(PROC2, "enable_vpid")
UNRESTRICTED_GUEST = control_mask(PROC2, "unrestricted_guest")
APIC_REG_VIRT = control_mask(PROC2, "apic_register_virtualization")
VID = control_mask(PROC2, "virtual_interrupt_delivery")
ENABLE_VMFUNC = control_mask(PROC2, "enable_vm_functions")
VMCS_SHADOWING = control_mask(PROC2, "vmcs_shadowing")
ENABLE_PML = control_mask(PROC2, "enable_pml")
EPT_VIOLATION_VE = control_mask(PROC2, "ept_violation_ve")
MBEC = control_mask(PROC2, "mode_based_execute_control")
SPP = control_mask(PROC2, "sub_page_write_permissions")
PT_USES_GPA = control_mask(PROC2, "pt_uses_guest_physical_addresses")
TSC_SCALING = control_mask(PROC2, "use_tsc_scaling")

ACK_INTR_ON_EXIT = control_mask(EXIT, "acknowledge_interrupt_on_exit")
SAVE_PREEMPTION_TIMER = control_mask(EXIT, "save_vmx_preemption_timer_value")
CLEAR_RTIT_CTL = control_mask(EXIT, "clear_ia32_rtit_ctl")
ACTIVATE_EXIT2 = control_mask(EXIT, "activate_secondary_controls")
EXIT_LOAD_CET = control_mask(EXIT, "load_cet_state")

ENTRY_TO_SMM = control_mask(ENTRY, "entry_to_smm")
DEACTIVATE_DUAL_MONITOR = control_mask(ENTRY, "deactivate_dual_monitor_treatment")
LOAD_RTIT_CTL = control_mask(ENTRY, "load_ia32_rtit_ctl")

EPTP_MEMTYPE = EPTP["memtype"]
EPTP_PWL = EPTP["pwl_minus_1"]
EPTP_SSS = EPTP["sss_control"].mask
EPTP_RESERVED_11_8 = EPTP["reserved_11_8"].mask

VMFUNC_EPTP_SWITCHING = VMFUNC["eptp_switching"].mask


def _names(field: ControlField, bits: int) -> list[str]:
    return [bit_name(field, b) for b in bits_of(bits)]


def _allowed_settings(ctx: EntryContext, rule: Rule, field: ControlField, value: int) -> None:
    must1, may1 = ctx.allowed(field)
    missing1 = must1 & ~value
    extra1 = value & ~may1
    if not missing1 and not extra1:
        return
    msr = ctx.control_msr(field)
    parts = []
    if missing1:
        parts.append(f"must be 1 but are 0: {', '.join(_names(field, missing1))}")
    if extra1:
        parts.append(f"must be 0 but are 1: {', '.join(_names(field, extra1))}")
    expected = (value | must1) & may1
    ctx.fail(rule, f"{field.vmcs_field} = {value:#x} does not respect {msr}: {'; '.join(parts)} "
             f"(nearest allowed value {expected:#x})", (field.vmcs_field,),
             capability_msr=msr, must_be_1=_names(field, missing1), must_be_0=_names(field, extra1),
             expected=expected)


# -- VM-execution control fields -----------------------------------------------------------------

@check("CTL-PIN-RSVD")
def _pin_rsvd(ctx: EntryContext, rule: Rule) -> None:
    _allowed_settings(ctx, rule, PIN, ctx.pin)


@check("CTL-PROC-RSVD")
def _proc_rsvd(ctx: EntryContext, rule: Rule) -> None:
    _allowed_settings(ctx, rule, PROC, ctx.proc)


@check("CTL-PROC2-RSVD")
def _proc2_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & ACTIVATE_SECONDARY:
        _allowed_settings(ctx, rule, PROC2, ctx.proc2)


@check("CTL-PROC3-RSVD")
def _proc3_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & ACTIVATE_TERTIARY:
        _allowed_settings(ctx, rule, PROC3, ctx.proc3)


@check("CTL-CR3-COUNT")
def _cr3_count(ctx: EntryContext, rule: Rule) -> None:
    count = ctx.f["CR3_TARGET_COUNT"]
    supported = MISC["cr3_target_count"].get(ctx.cap("IA32_VMX_MISC"))
    if count > supported:
        ctx.fail(rule, f"CR3_TARGET_COUNT = {count} but the processor supports {supported} CR3-target "
                 "values (IA32_VMX_MISC[24:16])", expected=supported)


def _page_address(ctx: EntryContext, rule: Rule, control: str, field: str) -> None:
    address = ctx.f[field]
    if ctx.page_address_ok(address):
        return
    why = []
    if address & 0xFFF:
        why.append("is not 4-KByte aligned")
    if not ctx.phys_ok(address):
        why.append(f"sets bits beyond the physical-address width ({ctx.maxphyaddr})")
    ctx.fail(rule, f"\"{control}\" is 1 and {field} = {address:#x} {' and '.join(why)}", (field,))


@check("CTL-IOBMP-ADDR")
def _io_bitmaps(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & USE_IO_BITMAPS:
        _page_address(ctx, rule, "use I/O bitmaps", "IO_BITMAP_A")
        _page_address(ctx, rule, "use I/O bitmaps", "IO_BITMAP_B")


@check("CTL-MSRBMP-ADDR")
def _msr_bitmap(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & USE_MSR_BITMAPS:
        _page_address(ctx, rule, "use MSR bitmaps", "MSR_BITMAP")


@check("CTL-VAPIC-ADDR")
def _vapic_addr(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & USE_TPR_SHADOW:
        _page_address(ctx, rule, "use TPR shadow", "VIRTUAL_APIC_PAGE_ADDR")


@check("CTL-TPR-THRESHOLD-RSVD")
def _tpr_threshold_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & USE_TPR_SHADOW and not ctx.proc2 & VID:
        threshold = ctx.f["TPR_THRESHOLD"]
        if threshold & mask(4, 31):
            ctx.fail(rule, f"\"use TPR shadow\" is 1, \"virtual-interrupt delivery\" is 0 and TPR_THRESHOLD "
                     f"= {threshold:#x} sets bits 31:4", ("TPR_THRESHOLD",))


@check("CTL-TPR-VTPR")
def _tpr_vtpr(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc & USE_TPR_SHADOW and not ctx.proc2 & (VID | VIRT_APIC_ACCESSES):
        threshold = ctx.f["TPR_THRESHOLD"] & 0xF
        vapic = ctx.f["VIRTUAL_APIC_PAGE_ADDR"]
        vtpr = ctx.state.read_u8(vapic + 0x80)
        if threshold > vtpr >> 4:
            ctx.fail(rule, f"TPR_THRESHOLD[3:0] = {threshold} is greater than VTPR[7:4] = {vtpr >> 4} "
                     f"(VTPR = {vtpr:#04x} at {vapic + 0x80:#x})", ("TPR_THRESHOLD", "VIRTUAL_APIC_PAGE_ADDR"))


@check("CTL-TPR-SHADOW-DEPS")
def _tpr_shadow_deps(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc & USE_TPR_SHADOW:
        bad = ctx.proc2 & (VIRT_X2APIC | APIC_REG_VIRT | VID)
        if bad:
            ctx.fail(rule, f"\"use TPR shadow\" is 0 but {', '.join(_names(PROC2, bad))} is 1",
                     ("CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL"))


@check("CTL-APIC-ACCESS-ADDR")
def _apic_access_addr(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & VIRT_APIC_ACCESSES:
        _page_address(ctx, rule, "virtualize APIC accesses", "APIC_ACCESS_ADDR")


@check("CTL-X2APIC-APICACC")
def _x2apic_apicacc(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & VIRT_X2APIC and ctx.proc2 & VIRT_APIC_ACCESSES:
        ctx.fail(rule, "\"virtualize x2APIC mode\" and \"virtualize APIC accesses\" are both 1",
                 ("SECONDARY_VM_EXEC_CONTROL",))


@check("CTL-VID-EXTINT")
def _vid_extint(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & VID and not ctx.pin & EXT_INT_EXITING:
        ctx.fail(rule, "\"virtual-interrupt delivery\" is 1 but \"external-interrupt exiting\" is 0")


@check("CTL-PI-VID")
def _pi_vid(ctx: EntryContext, rule: Rule) -> None:
    if ctx.pin & POSTED_INTERRUPTS and not ctx.proc2 & VID:
        ctx.fail(rule, "\"process posted interrupts\" is 1 but \"virtual-interrupt delivery\" is 0")


@check("CTL-PI-ACK")
def _pi_ack(ctx: EntryContext, rule: Rule) -> None:
    if ctx.pin & POSTED_INTERRUPTS and not ctx.exit & ACK_INTR_ON_EXIT:
        ctx.fail(rule, "\"process posted interrupts\" is 1 but \"acknowledge interrupt on exit\" is 0")


@check("CTL-PI-NV")
def _pi_nv(ctx: EntryContext, rule: Rule) -> None:
    if ctx.pin & POSTED_INTERRUPTS:
        nv = ctx.f["POSTED_INTR_NV"]
        if nv & mask(8, 15):
            ctx.fail(rule, f"\"process posted interrupts\" is 1 and POSTED_INTR_NV = {nv:#x} sets bits 15:8",
                     ("POSTED_INTR_NV",))


@check("CTL-PI-DESC")
def _pi_desc(ctx: EntryContext, rule: Rule) -> None:
    if ctx.pin & POSTED_INTERRUPTS:
        desc = ctx.f["POSTED_INTR_DESC_ADDR"]
        why = []
        if desc & mask(0, 5):
            why.append("is not 64-byte aligned")
        if not ctx.phys_ok(desc):
            why.append(f"sets bits beyond the physical-address width ({ctx.maxphyaddr})")
        if why:
            ctx.fail(rule, f"POSTED_INTR_DESC_ADDR = {desc:#x} {' and '.join(why)}", ("POSTED_INTR_DESC_ADDR",))


@check("CTL-NMI-VNMI")
def _nmi_vnmi(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.pin & NMI_EXITING and ctx.pin & VIRTUAL_NMIS:
        ctx.fail(rule, "\"NMI exiting\" is 0 but \"virtual NMIs\" is 1", ("PIN_BASED_VM_EXEC_CONTROL",))


@check("CTL-VNMI-NMIWIN")
def _vnmi_nmiwin(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.pin & VIRTUAL_NMIS and ctx.proc & NMI_WINDOW:
        ctx.fail(rule, "\"virtual NMIs\" is 0 but \"NMI-window exiting\" is 1")


@check("CTL-VPID-NONZERO")
def _vpid_nonzero(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & ENABLE_VPID and ctx.f["VIRTUAL_PROCESSOR_ID"] == 0:
        ctx.fail(rule, "\"enable VPID\" is 1 but VIRTUAL_PROCESSOR_ID is 0", ("VIRTUAL_PROCESSOR_ID",))


@check("CTL-EPTP-MT")
def _eptp_mt(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & ENABLE_EPT:
        return
    eptp = ctx.f["EPT_POINTER"]
    memtype = EPTP_MEMTYPE.get(eptp)
    cap = ctx.cap("IA32_VMX_EPT_VPID_CAP")
    supported = [f"{t} ({MEMTYPE_NAMES[t]})" for t, bit in EPTP_MEMTYPE_CAPS.items() if bit.get(cap)]
    if memtype not in EPTP_MEMTYPE_CAPS or not EPTP_MEMTYPE_CAPS[memtype].get(cap):
        ctx.fail(rule, f"EPT_POINTER = {eptp:#x} has memory type {memtype}; IA32_VMX_EPT_VPID_CAP allows "
                 f"{', '.join(supported) or 'none'}", ("EPT_POINTER",), expected=supported)


@check("CTL-EPTP-PWL")
def _eptp_pwl(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & ENABLE_EPT:
        return
    eptp = ctx.f["EPT_POINTER"]
    pwl = EPTP_PWL.get(eptp)
    cap = ctx.cap("IA32_VMX_EPT_VPID_CAP")
    allowed = [value for value, bit in EPTP_PWL_CAPS.items() if bit.get(cap)]
    if pwl not in allowed:
        ctx.fail(rule, f"EPT_POINTER = {eptp:#x} has page-walk length {pwl + 1} (bits 5:3 = {pwl}); the "
                 f"processor supports {', '.join(f'{a + 1}-level' for a in allowed) or 'no'} walks",
                 ("EPT_POINTER",))


@check("CTL-EPTP-AD")
def _eptp_ad(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & ENABLE_EPT:
        return
    eptp = ctx.f["EPT_POINTER"]
    if eptp & EPTP_AD and not EPT_VPID_CAP["ad_flags"].get(ctx.cap("IA32_VMX_EPT_VPID_CAP")):
        ctx.fail(rule, f"EPT_POINTER = {eptp:#x} enables accessed and dirty flags (bit 6) but "
                 "IA32_VMX_EPT_VPID_CAP[21] is 0", ("EPT_POINTER",))


@check("CTL-EPTP-RSVD")
def _eptp_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & ENABLE_EPT:
        return
    eptp = ctx.f["EPT_POINTER"]
    reserved = EPTP_RESERVED_11_8
    if not EPT_VPID_CAP["sss_control"].get(ctx.cap("IA32_VMX_EPT_VPID_CAP")):
        reserved |= EPTP_SSS
    bad = eptp & reserved
    if bad:
        ctx.fail(rule, f"EPT_POINTER = {eptp:#x} sets reserved bits {', '.join(map(str, bits_of(bad)))}",
                 ("EPT_POINTER",))


@check("CTL-EPTP-MAXPHY")
def _eptp_maxphy(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & ENABLE_EPT:
        return
    eptp = ctx.f["EPT_POINTER"]
    if not ctx.phys_ok(eptp):
        ctx.fail(rule, f"EPT_POINTER = {eptp:#x} sets bits at or above MAXPHYADDR ({ctx.maxphyaddr})",
                 ("EPT_POINTER",))


def _requires_ept(ctx: EntryContext, rule: Rule, control: int, name: str) -> None:
    if ctx.proc2 & control and not ctx.proc2 & ENABLE_EPT:
        ctx.fail(rule, f"\"{name}\" is 1 but \"enable EPT\" is 0", ("SECONDARY_VM_EXEC_CONTROL",))


@check("CTL-URG-EPT")
def _urg_ept(ctx: EntryContext, rule: Rule) -> None:
    _requires_ept(ctx, rule, UNRESTRICTED_GUEST, "unrestricted guest")


@check("CTL-MBEC-EPT")
def _mbec_ept(ctx: EntryContext, rule: Rule) -> None:
    _requires_ept(ctx, rule, MBEC, "mode-based execute control for EPT")


@check("CTL-PML-EPT")
def _pml_ept(ctx: EntryContext, rule: Rule) -> None:
    _requires_ept(ctx, rule, ENABLE_PML, "enable PML")


@check("CTL-PML-ADDR")
def _pml_addr(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & ENABLE_PML:
        _page_address(ctx, rule, "enable PML", "PML_ADDRESS")


@check("CTL-VMFUNC-RSVD")
def _vmfunc_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & ENABLE_VMFUNC:
        functions = ctx.f["VM_FUNCTION_CONTROL"]
        bad = functions & ~ctx.cap("IA32_VMX_VMFUNC")
        if bad:
            ctx.fail(rule, f"VM_FUNCTION_CONTROL = {functions:#x} enables VM functions "
                     f"{', '.join(map(str, bits_of(bad)))} that IA32_VMX_VMFUNC does not allow",
                     ("VM_FUNCTION_CONTROL",))


@check("CTL-VMFUNC-EPT")
def _vmfunc_ept(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & ENABLE_VMFUNC and ctx.f["VM_FUNCTION_CONTROL"] & VMFUNC_EPTP_SWITCHING \
            and not ctx.proc2 & ENABLE_EPT:
        ctx.fail(rule, "\"EPTP switching\" is enabled but \"enable EPT\" is 0",
                 ("SECONDARY_VM_EXEC_CONTROL", "VM_FUNCTION_CONTROL"))


@check("CTL-VMFUNC-LIST-ADDR")
def _vmfunc_list(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & ENABLE_VMFUNC and ctx.f["VM_FUNCTION_CONTROL"] & VMFUNC_EPTP_SWITCHING:
        _page_address(ctx, rule, "EPTP switching", "EPTP_LIST_ADDRESS")


@check("CTL-SHADOW-BMP-ADDR")
def _shadow_bitmaps(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & VMCS_SHADOWING:
        _page_address(ctx, rule, "VMCS shadowing", "VMREAD_BITMAP")
        _page_address(ctx, rule, "VMCS shadowing", "VMWRITE_BITMAP")


@check("CTL-VE-ADDR")
def _ve_addr(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & EPT_VIOLATION_VE:
        _page_address(ctx, rule, "EPT-violation #VE", "VE_INFORMATION_ADDRESS")


@check("CTL-TSC-MULT")
def _tsc_mult(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & TSC_SCALING and ctx.f["TSC_MULTIPLIER"] == 0:
        ctx.fail(rule, "\"use TSC scaling\" is 1 but TSC_MULTIPLIER is 0", ("TSC_MULTIPLIER",))


@check("CTL-SPP")
def _spp(ctx: EntryContext, rule: Rule) -> None:
    if ctx.proc2 & SPP:
        _requires_ept(ctx, rule, SPP, "sub-page write permissions for EPT")
        _page_address(ctx, rule, "sub-page write permissions for EPT", "SPPT_POINTER")


@check("CTL-PT-GPA")
def _pt_gpa(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.proc2 & PT_USES_GPA:
        return
    missing = []
    if not ctx.proc2 & ENABLE_EPT:
        missing.append("\"enable EPT\"")
    if not ctx.entry & LOAD_RTIT_CTL:
        missing.append("VM-entry \"load IA32_RTIT_CTL\"")
    if not ctx.exit & CLEAR_RTIT_CTL:
        missing.append("VM-exit \"clear IA32_RTIT_CTL\"")
    if missing:
        ctx.fail(rule, f"\"Intel PT uses guest physical addresses\" is 1 but {', '.join(missing)} "
                 f"{'is' if len(missing) == 1 else 'are'} 0")


# -- VM-exit control fields ----------------------------------------------------------------------

@check("CTL-EXIT-RSVD")
def _exit_rsvd(ctx: EntryContext, rule: Rule) -> None:
    _allowed_settings(ctx, rule, EXIT, ctx.exit)


@check("CTL-EXIT2-RSVD")
def _exit2_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & ACTIVATE_EXIT2:
        _allowed_settings(ctx, rule, EXIT2, ctx.exit2)


@check("CTL-EXIT-PREEMPT-SAVE")
def _exit_preempt_save(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.pin & PREEMPTION_TIMER and ctx.exit & SAVE_PREEMPTION_TIMER:
        ctx.fail(rule, "\"activate VMX-preemption timer\" is 0 but \"save VMX-preemption timer value\" is 1")


def _msr_area(ctx: EntryContext, rule: Rule, count_field: str, addr_field: str) -> None:
    count = ctx.f[count_field]
    if count == 0:
        return
    address = ctx.f[addr_field]
    last = address + 16 * count - 1
    why = []
    if address & 0xF:
        why.append("is not 16-byte aligned")
    if not ctx.phys_ok(address):
        why.append(f"sets bits beyond the physical-address width ({ctx.maxphyaddr})")
    if not ctx.phys_ok(last):
        why.append(f"ends at {last:#x}, beyond the physical-address width ({ctx.maxphyaddr})")
    if BASIC["physaddr_width_32"].get(ctx.cap("IA32_VMX_BASIC")) and last >> 32:
        why.append("does not fit in 32 bits (IA32_VMX_BASIC[48] = 1)")
    if why:
        ctx.fail(rule, f"{count_field} = {count} and {addr_field} = {address:#x} {'; '.join(why)}",
                 (count_field, addr_field))


@check("CTL-EXIT-MSR-STORE")
def _exit_msr_store(ctx: EntryContext, rule: Rule) -> None:
    _msr_area(ctx, rule, "VM_EXIT_MSR_STORE_COUNT", "VM_EXIT_MSR_STORE_ADDR")


@check("CTL-EXIT-MSR-LOAD")
def _exit_msr_load(ctx: EntryContext, rule: Rule) -> None:
    _msr_area(ctx, rule, "VM_EXIT_MSR_LOAD_COUNT", "VM_EXIT_MSR_LOAD_ADDR")


# -- VM-entry control fields ---------------------------------------------------------------------

@check("CTL-ENTRY-RSVD")
def _entry_rsvd(ctx: EntryContext, rule: Rule) -> None:
    _allowed_settings(ctx, rule, ENTRY, ctx.entry)


@check("CTL-ENTRY-SMM")
def _entry_smm(ctx: EntryContext, rule: Rule) -> None:
    smm_bits = ctx.entry & (ENTRY_TO_SMM | DEACTIVATE_DUAL_MONITOR)
    if not smm_bits:
        return
    if smm_bits == ENTRY_TO_SMM | DEACTIVATE_DUAL_MONITOR:
        ctx.fail(rule, "\"entry to SMM\" and \"deactivate dual-monitor treatment\" are both 1",
                 ("VM_ENTRY_CONTROLS",))
    elif not ctx.state.cpu.in_smm:
        ctx.fail(rule, f"{', '.join(_names(ENTRY, smm_bits))} is 1 but VM entry is not from SMM "
                 "(cpu.in_smm is false)", ("VM_ENTRY_CONTROLS",))


@check("CTL-ENTRY-MSR-LOAD")
def _entry_msr_load(ctx: EntryContext, rule: Rule) -> None:
    _msr_area(ctx, rule, "VM_ENTRY_MSR_LOAD_COUNT", "VM_ENTRY_MSR_LOAD_ADDR")


def _injection(ctx: EntryContext) -> tuple[int, int, int] | None:
    """(info, type, vector) of a valid injected event, else None."""
    info = ctx.f["VM_ENTRY_INTR_INFO_FIELD"]
    if not info & INTR_INFO_VALID:
        return None
    return info, INTR_INFO["type"].get(info), INTR_INFO["vector"].get(info)


@check("CTL-EVINJ-TYPE")
def _evinj_type(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None:
        return
    info, kind, _ = event
    if kind == InterruptionType.RESERVED:
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} uses the reserved interruption type 1",
                 ("VM_ENTRY_INTR_INFO_FIELD",))
    elif kind == InterruptionType.OTHER_EVENT:
        _, may1 = ctx.allowed(PROC)
        if not may1 & MONITOR_TRAP_FLAG:
            ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} injects type 7 (other event) but the "
                     "processor does not support the 1-setting of \"monitor trap flag\"",
                     ("VM_ENTRY_INTR_INFO_FIELD",))


@check("CTL-EVINJ-VEC")
def _evinj_vec(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None:
        return
    info, kind, vector = event
    if kind == InterruptionType.NMI and vector != NMI_VECTOR:
        ctx.fail(rule, f"an injected NMI must use vector 2, VM_ENTRY_INTR_INFO_FIELD = {info:#x} has {vector}",
                 ("VM_ENTRY_INTR_INFO_FIELD",))
    elif kind == InterruptionType.HARDWARE_EXCEPTION and vector > 31:
        ctx.fail(rule, f"an injected hardware exception must use a vector up to 31, "
                 f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} has {vector}", ("VM_ENTRY_INTR_INFO_FIELD",))
    elif kind == InterruptionType.OTHER_EVENT and vector != 0:
        ctx.fail(rule, f"an injected \"other event\" must use vector 0, VM_ENTRY_INTR_INFO_FIELD = {info:#x} "
                 f"has {vector}", ("VM_ENTRY_INTR_INFO_FIELD",))


@check("CTL-EVINJ-ERRCODE")
def _evinj_errcode(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None:
        return
    info, kind, vector = event
    delivers = bool(info & INTR_INFO_DELIVER_ERROR_CODE)
    if BASIC["no_hw_errcode_cc"].get(ctx.cap("IA32_VMX_BASIC")):
        if delivers and kind != InterruptionType.HARDWARE_EXCEPTION:
            ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} delivers an error code with interruption "
                     f"type {kind}; only hardware exceptions may", ("VM_ENTRY_INTR_INFO_FIELD",))
        return
    vectors = set(ERROR_CODE_VECTORS)
    # #CP pushes an error code on processors with CET; such a processor is the one whose VM-exit
    # capability allows "load CET state".
    if ctx.allowed(EXIT)[1] & EXIT_LOAD_CET:
        vectors.add(CET_ERROR_CODE_VECTOR)
    protected = not ctx.proc2 & UNRESTRICTED_GUEST or bool(ctx.f["GUEST_CR0"] & CR0_PE)
    should = kind == InterruptionType.HARDWARE_EXCEPTION and vector in vectors and protected
    if delivers != should:
        if should:
            why = f"hardware exception {vector} delivers an error code in protected mode"
        elif kind != InterruptionType.HARDWARE_EXCEPTION:
            why = f"interruption type {kind} never delivers an error code"
        elif vector not in vectors:
            why = f"exception {vector} does not push an error code"
        else:
            why = "an unrestricted guest with CR0.PE = 0 takes exceptions without error codes"
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} has \"deliver error code\" = {int(delivers)} "
                 f"but must have {int(should)}: {why}", ("VM_ENTRY_INTR_INFO_FIELD",))


@check("CTL-EVINJ-ERRCODE-RSVD")
def _evinj_errcode_rsvd(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None or not event[0] & INTR_INFO_DELIVER_ERROR_CODE:
        return
    code = ctx.f["VM_ENTRY_EXCEPTION_ERROR_CODE"]
    if code & mask(16, 31):
        ctx.fail(rule, f"VM_ENTRY_EXCEPTION_ERROR_CODE = {code:#x} sets bits 31:16",
                 ("VM_ENTRY_INTR_INFO_FIELD", "VM_ENTRY_EXCEPTION_ERROR_CODE"))


@check("CTL-EVINJ-RSVD")
def _evinj_rsvd(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is not None and event[0] & INTR_INFO_RESERVED:
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {event[0]:#x} sets reserved bits 30:12",
                 ("VM_ENTRY_INTR_INFO_FIELD",))


@check("CTL-EVINJ-ILEN")
def _evinj_ilen(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None or event[1] not in SOFTWARE_EVENT_TYPES:
        return
    length = ctx.f["VM_ENTRY_INSTRUCTION_LEN"]
    if length > MAX_INSTRUCTION_LENGTH:
        ctx.fail(rule, f"VM_ENTRY_INSTRUCTION_LEN = {length} is greater than 15",
                 ("VM_ENTRY_INTR_INFO_FIELD", "VM_ENTRY_INSTRUCTION_LEN"))
    elif length == 0 and not MISC["zero_len_injection"].get(ctx.cap("IA32_VMX_MISC")):
        ctx.fail(rule, "VM_ENTRY_INSTRUCTION_LEN is 0 but IA32_VMX_MISC[30] (zero-length injection) is 0",
                 ("VM_ENTRY_INTR_INFO_FIELD", "VM_ENTRY_INSTRUCTION_LEN"))
