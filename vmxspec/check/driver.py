"""Runs every ``prove`` of every spec: analyse, check each obligation, replay, collect results.

An obligation is one ``prove`` of one spec. Serially (``jobs=1``) each spec is analysed once and its
obligations run in process, in source order. With ``jobs > 1`` the parent analyses each spec once
(analysis is milliseconds; solving is seconds) to learn its diagnostics and its proofs, then sends
one work item per obligation to a process pool. A worker analyses a spec at most once (its cache is
keyed by the path and a hash of every file the analysis read, so a spec edited during the run is
never checked against a stale model) and runs one obligation. Results come back as plain ``Result``
values and are put back in source order, file by file, exactly as the serial run orders them.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import traceback
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Outcome, Result, Verdict
from vmxspec.diagnostics import Diagnostic, Span
from vmxspec.sema.analyze import analyze
from vmxspec.sema.model import AssertionProof, Model, Proof

if TYPE_CHECKING:
    from vmxspec.properties import BuiltinProperty

#: Where reproduction bundles go unless the caller says otherwise.
DEFAULT_BUNDLE_DIR = ".vmxspec/bundles"


@dataclass(slots=True)
class SpecReport:
    path: str
    results: list[Result] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)
    #: The registered property each result checked (``assert`` for a user assertion), in the order
    #: of ``results``: reports that key on the property (SARIF rule ids) need the name, not the title.
    properties: list[str] = field(default_factory=list)

    @property
    def had_errors(self) -> bool:
        return any(d.severity.value == "error" for d in self.diagnostics)

    def property_of(self, index: int) -> str:
        """The property ``results[index]`` checked; for a report built without ``properties`` (by
        hand, in a test), the name its title starts with."""
        if index < len(self.properties):
            return self.properties[index]
        from vmxspec.properties import load_all

        head = self.results[index].title.split("(", 1)[0].strip()
        return head if "(" in self.results[index].title and head in load_all() else "assert"


def spec_files(paths: Iterable[str]) -> Iterator[str]:
    """The ``.vmx`` files named, directories walked recursively in sorted order."""
    for path in paths:
        p = Path(path)
        if p.is_dir():
            yield from (str(f) for f in sorted(p.rglob("*.vmx")))
        else:
            yield path


def title(proof: Proof, sources: Mapping[str, str]) -> str:
    """The property as the spec wrote it (``vmentry_valid(guest1)``), from the statement's text."""
    text = sources.get(proof.span.path, "")
    lines = text.splitlines()
    if 0 < proof.span.line <= len(lines):
        line = lines[proof.span.line - 1][proof.span.column - 1:]
        statement = line.split("#", 1)[0].strip()
        if statement.startswith("prove "):
            statement = statement[len("prove "):]
        return statement.rstrip("{ ").strip() or "assertion"
    return proof.property if not isinstance(proof, AssertionProof) else "assertion"


def property_name(proof: Proof) -> str:
    """The registry name of what ``proof`` asks: a built-in property, or ``assert``."""
    return "assert" if isinstance(proof, AssertionProof) else proof.property


def check_spec(path: str, options: CheckOptions, bundle_dir: str = DEFAULT_BUNDLE_DIR) -> SpecReport:
    from vmxspec.properties import load_all

    properties = load_all()
    report = SpecReport(path)
    model, report.diagnostics = analyze(path, sources=report.sources)
    if model is None:
        return report
    for proof in model.proofs_everywhere():
        report.results.append(check_proof(model, proof, path, report.sources, options, bundle_dir, properties))
        report.properties.append(property_name(proof))
    return report


def check_proof(model: Model, proof: Proof, path: str, sources: Mapping[str, str], options: CheckOptions,
                bundle_dir: str, properties: Mapping[str, BuiltinProperty]) -> Result:
    """One obligation: the property's check, timed, and a violation replayed before it stands."""
    from vmxspec.properties import PropertyContext

    name = property_name(proof)
    prop = properties.get(name)
    started = time.perf_counter()
    if prop is None:
        outcome = Outcome(Verdict.ERROR, f"vmxspec cannot check '{name}' yet", reason="not-implemented")
    else:
        outcome = _run(prop.check, PropertyContext(model, proof, options, sources))
        if outcome.verdict is Verdict.VIOLATED:
            outcome = _confirm(outcome, path, proof.span, bundle_dir)
    return Result(title(proof, sources), proof.span, time.perf_counter() - started, outcome)


def _run(check: object, ctx: object) -> Outcome:
    try:
        outcome = check(ctx)  # type: ignore[operator]
        assert isinstance(outcome, Outcome)
        return outcome
    except Exception as exc:  # a bug in a property is an internal error, never a verdict
        return Outcome(Verdict.ERROR, f"internal error: {type(exc).__name__}: {exc}", reason="internal-error",
                       details={"traceback": traceback.format_exc(limit=8)})


def _confirm(outcome: Outcome, path: str, span: Span, bundle_dir: str) -> Outcome:
    """A violation stands only if the interpreter, asked about the counterexample, agrees."""
    cex = outcome.counterexample
    if cex is None:
        return Outcome(Verdict.ERROR, "internal error: a violation without a counterexample", reason="internal-error")
    result = replay(cex.state, cex.query, cex.expect)
    if result.confirmed:
        return outcome
    bundle = write_bundle(bundle_dir, path, span, outcome, result.answer, result.why)
    return Outcome(Verdict.ERROR, f"internal error: the reference interpreter does not confirm the counterexample "
                   f"({result.why}); reproduction bundle in {bundle}", reason="internal-error",
                   details={"bundle": bundle})


def write_bundle(bundle_dir: str, path: str, span: Span, outcome: Outcome, answer: dict[str, object],
                 why: str) -> str:
    """Everything needed to reproduce a disagreement: the spec, the counterexample, the
    interpreter's answer and the SMT-LIB of the query."""
    directory = Path(bundle_dir) / f"{int(time.time())}-{os.getpid()}-{Path(path).stem}-{span.line}"
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "spec.vmx").write_text(Path(path).read_text() if Path(path).exists() else "")
    cex = outcome.counterexample
    (directory / "counterexample.json").write_text(json.dumps(cex.to_json() if cex else None, indent=2) + "\n")
    (directory / "interpreter-answer.json").write_text(json.dumps(answer, indent=2) + "\n")
    (directory / "query.smt2").write_text(outcome.smtlib)
    (directory / "README").write_text(f"spec: {path}:{span.line}:{span.column}\nwhy: {why}\n")
    return str(directory)


# -- parallel obligations ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Obligation:
    """One ``prove`` of one spec, as a worker process receives it: plain, picklable data.

    ``index`` is the proof's position in ``Model.proofs_everywhere()``; ``fingerprint`` is the hash
    of the text the parent analysed, so the worker can tell that it is looking at the same spec.
    """

    path: str
    index: int
    fingerprint: str
    options: CheckOptions
    bundle_dir: str


class SpecChangedError(RuntimeError):
    """The files a worker read are not those the parent analysed (edited during the run)."""


def fingerprint(sources: Mapping[str, str]) -> str:
    """A hash of every file an analysis read (the spec and its imports), names and text."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        for part in (name, sources[name]):
            data = part.encode("utf-8", "surrogatepass")
            digest.update(len(data).to_bytes(8, "little"))
            digest.update(data)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class _Analysed:
    model: Model | None
    sources: dict[str, str]
    fingerprint: str


#: A worker's analyses, most recently used last. Work items arrive in source order, so a worker
#: mostly sees consecutive obligations of one spec: a few entries are enough, and the bound keeps
#: a run over hundreds of specs from holding every model in every worker.
_CACHE: OrderedDict[tuple[str, str], _Analysed] = OrderedDict()
_CACHE_SIZE = 4


def _analysed(path: str, expected: str) -> _Analysed:
    key = (path, expected)
    hit = _CACHE.get(key)
    if hit is not None:
        _CACHE.move_to_end(key)
        return hit
    sources: dict[str, str] = {}
    model, _ = analyze(path, sources=sources)
    entry = _Analysed(model, sources, fingerprint(sources))
    _CACHE[key] = entry
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return entry


def run_obligation(item: Obligation) -> Result:
    """What a worker process runs: the ``item.index``-th proof of ``item.path``.

    A property that raises is already an internal-error result (``_run``); anything else that goes
    wrong here (the spec changed on disk, no such proof) raises, and the parent turns the exception
    into an internal-error result for this obligation alone.
    """
    from vmxspec.properties import load_all

    entry = _analysed(item.path, item.fingerprint)
    if entry.fingerprint != item.fingerprint or entry.model is None:
        raise SpecChangedError(f"{item.path} (or a file it imports) changed while it was being checked")
    proofs = list(entry.model.proofs_everywhere())
    if not 0 <= item.index < len(proofs):
        raise SpecChangedError(f"{item.path} has {len(proofs)} proofs, not a proof number {item.index + 1}")
    return check_proof(entry.model, proofs[item.index], item.path, entry.sources, item.options, item.bundle_dir,
                       load_all())


def _start_worker() -> None:
    """Import every property (and with them the solver) before the first obligation is timed."""
    from vmxspec.properties import load_all

    load_all()


#: The signature of ``run_obligation``: tests substitute a runner to exercise the failure paths.
Runner = Callable[[Obligation], Result]


def _failed(exc: BaseException, proof_title: str, span: Span) -> Result:
    """An obligation whose worker raised, or died: an internal error for it, never for the run."""
    # The chain includes the worker's own traceback: concurrent.futures attaches it as the cause.
    text = "".join(traceback.format_exception(exc))
    outcome = Outcome(Verdict.ERROR, f"internal error: {type(exc).__name__}: {exc}", reason="internal-error",
                      details={"traceback": text})
    return Result(proof_title, span, 0.0, outcome)


#: Properties whose obligations take seconds where most take milliseconds: ``entry_safe`` encodes
#: every VM-entry check of two VMCSs over a whole open vmcs12, ``vmentry_valid`` every check of one.
#: They are started first (longest processing time first), so that one of them is not left running
#: alone at the end of a run while the other workers idle. Only the start order changes: results
#: are still reported in source order.
_SLOW_FIRST = {"entry_safe": 2, "vmentry_valid": 1}


def resolve_jobs(jobs: int) -> int:
    """``--jobs 0`` means one process per CPU."""
    return (os.cpu_count() or 1) if jobs == 0 else jobs


def check_paths(paths: Iterable[str], options: CheckOptions, jobs: int = 1,
                bundle_dir: str = DEFAULT_BUNDLE_DIR, *, runner: Runner = run_obligation) -> list[SpecReport]:
    """Check every spec under ``paths``; with ``jobs`` > 1 (0: one per CPU) the obligations run in
    parallel processes. The reports are the same, in the same order, whatever ``jobs`` is."""
    files = list(spec_files(paths))
    jobs = resolve_jobs(jobs)
    if jobs <= 1:
        return [check_spec(f, options, bundle_dir) for f in files]
    reports: list[SpecReport] = []
    work: list[tuple[SpecReport, Obligation, str, Span]] = []
    for path in files:
        report = SpecReport(path)
        model, report.diagnostics = analyze(path, sources=report.sources)
        reports.append(report)
        if model is None:
            continue
        digest = fingerprint(report.sources)
        for index, proof in enumerate(model.proofs_everywhere()):
            report.properties.append(property_name(proof))
            work.append((report, Obligation(path, index, digest, options, bundle_dir), title(proof, report.sources),
                         proof.span))
    if not work:
        return reports
    try:
        pool = ProcessPoolExecutor(max_workers=min(jobs, len(work)), initializer=_start_worker)
    except (OSError, NotImplementedError):  # no process support here (no sem_open): same results, serially
        return [check_spec(f, options, bundle_dir) for f in files]
    try:
        start_order = sorted(range(len(work)), key=lambda i: -_SLOW_FIRST.get(work[i][0].properties[work[i][1].index],
                                                                                 0))
        submitted = {i: pool.submit(runner, work[i][1]) for i in start_order}
        futures: list[Future[Result]] = [submitted[i] for i in range(len(work))]
        for (report, _, proof_title, span), future in zip(work, futures, strict=True):
            try:
                result = future.result()
            except Exception as exc:  # the worker raised, or died (BrokenProcessPool)
                result = _failed(exc, proof_title, span)
            report.results.append(result)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return reports
