"""Isolation checking on a generated host, against building its tables and a naive baseline.

The host (issue 5): 16 VMs whose EPTs map 1,000,000 4-KiB pages in all (62,500 each, pinned to
4 KiB so that every one is a PTE), 64 devices behind one VT-d unit, four per VM in one IOMMU group
and one domain that ``uses`` the VM's EPT (the builder mirrors it with the largest second-level
pages that fit), and hypervisor memory holding every table. The spec is generated as text and
goes through sema, the builders and the properties exactly as ``vmxspec check`` runs them.

Figures, on one core:

* **build**: laying out the concrete tables with ``vmxspec.build`` (every VM's state, the IOMMU's,
  and the one memory the IOMMU reads);
* **check**: ``no_misconfig`` of every EPT and of the IOMMU, ``isolated`` for every pair of VMs and
  every VM against the hypervisor (136 proofs), and ``dma_isolated``: the whole-table traversals
  plus the interval sweeps, on the states already built. Also the same isolation as one sweep over
  all VMs and the hypervisor at once;
* **ratio** check / build (goal: at most 2);
* **naive baseline**: every mapped page walked through the reference interpreter (``translate_gpa``
  for each 4 KiB page of each VM, ``translate_dma`` for each 4 KiB page of each device's domain).
  It is timed on a sample of pages and extrapolated to all of them, and it only looks where the
  mappings are (a real baseline would also have to cover the unmapped guest-physical space).

Run alone with ``python -m benchmarks.bench_isolation [--quick]``.
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Figure
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.interp.ept import translate_gpa
from vmxspec.interp.vtd import translate_dma
from vmxspec.properties import PropertyContext, load_all
from vmxspec.sema import analyze
from vmxspec.sema.model import Model, PropertyProof
from vmxspec.symbolic.reach.open_values import Needs
from vmxspec.symbolic.reach.sweep import Labelled, first_conflict
from vmxspec.symbolic.reach.world import World, worlds

VMS = 16
DEVICES_PER_VM = 4
HOST_BASE = 0x10_0000_0000
HOST_STRIDE = 0x1000_0000  # 256 MiB of host memory per VM
TABLES_BASE = 0x8000_0000
TABLES_STRIDE = 0x10_0000  # 1 MiB of tables per VM: 62,500 PTEs need 123 page tables


def generate(pages_per_vm: int) -> str:
    """The spec text of the host."""
    size = pages_per_vm * 4096
    out = ["platform skylake_server", "", "hypervisor {", "  memory 0x0 .. 0x1_0000_0000", "}", ""]
    for i in range(VMS):
        host = HOST_BASE + i * HOST_STRIDE
        tables = TABLES_BASE + i * TABLES_STRIDE
        devices = ", ".join(f"0000:{i + 1:02x}:{d:02x}.0" for d in range(DEVICES_PER_VM))
        out += [f"vm vm{i} {{", f"  ram 0x0 .. {size:#x} at {host:#x}", "  ept {",
                f"    tables in {tables:#x} .. {tables + TABLES_STRIDE:#x}",
                f"    map 0x0 .. {size:#x} -> {host:#x} rwx wb page 4K", "  }",
                "  vmcs {", "    proc  = activate_secondary_controls", "    proc2 = enable_ept | enable_vpid", "  }",
                f"  devices {{ {devices} }}", "}", ""]
    out += ["iommu dmar0 {", "  cap  = 0x00d2_008c_4066_0462", "  ecap = 0x00f0_50da",
            "  tables in 0x9000_0000 .. 0x9100_0000"]
    for i in range(VMS):
        for d in range(DEVICES_PER_VM):
            translation = f" uses vm{i}.ept" if d == 0 else ""
            out.append(f"  device 0000:{i + 1:02x}:{d:02x}.0 -> domain {i + 1}{translation}")
        out.append("  group { " + ", ".join(f"0000:{i + 1:02x}:{d:02x}.0" for d in range(DEVICES_PER_VM)) + " }")
    out += ["}", ""]
    for i in range(VMS):
        out.append(f"prove no_misconfig(vm{i}.ept)")
        out.append(f"prove isolated(vm{i}, hypervisor)")
        out += [f"prove isolated(vm{i}, vm{j})" for j in range(i + 1, VMS)]
    out += ["prove no_misconfig(dmar0)", "prove dma_isolated(dmar0)", ""]
    return "\n".join(out)


def load(text: str) -> Model:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "host.vmx"
        path.write_text(text)
        model, diagnostics = analyze(path)
    if model is None:
        raise RuntimeError("\n".join(d.headline() for d in diagnostics))
    return model


def build(model: Model) -> World:
    """Every concrete table the checks read (what the properties would otherwise build first)."""
    _, each = worlds(model, Needs(frozenset()))
    world, _ = next(each)
    for name in model.vms:
        world.vm_state(name)
    world.union()
    return world


def check(model: Model) -> int:
    """Every proof of the spec through the registered properties; returns how many were proved."""
    properties = load_all()
    proved = 0
    for proof in model.proofs:
        assert isinstance(proof, PropertyProof)
        outcome = properties[proof.property].check(PropertyContext(model, proof, CheckOptions(), {}))
        if outcome.verdict is not Verdict.PROVED:
            raise RuntimeError(f"{proof.property}: {outcome.verdict.value}: {outcome.message}")
        proved += 1
    return proved


def one_sweep(world: World) -> None:
    """Every VM against every other and the hypervisor, in one sweep."""
    spans: list[Labelled[str, object]] = [Labelled(o.start, o.end, "hypervisor", o) for o in world.hypervisor()]
    for name in world.model.vms:
        ept = world.ept(name)
        assert ept is not None
        spans += [Labelled(r.hpa, r.hpa_end, name, r) for r in ept.reachable()]
    if first_conflict(spans) is not None:
        raise RuntimeError("the generated host is not isolated")


def naive(world: World, pages_per_vm: int, sample: int) -> float:
    """Seconds the interpreter would take to walk every mapped page (EPT and DMA), from a sample."""
    rng = random.Random(5)
    vm_names = list(world.model.vms)
    states = {n: world.vm_state(n).state for n in vm_names}
    started = time.perf_counter()
    for _ in range(sample):
        name = rng.choice(vm_names)
        translate_gpa(states[name], rng.randrange(pages_per_vm) * 4096, "read")
    ept_rate = (time.perf_counter() - started) / sample
    union = world.union().state
    started = time.perf_counter()
    for _ in range(sample):
        bus = rng.randrange(VMS) + 1
        translate_dma(union, bus << 8 | rng.randrange(DEVICES_PER_VM) << 3, rng.randrange(pages_per_vm) * 4096,
                      "write")
    dma_rate = (time.perf_counter() - started) / sample
    return ept_rate * VMS * pages_per_vm + dma_rate * VMS * DEVICES_PER_VM * pages_per_vm


def run(quick: bool = False) -> list[Figure]:
    pages = 2_000 if quick else 62_500
    model = load(generate(pages))
    total = VMS * pages
    started = time.perf_counter()
    world = build(model)
    built = time.perf_counter() - started
    started = time.perf_counter()
    proofs = check(model)
    checked = time.perf_counter() - started
    started = time.perf_counter()
    one_sweep(world)
    swept = time.perf_counter() - started
    baseline = naive(world, pages, 500 if quick else 5_000)
    what = f"{VMS} VMs, {VMS * DEVICES_PER_VM} devices, {total:,} 4 KiB EPT mappings"
    return [
        Figure(f"isolation: build the concrete tables ({what})", built, "s", higher_is_better=False),
        Figure(f"isolation: check {proofs} proofs (no_misconfig x17, isolated x136, dma_isolated)", checked, "s",
               higher_is_better=False),
        Figure("isolation: all VMs and the hypervisor in one sweep (after the traversals)", swept, "s",
               higher_is_better=False),
        Figure("isolation: check time / build time", checked / built, "x", target=2.0, higher_is_better=False),
        Figure("isolation: naive baseline, every mapped page through the interpreter (extrapolated from a sample)",
               baseline, "s", higher_is_better=False),
        Figure("isolation: naive baseline / check time", baseline / checked, "x"),
    ]


if __name__ == "__main__":
    for figure in run("--quick" in sys.argv):
        print(f"{figure.name}: {figure.value:,.3f} {figure.unit}")
