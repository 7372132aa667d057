"""Runs every ``prove`` of every spec: analyse, check each obligation, replay, collect results."""

from __future__ import annotations

import json
import os
import time
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Outcome, Result, Verdict
from vmxspec.diagnostics import Diagnostic, Span
from vmxspec.sema.analyze import analyze
from vmxspec.sema.model import AssertionProof, Proof

#: Where reproduction bundles go unless the caller says otherwise.
DEFAULT_BUNDLE_DIR = ".vmxspec/bundles"


@dataclass(slots=True)
class SpecReport:
    path: str
    results: list[Result] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def had_errors(self) -> bool:
        return any(d.severity.value == "error" for d in self.diagnostics)


def spec_files(paths: Iterable[str]) -> Iterator[str]:
    """The ``.vmx`` files named, directories walked recursively in sorted order."""
    for path in paths:
        p = Path(path)
        if p.is_dir():
            yield from (str(f) for f in sorted(p.rglob("*.vmx")))
        else:
            yield path


def title(proof: Proof, sources: dict[str, str]) -> str:
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


def check_spec(path: str, options: CheckOptions, bundle_dir: str = DEFAULT_BUNDLE_DIR) -> SpecReport:
    from vmxspec.properties import PropertyContext, load_all

    properties = load_all()
    report = SpecReport(path)
    model, report.diagnostics = analyze(path, sources=report.sources)
    if model is None:
        return report
    for proof in model.proofs_everywhere():
        name = "assert" if isinstance(proof, AssertionProof) else proof.property
        prop = properties.get(name)
        started = time.perf_counter()
        if prop is None:
            outcome = Outcome(Verdict.ERROR, f"vmxspec cannot check '{name}' yet", reason="not-implemented")
        else:
            outcome = _run(prop.check, PropertyContext(model, proof, options, report.sources))
            if outcome.verdict is Verdict.VIOLATED:
                outcome = _confirm(outcome, path, proof.span, bundle_dir)
        report.results.append(Result(title(proof, report.sources), proof.span, time.perf_counter() - started,
                                     outcome))
    return report


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


def check_paths(paths: Iterable[str], options: CheckOptions, jobs: int = 1,
                bundle_dir: str = DEFAULT_BUNDLE_DIR) -> list[SpecReport]:
    files = list(spec_files(paths))
    if jobs <= 1 or len(files) <= 1:
        return [check_spec(f, options, bundle_dir) for f in files]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(check_spec, files, [options] * len(files), [bundle_dir] * len(files)))
