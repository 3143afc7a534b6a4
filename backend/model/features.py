"""Features (string key → string value) and tags of a qube, with their events."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from backend.errors import QubesFeatureNotFoundError, QubesTagNotFoundError
from backend.model.names import validate_feature_name, validate_feature_value, validate_tag

if TYPE_CHECKING:
    from backend.model.vm import BaseVM


_MISSING = object()


def feature_truthy(value: str | None) -> bool:
    """Upstream truth: absent or "" is False; any other string, even "0", is True."""
    return bool(value)


class Features:
    """A qube's features; every change fires the ``domain-feature-*`` events."""

    def __init__(self, vm: BaseVM) -> None:
        self.vm = vm
        self._data: dict[str, str] = {}

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def items(self) -> list[tuple[str, str]]:
        return sorted(self._data.items())

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def __getitem__(self, name: str) -> str:
        try:
            return self._data[name]
        except KeyError:
            raise QubesFeatureNotFoundError(self.vm.name, name) from None

    def load(self, name: str, value: str) -> None:
        self._data[name] = value

    def set(self, name: str, value: str | bool) -> None:
        validate_feature_name(name)
        if isinstance(value, bool):
            value = "1" if value else ""
        validate_feature_value(value)
        extra = {"oldvalue": self._data[name]} if name in self._data else {}
        self.vm.fire(f"domain-feature-pre-set:{name}", feature=name, value=value, **extra)
        self._data[name] = value
        self.vm.fire(f"domain-feature-set:{name}", feature=name, value=value, **extra)
        self.vm.on_feature_changed(name)

    def remove(self, name: str) -> None:
        if name not in self._data:
            raise QubesFeatureNotFoundError(self.vm.name, name)
        self.vm.fire(f"domain-feature-pre-delete:{name}", feature=name)
        del self._data[name]
        self.vm.fire(f"domain-feature-delete:{name}", feature=name)
        self.vm.on_feature_changed(name)

    def discard(self, name: str) -> None:
        if name in self._data:
            self.remove(name)

    # --- the lookup helpers of the Admin API ---------------------------------------
    def check_with_template(self, name: str) -> str:
        value = self.check_with_template_or(name, _MISSING)
        if value is _MISSING:
            raise QubesFeatureNotFoundError(self.vm.name, name)
        return str(value)

    def check_with_netvm(self, name: str) -> str:
        vm: Any = self.vm
        seen: set[int] = set()
        while vm is not None and id(vm) not in seen:
            seen.add(id(vm))
            if name in vm.features._data:
                return str(vm.features._data[name])
            vm = vm.get_or("netvm") if "netvm" in vm.PROPS else None
        raise QubesFeatureNotFoundError(self.vm.name, name)

    def check_with_template_or(self, name: str, default: Any) -> Any:
        # a loop, not exceptions: computed defaults ask this for every property read
        vm: Any = self.vm
        while vm is not None:
            data = vm.features._data
            if name in data:
                return data[name]
            vm = vm.template
        return default

    def check_with_netvm_or(self, name: str, default: Any) -> Any:
        try:
            return self.check_with_netvm(name)
        except QubesFeatureNotFoundError:
            return default

    def check_with_adminvm(self, name: str) -> str:
        if name in self._data:
            return self._data[name]
        dom0 = self.vm.app.domains.get(0)
        if dom0 is not None and name in dom0.features._data:
            return str(dom0.features._data[name])
        raise QubesFeatureNotFoundError(self.vm.name, name)

    def check_with_template_and_adminvm(self, name: str) -> str:
        try:
            return self.check_with_template(name)
        except QubesFeatureNotFoundError:
            pass
        dom0 = self.vm.app.domains.get(0)
        if dom0 is not None and name in dom0.features._data:
            return str(dom0.features._data[name])
        raise QubesFeatureNotFoundError(self.vm.name, name)


class Tags:
    """A qube's tags; adding a present tag is a silent no-op (no event)."""

    def __init__(self, vm: BaseVM) -> None:
        self.vm = vm
        self._data: set[str] = set()

    def __contains__(self, tag: object) -> bool:
        return tag in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._data))

    def __len__(self) -> int:
        return len(self._data)

    def load(self, tag: str) -> None:
        self._data.add(tag)

    def add(self, tag: str) -> None:
        validate_tag(tag)
        if tag in self._data:
            return
        self._data.add(tag)
        self.vm.fire(f"domain-tag-add:{tag}", tag=tag)

    def remove(self, tag: str) -> None:
        if tag not in self._data:
            raise QubesTagNotFoundError(self.vm.name, tag)
        self._data.remove(tag)
        self.vm.fire(f"domain-tag-delete:{tag}", tag=tag)

    def discard(self, tag: str) -> None:
        if tag in self._data:
            self.remove(tag)
