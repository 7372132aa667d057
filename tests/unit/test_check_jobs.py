"""``vmxspec check --jobs N``: obligations run in worker processes, and the reports are exactly the
serial run's (verdicts, titles, places, order, diagnostics once), whatever goes wrong in a worker."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from vmxspec.check.driver import (
    Obligation,
    SpecChangedError,
    SpecReport,
    check_paths,
    fingerprint,
    resolve_jobs,
    run_obligation,
)
from vmxspec.check.results import CheckOptions, Outcome, Result, Verdict
from vmxspec.cli import main
from vmxspec.properties import PROPERTIES, BuiltinProperty, PropertyContext, load_all
from vmxspec.sema.analyze import analyze

HOST = """platform skylake_server

hypervisor {
  memory 0x0 .. 0x1_0000_0000
}
"""

#: Two VMs whose EPTs overlap by 256 MiB: proved, violated, proved, proved.
TWO_VMS = HOST + """
vm one {
  ram 0x0 .. 1G at 0x1_0000_0000
  ept {
    tables in 0x8000_0000 .. 0x8010_0000
    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb
  }
}

vm two {
  ram 0x0 .. 1G at 0x1_4000_0000
  ept {
    tables in 0x8010_0000 .. 0x8020_0000
    map 0x0 .. 1G -> 0x1_3000_0000 rwx wb
  }
}

prove isolated(one, hypervisor)
prove isolated(one, two)
prove no_misconfig(two.ept)
prove forall gpa in 0x0 .. 1G: translates(one.ept, gpa)
"""

#: Two spec errors: no obligation may run.
BROKEN = """platform skylake_server

vm g {
  ram 0x0 .. 1G at 0x1_0000_0000
}

prove isolated(g, hypervisr)
prove no_misconfig(g.ept)
"""

#: Contradictory assumptions: both assertions are vacuous.
VACUOUS = """platform skylake_server

vm g {
  vmcs {
    GUEST_RIP = any
  }
  assume GUEST_RIP == 1
  assume GUEST_RIP == 2
}

prove g.vmcs.GUEST_RIP == 3
prove g.vmcs.GUEST_RIP < 0x10
"""


@pytest.fixture
def specs(tmp_path: Path) -> Path:
    root = tmp_path / "specs"
    (root / "sub").mkdir(parents=True)
    (root / "a_two_vms.vmx").write_text(TWO_VMS)
    (root / "b_broken.vmx").write_text(BROKEN)
    (root / "sub" / "c_vacuous.vmx").write_text(VACUOUS)
    return root


def _shape(reports: list[SpecReport]) -> list[tuple[str, list[tuple[str, str, int, int, str]], list[str], list[str]]]:
    """Everything about a run that does not depend on timing or on which process ran what."""
    return [(r.path, [(x.title, x.verdict.value, x.span.line, x.span.column, x.outcome.message) for x in r.results],
             [f"{d.code}@{d.span.line}:{d.span.column}" for d in r.diagnostics], list(r.properties))
            for r in reports]


def test_two_jobs_report_exactly_what_one_job_reports(specs: Path, tmp_path: Path) -> None:
    options = CheckOptions(timeout_ms=20_000)
    serial = check_paths([str(specs)], options, jobs=1, bundle_dir=str(tmp_path / "bundles"))
    parallel = check_paths([str(specs)], options, jobs=2, bundle_dir=str(tmp_path / "bundles"))
    assert _shape(parallel) == _shape(serial)
    verdicts = {Path(r.path).name: [x.verdict for x in r.results] for r in serial}
    assert verdicts == {
        "a_two_vms.vmx": [Verdict.PROVED, Verdict.VIOLATED, Verdict.PROVED, Verdict.PROVED],
        "b_broken.vmx": [],
        "c_vacuous.vmx": [Verdict.VACUOUS, Verdict.VACUOUS],
    }
    # The spec with errors: its diagnostics once each, and no obligation ran.
    (broken,) = [r for r in parallel if r.path.endswith("b_broken.vmx")]
    assert [d.code for d in broken.diagnostics] == ["sema-unknown-name", "sema-incomplete"]
    assert broken.had_errors and broken.results == []
    # The violation came back with its (replayed) counterexample intact across the process boundary.
    (violated,) = [x for r in parallel for x in r.results if x.verdict is Verdict.VIOLATED]
    assert violated.outcome.counterexample is not None
    assert "0x1_3000_0000" in violated.outcome.counterexample.explanation


def _fails_on_the_second_proof(item: Obligation) -> Result:
    """A runner (it runs in the worker) whose second obligation raises, as a crashing property,
    an out-of-memory or an unpicklable result would."""
    if item.index == 1:
        raise RuntimeError("worker blew up")
    return run_obligation(item)


def _dies_on_the_second_proof(item: Obligation) -> Result:
    """A runner whose worker process dies outright on the second obligation."""
    if item.index == 1:
        os._exit(3)
    return run_obligation(item)


def test_a_worker_exception_is_an_error_result_for_that_obligation_only(specs: Path, tmp_path: Path) -> None:
    path = str(specs / "a_two_vms.vmx")
    reports = check_paths([path], CheckOptions(), jobs=2, bundle_dir=str(tmp_path),
                          runner=_fails_on_the_second_proof)
    (report,) = reports
    assert [r.verdict for r in report.results] == [Verdict.PROVED, Verdict.ERROR, Verdict.PROVED, Verdict.PROVED]
    failed = report.results[1]
    assert failed.title == "isolated(one, two)"  # the parent's title and place: the worker gave none
    assert (failed.span.line, failed.span.column) == (TWO_VMS.splitlines().index("prove isolated(one, two)") + 1, 1)
    assert failed.outcome.reason == "internal-error"
    assert "RuntimeError: worker blew up" in failed.outcome.message
    assert "worker blew up" in str(failed.outcome.details["traceback"])


def test_a_dead_worker_is_an_error_result_not_a_crash(specs: Path, tmp_path: Path) -> None:
    (report,) = check_paths([str(specs / "a_two_vms.vmx")], CheckOptions(), jobs=2, bundle_dir=str(tmp_path),
                            runner=_dies_on_the_second_proof)
    assert len(report.results) == 4
    assert report.results[1].verdict is Verdict.ERROR
    assert report.results[1].outcome.reason == "internal-error"
    # The other obligations either finished before the pool broke or are errors too, never lost.
    assert all(r.verdict in (Verdict.PROVED, Verdict.ERROR) for r in report.results)


def test_a_raising_property_is_an_internal_error_inside_the_worker(specs: Path, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    load_all()

    def explode(ctx: PropertyContext) -> Outcome:
        raise ZeroDivisionError("property bug")

    original = PROPERTIES["no_misconfig"]
    monkeypatch.setitem(PROPERTIES, "no_misconfig", BuiltinProperty(original.name, original.summary, original.doc,
                                                                     explode))
    path = str(specs / "a_two_vms.vmx")
    sources: dict[str, str] = {}
    analyze(path, sources=sources)
    result = run_obligation(Obligation(path, 2, fingerprint(sources), CheckOptions(), str(tmp_path)))
    assert result.title == "no_misconfig(two.ept)"
    assert result.verdict is Verdict.ERROR
    assert "ZeroDivisionError: property bug" in result.outcome.message
    assert "explode" in str(result.outcome.details["traceback"])


def test_a_worker_refuses_a_spec_that_changed_since_the_parent_read_it(specs: Path, tmp_path: Path) -> None:
    path = str(specs / "a_two_vms.vmx")
    sources: dict[str, str] = {}
    analyze(path, sources=sources)
    stale = fingerprint(sources)
    Path(path).write_text(TWO_VMS.replace("prove isolated(one, two)\n", ""))
    with pytest.raises(SpecChangedError, match="changed while it was being checked"):
        run_obligation(Obligation(path, 1, stale, CheckOptions(), str(tmp_path)))
    sources = {}
    analyze(path, sources=sources)
    with pytest.raises(SpecChangedError, match="has 3 proofs"):
        run_obligation(Obligation(path, 3, fingerprint(sources), CheckOptions(), str(tmp_path)))


def test_the_fingerprint_covers_imports_and_names() -> None:
    base = {"a.vmx": "import \"b.vmx\"", "b.vmx": "platform skylake_server"}
    assert fingerprint(base) == fingerprint(dict(reversed(base.items())))
    assert fingerprint(base) != fingerprint({**base, "b.vmx": "platform sapphire_rapids"})
    assert fingerprint(base) != fingerprint({"a.vmx": base["a.vmx"], "c.vmx": base["b.vmx"]})
    assert fingerprint({"ab": "c"}) != fingerprint({"a": "bc"})


def test_jobs_zero_is_one_per_cpu() -> None:
    assert resolve_jobs(0) == (os.cpu_count() or 1)
    assert resolve_jobs(3) == 3


def test_cli_jobs(specs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundles = ["--bundle-dir", str(tmp_path / "bundles")]
    assert main(["check", "--jobs", "-1", str(specs)]) == 2
    assert "--jobs must be 0" in capsys.readouterr().err
    assert main(["check", "--jobs", "2", *bundles, str(specs / "sub")]) == 3  # vacuous only
    two = capsys.readouterr().out
    assert main(["check", "--jobs", "1", *bundles, str(specs / "sub")]) == 3
    one = capsys.readouterr().out

    def without_times(text: str) -> list[str]:
        return [line.split("  (")[0] for line in text.splitlines()]

    assert without_times(two) == without_times(one)
    assert main(["check", "--jobs", "0", *bundles, str(specs)]) == 2  # the broken spec
