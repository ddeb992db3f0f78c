"""Helpers shared by the harness tests (a uniquely named module, not conftest: imports stay
unambiguous when other conftest.py files exist under tests/)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURE_COURSE = REPO / "tests" / "fixtures" / "course"
sys.path.insert(0, str(Path(__file__).parent))


TIMEOUT = "5"      # per-cell timeout for the batch (infinite loops stop fast)
MEMORY = "1024"


def run_cli(*args, check=True, cwd=None, timeout=600):
    """Run ``python -m autograder ARGS`` like a user; return the CompletedProcess."""
    env = dict(os.environ)
    env["PATH"] = "/usr/bin:/bin"   # the harness must not need the venv on PATH (alembic)
    if cwd is not None:   # this checkout's autograder, whatever the working directory
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    proc = subprocess.run([sys.executable, "-m", "autograder", *map(str, args)], cwd=cwd or REPO,
                          capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"autograder {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def fresh_course(dest: Path, release: bool = True, assignments: tuple[str, ...] = ("hw1",)) -> Path:
    """A copy of the fixture course: hw1 (legacy asserts) and hw2 (checks), released on demand."""
    shutil.copytree(FIXTURE_COURSE, dest)
    if release:
        from autograder.course import Course
        from autograder.release import release as do_release

        for hw in assignments:
            do_release(Course(dest), hw)
    return dest


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.accepted = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                conn, _ = self.sock.accept()
                self.accepted += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


