"""``grade HW``: autograde every collected submission, in parallel, each kernel sandboxed.

* One worker *process* per submission (``python -m autograder.worker``), ``--workers`` at a time,
  under a hard deadline: a submission that hangs or kills its worker gets a status and a reason
  while the batch goes on.
* The parent is the only gradebook writer: it merges each result as it arrives (nbgrader's
  ``Gradebook`` API; manual scores are never touched) and keeps the result JSON (scores, per-test
  pass/fail and messages, the tamper report) in ``results/HW/STUDENT.json``.
* Idempotent: each result stores a content hash of the submission and of the master; a re-run only
  grades what changed unless ``--force``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

from .cgroups import cgroup_status
from .cgroups import remove_leftovers as remove_leftover_cgroups
from .course import Course, UsageError, sha256_tree
from .expected import attach, expected_checks
from .lateness import due_date, load_config, submission_time
from .notebook import HIDDEN_BEGIN, HIDDEN_END, build_reference, region_lines
from .release import ensure_gradebook
from .sandbox import Limits, bwrap_status, remove_leftovers, warn_no_cgroup, warn_no_sandbox
from .text import safe_json, safe_text

# nbgrader's InstantiateTests.autotest_delimiter, in a comment line (also "### HASHED AUTOTEST")
AUTOTEST = re.compile(r"^\s*#.*\bAUTOTEST\b", re.MULTILINE)
NO_RESPONSE = "No response."   # nbgrader's comment on an unanswered manually graded cell


def references(course: Course, hw: str, release_root: Path | None = None) -> dict:
    """Per-notebook references (structure only; ``expected.attach`` adds the checks)."""
    rel = release_root or course.release_dir(hw)
    refs = {}
    for name in course.notebooks(hw):
        refs[name] = build_reference(course.solutions / hw / f"{name}.ipynb", rel / f"{name}.ipynb")
    if any(c["kind"] == "test" and AUTOTEST.search(c["source_full"])
           for r in refs.values() for c in r["cells"]):
        _instantiated_tests(course, hw, refs)
    return refs


def _instantiated_tests(course: Course, hw: str, refs: dict) -> None:
    """Test cells with ``### AUTOTEST`` directives are graded as nbgrader generated them.

    nbgrader's ``InstantiateTests`` (run by ``generate_assignment``, i.e. ``release``) turns the
    directives into asserts and stores the whole cell, hidden tests included, in the gradebook;
    the master's own cell is only comments, which pass whatever the answer.
    """
    from nbgrader.api import MissingEntry

    ensure_gradebook(course, hw)
    with course.gradebook() as gb:
        for name, ref in refs.items():
            for c in ref["cells"]:
                if c["kind"] != "test" or not AUTOTEST.search(c["source_full"]):
                    continue
                try:
                    source = gb.find_source_cell(c["grade_id"], name, hw).source
                except MissingEntry:
                    raise UsageError(f"{hw}/{name}: nbgrader has no generated tests for "
                                     f"{c['grade_id']}: run `release {hw}` again") from None
                ref["hidden_lines"] = sorted(set(ref["hidden_lines"]) | set(
                    region_lines(source, HIDDEN_BEGIN, HIDDEN_END)))
                c["source_master"] = c["source_full"]   # the master itself is no tampering
                c["source_full"] = source


def checked_references(course: Course, hw: str, limits: Limits | None = None,
                       use_bwrap: bool = True) -> dict:
    """References with the master's expectations attached (the master runs once, cached)."""
    refs = references(course, hw)
    rel = course.release_dir(hw)
    data = [[str(p), str(p.relative_to(rel))] for p in course.data_files(hw) if rel in p.parents]
    return attach(refs, expected_checks(course, hw, refs, data, limits, use_bwrap))


def submission_hash(course: Course, hw: str, student: str, ref_hash: str) -> str:
    import hashlib

    return hashlib.sha256((sha256_tree(course.submitted(hw, student)) + ref_hash).encode()).hexdigest()


RECYCLE_AFTER = 50   # jobs per worker process before it is replaced


class WorkerProcess:
    """A long-lived ``python -m autograder.worker --serve`` process, replaced when it fails.

    Its log is the worker's stderr only: kernels never inherit it (``Sandbox.popen_kwargs``) and
    the logs directory is outside every sandbox. Whatever the sandboxes of a killed worker left
    (cgroups, tmpfs mounts) is removed when it is closed."""

    def __init__(self, log: Path):
        env = dict(os.environ)
        env.pop("JPY_PARENT_PID", None)
        pkg_root = str(Path(__file__).resolve().parents[1])   # works without an install too
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
        self.log = open(log, "ab")
        self.jobs = 0
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.worker", "--serve"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.log, env=env, start_new_session=True,
                                     close_fds=True)
        self.ready = False

    def _readline(self, deadline: float) -> str | None:
        import select

        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            r, _, _ = select.select([self.proc.stdout], [], [], left)
            if r:
                line = self.proc.stdout.readline()
                return line.decode() if line else None

    def run(self, job: dict, hard: float) -> str | None:
        """Run one job; return None on success, else why the worker failed."""
        deadline = time.monotonic() + hard
        try:
            if not self.ready:
                if self._readline(time.monotonic() + 120) != "ready\n":
                    return "worker did not start"
                self.ready = True
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError as e:
            return f"worker pipe broken ({e})"
        line = self._readline(deadline)
        if line == "done\n":
            return None
        if line is None and self.proc.poll() is None:
            return f"worker exceeded its hard deadline ({hard:.0f} s)"
        return f"worker died (exit code {self.proc.poll()})"

    def close(self, kill: bool = False) -> None:
        try:
            if kill:
                os.killpg(self.proc.pid, 9)
            else:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, 9)
            except OSError:
                pass
        self.proc.wait()
        self.log.close()
        remove_leftovers(self.proc.pid)


def run_jobs(jobs: list[dict], workers: int, desc: str, on_result=None, progress: bool = True,
             logdir: Path | None = None) -> list[dict]:
    """Grade ``jobs`` on ``workers`` long-lived worker processes; results in completion order.

    A job whose worker dies or overruns its hard deadline is recorded as ``crashed`` and the
    worker is replaced; the other jobs go on.
    """
    import queue
    import threading

    from .worker import _fail

    logdir = logdir or Path(tempfile.gettempdir())
    logdir.mkdir(parents=True, exist_ok=True)
    todo: queue.Queue = queue.Queue()
    for j in jobs:
        todo.put(j)
    done: queue.Queue = queue.Queue()
    n = max(1, min(workers, len(jobs)))

    def slot(i: int) -> None:
        w = None
        try:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                if w is None:
                    w = WorkerProcess(logdir / f"worker-{i}.log")
                err = w.run(job, job["limits"]["wall"] + 120)
                w.jobs += 1
                if err:
                    w.close(kill=True)
                    w = None
                    res = safe_json(_fail(job, err))
                    Path(job["result_path"]).write_text(json.dumps(res, indent=1, sort_keys=True))
                else:
                    res = safe_json(json.loads(Path(job["result_path"]).read_text()))
                    if w.jobs >= RECYCLE_AFTER:      # bound any slow leak in a long batch
                        w.close()
                        w = None
                done.put(res)
        finally:
            if w is not None:
                w.close()

    threads = [threading.Thread(target=slot, args=(i,), daemon=True) for i in range(n)] if jobs else []
    for t in threads:
        t.start()
    results = []
    with tqdm(total=len(jobs), desc=desc, unit="sub", disable=not progress or not jobs,
              file=sys.stderr) as bar:
        while len(results) < len(jobs):
            res = done.get()
            results.append(res)
            if on_result:
                on_result(res)
            bar.set_postfix_str(f"{res['student']}: {res['status']}")
            bar.update()
    for t in threads:
        t.join()
    return results


def merge_into_gradebook(course: Course, hw: str, refs: dict, res: dict, gb) -> None:
    """Write one result into the gradebook (the caller is the single writer)."""
    import warnings

    from nbgrader.api import MissingEntry

    stamp, _ = submission_time(course.submitted(hw, res["student"]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _merge(hw, refs, res, gb, MissingEntry, stamp)


def _merge(hw, refs, res, gb, MissingEntry, stamp=None) -> None:
    sid = res["student"]
    gb.update_or_create_student(sid)
    # nbgrader's SubmittedAssignment: timestamp -> total_seconds_late (against the due date)
    gb.update_or_create_submission(hw, sid, timestamp=stamp)
    for name, ref in refs.items():
        nbres = res.get("notebooks", {}).get(name, {})
        ok_nb = nbres.get("status") not in (None, "invalid", "missing")
        blanks = set(nbres.get("unanswered", [])) if ok_nb else set()
        for c in ref["cells"]:
            if c["kind"] in ("manual", "solution"):
                _auto_comment(gb, c["grade_id"], name, hw, sid,
                              NO_RESPONSE if c["grade_id"] in blanks else None, MissingEntry)
            if c["kind"] not in ("test", "manual"):
                continue
            try:
                g = gb.find_grade(c["grade_id"], name, hw, sid)
            except MissingEntry:
                continue
            if c["kind"] == "test":
                t = nbres.get("tests", {}).get(c["grade_id"])
                g.auto_score = float(t["score"]) if t else 0.0
            else:
                g.auto_score = 0.0 if (c["grade_id"] in blanks or not ok_nb) else None
            g.needs_manual_grade = bool(g.manual_score is not None or g.auto_score is None)
    gb.db.commit()


def _auto_comment(gb, gid, name, hw, sid, text, MissingEntry) -> None:
    try:
        gb.find_comment(gid, name, hw, sid).auto_comment = text
    except MissingEntry:   # only solution cells have comments
        pass


def record_due_date(course: Course, hw: str) -> None:
    """Copy the due date of ``course.yml`` into the gradebook (kept when the file has none)."""
    due = due_date(load_config(course.root), hw)
    if due is not None:
        with course.gradebook() as gb:
            gb.update_or_create_assignment(hw, duedate=due)


def grade(course: Course, hw: str, workers: int = 2, limits: Limits | None = None,
          students: list[str] | None = None, force: bool = False, use_bwrap: bool = True,
          progress: bool = True) -> list[dict]:
    course.check_assignment(hw)
    if not course.release_dir(hw).is_dir():
        raise UsageError(f"assignments/{hw} does not exist: run `python -m autograder release {hw}` first")
    limits = limits or Limits()
    known = course.students(hw)
    if not known:
        raise UsageError(f"no submissions for {hw} in {course.submitted()}: run `collect` first")
    if students:
        unknown = [s for s in students if s not in known]
        if unknown:
            raise UsageError(f"no submission for student(s): {', '.join(unknown)}")
        todo_students = list(dict.fromkeys(students))
    else:
        todo_students = known
    if use_bwrap:
        ok, reason = bwrap_status()
        if not ok:
            warn_no_sandbox(reason)
    else:
        warn_no_sandbox("sandbox disabled with --no-sandbox")
    ok, reason = cgroup_status()
    if not ok:
        warn_no_cgroup(reason)
    remove_leftover_cgroups()   # of graders that were killed: nothing may outlive its grading

    ensure_gradebook(course, hw)
    record_due_date(course, hw)
    refs = references(course, hw)
    ref_hash = course.master_hash(hw)
    data_files = [[str(p), str(p.relative_to(course.release_dir(hw)))]
                  for p in course.data_files(hw) if course.release_dir(hw) in p.parents]
    # the master runs once per batch (cached by its content hash), before any student
    attach(refs, expected_checks(course, hw, refs, data_files, limits, use_bwrap))
    rdir = course.results_dir(hw)
    rdir.mkdir(parents=True, exist_ok=True)
    max_score = sum(c["points"] for r in refs.values() for c in r["cells"] if c["kind"] in ("test", "manual"))

    jobs, skipped = [], []
    for sid in todo_students:
        h = submission_hash(course, hw, sid, ref_hash)
        old = course.load_result(hw, sid)
        if not force and old and old.get("hash") == h:
            skipped.append(old)
            continue
        jobs.append({
            "student": sid, "hw": hw, "hash": h, "max_score": max_score,
            "submission_dir": str(course.submitted(hw, sid)),
            "autograded_dir": str(course.autograded(hw, sid)),
            "result_path": str(rdir / f"{sid}.json"),
            "refs": refs, "data_files": data_files, "limits": limits.to_dict(),
            "use_bwrap": use_bwrap,
        })
    if skipped:
        print(f"{len(skipped)} submission(s) unchanged since the last run (use --force to regrade)",
              file=sys.stderr)

    with course.gradebook() as gb:
        def merge(res: dict) -> None:
            try:
                merge_into_gradebook(course, hw, refs, res, gb)
            except Exception as e:   # one student's bad row never stops the batch
                gb.db.rollback()
                res.setdefault("flags", []).append("gradebook_not_updated")
                res["reason"] = (res.get("reason", "") + f"; gradebook: {type(e).__name__}").lstrip("; ")

        for old in skipped:          # keeps a re-created gradebook consistent
            merge(old)
        results = run_jobs(jobs, workers, f"grading {hw}", on_result=merge, progress=progress,
                           logdir=course.ws("logs"))
    return sorted(skipped + results, key=lambda r: r["student"])


def summary_table(results: list[dict]) -> str:
    rows = [("student", "score", "status", "flags / reason")]
    for r in results:
        note = ";".join(r.get("flags", []))
        if r["status"] != "graded" and r.get("reason"):
            note = (note + "  " if note else "") + r["reason"]
        rows.append((safe_text(r["student"]), f"{r['score']:g}/{r['max_score']:g}",
                     safe_text(r["status"]), safe_text(note[:100])))
    w = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows)


def grade_notebook_once(course: Course, hw: str, refs: dict, files: dict[str, Path], limits: Limits,
                        use_bwrap: bool = True, label: str = "check") -> dict:
    """Grade an ad-hoc submission (selftest, validate) without touching the workspace gradebook."""
    from .worker import grade_submission

    with tempfile.TemporaryDirectory(prefix="ag-once-") as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        for name, src in files.items():
            (sub / f"{name}.ipynb").write_bytes(Path(src).read_bytes())
        rel = course.release_dir(hw)
        data = [[str(p), str(p.relative_to(rel))] for p in course.data_files(hw) if rel in p.parents]
        job = {"student": label, "hw": hw, "hash": "", "submission_dir": str(sub),
               "autograded_dir": str(Path(tmp) / "out"), "refs": refs, "data_files": data,
               "limits": limits.to_dict(), "use_bwrap": use_bwrap}
        start = time.time()
        res = grade_submission(job)
        res["duration"] = round(time.time() - start, 2)
        return res
