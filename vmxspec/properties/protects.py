"""``protects(REGION)``, ``protects(REGION, RIGHTS)``: no guest can access the host region so.

REGION is a host range, a ``shared`` region by name, or ``hypervisor``. Without RIGHTS the claim is
that no guest can *write* it: no guest-physical address of any VM translates into the region
through that VM's EPT with write permission (bit 1 set in every entry of the walk; a write also
needs bit 0, since write without read is a misconfiguration, so a writable translation is a
readable one). RIGHTS, letters of r, w and x, forbids each access it names instead: ``rw`` forbids
reading as well, ``x`` forbids executing (any instruction fetch: bit 2, or bit 10 for user-mode
fetches when mode-based execute control is on). Rights a VM has elsewhere do not matter, and
``shared`` declarations do not change this claim: it is about the region, whoever is declared to
share it. Devices are ``dma_isolated``'s business. A VM without an EPT, or whose VMCS does not
enable EPT, runs on shadow paging, which vmxspec does not model: unknown (unless another VM already
has a forbidden access).

Decided by one interval sweep of every VM's host ranges that grant a forbidden right against the
region; a violation replays as an ``ept`` question asking for that access (a write, a read, a
fetch) whose translation lands in the region. With ``--explain`` a proof lists what makes every
VM's translations (``map`` lines, raw entries, EPT settings: any of them could point into the
region) and the statements that define the region.
"""

from __future__ import annotations

from vmxspec.arch import ept as A
from vmxspec.check.results import Outcome
from vmxspec.diagnostics import Span
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.no_misconfig import decide
from vmxspec.sema.expressions import Const, EntityKind, EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_ept import protection
from vmxspec.symbolic.reach.open_values import Needs
from vmxspec.symbolic.reach.world import Owned, World

SUMMARY = "no guest can write (or access as the claim says) the host region through its EPT"


@register("protects", SUMMARY, __doc__ or SUMMARY)
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    target = proof.args[0]
    assert isinstance(target, EntityRef)
    rights = A.W
    if len(proof.args) > 1:
        given = proof.args[1]
        assert isinstance(given, Const)
        rights = given.value
    shared = next((r for r in ctx.model.shared if r.name == target.name), None)

    def regions(world: World) -> list[Owned]:
        if target.kind is EntityKind.HYPERVISOR or target.region is None:
            return world.hypervisor()
        if shared is not None:
            return [Owned(shared.start, shared.end, "region", "", shared.describe())]
        return [Owned(s, e, "region", "", f"region {s:#_x} .. {e:#_x}") for s, e in target.region]

    if target.kind is EntityKind.HYPERVISOR:
        defined: tuple[Span, ...] = tuple(r.span for r in ctx.model.hypervisor)
    else:
        defined = (shared.span,) if shared is not None else ()
    needs = Needs(frozenset({"ept", "vmcs-ept"}), None, iommu=True)
    return decide(ctx, needs, lambda world: protection(world, regions(world), rights, defined))
