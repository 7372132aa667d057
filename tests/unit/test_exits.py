"""Passing and failing boundary cases for every VM-exit rule.

Expected values are written by hand from the SDM text ("Instructions That Cause VM Exits
Conditionally", "Other Causes of VM Exits", the exit-qualification tables, ...) and the examples
kvm-unit-tests asserts on hardware, never taken from the interpreter's output. States start with
every exiting control 0, every bitmap 0 and a 64-bit CPL-0 guest; each case sets what its rule reads.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import pytest

from tests.states import baseline
from vmxspec.arch.exit_reasons import BY_NUMBER
from vmxspec.arch.exits import INSTRUCTIONS
from vmxspec.arch.rules import Stage, rules_for
from vmxspec.interp.exits import USED_RULES, ExitOutcome, decide_exit
from vmxspec.state import CpuState, State, StateError

# Primary processor-based controls (SDM "Primary Processor-Based VM-Execution Controls").
INTR_WINDOW, HLT, INVLPG, MWAIT, RDPMC, RDTSC = 1 << 2, 1 << 7, 1 << 9, 1 << 10, 1 << 11, 1 << 12
CR3_LOAD, CR3_STORE, CR8_LOAD, CR8_STORE, TPR_SHADOW = 1 << 15, 1 << 16, 1 << 19, 1 << 20, 1 << 21
NMI_WINDOW, MOV_DR, UNCOND_IO, USE_IO, MTF = 1 << 22, 1 << 23, 1 << 24, 1 << 25, 1 << 27
USE_MSR, MONITOR, PAUSE, SEC = 1 << 28, 1 << 29, 1 << 30, 1 << 31
# Secondary controls.
DESC, EN_RDTSCP, WBINVD, VID, PLE, RDRAND = 1 << 2, 1 << 3, 1 << 6, 1 << 9, 1 << 10, 1 << 11
EN_INVPCID, SHADOW, ENCLS, RDSEED, EN_XSAVES, EN_USER_WAIT = 1 << 12, 1 << 14, 1 << 15, 1 << 16, 1 << 20, 1 << 26
# Pin-based controls.
EXTINT, NMI, VNMI, TIMER, POSTED = 1 << 0, 1 << 3, 1 << 5, 1 << 6, 1 << 7

MSR_BM, IO_A, IO_B, VMREAD_BM, VMWRITE_BM, VAPIC = 0x10000, 0x20000, 0x21000, 0x30000, 0x31000, 0x40000
CR0_PE, CR0_TS = 1 << 0, 1 << 3
CR4_TSD, CR4_DE, CR4_PCE, CR4_UMIP, CR4_SMXE, CR4_OSXSAVE = 1 << 2, 1 << 3, 1 << 8, 1 << 11, 1 << 14, 1 << 18
RFLAGS_IF, RFLAGS_VM = 1 << 9, 1 << 17
GUEST_CR0, GUEST_CR4 = 0x8005_0033, 0x0037_26E0  # PE, PG, ...; CR4 with OSXSAVE, no TSD/PCE/UMIP/DE/SMXE


def make(pin: int = 0, proc: int = 0, proc2: int | None = None, memory: dict[int, int] | None = None,
         cpu: Mapping[str, object] | None = None, **fields: int) -> State:
    vmcs = {
        "PIN_BASED_VM_EXEC_CONTROL": pin, "CPU_BASED_VM_EXEC_CONTROL": proc | (SEC if proc2 is not None else 0),
        "EXCEPTION_BITMAP": 0, "PAGE_FAULT_ERROR_CODE_MASK": 0, "PAGE_FAULT_ERROR_CODE_MATCH": 0,
        "CR0_GUEST_HOST_MASK": 0, "CR0_READ_SHADOW": 0, "CR4_GUEST_HOST_MASK": 0, "CR4_READ_SHADOW": 0,
        "CR3_TARGET_COUNT": 0, "CR3_TARGET_VALUE0": 0, "CR3_TARGET_VALUE1": 0, "CR3_TARGET_VALUE2": 0,
        "CR3_TARGET_VALUE3": 0, "TPR_THRESHOLD": 0, "MSR_BITMAP": MSR_BM, "IO_BITMAP_A": IO_A, "IO_BITMAP_B": IO_B,
        "VMREAD_BITMAP": VMREAD_BM, "VMWRITE_BITMAP": VMWRITE_BM, "XSS_EXIT_BITMAP": 0, "ENCLS_EXITING_BITMAP": 0,
        "PLE_GAP": 0, "PLE_WINDOW": 0, "VIRTUAL_APIC_PAGE_ADDR": VAPIC, "POSTED_INTR_NV": 0,
        "VM_ENTRY_INTR_INFO_FIELD": 0, "GUEST_ACTIVITY_STATE": 0, "GUEST_INTERRUPTIBILITY_INFO": 0,
        "GUEST_RFLAGS": 0x2, "VMX_PREEMPTION_TIMER_VALUE": 0,
    }
    if proc2 is not None:
        vmcs["SECONDARY_VM_EXEC_CONTROL"] = proc2
    vmcs.update(fields)
    live: dict[str, object] = {"cpl": 0, "cr0": GUEST_CR0, "cr4": GUEST_CR4, "rflags": 0x2, "ia32_xss": 0,
                               "interruptibility": 0, "activity_state": "active", "in_smm": False}
    live.update(cpu or {})
    return State(vmcs=vmcs, memory=dict(memory or {}), cpu=CpuState(**live))  # type: ignore[arg-type]


def bit_at(memory: dict[int, int], base: int, bit: int) -> dict[int, int]:
    """Set bit ``bit`` of the bitmap at ``base`` (byte bit // 8, bit bit % 8, little-endian words)."""
    address = base + bit // 8
    word = address - address % 8
    memory[word] = memory.get(word, 0) | 1 << ((address % 8) * 8 + bit % 8)
    return memory


def insn(name: str, **ops: object) -> dict[str, object]:
    return {"kind": "instruction", "insn": name, **ops}


def exit_of(state: State, event: Mapping[str, object]) -> tuple[int, int] | None:
    """(reason, qualification) if the event exits, None otherwise; no guest fault allowed."""
    out = decide_exit(state, event)
    assert out.guest_fault is None, out
    return (out.reason, out.qualification) if out.exit else None  # type: ignore[return-value]


def fault_of(state: State, event: Mapping[str, object]) -> str | None:
    out = decide_exit(state, event)
    return out.guest_fault


def rule_of(state: State, event: Mapping[str, object]) -> str:
    return decide_exit(state, event).rule


# -- the rule catalogue and the interpreter cover the same rules ------------------------------------

def test_every_exit_rule_is_used_and_every_used_rule_is_catalogued() -> None:
    assert {r.id for r in rules_for(Stage.EXIT)} == USED_RULES


def test_instruction_reasons_are_real_exit_reasons() -> None:
    for facts in INSTRUCTIONS.values():
        assert facts.reason is None or facts.reason in BY_NUMBER, facts.mnemonic


# -- the answer format (STATE_FORMAT.md) ------------------------------------------------------------

def test_answer_format_exit_no_exit_and_fault() -> None:
    st = make(proc=USE_MSR)
    bit_at(st.memory, MSR_BM, 0x174)
    answer = decide_exit(st, insn("RDMSR", ecx="0x174")).to_json()
    assert {k: answer[k] for k in ("exit", "reason", "reason_name", "qualification")} == \
        {"exit": True, "reason": 31, "reason_name": "MSR_READ", "qualification": "0x0"}
    assert answer["rule"] == "EXIT-MSR-BITMAP" and isinstance(answer["explanation"], str)
    answer = decide_exit(st, insn("WRMSR", ecx="0x174")).to_json()
    assert answer["exit"] is False and "reason" not in answer and "qualification" not in answer
    answer = decide_exit(make(cpu={"cpl": 3}), insn("RDMSR", ecx=0x174)).to_json()
    assert answer["exit"] is False and answer["guest_fault"] == "#GP(0)" and answer["rule"] == "FAULT-CPL"
    json.dumps(answer)


def test_explanation_names_the_bitmap_bit() -> None:
    out = decide_exit(make(proc=USE_MSR), insn("WRMSR", ecx="0x1a0"))
    assert not out.exit
    assert "0x1a0" in out.explanation and "write bitmap for low MSRs" in out.explanation and "is 0" in out.explanation


# -- faults with priority over VM exits ----------------------------------------------------------

def test_fault_ud_mode() -> None:
    real = {"cr0": GUEST_CR0 & ~CR0_PE}
    assert fault_of(make(cpu=real), insn("VMCLEAR")) == "#UD"
    assert fault_of(make(cpu={"rflags": 0x2 | RFLAGS_VM, "cpl": 3}), insn("VMPTRLD")) == "#UD"
    assert exit_of(make(), insn("VMCLEAR", displacement="0x10")) == (19, 0x10)
    assert fault_of(make(cpu=real), insn("LLDT")) == "#UD"
    # VMCALL has no mode check before its exit.
    assert exit_of(make(cpu=real), insn("VMCALL")) == (18, 0)


def test_fault_ud_cr4() -> None:
    assert fault_of(make(cpu={"cr4": GUEST_CR4 & ~CR4_OSXSAVE}), insn("XSETBV")) == "#UD"
    assert exit_of(make(), insn("XSETBV")) == (55, 0)
    assert fault_of(make(), insn("GETSEC")) == "#UD"
    assert exit_of(make(cpu={"cr4": GUEST_CR4 | CR4_SMXE}), insn("GETSEC")) == (11, 0)
    assert rule_of(make(), insn("GETSEC")) == "FAULT-UD-CR4"


def test_fault_ud_control() -> None:
    # RDTSCP with "enable RDTSCP" 0 is #UD even with RDTSC exiting 1.
    assert fault_of(make(proc=RDTSC, proc2=0), insn("RDTSCP")) == "#UD"
    assert exit_of(make(proc=RDTSC, proc2=EN_RDTSCP), insn("RDTSCP")) == (51, 0)
    # "activate secondary controls" 0: the secondary field is not read and counts as 0.
    st = make(proc=RDTSC)
    st.vmcs["SECONDARY_VM_EXEC_CONTROL"] = EN_RDTSCP
    assert fault_of(st, insn("RDTSCP")) == "#UD"
    assert fault_of(make(proc=INVLPG, proc2=0), insn("INVPCID")) == "#UD"
    assert fault_of(make(proc=RDTSC, proc2=0), insn("UMWAIT")) == "#UD"
    assert fault_of(make(proc2=0), insn("UMONITOR")) == "#UD"
    assert exit_of(make(proc2=EN_USER_WAIT), insn("UMONITOR")) is None
    assert rule_of(make(proc2=0), insn("UMONITOR")) == "FAULT-UD-CONTROL"


def test_fault_ud_smm() -> None:
    assert fault_of(make(), insn("RSM")) == "#UD"
    assert exit_of(make(cpu={"in_smm": True}), insn("RSM")) == (17, 0)
    assert fault_of(make(proc2=ENCLS, cpu={"in_smm": True}), insn("ENCLS", eax=0)) == "#UD"


def test_fault_nm_ts_before_cpl() -> None:
    st = make(proc2=EN_XSAVES, cpu={"cr0": GUEST_CR0 | CR0_TS, "cpl": 3})
    assert fault_of(st, insn("XSAVES", edx_eax=0)) == "#NM"
    st = make(proc2=EN_XSAVES, cpu={"cpl": 3})
    assert fault_of(st, insn("XSAVES", edx_eax=0)) == "#GP(0)"
    # The enable #UD comes before both.
    st = make(proc2=0, cpu={"cr0": GUEST_CR0 | CR0_TS, "cpl": 3})
    assert fault_of(st, insn("XRSTORS", edx_eax=0)) == "#UD"


def test_fault_cpl() -> None:
    assert fault_of(make(proc=USE_MSR, cpu={"cpl": 3}), insn("RDMSR", ecx=0x10)) == "#GP(0)"
    assert fault_of(make(proc=HLT, cpu={"cpl": 1}), insn("HLT")) == "#GP(0)"
    assert exit_of(make(proc=HLT), insn("HLT")) == (12, 0)
    assert fault_of(make(proc=MONITOR, cpu={"cpl": 3}), insn("MONITOR")) == "#UD"
    assert fault_of(make(cpu={"cpl": 3}), insn("INVD")) == "#GP(0)"
    assert fault_of(make(cpu={"cpl": 3}), insn("XSETBV")) == "#GP(0)"
    assert fault_of(make(proc=INVLPG, proc2=EN_INVPCID, cpu={"cpl": 3}), insn("INVPCID")) == "#GP(0)"
    # VMX instructions check CPL after the exit.
    assert exit_of(make(cpu={"cpl": 3}), insn("VMCALL")) == (18, 0)
    assert exit_of(make(cpu={"cpl": 3}), insn("VMXON")) == (27, 0)
    assert exit_of(make(cpu={"cpl": 3}), insn("VMREAD", field="0x4002")) == (23, 0)
    # ... so a VMREAD that VMCS shadowing lets through faults at CPL 3.
    assert fault_of(make(proc2=SHADOW, cpu={"cpl": 3}), insn("VMREAD", field="0x4002")) == "#GP(0)"
    assert exit_of(make(proc2=SHADOW), insn("VMREAD", field="0x4002")) is None


def test_fault_cpl_cr4() -> None:
    assert fault_of(make(proc=RDTSC, cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_TSD}), insn("RDTSC")) == "#GP(0)"
    assert exit_of(make(proc=RDTSC, cpu={"cpl": 3}), insn("RDTSC")) == (16, 0)
    assert exit_of(make(proc=RDTSC, cpu={"cr4": GUEST_CR4 | CR4_TSD}), insn("RDTSC")) == (16, 0)
    assert fault_of(make(proc=RDPMC, cpu={"cpl": 3}), insn("RDPMC")) == "#GP(0)"
    assert exit_of(make(proc=RDPMC, cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_PCE}), insn("RDPMC")) == (15, 0)
    assert fault_of(make(proc2=DESC, cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_UMIP}), insn("SGDT")) == "#GP(0)"
    assert exit_of(make(proc2=DESC, cpu={"cpl": 3}), insn("SIDT")) == (46, 0)
    assert fault_of(make(cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_UMIP}), insn("SMSW")) == "#GP(0)"
    assert fault_of(make(proc=RDTSC, proc2=EN_USER_WAIT, cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_TSD}),
                    insn("TPAUSE")) == "#GP(0)"


def test_fault_io_permission() -> None:
    st = make(proc=UNCOND_IO, cpu={"cpl": 3, "rflags": 0x2})
    out = decide_exit(st, insn("OUT", port="0x80", size=1, operand="imm", io_permitted=False))
    assert out.guest_fault == "#GP(0)" and out.rules[0] == "FAULT-IO-PERMISSION"
    assert exit_of(st, insn("OUT", port="0x80", size=1, operand="imm", io_permitted=True)) == (30, 0x0080_0040)
    with pytest.raises(StateError) as err:
        decide_exit(st, insn("OUT", port="0x80", size=1, operand="imm"))
    assert err.value.code == "bad-query" and err.value.path == "query.event.io_permitted"
    # CPL <= IOPL: no TSS check.
    iopl3 = make(proc=UNCOND_IO, cpu={"cpl": 3, "rflags": 0x3002})
    assert exit_of(iopl3, insn("IN", port=0x60, size=1, operand="imm")) == (30, 0x0060_0048)
    # Virtual-8086 mode always consults the TSS bitmap, whatever IOPL is.
    v86 = make(proc=UNCOND_IO, cpu={"cpl": 3, "rflags": 0x3002 | RFLAGS_VM})
    assert fault_of(v86, insn("IN", port=0x60, size=1, operand="imm", io_permitted=False)) == "#GP(0)"


def test_fault_ud_dr() -> None:
    st = make(cpu={"cr4": GUEST_CR4 | CR4_DE})
    assert fault_of(st, insn("MOV_TO_DR", dr=4, gpr="rax")) == "#UD"
    assert exit_of(st, insn("MOV_TO_DR", dr=3, gpr="rax")) is None
    assert exit_of(make(), insn("MOV_FROM_DR", dr=5, gpr="rax")) is None
    assert fault_of(make(cpu={"cpl": 3}), insn("MOV_TO_DR", dr=7, gpr="rax")) == "#GP(0)"


def test_fault_cr8_reserved() -> None:
    assert fault_of(make(proc=TPR_SHADOW), insn("MOV_TO_CR8", value=0x10, gpr="rax")) == "#GP(0)"
    assert fault_of(make(), insn("MOV_TO_CR8", value=0x10, gpr="rax")) == "#GP(0)"
    assert exit_of(make(proc=CR8_LOAD), insn("MOV_TO_CR8", value=0x10, gpr="rax")) == (28, 0x8)


# -- unconditional instructions --------------------------------------------------------------------

def test_unconditional_needs_no_vmcs_at_all() -> None:
    assert exit_of(State(), insn("CPUID", eax=1)) == (10, 0)


@pytest.mark.parametrize(("name", "reason"), [
    ("INVEPT", 50), ("INVVPID", 53), ("VMCALL", 18), ("VMCLEAR", 19), ("VMLAUNCH", 20), ("VMPTRLD", 21),
    ("VMPTRST", 22), ("VMRESUME", 24), ("VMXOFF", 26), ("VMXON", 27), ("INVD", 13), ("CPUID", 10),
])
def test_unconditional_reasons(name: str, reason: int) -> None:
    assert exit_of(make(), insn(name)) == (reason, 0)


def test_vmx_instruction_displacement_qualification() -> None:
    assert exit_of(make(), insn("VMPTRLD", displacement="0x28")) == (21, 0x28)
    assert exit_of(make(), insn("INVEPT", type=1, displacement=8)) == (50, 8)


# -- VMREAD / VMWRITE and VMCS shadowing ---------------------------------------------------------

def test_vmcs_shadowing() -> None:
    assert exit_of(make(proc2=0), insn("VMWRITE", field="0x6800")) == (25, 0)
    assert exit_of(make(proc2=SHADOW), insn("VMWRITE", field="0x6800")) is None
    # Field 0x6800 is bit 0 of byte 0xd00 of the VMWRITE bitmap.
    st = make(proc2=SHADOW, memory={VMWRITE_BM + 0xD00: 1})
    assert exit_of(st, insn("VMWRITE", field="0x6800")) == (25, 0)
    assert exit_of(st, insn("VMREAD", field="0x6800")) is None
    assert exit_of(st, insn("VMWRITE", field="0x6802")) is None
    # Bits 63:15 of the encoding: always an exit.
    assert exit_of(make(proc2=SHADOW), insn("VMREAD", field="0x8000")) == (23, 0)
    assert exit_of(make(proc2=SHADOW), insn("VMREAD", field="0x100004002")) == (23, 0)
    assert exit_of(make(proc2=SHADOW), insn("VMREAD", field="0x7fff")) is None


# -- conditional instructions ----------------------------------------------------------------------

@pytest.mark.parametrize(("name", "proc", "proc2", "reason"), [
    ("HLT", HLT, None, 12), ("MWAIT", MWAIT, None, 36), ("MONITOR", MONITOR, None, 39), ("RDPMC", RDPMC, None, 15),
    ("RDTSC", RDTSC, None, 16), ("RDRAND", 0, RDRAND, 57), ("RDSEED", 0, RDSEED, 61), ("WBINVD", 0, WBINVD, 54),
    ("WBNOINVD", 0, WBINVD, 54), ("LGDT", 0, DESC, 46), ("LIDT", 0, DESC, 46), ("SGDT", 0, DESC, 46),
    ("LLDT", 0, DESC, 47), ("LTR", 0, DESC, 47), ("SLDT", 0, DESC, 47), ("STR", 0, DESC, 47),
    ("PAUSE", PAUSE, None, 40),
])
def test_single_control_exits(name: str, proc: int, proc2: int | None, reason: int) -> None:
    assert exit_of(make(proc=proc, proc2=proc2), insn(name)) == (reason, 0)
    off2 = None if proc2 is None else 0
    assert exit_of(make(proc=0, proc2=off2), insn(name)) is None
    if proc2 is not None:  # the secondary control alone, without "activate secondary controls"
        st = make(proc=proc)
        st.vmcs["SECONDARY_VM_EXEC_CONTROL"] = proc2
        assert exit_of(st, insn(name)) is None


def test_invlpg_qualification_is_the_linear_address() -> None:
    assert exit_of(make(proc=INVLPG), insn("INVLPG", linear_address="0x12345678")) == (14, 0x12345678)
    assert exit_of(make(), insn("INVLPG", linear_address="0x12345678")) is None


def test_invpcid_needs_both_controls() -> None:
    assert exit_of(make(proc=INVLPG, proc2=EN_INVPCID), insn("INVPCID", type=0)) == (58, 0)
    assert exit_of(make(proc=0, proc2=EN_INVPCID), insn("INVPCID", type=0)) is None


def test_mwait_qualification_says_whether_monitoring_is_armed() -> None:
    assert exit_of(make(proc=MWAIT), insn("MWAIT", monitor_armed=True)) == (36, 1)
    assert exit_of(make(proc=MWAIT), insn("MWAIT")) == (36, 0)


def test_umwait_and_tpause_follow_rdtsc_exiting() -> None:
    assert exit_of(make(proc=RDTSC, proc2=EN_USER_WAIT), insn("UMWAIT")) == (67, 0)
    assert exit_of(make(proc=RDTSC, proc2=EN_USER_WAIT), insn("TPAUSE")) == (68, 0)
    assert exit_of(make(proc=0, proc2=EN_USER_WAIT), insn("TPAUSE")) is None


def test_pause_exiting_at_any_cpl() -> None:
    assert exit_of(make(proc=PAUSE, cpu={"cpl": 3}), insn("PAUSE")) == (40, 0)


def test_pause_loop_exiting() -> None:
    st = make(proc2=PLE, PLE_GAP=128, PLE_WINDOW=4096)
    assert exit_of(st, insn("PAUSE")) is None  # first PAUSE after VM entry starts a loop
    assert rule_of(st, insn("PAUSE")) == "EXIT-PAUSE-LOOP"
    # Gap exceeded: a new loop.
    assert exit_of(st, insn("PAUSE", since_last_pause=129, since_loop_start=100000)) is None
    # Within the gap (128 does not exceed 128): the window decides, strictly.
    assert exit_of(st, insn("PAUSE", since_last_pause=128, since_loop_start=4096)) is None
    assert exit_of(st, insn("PAUSE", since_last_pause=128, since_loop_start=4097)) == (40, 0)
    # PAUSE-loop exiting is ignored at CPL > 0.
    st3 = make(proc2=PLE, PLE_GAP=128, PLE_WINDOW=4096, cpu={"cpl": 3})
    assert exit_of(st3, insn("PAUSE", since_last_pause=1, since_loop_start=5000)) is None
    with pytest.raises(StateError) as err:
        decide_exit(st, insn("PAUSE", since_last_pause=5))
    assert err.value.path == "query.event.since_loop_start"


def test_xss_exiting_bitmap_is_a_three_way_and() -> None:
    st = make(proc2=EN_XSAVES, XSS_EXIT_BITMAP=0x100, cpu={"ia32_xss": 0x100})
    assert exit_of(st, insn("XSAVES", edx_eax="0x100")) == (63, 0)
    assert exit_of(st, insn("XRSTORS", eax="0x100", edx=0, displacement=0x40)) == (64, 0x40)
    assert exit_of(st, insn("XSAVES", edx_eax="0xff")) is None
    st = make(proc2=EN_XSAVES, XSS_EXIT_BITMAP=0x100, cpu={"ia32_xss": 0x200})
    assert exit_of(st, insn("XSAVES", edx_eax="0x300")) is None
    st = make(proc2=EN_XSAVES, XSS_EXIT_BITMAP=1 << 40, cpu={"ia32_xss": 1 << 40})
    assert exit_of(st, insn("XSAVES", eax=0, edx=0x100)) == (63, 0)


def test_encls_bitmap() -> None:
    st = make(proc2=ENCLS, ENCLS_EXITING_BITMAP=1 << 2)
    assert exit_of(st, insn("ENCLS", eax=2)) == (60, 0)
    assert exit_of(st, insn("ENCLS", eax=3)) is None
    st = make(proc2=ENCLS, ENCLS_EXITING_BITMAP=1 << 63)
    assert exit_of(st, insn("ENCLS", eax=63)) == (60, 0)
    assert exit_of(st, insn("ENCLS", eax="0x1000")) == (60, 0)
    assert exit_of(make(proc2=ENCLS, ENCLS_EXITING_BITMAP=1 << 62), insn("ENCLS", eax=70)) is None
    assert exit_of(make(proc2=0, ENCLS_EXITING_BITMAP=1 << 2), insn("ENCLS", eax=2)) is None
    assert fault_of(make(proc2=ENCLS, cpu={"cpl": 3}), insn("ENCLS", eax=2)) == "#UD"


def test_not_listed_instructions_never_exit() -> None:
    assert rule_of(make(), insn("MOV_TO_CR2", value=0, gpr=0)) == "EXIT-NOT-LISTED"
    assert exit_of(make(), insn("MOV_TO_CR2", value=0, gpr=0)) is None


# -- MSR bitmaps -----------------------------------------------------------------------------------

def test_msr_without_bitmaps_always_exits() -> None:
    assert exit_of(make(proc=0), insn("RDMSR", ecx=0x10)) == (31, 0)
    assert exit_of(make(proc=0), insn("WRMSR", ecx=0x10)) == (32, 0)
    assert rule_of(make(proc=0), insn("WRMSR", ecx=0x10)) == "EXIT-MSR-NO-BITMAP"


@pytest.mark.parametrize("msr", [0x2000, 0x40000000, 0xBFFFFFFF, 0xC0002000, 0xFFFFFFFF])
def test_msr_outside_both_ranges_always_exits(msr: int) -> None:
    assert exit_of(make(proc=USE_MSR), insn("RDMSR", ecx=msr)) == (31, 0)
    assert exit_of(make(proc=USE_MSR), insn("WRMSR", ecx=msr)) == (32, 0)
    assert rule_of(make(proc=USE_MSR), insn("RDMSR", ecx=msr)) == "EXIT-MSR-RANGE"


@pytest.mark.parametrize(("msr", "op", "offset", "bit"), [
    # read low: byte 0x3ff bit 7 for MSR 0x1fff; read high at 0x400; write low at 0x800; write high at 0xc00.
    (0x0000_0000, "RDMSR", 0x000, 0), (0x0000_1FFF, "RDMSR", 0x000, 0x1FFF),
    (0xC000_0000, "RDMSR", 0x400, 0), (0xC000_1FFF, "RDMSR", 0x400, 0x1FFF),
    (0x0000_01A0, "WRMSR", 0x800, 0x1A0), (0x0000_1FFF, "WRMSR", 0x800, 0x1FFF),
    (0xC000_0080, "WRMSR", 0xC00, 0x80), (0xC000_1FFF, "WRMSR", 0xC00, 0x1FFF),
])
def test_msr_bitmap_regions(msr: int, op: str, offset: int, bit: int) -> None:
    reason = 31 if op == "RDMSR" else 32
    assert exit_of(make(proc=USE_MSR), insn(op, ecx=msr)) is None
    st = make(proc=USE_MSR, memory=bit_at({}, MSR_BM + offset, bit))
    assert exit_of(st, insn(op, ecx=msr)) == (reason, 0)
    assert exit_of(st, insn(op, ecx=msr ^ 1)) is None  # the neighbouring MSR's bit is still clear


def test_msr_read_write_and_low_high_do_not_alias() -> None:
    st = make(proc=USE_MSR, memory=bit_at({}, MSR_BM, 0x80))  # read low, MSR 0x80
    assert exit_of(st, insn("RDMSR", ecx=0x80)) == (31, 0)
    assert exit_of(st, insn("WRMSR", ecx=0x80)) is None
    assert exit_of(st, insn("RDMSR", ecx=0xC000_0080)) is None


def test_msr_bitmap_needs_its_address_only_in_range() -> None:
    st = make(proc=USE_MSR)
    del st.vmcs["MSR_BITMAP"]
    assert exit_of(st, insn("RDMSR", ecx=0x2000)) == (31, 0)
    with pytest.raises(StateError) as err:
        decide_exit(st, insn("RDMSR", ecx=0x10))
    assert err.value.code == "missing-field" and err.value.path == "vmcs.MSR_BITMAP"


# -- I/O -------------------------------------------------------------------------------------------

def test_io_unconditional_exiting() -> None:
    assert exit_of(make(proc=UNCOND_IO), insn("OUT", port=0x80, size=1, operand="dx")) == (30, 0x0080_0000)
    assert exit_of(make(proc=0), insn("OUT", port=0x80, size=1, operand="dx")) is None
    # With "use I/O bitmaps" 1, unconditional I/O exiting is ignored.
    assert exit_of(make(proc=UNCOND_IO | USE_IO), insn("OUT", port=0x80, size=1, operand="dx")) is None


def test_io_qualification_examples() -> None:
    st = make(proc=UNCOND_IO)
    assert exit_of(st, insn("IN", port="0x60", size=1, operand="imm")) == (30, 0x0060_0048)  # IN AL, 0x60
    assert exit_of(st, insn("INS", port="0x60", size=1, rep=True)) == (30, 0x0060_0038)  # REP INSB, DX = 0x60
    assert exit_of(st, insn("OUTS", port="0x3f8", size=4)) == (30, 0x03F8_0013)  # OUTSD, DX = 0x3f8
    assert exit_of(st, insn("IN", port="0xffff", size=2, operand="dx")) == (30, 0xFFFF_0009)  # IN AX, DX


def test_io_wrap_at_ffff() -> None:
    st = make(proc=USE_IO)  # all-zero bitmaps
    assert exit_of(st, insn("IN", port="0xffff", size=1, operand="dx")) is None
    assert exit_of(st, insn("IN", port="0xffff", size=2, operand="dx")) == (30, 0xFFFF_0009)
    assert rule_of(st, insn("IN", port="0xffff", size=2, operand="dx")) == "EXIT-IO-WRAP"
    assert exit_of(st, insn("OUT", port="0xfffd", size=4, operand="dx")) == (30, 0xFFFD_0003)
    assert exit_of(st, insn("OUT", port="0xfffc", size=4, operand="dx")) is None


def test_io_bitmap_every_byte_counts() -> None:
    st = make(proc=USE_IO, memory=bit_at({}, IO_A, 0x3FB))
    assert exit_of(st, insn("OUT", port="0x3f8", size=4, operand="dx")) == (30, 0x03F8_0003)
    assert exit_of(st, insn("OUT", port="0x3f8", size=2, operand="dx")) is None
    assert exit_of(st, insn("OUT", port="0x3fb", size=1, operand="dx")) == (30, 0x03FB_0000)


def test_io_bitmap_a_and_b() -> None:
    st = make(proc=USE_IO, memory=bit_at({}, IO_B, 0))  # port 0x8000
    assert exit_of(st, insn("IN", port="0x7fff", size=1, operand="dx")) is None
    assert exit_of(st, insn("IN", port="0x7fff", size=2, operand="dx")) == (30, 0x7FFF_0009)
    assert exit_of(st, insn("IN", port="0x8000", size=1, operand="dx")) == (30, 0x8000_0008)
    st = make(proc=USE_IO, memory=bit_at({}, IO_B, 0x7FFF))  # port 0xffff
    assert exit_of(st, insn("IN", port="0xffff", size=1, operand="dx")) == (30, 0xFFFF_0008)
    assert exit_of(st, insn("IN", port="0x7fff", size=1, operand="dx")) is None


def test_io_string_forms_use_the_same_ports() -> None:
    st = make(proc=USE_IO, memory=bit_at({}, IO_A, 0x60))
    assert exit_of(st, insn("INS", port=0x60, size=1, rep=True)) == (30, 0x0060_0038)
    assert exit_of(st, insn("OUTS", port=0x61, size=1)) is None


# -- control registers ---------------------------------------------------------------------------

def test_mov_to_cr0_masks_and_shadow() -> None:
    st = make(CR0_GUEST_HOST_MASK=0xFFFF_FFFF_FFFF_FFF7, CR0_READ_SHADOW=0x8005_0033)  # all but TS owned
    assert exit_of(st, insn("MOV_TO_CR0", value="0x8005003b", gpr="rsi")) is None  # only TS changes
    assert exit_of(st, insn("MOV_TO_CR0", value="0x80050031", gpr="rsi")) == (28, 0x600)  # MP changes
    assert exit_of(make(), insn("MOV_TO_CR0", value="0x1", gpr="rsi")) is None  # mask 0


def test_mov_to_cr4_masks_and_shadow() -> None:
    st = make(CR4_GUEST_HOST_MASK=CR4_TSD | CR4_DE, CR4_READ_SHADOW=CR4_DE)
    assert exit_of(st, insn("MOV_TO_CR4", value=CR4_DE | CR4_PCE, gpr="rsi")) is None
    assert exit_of(st, insn("MOV_TO_CR4", value=CR4_DE | CR4_TSD, gpr="rsi")) == (28, 0x604)
    assert exit_of(st, insn("MOV_TO_CR4", value=0, gpr=0)) == (28, 0x4)


def test_mov_from_cr0_cr4_never_exit() -> None:
    st = make(CR0_GUEST_HOST_MASK=2**64 - 1, CR4_GUEST_HOST_MASK=2**64 - 1)
    assert exit_of(st, insn("MOV_FROM_CR0", gpr="rax")) is None
    assert exit_of(st, insn("MOV_FROM_CR4", gpr="rax")) is None
    assert rule_of(st, insn("SMSW")) == "EXIT-CR-READ-SHADOW"


def test_clts() -> None:
    assert exit_of(make(CR0_GUEST_HOST_MASK=CR0_TS, CR0_READ_SHADOW=CR0_TS), insn("CLTS")) == (28, 0x20)
    assert exit_of(make(CR0_GUEST_HOST_MASK=CR0_TS, CR0_READ_SHADOW=0), insn("CLTS")) is None
    assert exit_of(make(CR0_GUEST_HOST_MASK=0, CR0_READ_SHADOW=CR0_TS), insn("CLTS")) is None


def test_lmsw() -> None:
    st = make(CR0_GUEST_HOST_MASK=0xF, CR0_READ_SHADOW=0x0)
    assert exit_of(st, insn("LMSW", value=0x1)) == (28, 0x0001_0030)  # sets PE, shadow PE clear
    st = make(CR0_GUEST_HOST_MASK=0x1, CR0_READ_SHADOW=0x1)
    assert exit_of(st, insn("LMSW", value=0x0)) is None  # LMSW cannot clear PE
    st = make(CR0_GUEST_HOST_MASK=0x2, CR0_READ_SHADOW=0x0)
    assert exit_of(st, insn("LMSW", value=0x2, operand="mem")) == (28, 0x0002_0070)  # MP differs, memory operand
    assert exit_of(st, insn("LMSW", value=0x4)) is None  # EM is not owned
    st = make(CR0_GUEST_HOST_MASK=0xFFFF_FFF0, CR0_READ_SHADOW=0)
    assert exit_of(st, insn("LMSW", value="0xfff")) is None  # mask bits above 3 are irrelevant
    assert exit_of(make(CR0_GUEST_HOST_MASK=0xF, CR0_READ_SHADOW=0x8), insn("LMSW", value="0x1234", operand="mem")) \
        == (28, 0x1234_0070)


def test_cr3_load_and_targets() -> None:
    def targets(count: int, proc: int = CR3_LOAD) -> State:
        return make(proc=proc, CR3_TARGET_COUNT=count, CR3_TARGET_VALUE0=0x1000, CR3_TARGET_VALUE1=0x2000,
                    CR3_TARGET_VALUE2=0x3000)

    st = targets(2)
    assert exit_of(st, insn("MOV_TO_CR3", value=0x1000, gpr="rax")) is None
    assert exit_of(st, insn("MOV_TO_CR3", value=0x2000, gpr="rax")) is None
    assert exit_of(st, insn("MOV_TO_CR3", value=0x3000, gpr="rax")) == (28, 0x3)  # target 2 is beyond the count
    assert exit_of(targets(3), insn("MOV_TO_CR3", value=0x3000, gpr=0)) is None
    assert exit_of(targets(0), insn("MOV_TO_CR3", value=0x1000, gpr=0)) == (28, 0x3)  # count 0: every load exits
    assert exit_of(make(proc=0), insn("MOV_TO_CR3", value=0x5000, gpr=0)) is None


def test_cr3_store() -> None:
    assert exit_of(make(proc=CR3_STORE), insn("MOV_FROM_CR3", gpr="rax")) == (28, 0x13)
    assert exit_of(make(proc=0), insn("MOV_FROM_CR3", gpr="rax")) is None


def test_cr8_load_store_and_tpr_shadow() -> None:
    assert exit_of(make(proc=CR8_LOAD | TPR_SHADOW), insn("MOV_TO_CR8", value=3, gpr="rax")) == (28, 0x8)
    assert exit_of(make(proc=CR8_STORE | TPR_SHADOW), insn("MOV_FROM_CR8", gpr="rax")) == (28, 0x18)
    assert exit_of(make(proc=TPR_SHADOW), insn("MOV_FROM_CR8", gpr="rax")) is None
    assert exit_of(make(proc=0), insn("MOV_TO_CR8", value=3, gpr="rax")) is None  # the real TPR (CVE-2017-12154)


def test_tpr_below_threshold_after_mov_to_cr8() -> None:
    st = make(proc=TPR_SHADOW, proc2=0, TPR_THRESHOLD=5)
    assert exit_of(st, insn("MOV_TO_CR8", value=4, gpr="rax")) == (43, 0)
    assert exit_of(st, insn("MOV_TO_CR8", value=5, gpr="rax")) is None
    assert rule_of(st, insn("MOV_TO_CR8", value=5, gpr="rax")) == "EXIT-TPR-THRESHOLD"
    assert exit_of(make(proc=TPR_SHADOW, proc2=VID, TPR_THRESHOLD=5), insn("MOV_TO_CR8", value=4, gpr=0)) is None


# -- MOV DR ----------------------------------------------------------------------------------------

def test_mov_dr() -> None:
    assert exit_of(make(proc=MOV_DR), insn("MOV_FROM_DR", dr=6, gpr="rcx")) == (29, 0x116)  # MOV RCX, DR6
    assert exit_of(make(proc=MOV_DR), insn("MOV_TO_DR", dr=7, gpr="r15")) == (29, 0xF07)
    # The exit precedes the #GP for CPL 3 and the #UD for DR4 with CR4.DE = 1.
    st = make(proc=MOV_DR, cpu={"cpl": 3, "cr4": GUEST_CR4 | CR4_DE})
    assert exit_of(st, insn("MOV_TO_DR", dr=4, gpr=0)) == (29, 0x4)
    assert exit_of(make(), insn("MOV_TO_DR", dr=0, gpr=0)) is None


# -- exceptions ------------------------------------------------------------------------------------

def test_exception_bitmap() -> None:
    st = make(EXCEPTION_BITMAP=1 << 13)
    assert exit_of(st, {"kind": "exception", "vector": 13, "error_code": 0}) == (0, 0)
    assert exit_of(st, {"kind": "exception", "vector": 6}) is None
    assert exit_of(make(EXCEPTION_BITMAP=1 << 3), {"kind": "exception", "vector": 3}) == (0, 0)  # INT3 (#BP)


def test_debug_exception_qualification() -> None:
    st = make(EXCEPTION_BITMAP=1 << 1)
    assert exit_of(st, {"kind": "exception", "vector": 1, "dr6": "0xffff4ff1"}) == (0, 0x4001)  # BS and B0
    assert exit_of(st, {"kind": "exception", "vector": 1}) == (0, 0)


@pytest.mark.parametrize(("bit14", "mask", "match", "pfec", "exits"), [
    (1, 0, 0, 0x2, True),  # SDM: every #PF exits
    (1, 0, 0xFFFF_FFFF, 0x2, False),  # SDM: no #PF exits (bit 14 set, impossible match)
    (0, 0, 0, 0x2, False),  # SDM: no #PF exits (bit 14 clear, mask = match = 0)
    (0, 0x1, 0x1, 0x2, True),  # inequality reverses bit 14 (the KVM nested bug)
    (0, 0x1, 0x1, 0x3, False),
    (1, 0x1, 0x1, 0x3, True),
    (1, 0x1, 0x1, 0x2, False),
    (1, 0x1_0000, 0x1_0000, 0x1_0000, True),  # all 32 bits of the error code count
    (1, 0x1_0000, 0x1_0000, 0x0_0000, False),
])
def test_page_fault_mask_match(bit14: int, mask: int, match: int, pfec: int, exits: bool) -> None:
    st = make(EXCEPTION_BITMAP=bit14 << 14, PAGE_FAULT_ERROR_CODE_MASK=mask, PAGE_FAULT_ERROR_CODE_MATCH=match)
    event = {"kind": "exception", "vector": 14, "error_code": pfec, "linear_address": "0xdead000"}
    assert exit_of(st, event) == ((0, 0xDEAD000) if exits else None)
    assert rule_of(st, event) == "EXIT-PF-MASK-MATCH"


def test_mask_match_apply_only_to_page_faults() -> None:
    st = make(EXCEPTION_BITMAP=1 << 13, PAGE_FAULT_ERROR_CODE_MASK=1, PAGE_FAULT_ERROR_CODE_MATCH=1)
    assert exit_of(st, {"kind": "exception", "vector": 13, "error_code": 0}) == (0, 0)


def test_fault_raised_instead_of_exit_goes_through_the_exception_bitmap() -> None:
    st = make(proc=USE_MSR, EXCEPTION_BITMAP=1 << 13, cpu={"cpl": 3})
    out = decide_exit(st, insn("RDMSR", ecx=0x10))
    assert (out.exit, out.reason, out.guest_fault, out.rules) == (True, 0, "#GP(0)", ("FAULT-CPL",
                                                                                       "EXIT-EXCEPTION-BITMAP"))
    # The KVM-like baseline intercepts #UD (bit 6): RDTSCP without "enable RDTSCP" exits through it.
    base = baseline()
    base.cpu.cpl = 0
    base.vmcs["SECONDARY_VM_EXEC_CONTROL"] &= ~EN_RDTSCP
    out = decide_exit(base, insn("RDTSCP"))
    assert (out.exit, out.reason, out.guest_fault) == (True, 0, "#UD")


def test_software_interrupt_never_exits() -> None:
    st = make(EXCEPTION_BITMAP=0xFFFF_FFFF)
    for vector in (3, 4, 0x80):
        assert exit_of(st, {"kind": "software_interrupt", "vector": vector}) is None
    assert rule_of(st, {"kind": "software_interrupt", "vector": 3}) == "EXIT-SOFTWARE-INTERRUPT"


# -- external interrupts, NMIs, INIT, SIPI, task switches, triple fault -------------------------------

def test_external_interrupts() -> None:
    ev = {"kind": "external_interrupt", "vector": "0x30"}
    assert exit_of(make(pin=EXTINT, cpu={"rflags": 0x2}), ev) == (1, 0)  # even with RFLAGS.IF = 0
    assert exit_of(make(pin=0, cpu={"rflags": 0x202}), ev) is None
    assert exit_of(make(pin=EXTINT, cpu={"activity_state": "shutdown"}), ev) is None
    assert rule_of(make(pin=EXTINT, cpu={"activity_state": "wait_for_sipi"}), ev) == "EXIT-ACTIVITY-BLOCKING"
    assert exit_of(make(pin=EXTINT, cpu={"activity_state": "hlt"}), ev) == (1, 0)


def test_posted_interrupt_notification_vector() -> None:
    st = make(pin=EXTINT | POSTED, POSTED_INTR_NV=0xF2)
    assert exit_of(st, {"kind": "external_interrupt", "vector": "0xf2"}) is None
    assert rule_of(st, {"kind": "external_interrupt", "vector": "0xf2"}) == "EXIT-POSTED-INTR"
    assert exit_of(st, {"kind": "external_interrupt", "vector": "0xf3"}) == (1, 0)


def test_nmis() -> None:
    nmi = {"kind": "nmi"}
    assert exit_of(make(pin=NMI), nmi) == (0, 0)
    assert exit_of(make(pin=0), nmi) is None
    assert exit_of(make(pin=NMI, cpu={"interruptibility": 1 << 3}), nmi) is None  # blocking by NMI
    assert exit_of(make(pin=NMI | VNMI, cpu={"interruptibility": 1 << 3}), nmi) == (0, 0)  # virtual-NMI blocking
    assert exit_of(make(pin=NMI, cpu={"activity_state": "wait_for_sipi"}), nmi) is None
    assert exit_of(make(pin=NMI, cpu={"activity_state": "shutdown"}), nmi) == (0, 0)


def test_triple_fault_init_and_sipi() -> None:
    assert exit_of(make(), {"kind": "triple_fault"}) == (2, 0)
    assert exit_of(make(), {"kind": "init_signal"}) == (3, 0)
    assert exit_of(make(cpu={"activity_state": "hlt"}), {"kind": "init_signal"}) == (3, 0)
    assert exit_of(make(cpu={"activity_state": "wait_for_sipi"}), {"kind": "init_signal"}) is None
    sipi = {"kind": "sipi", "vector": "0x9a"}
    assert exit_of(make(cpu={"activity_state": "wait_for_sipi"}), sipi) == (4, 0x9A)
    assert exit_of(make(cpu={"activity_state": "active"}), sipi) is None
    assert exit_of(make(cpu={"activity_state": "hlt"}), sipi) is None


@pytest.mark.parametrize(("initiator", "qualification"), [
    ("call", 0x0000_0028), ("iret", 0x4000_0028), ("jmp", 0x8000_0028), ("idt", 0xC000_0028),
])
def test_task_switch(initiator: str, qualification: int) -> None:
    assert exit_of(make(), {"kind": "task_switch", "initiator": initiator, "tss_selector": "0x28"}) == \
        (9, qualification)


# -- the monitor trap flag ---------------------------------------------------------------------------

def test_mtf_after_an_instruction_that_does_not_exit() -> None:
    assert exit_of(make(proc=MTF), insn("HLT")) == (37, 0)
    assert exit_of(make(proc=MTF | HLT), insn("HLT")) == (12, 0)  # the instruction's own exit wins
    out = decide_exit(make(proc=MTF | USE_MSR, cpu={"cpl": 3}), insn("RDMSR", ecx=0x10))
    assert (out.exit, out.reason, out.guest_fault, out.rule) == (True, 37, "#GP(0)", "EXIT-MTF")
    assert exit_of(make(proc=MTF), {"kind": "software_interrupt", "vector": "0x80"}) == (37, 0)
    assert exit_of(make(proc=MTF), {"kind": "exception", "vector": 6}) == (37, 0)


def test_mtf_after_interrupt_delivery_only_when_delivered() -> None:
    ev = {"kind": "external_interrupt", "vector": "0x30"}
    assert exit_of(make(proc=MTF, cpu={"rflags": 0x202}), ev) == (37, 0)
    assert exit_of(make(proc=MTF, cpu={"rflags": 0x2}), ev) is None
    assert exit_of(make(proc=MTF, cpu={"rflags": 0x202, "interruptibility": 1}), ev) is None


# -- before the first guest instruction ----------------------------------------------------------

AFTER = {"kind": "after_vm_entry"}


def test_after_entry_nothing() -> None:
    assert exit_of(make(), AFTER) is None
    assert rule_of(make(), AFTER) == "EXIT-AFTER-ENTRY"


def test_after_entry_tpr_threshold() -> None:
    st = make(proc=TPR_SHADOW, proc2=0, TPR_THRESHOLD=4, memory={VAPIC + 0x80: 0x30})
    assert exit_of(st, AFTER) == (43, 0)
    st = make(proc=TPR_SHADOW, proc2=0, TPR_THRESHOLD=4, memory={VAPIC + 0x80: 0x40})
    assert exit_of(st, AFTER) is None
    st = make(proc=TPR_SHADOW, proc2=0, TPR_THRESHOLD=4, GUEST_ACTIVITY_STATE=2)
    assert exit_of(st, AFTER) is None  # not in the shutdown state
    st = make(proc=TPR_SHADOW, proc2=VID, TPR_THRESHOLD=4)
    assert exit_of(st, AFTER) is None


def test_after_entry_pending_mtf() -> None:
    assert exit_of(make(VM_ENTRY_INTR_INFO_FIELD=0x8000_0700), AFTER) == (37, 0)  # type 7 vector 0, MTF off
    assert exit_of(make(proc=MTF, VM_ENTRY_INTR_INFO_FIELD=0x8000_0030), AFTER) == (37, 0)  # vectoring + MTF
    assert exit_of(make(proc=MTF), AFTER) is None  # MTF without injection: after the first instruction
    # TPR threshold exits take priority over a pending MTF exit.
    st = make(proc=TPR_SHADOW, proc2=0, TPR_THRESHOLD=1, VM_ENTRY_INTR_INFO_FIELD=0x8000_0700)
    assert exit_of(st, AFTER) == (43, 0)


def test_after_entry_preemption_timer() -> None:
    assert exit_of(make(pin=TIMER, VMX_PREEMPTION_TIMER_VALUE=0), AFTER) == (52, 0)
    assert exit_of(make(pin=TIMER, VMX_PREEMPTION_TIMER_VALUE=1), AFTER) is None
    assert exit_of(make(pin=TIMER, VMX_PREEMPTION_TIMER_VALUE=1), {**AFTER, "preemption_timer_value": 0}) == (52, 0)
    assert exit_of(make(pin=TIMER, GUEST_ACTIVITY_STATE=3), AFTER) is None  # wait-for-SIPI
    assert exit_of(make(pin=TIMER, GUEST_ACTIVITY_STATE=1), AFTER) == (52, 0)  # HLT
    # The timer has priority over NMI-window exiting.
    assert exit_of(make(pin=TIMER | NMI | VNMI, proc=NMI_WINDOW), AFTER) == (52, 0)


def test_after_entry_nmi_window() -> None:
    pin = NMI | VNMI
    assert exit_of(make(pin=pin, proc=NMI_WINDOW), AFTER) == (8, 0)
    assert exit_of(make(pin=pin, proc=NMI_WINDOW, GUEST_INTERRUPTIBILITY_INFO=1 << 3), AFTER) is None
    assert exit_of(make(pin=pin, proc=NMI_WINDOW, GUEST_INTERRUPTIBILITY_INFO=1 << 1), AFTER) is None
    assert exit_of(make(pin=pin, proc=NMI_WINDOW, GUEST_INTERRUPTIBILITY_INFO=1 << 0), AFTER) is None
    assert exit_of(make(pin=pin, proc=NMI_WINDOW, GUEST_ACTIVITY_STATE=2), AFTER) == (8, 0)  # wakes shutdown
    # A vectoring entry leaves no blocking by MOV SS; injecting an NMI sets virtual-NMI blocking.
    st = make(pin=pin, proc=NMI_WINDOW, GUEST_INTERRUPTIBILITY_INFO=1 << 1, VM_ENTRY_INTR_INFO_FIELD=0x8000_0330)
    assert exit_of(st, AFTER) == (8, 0)
    assert exit_of(make(pin=pin, proc=NMI_WINDOW, VM_ENTRY_INTR_INFO_FIELD=0x8000_0202), AFTER) is None


def test_after_entry_interrupt_window() -> None:
    assert exit_of(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x202), AFTER) == (7, 0)
    assert exit_of(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x2), AFTER) is None
    assert exit_of(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x202, GUEST_INTERRUPTIBILITY_INFO=1), AFTER) is None
    assert exit_of(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x202, GUEST_ACTIVITY_STATE=1), AFTER) == (7, 0)
    assert exit_of(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x202, GUEST_ACTIVITY_STATE=2), AFTER) is None
    # NMI-window exits come first.
    assert exit_of(make(pin=NMI | VNMI, proc=INTR_WINDOW | NMI_WINDOW, GUEST_RFLAGS=0x202), AFTER) == (8, 0)
    with pytest.raises(StateError) as err:
        decide_exit(make(proc=INTR_WINDOW, GUEST_RFLAGS=0x202, VM_ENTRY_INTR_INFO_FIELD=0x8000_0030), AFTER)
    assert err.value.code == "unsupported-query"


# -- malformed events ----------------------------------------------------------------------------

@pytest.mark.parametrize(("event", "code", "path", "hint"), [
    ([], "bad-query", "query.event", ""),
    ({"kind": "instrucion"}, "bad-query", "query.event.kind", "instruction"),
    ({"kind": "instruction", "insn": "RDMRS", "ecx": 1}, "bad-query", "query.event.insn", "RDMSR"),
    ({"kind": "instruction", "insn": "RDMSR"}, "bad-query", "query.event.ecx", ""),
    ({"kind": "instruction", "insn": "RDMSR", "exc": 1}, "bad-query", "query.event.exc", "ecx"),
    ({"kind": "instruction", "insn": "RDMSR", "ecx": "0x100000000"}, "value-too-wide", "query.event.ecx", ""),
    ({"kind": "instruction", "insn": "OUT", "port": "0x100", "size": 1, "operand": "imm"}, "bad-query",
     "query.event.port", ""),
    ({"kind": "instruction", "insn": "OUT", "port": 1, "size": 3, "operand": "dx"}, "bad-query",
     "query.event.size", ""),
    ({"kind": "instruction", "insn": "MOV_TO_CR0", "value": 1, "gpr": "rzx"}, "bad-query", "query.event.gpr",
     "did you mean"),
    ({"kind": "instruction", "insn": "VMFUNC"}, "unsupported-query", "query.event.insn", ""),
    ({"kind": "exception", "vector": 2}, "bad-query", "query.event.vector", ""),
    ({"kind": "exception", "vector": 14, "error_code": 2}, "bad-query", "query.event.linear_address", ""),
    ({"kind": "task_switch", "initiator": "jump", "tss_selector": 8}, "bad-query", "query.event.initiator", "jmp"),
    ({"kind": "nmi", "vector": 2}, "bad-query", "query.event.vector", ""),
])
def test_malformed_events(event: object, code: str, path: str, hint: str) -> None:
    with pytest.raises(StateError) as err:
        decide_exit(make(), event)  # type: ignore[arg-type]
    assert (err.value.code, err.value.path) == (code, path)
    assert hint in err.value.message


def test_missing_cpu_key_is_named() -> None:
    st = make(proc=USE_MSR)
    st.cpu.cpl = None
    with pytest.raises(StateError) as err:
        decide_exit(st, insn("RDMSR", ecx=1))
    assert (err.value.code, err.value.path) == ("missing-field", "cpu.cpl")


def test_mnemonics_and_register_names_are_case_insensitive() -> None:
    assert exit_of(make(proc=MOV_DR), insn("mov_from_dr", dr=6, gpr="RCX")) == (29, 0x116)


def test_outcome_is_plain_data() -> None:
    out = decide_exit(make(), insn("CPUID"))
    assert isinstance(out, ExitOutcome) and out.reason_name == "CPUID" and out.rule == "EXIT-UNCOND"
