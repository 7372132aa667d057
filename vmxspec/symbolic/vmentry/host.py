"""Symbolic encoding of the checks on the host-state area (SDM "Checks on the Host-State Area").

HOST-ASSIZE-LMA compares the controls with the *executing* processor's IA32_EFER.LMA (state key
``cpu.efer``), which is concrete or absent. Absent, the rule cannot be decided: its violation
formula is then ``False`` (it is never reported as violated, as in the reference interpreter) and
``unevaluated`` names it, so that a property built on these formulas can say "not proved" for it
instead of "holds".
"""

from __future__ import annotations

import z3

from vmxspec.arch.controls import ControlField
from vmxspec.arch.registers import (
    CR0_WP,
    CR3_LAM_U48,
    CR3_LAM_U57,
    CR4_CET,
    CR4_LAM_SUP,
    CR4_PAE,
    CR4_PCIDE,
    EFER_LMA,
    EFER_LME,
    EFER_RESERVED,
    PAT_VALID_TYPES,
    PERF_GLOBAL_CTRL_RESERVED,
    PKRS_RESERVED,
    S_CET_RESERVED,
    S_CET_SUPPRESS,
    S_CET_TRACKER,
    SELECTOR_RPL,
    SELECTOR_TI,
)
from vmxspec.arch.vmcs_fields import HOST_SELECTORS
from vmxspec.symbolic.state import BV
from vmxspec.symbolic.vmentry.common import FALSE, Bool, Enc, all_set, any_set, bits, eq, high_bits_nonzero, one_of

EXIT, ENTRY = ControlField.EXIT, ControlField.ENTRY

#: CR3: bits 63:52 are always reserved, bits 51:MAXPHYADDR beyond the physical-address width.
CR3_ARCH_LIMIT = 52

#: The executing-context state HOST-ASSIZE-LMA needs.
ASSIZE_LMA_NEEDS = "cpu.efer"


def fixed_bits_violated(value: BV, fixed0: int, fixed1: int, exempt: int = 0) -> Bool:
    """A bit fixed to 1 (set in FIXED0) is 0, or a bit fixed to 0 (clear in FIXED1) is 1."""
    width_mask = (1 << value.size()) - 1
    must_be_1 = fixed0 & ~exempt & width_mask
    must_be_0 = ~fixed1 & ~exempt & width_mask
    return z3.Or(z3.Not(all_set(value, must_be_1)), any_set(value, must_be_0))


def cr3_reserved_bits(e: Enc) -> int:
    """Bits of a CR3 value that must be 0: 63:min(MAXPHYADDR, 52), less LAM_U48/LAM_U57 on a
    processor with linear-address masking (IA32_VMX_CR4_FIXED1 allows CR4.LAM_SUP)."""
    low = min(e.sym.physical_width, CR3_ARCH_LIMIT)
    reserved = ((1 << 64) - 1) & ~((1 << low) - 1)
    if e.cap("IA32_VMX_CR4_FIXED1") & CR4_LAM_SUP:
        reserved &= ~(CR3_LAM_U48 | CR3_LAM_U57)
    return reserved


def bad_pat(value: BV) -> Bool:
    """Some byte of an IA32_PAT value is not a valid PAT memory type."""
    return z3.Or(*(z3.Not(one_of(bits(value, 8 * i + 7, 8 * i), PAT_VALID_TYPES)) for i in range(8)))


def encode(e: Enc) -> dict[str, Bool]:
    f = e.f
    on = e.on
    cr0, cr3, cr4 = f("HOST_CR0"), f("HOST_CR3"), f("HOST_CR4")
    host64 = on(EXIT, "host_address_space_size")
    load_cet = on(EXIT, "load_cet_state")
    s_cet, ssp, rip = f("HOST_S_CET"), f("HOST_SSP"), f("HOST_RIP")
    efer = f("HOST_IA32_EFER")
    load_efer = on(EXIT, "load_ia32_efer")
    v: dict[str, Bool] = {}

    # -- control registers, MSRs and SSP --------------------------------------------------------
    v["HOST-CR0-FIXED"] = fixed_bits_violated(cr0, e.cap("IA32_VMX_CR0_FIXED0"), e.cap("IA32_VMX_CR0_FIXED1"))
    v["HOST-CR4-FIXED"] = fixed_bits_violated(cr4, e.cap("IA32_VMX_CR4_FIXED0"), e.cap("IA32_VMX_CR4_FIXED1"))
    v["HOST-CR4-CET-WP"] = z3.And(any_set(cr4, CR4_CET), z3.Not(any_set(cr0, CR0_WP)))
    v["HOST-CR3-MAXPHY"] = any_set(cr3, cr3_reserved_bits(e))
    v["HOST-SYSENTER-CANONICAL"] = z3.Or(e.non_canonical(f("HOST_IA32_SYSENTER_ESP")),
                                         e.non_canonical(f("HOST_IA32_SYSENTER_EIP")))
    v["HOST-CET-SCET"] = z3.And(load_cet, z3.Or(any_set(s_cet, S_CET_RESERVED),
                                                all_set(s_cet, S_CET_SUPPRESS | S_CET_TRACKER)))
    v["HOST-CET-SSP-ALIGN"] = z3.And(load_cet, bits(ssp, 1, 0) != 0)
    v["HOST-CET-INTR-SSP-TABLE"] = z3.And(load_cet, e.non_canonical(f("HOST_INTR_SSP_TABLE")))
    v["HOST-PERF-GLOBAL-CTRL"] = z3.And(on(EXIT, "load_ia32_perf_global_ctrl"),
                                        any_set(f("HOST_IA32_PERF_GLOBAL_CTRL"), PERF_GLOBAL_CTRL_RESERVED))
    v["HOST-PAT"] = z3.And(on(EXIT, "load_ia32_pat"), bad_pat(f("HOST_IA32_PAT")))
    v["HOST-EFER-RSVD"] = z3.And(load_efer, any_set(efer, EFER_RESERVED))
    v["HOST-EFER-LMA-LME"] = z3.And(load_efer, z3.Or(any_set(efer, EFER_LMA) != host64,
                                                     any_set(efer, EFER_LME) != host64))
    v["HOST-PKRS"] = z3.And(on(EXIT, "load_pkrs"), any_set(f("HOST_IA32_PKRS"), PKRS_RESERVED))

    # -- segment and descriptor-table registers ---------------------------------------------------
    selectors = {s: f(f"HOST_{s}_SELECTOR") for s in HOST_SELECTORS}
    v["HOST-SEL-RPL-TI"] = z3.Or(*(any_set(sel, SELECTOR_RPL | SELECTOR_TI) for sel in selectors.values()))
    v["HOST-SEL-CS"] = eq(selectors["CS"], 0)
    v["HOST-SEL-TR"] = eq(selectors["TR"], 0)
    v["HOST-SEL-SS"] = z3.And(z3.Not(host64), eq(selectors["SS"], 0))
    v["HOST-BASE-CANONICAL"] = z3.Or(*(e.non_canonical(f(name)) for name in (
        "HOST_FS_BASE", "HOST_GS_BASE", "HOST_GDTR_BASE", "HOST_IDTR_BASE", "HOST_TR_BASE")))

    # -- address-space size ---------------------------------------------------------------------
    guest64 = on(ENTRY, "ia32e_mode_guest")
    cpu_efer = e.sym.efer
    if cpu_efer is None:
        v["HOST-ASSIZE-LMA"] = FALSE  # unevaluated: see the module docstring
    elif cpu_efer & EFER_LMA:
        v["HOST-ASSIZE-LMA"] = z3.Not(host64)
    else:
        v["HOST-ASSIZE-LMA"] = z3.Or(guest64, host64)
    v["HOST-ASSIZE0-GUEST64"] = z3.And(z3.Not(host64), guest64)
    v["HOST-ASSIZE0-PCIDE"] = z3.And(z3.Not(host64), any_set(cr4, CR4_PCIDE))
    v["HOST-ASSIZE0-RIP"] = z3.And(z3.Not(host64), high_bits_nonzero(rip, 32))
    v["HOST-ASSIZE0-CET"] = z3.And(z3.Not(host64), load_cet,
                                   z3.Or(high_bits_nonzero(s_cet, 32), high_bits_nonzero(ssp, 32)))
    v["HOST-ASSIZE1-PAE"] = z3.And(host64, z3.Not(any_set(cr4, CR4_PAE)))
    v["HOST-ASSIZE1-RIP"] = z3.And(host64, e.non_canonical(rip))
    v["HOST-ASSIZE1-CET"] = z3.And(host64, load_cet, z3.Or(e.non_canonical(s_cet), e.non_canonical(ssp)))
    return v


def unevaluated(e: Enc) -> dict[str, str]:
    """Rules of this stage that cannot be decided for this state, with the state key they need."""
    return {"HOST-ASSIZE-LMA": ASSIZE_LMA_NEEDS} if e.sym.efer is None else {}
