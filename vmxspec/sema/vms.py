"""``vm NAME { ram, ept, vmcs, devices, assume }``: one VM's memory, translation, VMCS and devices.

Assumptions are resolved later (``claims``), once every VM is known, because they may name other
VMs; this pass leaves them out.
"""

from __future__ import annotations

from itertools import pairwise

from vmxspec.arch import ept as ept_facts
from vmxspec.sema.context import Context
from vmxspec.sema.model import Bdf, Device, FieldValue, Open, Paging, Ram, Vm
from vmxspec.sema.paging import resolve_paging
from vmxspec.sema.reporter import note
from vmxspec.sema.vmcs import control_warnings, resolve_vmcs
from vmxspec.syntax import ast

_PAGE = ept_facts.PAGE_4K


def bdf(node: ast.Bdf) -> Bdf:
    return Bdf(node.segment or 0, node.bus, node.device, node.function)


def resolve_vm(node: ast.Vm, ctx: Context) -> Vm:
    name = node.name.name
    ram: list[Ram] = []
    epts: list[ast.Ept] = []
    vmcs_blocks: list[ast.Vmcs] = []
    devices: dict[Bdf, Device] = {}
    for item in node.items:
        if isinstance(item, ast.Ram):
            r = _ram(item, ctx)
            if r is not None:
                ram.append(r)
        elif isinstance(item, ast.Ept):
            epts.append(item)
        elif isinstance(item, ast.Vmcs):
            vmcs_blocks.append(item)
        elif isinstance(item, ast.Devices):
            for d in item.devices:
                b = bdf(d)
                if b in devices:
                    ctx.reporter.report("sema-redundant", f"device {b} is listed twice in '{name}'", d.span,
                                        note("first listed here", devices[b].span))
                else:
                    devices[b] = Device(b, span=d.span)
    _ram_overlaps(ram, ctx)
    for extra in (*epts[1:], *vmcs_blocks[1:]):
        first = epts[0] if isinstance(extra, ast.Ept) else vmcs_blocks[0]
        word = "ept" if isinstance(extra, ast.Ept) else "vmcs"
        ctx.reporter.report("sema-duplicate", f"'{name}' has a second {word} block", extra.span,
                            note(f"the first {word} block is here", first.span))
    ept: Paging | None = None
    if epts:
        ept = resolve_paging(epts[0].items, epts[0].span, ctx, where=f"{name}'s EPT", vtd=False,
                             page_sizes=ctx.ept_page_sizes())
    vmcs = resolve_vmcs(vmcs_blocks[:1], ctx, name, node.span)
    if ept is not None:
        _check_eptp(vmcs.fields.get("EPT_POINTER"), ept, ctx)
    if vmcs_blocks:
        control_warnings(vmcs, ept is not None, ctx)
    return Vm(name, tuple(sorted(ram, key=lambda r: r.start)), ept, vmcs, tuple(devices.values()), span=node.span)


def _ram(item: ast.Ram, ctx: Context) -> Ram | None:
    r = ctx.consts.range(item.range, "the RAM range")
    if r is None:
        return None
    start, end = r
    for value, edge in ((start, item.range.low), (end, item.range.high)):
        if value % _PAGE:
            ctx.report("sema-alignment", f"RAM is whole 4 KiB pages: {value:#x} is not a multiple of 0x1000",
                       edge.span)
            return None
    if not ctx.guest_range(start, end, item.range.span, "the RAM range"):
        return None
    width = (ctx.maxphyaddr or 52) if isinstance(item.host, ast.AnyValue) else 64
    host = ctx.consts.value(item.host, "the RAM's host address", width=width, zero=_PAGE - 1)
    if host is None:
        return None
    if isinstance(host, int):
        if host % _PAGE:
            ctx.report("sema-alignment", f"RAM is backed by whole 4 KiB pages: {host:#x} is not 4 KiB aligned",
                       item.host.span)
            return None
        if not ctx.host_range(host, host + end - start, item.host.span, "the RAM's host range"):
            return None
    return Ram(start, end, host, span=item.span)


def _ram_overlaps(ram: list[Ram], ctx: Context) -> None:
    ordered = sorted(ram, key=lambda r: r.start)
    for a, b in pairwise(ordered):
        if b.start < a.end:
            ctx.reporter.report("sema-conflict", f"RAM {b.start:#x} .. {b.end:#x} overlaps RAM {a.start:#x} .. "
                                f"{a.end:#x} of the same VM", b.span, note("the other range is here", a.span))


def _check_eptp(eptp: FieldValue | None, ept: Paging, ctx: Context) -> None:
    """EPT_POINTER set by hand must point at the EPT's root, when both are given."""
    if eptp is None or isinstance(eptp.value, Open) or ept.root is None:
        return
    address = eptp.value & ept_facts.EPTP["address"].mask
    if address != ept.root:
        ctx.reporter.report("sema-conflict", f"EPT_POINTER points at {address:#x} but the EPT's root is at "
                            f"{ept.root:#x}", eptp.span, note("the root is placed here", ept.span))
