"""Errors of the policy engine: a base for the area, load and syntax errors with a place."""

from __future__ import annotations

from pathlib import PurePath


class PolicyError(Exception):
    """Base of every error raised by :mod:`backend.policy`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class PolicyLoadError(PolicyError):
    """The policy set cannot be used; while it stands, every call is denied.

    ``path`` is the file (or directory) at fault and ``lineno`` the line in it, when the
    fault is on a line.
    """

    def __init__(self, path: PurePath | str, lineno: int | None, message: str) -> None:
        super().__init__(message)
        self.path = PurePath(path)
        self.lineno = lineno

    @property
    def where(self) -> str:
        if self.lineno is None:
            return str(self.path)
        return f"{self.path}:{self.lineno}"

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class PolicySyntaxError(PolicyLoadError):
    """A line of a policy file is not valid."""

    def __init__(self, path: PurePath | str, lineno: int | None, message: str) -> None:
        super().__init__(path, lineno, message)


class SystemInfoError(PolicyError):
    """The system info handed to the engine is not of the expected shape."""
