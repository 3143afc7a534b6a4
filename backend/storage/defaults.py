"""Default volume configurations per qube class and snapshot source resolution.

The template chain is given explicitly as the volume configurations of each template,
nearest first, so this module never needs the qube model:

* AppVM:   ``[template_configs]``
* DispVM:  ``[dvm_template_configs, dvm_templates_template_configs]`` (the second is
  absent when the disposable template is a StandaloneVM)

Each entry maps volume name -> VolumeConfig, as held by that qube's storage
(``VMStorage.configs()``), so vids and pools are filled in.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from backend.errors import QubesValueError
from backend.storage.config import VolumeConfig, VolumeKind

GiB = 1024**3
ROOT_IMG_SIZE = 10 * GiB
PRIVATE_IMG_SIZE = 2 * GiB
STANDARD_VOLUMES = ("root", "private", "volatile", "kernel")

TemplateChain = Sequence[Mapping[str, VolumeConfig]]


class VMClass(enum.StrEnum):
    ADMIN = "AdminVM"
    TEMPLATE = "TemplateVM"
    APP = "AppVM"
    DISP = "DispVM"
    STANDALONE = "StandaloneVM"

    @property
    def dir_prefix(self) -> str:
        """Directory of the qube's files in a file pool (vid prefix)."""
        return "vm-templates" if self is VMClass.TEMPLATE else "appvms"


def resolve_source(volume_name: str, chain: TemplateChain) -> VolumeConfig:
    """The volume a snapshot named ``volume_name`` is ultimately taken from: walk the
    template chain (nearest first) to the first same-named volume without a source."""
    for depth, configs in enumerate(chain):
        config = configs.get(volume_name)
        if config is None:
            raise QubesValueError(
                f"Cannot resolve the source of volume {volume_name!r}: template "
                f"#{depth + 1} in the chain has no such volume"
            )
        if not config.snap_on_start:
            if config.kind is not VolumeKind.ORIGIN:
                raise QubesValueError(
                    f"Volume {volume_name!r} cannot be a snapshot of {config.vid}: "
                    f"that volume is {config.kind.value}, it has no committed data"
                )
            if not config.vid or not config.pool:
                raise QubesValueError(
                    f"Source volume {volume_name!r} of the template is not initialised "
                    "(no vid or pool yet)"
                )
            return config
    raise QubesValueError(
        f"Cannot resolve the source of volume {volume_name!r}: the template chain ends "
        "without a volume that is not itself a snapshot"
    )


def _snapshot_of(name: str, chain: TemplateChain, rw: bool = True) -> VolumeConfig:
    source = resolve_source(name, chain)
    # snapshot volumes live in their source's pool and take its size
    return VolumeConfig(
        name=name,
        pool=source.pool,
        rw=rw,
        snap_on_start=True,
        save_on_stop=False,
        source=source.vid,
        size=source.size,
    )


def _pool_for(pools: Mapping[str, str], name: str) -> str:
    try:
        return pools[name]
    except KeyError:
        raise QubesValueError(f"No pool given for the {name} volume") from None


def default_volume_configs(
    klass: VMClass | str,
    *,
    pools: Mapping[str, str],
    template_chain: TemplateChain = (),
    kernel: str | None = None,
    root_size: int = ROOT_IMG_SIZE,
    private_size: int = PRIVATE_IMG_SIZE,
) -> dict[str, VolumeConfig]:
    """The volumes of a new qube of ``klass`` (core-model.md §3.4).

    ``pools`` maps volume name (root, private, volatile, kernel) to pool name, e.g.
    the global ``default_pool_<volume>`` values or a CreateInPool override; snapshot
    volumes ignore it and live in their source's pool. ``kernel`` is the qube's
    kernel ("" or None: the qube boots its own kernel).
    """
    klass = VMClass(klass)
    if klass is VMClass.ADMIN:
        return {}

    def origin(name: str, size: int) -> VolumeConfig:
        return VolumeConfig(
            name=name, pool=_pool_for(pools, name), rw=True, save_on_stop=True, size=size
        )

    def volatile(size: int) -> VolumeConfig:
        return VolumeConfig(name="volatile", pool=_pool_for(pools, "volatile"), rw=True, size=size)

    configs: dict[str, VolumeConfig] = {}
    if klass in (VMClass.TEMPLATE, VMClass.STANDALONE):
        configs["root"] = origin("root", root_size)
        configs["private"] = origin("private", private_size)
        configs["volatile"] = volatile(root_size)
    elif klass is VMClass.APP:
        _require_chain(klass, template_chain, 1)
        configs["root"] = _snapshot_of("root", template_chain)
        configs["private"] = origin("private", private_size)
        configs["volatile"] = volatile(root_size)
    else:  # DispVM
        _require_chain(klass, template_chain, 1)
        configs["root"] = _snapshot_of("root", template_chain)
        configs["private"] = _snapshot_of("private", template_chain)
        configs["volatile"] = volatile(root_size + private_size)
    configs["kernel"] = VolumeConfig(
        name="kernel", pool=_pool_for(pools, "kernel"), vid=kernel or None, rw=False
    )

    if klass in (VMClass.APP, VMClass.DISP):
        _inherit_extra_volumes(configs, template_chain)
    if klass is VMClass.DISP:
        _copy_from_dvm_template(configs, template_chain[0])
    return configs


def _require_chain(klass: VMClass, chain: TemplateChain, length: int) -> None:
    if len(chain) < length:
        raise QubesValueError(f"A {klass.value} needs its template's volume configurations")


def _inherit_extra_volumes(configs: dict[str, VolumeConfig], chain: TemplateChain) -> None:
    """Volumes of the template beyond the standard four are added to the new qube."""
    for name, template_config in chain[0].items():
        if name in configs:
            continue
        if template_config.snap_on_start:
            configs[name] = _snapshot_of(name, chain, rw=template_config.rw)
        else:
            configs[name] = template_config.replace(vid=None, source=None)


def _copy_from_dvm_template(
    configs: dict[str, VolumeConfig], dvm_configs: Mapping[str, VolumeConfig]
) -> None:
    """A disposable copies the live pool, rw and non-default ephemeral of each
    same-named volume of its disposable template (snapshots keep their source's pool)."""
    for name, config in list(configs.items()):
        dvm = dvm_configs.get(name)
        if dvm is None or name == "kernel":
            continue
        changes: dict[str, object] = {"rw": dvm.rw}
        if not config.snap_on_start and dvm.pool is not None:
            changes["pool"] = dvm.pool
        if dvm.ephemeral is not None and config.kind is VolumeKind.VOLATILE:
            changes["ephemeral"] = dvm.ephemeral
        configs[name] = config.replace(**changes)
