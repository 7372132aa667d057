"""``isolated(A, B)``: A and B reach disjoint host-physical memory, except where the spec declares
it shared by both, and there only with the rights it declares.

A and B are VMs or ``hypervisor``. What a VM reaches is every host-physical byte some
guest-physical address translates to through the VM's EPT with *any* permission: a read, a write,
an instruction fetch, or (with mode-based execute control on) a user-mode fetch; an entry whose
rights, ANDed over the walk, allow none of these reaches nothing. What ``hypervisor`` reaches is
its ``memory`` regions, exactly as declared: the paging structures and bitmap pages are hypervisor
memory when the spec puts them in those regions (docs/language.md asks for that), and are
otherwise not part of this property (``dma_isolated`` and ``protects`` cover them). Devices are
``dma_isolated``'s business. A VM without an EPT, or whose VMCS does not enable EPT, runs on shadow
paging, which vmxspec does not model: unknown.

A ``shared`` region that lists both A and B as parties excuses their reaching the same bytes in it,
because sharing them is the point (a virtio ring, a page of clock data). It does not excuse more
than it says: a VM side that reaches such a region with a right beyond those declared for it there
(writing a region it may only read, say) is a violation, whether or not the other side maps the same
page, since the declaration is the contract isolation is proved against. The hypervisor's own
accesses are not translated, so its rights are recorded but not checked. A region that does not
list both A and B excuses nothing between them.

Decided by interval sweeps over both sides' host ranges, with the shared regions cut out; a
violation replays as an ``ept`` question on a VM side whose translation lands in the overlap, or,
for rights beyond the declared ones, asks for exactly that access (a write, say) and expects it to
land in the shared region. With ``--explain`` a proof lists the statements it read: what makes both
sides' translations (the VMs' ``map`` lines, raw entries and EPT settings; the hypervisor's
``memory`` lines) and the shared regions that excused an overlap, with the two parties' lines.
"""

from __future__ import annotations

from vmxspec.check.results import Outcome
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.no_misconfig import decide
from vmxspec.sema.expressions import EntityKind, EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_ept import isolation
from vmxspec.symbolic.reach.open_values import Needs

SUMMARY = "two VMs, or a VM and the hypervisor, reach disjoint host-physical memory outside declared shared regions"


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
