"""``qubes-policy-eval``: decide one call against the policy and print the answer lines.

Usage: ``qubes-policy-eval [--socket S] [--policy-dir D]… [--legacy-dir L]
[--system-info FILE] [--just-evaluate] [--assume-yes-for-ask] SOURCE TARGET SERVICE[+ARG]``.
The answer goes to stdout, reasons and policy errors (with file and line) to stderr.
Exit status: 0 allow, 1 deny, 3 ask (2 is a usage error).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from backend.errors import PermissionDenied, ProtocolError, QubesException
from backend.policy.answer import answer_lines
from backend.policy.decisions import Allow, Ask, Deny
from backend.policy.errors import PolicyError, SystemInfoError
from backend.policy.evaluate import evaluate
from backend.policy.loader import load_policy
from backend.policy.remote import fetch_system_info
from backend.policy.sysinfo import SystemInfo

DEFAULT_POLICY_DIRS = ("/run/qubes/policy.d", "/etc/qubes/policy.d")
DEFAULT_LEGACY_DIR = "/etc/qubes-rpc/policy"
EXIT_ALLOW, EXIT_DENY, EXIT_ASK = 0, 1, 3

#: Gets the system info from the daemon at a socket path (None: the default socket).
SystemInfoProvider = Callable[[str | None], Mapping[str, Any]]


def _from_daemon(socket: str | None) -> Mapping[str, Any]:
    try:
        return fetch_system_info(socket)
    except (OSError, ValueError, QubesException, PermissionDenied, ProtocolError) as exc:
        raise SystemInfoError(
            f"cannot read the system info from the daemon: {exc}; use --system-info FILE"
        ) from None


#: The provider used when no ``--system-info`` is given (the daemon's socket).
system_info_provider: SystemInfoProvider = _from_daemon


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qubes-policy-eval", description="Evaluate the qrexec policy for one call."
    )
    parser.add_argument("--socket", help="daemon socket to read the system info from")
    parser.add_argument(
        "--policy-dir",
        action="append",
        dest="policy_dirs",
        metavar="DIR",
        help="policy directory; repeat to merge, earlier ones shadow "
        f"(default: {' '.join(DEFAULT_POLICY_DIRS)})",
    )
    parser.add_argument(
        "--legacy-dir",
        default=DEFAULT_LEGACY_DIR,
        metavar="DIR",
        help=f"per-service policy read by !compat-4.0 (default: {DEFAULT_LEGACY_DIR})",
    )
    parser.add_argument(
        "--system-info",
        metavar="FILE",
        help='JSON file in the internal.GetSystemInfo shape ({"domains": {…}}); - for stdin',
    )
    parser.add_argument(
        "--just-evaluate", action="store_true", help="answer only result=allow/deny"
    )
    parser.add_argument(
        "--assume-yes-for-ask", action="store_true", help="take ask as allow (EvalSimple)"
    )
    parser.add_argument("source", metavar="SOURCE")
    parser.add_argument("target", metavar="TARGET")
    parser.add_argument("service", metavar="SERVICE[+ARG]")
    return parser


def split_service(service_and_arg: str) -> tuple[str, str]:
    """``svc+arg`` → (``svc``, ``+arg``); a call without argument has argument ``+``."""
    service, plus, argument = service_and_arg.partition("+")
    return service, "+" + argument if plus else "+"


def _read_system_info(
    args: argparse.Namespace, provider: SystemInfoProvider, stdin: TextIO
) -> SystemInfo:
    if args.system_info is None:
        return SystemInfo.from_mapping(provider(args.socket))
    try:
        if args.system_info == "-":
            data = json.load(stdin)
        else:
            with open(args.system_info, encoding="utf-8") as file:
                data = json.load(file)
    except OSError as err:
        raise SystemInfoError(f"cannot read {args.system_info}: {err.strerror}") from None
    except json.JSONDecodeError as err:
        raise SystemInfoError(f"{args.system_info}: not JSON: {err}") from None
    return SystemInfo.from_mapping(data)


def main(
    argv: Sequence[str] | None = None,
    *,
    provider: SystemInfoProvider | None = None,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    try:
        info = _read_system_info(args, provider or system_info_provider, stdin or sys.stdin)
    except PolicyError as error:
        print(f"qubes-policy-eval: {error}", file=err)
        print("result=deny", file=out)
        return EXIT_DENY

    policy = load_policy(args.policy_dirs or DEFAULT_POLICY_DIRS, args.legacy_dir)
    if policy.error is not None:
        print(f"qubes-policy-eval: policy error: {policy.error}", file=err)
    service, argument = split_service(args.service)
    decision = evaluate(policy, args.source, args.target, service, argument, info)
    lines = answer_lines(
        decision,
        just_evaluate=args.just_evaluate,
        assume_yes_for_ask=args.assume_yes_for_ask,
    )
    print("\n".join(lines), file=out)

    effective = decision
    if isinstance(effective, Ask) and args.assume_yes_for_ask:
        effective = effective.assume_yes()
    if isinstance(effective, Deny) and effective.error is None:
        print(f"qubes-policy-eval: denied: {effective.reason}", file=err)
    if isinstance(effective, Allow) and effective.is_loopback and not args.just_evaluate:
        print("qubes-policy-eval: denied: loopback qrexec connection not supported", file=err)
    if "result=allow" in lines:
        return EXIT_ALLOW
    return EXIT_ASK if "result=ask" in lines else EXIT_DENY


if __name__ == "__main__":
    sys.exit(main())
