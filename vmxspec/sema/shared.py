"""``shared NAME A .. B { party rights ... }``: host memory that several parties may all reach.

Without it, ``isolated(A, B)`` demands that A and B reach disjoint host memory, which rules out a
virtio ring or a page of paravirtual clock data that two VMs (or a VM and the hypervisor) share on
purpose. A ``shared`` region says where that is meant and with which rights, so the proof excuses
exactly that and still holds each party to what was declared.

Checked here: the region is a host-physical range of whole 4 KiB pages (EPT grants rights per page,
so a region that ends inside a page could not be honoured) below 2^MAXPHYADDR; two regions do not
overlap (which rights would apply there?); every party is a VM of the spec or ``hypervisor``, listed
once, with a word of rights made of r, w and x. A region with fewer than two parties shares nothing
and gets a warning.
"""

from __future__ import annotations

from vmxspec.arch import ept as ept_facts
from vmxspec.sema import names as N
from vmxspec.sema.context import Context
from vmxspec.sema.model import HYPERVISOR, SharedParty, SharedRegion
from vmxspec.sema.reporter import note
from vmxspec.syntax import ast

_PAGE = ept_facts.PAGE_4K


def resolve_shared(nodes: list[ast.Shared], ctx: Context) -> tuple[SharedRegion, ...]:
    """The regions that resolve, by start address; each is also recorded in ``ctx.shared``."""
    found: list[tuple[SharedRegion, ast.Shared]] = []
    for node in nodes:
        region = _region(node, ctx)
        if region is not None:
            found.append((region, node))
            ctx.shared[region.name] = region
    found.sort(key=lambda f: (f[0].start, f[0].end))
    _overlaps(found, ctx)
    return tuple(region for region, _ in found)


def _region(node: ast.Shared, ctx: Context) -> SharedRegion | None:
    name = node.name.name
    what = f"the shared region '{name}'"
    bounds = ctx.consts.range(node.range, what)
    if bounds is not None:
        start, end = bounds
        for value, edge in ((start, node.range.low), (end, node.range.high)):
            if value % _PAGE:
                ctx.report("sema-alignment", f"{what} must cover whole 4 KiB pages (EPT grants rights per page): "
                           f"{value:#x} is not a multiple of 0x1000", edge.span)
                bounds = None
                break
    if bounds is not None and not ctx.host_range(bounds[0], bounds[1], node.range.span, what):
        bounds = None
    parties = _parties(node, ctx)
    if bounds is None or parties is None:
        return None
    return SharedRegion(name, bounds[0], bounds[1], parties, span=node.span)


def _parties(node: ast.Shared, ctx: Context) -> dict[str, SharedParty] | None:
    """The parties by name, or None when one of them is wrong (each problem is reported)."""
    region = node.name.name
    out: dict[str, SharedParty] = {}
    seen: dict[str, ast.Party] = {}
    ok = True
    for party in node.parties:
        who = party.party.name
        if who in seen:
            ctx.reporter.report("sema-shared-party", f"'{who}' is listed twice in the shared region '{region}'",
                                party.party.span, note("first listed here", seen[who].party.span))
            ok = False
            continue
        seen[who] = party
        if not _is_party(party.party, ctx):
            ok = False
        rights = N.rights(party.rights.name)
        if rights is None:
            ctx.report("sema-access", f"'{party.rights.name}' is not a set of access rights: "
                       f"{N.rights_problem(party.rights.name)}", party.rights.span)
            ok = False
            continue
        out[who] = SharedParty(who, rights, span=party.span)
    if len(seen) < 2:
        alone = f"only one party ('{next(iter(seen))}')" if seen else "no parties"
        ctx.report("sema-shared-alone", f"the shared region '{region}' has {alone}: it is shared with no one, so "
                   "it excuses no overlap (list every VM, or 'hypervisor', that may reach it)", node.name.span)
    return out if ok else None


def _is_party(name: ast.Name, ctx: Context) -> bool:
    """A VM of the spec or ``hypervisor``; anything else is reported."""
    word = name.name
    if word == HYPERVISOR or word in ctx.vm_nodes:
        return True
    kind = ("an IOMMU" if word in ctx.iommu_nodes else "a nested block" if word in ctx.nested_nodes
            else "a shared region" if word in ctx.shared_nodes else None)
    if kind is not None:
        ctx.report("sema-shared-party", f"'{word}' is {kind}: the parties of a shared region are VMs and "
                   "'hypervisor' (what devices reach is dma_isolated's business)", name.span)
    else:
        ctx.report("sema-unknown-name", f"unknown VM '{word}'{N.suggest(word, [*ctx.vm_nodes, HYPERVISOR])}",
                   name.span)
    return False


def _overlaps(regions: list[tuple[SharedRegion, ast.Shared]], ctx: Context) -> None:
    """Report each region that overlaps one declared at a lower address (``regions`` sorted)."""
    furthest: tuple[SharedRegion, ast.Shared] | None = None
    for region, node in regions:
        if furthest is not None and region.start < furthest[0].end:
            other, where = furthest
            ctx.reporter.report("sema-shared-overlap", f"the shared region '{region.name}' ({region.start:#x} .. "
                                f"{region.end:#x}) overlaps '{other.name}' ({other.start:#x} .. {other.end:#x}): "
                                "which parties and rights apply there would be ambiguous", node.range.span,
                                note(f"'{other.name}' is declared here", where.range.span))
        if furthest is None or region.end > furthest[0].end:
            furthest = (region, node)
