"""The ``vmxspec`` command line: a thin adapter over the library; nothing imports it.

Exit codes (DESIGN.md): 0 all good, 1 something violated or failed, 2 usage, input or internal
error, 3 nothing violated but something unknown. Precedence 2 > 1 > 3 > 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TextIO

from vmxspec import __version__
from vmxspec.arch.rules import BY_ID as RULES_BY_ID
from vmxspec.codes import BY_ID as CODES_BY_ID
from vmxspec.state import State, StateError, load_state

EXIT_OK, EXIT_VIOLATED, EXIT_ERROR, EXIT_UNKNOWN = 0, 1, 2, 3


def _print_error(message: str, code: str, where: str = "") -> None:
    prefix = f"{where}: " if where else ""
    print(f"{prefix}error: {message} [{code}]", file=sys.stderr)


def _read_json(path: str) -> object:
    """Read a JSON document from a file or '-' (stdin); StateError on any problem."""
    try:
        data = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as exc:
        raise StateError("io-error", f"cannot read: {exc.strerror or exc}") from exc
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StateError("json-syntax", f"not UTF-8 text (byte {exc.start})") from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise StateError("json-syntax", f"not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") \
            from exc
    except RecursionError as exc:
        raise StateError("json-syntax", "JSON nested too deeply") from exc


# -- vmxspec why ---------------------------------------------------------------------------------

def cmd_why(args: argparse.Namespace) -> int:
    from vmxspec.interp.vmentry import check_vm_entry
    from vmxspec.questions.vmentry import incomplete_error, parse_checks, result_json
    from vmxspec.report.console import make_console
    from vmxspec.report.vmentry_text import print_result

    try:
        stages = parse_checks(args.checks.split(","), "--checks") if args.checks else None
    except StateError as err:
        _print_error(err.message, "usage")
        return EXIT_ERROR
    console = make_console(sys.stdout)
    status = EXIT_OK
    for path in args.states:
        try:
            doc = _read_json(path)
            state = load_state(doc)
            if args.platform:
                _apply_platform(state, args.platform)
            result = check_vm_entry(state, stages) if stages else check_vm_entry(state)
            if not result.complete:
                raise incomplete_error(result)
        except StateError as err:
            where = f"{path}: {err.path}" if err.path else path
            _print_error(err.message, err.code, where)
            status = EXIT_ERROR
            continue
        if args.format == "json":
            print(json.dumps({"path": path, **result_json(state, result)}))
        else:
            print_result(console, state, result, title=path if len(args.states) > 1 else None)
        if not result.passed and status == EXIT_OK:
            status = EXIT_VIOLATED
    return status


def _apply_platform(state: State, name: str) -> None:
    """Fill capabilities the state leaves out from a shipped platform preset."""
    from vmxspec.arch.presets import PRESETS
    from vmxspec.state.numbers import did_you_mean

    preset = PRESETS.get(name)
    if preset is None:
        raise StateError("unknown-preset", f"no platform preset '{name}'{did_you_mean(name, list(PRESETS))}")
    for msr, value in preset.caps.items():
        state.caps.setdefault(msr, value)
    if state.maxphyaddr is None:
        state.maxphyaddr = preset.maxphyaddr
    if state.maxlinaddr is None:
        state.maxlinaddr = preset.maxlinaddr


# -- vmxspec walk -------------------------------------------------------------------------------

def _load_for_query(path: str, platform: str | None) -> State:
    """The state at ``path`` with preset capabilities filled in; StateError on any problem."""
    state = load_state(_read_json(path))
    if platform:
        _apply_platform(state, platform)
    return state


def cmd_walk(args: argparse.Namespace) -> int:
    from vmxspec.questions.ept import ask_ept, outcome_json
    from vmxspec.report.console import make_console
    from vmxspec.report.walk_text import render_walk

    query: dict[str, object] = {"kind": "ept", "gpa": args.gpa, "access": args.access, "user": args.user,
                                "paging_structure": args.paging_structure}
    if args.eptp is not None:
        query["eptp"] = args.eptp
    try:
        state = _load_for_query(args.state, args.platform)
        outcome = ask_ept(state, query)
    except StateError as err:
        _print_error(err.message, err.code, f"{args.state}: {err.path}" if err.path else args.state)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(outcome_json(outcome)))
    else:
        make_console(sys.stdout).print(render_walk(outcome))
    return EXIT_OK if outcome.ok else EXIT_VIOLATED


# -- vmxspec dma --------------------------------------------------------------------------------

def cmd_dma(args: argparse.Namespace) -> int:
    from vmxspec.questions.dma import ask_dma
    from vmxspec.report.console import make_console
    from vmxspec.report.dma_text import render_dma

    query: dict[str, object] = {"kind": "dma", "source_id": args.device, "iova": args.iova, "access": args.access,
                                "at": args.at, "privileged": args.privileged}
    if args.pasid is not None:
        query["pasid"] = args.pasid
    try:
        state = _load_for_query(args.state, None)
        outcome = ask_dma(state, query)
    except StateError as err:
        _print_error(err.message, err.code, f"{args.state}: {err.path}" if err.path else args.state)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps({**outcome.to_json(), "steps": outcome.steps_json()}))
    else:
        make_console(sys.stdout).print(render_dma(outcome, args.device, args.iova, args.access))
    return EXIT_OK if outcome.ok else EXIT_VIOLATED


# -- vmxspec exit -------------------------------------------------------------------------------

def cmd_exit(args: argparse.Namespace) -> int:
    from vmxspec.questions.exits import ask_exit, event_from_words

    try:
        event = json.loads(args.event_json) if args.event_json is not None else event_from_words(args.words)
        state = _load_for_query(args.state, args.platform)
        outcome = ask_exit(state, {"kind": "exit", "event": event})
    except json.JSONDecodeError as exc:
        _print_error(f"--event is not valid JSON: {exc.msg}", "json-syntax", args.state)
        return EXIT_ERROR
    except StateError as err:
        _print_error(err.message, err.code, f"{args.state}: {err.path}" if err.path else args.state)
        return EXIT_ERROR
    if args.format == "json":
        print(json.dumps(outcome.to_json()))
    else:
        print(f"{outcome.explanation} [{outcome.rule}]")
        if outcome.exit:
            print(f"VM exit: reason {outcome.reason} ({outcome.reason_name}), "
                  f"qualification {outcome.qualification or 0:#x}")
        elif outcome.guest_fault:
            print(f"no VM exit: the guest takes {outcome.guest_fault}")
        else:
            print("no VM exit")
    return EXIT_OK


# -- vmxspec check / replay ----------------------------------------------------------------------

def cmd_check(args: argparse.Namespace) -> int:
    from vmxspec.check.driver import check_paths
    from vmxspec.check.results import CheckOptions, exit_status
    from vmxspec.report.check_text import print_reports, reports_json
    from vmxspec.report.console import make_console

    if args.jobs < 0:
        _print_error("--jobs must be 0 (one per CPU) or a positive number of processes", "usage")
        return EXIT_ERROR
    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        for path in missing:
            _print_error("no such file or directory", "io-error", path)
        return EXIT_ERROR
    options = CheckOptions(timeout_ms=int(args.timeout * 1000), rlimit=args.rlimit, explain=args.explain)
    reports = check_paths(args.paths, options, jobs=args.jobs, bundle_dir=args.bundle_dir)
    if args.format == "json":
        print(json.dumps(reports_json(reports), indent=2))
    elif args.format == "sarif":
        from vmxspec.report.check_sarif import reports_sarif

        print(json.dumps(reports_sarif(reports), indent=2))
    elif args.format == "junit":
        from vmxspec.report.check_junit import reports_junit

        print(reports_junit(reports))
    else:
        print_reports(make_console(sys.stdout), reports)
    verdicts = [r.verdict for report in reports for r in report.results]
    return exit_status(verdicts, had_errors=any(report.had_errors for report in reports))


def cmd_replay(args: argparse.Namespace) -> int:
    from vmxspec.check.replay import replay

    try:
        doc = _read_json(args.counterexample)
        if isinstance(doc, dict) and "counterexample" in doc:
            doc = doc["counterexample"]
        if not isinstance(doc, dict) or not all(k in doc for k in ("state", "query", "expect")):
            raise StateError("bad-shape", "a counterexample is an object with 'state', 'query' and 'expect' "
                             "(as vmxspec check --format json writes it)")
        state, query, expect = doc["state"], doc["query"], doc["expect"]
        if not isinstance(state, dict) or not isinstance(query, dict) or not isinstance(expect, dict):
            raise StateError("bad-shape", "'state', 'query' and 'expect' must be objects")
    except StateError as err:
        _print_error(err.message, err.code, args.counterexample)
        return EXIT_ERROR
    result = replay(state, query, expect)
    print(json.dumps(result.answer))
    if result.confirmed:
        print("confirmed: the reference interpreter reproduces the violation")
        return EXIT_VIOLATED
    print(f"not confirmed: {result.why}")
    return EXIT_ERROR


# -- vmxspec eval --------------------------------------------------------------------------------

def _lines(stream: Iterable[bytes]) -> Iterable[bytes]:
    for raw in stream:
        if raw.strip():
            yield raw


def eval_stream(stream: Iterable[bytes], out: TextIO) -> int:
    """Answer every non-blank line of ``stream``; 2 if any answer is an error object."""
    from vmxspec.questions import answer_line
    from vmxspec.state.errors import StateError as _StateError

    status = EXIT_OK
    for raw in _lines(stream):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            answer: dict[str, object] = _StateError("json-syntax", f"not UTF-8 text (byte {exc.start})").to_json()
        else:
            answer = answer_line(line)
        if "error" in answer:
            status = EXIT_ERROR
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    status = EXIT_OK
    if not args.files:
        return eval_stream(sys.stdin.buffer, sys.stdout)
    for path in args.files:
        try:
            with (sys.stdin.buffer if path == "-" else open(path, "rb")) as stream:
                status = max(status, eval_stream(stream, sys.stdout))
        except OSError as exc:
            _print_error(f"cannot read: {exc.strerror or exc}", "io-error", path)
            status = EXIT_ERROR
    return status


# -- vmxspec explain -----------------------------------------------------------------------------

def cmd_explain(args: argparse.Namespace) -> int:
    from vmxspec.report.console import make_console
    from vmxspec.report.explain_text import print_explanation, render_rule_list
    from vmxspec.state.numbers import did_you_mean

    console = make_console(sys.stdout)
    if args.list or not args.id:
        console.print(render_rule_list())
        return EXIT_OK
    key = args.id
    item = RULES_BY_ID.get(key.upper()) or CODES_BY_ID.get(key.lower())
    if item is None:
        from vmxspec.properties import load_all

        properties = load_all()
        prop = properties.get(key.lower())
        if prop is not None:
            print(f"{prop.name}: {prop.summary}\n\n{prop.doc}")
            return EXIT_OK
        hint = did_you_mean(key, [*RULES_BY_ID, *CODES_BY_ID, *properties])
        _print_error(f"no rule or diagnostic code '{key}'{hint}", "usage")
        return EXIT_ERROR
    print_explanation(console, item)
    return EXIT_OK


# -- vmxspec fmt ---------------------------------------------------------------------------------

def cmd_fmt(args: argparse.Namespace) -> int:
    """Print, check or rewrite spec files in the canonical form of ``vmxspec.syntax.printer``.

    Without options the canonical text goes to standard output (several files one after another)
    and nothing on disk changes, so ``vmxspec fmt x.vmx | diff x.vmx -`` is safe to try. ``--check``
    is for CI: it lists the files that are not canonical and exits 1, writing nothing. ``--write``
    rewrites those files in place (atomically, through a temporary file in the same directory) and
    lists them. A file that does not parse is never touched: its diagnostics go to standard error
    and the exit code is 2, after every other file has been handled, so one broken spec does not
    hide the state of the rest. Directories are searched recursively for ``*.vmx`` files; ``-``
    is standard input (not with ``--write``).
    """
    import os
    import tempfile

    from vmxspec.diagnostics import render_all
    from vmxspec.syntax import try_parse, try_parse_bytes
    from vmxspec.syntax.printer import print as canonical

    if args.write and "-" in args.paths:
        _print_error("--write cannot rewrite standard input ('-')", "usage")
        return EXIT_ERROR
    files: list[str] = []
    errors = False
    for raw in args.paths:
        path = Path(raw)
        if raw != "-" and path.is_dir():
            files.extend(str(p) for p in sorted(path.rglob("*.vmx")) if p.is_file())
        elif raw == "-" or path.is_file():
            files.append(raw)
        else:
            _print_error("no such file or directory", "io-error", raw)
            errors = True
    unformatted = False
    for name in files:
        try:
            data = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as exc:
            _print_error(f"cannot read: {exc.strerror or exc}", "io-error", name)
            errors = True
            continue
        shown = "<stdin>" if name == "-" else name
        result = try_parse_bytes(data, shown)
        if result.spec is None:
            print(render_all(result.diagnostics, {shown: result.text or ""}), file=sys.stderr)
            errors = True
            continue
        text = canonical(result.spec)
        if not args.check and not args.write:
            sys.stdout.write(text)
            continue
        if text.encode("utf-8") == data:
            continue
        unformatted = True
        print(name)
        if not args.write:
            continue
        # Never write a text that reads differently from the original: that would be a formatter
        # bug destroying a user's file, so it is reported instead.
        again = try_parse(text, shown)
        if again.spec != result.spec:
            _print_error("the canonical form would change the spec's meaning; file left unchanged",
                         "internal-error", name)
            errors = True
            continue
        target = Path(name)
        temporary: str | None = None
        try:
            with tempfile.NamedTemporaryFile("wb", dir=target.parent, prefix=f".{target.name}.",
                                             suffix=".tmp", delete=False) as out:
                temporary = out.name
                out.write(text.encode("utf-8"))
            os.chmod(temporary, target.stat().st_mode & 0o7777)
            os.replace(temporary, target)
        except OSError as exc:
            _print_error(f"cannot write: {exc.strerror or exc}", "io-error", name)
            errors = True
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)
    if errors:
        return EXIT_ERROR
    return EXIT_VIOLATED if unformatted and args.check else EXIT_OK


# -- vmxspec state -------------------------------------------------------------------------------

def cmd_state(args: argparse.Namespace) -> int:
    from vmxspec.build.from_model import BuildError, build_state, state_document
    from vmxspec.diagnostics import render_all
    from vmxspec.sema import analyze

    sources: dict[str, str] = {}
    model, diagnostics = analyze(args.spec, sources=sources)
    if diagnostics:
        print(render_all(diagnostics, sources), file=sys.stderr)
    if model is None:
        return EXIT_ERROR
    try:
        built = build_state(model, args.vm)
    except BuildError as err:
        for d in err.diagnostics:
            if d.code == "usage":
                _print_error(d.message, d.code, args.spec)
            else:
                print(render_all([d], sources), file=sys.stderr)
        return EXIT_ERROR
    text = json.dumps(state_document(built, args.spec), indent=2) + "\n"
    if args.output is None or args.output == "-":
        sys.stdout.write(text)
        return EXIT_OK
    try:
        Path(args.output).write_text(text, encoding="utf-8")
    except OSError as exc:
        _print_error(f"cannot write: {exc.strerror or exc}", "io-error", args.output)
        return EXIT_ERROR
    return EXIT_OK


# -- entry point ---------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmxspec", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"vmxspec {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    why = sub.add_parser("why", help="name every VM-entry check a VMCS (vmxspec-state/1 JSON) violates")
    why.add_argument("states", nargs="+", metavar="STATE", help="state files ('-' for standard input)")
    why.add_argument("--checks", help="comma-separated subset of controls,host,guest,msr_load")
    why.add_argument("--format", choices=("text", "json"), default="text")
    why.add_argument("--platform", help="fill capabilities the state leaves out from this preset")
    why.set_defaults(func=cmd_why)

    walk = sub.add_parser("walk", help="walk the EPT for one guest-physical access, level by level")
    walk.add_argument("state", metavar="STATE", help="state file ('-' for standard input)")
    walk.add_argument("--gpa", required=True, help="guest-physical address (0x... or decimal)")
    walk.add_argument("--access", choices=("read", "write", "fetch"), default="read")
    walk.add_argument("--user", action="store_true", help="the linear address is a user-mode address")
    walk.add_argument("--paging-structure", action="store_true",
                      help="the access is the CPU's own access to a guest paging structure")
    walk.add_argument("--eptp", help="walk from this EPT pointer instead of the VMCS's EPT_POINTER")
    walk.add_argument("--format", choices=("text", "json"), default="text")
    walk.add_argument("--platform", help="fill capabilities the state leaves out from this preset")
    walk.set_defaults(func=cmd_walk)

    dma = sub.add_parser("dma", help="translate one DMA request through VT-d, table by table")
    dma.add_argument("state", metavar="STATE", help="state file ('-' for standard input)")
    dma.add_argument("--device", required=True, help="requester as BB:DD.F (or SSSS:BB:DD.F)")
    dma.add_argument("--iova", required=True, help="the address the device uses (0x... or decimal)")
    dma.add_argument("--access", choices=("read", "write"), default="read")
    dma.add_argument("--pasid", help="process address-space id of a request with PASID")
    dma.add_argument("--at", choices=("untranslated", "translated"), default="untranslated",
                     help="address type: translated is an ATS-translated request")
    dma.add_argument("--privileged", action="store_true", help="supervisor request (with PASID)")
    dma.add_argument("--format", choices=("text", "json"), default="text")
    dma.set_defaults(func=cmd_dma)

    ex_ = sub.add_parser("exit", help="does a guest event cause a VM exit? e.g. 'vmxspec exit S.json WRMSR ecx=0x1a0'")
    ex_.add_argument("state", metavar="STATE", help="state file ('-' for standard input)")
    ex_.add_argument("words", nargs="*", metavar="EVENT",
                     help="mnemonic or event kind, then key=value operands (ecx=0x174, port=0x60 size=1 ...)")
    ex_.add_argument("--event", dest="event_json", help="the event as a JSON object instead")
    ex_.add_argument("--format", choices=("text", "json"), default="text")
    ex_.add_argument("--platform", help="fill capabilities the state leaves out from this preset")
    ex_.set_defaults(func=cmd_exit)

    chk = sub.add_parser("check", help="check every prove statement of the specs (directories recursively)")
    chk.add_argument("paths", nargs="+", metavar="PATH")
    chk.add_argument("--format", choices=("text", "json", "sarif", "junit"), default="text",
                     help="text for people; json, sarif (SARIF 2.1.0) or junit (JUnit XML) for CI")
    chk.add_argument("--timeout", type=float, default=30.0, help="seconds per solver call (default 30)")
    chk.add_argument("--rlimit", type=int, default=300_000_000, help="solver resource limit per call")
    chk.add_argument("--jobs", type=int, default=1,
                     help="check obligations (one per prove) in N parallel processes; 0: one per CPU "
                          "(default 1: in this process)")
    chk.add_argument("--explain", action="store_true",
                     help="for proofs, the spec lines they depend on; for violations, a counterexample that "
                          "changes as few open values as possible")
    chk.add_argument("--bundle-dir", default=".vmxspec/bundles",
                     help="where reproduction bundles of internal errors are written")
    chk.set_defaults(func=cmd_check)

    rep = sub.add_parser("replay", help="replay a saved counterexample in the reference interpreter")
    rep.add_argument("counterexample", metavar="CEX.json")
    rep.set_defaults(func=cmd_replay)

    ev = sub.add_parser("eval", help="answer interpreter questions (JSON Lines) from files or standard input")
    ev.add_argument("files", nargs="*", metavar="FILE")
    ev.set_defaults(func=cmd_eval)

    st = sub.add_parser("state", help="write the concrete state (vmxspec-state/1 JSON) a spec determines")
    st.add_argument("spec", metavar="SPEC", help="a .vmx spec with no value left open ('any')")
    st.add_argument("--vm", help="the VM whose VMCS the state holds (needed when the spec has several)")
    st.add_argument("-o", "--output", metavar="FILE", help="write the state here instead of standard output")
    st.set_defaults(func=cmd_state)

    ex = sub.add_parser("explain", help="explain a rule id, a diagnostic code or a built-in property")
    ex.add_argument("id", nargs="?", metavar="ID")
    ex.add_argument("--list", action="store_true", help="list every rule")
    ex.set_defaults(func=cmd_explain)

    fmt = sub.add_parser("fmt", help="print spec files (.vmx) in canonical form, or check or rewrite them",
                         description="Print the canonical form of each spec to standard output. "
                                     "Directories are searched recursively for *.vmx files; '-' is standard "
                                     "input. Exit 0 when done, 1 when --check finds a file not in canonical "
                                     "form, 2 when a file cannot be read or does not parse.")
    fmt.add_argument("paths", nargs="+", metavar="PATH", help="spec files or directories ('-' for standard input)")
    mode = fmt.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; list the files not in canonical form and exit 1 if there are any")
    mode.add_argument("--write", action="store_true",
                      help="rewrite the files not in canonical form in place, and list them")
    fmt.set_defaults(func=cmd_fmt)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt:
        return EXIT_ERROR
    except BrokenPipeError:
        return EXIT_ERROR
    return status


if __name__ == "__main__":
    sys.exit(main())
