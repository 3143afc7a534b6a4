"""``python -m backend`` / ``qubes-backend``: run the daemon."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from backend.errors import StoreError

log = logging.getLogger("backend")


def default_state_dir(demo: bool) -> Path:
    data = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    if demo:
        return data / "qubes-backend" / "demo"
    if os.geteuid() == 0:
        return Path("/var/lib/qubes")
    return data / "qubes-backend" / "system"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="qubes-backend",
        description="Qubes Admin API daemon on libvirt (Xen, QEMU/KVM or the test driver)",
    )
    parser.add_argument("--state-dir", type=Path, help="where qubes.xml, volumes and logs live")
    parser.add_argument("--socket", type=Path, help="Admin API socket to listen on")
    parser.add_argument("--libvirt-uri", help="libvirt connection URI")
    parser.add_argument("--demo", action="store_true",
                        help="the demo system on libvirt's test driver (created on first start)")
    parser.add_argument("--qubes", type=int, default=0, metavar="N",
                        help="with --demo: add N more AppVMs when the demo is created")
    parser.add_argument("--policy-dir", type=Path, action="append",
                        help="qrexec policy directory (default: STATE_DIR/policy.d)")
    parser.add_argument("--debug", action="store_true", help="debug logging, tracebacks to clients")
    args = parser.parse_args(argv)
    if args.qubes < 0:
        parser.error("--qubes must not be negative")
    if args.qubes and not args.demo:
        parser.error("--qubes goes with --demo")
    return args


async def serve(args: argparse.Namespace) -> int:
    from backend.daemon import Daemon, default_socket_path, demo_libvirt_uri
    from backend.demo import build_demo
    from backend.system import System

    state_dir = args.state_dir or default_state_dir(args.demo)
    initial = (lambda system: build_demo(system, args.qubes)) if args.demo else None
    try:
        system = await asyncio.to_thread(System.open, state_dir, initial=initial)
    except StoreError as exc:
        print(f"qubes-backend: cannot load {exc.path}: {exc.problem}", file=sys.stderr)
        print("qubes-backend: the file was left untouched; fix or restore it "
              f"(the previous good copy is {exc.path}.prev)", file=sys.stderr)
        return 1
    uri = args.libvirt_uri or (demo_libvirt_uri(state_dir) if args.demo else "xen:///system")
    daemon = Daemon(system, socket_path=args.socket or default_socket_path(), libvirt_uri=uri,
                    policy_dirs=args.policy_dir, debug=args.debug)
    try:
        await daemon.start()
    except Exception as exc:
        system.close()
        print(f"qubes-backend: cannot start: {exc}", file=sys.stderr)
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"qubes-backend: ready on {daemon.socket_path}", flush=True)
    await stop.wait()
    await daemon.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    return asyncio.run(serve(args))


if __name__ == "__main__":
    sys.exit(main())
