"""Decisions over EPT interval maps: ``no_misconfig(VM.ept)``, ``isolated(A, B)``, ``protects(R)``.

Each reads the VMs' EPTs through ``World.ept`` (one traversal per VM) and decides by a sweep over
host-physical intervals; a violation comes with an ``ept`` question at a guest-physical address
that shows it, for the reference interpreter to replay.
"""

from __future__ import annotations

from vmxspec.arch import ept as A
from vmxspec.build.from_model import state_document
from vmxspec.symbolic.reach.ept import EptMap, EptRun, walk_path
from vmxspec.symbolic.reach.evidence import (
    Decision,
    Evidence,
    addr,
    ept_evidence,
    ept_page,
    ept_rights,
    hexs,
    holds,
    plural,
    undecided,
    violated,
)
from vmxspec.symbolic.reach.sweep import Span, first_overlap
from vmxspec.symbolic.reach.world import Owned, World, WorldError, ept_in_use

SHADOW = "shadow paging is not modelled"


def _ept(world: World, vm: str) -> EptMap | None:
    found = world.ept(vm)
    if found is not None and found.eptp_problems:
        raise WorldError(f"{vm}'s EPT_POINTER {found.eptp:#x} would fail VM entry ({'; '.join(found.eptp_problems)}),"
                         " so no EPT walk uses it (vmentry_valid reports it)")
    return found


def _path(world: World, vm: str, ept: EptMap, gpa: int) -> str:
    memory = world.ept_source(vm).state.memory
    steps = walk_path(memory, ept.eptp, world.maxphyaddr, gpa, ept.levels)
    return " -> ".join(f"{A.LEVEL_NAMES[level]} at {addr(entry)}" for level, entry, _ in steps)


# -- no_misconfig(VM.ept) ----------------------------------------------------------------------------

def no_misconfig_ept(world: World, vm: str) -> Decision:
    ept = _ept(world, vm)
    if ept is None:
        return holds(f"{vm} has no EPT pointer: no EPT walk happens")
    if ept.findings:
        f = min(ept.findings, key=lambda x: x.start)
        name = A.LEVEL_NAMES[f.level]
        why = "; ".join(text for _, text in f.problems)
        others = sorted({x.entry for x in ept.findings} - {f.entry})
        more = (f" {len(others)} more misconfigured entr{'y' if len(others) == 1 else 'ies'} are reachable, at "
                + ", ".join(addr(a) for a in others[:4]) + (" ..." if len(others) > 4 else "") + ".") if others else ""
        explanation = (f"GPA {addr(f.start)} of {vm}: the EPT walk ({_path(world, vm, ept, f.start)}) reaches the "
                       f"{name} at {addr(f.entry)} = {f.value:#x}, which is misconfigured: {why} (SDM \"EPT "
                       f"Misconfigurations\"). Every access to GPA {addr(f.start)} .. {addr(f.end)} causes an EPT "
                       f"misconfiguration (VM exit, basic reason 49) instead of reaching memory.{more}")
        query: dict[str, object] = {"kind": "ept", "gpa": hexs(f.start), "access": "read"}
        expect: dict[str, object] = {"match": {"result": "ept_misconfig", "entry": hexs(f.entry), "level": f.level,
                                               "rule": f.rule}}
        evidence = Evidence(state_document(world.ept_source(vm)), query, expect, explanation)
        return violated(f"the {name} at {addr(f.entry)} of {vm}'s EPT is misconfigured [{f.rule}]", evidence)
    if ept.undetermined:
        u = ept.undetermined[0]
        return undecided("mode-based execute control unknown",
                         f"the {A.LEVEL_NAMES[u.level]} at {addr(u.entry)} = {u.value:#x} has only bit 10 (XU) set: it "
                         f"is present only with mode-based execute control, which {vm}'s VMCS does not set or clear")
    return holds(f"every entry reachable from {vm}'s EPT pointer {ept.eptp:#x} is well formed "
                 f"({plural(len(ept.tables), 'table')}, {plural(len(ept.runs), 'run')} of pages)",
                 tables=len(ept.tables), runs=len(ept.runs))


# -- what a VM reaches -----------------------------------------------------------------------------

def vm_reach(world: World, vm: str, *, write: bool = False) -> tuple[list[Span[EptRun]], str]:
    """The host ranges ``vm`` reaches through its EPT (only by writes, with ``write``), and why
    that set may be incomplete ("" when it is exact). Raises WorldError for an EPT pointer VM entry
    rejects."""
    model_vm = world.model.vms[vm]
    if model_vm.ept is None:
        return [], f"{vm} has no EPT: what it reaches depends on shadow page tables ({SHADOW})"
    if ept_in_use(world.vm_state(vm).state.vmcs) is False:
        return [], f"{vm}'s VMCS does not enable EPT, so its guest-physical addresses are not translated by it " \
                   f"({SHADOW})"
    ept = _ept(world, vm)
    if ept is None:
        return [], ""
    if write:
        return [Span(r.hpa, r.hpa_end, r) for r in ept.runs if r.perms & A.W and ept.accessible(r)], ""
    spans = [Span(r.hpa, r.hpa_end, r) for r in ept.runs if ept.accessible(r)]
    pending = any(ept.accessible(r) is None for r in ept.runs) or ept.undetermined
    why = f"{vm}'s VMCS does not say whether mode-based execute control is on, and entries with only bit 10 " \
          "(user execute) decide what it reaches" if pending else ""
    return spans, why


def _gpa(run: EptRun, hpa: int) -> int:
    return run.start + hpa - run.hpa


def _side_text(world: World, vm: str, run: EptRun, hpa: int) -> str:
    ept = world.ept(vm)
    assert ept is not None
    gpa = _gpa(run, hpa)
    return (f"GPA {addr(gpa)} of {vm} reaches HPA {addr(hpa)} ({ept_rights(run.perms, ept.mbec)}) through "
            f"{ept_page(run, gpa)} (walk: {_path(world, vm, ept, gpa)})")


# -- isolated(A, B) ----------------------------------------------------------------------------------

def isolation(world: World, a: str | None, b: str | None) -> Decision:
    """``a`` and ``b`` are VM names, None for ``hypervisor``."""
    if a == b:
        raise WorldError(f"isolated compares two different parties; both are {a or 'hypervisor'}")
    if a is None:
        a, b = b, a
    assert a is not None
    reach_a, why_a = vm_reach(world, a)
    if b is None:
        regions = world.hypervisor()
        hit_h = first_overlap(reach_a, [Span(o.start, o.end, o) for o in regions])
        if hit_h is not None:
            run, region = hit_h.left, hit_h.right
            ept = world.ept(a)
            assert ept is not None
            text = (f"{_side_text(world, a, run, hit_h.start)}, which is {region.name}: host-physical "
                    f"{addr(hit_h.start)} .. {addr(hit_h.end)} is reachable from both.")
            evidence = ept_evidence(world.ept_source(a), ept, run, _gpa(run, hit_h.start), hit_h.start, hit_h.end,
                                    text)
            return violated(f"{a} reaches hypervisor memory: HPA {addr(hit_h.start)} .. {addr(hit_h.end)}", evidence)
        if why_a:
            return undecided("not modelled", why_a)
        return holds(f"{a} reaches {plural(len(reach_a), 'host range')}, none in the hypervisor's "
                     f"{plural(len(regions), 'region')}")
    reach_b, why_b = vm_reach(world, b)
    hit = first_overlap(reach_a, reach_b)
    if hit is not None:
        ept = world.ept(a)
        assert ept is not None
        text = (f"{_side_text(world, a, hit.left, hit.start)}; {_side_text(world, b, hit.right, hit.start)}. "
                f"Host-physical {addr(hit.start)} .. {addr(hit.end)} is reachable from both.")
        evidence = ept_evidence(world.ept_source(a), ept, hit.left, _gpa(hit.left, hit.start), hit.start, hit.end,
                                text)
        return violated(f"{a} and {b} share host memory: HPA {addr(hit.start)} .. {addr(hit.end)}", evidence)
    if why_a or why_b:
        return undecided("not modelled", why_a or why_b)
    return holds(f"{a} and {b} reach disjoint host memory ({plural(len(reach_a), 'host range')} and "
                 f"{plural(len(reach_b), 'host range')})")


# -- protects(REGION) -------------------------------------------------------------------------------

def protection(world: World, regions: list[Owned]) -> Decision:
    """No VM's EPT grants write access to any of ``regions``."""
    spans: list[Span[tuple[str, EptRun]]] = []
    pending = ""
    for vm in world.model.vms:
        reach, why = vm_reach(world, vm, write=True)
        spans.extend(Span(s.start, s.end, (vm, s.tag)) for s in reach)
        pending = pending or why
    hit = first_overlap(spans, [Span(o.start, o.end, o) for o in regions])
    if hit is not None:
        (vm, run), region = hit.left, hit.right
        ept = world.ept(vm)
        assert ept is not None
        gpa = _gpa(run, hit.start)
        text = (f"GPA {addr(gpa)} of {vm} translates, with write permission, to HPA {addr(hit.start)} through "
                f"{ept_page(run, gpa)} (walk: {_path(world, vm, ept, gpa)}; the rights ANDed over the walk are "
                f"{ept_rights(run.perms, ept.mbec)}), inside the protected {region.name}: {vm} can write "
                f"{addr(hit.start)} .. {addr(hit.end)}.")
        evidence = ept_evidence(world.ept_source(vm), ept, run, gpa, hit.start, hit.end, text, write=True)
        return violated(f"{vm} can write HPA {addr(hit.start)} .. {addr(hit.end)} ({region.name})", evidence)
    if pending:
        return undecided("not modelled", pending)
    return holds(f"no EPT of {plural(len(world.model.vms), 'VM')} grants write access to the protected region "
                 f"({plural(len(spans), 'writable host range')} checked)")
