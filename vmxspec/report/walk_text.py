"""``vmxspec walk``: an EPT walk level by level, the entries read and why it stopped."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from vmxspec.arch import ept as A
from vmxspec.interp.ept import EptOutcome


def render_walk(outcome: EptOutcome) -> Group:
    ad = "A/D on" if outcome.eptp & A.EPTP_AD else "A/D off"
    lines: list[Text] = [Text(f"EPT walk: {outcome.access} of GPA {outcome.gpa:#x}"
                              f"{' (user mode)' if outcome.user else ''}"
                              f"{' (guest paging-structure access)' if outcome.paging_structure else ''}; "
                              f"EPTP {outcome.eptp:#x}, {outcome.levels}-level, {ad}", style="bold")]
    mbec = bool(outcome.mbec)
    for step in outcome.steps:
        lines.append(Text(f"  {step.describe(mbec)}"))
    style = "green" if outcome.ok else "red"
    lines.append(Text(outcome.message(), style=f"bold {style}"))
    if outcome.qualification is not None:
        known = outcome.qualification & ~outcome.qualification_unknown
        names = [f.name for f in A.QUALIFICATION if f.width == 1 and known & f.mask]
        unknown = [f.name for f in A.QUALIFICATION if f.width == 1 and outcome.qualification_unknown & f.mask]
        lines.append(Text(f"  exit qualification {outcome.qualification:#x}: {', '.join(names) or 'no bits set'}"))
        if unknown:
            lines.append(Text(f"  not determined by the question: {', '.join(unknown)}"))
    for update in outcome.ad_updates.items():
        lines.append(Text(f"  sets accessed/dirty: entry at {update[0]:#x} becomes {update[1]:#x}"))
    for assumption in outcome.assumptions:
        lines.append(Text(f"  assumed: {assumption}", style="yellow"))
    return Group(*lines)
