"""What a translation property concludes, and the evidence a violation carries.

A ``Decision`` is solver-agnostic and checker-agnostic: a verdict word (the values of
``vmxspec.check.results.Verdict``), a message, and for a violation the ``Evidence`` the reference
interpreter replays: a ``vmxspec-state/1`` state, one ``ept`` or ``dma`` question about it, what the
answer must contain (``vmxspec.check.replay``'s ``expect``), and an explanation in SDM and VT-d
terms. A proof names the spec statements it read (``depends_on``, for ``--explain``).
``decide_all`` runs a decision over every combination of the spec's relevant open values.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from vmxspec.arch import ept as A
from vmxspec.arch import vtd as V
from vmxspec.build.from_model import Built, state_document
from vmxspec.diagnostics import Span as Source
from vmxspec.sema.model import Model
from vmxspec.symbolic.reach.ept import EptMap, EptRun
from vmxspec.symbolic.reach.open_values import OPEN_REASON, Needs
from vmxspec.symbolic.reach.vacuity import satisfiable
from vmxspec.symbolic.reach.vtd import DmaRun, source_id_text
from vmxspec.symbolic.reach.world import World, WorldError, worlds

PROVED, VIOLATED, UNKNOWN, VACUOUS, ERROR = "proved", "violated", "unknown", "vacuous", "error"


@dataclass(frozen=True, slots=True)
class Evidence:
    state: dict[str, object]
    query: dict[str, object]
    expect: dict[str, object]
    explanation: str
    open_values: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: str
    message: str
    reason: str = ""
    evidence: Evidence | None = None
    details: dict[str, object] = field(default_factory=dict)
    #: For a proof: the spec statements whose content it relied on, in file order.
    depends_on: tuple[Source, ...] = ()


def holds(message: str, *, depends_on: tuple[Source, ...] = (), **details: object) -> Decision:
    return Decision(PROVED, message, details=dict(details), depends_on=depends_on)


def in_order(spans: list[Source] | tuple[Source, ...]) -> tuple[Source, ...]:
    """Spans once each, in file order (real positions only: a statement the builder made up, or a
    setting the spec does not write, has none)."""
    return tuple(sorted({s for s in spans if s.line > 0}, key=lambda s: (s.path, s.line, s.column, s.end_line,
                                                                         s.end_column)))


def undecided(reason: str, message: str) -> Decision:
    return Decision(UNKNOWN, message, reason=reason)


def violated(message: str, evidence: Evidence) -> Decision:
    return Decision(VIOLATED, message, evidence=evidence)


def decide_all(model: Model, needs: Needs, decide: Callable[[World], Decision], *, timeout_ms: int = 30_000,
               rlimit: int = 300_000_000) -> Decision:
    """``decide`` for every combination of the open values that can change the answer: the first
    violation (with the values chosen), else unknown if any combination is, else proved; and a
    proof or violation under assumptions that cannot hold is vacuous (``vacuity``)."""
    decision = _decide_all(model, needs, decide)
    if decision.verdict not in (PROVED, VIOLATED):
        return decision
    found = satisfiable(model, timeout_ms, rlimit)
    if found.status == "vacuous":
        return Decision(VACUOUS, "the spec's assumptions cannot all hold, so this holds vacuously "
                        f"({decision.message})", reason="vacuous")
    if found.status == "unknown" and decision.verdict == PROVED:
        return undecided("assumptions", f"{decision.message}, but {found.reason}")
    return decision


def _decide_all(model: Model, needs: Needs, decide: Callable[[World], Decision]) -> Decision:
    found, each = worlds(model, needs)
    if found.unknown:
        return undecided(OPEN_REASON, f"cannot decide: {OPEN_REASON} ({found.unknown})")
    pending: Decision | None = None
    last = holds("nothing to check")
    count = 0
    read: list[Source] = []
    for world, chosen in each:
        count += 1
        try:
            decision = decide(world)
        except WorldError as exc:
            return Decision(ERROR, str(exc), reason="spec")
        if decision.verdict == VIOLATED and decision.evidence is not None:
            evidence = replace(decision.evidence, open_values=chosen)
            if chosen:
                values = ", ".join(f"{what} = {value:#x}" for what, value in chosen.items())
                evidence = replace(evidence, explanation=f"With {values}: {evidence.explanation}")
            return replace(decision, evidence=evidence)
        if decision.verdict != PROVED:
            pending = pending or decision
        read.extend(decision.depends_on)
        last = decision
    if pending is not None:
        return pending
    if found.relevant:
        return holds(f"{last.message}; and so for each of the {count} choices of "
                     f"{', '.join(s.what for s in found.relevant)}", depends_on=in_order(read), choices=count)
    return last


# -- words for explanations -----------------------------------------------------------------------------

def addr(value: int) -> str:
    """An address as the SDM prints them, grouped in fours: 0x1_4000_0000."""
    return f"{value:#_x}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def hexs(value: int) -> str:
    return f"{value:#x}"


def ept_rights(perms: int, mbec: bool | None) -> str:
    names = [n for n, b in (("read", A.R), ("write", A.W), ("execute", A.X)) if perms & b]
    if perms & A.XU and mbec:
        names.append("user-mode execute")
    return "/".join(names) or "no access"


def ept_page(run: EptRun, gpa: int) -> str:
    size = A.PAGE_SIZE_NAMES[A.PAGE_SIZE_BY_LEVEL[run.level]]
    return f"the {size} page mapped by the {A.LEVEL_NAMES[run.level]} at {addr(run.leaf_at(gpa))}"


def ept_access(ept: EptMap, run: EptRun, write: bool = False, right: int = 0) -> dict[str, object]:
    """The ``access``/``user`` keys of an ``ept`` question that the run lets through: a write with
    ``write``, the access ``right`` (one of the bits R, W, X) names, else any access it allows. An
    execute right the run grants only through bit 10 (mode-based execute control on) is a user-mode
    fetch."""
    if write or right == A.W:
        return {"access": "write"}
    if right == A.R or (not right and run.perms & A.R):
        return {"access": "read"}
    if run.perms & A.X:
        return {"access": "fetch"}
    return {"access": "fetch", "user": True}


def ept_evidence(built: Built, ept: EptMap, run: EptRun, gpa: int, lo: int, hi: int, explanation: str,
                 write: bool = False, right: int = 0) -> Evidence:
    """An ``ept`` question at ``gpa`` (an access ``right`` allows, or a write, or any access the run
    allows) whose answer must be a translation into ``[lo, hi)``."""
    query: dict[str, object] = {"kind": "ept", "gpa": hexs(gpa), **ept_access(ept, run, write, right)}
    return Evidence(state_document(built), query, {"match": {"result": "ok"}, "hpa_in": [[hexs(lo), hexs(hi)]]},
                    explanation)


def dma_rights(perms: int) -> str:
    return "/".join(n for n, b in (("read", 1), ("write", 2)) if perms & b)


def dma_page(run: DmaRun, iova: int) -> str:
    if not run.level:
        return "no translation (the address is used as host-physical)"
    size = A.PAGE_SIZE_NAMES[V.PAGE_SIZE_BY_LEVEL[run.level]]
    return f"the {size} page mapped by the second-level {V.LEVEL_NAMES[run.level]} at {addr(run.leaf_at(iova))}"


def dma_query(segment: int, sid: int, iova: int, access: str, pasid: int | None = None,
              at: str = "untranslated") -> dict[str, object]:
    query: dict[str, object] = {"kind": "dma", "source_id": source_id_text(segment, sid), "iova": hexs(iova),
                                "access": access}
    if pasid is not None:
        query["pasid"] = hexs(pasid)
    if at != "untranslated":
        query["at"] = at
    return query
