"""The symbolic exit decisions against the reference interpreter, event by event.

For random VMCSs (controls, exception bitmap and #PF filter, CR masks and shadows, CR3 targets,
TPR threshold, XSS and ENCLS bitmaps, PLE timing), random MSR, I/O and VMREAD/VMWRITE bitmap
pages, random guest contexts and random well-formed events of every kind ``exits`` accepts, the
Z3 decision with every variable pinned (``concrete_exit``) must equal ``decide_exit``'s ``exit``;
for EPT_VIOLATION, the swept EPT must translate exactly the accesses the interpreter's walk does.

The seeded-bug test reads one MSR-bitmap region at the wrong offset on the symbolic side, as a
transcription slip in ``msr_io.MSR_LAYOUT`` would, and checks that this suite finds a disagreement.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.arch.exits import ACTIVITY_STATES, INSTRUCTIONS
from vmxspec.interp.ept import translate_gpa
from vmxspec.interp.exits import decide_exit, parse_event
from vmxspec.state import CpuState, State, StateError
from vmxspec.symbolic.exits import concrete_ept_translates, concrete_exit, msr_io

MSR_BM, IO_A, IO_B, VMREAD_BM, VMWRITE_BM = 0x10000, 0x11000, 0x12000, 0x13000, 0x14000
#: The words of each bitmap the generator fills at random: events are drawn to land on them.
WORDS = 4

word = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**64 - 1, 1, 1 << 63]))
small = st.one_of(st.integers(0, 15), st.integers(0, 2**16 - 1), st.integers(0, 2**64 - 1))
control = st.one_of(st.integers(0, 2**32 - 1), st.just(0), st.just(2**32 - 1))


@st.composite
def states(draw: st.DrawFn) -> State:
    vmcs = {
        "PIN_BASED_VM_EXEC_CONTROL": draw(control),
        "CPU_BASED_VM_EXEC_CONTROL": draw(control),
        "SECONDARY_VM_EXEC_CONTROL": draw(control),
        "EXCEPTION_BITMAP": draw(st.integers(0, 2**32 - 1)),
        "PAGE_FAULT_ERROR_CODE_MASK": draw(st.one_of(st.integers(0, 15), st.integers(0, 2**32 - 1))),
        "PAGE_FAULT_ERROR_CODE_MATCH": draw(st.one_of(st.integers(0, 15), st.integers(0, 2**32 - 1))),
        "CR0_GUEST_HOST_MASK": draw(small), "CR0_READ_SHADOW": draw(small),
        "CR4_GUEST_HOST_MASK": draw(small), "CR4_READ_SHADOW": draw(small),
        "CR3_TARGET_COUNT": draw(st.integers(0, 4)),
        **{f"CR3_TARGET_VALUE{n}": draw(st.integers(0, 7)) for n in range(4)},
        "TPR_THRESHOLD": draw(st.integers(0, 20)),
        "XSS_EXIT_BITMAP": draw(small), "ENCLS_EXITING_BITMAP": draw(word),
        "PLE_GAP": draw(st.integers(0, 300)), "PLE_WINDOW": draw(st.integers(0, 10000)),
        "POSTED_INTR_NV": draw(st.integers(0, 255)),
        "MSR_BITMAP": MSR_BM, "IO_BITMAP_A": IO_A, "IO_BITMAP_B": IO_B,
        "VMREAD_BITMAP": VMREAD_BM, "VMWRITE_BITMAP": VMWRITE_BM,
    }
    memory: dict[int, int] = {}
    for base in (MSR_BM, MSR_BM + 0x400, MSR_BM + 0x800, MSR_BM + 0xC00, IO_A, IO_B, VMREAD_BM, VMWRITE_BM):
        for i in range(WORDS):
            memory[base + 8 * i] = draw(word)
    cpu = CpuState(cpl=draw(st.integers(0, 3)), cr0=draw(small), cr4=draw(small),
                   rflags=draw(st.one_of(st.integers(0, 2**22 - 1), st.sampled_from([0x2, 0x202, 0x3202, 0x20202]))),
                   ia32_xss=draw(small), interruptibility=draw(st.integers(0, 15)),
                   activity_state=draw(st.sampled_from(ACTIVITY_STATES)), in_smm=draw(st.booleans()))
    return State(vmcs=vmcs, memory=memory, cpu=cpu)


msr = st.one_of(st.integers(0, 64 * WORDS - 1), st.integers(0xC000_0000, 0xC000_0000 + 64 * WORDS - 1),
                st.sampled_from([0x1FFF, 0x2000, 0xC000_1FFF, 0xC000_2000, 0xBFFF_FFFF]), st.integers(0, 2**32 - 1))
port = st.one_of(st.integers(0, 64 * WORDS), st.integers(0x8000 - 4, 0x8000 + 64 * WORDS), st.integers(0xFFF0, 0xFFFF),
                 st.integers(0, 0xFFFF))
OPERANDS: dict[str, st.SearchStrategy[Any]] = {
    "ecx": msr, "port": port, "size": st.sampled_from([1, 2, 4]), "rep": st.booleans(), "io_permitted": st.booleans(),
    "value": st.one_of(small, st.integers(0, 16)), "gpr": st.integers(0, 15), "dr": st.integers(0, 7),
    "field": st.one_of(st.integers(0, 64 * WORDS - 1), st.integers(0, 2**64 - 1)),
    "linear_address": small, "eax": st.one_of(st.integers(0, 70), st.integers(0, 2**32 - 1)),
    "edx_eax": small, "monitor_armed": st.booleans(), "type": st.integers(0, 3), "displacement": st.integers(0, 99),
}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["instruction"] * 10 + ["exception"] * 3 + [
        "external_interrupt", "nmi", "software_interrupt", "triple_fault", "init_signal", "sipi", "task_switch"]))
    event: dict[str, Any] = {"kind": kind}
    if kind == "instruction":
        facts = INSTRUCTIONS[draw(st.sampled_from(sorted(INSTRUCTIONS)))]
        event["insn"] = facts.mnemonic
        for key in facts.required + facts.optional:
            if key in ("eax", "edx", "since_last_pause", "since_loop_start", "ecx", "edx_eax") and key not in \
                    facts.required and facts.mnemonic not in ("XSAVES", "XRSTORS"):
                continue
            if key == "operand":
                choices = {"IN": ["dx", "imm"], "OUT": ["dx", "imm"], "LMSW": ["reg", "mem"]}.get(facts.mnemonic,
                                                                                                   ["dx", "reg"])
                if facts.mnemonic in ("INS", "OUTS"):
                    choices = ["dx"]
                if facts.mnemonic == "SMSW":
                    choices = ["reg", "mem"]
                event[key] = draw(st.sampled_from(choices))
            elif key in ("eax", "edx"):
                continue
            elif key in facts.required or draw(st.booleans()):
                event[key] = draw(OPERANDS[key]) if key in OPERANDS else 0
        if facts.mnemonic == "LMSW":
            event["value"] = draw(st.integers(0, 0xFFFF))
        if event.get("operand") == "imm":
            event["port"] = draw(st.integers(0, 0xFF))
        if facts.mnemonic in ("XSAVES", "XRSTORS"):
            event["edx_eax"] = draw(small)
        if facts.mnemonic == "PAUSE" and draw(st.booleans()):
            event["since_last_pause"] = draw(st.integers(0, 400))
            if draw(st.booleans()):
                event["since_loop_start"] = event["since_last_pause"] + draw(st.integers(0, 12000))
    elif kind == "exception":
        vector = draw(st.integers(0, 31).filter(lambda v: v != 2))
        event["vector"] = vector
        if vector == 14:
            event["error_code"] = draw(st.one_of(st.integers(0, 31), st.integers(0, 2**32 - 1)))
            event["linear_address"] = 0
    elif kind in ("external_interrupt", "software_interrupt", "sipi"):
        event["vector"] = draw(st.integers(0, 255))
    elif kind == "task_switch":
        event["initiator"] = draw(st.sampled_from(["call", "iret", "jmp", "idt"]))
        event["tss_selector"] = draw(st.integers(0, 0xFFFF))
    return event


def _interpreter(state: State, event: dict[str, Any]) -> bool | None:
    """The interpreter's exit bit, or None when it declines the question (malformed combination)."""
    try:
        return decide_exit(state, event).exit
    except StateError:
        return None


def _symbolic(state: State, event: dict[str, Any]) -> bool:
    parsed = parse_event(event)
    name = parsed.insn.mnemonic if parsed.insn is not None else parsed.kind.upper()
    return concrete_exit(state, parsed.kind, name, parsed.ops)


def disagree(case: tuple[State, dict[str, Any]]) -> bool:
    state, event = case
    expected = _interpreter(state, event)
    return expected is not None and _symbolic(state, event) != expected


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(states(), events())
def test_symbolic_exit_matches_the_interpreter(state: State, event: dict[str, Any]) -> None:
    expected = _interpreter(state, event)
    if expected is None:
        return
    assert _symbolic(state, event) == expected, (event, decide_exit(state, event).explanation)


USE_MSR_BITMAPS, MONITOR_TRAP_FLAG = 1 << 28, 1 << 27


def _msr_focus(state: State) -> State:
    """Bitmaps in use, CPL 0 and no monitor trap flag: the MSR bitmap alone decides."""
    proc = state.vmcs["CPU_BASED_VM_EXEC_CONTROL"]
    state.vmcs["CPU_BASED_VM_EXEC_CONTROL"] = (proc | USE_MSR_BITMAPS) & ~MONITOR_TRAP_FLAG
    state.cpu.cpl = 0
    return state


msr_cases = st.tuples(states().map(_msr_focus),
                      st.builds(lambda insn, ecx: {"kind": "instruction", "insn": insn, "ecx": ecx},
                                st.sampled_from(["RDMSR", "WRMSR"]), msr))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msr_cases)
def test_msr_decisions_agree(case: tuple[State, dict[str, Any]]) -> None:
    assert not disagree(case)


def test_a_seeded_bug_in_the_msr_layout_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-high read at the write-low offset (a swapped row in the layout table)."""
    layout = dict(msr_io.MSR_LAYOUT)
    read_high, write_low = layout[(False, True)], layout[(True, False)]
    layout[(False, True)] = (write_low[0], read_high[1], read_high[2])
    monkeypatch.setattr(msr_io, "MSR_LAYOUT", layout)
    found = find(msr_cases, disagree, settings=settings(max_examples=3000, database=None, deadline=None))
    _, event = found
    assert event["insn"] == "RDMSR" and event["ecx"] >= 0xC000_0000


# ---- EPT_VIOLATION: the swept EPT against the interpreter's walk ------------------------------------

TABLES = (0x1000, 0x2000, 0x3000, 0x4000)  # PML4, PDPT, PD, PT
ENABLE_EPT, MBEC = 1 << 1, 1 << 22
ACTIVATE_SECONDARY = 1 << 31


@st.composite
def ept_states(draw: st.DrawFn) -> State:
    """A four-level EPT whose first two entries per table are random: present or not, with random
    permissions, memory types, page-size and reserved bits, pointing to the next table or a page."""
    cap = EPT_VPID_CAP["pwl4"].mask | EPT_VPID_CAP["memtype_wb"].mask
    for name in ("execute_only", "pde_2m", "pdpte_1g"):
        if draw(st.booleans()):
            cap |= EPT_VPID_CAP[name].mask
    maxphyaddr = draw(st.sampled_from([39, 46, 52]))
    memory: dict[int, int] = {}
    for level, table in zip((4, 3, 2, 1), TABLES, strict=True):
        for index in range(2):
            low = draw(st.integers(0, 0x7FF))  # RWX, memory type, IPAT, page size, A, D, XU
            target = TABLES[4 - level + 1] if level > 1 and draw(st.integers(0, 3)) else draw(
                st.sampled_from([0x4000_0000, 0x4020_0000, 0x4000_1000]))
            high = draw(st.sampled_from([0, 0, 0, 1 << 45, 1 << 63]))
            memory[table + 8 * index] = target | low | high
    proc2 = ENABLE_EPT | (MBEC if draw(st.booleans()) else 0)
    vmcs = {"CPU_BASED_VM_EXEC_CONTROL": ACTIVATE_SECONDARY, "SECONDARY_VM_EXEC_CONTROL": proc2,
            "EPT_POINTER": TABLES[0] | 3 << 3 | 6}
    return State(caps={"IA32_VMX_EPT_VPID_CAP": cap}, maxphyaddr=maxphyaddr, vmcs=vmcs, memory=memory)


gpas = st.builds(lambda a, b, c, d, off: a << 39 | b << 30 | c << 21 | d << 12 | off, st.integers(0, 1),
                 st.integers(0, 1), st.integers(0, 1), st.integers(0, 1), st.sampled_from([0, 0x123, 0xFFF]))


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ept_states(), gpas, st.sampled_from(["read", "write", "fetch"]), st.booleans())
def test_ept_sweep_matches_the_walk(state: State, gpa: int, access: str, user: bool) -> None:
    try:
        expected = translate_gpa(state, gpa, access, user=user).ok
    except StateError:
        return
    assert concrete_ept_translates(state, gpa, access, user) == expected
