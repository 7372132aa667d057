"""``dma_isolated(IOMMU)``: every device behind the unit reaches only its owner's memory.

A device's owner is the VM whose ``devices`` list names it, else the host. Through every request it
can make (untranslated without PASID, with each PASID its context allows, and translated ATS
requests when the context accepts them, whose addresses the unit does not translate again) a VM's
device reaches only that VM's RAM (its ``ram`` lines), and a host device no VM's RAM; no device
reaches hypervisor memory, a paging structure (any VM's EPT tables or any unit's VT-d tables, as
the traversals found them), or a page a VMCS field points to (MSR, I/O, VMREAD and VMWRITE bitmaps,
the shadow VMCS, the EPTP list, the PML log, the posted-interrupt descriptor). Devices of one
declared IOMMU group, devices sharing a domain id, and a device two VMs name, have one owner (a
device no VM owns that reaches nothing owns nothing). Pass-through for an assigned device shows as
its DMA reaching memory that is not its VM's. Requests to 0xFEEx_xxxx are interrupts, not DMA.

Decided by one interval sweep per device and category; a violation replays as a ``dma`` question
whose translation lands in memory the device must not reach. With ``--explain`` a proof lists what
it compared: the unit's registers, root, groups, device and domain lines, raw entries and its
domains' tables (their own maps, or the maps of the VM a domain ``uses``), and the ownership: every
VM's devices and RAM, where each VM's and unit's paging structures go, and the hypervisor's memory.
(``shared`` regions do not change it: they are between VMs and the hypervisor, not devices.)
"""

from __future__ import annotations

from vmxspec.check.results import Outcome
from vmxspec.properties import PropertyContext, register
from vmxspec.properties.no_misconfig import decide
from vmxspec.sema.expressions import EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_dma import dma_isolation
from vmxspec.symbolic.reach.open_values import Needs

SUMMARY = "every device reaches through VT-d only memory of the VM it is assigned to"


@register("dma_isolated", SUMMARY, __doc__ or SUMMARY)
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    target = proof.args[0]
    assert isinstance(target, EntityRef)
    name = target.name
    needs = Needs(frozenset({"ram", "ept", "vmcs-ept", "vmcs-structure"}), None, iommu=True)
    return decide(ctx, needs, lambda world: dma_isolation(world, name))
