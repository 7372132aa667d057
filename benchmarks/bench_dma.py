"""VT-d DMA translations per second over generated tables, on one core.

Two units' worth of tables are generated with the VT-d builder: a legacy-mode one and a
scalable-mode one (with requests-with-PASID), each with 16 devices in 6 domains of 4-KiB and 2-MiB
mappings plus one pass-through domain. The questions are mostly addresses inside a mapping, with a
share of unmapped addresses, write requests to read-only mappings and unattached devices, so that
faults are exercised as a fuzzer or an isolation sweep would. Every translation records its steps,
as ``vmxspec dma`` shows them.
"""

from __future__ import annotations

import random

from benchmarks.figures import Figure, rate
from vmxspec.build.vtd_tables import (
    Attachment,
    DmaDomain,
    DmaMapping,
    build_vtd_tables,
    cap_value,
    ecap_value,
)
from vmxspec.interp.vtd import translate_dma
from vmxspec.state import IommuUnit, State

Query = tuple[State, int, int, str, int | None]
HAW = 46


def _domains(rng: random.Random) -> list[DmaDomain]:
    domains = []
    for did in range(1, 7):
        mappings = []
        for slot in range(8):
            if rng.random() < 0.3:
                hpa = rng.randrange(1, 1 << 14) << 21
                mappings.append(DmaMapping(slot << 24, 4 << 20, hpa, True, rng.random() < 0.8))
            else:
                pages = rng.randrange(1, 256)
                mappings.append(DmaMapping(slot << 24 | rng.randrange(0, 256) << 12, pages << 12,
                                           rng.randrange(1, 1 << 24) << 12, True, rng.random() < 0.8))
        domains.append(DmaDomain(did, tuple(mappings), aw=rng.choice([1, 2])))
    domains.append(DmaDomain(7, passthrough=True))
    return domains


def generate(n: int, seed: int = 1) -> list[Query]:
    rng = random.Random(seed)
    queries: list[Query] = []
    for scalable in (False, True):
        domains = _domains(rng)
        sids = rng.sample(range(0x0100, 0x2000), 16)
        attachments = [Attachment(sid, rng.randrange(1, 8)) for sid in sids]
        if scalable:
            attachments += [Attachment(sid, rng.randrange(1, 8), rng.randrange(1, 512)) for sid in sids[:8]]
        tables = build_vtd_tables(attachments, domains, table_base=1 << 40, haw=HAW, scalable=scalable)
        ecap = ecap_value("pt", "smts", "slts", "pasid") if scalable else ecap_value("pt")
        state = State(memory=tables.memory, iommus=[IommuUnit(cap_value(), ecap, tables.rtaddr, HAW)])
        by_did = {d.did: d for d in domains}
        for _ in range(n // 2):
            a = rng.choice(attachments)
            d = by_did[a.did]
            access = "write" if rng.random() < 0.3 else "read"
            roll = rng.random()
            if roll < 0.1:
                queries.append((state, rng.randrange(0, 0x10000), 0x1000, access, None))
            elif roll < 0.2 or d.passthrough:
                queries.append((state, a.source_id, rng.randrange(0, 1 << 30) & ~7, access, a.pasid))
            else:
                m = rng.choice(d.mappings)
                queries.append((state, a.source_id, m.iova + rng.randrange(0, m.size), access, a.pasid))
    rng.shuffle(queries)
    return queries


def run(quick: bool = False) -> list[Figure]:
    queries = generate(2_000 if quick else 20_000)

    def once() -> int:
        for state, sid, iova, access, pasid in queries:
            translate_dma(state, sid, iova, access, pasid)
        return len(queries)

    faults = sum(1 for q in queries if translate_dma(*q).result == "fault")
    per_second = rate(once, 1.0 if quick else 3.0)
    return [Figure(f"DMA translations per second (legacy + scalable, {faults}/{len(queries)} faulting)",
                   per_second, "translations/s", target=50_000)]
