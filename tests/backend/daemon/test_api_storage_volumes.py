"""admin.vm.volume.*: listing, info, revisions, resize, clear and settings, over the socket."""

from __future__ import annotations

import os

import pytest

from backend.errors import (
    PermissionDenied,
    ProtocolError,
    QubesValueError,
    QubesVMNotHaltedError,
    StoragePoolException,
)
from backend.model.vm import PowerState

from .conftest import RunningDaemon

GiB = 1 << 30
VOLUME_KEYS = ["pool", "vid", "size", "usage", "rw", "source", "path", "save_on_stop",
               "snap_on_start", "revisions_to_keep", "ephemeral", "is_outdated"]


def info(running: RunningDaemon, qube: str, volume: str) -> dict[str, str]:
    text = running.call("admin.vm.volume.Info", qube, volume)
    assert text.endswith("\n")
    return dict(line.split("=", 1) for line in text.splitlines())


def write_volume(running: RunningDaemon, qube: str, volume: str, data: bytes) -> None:
    """Replace a volume's data through the import extension (halted qube)."""
    reply = running.call("admin.backend.volume.ImportBegin", qube, volume,
                         str(len(data)).encode())
    size, path = reply.split(" ", 1)
    assert int(size) == len(data)
    with open(path, "r+b") as file:
        file.write(data)
    assert running.call("admin.backend.volume.ImportEnd", qube, volume, b"ok") == ""


def committed(running: RunningDaemon, vid: str) -> bytes:
    return (running.state_dir / f"{vid}.img").read_bytes()


def set_power(running: RunningDaemon, qube: str, state: PowerState, storage: str) -> None:
    """Start or stop a qube's storage and set its power state, as the lifecycle would."""
    def change() -> None:
        vm = running.app.domains[qube]
        getattr(running.daemon.system.storage(vm), storage)()
        vm.power_state = state
    running.in_loop(change)


def error(raw: bytes) -> tuple[str, str]:
    assert raw.startswith(b"2\0"), raw
    name, trace, message, rest = raw[2:].split(b"\0", 3)
    assert trace == b"" and rest == b""
    return name.decode(), message.decode()


# --- List and Info ----------------------------------------------------------------------


def test_volume_list_names_volumes_in_disk_order(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.volume.List", "work") == b"0\0root\nprivate\nvolatile\nkernel\n"


def test_volume_list_of_dom0_is_empty(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.volume.List", "dom0") == b"0\0"


def test_info_of_private_volume_is_exact(running: RunningDaemon) -> None:
    state = running.state_dir
    assert running.raw("admin.vm.volume.Info", "work", "private") == (
        b"0\0pool=varlibqubes\nvid=appvms/work/private\nsize=2147483648\nusage=0\nrw=True\n"
        b"source=\npath=" + str(state / "appvms/work/private-dirty.img").encode() +
        b"\nsave_on_stop=True\nsnap_on_start=False\nrevisions_to_keep=1\nephemeral=False\n"
        b"is_outdated=False\n"
    )


def test_info_of_every_volume_of_every_demo_qube(running: RunningDaemon) -> None:
    def expected() -> dict[tuple[str, str], dict[str, str]]:
        table = {}
        for vm_name, storage in running.daemon.system.storages.items():
            for name, volume in storage.volumes.items():
                table[(vm_name, name)] = {
                    "pool": volume.pool.name, "vid": volume.vid, "size": str(volume.size),
                    "rw": str(volume.rw), "source": volume.source or "",
                    "path": volume.path or "", "save_on_stop": str(volume.save_on_stop),
                    "snap_on_start": str(volume.snap_on_start),
                    "revisions_to_keep": str(volume.revisions_to_keep),
                    "ephemeral": str(volume.ephemeral), "is_outdated": "False",
                }
        return table

    table = running.in_loop(expected)
    qubes = {vm for vm, _ in table}
    assert len(qubes) == 14  # every demo qube but dom0
    for (vm_name, name), want in table.items():
        text = running.call("admin.vm.volume.Info", vm_name, name)
        keys = [line.split("=", 1)[0] for line in text.splitlines()]
        assert keys == VOLUME_KEYS, (vm_name, name)
        got = info(running, vm_name, name)
        assert int(got.pop("usage")) >= 0
        assert got == want, (vm_name, name)
    assert info(running, "work", "root")["source"] == "vm-templates/fedora-42/root"
    assert info(running, "work", "kernel")["pool"] == "linux-kernel"
    assert info(running, "fedora-42", "root")["save_on_stop"] == "True"


def test_info_of_unknown_volume_is_permission_denied(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.volume.Info", "work", "swap")
    assert raw == b"2\0PermissionDenied\0\0Argument not in 'work volumes'\0"
    assert error(running.raw("admin.vm.volume.Info", "dom0", "root")) == (
        "PermissionDenied", "Argument not in 'dom0 volumes'")


@pytest.mark.parametrize(("method", "payload"), [
    ("admin.vm.volume.Info", b""),
    ("admin.vm.volume.ListSnapshots", b""),
    ("admin.vm.volume.Revert", b"1"),
    ("admin.vm.volume.Resize", b"1"),
    ("admin.vm.volume.Clear", b""),
    ("admin.vm.volume.Set.revisions_to_keep", b"1"),
    ("admin.vm.volume.Set.rw", b"True"),
    ("admin.vm.volume.Set.ephemeral", b"True"),
    ("admin.vm.volume.CloneFrom", b""),
    ("admin.vm.volume.CloneTo", b"x"),
    ("admin.backend.volume.ImportBegin", b""),
    ("admin.backend.volume.ImportEnd", b"ok"),
])
def test_every_volume_method_refuses_unknown_volumes(
        running: RunningDaemon, method: str, payload: bytes) -> None:
    raw = running.raw(method, "personal", "swap", payload)
    assert raw == b"2\0PermissionDenied\0\0Argument not in 'personal volumes'\0"


def test_info_without_argument_is_protocol_error(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError):
        running.call("admin.vm.volume.Info", "work")


def test_running_appvm_root_is_outdated_after_template_commits(running: RunningDaemon) -> None:
    set_power(running, "fedora-42", PowerState.RUNNING, "start")
    set_power(running, "work", PowerState.RUNNING, "start")
    assert info(running, "work", "root")["is_outdated"] == "False"
    set_power(running, "fedora-42", PowerState.HALTED, "stop")  # commits the template root
    assert info(running, "work", "root")["is_outdated"] == "True"
    assert info(running, "personal", "root")["is_outdated"] == "False"  # halted
    set_power(running, "work", PowerState.HALTED, "stop")
    set_power(running, "work", PowerState.RUNNING, "start")
    assert info(running, "work", "root")["is_outdated"] == "False"
    set_power(running, "work", PowerState.HALTED, "stop")


# --- revisions --------------------------------------------------------------------------


def test_revert_round_trip_restores_previous_data(running: RunningDaemon) -> None:
    vid = "appvms/work/private"
    assert running.raw("admin.vm.volume.ListSnapshots", "work", "private") == b"0\0"
    write_volume(running, "work", "private", b"first version" * 100)
    write_volume(running, "work", "private", b"second version" * 100)
    revisions = running.call("admin.vm.volume.ListSnapshots", "work", "private").split()
    assert len(revisions) == 1  # revisions_to_keep=1
    assert running.raw("admin.vm.volume.ListSnapshots", "work", "private") == (
        b"0\0" + revisions[0].encode() + b"\n")
    assert committed(running, vid) == b"second version" * 100
    raw = running.raw("admin.vm.volume.Revert", "work", "private", revisions[0].encode())
    assert raw == b"0\0"
    assert committed(running, vid) == b"first version" * 100
    # the replaced data is itself kept as a revision, so the revert can be undone
    after = running.call("admin.vm.volume.ListSnapshots", "work", "private").split()
    assert after and after[-1] != revisions[0]
    running.call("admin.vm.volume.Revert", "work", "private", after[-1].encode())
    assert committed(running, vid) == b"second version" * 100


def test_revert_to_unknown_revision_changes_nothing(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", b"only")
    before = committed(running, "appvms/work/private")
    name, message = error(running.raw("admin.vm.volume.Revert", "work", "private", b"99"))
    assert name == "PermissionDenied" and "no revision '99'" in message
    assert committed(running, "appvms/work/private") == before
    with pytest.raises(ProtocolError):
        running.call("admin.vm.volume.Revert", "work", "private")


def test_revert_refused_while_volume_in_use(running: RunningDaemon) -> None:
    write_volume(running, "work", "private", b"a")
    write_volume(running, "work", "private", b"b")
    revision = running.call("admin.vm.volume.ListSnapshots", "work", "private").split()[0]
    set_power(running, "work", PowerState.RUNNING, "start")
    name, message = error(running.raw("admin.vm.volume.Revert", "work", "private",
                                      revision.encode()))
    assert name == "StoragePoolException" and "in use" in message
    set_power(running, "work", PowerState.HALTED, "stop")


# --- resize -------------------------------------------------------------------------------


def test_resize_grows_volume_and_is_saved(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.volume.Resize", "work", "private", str(3 * GiB).encode())
    assert raw == b"0\0"
    assert info(running, "work", "private")["size"] == str(3 * GiB)
    assert os.path.getsize(running.state_dir / "appvms/work/private.img") == 3 * GiB
    store = (running.state_dir / "qubes.xml").read_text()
    assert f'size="{3 * GiB}" snap_on_start="False" vid="appvms/work/private"' in store


def test_resize_refuses_to_shrink_naming_both_sizes(running: RunningDaemon) -> None:
    raw = running.raw("admin.vm.volume.Resize", "work", "private", str(GiB).encode())
    name, message = error(raw)
    assert name == "QubesValueError"
    assert f"from {2 * GiB} bytes to {GiB} bytes" in message
    assert info(running, "work", "private")["size"] == str(2 * GiB)


@pytest.mark.parametrize("payload", [b"-5", b"1e9", b"012", b"12345678901234567890123", b"\xff"])
def test_resize_refuses_malformed_sizes(running: RunningDaemon, payload: bytes) -> None:
    name, message = error(running.raw("admin.vm.volume.Resize", "work", "private", payload))
    assert name == "ProtocolError" and "size" in message
    assert info(running, "work", "private")["size"] == str(2 * GiB)


def test_resize_of_snapshot_volume_sets_its_size(running: RunningDaemon) -> None:
    running.call("admin.vm.volume.Resize", "work", "root", str(20 * GiB).encode())
    assert info(running, "work", "root")["size"] == str(20 * GiB)


# --- clear -------------------------------------------------------------------------------


def test_clear_zeroes_data_keeping_size_and_fires_import_events(
        running: RunningDaemon) -> None:
    write_volume(running, "work", "private", b"secret" * 1000)
    reader = running.open_events("admin.Events", "work")
    try:
        assert running.raw("admin.vm.volume.Clear", "work", "private") == b"0\0"
        begin = reader.wait_for(lambda r: r.event == "domain-volume-import-begin")[-1]
        end = reader.wait_for(lambda r: r.event == "domain-volume-import-end")[-1]
    finally:
        reader.close()
    assert begin.kwargs == {"volume": "private", "size": "6000"}
    assert end.kwargs == {"volume": "private", "success": "True"}
    assert committed(running, "appvms/work/private") == bytes(6000)


def test_clear_refused_while_running_and_for_snapshots(running: RunningDaemon) -> None:
    assert error(running.raw("admin.vm.volume.Clear", "work", "root"))[0] == (
        "QubesNotImplementedError")
    running.in_loop(lambda: setattr(running.app.domains["work"], "power_state",
                                    PowerState.RUNNING))
    assert error(running.raw("admin.vm.volume.Clear", "work", "private"))[0] == (
        "QubesVMNotHaltedError")


# --- settings ----------------------------------------------------------------------------


def test_set_revisions_to_keep(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.volume.Set.revisions_to_keep", "work", "private", b"3") == (
        b"0\0")
    assert info(running, "work", "private")["revisions_to_keep"] == "3"
    running.call("admin.vm.volume.Set.revisions_to_keep", "work", "private", b"-1")
    assert info(running, "work", "private")["revisions_to_keep"] == "-1"
    assert 'revisions_to_keep="-1" rw="True" save_on_stop="True"' in (
        running.state_dir / "qubes.xml").read_text()


@pytest.mark.parametrize(("volume", "payload", "exc"), [
    ("private", b"many", ProtocolError),
    ("private", b"-2", QubesValueError),
    ("root", b"-1", QubesValueError),  # snapshots cannot disable revisions
    ("swap", b"1", PermissionDenied),
    ("kernel", b"2", StoragePoolException),
])
def test_set_revisions_to_keep_refuses_bad_values(
        running: RunningDaemon, volume: str, payload: bytes, exc: type[Exception]) -> None:
    with pytest.raises(exc):
        running.call("admin.vm.volume.Set.revisions_to_keep", "work", volume, payload)
    assert info(running, "work", "private")["revisions_to_keep"] == "1"


def test_set_rw_only_while_halted(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.volume.Set.rw", "work", "private", b"False") == b"0\0"
    assert info(running, "work", "private")["rw"] == "False"
    with pytest.raises(ProtocolError):
        running.call("admin.vm.volume.Set.rw", "work", "private", b"maybe")
    running.in_loop(lambda: setattr(running.app.domains["work"], "power_state",
                                    PowerState.RUNNING))
    name, message = error(running.raw("admin.vm.volume.Set.rw", "work", "private", b"True"))
    assert name == "QubesVMNotHaltedError" and "'work'" in message
    assert info(running, "work", "private")["rw"] == "False"


def test_set_ephemeral_only_for_volatile_volumes(running: RunningDaemon) -> None:
    assert running.raw("admin.vm.volume.Set.ephemeral", "work", "volatile", b"True") == b"0\0"
    assert info(running, "work", "volatile")["ephemeral"] == "True"
    with pytest.raises(QubesValueError):
        running.call("admin.vm.volume.Set.ephemeral", "work", "private", b"True")
    assert info(running, "work", "private")["ephemeral"] == "False"
    running.in_loop(lambda: setattr(running.app.domains["work"], "power_state",
                                    PowerState.RUNNING))
    with pytest.raises(QubesVMNotHaltedError):
        running.call("admin.vm.volume.Set.ephemeral", "work", "volatile", b"False")
