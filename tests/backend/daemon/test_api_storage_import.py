"""Streaming import: the ImportBegin/ImportEnd extension and backend/import_volume.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backend.errors import QubesException, QubesVMNotHaltedError, StoragePoolException
from backend.model.vm import PowerState

from .conftest import RunningDaemon
from .test_api_storage_volumes import committed, error, info, write_volume

SCRIPT = Path(__file__).resolve().parents[3] / "backend" / "import_volume.py"
# data with holes: the script leaves zero blocks unwritten
DATA = os.urandom(300_000) + bytes(3 << 20) + os.urandom(5_000)


def run_script(running: RunningDaemon, qube: str, volume: str, stdin: bytes,
               with_size: bool = False, *extra: str) -> subprocess.CompletedProcess[bytes]:
    env = {"PATH": os.environ.get("PATH", ""), "QUBESD_SOCKET": str(running.socket_path),
           "QREXEC_REQUESTED_TARGET": qube, "QREXEC_REMOTE_DOMAIN": "dom0"}
    args = [sys.executable, str(SCRIPT), *(["--with-size"] if with_size else []), *extra,
            volume]
    return subprocess.run(args, input=stdin, env=env, capture_output=True, timeout=60,
                          check=False)


def revisions(running: RunningDaemon, qube: str, volume: str) -> list[str]:
    return running.call("admin.vm.volume.ListSnapshots", qube, volume).split()


# --- the script --------------------------------------------------------------------------


def test_import_with_size_round_trips_data(running: RunningDaemon) -> None:
    reader = running.open_events("admin.Events", "work")
    try:
        done = run_script(running, "work", "private", b"%d\n" % len(DATA) + DATA, True)
        begin = reader.wait_for(lambda r: r.event == "domain-volume-import-begin")[-1]
        end = reader.wait_for(lambda r: r.event == "domain-volume-import-end")[-1]
    finally:
        reader.close()
    assert (done.returncode, done.stdout) == (0, b"0\0"), done.stderr
    assert committed(running, "appvms/work/private") == DATA
    assert info(running, "work", "private")["size"] == str(len(DATA))
    assert begin.kwargs == {"volume": "private", "size": str(len(DATA))}
    assert end.kwargs == {"volume": "private", "success": "True"}
    # the zero blocks were skipped, so they take no space
    assert os.stat(running.state_dir / "appvms/work/private.img").st_blocks * 512 < 1 << 20


def test_plain_import_takes_the_volume_size(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", bytes(4096))
    data = os.urandom(4096)
    done = run_script(running, "work", "private", data)
    assert (done.returncode, done.stdout) == (0, b"0\0"), done.stderr
    assert committed(running, "appvms/work/private") == data


def test_import_under_the_with_size_service_name(running: RunningDaemon, tmp_path: Path) -> None:
    link = tmp_path / "admin.vm.volume.ImportWithSize"
    link.symlink_to(SCRIPT)
    env = {"QUBESD_SOCKET": str(running.socket_path), "QREXEC_REQUESTED_TARGET": "vault"}
    done = subprocess.run([sys.executable, str(link), "private"], input=b"5\nhello", env=env,
                          capture_output=True, timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, b"0\0"), done.stderr
    assert committed(running, "appvms/vault/private") == b"hello"


@pytest.mark.parametrize(("stdin", "problem"), [
    (b"1000\n" + b"x" * 500, b"not enough data: got 500 bytes of 1000"),
    (b"10\n" + b"x" * 11, b"too much data"),
])
def test_wrong_length_stream_is_refused_with_nothing_changed(
        running: RunningDaemon, stdin: bytes, problem: bytes) -> None:
    write_volume(running, "work", "private", b"original")
    before = revisions(running, "work", "private")
    done = run_script(running, "work", "private", stdin, True)
    assert done.returncode == 1
    assert done.stdout.startswith(b"2\0QubesException\0\0Data import failed: " + problem)
    assert committed(running, "appvms/work/private") == b"original"
    assert revisions(running, "work", "private") == before
    assert info(running, "work", "private")["size"] == "8"
    # the volume is free again: a new import works
    assert run_script(running, "work", "private", b"3\nnew", True).returncode == 0


def test_script_passes_on_the_daemons_refusal(running: RunningDaemon) -> None:
    done = run_script(running, "work", "root", b"3\nabc", True)
    assert done.returncode == 1
    assert done.stdout.startswith(b"2\0QubesNotImplementedError\0\0")
    done = run_script(running, "work", "nothing", b"3\nabc", True)
    assert done.stdout == b"2\0PermissionDenied\0\0Argument not in 'work volumes'\0"


def test_script_refuses_a_missing_size_line(running: RunningDaemon) -> None:
    done = run_script(running, "work", "private", b"\nabc", True)
    assert done.returncode == 1
    assert done.stdout.startswith(b"2\0ProtocolError\0\0Invalid value for size of new data")
    done = run_script(running, "work", "private", b"-3\nabc", True)
    assert done.stdout.startswith(b"2\0ProtocolError\0\0Invalid value for size of new data")


def test_script_reports_an_unreachable_daemon(running: RunningDaemon, tmp_path: Path) -> None:
    env = {"QUBESD_SOCKET": str(tmp_path / "nowhere.sock"), "QREXEC_REQUESTED_TARGET": "work"}
    done = subprocess.run([sys.executable, str(SCRIPT), "private"], input=b"", env=env,
                          capture_output=True, timeout=60, check=False)
    assert done.returncode == 1
    assert done.stdout.startswith(b"2\0QubesException\0\0Cannot reach the qubes daemon")


# --- the extension methods ---------------------------------------------------------------


def test_import_begin_answers_size_and_path(running: RunningDaemon) -> None:
    raw = running.raw("admin.backend.volume.ImportBegin", "work", "private", b"4096")
    path = running.state_dir / "appvms/work/private-import.img"
    assert raw == b"0\0" + b"4096 " + str(path).encode()
    assert os.path.getsize(path) == 4096
    raw = running.raw("admin.backend.volume.ImportEnd", "work", "private", b"fail\ndisk gone")
    assert raw == b"2\0QubesException\0\0Data import failed: disk gone\0"
    assert not path.exists()
    assert info(running, "work", "private")["size"] == str(2 << 30)


def test_import_begin_refused_while_running_or_busy(running: RunningDaemon) -> None:
    running.call("admin.backend.volume.ImportBegin", "work", "private", b"10")
    with pytest.raises(StoragePoolException, match="already in progress"):
        running.call("admin.backend.volume.ImportBegin", "work", "private", b"10")
    running.call("admin.backend.volume.ImportEnd", "work", "private", b"ok")
    running.in_loop(lambda: setattr(running.app.domains["work"], "power_state",
                                    PowerState.RUNNING))
    with pytest.raises(QubesVMNotHaltedError):
        running.call("admin.backend.volume.ImportBegin", "work", "private", b"10")


def test_import_end_without_begin_is_refused(running: RunningDaemon) -> None:
    name, message = error(running.raw("admin.backend.volume.ImportEnd", "work", "private",
                                      b"ok"))
    assert name == "StoragePoolException" and "No import into work:private" in message


def test_import_end_refuses_a_file_of_the_wrong_size(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", b"original")
    reply = running.call("admin.backend.volume.ImportBegin", "work", "private", b"4")
    with open(reply.split(" ", 1)[1], "ab") as file:
        file.write(b"overflow")
    with pytest.raises(QubesException, match="12 bytes in the import file, 4 expected"):
        running.call("admin.backend.volume.ImportEnd", "work", "private", b"ok")
    assert committed(running, "appvms/work/private") == b"original"
