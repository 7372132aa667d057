"""``vmxspec dma``: a DMA request's way through the remapping structures and why it stopped."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from vmxspec.arch import vtd
from vmxspec.interp.vtd import DmaOutcome


def render_dma(outcome: DmaOutcome, device: str, iova: str, access: str) -> Group:
    lines: list[Text] = [Text(f"DMA {access} by {device} to IOVA {iova}"
                              f"{f' with PASID {outcome.pasid:#x}' if outcome.pasid is not None else ''}"
                              f"{f' ({outcome.mode} mode)' if outcome.mode else ''}", style="bold")]
    for step in outcome.steps:
        where = f" at {step.address:#x}" if step.address is not None else ""
        values = f" = {', '.join(f'{v:#x}' for v in step.values)}" if step.values else ""
        lines.append(Text(f"  {step.table}{where}{values}: {step.decision}"))
    if outcome.result == "ok":
        domain = f" in domain {outcome.domain_id}" if outcome.domain_id is not None else ""
        lines.append(Text(f"translates to HPA {outcome.hpa or 0:#x}{domain} ({outcome.translation}, "
                          f"{outcome.permissions or 'no'} access)", style="bold green"))
    elif outcome.result == "fault":
        reason = outcome.fault_reason or 0
        recorded = "" if outcome.recorded else " (not recorded: fault processing disabled)"
        lines.append(Text(f"fault {reason:#x} ({vtd.fault_name(reason)}) [{outcome.rule}]{recorded}: "
                          f"{outcome.message}", style="bold red"))
    else:
        lines.append(Text(f"{outcome.result} [{outcome.rule}]: {outcome.message}", style="bold yellow"))
    for address, value in sorted(outcome.ad_updates.items()):
        lines.append(Text(f"  sets accessed/dirty: entry at {address:#x} becomes {value:#x}"))
    return Group(*lines)
