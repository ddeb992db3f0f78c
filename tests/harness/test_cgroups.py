"""cgroups.py and the sandbox's use of it, without a kernel (fast)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from autograder import cgroups, sandbox
from autograder.sandbox import Limits, Sandbox

needs_cgroups = pytest.mark.skipif(not cgroups.cgroup_status()[0],
                                   reason=f"no usable cgroups here: {cgroups.cgroup_status()[1]}")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


@needs_cgroups
def test_whole_tree_is_capped_and_removed():
    cg = cgroups.Cgroup.create(memory_bytes=96 << 20, pids=16, cpus=0.5)
    # a parent that starts setsid children (they escape its session, not its cgroup), then each
    # child allocates 40 MB: together they exceed the group's 96 MB
    code = ("import os, time\n"
            "for _ in range(30):\n"
            "    try:\n"
            "        if os.fork() == 0:\n"
            "            os.setsid()\n"
            "            b = bytearray(40 << 20)\n"
            "            b[::4096] = b'x' * len(b[::4096])\n"
            "            time.sleep(60)\n"
            "    except OSError:\n"
            "        break\n"
            "time.sleep(60)\n")
    proc = subprocess.Popen(cgroups.enter_argv(cg, [sys.executable, "-c", code]))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not (cg.events()["oom_kill"] and cg.events()["pids_max"]):
            time.sleep(0.1)
        members = cg.pids()
        assert proc.pid in members or not _alive(proc.pid)
        assert 1 < len(members) <= 16
        assert cg.events()["oom_kill"] >= 1, "forked children together were not held to 96 MB"
        assert cg.events()["pids_max"] >= 1, "the fork loop was not stopped at 16 tasks"
    finally:
        assert cg.destroy()
        proc.wait(timeout=10)
    assert not any(_alive(p) for p in members)
    assert not any(d.exists() for d in cg.dirs.values())


@needs_cgroups
def test_cpu_quota_caps_the_group():
    # a small quota, so that even on a loaded machine the spinners want more than it allows
    cg = cgroups.Cgroup.create(memory_bytes=256 << 20, pids=64, cpus=0.05)
    spin = "import os\nfor _ in range(3):\n    os.fork()\nwhile True:\n    pass\n"   # 8 spinners
    proc = subprocess.Popen(cgroups.enter_argv(cg, [sys.executable, "-c", spin]))
    try:
        time.sleep(0.5)
        t0 = _cpu_seconds(cg)
        time.sleep(2.0)
        used = _cpu_seconds(cg) - t0
        throttled = _throttled(cg)
    finally:
        cg.destroy()
        proc.wait(timeout=10)
    assert throttled > 0, "the group was never throttled: no CPU quota"
    assert used <= 2.0 * 0.05 + 0.05, f"8 spinners used {used:.2f} CPU-s in 2 s under a 0.05 CPU quota"


def _throttled(cg) -> int:
    d = cg.dirs[""] if cg.version == "v2" else cg.dirs["cpu"]
    stat = (d / "cpu.stat").read_text().split()
    return int(stat[stat.index("nr_throttled") + 1])


def _cpu_seconds(cg) -> float:
    if cg.version == "v2":
        stat = (cg.dirs[""] / "cpu.stat").read_text().split()
        return int(stat[stat.index("usage_usec") + 1]) / 1e6
    total = 0
    for pid in cg.pids():
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])     # utime + stime, in clock ticks
        except OSError:
            pass
    return total / os.sysconf("SC_CLK_TCK")


def test_without_cgroups_every_result_says_so(monkeypatch):
    monkeypatch.setattr(cgroups, "cgroup_status", lambda: (False, "no cgroups in this test"))
    sb = Sandbox(Limits(), use_bwrap=False)
    try:
        sb.prepare([])
        assert sb.cgroup is None and sb.cgroup_reason == "no cgroups in this test"
        assert sb.argv()[0] != "/bin/sh"
        assert sb.verdict() == ["no_cgroup"]
    finally:
        sb.cleanup()


def test_no_cgroup_warning_is_loud(capsys):
    with pytest.warns(RuntimeWarning, match="without cgroups"):
        sandbox.warn_no_cgroup("not root")
    err = capsys.readouterr().err
    assert "NO CGROUPS: not root" in err and "!!!!" in err


def test_kernel_inherits_no_file_of_the_grader():
    sb = Sandbox(Limits(), use_bwrap=False)
    kw = sb.popen_kwargs()
    sb.cleanup()
    assert kw["stdin"] == kw["stdout"] == kw["stderr"] == subprocess.DEVNULL
    assert kw["close_fds"] is True


def test_with_a_cgroup_the_process_rlimit_is_only_a_backstop():
    """Equal limits let a fork bomb trip RLIMIT_NPROC first, and that hit is never recorded."""
    sb = Sandbox(Limits(nproc=100), use_bwrap=False)
    try:
        sb.uid = 123_456                     # as under root: no count of the grader's own processes
        sb.cgroup = None
        assert sb.nproc_rlimit() == 100      # no group: the rlimit is the limit
        sb.cgroup = object()
        assert sb.nproc_rlimit() > 100       # a group: pids.max (100) binds, and counts its hits
    finally:
        sb.cgroup = None
        sb.cleanup()
