"""SDM "Checks on the Guest State Area": control and debug registers and MSRs, segment registers,
descriptor-table registers, RIP/RFLAGS/SSP, non-register state, and the PAE PDPTEs.

Each function is one rule of ``arch/rules/vmentry_guest.py``; read them next to the SDM subsection
of the same title. A failure here is a failed VM entry: exit reason 33 (bit 31 set), with exit
qualification 2 for the PDPTEs and 4 for the VMCS link pointer.

"The guest will be virtual-8086" means RFLAGS.VM = 1 in the RFLAGS field, and "usable" means bit 16
of a segment's access rights is 0, as in the SDM. Each check reads only the fields it needs under
its own conditions.
"""

from __future__ import annotations

from collections.abc import Iterator

from vmxspec.arch.bitfields import Layout, bits_of
from vmxspec.arch.capabilities import BASIC, MISC
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.events import EXCEPTION_MNEMONICS, INTR_INFO, INTR_INFO_VALID, InterruptionType
from vmxspec.arch.guest_state import (
    ACTIVITY_ALLOWED_EVENTS,
    ACTIVITY_STATE_MISC_BIT,
    AR_DB,
    AR_DPL,
    AR_G,
    AR_L,
    AR_P,
    AR_RESERVED,
    AR_S,
    AR_TYPE,
    AR_UNUSABLE,
    AR_VIRTUAL_8086,
    BLOCK_MOV_SS,
    BLOCK_NMI,
    BLOCK_SMI,
    BLOCK_STI,
    CS_CODE_TYPES,
    CS_CONFORMING_TYPES,
    CS_NONCONFORMING_TYPES,
    DTR_LIMIT_RESERVED,
    ENCLAVE_INTERRUPTION,
    INTERRUPTIBILITY_RESERVED,
    LIMIT_HIGH_12,
    LIMIT_LOW_12,
    PAE_CR3_PDPT,
    PDPTE_COUNT,
    PDPTE_P,
    PDPTE_RESERVED_LOW,
    PDPTE_SIZE,
    PENDING_DEBUG_BS,
    PENDING_DEBUG_ENABLED_BP,
    PENDING_DEBUG_RESERVED,
    PENDING_DEBUG_RTM,
    PENDING_DEBUG_RTM_ZERO,
    SS_TYPES,
    TYPE_ACCESSED,
    TYPE_CODE,
    TYPE_DATA_RW_ACCESSED,
    TYPE_LDT,
    TYPE_MAX_DATA_OR_NONCONFORMING,
    TYPE_READABLE_OR_WRITABLE,
    TYPE_TSS16_BUSY,
    TYPE_TSS_BUSY,
    V86_BASE_SHIFT,
    V86_LIMIT,
    VMCS_HEADER_REVISION,
    VMCS_HEADER_SHADOW,
    VMCS_LINK_NONE,
    ActivityState,
)
from vmxspec.arch.msrs import SPEC_CTRL_DEFINED
from vmxspec.arch.registers import (
    BNDCFGS_BASE,
    BNDCFGS_RESERVED,
    CR0,
    CR0_ENTRY_UNCHECKED,
    CR0_PE,
    CR0_PG,
    CR0_UNRESTRICTED_EXEMPT,
    CR0_WP,
    CR3_LAM_U48,
    CR3_LAM_U57,
    CR4,
    CR4_CET,
    CR4_FRED,
    CR4_LAM_SUP,
    CR4_PAE,
    CR4_PCIDE,
    DEBUGCTL_BTF,
    DEBUGCTL_RESERVED,
    DR7_RESERVED_HIGH,
    EFER_LMA,
    EFER_LME,
    EFER_RESERVED,
    FRED_CONFIG_ENTRY,
    FRED_CONFIG_RESERVED,
    FRED_RSP_RESERVED_LOW,
    FRED_SSP_RESERVED_LOW,
    LBR_CTL_RESERVED,
    PERF_GLOBAL_CTRL_RESERVED,
    PKRS_RESERVED,
    RFLAGS_FIXED1,
    RFLAGS_IF,
    RFLAGS_IOPL,
    RFLAGS_RESERVED,
    RFLAGS_TF,
    RFLAGS_VM,
    RTIT_CTL_RESERVED,
    S_CET_RESERVED,
    S_CET_SUPPRESS,
    S_CET_TRACKER,
    SELECTOR_RPL,
    SELECTOR_TI,
    SSP_RESERVED_LOW,
    UINV_RESERVED,
    UPPER32,
    pat_invalid_entries,
)
from vmxspec.arch.rules import Rule
from vmxspec.interp.vmentry.context import EntryContext
from vmxspec.interp.vmentry.registry import check

PIN, PROC2, ENTRY = ControlField.PIN, ControlField.PROC2, ControlField.ENTRY

VIRTUAL_NMIS = control_mask(PIN, "virtual_nmis")
ENABLE_EPT = control_mask(PROC2, "enable_ept")
UNRESTRICTED_GUEST = control_mask(PROC2, "unrestricted_guest")
VMCS_SHADOWING = control_mask(PROC2, "vmcs_shadowing")

LOAD_DEBUG_CONTROLS = control_mask(ENTRY, "load_debug_controls")
IA32E_MODE_GUEST = control_mask(ENTRY, "ia32e_mode_guest")
ENTRY_TO_SMM = control_mask(ENTRY, "entry_to_smm")
LOAD_PERF_GLOBAL_CTRL = control_mask(ENTRY, "load_ia32_perf_global_ctrl")
LOAD_PAT = control_mask(ENTRY, "load_ia32_pat")
LOAD_EFER = control_mask(ENTRY, "load_ia32_efer")
LOAD_BNDCFGS = control_mask(ENTRY, "load_ia32_bndcfgs")
LOAD_RTIT_CTL = control_mask(ENTRY, "load_ia32_rtit_ctl")
LOAD_UINV = control_mask(ENTRY, "load_uinv")
LOAD_CET = control_mask(ENTRY, "load_cet_state")
LOAD_LBR_CTL = control_mask(ENTRY, "load_guest_ia32_lbr_ctl")
LOAD_PKRS = control_mask(ENTRY, "load_pkrs")
LOAD_FRED = control_mask(ENTRY, "load_ia32_fred")
LOAD_SPEC_CTRL = control_mask(ENTRY, "load_ia32_spec_ctrl")

_MASK64 = 0xFFFF_FFFF_FFFF_FFFF

#: The IA32_VMX_MISC bit that advertises each inactive activity state.
MISC_BIT: dict[ActivityState, int] = {state: MISC[name].lsb for state, name in ACTIVITY_STATE_MISC_BIT.items()}

#: The six code and data segment registers, in the SDM's order; then the system ones.
CODE_DATA_SEGMENTS = ("CS", "SS", "DS", "ES", "FS", "GS")
DATA_SEGMENTS = ("DS", "ES", "FS", "GS")


# -- small readers and predicates ----------------------------------------------------------------

def _seg(seg: str, part: str) -> str:
    """VMCS field name of a guest segment register part: SELECTOR, BASE, LIMIT or AR_BYTES."""
    return f"GUEST_{seg}_{part}"


def _ar(ctx: EntryContext, seg: str) -> int:
    return ctx.f[_seg(seg, "AR_BYTES")]


def _usable(ar: int) -> bool:
    return not ar & AR_UNUSABLE


def _type(ar: int) -> int:
    return ar & AR_TYPE


def _dpl(ar: int) -> int:
    return AR_DPL.get(ar)


def _v86(ctx: EntryContext) -> bool:
    """The guest will be virtual-8086: RFLAGS.VM = 1 in the RFLAGS field."""
    return bool(ctx.f["GUEST_RFLAGS"] & RFLAGS_VM)


def _ia32e(ctx: EntryContext) -> bool:
    return bool(ctx.entry & IA32E_MODE_GUEST)


def _unrestricted(ctx: EntryContext) -> bool:
    return bool(ctx.proc2 & UNRESTRICTED_GUEST)


def _cs_long(ctx: EntryContext) -> bool:
    """The guest will be in 64-bit mode: IA-32e mode guest and CS.L = 1."""
    return _ia32e(ctx) and bool(_ar(ctx, "CS") & AR_L)


def _checked_segments(ctx: EntryContext) -> Iterator[tuple[str, int]]:
    """CS, and each of SS, DS, ES, FS, GS that is usable, with its access rights."""
    for seg in CODE_DATA_SEGMENTS:
        ar = _ar(ctx, seg)
        if seg == "CS" or _usable(ar):
            yield seg, ar


def _upper_identical(ctx: EntryContext, value: int) -> bool:
    """Bits 63:N identical, N being the linear-address width (weaker than canonical: 63:N-1)."""
    n = ctx.maxlinaddr
    top = value >> n
    return top == 0 or top == _MASK64 >> n


def _names(layout: Layout, bits: int) -> str:
    named = {f.lsb: f.name for f in layout if f.width == 1}
    return ", ".join(named.get(b, f"bit {b}") for b in bits_of(bits))


def _bits(value: int) -> str:
    return ", ".join(str(b) for b in bits_of(value))


def _injection(ctx: EntryContext) -> tuple[int, int, int] | None:
    """(info, interruption type, vector) of a valid injected event, else None."""
    info = ctx.f["VM_ENTRY_INTR_INFO_FIELD"]
    if not info & INTR_INFO_VALID:
        return None
    return info, INTR_INFO["type"].get(info), INTR_INFO["vector"].get(info)


def _event_name(kind: int, vector: int) -> str:
    if kind == InterruptionType.HARDWARE_EXCEPTION:
        return f"hardware exception {EXCEPTION_MNEMONICS.get(vector, str(vector))} (vector {vector})"
    if kind == InterruptionType.OTHER_EVENT:
        return f"other event (vector {vector})"
    return f"{InterruptionType(kind).name.lower().replace('_', ' ')} (vector {vector})"


def _activity_name(state: int) -> str:
    try:
        return ActivityState(state).name.lower().replace("_", "-")
    except ValueError:
        return f"undefined state {state}"


# -- Checks on Guest Control Registers, Debug Registers, and MSRs ----------------------------------

def _fixed_bits(ctx: EntryContext, rule: Rule, field: str, layout: Layout, fixed0_msr: str,
                fixed1_msr: str, exempt: int, why_exempt: str) -> None:
    value = ctx.f[field]
    fixed0, fixed1 = ctx.cap(fixed0_msr), ctx.cap(fixed1_msr)
    must1 = fixed0 & ~exempt & ~value
    must0 = value & ~fixed1 & ~exempt & _MASK64
    if not must1 and not must0:
        return
    parts = []
    if must1:
        parts.append(f"{_names(layout, must1)} must be 1 ({fixed0_msr} = {fixed0:#x})")
    if must0:
        parts.append(f"{_names(layout, must0)} must be 0 ({fixed1_msr} = {fixed1:#x})")
    ctx.fail(rule, f"{field} = {value:#x}: {'; '.join(parts)}{why_exempt}", (field,),
             fixed0=fixed0, fixed1=fixed1)


@check("GUEST-CR0-FIXED")
def _cr0_fixed(ctx: EntryContext, rule: Rule) -> None:
    exempt = CR0_ENTRY_UNCHECKED
    note = " (NW and CD are not checked"
    if _unrestricted(ctx):
        exempt |= CR0_UNRESTRICTED_EXEMPT
        note += "; PE and PG are not checked because \"unrestricted guest\" is 1"
    _fixed_bits(ctx, rule, "GUEST_CR0", CR0, "IA32_VMX_CR0_FIXED0", "IA32_VMX_CR0_FIXED1", exempt, note + ")")


@check("GUEST-CR0-PG-PE")
def _cr0_pg_pe(ctx: EntryContext, rule: Rule) -> None:
    cr0 = ctx.f["GUEST_CR0"]
    if cr0 & CR0_PG and not cr0 & CR0_PE:
        ctx.fail(rule, f"GUEST_CR0 = {cr0:#x} sets PG (bit 31) but not PE (bit 0); paging requires protected "
                 "mode", ("GUEST_CR0",))


@check("GUEST-CR4-FIXED")
def _cr4_fixed(ctx: EntryContext, rule: Rule) -> None:
    _fixed_bits(ctx, rule, "GUEST_CR4", CR4, "IA32_VMX_CR4_FIXED0", "IA32_VMX_CR4_FIXED1", 0, "")


@check("GUEST-CR4-CET-WP")
def _cr4_cet_wp(ctx: EntryContext, rule: Rule) -> None:
    cr4 = ctx.f["GUEST_CR4"]
    if cr4 & CR4_CET:
        cr0 = ctx.f["GUEST_CR0"]
        if not cr0 & CR0_WP:
            ctx.fail(rule, f"GUEST_CR4 = {cr4:#x} sets CET (bit 23) but GUEST_CR0 = {cr0:#x} has WP (bit 16) = 0; "
                     "CR4.CET requires CR0.WP = 1", ("GUEST_CR4", "GUEST_CR0"))


@check("GUEST-DEBUGCTL-RSVD")
def _debugctl_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_DEBUG_CONTROLS:
        debugctl = ctx.f["GUEST_IA32_DEBUGCTL"]
        bad = debugctl & DEBUGCTL_RESERVED
        if bad:
            ctx.fail(rule, f"\"load debug controls\" is 1 and GUEST_IA32_DEBUGCTL = {debugctl:#x} sets reserved "
                     f"bits {_bits(bad)} (bits 5:2 and 63:16 must be 0)", ("GUEST_IA32_DEBUGCTL",))


@check("GUEST-IA32E-PG-PAE")
def _ia32e_pg_pae(ctx: EntryContext, rule: Rule) -> None:
    if not _ia32e(ctx):
        return
    cr0, cr4 = ctx.f["GUEST_CR0"], ctx.f["GUEST_CR4"]
    if not cr0 & CR0_PG:
        ctx.fail(rule, f"\"IA-32e mode guest\" is 1 but GUEST_CR0 = {cr0:#x} has PG (bit 31) = 0",
                 ("VM_ENTRY_CONTROLS", "GUEST_CR0"))
    if not cr4 & CR4_PAE:
        ctx.fail(rule, f"\"IA-32e mode guest\" is 1 but GUEST_CR4 = {cr4:#x} has PAE (bit 5) = 0",
                 ("VM_ENTRY_CONTROLS", "GUEST_CR4"))


@check("GUEST-CR4-PCIDE")
def _cr4_pcide(ctx: EntryContext, rule: Rule) -> None:
    if not _ia32e(ctx):
        cr4 = ctx.f["GUEST_CR4"]
        if cr4 & CR4_PCIDE:
            ctx.fail(rule, f"\"IA-32e mode guest\" is 0 but GUEST_CR4 = {cr4:#x} sets PCIDE (bit 17); PCIDs "
                     "exist only in IA-32e mode", ("VM_ENTRY_CONTROLS", "GUEST_CR4"))


@check("GUEST-CR3-MAXPHY")
def _cr3_maxphy(ctx: EntryContext, rule: Rule) -> None:
    cr3 = ctx.f["GUEST_CR3"]
    address, note = cr3, ""
    if cr3 & (CR3_LAM_U48 | CR3_LAM_U57):
        if ctx.cap("IA32_VMX_CR4_FIXED1") & CR4_LAM_SUP:
            address &= ~(CR3_LAM_U48 | CR3_LAM_U57)
        else:
            note = "; bits 62:61 may be 1 only on a processor with linear-address masking"
    bad = address >> ctx.cr3_width << ctx.cr3_width
    if bad:
        ctx.fail(rule, f"GUEST_CR3 = {cr3:#x} sets bits {_bits(bad)}, at or beyond the physical-address width "
                 f"({ctx.cr3_width}){note}", ("GUEST_CR3",))


@check("GUEST-DR7-HIGH")
def _dr7_high(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_DEBUG_CONTROLS:
        dr7 = ctx.f["GUEST_DR7"]
        if dr7 & DR7_RESERVED_HIGH:
            ctx.fail(rule, f"\"load debug controls\" is 1 and GUEST_DR7 = {dr7:#x} sets bits 63:32, which must "
                     "be 0", ("GUEST_DR7",))


@check("GUEST-SYSENTER-CANONICAL")
def _sysenter(ctx: EntryContext, rule: Rule) -> None:
    for field in ("GUEST_SYSENTER_ESP", "GUEST_SYSENTER_EIP"):
        value = ctx.f[field]
        if not ctx.canonical(value):
            ctx.fail(rule, f"{field} = {value:#x} is not canonical ({ctx.maxlinaddr}-bit linear addresses)",
                     (field,))


@check("GUEST-PERF-GLOBAL-RSVD")
def _perf_global(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_PERF_GLOBAL_CTRL:
        value = ctx.f["GUEST_IA32_PERF_GLOBAL_CTRL"]
        bad = value & PERF_GLOBAL_CTRL_RESERVED
        if bad:
            ctx.fail(rule, f"\"load IA32_PERF_GLOBAL_CTRL\" is 1 and GUEST_IA32_PERF_GLOBAL_CTRL = {value:#x} "
                     f"sets reserved bits {_bits(bad)} (bits 63:49 must be 0)", ("GUEST_IA32_PERF_GLOBAL_CTRL",))


@check("GUEST-PAT")
def _pat(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_PAT:
        pat = ctx.f["GUEST_IA32_PAT"]
        bad = pat_invalid_entries(pat)
        if bad:
            which = ", ".join(f"PA{i} = {t}" for i, t in bad)
            ctx.fail(rule, f"\"load IA32_PAT\" is 1 and GUEST_IA32_PAT = {pat:#018x} has invalid memory types: "
                     f"{which} (each byte must be 0, 1, 4, 5, 6 or 7)", ("GUEST_IA32_PAT",))


def _efer(ctx: EntryContext) -> int | None:
    return ctx.f["GUEST_IA32_EFER"] if ctx.entry & LOAD_EFER else None


@check("GUEST-EFER-RSVD")
def _efer_rsvd(ctx: EntryContext, rule: Rule) -> None:
    efer = _efer(ctx)
    if efer is not None and efer & EFER_RESERVED:
        ctx.fail(rule, f"\"load IA32_EFER\" is 1 and GUEST_IA32_EFER = {efer:#x} sets reserved bits "
                 f"{_bits(efer & EFER_RESERVED)} (only SCE, LME, LMA and NXE are defined)", ("GUEST_IA32_EFER",))


@check("GUEST-EFER-LMA")
def _efer_lma(ctx: EntryContext, rule: Rule) -> None:
    efer = _efer(ctx)
    if efer is None:
        return
    lma, ia32e = bool(efer & EFER_LMA), _ia32e(ctx)
    if lma != ia32e:
        ctx.fail(rule, f"\"load IA32_EFER\" is 1 and GUEST_IA32_EFER = {efer:#x} has LMA (bit 10) = {int(lma)}, "
                 f"but \"IA-32e mode guest\" is {int(ia32e)}; they must be equal",
                 ("GUEST_IA32_EFER", "VM_ENTRY_CONTROLS"))


@check("GUEST-EFER-LME")
def _efer_lme(ctx: EntryContext, rule: Rule) -> None:
    efer = _efer(ctx)
    if efer is None:
        return
    cr0 = ctx.f["GUEST_CR0"]
    lme, lma = bool(efer & EFER_LME), bool(efer & EFER_LMA)
    if cr0 & CR0_PG and lme != lma:
        ctx.fail(rule, f"\"load IA32_EFER\" is 1, GUEST_CR0 = {cr0:#x} has PG = 1 and GUEST_IA32_EFER = "
                 f"{efer:#x} has LME (bit 8) = {int(lme)} but LMA (bit 10) = {int(lma)}; with paging on they "
                 "must be equal", ("GUEST_IA32_EFER", "GUEST_CR0"))


@check("GUEST-BNDCFGS-RSVD")
def _bndcfgs_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_BNDCFGS:
        value = ctx.f["GUEST_BNDCFGS"]
        if value & BNDCFGS_RESERVED:
            ctx.fail(rule, f"\"load IA32_BNDCFGS\" is 1 and GUEST_BNDCFGS = {value:#x} sets reserved bits "
                     f"{_bits(value & BNDCFGS_RESERVED)} (bits 11:2 must be 0)", ("GUEST_BNDCFGS",))


@check("GUEST-BNDCFGS-BASE")
def _bndcfgs_base(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_BNDCFGS:
        value = ctx.f["GUEST_BNDCFGS"]
        base = value & BNDCFGS_BASE
        if not ctx.canonical(base):
            ctx.fail(rule, f"\"load IA32_BNDCFGS\" is 1 and the base address in GUEST_BNDCFGS = {value:#x} "
                     f"(bits 63:12 = {base:#x}) is not canonical ({ctx.maxlinaddr}-bit linear addresses)",
                     ("GUEST_BNDCFGS",))


@check("GUEST-RTIT-CTL-RSVD")
def _rtit_ctl(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_RTIT_CTL:
        value = ctx.f["GUEST_IA32_RTIT_CTL"]
        bad = value & RTIT_CTL_RESERVED
        if bad:
            ctx.fail(rule, f"\"load IA32_RTIT_CTL\" is 1 and GUEST_IA32_RTIT_CTL = {value:#x} sets reserved bits "
                     f"{_bits(bad)}", ("GUEST_IA32_RTIT_CTL",))


@check("GUEST-S-CET-RSVD")
def _s_cet_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_CET:
        value = ctx.f["GUEST_S_CET"]
        if value & S_CET_RESERVED:
            ctx.fail(rule, f"\"load CET state\" is 1 and GUEST_S_CET = {value:#x} sets reserved bits "
                     f"{_bits(value & S_CET_RESERVED)} (bits 9:6 must be 0)", ("GUEST_S_CET",))


@check("GUEST-S-CET-SUPPRESS")
def _s_cet_suppress(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_CET:
        value = ctx.f["GUEST_S_CET"]
        both = S_CET_SUPPRESS | S_CET_TRACKER
        if value & both == both:
            ctx.fail(rule, f"\"load CET state\" is 1 and GUEST_S_CET = {value:#x} sets both SUPPRESS (bit 10) and "
                     "TRACKER (bit 11)", ("GUEST_S_CET",))


@check("GUEST-INTR-SSP-TABLE")
def _ssp_table(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_CET:
        value = ctx.f["GUEST_INTR_SSP_TABLE"]
        if not ctx.canonical(value):
            ctx.fail(rule, f"\"load CET state\" is 1 and GUEST_INTR_SSP_TABLE = {value:#x} is not canonical "
                     f"({ctx.maxlinaddr}-bit linear addresses)", ("GUEST_INTR_SSP_TABLE",))


@check("GUEST-LBR-CTL-RSVD")
def _lbr_ctl(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_LBR_CTL:
        value = ctx.f["GUEST_IA32_LBR_CTL"]
        bad = value & LBR_CTL_RESERVED
        if bad:
            ctx.fail(rule, f"\"load guest IA32_LBR_CTL\" is 1 and GUEST_IA32_LBR_CTL = {value:#x} sets reserved "
                     f"bits {_bits(bad)} (bits 15:4 and 63:23 must be 0)", ("GUEST_IA32_LBR_CTL",))


@check("GUEST-PKRS-RSVD")
def _pkrs(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_PKRS:
        value = ctx.f["GUEST_IA32_PKRS"]
        if value & PKRS_RESERVED:
            ctx.fail(rule, f"\"load PKRS\" is 1 and GUEST_IA32_PKRS = {value:#x} sets bits 63:32, which must be 0",
                     ("GUEST_IA32_PKRS",))


@check("GUEST-SPEC-CTRL-RSVD")
def _spec_ctrl(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_SPEC_CTRL:
        value = ctx.f["GUEST_IA32_SPEC_CTRL"]
        bad = value & ~SPEC_CTRL_DEFINED & _MASK64
        if bad:
            ctx.fail(rule, f"\"load IA32_SPEC_CTRL\" is 1 and GUEST_IA32_SPEC_CTRL = {value:#x} sets reserved bits "
                     f"{_bits(bad)} (only bits 8:0 and 10 are defined)", ("GUEST_IA32_SPEC_CTRL",))


@check("GUEST-CR4-FRED")
def _cr4_fred(ctx: EntryContext, rule: Rule) -> None:
    if not _ia32e(ctx):
        cr4 = ctx.f["GUEST_CR4"]
        if cr4 & CR4_FRED:
            ctx.fail(rule, f"\"IA-32e mode guest\" is 0 but GUEST_CR4 = {cr4:#x} sets FRED (bit 32); FRED needs "
                     "IA-32e mode", ("VM_ENTRY_CONTROLS", "GUEST_CR4"))


@check("GUEST-FRED-CONFIG-RSVD")
def _fred_config_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_FRED:
        value = ctx.f["GUEST_IA32_FRED_CONFIG"]
        if value & FRED_CONFIG_RESERVED:
            ctx.fail(rule, f"\"load IA32_FRED\" is 1 and GUEST_IA32_FRED_CONFIG = {value:#x} sets reserved bits "
                     f"{_bits(value & FRED_CONFIG_RESERVED)} (bits 2, 5:4 and 11 must be 0)",
                     ("GUEST_IA32_FRED_CONFIG",))


@check("GUEST-FRED-CONFIG-BASE")
def _fred_config_base(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_FRED:
        value = ctx.f["GUEST_IA32_FRED_CONFIG"]
        entry = value & FRED_CONFIG_ENTRY
        if not ctx.canonical(entry):
            ctx.fail(rule, f"\"load IA32_FRED\" is 1 and the entry point in GUEST_IA32_FRED_CONFIG = {value:#x} "
                     f"(bits 63:12 = {entry:#x}) is not canonical ({ctx.maxlinaddr}-bit linear addresses)",
                     ("GUEST_IA32_FRED_CONFIG",))


_FRED_RSPS = ("GUEST_IA32_FRED_RSP1", "GUEST_IA32_FRED_RSP2", "GUEST_IA32_FRED_RSP3")
_FRED_SSPS = ("GUEST_IA32_FRED_SSP1", "GUEST_IA32_FRED_SSP2", "GUEST_IA32_FRED_SSP3")


def _fred_aligned(ctx: EntryContext, rule: Rule, fields: tuple[str, ...], low: int, size: int) -> None:
    if ctx.entry & LOAD_FRED:
        for field in fields:
            value = ctx.f[field]
            if value & low:
                ctx.fail(rule, f"\"load IA32_FRED\" is 1 and {field} = {value:#x} is not {size}-byte aligned "
                         f"(bits {low.bit_length() - 1}:0 must be 0)", (field,))


def _fred_canonical(ctx: EntryContext, rule: Rule, fields: tuple[str, ...]) -> None:
    if ctx.entry & LOAD_FRED:
        for field in fields:
            value = ctx.f[field]
            if not ctx.canonical(value):
                ctx.fail(rule, f"\"load IA32_FRED\" is 1 and {field} = {value:#x} is not canonical "
                         f"({ctx.maxlinaddr}-bit linear addresses)", (field,))


@check("GUEST-FRED-RSP-ALIGN")
def _fred_rsp_align(ctx: EntryContext, rule: Rule) -> None:
    _fred_aligned(ctx, rule, _FRED_RSPS, FRED_RSP_RESERVED_LOW, 64)


@check("GUEST-FRED-RSP-CANONICAL")
def _fred_rsp_canonical(ctx: EntryContext, rule: Rule) -> None:
    _fred_canonical(ctx, rule, _FRED_RSPS)


@check("GUEST-FRED-SSP-ALIGN")
def _fred_ssp_align(ctx: EntryContext, rule: Rule) -> None:
    _fred_aligned(ctx, rule, _FRED_SSPS, FRED_SSP_RESERVED_LOW, 8)


@check("GUEST-FRED-SSP-CANONICAL")
def _fred_ssp_canonical(ctx: EntryContext, rule: Rule) -> None:
    _fred_canonical(ctx, rule, _FRED_SSPS)


# -- Checks on Guest Segment Registers: selectors --------------------------------------------------

@check("GUEST-SEG-TR-TI")
def _tr_ti(ctx: EntryContext, rule: Rule) -> None:
    sel = ctx.f["GUEST_TR_SELECTOR"]
    if sel & SELECTOR_TI:
        ctx.fail(rule, f"GUEST_TR_SELECTOR = {sel:#06x} sets TI (bit 2); TR must select from the GDT",
                 ("GUEST_TR_SELECTOR",))


@check("GUEST-SEG-LDTR-TI")
def _ldtr_ti(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "LDTR")
    if _usable(ar):
        sel = ctx.f["GUEST_LDTR_SELECTOR"]
        if sel & SELECTOR_TI:
            ctx.fail(rule, f"LDTR is usable (GUEST_LDTR_AR_BYTES = {ar:#x}) and GUEST_LDTR_SELECTOR = {sel:#06x} "
                     "sets TI (bit 2)", ("GUEST_LDTR_SELECTOR", "GUEST_LDTR_AR_BYTES"))


@check("GUEST-SEG-SS-RPL")
def _ss_rpl(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx) or _unrestricted(ctx):
        return
    ss, cs = ctx.f["GUEST_SS_SELECTOR"], ctx.f["GUEST_CS_SELECTOR"]
    if ss & SELECTOR_RPL != cs & SELECTOR_RPL:
        ctx.fail(rule, f"\"unrestricted guest\" is 0 and GUEST_SS_SELECTOR = {ss:#06x} has RPL {ss & SELECTOR_RPL} "
                 f"but GUEST_CS_SELECTOR = {cs:#06x} has RPL {cs & SELECTOR_RPL}; they must be equal",
                 ("GUEST_SS_SELECTOR", "GUEST_CS_SELECTOR"))


# -- segment registers in virtual-8086 mode ------------------------------------------------------

@check("GUEST-SEG-V86-BASE")
def _v86_base(ctx: EntryContext, rule: Rule) -> None:
    if not _v86(ctx):
        return
    for seg in CODE_DATA_SEGMENTS:
        sel, base = ctx.f[_seg(seg, "SELECTOR")], ctx.f[_seg(seg, "BASE")]
        if base != sel << V86_BASE_SHIFT:
            ctx.fail(rule, f"the guest will be virtual-8086 (RFLAGS.VM = 1) and {_seg(seg, 'BASE')} = {base:#x}, "
                     f"but it must be {_seg(seg, 'SELECTOR')} = {sel:#06x} shifted left by 4, i.e. "
                     f"{sel << V86_BASE_SHIFT:#x}", (_seg(seg, "BASE"), _seg(seg, "SELECTOR")))


@check("GUEST-SEG-V86-LIMIT")
def _v86_limit(ctx: EntryContext, rule: Rule) -> None:
    if not _v86(ctx):
        return
    for seg in CODE_DATA_SEGMENTS:
        limit = ctx.f[_seg(seg, "LIMIT")]
        if limit != V86_LIMIT:
            ctx.fail(rule, f"the guest will be virtual-8086 (RFLAGS.VM = 1) and {_seg(seg, 'LIMIT')} = {limit:#x}, "
                     "but it must be 0xffff", (_seg(seg, "LIMIT"),))


@check("GUEST-SEG-V86-AR")
def _v86_ar(ctx: EntryContext, rule: Rule) -> None:
    if not _v86(ctx):
        return
    for seg in CODE_DATA_SEGMENTS:
        ar = _ar(ctx, seg)
        if ar != AR_VIRTUAL_8086:
            ctx.fail(rule, f"the guest will be virtual-8086 (RFLAGS.VM = 1) and {_seg(seg, 'AR_BYTES')} = {ar:#x}, "
                     "but it must be 0xf3 (type 3, S = 1, DPL = 3, P = 1)", (_seg(seg, "AR_BYTES"),))


# -- segment base addresses -----------------------------------------------------------------------

@check("GUEST-SEG-BASE-CANONICAL")
def _base_canonical(ctx: EntryContext, rule: Rule) -> None:
    for seg in ("TR", "FS", "GS"):
        base = ctx.f[_seg(seg, "BASE")]
        if not ctx.canonical(base):
            ctx.fail(rule, f"{_seg(seg, 'BASE')} = {base:#x} is not canonical ({ctx.maxlinaddr}-bit linear "
                     "addresses)", (_seg(seg, "BASE"),))


@check("GUEST-SEG-LDTR-BASE")
def _ldtr_base(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "LDTR")
    if _usable(ar):
        base = ctx.f["GUEST_LDTR_BASE"]
        if not ctx.canonical(base):
            ctx.fail(rule, f"LDTR is usable (GUEST_LDTR_AR_BYTES = {ar:#x}) and GUEST_LDTR_BASE = {base:#x} is not "
                     f"canonical ({ctx.maxlinaddr}-bit linear addresses)", ("GUEST_LDTR_BASE", "GUEST_LDTR_AR_BYTES"))


@check("GUEST-SEG-CS-BASE")
def _cs_base(ctx: EntryContext, rule: Rule) -> None:
    base = ctx.f["GUEST_CS_BASE"]
    if base & UPPER32:
        ctx.fail(rule, f"GUEST_CS_BASE = {base:#x} sets bits 63:32, which must be 0", ("GUEST_CS_BASE",))


@check("GUEST-SEG-BASE-HIGH")
def _base_high(ctx: EntryContext, rule: Rule) -> None:
    for seg in ("SS", "DS", "ES"):
        ar = _ar(ctx, seg)
        if _usable(ar):
            base = ctx.f[_seg(seg, "BASE")]
            if base & UPPER32:
                ctx.fail(rule, f"{seg} is usable ({_seg(seg, 'AR_BYTES')} = {ar:#x}) and {_seg(seg, 'BASE')} = "
                         f"{base:#x} sets bits 63:32, which must be 0", (_seg(seg, "BASE"), _seg(seg, "AR_BYTES")))


# -- access rights of CS, SS, DS, ES, FS, GS outside virtual-8086 mode ------------------------------

@check("GUEST-SEG-CS-TYPE")
def _cs_type(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    ar = _ar(ctx, "CS")
    kind = _type(ar)
    if kind in CS_CODE_TYPES:
        return
    if _unrestricted(ctx):
        if kind == TYPE_DATA_RW_ACCESSED:
            return
        allowed = "3, 9, 11, 13 or 15 (\"unrestricted guest\" is 1)"
    else:
        allowed = "9, 11, 13 or 15 (accessed code; type 3 needs \"unrestricted guest\")"
    ctx.fail(rule, f"GUEST_CS_AR_BYTES = {ar:#x} has type {kind}; CS must have type {allowed}",
             ("GUEST_CS_AR_BYTES",))


@check("GUEST-SEG-SS-TYPE")
def _ss_type(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    ar = _ar(ctx, "SS")
    if _usable(ar) and _type(ar) not in SS_TYPES:
        ctx.fail(rule, f"SS is usable and GUEST_SS_AR_BYTES = {ar:#x} has type {_type(ar)}; it must be 3 or 7 "
                 "(read/write, accessed data)", ("GUEST_SS_AR_BYTES",))


@check("GUEST-SEG-DATA-TYPE")
def _data_type(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    for seg in DATA_SEGMENTS:
        ar = _ar(ctx, seg)
        if not _usable(ar):
            continue
        kind = _type(ar)
        field = _seg(seg, "AR_BYTES")
        if not kind & TYPE_ACCESSED:
            ctx.fail(rule, f"{seg} is usable and {field} = {ar:#x} has type {kind} with the accessed bit (bit 0) "
                     "clear; it must be 1", (field,))
        if kind & TYPE_CODE and not kind & TYPE_READABLE_OR_WRITABLE:
            ctx.fail(rule, f"{seg} is usable and {field} = {ar:#x} has type {kind}, an execute-only code "
                     "segment; a code segment here must be readable (type bit 1)", (field,))


@check("GUEST-SEG-S")
def _seg_s(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    for seg, ar in _checked_segments(ctx):
        if not ar & AR_S:
            ctx.fail(rule, f"{_seg(seg, 'AR_BYTES')} = {ar:#x} has S (bit 4) = 0; {seg} must be a code or data "
                     "segment (S = 1)", (_seg(seg, "AR_BYTES"),))


@check("GUEST-SEG-CS-DPL-TYPE3")
def _cs_dpl_type3(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    ar = _ar(ctx, "CS")
    if _type(ar) == TYPE_DATA_RW_ACCESSED and _dpl(ar) != 0:
        ctx.fail(rule, f"GUEST_CS_AR_BYTES = {ar:#x} has type 3 and DPL {_dpl(ar)}; with type 3 the DPL must be 0",
                 ("GUEST_CS_AR_BYTES",))


@check("GUEST-SEG-CS-DPL-NONCONF")
def _cs_dpl_nonconf(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    cs = _ar(ctx, "CS")
    if _type(cs) in CS_NONCONFORMING_TYPES:
        ss = _ar(ctx, "SS")
        if _dpl(cs) != _dpl(ss):
            ctx.fail(rule, f"GUEST_CS_AR_BYTES = {cs:#x} is a non-conforming code segment (type {_type(cs)}) with "
                     f"DPL {_dpl(cs)}, but GUEST_SS_AR_BYTES = {ss:#x} has DPL {_dpl(ss)}; they must be equal",
                     ("GUEST_CS_AR_BYTES", "GUEST_SS_AR_BYTES"))


@check("GUEST-SEG-CS-DPL-CONF")
def _cs_dpl_conf(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    cs = _ar(ctx, "CS")
    if _type(cs) in CS_CONFORMING_TYPES:
        ss = _ar(ctx, "SS")
        if _dpl(cs) > _dpl(ss):
            ctx.fail(rule, f"GUEST_CS_AR_BYTES = {cs:#x} is a conforming code segment (type {_type(cs)}) with DPL "
                     f"{_dpl(cs)}, greater than the DPL {_dpl(ss)} of GUEST_SS_AR_BYTES = {ss:#x}",
                     ("GUEST_CS_AR_BYTES", "GUEST_SS_AR_BYTES"))


@check("GUEST-SEG-SS-DPL-RPL")
def _ss_dpl_rpl(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx) or _unrestricted(ctx):
        return
    ar, sel = _ar(ctx, "SS"), ctx.f["GUEST_SS_SELECTOR"]
    if _dpl(ar) != sel & SELECTOR_RPL:
        ctx.fail(rule, f"\"unrestricted guest\" is 0 and GUEST_SS_AR_BYTES = {ar:#x} has DPL {_dpl(ar)}, but "
                 f"GUEST_SS_SELECTOR = {sel:#06x} has RPL {sel & SELECTOR_RPL}; they must be equal",
                 ("GUEST_SS_AR_BYTES", "GUEST_SS_SELECTOR"))


@check("GUEST-SEG-SS-DPL-ZERO")
def _ss_dpl_zero(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    cs = _ar(ctx, "CS")
    if _type(cs) == TYPE_DATA_RW_ACCESSED:
        why, fields = f"GUEST_CS_AR_BYTES = {cs:#x} has type 3", ("GUEST_SS_AR_BYTES", "GUEST_CS_AR_BYTES")
    else:
        cr0 = ctx.f["GUEST_CR0"]
        if cr0 & CR0_PE:
            return
        why, fields = f"GUEST_CR0 = {cr0:#x} has PE = 0", ("GUEST_SS_AR_BYTES", "GUEST_CR0")
    ss = _ar(ctx, "SS")
    if _dpl(ss) != 0:
        ctx.fail(rule, f"{why}, so the SS DPL must be 0, but GUEST_SS_AR_BYTES = {ss:#x} has DPL {_dpl(ss)}", fields)


@check("GUEST-SEG-DATA-DPL")
def _data_dpl(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx) or _unrestricted(ctx):
        return
    for seg in DATA_SEGMENTS:
        ar = _ar(ctx, seg)
        if not _usable(ar) or _type(ar) > TYPE_MAX_DATA_OR_NONCONFORMING:
            continue
        sel = ctx.f[_seg(seg, "SELECTOR")]
        if _dpl(ar) < sel & SELECTOR_RPL:
            ctx.fail(rule, f"\"unrestricted guest\" is 0, {seg} is usable with type {_type(ar)} and "
                     f"{_seg(seg, 'AR_BYTES')} = {ar:#x} has DPL {_dpl(ar)}, less than the RPL "
                     f"{sel & SELECTOR_RPL} of {_seg(seg, 'SELECTOR')} = {sel:#06x}",
                     (_seg(seg, "AR_BYTES"), _seg(seg, "SELECTOR")))


@check("GUEST-SEG-P")
def _seg_p(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    for seg, ar in _checked_segments(ctx):
        if not ar & AR_P:
            ctx.fail(rule, f"{_seg(seg, 'AR_BYTES')} = {ar:#x} has P (bit 7) = 0; {seg} must be present",
                     (_seg(seg, "AR_BYTES"),))


@check("GUEST-SEG-AR-RSVD")
def _seg_ar_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    for seg, ar in _checked_segments(ctx):
        if ar & AR_RESERVED:
            ctx.fail(rule, f"{_seg(seg, 'AR_BYTES')} = {ar:#x} sets reserved bits {_bits(ar & AR_RESERVED)} (bits "
                     "11:8 and 31:17 must be 0)", (_seg(seg, "AR_BYTES"),))


@check("GUEST-SEG-CS-DB")
def _cs_db(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx) or not _ia32e(ctx):
        return
    ar = _ar(ctx, "CS")
    if ar & AR_L and ar & AR_DB:
        ctx.fail(rule, f"\"IA-32e mode guest\" is 1 and GUEST_CS_AR_BYTES = {ar:#x} sets both L (bit 13) and D/B "
                 "(bit 14); a 64-bit code segment must have D/B = 0", ("GUEST_CS_AR_BYTES",))


def _granularity(ctx: EntryContext, rule: Rule, seg: str, ar: int, condition: str = "") -> None:
    limit = ctx.f[_seg(seg, "LIMIT")]
    g = bool(ar & AR_G)
    if g and limit & LIMIT_LOW_12 != LIMIT_LOW_12:
        why = "bits 11:0 of the limit are not all 1, so G must be 0"
    elif not g and limit & LIMIT_HIGH_12:
        why = "bits 31:20 of the limit are not all 0, so G must be 1"
    else:
        return
    ctx.fail(rule, f"{condition}{_seg(seg, 'LIMIT')} = {limit:#x} and {_seg(seg, 'AR_BYTES')} = {ar:#x} has G = "
             f"{int(g)}: {why}", (_seg(seg, "LIMIT"), _seg(seg, "AR_BYTES")))


@check("GUEST-SEG-G")
def _seg_g(ctx: EntryContext, rule: Rule) -> None:
    if _v86(ctx):
        return
    for seg, ar in _checked_segments(ctx):
        _granularity(ctx, rule, seg, ar)


# -- TR and LDTR access rights ----------------------------------------------------------------------

@check("GUEST-SEG-TR-TYPE")
def _tr_type(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "TR")
    kind = _type(ar)
    if kind == TYPE_TSS_BUSY:
        return
    if _ia32e(ctx):
        need = "11 (busy 64-bit TSS) because \"IA-32e mode guest\" is 1"
    elif kind == TYPE_TSS16_BUSY:
        return
    else:
        need = "3 (busy 16-bit TSS) or 11 (busy 32-bit TSS)"
    ctx.fail(rule, f"GUEST_TR_AR_BYTES = {ar:#x} has type {kind}; TR must have type {need}", ("GUEST_TR_AR_BYTES",))


@check("GUEST-SEG-TR-S")
def _tr_s(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "TR")
    if ar & AR_S:
        ctx.fail(rule, f"GUEST_TR_AR_BYTES = {ar:#x} has S (bit 4) = 1; TR must be a system segment (S = 0)",
                 ("GUEST_TR_AR_BYTES",))


@check("GUEST-SEG-TR-P")
def _tr_p(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "TR")
    if not ar & AR_P:
        ctx.fail(rule, f"GUEST_TR_AR_BYTES = {ar:#x} has P (bit 7) = 0; TR must be present", ("GUEST_TR_AR_BYTES",))


@check("GUEST-SEG-TR-RSVD")
def _tr_rsvd(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "TR")
    if ar & AR_RESERVED:
        ctx.fail(rule, f"GUEST_TR_AR_BYTES = {ar:#x} sets reserved bits {_bits(ar & AR_RESERVED)} (bits 11:8 and "
                 "31:17 must be 0)", ("GUEST_TR_AR_BYTES",))


@check("GUEST-SEG-TR-G")
def _tr_g(ctx: EntryContext, rule: Rule) -> None:
    _granularity(ctx, rule, "TR", _ar(ctx, "TR"))


@check("GUEST-SEG-TR-UNUSABLE")
def _tr_unusable(ctx: EntryContext, rule: Rule) -> None:
    ar = _ar(ctx, "TR")
    if not _usable(ar):
        ctx.fail(rule, f"GUEST_TR_AR_BYTES = {ar:#x} marks TR unusable (bit 16); TR must be usable",
                 ("GUEST_TR_AR_BYTES",))


def _usable_ldtr(ctx: EntryContext) -> int | None:
    ar = _ar(ctx, "LDTR")
    return ar if _usable(ar) else None


@check("GUEST-SEG-LDTR-TYPE")
def _ldtr_type(ctx: EntryContext, rule: Rule) -> None:
    ar = _usable_ldtr(ctx)
    if ar is not None and _type(ar) != TYPE_LDT:
        ctx.fail(rule, f"LDTR is usable and GUEST_LDTR_AR_BYTES = {ar:#x} has type {_type(ar)}; it must be 2 (LDT)",
                 ("GUEST_LDTR_AR_BYTES",))


@check("GUEST-SEG-LDTR-S")
def _ldtr_s(ctx: EntryContext, rule: Rule) -> None:
    ar = _usable_ldtr(ctx)
    if ar is not None and ar & AR_S:
        ctx.fail(rule, f"LDTR is usable and GUEST_LDTR_AR_BYTES = {ar:#x} has S (bit 4) = 1; it must be 0",
                 ("GUEST_LDTR_AR_BYTES",))


@check("GUEST-SEG-LDTR-P")
def _ldtr_p(ctx: EntryContext, rule: Rule) -> None:
    ar = _usable_ldtr(ctx)
    if ar is not None and not ar & AR_P:
        ctx.fail(rule, f"LDTR is usable and GUEST_LDTR_AR_BYTES = {ar:#x} has P (bit 7) = 0; it must be 1",
                 ("GUEST_LDTR_AR_BYTES",))


@check("GUEST-SEG-LDTR-RSVD")
def _ldtr_rsvd(ctx: EntryContext, rule: Rule) -> None:
    ar = _usable_ldtr(ctx)
    if ar is not None and ar & AR_RESERVED:
        ctx.fail(rule, f"LDTR is usable and GUEST_LDTR_AR_BYTES = {ar:#x} sets reserved bits "
                 f"{_bits(ar & AR_RESERVED)} (bits 11:8 and 31:17 must be 0)", ("GUEST_LDTR_AR_BYTES",))


@check("GUEST-SEG-LDTR-G")
def _ldtr_g(ctx: EntryContext, rule: Rule) -> None:
    ar = _usable_ldtr(ctx)
    if ar is not None:
        _granularity(ctx, rule, "LDTR", ar, "LDTR is usable, ")


def _fred_cpl(ctx: EntryContext) -> tuple[int, int] | None:
    """(CR4, SS DPL) when CR4.FRED is 1 in the CR4 field, else None."""
    cr4 = ctx.f["GUEST_CR4"]
    return (cr4, _dpl(_ar(ctx, "SS"))) if cr4 & CR4_FRED else None


@check("GUEST-FRED-SS-DPL")
def _fred_ss_dpl(ctx: EntryContext, rule: Rule) -> None:
    fred = _fred_cpl(ctx)
    if fred is not None and fred[1] not in (0, 3):
        ctx.fail(rule, f"GUEST_CR4 = {fred[0]:#x} sets FRED and GUEST_SS_AR_BYTES = {_ar(ctx, 'SS'):#x} has DPL "
                 f"{fred[1]}; with FRED the CPL must be 0 or 3", ("GUEST_CR4", "GUEST_SS_AR_BYTES"))


@check("GUEST-FRED-CPL0-LONG")
def _fred_cpl0_long(ctx: EntryContext, rule: Rule) -> None:
    fred = _fred_cpl(ctx)
    if fred is not None and fred[1] == 0:
        cs = _ar(ctx, "CS")
        if not cs & AR_L:
            ctx.fail(rule, f"GUEST_CR4 = {fred[0]:#x} sets FRED, the SS DPL is 0 and GUEST_CS_AR_BYTES = {cs:#x} has "
                     "L (bit 13) = 0; with FRED, CPL 0 must run in 64-bit mode",
                     ("GUEST_CR4", "GUEST_SS_AR_BYTES", "GUEST_CS_AR_BYTES"))


# -- Checks on Guest Descriptor-Table Registers ------------------------------------------------------

@check("GUEST-DTR-BASE")
def _dtr_base(ctx: EntryContext, rule: Rule) -> None:
    for field in ("GUEST_GDTR_BASE", "GUEST_IDTR_BASE"):
        base = ctx.f[field]
        if not ctx.canonical(base):
            ctx.fail(rule, f"{field} = {base:#x} is not canonical ({ctx.maxlinaddr}-bit linear addresses)", (field,))


@check("GUEST-DTR-LIMIT")
def _dtr_limit(ctx: EntryContext, rule: Rule) -> None:
    for field in ("GUEST_GDTR_LIMIT", "GUEST_IDTR_LIMIT"):
        limit = ctx.f[field]
        if limit & DTR_LIMIT_RESERVED:
            ctx.fail(rule, f"{field} = {limit:#x} sets bits 31:16; a descriptor-table limit is at most 0xffff",
                     (field,))


# -- Checks on Guest RIP, RFLAGS, and SSP -----------------------------------------------------------

@check("GUEST-RIP-HIGH")
def _rip_high(ctx: EntryContext, rule: Rule) -> None:
    if _cs_long(ctx):
        return
    rip = ctx.f["GUEST_RIP"]
    if rip & UPPER32:
        why = "\"IA-32e mode guest\" is 0" if not _ia32e(ctx) else "CS.L is 0 (compatibility mode)"
        ctx.fail(rule, f"{why} and GUEST_RIP = {rip:#x} sets bits 63:32; outside 64-bit mode they must be 0",
                 ("GUEST_RIP", "VM_ENTRY_CONTROLS", "GUEST_CS_AR_BYTES"))


@check("GUEST-RIP-LINEAR")
def _rip_linear(ctx: EntryContext, rule: Rule) -> None:
    if not _cs_long(ctx):
        return
    rip = ctx.f["GUEST_RIP"]
    if not _upper_identical(ctx, rip):
        n = ctx.maxlinaddr
        ctx.fail(rule, f"the guest will be in 64-bit mode and GUEST_RIP = {rip:#x} does not have bits 63:{n} all "
                 f"equal ({n}-bit linear addresses)", ("GUEST_RIP",))


@check("GUEST-RFLAGS-RSVD")
def _rflags_rsvd(ctx: EntryContext, rule: Rule) -> None:
    rflags = ctx.f["GUEST_RFLAGS"]
    parts = []
    if rflags & RFLAGS_RESERVED:
        parts.append(f"sets reserved bits {_bits(rflags & RFLAGS_RESERVED)} (bits 63:22, 15, 5 and 3 must be 0)")
    if not rflags & RFLAGS_FIXED1:
        parts.append("has bit 1 = 0 (it must be 1)")
    if parts:
        ctx.fail(rule, f"GUEST_RFLAGS = {rflags:#x} {' and '.join(parts)}", ("GUEST_RFLAGS",))


@check("GUEST-RFLAGS-VM")
def _rflags_vm(ctx: EntryContext, rule: Rule) -> None:
    rflags = ctx.f["GUEST_RFLAGS"]
    if not rflags & RFLAGS_VM:
        return
    if _ia32e(ctx):
        ctx.fail(rule, f"GUEST_RFLAGS = {rflags:#x} sets VM (bit 17) but \"IA-32e mode guest\" is 1; there is no "
                 "virtual-8086 mode in IA-32e mode", ("GUEST_RFLAGS", "VM_ENTRY_CONTROLS"))
        return
    cr0 = ctx.f["GUEST_CR0"]
    if not cr0 & CR0_PE:
        ctx.fail(rule, f"GUEST_RFLAGS = {rflags:#x} sets VM (bit 17) but GUEST_CR0 = {cr0:#x} has PE = 0; "
                 "virtual-8086 mode needs protected mode", ("GUEST_RFLAGS", "GUEST_CR0"))


@check("GUEST-RFLAGS-IF")
def _rflags_if(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None or event[1] != InterruptionType.EXTERNAL_INTERRUPT:
        return
    rflags = ctx.f["GUEST_RFLAGS"]
    if not rflags & RFLAGS_IF:
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {event[0]:#x} injects an external interrupt but GUEST_RFLAGS = "
                 f"{rflags:#x} has IF (bit 9) = 0; it must be 1", ("GUEST_RFLAGS", "VM_ENTRY_INTR_INFO_FIELD"))


@check("GUEST-FRED-CPL3-IOPL")
def _fred_cpl3_iopl(ctx: EntryContext, rule: Rule) -> None:
    fred = _fred_cpl(ctx)
    if fred is not None and fred[1] == 3:
        rflags = ctx.f["GUEST_RFLAGS"]
        if rflags & RFLAGS_IOPL:
            ctx.fail(rule, f"GUEST_CR4 = {fred[0]:#x} sets FRED, the SS DPL is 3 and GUEST_RFLAGS = {rflags:#x} has "
                     f"IOPL {(rflags & RFLAGS_IOPL) >> 12}; it must be 0", ("GUEST_CR4", "GUEST_SS_AR_BYTES",
                                                                            "GUEST_RFLAGS"))


@check("GUEST-SSP-ALIGN")
def _ssp_align(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_CET:
        ssp = ctx.f["GUEST_SSP"]
        if ssp & SSP_RESERVED_LOW:
            ctx.fail(rule, f"\"load CET state\" is 1 and GUEST_SSP = {ssp:#x} sets bits 1:0; they must be 0",
                     ("GUEST_SSP",))


@check("GUEST-SSP-LINEAR")
def _ssp_linear(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_CET:
        ssp = ctx.f["GUEST_SSP"]
        if not _upper_identical(ctx, ssp):
            n = ctx.maxlinaddr
            ctx.fail(rule, f"\"load CET state\" is 1 and GUEST_SSP = {ssp:#x} does not have bits 63:{n} all equal "
                     f"({n}-bit linear addresses)", ("GUEST_SSP",))


# -- Checks on Guest Non-Register State: activity state ---------------------------------------------

@check("GUEST-ACTIVITY-SUPPORTED")
def _activity_supported(ctx: EntryContext, rule: Rule) -> None:
    act = ctx.f["GUEST_ACTIVITY_STATE"]
    if act == ActivityState.ACTIVE:
        return
    if act > ActivityState.WAIT_FOR_SIPI:
        ctx.fail(rule, f"GUEST_ACTIVITY_STATE = {act} is not an activity state (0 active, 1 HLT, 2 shutdown, "
                 "3 wait-for-SIPI)", ("GUEST_ACTIVITY_STATE",))
        return
    misc = ctx.cap("IA32_VMX_MISC")
    bit = MISC_BIT[ActivityState(act)]
    if not misc >> bit & 1:
        ctx.fail(rule, f"GUEST_ACTIVITY_STATE = {act} ({_activity_name(act)}) but IA32_VMX_MISC = {misc:#x} has "
                 f"bit {bit} = 0: the processor does not support that activity state", ("GUEST_ACTIVITY_STATE",))


@check("GUEST-ACTIVITY-HLT-DPL")
def _activity_hlt_dpl(ctx: EntryContext, rule: Rule) -> None:
    if ctx.f["GUEST_ACTIVITY_STATE"] == ActivityState.HLT:
        ss = _ar(ctx, "SS")
        if _dpl(ss) != 0:
            ctx.fail(rule, f"GUEST_ACTIVITY_STATE is HLT but GUEST_SS_AR_BYTES = {ss:#x} has DPL {_dpl(ss)}; HLT "
                     "needs CPL 0 (SS DPL 0)", ("GUEST_ACTIVITY_STATE", "GUEST_SS_AR_BYTES"))


@check("GUEST-ACTIVITY-BLOCKING")
def _activity_blocking(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & (BLOCK_STI | BLOCK_MOV_SS):
        act = ctx.f["GUEST_ACTIVITY_STATE"]
        if act != ActivityState.ACTIVE:
            which = "STI" if intr & BLOCK_STI else "MOV SS"
            ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by {which}, so the activity "
                     f"state must be active, but GUEST_ACTIVITY_STATE = {act} ({_activity_name(act)})",
                     ("GUEST_ACTIVITY_STATE", "GUEST_INTERRUPTIBILITY_INFO"))


@check("GUEST-ACTIVITY-EVENT")
def _activity_event(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None:
        return
    act = ctx.f["GUEST_ACTIVITY_STATE"]
    try:
        allowed = ACTIVITY_ALLOWED_EVENTS[ActivityState(act)]
    except (ValueError, KeyError):
        return  # active allows everything; an undefined state is GUEST-ACTIVITY-SUPPORTED's
    info, kind, vector = event
    if (kind, None) in allowed or (kind, vector) in allowed:
        return
    ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {info:#x} injects {_event_name(kind, vector)}, which the "
             f"{_activity_name(act)} activity state (GUEST_ACTIVITY_STATE = {act}) blocks",
             ("GUEST_ACTIVITY_STATE", "VM_ENTRY_INTR_INFO_FIELD"))


@check("GUEST-ACTIVITY-SMM-SIPI")
def _activity_smm_sipi(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & ENTRY_TO_SMM and ctx.f["GUEST_ACTIVITY_STATE"] == ActivityState.WAIT_FOR_SIPI:
        ctx.fail(rule, "\"entry to SMM\" is 1 but GUEST_ACTIVITY_STATE = 3 (wait-for-SIPI)",
                 ("GUEST_ACTIVITY_STATE", "VM_ENTRY_CONTROLS"))


# -- interruptibility state ---------------------------------------------------------------------------

@check("GUEST-INTR-RSVD")
def _intr_rsvd(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & INTERRUPTIBILITY_RESERVED:
        ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} sets reserved bits "
                 f"{_bits(intr & INTERRUPTIBILITY_RESERVED)} (bits 31:5 must be 0)", ("GUEST_INTERRUPTIBILITY_INFO",))


@check("GUEST-INTR-STI-MOVSS")
def _intr_sti_movss(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_STI and intr & BLOCK_MOV_SS:
        ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by both STI (bit 0) and MOV SS "
                 "(bit 1); at most one may be set", ("GUEST_INTERRUPTIBILITY_INFO",))


@check("GUEST-INTR-STI-IF")
def _intr_sti_if(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_STI:
        rflags = ctx.f["GUEST_RFLAGS"]
        if not rflags & RFLAGS_IF:
            ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by STI but GUEST_RFLAGS = "
                     f"{rflags:#x} has IF = 0 (STI blocking exists only after STI set IF)",
                     ("GUEST_INTERRUPTIBILITY_INFO", "GUEST_RFLAGS"))


@check("GUEST-INTR-EXTINT")
def _intr_extint(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None or event[1] != InterruptionType.EXTERNAL_INTERRUPT:
        return
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & (BLOCK_STI | BLOCK_MOV_SS):
        which = "STI" if intr & BLOCK_STI else "MOV SS"
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {event[0]:#x} injects an external interrupt but "
                 f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by {which}; both bits 0 and 1 must "
                 "be 0", ("GUEST_INTERRUPTIBILITY_INFO", "VM_ENTRY_INTR_INFO_FIELD"))


@check("GUEST-INTR-NMI-MOVSS")
def _intr_nmi_movss(ctx: EntryContext, rule: Rule) -> None:
    event = _injection(ctx)
    if event is None or event[1] != InterruptionType.NMI:
        return
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_MOV_SS:
        ctx.fail(rule, f"VM_ENTRY_INTR_INFO_FIELD = {event[0]:#x} injects an NMI but GUEST_INTERRUPTIBILITY_INFO = "
                 f"{intr:#x} indicates blocking by MOV SS (bit 1); it must be 0",
                 ("GUEST_INTERRUPTIBILITY_INFO", "VM_ENTRY_INTR_INFO_FIELD"))


@check("GUEST-INTR-SMI-NOT-SMM")
def _intr_smi_not_smm(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_SMI and not ctx.state.cpu.in_smm:
        ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by SMI (bit 2) but the processor "
                 "is not in SMM (cpu.in_smm is false)", ("GUEST_INTERRUPTIBILITY_INFO",))


@check("GUEST-INTR-SMI-ENTRY-SMM")
def _intr_smi_entry_smm(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & ENTRY_TO_SMM:
        intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
        if not intr & BLOCK_SMI:
            ctx.fail(rule, f"\"entry to SMM\" is 1 but GUEST_INTERRUPTIBILITY_INFO = {intr:#x} has blocking by SMI "
                     "(bit 2) = 0; it must be 1", ("GUEST_INTERRUPTIBILITY_INFO", "VM_ENTRY_CONTROLS"))


@check("GUEST-INTR-VNMI")
def _intr_vnmi(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.pin & VIRTUAL_NMIS:
        return
    event = _injection(ctx)
    if event is None or event[1] != InterruptionType.NMI:
        return
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_NMI:
        ctx.fail(rule, f"\"virtual NMIs\" is 1 and VM_ENTRY_INTR_INFO_FIELD = {event[0]:#x} injects an NMI, but "
                 f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates (virtual-)NMI blocking (bit 3); it must be 0",
                 ("GUEST_INTERRUPTIBILITY_INFO", "VM_ENTRY_INTR_INFO_FIELD", "PIN_BASED_VM_EXEC_CONTROL"))


@check("GUEST-INTR-ENCLAVE")
def _intr_enclave(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & ENCLAVE_INTERRUPTION and intr & BLOCK_MOV_SS:
        ctx.fail(rule, f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} sets enclave interruption (bit 4) together with "
                 "blocking by MOV SS (bit 1); with bit 4 set, bit 1 must be 0", ("GUEST_INTERRUPTIBILITY_INFO",))


@check("GUEST-FRED-CPL3-STI")
def _fred_cpl3_sti(ctx: EntryContext, rule: Rule) -> None:
    fred = _fred_cpl(ctx)
    if fred is not None and fred[1] == 3:
        intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
        if intr & BLOCK_STI:
            ctx.fail(rule, f"GUEST_CR4 = {fred[0]:#x} sets FRED, the SS DPL is 3 and GUEST_INTERRUPTIBILITY_INFO = "
                     f"{intr:#x} indicates blocking by STI; it must not", ("GUEST_CR4", "GUEST_SS_AR_BYTES",
                                                                           "GUEST_INTERRUPTIBILITY_INFO"))


# -- pending debug exceptions ------------------------------------------------------------------------

@check("GUEST-PENDDBG-RSVD")
def _penddbg_rsvd(ctx: EntryContext, rule: Rule) -> None:
    pending = ctx.f["GUEST_PENDING_DBG_EXCEPTIONS"]
    if pending & PENDING_DEBUG_RESERVED:
        ctx.fail(rule, f"GUEST_PENDING_DBG_EXCEPTIONS = {pending:#x} sets reserved bits "
                 f"{_bits(pending & PENDING_DEBUG_RESERVED)} (bits 11:4, 13, 15 and 63:17 must be 0)",
                 ("GUEST_PENDING_DBG_EXCEPTIONS",))


@check("GUEST-PENDDBG-BS")
def _penddbg_bs(ctx: EntryContext, rule: Rule) -> None:
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_STI:
        why = f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by STI"
    elif intr & BLOCK_MOV_SS:
        why = f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by MOV SS"
    elif ctx.f["GUEST_ACTIVITY_STATE"] == ActivityState.HLT:
        why = "the activity state is HLT"
    else:
        return
    pending, rflags = ctx.f["GUEST_PENDING_DBG_EXCEPTIONS"], ctx.f["GUEST_RFLAGS"]
    bs = bool(pending & PENDING_DEBUG_BS)
    fields = ("GUEST_PENDING_DBG_EXCEPTIONS", "GUEST_RFLAGS", "GUEST_INTERRUPTIBILITY_INFO", "GUEST_ACTIVITY_STATE")
    if not rflags & RFLAGS_TF:
        if bs:
            ctx.fail(rule, f"{why}, GUEST_RFLAGS = {rflags:#x} has TF = 0, so BS (bit 14) of "
                     f"GUEST_PENDING_DBG_EXCEPTIONS = {pending:#x} must be 0", fields)
        return
    debugctl = ctx.f["GUEST_IA32_DEBUGCTL"]
    btf = bool(debugctl & DEBUGCTL_BTF)
    if bs == btf:
        need = 0 if btf else 1
        ctx.fail(rule, f"{why}, GUEST_RFLAGS = {rflags:#x} has TF = 1 and GUEST_IA32_DEBUGCTL = {debugctl:#x} has "
                 f"BTF = {int(btf)}, so BS (bit 14) of GUEST_PENDING_DBG_EXCEPTIONS = {pending:#x} must be {need}",
                 (*fields, "GUEST_IA32_DEBUGCTL"))


@check("GUEST-PENDDBG-RTM")
def _penddbg_rtm(ctx: EntryContext, rule: Rule) -> None:
    pending = ctx.f["GUEST_PENDING_DBG_EXCEPTIONS"]
    if not pending & PENDING_DEBUG_RTM:
        return
    parts = []
    if pending & PENDING_DEBUG_RTM_ZERO:
        parts.append(f"sets bits {_bits(pending & PENDING_DEBUG_RTM_ZERO)} (bits 11:0, 15:13 and 63:17 must be 0)")
    if not pending & PENDING_DEBUG_ENABLED_BP:
        parts.append("has bit 12 (enabled breakpoint) = 0 (it must be 1)")
    if parts:
        ctx.fail(rule, f"GUEST_PENDING_DBG_EXCEPTIONS = {pending:#x} sets RTM (bit 16) but {' and '.join(parts)}",
                 ("GUEST_PENDING_DBG_EXCEPTIONS",))
    intr = ctx.f["GUEST_INTERRUPTIBILITY_INFO"]
    if intr & BLOCK_MOV_SS:
        ctx.fail(rule, f"GUEST_PENDING_DBG_EXCEPTIONS = {pending:#x} sets RTM (bit 16) but "
                 f"GUEST_INTERRUPTIBILITY_INFO = {intr:#x} indicates blocking by MOV SS; it must not",
                 ("GUEST_PENDING_DBG_EXCEPTIONS", "GUEST_INTERRUPTIBILITY_INFO"))


# -- VMCS link pointer (exit qualification 4) -----------------------------------------------------------

def _link(ctx: EntryContext) -> int | None:
    link = ctx.f["VMCS_LINK_POINTER"]
    return None if link == VMCS_LINK_NONE else link


@check("GUEST-LINK-ALIGN")
def _link_align(ctx: EntryContext, rule: Rule) -> None:
    link = _link(ctx)
    if link is not None and link & 0xFFF:
        ctx.fail(rule, f"VMCS_LINK_POINTER = {link:#x} is neither FFFFFFFF_FFFFFFFFH nor 4-KByte aligned "
                 "(bits 11:0 must be 0)", ("VMCS_LINK_POINTER",))


@check("GUEST-LINK-MAXPHY")
def _link_maxphy(ctx: EntryContext, rule: Rule) -> None:
    link = _link(ctx)
    if link is not None and not ctx.phys_ok(link):
        ctx.fail(rule, f"VMCS_LINK_POINTER = {link:#x} is not FFFFFFFF_FFFFFFFFH and sets bits beyond the "
                 f"physical-address width ({ctx.maxphyaddr})", ("VMCS_LINK_POINTER",))


def _linked_header(ctx: EntryContext) -> tuple[int, int] | None:
    """(link pointer, the 32-bit value at it), when the pointer is one VM entry can read through."""
    link = _link(ctx)
    if link is None or not ctx.page_address_ok(link):
        return None
    return link, ctx.state.read_u32(link)


@check("GUEST-LINK-REVISION")
def _link_revision(ctx: EntryContext, rule: Rule) -> None:
    header = _linked_header(ctx)
    if header is None:
        return
    link, value = header
    revision = BASIC["revision_id"].get(ctx.cap("IA32_VMX_BASIC"))
    if value & VMCS_HEADER_REVISION != revision:
        ctx.fail(rule, f"the VMCS referenced by VMCS_LINK_POINTER = {link:#x} starts with {value:#010x}: revision "
                 f"identifier {value & VMCS_HEADER_REVISION:#x}, but IA32_VMX_BASIC[30:0] = {revision:#x}",
                 ("VMCS_LINK_POINTER",))


@check("GUEST-LINK-SHADOW")
def _link_shadow(ctx: EntryContext, rule: Rule) -> None:
    header = _linked_header(ctx)
    if header is None:
        return
    link, value = header
    shadow_bit, shadowing = bool(value & VMCS_HEADER_SHADOW), bool(ctx.proc2 & VMCS_SHADOWING)
    if shadow_bit != shadowing:
        ctx.fail(rule, f"the VMCS referenced by VMCS_LINK_POINTER = {link:#x} starts with {value:#010x}: shadow-VMCS "
                 f"indicator (bit 31) = {int(shadow_bit)}, but \"VMCS shadowing\" is {int(shadowing)}; they must be "
                 "equal", ("VMCS_LINK_POINTER", "SECONDARY_VM_EXEC_CONTROL"))


@check("GUEST-UINV")
def _uinv(ctx: EntryContext, rule: Rule) -> None:
    if ctx.entry & LOAD_UINV:
        uinv = ctx.f["GUEST_UINV"]
        if uinv & UINV_RESERVED:
            ctx.fail(rule, f"\"load UINV\" is 1 and GUEST_UINV = {uinv:#x} sets bits 15:8; a notification vector "
                     "is at most 0xff", ("GUEST_UINV",))


# -- Checks on Guest Page-Directory-Pointer-Table Entries (exit qualification 2) -------------------------

@check("GUEST-PDPTE-RSVD")
def _pdpte(ctx: EntryContext, rule: Rule) -> None:
    cr0 = ctx.f["GUEST_CR0"]
    if not cr0 & CR0_PG or _ia32e(ctx):
        return
    cr4 = ctx.f["GUEST_CR4"]
    if not cr4 & CR4_PAE:
        return
    reserved = PDPTE_RESERVED_LOW | (_MASK64 >> ctx.maxphyaddr << ctx.maxphyaddr)
    if ctx.proc2 & ENABLE_EPT:
        for i in range(PDPTE_COUNT):
            field = f"GUEST_PDPTR{i}"
            entry = ctx.f[field]
            if entry & PDPTE_P and entry & reserved:
                ctx.fail(rule, f"the guest uses PAE paging with EPT and {field} = {entry:#x} is present but sets "
                         f"reserved bits {_bits(entry & reserved)} (bits 2:1, 8:5 and 63:{ctx.maxphyaddr} must be 0)",
                         (field,))
        return
    cr3 = ctx.f["GUEST_CR3"]
    table = cr3 & PAE_CR3_PDPT
    for i in range(PDPTE_COUNT):
        address = table + i * PDPTE_SIZE
        entry = ctx.state.read_u64(address)
        if entry & PDPTE_P and entry & reserved:
            ctx.fail(rule, f"the guest uses PAE paging without EPT; PDPTE{i} at {address:#x} (GUEST_CR3 = {cr3:#x}) "
                     f"= {entry:#x} is present but sets reserved bits {_bits(entry & reserved)} (bits 2:1, 8:5 and "
                     f"63:{ctx.maxphyaddr} must be 0)", ("GUEST_CR3",), address=address, pdpte=i)
