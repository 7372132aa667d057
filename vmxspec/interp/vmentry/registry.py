"""The table from rule id to the interpreter function that implements it.

Check modules register with ``@check("RULE-ID")``; registering an id the catalogue does not have
fails at import, and a test asserts the converse (every catalogued rule has a check).
"""

from __future__ import annotations

from collections.abc import Callable

from vmxspec.arch.rules import BY_ID, Rule
from vmxspec.interp.vmentry.context import EntryContext, InternalError

CheckFn = Callable[[EntryContext, Rule], None]
CHECKS: dict[str, tuple[Rule, CheckFn]] = {}


def check(rule_id: str) -> Callable[[CheckFn], CheckFn]:
    rule = BY_ID.get(rule_id)
    if rule is None:
        raise InternalError(f"check registered for '{rule_id}', which is not in the rule catalogue")

    def register(fn: CheckFn) -> CheckFn:
        if rule_id in CHECKS:
            raise InternalError(f"two checks registered for '{rule_id}'")
        CHECKS[rule_id] = (rule, fn)
        return fn

    return register
