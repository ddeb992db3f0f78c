"""Grade ONE submission (all notebooks of one student). Run as ``python -m autograder.worker JOB``.

Each submission gets its own worker process, so a submission that crashes or hangs the grading
machinery takes nothing else down; the parent enforces a hard deadline on the process and is the
only writer of the gradebook. The worker writes the executed notebooks into the autograded folder
and a result JSON; it never opens the gradebook.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import nbformat

from .lateness import submission_time
from .notebook import InvalidNotebook, normalise, read_notebook, unanswered_cells
from .sandbox import Limits, Sandbox
from .text import safe_json

STATUS_ORDER = ["invalid", "missing", "timeout", "memory", "crashed", "graded"]
MAX_EXTRA_BYTES = 100 * 1024 * 1024


def worst_status(statuses: list[str]) -> str:
    for s in STATUS_ORDER:
        if s in statuses:
            return s
    return "graded"


def _zero_tests(ref: dict, message: str) -> dict:
    return {g["grade_id"]: {"points": g["points"], "score": 0.0, "passed": False, "executed": False,
                            "hidden": g["hidden"], "message": message}
            for g in ref["cells"] if g["kind"] == "test"}


def grade_submission(job: dict) -> dict:
    t0 = time.time()
    limits = Limits(**job["limits"])
    sub = Path(job["submission_dir"])
    out_dir = Path(job["autograded_dir"])
    out_dir.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + limits.wall
    refs: dict = job["refs"]
    extra = []
    total = 0
    for p in sorted(sub.rglob("*")):
        if p.is_file() and not p.is_symlink() and p.suffix != ".ipynb":
            total += p.stat().st_size
            if total > MAX_EXTRA_BYTES:
                break
            extra.append((p, str(p.relative_to(sub))))
    data = [(Path(a), rel) for a, rel in job["data_files"]]
    notebooks, flags, sandboxed, uids, cgrouped = {}, [], None, [], None
    for name, ref in refs.items():
        path = sub / f"{name}.ipynb"
        mx = sum(c["points"] for c in ref["cells"] if c["kind"] in ("test", "manual"))
        base = {"flags": [], "manual": {c["grade_id"]: {"points": c["points"]}
                                        for c in ref["cells"] if c["kind"] == "manual"},
                "score": 0.0, "max_score": mx}
        if not path.is_file() or path.is_symlink():
            notebooks[name] = {**base, "status": "missing", "reason": f"{name}.ipynb not submitted",
                               "tests": _zero_tests(ref, "notebook not submitted")}
            continue
        try:
            nb = read_notebook(path)
        except InvalidNotebook as e:
            notebooks[name] = {**base, "status": "invalid", "reason": str(e),
                               "tests": _zero_tests(ref, "invalid notebook: " + str(e))}
            continue
        try:
            blank = unanswered_cells(nb, ref)
            nb, nflags = normalise(nb, ref)
        except Exception as e:
            notebooks[name] = {**base, "status": "invalid", "reason": f"cannot normalise: {e}",
                               "tests": _zero_tests(ref, "invalid notebook")}
            continue
        sb = Sandbox(limits, use_bwrap=job.get("use_bwrap", True))
        sandboxed = sb.use_bwrap
        uids.append(sb.uid)
        try:
            sb.prepare(extra + data)
            cgrouped = sb.cgroup is not None
            res = asyncio.run(run_notebook_safe(nb, ref, sb, deadline))
        finally:
            sb.cleanup()
        executed = res.pop("executed_nb")
        observations = res.pop("observations", {})
        if job.get("keep_observations"):   # the master's run (expected.py): the raw payloads
            res["observations"] = observations
        res["flags"] = nflags + res["flags"]
        res["unanswered"] = blank   # "No response." (the gradebook merge scores them as nbgrader)
        nbformat.write(nbformat.from_dict(safe_json(executed)), str(out_dir / f"{name}.ipynb"))
        notebooks[name] = res
    for r in notebooks.values():
        flags += r["flags"]
    _, stamp_flag = submission_time(sub)     # lateness itself is the gradebook merge's
    if stamp_flag:
        flags.append(stamp_flag)
    statuses = [r["status"] for r in notebooks.values()]
    status = worst_status(statuses)
    reasons = [f"{n}: {r['reason']}" for n, r in notebooks.items() if r.get("reason")]
    return {
        "student": job["student"],
        "assignment": job["hw"],
        "status": status,
        "reason": "; ".join(reasons),
        "score": sum(r["score"] for r in notebooks.values()),
        "max_score": sum(r["max_score"] for r in notebooks.values()),
        "flags": flags,
        "notebooks": notebooks,
        "hash": job["hash"],
        "sandbox": sandboxed,
        "sandbox_uids": uids,
        "cgroup": cgrouped,
        "limits": limits.to_dict(),
        "duration": round(time.time() - t0, 2),
        "graded_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


async def run_notebook_safe(nb, ref, sb, deadline):
    from .execute import run_notebook

    return await run_notebook(nb, ref, sb, deadline)


def _fail(job: dict, err: str) -> dict:
    return {"student": job["student"], "assignment": job["hw"], "status": "crashed",
            "reason": "grading worker failed: " + err[:300], "score": 0.0,
            "max_score": job.get("max_score", 0.0), "flags": ["worker_failed"], "notebooks": {},
            "hash": job["hash"], "sandbox": None, "sandbox_uids": [], "cgroup": None, "limits": job["limits"],
            "duration": None}


def _write(job: dict, result: dict) -> None:
    tmp = Path(job["result_path"] + ".tmp")
    tmp.write_text(json.dumps(safe_json(result), indent=1, sort_keys=True))
    tmp.replace(job["result_path"])


def serve() -> int:
    """Grade jobs read as JSON lines on stdin; answer one line per job on the real stdout.

    A long-lived worker pays the imports (nbformat/jsonschema, nbclient, zmq: ~2 s) once, not per
    submission. Anything a library prints goes to stderr, never into the protocol.
    """
    import os
    import traceback

    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    proto.write("ready\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = grade_submission(job)
        except Exception as e:
            traceback.print_exc()
            result = _fail(job, f"{type(e).__name__}: {e}")
        _write(job, result)
        proto.write("done\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--serve":
        return serve()
    job = json.loads(Path(argv[0]).read_text())
    _write(job, grade_submission(job))
    return 0


if __name__ == "__main__":
    sys.exit(main())
