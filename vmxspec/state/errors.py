"""The one exception type of the state reader: it carries a stable code and a JSON path."""

from __future__ import annotations


class StateError(Exception):
    def __init__(self, code: str, message: str, path: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.path = path

    def to_json(self) -> dict[str, object]:
        err: dict[str, object] = {"code": self.code, "message": self.message}
        if self.path:
            err["path"] = self.path
        return {"error": err}
