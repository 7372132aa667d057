"""Decisions over EPT interval maps: ``no_misconfig(VM.ept)``, ``isolated(A, B)``, ``protects(R)``.

Each reads the VMs' EPTs through ``World.ept`` (one traversal per VM) and decides by a sweep over
host-physical intervals; a violation comes with an ``ept`` question at a guest-physical address
that shows it, for the reference interpreter to replay, and a proof names the statements it read
(``explain``).

Rights are compared as EPT permission bits (R, W, X = bits 0, 1, 2, the bits ``sema.model``'s
READ, WRITE, EXECUTE use): what a run grants is the AND over its walk, with bit 10 (XU) counting
as execute when mode-based execute control is on, and as a *possible* execute when the VMCS does
not say whether it is (then a rights question that hinges on it is unknown, never proved).
"""

from __future__ import annotations

from vmxspec.arch import ept as A
from vmxspec.build.from_model import state_document
from vmxspec.diagnostics import Span as Source
from vmxspec.sema.model import HYPERVISOR, SharedRegion, rights_text
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
    in_order,
    plural,
    undecided,
    violated,
)
from vmxspec.symbolic.reach.explain import ept_lines, hypervisor_lines, shared_lines
from vmxspec.symbolic.reach.sweep import Hit, Span, first_overlap, outside
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
    platform = world.model.platform
    read = ept_lines(world, vm) + ([platform.span] if platform is not None else [])
    return holds(f"every entry reachable from {vm}'s EPT pointer {ept.eptp:#x} is well formed "
                 f"({plural(len(ept.tables), 'table')}, {plural(len(ept.runs), 'run')} of pages)",
                 depends_on=in_order(read), tables=len(ept.tables), runs=len(ept.runs))


# -- what a VM reaches -----------------------------------------------------------------------------

#: The rights an ``ept`` question can ask about, in the order a counterexample prefers them.
ALL_RIGHTS = A.R | A.W | A.X
_PREFERRED = (A.W, A.X, A.R)


def run_rights(run: EptRun, mbec: bool | None) -> tuple[int, int]:
    """``(granted, possible)``: the R/W/X rights the run grants, and an execute right it grants only
    if mode-based execute control is on, when the VMCS does not say whether it is (bit 10 alone)."""
    granted = run.perms & ALL_RIGHTS
    if run.perms & A.XU and not granted & A.X:
        if mbec:
            granted |= A.X
        elif mbec is None:
            return granted, A.X
    return granted, 0


def vm_reach(world: World, vm: str) -> tuple[list[Span[EptRun]], str]:
    """The host ranges ``vm`` reaches through its EPT with any access, and why that set may be
    incomplete ("" when it is exact). Raises WorldError for an EPT pointer VM entry rejects."""
    return reach_with(world, vm, 0)


def reach_with(world: World, vm: str, rights: int) -> tuple[list[Span[EptRun]], str]:
    """The host ranges ``vm`` reaches with one of ``rights`` (0: with any access at all), and why
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
    pending = f"{vm}'s VMCS does not say whether mode-based execute control is on, and entries with only bit 10 " \
              "(user execute) decide what it reaches"
    if rights:
        spans, unsure = [], False
        for r in ept.runs:
            granted, possible = run_rights(r, ept.mbec)
            if granted & rights:
                spans.append(Span(r.hpa, r.hpa_end, r))
            elif possible & rights:
                unsure = True
        unsure = unsure or (bool(rights & A.X) and bool(ept.undetermined))
        return spans, pending if unsure else ""
    spans = [Span(r.hpa, r.hpa_end, r) for r in ept.runs if ept.accessible(r)]
    unsure = any(ept.accessible(r) is None for r in ept.runs) or bool(ept.undetermined)
    return spans, pending if unsure else ""


def _gpa(run: EptRun, hpa: int) -> int:
    return run.start + hpa - run.hpa


def _side_text(world: World, vm: str, run: EptRun, hpa: int) -> str:
    ept = world.ept(vm)
    assert ept is not None
    gpa = _gpa(run, hpa)
    return (f"GPA {addr(gpa)} of {vm} reaches HPA {addr(hpa)} ({ept_rights(run.perms, ept.mbec)}) through "
            f"{ept_page(run, gpa)} (walk: {_path(world, vm, ept, gpa)})")


def _right_name(right: int) -> str:
    return {A.R: "read", A.W: "write", A.X: "execute"}[right]


# -- isolated(A, B) ----------------------------------------------------------------------------------

def isolation(world: World, a: str | None, b: str | None) -> Decision:
    """``a`` and ``b`` are VM names, None for ``hypervisor``.

    They must reach disjoint host memory, except inside the regions the spec declares shared with
    both as parties; there each VM side must reach only with the rights declared for it (the
    hypervisor's accesses are not translated, so its rights are not checked). Overlap outside those
    regions is reported first, then rights beyond the declared ones, each at its lowest address.
    """
    if a == b:
        raise WorldError(f"isolated compares two different parties; both are {a or HYPERVISOR}")
    if a is None:
        a, b = b, a
    assert a is not None
    party_b = b or HYPERVISOR
    shared = [r for r in world.model.shared if r.shared_by(a, party_b)]
    excused = [(r.start, r.end) for r in shared]
    reach_a, why_a = vm_reach(world, a)
    other: list[Span[EptRun | Owned]]
    if b is None:
        other = [Span(o.start, o.end, o) for o in world.hypervisor()]
        why_b = ""
    else:
        reach_b, why_b = vm_reach(world, b)
        other = [Span(s.start, s.end, s.tag) for s in reach_b]
    hit = first_overlap(outside(reach_a, excused), other)
    if hit is not None:
        return _overlap(world, a, b, hit, shared)
    sides = [a] if b is None else [a, b]
    unsure = ""
    for side in sides:
        found, maybe = _beyond_rights(world, side, shared)
        if found is not None:
            return found
        unsure = unsure or maybe
    if why_a or why_b or unsure:
        return undecided("not modelled", why_a or why_b or unsure)
    read = ept_lines(world, a) + (hypervisor_lines(world.model) if b is None else ept_lines(world, b))
    used = [r for r in shared if first_overlap(outside(reach_a, _complement(r)), other) is not None]
    for r in used:
        read += shared_lines(r, (a, party_b))
    if b is None:
        what = (f"{a} reaches {plural(len(reach_a), 'host range')}, none in the hypervisor's "
                f"{plural(len(other), 'region')}")
    else:
        what = (f"{a} and {b} reach disjoint host memory ({plural(len(reach_a), 'host range')} and "
                f"{plural(len(other), 'host range')})")
    if used:
        names = ", ".join(f"'{r.name}'" for r in used)
        what += (f" except in {plural(len(used), 'region')} declared shared ({names}), where "
                 f"{'it keeps' if b is None else 'each keeps'} to its declared rights")
    elif shared:
        what += f", and {'it keeps' if b is None else 'each keeps'} to its rights in the shared regions"
    return holds(what, depends_on=in_order(read))


def _complement(region: SharedRegion) -> list[tuple[int, int]]:
    """Everything but ``region`` (so that ``outside`` keeps just what lies in it)."""
    return [(0, region.start), (region.end, 1 << 64)]


def _overlap(world: World, a: str, b: str | None, hit: Hit[EptRun, EptRun | Owned],
             shared: list[SharedRegion]) -> Decision:
    run = hit.left
    ept = world.ept(a)
    assert ept is not None
    excused = ""
    if shared:
        excused = (" It lies outside every region declared shared by both ("
                   + ", ".join(r.describe() for r in shared) + ").")
    if b is None:
        region = hit.right
        assert isinstance(region, Owned)
        text = (f"{_side_text(world, a, run, hit.start)}, which is {region.name}: host-physical "
                f"{addr(hit.start)} .. {addr(hit.end)} is reachable from both.{excused}")
        message = f"{a} reaches hypervisor memory: HPA {addr(hit.start)} .. {addr(hit.end)}"
    else:
        right = hit.right
        assert isinstance(right, EptRun)
        text = (f"{_side_text(world, a, run, hit.start)}; {_side_text(world, b, right, hit.start)}. "
                f"Host-physical {addr(hit.start)} .. {addr(hit.end)} is reachable from both.{excused}")
        message = f"{a} and {b} share host memory: HPA {addr(hit.start)} .. {addr(hit.end)}"
    evidence = ept_evidence(world.ept_source(a), ept, run, _gpa(run, hit.start), hit.start, hit.end, text)
    return violated(message, evidence)


def _beyond_rights(world: World, vm: str, shared: list[SharedRegion]) -> tuple[Decision | None, str]:
    """The lowest host address of a shared region that ``vm`` reaches with a right it was not given
    there (as a violation), or why that cannot be decided ("" when it can)."""
    best: tuple[Hit[EptRun, SharedRegion], int] | None = None
    unsure = ""
    for region in shared:
        allowed = region.parties[vm].rights
        if not ALL_RIGHTS & ~allowed:
            continue  # every right is declared: nothing to exceed
        beyond, why = reach_with(world, vm, ALL_RIGHTS & ~allowed)
        unsure = unsure or (why if first_overlap(*_pending(world, vm, allowed, region)) is not None else "")
        hit = first_overlap(beyond, [Span(region.start, region.end, region)])
        if hit is not None and (best is None or hit.start < best[0].start):
            ept = world.ept(vm)
            assert ept is not None
            granted = run_rights(hit.left, ept.mbec)[0] & ~allowed
            best = (hit, next(r for r in _PREFERRED if granted & r))
    if best is None:
        return None, unsure
    hit, right = best
    run, region = hit.left, hit.right
    ept = world.ept(vm)
    assert ept is not None
    gpa = _gpa(run, hit.start)
    declared = rights_text(region.parties[vm].rights)
    text = (f"{_side_text(world, vm, run, hit.start)}. HPA {addr(hit.start)} .. {addr(hit.end)} is in the "
            f"{region.describe()}, where {vm} may only {_may(declared)} ('{vm} {declared}'): "
            f"{'an' if right == A.X else 'a'} {_right_name(right)} access there is beyond what is declared.")
    evidence = ept_evidence(world.ept_source(vm), ept, run, gpa, hit.start, hit.end, text, right=right)
    return violated(f"{vm} can {_right_name(right)} the shared region '{region.name}' at HPA {addr(hit.start)} .. "
                    f"{addr(hit.end)}, beyond its declared rights ({declared})", evidence), ""


def _may(letters: str) -> str:
    words = {"r": "read", "w": "write", "x": "execute"}
    names = [words[c] for c in letters]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _pending(world: World, vm: str, allowed: int, region: SharedRegion) -> tuple[list[Span[EptRun]],
                                                                                  list[Span[SharedRegion]]]:
    """The runs of ``vm`` that would exceed ``allowed`` only if mode-based execute control were on
    (the VMCS does not say), against ``region``: the arguments of an overlap test."""
    ept = world.ept(vm)
    runs = [] if ept is None else [Span(r.hpa, r.hpa_end, r) for r in ept.runs
                                   if run_rights(r, ept.mbec)[1] & ~allowed]
    return runs, [Span(region.start, region.end, region)]


# -- protects(REGION) -------------------------------------------------------------------------------

def protection(world: World, regions: list[Owned], rights: int = A.W, read: tuple[Source, ...] = ()) -> Decision:
    """No VM's EPT grants any of ``rights`` (EPT permission bits; a write by default) to any of
    ``regions``. ``read`` are the statements that define the regions (for ``depends_on``)."""
    spans: list[Span[tuple[str, EptRun]]] = []
    pending = ""
    for vm in world.model.vms:
        reach, why = reach_with(world, vm, rights)
        spans.extend(Span(s.start, s.end, (vm, s.tag)) for s in reach)
        pending = pending or why
    hit = first_overlap(spans, [Span(o.start, o.end, o) for o in regions])
    forbidden = rights_text(rights)
    if hit is not None:
        (vm, run), region = hit.left, hit.right
        ept = world.ept(vm)
        assert ept is not None
        right = next(r for r in _PREFERRED if run_rights(run, ept.mbec)[0] & rights & r)
        gpa = _gpa(run, hit.start)
        word = _right_name(right)
        text = (f"GPA {addr(gpa)} of {vm} translates, with {word} permission, to HPA {addr(hit.start)} through "
                f"{ept_page(run, gpa)} (walk: {_path(world, vm, ept, gpa)}; the rights ANDed over the walk are "
                f"{ept_rights(run.perms, ept.mbec)}), inside the protected {region.name}: {vm} can {word} "
                f"{addr(hit.start)} .. {addr(hit.end)}.")
        evidence = ept_evidence(world.ept_source(vm), ept, run, gpa, hit.start, hit.end, text, right=right)
        return violated(f"{vm} can {word} HPA {addr(hit.start)} .. {addr(hit.end)} ({region.name})", evidence)
    if pending:
        return undecided("not modelled", pending)
    lines = list(read)
    for vm in world.model.vms:
        lines += ept_lines(world, vm)
    granting = "write access" if rights == A.W else f"any of the rights {forbidden}"
    return holds(f"no EPT of {plural(len(world.model.vms), 'VM')} grants {granting} to the protected region "
                 f"({plural(len(spans), 'host range')} with {'that' if rights == A.W else 'one of them'} checked)",
                 depends_on=in_order(lines))
