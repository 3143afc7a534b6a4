"""admin.pool.*: listing, info, adding, removing and settings of storage pools."""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import (
    PermissionDenied,
    ProtocolError,
    QubesException,
    QubesPoolInUseError,
    QubesValueError,
    StoragePoolException,
)

from .conftest import RunningDaemon
from .test_api_storage_volumes import error, info


def pool_info(running: RunningDaemon, pool: str) -> dict[str, str]:
    text = running.call("admin.pool.Info", "dom0", pool)
    return dict(line.split("=", 1) for line in text.splitlines())


def add_pool(running: RunningDaemon, name: str, directory: Path) -> bytes:
    payload = f"name={name}\ndir_path={directory}\nsetup_check=False\n".encode()
    return running.raw("admin.pool.Add", "dom0", "file-reflink", payload)


def stored(running: RunningDaemon) -> str:
    return (running.state_dir / "qubes.xml").read_text()


# --- reading -----------------------------------------------------------------------------


def test_pool_list_and_drivers(running: RunningDaemon) -> None:
    assert running.raw("admin.pool.List") == b"0\0varlibqubes\nlinux-kernel\n"
    assert running.raw("admin.pool.ListDrivers") == (
        b"0\0file-reflink dir_path ephemeral_volatile revisions_to_keep setup_check\n"
        b"linux-kernel dir_path\nram dir_path ephemeral_volatile\n"
    )


def test_pool_methods_need_dom0_as_destination(running: RunningDaemon) -> None:
    assert running.raw("admin.pool.List", "work") == (
        b"2\0ProtocolError\0\0expected destination to be AdminVM\0")


def test_pool_info_is_sorted_config_then_size_and_usage(running: RunningDaemon) -> None:
    raw = running.raw("admin.pool.Info", "dom0", "varlibqubes")
    lines = raw[2:].decode().splitlines()
    assert raw.startswith(b"0\0") and raw.endswith(b"\n")
    keys = [line.split("=", 1)[0] for line in lines]
    assert keys == ["dir_path", "driver", "ephemeral_volatile", "name", "revisions_to_keep",
                    "setup_check", "size", "usage"]
    assert lines[:6] == [f"dir_path={running.state_dir}", "driver=file-reflink",
                         "ephemeral_volatile=False", "name=varlibqubes",
                         "revisions_to_keep=1", "setup_check=False"]
    assert int(lines[6].split("=")[1]) >= int(lines[7].split("=")[1]) > 0


def test_nested_pool_reports_included_in(running: RunningDaemon) -> None:
    assert add_pool(running, "inner", running.state_dir / "inner") == b"0\0"
    assert pool_info(running, "inner")["included_in"] == "varlibqubes"
    assert "included_in" not in pool_info(running, "varlibqubes")


def test_usage_details(running: RunningDaemon) -> None:
    raw = running.raw("admin.pool.UsageDetails", "dom0", "varlibqubes")
    lines = raw[2:].decode().splitlines()
    assert [line.split("=")[0] for line in lines] == ["data_size", "data_usage"]
    assert all(line.split("=")[1].isdigit() for line in lines)


def test_unknown_pool_is_permission_denied(running: RunningDaemon) -> None:
    for method in ("admin.pool.Info", "admin.pool.UsageDetails", "admin.pool.volume.List",
                   "admin.pool.Remove"):
        name, message = error(running.raw(method, "dom0", "nopool"))
        assert name == "PermissionDenied" and "Argument not in 'pools'" in message


def test_pool_volume_list(running: RunningDaemon) -> None:
    vids = running.call("admin.pool.volume.List", "dom0", "varlibqubes").splitlines()
    assert "appvms/work/private" in vids and "vm-templates/fedora-42/root" in vids
    assert vids == sorted(vids)
    assert running.raw("admin.pool.volume.List", "dom0", "linux-kernel") == (
        b"0\x006.12.59-1.fc41\n")


# --- adding and removing ------------------------------------------------------------------


def test_add_and_remove_pool_with_events(running: RunningDaemon, tmp_path: Path) -> None:
    directory = tmp_path / "extra"
    reader = running.open_events()
    try:
        assert add_pool(running, "extra", directory) == b"0\0"
        added = reader.wait_for(lambda r: r.event == "pool-add")[-1]
        assert running.call("admin.pool.List").splitlines()[-1] == "extra"
        assert (directory / "appvms").is_dir()
        assert pool_info(running, "extra")["dir_path"] == str(directory)
        assert 'name="extra"' in stored(running)
        assert running.raw("admin.pool.Remove", "dom0", "extra") == b"0\0"
        deleted = reader.wait_for(lambda r: r.event == "pool-delete")[-1]
    finally:
        reader.close()
    assert (added.subject, added.kwargs) == (None, {"pool": "extra"})
    assert (deleted.subject, deleted.kwargs) == (None, {"pool": "extra"})
    assert running.call("admin.pool.List") == "varlibqubes\nlinux-kernel\n"
    assert 'name="extra"' not in stored(running)
    assert running.in_loop(lambda: "extra" in running.app.pool_configs) is False


@pytest.mark.parametrize(("driver", "payload", "exc", "text"), [
    ("file-reflink", "name=p\ndir_path={d}\nsetup_check=False\ncolour=red", QubesException,
     "unexpected driver options: colour"),
    ("file-reflink", "name=p\nsetup_check=False", QubesException,
     "missing required driver options: dir_path"),
    ("zfs", "name=p\ndir_path={d}", QubesException, "unexpected driver name: zfs"),
    ("file-reflink", "dir_path={d}", PermissionDenied, "without name"),
    ("file-reflink", "name=p\nname=q\ndir_path={d}", PermissionDenied, "given twice"),
    ("file-reflink", "name=p\njunk\ndir_path={d}", PermissionDenied, "junk"),
    ("file-reflink", "name=a/b\ndir_path={d}", PermissionDenied, "Invalid pool name"),
    ("file-reflink", "name=p\ndir_path=relative", QubesValueError, "absolute"),
    ("file-reflink", "name=p\ndir_path={d}\nrevisions_to_keep=lots", QubesValueError,
     "revisions_to_keep"),
    ("file-reflink", "name=varlibqubes\ndir_path={d}", QubesPoolInUseError, "already exists"),
    ("file-reflink", "name=p\ndir_path={d}\nsetup_check=True", StoragePoolException,
     "reflink"),
])
def test_add_refuses_bad_configs_before_creating_anything(
        running: RunningDaemon, tmp_path: Path, driver: str, payload: str,
        exc: type[Exception], text: str) -> None:
    directory = tmp_path / "newpool"
    before = stored(running)
    with pytest.raises(exc, match=text):
        running.call("admin.pool.Add", "dom0", driver,
                     payload.format(d=directory).encode())
    assert not directory.exists()
    assert running.call("admin.pool.List") == "varlibqubes\nlinux-kernel\n"
    assert stored(running) == before


def test_add_refuses_a_directory_already_used(running: RunningDaemon) -> None:
    raw = add_pool(running, "twin", running.state_dir)
    assert error(raw)[0] == "QubesPoolInUseError"


def test_add_refuses_non_ascii_payload(running: RunningDaemon) -> None:
    with pytest.raises(ProtocolError):
        running.call("admin.pool.Add", "dom0", "file-reflink", "name=pøøl".encode())


def test_remove_refused_while_volumes_use_the_pool(running: RunningDaemon) -> None:
    name, message = error(running.raw("admin.pool.Remove", "dom0", "varlibqubes"))
    assert name == "QubesPoolInUseError" and "fedora-42:root" in message and "more" in message
    assert error(running.raw("admin.pool.Remove", "dom0", "linux-kernel"))[0] == (
        "QubesPoolInUseError")


def test_remove_refused_while_a_qube_lives_in_the_pool(
        running: RunningDaemon, tmp_path: Path) -> None:
    add_pool(running, "extra", tmp_path / "extra")
    running.run(running.daemon.system.create_vm("StandaloneVM", "solo", "red", pool="extra"))
    assert info(running, "solo", "private")["pool"] == "extra"
    name, message = error(running.raw("admin.pool.Remove", "dom0", "extra"))
    assert name == "QubesPoolInUseError" and "solo:root" in message
    running.run(running.daemon.system.remove_vm(running.app.domains["solo"]))
    assert running.raw("admin.pool.Remove", "dom0", "extra") == b"0\0"


def test_remove_refused_while_a_default_pool_property_names_it(
        running: RunningDaemon, tmp_path: Path) -> None:
    add_pool(running, "extra", tmp_path / "extra")
    running.in_loop(lambda: running.app.globals.set("default_pool_private", "extra"))
    name, message = error(running.raw("admin.pool.Remove", "dom0", "extra"))
    assert name == "QubesPoolInUseError" and "default_pool_private" in message
    assert "extra" in running.call("admin.pool.List").split()


# --- settings ----------------------------------------------------------------------------


def test_set_pool_revisions_to_keep(running: RunningDaemon) -> None:
    assert running.raw("admin.pool.Set.revisions_to_keep", "dom0", "varlibqubes", b"3") == (
        b"0\0")
    assert pool_info(running, "varlibqubes")["revisions_to_keep"] == "3"
    assert 'name="varlibqubes" revisions_to_keep="3"' in stored(running)
    with pytest.raises(QubesValueError):
        running.call("admin.pool.Set.revisions_to_keep", "dom0", "varlibqubes", b"-2")
    with pytest.raises(ProtocolError):
        running.call("admin.pool.Set.revisions_to_keep", "dom0", "varlibqubes", b"x")
    with pytest.raises(StoragePoolException):
        running.call("admin.pool.Set.revisions_to_keep", "dom0", "linux-kernel", b"2")
    assert pool_info(running, "varlibqubes")["revisions_to_keep"] == "3"


def test_set_pool_ephemeral_volatile_reaches_volatile_volumes(running: RunningDaemon) -> None:
    assert info(running, "work", "volatile")["ephemeral"] == "False"
    raw = running.raw("admin.pool.Set.ephemeral_volatile", "dom0", "varlibqubes", b"True")
    assert raw == b"0\0"
    assert pool_info(running, "varlibqubes")["ephemeral_volatile"] == "True"
    assert info(running, "work", "volatile")["ephemeral"] == "True"
    assert info(running, "work", "private")["ephemeral"] == "False"
    assert 'ephemeral_volatile="True"' in stored(running)
    with pytest.raises(ProtocolError):
        running.call("admin.pool.Set.ephemeral_volatile", "dom0", "varlibqubes", b"perhaps")
    with pytest.raises(StoragePoolException):
        running.call("admin.pool.Set.ephemeral_volatile", "dom0", "linux-kernel", b"True")
