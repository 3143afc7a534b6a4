"""admin.vm.notes.Get / Set."""

from __future__ import annotations

import pytest

from backend.api.methods.qubes_notes import check_notes_size
from backend.errors import ProtocolError

from .conftest import RunningDaemon
from .test_api_qubes_helpers import error, ok


def test_a_qube_without_notes_has_empty_notes(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.notes.Get", "work") == ok()


def test_set_then_get_round_trips_utf8_text_and_keeps_it_in_the_qube_dir(
    running: RunningDaemon,
) -> None:
    text = "Bank \u00e9\u00e8 \u2603\nline two\n\ttabbed"
    assert running.raw("admin.vm.notes.Set", "work", payload=text.encode()) == ok()
    assert running.raw("admin.vm.notes.Get", "work") == ok(text)
    path = running.state_dir / "appvms" / "work" / "notes.txt"
    assert path.read_text(encoding="utf-8") == text


def test_characters_unsafe_for_display_become_underscores(running: RunningDaemon) -> None:
    payload = "a\x07b\u202ec\x00d".encode() + b"\xff"
    running.call("admin.vm.notes.Set", "work", payload=payload)
    assert running.call("admin.vm.notes.Get", "work") == "a_b_c_d_"


def test_empty_payload_clears_the_notes(running: RunningDaemon) -> None:
    running.call("admin.vm.notes.Set", "work", payload=b"something")
    running.call("admin.vm.notes.Set", "work")
    assert running.call("admin.vm.notes.Get", "work") == ""


def test_notes_of_a_template_live_in_its_own_dir(running: RunningDaemon) -> None:
    running.call("admin.vm.notes.Set", "fedora-42", payload=b"base")
    assert (running.state_dir / "vm-templates" / "fedora-42" / "notes.txt").read_text() == "base"
    assert running.call("admin.vm.notes.Get", "work") == ""


@pytest.mark.parametrize("method", ["admin.vm.notes.Get", "admin.vm.notes.Set"])
def test_dom0_has_no_notes(running: RunningDaemon, method: str) -> None:
    assert running.raw(method, "dom0") == error(
        "ProtocolError", "expected destination to not be AdminVM"
    )


def test_notes_take_an_argument_nowhere(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError, match="unexpected argument"):
        running.call("admin.vm.notes.Set", "work", "x", b"text")


def test_notes_over_256000_bytes_are_refused() -> None:
    # the socket's 64 KiB request limit comes first; the handler checks anyway
    check_notes_size(b"x" * 256_000)
    with pytest.raises(ProtocolError, match="256000 bytes"):
        check_notes_size(b"x" * 256_001)
