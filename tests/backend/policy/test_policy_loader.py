"""Loading policy directories: file selection, order, includes, legacy files, errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from backend.policy import Deny, load_policy
from backend.policy.loader import legacy_files

Write = Callable[[str, str], Path]


def rule_lines(policy_dirs: Path | list[Path], legacy: Path | None = None) -> list[str]:
    policy = load_policy(policy_dirs, legacy)
    assert policy.error is None, policy.error
    return [
        f"{r.service} {r.argument} {r.source} {r.target} {r.action.value}" for r in policy.rules
    ]


def test_files_load_in_lexical_order(write: Write, tmp_path: Path) -> None:
    write("policy.d/90-default.policy", "a + @anyvm @anyvm deny\n")
    write("policy.d/30-user.policy", "b + @anyvm @anyvm deny\n")
    write("policy.d/35-compat.policy", "c + @anyvm @anyvm deny\n")
    assert rule_lines(tmp_path / "policy.d") == [
        "b + @anyvm @anyvm deny",
        "c + @anyvm @anyvm deny",
        "a + @anyvm @anyvm deny",
    ]


def test_only_visible_dot_policy_files_count(write: Write, tmp_path: Path) -> None:
    write("policy.d/30-user.policy", "a + @anyvm @anyvm deny\n")
    write("policy.d/30-user.policy~", "garbage\n")
    write("policy.d/.30-user.policy.swp", "garbage\n")
    write("policy.d/README", "garbage\n")
    write("policy.d/include/inside.policy", "garbage\n")  # subdirectories are not read
    assert rule_lines(tmp_path / "policy.d") == ["a + @anyvm @anyvm deny"]


def test_one_bad_file_name_denies_everything(write: Write, tmp_path: Path) -> None:
    write("policy.d/30-user.policy", "* * @anyvm @anyvm allow\n")
    bad = write("policy.d/30-User.policy", "* * @anyvm @anyvm allow\n")
    policy = load_policy(tmp_path / "policy.d")
    assert policy.rules == ()
    assert policy.error is not None and policy.error.path == bad


def test_runtime_directory_shadows_by_file_name(write: Write, tmp_path: Path) -> None:
    write("etc/30-user.policy", "etc + @anyvm @anyvm deny\n")
    write("etc/40-other.policy", "other + @anyvm @anyvm deny\n")
    write("run/30-user.policy", "run + @anyvm @anyvm deny\n")
    write("run/10-first.policy", "first + @anyvm @anyvm deny\n")
    assert rule_lines([tmp_path / "run", tmp_path / "etc"]) == [
        "first + @anyvm @anyvm deny",
        "run + @anyvm @anyvm deny",
        "other + @anyvm @anyvm deny",
    ]


def test_missing_policy_directory_denies_everything(tmp_path: Path) -> None:
    policy = load_policy(tmp_path / "nowhere")
    assert policy.error is not None and policy.error.path == tmp_path / "nowhere"


def test_include_is_read_in_place(write: Write, tmp_path: Path) -> None:
    write(
        "policy.d/30-user.policy",
        "a + @anyvm @anyvm deny\n!include include/extra\nc + @anyvm @anyvm deny\n",
    )
    write("policy.d/include/extra", "b + @anyvm @anyvm deny\n")
    policy = load_policy(tmp_path / "policy.d")
    assert [r.service for r in policy.rules] == ["a", "b", "c"]
    included = policy.rules[1]
    assert (included.path, included.lineno) == (tmp_path / "policy.d/include/extra", 1)


def test_include_takes_absolute_paths(write: Write, tmp_path: Path) -> None:
    extra = write("elsewhere/extra", "b + @anyvm @anyvm deny\n")
    write("policy.d/30-user.policy", f"!include {extra}\n")
    assert rule_lines(tmp_path / "policy.d") == ["b + @anyvm @anyvm deny"]


def test_nested_include_paths_are_relative_to_the_policy_directory(
    write: Write, tmp_path: Path
) -> None:
    write("policy.d/30-user.policy", "!include include/one\n")
    write("policy.d/include/one", "!include include/two\n")
    write("policy.d/include/two", "two + @anyvm @anyvm deny\n")
    assert rule_lines(tmp_path / "policy.d") == ["two + @anyvm @anyvm deny"]


def test_include_dir_reads_its_policy_files_in_order(write: Write, tmp_path: Path) -> None:
    write("policy.d/30-user.policy", "!include-dir extra\nz + @anyvm @anyvm deny\n")
    write("policy.d/extra/20-b.policy", "b + @anyvm @anyvm deny\n")
    write("policy.d/extra/10-a.policy", "a + @anyvm @anyvm deny\n")
    write("policy.d/extra/notes.txt", "garbage\n")
    assert [r.service for r in load_policy(tmp_path / "policy.d").rules] == ["a", "b", "z"]


def test_include_service_reads_old_syntax_for_that_service(write: Write, tmp_path: Path) -> None:
    write(
        "policy.d/30-user.policy",
        "!include-service admin.vm.List * include/admin-global-ro\n"
        "!include-service qubes.Filecopy +x include/new-syntax\n",
    )
    write(
        "policy.d/include/admin-global-ro",
        "# old syntax\n$tag:guivm $adminvm allow,target=dom0\n$include:include/more\n",
    )
    write("policy.d/include/more", "sys-gui $anyvm ask,default_target=$dispvm\n")
    write("policy.d/include/new-syntax", "work @dispvm ask default_target=@dispvm\n")
    policy = load_policy(tmp_path / "policy.d")
    assert policy.error is None, policy.error
    assert [(r.service, r.argument, str(r.source), r.action.value) for r in policy.rules] == [
        ("admin.vm.List", None, "@tag:guivm", "allow"),
        ("admin.vm.List", None, "sys-gui", "ask"),
        ("qubes.Filecopy", "+x", "work", "ask"),
    ]


def test_missing_include_is_a_syntax_error_at_the_directive(write: Write, tmp_path: Path) -> None:
    policy_file = write("policy.d/30-user.policy", "# one\n!include include/missing\n")
    for directive in ("!include include/missing", "!include-dir nodir", "!include-service s + x"):
        policy_file.write_text(f"# one\n{directive}\n")
        policy = load_policy(tmp_path / "policy.d")
        assert policy.error is not None
        assert (policy.error.path, policy.error.lineno) == (policy_file, 2)


def test_include_loop_is_an_error_not_a_crash(write: Write, tmp_path: Path) -> None:
    write("policy.d/30-user.policy", "!include include/a\n")
    write("policy.d/include/a", "!include include/b\n")
    b = write("policy.d/include/b", "# b\n!include include/a\n")
    policy = load_policy(tmp_path / "policy.d")
    assert policy.error is not None
    assert (policy.error.path, policy.error.lineno) == (b, 2)


def test_syntax_error_in_an_included_file_points_there(write: Write, tmp_path: Path) -> None:
    write("policy.d/30-user.policy", "* * @anyvm @anyvm deny\n!include include/bad\n")
    bad = write("policy.d/include/bad", "\n\nsvc + @anyvm @anyvm permit\n")
    policy = load_policy(tmp_path / "policy.d")
    assert policy.rules == ()
    assert policy.error is not None
    assert (policy.error.path, policy.error.lineno) == (bad, 3)
    assert str(policy.error).startswith(f"{bad}:3: ")


def test_invalid_utf8_is_reported_with_its_line(tmp_path: Path) -> None:
    directory = tmp_path / "policy.d"
    directory.mkdir()
    (directory / "30-user.policy").write_bytes(b"# ok\n# ok\n# \xff\n")
    policy = load_policy(directory)
    assert policy.error is not None and policy.error.lineno == 3


def test_syntax_error_anywhere_denies_every_call(
    write: Write, tmp_path: Path, system_info: dict[str, object]
) -> None:
    from backend.policy import evaluate

    write("policy.d/10-good.policy", "* * @anyvm @anyvm allow\n")
    write("policy.d/99-bad.policy", "* * @anyvm\n")
    policy = load_policy(tmp_path / "policy.d")
    decision = evaluate(policy, "work", "personal", "test.Service", "+", system_info)
    assert isinstance(decision, Deny)
    assert decision.error is policy.error
    assert "99-bad.policy:1" in decision.reason


# --- !compat-4.0 and the legacy directory -------------------------------------------------


def test_legacy_files_order_and_ignored_names(write: Write, tmp_path: Path) -> None:
    for name in (
        "b.Svc",
        "b.Svc+zz",
        "b.Svc+aa",
        "a.Svc",
        ".hidden",
        "a.Svc.rpmsave",
        "a.Svc.rpmnew",
        "a.Svc.swp",
        "bad name",
        "+noservice",
    ):
        write(f"legacy/{name}", "$anyvm $anyvm deny\n")
    (tmp_path / "legacy/a.Dir").mkdir()
    order = [(service, argument) for service, argument, _ in legacy_files(tmp_path / "legacy")]
    assert order == [("a.Svc", None), ("b.Svc", "+aa"), ("b.Svc", "+zz"), ("b.Svc", None)]


def test_compat_adds_implicit_denies_after_argument_files_only(
    write: Write, tmp_path: Path
) -> None:
    write("policy.d/35-compat.policy", "!compat-4.0\n")
    write("policy.d/90-default.policy", "* * @anyvm @anyvm allow\n")
    write("legacy/test.Svc", "work personal allow\n")
    write("legacy/test.Svc+arg", "work personal allow\n")
    lines = rule_lines(tmp_path / "policy.d", tmp_path / "legacy")
    assert lines == [
        "test.Svc +arg work personal allow",
        "test.Svc +arg @anyvm @anyvm deny",
        "test.Svc +arg @anyvm @adminvm deny",
        "test.Svc None work personal allow",
        "None None @anyvm @anyvm allow",
    ]


def test_compat_without_legacy_directory_adds_nothing(write: Write, tmp_path: Path) -> None:
    write("policy.d/35-compat.policy", "!compat-4.0\n")
    assert rule_lines(tmp_path / "policy.d", tmp_path / "missing") == []
    assert rule_lines(tmp_path / "policy.d", None) == []


def test_legacy_include_is_relative_to_the_legacy_directory(write: Write, tmp_path: Path) -> None:
    write("policy.d/35-compat.policy", "!compat-4.0\n")
    write("legacy/test.Svc", "$include:include/shared\n")
    write("legacy/include/shared", "work $dispvm allow\n")
    assert rule_lines(tmp_path / "policy.d", tmp_path / "legacy") == [
        "test.Svc None work @dispvm allow"
    ]


def test_syntax_error_in_a_legacy_file_denies_everything(write: Write, tmp_path: Path) -> None:
    write("policy.d/35-compat.policy", "!compat-4.0\n")
    bad = write("legacy/test.Svc", "$anyvm $anyvm allow\n$anyvm $anyvm alow\n")
    policy = load_policy(tmp_path / "policy.d", tmp_path / "legacy")
    assert policy.error is not None
    assert (policy.error.path, policy.error.lineno) == (bad, 2)
