"""Shared test states: the KVM-like baseline and small helpers to break it one field at a time."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from vmxspec.state import State, load_state

ROOT = Path(__file__).resolve().parent.parent
BASELINE_PATH = ROOT / "examples" / "states" / "kvm-baseline.json"
_BASELINE_DOC = json.loads(BASELINE_PATH.read_text())


def baseline_doc() -> dict[str, object]:
    """A fresh copy of the baseline as JSON data (safe to mutate)."""
    return copy.deepcopy(_BASELINE_DOC)


def baseline(**fields: int) -> State:
    """The baseline state, with the given VMCS fields overridden."""
    state = load_state(baseline_doc())
    state.vmcs.update(fields)
    return state


def rule_ids(state: State, stages: tuple[str, ...] = ("controls", "host", "guest", "msr_load")) -> set[str]:
    """The ids of every rule the state violates (asserting the state was complete)."""
    from vmxspec.arch.rules import Stage
    from vmxspec.interp.vmentry import check_vm_entry

    result = check_vm_entry(state, tuple(Stage(s) for s in stages))
    assert result.complete, (result.missing_fields, result.missing_caps)
    return {v.rule.id for v in result.violations}
