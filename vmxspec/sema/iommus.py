"""``iommu NAME { }``: one DMA-remapping unit's registers, devices, domains, groups and tables.

A domain's translation is given once, either on the ``domain N ...`` line or on a ``device ... ->
domain N ...`` line; giving it twice differently is a conflict, and a domain that devices use but
that has no translation is incomplete. ``uses VM.ept`` names a VM whose EPT the domain follows (see
``vmxspec.build.from_model`` for what that means for the VT-d tables).
"""

from __future__ import annotations

from vmxspec.arch import vtd as vtd_facts
from vmxspec.diagnostics import Span
from vmxspec.sema import names as N
from vmxspec.sema.context import Context
from vmxspec.sema.model import Attachment, Bdf, IommuDomain, IommuUnit, OwnTables, Passthrough, Translation, UsesEpt
from vmxspec.sema.paging import PagingResolver, resolve_paging
from vmxspec.sema.reporter import note
from vmxspec.sema.vms import bdf
from vmxspec.syntax import ast

_SETTING_WIDTHS = {"cap": 64, "ecap": 64, "haw": 8, "segment": 16}


class IommuResolver:
    def __init__(self, node: ast.Iommu, ctx: Context) -> None:
        self.node = node
        self.ctx = ctx
        self.name = node.name.name
        self.settings: dict[str, tuple[int, ast.Setting]] = {}
        self.attachments: dict[Bdf, Attachment] = {}
        self.domains: dict[int, IommuDomain] = {}
        self.groups: list[tuple[Bdf, ...]] = []
        self.group_spans: list[Span] = []
        self.grouped: dict[Bdf, ast.Bdf] = {}
        #: Domains whose translation was given but could not be resolved (already reported).
        self.broken: set[int] = set()
        self.tables = PagingResolver(ctx, where=f"iommu {self.name}", vtd=True, page_sizes=None, input_limit=None)

    def run(self) -> IommuUnit:
        for item in self.node.items:
            if isinstance(item, ast.Setting):
                self.setting(item)
        for item in self.node.items:
            if isinstance(item, ast.DeviceAssignment):
                self.device(item)
            elif isinstance(item, ast.Domain):
                self.domain(item.domain, item.translation)
            elif isinstance(item, ast.Group):
                self.group(item)
            elif isinstance(item, ast.RawEntry | ast.Root | ast.Tables):
                self.tables.add(item)
        for a in self.attachments.values():
            if a.did not in self.domains and a.did not in self.broken:
                self.ctx.report("sema-incomplete", f"domain {a.did} has no translation: add 'uses VM.ept', "
                                "'passthrough' or '{ map ... }' to a 'domain' or 'device' line", a.span)
        paging = self.tables.finish(self.node.span)
        get = self.settings.get
        return IommuUnit(self.name, _v(get("cap")), _v(get("ecap")), _v(get("haw")), _v(get("segment")) or 0,
                         tuple(self.attachments.values()), self.domains, tuple(self.groups), paging.entries,
                         paging.root, paging.tables, tuple(s.span for _, s in self.settings.values()),
                         tuple(self.group_spans), paging.root_span, span=self.node.span)

    def setting(self, item: ast.Setting) -> None:
        target = item.target
        if not isinstance(target, ast.Name) or target.name not in _SETTING_WIDTHS:
            shown = target.name if isinstance(target, ast.Name) else "this"
            self.ctx.report("sema-unknown-name", f"'{shown}' is not an IOMMU setting (they are "
                            f"{', '.join(N.IOMMU_SETTINGS)})"
                            f"{N.suggest(target.name, N.IOMMU_SETTINGS) if isinstance(target, ast.Name) else ''}",
                            target.span)
            return
        if item.op is not ast.AssignOp.SET:
            self.ctx.report("sema-type", f"set {target.name} with '=' (its whole value)", item.span)
            return
        value = self.ctx.consts.number(item.value, target.name, N.VTD_BITS.get(target.name),
                                       _SETTING_WIDTHS[target.name])
        if value is None:
            return
        if target.name == "haw" and not 32 <= value <= 52:
            self.ctx.report("sema-width", f"haw (the host address width) is 32-52, not {value}", item.value.span)
            return
        old = self.settings.get(target.name)
        if old is not None:
            code = "sema-redundant" if old[0] == value else "sema-conflict"
            self.ctx.reporter.report(code, f"{target.name} is set twice" + ("" if old[0] == value else
                                     " to different values"), item.span, note("first set here", old[1].span))
            return
        self.settings[target.name] = (value, item)

    def device(self, item: ast.DeviceAssignment) -> None:
        b = bdf(item.device)
        segment = _v(self.settings.get("segment")) or 0
        if item.device.segment is not None and item.device.segment != segment:
            self.ctx.report("sema-conflict", f"device {b} is on segment {item.device.segment:#06x}, but {self.name} "
                            f"remaps segment {segment:#06x}", item.device.span)
            return
        did = self.ctx.consts.number(item.domain, "a domain id", width=16)
        if did is None:
            return
        old = self.attachments.get(b)
        if old is not None:
            same = old.did == did
            self.ctx.reporter.report("sema-redundant" if same else "sema-conflict",
                                     f"device {b} is attached twice" + ("" if same else f" (to domains {old.did} and "
                                                                                        f"{did})"),
                                     item.device.span, note("first attached here", old.span))
            return
        self.attachments[b] = Attachment(b, did, span=item.span)
        if item.translation is not None:
            self.domain(item.domain, item.translation)

    def domain(self, number: ast.Number, translation: ast.Translation) -> None:
        did = self.ctx.consts.number(number, "a domain id", width=16)
        if did is None:
            return
        resolved = self.translation(translation, did)
        if resolved is None:
            self.broken.add(did)
            return
        old = self.domains.get(did)
        if old is not None:
            same = old.translation == resolved
            self.ctx.reporter.report("sema-redundant" if same else "sema-conflict",
                                     f"domain {did}'s translation is given twice" + ("" if same else " differently"),
                                     translation.span, note("first given here", old.translation.span))
            return
        self.domains[did] = IommuDomain(did, resolved, span=number.span.cover(translation.span))

    def translation(self, node: ast.Translation, did: int) -> Translation | None:
        if isinstance(node, ast.Passthrough):
            return Passthrough(span=node.span)
        if isinstance(node, ast.Uses):
            return self.uses(node)
        for item in node.items:
            if isinstance(item, ast.Tables | ast.Root):
                self.ctx.report("sema-type", f"an IOMMU's tables are placed in the iommu block ('tables in', "
                                f"'root at'), not in domain {did}", item.span)
                return None
        cap = _v(self.settings.get("cap"))
        paging = resolve_paging(node.items, node.span, self.ctx, where=f"{self.name} domain {did}", vtd=True,
                                page_sizes=_sl_page_sizes(cap), input_limit=_input_limit(cap))
        return OwnTables(paging, span=node.span)

    def uses(self, node: ast.Uses) -> UsesEpt | None:
        source = node.source
        if isinstance(source, ast.Name) and source.name in self.ctx.vm_nodes:
            self.ctx.report("sema-type", f"a domain uses a VM's EPT: write 'uses {source.name}.ept'", source.span)
            return None
        if not (isinstance(source, ast.Attribute) and isinstance(source.base, ast.Name)):
            self.ctx.report("sema-type", "a domain uses a VM's EPT: write 'uses VM.ept'", source.span)
            return None
        vm = source.base
        if vm.name not in self.ctx.vm_nodes:
            self.ctx.report("sema-unknown-name", f"no VM '{vm.name}'{N.suggest(vm.name, self.ctx.vm_nodes)}", vm.span)
            return None
        if source.name.name != "ept":
            self.ctx.report("sema-unknown-name", f"a domain uses a VM's EPT: '{source.name.name}' is not 'ept'",
                            source.name.span)
            return None
        resolved = self.ctx.vms.get(vm.name)
        if resolved is not None and resolved.ept is None:
            self.ctx.report("sema-incomplete", f"'{vm.name}' has no ept {{ }} block for the domain to use",
                            source.span)
            return None
        return UsesEpt(vm.name, span=node.span)

    def group(self, item: ast.Group) -> None:
        members: list[Bdf] = []
        for d in item.devices:
            b = bdf(d)
            if b in self.grouped:
                self.ctx.reporter.report("sema-conflict", f"device {b} is in two IOMMU groups", d.span,
                                         note("it is also in this group", self.grouped[b].span))
                continue
            self.grouped[b] = d
            members.append(b)
        if members:
            self.groups.append(tuple(members))
            self.group_spans.append(item.span)


def _v(entry: tuple[int, ast.Setting] | None) -> int | None:
    return entry[0] if entry is not None else None


def _sl_page_sizes(cap: int | None) -> frozenset[int] | None:
    if cap is None:
        return None
    sllps = vtd_facts.CAP["sllps"].get(cap)
    sizes = {vtd_facts.PAGE_4K}
    for level, bit in vtd_facts.SLLPS_BIT_BY_LEVEL.items():
        if sllps >> bit & 1:
            sizes.add(vtd_facts.PAGE_SIZE_BY_LEVEL[level])
    return frozenset(sizes)


def _input_limit(cap: int | None) -> int:
    """The IOVA width a domain's tables translate: the widest AGAW the unit supports (48 bits when the
    spec gives no CAP_REG, the width the builder uses then)."""
    if cap is None:
        return 1 << 48
    sagaw = vtd_facts.CAP["sagaw"].get(cap)
    aws = [aw for aw in vtd_facts.VALID_AW if sagaw >> aw & 1]
    return 1 << vtd_facts.agaw_bits(max(aws)) if aws else 1 << 48


def resolve_iommu(node: ast.Iommu, ctx: Context) -> IommuUnit:
    return IommuResolver(node, ctx).run()
