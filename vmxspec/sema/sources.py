"""Reading a spec and everything it imports, in dependency order.

``import "relative/path.vmx"`` is resolved against the importing file's directory. Imports may not
leave the *root directory*, the directory of the spec being analysed: a spec tree is a directory
that can be checked out and checked on its own, and a spec that reads ``../../etc/x`` is not.
Each file is read once (a file imported twice, through two paths, is one file); an import that
leads back to a file still being read is a cycle, reported with the whole chain.

Display paths (the ``path`` of spans and diagnostics) are the root's path as given, and, for an
imported file, the importing file's display directory joined with the import string, normalised:
what a user would type to open the file from where they ran vmxspec.
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from vmxspec.diagnostics import Span
from vmxspec.sema.reporter import Reporter, note
from vmxspec.syntax import ast, try_parse_bytes


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One parsed file: ``path`` as shown to users, ``real`` its resolved location (None for a
    tree that was not read from a file)."""

    path: str
    real: Path | None
    spec: ast.SpecFile


class _Loader:
    def __init__(self, root_dir: Path, reporter: Reporter, sources: dict[str, str]) -> None:
        self.root_dir = root_dir
        self.reporter = reporter
        self.sources = sources
        self.order: list[SourceFile] = []
        self.done: set[Path] = set()
        self.stack: list[tuple[Path | None, str]] = []

    def visit(self, real: Path | None, display: str, spec: ast.SpecFile) -> None:
        self.stack.append((real, display))
        for item in spec.items:
            if isinstance(item, ast.Import):
                self.follow(item, real, display)
        self.stack.pop()
        if real is not None:
            self.done.add(real)
        self.order.append(SourceFile(display, real, spec))

    def follow(self, item: ast.Import, importer: Path | None, importer_display: str) -> None:
        where = _string_span(item)
        written = item.path
        if not written.strip():
            self.reporter.report("sema-import-missing", "an import needs a path: import \"relative/path.vmx\"", where)
            return
        if os.path.isabs(written) or written.startswith("~"):
            self.reporter.report("sema-import-escape", f"'{written}' is an absolute path; imports are relative to the "
                                 "importing file", where)
            return
        base = importer.parent if importer is not None else self.root_dir
        target = (base / written).resolve()
        display = posixpath.normpath(posixpath.join(posixpath.dirname(importer_display), written.replace("\\", "/")))
        if not target.is_relative_to(self.root_dir):
            self.reporter.report("sema-import-escape", f"'{written}' leaves the root directory: a spec may only import "
                                 "files in or below the directory of the spec being analysed", where)
            return
        chain = [real for real, _ in self.stack]
        if target in chain:
            first = chain.index(target)
            names = [d for _, d in self.stack[first:]] + [display]
            self.reporter.report("sema-import-cycle", f"import cycle: {' -> '.join(names)}", where,
                                 note(f"'{display}' is already being read: a file cannot import itself, directly or "
                                      "through other files"))
            return
        if target in self.done:
            return
        try:
            data = target.read_bytes()
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            self.reporter.report("sema-import-missing", f"cannot read '{display}': {reason}", where)
            return
        result = try_parse_bytes(data, display)
        if result.text is not None:
            self.sources[display] = result.text
        if result.spec is None:
            self.reporter.extend(result.diagnostics)
            self.done.add(target)
            return
        self.visit(target, display, result.spec)


def _string_span(item: ast.Import) -> Span:
    """The span of the quoted path (the import's last token)."""
    s = item.span
    start = s.end_column - len(item.path) - 2
    if s.line == s.end_line and start >= s.column:
        return Span(s.path, s.end_line, start, s.end_line, s.end_column)
    return s


def load(root: ast.SpecFile, real: Path | None, reporter: Reporter, sources: dict[str, str]) -> list[SourceFile]:
    """The root file and every file it imports, each after the files it imports (the root last)."""
    root_dir = (real.parent if real is not None else Path.cwd()).resolve()
    loader = _Loader(root_dir, reporter, sources)
    loader.visit(real.resolve() if real is not None else None, root.span.path, root)
    return loader.order
