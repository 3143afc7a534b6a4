"""Storage of one qube: its volumes, started, stopped and removed together."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping

from backend.errors import QubesValueError, StoragePoolException
from backend.storage.config import VolumeConfig
from backend.storage.defaults import STANDARD_VOLUMES
from backend.storage.pool import BlockDevice, Pool, Volume, validate_qube_dir

LOG = logging.getLogger("backend.storage")


def _ordered(names: Iterable[str]) -> list[str]:
    """root, private, volatile, kernel first (disk order xvda..xvdd), then the rest."""
    names = list(names)
    standard = [name for name in STANDARD_VOLUMES if name in names]
    return standard + sorted(name for name in names if name not in STANDARD_VOLUMES)


class VMStorage:
    """The volumes of qube ``vm_name``, built from its volume configurations.

    ``dir_prefix`` is ``vm-templates`` for TemplateVMs and ``appvms`` otherwise;
    ``pools`` maps pool names to pools and must hold every pool the configs name.
    """

    def __init__(
        self,
        vm_name: str,
        dir_prefix: str,
        pools: Mapping[str, Pool],
        volume_configs: Mapping[str, VolumeConfig] | Iterable[VolumeConfig],
    ) -> None:
        validate_qube_dir(vm_name, dir_prefix)
        self.vm_name = vm_name
        self.dir_prefix = dir_prefix
        self._pools = pools
        configs = (
            list(volume_configs.values())
            if isinstance(volume_configs, Mapping)
            else list(volume_configs)
        )
        by_name = {config.name: config for config in configs}
        if len(by_name) != len(configs):
            raise QubesValueError(f"Qube {vm_name} has two volumes with the same name")
        self._volumes: dict[str, Volume] = {}
        for name in _ordered(by_name):
            self._volumes[name] = self._init_volume(by_name[name])

    def _init_volume(self, config: VolumeConfig) -> Volume:
        if config.pool is None:
            raise QubesValueError(f"Volume {config.name!r} of {self.vm_name} has no pool")
        try:
            pool = self._pools[config.pool]
        except KeyError:
            raise StoragePoolException(
                f"Volume {config.name!r} of {self.vm_name} is in pool {config.pool!r}, "
                "which does not exist"
            ) from None
        return pool.init_volume(self.vm_name, config, dir_prefix=self.dir_prefix)

    # -- access --------------------------------------------------------------------

    @property
    def volumes(self) -> dict[str, Volume]:
        """Volumes by name, in disk order."""
        return dict(self._volumes)

    def get_volume(self, name: str) -> Volume:
        try:
            return self._volumes[name]
        except KeyError:
            raise StoragePoolException(f"Qube {self.vm_name} has no volume {name!r}") from None

    def configs(self) -> dict[str, VolumeConfig]:
        """Current volume configurations, for qubes.xml and for templates' children."""
        return {name: volume.config for name, volume in self._volumes.items()}

    def set_volume_config(self, config: VolumeConfig) -> Volume:
        """Replace (or add) one volume's configuration, e.g. after a template or kernel
        change. Only while the volume is not in use; its data is not touched."""
        old = self._volumes.get(config.name)
        if old is not None and old.is_running():
            raise StoragePoolException(
                f"Cannot reconfigure volume {config.name!r} of {self.vm_name} while it is in use"
            )
        volume = self._init_volume(config)
        if old is not None and (old.pool is not volume.pool or old.vid != volume.vid):
            old.pool.forget_volume(old)
        self._volumes[config.name] = volume
        self._volumes = {name: self._volumes[name] for name in _ordered(self._volumes)}
        return volume

    def is_running(self) -> bool:
        """Any volume has been started and not stopped."""
        return any(volume.is_running() for volume in self._volumes.values())

    def outdated_volumes(self) -> list[str]:
        """Names of started snapshot volumes whose source has changed since."""
        return [name for name, volume in self._volumes.items() if volume.is_outdated()]

    def usage(self) -> dict[str, int]:
        return {name: volume.usage for name, volume in self._volumes.items()}

    def block_devices(self) -> list[BlockDevice]:
        """Disks for the domain XML in xvda, xvdb, … order (absent kernel skipped)."""
        devices = (volume.block_device() for volume in self._volumes.values())
        return [device for device in devices if device is not None]

    # -- lifecycle -----------------------------------------------------------------

    def create(self) -> None:
        """Allocate every volume of a new qube; on failure remove what was made."""
        created: list[Volume] = []
        try:
            for volume in self._volumes.values():
                volume.create()
                created.append(volume)
        except BaseException:
            for volume in reversed(created):
                self._quietly(volume.remove, volume)
            raise
        LOG.debug("created storage of %s", self.vm_name)

    def verify(self) -> None:
        """Raise StoragePoolException if a volume cannot start."""
        for volume in self._volumes.values():
            volume.verify()

    def start(self) -> None:
        """Start every volume (snapshots taken, fresh volatile); all or nothing."""
        self.verify()
        started: list[Volume] = []
        try:
            for volume in self._volumes.values():
                resumed = volume.is_running()  # session left by an unclean stop
                volume.start()
                if not resumed:
                    started.append(volume)
        except BaseException:
            for volume in reversed(started):
                self._quietly(volume.abort_start, volume)
            raise
        LOG.debug("started storage of %s", self.vm_name)

    def stop(self) -> None:
        """Stop every volume (commit or discard); tries all, then raises the first error."""
        self._for_all("stop", lambda volume: volume.stop())
        LOG.debug("stopped storage of %s", self.vm_name)

    def remove(self) -> None:
        """Delete all data of all volumes, revisions included."""
        self._for_all("remove", lambda volume: volume.remove())
        LOG.debug("removed storage of %s", self.vm_name)

    def import_from(self, src: VMStorage) -> None:
        """Clone: copy the committed data of ``src``'s same-named volumes."""
        for name, volume in self._volumes.items():
            if name in src._volumes:
                volume.import_volume(src._volumes[name])

    def _for_all(self, what: str, action: Callable[[Volume], None]) -> None:
        first: Exception | None = None
        for volume in self._volumes.values():
            try:
                action(volume)
            except Exception as exc:  # noqa: BLE001 - the others must still run
                LOG.warning("%s of %s failed: %s", what, volume, exc)
                first = first or exc
        if first is not None:
            raise first

    @staticmethod
    def _quietly(action: Callable[[], None], volume: Volume) -> None:
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - keep the original error
            LOG.warning("cleanup of %s failed: %s", volume, exc)
