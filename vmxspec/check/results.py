"""What checking a property produces: a verdict, where it was asked, and the evidence."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from vmxspec.diagnostics import NOWHERE, Span


class Verdict(Enum):
    """DESIGN.md "Verdicts and exit codes". ``vacuous`` is a proof whose assumptions cannot hold:
    never reported as proved. ``error`` is a spec or internal error, never a statement about the
    configuration."""

    PROVED = "proved"
    VIOLATED = "violated"
    UNKNOWN = "unknown"
    VACUOUS = "vacuous"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class Counterexample:
    """A concrete witness, in the public state format, that the interpreter can be asked about.

    ``query`` is an interpreter question (STATE_FORMAT.md "A question"); ``expect`` says what the
    interpreter's answer must contain for the violation to stand (see ``check.replay``);
    ``open_values`` are the values the solver chose for what the spec left open.
    """

    state: dict[str, object]
    query: dict[str, object]
    expect: dict[str, object]
    explanation: str
    open_values: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {"state": self.state, "query": self.query, "expect": self.expect, "explanation": self.explanation,
                "open_values": {k: f"{v:#x}" for k, v in self.open_values.items()}}


def unique_lines(spans: Iterable[Span | None]) -> tuple[Span, ...]:
    """One span per spec line (the first given), in file and line order; spans of nothing
    (builder defaults) are left out. ``depends_on`` lists lines: two statements (or two parts of
    one) on the same line would otherwise show it twice, with different columns."""
    found: dict[tuple[str, int], Span] = {}
    for span in spans:
        if span is not None and span != NOWHERE and span.line > 0:
            found.setdefault((span.path, span.line), span)
    return tuple(found[key] for key in sorted(found))


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a property's check returns; the driver adds the location and the time."""

    verdict: Verdict
    message: str
    counterexample: Counterexample | None = None
    #: For unknown and error: why (timeout, rlimit, not modelled, internal error ...).
    reason: str = ""
    #: For --explain on a proof: the spec lines it depended on, each once (``unique_lines``).
    depends_on: tuple[Span, ...] = ()
    #: Extra machine-readable facts (rule ids, counts) for reports.
    details: dict[str, object] = field(default_factory=dict)
    #: SMT-LIB of the deciding query, kept for reproduction bundles.
    smtlib: str = ""


@dataclass(frozen=True, slots=True)
class Result:
    #: The property as the spec wrote it, e.g. ``vmentry_valid(guest1)``.
    title: str
    span: Span
    time_s: float
    outcome: Outcome

    @property
    def verdict(self) -> Verdict:
        return self.outcome.verdict

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "property": self.title,
            "verdict": self.verdict.value,
            "location": {"path": self.span.path, "line": self.span.line, "column": self.span.column},
            "time_s": round(self.time_s, 4),
            "message": self.outcome.message,
        }
        if self.outcome.reason:
            out["reason"] = self.outcome.reason
        if self.outcome.counterexample is not None:
            out["counterexample"] = self.outcome.counterexample.to_json()
        if self.outcome.depends_on:
            out["depends_on"] = [{"path": s.path, "line": s.line, "column": s.column} for s in self.outcome.depends_on]
        if self.outcome.details:
            out["details"] = self.outcome.details
        return out


@dataclass(frozen=True, slots=True)
class CheckOptions:
    """Solver budgets per obligation (every call has both), and whether to explain."""

    timeout_ms: int = 30_000
    rlimit: int = 300_000_000
    explain: bool = False


EXIT_OK, EXIT_VIOLATED, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3


def exit_status(verdicts: list[Verdict], had_errors: bool = False) -> int:
    """DESIGN.md: 0 all proved, 1 something violated, 2 error, 3 unknown and nothing violated;
    precedence 2 > 1 > 3 > 0. A vacuous proof is not a proof: it counts as unknown."""
    if had_errors or Verdict.ERROR in verdicts:
        return EXIT_ERROR
    if Verdict.VIOLATED in verdicts:
        return EXIT_VIOLATED
    if Verdict.UNKNOWN in verdicts or Verdict.VACUOUS in verdicts:
        return EXIT_UNKNOWN
    return EXIT_OK
