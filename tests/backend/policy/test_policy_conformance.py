"""Conformance table: every behaviour stated in core-model.md §8.1–§8.5 and Appendix B #6.

Each case writes real files (v5 policy under ``policy.d/``, per-service files under
``legacy/``), evaluates one call and compares a one-line summary of the decision:
``allow TARGET``, ``ask T1,T2[ default=D]``, ``deny`` or ``deny-all`` (policy unusable).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from backend.policy import Allow, Ask, Decision, Deny, PolicyEngine
from backend.policy.tokens import DOM0_UUID

WORK_UUID = "c9024a97-9b15-46cc-8341-38d75d5d421b"
PERSONAL_UUID = "b3eb69d0-f9d9-4c3c-ad5c-454500303ea4"
P = "policy.d/30-test.policy"


@dataclass(frozen=True)
class Case:
    id: str
    policy: str
    source: str
    target: str
    expect: str
    call: str = "test.Service+arg"
    files: dict[str, str] = field(default_factory=dict)


def summary(decision: Decision) -> str:
    if isinstance(decision, Allow):
        return f"allow {decision.target}"
    if isinstance(decision, Ask):
        default = f" default={decision.default_target}" if decision.default_target else ""
        return f"ask {','.join(decision.targets)}{default}"
    assert isinstance(decision, Deny)
    return "deny-all" if decision.error is not None else "deny"


CASES = [
    # §8.1 files, lines, directives
    Case(
        "comments-and-blank-lines",
        "# c\n\n   # c\n* * work personal allow\n",
        "work",
        "personal",
        "allow personal",
    ),
    Case(
        "lone-plus-is-empty-argument",
        "test.Service + work personal allow",
        "work",
        "personal",
        "allow personal",
        call="test.Service",
    ),
    Case(
        "lone-plus-not-other-argument",
        "test.Service + work personal allow",
        "work",
        "personal",
        "deny",
    ),
    Case(
        "star-argument-any",
        "test.Service * work personal allow",
        "work",
        "personal",
        "allow personal",
        call="test.Service+x",
    ),
    Case(
        "star-service-any",
        "* * work personal allow",
        "work",
        "personal",
        "allow personal",
        call="other.Svc+y",
    ),
    Case(
        "first-file-wins",
        "* * work personal deny",
        "work",
        "personal",
        "allow personal",
        files={"policy.d/10-first.policy": "* * work personal allow\n"},
    ),
    Case(
        "bad-file-name-denies-all",
        "* * work personal allow",
        "work",
        "personal",
        "deny-all",
        files={"policy.d/20-Bad.policy": "# nothing\n"},
    ),
    Case(
        "dotfile-ignored",
        "",
        "work",
        "personal",
        "deny",
        files={"policy.d/.10-hidden.policy": "* * work personal allow\n"},
    ),
    Case(
        "other-suffix-ignored",
        "",
        "work",
        "personal",
        "deny",
        files={"policy.d/10-x.policy.rpmnew": "* * work personal allow\n"},
    ),
    Case(
        "include-in-place",
        "!include include/x\n* * work personal deny",
        "work",
        "personal",
        "allow personal",
        files={"policy.d/include/x": "* * work personal allow\n"},
    ),
    Case(
        "include-dir",
        "!include-dir inc",
        "work",
        "personal",
        "allow personal",
        files={"policy.d/inc/10-a.policy": "* * work personal allow\n"},
    ),
    Case(
        "include-service-old-syntax",
        "!include-service test.Service +arg include/s",
        "work",
        "personal",
        "allow personal",
        files={"policy.d/include/s": "$tag:tag1 $anyvm allow\n"},
    ),
    Case(
        "include-service-limits-service",
        "!include-service other.Svc * include/s",
        "work",
        "personal",
        "deny",
        files={"policy.d/include/s": "$anyvm $anyvm allow\n"},
    ),
    Case(
        "missing-include-denies-all",
        "!include include/none\n* * work personal allow",
        "work",
        "personal",
        "deny-all",
    ),
    Case("missing-include-dir-denies-all", "!include-dir none", "work", "personal", "deny-all"),
    # §8.2 tokens
    Case("name-matches-name", "* * work personal allow", "work", "personal", "allow personal"),
    Case(
        "uuid-rule-matches-name",
        f"* * work uuid:{PERSONAL_UUID} allow",
        "work",
        "personal",
        "allow personal",
    ),
    Case(
        "name-rule-matches-uuid-request",
        "* * work personal allow",
        "work",
        f"uuid:{PERSONAL_UUID}",
        "allow personal",
    ),
    Case(
        "uuid-source", f"* * uuid:{WORK_UUID} personal allow", "work", "personal", "allow personal"
    ),
    Case("dom0-is-adminvm", "* * work dom0 allow", "work", "@adminvm", "allow dom0"),
    Case("adminvm-is-dom0", "* * work @adminvm allow", "work", "dom0", "allow dom0"),
    Case("uuid0-is-dom0", f"* * work uuid:{DOM0_UUID} allow", "work", "dom0", "allow dom0"),
    Case(
        "adminvm-matches-uuid0",
        "* * work @adminvm allow",
        "work",
        f"uuid:{DOM0_UUID}",
        "allow dom0",
    ),
    Case("anyvm-target-not-dom0", "* * work @anyvm allow", "work", "dom0", "deny"),
    Case("anyvm-target-not-adminvm", "* * work @anyvm allow", "work", "@adminvm", "deny"),
    Case("anyvm-source-not-dom0", "* * @anyvm work allow", "dom0", "work", "deny"),
    Case("star-target-dom0", "* * work * allow", "work", "dom0", "allow dom0"),
    Case("star-source-dom0", "* * * work allow", "dom0", "work", "allow work"),
    Case(
        "anyvm-matches-default",
        "* * work @anyvm allow target=personal",
        "work",
        "",
        "allow personal",
    ),
    Case(
        "anyvm-matches-dispvm",
        "* * work @anyvm allow",
        "work",
        "@dispvm",
        "allow @dispvm:default-dvm",
    ),
    Case(
        "anyvm-matches-dispvm-template",
        "* * work @anyvm allow",
        "work",
        "@dispvm:dvm3",
        "allow @dispvm:dvm3",
    ),
    Case(
        "default-matches-no-target",
        "* * work @default allow target=personal",
        "work",
        "",
        "allow personal",
    ),
    Case(
        "default-matches-unknown-name",
        "* * work @default allow target=personal",
        "work",
        "ghost",
        "allow personal",
    ),
    Case(
        "default-not-existing-name",
        "* * work @default allow target=personal",
        "work",
        "vault",
        "deny",
    ),
    Case(
        "dispvm-resolves-default",
        "* * work @dispvm allow",
        "work",
        "@dispvm",
        "allow @dispvm:default-dvm",
    ),
    Case("dispvm-without-default", "* * vault @dispvm allow", "vault", "@dispvm", "deny"),
    Case(
        "dispvm-template-matches-dispvm",
        "* * work @dispvm:default-dvm allow",
        "work",
        "@dispvm",
        "allow @dispvm:default-dvm",
    ),
    Case(
        "dispvm-template-not-other-default",
        "* * work @dispvm:dvm3 allow",
        "work",
        "@dispvm",
        "deny",
    ),
    Case(
        "dispvm-tag",
        "* * work @dispvm:@tag:tag3 allow",
        "work",
        "@dispvm:dvm3",
        "allow @dispvm:dvm3",
    ),
    Case(
        "dispvm-tag-other-template",
        "* * work @dispvm:@tag:tag3 allow",
        "work",
        "@dispvm:default-dvm",
        "deny",
    ),
    Case("tag-target", "* * work @tag:tag2 allow", "work", "personal", "allow personal"),
    Case("tag-source", "* * @tag:tag1 personal allow", "work", "personal", "allow personal"),
    Case("type-target", "* * work @type:TemplateVM allow", "work", "fedora", "allow fedora"),
    Case("type-source", "* * @type:StandaloneVM work allow", "standalone", "work", "allow work"),
    Case("tag-matches-literal-dom0", "* * work @tag:dom0-tag allow", "work", "dom0", "allow dom0"),
    Case("tag-not-adminvm", "* * work @tag:dom0-tag allow", "work", "@adminvm", "deny"),
    Case("type-matches-literal-dom0", "* * work @type:AdminVM allow", "work", "dom0", "allow dom0"),
    Case("type-not-adminvm", "* * work @type:AdminVM allow", "work", "@adminvm", "deny"),
    Case(
        "dispvm-source-never-matches",
        "* * @dispvm:default-dvm personal allow",
        "default-dvm",
        "personal",
        "deny",
    ),
    Case("request-anyvm-rejected", "* * work * allow", "work", "@anyvm", "deny"),
    Case("request-star-rejected", "* * work * allow", "work", "*", "deny"),
    Case("request-tag-rejected", "* * work * allow", "work", "@tag:tag2", "deny"),
    Case("request-type-rejected", "* * work * allow", "work", "@type:AppVM", "deny"),
    Case("request-dispvm-tag-rejected", "* * work * allow", "work", "@dispvm:@tag:tag3", "deny"),
    Case("request-non-template-rejected", "* * work * allow", "work", "@dispvm:personal", "deny"),
    Case("invalid-token-denies-all", "* * work @invalid allow", "work", "personal", "deny-all"),
    Case("empty-tag-denies-all", "* * work @tag: allow", "work", "personal", "deny-all"),
    Case("empty-dispvm-denies-all", "* * work @dispvm: allow", "work", "personal", "deny-all"),
    # §8.3 actions
    Case(
        "allow-redirect", "* * work @anyvm allow target=personal", "work", "vault", "allow personal"
    ),
    Case(
        "allow-redirect-adminvm",
        "* * work @anyvm allow target=@adminvm",
        "work",
        "vault",
        "allow dom0",
    ),
    Case(
        "allow-redirect-dispvm",
        "* * work @anyvm allow target=@dispvm",
        "work",
        "vault",
        "allow @dispvm:default-dvm",
    ),
    Case(
        "allow-redirect-dispvm-none",
        "* * vault @anyvm allow target=@dispvm",
        "vault",
        "work",
        "deny",
    ),
    Case("allow-default-no-target", "* * work * allow", "work", "", "deny"),
    Case("autostart-no-halted", "* * work @anyvm allow autostart=no", "work", "vault", "deny"),
    Case(
        "autostart-no-running",
        "* * work @anyvm allow autostart=no",
        "work",
        "personal",
        "allow personal",
    ),
    Case("autostart-no-dom0", "* * work dom0 allow autostart=no", "work", "dom0", "allow dom0"),
    Case("autostart-no-dispvm", "* * work @dispvm allow autostart=no", "work", "@dispvm", "deny"),
    Case("deny", "* * work personal deny", "work", "personal", "deny"),
    Case(
        "ask-default-kept",
        "* * vault personal ask default_target=personal",
        "vault",
        "personal",
        "ask personal default=personal",
    ),
    Case(
        "ask-default-dropped",
        "* * vault personal ask default_target=work",
        "vault",
        "personal",
        "ask personal",
    ),
    Case(
        "ask-default-dispvm",
        "* * work @anyvm ask target=@dispvm default_target=@dispvm",
        "work",
        "vault",
        "ask @dispvm:default-dvm default=@dispvm:default-dvm",
    ),
    Case(
        "syntax-unknown-action", "* * work personal allow,target=x", "work", "personal", "deny-all"
    ),
    Case("syntax-param-without-eq", "* * work personal allow x", "work", "personal", "deny-all"),
    Case(
        "syntax-repeated-param",
        "* * work personal allow user=a user=b",
        "work",
        "personal",
        "deny-all",
    ),
    Case(
        "syntax-target-with-deny",
        "* * work personal deny target=vault",
        "work",
        "personal",
        "deny-all",
    ),
    Case(
        "syntax-user-with-deny", "* * work personal deny user=root", "work", "personal", "deny-all"
    ),
    Case(
        "syntax-default-target-with-deny",
        "* * work personal deny default_target=vault",
        "work",
        "personal",
        "deny-all",
    ),
    Case(
        "syntax-default-target-with-allow",
        "* * work personal allow default_target=vault",
        "work",
        "personal",
        "deny-all",
    ),
    Case(
        "syntax-notify-value", "* * work personal allow notify=true", "work", "personal", "deny-all"
    ),
    Case(
        "syntax-autostart-value",
        "* * work personal allow autostart=0",
        "work",
        "personal",
        "deny-all",
    ),
    Case(
        "syntax-redirect-token",
        "* * work personal allow target=@anyvm",
        "work",
        "personal",
        "deny-all",
    ),
    Case("syntax-allow-default", "* * work @default allow", "work", "personal", "deny-all"),
    Case("syntax-star-service-arg", "* +x work personal allow", "work", "personal", "deny-all"),
    # §8.4 evaluation
    Case("no-match", "other.Svc * work personal allow", "work", "personal", "deny"),
    Case(
        "first-match-wins",
        "* * work personal deny\n* * work personal allow",
        "work",
        "personal",
        "deny",
    ),
    Case(
        "first-match-wins-allow",
        "* * work personal allow\n* * work personal deny",
        "work",
        "personal",
        "allow personal",
    ),
    Case(
        "ask-collects-reverse-with-deny",
        "* * vault work deny\n* * vault @tag:tag1 ask\n"
        "* * vault fedora deny\n* * vault personal allow",
        "vault",
        "fedora",
        "ask fedora,personal,standalone",
    ),
    Case(
        "ask-star-drops-source-and-internal",
        "* * dvm3 * ask",
        "dvm3",
        "work",
        "ask @dispvm:default-dvm,@dispvm:dvm3,default-dvm,dom0,fedora,personal,standalone,"
        "sys-gui,vault,work",
    ),
    Case(
        "ask-autostart-no",
        "* * work * ask autostart=no",
        "work",
        "personal",
        "ask dom0,personal,sys-gui",
    ),
    Case("ask-target-only", "* * work @anyvm ask target=vault", "work", "personal", "ask vault"),
    Case("ask-no-candidates", "* * vault @default ask", "vault", "", "deny"),
    # §8.5 legacy
    Case(
        "legacy-argument-file-implicit-deny",
        "!compat-4.0\n* * @anyvm @anyvm allow",
        "work",
        "vault",
        "deny",
        files={"legacy/test.Service+arg": "work personal allow\n"},
    ),
    Case(
        "legacy-argument-file-allows",
        "!compat-4.0\n* * @anyvm @anyvm deny",
        "work",
        "personal",
        "allow personal",
        files={"legacy/test.Service+arg": "work personal allow\n"},
    ),
    Case(
        "legacy-implicit-deny-covers-dom0",
        "!compat-4.0\n* * work dom0 allow",
        "work",
        "dom0",
        "deny",
        files={"legacy/test.Service+arg": "work personal allow\n"},
    ),
    Case(
        "legacy-argumentless-falls-through",
        "!compat-4.0\n* * @anyvm @anyvm allow",
        "work",
        "vault",
        "allow vault",
        files={"legacy/test.Service": "work personal deny\n"},
    ),
    Case(
        "legacy-argumentless-applies",
        "!compat-4.0\n* * @anyvm @anyvm allow",
        "work",
        "personal",
        "deny",
        files={"legacy/test.Service": "work personal deny\n"},
    ),
    Case(
        "legacy-dollar-and-commas",
        "!compat-4.0",
        "work",
        "vault",
        "allow personal",
        files={"legacy/test.Service": "$tag:tag1 $anyvm allow,target=personal,user=root\n"},
    ),
    Case(
        "legacy-other-argument-not-affected",
        "!compat-4.0\n* * @anyvm @anyvm allow",
        "work",
        "vault",
        "allow vault",
        call="test.Service+other",
        files={"legacy/test.Service+arg": "work personal allow\n"},
    ),
    Case(
        "legacy-ignored-without-compat",
        "* * @anyvm @anyvm deny",
        "work",
        "personal",
        "deny",
        files={"legacy/test.Service": "work personal allow\n"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_conformance(case: Case, tmp_path: Path, system_info: dict[str, Any]) -> None:
    files = {P: case.policy + "\n", **case.files}
    for relpath, text in files.items():
        path = tmp_path / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    engine = PolicyEngine(tmp_path / "policy.d", tmp_path / "legacy")
    service, plus, argument = case.call.partition("+")
    decision = engine.evaluate(case.source, case.target, service, plus + argument, system_info)
    assert summary(decision) == case.expect


def test_case_ids_are_unique() -> None:
    assert len({case.id for case in CASES}) == len(CASES)
