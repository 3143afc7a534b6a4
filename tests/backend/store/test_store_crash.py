"""A writer killed with SIGKILL mid-burst leaves a loadable file with every acked change."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from store_samples import REPO_ROOT

from backend.store.core3 import from_xml
from backend.store.document import Core3Document
from backend.store.store import Store

CHILD = Path(__file__).with_name("crash_child.py")
ROUNDS = 8


def run_until_killed(path: Path, tag: str, acks_before_kill: int) -> list[int]:
    """Start the child, SIGKILL it after that many acks; return every ack it printed."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), tag],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert child.stdout is not None
    acked: list[int] = []
    try:
        assert child.stdout.readline() == b"ready\n"
        for line in child.stdout:
            assert line.startswith(b"ack "), line
            acked.append(int(line.split()[1]))
            if len(acked) == acks_before_kill:
                break
    finally:
        os.kill(child.pid, signal.SIGKILL)
        rest = child.stdout.read()  # what is left, including what we have buffered
        errors = child.stderr.read() if child.stderr else b""
        child.wait()
    assert child.returncode == -signal.SIGKILL, errors.decode()
    # acks printed before the kill count too; a line cut by the kill does not
    acked += [int(line.split()[1]) for line in rest.split(b"\n")[:-1]]
    return acked


def load(path: Path) -> Core3Document:
    with Store(path) as store:
        doc = store.load()
    assert doc is not None
    return doc


@pytest.mark.timeout(120)
def test_acknowledged_changes_survive_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "qubes.xml"
    rng = random.Random(1234)
    expected: dict[str, str] = {}
    for round_ in range(ROUNDS):
        tag = f"r{round_}"
        acked = run_until_killed(path, tag, rng.randint(1, 60))
        assert acked == sorted(acked) and acked, acked
        expected.update({f"{tag}-{n}": str(n) for n in acked})

        doc = load(path)  # the lock died with the child; the file must load
        features = doc.domains[0].features
        missing = {name for name in expected if features.get(name) != expected[name]}
        assert not missing, f"round {round_}: acked changes lost: {sorted(missing)[:10]}"
        assert int(doc.properties[f"last-{tag}"] or "") >= acked[-1]
        prev = path.with_name("qubes.xml.prev")
        if prev.exists():
            from_xml(prev.read_bytes(), prev)  # the previous copy is a good document too
