"""Fuzzed requests over the socket never take the server down."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backend.protocol import encode_request

fuzz_settings = settings(
    deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow]
)

# test.Gate / test.Hold / test.Slow wait for the test to release them: not fuzzed by name
METHODS = [
    "test.Echo",
    "test.NoResult",
    "test.Async",
    "test.Raise",
    "test.AsyncRaise",
    "test.Bug",
    "test.AsyncBug",
    "test.BadResult",
    "test.NeedArg",
    "test.NeedPayload",
    "test.AdminOnly",
    "test.NotAdmin",
    "test.Create.AppVM",
    "test.Create.Nope",
    "test.device.usb.Attach",
    "test.any.x",
    "test.FiniteEvents",
    "admin.backend.CallCounts",
    "",
    "test",
]
NAMES = ["dom0", "work", "sys-gui", "uuid:", "uuid:0", "", "nope"]

header_piece = st.text(st.characters(min_codepoint=0, max_codepoint=0x2FF), max_size=20)


def assert_still_answers(server) -> None:
    assert server.raw(b"test.Echo+ok dom0 name work\0") == b"0\0test.Echo|ok||dom0|work"


def assert_well_formed(answer: bytes) -> None:
    # nothing, a result, an error, or (FiniteEvents) an event stream
    assert answer == b"" or answer[:2] in (b"0\0", b"1\0", b"2\0"), answer


@fuzz_settings
@given(st.binary(max_size=300))
def test_arbitrary_bytes(threaded_api, data: bytes) -> None:
    assert_well_formed(threaded_api.raw(data))
    assert_still_answers(threaded_api)


@fuzz_settings
@given(
    method=st.sampled_from(METHODS) | header_piece,
    arg=header_piece,
    source=st.sampled_from(NAMES) | header_piece,
    dest_type=st.sampled_from(["name", "keyword", "uuid", ""]),
    dest=st.sampled_from([*NAMES, "adminvm"]) | header_piece,
    payload=st.binary(max_size=200),
)
def test_fuzzed_headers_and_payloads(
    threaded_api, method: str, arg: str, source: str, dest_type: str, dest: str, payload: bytes
) -> None:
    header = f"{method}+{arg} {source} {dest_type} {dest}".encode("utf-8", "surrogatepass")
    assert_well_formed(threaded_api.raw(header + b"\0" + payload))
    assert_still_answers(threaded_api)


@fuzz_settings
@given(
    method=st.sampled_from(METHODS),
    arg=st.from_regex(r"[A-Za-z0-9_.+-]{0,12}", fullmatch=True),
    dest=st.sampled_from(["dom0", "work", "sys-gui"]),
    payload=st.binary(max_size=100),
)
def test_well_framed_calls_always_get_an_answer(
    threaded_api, method: str, arg: str, dest: str, payload: bytes
) -> None:
    answer = threaded_api.raw(encode_request(method, dest, arg, payload) if method else b"")
    assert_well_formed(answer)
    bugs = {"test.Bug", "test.AsyncBug", "test.BadResult", ""}
    if method not in bugs and not (method in ("test.Raise", "test.AsyncRaise") and arg):
        assert answer != b""  # only bugs, framing errors and missing errors go unanswered
    assert_still_answers(threaded_api)
