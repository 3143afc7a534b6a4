"""Talking to a real qubesd: the bulk method is optional and older answers are tolerated.

``Upstream`` wraps the transport to the demo daemon and answers some calls the way a
real qubesd of some version does (admin-api.md §5.4), so the same cache is checked
against both behaviours.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import pytest

from backend.client import AdminClient, QubeSnapshot, SystemCache, UnixTransport
from backend.client.bulk import METHOD as BULK_METHOD
from backend.client.transport import StreamContext
from backend.errors import ProtocolError
from backend.protocol import encode_error
from tests.backend.daemon.conftest import RunningDaemon

from .conftest import run

NO_SUCH_METHOD = encode_error(ProtocolError(f"no such method: {BULK_METHOD}"))


class Upstream:
    """Answers listed methods as an older or stricter qubesd would."""

    def __init__(self, inner: UnixTransport, answers: Mapping[str, bytes],
                 list_without_uuid: bool = False) -> None:
        self.inner = inner
        self.answers = answers
        self.list_without_uuid = list_without_uuid

    def describe(self) -> str:
        return "upstream"

    async def request(self, method: str, dest: str, arg: str, payload: bytes) -> bytes:
        if method in self.answers:
            return self.answers[method]
        response = await self.inner.request(method, dest, arg, payload)
        if method == "admin.vm.List" and self.list_without_uuid:  # before 4.3.9
            response = re.sub(rb" uuid=[0-9a-f-]+", b"", response)
        return response

    def stream(self, method: str, dest: str, arg: str = "") -> StreamContext:
        return self.inner.stream(method, dest, arg)


async def load(client: AdminClient) -> dict[str, QubeSnapshot]:
    cache = SystemCache(client)
    await cache.start()
    await cache.wait_details()
    await cache.close()
    return dict(cache.qubes)


def test_bulk_load_is_one_call_and_equals_the_per_qube_load(running: RunningDaemon) -> None:
    bulk_client = AdminClient(UnixTransport(running.socket_path))
    plain_client = AdminClient(Upstream(UnixTransport(running.socket_path),
                                        {BULK_METHOD: NO_SUCH_METHOD}))
    by_bulk = run(load(bulk_client))
    by_qube = run(load(plain_client))
    assert by_bulk == by_qube
    calls = bulk_client.stats.by_method
    assert calls[BULK_METHOD] == 1
    assert "admin.vm.property.GetAll" not in calls
    assert "admin.vm.feature.Get" not in calls and "admin.vm.tag.List" not in calls
    per_qube = plain_client.stats.by_method
    assert per_qube["admin.vm.property.GetAll"] == len(by_qube)


@pytest.mark.parametrize("answer", [NO_SUCH_METHOD, b""], ids=["ProtocolError", "empty"])
def test_missing_bulk_method_falls_back_to_upstream_calls(running: RunningDaemon,
                                                          answer: bytes) -> None:
    client = AdminClient(Upstream(UnixTransport(running.socket_path), {BULK_METHOD: answer}))

    async def main() -> SystemCache:
        cache = SystemCache(client)
        await cache.start()
        await cache.close()
        return cache

    cache = run(main())
    assert cache.bulk_supported is False
    assert cache.qubes["work"].prop("template") == "fedora-42"
    assert client.stats.by_method["admin.vm.List"] == 1


def test_list_without_uuid_and_refused_getall_are_tolerated(running: RunningDaemon) -> None:
    """qubesd before 4.3.9 has no ``uuid=``; before 4.4 a refusal is an empty answer."""
    upstream = Upstream(UnixTransport(running.socket_path),
                        {BULK_METHOD: b"", "admin.vm.property.GetAll": b""},
                        list_without_uuid=True)
    client = AdminClient(upstream)
    qubes = run(load(client))
    reference = run(load(AdminClient(UnixTransport(running.socket_path))))
    assert set(qubes) == set(reference)
    for name, qube in qubes.items():
        assert qube.uuid is None
        assert qube.properties == reference[name].properties  # one Get at a time instead
    assert client.stats.by_method["admin.vm.property.List"] == len(qubes)
