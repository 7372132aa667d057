"""Properties of VM-exit decisions over random states and random events.

* Robustness: whatever the state and the event (well-formed or not), ``decide_exit`` returns an
  outcome whose JSON answer is well-formed, or raises StateError with a registered code; never any
  other exception.
* Bitmaps: with all-ones MSR and I/O bitmaps every RDMSR/WRMSR and every I/O instruction exits; with
  all-zero bitmaps none in range does (only MSRs outside both ranges and accesses that wrap past
  port FFFFH exit); a single set bit makes exactly its MSR exit.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vmxspec.arch.exit_reasons import BY_NUMBER
from vmxspec.arch.exits import INSTRUCTIONS, NOT_MODELLED
from vmxspec.codes import BY_ID as CODES
from vmxspec.interp.exits import EVENT_KINDS, decide_exit
from vmxspec.state import CpuState, State, StateError

MSR_BM, IO_A, IO_B = 0x10000, 0x20000, 0x21000
USE_IO, USE_MSR = 1 << 25, 1 << 28
ONES = (1 << 64) - 1

_FIELDS = [
    "PIN_BASED_VM_EXEC_CONTROL", "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL", "EXCEPTION_BITMAP",
    "PAGE_FAULT_ERROR_CODE_MASK", "PAGE_FAULT_ERROR_CODE_MATCH", "CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW",
    "CR4_GUEST_HOST_MASK", "CR4_READ_SHADOW", "CR3_TARGET_COUNT", "CR3_TARGET_VALUE0", "CR3_TARGET_VALUE1",
    "CR3_TARGET_VALUE2", "CR3_TARGET_VALUE3", "TPR_THRESHOLD", "MSR_BITMAP", "IO_BITMAP_A", "IO_BITMAP_B",
    "VMREAD_BITMAP", "VMWRITE_BITMAP", "XSS_EXIT_BITMAP", "ENCLS_EXITING_BITMAP", "PLE_GAP", "PLE_WINDOW",
    "VIRTUAL_APIC_PAGE_ADDR", "POSTED_INTR_NV", "VM_ENTRY_INTR_INFO_FIELD", "GUEST_ACTIVITY_STATE",
    "GUEST_INTERRUPTIBILITY_INFO", "GUEST_RFLAGS", "VMX_PREEMPTION_TIMER_VALUE",
]
_ADDRESS_FIELDS = {"MSR_BITMAP", "IO_BITMAP_A", "IO_BITMAP_B", "VMREAD_BITMAP", "VMWRITE_BITMAP",
                   "VIRTUAL_APIC_PAGE_ADDR"}

small_value = st.one_of(st.integers(0, 15), st.integers(0, 2**32 - 1), st.integers(0, 2**64 - 1))
# A field or cpu key is left out now and then: the decision must then ask for it, not assume it.
field_value = st.one_of(small_value, small_value, small_value, small_value, small_value, st.none())


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, strategy, strategy, strategy, strategy, st.none())


@st.composite
def states(draw: st.DrawFn) -> State:
    vmcs: dict[str, int] = {}
    for name in _FIELDS:
        value = draw(_maybe(st.sampled_from([0, 0x1000, 0x10000])) if name in _ADDRESS_FIELDS else field_value)
        if value is not None:
            vmcs[name] = value
    memory = {draw(st.sampled_from([0, 0x1000, 0x10000, 0x10400, 0x10800, 0x10C00])) + 8 * i: draw(small_value)
              for i in range(draw(st.integers(0, 4)))}
    cpu = CpuState(
        cpl=draw(_maybe(st.integers(0, 3))),
        cr0=draw(_maybe(small_value)),
        cr4=draw(_maybe(small_value)),
        rflags=draw(_maybe(small_value)),
        ia32_xss=draw(_maybe(small_value)),
        interruptibility=draw(_maybe(st.integers(0, 15))),
        activity_state=draw(_maybe(st.sampled_from(["active", "hlt", "shutdown", "wait_for_sipi"]))),
        in_smm=draw(_maybe(st.booleans())),
    )
    return State(vmcs=vmcs, memory=memory, cpu=cpu)


_OPERANDS = ["ecx", "eax", "edx", "edx_eax", "port", "size", "rep", "value", "gpr", "dr", "field", "type",
             "linear_address", "operand", "displacement", "monitor_armed", "since_last_pause", "since_loop_start",
             "io_permitted", "vector", "error_code", "dr6", "initiator", "tss_selector", "preemption_timer_value"]
operand_value = st.one_of(
    small_value, st.integers(-5, 5), st.integers(2**64, 2**70), st.booleans(), st.none(),
    st.sampled_from(["dx", "imm", "reg", "mem", "rax", "r15", "0x10", "12", "call", "jmp", "idt", "iret", "zz"]),
    st.lists(st.integers(), max_size=2), small_value.map(hex),
)
msrs = st.one_of(st.integers(0, 2**32 - 1), st.integers(0, 0x1FFF), st.integers(0xC000_0000, 0xC000_1FFF),
                 st.sampled_from([0x1FFF, 0x2000, 0xC000_0000, 0xC000_1FFF, 0xC000_2000, 0xBFFF_FFFF]))
_VALID: dict[str, st.SearchStrategy[Any]] = {
    "ecx": msrs, "eax": st.integers(0, 2**32 - 1), "edx": st.integers(0, 2**32 - 1), "edx_eax": small_value,
    "port": st.integers(0, 0xFFFF), "size": st.sampled_from([1, 2, 4]), "rep": st.booleans(), "value": small_value,
    "gpr": st.one_of(st.integers(0, 15), st.sampled_from(["rax", "rsi", "r8", "ecx"])), "dr": st.integers(0, 7),
    "field": st.one_of(st.integers(0, 0x7FFF), small_value), "type": st.integers(0, 3), "linear_address": small_value,
    "displacement": st.integers(0, 2**32 - 1), "monitor_armed": st.booleans(), "io_permitted": st.booleans(),
    "since_last_pause": st.integers(0, 300), "since_loop_start": st.integers(300, 10000),
}


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    """A well-formed event of any kind, so that most examples reach a decision."""
    kind = draw(st.sampled_from(["instruction"] * 8 + list(EVENT_KINDS)))
    event: dict[str, Any] = {"kind": kind}
    if kind == "instruction":
        facts = INSTRUCTIONS[draw(st.sampled_from(sorted(INSTRUCTIONS)))]
        event["insn"] = facts.mnemonic
        for key in facts.required + facts.optional:
            if key in facts.required or draw(st.booleans()):
                if key == "operand":
                    codes = {"IN": ["dx", "imm"], "OUT": ["dx", "imm"], "LMSW": ["reg", "mem"],
                             "SMSW": ["reg", "mem"]}.get(facts.mnemonic, ["dx"])
                    event[key] = draw(st.sampled_from(codes))
                elif key == "value" and facts.mnemonic == "LMSW":
                    event[key] = draw(st.integers(0, 0xFFFF))
                else:
                    event[key] = draw(_VALID[key])
        if event.get("operand") == "imm":
            event["port"] = draw(st.integers(0, 0xFF))
        if facts.mnemonic in ("XSAVES", "XRSTORS"):
            event.pop("eax", None), event.pop("edx", None)
            event["edx_eax"] = draw(small_value)
        if "since_loop_start" in event:
            event["since_last_pause"] = draw(st.integers(0, 300))
    elif kind == "exception":
        vector = draw(st.integers(0, 31).filter(lambda v: v != 2))
        event["vector"] = vector
        if vector == 14:
            event["error_code"] = draw(st.integers(0, 2**32 - 1))
            event["linear_address"] = draw(small_value)
        if vector == 1 and draw(st.booleans()):
            event["dr6"] = draw(small_value)
    elif kind in ("external_interrupt", "software_interrupt", "sipi"):
        event["vector"] = draw(st.integers(0, 255))
    elif kind == "task_switch":
        event["initiator"] = draw(st.sampled_from(["call", "iret", "jmp", "idt"]))
        event["tss_selector"] = draw(st.integers(0, 0xFFFF))
    elif kind == "after_vm_entry" and draw(st.booleans()):
        event["preemption_timer_value"] = draw(st.integers(0, 3))
    return event


@st.composite
def mangled_events(draw: st.DrawFn) -> Any:
    """Anything at all: wrong kinds, unknown mnemonics, operands of every type and width."""
    if draw(st.integers(0, 10)) == 0:
        return draw(st.one_of(st.none(), st.integers(), st.text(max_size=5), st.lists(st.integers(), max_size=2)))
    event = dict(draw(valid_events()))
    if draw(st.booleans()):
        event["kind"] = draw(st.sampled_from(["", "instr", "Instruction", "nmi", "instruction"]))
    if draw(st.booleans()):
        event["insn"] = draw(st.one_of(st.sampled_from(sorted(NOT_MODELLED)), st.sampled_from(["rdmsr", "RDMRS", ""]),
                                       st.integers()))
    for key in draw(st.lists(st.sampled_from(_OPERANDS), max_size=3, unique=True)):
        event[key] = draw(operand_value)
    return event


events = st.one_of(valid_events(), valid_events(), valid_events(), mangled_events())


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states(), events)
def test_decide_exit_never_raises_anything_but_state_error(state: State, event: Any) -> None:
    try:
        outcome = decide_exit(state, event)
    except StateError as err:
        assert err.code in CODES
        assert err.message and (err.path.startswith(("query.event", "vmcs.", "cpu.")))
        return
    answer = outcome.to_json()
    json.dumps(answer)
    assert outcome.rules and outcome.explanation
    if outcome.exit:
        assert outcome.reason in BY_NUMBER and isinstance(outcome.qualification, int)
        assert 0 <= outcome.qualification < 2**64
        assert answer["qualification"] == hex(outcome.qualification)
    else:
        assert outcome.reason is None and "reason" not in answer
    if outcome.guest_fault is not None:
        assert outcome.guest_fault in ("#UD", "#GP(0)", "#NM")


def _bitmap_state(fill: int, proc: int = USE_IO | USE_MSR) -> State:
    memory = {base + 8 * i: fill for base in (MSR_BM, IO_A, IO_B) for i in range(512)}
    vmcs = {"CPU_BASED_VM_EXEC_CONTROL": proc, "MSR_BITMAP": MSR_BM, "IO_BITMAP_A": IO_A, "IO_BITMAP_B": IO_B}
    return State(vmcs=vmcs, memory=memory, cpu=CpuState(cpl=0, rflags=0x2))


ALL_ONES = _bitmap_state(ONES)
ALL_ZEROS = _bitmap_state(0)
io = st.tuples(st.sampled_from(["IN", "OUT", "INS", "OUTS"]), st.integers(0, 0xFFFF), st.sampled_from([1, 2, 4]),
               st.booleans())


def _io_event(name: str, port: int, size: int, rep: bool) -> dict[str, object]:
    event: dict[str, object] = {"kind": "instruction", "insn": name, "port": port, "size": size}
    if name in ("IN", "OUT"):
        event["operand"] = "dx"
    elif rep:
        event["rep"] = True
    return event


def _in_range(msr: int) -> bool:
    return msr <= 0x1FFF or 0xC000_0000 <= msr <= 0xC000_1FFF


@given(msrs, st.sampled_from(["RDMSR", "WRMSR"]))
def test_all_ones_msr_bitmaps_intercept_every_msr(msr: int, name: str) -> None:
    outcome = decide_exit(ALL_ONES, {"kind": "instruction", "insn": name, "ecx": msr})
    assert outcome.exit and outcome.reason == (31 if name == "RDMSR" else 32)


@given(msrs, st.sampled_from(["RDMSR", "WRMSR"]))
def test_all_zero_msr_bitmaps_intercept_only_msrs_out_of_range(msr: int, name: str) -> None:
    outcome = decide_exit(ALL_ZEROS, {"kind": "instruction", "insn": name, "ecx": msr})
    assert outcome.exit == (not _in_range(msr))


@given(io)
def test_all_ones_io_bitmaps_intercept_every_port(access: tuple[str, int, int, bool]) -> None:
    outcome = decide_exit(ALL_ONES, _io_event(*access))
    assert outcome.exit and outcome.reason == 30
    assert outcome.qualification is not None and outcome.qualification >> 16 == access[1]


@given(io)
def test_all_zero_io_bitmaps_intercept_only_wrapping_accesses(access: tuple[str, int, int, bool]) -> None:
    _, port, size, _ = access
    assert decide_exit(ALL_ZEROS, _io_event(*access)).exit == (port + size > 0x10000)


# Offsets of the four MSR-bitmap regions, from the SDM ("MSR-Bitmap Address"), written out here.
_REGION = {("RDMSR", 0): 0x000, ("RDMSR", 1): 0x400, ("WRMSR", 0): 0x800, ("WRMSR", 1): 0xC00}


@given(st.one_of(st.integers(0, 0x1FFF), st.integers(0xC000_0000, 0xC000_1FFF)), st.sampled_from(["RDMSR", "WRMSR"]),
       st.integers(0, 0x1FFF))
def test_one_bitmap_bit_intercepts_exactly_its_msr(msr: int, name: str, other: int) -> None:
    high = int(msr >= 0xC000_0000)
    index = msr & 0x1FFF
    address = MSR_BM + _REGION[(name, high)] + index // 8
    memory = {address & ~7: 1 << ((address & 7) * 8 + index % 8)}
    state = State(vmcs={"CPU_BASED_VM_EXEC_CONTROL": USE_MSR, "MSR_BITMAP": MSR_BM}, memory=memory,
                  cpu=CpuState(cpl=0))
    assert decide_exit(state, {"kind": "instruction", "insn": name, "ecx": msr}).exit
    other_msr = (0xC000_0000 if high else 0) | other
    expected = other_msr == msr
    assert decide_exit(state, {"kind": "instruction", "insn": name, "ecx": other_msr}).exit == expected
    flipped = "WRMSR" if name == "RDMSR" else "RDMSR"
    assert not decide_exit(state, {"kind": "instruction", "insn": flipped, "ecx": msr}).exit
