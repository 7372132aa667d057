"""``isolated(A, B)``: the host-physical memory A reaches and the memory B reaches are disjoint.

A and B are VMs or ``hypervisor``. What a VM reaches is every host-physical byte some
guest-physical address translates to through the VM's EPT with *any* permission: a read, a write,
an instruction fetch, or (with mode-based execute control on) a user-mode fetch; an entry whose
rights, ANDed over the walk, allow none of these reaches nothing. What ``hypervisor`` reaches is
its ``memory`` regions, exactly as declared: the paging structures and bitmap pages are hypervisor
memory when the spec puts them in those regions (docs/language.md asks for that), and are
otherwise not part of this property (``dma_isolated`` and ``protects`` cover them). Devices are
``dma_isolated``'s business. A VM without an EPT, or whose VMCS does not enable EPT, runs on shadow
paging, which vmxspec does not model: unknown.

Decided by one interval sweep over both sides' host ranges; a violation replays as an ``ept``
question on A (or on the VM side) whose translation lands in the shared range.
"""

from __future__ import annotations

from vmxspec.check.results import Outcome
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.no_misconfig import decide
from vmxspec.sema.expressions import EntityKind, EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_ept import isolation
from vmxspec.symbolic.reach.open_values import Needs

SUMMARY = "two VMs, or a VM and the hypervisor, reach disjoint host-physical memory"


@register("isolated", SUMMARY, __doc__ or SUMMARY)
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    sides: list[str | None] = []
    for arg in proof.args:
        assert isinstance(arg, EntityRef)
        sides.append(arg.name if arg.kind is EntityKind.VM else None)
    a, b = sides
    needs = Needs(frozenset({"ept", "vmcs-ept"}), frozenset(s for s in sides if s is not None), iommu=True)
    return decide(ctx, needs, lambda world: isolation(world, a, b))
