"""``protects(REGION)``: no guest can write the host region (a range, or ``hypervisor``).

No guest-physical address of any VM translates into the region through that VM's EPT with write
permission (bit 1 set in every entry of the walk; a write also needs bit 0, since write without
read is a misconfiguration, so a writable translation is a readable one). Reading is allowed: use
``isolated(VM, hypervisor)`` for that. Devices are ``dma_isolated``'s business. A VM without an EPT,
or whose VMCS does not enable EPT, runs on shadow paging, which vmxspec does not model: unknown
(unless another VM already writes the region).

Decided by one interval sweep of every VM's writable host ranges against the region; a violation
replays as an ``ept`` write question whose translation lands in the region.
"""

from __future__ import annotations

from vmxspec.check.results import Outcome
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.no_misconfig import decide
from vmxspec.sema.expressions import EntityKind, EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_ept import protection
from vmxspec.symbolic.reach.open_values import Needs
from vmxspec.symbolic.reach.world import Owned, World

SUMMARY = "no guest can write the host region through its EPT"


@register("protects", SUMMARY, __doc__ or SUMMARY)
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    target = proof.args[0]
    assert isinstance(target, EntityRef)

    def regions(world: World) -> list[Owned]:
        if target.kind is EntityKind.HYPERVISOR or target.region is None:
            return world.hypervisor()
        return [Owned(s, e, "region", "", f"region {s:#_x} .. {e:#_x}") for s, e in target.region]

    needs = Needs(frozenset({"ept", "vmcs-ept"}), None, iommu=True)
    return decide(ctx, needs, lambda world: protection(world, regions(world)))
