"""The sandbox is tested, not assumed (submissions of the batch in test_robustness)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import nbformat
import pytest

from autograder.sandbox import bwrap_status


def outputs(batch, sid) -> str:
    nb = Path(batch["course"]) / "build" / "grading" / "autograded" / sid / "hw1" / "hw1.ipynb"
    text = []
    for c in nbformat.read(str(nb), as_version=4).cells:
        for o in c.get("outputs", []):
            text.append(o.get("text", "") or json.dumps(o.get("data", {})) + "".join(o.get("traceback", [])))
    return "\n".join(text)


def test_bubblewrap_is_available():
    ok, reason = bwrap_status()
    assert ok, f"the sandbox tests need bubblewrap: {reason} (apt-get install bubblewrap)"


def test_no_network(batch):
    assert batch["accepted"] == 0, "a submission reached a listener on 127.0.0.1"
    out = outputs(batch, "network")
    assert "NETWORK: blocked" in out and "NETWORK: connected" not in out


def test_cannot_read_outside_scratch(batch):
    out = outputs(batch, "snoop")
    assert "FOUND:" not in out, out
    assert out.count("BLOCKED:") == 6
    assert batch["secret"] not in out


def test_cannot_write_into_the_course(batch):
    course = Path(batch["course"])
    assert batch["solutions_intact"], "a submission changed solutions/"
    assert not (course / "pwned.txt").exists()
    assert (course / "build" / "grading" / "gradebook.db").stat().st_size > 0
    out = outputs(batch, "vandal")
    assert "WROTE:" not in out
    # the gradebook still has every student (nobody truncated it)
    from autograder.course import Course

    with Course(course).gradebook() as gb:
        assert len(gb.assignment_submissions("hw1")) == len(batch["cases"])


def _procs_with(marker: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if f"sleep {marker}" in cmd:
                found.append(int(p.name))
    return found


def test_no_process_left_behind(batch):
    assert _procs_with(batch["marker"]) == []
    if os.getuid() == 0:
        # the sandbox uids of the batch: none may have a process left
        uids = set()
        for p in (Path(batch["course"]) / "build" / "grading" / "results" / "hw1").glob("*.json"):
            uids |= {u for u in json.loads(p.read_text()).get("sandbox_uids", []) if u is not None}
        assert uids
        left = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if p.stat().st_uid in uids:
                        left.append(p.name)
                except OSError:
                    pass
        assert left == [], f"processes of sandbox uids still running: {left}"


def test_scratch_dir_is_the_working_directory(batch):
    assert "WROTE:" not in outputs(batch, "vandal")
    res = json.loads((Path(batch["course"]) / "build" / "grading" / "results" / "hw1" / "vandal.json").read_text())
    assert res["sandbox"] is True


@pytest.mark.parametrize("sid", ["correct", "spawner", "network"])
def test_results_record_sandbox_and_limits(batch, sid):
    res = json.loads((Path(batch["course"]) / "build" / "grading" / "results" / "hw1" / f"{sid}.json").read_text())
    assert res["sandbox"] is True
    assert res["limits"]["memory_mb"] == 1024 and res["limits"]["cell_timeout"] == 5
