"""Pure helpers of the lifecycle: live XML facts, argument parsing, error translation."""

from __future__ import annotations

import pytest

from backend.api.methods.lifecycle import parse_disposable_request, parse_shutdown_arg
from backend.errors import (
    PermissionDenied,
    QubesException,
    QubesNoSuchPropertyError,
    QubesValueError,
    QubesVMError,
    QubesVMNotRunningError,
)
from backend.lifecycle.errors import start_failed, upstream_error, with_message
from backend.lifecycle.virtops import LiveFacts, parse_live_facts
from backend.virt.errors import VirtConnectionError, VirtXMLError


def test_live_facts_of_a_running_domain_with_a_pty() -> None:
    xml = (
        "<domain type='xen' id='7'><name>work</name><devices>"
        "<console type='pty' tty='/dev/pts/3'><source path='/dev/pts/3'/>"
        "<target type='xen' port='0'/></console></devices></domain>"
    )
    assert parse_live_facts(xml) == LiveFacts(xid=7, console_tty="/dev/pts/3")


def test_live_facts_without_id_or_pty() -> None:
    xml = "<domain type='xen'><devices><console type='pty'/></devices></domain>"
    assert parse_live_facts(xml) == LiveFacts(xid=-1, console_tty=None)
    source_only = (
        "<domain id='x'><devices><console><source path='/dev/pts/9'/></console></devices></domain>"
    )
    assert parse_live_facts(source_only) == LiveFacts(xid=-1, console_tty="/dev/pts/9")


@pytest.mark.parametrize(
    ("arg", "flags"),
    [
        ("", (False, False)),
        ("force", (True, False)),
        ("wait", (False, True)),
        ("force+wait", (True, True)),
        ("wait+force", (True, True)),
    ],
)
def test_shutdown_arguments(arg: str, flags: tuple[bool, bool]) -> None:
    assert parse_shutdown_arg(arg) == flags


@pytest.mark.parametrize("arg", ["now", "force+", "+wait", "force+force", "Force"])
def test_bad_shutdown_arguments_are_refused(arg: str) -> None:
    with pytest.raises(PermissionDenied, match="invalid argument"):
        parse_shutdown_arg(arg)


def test_disposable_request_forms() -> None:
    assert parse_disposable_request("", b"") == (False, False)
    assert parse_disposable_request("", b"uuid") == (False, True)
    assert parse_disposable_request("preload", b"") == (True, False)
    with pytest.raises(PermissionDenied):
        parse_disposable_request("other", b"")
    with pytest.raises(QubesValueError):
        parse_disposable_request("", b"UUID")


def test_virt_errors_become_upstream_classes() -> None:
    error = upstream_error(VirtXMLError("bad"), "Cannot start work")
    assert type(error) is QubesVMError and str(error) == "Cannot start work: bad"
    lost = upstream_error(VirtConnectionError("gone"), "Cannot kill work")
    assert type(lost) is QubesVMError and "cannot be reached" in str(lost)
    failed = start_failed(VirtXMLError("refused"))
    assert type(failed) is QubesException and str(failed) == "Start failed: refused"


def test_with_message_keeps_the_class_where_it_can() -> None:
    kept = with_message(QubesVMNotRunningError("x"), "why")
    assert type(kept) is QubesVMNotRunningError and str(kept) == "why"
    structured = with_message(QubesNoSuchPropertyError("work", "p"), "why")
    assert type(structured) is QubesVMError and str(structured) == "why"
