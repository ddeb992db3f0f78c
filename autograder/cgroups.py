"""One control group per sandbox: limits that hold for the kernel's whole process tree.

rlimits are per process (RLIMIT_AS) or per uid (RLIMIT_NPROC): forked children add up, ``setsid``
busy loops starve the neighbours, and kernel memory (a flood of empty files) is charged nowhere. A
cgroup caps the tree as a whole:

* memory: everything the tree holds, kernel memory (inodes, dentries) and its tmpfs files included;
  the kernel's OOM killer acts inside the group only, and its kills are counted (``oom_kill``);
* pids: processes and threads (a fork bomb stops at the limit; hits are counted);
* cpu: a CFS quota (at most ``cpus`` CPUs), so a sandbox cannot starve the others.

The kernel is put into the group before it execs (:func:`enter_argv`: a ``sh`` that writes its own
pid to the groups' ``cgroup.procs`` and execs bwrap). :meth:`Cgroup.destroy` kills everything in the
group and removes it; :func:`remove_leftovers` does the same for the groups of a worker that was
killed. Groups are created under the grader's own cgroup (``autograder-<worker pid>-<n>``), so the
limits of the grader's own group still apply.

cgroup v1 (one hierarchy per controller, as on this project's grading machine) and v2 (unified,
``/sys/fs/cgroup/cgroup.controllers``) are supported. Without a writable hierarchy (not root,
read-only, macOS) :func:`cgroup_status` says why and the sandbox falls back to rlimits, loudly.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import signal
import time
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids", "cpu", "freezer")
V2_CONTROLLERS = ("memory", "pids", "cpu")
CFS_PERIOD_US = 100_000
NAME_RE = re.compile(r"autograder-(\d+)-\d+$")

_counter = itertools.count(1)


def _own_paths() -> dict[str, str]:
    """The grader's cgroup per v1 controller ({"memory": "/a/b", ...}; "" -> the v2 path)."""
    paths = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, ctrls, path = line.split(":", 2)
        for c in ctrls.split(",") if ctrls else [""]:
            paths[c] = path
    return paths


def _parents() -> tuple[str, dict[str, Path]]:
    """(version, {controller: directory that holds the sandbox groups}); raises OSError."""
    own = _own_paths()
    if (CGROUP_FS / "cgroup.controllers").is_file():
        return "v2", {"": CGROUP_FS / own.get("", "/").lstrip("/")}
    dirs = {}
    for c in V1_CONTROLLERS:
        if c not in own or not (CGROUP_FS / c).is_dir():
            raise OSError(f"the cgroup v1 controller {c!r} is not mounted")
        dirs[c] = CGROUP_FS / c / own[c].lstrip("/")
    return "v1", dirs


@functools.lru_cache(maxsize=1)
def cgroup_status() -> tuple[bool, str]:
    """(usable, reason): creates and removes a probe group with every limit the sandboxes need."""
    if not CGROUP_FS.is_dir():
        return False, "this system has no cgroups (/sys/fs/cgroup)"
    try:
        cg = Cgroup.create(memory_bytes=256 << 20, pids=64, cpus=1.0, name=f"autograder-{os.getpid()}-0")
    except OSError as e:
        return False, f"cannot create a cgroup here ({e.strerror or e}; run the grader as root)"
    cg.destroy()
    return True, cg.version


def _write(path: Path, value) -> None:
    path.write_text(str(value))


def _read_kv(path: Path) -> dict[str, int]:
    try:
        out = {}
        for line in path.read_text().splitlines():
            k, _, v = line.partition(" ")
            if v.strip().lstrip("-").isdigit():
                out[k] = int(v)
        return out
    except OSError:
        return {}


class Cgroup:
    """A sandbox's group (one directory per v1 controller, one in total under v2)."""

    def __init__(self, version: str, dirs: dict[str, Path]):
        self.version = version
        self.dirs = dirs
        self.removed = False

    @classmethod
    def create(cls, memory_bytes: int, pids: int, cpus: float, name: str | None = None) -> Cgroup:
        version, parents = _parents()
        name = name or f"autograder-{os.getpid()}-{next(_counter)}"
        cg = cls(version, {c: p / name for c, p in parents.items()})
        try:
            if version == "v2":
                cg._setup_v2(parents[""], memory_bytes, pids, cpus)
            else:
                cg._setup_v1(memory_bytes, pids, cpus)
        except OSError:
            cg.destroy()
            raise
        return cg

    def _setup_v1(self, memory_bytes: int, pids: int, cpus: float) -> None:
        for d in self.dirs.values():
            d.mkdir()
        mem = self.dirs["memory"]
        _write(mem / "memory.limit_in_bytes", memory_bytes)
        if (mem / "memory.memsw.limit_in_bytes").exists():   # no swapping past the limit either
            _write(mem / "memory.memsw.limit_in_bytes", memory_bytes)
        _write(self.dirs["pids"] / "pids.max", pids)
        _write(self.dirs["cpu"] / "cpu.cfs_period_us", CFS_PERIOD_US)
        _write(self.dirs["cpu"] / "cpu.cfs_quota_us", max(1000, int(cpus * CFS_PERIOD_US)))

    def _setup_v2(self, parent: Path, memory_bytes: int, pids: int, cpus: float) -> None:
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        missing = [c for c in V2_CONTROLLERS if c not in enabled]
        if missing:   # fails (EBUSY) while the parent holds processes itself: then no cgroups
            _write(parent / "cgroup.subtree_control", " ".join("+" + c for c in missing))
        d = self.dirs[""]
        d.mkdir()
        _write(d / "memory.max", memory_bytes)
        if (d / "memory.swap.max").exists():
            _write(d / "memory.swap.max", 0)
        _write(d / "pids.max", pids)
        _write(d / "cpu.max", f"{max(1000, int(cpus * CFS_PERIOD_US))} {CFS_PERIOD_US}")

    def procs_files(self) -> list[str]:
        """Where the kernel writes its pid before it execs (every controller's cgroup.procs)."""
        return [str(d / "cgroup.procs") for d in self.dirs.values()]

    def pids(self) -> list[int]:
        found = set()
        for d in self.dirs.values():
            try:
                found |= {int(p) for p in (d / "cgroup.procs").read_text().split()}
            except OSError:
                pass
        return sorted(found)

    def events(self) -> dict[str, int]:
        """{"oom_kill": kills by the group's OOM killer, "pids_max": forks refused}."""
        if self.version == "v2":
            d = self.dirs[""]
            return {"oom_kill": _read_kv(d / "memory.events").get("oom_kill", 0),
                    "pids_max": _read_kv(d / "pids.events").get("max", 0)}
        return {"oom_kill": _read_kv(self.dirs["memory"] / "memory.oom_control").get("oom_kill", 0),
                "pids_max": _read_kv(self.dirs["pids"] / "pids.events").get("max", 0)}

    def kill_all(self, timeout: float = 10.0) -> bool:
        """SIGKILL every process of the group (frozen first, so that nothing forks meanwhile)."""
        deadline = time.monotonic() + timeout
        kill_file = self.dirs.get("", Path("/nonexistent")) / "cgroup.kill"
        freezer = self.dirs.get("freezer")
        while self.pids():
            if kill_file.exists():
                _write(kill_file, 1)
            else:
                self._freeze(freezer, "FROZEN")
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                self._freeze(freezer, "THAWED")   # the killed processes die when thawed
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    @staticmethod
    def _freeze(freezer: Path | None, state: str) -> None:
        if freezer is None:
            return
        try:
            _write(freezer / "freezer.state", state)
            for _ in range(100):    # FREEZING -> FROZEN once every task has stopped
                if state != "FROZEN" or (freezer / "freezer.state").read_text().strip() == state:
                    return
                time.sleep(0.01)
        except OSError:
            pass

    def destroy(self) -> bool:
        """Kill everything in the group and remove it; True when nothing is left."""
        if self.removed:
            return True
        try:
            self.kill_all()
        except OSError:
            pass
        ok = True
        for d in self.dirs.values():
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:   # EBUSY: a killed process is still exiting
                    time.sleep(0.02)
            else:
                ok = False
        self.removed = ok
        return ok


def leftover_groups(worker_pid: int | None = None) -> list[Cgroup]:
    """Sandbox groups of ``worker_pid`` (default: of every worker that no longer runs)."""
    try:
        version, parents = _parents()
    except OSError:
        return []
    names: set[str] = set()
    for p in parents.values():
        try:
            names |= {d.name for d in p.iterdir() if NAME_RE.match(d.name)}
        except OSError:
            pass
    out = []
    for name in sorted(names):
        pid = int(NAME_RE.match(name).group(1))
        if (pid == worker_pid) if worker_pid is not None else not Path(f"/proc/{pid}").exists():
            out.append(Cgroup(version, {c: p / name for c, p in parents.items()}))
    return out


def remove_leftovers(worker_pid: int | None = None) -> int:
    """Kill and remove the groups a killed worker left behind; returns how many there were."""
    groups = leftover_groups(worker_pid)
    for g in groups:
        g.destroy()
    return len(groups)


ENTER_SCRIPT = 'for f in "$@"; do [ "$f" = -- ] && break; echo $$ > "$f" || exit 125; shift; done; shift; exec "$@"'


def enter_argv(cg: Cgroup, argv: list[str]) -> list[str]:
    """``argv`` started inside ``cg``: the process joins the group, then execs (same pid)."""
    return ["/bin/sh", "-c", ENTER_SCRIPT, "ag-enter-cgroup", *cg.procs_files(), "--", *argv]
