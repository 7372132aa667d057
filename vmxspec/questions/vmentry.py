"""``vmentry`` questions: would VMLAUNCH/VMRESUME of this VMCS pass the VM-entry checks?"""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.arch import vmcs_fields
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import ALL_STAGES, EntryResult, Violation, check_vm_entry
from vmxspec.state import State, StateError
from vmxspec.state.numbers import describe, did_you_mean

_QUERY_KEYS = ("kind", "checks")
_STAGE_NAMES = tuple(s.value for s in ALL_STAGES)


def parse_checks(value: object, path: str = "query.checks") -> tuple[Stage, ...]:
    if not isinstance(value, list) or not value:
        raise StateError("bad-query", f"'checks' is a non-empty list of {', '.join(_STAGE_NAMES)}, "
                         f"got {describe(value)}", path)
    stages = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in _STAGE_NAMES:
            hint = did_you_mean(item, _STAGE_NAMES) if isinstance(item, str) else ""
            raise StateError("bad-query", f"unknown check group {item!r}: expected one of "
                             f"{', '.join(_STAGE_NAMES)}{hint}", f"{path}[{i}]")
        stages.append(Stage(item))
    return tuple(stages)


def answer_vmentry(state: State, query: Mapping[str, object]) -> dict[str, object]:
    for key in query:
        if key not in _QUERY_KEYS and not key.startswith("x-"):
            raise StateError("unknown-key", f"unknown key '{key}'{did_you_mean(key, _QUERY_KEYS)}",
                             f"query.{key}")
    stages = parse_checks(query["checks"]) if "checks" in query else ALL_STAGES
    return result_json(state, check_vm_entry(state, stages))


def incomplete_error(result: EntryResult) -> StateError:
    """The error for a state that lacks data the checks need: no verdict rests on guessed zeros."""
    paths = [f"vmcs.{name}" for name in result.missing_fields]
    paths += [f"caps.{name}" for name in result.missing_caps]
    shown = ", ".join(paths[:6]) + (f" and {len(paths) - 6} more" if len(paths) > 6 else "")
    code = "missing-field" if result.missing_fields else "missing-capability"
    return StateError(code, f"the checks need {shown}, which the state does not give", paths[0])


def violation_json(state: State, v: Violation) -> dict[str, object]:
    out: dict[str, object] = {
        "rule": v.rule.id,
        "sdm": v.rule.section,
        "fields": list(v.fields),
        "message": v.message,
        "values": {name: f"{state.vmcs[name]:#x}" for name in v.fields
                   if name in vmcs_fields.BY_NAME and name in state.vmcs},
    }
    if v.exit_qualification is not None:
        out["exit_qualification"] = v.exit_qualification
    for key, value in v.details.items():
        out[key] = f"{value:#x}" if isinstance(value, int) and not isinstance(value, bool) else value
    return out


def result_json(state: State, result: EntryResult) -> dict[str, object]:
    if not result.complete:
        err = incomplete_error(result).to_json()
        err_obj = err["error"]
        assert isinstance(err_obj, dict)
        err_obj["missing"] = [*(f"vmcs.{n}" for n in result.missing_fields),
                              *(f"caps.{n}" for n in result.missing_caps)]
        return err
    answer: dict[str, object]
    if result.passed:
        answer = {"result": "pass"}
    else:
        answer = {
            "result": "fail",
            "vm_instruction_error": result.vm_instruction_error,
            "exit_reason": result.exit_reason,
        }
        if len(result.possible_errors) > 1:
            answer["possible_errors"] = result.possible_errors
        if result.exit_reason is not None:
            answer["exit_qualification"] = result.exit_qualification
        answer["violations"] = [violation_json(state, v) for v in result.violations]
    if result.unevaluated:
        # A pass with open checks is a pass of every check that could be decided; say which were not.
        answer["unevaluated"] = [{"rule": u.rule.id, "needs": u.needs, "message": u.message}
                                 for u in result.unevaluated]
    return answer
