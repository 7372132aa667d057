"""Property-level differential tests on specs whose structures point into each other.

``test_properties_differential`` lays every structure out where no pointer can reach another, so
that a flipped bit stays inside its own tables. That hid a class of bugs: the checker read a VM's
EPT from a state without the IOMMU's tables, and an EPT entry pointing into the VT-d tables was
walked over zeros. Here the generators aim at exactly that (``spec_gen``, "structures that point
into each other"):

* **translation** (``translation_world(cross=True)``): EPT entries at every level, VT-d root,
  context and second-level entries rewritten to point at pages of other structures of the spec:
  another VM's EPT, either of two IOMMU units' tables, a VM's MSR and I/O bitmaps (whose words read
  as entries: all ones, or 0x87 and 0x37), its shadow-VMCS page; a context entry pointing at a VM's
  EPT root (the ``raw_entries.vmx`` idiom). Every translation property is claimed, for both units.
* **VM entry** (``vmentry_cross_world``): the MSR-load area, the virtual-APIC page (VTPR), the VMCS
  the link pointer references and (PAE paging without EPT) the PDPTEs at GUEST_CR3, placed on a
  page another VM's EPT or bitmaps or the IOMMU's tables occupy.

The oracle is the one of the plain suite, which walks the machine's memory: every VM's build and
every IOMMU's tables merged into one (``spec_gen.machine_state``; a word two builds disagree on
would make the spec unlayable, and the example is skipped).

This suite found that ``vmentry_valid`` built the VM's own state alone, so every memory read of
the VM-entry checks that landed on another structure read zeros: over 500 seeds of
``vmentry_cross_world`` 255 disagreed (59 proved where VM entry fails, 46 violated where it
passes). ``vmentry_valid`` now reads the machine's memory there (``_machine_memory``).
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, reject, settings

from tests.property import spec_gen as G
from tests.property.spec_gen import Claim, GeneratedSpec
from tests.property.test_properties_differential import Oracle, disagreements, seeds
from vmxspec.check.driver import check_spec
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.symbolic.reach.world import World

#: About 0.1 s a translation world, 0.05 s a VM-entry one: the file stays under 10 s with CI=true.
#: No shrinking: what shrinks is the seed, and a smaller seed is another spec, not a smaller one
#: (and the xfail test below would spend seconds shrinking a failure it expects).
CROSS_SETTINGS = settings(max_examples=40, deadline=None, database=None,
                          phases=(Phase.explicit, Phase.reuse, Phase.generate),
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def cross_translation_world(rng: random.Random) -> GeneratedSpec:
    return G.translation_world(rng, cross=True)


def _found(world_of: object, seed: int) -> tuple[GeneratedSpec, list[str]]:
    assert callable(world_of)
    try:
        world = world_of(random.Random(seed))
        return world, disagreements(world)
    except G.Unlayable:
        reject()


def _report(world: GeneratedSpec, found: list[str]) -> str:
    return "\n".join(found) + "\n\n" + world.text


@CROSS_SETTINGS
@given(seeds)
def test_translation_properties_agree_when_tables_point_into_other_structures(seed: int) -> None:
    world, found = _found(cross_translation_world, seed)
    assert not found, _report(world, found)




@CROSS_SETTINGS
@given(seeds)
def test_vmentry_valid_agrees_when_entry_reads_land_on_other_structures(seed: int) -> None:
    world, found = _found(G.vmentry_cross_world, seed)
    assert not found, _report(world, found)


# -- the generators reach what they aim at ---------------------------------------------------------------

SANITY_SEEDS = range(30)


def _crossings(oracle: Oracle) -> set[str]:
    """Which kinds of page of another structure the world's EPT and VT-d walks read."""
    owner = {p.address: p for p in G.Layout.of(oracle.model).pages}
    out = set()
    for vm in oracle.world.vms:
        for page in oracle.ept(vm).tables:
            p = owner.get(page)
            if p is not None and not (p.owner == vm and p.kind == "ept"):
                out.add(f"ept->{'vtd' if p.kind in ('root', 'context', 'sl') else p.kind}")
    for unit in oracle.model.iommus:
        for page in oracle.dma(unit).tables:
            p = owner.get(page)
            if p is not None and p.owner != unit:
                out.add(f"vtd->{'vtd' if p.kind in ('root', 'context', 'sl') else p.kind}")
    return out


def test_translation_walks_read_other_structures() -> None:
    """On a few fixed seeds, EPT walks read another VM's EPT, VT-d tables and bitmaps, VT-d walks
    read a VM's EPT and the other unit's tables, and every claim kind (the second unit's too) is
    both proved and violated: otherwise the comparison above would test nothing new."""
    crossings: set[str] = set()
    seen: dict[str, set[Verdict]] = {}
    for seed in SANITY_SEEDS:
        world = cross_translation_world(random.Random(seed))
        oracle = Oracle(world)
        crossings |= _crossings(oracle)
        for claim in world.claims.values():
            kind = claim.kind + ("/dmar1" if "dmar1" in claim.text else "")
            seen.setdefault(kind, set()).add(oracle.verdict(claim))
    assert {"ept->ept", "ept->vtd", "ept->bitmap", "vtd->ept", "vtd->vtd"} <= crossings, crossings
    lacking = {kind: v for kind, v in seen.items() if not {Verdict.PROVED, Verdict.VIOLATED} <= v}
    assert not lacking, lacking


def test_vm_entry_reads_land_on_other_structures() -> None:
    """On a few fixed seeds, each memory read of the VM-entry checks lands on a word another
    structure wrote, and the machine both passes and fails VM entry."""
    landed: Counter[str] = Counter()
    verdicts: set[Verdict] = set()
    for seed in SANITY_SEEDS:
        world = G.vmentry_cross_world(random.Random(seed))
        oracle = Oracle(world)
        vmcs, memory = oracle.builds()["shadow"].vmcs, oracle.machine().memory
        reads = {"msr_load": ("VM_ENTRY_MSR_LOAD_ADDR", 16), "vapic": ("VIRTUAL_APIC_PAGE_ADDR", 0x88),
                 "link": ("VMCS_LINK_POINTER", 8), "pae": ("GUEST_CR3", 32)}
        for what, (name, size) in reads.items():
            at = vmcs.get(name)
            if at is not None and at != G.NO_LINK and any(memory.get(a) for a in range(at & ~7, at + size, 8)):
                landed[what] += 1
        verdicts.add(oracle.verdict(next(iter(world.claims.values()))))
    assert set(landed) == set(G.ENTRY_READS), landed
    assert {Verdict.PROVED, Verdict.VIOLATED} <= verdicts


# -- a seeded bug the plain suite cannot see ------------------------------------------------------------------

@pytest.mark.parametrize("bug", ["ept-read-without-other-structures", "iommu-reads-first-vm-only"])
def test_reading_one_structure_without_the_others_is_caught(monkeypatch: pytest.MonkeyPatch, bug: str) -> None:
    """Undo the fix of ``World._reads_elsewhere`` (an EPT is read from its VM's state alone), or read
    the IOMMUs from a state with the first VM's structures only: some world on the fixed seeds must
    then disagree, and agree again once the bug is undone."""
    with monkeypatch.context() as patch:
        if bug == "ept-read-without-other-structures":
            patch.setattr(World, "_reads_elsewhere", lambda *args: False)
        else:
            patch.setattr(World, "union", World.iommu_state)
        caught = next((s for s in range(40) if disagreements(cross_translation_world(random.Random(s)))), None)
    assert caught is not None, f"{bug}: no disagreement on 40 seeds"
    assert disagreements(cross_translation_world(random.Random(caught))) == []


# -- small specs -----------------------------------------------------------------------------------------------

def _vmcs(base: dict[str, int], **changes: int) -> str:
    fields = {**base, **changes}
    width = max(map(len, fields))
    return "\n".join(["vm shadow {", "  vmcs {", *(f"    {k.ljust(width)} = {v:#x}" for k, v in fields.items()),
                      "  }", "}", ""])


#: Another VM whose EPT PD at 0x8300_2000 holds two 2 MiB leaves (PD[0] = 0x11_0000_00b7 and, at
#: offset 0x80, PD[16] = 0x11_0200_00b7), and whose MSR bitmap at 0x8300_5000 starts with the word 4
#: (MSR 2 read-intercepted): skylake_server's VMCS revision identifier.
OTHER_VM = """
vm other {
  ept {
    tables in 0x8300_0000 .. 0x8310_0000
    map 0x0 .. 0x20_0000 -> 0x11_0000_0000 rwx wb
    map 0x200_0000 .. 0x220_0000 -> 0x11_0200_0000 rwx wb
  }

  vmcs {
    proc  = activate_secondary_controls | use_msr_bitmaps
    proc2 = enable_ept
    MSR_BITMAP = 0x8300_5000
    msr_bitmap intercept read { 0x2 }
  }
}
"""
#: One IOMMU unit whose second-level PML4 at 0x8600_2000 starts with 0x8600_3003 (a table, RW).
IOMMU = """
iommu dmar0 {
  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
  tables in 0x8600_0000 .. 0x8610_0000
  root at 0x8600_0000
  device 0000:01:00.0 -> domain 1 {
    map 0x0 .. 0x1000 -> 0x40_0000_0000 rw
  }
}
"""
_TPR_SHADOW = G.BASE_VMCS["CPU_BASED_VM_EXEC_CONTROL"] | 1 << 21
#: (id, spec, the rules VM entry fails on the machine): each read lands on another structure.
VMENTRY_CASES = [
    # MSR-load entry 1 is other's PD[0]: index 0xb7, bits 63:32 = 0x11 (the checker: proved)
    ("msr-load-area-on-another-vms-ept", _vmcs(G.BASE_VMCS, VM_ENTRY_MSR_LOAD_COUNT=1,
                                                VM_ENTRY_MSR_LOAD_ADDR=0x8300_2000) + OTHER_VM, {"MSRLOAD-RSVD"}),
    # PDPTE0 is the IOMMU's SL PML4E 0x8600_3003, bit 1 reserved; one VM alone (the checker: proved)
    ("pdptes-on-the-iommu-tables", _vmcs(G.PAE_VMCS, GUEST_CR3=0x8600_2000) + IOMMU, {"GUEST-PDPTE-RSVD"}),
    # the linked VMCS's header is other's MSR bitmap word 4: the revision id (the checker: GUEST-LINK-REVISION)
    ("link-pointer-on-another-vms-bitmap", _vmcs(G.BASE_VMCS, VMCS_LINK_POINTER=0x8300_5000) + OTHER_VM, set()),
    # VTPR is the low byte of other's PD[16], 0xb7: 0xb >= threshold 1 (the checker: CTL-TPR-VTPR)
    ("vtpr-on-another-vms-ept", _vmcs(G.BASE_VMCS, CPU_BASED_VM_EXEC_CONTROL=_TPR_SHADOW, TPR_THRESHOLD=1,
                                      VIRTUAL_APIC_PAGE_ADDR=0x8300_2000) + OTHER_VM, set()),
]


def _entry_world(body: str) -> GeneratedSpec:
    text = "platform skylake_server\n\n" + body
    vms = ("shadow", "other") if "vm other" in text else ("shadow",)
    return GeneratedSpec(text, {}, vms).with_claims([Claim("vmentry_valid(shadow)", "vmentry_valid", ("shadow",))])


@pytest.mark.parametrize(("spec", "rules"), [c[1:] for c in VMENTRY_CASES], ids=[c[0] for c in VMENTRY_CASES])
def test_the_machine_reads_other_structures_at_vm_entry(spec: str, rules: set[str]) -> None:
    """What the oracle says of each small spec: what the words of the other structure make VM entry do."""
    assert {v.rule.id for v in Oracle(_entry_world(spec)).entry("shadow").violations} == rules


@pytest.mark.parametrize("spec", [c[1] for c in VMENTRY_CASES], ids=[c[0] for c in VMENTRY_CASES])
def test_vmentry_valid_reads_other_structures(spec: str) -> None:
    assert disagreements(_entry_world(spec)) == []


#: v1's PML4[0] points at v0's PDPT (walked as v1's PDPT), and the low word of dmar0's context entry
#: for 01:00.0 (at 0x8600_5000; domain 1 and AW 2 stay in its high word) at v1's EPT root instead of
#: the unit's own second-level PML4: the raw_entries.vmx idiom, for a VM that is not the first.
CROSSED_TABLES = """platform skylake_server

vm v0 {
  ram 0x0 .. 0x4000_0000 at 0x10_0000_0000
  ept {
    tables in 0x8000_0000 .. 0x8010_0000
    map 0x0 .. 0x20_0000 -> 0x10_0000_0000 rwx wb
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
}

vm v1 {
  ram 0x0 .. 0x4000_0000 at 0x11_0000_0000
  ept {
    tables in 0x8300_0000 .. 0x8310_0000
    map 0x0 .. 0x20_0000 -> 0x11_0000_0000 rwx wb
    entry at 0x8300_0000 = 0x8000_1007
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
  devices { 0000:01:00.0 }
}

iommu dmar0 {
  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
  tables in 0x8600_0000 .. 0x8610_0000
  root at 0x8600_0000
  device 0000:01:00.0 -> domain 1 {
    map 0x0 .. 0x1000 -> 0x11_0000_0000 rw
  }
  entry at 0x8600_5000 = 0x8300_0001
}
"""


def test_walks_into_another_vms_tables_agree() -> None:
    """v1 reaches v0's RAM through v0's PDPT (so the two are not isolated), and v1's device reaches
    v0's first 2 MiB too, walking v1's EPT as second-level tables into v0's PD (its 2 MiB leaf is a
    valid second-level leaf): both sides say so, and that no entry on the way is invalid."""
    world = GeneratedSpec(CROSSED_TABLES, {}, ("v0", "v1"), (), {"v0": (), "v1": (0x0100,)}, (), True).with_claims([
        Claim("isolated(v0, v1)", "isolated", ("v0", "v1")), Claim("dma_isolated(dmar0)", "dma_isolated"),
        Claim("no_misconfig(v1.ept)", "no_misconfig_ept", ("v1",)),
        Claim("no_misconfig(dmar0)", "no_misconfig_iommu")])
    oracle = Oracle(world)
    assert [oracle.verdict(c) for c in world.claims.values()] == [Verdict.VIOLATED, Verdict.VIOLATED,
                                                                  Verdict.PROVED, Verdict.PROVED]
    assert disagreements(world) == []


#: The first VM's raw EPT entry is written over dmar0's context entry for 01:00.0 (at 0x8600_4000,
#: built as 0x8600_1001: second-level tables, present), making it 0x9: pass-through, present.
RAW_OVER_THE_IOMMU = """platform skylake_server
{before}
vm v {{
  ram 0x0 .. 0x4000_0000 at 0x10_0000_0000
  ept {{
    tables in 0x8000_0000 .. 0x8010_0000
    map 0x0 .. 0x20_0000 -> 0x10_0000_0000 rwx wb
    entry at 0x8600_4000 = 0x9
  }}
  vmcs {{
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }}
  devices {{ 0000:01:00.0 }}
}}

iommu dmar0 {{
  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
  tables in 0x8600_0000 .. 0x8610_0000
  root at 0x8600_0000
  device 0000:01:00.0 -> domain 1 uses v.ept
}}

prove dma_isolated(dmar0)
"""
ANOTHER_VM_FIRST = """
vm w {
  ram 0x0 .. 0x4000_0000 at 0x11_0000_0000
  ept {
    tables in 0x8300_0000 .. 0x8310_0000
    map 0x0 .. 0x20_0000 -> 0x11_0000_0000 rwx wb
  }
  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
}
"""


def test_a_raw_entry_over_another_structure_does_not_depend_on_the_order_of_the_vms(tmp_path: Path) -> None:
    """Found while writing raw entries into other structures' words (not only pointing at them):
    the builder used to write the IOMMU's tables over the first VM's raw entry, so dma_isolated was
    proved on a state the spec does not describe, while with another VM declared first the same
    spec was an error. A word two structures disagree on is now a layout error whatever the order
    (the oracle, too, calls such specs unlayable and the generators leave them out)."""
    verdicts = []
    for name, before in (("first", ""), ("second", ANOTHER_VM_FIRST)):
        path = tmp_path / f"{name}.vmx"
        path.write_text(RAW_OVER_THE_IOMMU.format(before=before))
        report = check_spec(str(path), CheckOptions(timeout_ms=20_000), bundle_dir=str(tmp_path / "bundles"))
        verdicts.append(report.results[0].verdict)
    assert verdicts[0] is verdicts[1] and verdicts[0] is not Verdict.PROVED, verdicts
