"""SDM "Checks on the Host-State Area": control registers, MSRs and SSP; segment and
descriptor-table registers; address-space size.

Each function is one rule of ``arch/rules/vmentry_host.py``; read them next to the SDM sections of
the same titles. A failure here is VMfailValid with VM-instruction error 8.
"""

from __future__ import annotations

from vmxspec.arch.bitfields import Layout, bits_of, mask
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.registers import (
    CR0,
    CR0_WP,
    CR3_LAM_U48,
    CR3_LAM_U57,
    CR4,
    CR4_CET,
    CR4_LAM_SUP,
    CR4_PAE,
    CR4_PCIDE,
    EFER,
    EFER_LMA,
    EFER_LME,
    EFER_RESERVED,
    PERF_GLOBAL_CTRL_RESERVED,
    PKRS_RESERVED,
    S_CET_RESERVED,
    S_CET_SUPPRESS,
    S_CET_TRACKER,
    SELECTOR_RPL,
    SELECTOR_TI,
    SSP_RESERVED_LOW,
    UPPER32,
    pat_invalid_entries,
)
from vmxspec.arch.rules import Rule
from vmxspec.arch.vmcs_fields import HOST_SELECTORS
from vmxspec.interp.vmentry.context import EntryContext
from vmxspec.interp.vmentry.registry import check

EXIT, ENTRY = ControlField.EXIT, ControlField.ENTRY

HOST_ADDRESS_SPACE_SIZE = control_mask(EXIT, "host_address_space_size")
EXIT_LOAD_PERF_GLOBAL_CTRL = control_mask(EXIT, "load_ia32_perf_global_ctrl")
EXIT_LOAD_PAT = control_mask(EXIT, "load_ia32_pat")
EXIT_LOAD_EFER = control_mask(EXIT, "load_ia32_efer")
EXIT_LOAD_CET = control_mask(EXIT, "load_cet_state")
EXIT_LOAD_PKRS = control_mask(EXIT, "load_pkrs")
IA32E_MODE_GUEST = control_mask(ENTRY, "ia32e_mode_guest")


def _bits(layout: Layout, bits: int) -> str:
    """``PE (bit 0), bit 40``: the named bits of ``layout`` by name, the others by number."""
    names = {f.lsb: f.name for f in layout if f.width == 1}
    return ", ".join(f"{names[b]} (bit {b})" if b in names else f"bit {b}" for b in bits_of(bits))


def _positions(bits: int) -> str:
    """``bit 6`` or ``bits 50, 61``."""
    found = bits_of(bits)
    return f"bit{'s' if len(found) > 1 else ''} {', '.join(map(str, found))}"


def _host64(ctx: EntryContext) -> bool:
    return bool(ctx.exit & HOST_ADDRESS_SPACE_SIZE)


def _not_canonical(ctx: EntryContext, value: int) -> str:
    return f"{value:#x} is not canonical ({ctx.maxlinaddr}-bit linear addresses)"


# -- Checks on Host Control Registers, MSRs, and SSP ---------------------------------------------

def _fixed_bits(ctx: EntryContext, rule: Rule, field: str, layout: Layout, msr0: str, msr1: str) -> None:
    value = ctx.f[field]
    fixed0, fixed1 = ctx.cap(msr0), ctx.cap(msr1)
    must_be_1 = fixed0 & ~value
    must_be_0 = value & ~fixed1
    if not must_be_1 and not must_be_0:
        return
    parts = []
    if must_be_1:
        parts.append(f"{_bits(layout, must_be_1)} must be 1 ({msr0} = {fixed0:#x})")
    if must_be_0:
        parts.append(f"{_bits(layout, must_be_0)} must be 0 ({msr1} = {fixed1:#x})")
    ctx.fail(rule, f"{field} = {value:#x} sets bits to values not supported in VMX operation: "
             f"{'; '.join(parts)}", (field,), expected=(value | fixed0) & fixed1)


@check("HOST-CR0-FIXED")
def _cr0_fixed(ctx: EntryContext, rule: Rule) -> None:
    _fixed_bits(ctx, rule, "HOST_CR0", CR0, "IA32_VMX_CR0_FIXED0", "IA32_VMX_CR0_FIXED1")


@check("HOST-CR4-FIXED")
def _cr4_fixed(ctx: EntryContext, rule: Rule) -> None:
    _fixed_bits(ctx, rule, "HOST_CR4", CR4, "IA32_VMX_CR4_FIXED0", "IA32_VMX_CR4_FIXED1")


@check("HOST-CR4-CET-WP")
def _cr4_cet_wp(ctx: EntryContext, rule: Rule) -> None:
    cr4 = ctx.f["HOST_CR4"]
    if cr4 & CR4_CET:
        cr0 = ctx.f["HOST_CR0"]
        if not cr0 & CR0_WP:
            ctx.fail(rule, f"HOST_CR4 = {cr4:#x} sets CET (bit 23) but HOST_CR0 = {cr0:#x} has WP (bit 16) = 0")


@check("HOST-CR3-MAXPHY")
def _cr3_maxphy(ctx: EntryContext, rule: Rule) -> None:
    cr3 = ctx.f["HOST_CR3"]
    beyond = cr3 & mask(ctx.cr3_width, 63)
    lam = beyond & (CR3_LAM_U57 | CR3_LAM_U48)
    if lam and ctx.cap("IA32_VMX_CR4_FIXED1") & CR4_LAM_SUP:
        beyond &= ~lam
    if beyond:
        ctx.fail(rule, f"HOST_CR3 = {cr3:#x} sets {_positions(beyond)}, at or beyond the physical-address "
                 f"width ({ctx.cr3_width})", ("HOST_CR3",))


def _canonical_fields(ctx: EntryContext, rule: Rule, fields: tuple[str, ...], why: str = "") -> None:
    for field in fields:
        value = ctx.f[field]
        if not ctx.canonical(value):
            ctx.fail(rule, f"{why}{field} = {_not_canonical(ctx, value)}", (field,))


@check("HOST-SYSENTER-CANONICAL")
def _sysenter(ctx: EntryContext, rule: Rule) -> None:
    _canonical_fields(ctx, rule, ("HOST_IA32_SYSENTER_ESP", "HOST_IA32_SYSENTER_EIP"))


@check("HOST-CET-SCET")
def _cet_scet(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.exit & EXIT_LOAD_CET:
        return
    s_cet = ctx.f["HOST_S_CET"]
    why = []
    if s_cet & S_CET_RESERVED:
        why.append(f"sets reserved {_positions(s_cet & S_CET_RESERVED)}")
    if s_cet & S_CET_SUPPRESS and s_cet & S_CET_TRACKER:
        why.append("sets both SUPPRESS (bit 10) and TRACKER (bit 11)")
    if why:
        ctx.fail(rule, f"\"load CET state\" is 1 and HOST_S_CET = {s_cet:#x} {' and '.join(why)}",
                 ("HOST_S_CET",))


@check("HOST-CET-SSP-ALIGN")
def _cet_ssp_align(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & EXIT_LOAD_CET:
        ssp = ctx.f["HOST_SSP"]
        if ssp & SSP_RESERVED_LOW:
            ctx.fail(rule, f"\"load CET state\" is 1 and HOST_SSP = {ssp:#x} sets bits 1:0", ("HOST_SSP",))


@check("HOST-CET-INTR-SSP-TABLE")
def _cet_intr_ssp_table(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & EXIT_LOAD_CET:
        _canonical_fields(ctx, rule, ("HOST_INTR_SSP_TABLE",), "\"load CET state\" is 1 and ")


@check("HOST-PERF-GLOBAL-CTRL")
def _perf_global_ctrl(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & EXIT_LOAD_PERF_GLOBAL_CTRL:
        value = ctx.f["HOST_IA32_PERF_GLOBAL_CTRL"]
        bad = value & PERF_GLOBAL_CTRL_RESERVED
        if bad:
            ctx.fail(rule, f"\"load IA32_PERF_GLOBAL_CTRL\" is 1 and HOST_IA32_PERF_GLOBAL_CTRL = {value:#x} "
                     f"sets reserved {_positions(bad)}", ("HOST_IA32_PERF_GLOBAL_CTRL",))


@check("HOST-PAT")
def _pat(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.exit & EXIT_LOAD_PAT:
        return
    pat = ctx.f["HOST_IA32_PAT"]
    bad = pat_invalid_entries(pat)
    if bad:
        ctx.fail(rule, f"\"load IA32_PAT\" is 1 and HOST_IA32_PAT = {pat:#018x} holds invalid memory types: "
                 f"{', '.join(f'PA{i} = {t}' for i, t in bad)} (valid: 0, 1, 4, 5, 6, 7)", ("HOST_IA32_PAT",))


@check("HOST-EFER-RSVD")
def _efer_rsvd(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & EXIT_LOAD_EFER:
        efer = ctx.f["HOST_IA32_EFER"]
        bad = efer & EFER_RESERVED
        if bad:
            ctx.fail(rule, f"\"load IA32_EFER\" is 1 and HOST_IA32_EFER = {efer:#x} sets reserved bits: "
                     f"{_bits(EFER, bad)}", ("HOST_IA32_EFER",))


@check("HOST-EFER-LMA-LME")
def _efer_lma_lme(ctx: EntryContext, rule: Rule) -> None:
    if not ctx.exit & EXIT_LOAD_EFER:
        return
    efer = ctx.f["HOST_IA32_EFER"]
    size = int(_host64(ctx))
    wrong = [name for name, bit in (("LMA", EFER_LMA), ("LME", EFER_LME)) if bool(efer & bit) != size]
    if wrong:
        ctx.fail(rule, f"\"load IA32_EFER\" is 1 and HOST_IA32_EFER = {efer:#x} has "
                 f"{' and '.join(f'{n} = {1 - size}' for n in wrong)}, but \"host address-space size\" is "
                 f"{size}", ("VM_EXIT_CONTROLS", "HOST_IA32_EFER"))


@check("HOST-PKRS")
def _pkrs(ctx: EntryContext, rule: Rule) -> None:
    if ctx.exit & EXIT_LOAD_PKRS:
        pkrs = ctx.f["HOST_IA32_PKRS"]
        if pkrs & PKRS_RESERVED:
            ctx.fail(rule, f"\"load PKRS\" is 1 and HOST_IA32_PKRS = {pkrs:#x} sets bits 63:32",
                     ("HOST_IA32_PKRS",))


# -- Checks on Host Segment and Descriptor-Table Registers ---------------------------------------

@check("HOST-SEL-RPL-TI")
def _sel_rpl_ti(ctx: EntryContext, rule: Rule) -> None:
    for seg in HOST_SELECTORS:
        field = f"HOST_{seg}_SELECTOR"
        selector = ctx.f[field]
        why = []
        if selector & SELECTOR_RPL:
            why.append(f"RPL {selector & SELECTOR_RPL}")
        if selector & SELECTOR_TI:
            why.append("TI = 1")
        if why:
            ctx.fail(rule, f"{field} = {selector:#06x} has {' and '.join(why)}; RPL and TI must be 0", (field,))


def _nonzero_selector(ctx: EntryContext, rule: Rule, seg: str, why: str = "") -> None:
    field = f"HOST_{seg}_SELECTOR"
    if ctx.f[field] == 0:
        ctx.fail(rule, f"{why}{field} is 0000H", (field,))


@check("HOST-SEL-CS")
def _sel_cs(ctx: EntryContext, rule: Rule) -> None:
    _nonzero_selector(ctx, rule, "CS")


@check("HOST-SEL-TR")
def _sel_tr(ctx: EntryContext, rule: Rule) -> None:
    _nonzero_selector(ctx, rule, "TR")


@check("HOST-SEL-SS")
def _sel_ss(ctx: EntryContext, rule: Rule) -> None:
    if not _host64(ctx):
        _nonzero_selector(ctx, rule, "SS", "\"host address-space size\" is 0 and ")


@check("HOST-BASE-CANONICAL")
def _base_canonical(ctx: EntryContext, rule: Rule) -> None:
    _canonical_fields(ctx, rule, ("HOST_FS_BASE", "HOST_GS_BASE", "HOST_GDTR_BASE", "HOST_IDTR_BASE",
                                  "HOST_TR_BASE"))


# -- Checks Related to Address-Space Size --------------------------------------------------------

@check("HOST-ASSIZE-LMA")
def _assize_lma(ctx: EntryContext, rule: Rule) -> None:
    efer = ctx.state.cpu.efer
    if efer is None:
        ctx.not_evaluated(rule, "cpu.efer", "whether the processor is in IA-32e mode (IA32_EFER.LMA) at VM "
                          "entry decides which address-space sizes are allowed; the state gives no cpu.efer")
        return
    if efer & EFER_LMA:
        if not _host64(ctx):
            ctx.fail(rule, f"the processor is in IA-32e mode (cpu.efer = {efer:#x}, LMA = 1) but \"host "
                     "address-space size\" is 0", ("VM_EXIT_CONTROLS",), expected_host_address_space_size=1)
        return
    wrong = []
    if ctx.entry & IA32E_MODE_GUEST:
        wrong.append("\"IA-32e mode guest\"")
    if _host64(ctx):
        wrong.append("\"host address-space size\"")
    if wrong:
        ctx.fail(rule, f"the processor is outside IA-32e mode (cpu.efer = {efer:#x}, LMA = 0) but "
                 f"{' and '.join(wrong)} {'is' if len(wrong) == 1 else 'are'} 1")


@check("HOST-ASSIZE0-GUEST64")
def _assize0_guest64(ctx: EntryContext, rule: Rule) -> None:
    if not _host64(ctx) and ctx.entry & IA32E_MODE_GUEST:
        ctx.fail(rule, "\"host address-space size\" is 0 but \"IA-32e mode guest\" is 1")


@check("HOST-ASSIZE0-PCIDE")
def _assize0_pcide(ctx: EntryContext, rule: Rule) -> None:
    if not _host64(ctx):
        cr4 = ctx.f["HOST_CR4"]
        if cr4 & CR4_PCIDE:
            ctx.fail(rule, f"\"host address-space size\" is 0 but HOST_CR4 = {cr4:#x} sets PCIDE (bit 17)")


@check("HOST-ASSIZE0-RIP")
def _assize0_rip(ctx: EntryContext, rule: Rule) -> None:
    if not _host64(ctx):
        rip = ctx.f["HOST_RIP"]
        if rip & UPPER32:
            ctx.fail(rule, f"\"host address-space size\" is 0 but HOST_RIP = {rip:#x} sets bits 63:32")


@check("HOST-ASSIZE0-CET")
def _assize0_cet(ctx: EntryContext, rule: Rule) -> None:
    if _host64(ctx) or not ctx.exit & EXIT_LOAD_CET:
        return
    for field in ("HOST_S_CET", "HOST_SSP"):
        value = ctx.f[field]
        if value & UPPER32:
            ctx.fail(rule, f"\"host address-space size\" is 0 and \"load CET state\" is 1 but {field} = "
                     f"{value:#x} sets bits 63:32", ("VM_EXIT_CONTROLS", field))


@check("HOST-ASSIZE1-PAE")
def _assize1_pae(ctx: EntryContext, rule: Rule) -> None:
    if _host64(ctx):
        cr4 = ctx.f["HOST_CR4"]
        if not cr4 & CR4_PAE:
            ctx.fail(rule, f"\"host address-space size\" is 1 but HOST_CR4 = {cr4:#x} has PAE (bit 5) = 0")


@check("HOST-ASSIZE1-RIP")
def _assize1_rip(ctx: EntryContext, rule: Rule) -> None:
    if _host64(ctx):
        rip = ctx.f["HOST_RIP"]
        if not ctx.canonical(rip):
            ctx.fail(rule, f"\"host address-space size\" is 1 but HOST_RIP = {_not_canonical(ctx, rip)}")


@check("HOST-ASSIZE1-CET")
def _assize1_cet(ctx: EntryContext, rule: Rule) -> None:
    if _host64(ctx) and ctx.exit & EXIT_LOAD_CET:
        _canonical_fields(ctx, rule, ("HOST_S_CET", "HOST_SSP"),
                          "\"host address-space size\" and \"load CET state\" are 1 but ")
