"""Full VM-entry checks (controls, host and guest) per second over generated states.

The generator starts from the KVM-like baseline and flips a few random bits in a few random
fields per state, so the checks see a mix of passing and failing VMCSs, as a fuzzer would.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from benchmarks.figures import Figure, rate
from vmxspec.arch import vmcs_fields
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State, load_state

_BASELINE = Path(__file__).resolve().parent.parent / "examples" / "states" / "kvm-baseline.json"
STAGES = (Stage.CONTROLS, Stage.HOST, Stage.GUEST)


def generate(n: int, seed: int = 1) -> list[State]:
    rng = random.Random(seed)
    base = load_state(json.loads(_BASELINE.read_text()))
    names = sorted(base.vmcs)
    states = []
    for _ in range(n):
        vmcs = dict(base.vmcs)
        for _ in range(rng.randint(0, 3)):
            name = rng.choice(names)
            vmcs[name] ^= 1 << rng.randrange(vmcs_fields.BY_NAME[name].bits)
        states.append(State(caps=base.caps, maxphyaddr=base.maxphyaddr, vmcs=vmcs, memory=base.memory,
                            cpu=base.cpu))
    return states


def run(quick: bool = False) -> list[Figure]:
    states = generate(200 if quick else 2000)

    def once() -> int:
        for state in states:
            check_vm_entry(state, STAGES)
        return len(states)

    failing = sum(1 for s in states if check_vm_entry(s, STAGES).violations)
    per_second = rate(once, 1.0 if quick else 3.0)
    return [Figure(f"VM-entry checks per second (controls+host+guest, {failing}/{len(states)} states failing)",
                   per_second, "checks/s", target=10_000)]
