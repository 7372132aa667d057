"""EPT walks per second (the reference interpreter's ``translate_gpa``) over generated tables.

The tables come from the EPT builder: a few hundred mappings of mixed page sizes (4 KiB, 2 MiB and
1 GiB) and permissions, with accessed/dirty flags on, the way a hypervisor lays out guest RAM and
MMIO holes. The walked addresses are mostly mapped (with a mix of reads, writes and fetches, so some
end in permission violations) and partly unmapped. Run alone with ``python -m benchmarks.bench_ept``.
"""

from __future__ import annotations

import random
import sys

from benchmarks.figures import Figure, rate
from vmxspec.arch import ept as A
from vmxspec.build import EptMapping, build_ept_tables
from vmxspec.interp.ept import translate_gpa
from vmxspec.state import State

CAP = 0x0000_0F01_0633_4141  # exec-only, 4-level, UC/WB, 2M, 1G, A/D, INVEPT
MAXPHYADDR = 46
TABLE_BASE = 0x3F00_0000_0000


def generate(n_mappings: int, n_queries: int, seed: int = 1) -> tuple[State, list[tuple[int, str, bool]]]:
    rng = random.Random(seed)
    mappings = []
    gpa = 0
    for _ in range(n_mappings):
        size = rng.choice((A.PAGE_4K, 16 * A.PAGE_4K, A.PAGE_2M, 4 * A.PAGE_2M, A.PAGE_1G))
        gpa = (gpa + size - 1) // size * size + rng.choice((0, size))  # aligned, sometimes leaving a hole
        perms = rng.choice(("rwx", "rwx", "rw", "r", "rx", "x"))
        mappings.append(EptMapping.with_permissions(gpa, size, 0x1000_0000_0000 + gpa, perms))
        gpa += size
    tables = build_ept_tables(mappings, table_base=TABLE_BASE, accessed_dirty=True, maxphyaddr=MAXPHYADDR)
    state = State(caps={"IA32_VMX_EPT_VPID_CAP": CAP}, maxphyaddr=MAXPHYADDR,
                  vmcs={"EPT_POINTER": tables.eptp, "CPU_BASED_VM_EXEC_CONTROL": 0}, memory=tables.memory)
    queries = []
    for _ in range(n_queries):
        if rng.random() < 0.9:
            m = rng.choice(mappings)
            address = m.gpa + rng.randrange(m.size)
        else:
            address = rng.randrange(gpa)
        queries.append((address, rng.choice(("read", "read", "write", "fetch")), rng.random() < 0.1))
    return state, queries


def run(quick: bool = False) -> list[Figure]:
    state, queries = generate(300, 2_000 if quick else 20_000)

    def once() -> int:
        for gpa, access, paging in queries:
            translate_gpa(state, gpa, access, paging_structure=paging and access != "fetch")
        return len(queries)

    outcomes = [translate_gpa(state, g, a, paging_structure=p and a != "fetch").result for g, a, p in queries]
    mix = ", ".join(f"{outcomes.count(k)} {k}" for k in ("ok", "ept_violation", "ept_misconfig"))
    per_second = rate(once, 1.0 if quick else 3.0)
    return [Figure(f"EPT walks per second ({len(state.memory)} table words; {mix})", per_second, "walks/s",
                   target=50_000)]


def main() -> int:
    figures = run(quick="--quick" in sys.argv[1:])
    for f in figures:
        print(f"{f.name}: {f.value:,.0f} {f.unit} (target {f.target:,.0f})")
    return 0 if all(f.meets_target is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
