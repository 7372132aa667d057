"""``platform NAME { overrides }``: a shipped preset, with capability MSRs and widths overridden.

Overrides name a capability MSR by architectural name or number; ``=`` replaces its value, ``+=``
and ``-=`` set and clear bits, which may be written by name (the MSR's layout fields, or, for a
control capability MSR, the control bits, meaning their allowed-1 settings). An override that
makes the capability MSRs contradict each other (SDM Appendix A) is legal, since real firmware does
odd things, but suspicious, and gets a warning.
"""

from __future__ import annotations

from vmxspec.arch import capabilities
from vmxspec.arch.presets import PRESETS, Preset, consistency_problems
from vmxspec.sema import names as N
from vmxspec.sema.context import Context
from vmxspec.sema.model import Platform
from vmxspec.sema.reporter import note
from vmxspec.syntax import ast


def resolve_platform(nodes: list[ast.Platform], ctx: Context) -> Platform | None:
    if not nodes:
        return None
    first = nodes[0]
    for extra in nodes[1:]:
        ctx.reporter.report("sema-duplicate", "a spec has one platform; this is a second", extra.name.span,
                            note(f"the platform '{first.name.name}' is declared here", first.name.span))
    preset = PRESETS.get(first.name.name)
    if preset is None:
        ctx.report("sema-unknown-preset", f"no platform preset '{first.name.name}'"
                   f"{N.suggest(first.name.name, PRESETS) or '; known presets: ' + ', '.join(PRESETS)}",
                   first.name.span)
        return None
    caps = dict(preset.caps)
    widths = {"MAXPHYADDR": preset.maxphyaddr, "MAXLINADDR": preset.maxlinaddr}
    assigned: dict[str, tuple[int, ast.Setting]] = {}
    for setting in first.settings:
        _apply(setting, caps, widths, assigned, ctx)
    platform = Platform(preset.name, caps, widths["MAXPHYADDR"], widths["MAXLINADDR"], span=first.span)
    if first.settings:
        problems = consistency_problems(Preset(preset.name, preset.title, "", "", caps, platform.maxphyaddr,
                                               platform.maxlinaddr))
        if problems:
            more = f" (and {len(problems) - 2} more)" if len(problems) > 2 else ""
            ctx.report("sema-inconsistent-platform", f"the overridden capabilities contradict the SDM's rules for "
                       f"capability MSRs: {'; '.join(problems[:2])}{more}", first.name.span)
    return platform


def _target(setting: ast.Setting, ctx: Context) -> str | None:
    target = setting.target
    if isinstance(target, ast.Name):
        if target.name in capabilities.BY_NAME or target.name in N.PLATFORM_WIDTHS:
            return target.name
        if target.name in N.MSR_NAMES.names:
            ctx.report("sema-unknown-msr", f"'{target.name}' is not a VMX capability MSR: a platform sets "
                       "IA32_VMX_* capability MSRs, MAXPHYADDR and MAXLINADDR", target.span)
            return None
        candidates = [*capabilities.BY_NAME, *N.PLATFORM_WIDTHS]
        ctx.report("sema-unknown-msr", f"unknown capability MSR '{target.name}'{N.suggest(target.name, candidates)}",
                   target.span)
        return None
    if isinstance(target, ast.Number):
        msr = capabilities.BY_NUMBER.get(target.value)
        if msr is None:
            ctx.report("sema-unknown-msr", f"MSR {target.value:#x} is not a VMX capability MSR (those are "
                       f"{min(capabilities.BY_NUMBER):#x}-{max(capabilities.BY_NUMBER):#x})", target.span)
            return None
        return msr.name
    ctx.report("sema-type", "a platform setting names a capability MSR (IA32_VMX_BASIC or 0x480), MAXPHYADDR "
               "or MAXLINADDR", target.span)
    return None


def _apply(setting: ast.Setting, caps: dict[str, int], widths: dict[str, int],
           assigned: dict[str, tuple[int, ast.Setting]], ctx: Context) -> None:
    name = _target(setting, ctx)
    if name is None:
        return
    if isinstance(setting.value, ast.AnyValue):
        ctx.report("sema-type", f"platform capabilities are concrete: give {name} a number", setting.value.span)
        return
    if name in N.PLATFORM_WIDTHS:
        if setting.op is not ast.AssignOp.SET:
            ctx.report("sema-type", f"{name} is a width: set it with '=', not '{setting.op.value}'", setting.span)
            return
        value = ctx.consts.number(setting.value, name, width=8)
        if value is None:
            return
        low, high = N.PLATFORM_WIDTHS[name]
        allowed = (48, 57) if name == "MAXLINADDR" else tuple(range(low, high + 1))
        if value not in allowed:
            ctx.report("sema-width", f"{name} must be {'48 or 57' if name == 'MAXLINADDR' else f'{low}-{high}'}, "
                       f"not {value}", setting.value.span)
            return
        _record(name, value, setting, assigned, ctx)
        widths[name] = value
        return
    bits = ctx.consts.number(setting.value, name, N.CAP_BITS[name], 64)
    if bits is None:
        return
    if setting.op is ast.AssignOp.SET:
        _record(name, bits, setting, assigned, ctx)
        caps[name] = bits
    elif setting.op is ast.AssignOp.ADD:
        caps[name] = caps.get(name, 0) | bits
    else:
        caps[name] = caps.get(name, 0) & ~bits


def _record(name: str, value: int, setting: ast.Setting, assigned: dict[str, tuple[int, ast.Setting]],
            ctx: Context) -> None:
    if name in assigned:
        old, where = assigned[name]
        if old != value:
            ctx.reporter.report("sema-conflict", f"{name} is set to {value:#x} here and to {old:#x} before",
                                setting.value.span, note(f"{name} is first set here", where.span))
        else:
            ctx.reporter.report("sema-redundant", f"{name} is set to the same value twice", setting.span,
                                note("first set here", where.span))
        return
    assigned[name] = (value, setting)
