"""The grading policy: from what a kernel run produced to statuses, flags and per-test scores.

Pure functions, no I/O and no kernel: ``execute.run_notebook`` drives the kernel and hands a
:class:`KernelRun` here. The verdict of a test cell with checks is decided in the grader process
(``verdicts.decide``) from the observations the kernel published, against the records the master
observed; a legacy test cell (plain ``assert``s, no checks in the master) keeps the old in-kernel
verdict (``execute_reply`` status and the guard) and says so with the flag
``in_kernel_verdict:GRADE_ID``.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from .notebook import hidden_line_ranges
from .verdicts import BadObservation, decide, decode_observation

HIDDEN_FAIL = "a hidden test failed"
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LINE_RE = re.compile(r"Cell In\s*\[\d*\],\s*line (\d+)|<ipython-input-\d+-\w+> in \S+\(\)\n-*> (\d+)")
SIGXCPU = 24


@dataclass
class KernelRun:
    """What driving one notebook through a kernel produced (the input of the policy)."""

    status: str = "graded"                 # graded | timeout | crashed (before classification)
    reason: str = ""
    flags: list[str] = field(default_factory=list)
    returncode: int | None = None
    replies: dict[int, dict] = field(default_factory=dict)        # cell index -> reply content
    observations: dict[int, list] = field(default_factory=dict)   # cell index -> raw payloads
    observations_capped: set[int] = field(default_factory=set)
    tainted: dict[int, list[str]] = field(default_factory=dict)   # legacy cells: guard findings
    timed_out: set[int] = field(default_factory=set)
    truncated: bool = False
    tree_flags: list[str] = field(default_factory=list)   # the sandbox's whole-tree limits (cgroup, tmpfs)


@dataclass
class TestResult:
    """One autograded test cell's result (``asdict`` is the JSON the other verbs read)."""

    points: float
    score: float
    passed: bool
    executed: bool
    hidden: bool
    message: str = ""
    line: int | None = None
    hidden_fail: bool | None = None
    checks: list[dict] | None = None

    def to_dict(self) -> dict:
        """Optional keys (``line``, ``hidden_fail``, ``checks``) only when they say something."""
        return {k: v for k, v in asdict(self).items()
                if v is not None or k not in ("line", "hidden_fail", "checks")}


# ------------------------------------------------------------------------------------- statuses

def classify_exit(status: str, reason: str, returncode: int | None) -> tuple[str, str, list[str]]:
    """A crashed kernel's return code (or signal) -> (status, reason, flags)."""
    if returncode is None or status != "crashed":
        return status, reason, []
    sig = returncode - 128 if returncode > 128 else (-returncode if returncode < 0 else 0)
    if sig == SIGXCPU:
        return "timeout", "CPU-time limit reached", ["cpu_limit"]
    if sig:
        return status, reason + f" (signal {sig})", []
    return status, reason + f" (exit code {returncode})", []


LIMIT_FLAGS = ("memory_limit", "process_limit", "disk_limit")


def reply_flags(replies: dict[int, dict]) -> list[str]:
    """Resource limits seen in the cells' errors (memory, processes, disk)."""
    flags = []
    if any(r.get("ename") == "MemoryError" for r in replies.values()):
        flags.append("memory_limit")
    if any(r.get("ename") == "BlockingIOError" for r in replies.values()):
        flags.append("process_limit")
    if any("No space left" in str(r.get("evalue", "")) or "File too large" in str(r.get("evalue", ""))
           for r in replies.values()):
        flags.append("disk_limit")
    return flags


def guard_flags(tainted: dict[int, list[str]]) -> list[str]:
    """The guard's findings around legacy test cells, as flags."""
    flags = []
    shadowed = sorted({b.split(":", 1)[1] for bad in tainted.values() for b in bad
                       if b.startswith("shadowed:")})
    if shadowed:
        flags.append("shadowed_builtin:" + ",".join(shadowed))
    rebound = sorted({b for bad in tainted.values() for b in bad if not b.startswith("shadowed:")})
    if any(b.startswith("guard_") for b in rebound):
        flags.append("guard_broken")
    if "showtraceback" in rebound:
        flags.append("showtraceback_override")
    names = [b for b in rebound if not b.startswith("guard_") and b != "showtraceback"]
    if names:
        flags.append("rebound_assert:" + ",".join(names))
    return flags


def run_status(run: KernelRun, cell_timeout: float, memory_mb: int,
               grade_id_of) -> tuple[str, str, list[str]]:
    """(status, reason, flags) of a notebook run, in the order the old driver decided them."""
    status, reason, flags = classify_exit(run.status, run.reason, run.returncode)
    flags = list(run.flags) + flags
    for idx in sorted(run.timed_out):
        flags.append(f"cell_timeout:{grade_id_of(idx)}")
        if status == "graded":
            status, reason = "timeout", f"a cell ran longer than {cell_timeout:.0f} s (interrupted)"
    # a limit is hit when a cell's error says so or the sandbox's cgroup/tmpfs saw it
    hit = set(reply_flags(run.replies)) | set(run.tree_flags)
    limit_flags = [f for f in LIMIT_FLAGS if f in hit]
    flags += [f for f in run.tree_flags if f not in LIMIT_FLAGS]
    if "memory_limit" in limit_flags and status in ("graded", "crashed"):
        status, reason = "memory", f"memory limit ({memory_mb} MB) reached"
    flags += limit_flags
    if run.truncated:
        flags.append("output_truncated")
    flags += guard_flags(run.tainted)
    return status, reason, flags


# ------------------------------------------------------------------------------------- tests

def fail_line(traceback: list[str]) -> int | None:
    """The line of the test cell an error was raised on (from IPython's traceback text)."""
    m = LINE_RE.search(ANSI.sub("", "\n".join(traceback or [])))
    return int(m.group(1) or m.group(2)) if m else None


def _error_text(reply: dict) -> str:
    return f"{reply.get('ename', 'Error')}: {reply.get('evalue', '')}"


def decode_all(raws: list) -> tuple[dict[str, list[dict]], list[str]]:
    """Observations grouped by check name, and the reasons of the ones that did not decode."""
    by_name: dict[str, list[dict]] = {}
    bad = []
    for raw in raws:
        try:
            rec = decode_observation(raw)
        except BadObservation as e:
            bad.append(str(e)[:200])
            continue
        by_name.setdefault(rec["name"], []).append(rec)
    return by_name, bad


def judge_check(expected: dict, seen: list[dict], reply: dict | None) -> dict:
    """One expected check against what the student's run observed under its name."""
    name = expected["name"]
    hidden = bool(expected.get("hidden"))
    if not seen:
        why = "not computed" + (f": {_error_text(reply)}" if reply and reply.get("status") == "error"
                                else "")
        passed, message = False, f"{name}: {why}"
    elif len(seen) > 1:
        passed, message = False, f"{name}: observed {len(seen)} times (each check runs once)"
    else:
        passed, message = decide(expected, seen[0])
    if hidden and not passed:
        message = HIDDEN_FAIL
    return {"name": name, "hidden": hidden, "passed": bool(passed), "message": str(message)[:2000]}


def score_checked_test(rc: dict, expected: list[dict], raws: list, reply: dict | None,
                       timed_out: bool, capped: bool, cell_timeout: float,
                       not_run: str) -> TestResult:
    """A test cell with checks: every expected check seen once and passing, and the cell ran ok."""
    t = TestResult(points=rc["points"], score=0.0, passed=False, executed=reply is not None,
                   hidden=rc["hidden"])
    if reply is None:
        t.message = "not run (" + not_run + ")"
        return t
    by_name, bad = decode_all(raws)
    t.checks = [judge_check(e, by_name.get(e["name"], []), reply) for e in expected]
    visible = [c["message"] for c in t.checks if not c["passed"] and not c["hidden"]]
    hidden_failed = any(not c["passed"] and c["hidden"] for c in t.checks)
    problems = list(dict.fromkeys(visible)) + ([HIDDEN_FAIL] if hidden_failed else [])
    if timed_out:
        problems.insert(0, f"timed out after {cell_timeout:.0f} s")
    elif reply.get("status") != "ok" and not problems:
        line = fail_line(reply.get("traceback", []))
        in_hidden = any(a <= (line or -1) <= b for a, b in hidden_line_ranges(rc["source_full"]))
        problems.append(f"{HIDDEN_FAIL} ({reply.get('ename', 'Error')})" if in_hidden
                        else _error_text(reply)[:2000])
        t.line = line
    if capped:
        problems.append("too many observations: the grader kept only the first ones")
    if bad:
        problems.append(f"{len(bad)} malformed observation(s) ignored")
    t.passed = not problems
    t.score = rc["points"] if t.passed else 0.0
    t.hidden_fail = True if hidden_failed and not visible else None
    t.message = "; ".join(problems)[:2000]
    return t


def score_legacy_test(rc: dict, reply: dict | None, tainted: list[str] | None,
                      timed_out: bool, cell_timeout: float, not_run: str) -> TestResult:
    """A test cell without checks: the old in-kernel verdict (reply status + the guard).

    A replaced ``showtraceback`` does not taint the cell: the guard restored it before the cell
    ran and the verdict comes from the reply's status, which it cannot change (nbgrader, too,
    neutralises the exploit and still scores the honest cells).
    """
    tainted = [b for b in (tainted or []) if b != "showtraceback"]
    executed = reply is not None
    ok = executed and reply.get("status") == "ok" and not tainted
    t = TestResult(points=rc["points"], score=rc["points"] if ok else 0.0, passed=ok,
                   executed=executed, hidden=rc["hidden"])
    if not executed:
        t.message = "not run (" + not_run + ")"
    elif tainted:
        t.message = ("not graded: the grader's assertion helpers were modified ("
                     + ", ".join(tainted) + ")")
    elif reply.get("status") != "ok":
        line = fail_line(reply.get("traceback", []))
        in_hidden = any(a <= (line or -1) <= b for a, b in hidden_line_ranges(rc["source_full"]))
        if timed_out:
            t.message = f"timed out after {cell_timeout:.0f} s"
        elif rc["hidden"] and (line is None or in_hidden):
            t.message = f"{HIDDEN_FAIL} ({reply.get('ename', 'Error')})"
            t.hidden_fail = True
        else:
            t.message = _error_text(reply)[:2000]
        t.line = line
    return t


def score_tests(ref: dict, index_of: dict[str, int], run: KernelRun, cell_timeout: float,
                not_run: str) -> tuple[dict[str, dict], list[str]]:
    """Every autograded test cell of ``ref`` -> its result dict; plus the flags it adds."""
    expected_by_gid = ref.get("checks") or {}
    tests, flags = {}, []
    for rc in ref["cells"]:
        if rc["kind"] != "test":
            continue
        gid = rc["grade_id"]
        idx = index_of.get(gid)
        reply = run.replies.get(idx) if idx is not None else None
        timed_out = idx in run.timed_out
        expected = expected_by_gid.get(gid) or []
        if expected:
            t = score_checked_test(rc, expected, run.observations.get(idx, []), reply, timed_out,
                                   idx in run.observations_capped, cell_timeout, not_run)
        else:
            flags.append(f"in_kernel_verdict:{gid}")
            t = score_legacy_test(rc, reply, run.tainted.get(idx), timed_out, cell_timeout,
                                  not_run)
        tests[gid] = t.to_dict()
    return tests, flags


def observation_flags(ref: dict, index_of: dict[str, int], run: KernelRun) -> list[str]:
    """Observations published outside test cells with checks, or capped: worth a look."""
    checked = {index_of[g] for g in (ref.get("checks") or {}) if g in index_of}
    flags = [f"observations_capped:{i}" for i in sorted(run.observations_capped)]
    stray = sorted(i for i in run.observations if i not in checked)
    if stray:
        flags.append("stray_observations:" + ",".join(map(str, stray)))
    return flags


def score_notebook(ref: dict, index_of: dict[str, int], run: KernelRun, cell_timeout: float,
                   memory_mb: int, grade_id_of) -> dict:
    """The per-notebook result (without the executed notebook) from one kernel run."""
    status, reason, flags = run_status(run, cell_timeout, memory_mb, grade_id_of)
    tests, tflags = score_tests(ref, index_of, run, cell_timeout, reason or "kernel stopped")
    manual = {c["grade_id"]: {"points": c["points"]} for c in ref["cells"] if c["kind"] == "manual"}
    return {
        "status": status,
        "reason": reason,
        "flags": flags + observation_flags(ref, index_of, run) + tflags,
        "tests": tests,
        "manual": manual,
        "score": sum(t["score"] for t in tests.values()),
        "max_score": sum(c["points"] for c in ref["cells"] if c["kind"] in ("test", "manual")),
    }
