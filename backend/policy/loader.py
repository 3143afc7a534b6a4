"""Loading a policy set from directories: file selection, includes, ``!compat-4.0``."""

from __future__ import annotations

import logging
import os
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

from backend.policy.errors import PolicyLoadError, PolicySyntaxError
from backend.policy.rules import (
    RPCNAME_CHARS,
    Directive,
    DirectiveKind,
    Rule,
    build_rule,
    parse_legacy_line,
    parse_policy_line,
    split_lines,
    validate_service_argument,
)

log = logging.getLogger("backend.policy")

POLICY_SUFFIX = ".policy"
FILENAME_CHARS = frozenset(string.digits + string.ascii_lowercase + "_.-")
LEGACY_IGNORED_SUFFIXES = (".rpmsave", ".rpmnew", ".swp")
MAX_INCLUDE_DEPTH = 64

StrPath = str | os.PathLike[str]


@dataclass(frozen=True)
class Policy:
    """A loaded policy set. With ``error`` set it has no rules and denies every call."""

    rules: tuple[Rule, ...] = ()
    error: PolicyLoadError | None = None
    files: tuple[Path, ...] = ()  # the top-level files, in load order


def policy_files(directory: Path) -> list[Path]:
    """The files of ``directory`` that count as policy, sorted; one bad name spoils all."""
    candidates = [
        path
        for path in directory.iterdir()
        if path.suffix == POLICY_SUFFIX and not path.name.startswith(".") and path.is_file()
    ]
    for path in candidates:
        if not set(path.name) <= FILENAME_CHARS:
            raise PolicyLoadError(path, None, "invalid file name (allowed: 0-9 a-z _ . -)")
    return sorted(candidates, key=lambda path: path.name)


def legacy_files(directory: Path) -> Iterator[tuple[str, str | None, Path]]:
    """``(service, argument or None, path)`` of the old per-service files, in load order:
    services sorted, argument-specific files first, the argument-less file last."""
    by_service: dict[str, dict[str | None, Path]] = {}
    for path in directory.iterdir():
        name = path.name
        if (
            name.startswith(".")
            or name.endswith(LEGACY_IGNORED_SUFFIXES)
            or not set(name) <= RPCNAME_CHARS
            or not path.is_file()
        ):
            log.debug("policy: ignoring legacy file %s", path)
            continue
        service, plus, argument = name.partition("+")
        if not service:
            log.debug("policy: ignoring legacy file %s (no service name)", path)
            continue
        by_service.setdefault(service, {})[plus + argument if plus else None] = path
    for service in sorted(by_service):
        arguments = by_service[service]
        for argument in sorted(arg for arg in arguments if arg is not None):
            yield service, argument, arguments[argument]
        if None in arguments:
            yield service, None, arguments[None]


def _read_lines(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError as err:
        raise PolicyLoadError(path, None, f"cannot read: {err.strerror or err}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        lineno = data.count(b"\n", 0, err.start) + 1
        raise PolicySyntaxError(path, lineno, "not valid UTF-8") from None
    return split_lines(text)


class _Loader:
    """Accumulates rules while following directives; raises on the first error."""

    def __init__(self, legacy_dir: Path | None) -> None:
        self.rules: list[Rule] = []
        self.legacy_dir = legacy_dir
        self._stack: list[Path] = []

    def _enter(self, path: Path, directive: Directive | None) -> None:
        resolved = path.resolve()
        if resolved in self._stack or len(self._stack) >= MAX_INCLUDE_DEPTH:
            where = directive.path if directive else path
            lineno = directive.lineno if directive else None
            raise PolicySyntaxError(where, lineno, f"include loop: {path}")
        self._stack.append(resolved)

    def load_file(self, path: Path, base: Path, directive: Directive | None = None) -> None:
        self._enter(path, directive)
        try:
            for lineno, line in enumerate(_read_lines(path), start=1):
                item = parse_policy_line(line, path=path, lineno=lineno)
                if isinstance(item, Rule):
                    self.rules.append(item)
                elif isinstance(item, Directive):
                    self._directive(item, base)
        finally:
            self._stack.pop()

    def load_service_file(
        self,
        service: str | None,
        argument: str | None,
        path: Path,
        base: Path,
        directive: Directive | None = None,
    ) -> None:
        self._enter(path, directive)
        try:
            for lineno, line in enumerate(_read_lines(path), start=1):
                item = parse_legacy_line(service, argument, line, path=path, lineno=lineno)
                if isinstance(item, Rule):
                    self.rules.append(item)
                elif isinstance(item, Directive):
                    included = self._file(base, item.params[0], item)
                    self.load_service_file(service, argument, included, base, item)
        finally:
            self._stack.pop()

    def _directive(self, directive: Directive, base: Path) -> None:
        kind, params = directive.kind, directive.params
        if kind is DirectiveKind.INCLUDE:
            self.load_file(self._file(base, params[0], directive), base, directive)
        elif kind is DirectiveKind.INCLUDE_DIR:
            directory = self._path(base, params[0])
            if not directory.is_dir():
                raise PolicySyntaxError(
                    directive.path, directive.lineno, f"not a directory: {directory}"
                )
            for path in policy_files(directory):
                self.load_file(path, base, directive)
        elif kind is DirectiveKind.INCLUDE_SERVICE:
            service, argument = validate_service_argument(
                params[0], params[1], path=directive.path, lineno=directive.lineno
            )
            path = self._file(base, params[2], directive)
            self.load_service_file(service, argument, path, base, directive)
        else:
            self._compat_40(directive)

    def _compat_40(self, directive: Directive) -> None:
        log.warning(
            "policy: !compat-4.0 in %s:%s is transitional", directive.path, directive.lineno
        )
        legacy_dir = self.legacy_dir
        if legacy_dir is None or not legacy_dir.is_dir():
            log.info("policy: no legacy policy directory, !compat-4.0 adds nothing")
            return
        for service, argument, path in legacy_files(legacy_dir):
            self.load_service_file(service, argument, path, legacy_dir, directive)
            if argument is None:
                continue  # falls through to later v5 rules (the 4.1 change)
            for target in ("@anyvm", "@adminvm"):
                # the old implicit "deny if nothing matched", for this argument only
                self.rules.append(
                    build_rule(service, argument, "@anyvm", target, "deny", (), path=path)
                )

    @staticmethod
    def _path(base: Path, text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else base / path

    def _file(self, base: Path, text: str, directive: Directive) -> Path:
        path = self._path(base, text)
        if not path.is_file():
            raise PolicySyntaxError(directive.path, directive.lineno, f"not a file: {path}")
        return path


def _top_level_files(directories: Sequence[Path]) -> list[Path]:
    existing = [directory for directory in directories if directory.is_dir()]
    if not existing:
        raise PolicyLoadError(directories[0], None, "policy directory does not exist")
    by_name: dict[str, Path] = {}
    for directory in existing:
        try:
            files = policy_files(directory)
        except OSError as err:
            raise PolicyLoadError(directory, None, f"cannot list: {err.strerror}") from None
        for path in files:
            by_name.setdefault(path.name, path)  # the earlier directory shadows
    return [by_name[name] for name in sorted(by_name)]


def load_policy(
    policy_dirs: StrPath | Sequence[StrPath], legacy_dir: StrPath | None = None
) -> Policy:
    """Load every ``*.policy`` file of ``policy_dirs`` (merged by name, the first
    directory shadowing the later ones) in lexical order, following the directives.

    Never raises for a bad policy: the returned :class:`Policy` then carries the error.
    Relative include paths are taken from the directory of the top-level file being
    loaded, as upstream does; a directory that does not exist contributes no files.
    """
    if isinstance(policy_dirs, str | os.PathLike):
        policy_dirs = [policy_dirs]
    directories = [Path(directory) for directory in policy_dirs]
    if not directories:
        return Policy(error=PolicyLoadError("<none>", None, "no policy directory given"))
    loader = _Loader(Path(legacy_dir) if legacy_dir is not None else None)
    try:
        files = _top_level_files(directories)
        for path in files:
            loader.load_file(path, path.parent)
    except PolicyLoadError as err:
        log.error("policy: every call is denied: %s", err)
        return Policy(error=err)
    except OSError as err:
        error = PolicyLoadError(err.filename or directories[0], None, str(err))
        log.error("policy: every call is denied: %s", error)
        return Policy(error=error)
    return Policy(rules=tuple(loader.rules), files=tuple(files))


def parse_policy_text(text: str, *, path: PurePath | str = "<string>") -> Policy:
    """A policy from one file's text, without directives (for tools and tests)."""
    rules = []
    try:
        for lineno, line in enumerate(split_lines(text), start=1):
            item = parse_policy_line(line, path=path, lineno=lineno)
            if isinstance(item, Directive):
                raise PolicySyntaxError(path, lineno, "directives need a policy directory")
            if item is not None:
                rules.append(item)
    except PolicyLoadError as err:
        return Policy(error=err)
    return Policy(rules=tuple(rules))
