"""Where sema's passes put their diagnostics.

One ``Reporter`` collects every diagnostic of an analysis, each with a registered code (whose
severity the registry fixes: a pass never decides on its own whether something is an error).
Passes keep going after an error so that one run reports everything it can; ``errors`` tells the
driver whether a model may be returned.
"""

from __future__ import annotations

from vmxspec.codes import Severity, code
from vmxspec.diagnostics import Diagnostic, Note, Span


class Reporter:
    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []
        self.errors = 0

    def report(self, code_id: str, message: str, span: Span, *notes: Note) -> None:
        severity = code(code_id).severity
        if severity is Severity.ERROR:
            self.errors += 1
        self.diagnostics.append(Diagnostic(severity, code_id, message, span, tuple(notes)))

    def extend(self, diagnostics: tuple[Diagnostic, ...] | list[Diagnostic]) -> None:
        for d in diagnostics:
            if d.severity is Severity.ERROR:
                self.errors += 1
            self.diagnostics.append(d)


def note(message: str, span: Span | None = None) -> Note:
    return Note(message, span)
