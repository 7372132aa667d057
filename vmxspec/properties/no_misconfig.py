"""``no_misconfig(X)``: no entry reachable from X's root is misconfigured or has a reserved bit set.

X is a VM's EPT (SDM "EPT Misconfigurations": write without read, execute-only without the
capability, reserved bits at any level including the bits at or above MAXPHYADDR, a large page the
processor does not offer, a misaligned large-page frame, a reserved memory type) or an IOMMU
(every root, context, PASID-directory, PASID-table and second-level entry some request reaches,
against CAP_REG and ECAP_REG: reserved bits, an AW that SAGAW does not report, a translation type
or PGTT the unit lacks, a RID_PASID beyond the PASID directory, and an invalid RTADDR_REG). An
entry is *reachable* when some access a processor or device can make reads it: a present entry
whose walk starts below 2^min(MAXPHYADDR, 48 or 57) for EPT; for VT-d an entry a request of a
device in the unit's scope gets to, past the permission checks of the entries above it.

Decided on the concrete tables by a whole-table traversal (``vmxspec.symbolic.reach``); a
violation replays as an ``ept`` question answered "ept_misconfig" at that entry, or a ``dma``
question that faults with the rule of that entry. With ``--explain`` a proof lists the statements
that define the entries it read: for an EPT the ``map`` lines that produced them, the raw entries
in its tables, ``root at``, the VMCS settings that say how the EPT is walked, and the platform
(whose capabilities decide what is misconfigured); for a unit its registers, root, device and
domain lines, raw entries and its domains' tables.
"""

from __future__ import annotations

from collections.abc import Callable

from vmxspec.check.results import Counterexample, Outcome, Verdict, unique_lines
from vmxspec.properties import PropertyContext, register
from vmxspec.sema.expressions import EntityKind, EntityRef
from vmxspec.sema.model import PropertyProof
from vmxspec.symbolic.reach.decide_dma import no_misconfig_vtd
from vmxspec.symbolic.reach.decide_ept import no_misconfig_ept
from vmxspec.symbolic.reach.evidence import Decision, decide_all
from vmxspec.symbolic.reach.open_values import Needs
from vmxspec.symbolic.reach.world import World

SUMMARY = "no reachable EPT or VT-d entry is misconfigured or carries reserved bits"


def decide(ctx: PropertyContext, needs: Needs, fn: Callable[[World], Decision]) -> Outcome:
    """Run a reach decision over every relevant choice of open values, as the checker's outcome
    (shared by the translation properties). A proof carries the lines it depended on when
    ``--explain`` asks for them, each once: the traversals name statements, and several of them
    can share a line (a ``group { ... }`` and the device in it, say)."""
    decision = decide_all(ctx.model, needs, fn, timeout_ms=ctx.options.timeout_ms, rlimit=ctx.options.rlimit)
    e = decision.evidence
    cex = None if e is None else Counterexample(e.state, e.query, e.expect, e.explanation, e.open_values)
    verdict = Verdict(decision.verdict)
    depends_on = unique_lines(decision.depends_on) if ctx.options.explain and verdict is Verdict.PROVED else ()
    return Outcome(verdict, decision.message, cex, reason=decision.reason, depends_on=depends_on,
                   details=decision.details)


@register("no_misconfig", SUMMARY, __doc__ or SUMMARY)
def check(ctx: PropertyContext) -> Outcome:
    proof = ctx.proof
    assert isinstance(proof, PropertyProof)
    target = proof.args[0]
    assert isinstance(target, EntityRef)
    name = target.name
    if target.kind is EntityKind.IOMMU:
        needs = Needs(frozenset({"ept", "vmcs-structure"}), None, iommu=True)
        return decide(ctx, needs, lambda world: no_misconfig_vtd(world, name))
    needs = Needs(frozenset({"ept", "vmcs-ept"}), frozenset({name}), iommu=True)
    return decide(ctx, needs, lambda world: no_misconfig_ept(world, name))
