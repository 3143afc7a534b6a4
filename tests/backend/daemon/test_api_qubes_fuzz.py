"""Random Set/Reset calls never crash the daemon: each either succeeds or changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from backend.api.methods.qubes_create import parse_create_payload
from backend.errors import ProtocolError, QubesException
from backend.model.globalprops import GLOBAL_PROPS
from backend.model.persist import to_document
from backend.model.vm import VM_CLASSES
from backend.protocol import parse_property_value

from .conftest import RunningDaemon

CLASSES = {
    "dom0": "AdminVM",
    "fedora-42": "TemplateVM",
    "sys-net": "AppVM",
    "sys-firewall": "AppVM",
    "default-dvm": "AppVM",
    "work": "AppVM",
    "vault": "AppVM",
    "anon-whonix": "AppVM",
    "sys-whonix": "AppVM",
}
QUBES = list(CLASSES)
WORDS = [
    *QUBES,
    "nosuch",
    "",
    "True",
    "False",
    "yes",
    "0",
    "1",
    "-1",
    "400",
    "99999999999999",
    "red",
    "label-3",
    "9",
    "hvm",
    "pv",
    "pvh",
    "default",
    "none",
    "varlibqubes",
    "10.137.0.99",
    "fd09:24ef:4179::a89:7",
    "00:16:3E:5E:6C:01",
    "us+dvorak+",
    "a\\b\nc",
    "%s %d %",
    "b001234****",
    "6.12.59-1.fc41",
    "../etc",
    "x" * 600,
]
PAYLOADS = st.one_of(
    st.sampled_from(WORDS).map(str.encode),
    st.sampled_from(WORDS).map(str.encode),
    st.binary(max_size=24),
    st.text(max_size=24).map(lambda t: t.encode("utf-8", "surrogatepass")),
)
#: what a refused Set or Reset may answer; anything else (or no answer) is a bug
EXPECTED_ERRORS = (
    b"QubesPropertyValueError",
    b"QubesValueError",
    b"QubesNoSuchPropertyError",
    b"QubesLabelNotFoundError",
    b"QubesVMNotFoundError",
    b"QubesVMNotHaltedError",
    b"QubesVMInUseError",
)


def _snapshot(running: RunningDaemon) -> Any:
    return running.in_loop(lambda: to_document(running.app))


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    data=st.data(),
    method=st.sampled_from(["Set", "Set", "Set", "Reset"]),
    target=st.sampled_from([*QUBES, "@global"]),
    payload=PAYLOADS,
)
def test_random_property_changes_succeed_or_change_nothing(
    running: RunningDaemon, data: st.DataObject, method: str, target: str, payload: bytes
) -> None:
    if target == "@global":
        family, dest = "admin.property", "dom0"
        prop = data.draw(st.sampled_from([*sorted(GLOBAL_PROPS), "nosuch"]), label="prop")
    else:
        family, dest = "admin.vm.property", target
        names = sorted(VM_CLASSES[CLASSES[target]].PROPS)
        prop = data.draw(st.sampled_from([*names, "nosuch"]), label="prop")
    before = _snapshot(running)
    if method == "Set":
        raw = running.raw(f"{family}.Set", dest, prop, payload)
    else:
        raw = running.raw(f"{family}.Reset", dest, prop)
    assert raw[:2] in (b"0\0", b"2\0"), f"no answer: the handler crashed ({raw!r})"
    outcome = raw.split(b"\0")[1].decode() or "ok"
    event(f"{method}: {outcome}")
    if raw[:2] == b"2\0":
        assert raw.split(b"\0")[1] in EXPECTED_ERRORS, raw
        assert _snapshot(running) == before, f"{method} {prop}={payload!r} failed but changed"
    else:
        assert raw == b"0\0"
        value = parse_property_value(running.call(f"{family}.Get", dest, prop))
        assert value.is_default is (method == "Reset")
    assert running.raw("admin.vm.List", "work").startswith(b"0\0work class=AppVM")


@given(
    st.one_of(
        st.binary(max_size=80),
        st.lists(
            st.sampled_from(
                [
                    "name=x",
                    "label=red",
                    "pool=a",
                    "pool:root=b",
                    "pool:swap=c",
                    "name=",
                    "label=",
                    "x=y",
                    "",
                    "name=a=b",
                ]
            ),
            max_size=6,
        ).map(lambda parts: " ".join(parts).encode()),
    )
)
def test_create_payload_parsing_only_raises_answerable_errors(payload: bytes) -> None:
    for allow_pool in (False, True):
        try:
            params = parse_create_payload(payload, allow_pool=allow_pool)
        except (ProtocolError, QubesException):
            continue
        assert params.name and params.label
        assert not (params.pool and params.pools)
        assert allow_pool or (params.pool is None and not params.pools)
