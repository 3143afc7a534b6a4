"""Property tests of the pure parsers: volume attributes, revision names, sizes."""

from __future__ import annotations

import datetime
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import QubesValueError
from backend.storage.config import VolumeConfig, parse_bool
from backend.storage.revisions import (
    format_suffix,
    format_timestamp,
    parse_suffix,
    validate_revision_id,
)
from backend.storage.sizes import check_new_size, validate_size

_KNOWN = {
    "name",
    "pool",
    "vid",
    "revisions_to_keep",
    "rw",
    "save_on_stop",
    "snap_on_start",
    "size",
    "source",
    "ephemeral",
}
_UPSTREAM_ORDER = [
    "name",
    "pool",
    "vid",
    "revisions_to_keep",
    "rw",
    "save_on_stop",
    "snap_on_start",
    "size",
    "source",
    "ephemeral",
]
names = st.text(
    st.characters(codec="ascii", categories=["L", "N"], include_characters="_.-"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))
texts = st.text(st.characters(codec="utf-8", categories=["L", "N", "P", "S"]), max_size=30)
vids = st.lists(names, min_size=1, max_size=3).map("/".join)
# "None" and "" are how qubes.xml spells "not set" for optional attributes
sources = st.one_of(st.none(), vids.filter(lambda v: v != "None"))
configs = st.builds(
    VolumeConfig,
    name=names,
    pool=st.one_of(st.none(), names.filter(lambda v: v != "None")),
    vid=st.one_of(st.none(), vids),
    rw=st.booleans(),
    snap_on_start=st.booleans(),
    save_on_stop=st.booleans(),
    source=sources,
    revisions_to_keep=st.one_of(st.none(), st.integers(-1, 1000)),
    size=st.one_of(st.none(), st.integers(0, 2**63)),
    ephemeral=st.one_of(st.none(), st.booleans()),
    extra=st.dictionaries(names.filter(lambda n: n not in _KNOWN), texts, max_size=2).map(
        lambda d: tuple(d.items())
    ),
)


@given(configs)
def test_volume_config_round_trips_through_attrs(config: VolumeConfig) -> None:
    attrs = config.to_attrs()
    assert all(isinstance(value, str) for value in attrs.values())
    assert VolumeConfig.from_attrs(attrs) == config


@given(configs)
def test_volume_config_booleans_are_written_as_true_false(config: VolumeConfig) -> None:
    attrs = config.to_attrs()
    for key in ("rw", "save_on_stop", "snap_on_start"):
        assert attrs[key] in ("True", "False")
    known = [key for key in attrs if key in _KNOWN]
    assert known == [key for key in _UPSTREAM_ORDER if key in attrs]  # upstream order


def test_volume_config_from_upstream_attrs() -> None:
    config = VolumeConfig.from_attrs(
        {
            "name": "root",
            "pool": "varlibqubes",
            "vid": "appvms/work/root",
            "revisions_to_keep": "1",
            "rw": "True",
            "save_on_stop": "False",
            "snap_on_start": "True",
            "size": "10737418240",
            "source": "vm-templates/fedora/root",
        }
    )
    assert config.source == "vm-templates/fedora/root"
    assert config.size == 10 * 1024**3
    assert config.ephemeral is None


@pytest.mark.parametrize(
    "attrs",
    [
        {"pool": "p"},
        {"name": "root", "rw": "perhaps"},
        {"name": "root", "size": "-5"},
        {"name": "root", "size": "1e9"},
        {"name": "root", "revisions_to_keep": "-2"},
        {"name": "a/b"},
    ],
)
def test_volume_config_refuses_bad_attrs(attrs: dict[str, str]) -> None:
    with pytest.raises(QubesValueError):
        VolumeConfig.from_attrs(attrs)


@given(st.sampled_from(["1", "yes", "TRUE", "On", "0", "no", "False", "OFF"]))
def test_parse_bool_accepts_qubesd_words(word: str) -> None:
    assert parse_bool(word, "x") is (word.lower() in ("1", "yes", "true", "on"))


@given(
    st.text().filter(
        lambda s: s.strip().lower() not in ("1", "yes", "true", "on", "0", "no", "false", "off")
    )
)
def test_parse_bool_refuses_anything_else(word: str) -> None:
    with pytest.raises(QubesValueError):
        parse_bool(word, "x")


timestamps = st.integers(0, 253402300799)  # up to 9999-12-31T23:59:59


@given(st.integers(1, 10**9), timestamps)
def test_revision_suffix_round_trips(number: int, epoch: int) -> None:
    stamp = format_timestamp(epoch)
    suffix = format_suffix(number, stamp)
    assert suffix == f"{number}@{stamp}Z"
    assert parse_suffix(suffix) == (number, stamp)
    validate_revision_id(str(number))


@given(timestamps)
def test_timestamp_is_utc_iso_seconds(epoch: int) -> None:
    stamp = format_timestamp(epoch)
    parsed = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.UTC)
    assert parsed.timestamp() == epoch


@given(st.text(max_size=40))
def test_parse_suffix_accepts_only_revision_names(text: str) -> None:
    parsed = parse_suffix(text)
    if parsed is not None:
        assert format_suffix(*parsed) == text


@pytest.mark.parametrize(
    "text",
    [
        "0@2024-01-01T00:00:00Z",
        "1@2024-01-01T00:00:00",
        "01@2024-01-01T00:00:00Z",
        "1@2024-01-01 00:00:00Z",
        "x@2024-01-01T00:00:00Z",
        "1@2024-01-01T00:00:00Z~tmp",
    ],
)
def test_parse_suffix_refuses_near_misses(text: str) -> None:
    assert parse_suffix(text) is None


@given(
    st.text(min_size=1).filter(
        lambda s: any(not (c.isascii() and (c.isalnum() or c in ":_.-")) for c in s)
    )
)
def test_revision_ids_with_other_characters_are_refused(text: str) -> None:
    with pytest.raises(QubesValueError):
        validate_revision_id(text)


@given(st.integers(0, 2**64), st.integers(0, 2**64))
def test_check_new_size_only_grows(current: int, new: int) -> None:
    if new >= current:
        assert check_new_size("vol", current, new) == new
        assert check_new_size("vol", current, str(new)) == new
    else:
        with pytest.raises(QubesValueError) as info:
            check_new_size("vol", current, new)
        assert f"from {current} bytes to {new} bytes" in str(info.value)


@given(
    st.one_of(
        st.integers(max_value=-1),
        st.floats(),
        st.booleans(),
        st.none(),
        st.text().filter(lambda s: not re.fullmatch(r"\+?[0-9]+", s, re.ASCII)),
    )
)
def test_validate_size_refuses_non_sizes(value: object) -> None:
    with pytest.raises(QubesValueError):
        validate_size(value)
