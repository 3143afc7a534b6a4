"""Fuzzed requests never crash the daemon, and a refused request changes nothing."""

from __future__ import annotations

import socket
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.protocol import encode_request

from .conftest import RunningDaemon

QUBES = ["dom0", "work", "sys-net", "fedora-42", "default-dvm", "nosuch", "uuid:bad", ""]
ARGS = ["", "netvm", "label", "memory", "root", "private", "gui", "x" * 40, "+", "a+b",
        "sys-usb+2-1+_", "force", "ok"]


def send_raw(running: RunningDaemon, data: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(str(running.socket_path))
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def state_of(running: RunningDaemon) -> Any:
    return running.in_loop(lambda: running.daemon.system.document())


def method_names(running: RunningDaemon) -> list[str]:
    names = running.in_loop(lambda: sorted(running.daemon.table.names()))
    # streams never end and lifecycle calls are exercised elsewhere
    return [n for n in names if n not in ("admin.Events", "admin.vm.Stats")
            and "{" not in n and not n.startswith(("admin.vm.Start", "admin.vm.Create",
                                                    "admin.vm.Remove", "admin.vm.Kill",
                                                    "admin.vm.Shutdown", "admin.vm.Pause",
                                                    "admin.vm.Suspend"))]


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_calls_never_crash_and_refusals_change_nothing(
    running: RunningDaemon, data: st.DataObject
) -> None:
    names = method_names(running)
    method = data.draw(st.sampled_from(names))
    dest = data.draw(st.sampled_from(QUBES))
    arg = data.draw(st.sampled_from(ARGS) | st.text(
        alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), max_size=20))
    payload = data.draw(st.binary(max_size=64) | st.sampled_from(
        [b"", b"True", b"0", b"-1", b"red", b"sys-net", b"name=x label=red", b"\xff\xfe"]))
    before = state_of(running)
    try:
        request = encode_request(method, dest, arg, payload)
    except ValueError:
        return
    reply = send_raw(running, request)
    assert reply[:2] in (b"0\0", b"2\0", b""), reply[:50]
    if not reply.startswith(b"0\0"):
        assert state_of(running) == before, (method, dest, arg, payload, reply)
    # still serving
    assert send_raw(running, encode_request("admin.vm.List", "dom0")).startswith(b"0\0")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_garbage_requests_never_crash(running: RunningDaemon, raw: bytes) -> None:
    before = state_of(running)
    reply = send_raw(running, raw)
    assert reply[:2] in (b"0\0", b"2\0", b"")
    if not reply.startswith(b"0\0"):
        assert state_of(running) == before
    assert send_raw(running, encode_request("admin.vm.List", "dom0")).startswith(b"0\0")
