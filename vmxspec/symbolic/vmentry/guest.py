"""Symbolic encoding of the checks on the guest-state area (SDM "Checks on the Guest State Area").

Written from the rule catalogue's conditions (``vmxspec/arch/rules/vmentry_guest.py``) and the SDM,
in its order: control registers, debug registers and MSRs; segment registers; descriptor-table
registers; RIP, RFLAGS and SSP; non-register state; PDPTEs. Memory reads (the VMCS the link pointer
names, the PDPTEs without EPT) go through ``SymState.read_u64``, which works for a symbolic address
without SMT arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import z3

from vmxspec.arch.capabilities import BASIC, MISC
from vmxspec.arch.controls import ControlField
from vmxspec.arch.events import INTR_INFO, InterruptionType
from vmxspec.arch.guest_state import (
    ACCESS_RIGHTS,
    ACTIVITY_ALLOWED_EVENTS,
    ACTIVITY_STATE_MISC_BIT,
    AR_DB,
    AR_DPL,
    AR_G,
    AR_L,
    AR_P,
    AR_RESERVED,
    AR_S,
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
    BNDCFGS_RESERVED,
    CR0_ENTRY_UNCHECKED,
    CR0_PE,
    CR0_PG,
    CR0_UNRESTRICTED_EXEMPT,
    CR0_WP,
    CR4_CET,
    CR4_FRED,
    CR4_PAE,
    CR4_PCIDE,
    DEBUGCTL_BTF,
    DEBUGCTL_RESERVED,
    DR7_RESERVED_HIGH,
    EFER_LMA,
    EFER_LME,
    EFER_RESERVED,
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
    SELECTOR_TI,
    SSP_RESERVED_LOW,
    UINV_RESERVED,
    UPPER32,
)
from vmxspec.symbolic.state import ADDRESS_BITS, BV
from vmxspec.symbolic.vmentry.common import (
    Bool,
    Enc,
    all_set,
    any_set,
    bit,
    bits,
    bits_identical,
    eq,
    get,
    one_of,
    or_all,
)
from vmxspec.symbolic.vmentry.host import bad_pat, cr3_reserved_bits, fixed_bits_violated

PROC2, ENTRY, PIN = ControlField.PROC2, ControlField.ENTRY, ControlField.PIN
T = InterruptionType
_MASK64 = (1 << 64) - 1


@dataclass(frozen=True, slots=True)
class Segment:
    """One guest segment register's four fields, and the access-rights fields the checks name."""

    name: str
    selector: BV
    base: BV
    limit: BV
    ar: BV

    @property
    def usable(self) -> Bool:
        return z3.Not(any_set(self.ar, AR_UNUSABLE))

    @property
    def type(self) -> BV:
        return get(self.ar, ACCESS_RIGHTS["type"])

    @property
    def dpl(self) -> BV:
        return get(self.ar, AR_DPL)

    @property
    def rpl(self) -> BV:
        return bits(self.selector, 1, 0)

    def flag(self, mask: int) -> Bool:
        return any_set(self.ar, mask)

    @property
    def granularity_bad(self) -> Bool:
        """The limit disagrees with G: a 0 in limit bits 11:0 needs G = 0, a 1 in 31:20 needs G = 1."""
        g = self.flag(AR_G)
        return z3.Or(z3.And(z3.Not(all_set(self.limit, LIMIT_LOW_12)), g),
                     z3.And(any_set(self.limit, LIMIT_HIGH_12), z3.Not(g)))


_SegCheck = Callable[[Segment], Bool]


def _segment(e: Enc, name: str) -> Segment:
    return Segment(name, e.f(f"GUEST_{name}_SELECTOR"), e.f(f"GUEST_{name}_BASE"), e.f(f"GUEST_{name}_LIMIT"),
                   e.f(f"GUEST_{name}_AR_BYTES"))


def encode(e: Enc) -> dict[str, Bool]:
    v: dict[str, Bool] = {}
    v.update(_registers(e))
    v.update(_segments(e))
    v.update(_descriptor_tables(e))
    v.update(_rip_rflags_ssp(e))
    v.update(_non_register(e))
    v.update(_pdptes(e))
    return v


def _registers(e: Enc) -> dict[str, Bool]:
    f, on = e.f, e.on
    cr0, cr3, cr4 = f("GUEST_CR0"), f("GUEST_CR3"), f("GUEST_CR4")
    ia32e = on(ENTRY, "ia32e_mode_guest")
    urg = on(PROC2, "unrestricted_guest")
    load_debug = on(ENTRY, "load_debug_controls")
    load_efer = on(ENTRY, "load_ia32_efer")
    load_cet = on(ENTRY, "load_cet_state")
    load_fred = on(ENTRY, "load_ia32_fred")
    efer = f("GUEST_IA32_EFER")
    s_cet = f("GUEST_S_CET")
    bndcfgs = f("GUEST_BNDCFGS")
    fred_config = f("GUEST_IA32_FRED_CONFIG")
    fred_rsp = [f(f"GUEST_IA32_FRED_RSP{n}") for n in (1, 2, 3)]
    fred_ssp = [f(f"GUEST_IA32_FRED_SSP{n}") for n in (1, 2, 3)]
    fixed0, fixed1 = e.cap("IA32_VMX_CR0_FIXED0"), e.cap("IA32_VMX_CR0_FIXED1")
    pg = any_set(cr0, CR0_PG)
    return {
        "GUEST-CR0-FIXED": z3.If(urg,
                                 fixed_bits_violated(cr0, fixed0, fixed1,
                                                     CR0_ENTRY_UNCHECKED | CR0_UNRESTRICTED_EXEMPT),
                                 fixed_bits_violated(cr0, fixed0, fixed1, CR0_ENTRY_UNCHECKED)),
        "GUEST-CR0-PG-PE": z3.And(pg, z3.Not(any_set(cr0, CR0_PE))),
        "GUEST-CR4-FIXED": fixed_bits_violated(cr4, e.cap("IA32_VMX_CR4_FIXED0"), e.cap("IA32_VMX_CR4_FIXED1")),
        "GUEST-CR4-CET-WP": z3.And(any_set(cr4, CR4_CET), z3.Not(any_set(cr0, CR0_WP))),
        "GUEST-DEBUGCTL-RSVD": z3.And(load_debug, any_set(f("GUEST_IA32_DEBUGCTL"), DEBUGCTL_RESERVED)),
        "GUEST-IA32E-PG-PAE": z3.And(ia32e, z3.Not(z3.And(pg, any_set(cr4, CR4_PAE)))),
        "GUEST-CR4-PCIDE": z3.And(z3.Not(ia32e), any_set(cr4, CR4_PCIDE)),
        "GUEST-CR3-MAXPHY": any_set(cr3, cr3_reserved_bits(e)),
        "GUEST-DR7-HIGH": z3.And(load_debug, any_set(f("GUEST_DR7"), DR7_RESERVED_HIGH)),
        "GUEST-SYSENTER-CANONICAL": z3.Or(e.non_canonical(f("GUEST_SYSENTER_ESP")),
                                          e.non_canonical(f("GUEST_SYSENTER_EIP"))),
        "GUEST-PERF-GLOBAL-RSVD": z3.And(on(ENTRY, "load_ia32_perf_global_ctrl"),
                                         any_set(f("GUEST_IA32_PERF_GLOBAL_CTRL"), PERF_GLOBAL_CTRL_RESERVED)),
        "GUEST-PAT": z3.And(on(ENTRY, "load_ia32_pat"), bad_pat(f("GUEST_IA32_PAT"))),
        "GUEST-EFER-RSVD": z3.And(load_efer, any_set(efer, EFER_RESERVED)),
        "GUEST-EFER-LMA": z3.And(load_efer, any_set(efer, EFER_LMA) != ia32e),
        "GUEST-EFER-LME": z3.And(load_efer, pg, any_set(efer, EFER_LME) != any_set(efer, EFER_LMA)),
        "GUEST-BNDCFGS-RSVD": z3.And(on(ENTRY, "load_ia32_bndcfgs"), any_set(bndcfgs, BNDCFGS_RESERVED)),
        "GUEST-BNDCFGS-BASE": z3.And(on(ENTRY, "load_ia32_bndcfgs"), e.non_canonical(bndcfgs)),
        "GUEST-RTIT-CTL-RSVD": z3.And(on(ENTRY, "load_ia32_rtit_ctl"),
                                      any_set(f("GUEST_IA32_RTIT_CTL"), RTIT_CTL_RESERVED)),
        "GUEST-S-CET-RSVD": z3.And(load_cet, any_set(s_cet, S_CET_RESERVED)),
        "GUEST-S-CET-SUPPRESS": z3.And(load_cet, all_set(s_cet, S_CET_SUPPRESS | S_CET_TRACKER)),
        "GUEST-INTR-SSP-TABLE": z3.And(load_cet, e.non_canonical(f("GUEST_INTR_SSP_TABLE"))),
        "GUEST-LBR-CTL-RSVD": z3.And(on(ENTRY, "load_guest_ia32_lbr_ctl"),
                                     any_set(f("GUEST_IA32_LBR_CTL"), LBR_CTL_RESERVED)),
        "GUEST-PKRS-RSVD": z3.And(on(ENTRY, "load_pkrs"), any_set(f("GUEST_IA32_PKRS"), PKRS_RESERVED)),
        "GUEST-SPEC-CTRL-RSVD": z3.And(on(ENTRY, "load_ia32_spec_ctrl"),
                                       any_set(f("GUEST_IA32_SPEC_CTRL"), ~SPEC_CTRL_DEFINED & _MASK64)),
        "GUEST-CR4-FRED": z3.And(z3.Not(ia32e), any_set(cr4, CR4_FRED)),
        "GUEST-FRED-CONFIG-RSVD": z3.And(load_fred, any_set(fred_config, FRED_CONFIG_RESERVED)),
        "GUEST-FRED-CONFIG-BASE": z3.And(load_fred, e.non_canonical(fred_config)),
        "GUEST-FRED-RSP-ALIGN": z3.And(load_fred, or_all(any_set(r, FRED_RSP_RESERVED_LOW) for r in fred_rsp)),
        "GUEST-FRED-RSP-CANONICAL": z3.And(load_fred, or_all(e.non_canonical(r) for r in fred_rsp)),
        "GUEST-FRED-SSP-ALIGN": z3.And(load_fred, or_all(any_set(s, FRED_SSP_RESERVED_LOW) for s in fred_ssp)),
        "GUEST-FRED-SSP-CANONICAL": z3.And(load_fred, or_all(e.non_canonical(s) for s in fred_ssp)),
    }


def _segments(e: Enc) -> dict[str, Bool]:
    f, on = e.f, e.on
    seg = {name: _segment(e, name) for name in ("ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR")}
    cs, ss, tr, ldtr = seg["CS"], seg["SS"], seg["TR"], seg["LDTR"]
    six = [seg[n] for n in ("CS", "SS", "DS", "ES", "FS", "GS")]
    not_cs = [seg[n] for n in ("SS", "DS", "ES", "FS", "GS")]
    data = [seg[n] for n in ("DS", "ES", "FS", "GS")]
    v86 = any_set(f("GUEST_RFLAGS"), RFLAGS_VM)
    not_v86 = z3.Not(v86)
    urg = on(PROC2, "unrestricted_guest")
    ia32e = on(ENTRY, "ia32e_mode_guest")
    cr4 = f("GUEST_CR4")
    fred = any_set(cr4, CR4_FRED)
    cs_type3 = eq(cs.type, TYPE_DATA_RW_ACCESSED)

    def usable_and(s: Segment, cond: Bool) -> Bool:
        return z3.And(s.usable, cond)

    def on_cs_and_usable(check: _SegCheck) -> Bool:
        """``check`` on CS, and on each of SS, DS, ES, FS, GS that is usable."""
        return z3.Or(check(cs), *(usable_and(s, check(s)) for s in not_cs))

    v: dict[str, Bool] = {
        # selectors
        "GUEST-SEG-TR-TI": any_set(tr.selector, SELECTOR_TI),
        "GUEST-SEG-LDTR-TI": usable_and(ldtr, any_set(ldtr.selector, SELECTOR_TI)),
        "GUEST-SEG-SS-RPL": z3.And(z3.Not(urg), not_v86, ss.rpl != cs.rpl),
        # virtual-8086 guests
        "GUEST-SEG-V86-BASE": z3.And(v86, or_all(
            s.base != z3.ZeroExt(48, s.selector) << V86_BASE_SHIFT for s in six)),
        "GUEST-SEG-V86-LIMIT": z3.And(v86, or_all(z3.Not(eq(s.limit, V86_LIMIT)) for s in six)),
        "GUEST-SEG-V86-AR": z3.And(v86, or_all(z3.Not(eq(s.ar, AR_VIRTUAL_8086)) for s in six)),
        # base addresses
        "GUEST-SEG-BASE-CANONICAL": or_all(e.non_canonical(s.base) for s in (tr, seg["FS"], seg["GS"])),
        "GUEST-SEG-LDTR-BASE": usable_and(ldtr, e.non_canonical(ldtr.base)),
        "GUEST-SEG-CS-BASE": any_set(cs.base, UPPER32),
        "GUEST-SEG-BASE-HIGH": or_all(usable_and(seg[n], any_set(seg[n].base, UPPER32)) for n in ("SS", "DS", "ES")),
        # access rights of CS, SS, DS, ES, FS, GS (not virtual-8086)
        "GUEST-SEG-CS-TYPE": z3.And(not_v86, z3.Not(z3.Or(one_of(cs.type, CS_CODE_TYPES), z3.And(urg, cs_type3)))),
        "GUEST-SEG-SS-TYPE": z3.And(not_v86, usable_and(ss, z3.Not(one_of(ss.type, SS_TYPES)))),
        "GUEST-SEG-DATA-TYPE": z3.And(not_v86, or_all(usable_and(s, z3.Or(
            z3.Not(any_set(s.type, TYPE_ACCESSED)),
            z3.And(any_set(s.type, TYPE_CODE), z3.Not(any_set(s.type, TYPE_READABLE_OR_WRITABLE))))) for s in data)),
        "GUEST-SEG-S": z3.And(not_v86, on_cs_and_usable(lambda s: z3.Not(s.flag(AR_S)))),
        "GUEST-SEG-CS-DPL-TYPE3": z3.And(not_v86, cs_type3, cs.dpl != 0),
        "GUEST-SEG-CS-DPL-NONCONF": z3.And(not_v86, one_of(cs.type, CS_NONCONFORMING_TYPES), cs.dpl != ss.dpl),
        "GUEST-SEG-CS-DPL-CONF": z3.And(not_v86, one_of(cs.type, CS_CONFORMING_TYPES), z3.UGT(cs.dpl, ss.dpl)),
        "GUEST-SEG-SS-DPL-RPL": z3.And(not_v86, z3.Not(urg), ss.dpl != ss.rpl),
        "GUEST-SEG-SS-DPL-ZERO": z3.And(not_v86, z3.Or(cs_type3, z3.Not(any_set(f("GUEST_CR0"), CR0_PE))),
                                        ss.dpl != 0),
        "GUEST-SEG-DATA-DPL": z3.And(not_v86, z3.Not(urg), or_all(usable_and(s, z3.And(
            z3.ULE(s.type, TYPE_MAX_DATA_OR_NONCONFORMING), z3.ULT(s.dpl, s.rpl))) for s in data)),
        "GUEST-SEG-P": z3.And(not_v86, on_cs_and_usable(lambda s: z3.Not(s.flag(AR_P)))),
        "GUEST-SEG-AR-RSVD": z3.And(not_v86, on_cs_and_usable(lambda s: any_set(s.ar, AR_RESERVED))),
        "GUEST-SEG-CS-DB": z3.And(not_v86, ia32e, cs.flag(AR_L), cs.flag(AR_DB)),
        "GUEST-SEG-G": z3.And(not_v86, on_cs_and_usable(lambda s: s.granularity_bad)),
        # TR
        "GUEST-SEG-TR-TYPE": z3.Not(z3.Or(eq(tr.type, TYPE_TSS_BUSY), z3.And(z3.Not(ia32e),
                                                                              eq(tr.type, TYPE_TSS16_BUSY)))),
        "GUEST-SEG-TR-S": tr.flag(AR_S),
        "GUEST-SEG-TR-P": z3.Not(tr.flag(AR_P)),
        "GUEST-SEG-TR-RSVD": any_set(tr.ar, AR_RESERVED),
        "GUEST-SEG-TR-G": tr.granularity_bad,
        "GUEST-SEG-TR-UNUSABLE": tr.flag(AR_UNUSABLE),
        # LDTR
        "GUEST-SEG-LDTR-TYPE": usable_and(ldtr, z3.Not(eq(ldtr.type, TYPE_LDT))),
        "GUEST-SEG-LDTR-S": usable_and(ldtr, ldtr.flag(AR_S)),
        "GUEST-SEG-LDTR-P": usable_and(ldtr, z3.Not(ldtr.flag(AR_P))),
        "GUEST-SEG-LDTR-RSVD": usable_and(ldtr, any_set(ldtr.ar, AR_RESERVED)),
        "GUEST-SEG-LDTR-G": usable_and(ldtr, ldtr.granularity_bad),
        # FRED: the SS DPL is the CPL the guest will run at
        "GUEST-FRED-SS-DPL": z3.And(fred, z3.Not(one_of(ss.dpl, (0, 3)))),
        "GUEST-FRED-CPL0-LONG": z3.And(fred, eq(ss.dpl, 0), z3.Not(cs.flag(AR_L))),
    }
    return v


def _descriptor_tables(e: Enc) -> dict[str, Bool]:
    f = e.f
    return {
        "GUEST-DTR-BASE": z3.Or(e.non_canonical(f("GUEST_GDTR_BASE")), e.non_canonical(f("GUEST_IDTR_BASE"))),
        "GUEST-DTR-LIMIT": z3.Or(any_set(f("GUEST_GDTR_LIMIT"), DTR_LIMIT_RESERVED),
                                 any_set(f("GUEST_IDTR_LIMIT"), DTR_LIMIT_RESERVED)),
    }


def _injection(e: Enc) -> tuple[Bool, BV, BV]:
    """(valid, interruption type, vector) of the VM-entry interruption-information field."""
    info = e.f("VM_ENTRY_INTR_INFO_FIELD")
    return bit(info, INTR_INFO["valid"].lsb), get(info, INTR_INFO["type"]), get(info, INTR_INFO["vector"])


def _rip_rflags_ssp(e: Enc) -> dict[str, Bool]:
    f, on = e.f, e.on
    rip, rflags, ssp = f("GUEST_RIP"), f("GUEST_RFLAGS"), f("GUEST_SSP")
    ia32e = on(ENTRY, "ia32e_mode_guest")
    cs_l = any_set(f("GUEST_CS_AR_BYTES"), AR_L)
    ss_dpl = get(f("GUEST_SS_AR_BYTES"), AR_DPL)
    load_cet = on(ENTRY, "load_cet_state")
    valid, kind, _vector = _injection(e)
    n = e.sym.linear_width
    return {
        "GUEST-RIP-HIGH": z3.And(z3.Or(z3.Not(ia32e), z3.Not(cs_l)), any_set(rip, UPPER32)),
        "GUEST-RIP-LINEAR": z3.And(ia32e, cs_l, z3.Not(bits_identical(rip, n))),
        "GUEST-RFLAGS-RSVD": z3.Or(any_set(rflags, RFLAGS_RESERVED), z3.Not(any_set(rflags, RFLAGS_FIXED1))),
        "GUEST-RFLAGS-VM": z3.And(any_set(rflags, RFLAGS_VM),
                                  z3.Or(ia32e, z3.Not(any_set(f("GUEST_CR0"), CR0_PE)))),
        "GUEST-RFLAGS-IF": z3.And(valid, eq(kind, T.EXTERNAL_INTERRUPT), z3.Not(any_set(rflags, RFLAGS_IF))),
        "GUEST-FRED-CPL3-IOPL": z3.And(any_set(f("GUEST_CR4"), CR4_FRED), eq(ss_dpl, 3),
                                       any_set(rflags, RFLAGS_IOPL)),
        "GUEST-SSP-ALIGN": z3.And(load_cet, any_set(ssp, SSP_RESERVED_LOW)),
        "GUEST-SSP-LINEAR": z3.And(load_cet, z3.Not(bits_identical(ssp, n))),
    }


def _event_allowed(allowed: frozenset[tuple[int, int | None]], kind: BV, vector: BV) -> Bool:
    """The injected event (type, vector) is one of ``allowed`` (a None vector means any)."""
    return or_all(z3.And(eq(kind, t), True if vec is None else eq(vector, vec)) for t, vec in sorted(
        allowed, key=lambda a: (a[0], -1 if a[1] is None else a[1])))


def _non_register(e: Enc) -> dict[str, Bool]:
    f, on = e.f, e.on
    activity = f("GUEST_ACTIVITY_STATE")
    intr = f("GUEST_INTERRUPTIBILITY_INFO")
    rflags = f("GUEST_RFLAGS")
    pending = f("GUEST_PENDING_DBG_EXCEPTIONS")
    ss_dpl = get(f("GUEST_SS_AR_BYTES"), AR_DPL)
    valid, kind, vector = _injection(e)
    misc = e.cap("IA32_VMX_MISC")
    to_smm = on(ENTRY, "entry_to_smm")
    sti, mov_ss = any_set(intr, BLOCK_STI), any_set(intr, BLOCK_MOV_SS)
    hlt = eq(activity, ActivityState.HLT)

    supported = z3.Or(eq(activity, ActivityState.ACTIVE), *(
        z3.And(eq(activity, state), bool(MISC[misc_bit].get(misc)))
        for state, misc_bit in sorted(ACTIVITY_STATE_MISC_BIT.items())))
    # In HLT, shutdown and wait-for-SIPI only the listed events may be injected; an activity
    # state outside 0-3 fails GUEST-ACTIVITY-SUPPORTED and blocks nothing here.
    blocked_event = or_all(z3.And(eq(activity, state), z3.Not(_event_allowed(allowed, kind, vector)))
                           for state, allowed in sorted(ACTIVITY_ALLOWED_EVENTS.items()))

    tf = any_set(rflags, RFLAGS_TF)
    btf = any_set(f("GUEST_IA32_DEBUGCTL"), DEBUGCTL_BTF)
    bs = any_set(pending, PENDING_DEBUG_BS)
    single_step_pending = z3.And(tf, z3.Not(btf))
    link = f("VMCS_LINK_POINTER")
    linked = link != z3.BitVecVal(VMCS_LINK_NONE, 64)
    # The header is read only under the "4-KByte aligned and within MAXPHYADDR" guard.
    header = e.sym.read_u32(link, align=4096)
    readable = z3.And(linked, z3.Not(e.bad_page_address(link)))
    revision = BASIC["revision_id"].get(e.cap("IA32_VMX_BASIC")) & VMCS_HEADER_REVISION
    fred_cpl3 = z3.And(any_set(f("GUEST_CR4"), CR4_FRED), eq(ss_dpl, 3))

    return {
        "GUEST-ACTIVITY-SUPPORTED": z3.Not(supported),
        "GUEST-ACTIVITY-HLT-DPL": z3.And(hlt, ss_dpl != 0),
        "GUEST-ACTIVITY-BLOCKING": z3.And(z3.Not(eq(activity, ActivityState.ACTIVE)), z3.Or(sti, mov_ss)),
        "GUEST-ACTIVITY-EVENT": z3.And(valid, blocked_event),
        "GUEST-ACTIVITY-SMM-SIPI": z3.And(eq(activity, ActivityState.WAIT_FOR_SIPI), to_smm),
        "GUEST-INTR-RSVD": any_set(intr, INTERRUPTIBILITY_RESERVED),
        "GUEST-INTR-STI-MOVSS": z3.And(sti, mov_ss),
        "GUEST-INTR-STI-IF": z3.And(sti, z3.Not(any_set(rflags, RFLAGS_IF))),
        "GUEST-INTR-EXTINT": z3.And(valid, eq(kind, T.EXTERNAL_INTERRUPT), z3.Or(sti, mov_ss)),
        "GUEST-INTR-NMI-MOVSS": z3.And(valid, eq(kind, T.NMI), mov_ss),
        "GUEST-INTR-SMI-NOT-SMM": z3.And(any_set(intr, BLOCK_SMI), not e.sym.in_smm),
        "GUEST-INTR-SMI-ENTRY-SMM": z3.And(to_smm, z3.Not(any_set(intr, BLOCK_SMI))),
        "GUEST-INTR-VNMI": z3.And(on(PIN, "virtual_nmis"), valid, eq(kind, T.NMI), any_set(intr, BLOCK_NMI)),
        "GUEST-INTR-ENCLAVE": z3.And(any_set(intr, ENCLAVE_INTERRUPTION), mov_ss),
        "GUEST-FRED-CPL3-STI": z3.And(fred_cpl3, sti),
        "GUEST-PENDDBG-RSVD": any_set(pending, PENDING_DEBUG_RESERVED),
        "GUEST-PENDDBG-BS": z3.And(z3.Or(sti, mov_ss, hlt), bs != single_step_pending),
        "GUEST-PENDDBG-RTM": z3.And(any_set(pending, PENDING_DEBUG_RTM), z3.Or(
            any_set(pending, PENDING_DEBUG_RTM_ZERO), z3.Not(any_set(pending, PENDING_DEBUG_ENABLED_BP)), mov_ss)),
        "GUEST-LINK-ALIGN": z3.And(linked, bits(link, 11, 0) != 0),
        "GUEST-LINK-MAXPHY": z3.And(linked, e.beyond_phys(link)),
        "GUEST-LINK-REVISION": z3.And(readable, z3.Not(eq(header & VMCS_HEADER_REVISION, revision))),
        "GUEST-LINK-SHADOW": z3.And(readable, any_set(header, VMCS_HEADER_SHADOW) != on(PROC2, "vmcs_shadowing")),
        "GUEST-UINV": z3.And(on(ENTRY, "load_uinv"), any_set(f("GUEST_UINV"), UINV_RESERVED)),
    }


def _pdptes(e: Enc) -> dict[str, Bool]:
    """With PAE paging the four PDPTEs come from the VMCS (EPT) or from memory at CR3[31:5]."""
    f, on = e.f, e.on
    cr0, cr4 = f("GUEST_CR0"), f("GUEST_CR4")
    pae_paging = z3.And(any_set(cr0, CR0_PG), any_set(cr4, CR4_PAE), z3.Not(on(ENTRY, "ia32e_mode_guest")))
    ept = on(PROC2, "enable_ept")
    table = z3.ZeroExt(ADDRESS_BITS - 64, f("GUEST_CR3") & PAE_CR3_PDPT)
    reserved = PDPTE_RESERVED_LOW | (_MASK64 & ~((1 << e.sym.physical_width) - 1))
    bad = []
    for i in range(PDPTE_COUNT):
        pdpte = z3.If(ept, f(f"GUEST_PDPTR{i}"), e.sym.read_u64(table + PDPTE_SIZE * i, align=PDPTE_SIZE))
        bad.append(z3.And(any_set(pdpte, PDPTE_P), any_set(pdpte, reserved)))
    return {"GUEST-PDPTE-RSVD": z3.And(pae_paging, or_all(bad))}
