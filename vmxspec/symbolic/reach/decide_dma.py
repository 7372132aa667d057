"""Decisions over VT-d interval maps: ``no_misconfig(IOMMU)`` and ``dma_isolated(IOMMU)``.

``dma_isolated`` gives every device behind the unit an owner: the VM whose ``devices`` list names
it, else the host (a device no VM owns). A device may then reach, through any request it can make
(without PASID, with each PASID its context allows, and translated ATS requests when the context
accepts them), only

* for a VM's device: that VM's RAM;
* for a host device: memory that is no VM's RAM;

and no device may reach hypervisor memory, a paging structure (an EPT of any VM, or the VT-d
tables of any unit, its own first: a device that can write its own tables can map anything) or a
page a VMCS field points to (bitmaps, the shadow VMCS, the EPTP list, the PML log, the
posted-interrupt descriptor). Each is one interval sweep per device. Then the devices that cannot
be isolated from each other, those of one declared IOMMU group and those sharing a domain id, must
have one owner (a device no VM owns that reaches nothing, like a blocked function of an assigned
device, owns nothing), and so must a device named by two VMs. A device in pass-through is caught by
the first rule (its DMA addresses are host addresses); the message says so.
"""

from __future__ import annotations

from typing import NamedTuple

from vmxspec.arch import vtd as V
from vmxspec.arch.rules import BY_ID
from vmxspec.arch.rules.vtd import FAULT_OF
from vmxspec.build.from_model import state_document
from vmxspec.symbolic.reach.evidence import (
    Decision,
    Evidence,
    addr,
    dma_page,
    dma_query,
    dma_rights,
    hexs,
    holds,
    in_order,
    plural,
    undecided,
    violated,
)
from vmxspec.symbolic.reach.explain import ownership_lines, unit_lines
from vmxspec.symbolic.reach.sweep import Span, first_outside, first_overlap
from vmxspec.symbolic.reach.vtd import INTR_END, INTR_START, DeviceMap, DmaRun, Translation, source_id_text
from vmxspec.symbolic.reach.world import Owned, World

HOST = "the host"


# -- no_misconfig(IOMMU) ----------------------------------------------------------------------------

def no_misconfig_vtd(world: World, name: str) -> Decision:
    unit = world.unit(name)
    seen: set[tuple[str, int]] = set()
    findings = []
    for f in unit.findings:
        if (f.rule, f.entry) not in seen:
            seen.add((f.rule, f.entry))
            findings.append(f)
    if findings:
        f = findings[0]
        r = f.request
        fault = FAULT_OF.get(f.rule) or 0
        where = f"{f.what} = {f.value:#x}" if f.what == "RTADDR_REG" else f"{f.what} at {addr(f.entry)} = {f.value:#x}"
        pasid = f" with PASID {r.pasid:#x}" if r.pasid is not None else ""
        more = (f" {len(findings) - 1} more: " + ", ".join(f"{g.what} [{g.rule}]" for g in findings[1:4])
                + (" ..." if len(findings) > 4 else "") + ".") if len(findings) > 1 else ""
        explanation = (f"The {where} of {name}: {f.why} (VT-d \"{BY_ID[f.rule].section}\"). A {r.access} request "
                       f"from {source_id_text(unit.segment, r.sid)} at IOVA {addr(r.iova)}{pasid} reaches it and "
                       f"faults with reason {fault:#x} ({V.fault_name(fault)}).{more}")
        query = dma_query(unit.segment, r.sid, r.iova, r.access, r.pasid)
        evidence = Evidence(state_document(world.union()), query, {"match": {"result": "fault", "rule": f.rule}},
                            explanation)
        return violated(f"the {f.what} of {name} is invalid [{f.rule}]", evidence)
    unmodelled = [u for d in unit.devices.values() for u in d.unmodelled]
    if unmodelled:
        return undecided("not modelled", f"{name} uses {unmodelled[0]}, which vmxspec does not read yet")
    platform = world.model.platform
    read = unit_lines(world, name) + ([platform.span] if platform is not None else [])
    return holds(f"every root, context, PASID and second-level entry a request can reach through {name} is valid "
                 f"({plural(len(unit.devices), 'device')}, {plural(len(unit.tables), 'table')})",
                 depends_on=in_order(read), devices=len(unit.devices), tables=len(unit.tables))


# -- dma_isolated(IOMMU) ----------------------------------------------------------------------------

class Via(NamedTuple):
    """How a device reaches a host range: a translation's run (``pasid`` None for requests without
    PASID), or ``run`` None for translated (ATS) requests."""

    pasid: int | None
    run: DmaRun | None
    translation: Translation | None


def device_reach(device: DeviceMap) -> list[Span[Via]]:
    spans = [Span(r.hpa, r.hpa_end, Via(pasid, r, t)) for pasid, t in device.translations() for r in t.runs]
    if device.ats:
        spans += [Span(0, INTR_START, Via(None, None, None)), Span(INTR_END, 1 << 64, Via(None, None, None))]
    return spans


class _Context:
    """What dma_isolated compares devices with, computed once per unit."""

    def __init__(self, world: World, name: str) -> None:
        model = world.model
        self.world = world
        self.name = name
        self.unit = world.unit(name)
        self.owners: dict[int, list[str]] = {}
        for vm in model.vms.values():
            for d in vm.devices:
                if d.bdf.segment == self.unit.segment and self.unit.remaps(d.bdf.source_id):
                    self.owners.setdefault(d.bdf.source_id, []).append(vm.name)
        self.rams = {vm: world.ram(vm) for vm in model.vms}
        others = [t for other in model.iommus if other != name for t in world.vtd_tables(other)]
        self.categories: list[list[Owned]] = [
            world.vtd_tables(name),
            [t for vm in model.vms for t in world.ept_tables(vm)] + others,
            [s for vm in model.vms for s in world.structures(vm)],
            world.hypervisor(),
        ]
        self.reach = {sid: device_reach(d) for sid, d in self.unit.devices.items()}

    def bdf(self, sid: int) -> str:
        return source_id_text(self.unit.segment, sid)

    def who(self, sid: int) -> str:
        mine = self.owners.get(sid, [])
        return f"assigned to {' and '.join(mine)}" if mine else "assigned to no VM"

    def describe(self, hpa: int, owner: str | None) -> str:
        for category in self.categories:
            for o in category:
                if o.start <= hpa < o.end:
                    return o.name
        for ram in self.rams.values():
            for o in ram:
                if o.start <= hpa < o.end:
                    return o.name
        return "host memory that is no VM's RAM" + (f" (not {owner}'s)" if owner else "")

    def evidence(self, sid: int, lo: int, hi: int, via: Via, what: str, lead: str = "") -> Evidence:
        unit = self.unit
        if via.run is None:
            iova, access, pasid, at = lo, "write", None, "translated"
            how = ("translated requests (ATS) are accepted (the context entry has TT = 01b, or DTE = 1 in scalable "
                   "mode) and their addresses are host-physical: the unit does not translate them again")
        else:
            run = via.run
            iova, pasid, at = run.start + lo - run.hpa, via.pasid, "untranslated"
            access = "write" if run.perms & 2 else "read"
            assert via.translation is not None
            kind = via.translation.kind
            entry = f"the context entry at {addr(self.unit.devices[sid].context_entry)}"
            if pasid is not None or via.translation.entry != self.unit.devices[sid].context_entry:
                entry = f"the PASID-table entry at {addr(via.translation.entry)}"
            if kind == "pass-through":
                how = (f"{entry} selects pass-through, so DMA addresses are host-physical (a device assigned to a VM "
                       "must never be in pass-through)")
            else:
                how = f"{entry} (domain {via.translation.did}) translates it through {dma_page(run, iova)}"
            how += f"; the walk grants {dma_rights(run.perms)}"
        with_pasid = f" with PASID {pasid:#x}" if pasid is not None else ""
        ats = " translated" if at == "translated" else ""
        text = (f"{lead}{self.bdf(sid)} ({self.who(sid)}) reaches HPA {addr(lo)} with a{ats} {access} request at "
                f"{'address' if at == 'translated' else 'IOVA'} {addr(iova)}{with_pasid}: {how}. HPA {addr(lo)} .. "
                f"{addr(hi)} is {what}.")
        query = dma_query(unit.segment, sid, iova, access, pasid, at)
        return Evidence(state_document(self.world.union()), query,
                        {"match": {"result": "ok"}, "hpa_in": [[hexs(lo), hexs(hi)]]}, text)

    def device(self, sid: int) -> Decision | None:
        """The first thing device ``sid`` reaches that it must not."""
        mine = self.owners.get(sid, [])
        owner = mine[0] if len(mine) == 1 else None
        spans = self.reach[sid]
        categories = list(self.categories)
        if owner is None:
            categories.append([o for ram in self.rams.values() for o in ram])
        for category in categories:
            hit = first_overlap(spans, [Span(o.start, o.end, o) for o in category])
            if hit is not None:
                return self.violation(sid, hit.start, hit.end, hit.left, hit.right.name)
        if owner is not None:
            out = first_outside(spans, [(o.start, o.end) for o in self.rams[owner]])
            if out is not None:
                return self.violation(sid, out.start, out.end, out.left, self.describe(out.start, owner))
        return None

    def violation(self, sid: int, lo: int, hi: int, via: Via, what: str) -> Decision:
        evidence = self.evidence(sid, lo, hi, via, what)
        return violated(f"{self.bdf(sid)} ({self.who(sid)}) can DMA to HPA {addr(lo)}: {what}", evidence)

    def owners_of(self, sid: int) -> set[str]:
        mine = self.owners.get(sid)
        if mine:
            return set(mine)
        return {HOST} if self.reach.get(sid) else set()

    def shared(self, members: list[int], label: str) -> Decision | None:
        """Devices that cannot be isolated from each other must have one owner."""
        owned = {sid: self.owners_of(sid) for sid in members}
        everyone = set().union(*owned.values())
        if len(everyone) <= 1:
            return None
        names = ", ".join(f"{self.bdf(s)} ({self.who(s)})" for s in members if owned[s])
        lead = (f"{label} has {len(everyone)} owners ({names}); devices that cannot be isolated from each other "
                "must have one, since what one of them reaches the others can reach too (peer-to-peer requests "
                "between them never pass through the IOMMU, and one domain is one set of tables). ")
        for d2 in members:
            for o2 in sorted(owned[d2]):
                for o1 in sorted(everyone - {o2}):
                    spans = self.reach.get(d2, [])
                    if o1 == HOST:
                        hit = first_overlap(spans, [Span(o.start, o.end, o) for ram in self.rams.values()
                                                    for o in ram])
                        found = None if hit is None else (hit.start, hit.end, hit.left, hit.right.name)
                    else:
                        out = first_outside(spans, [(o.start, o.end) for o in self.rams[o1]])
                        found = None if out is None else (out.start, out.end, out.left,
                                                          self.describe(out.start, o1))
                    if found is not None:
                        lo, hi, via, what = found
                        evidence = self.evidence(d2, lo, hi, via, f"{what}, which {o1} must not reach", lead)
                        return violated(f"{label} has several owners ({', '.join(sorted(everyone))})", evidence)
        # Nothing reached yet: the state still shows what each member's requests do.
        sid = next(s for s in members if owned[s])
        return violated(f"{label} has several owners ({', '.join(sorted(everyone))})", self.plain(sid, lead))

    def plain(self, sid: int, lead: str) -> Evidence:
        """Evidence of what an untranslated request of ``sid`` does, for a structural violation."""
        device = self.unit.devices.get(sid)
        runs = device.plain.runs if device is not None and device.plain is not None else []
        if runs:
            run = runs[0]
            return self.evidence(sid, run.hpa, run.hpa_end, Via(None, run, device.plain if device else None),
                                 self.describe(run.hpa, None), lead)
        result = "blocked" if self.unit.blocked == "DMA-ABORT-MODE" else "fault"
        text = f"{lead}{self.bdf(sid)}'s requests without PASID are refused ({result}) for now."
        return Evidence(state_document(self.world.union()), dma_query(self.unit.segment, sid, 0, "read"),
                        {"match": {"result": result}}, text)


def dma_isolation(world: World, name: str) -> Decision:
    ctx = _Context(world, name)
    unit = ctx.unit
    for sid in sorted(unit.devices):
        found = ctx.device(sid)
        if found is not None:
            return found
    groups = [([b.source_id for b in g if b.segment == unit.segment and unit.remaps(b.source_id)],
               "IOMMU group {" + ", ".join(str(b) for b in g) + "}") for g in world.model.iommus[name].groups]
    by_did: dict[int, list[int]] = {}
    for sid, device in sorted(unit.devices.items()):
        for did in device.domain_ids():
            by_did.setdefault(did, []).append(sid)
    groups += [(sids, f"domain {did}") for did, sids in sorted(by_did.items()) if len(sids) > 1]
    groups += [([sid], f"{ctx.bdf(sid)}") for sid, vms in sorted(ctx.owners.items()) if len(vms) > 1]
    for members, label in groups:
        found = ctx.shared(members, label)
        if found is not None:
            return found
    unmodelled = [u for d in unit.devices.values() for u in d.unmodelled]
    if unmodelled:
        return undecided("not modelled", f"a device behind {name} uses {unmodelled[0]}, which vmxspec does not "
                         "read yet")
    reaching = sum(1 for spans in ctx.reach.values() if spans)
    read = unit_lines(world, name) + ownership_lines(world.model)
    return holds(f"{plural(len(unit.devices), 'device')} behind {name} with a context entry, {reaching} reaching "
                 "memory, each only its owner's", depends_on=in_order(read), devices=len(unit.devices))
