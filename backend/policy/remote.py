"""Fetch the system info for the policy engine from a running daemon."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Mapping
from typing import Any

from backend.protocol import decode_response, encode_request

DEFAULT_SOCKET = "/var/run/qubesd.sock"


def fetch_system_info(socket_path: str | None) -> Mapping[str, Any]:
    """``internal.GetSystemInfo`` from the daemon at ``socket_path`` (or the default)."""
    path = socket_path or os.environ.get("QUBESD_SOCKET") or DEFAULT_SOCKET
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(30)
        sock.connect(path)
        sock.sendall(encode_request("internal.GetSystemInfo", "dom0"))
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    data = json.loads(decode_response(b"".join(chunks)))
    if not isinstance(data, dict):
        raise ValueError("the daemon sent system info that is not an object")
    return data
