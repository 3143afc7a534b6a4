"""The qrexec policy engine: the v5 policy language, legacy files, evaluation, answers."""

from backend.policy.answer import answer_lines
from backend.policy.decisions import Allow, Ask, Decision, Deny
from backend.policy.engine import PolicyEngine, event_argument, event_target
from backend.policy.errors import (
    PolicyError,
    PolicyLoadError,
    PolicySyntaxError,
    SystemInfoError,
)
from backend.policy.evaluate import evaluate
from backend.policy.loader import Policy, load_policy, parse_policy_text
from backend.policy.rules import Action, Rule, parse_legacy_line, parse_policy_line
from backend.policy.sysinfo import QubeInfo, SystemInfo
from backend.policy.tokens import Column, Token, TokenKind, parse_token

__all__ = [
    "Action",
    "Allow",
    "Ask",
    "Column",
    "Decision",
    "Deny",
    "Policy",
    "PolicyEngine",
    "PolicyError",
    "PolicyLoadError",
    "PolicySyntaxError",
    "QubeInfo",
    "Rule",
    "SystemInfo",
    "SystemInfoError",
    "Token",
    "TokenKind",
    "answer_lines",
    "evaluate",
    "event_argument",
    "event_target",
    "load_policy",
    "parse_legacy_line",
    "parse_policy_line",
    "parse_policy_text",
    "parse_token",
]
