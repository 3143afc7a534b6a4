"""qubes-policy-eval: system info from a file or a provider, answers, errors, exit codes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from backend.policy import cli

Write = Callable[[str, str], Path]


@pytest.fixture
def setup(write: Write, tmp_path: Path, system_info: dict[str, Any]) -> Path:
    write(
        "policy.d/30-user.policy",
        "qubes.Filecopy * work @anyvm ask default_target=personal\n"
        "test.Svc +arg work personal allow\n"
        "* * @anyvm @anyvm deny\n",
    )
    write("sysinfo.json", json.dumps(system_info))
    return tmp_path


def run(argv: list[str], **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, stdout=out, stderr=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def base(tmp_path: Path) -> list[str]:
    return [
        "--policy-dir",
        str(tmp_path / "policy.d"),
        "--legacy-dir",
        str(tmp_path / "legacy"),
        "--system-info",
        str(tmp_path / "sysinfo.json"),
    ]


def test_allow_prints_the_answer_and_exits_zero(setup: Path, uuids: dict[str, str]) -> None:
    code, out, err = run([*base(setup), "work", "personal", "test.Svc+arg"])
    assert code == 0
    assert out.splitlines() == [
        "user=DEFAULT",
        "result=allow",
        "target=personal",
        f"target_uuid=uuid:{uuids['personal']}",
        "autostart=True",
        "requested_target=personal",
    ]
    assert err == ""


def test_deny_prints_result_deny_and_the_reason_on_stderr(setup: Path) -> None:
    code, out, err = run([*base(setup), "work", "personal", "test.Svc+other"])
    assert (code, out) == (1, "result=deny\n")
    assert "30-user.policy:3" in err


def test_ask_and_its_modes(setup: Path) -> None:
    code, out, _ = run([*base(setup), "work", "vault", "qubes.Filecopy"])
    assert code == 3
    assert "result=ask" in out.splitlines()
    assert "default_target=personal" in out.splitlines()
    code, out, _ = run([*base(setup), "--just-evaluate", "work", "vault", "qubes.Filecopy"])
    assert (code, out) == (1, "result=deny\n")
    code, out, _ = run(
        [*base(setup), "--just-evaluate", "--assume-yes-for-ask", "work", "vault", "qubes.Filecopy"]
    )
    assert (code, out) == (0, "result=allow\n")


def test_syntax_error_is_reported_with_file_and_line(setup: Path, write: Write) -> None:
    bad = write("policy.d/20-bad.policy", "\n* * work personal allow notify=maybe\n")
    code, out, err = run([*base(setup), "work", "personal", "test.Svc+arg"])
    assert (code, out) == (1, "result=deny\n")
    assert f"{bad}:2:" in err


def test_system_info_from_stdin(setup: Path, system_info: dict[str, Any]) -> None:
    argv = [*base(setup)[:4], "--system-info", "-", "work", "personal", "test.Svc+arg"]
    code, out, _ = run(argv, stdin=io.StringIO(json.dumps(system_info)))
    assert code == 0 and "result=allow" in out


def test_system_info_from_an_injected_provider(setup: Path, system_info: dict[str, Any]) -> None:
    asked: list[str | None] = []

    def provider(socket: str | None) -> Mapping[str, Any]:
        asked.append(socket)
        return system_info

    argv = [*base(setup)[:4], "--socket", "/run/x.sock", "work", "personal", "test.Svc+arg"]
    code, out, _ = run(argv, provider=provider)
    assert code == 0 and "result=allow" in out
    assert asked == ["/run/x.sock"]


def test_without_system_info_the_call_is_denied_with_a_message(setup: Path) -> None:
    code, out, err = run([*base(setup)[:4], "work", "personal", "test.Svc+arg"])
    assert (code, out) == (1, "result=deny\n")
    assert "--system-info" in err


@pytest.mark.parametrize("content", ["{not json", '{"domains": []}', '{"domains": {"x": {}}}'])
def test_bad_system_info_file(setup: Path, content: str) -> None:
    (setup / "sysinfo.json").write_text(content)
    code, out, err = run([*base(setup), "work", "personal", "test.Svc+arg"])
    assert (code, out) == (1, "result=deny\n")
    assert err.startswith("qubes-policy-eval: ")


def test_missing_arguments_is_a_usage_error(setup: Path) -> None:
    with pytest.raises(SystemExit) as caught:
        run([*base(setup), "work", "personal"])
    assert caught.value.code == 2


def test_split_service() -> None:
    assert cli.split_service("svc+arg") == ("svc", "+arg")
    assert cli.split_service("svc+") == ("svc", "+")
    assert cli.split_service("svc") == ("svc", "+")
    assert cli.split_service("svc+a+b") == ("svc", "+a+b")
