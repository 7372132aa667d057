"""Deciding a property once per combination of the open table values it reads.

Open raw entries (``any in { ... }``) are enumerated rather than made solver variables, since
page-table memory is never an SMT array (DESIGN.md, "Encoding for speed"). Every property that
enumerates them folds the per-combination outcomes the same way, which is what this module holds.
"""

from __future__ import annotations

from collections.abc import Callable

from vmxspec.check.results import Outcome, Verdict, unique_lines
from vmxspec.diagnostics import Span
from vmxspec.symbolic.reach.open_values import Choices


def each_choice(found: Choices, decide: Callable[[dict[tuple[object, ...], int]], Outcome], *,
                explain: bool) -> Outcome:
    """The first violation (or error) of any combination, else the first outcome that is not a
    proof, else a proof that names how many combinations it covers. With ``explain`` a proof
    depends on every combination's lines and on the open values enumerated."""
    pending: Outcome | None = None
    last: Outcome | None = None
    depends_on: list[Span] = []
    for values in found.combinations:
        outcome = decide(values)
        if outcome.verdict in (Verdict.VIOLATED, Verdict.ERROR):
            return outcome
        if outcome.verdict is not Verdict.PROVED:
            pending = pending or outcome
        last = outcome
        depends_on.extend(outcome.depends_on)
    if pending is not None:
        return pending
    assert last is not None, "a Choices without unknown has at least one combination"
    if explain:
        depends_on.extend(s.value.span for s in found.relevant)
    whats = ", ".join(s.what for s in found.relevant)
    return Outcome(Verdict.PROVED, f"{last.message}; and so for each of the {len(found.combinations)} choices of "
                   f"{whats}", smtlib=last.smtlib, details={"choices": len(found.combinations)},
                   depends_on=unique_lines(depends_on) if explain else ())
