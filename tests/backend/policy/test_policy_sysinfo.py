"""The system info structure, and evaluation robustness on arbitrary requests."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backend.policy import (
    Allow,
    Ask,
    Deny,
    SystemInfo,
    SystemInfoError,
    answer_lines,
    evaluate,
    parse_policy_text,
)
from backend.policy.tokens import DOM0_UUID


def test_from_mapping_reads_the_upstream_shape(system_info: dict[str, Any]) -> None:
    info = SystemInfo.from_mapping(system_info)
    work = info.qubes["work"]
    assert (work.type, work.tags, work.power_state) == (
        "AppVM",
        frozenset({"tag1", "tag2"}),
        "Running",
    )
    assert work.default_dispvm == "default-dvm" and not work.internal
    assert info.qubes["mgmt-dvm"].internal and info.qubes["mgmt-dvm"].template_for_dispvms
    assert info.qubes["dom0"].is_adminvm


def test_resolve_by_name_and_uuid(system_info: dict[str, Any]) -> None:
    info = SystemInfo.from_mapping(system_info)
    uuid = system_info["domains"]["personal"]["uuid"]
    assert info.resolve("personal") is info.resolve(f"uuid:{uuid.upper()}")
    assert info.resolve(f"uuid:{DOM0_UUID}") is info.qubes["dom0"]
    assert info.resolve("ghost") is None
    assert info.resolve("uuid:12345678-1234-1234-1234-123456789abc") is None


def test_dom0_is_always_known() -> None:
    info = SystemInfo.from_mapping({"domains": {"work": {"type": "AppVM"}}})
    assert info.qubes["dom0"].is_adminvm and info.qubes["dom0"].is_running
    assert info.qubes["work"].power_state == "Halted" and info.qubes["work"].tags == frozenset()


def test_to_mapping_round_trips(system_info: dict[str, Any]) -> None:
    info = SystemInfo.from_mapping(system_info)
    assert SystemInfo.from_mapping(info.to_mapping()) == info
    assert SystemInfo.from_mapping(info) is info


@pytest.mark.parametrize(
    "data",
    [
        [],
        {},
        {"domains": []},
        {"domains": {"x": []}},
        {"domains": {"x": {}}},
        {"domains": {"x": {"type": 1}}},
        {"domains": {"x": {"type": "AppVM", "tags": "tag1"}}},
        {"domains": {"x": {"type": "AppVM", "tags": 3}}},
        {"domains": {"x": {"type": "AppVM", "uuid": 5}}},
        {"domains": {"": {"type": "AppVM"}}},
    ],
)
def test_malformed_system_info_is_rejected(data: object) -> None:
    with pytest.raises(SystemInfoError):
        SystemInfo.from_mapping(data)


def _qube(klass: str, uuid: str, **extra: Any) -> dict[str, Any]:
    return {"type": klass, "uuid": uuid, "default_dispvm": "dvm", **extra}


# a small system of its own: hypothesis tests cannot take function-scoped fixtures
SYSTEM_INFO: dict[str, Any] = {
    "domains": {
        "dom0": _qube("AdminVM", DOM0_UUID, power_state="Running", tags=["t0"]),
        "work": _qube("AppVM", "c9024a97-9b15-46cc-8341-38d75d5d421b", tags=["tag1"]),
        "vault": _qube("AppVM", "53a450b9-a454-4416-8adb-46812257ad29", default_dispvm=None),
        "dvm": _qube("AppVM", "f3e538bd-4427-4697-bed7-45ef3270df21", template_for_dispvms=True),
        "dvm3": _qube(
            "AppVM",
            "fa6d56e8-a89d-4106-aa62-22e172a43c8b",
            template_for_dispvms=True,
            tags=["tag3"],
        ),
        "hidden": _qube("AppVM", "f3e538bd-4427-4697-bed7-45ef3270df23", internal="1"),
        "run": _qube("AppVM", "b3eb69d0-f9d9-4c3c-ad5c-454500303ea4", power_state="Running"),
    }
}
POLICY = parse_policy_text(
    "svc +a @anyvm @dispvm:@tag:tag3 allow\n"
    "svc +a @tag:tag1 @default ask default_target=@dispvm\n"
    "svc +a * @adminvm allow target=@dispvm\n"
    "* * work @anyvm ask autostart=no\n"
    "* * @anyvm * allow target=vault autostart=no\n"
    "* * * @anyvm ask\n"
)
assert POLICY.error is None
NAMES = [*SYSTEM_INFO["domains"], "ghost", "", "@adminvm", "@default", "@dispvm", "@anyvm"]
requests = st.one_of(
    st.sampled_from(NAMES),
    st.sampled_from(NAMES).map(lambda n: "@dispvm:" + n),
    st.sampled_from(list(SYSTEM_INFO["domains"].values())).map(lambda q: "uuid:" + q["uuid"]),
    st.text(max_size=12),
)


@settings(max_examples=300)
@given(
    source=requests,
    target=requests,
    service=st.sampled_from(["svc", "a.b", "", "bad+"]),
    argument=st.sampled_from(["+", "+a", None]),
)
def test_evaluation_always_decides(
    source: str, target: str, service: str, argument: str | None
) -> None:
    decision = evaluate(POLICY, source, target, service, argument, copy.deepcopy(SYSTEM_INFO))
    assert isinstance(decision, Allow | Ask | Deny)
    lines = answer_lines(decision)
    assert lines[0].startswith(("user=", "result="))
    if isinstance(decision, Ask):
        assert decision.targets and decision.source not in decision.targets
        assert decision.default_target is None or decision.default_target in decision.targets
    if isinstance(decision, Allow):
        assert decision.target != "@default" and decision.target != "@dispvm"
