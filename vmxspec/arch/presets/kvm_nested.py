"""``kvm_nested_default``: what KVM advertises to an L1 hypervisor when L0 runs on skylake_server.

The values are *derived*, not typed in: ``derive_kvm_nested`` restates, in vmxspec's own terms,
the rules by which Linux KVM builds the VMX capability MSRs it exposes to a guest (module defaults:
nested=1, ept, ept A/D, vpid, unrestricted guest, flexpriority, APICv all enabled, no SGX), and
applies them to a host preset. Restating the rules rather than the result lets a reader audit
each bit against KVM, and lets the same derivation produce the nested view of any host preset.

KVM facts used (Linux ``arch/x86/kvm/vmx/``, mainline as mirrored by ``Kingxukai/linux``
9b44fff6; names are KVM's):

* ``setup_vmcs_config``: KVM's own controls are ``(required | optional) & allowed-1 | allowed-0``
  of the host's *non-TRUE* MSRs, using the ``KVM_{REQUIRED,OPTIONAL}_VMX_*`` lists of ``vmx.h``;
  secondary controls only if "activate secondary controls" survived; "EPT-violation #VE" dropped
  (no CONFIG_KVM_INTEL_PROVE_VE); APIC-register virtualization, virtual-x2APIC mode and
  virtual-interrupt delivery dropped without "use TPR shadow"; ENCLS exiting dropped without SGX;
  posted interrupts dropped without virtual-interrupt delivery.
* ``nested_vmx_setup_{pinbased,exit,entry,cpubased,secondary}_ctls``, ``_misc_data``, ``_basic``,
  ``_cr_fixed`` and ``nested_vmx_calc_vmcs_enum_msr`` in ``nested.c``: which of those bits are
  passed through, which are emulated and always offered, which default1 bits L1 may clear.
* ``vmx_get_vmx_msr``: the non-TRUE MSRs are the TRUE ones with the default1 bits OR-ed into the
  low half; EPT_VPID_CAP is ``ept_caps | vpid_caps << 32``.
"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.arch.capabilities import BASIC, EPT_VPID_CAP, MISC, allowed0, allowed1
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.presets._model import Preset
from vmxspec.arch.presets.skylake_server import SKYLAKE_SERVER

PIN, PROC, PROC2 = ControlField.PIN, ControlField.PROC, ControlField.PROC2
EXIT, ENTRY = ControlField.EXIT, ControlField.ENTRY

# -- KVM's own use of the hardware (vmx.h KVM_REQUIRED_* / KVM_OPTIONAL_*, 64-bit host) ----------
_KVM_PIN = control_mask(PIN, "external_interrupt_exiting", "nmi_exiting", "virtual_nmis",
                        "process_posted_interrupts", "activate_vmx_preemption_timer")
_KVM_PROC = control_mask(
    PROC, "hlt_exiting", "cr3_load_exiting", "cr3_store_exiting", "unconditional_io_exiting",
    "mov_dr_exiting", "use_tsc_offsetting", "mwait_exiting", "monitor_exiting", "invlpg_exiting",
    "rdpmc_exiting", "interrupt_window_exiting", "cr8_load_exiting", "cr8_store_exiting",
    "rdtsc_exiting", "use_tpr_shadow", "use_io_bitmaps", "monitor_trap_flag", "use_msr_bitmaps",
    "nmi_window_exiting", "pause_exiting", "activate_secondary_controls", "activate_tertiary_controls")
_KVM_PROC2 = control_mask(
    PROC2, "virtualize_apic_accesses", "virtualize_x2apic_mode", "wbinvd_exiting", "enable_vpid",
    "enable_ept", "unrestricted_guest", "pause_loop_exiting", "descriptor_table_exiting",
    "enable_rdtscp", "enable_invpcid", "apic_register_virtualization", "virtual_interrupt_delivery",
    "vmcs_shadowing", "enable_xsaves_xrstors", "rdseed_exiting", "rdrand_exiting", "enable_pml",
    "use_tsc_scaling", "enable_user_wait_and_pause", "pt_uses_guest_physical_addresses",
    "conceal_vmx_from_pt", "enable_vm_functions", "vmm_bus_lock_detection", "instruction_timeout",
    "enable_encls_exiting", "ept_violation_ve")
_KVM_EXIT = control_mask(
    EXIT, "save_debug_controls", "acknowledge_interrupt_on_exit", "host_address_space_size",
    "load_ia32_perf_global_ctrl", "save_ia32_pat", "load_ia32_pat", "save_ia32_efer",
    "save_vmx_preemption_timer_value", "load_ia32_efer", "clear_ia32_bndcfgs", "conceal_vmx_from_pt",
    "clear_ia32_rtit_ctl")
_KVM_ENTRY = control_mask(
    ENTRY, "load_debug_controls", "ia32e_mode_guest", "load_ia32_perf_global_ctrl", "load_ia32_pat",
    "load_ia32_efer", "load_ia32_bndcfgs", "conceal_vmx_from_pt", "load_ia32_rtit_ctl")

# -- what nested.c passes through to L1 (when L0 has it) and what it always offers ---------------
_NESTED_PIN_PASS = control_mask(PIN, "external_interrupt_exiting", "nmi_exiting", "virtual_nmis")
_NESTED_PIN_ALWAYS = control_mask(PIN, "activate_vmx_preemption_timer")  # emulated with an hrtimer
_NESTED_EXIT_PASS = control_mask(EXIT, "host_address_space_size", "load_ia32_pat", "save_ia32_pat",
                                 "clear_ia32_bndcfgs")
_NESTED_EXIT_ALWAYS = control_mask(
    EXIT, "load_ia32_efer", "save_ia32_efer", "save_vmx_preemption_timer_value",
    "acknowledge_interrupt_on_exit", "load_ia32_perf_global_ctrl")
_NESTED_ENTRY_PASS = control_mask(ENTRY, "ia32e_mode_guest", "load_ia32_pat", "load_ia32_bndcfgs")
_NESTED_ENTRY_ALWAYS = control_mask(ENTRY, "load_ia32_efer", "load_ia32_perf_global_ctrl")
_NESTED_PROC_PASS = control_mask(
    PROC, "interrupt_window_exiting", "nmi_window_exiting", "use_tsc_offsetting", "hlt_exiting",
    "invlpg_exiting", "mwait_exiting", "cr3_load_exiting", "cr3_store_exiting", "cr8_load_exiting",
    "cr8_store_exiting", "mov_dr_exiting", "unconditional_io_exiting", "use_io_bitmaps",
    "monitor_trap_flag", "monitor_exiting", "rdpmc_exiting", "rdtsc_exiting", "pause_exiting",
    "use_tpr_shadow", "activate_secondary_controls")
_NESTED_PROC_ALWAYS = control_mask(PROC, "use_msr_bitmaps")
_NESTED_PROC2_PASS = control_mask(
    PROC2, "descriptor_table_exiting", "enable_rdtscp", "virtualize_x2apic_mode", "wbinvd_exiting",
    "apic_register_virtualization", "virtual_interrupt_delivery", "rdrand_exiting", "enable_invpcid",
    "enable_vm_functions", "rdseed_exiting", "enable_xsaves_xrstors", "use_tsc_scaling",
    "enable_user_wait_and_pause")
_NESTED_PROC2_ALWAYS = control_mask(PROC2, "vmcs_shadowing")  # emulated even without hardware
#: L1 may clear these default1 bits: CR3 accesses and the debug-control save/load.
_NESTED_PROC_FREE = control_mask(PROC, "cr3_load_exiting", "cr3_store_exiting")
_NESTED_EXIT_FREE = control_mask(EXIT, "save_debug_controls")
_NESTED_ENTRY_FREE = control_mask(ENTRY, "load_debug_controls")

# -- EPT/VPID capabilities (nested_vmx_setup_secondary_ctls) -------------------------------------
_NESTED_EPT_PASS = ("pwl4", "pwl5", "memtype_wb", "invept", "execute_only")
_NESTED_EPT_ALWAYS = ("invept_all_context", "invept_single_context", "pde_2m", "pdpte_1g")
_NESTED_VPID = ("invvpid", "invvpid_individual_address", "invvpid_single_context",
                "invvpid_all_context", "invvpid_single_context_retaining_globals")

#: VMCS12_REVISION and VMCS12_SIZE (vmcs12.h / KVM_STATE_NESTED_VMX_VMCS_SIZE).
VMCS12_REVISION = 0x11E5_7ED0
VMCS12_SIZE = 0x1000
#: nested_vmx_setup_misc_data: emulated preemption-timer rate.
_NESTED_TIMER_RATE = 5
#: nested_vmx_calc_vmcs_enum_msr: the highest index among vmcs12's fields is TSC_MULTIPLIER
#: (encoding 0x2032, index 0x19), so VMCS_ENUM = 0x19 << 1.
_NESTED_VMCS_ENUM = 0x2032 >> 1 & 0x1FF
_CR0_PE, _CR0_NE, _CR0_PG = 1 << 0, 1 << 5, 1 << 31
_CR4_VMXE, _CR4_UMIP = 1 << 13, 1 << 11


def _adjust(wanted: int, msr: int) -> int:
    """KVM's adjust_vmx_controls: the wanted bits the MSR allows, plus the bits it forces."""
    return wanted & allowed1(msr) | allowed0(msr)


def _ept_bits(*names: str) -> int:
    out = 0
    for name in names:
        out |= EPT_VPID_CAP[name].mask
    return out


def derive_kvm_nested(host: Mapping[str, int], *, host_has_sgx: bool = False,
                      host_has_umip: bool = False) -> dict[str, int]:
    """The capability MSRs KVM exposes to L1 on ``host``, with KVM's default module parameters.

    ``host_has_sgx`` and ``host_has_umip`` are the two CPUID facts (outside the VMX MSRs) that the
    derivation needs: SGX decides ENCLS exiting, UMIP decides whether KVM emulates CR4.UMIP.
    """
    sec = control_mask(PROC, "activate_secondary_controls")
    proc = _adjust(_KVM_PROC, host["IA32_VMX_PROCBASED_CTLS"])
    proc2 = _adjust(_KVM_PROC2, host["IA32_VMX_PROCBASED_CTLS2"]) if proc & sec else 0
    proc2 &= ~control_mask(PROC2, "ept_violation_ve")
    if not proc & control_mask(PROC, "use_tpr_shadow"):
        proc2 &= ~control_mask(PROC2, "apic_register_virtualization", "virtualize_x2apic_mode",
                               "virtual_interrupt_delivery")
    if not host_has_sgx:
        proc2 &= ~control_mask(PROC2, "enable_encls_exiting")
    pin = _adjust(_KVM_PIN, host["IA32_VMX_PINBASED_CTLS"])
    if not proc2 & control_mask(PROC2, "virtual_interrupt_delivery"):
        pin &= ~control_mask(PIN, "process_posted_interrupts")
    exit_ = _adjust(_KVM_EXIT, host["IA32_VMX_EXIT_CTLS"])
    entry = _adjust(_KVM_ENTRY, host["IA32_VMX_ENTRY_CTLS"])

    # vmx_hardware_setup: which module parameters survive on this host.
    ept_cap = host.get("IA32_VMX_EPT_VPID_CAP", 0)
    enable_ept = (bool(proc2 & control_mask(PROC2, "enable_ept"))
                  and ept_cap & _ept_bits("pwl4", "memtype_wb", "invept_all_context")
                  == _ept_bits("pwl4", "memtype_wb", "invept_all_context"))
    enable_ept_ad = enable_ept and bool(ept_cap & EPT_VPID_CAP["ad_flags"].mask)
    enable_vpid = (bool(proc2 & control_mask(PROC2, "enable_vpid"))
                   and bool(ept_cap & EPT_VPID_CAP["invvpid"].mask)
                   and bool(ept_cap & _ept_bits("invvpid_single_context", "invvpid_all_context")))
    unrestricted = enable_ept and bool(proc2 & control_mask(PROC2, "unrestricted_guest"))
    flexpriority = (bool(proc & control_mask(PROC, "use_tpr_shadow"))
                    and bool(proc2 & control_mask(PROC2, "virtualize_apic_accesses")))
    apicv_bits = control_mask(PROC2, "apic_register_virtualization", "virtual_interrupt_delivery")
    apicv = proc2 & apicv_bits == apicv_bits and bool(pin & control_mask(PIN, "process_posted_interrupts"))
    vmfunc = bool(proc2 & control_mask(PROC2, "enable_vm_functions"))

    pin_hi = pin & (_NESTED_PIN_PASS | (control_mask(PIN, "process_posted_interrupts") if apicv else 0))
    pin_hi |= PIN.default1 | _NESTED_PIN_ALWAYS
    pin_lo = PIN.default1
    exit_hi = exit_ & _NESTED_EXIT_PASS | EXIT.default1 | _NESTED_EXIT_ALWAYS
    exit_lo = EXIT.default1 & ~_NESTED_EXIT_FREE
    entry_hi = entry & _NESTED_ENTRY_PASS | ENTRY.default1 | _NESTED_ENTRY_ALWAYS
    entry_lo = ENTRY.default1 & ~_NESTED_ENTRY_FREE
    proc_hi = proc & _NESTED_PROC_PASS | PROC.default1 | _NESTED_PROC_ALWAYS
    proc_lo = PROC.default1 & ~_NESTED_PROC_FREE

    proc2_hi = proc2 & _NESTED_PROC2_PASS | _NESTED_PROC2_ALWAYS
    ept_caps = 0
    vmfunc_caps = 0
    if enable_ept:
        proc2_hi |= control_mask(PROC2, "enable_ept")
        ept_caps = ept_cap & _ept_bits(*_NESTED_EPT_PASS) | _ept_bits(*_NESTED_EPT_ALWAYS)
        if enable_ept_ad:
            proc2_hi |= control_mask(PROC2, "enable_pml")
            ept_caps |= EPT_VPID_CAP["ad_flags"].mask
        if vmfunc:
            vmfunc_caps = 1  # EPTP switching, emulated
    if enable_vpid:
        proc2_hi |= control_mask(PROC2, "enable_vpid")
        ept_caps |= _ept_bits(*_NESTED_VPID)
    if unrestricted:
        proc2_hi |= control_mask(PROC2, "unrestricted_guest")
    if flexpriority:
        proc2_hi |= control_mask(PROC2, "virtualize_apic_accesses")
    if host_has_sgx:
        proc2_hi |= control_mask(PROC2, "enable_encls_exiting")

    misc = host["IA32_VMX_MISC"] & MISC["store_lma"].mask
    misc |= (MISC["vmwrite_any_field"].mask | _NESTED_TIMER_RATE | MISC["activity_hlt"].mask
             | MISC["activity_wait_sipi"].mask)
    basic = (VMCS12_REVISION | VMCS12_SIZE << BASIC["vmcs_size"].lsb | 6 << BASIC["vmcs_memtype"].lsb
             | BASIC["true_ctls"].mask | host["IA32_VMX_BASIC"] & BASIC["ins_outs_info"].mask)
    cr4_fixed1 = host["IA32_VMX_CR4_FIXED1"]
    if not host_has_umip and proc2 & control_mask(PROC2, "descriptor_table_exiting"):
        cr4_fixed1 |= _CR4_UMIP

    caps = {
        "IA32_VMX_BASIC": basic,
        "IA32_VMX_PINBASED_CTLS": pin_hi << 32 | pin_lo | PIN.default1,
        "IA32_VMX_PROCBASED_CTLS": proc_hi << 32 | proc_lo | PROC.default1,
        "IA32_VMX_EXIT_CTLS": exit_hi << 32 | exit_lo | EXIT.default1,
        "IA32_VMX_ENTRY_CTLS": entry_hi << 32 | entry_lo | ENTRY.default1,
        "IA32_VMX_MISC": misc,
        "IA32_VMX_CR0_FIXED0": _CR0_PE | _CR0_PG | _CR0_NE,
        "IA32_VMX_CR0_FIXED1": host["IA32_VMX_CR0_FIXED1"],
        "IA32_VMX_CR4_FIXED0": _CR4_VMXE,
        "IA32_VMX_CR4_FIXED1": cr4_fixed1,
        "IA32_VMX_VMCS_ENUM": _NESTED_VMCS_ENUM << 1,
        "IA32_VMX_PROCBASED_CTLS2": proc2_hi << 32,
        "IA32_VMX_TRUE_PINBASED_CTLS": pin_hi << 32 | pin_lo,
        "IA32_VMX_TRUE_PROCBASED_CTLS": proc_hi << 32 | proc_lo,
        "IA32_VMX_TRUE_EXIT_CTLS": exit_hi << 32 | exit_lo,
        "IA32_VMX_TRUE_ENTRY_CTLS": entry_hi << 32 | entry_lo,
    }
    if ept_caps:
        caps["IA32_VMX_EPT_VPID_CAP"] = ept_caps
    if vmfunc_caps:
        caps["IA32_VMX_VMFUNC"] = vmfunc_caps
    return caps


SOURCES = """\
DERIVED by derive_kvm_nested() from the skylake_server preset, i.e. from KVM's rules, not read
from a running KVM. KVM version: mainline nested.c / vmx.c / vmx.h as mirrored by Kingxukai/linux
9b44fff6 (before nested tertiary controls, nested CET and nested FRED; on this host those would add
nothing anyway, because skylake_server has no tertiary controls, CET or FRED). Module parameters
are the defaults (nested, ept, enable_ept_ad_bits, vpid, unrestricted_guest, flexpriority,
enable_apicv all on); the host has no SGX and no UMIP (Skylake-SP). These are the values KVM keeps
in vmcs_config.nested and reports for the VMX feature MSRs (KVM_GET_MSRS on /dev/kvm); KVM refines
a few per vCPU after KVM_SET_CPUID2 (CR4_FIXED1 from the guest CPUID, the BNDCFGS controls from
guest MPX), which this preset does not model.

IA32_VMX_BASIC 0x00d8100011e57ed0: VMCS12_REVISION 0x11e57ed0, VMCS12_SIZE 0x1000, WB, INS/OUTS
  information (host bit 54), TRUE controls (bit 55); no dual-monitor (49), bit 56 = 0.
PINBASED / TRUE 0x000000ff00000016: external-interrupt, NMI, virtual NMIs and (APICv) posted
  interrupts from the host; the preemption timer is always offered (emulated).
PROCBASED 0xfff9fffe0401e172 / TRUE 0xfff9fffe04006172: every primary control the host has
  except tertiary controls (17); L1 may clear CR3-load/store exiting; MSR bitmaps always offered.
EXIT 0x00ffffff00036dff / TRUE 0x00ffffff00036dfb: bits 0-23; bit 2 free; host address-space size, save/load
  PAT, clear BNDCFGS from the host; load/save EFER, save preemption timer, acknowledge interrupt,
  load PERF_GLOBAL_CTRL always; no PT, CET or secondary controls (so no EXIT_CTLS2).
ENTRY 0x0001f3ff000011ff / TRUE 0x0001f3ff000011fb: bit 2 free; IA-32e mode guest, load PAT,
  load BNDCFGS from the host; load EFER and PERF_GLOBAL_CTRL always; no entry to SMM (10),
  dual-monitor (11) or PT (17, 18).
PROCBASED_CTLS2 0x02137bff00000000: descriptor-table exiting, RDTSCP, virtual x2APIC, WBINVD,
  APIC-register virtualization, virtual-interrupt delivery, RDRAND, INVPCID, VM functions, RDSEED,
  XSAVES, TSC scaling from the host; VMCS shadowing always; EPT, PML (EPT A/D), VPID,
  unrestricted guest and APIC-access virtualization (flexpriority) by module parameter. Not
  offered: PAUSE-loop exiting (10), ENCLS (15, no SGX), EPT-violation #VE (18), PT (19, 24),
  MBEC (22).
EPT_VPID_CAP 0x00000f0106334041: execute-only, 4-level walks, WB only (no UC memtype, bit 8),
  INVEPT single/all context, 2M/1G pages, A/D; no 5-level walks (host has none), no advanced
  EPT-violation information (22); INVVPID with all four types.
VMFUNC 0x1: EPTP switching, emulated whenever the host has VM functions.
MISC 0x20000165: timer rate 5, store LMA (from host), HLT and wait-for-SIPI activity states,
  VMWRITE to any field; 0 CR3 targets, no shutdown activity state, no zero-length injection
  (bit 30), MSEG revision 0.
CR0_FIXED0 0x80000021 (PE, NE, PG), CR4_FIXED0 0x2000 (VMXE); CR0_FIXED1 and CR4_FIXED1 are the
  host's, CR4_FIXED1 plus UMIP (0x776fff) because KVM emulates UMIP via descriptor-table exiting.
VMCS_ENUM 0x32: highest vmcs12 field index 0x19 (TSC_MULTIPLIER).
PROCBASED_CTLS3 and EXIT_CTLS2 absent.
MAXPHYADDR 46 and MAXLINADDR 48: the host's widths, which a VMM passing host CPUID through gives L1.
"""

KVM_NESTED_DEFAULT = Preset(
    name="kvm_nested_default",
    title="What KVM (default parameters) advertises to an L1 hypervisor on skylake_server",
    description=(
        "The VMX capability MSRs an L1 hypervisor reads inside a KVM guest on the skylake_server "
        "host: nested EPT (WB only, A/D) and VPID, VMCS shadowing, emulated preemption timer and "
        "EPTP switching; no CR3-target values, no zero-length injection, no UC EPT memory type, "
        "no PAUSE-loop exiting, no tertiary controls."
    ),
    sources=SOURCES,
    caps=derive_kvm_nested(SKYLAKE_SERVER.caps),
    maxphyaddr=SKYLAKE_SERVER.maxphyaddr,
    maxlinaddr=SKYLAKE_SERVER.maxlinaddr,
)
