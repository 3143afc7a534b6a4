"""Rule lines, directives and the legacy per-service syntax, with property tests."""

from __future__ import annotations

from pathlib import PurePath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.policy import Action, PolicySyntaxError, Rule, TokenKind
from backend.policy.rules import (
    Directive,
    DirectiveKind,
    build_rule,
    parse_legacy_line,
    parse_policy_line,
    split_lines,
)


def rule(line: str) -> Rule:
    parsed = parse_policy_line(line, path="f.policy", lineno=3)
    assert isinstance(parsed, Rule)
    return parsed


def test_simple_rule_fields() -> None:
    parsed = rule("test.Service +argument @anyvm @anyvm ask")
    assert (parsed.service, parsed.argument) == ("test.Service", "+argument")
    assert parsed.source.kind is TokenKind.ANYVM
    assert parsed.action is Action.ASK
    assert parsed.redirect is None and parsed.user is None and parsed.default_target is None
    assert (parsed.path, parsed.lineno) == (PurePath("f.policy"), 3)


def test_rule_with_params_separated_by_whitespace() -> None:
    parsed = rule("test.Service\t+arg  @tag:tag1 @type:AppVM ask target=work user=root")
    assert parsed.redirect is not None and parsed.redirect.value == "work"
    assert parsed.user == "root"


def test_star_service_and_argument_mean_any() -> None:
    parsed = rule("* * @anyvm @anyvm deny")
    assert parsed.service is None and parsed.argument is None


def test_lone_plus_is_the_empty_argument() -> None:
    assert rule("svc + @anyvm @anyvm deny").argument == "+"


@pytest.mark.parametrize(("action", "notify"), [("deny", True), ("ask", False), ("allow", False)])
def test_notify_defaults_per_action(action: str, notify: bool) -> None:
    assert rule(f"s +a @anyvm @adminvm {action}").notify is notify
    assert rule(f"s +a @anyvm @adminvm {action} notify=yes").notify is True
    assert rule(f"s +a @anyvm @adminvm {action} notify=no").notify is False


@pytest.mark.parametrize("action", ["allow", "ask"])
def test_autostart_defaults_to_yes(action: str) -> None:
    assert rule(f"s +a @anyvm @anyvm {action}").autostart is True
    assert rule(f"s +a @anyvm @anyvm {action} autostart=yes").autostart is True
    assert rule(f"s +a @anyvm @anyvm {action} autostart=no").autostart is False


INVALID_LINES = [
    ("s +a @dispvm @default allow target=work", "@dispvm as source"),
    ("s +a @default @default allow target=work", "@default as source"),
    ("s +a @anyvm @default allow target=@dispvm:@tag:t", "@dispvm:@tag: as redirect"),
    ("s +a @anyvm @default allow target=@tag:t", "@tag: as redirect"),
    ("s +a @anyvm @default allow target=@anyvm", "@anyvm as redirect"),
    ("s +a @anyvm @default allow target=@default", "@default as redirect"),
    ("s +a @anyvm @anyvm deny target=work", "target= with deny"),
    ("s +a @anyvm @anyvm deny default_target=work", "default_target= with deny"),
    ("s +a @anyvm @anyvm deny user=user", "user= with deny"),
    ("s +a @anyvm @anyvm allow default_target=work", "default_target= with allow"),
    ("s +a @anyvm @anyvm deny autostart=no", "autostart= with deny"),
    ("s +a @anyvm @anyvm invalid", "unknown action"),
    ("s +a @anyvm @anyvm allow,target=work", "old comma syntax in v5"),
    ("s +a @anyvm @anyvm allow invalid=xx", "unknown parameter"),
    ("s +a @anyvm @anyvm", "missing action"),
    ("s +a @invalid @anyvm allow", "invalid source"),
    ("s +a @anyvm @invalid deny", "invalid target"),
    ("s +a @anyvm @anyvm allow extra", "parameter without ="),
    ("s +a @anyvm @default allow", "allow to @default without target="),
    ("s +a @anyvm @anyvm allow notify", "notify without value"),
    ("s +a @anyvm @anyvm allow notify=xx", "notify not yes/no"),
    ("s +a @anyvm @anyvm allow autostart=1", "autostart not yes/no"),
    ("s +a @anyvm @anyvm allow user=a user=b", "repeated parameter"),
    ("* +a @anyvm @anyvm allow", "argument with * service"),
    ("s arg @anyvm @anyvm allow", "argument without +"),
    ("s+x +a @anyvm @anyvm allow", "+ in service"),
    ("s +a/b @anyvm @anyvm allow", "bad character in argument"),
    ("s +a @anyvm @anyvm allow target=", "empty redirect"),
]


@pytest.mark.parametrize(("line", "why"), INVALID_LINES, ids=[w for _, w in INVALID_LINES])
def test_invalid_line_is_a_syntax_error_with_its_place(line: str, why: str) -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_policy_line(line, path="/etc/qubes/policy.d/30-user.policy", lineno=12)
    assert caught.value.path == PurePath("/etc/qubes/policy.d/30-user.policy")
    assert caught.value.lineno == 12


@pytest.mark.parametrize("line", ["", "   ", "# comment", "   # indented comment  "])
def test_blank_lines_and_comments_are_nothing(line: str) -> None:
    assert parse_policy_line(line) is None


def test_inline_comments_do_not_exist() -> None:
    with pytest.raises(PolicySyntaxError):
        parse_policy_line("s +a @anyvm @anyvm allow # trailing words")


@pytest.mark.parametrize(
    ("line", "kind", "params"),
    [
        ("!include include/x", DirectiveKind.INCLUDE, ("include/x",)),
        ("!include-dir include", DirectiveKind.INCLUDE_DIR, ("include",)),
        ("!include-service s +a f", DirectiveKind.INCLUDE_SERVICE, ("s", "+a", "f")),
        ("!include-service * * f", DirectiveKind.INCLUDE_SERVICE, ("*", "*", "f")),
        ("!compat-4.0", DirectiveKind.COMPAT_40, ()),
    ],
)
def test_directives(line: str, kind: DirectiveKind, params: tuple[str, ...]) -> None:
    parsed = parse_policy_line(line)
    assert isinstance(parsed, Directive)
    assert (parsed.kind, parsed.params) == (kind, params)


@pytest.mark.parametrize(
    "line",
    [
        "!include",
        "!include a b",
        "!include-dir",
        "!include-service s +a",
        "!include-service * +a f",
        "!include-service s a f",
        "!compat-4.0 now",
        "!unknown x",
        "!",
    ],
)
def test_invalid_directive_is_a_syntax_error(line: str) -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_policy_line(line, path="x.policy", lineno=4)
    assert caught.value.lineno == 4


def test_rule_serialisation_round_trips() -> None:
    lines = [
        "test.Service\t+argument\t@anyvm\t@anyvm\tallow",
        "test.Service\t*\t@anyvm\t@anyvm\tdeny",
        "test.Service\t+argument\t@anyvm\t@dispvm:default-dvm\tallow",
        "test.Service\t+argument\t@tag:tag1\t@type:AppVM\task target=work user=user",
        "test.Service\t+\t@anyvm\t@anyvm\tallow target=@adminvm notify=yes autostart=no",
        "*\t*\twork\tdom0\tdeny notify=no",
    ]
    for line in lines:
        assert str(rule(line)) == line


# --- legacy syntax ------------------------------------------------------------------------


def legacy(line: str, service: str | None = "test.Service", argument: str | None = "+a") -> Rule:
    parsed = parse_legacy_line(service, argument, line, path="old", lineno=2)
    assert isinstance(parsed, Rule)
    return parsed


def test_legacy_dollar_tokens_and_comma_params() -> None:
    parsed = legacy("$anyvm $dispvm ask,default_target=$dispvm")
    assert parsed.source.kind is TokenKind.ANYVM
    assert parsed.target.kind is TokenKind.DISPVM
    assert parsed.default_target is not None and parsed.default_target.kind is TokenKind.DISPVM
    assert (parsed.service, parsed.argument) == ("test.Service", "+a")


def test_legacy_accepts_whitespace_params_and_new_tokens() -> None:
    parsed = legacy("@tag:tag1 @type:AppVM ask target=work user=user")
    assert parsed.redirect is not None and parsed.user == "user"


def test_legacy_argumentless_file_applies_to_every_argument() -> None:
    assert legacy("$anyvm $anyvm allow", argument=None).argument is None


@pytest.mark.parametrize("line", ["$include:/etc/x", "!include other"])
def test_legacy_include_forms(line: str) -> None:
    parsed = parse_legacy_line("s", "+a", line)
    assert isinstance(parsed, Directive) and parsed.kind is DirectiveKind.INCLUDE


@pytest.mark.parametrize(
    "line",
    [
        "$dispvm $default allow",
        "$anyvm $default allow",
        "$anyvm $anyvm deny,target=work",
        "$anyvm $anyvm",
        "$anyvm",
        "$anyvm $anyvm allow extra",
        "!include-dir x",
        "!compat-4.0",
    ],
)
def test_invalid_legacy_lines(line: str) -> None:
    with pytest.raises(PolicySyntaxError) as caught:
        parse_legacy_line("s", "+a", line, path="old", lineno=9)
    assert caught.value.lineno == 9


def test_split_lines_counts_like_a_text_file() -> None:
    assert split_lines("a\nb\r\nc\rd\n") == ["a", "b", "c", "d"]
    assert split_lines("a\n\nb") == ["a", "", "b"]
    assert split_lines("") == []


# --- properties -----------------------------------------------------------------------------

field_chars = st.sampled_from(list("abcXYZ019-._+*@:=$,!# \t") + ["\u00e9", "\x00", "\u2028"])
fields = st.text(field_chars, max_size=12)
known = st.sampled_from(
    [
        "*",
        "+",
        "+arg",
        "svc",
        "@anyvm",
        "@adminvm",
        "@default",
        "@dispvm",
        "@dispvm:x",
        "@tag:t",
        "@type:AppVM",
        "dom0",
        "allow",
        "deny",
        "ask",
        "target=x",
        "target=@dispvm",
        "default_target=y",
        "user=u",
        "notify=yes",
        "autostart=no",
        "!include",
        "!include-service",
        "!compat-4.0",
    ]
)
line_like = st.lists(st.one_of(known, fields), max_size=9).map(" ".join)


@given(line=line_like)
def test_policy_line_parser_raises_only_our_syntax_error(line: str) -> None:
    try:
        parsed = parse_policy_line(line, path="p", lineno=1)
    except PolicySyntaxError as error:
        assert error.lineno == 1
        return
    if isinstance(parsed, Rule):
        assert parse_policy_line(str(parsed)) == parsed


@given(line=line_like)
def test_legacy_line_parser_raises_only_our_syntax_error(line: str) -> None:
    try:
        parse_legacy_line("svc", "+arg", line, path="p", lineno=2)
    except PolicySyntaxError as error:
        assert error.lineno == 2


name = st.text(st.sampled_from("abcdefghij-0123456789"), min_size=1, max_size=8)
source_tokens = st.one_of(
    name, st.sampled_from(["@anyvm", "*", "@adminvm"]), name.map(lambda n: "@tag:" + n)
)
target_tokens = st.one_of(
    name,
    st.sampled_from(["@anyvm", "*", "@adminvm", "@dispvm", "@default"]),
    name.map(lambda n: "@dispvm:" + n),
    name.map(lambda n: "@type:" + n),
)
redirects = st.one_of(st.none(), name, st.sampled_from(["@dispvm", "@adminvm"]))


@st.composite
def valid_rules(draw: st.DrawFn) -> Rule:
    action = draw(st.sampled_from(["allow", "deny", "ask"]))
    service = draw(st.one_of(st.just("*"), name.map(lambda n: "svc." + n)))
    argument = "*" if service == "*" else draw(st.one_of(st.just("*"), name.map("+".__add__)))
    params = []
    if action != "deny":
        redirect = draw(redirects)
        if redirect is not None:
            params.append(f"target={redirect}")
        if action == "ask" and draw(st.booleans()):
            params.append(f"default_target={draw(name)}")
        if draw(st.booleans()):
            params.append(f"user={draw(name)}")
        if draw(st.booleans()):
            params.append(f"autostart={draw(st.sampled_from(['yes', 'no']))}")
    if draw(st.booleans()):
        params.append(f"notify={draw(st.sampled_from(['yes', 'no']))}")
    target = draw(target_tokens)
    if (
        target == "@default"
        and action == "allow"
        and not any(p.startswith("target=") for p in params)
    ):
        params.append("target=work")
    return build_rule(service, argument, draw(source_tokens), target, action, params)


@given(generated=valid_rules())
def test_generated_rules_round_trip(generated: Rule) -> None:
    reparsed = parse_policy_line(str(generated))
    assert reparsed == generated
