"""Passing and failing boundary cases for every check on the guest-state area.

Each case starts from one of five guest states that pass every guest-state check, changes the few
fields the SDM condition talks about, and states by hand which rules must fail:

* ``x64``: the KVM-like baseline (64-bit guest, EPT, unrestricted guest). CR0 0x80050033, CR4
  0x3726e0, entry controls 0xd3ff (load debug controls, IA-32e mode guest, load PAT, load EFER),
  secondary controls 0x001010ab, pin 0x3f (virtual NMIs), CS 0x10/0xa09b, SS 0x18/0xc093, TR
  0x40/0x8b, DS/ES/FS/GS/LDTR unusable. Capability MSRs: CR0_FIXED0 0x80000021, CR0_FIXED1
  0xffffffff, CR4_FIXED0 0x2000, CR4_FIXED1 0x7767ff, MISC 0x7004c1e7, BASIC revision 4;
  MAXPHYADDR 46; linear addresses 48 bits.
* ``real``: an unrestricted guest at the reset vector (real mode, CR0.PE = CR0.PG = 0).
* ``v86``: a virtual-8086 task under 32-bit paging.
* ``pae-ept`` / ``pae``: a flat 32-bit guest with PAE paging, with EPT (PDPTEs in the VMCS) and
  without EPT or unrestricted guest (PDPTEs in memory at CR3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from tests.states import baseline, rule_ids
from vmxspec.arch.rules import Stage, rules_for
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State

BIT = [1 << n for n in range(64)]

PIN, PROC2, ENTRY = 0x3F, 0x001010AB, 0xD3FF
CR0, CR4 = 0x80050033, 0x3726E0
EPT, URG, SHADOWING = BIT[1], BIT[7], BIT[14]
VNMI = BIT[5]
# VM-entry controls
LOAD_DBG, IA32E, SMM, PERF, PAT, EFER = BIT[2], BIT[9], BIT[10], BIT[13], BIT[14], BIT[15]
BNDCFGS, RTIT, UINV, CET, LBR, PKRS = BIT[16], BIT[18], BIT[19], BIT[20], BIT[21], BIT[22]
FRED, SPEC_CTRL = BIT[23], BIT[24]
CR4_FRED = BIT[32]
# RFLAGS
FIXED1, TF, IF, VM = BIT[1], BIT[8], BIT[9], BIT[17]
# interruptibility
STI, MOVSS, SMI, NMI_BLK, ENCLAVE = 1, 2, 4, 8, 16
# VM-entry interruption information: valid | type << 8 | vector
EXTINT_32 = 0x8000_0020
NMI = 0x8000_0202
HW_DB, HW_MC, HW_UD, HW_GP = 0x8000_0301, 0x8000_0312, 0x8000_0306, 0x8000_0B0D
SWINT_80 = 0x8000_0480
MTF = 0x8000_0700
HLT, SHUTDOWN, SIPI = 1, 2, 3


def _seg(name: str, sel: int, base: int, limit: int, ar: int) -> dict[str, int]:
    return {f"GUEST_{name}_SELECTOR": sel, f"GUEST_{name}_BASE": base, f"GUEST_{name}_LIMIT": limit,
            f"GUEST_{name}_AR_BYTES": ar}


REAL: dict[str, int] = {
    "VM_ENTRY_CONTROLS": ENTRY & ~IA32E, "GUEST_IA32_EFER": 0,
    "GUEST_CR0": 0x30, "GUEST_CR3": 0, "GUEST_CR4": 0x2000,  # ET, NE; VMXE
    "GUEST_RFLAGS": 0x2, "GUEST_RIP": 0xFFF0,
    **_seg("CS", 0xF000, 0xFFFF_0000, 0xFFFF, 0x9B),
    **_seg("SS", 0, 0, 0xFFFF, 0x93), **_seg("DS", 0, 0, 0xFFFF, 0x93), **_seg("ES", 0, 0, 0xFFFF, 0x93),
    **_seg("FS", 0, 0, 0xFFFF, 0x93), **_seg("GS", 0, 0, 0xFFFF, 0x93),
    **_seg("LDTR", 0, 0, 0xFFFF, 0x82), **_seg("TR", 0, 0, 0xFFFF, 0x8B),
    "GUEST_GDTR_BASE": 0, "GUEST_GDTR_LIMIT": 0xFFFF, "GUEST_IDTR_BASE": 0, "GUEST_IDTR_LIMIT": 0x3FF,
}

V86: dict[str, int] = {
    "VM_ENTRY_CONTROLS": ENTRY & ~IA32E, "GUEST_IA32_EFER": 0,
    "GUEST_CR0": CR0, "GUEST_CR3": 0x2000, "GUEST_CR4": 0x2001,  # VMXE, VME
    "GUEST_RFLAGS": VM | IF | FIXED1, "GUEST_RIP": 0x100,
    **_seg("CS", 0x1000, 0x10000, 0xFFFF, 0xF3), **_seg("SS", 0x2003, 0x20030, 0xFFFF, 0xF3),
    **_seg("DS", 0x3000, 0x30000, 0xFFFF, 0xF3), **_seg("ES", 0x3001, 0x30010, 0xFFFF, 0xF3),
    **_seg("FS", 0, 0, 0xFFFF, 0xF3), **_seg("GS", 0xFFFF, 0xFFFF0, 0xFFFF, 0xF3),
    **_seg("TR", 0x28, 0x5000, 0x2067, 0x8B),
}

PDPTRS = {"GUEST_PDPTR0": 0x4001, "GUEST_PDPTR1": 0x5001, "GUEST_PDPTR2": 0, "GUEST_PDPTR3": 0}
PAE: dict[str, int] = {
    "VM_ENTRY_CONTROLS": ENTRY & ~IA32E, "GUEST_IA32_EFER": BIT[11],  # NXE
    "GUEST_CR0": CR0, "GUEST_CR3": 0x3000, "GUEST_CR4": 0x2020,  # VMXE, PAE
    "GUEST_RFLAGS": 0x2, "GUEST_RIP": 0x10_0000,
    **_seg("CS", 0x10, 0, 0xFFFF_FFFF, 0xC09B), **_seg("SS", 0x18, 0, 0xFFFF_FFFF, 0xC093),
    **_seg("DS", 0x18, 0, 0xFFFF_FFFF, 0xC093), **_seg("ES", 0x18, 0, 0xFFFF_FFFF, 0xC093),
    **_seg("TR", 0x40, 0x5000, 0x67, 0x8B),
    "GUEST_GDTR_BASE": 0x1000, "GUEST_IDTR_BASE": 0x2000,
    **PDPTRS,
}
PDPT_MEMORY = {0x3000: 0x4001, 0x3008: 0x5001}

BASES: dict[str, tuple[dict[str, int], dict[int, int]]] = {
    "x64": ({}, {}),
    "real": (REAL, {}),
    "v86": (V86, {}),
    "pae-ept": (PAE, {}),
    "pae": ({**PAE, "SECONDARY_VM_EXEC_CONTROL": PROC2 & ~(EPT | URG)}, PDPT_MEMORY),
}

NO_URG = {"SECONDARY_VM_EXEC_CONTROL": PROC2 & ~URG}
# Usable flat 32-bit data segment and an LDT
DS_USABLE = {"GUEST_DS_AR_BYTES": 0xC093, "GUEST_DS_LIMIT": 0xFFFF_FFFF, "GUEST_DS_SELECTOR": 0x18}
LDTR_USABLE = {"GUEST_LDTR_AR_BYTES": 0x82, "GUEST_LDTR_LIMIT": 0, "GUEST_LDTR_SELECTOR": 0x48}
# "load CET state" with valid CET fields
CET_OK = {"VM_ENTRY_CONTROLS": ENTRY | CET, "GUEST_S_CET": 0, "GUEST_SSP": 0xFFFF_C900_0000_0FF8,
          "GUEST_INTR_SSP_TABLE": 0xFFFF_8880_0000_1000}
# "load IA32_FRED" with valid FRED fields
FRED_OK = {"VM_ENTRY_CONTROLS": ENTRY | FRED, "GUEST_IA32_FRED_CONFIG": 0xFFFF_FFFF_8100_0000,
           "GUEST_IA32_FRED_RSP1": 0xFFFF_C900_0000_0000, "GUEST_IA32_FRED_RSP2": 0xFFFF_C900_0000_1000,
           "GUEST_IA32_FRED_RSP3": 0xFFFF_C900_0000_2000, "GUEST_IA32_FRED_SSP1": 0xFFFF_C900_0001_0000,
           "GUEST_IA32_FRED_SSP2": 0xFFFF_C900_0001_1000, "GUEST_IA32_FRED_SSP3": 0xFFFF_C900_0001_2000}
# CR4.FRED with IA32_VMX_CR4_FIXED1 allowing it (bit 32)
CR4_FRED_ON = {"GUEST_CR4": CR4 | CR4_FRED}
FRED_CAPS = {"IA32_VMX_CR4_FIXED1": CR4_FRED | 0x7767FF}
CPL3 = {"GUEST_CS_AR_BYTES": 0xA0FB, "GUEST_SS_AR_BYTES": 0xC0F3}
LINK_OK = {"VMCS_LINK_POINTER": 0x7000}
LINK_MEMORY = {0x7000: 0x4}  # revision 4, not a shadow VMCS
SMM_ENTRY = {"VM_ENTRY_CONTROLS": ENTRY | SMM, "GUEST_INTERRUPTIBILITY_INFO": SMI}


@dataclass(frozen=True)
class Case:
    name: str
    fields: dict[str, int]
    expected: set[str]
    base: str = "x64"
    caps: dict[str, int] = field(default_factory=dict)
    memory: dict[int, int] = field(default_factory=dict)
    in_smm: bool = False
    maxlinaddr: int | None = None


def c(name: str, fields: dict[str, int], expected: set[str], base: str = "x64", caps: dict[str, int] | None = None,
      memory: dict[int, int] | None = None, in_smm: bool = False, maxlinaddr: int | None = None) -> Case:
    return Case(name, fields, expected, base, caps or {}, memory or {}, in_smm, maxlinaddr)


def build(case: Case) -> State:
    fields, memory = BASES[case.base]
    state = baseline(**{**fields, **case.fields})
    state.memory.update(memory)
    state.memory.update(case.memory)
    state.caps.update(case.caps)
    if case.in_smm:
        state.cpu.in_smm = True
    if case.maxlinaddr is not None:
        state.maxlinaddr = case.maxlinaddr
    return state


def guest(state: State) -> set[str]:
    return rule_ids(state, ("guest",))


LA57 = 57

REGS: list[Case] = [
    # GUEST-CR0-FIXED: FIXED0 0x80000021 (PE, NE, PG), FIXED1 0xffffffff; NW, CD never checked
    c("cr0: NE clear", {"GUEST_CR0": 0x80050013}, {"GUEST-CR0-FIXED"}),
    c("cr0: bit 32 set", {"GUEST_CR0": BIT[32] | CR0}, {"GUEST-CR0-FIXED"}),
    c("cr0: CD and NW unchecked against FIXED1", {"GUEST_CR0": CR0 | BIT[29] | BIT[30]}, set(),
      caps={"IA32_VMX_CR0_FIXED1": 0x9FFF_FFFF}),
    c("cr0: CD unchecked against FIXED0", {}, set(), caps={"IA32_VMX_CR0_FIXED0": 0xC000_0021}),
    c("cr0: WP fixed to 1 is checked", {"GUEST_CR0": 0x80040033}, {"GUEST-CR0-FIXED"},
      caps={"IA32_VMX_CR0_FIXED0": 0x8001_0021}),
    c("cr0: real mode needs unrestricted guest", NO_URG, {"GUEST-CR0-FIXED"}, base="real"),
    # GUEST-CR0-PG-PE
    c("cr0: unpaged protected mode", {"GUEST_CR0": 0x31}, set(), base="real"),
    c("cr0: PG without PE", {"GUEST_CR0": 0x8000_0030}, {"GUEST-CR0-PG-PE"}, base="real"),
    # GUEST-CR4-FIXED: FIXED0 0x2000 (VMXE), FIXED1 0x7767ff
    c("cr4: VMXE clear", {"GUEST_CR4": 0x3706E0}, {"GUEST-CR4-FIXED"}),
    c("cr4: LA57 not allowed", {"GUEST_CR4": CR4 | BIT[12]}, {"GUEST-CR4-FIXED"}),
    c("cr4: PKE allowed", {"GUEST_CR4": CR4 | BIT[22]}, set()),
    # GUEST-CR4-CET-WP (FIXED1 extended with CET)
    c("cr4: CET with WP", {"GUEST_CR4": CR4 | BIT[23]}, set(), caps={"IA32_VMX_CR4_FIXED1": 0xF767FF}),
    c("cr4: CET without WP", {"GUEST_CR4": CR4 | BIT[23], "GUEST_CR0": 0x80040033}, {"GUEST-CR4-CET-WP"},
      caps={"IA32_VMX_CR4_FIXED1": 0xF767FF}),
    c("cr0: WP clear without CET", {"GUEST_CR0": 0x80040033}, set()),
    # GUEST-DEBUGCTL-RSVD: bits 5:2 and 63:16 reserved
    c("debugctl: all defined bits", {"GUEST_IA32_DEBUGCTL": 0xFFC3}, set()),
    c("debugctl: bit 2", {"GUEST_IA32_DEBUGCTL": BIT[2]}, {"GUEST-DEBUGCTL-RSVD"}),
    c("debugctl: bit 16", {"GUEST_IA32_DEBUGCTL": BIT[16]}, {"GUEST-DEBUGCTL-RSVD"}),
    c("debugctl: not loaded", {"GUEST_IA32_DEBUGCTL": BIT[16], "VM_ENTRY_CONTROLS": ENTRY & ~LOAD_DBG}, set()),
    # GUEST-IA32E-PG-PAE
    c("ia32e: PAE clear", {"GUEST_CR4": 0x3726C0}, {"GUEST-IA32E-PG-PAE"}),
    c("ia32e: PG clear (unrestricted guest)", {"GUEST_CR0": 0x00050033}, {"GUEST-IA32E-PG-PAE"}),
    # GUEST-CR4-PCIDE
    c("pcide: allowed in IA-32e mode", {}, set()),
    c("pcide: outside IA-32e mode", {"GUEST_CR4": 0x2020 | BIT[17]}, {"GUEST-CR4-PCIDE"}, base="pae-ept"),
    # GUEST-CR3-MAXPHY (46 bits; LAM bits 62:61 only with LAM)
    c("cr3: highest page below MAXPHYADDR", {"GUEST_CR3": 0x3FFF_FFFF_F000}, set()),
    c("cr3: bit 46", {"GUEST_CR3": BIT[46]}, {"GUEST-CR3-MAXPHY"}),
    c("cr3: LAM bit 62 without LAM", {"GUEST_CR3": BIT[62] | 0x1000}, {"GUEST-CR3-MAXPHY"}),
    c("cr3: LAM bit 62 with LAM", {"GUEST_CR3": BIT[62] | 0x1000}, set(),
      caps={"IA32_VMX_CR4_FIXED1": 0x1077_67FF}),
    c("cr3: bit 63 even with LAM", {"GUEST_CR3": BIT[63] | 0x1000}, {"GUEST-CR3-MAXPHY"},
      caps={"IA32_VMX_CR4_FIXED1": 0x1077_67FF}),
    # GUEST-DR7-HIGH
    c("dr7: bits 31:0 all set", {"GUEST_DR7": 0xFFFF_FFFF}, set()),
    c("dr7: bit 32", {"GUEST_DR7": BIT[32] | 0x400}, {"GUEST-DR7-HIGH"}),
    c("dr7: not loaded", {"GUEST_DR7": BIT[32] | 0x400, "VM_ENTRY_CONTROLS": ENTRY & ~LOAD_DBG}, set()),
    # GUEST-SYSENTER-CANONICAL (48-bit linear addresses)
    c("sysenter: canonical extremes",
      {"GUEST_SYSENTER_ESP": 0xFFFF_8000_0000_0000, "GUEST_SYSENTER_EIP": 0x0000_7FFF_FFFF_FFFF}, set()),
    c("sysenter: ESP bit 47 alone", {"GUEST_SYSENTER_ESP": 0x0000_8000_0000_0000}, {"GUEST-SYSENTER-CANONICAL"}),
    c("sysenter: EIP bit 47 clear", {"GUEST_SYSENTER_EIP": 0xFFFF_7FFF_FFFF_FFFF}, {"GUEST-SYSENTER-CANONICAL"}),
    c("sysenter: bit 47 fine with 57-bit addresses", {"GUEST_SYSENTER_ESP": 0x0000_8000_0000_0000}, set(),
      maxlinaddr=LA57),
    c("sysenter: bit 56 alone with 57-bit addresses", {"GUEST_SYSENTER_ESP": 0x0100_0000_0000_0000},
      {"GUEST-SYSENTER-CANONICAL"}, maxlinaddr=LA57),
    # GUEST-PERF-GLOBAL-RSVD: bits 63:49 reserved
    c("perf global ctrl: bits 48:0", {"VM_ENTRY_CONTROLS": ENTRY | PERF,
                                      "GUEST_IA32_PERF_GLOBAL_CTRL": 0x0001_FFFF_FFFF_FFFF}, set()),
    c("perf global ctrl: bit 49", {"VM_ENTRY_CONTROLS": ENTRY | PERF, "GUEST_IA32_PERF_GLOBAL_CTRL": BIT[49]},
      {"GUEST-PERF-GLOBAL-RSVD"}),
    # GUEST-PAT: bytes 0, 1, 4, 5, 6, 7
    c("pat: every valid type", {"GUEST_IA32_PAT": 0x0706_0504_0100_0706}, set()),
    c("pat: type 2 in PA2", {"GUEST_IA32_PAT": 0x0007_0406_0002_0406}, {"GUEST-PAT"}),
    c("pat: type 8 in PA7", {"GUEST_IA32_PAT": 0x0807_0406_0007_0406}, {"GUEST-PAT"}),
    c("pat: not loaded", {"GUEST_IA32_PAT": 0x0202_0202_0202_0202, "VM_ENTRY_CONTROLS": ENTRY & ~PAT}, set()),
    # GUEST-EFER-RSVD / -LMA / -LME: baseline EFER 0xd01 (SCE, LME, LMA, NXE)
    c("efer: bit 1", {"GUEST_IA32_EFER": 0xD01 | BIT[1]}, {"GUEST-EFER-RSVD"}),
    c("efer: SVME bit 12", {"GUEST_IA32_EFER": 0xD01 | BIT[12]}, {"GUEST-EFER-RSVD"}),
    c("efer: not loaded", {"GUEST_IA32_EFER": 0xD01 | BIT[1], "VM_ENTRY_CONTROLS": ENTRY & ~EFER}, set()),
    c("efer: LMA and LME clear in IA-32e mode", {"GUEST_IA32_EFER": 0x801}, {"GUEST-EFER-LMA"}),
    c("efer: LMA and LME set outside IA-32e mode", {"GUEST_IA32_EFER": 0xD00}, {"GUEST-EFER-LMA"},
      base="pae-ept"),
    c("efer: LMA without LME with paging", {"GUEST_IA32_EFER": 0xC01}, {"GUEST-EFER-LME"}),
    c("efer: LME without LMA with paging", {"GUEST_IA32_EFER": 0x900}, {"GUEST-EFER-LME"}, base="pae-ept"),
    c("efer: LME without LMA, paging off", {"GUEST_IA32_EFER": 0x100}, set(), base="real"),
    # GUEST-BNDCFGS-RSVD / -BASE: bits 11:2 reserved, 63:12 canonical
    c("bndcfgs: canonical base, EN and BNDPRESERVE",
      {"VM_ENTRY_CONTROLS": ENTRY | BNDCFGS, "GUEST_BNDCFGS": 0xFFFF_8000_0000_0003}, set()),
    c("bndcfgs: highest low-half base",
      {"VM_ENTRY_CONTROLS": ENTRY | BNDCFGS, "GUEST_BNDCFGS": 0x0000_7FFF_FFFF_F001}, set()),
    c("bndcfgs: bit 2", {"VM_ENTRY_CONTROLS": ENTRY | BNDCFGS, "GUEST_BNDCFGS": BIT[2]}, {"GUEST-BNDCFGS-RSVD"}),
    c("bndcfgs: bit 11", {"VM_ENTRY_CONTROLS": ENTRY | BNDCFGS, "GUEST_BNDCFGS": BIT[11]}, {"GUEST-BNDCFGS-RSVD"}),
    c("bndcfgs: base not canonical",
      {"VM_ENTRY_CONTROLS": ENTRY | BNDCFGS, "GUEST_BNDCFGS": 0x0000_8000_0000_0001}, {"GUEST-BNDCFGS-BASE"}),
    # GUEST-RTIT-CTL-RSVD: defined 17:0, 22:19, 27:24, 31, 47:32, 55, 56
    c("rtit_ctl: every defined bit", {"VM_ENTRY_CONTROLS": ENTRY | RTIT, "GUEST_IA32_RTIT_CTL": 0x0180_FFFF_8F7B_FFFF},
      set()),
    *[c(f"rtit_ctl: bit {b}", {"VM_ENTRY_CONTROLS": ENTRY | RTIT, "GUEST_IA32_RTIT_CTL": BIT[b]},
        {"GUEST-RTIT-CTL-RSVD"}) for b in (18, 23, 28, 30, 48, 54, 57, 63)],
    # GUEST-S-CET-RSVD / -SUPPRESS / GUEST-INTR-SSP-TABLE
    c("cet: valid state", CET_OK, set()),
    c("cet: S_CET bits 5:0 and SUPPRESS", {**CET_OK, "GUEST_S_CET": 0x3F | BIT[10]}, set()),
    c("cet: S_CET bit 6", {**CET_OK, "GUEST_S_CET": BIT[6]}, {"GUEST-S-CET-RSVD"}),
    c("cet: S_CET bit 9", {**CET_OK, "GUEST_S_CET": BIT[9]}, {"GUEST-S-CET-RSVD"}),
    c("cet: SUPPRESS and TRACKER", {**CET_OK, "GUEST_S_CET": BIT[10] | BIT[11]}, {"GUEST-S-CET-SUPPRESS"}),
    c("cet: S_CET need not be canonical", {**CET_OK, "GUEST_S_CET": 0x0000_8000_0000_0000}, set()),
    c("cet: SSP table not canonical", {**CET_OK, "GUEST_INTR_SSP_TABLE": 0x0000_8000_0000_0000},
      {"GUEST-INTR-SSP-TABLE"}),
    c("cet: not loaded, fields absent", {"VM_ENTRY_CONTROLS": ENTRY & ~CET}, set()),
    # GUEST-LBR-CTL-RSVD: defined 3:0 and 22:16
    c("lbr_ctl: every defined bit", {"VM_ENTRY_CONTROLS": ENTRY | LBR, "GUEST_IA32_LBR_CTL": 0x7F_000F}, set()),
    *[c(f"lbr_ctl: bit {b}", {"VM_ENTRY_CONTROLS": ENTRY | LBR, "GUEST_IA32_LBR_CTL": BIT[b]},
        {"GUEST-LBR-CTL-RSVD"}) for b in (4, 15, 23)],
    # GUEST-PKRS-RSVD
    c("pkrs: bits 31:0", {"VM_ENTRY_CONTROLS": ENTRY | PKRS, "GUEST_IA32_PKRS": 0xFFFF_FFFF}, set()),
    c("pkrs: bit 32", {"VM_ENTRY_CONTROLS": ENTRY | PKRS, "GUEST_IA32_PKRS": BIT[32]}, {"GUEST-PKRS-RSVD"}),
    # GUEST-SPEC-CTRL-RSVD: defined bits 8:0 and 10
    c("spec_ctrl: every defined bit", {"VM_ENTRY_CONTROLS": ENTRY | SPEC_CTRL, "GUEST_IA32_SPEC_CTRL": 0x5FF}, set()),
    *[c(f"spec_ctrl: bit {b}", {"VM_ENTRY_CONTROLS": ENTRY | SPEC_CTRL, "GUEST_IA32_SPEC_CTRL": BIT[b]},
        {"GUEST-SPEC-CTRL-RSVD"}) for b in (9, 11, 63)],
    # GUEST-CR4-FRED
    c("cr4: FRED in IA-32e mode", CR4_FRED_ON, set(), caps=FRED_CAPS),
    c("cr4: FRED outside IA-32e mode (CPL 0 in 32-bit code too)", {"GUEST_CR4": 0x2020 | CR4_FRED},
      {"GUEST-CR4-FRED", "GUEST-FRED-CPL0-LONG"}, base="pae-ept", caps=FRED_CAPS),
    # GUEST-FRED-CONFIG-RSVD / -BASE / -RSP-* / -SSP-*
    c("fred: valid state", FRED_OK, set()),
    c("fred: config bits 10:6, 3, 1:0", {**FRED_OK, "GUEST_IA32_FRED_CONFIG": 0xFFFF_FFFF_8100_07CB}, set()),
    *[c(f"fred: config bit {b}", {**FRED_OK, "GUEST_IA32_FRED_CONFIG": 0xFFFF_FFFF_8100_0000 | BIT[b]},
        {"GUEST-FRED-CONFIG-RSVD"}) for b in (2, 4, 5, 11)],
    c("fred: config entry point not canonical", {**FRED_OK, "GUEST_IA32_FRED_CONFIG": 0x0000_8000_0000_0000},
      {"GUEST-FRED-CONFIG-BASE"}),
    c("fred: RSP2 bit 5", {**FRED_OK, "GUEST_IA32_FRED_RSP2": 0xFFFF_C900_0000_1020}, {"GUEST-FRED-RSP-ALIGN"}),
    c("fred: RSP3 not canonical", {**FRED_OK, "GUEST_IA32_FRED_RSP3": 0x0000_8000_0000_0000},
      {"GUEST-FRED-RSP-CANONICAL"}),
    c("fred: SSP1 bit 2", {**FRED_OK, "GUEST_IA32_FRED_SSP1": 0xFFFF_C900_0001_0004}, {"GUEST-FRED-SSP-ALIGN"}),
    c("fred: SSP2 bit 3", {**FRED_OK, "GUEST_IA32_FRED_SSP2": 0xFFFF_C900_0001_1008}, set()),
    c("fred: SSP3 not canonical", {**FRED_OK, "GUEST_IA32_FRED_SSP3": 0x0000_8000_0000_0000},
      {"GUEST-FRED-SSP-CANONICAL"}),
    c("fred: not loaded, fields absent", {"VM_ENTRY_CONTROLS": ENTRY & ~FRED}, set()),
]

SEGMENTS: list[Case] = [
    # GUEST-SEG-TR-TI / GUEST-SEG-LDTR-TI
    c("tr: selector RPL 3 is fine", {"GUEST_TR_SELECTOR": 0x43}, set()),
    c("tr: TI set", {"GUEST_TR_SELECTOR": 0x44}, {"GUEST-SEG-TR-TI"}),
    c("ldtr: TI set but unusable", {"GUEST_LDTR_SELECTOR": 0x4}, set()),
    c("ldtr: usable", LDTR_USABLE, set()),
    c("ldtr: TI set and usable", {**LDTR_USABLE, "GUEST_LDTR_SELECTOR": 0x4C}, {"GUEST-SEG-LDTR-TI"}),
    # GUEST-SEG-SS-RPL (unrestricted guest 0, not virtual-8086)
    c("ss rpl: differs from CS RPL", {**NO_URG, "GUEST_CS_SELECTOR": 0x13}, {"GUEST-SEG-SS-RPL"}),
    c("ss rpl: differs, unrestricted guest", {"GUEST_CS_SELECTOR": 0x13}, set()),
    c("ss rpl: differs, virtual-8086", NO_URG, set(), base="v86"),
    # GUEST-SEG-V86-BASE / -LIMIT / -AR
    c("v86: DS base not selector << 4", {"GUEST_DS_BASE": 0x30001}, {"GUEST-SEG-V86-BASE"}, base="v86"),
    c("v86: CS limit 0xfffe", {"GUEST_CS_LIMIT": 0xFFFE}, {"GUEST-SEG-V86-LIMIT"}, base="v86"),
    c("v86: GS limit 0x1ffff", {"GUEST_GS_LIMIT": 0x1FFFF}, {"GUEST-SEG-V86-LIMIT"}, base="v86"),
    c("v86: ES not accessed", {"GUEST_ES_AR_BYTES": 0xF2}, {"GUEST-SEG-V86-AR"}, base="v86"),
    c("v86: SS with AVL", {"GUEST_SS_AR_BYTES": 0x10F3}, {"GUEST-SEG-V86-AR"}, base="v86"),
    c("v86: FS unusable", {"GUEST_FS_AR_BYTES": 0x100F3}, {"GUEST-SEG-V86-AR"}, base="v86"),
    c("not v86: base need not be selector << 4", {"GUEST_CS_BASE": 0x1234}, set()),
    # GUEST-SEG-BASE-CANONICAL: TR, FS, GS, usable or not
    c("fs base: highest low-half address", {"GUEST_FS_BASE": 0x0000_7FFF_FFFF_FFFF}, set()),
    c("fs base: not canonical though unusable", {"GUEST_FS_BASE": 0x0000_8000_0000_0000},
      {"GUEST-SEG-BASE-CANONICAL"}),
    c("gs base: not canonical", {"GUEST_GS_BASE": 0xFFFF_7FFF_FFFF_FFFF}, {"GUEST-SEG-BASE-CANONICAL"}),
    c("tr base: not canonical", {"GUEST_TR_BASE": 0x0001_0000_0000_0000}, {"GUEST-SEG-BASE-CANONICAL"}),
    # GUEST-SEG-LDTR-BASE
    c("ldtr base: not canonical but unusable", {"GUEST_LDTR_BASE": 0x0000_8000_0000_0000}, set()),
    c("ldtr base: not canonical and usable", {**LDTR_USABLE, "GUEST_LDTR_BASE": 0x0000_8000_0000_0000},
      {"GUEST-SEG-LDTR-BASE"}),
    # GUEST-SEG-CS-BASE / GUEST-SEG-BASE-HIGH
    c("cs base: bits 31:0", {"GUEST_CS_BASE": 0xFFFF_FFFF}, set()),
    c("cs base: bit 32", {"GUEST_CS_BASE": BIT[32]}, {"GUEST-SEG-CS-BASE"}),
    c("ds base: bit 32 but unusable", {"GUEST_DS_BASE": BIT[32]}, set()),
    c("ss base: bit 32", {"GUEST_SS_BASE": BIT[32]}, {"GUEST-SEG-BASE-HIGH"}),
    c("ds base: bit 63 and usable", {**DS_USABLE, "GUEST_DS_BASE": BIT[63]}, {"GUEST-SEG-BASE-HIGH"}),
    c("fs base: 64-bit and usable",
      {"GUEST_FS_AR_BYTES": 0xC093, "GUEST_FS_LIMIT": 0xFFFF_FFFF, "GUEST_FS_BASE": 0xFFFF_8880_0000_0000}, set()),
    # GUEST-SEG-CS-TYPE
    c("cs type 3 with unrestricted guest", {"GUEST_CS_AR_BYTES": 0xA093}, set()),
    c("cs type 3 without unrestricted guest", {**NO_URG, "GUEST_CS_AR_BYTES": 0xA093}, {"GUEST-SEG-CS-TYPE"}),
    c("cs type 8 (not accessed)", {"GUEST_CS_AR_BYTES": 0xA098}, {"GUEST-SEG-CS-TYPE"}),
    c("cs type 10 (not accessed)", {"GUEST_CS_AR_BYTES": 0xA09A}, {"GUEST-SEG-CS-TYPE"}),
    c("cs type 9 (execute-only)", {"GUEST_CS_AR_BYTES": 0xA099}, set()),
    c("cs type 15 (conforming)", {"GUEST_CS_AR_BYTES": 0xA09F}, set()),
    # GUEST-SEG-SS-TYPE
    c("ss type 7 (expand-down)", {"GUEST_SS_AR_BYTES": 0xC097}, set()),
    c("ss type 1 (read-only)", {"GUEST_SS_AR_BYTES": 0xC091}, {"GUEST-SEG-SS-TYPE"}),
    c("ss type 1 but unusable", {"GUEST_SS_AR_BYTES": 0x1C091}, set()),
    # GUEST-SEG-DATA-TYPE
    c("ds usable", DS_USABLE, set()),
    c("ds not accessed", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0xC092}, {"GUEST-SEG-DATA-TYPE"}),
    c("ds execute-only code", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0xC099}, {"GUEST-SEG-DATA-TYPE"}),
    c("ds readable code", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0xC09B}, set()),
    c("ds not accessed but unusable", {"GUEST_DS_AR_BYTES": 0x1C092}, set()),
    # GUEST-SEG-S
    c("cs system segment", {"GUEST_CS_AR_BYTES": 0xA08B}, {"GUEST-SEG-S"}),
    c("ds system segment", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0xC083}, {"GUEST-SEG-S"}),
    # GUEST-SEG-CS-DPL-TYPE3
    c("cs type 3 with DPL 3", {"GUEST_CS_AR_BYTES": 0xA0F3}, {"GUEST-SEG-CS-DPL-TYPE3"}),
    # GUEST-SEG-CS-DPL-NONCONF / -CONF
    c("cs non-conforming DPL 1, SS DPL 0", {"GUEST_CS_AR_BYTES": 0xA0BB}, {"GUEST-SEG-CS-DPL-NONCONF"}),
    c("cs non-conforming DPL 3, SS DPL 3", {"GUEST_CS_AR_BYTES": 0xA0FB, "GUEST_SS_AR_BYTES": 0xC0F3}, set()),
    c("cs conforming DPL 0, SS DPL 3", {"GUEST_CS_AR_BYTES": 0xA09F, "GUEST_SS_AR_BYTES": 0xC0F3}, set()),
    c("cs conforming DPL 3, SS DPL 0", {"GUEST_CS_AR_BYTES": 0xA0FF}, {"GUEST-SEG-CS-DPL-CONF"}),
    # GUEST-SEG-SS-DPL-RPL (unrestricted guest 0)
    c("ss DPL 0, RPL 3", {**NO_URG, "GUEST_CS_SELECTOR": 0x13, "GUEST_SS_SELECTOR": 0x1B},
      {"GUEST-SEG-SS-DPL-RPL"}),
    c("ss DPL 3, RPL 3", {**NO_URG, "GUEST_CS_SELECTOR": 0x13, "GUEST_SS_SELECTOR": 0x1B,
                          "GUEST_CS_AR_BYTES": 0xA0FB, "GUEST_SS_AR_BYTES": 0xC0F3}, set()),
    c("ss DPL 0, RPL 3, unrestricted guest", {"GUEST_CS_SELECTOR": 0x13, "GUEST_SS_SELECTOR": 0x1B}, set()),
    # GUEST-SEG-SS-DPL-ZERO
    c("ss DPL 3 with CS type 3", {"GUEST_CS_AR_BYTES": 0xA093, "GUEST_SS_AR_BYTES": 0xC0F3},
      {"GUEST-SEG-SS-DPL-ZERO"}),
    c("ss DPL 3 in real mode", {"GUEST_SS_AR_BYTES": 0xF3}, {"GUEST-SEG-SS-DPL-ZERO", "GUEST-SEG-CS-DPL-NONCONF"},
      base="real"),
    c("ss DPL 3 in real mode, unusable", {"GUEST_SS_AR_BYTES": 0x100F3},
      {"GUEST-SEG-SS-DPL-ZERO", "GUEST-SEG-CS-DPL-NONCONF"}, base="real"),
    # GUEST-SEG-DATA-DPL (unrestricted guest 0; types 0-11)
    c("ds DPL 0 below RPL 3", {**NO_URG, **DS_USABLE, "GUEST_DS_SELECTOR": 0x1B}, {"GUEST-SEG-DATA-DPL"}),
    c("ds DPL 3, RPL 3", {**NO_URG, **DS_USABLE, "GUEST_DS_SELECTOR": 0x1B, "GUEST_DS_AR_BYTES": 0xC0F3}, set()),
    c("ds DPL 0 below RPL 3, conforming code", {**NO_URG, **DS_USABLE, "GUEST_DS_SELECTOR": 0x1B,
                                                "GUEST_DS_AR_BYTES": 0xC09F}, set()),
    c("ds DPL 0 below RPL 3, non-conforming code", {**NO_URG, **DS_USABLE, "GUEST_DS_SELECTOR": 0x1B,
                                                    "GUEST_DS_AR_BYTES": 0xC09B}, {"GUEST-SEG-DATA-DPL"}),
    c("ds DPL 0 below RPL 3, unrestricted guest", {**DS_USABLE, "GUEST_DS_SELECTOR": 0x1B}, set()),
    c("gs RPL 3 but unusable", {**NO_URG, "GUEST_GS_SELECTOR": 0x3}, set()),
    # GUEST-SEG-P
    c("cs not present", {"GUEST_CS_AR_BYTES": 0xA01B}, {"GUEST-SEG-P"}),
    c("ds not present", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0xC013}, {"GUEST-SEG-P"}),
    c("es not present but unusable", {"GUEST_ES_AR_BYTES": 0x10013}, set()),
    # GUEST-SEG-AR-RSVD
    c("cs bit 8", {"GUEST_CS_AR_BYTES": 0xA19B}, {"GUEST-SEG-AR-RSVD"}),
    c("ss bit 17", {"GUEST_SS_AR_BYTES": 0x2C093}, {"GUEST-SEG-AR-RSVD"}),
    c("ds bit 17 but unusable", {"GUEST_DS_AR_BYTES": 0x30000}, set()),
    c("cs AVL", {"GUEST_CS_AR_BYTES": 0xB09B}, set()),
    c("cs unusable bit is not checked", {"GUEST_CS_AR_BYTES": 0x1A09B}, set()),
    # GUEST-SEG-CS-DB
    c("cs L and D/B in IA-32e mode", {"GUEST_CS_AR_BYTES": 0xE09B}, {"GUEST-SEG-CS-DB"}),
    c("cs compatibility mode", {"GUEST_CS_AR_BYTES": 0xC09B, "GUEST_RIP": 0x1000}, set()),
    c("cs L and D/B outside IA-32e mode", {"GUEST_CS_AR_BYTES": 0xE09B}, set(), base="pae-ept"),
    # GUEST-SEG-G
    c("cs G=0, limit 0xfffff", {"GUEST_CS_AR_BYTES": 0x209B, "GUEST_CS_LIMIT": 0xF_FFFF}, set()),
    c("cs G=0, limit 0x100000", {"GUEST_CS_AR_BYTES": 0x209B, "GUEST_CS_LIMIT": 0x10_0000}, {"GUEST-SEG-G"}),
    c("cs G=1, limit 0xfff", {"GUEST_CS_LIMIT": 0xFFF}, set()),
    c("cs G=1, limit 0xfffffffe", {"GUEST_CS_LIMIT": 0xFFFF_FFFE}, {"GUEST-SEG-G"}),
    c("ds G=0, limit 0xffffffff", {**DS_USABLE, "GUEST_DS_AR_BYTES": 0x4093}, {"GUEST-SEG-G"}),
    c("es G=0, limit 0xffffffff but unusable", {"GUEST_ES_AR_BYTES": 0x14093, "GUEST_ES_LIMIT": 0xFFFF_FFFF}, set()),
    # GUEST-SEG-TR-*
    c("tr type 3 in IA-32e mode", {"GUEST_TR_AR_BYTES": 0x83}, {"GUEST-SEG-TR-TYPE"}),
    c("tr type 3 outside IA-32e mode", {"GUEST_TR_AR_BYTES": 0x83}, set(), base="pae-ept"),
    c("tr type 9 (available TSS)", {"GUEST_TR_AR_BYTES": 0x89}, {"GUEST-SEG-TR-TYPE"}, base="pae-ept"),
    c("tr S=1", {"GUEST_TR_AR_BYTES": 0x9B}, {"GUEST-SEG-TR-S"}),
    c("tr not present", {"GUEST_TR_AR_BYTES": 0x0B}, {"GUEST-SEG-TR-P"}),
    c("tr bit 8", {"GUEST_TR_AR_BYTES": 0x18B}, {"GUEST-SEG-TR-RSVD"}),
    c("tr bit 17", {"GUEST_TR_AR_BYTES": 0x2008B}, {"GUEST-SEG-TR-RSVD"}),
    c("tr G=0, limit 0xfffff", {"GUEST_TR_LIMIT": 0xF_FFFF}, set()),
    c("tr G=0, limit 0x100067", {"GUEST_TR_LIMIT": 0x10_0067}, {"GUEST-SEG-TR-G"}),
    c("tr G=1, limit 0x67", {"GUEST_TR_AR_BYTES": 0x808B}, {"GUEST-SEG-TR-G"}),
    c("tr unusable", {"GUEST_TR_AR_BYTES": 0x1008B}, {"GUEST-SEG-TR-UNUSABLE"}),
    # GUEST-SEG-LDTR-* (only when usable)
    c("ldtr type 3", {**LDTR_USABLE, "GUEST_LDTR_AR_BYTES": 0x83}, {"GUEST-SEG-LDTR-TYPE"}),
    c("ldtr type 3 but unusable", {"GUEST_LDTR_AR_BYTES": 0x10083}, set()),
    c("ldtr S=1", {**LDTR_USABLE, "GUEST_LDTR_AR_BYTES": 0x92}, {"GUEST-SEG-LDTR-S"}),
    c("ldtr not present", {**LDTR_USABLE, "GUEST_LDTR_AR_BYTES": 0x02}, {"GUEST-SEG-LDTR-P"}),
    c("ldtr bit 11", {**LDTR_USABLE, "GUEST_LDTR_AR_BYTES": 0x882}, {"GUEST-SEG-LDTR-RSVD"}),
    c("ldtr G=0, limit 0xfffff", {**LDTR_USABLE, "GUEST_LDTR_LIMIT": 0xF_FFFF}, set()),
    c("ldtr G=0, limit 0x100000", {**LDTR_USABLE, "GUEST_LDTR_LIMIT": 0x10_0000}, {"GUEST-SEG-LDTR-G"}),
    c("ldtr G=0, limit 0x100000 but unusable", {"GUEST_LDTR_LIMIT": 0x10_0000}, set()),
    # GUEST-FRED-SS-DPL / -CPL0-LONG (CR4.FRED = 1)
    c("fred: CPL 3", {**CR4_FRED_ON, **CPL3}, set(), caps=FRED_CAPS),
    c("fred: CPL 1", {**CR4_FRED_ON, "GUEST_CS_AR_BYTES": 0xA0BB, "GUEST_SS_AR_BYTES": 0xC0B3},
      {"GUEST-FRED-SS-DPL"}, caps=FRED_CAPS),
    c("no fred: CPL 1", {"GUEST_CS_AR_BYTES": 0xA0BB, "GUEST_SS_AR_BYTES": 0xC0B3}, set()),
    c("fred: CPL 0 in compatibility mode", {**CR4_FRED_ON, "GUEST_CS_AR_BYTES": 0xC09B, "GUEST_RIP": 0x1000},
      {"GUEST-FRED-CPL0-LONG"}, caps=FRED_CAPS),
    c("fred: CPL 3 in compatibility mode", {**CR4_FRED_ON, "GUEST_CS_AR_BYTES": 0xC0FB,
                                            "GUEST_SS_AR_BYTES": 0xC0F3, "GUEST_RIP": 0x1000}, set(), caps=FRED_CAPS),
]

DTR_RIP: list[Case] = [
    # GUEST-DTR-BASE / -LIMIT
    c("gdtr base: lowest high-half address", {"GUEST_GDTR_BASE": 0xFFFF_8000_0000_0000}, set()),
    c("gdtr base: not canonical", {"GUEST_GDTR_BASE": 0x0000_8000_0000_0000}, {"GUEST-DTR-BASE"}),
    c("idtr base: not canonical", {"GUEST_IDTR_BASE": 0xFFFF_7FFF_FFFF_F000}, {"GUEST-DTR-BASE"}),
    c("gdtr limit 0xffff", {"GUEST_GDTR_LIMIT": 0xFFFF}, set()),
    c("gdtr limit 0x10000", {"GUEST_GDTR_LIMIT": 0x1_0000}, {"GUEST-DTR-LIMIT"}),
    c("idtr limit bit 31", {"GUEST_IDTR_LIMIT": BIT[31]}, {"GUEST-DTR-LIMIT"}),
    # GUEST-RIP-HIGH
    c("rip: 0xffffffff outside IA-32e mode", {"GUEST_RIP": 0xFFFF_FFFF}, set(), base="pae-ept"),
    c("rip: bit 32 outside IA-32e mode", {"GUEST_RIP": BIT[32]}, {"GUEST-RIP-HIGH"}, base="pae-ept"),
    c("rip: bit 32 in compatibility mode", {"GUEST_CS_AR_BYTES": 0xC09B, "GUEST_RIP": BIT[32]}, {"GUEST-RIP-HIGH"}),
    # GUEST-RIP-LINEAR: bits 63:48 identical (weaker than canonical)
    c("rip: bit 47 alone passes (not canonical)", {"GUEST_RIP": 0x0000_8000_0000_0000}, set()),
    c("rip: bit 48", {"GUEST_RIP": 0x0001_0000_0000_0000}, {"GUEST-RIP-LINEAR"}),
    c("rip: bits 63:48 set", {"GUEST_RIP": 0xFFFF_0000_0000_0000}, set()),
    c("rip: bit 48 clear in the high half", {"GUEST_RIP": 0xFFFE_FFFF_FFFF_FFFF}, {"GUEST-RIP-LINEAR"}),
    c("rip: bits 56:0 with 57-bit addresses", {"GUEST_RIP": 0x01FF_FFFF_FFFF_FFFF}, set(), maxlinaddr=LA57),
    c("rip: bit 57 with 57-bit addresses", {"GUEST_RIP": 0x0200_0000_0000_0000}, {"GUEST-RIP-LINEAR"},
      maxlinaddr=LA57),
    # GUEST-RFLAGS-RSVD
    c("rflags: every defined flag but VM", {"GUEST_RFLAGS": 0x3D_7FD7}, set()),
    c("rflags: bit 1 clear", {"GUEST_RFLAGS": 0}, {"GUEST-RFLAGS-RSVD"}),
    *[c(f"rflags: bit {b}", {"GUEST_RFLAGS": 0x2 | BIT[b]}, {"GUEST-RFLAGS-RSVD"}) for b in (3, 5, 15, 22, 63)],
    # GUEST-RFLAGS-VM
    c("rflags: VM with CR0.PE = 0", {"GUEST_CR0": 0x30}, {"GUEST-RFLAGS-VM"}, base="v86"),
    c("rflags: VM in IA-32e mode", {"VM_ENTRY_CONTROLS": ENTRY},
      {"GUEST-RFLAGS-VM", "GUEST-IA32E-PG-PAE", "GUEST-EFER-LMA"}, base="v86"),
    # GUEST-RFLAGS-IF
    c("rflags: external interrupt with IF=1", {"VM_ENTRY_INTR_INFO_FIELD": EXTINT_32, "GUEST_RFLAGS": IF | FIXED1},
      set()),
    c("rflags: external interrupt with IF=0", {"VM_ENTRY_INTR_INFO_FIELD": EXTINT_32}, {"GUEST-RFLAGS-IF"}),
    c("rflags: NMI with IF=0", {"VM_ENTRY_INTR_INFO_FIELD": NMI}, set()),
    c("rflags: invalid external interrupt with IF=0", {"VM_ENTRY_INTR_INFO_FIELD": 0x20}, set()),
    # GUEST-FRED-CPL3-IOPL
    c("fred: CPL 3 with IOPL 3", {**CR4_FRED_ON, **CPL3, "GUEST_RFLAGS": BIT[12] | BIT[13] | FIXED1},
      {"GUEST-FRED-CPL3-IOPL"}, caps=FRED_CAPS),
    c("fred: CPL 0 with IOPL 3", {**CR4_FRED_ON, "GUEST_RFLAGS": BIT[12] | BIT[13] | FIXED1}, set(), caps=FRED_CAPS),
    c("no fred: CPL 3 with IOPL 3", {**CPL3, "GUEST_RFLAGS": BIT[12] | BIT[13] | FIXED1}, set()),
    # GUEST-SSP-ALIGN / -LINEAR (load CET state)
    c("ssp: bit 1", {**CET_OK, "GUEST_SSP": 0xFFFF_C900_0000_0FFA}, {"GUEST-SSP-ALIGN"}),
    c("ssp: bit 0", {**CET_OK, "GUEST_SSP": 0xFFFF_C900_0000_0FF9}, {"GUEST-SSP-ALIGN"}),
    c("ssp: bit 47 alone passes (not canonical)", {**CET_OK, "GUEST_SSP": 0x0000_8000_0000_0000}, set()),
    c("ssp: bit 48", {**CET_OK, "GUEST_SSP": 0x0001_0000_0000_0000}, {"GUEST-SSP-LINEAR"}),
    c("ssp: bit 48 clear in the high half", {**CET_OK, "GUEST_SSP": 0xFFFE_FFFF_FFFF_FFF8}, {"GUEST-SSP-LINEAR"}),
]

NONREG: list[Case] = [
    # GUEST-ACTIVITY-SUPPORTED: IA32_VMX_MISC 0x7004c1e7 has bits 6, 7, 8
    *[c(f"activity {a} supported", {"GUEST_ACTIVITY_STATE": a}, set()) for a in (HLT, SHUTDOWN, SIPI)],
    c("activity 4", {"GUEST_ACTIVITY_STATE": 4}, {"GUEST-ACTIVITY-SUPPORTED"}),
    c("activity shutdown unsupported", {"GUEST_ACTIVITY_STATE": SHUTDOWN}, {"GUEST-ACTIVITY-SUPPORTED"},
      caps={"IA32_VMX_MISC": 0x7004_C167}),
    c("activity HLT still supported", {"GUEST_ACTIVITY_STATE": HLT}, set(), caps={"IA32_VMX_MISC": 0x7004_C167}),
    # GUEST-ACTIVITY-HLT-DPL
    c("HLT with SS DPL 3", {"GUEST_ACTIVITY_STATE": HLT, "GUEST_CS_AR_BYTES": 0xA0FB, "GUEST_SS_AR_BYTES": 0xC0F3},
      {"GUEST-ACTIVITY-HLT-DPL"}),
    c("active with SS DPL 3", {"GUEST_CS_AR_BYTES": 0xA0FB, "GUEST_SS_AR_BYTES": 0xC0F3}, set()),
    # GUEST-ACTIVITY-BLOCKING
    c("HLT with STI blocking", {"GUEST_ACTIVITY_STATE": HLT, "GUEST_INTERRUPTIBILITY_INFO": STI,
                                "GUEST_RFLAGS": IF | FIXED1}, {"GUEST-ACTIVITY-BLOCKING"}),
    c("wait-for-SIPI with MOV-SS blocking", {"GUEST_ACTIVITY_STATE": SIPI, "GUEST_INTERRUPTIBILITY_INFO": MOVSS},
      {"GUEST-ACTIVITY-BLOCKING"}),
    c("active with MOV-SS blocking", {"GUEST_INTERRUPTIBILITY_INFO": MOVSS}, set()),
    c("HLT with NMI blocking", {"GUEST_ACTIVITY_STATE": HLT, "GUEST_INTERRUPTIBILITY_INFO": NMI_BLK}, set()),
    # GUEST-ACTIVITY-EVENT
    c("HLT: external interrupt", {"GUEST_ACTIVITY_STATE": HLT, "VM_ENTRY_INTR_INFO_FIELD": EXTINT_32,
                                  "GUEST_RFLAGS": IF | FIXED1}, set()),
    *[c(f"HLT: event {info:#x}", {"GUEST_ACTIVITY_STATE": HLT, "VM_ENTRY_INTR_INFO_FIELD": info}, set())
      for info in (NMI, HW_DB, HW_MC, MTF)],
    *[c(f"HLT: event {info:#x} blocked", {"GUEST_ACTIVITY_STATE": HLT, "VM_ENTRY_INTR_INFO_FIELD": info},
        {"GUEST-ACTIVITY-EVENT"}) for info in (HW_UD, HW_GP, SWINT_80, 0x8000_0701)],
    *[c(f"shutdown: event {info:#x}", {"GUEST_ACTIVITY_STATE": SHUTDOWN, "VM_ENTRY_INTR_INFO_FIELD": info}, set())
      for info in (NMI, HW_MC)],
    c("shutdown: external interrupt", {"GUEST_ACTIVITY_STATE": SHUTDOWN, "VM_ENTRY_INTR_INFO_FIELD": EXTINT_32,
                                       "GUEST_RFLAGS": IF | FIXED1}, {"GUEST-ACTIVITY-EVENT"}),
    c("shutdown: #DB", {"GUEST_ACTIVITY_STATE": SHUTDOWN, "VM_ENTRY_INTR_INFO_FIELD": HW_DB},
      {"GUEST-ACTIVITY-EVENT"}),
    c("wait-for-SIPI: NMI", {"GUEST_ACTIVITY_STATE": SIPI, "VM_ENTRY_INTR_INFO_FIELD": NMI},
      {"GUEST-ACTIVITY-EVENT"}),
    c("active: #GP", {"VM_ENTRY_INTR_INFO_FIELD": HW_GP}, set()),
    # GUEST-ACTIVITY-SMM-SIPI (entry to SMM from SMM, with SMI blocking)
    c("entry to SMM, active", SMM_ENTRY, set(), in_smm=True),
    c("entry to SMM, wait-for-SIPI", {**SMM_ENTRY, "GUEST_ACTIVITY_STATE": SIPI}, {"GUEST-ACTIVITY-SMM-SIPI"},
      in_smm=True),
    # GUEST-INTR-RSVD
    c("interruptibility bit 5", {"GUEST_INTERRUPTIBILITY_INFO": BIT[5]}, {"GUEST-INTR-RSVD"}),
    c("interruptibility bit 31", {"GUEST_INTERRUPTIBILITY_INFO": BIT[31]}, {"GUEST-INTR-RSVD"}),
    # GUEST-INTR-STI-MOVSS / -STI-IF
    c("STI and MOV-SS blocking", {"GUEST_INTERRUPTIBILITY_INFO": STI | MOVSS, "GUEST_RFLAGS": IF | FIXED1},
      {"GUEST-INTR-STI-MOVSS"}),
    c("STI blocking with IF=1", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": IF | FIXED1}, set()),
    c("STI blocking with IF=0", {"GUEST_INTERRUPTIBILITY_INFO": STI}, {"GUEST-INTR-STI-IF"}),
    # GUEST-INTR-EXTINT
    c("external interrupt with STI blocking", {"VM_ENTRY_INTR_INFO_FIELD": EXTINT_32, "GUEST_RFLAGS": IF | FIXED1,
                                               "GUEST_INTERRUPTIBILITY_INFO": STI}, {"GUEST-INTR-EXTINT"}),
    c("external interrupt with MOV-SS blocking", {"VM_ENTRY_INTR_INFO_FIELD": EXTINT_32, "GUEST_RFLAGS": IF | FIXED1,
                                                  "GUEST_INTERRUPTIBILITY_INFO": MOVSS}, {"GUEST-INTR-EXTINT"}),
    c("external interrupt with NMI blocking", {"VM_ENTRY_INTR_INFO_FIELD": EXTINT_32, "GUEST_RFLAGS": IF | FIXED1,
                                               "GUEST_INTERRUPTIBILITY_INFO": NMI_BLK}, set()),
    # GUEST-INTR-NMI-MOVSS (blocking by STI with an NMI is implementation-specific: not reported)
    c("NMI with MOV-SS blocking", {"VM_ENTRY_INTR_INFO_FIELD": NMI, "GUEST_INTERRUPTIBILITY_INFO": MOVSS},
      {"GUEST-INTR-NMI-MOVSS"}),
    c("NMI with STI blocking", {"VM_ENTRY_INTR_INFO_FIELD": NMI, "GUEST_INTERRUPTIBILITY_INFO": STI,
                                "GUEST_RFLAGS": IF | FIXED1}, set()),
    # GUEST-INTR-SMI-NOT-SMM / -SMI-ENTRY-SMM
    c("SMI blocking outside SMM", {"GUEST_INTERRUPTIBILITY_INFO": SMI}, {"GUEST-INTR-SMI-NOT-SMM"}),
    c("SMI blocking in SMM", {"GUEST_INTERRUPTIBILITY_INFO": SMI}, set(), in_smm=True),
    c("entry to SMM without SMI blocking", {**SMM_ENTRY, "GUEST_INTERRUPTIBILITY_INFO": 0},
      {"GUEST-INTR-SMI-ENTRY-SMM"}, in_smm=True),
    # GUEST-INTR-VNMI (pin 0x3f has virtual NMIs)
    c("NMI with virtual-NMI blocking", {"VM_ENTRY_INTR_INFO_FIELD": NMI, "GUEST_INTERRUPTIBILITY_INFO": NMI_BLK},
      {"GUEST-INTR-VNMI"}),
    c("NMI with NMI blocking, no virtual NMIs",
      {"VM_ENTRY_INTR_INFO_FIELD": NMI, "GUEST_INTERRUPTIBILITY_INFO": NMI_BLK,
       "PIN_BASED_VM_EXEC_CONTROL": PIN & ~VNMI}, set()),
    c("virtual-NMI blocking without injection", {"GUEST_INTERRUPTIBILITY_INFO": NMI_BLK}, set()),
    # GUEST-INTR-ENCLAVE
    c("enclave interruption", {"GUEST_INTERRUPTIBILITY_INFO": ENCLAVE}, set()),
    c("enclave interruption with STI blocking", {"GUEST_INTERRUPTIBILITY_INFO": ENCLAVE | STI,
                                                 "GUEST_RFLAGS": IF | FIXED1}, set()),
    c("enclave interruption with MOV-SS blocking", {"GUEST_INTERRUPTIBILITY_INFO": ENCLAVE | MOVSS},
      {"GUEST-INTR-ENCLAVE"}),
    # GUEST-FRED-CPL3-STI
    c("fred: CPL 3 with STI blocking", {**CR4_FRED_ON, **CPL3, "GUEST_RFLAGS": IF | FIXED1,
                                        "GUEST_INTERRUPTIBILITY_INFO": STI}, {"GUEST-FRED-CPL3-STI"}, caps=FRED_CAPS),
    c("fred: CPL 0 with STI blocking", {**CR4_FRED_ON, "GUEST_RFLAGS": IF | FIXED1,
                                        "GUEST_INTERRUPTIBILITY_INFO": STI}, set(), caps=FRED_CAPS),
    # GUEST-PENDDBG-RSVD
    c("pending debug: B3-B0, enabled breakpoint, BS", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x500F}, set()),
    *[c(f"pending debug: bit {b}", {"GUEST_PENDING_DBG_EXCEPTIONS": BIT[b]}, {"GUEST-PENDDBG-RSVD"})
      for b in (4, 11, 13, 15, 17, 63)],
    # GUEST-PENDDBG-BS
    c("BS: STI blocking, TF=1, BS=0", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": TF | IF | FIXED1},
      {"GUEST-PENDDBG-BS"}),
    c("BS: STI blocking, TF=1, BS=1", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": TF | IF | FIXED1,
                                       "GUEST_PENDING_DBG_EXCEPTIONS": BIT[14]}, set()),
    c("BS: STI blocking, TF=1, BTF=1, BS=1", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": TF | IF | FIXED1,
                                              "GUEST_IA32_DEBUGCTL": BIT[1], "GUEST_PENDING_DBG_EXCEPTIONS": BIT[14]},
      {"GUEST-PENDDBG-BS"}),
    c("BS: STI blocking, TF=1, BTF=1, BS=0", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": TF | IF | FIXED1,
                                              "GUEST_IA32_DEBUGCTL": BIT[1]}, set()),
    c("BS: STI blocking, TF=0, BS=1", {"GUEST_INTERRUPTIBILITY_INFO": STI, "GUEST_RFLAGS": IF | FIXED1,
                                       "GUEST_PENDING_DBG_EXCEPTIONS": BIT[14]}, {"GUEST-PENDDBG-BS"}),
    c("BS: MOV-SS blocking, TF=1, BS=1", {"GUEST_INTERRUPTIBILITY_INFO": MOVSS, "GUEST_RFLAGS": TF | FIXED1,
                                          "GUEST_PENDING_DBG_EXCEPTIONS": BIT[14]}, set()),
    c("BS: MOV-SS blocking, TF=1, BS=0", {"GUEST_INTERRUPTIBILITY_INFO": MOVSS, "GUEST_RFLAGS": TF | FIXED1},
      {"GUEST-PENDDBG-BS"}),
    c("BS: HLT, TF=1, BS=0", {"GUEST_ACTIVITY_STATE": HLT, "GUEST_RFLAGS": TF | FIXED1}, {"GUEST-PENDDBG-BS"}),
    c("BS: no blocking, active, TF=1, BS=0", {"GUEST_RFLAGS": TF | FIXED1}, set()),
    c("BS: no blocking, active, TF=0, BS=1", {"GUEST_PENDING_DBG_EXCEPTIONS": BIT[14]}, set()),
    # GUEST-PENDDBG-RTM
    c("RTM with enabled breakpoint", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x1_1000}, set()),
    c("RTM without enabled breakpoint", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x1_0000}, {"GUEST-PENDDBG-RTM"}),
    c("RTM with B0", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x1_1001}, {"GUEST-PENDDBG-RTM"}),
    c("RTM with BS", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x1_5000}, {"GUEST-PENDDBG-RTM"}),
    c("RTM with bit 20", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x11_1000}, {"GUEST-PENDDBG-RTM", "GUEST-PENDDBG-RSVD"}),
    c("RTM with MOV-SS blocking", {"GUEST_PENDING_DBG_EXCEPTIONS": 0x1_1000, "GUEST_INTERRUPTIBILITY_INFO": MOVSS},
      {"GUEST-PENDDBG-RTM"}),
    # GUEST-LINK-* (exit qualification 4)
    c("link pointer to a VMCS with revision 4", LINK_OK, set(), memory=LINK_MEMORY),
    c("link pointer: upper 32 bits of the word are not the header", LINK_OK, set(),
      memory={0x7000: 0xFFFF_FFFF_0000_0004}),
    c("link pointer: revision 5", LINK_OK, {"GUEST-LINK-REVISION"}, memory={0x7000: 0x5}),
    c("link pointer: shadow VMCS without VMCS shadowing", LINK_OK, {"GUEST-LINK-SHADOW"},
      memory={0x7000: 0x8000_0004}),
    c("link pointer: shadow VMCS with VMCS shadowing", {**LINK_OK, "SECONDARY_VM_EXEC_CONTROL": PROC2 | SHADOWING},
      set(), memory={0x7000: 0x8000_0004}),
    c("link pointer: ordinary VMCS with VMCS shadowing",
      {**LINK_OK, "SECONDARY_VM_EXEC_CONTROL": PROC2 | SHADOWING}, {"GUEST-LINK-SHADOW"}, memory=LINK_MEMORY),
    c("link pointer: 0 is not 'no link'", {"VMCS_LINK_POINTER": 0}, {"GUEST-LINK-REVISION"}),
    c("link pointer: not aligned", {"VMCS_LINK_POINTER": 0x7008}, {"GUEST-LINK-ALIGN"}, memory=LINK_MEMORY),
    c("link pointer: bit 46", {"VMCS_LINK_POINTER": BIT[46]}, {"GUEST-LINK-MAXPHY"}),
    c("link pointer: highest page", {"VMCS_LINK_POINTER": 0x3FFF_FFFF_F000}, set(),
      memory={0x3FFF_FFFF_F000: 0x4}),
    # GUEST-UINV
    c("uinv 0xff", {"VM_ENTRY_CONTROLS": ENTRY | UINV, "GUEST_UINV": 0xFF}, set()),
    c("uinv 0x100", {"VM_ENTRY_CONTROLS": ENTRY | UINV, "GUEST_UINV": 0x100}, {"GUEST-UINV"}),
]

PDPTES: list[Case] = [
    # GUEST-PDPTE-RSVD: present PDPTEs must have bits 2:1, 8:5 and 63:46 clear (exit qualification 2)
    c("pae with EPT", {}, set(), base="pae-ept"),
    *[c(f"pae with EPT: PDPTE0 bit {b}", {"GUEST_PDPTR0": 0x4001 | BIT[b]}, {"GUEST-PDPTE-RSVD"}, base="pae-ept")
      for b in (1, 2, 5, 8, 46, 52, 63)],
    *[c(f"pae with EPT: PDPTE1 bit {b} allowed", {"GUEST_PDPTR1": 0x5001 | BIT[b]}, set(), base="pae-ept")
      for b in (3, 4, 9, 11, 45)],
    c("pae with EPT: not-present PDPTE with reserved bits", {"GUEST_PDPTR3": 0x1E6 | BIT[63]}, set(),
      base="pae-ept"),
    c("pae with EPT: PDPTEs in memory are ignored", {}, set(), base="pae-ept", memory={0x3000: 0x4003}),
    c("pae without EPT", {}, set(), base="pae"),
    c("pae without EPT: PDPTE1 bit 2", {}, {"GUEST-PDPTE-RSVD"}, base="pae", memory={0x3008: 0x5005}),
    c("pae without EPT: PDPTE3 bit 63", {}, {"GUEST-PDPTE-RSVD"}, base="pae", memory={0x3018: BIT[63] | 1}),
    c("pae without EPT: PDPTE fields are ignored", {"GUEST_PDPTR0": 0x4003}, set(), base="pae"),
    c("pae without EPT: CR3 bits 4:0 ignored", {"GUEST_CR3": 0x301F}, set(), base="pae"),
    c("pae without EPT: CR3 selects the PDPT at 0x3020", {"GUEST_CR3": 0x3020}, {"GUEST-PDPTE-RSVD"}, base="pae",
      memory={0x3028: 0x6003}),
    c("no PAE paging in IA-32e mode", {"GUEST_PDPTR0": 0x4003}, set()),
    c("no PAE paging with paging off", {"GUEST_PDPTR0": 0x4003, "GUEST_CR4": 0x2020}, set(), base="real"),
    c("no PAE paging with 32-bit paging", {"GUEST_PDPTR0": 0x4003, "GUEST_CR4": 0x2000}, set(), base="pae-ept"),
]

ALL_CASES = [*REGS, *SEGMENTS, *DTR_RIP, *NONREG, *PDPTES]


@pytest.mark.parametrize("case", ALL_CASES, ids=[case.name for case in ALL_CASES])
def test_guest_state_case(case: Case) -> None:
    assert guest(build(case)) == case.expected


@pytest.mark.parametrize("base", sorted(BASES))
def test_bases_pass_every_guest_check(base: str) -> None:
    assert guest(build(c(base, {}, set(), base=base))) == set()


def test_every_guest_rule_has_a_failing_case() -> None:
    failing = set().union(*(case.expected for case in ALL_CASES))
    assert {r.id for r in rules_for(Stage.GUEST)} == failing


def test_every_guest_rule_has_a_check_and_a_guest_section() -> None:
    from vmxspec.interp.vmentry.registry import CHECKS

    for rule in rules_for(Stage.GUEST):
        assert rule.id in CHECKS
        assert rule.section.startswith("Checks on Guest")


def test_guest_only_reads_what_it_needs() -> None:
    """A 64-bit guest needs neither PDPTEs nor the fields of VM-entry controls that are off."""
    state = baseline()
    for name in ("GUEST_PDPTR0", "GUEST_PDPTR1", "GUEST_PDPTR2", "GUEST_PDPTR3", "GUEST_SMBASE",
                 "GUEST_SYSENTER_CS", "GUEST_RSP"):
        del state.vmcs[name]
    result = check_vm_entry(state, (Stage.GUEST,))
    assert result.complete and result.passed


def test_missing_field_is_reported_not_assumed() -> None:
    state = baseline(VM_ENTRY_CONTROLS=ENTRY | CET, GUEST_S_CET=0, GUEST_INTR_SSP_TABLE=0)
    result = check_vm_entry(state, (Stage.GUEST,))
    assert result.missing_fields == ["GUEST_SSP"]


@pytest.mark.parametrize(("case", "qualification"), [
    (c("link only", {"VMCS_LINK_POINTER": 0x7008}, set()), 4),
    (c("pdpte only", {"GUEST_PDPTR0": 0x4003}, set(), base="pae-ept"), 2),
    (c("pdpte and rflags", {"GUEST_PDPTR0": 0x4003, "GUEST_RFLAGS": 0}, set(), base="pae-ept"), 0),
    (c("rflags only", {"GUEST_RFLAGS": 0}, set()), 0),
])
def test_exit_qualification(case: Case, qualification: int) -> None:
    result = check_vm_entry(build(case), (Stage.GUEST,))
    assert result.exit_reason == 33
    assert result.vm_instruction_error is None
    assert result.exit_qualification == qualification


def test_messages_name_fields_values_and_requirement() -> None:
    state = baseline(GUEST_CS_AR_BYTES=0x209B, GUEST_CS_LIMIT=0x10_0000)
    [violation] = check_vm_entry(state, (Stage.GUEST,)).violations
    assert violation.rule.id == "GUEST-SEG-G"
    assert violation.fields == ("GUEST_CS_LIMIT", "GUEST_CS_AR_BYTES")
    assert "GUEST_CS_LIMIT = 0x100000" in violation.message
    assert "GUEST_CS_AR_BYTES = 0x209b" in violation.message
    assert "G must be 1" in violation.message


def test_one_violation_per_segment_register() -> None:
    state = baseline(GUEST_CS_AR_BYTES=0xA01B, GUEST_SS_AR_BYTES=0xC013)
    violations = check_vm_entry(state, (Stage.GUEST,)).violations
    assert [(v.rule.id, v.fields) for v in violations] == [
        ("GUEST-SEG-P", ("GUEST_CS_AR_BYTES",)), ("GUEST-SEG-P", ("GUEST_SS_AR_BYTES",))]


def test_pdpte_without_ept_names_the_memory_address() -> None:
    state = build(c("bad PDPTE2", {}, set(), base="pae", memory={0x3010: 0x7003}))
    [violation] = check_vm_entry(state, (Stage.GUEST,)).violations
    assert violation.fields == ("GUEST_CR3",)
    assert violation.details == {"address": 0x3010, "pdpte": 2}
