"""VM-exit decisions per second on one core, over generated guest events.

The state is the KVM-like baseline with a live guest context and a few intercepts set in its MSR
and I/O bitmaps; the events mix what a fuzzer or the checker's replay asks most: RDMSR/WRMSR across
and outside both bitmap ranges, I/O of every size (some wrapping), control-register writes,
unconditional and conditional instructions, exceptions with page-fault error codes, interrupts,
NMIs and after-VM-entry questions. Each decision includes parsing the event, as ``vmxspec eval``
does.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.figures import Figure, rate
from vmxspec.interp.exits import decide_exit
from vmxspec.state import State, load_state

_BASELINE = Path(__file__).resolve().parent.parent / "examples" / "states" / "kvm-baseline.json"
_SIMPLE = ("CPUID", "HLT", "RDTSC", "RDTSCP", "RDPMC", "PAUSE", "WBINVD", "INVD", "VMCALL", "RDRAND", "MWAIT",
           "XSETBV", "LGDT", "SLDT", "MONITOR")


def baseline_state() -> State:
    state = load_state(json.loads(_BASELINE.read_text()))
    state.cpu.cpl = 0
    state.cpu.cr0 = state.vmcs["GUEST_CR0"]
    state.cpu.cr4 = state.vmcs["GUEST_CR4"]
    state.cpu.rflags = 0x202
    state.cpu.ia32_xss = 0
    state.cpu.interruptibility = 0
    state.cpu.activity_state = "active"
    msr_bitmap, io_a = state.vmcs["MSR_BITMAP"], state.vmcs["IO_BITMAP_A"]
    for msr in (0x10, 0x1A0, 0x3A, 0x48):  # TSC, MISC_ENABLE, FEATURE_CONTROL, SPEC_CTRL (read + write)
        for offset in (0x000, 0x800):
            address = msr_bitmap + offset + msr // 8
            state.memory[address & ~7] = state.memory.get(address & ~7, 0) | 1 << ((address & 7) * 8 + msr % 8)
    state.memory[msr_bitmap + 0xC00] = 0xFF  # EFER, STAR, LSTAR, ... writes (0xc0000080-0xc0000087)
    state.memory[io_a + 0x8] = 0xFF  # ports 0x40-0x47 (PIT)
    return state


def generate(n: int, seed: int = 1) -> list[dict[str, object]]:
    rng = random.Random(seed)
    out: list[dict[str, object]] = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.25:
            msr = rng.choice([rng.randrange(0x2000), 0xC000_0000 + rng.randrange(0x2000), rng.randrange(2**32),
                              0x1A0, 0xC000_0080])
            out.append({"kind": "instruction", "insn": rng.choice(["RDMSR", "WRMSR"]), "ecx": hex(msr)})
        elif roll < 0.45:
            name = rng.choice(["IN", "OUT", "INS", "OUTS"])
            port = rng.choice([rng.randrange(0x10000), rng.randrange(0x40, 0x48), 0xFFFF, 0x7FFF])
            size = rng.choice([1, 2, 4])
            event: dict[str, object] = {"kind": "instruction", "insn": name, "port": port, "size": size}
            if name in ("IN", "OUT"):
                event["operand"] = "dx"
            else:
                event["rep"] = rng.random() < 0.5
            out.append(event)
        elif roll < 0.60:
            name = rng.choice(["MOV_TO_CR0", "MOV_TO_CR4", "MOV_TO_CR3", "MOV_TO_CR8", "MOV_FROM_CR3"])
            event = {"kind": "instruction", "insn": name, "gpr": rng.randrange(16)}
            if name != "MOV_FROM_CR3":
                event["value"] = hex(rng.randrange(16) if name == "MOV_TO_CR8" else rng.getrandbits(32))
            out.append(event)
        elif roll < 0.75:
            out.append({"kind": "instruction", "insn": rng.choice(_SIMPLE)})
        elif roll < 0.88:
            vector = rng.choice([0, 1, 3, 6, 13, 14, 17, 18])
            event = {"kind": "exception", "vector": vector}
            if vector == 14:
                event.update(error_code=rng.randrange(32), linear_address=hex(rng.getrandbits(47)))
            out.append(event)
        else:
            out.append(rng.choice([{"kind": "external_interrupt", "vector": rng.randrange(32, 256)}, {"kind": "nmi"},
                                   {"kind": "init_signal"}, {"kind": "after_vm_entry"},
                                   {"kind": "software_interrupt", "vector": 0x80}]))
    return out


def run(quick: bool = False) -> list[Figure]:
    state = baseline_state()
    events = generate(2_000 if quick else 20_000)

    def once() -> int:
        for event in events:
            decide_exit(state, event)
        return len(events)

    exiting = sum(1 for e in events if decide_exit(state, e).exit)
    per_second = rate(once, 1.0 if quick else 3.0)
    return [Figure(f"VM-exit decisions per second ({exiting}/{len(events)} events exit)", per_second, "decisions/s",
                   target=100_000)]
