"""One place that decides how rich writes: fixed width and no colour when not on a terminal, so
golden tests and CI logs see exactly what a person would, minus the escape codes."""

from __future__ import annotations

import os
from typing import TextIO

from rich.console import Console


def make_console(file: TextIO, width: int | None = None) -> Console:
    is_tty = file.isatty()
    if width is None:
        width = None if is_tty else int(os.environ.get("COLUMNS", "120"))
    return Console(file=file, width=width, force_terminal=is_tty, color_system="auto" if is_tty else None,
                   highlight=False, emoji=False, soft_wrap=False)
