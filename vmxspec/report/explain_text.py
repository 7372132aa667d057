"""``vmxspec explain``: a rule's condition, its SDM section and where others check it; or what a
diagnostic code means."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vmxspec.arch.rules import RULES, Rule
from vmxspec.codes import Code


def render_rule(rule: Rule) -> Group:
    lines: list[Text | Table] = [
        Text(f"{rule.id}", style="bold"),
        Text(f"SDM section: {rule.section}"),
        Text(f"Failure: {rule.stage.failure}"),
        Text(""),
        Text(rule.condition),
    ]
    if rule.fields:
        lines.append(Text(f"\nReads VMCS fields: {', '.join(rule.fields)}"))
    if rule.caps:
        lines.append(Text(f"Reads capabilities: {', '.join(rule.caps)}"))
    if rule.exit_qualification:
        lines.append(Text(f"Exit qualification on failure: {rule.exit_qualification}"))
    if rule.implementations:
        lines.append(Text("\nChecked by:"))
        for who, where in rule.implementations:
            lines.append(Text(f"  {who}: {where}"))
    if rule.divergence:
        lines.append(Text(f"\nWhere implementations differ: {rule.divergence}"))
    return Group(*lines)


def render_code(code: Code) -> Group:
    return Group(Text(f"{code.id} ({code.severity.value})", style="bold"), Text(code.summary), Text(""),
                 Text(code.explanation))


def render_rule_list() -> Table:
    table = Table(pad_edge=False)
    table.add_column("rule", no_wrap=True)
    table.add_column("stage", no_wrap=True)
    table.add_column("SDM section")
    for rule in RULES:
        table.add_row(rule.id, rule.stage.value, rule.section)
    return table


def print_explanation(console: Console, item: Rule | Code) -> None:
    console.print(render_rule(item) if isinstance(item, Rule) else render_code(item))
