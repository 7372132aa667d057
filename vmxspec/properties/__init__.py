"""Built-in properties: each has a stable name, documentation, and a check.

A property module registers itself with ``@register``; the driver (``vmxspec.check.driver``)
looks properties up by the name a ``prove`` statement uses. User assertions (``prove CONDITION``)
are the property named ``assert``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from vmxspec.check.results import CheckOptions, Outcome
from vmxspec.sema.model import Model, Proof


@dataclass(frozen=True, slots=True)
class PropertyContext:
    model: Model
    proof: Proof
    options: CheckOptions
    #: The text of every spec file read (display path -> text), for messages that quote it.
    sources: Mapping[str, str]


CheckFn = Callable[[PropertyContext], Outcome]


@dataclass(frozen=True, slots=True)
class BuiltinProperty:
    name: str
    summary: str
    doc: str
    check: CheckFn


PROPERTIES: dict[str, BuiltinProperty] = {}


def register(name: str, summary: str, doc: str) -> Callable[[CheckFn], CheckFn]:
    def add(fn: CheckFn) -> CheckFn:
        if name in PROPERTIES:
            raise RuntimeError(f"property '{name}' registered twice")
        PROPERTIES[name] = BuiltinProperty(name, summary, doc, fn)
        return fn
    return add


def load_all() -> Mapping[str, BuiltinProperty]:
    """Import every property module (they register on import) and return the registry."""
    import importlib
    import pkgutil

    for info in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{info.name}")
    return PROPERTIES
