"""The analysis driver: files in, a resolved model and diagnostics out.

Passes run in an order that lets each use the previous ones' results: the platform (every address
and page-size check depends on it), the declarations (so that names may be used before the line
that declares them), the hypervisor's memory, the shared regions, VMs, IOMMUs (which may use a VM's
EPT), the conditions and proofs (which may name anything), nested blocks, and last the whole-spec
warnings.
Every pass reports and carries on, so one run shows every problem it can.

No input produces an exception: anything unexpected becomes an ``internal-error`` diagnostic.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from vmxspec.diagnostics import Diagnostic, Span
from vmxspec.sema.audit import audit
from vmxspec.sema.claims import ExprResolver, Scope
from vmxspec.sema.constants import Constants
from vmxspec.sema.context import Context
from vmxspec.sema.iommus import resolve_iommu
from vmxspec.sema.model import Assumption, Model, Nested, Proof, Region
from vmxspec.sema.nested import resolve_nested
from vmxspec.sema.platform import resolve_platform
from vmxspec.sema.reporter import Reporter, note
from vmxspec.sema.shared import resolve_shared
from vmxspec.sema.sources import SourceFile, load
from vmxspec.sema.vms import resolve_vm
from vmxspec.syntax import ast, try_parse_bytes

Source = ast.SpecFile | str | os.PathLike[str]


def analyze(source: Source, *, sources: dict[str, str] | None = None) -> tuple[Model | None, list[Diagnostic]]:
    """Analyse a spec: a path to a ``.vmx`` file, or an already parsed tree (whose imports are
    resolved against its ``span.path`` when that is a file, else against the working directory).

    Returns the model (None if there is any error) and every diagnostic, errors and warnings, in
    file order. ``sources``, when given, is filled with the text of every file read (display path
    to text), for rendering the diagnostics with their source lines.
    """
    reporter = Reporter()
    texts: dict[str, str] = {} if sources is None else sources
    try:
        root = _root(source, reporter, texts)
        model = None
        if root is not None:
            spec, real = root
            files = load(spec, real, reporter, texts)
            model = _analyze(files, reporter)
    except Exception as exc:  # a bug, never the user's: still a diagnostic
        path = source.span.path if isinstance(source, ast.SpecFile) else os.fspath(source)
        reporter.report("internal-error", f"internal error during analysis: {type(exc).__name__}: {exc}",
                        Span(path, 1, 1, 1, 1))
        model = None
    order = {path: i for i, path in enumerate(texts)}
    diagnostics = sorted(reporter.diagnostics, key=lambda d: (order.get(d.span.path, -1), d.span.line,
                                                              d.span.column))
    return (model if reporter.errors == 0 else None), diagnostics


def _root(source: Source, reporter: Reporter, texts: dict[str, str]) -> tuple[ast.SpecFile, Path | None] | None:
    if isinstance(source, ast.SpecFile):
        candidate = Path(source.span.path)
        return source, candidate if candidate.is_file() else None
    path = os.fspath(source)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        reporter.report("io-error", f"cannot read the spec: {exc.strerror or type(exc).__name__}",
                        Span(path, 1, 1, 1, 1))
        return None
    result = try_parse_bytes(data, path)
    if result.text is not None:
        texts[path] = result.text
    if result.spec is None:
        reporter.extend(result.diagnostics)
        return None
    return result.spec, Path(path)


def _analyze(files: list[SourceFile], reporter: Reporter) -> Model:
    items = [item for f in files for item in f.spec.items]
    ctx = Context(reporter, Constants(reporter))
    ctx.platform = resolve_platform([i for i in items if isinstance(i, ast.Platform)], ctx)
    _declare(items, ctx)
    if ctx.platform is None and (ctx.vm_nodes or ctx.iommu_nodes) and \
            not any(isinstance(i, ast.Platform) for i in items):
        first = next(i for i in items if isinstance(i, ast.Vm | ast.Iommu))
        ctx.report("sema-incomplete", "the spec has no 'platform': VMs and IOMMUs are checked against the host's "
                   "capabilities (write 'platform skylake_server', or another preset)", first.name.span)
    hypervisor = _hypervisor([i for i in items if isinstance(i, ast.Hypervisor)], ctx)
    shared = resolve_shared([i for i in items if isinstance(i, ast.Shared)], ctx)
    for name, node in ctx.vm_nodes.items():
        ctx.vms[name] = resolve_vm(node, ctx)
    for name, inode in ctx.iommu_nodes.items():
        ctx.iommus[name] = resolve_iommu(inode, ctx)
    exprs = ExprResolver(ctx)
    for name, node in ctx.vm_nodes.items():
        scope = Scope(vm=name)
        found = [Assumption(c, name, span=i.span) for i in node.items if isinstance(i, ast.Assume)
                 if (c := exprs.condition(i.condition, scope, "an assumption")) is not None]
        if found:
            ctx.vms[name] = replace(ctx.vms[name], assumptions=tuple(found))
    nested: dict[str, Nested] = {}
    for name, nnode in ctx.nested_nodes.items():
        resolved = resolve_nested(nnode, ctx)
        if resolved is not None:
            nested[name] = resolved
    assumptions: list[Assumption] = []
    proofs: list[Proof] = []
    top = Scope()
    for item in items:
        if isinstance(item, ast.Assume):
            condition = exprs.condition(item.condition, top, "an assumption")
            if condition is not None:
                assumptions.append(Assumption(condition, None, span=item.span))
        elif isinstance(item, ast.Prove):
            proof = exprs.prove(item, top)
            if proof is not None:
                proofs.append(proof)
    audit(ctx.vms, ctx.iommus, hypervisor, shared, ctx)
    root = files[-1].spec
    return Model(ctx.platform, tuple(hypervisor), ctx.vms, ctx.iommus, nested, tuple(assumptions), tuple(proofs),
                 tuple(f.path for f in reversed(files)), shared, span=root.span)


def _declare(items: list[ast.TopItem], ctx: Context) -> None:
    """Register every VM, IOMMU, shared region and nested block by name; one name means one thing."""
    seen: dict[str, ast.Name] = {}
    for item in items:
        if not isinstance(item, ast.Vm | ast.Iommu | ast.Shared | ast.Nested):
            continue
        name = item.name
        if name.name in seen:
            ctx.reporter.report("sema-duplicate", f"'{name.name}' is defined twice", name.span,
                                note("first defined here", seen[name.name].span))
            continue
        seen[name.name] = name
        if isinstance(item, ast.Vm):
            ctx.vm_nodes[name.name] = item
        elif isinstance(item, ast.Iommu):
            ctx.iommu_nodes[name.name] = item
        elif isinstance(item, ast.Shared):
            ctx.shared_nodes[name.name] = item
        else:
            ctx.nested_nodes[name.name] = item


def _hypervisor(blocks: list[ast.Hypervisor], ctx: Context) -> list[Region]:
    out: list[Region] = []
    for block in blocks:
        for memory in block.regions:
            r = ctx.consts.range(memory.range, "the hypervisor's memory")
            if r is not None and ctx.host_range(r[0], r[1], memory.range.span, "the hypervisor's memory"):
                out.append(Region(r[0], r[1], span=memory.span))
    return out
