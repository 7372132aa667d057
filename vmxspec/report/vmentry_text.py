"""The person's view of a VM-entry check (``vmxspec why``): the outcome, then every violated
rule as a table row with the fields involved and their values."""

from __future__ import annotations

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from vmxspec.arch.errors import VM_INSTRUCTION_ERRORS
from vmxspec.arch.exit_reasons import BY_NUMBER as EXIT_REASONS
from vmxspec.arch.exit_reasons import EXIT_REASON_FAILED_VMENTRY
from vmxspec.interp.vmentry import EntryResult, Violation
from vmxspec.state import State


def outcome_line(result: EntryResult) -> Text:
    if result.passed:
        return Text("VM entry passes every check.", style="bold green")
    error = result.vm_instruction_error
    n = len(result.violations)
    count = f"{n} violated check{'s' if n != 1 else ''}"
    if error is not None:
        line = f"VM entry fails: VMfailValid, VM-instruction error {error} ({VM_INSTRUCTION_ERRORS[error]})"
        others = [e for e in result.possible_errors if e != error]
        if others:
            line += f"; a processor may report error {others[0]} instead (the SDM leaves the order open)"
        return Text(f"{line}. {count}.", style="bold red")
    reason = result.exit_reason
    assert reason is not None
    full = reason | EXIT_REASON_FAILED_VMENTRY
    return Text(f"VM entry fails: {EXIT_REASONS[reason].title}, exit reason {full:#x} (basic reason {reason}), "
                f"exit qualification {result.exit_qualification}. {count}.", style="bold red")


def _fields_cell(state: State, v: Violation) -> Text:
    text = Text()
    for i, name in enumerate(v.fields):
        if i:
            text.append("\n")
        value = state.vmcs.get(name)
        text.append(name)
        if value is not None:
            text.append(f" = {value:#x}")
    return text


def render(state: State, result: EntryResult, title: str | None = None) -> Group:
    parts: list[Text | Table] = []
    if title:
        parts.append(Text(title, style="bold"))
    parts.append(outcome_line(result))
    for u in result.unevaluated:
        parts.append(Text(f"Not evaluated: {u.rule.id} needs {u.needs}: {u.message}", style="yellow"))
    if result.violations:
        table = Table(show_lines=True, expand=False, pad_edge=False)
        table.add_column("rule", no_wrap=True)
        table.add_column("SDM section", max_width=32)
        table.add_column("fields", no_wrap=True)
        table.add_column("what is wrong", ratio=1)
        for v in result.violations:
            table.add_row(Text(v.rule.id), Text(v.rule.section), _fields_cell(state, v), Text(v.message))
        parts.append(table)
    return Group(*parts)


def print_result(console: Console, state: State, result: EntryResult, title: str | None = None) -> None:
    console.print(render(state, result, title))
