"""Command line: ``python -m autograder [--course DIR] VERB ...`` (see ``--help``)."""

from __future__ import annotations

import argparse
import os
import sys

from .course import Course, UsageError
from .sandbox import Limits

VERBS = "release, collect, grade, feedback, export, report, selftest, validate, submit"


def _limits(a) -> Limits:
    lim = Limits()
    if getattr(a, "timeout", None) is not None:
        lim.cell_timeout = a.timeout
    if getattr(a, "memory", None) is not None:
        lim.memory_mb = a.memory
    if getattr(a, "wall", None) is not None:
        lim.wall = a.wall
        lim.cpu_seconds = int(a.wall)
    for v, name in ((lim.cell_timeout, "--timeout"), (lim.memory_mb, "--memory"), (lim.wall, "--wall")):
        if v <= 0:
            raise UsageError(f"{name} must be positive")
    return lim


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Sandboxed, parallel, crash-proof grading on top of nbgrader.",
        epilog="Instructor flow: release -> collect -> grade -> feedback -> export/report. "
               "Students: validate, submit.")
    p.add_argument("--course", default=None,
                   help="course directory (solutions/, assignments/); default: the current directory "
                        "if it has one of them, else the repository root")
    p.add_argument("--workspace", default=None,
                   help="grading workspace (default: COURSE/build/grading)")
    p.add_argument("--db-url", default=None,
                   help="gradebook SQLAlchemy URL (default: sqlite in the workspace)")
    sub = p.add_subparsers(dest="verb", metavar="VERB")

    s = sub.add_parser("release", help="generate assignments/HW (student version) from solutions/HW")
    s.add_argument("hw")

    s = sub.add_parser("collect", help="import submissions from a folder or .zip (LMS export)")
    s.add_argument("hw")
    s.add_argument("source", help="folder (one sub-folder per student id) or .zip; Canvas flat names ok")

    def limit_opts(s, timeout=60.0):
        s.add_argument("--timeout", type=float, default=timeout, metavar="SECONDS_PER_CELL",
                       help=f"per-cell timeout (default {timeout:g})")
        s.add_argument("--memory", type=int, default=2048, metavar="MB",
                       help="memory limit of each kernel (default 2048)")
        s.add_argument("--wall", type=float, default=900.0, metavar="SECONDS",
                       help="wall-clock limit per submission (default 900)")
        s.add_argument("--no-sandbox", action="store_true",
                       help="run kernels without bubblewrap (limits only; NOT safe)")

    s = sub.add_parser("grade", help="autograde every collected submission (parallel, sandboxed)")
    s.add_argument("hw")
    s.add_argument("--workers", type=int, default=max(1, min(os.cpu_count() or 1, 4)),
                   help="submissions graded in parallel (default: CPU count, at most 4)")
    limit_opts(s)
    s.add_argument("--student", nargs="+", default=None, metavar="ID", help="grade only these students")
    s.add_argument("--force", action="store_true", help="regrade unchanged submissions too")

    s = sub.add_parser("feedback", help="HTML feedback per student (hidden tests and solutions redacted)")
    s.add_argument("hw")
    s.add_argument("--student", nargs="+", default=None, metavar="ID")
    s.add_argument("--render-timeout", type=float, default=20.0, metavar="S",
                   help="seconds to render one page before it falls back to plain text (default 20)")

    s = sub.add_parser("export", help="grades as CSV or a Canvas import file")
    s.add_argument("hw")
    s.add_argument("--format", choices=["csv", "canvas"], default="csv")
    s.add_argument("--output", default=None, metavar="FILE", help="default: standard output")

    s = sub.add_parser("report", help="score histograms (PNG), pass rates and a Markdown summary")
    s.add_argument("hw")

    s = sub.add_parser("selftest", help="master = full marks, release = zero, every test fails on the "
                                        "stub, every variant scores as declared")
    s.add_argument("hw", nargs="?", default=None)
    s.add_argument("--all", action="store_true", help="every assignment of the course")
    limit_opts(s)

    s = sub.add_parser("validate", help="students: run the visible tests of a notebook locally")
    s.add_argument("notebook")
    s.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS_PER_CELL")

    s = sub.add_parser("submit", help="students: package your notebooks into a zip for upload")
    s.add_argument("hw")
    s.add_argument("--from", dest="source", default=None, metavar="DIR",
                   help="folder with your notebooks (default: assignments/HW)")
    s.add_argument("--student", default=None, metavar="ID", help="your student id (names the zip)")
    s.add_argument("--output", default=None, metavar="FILE")
    return p


def run(argv: list[str] | None = None) -> int:
    parser = build_parser()
    a = parser.parse_args(argv)
    if not a.verb:
        parser.print_help()
        return 2
    course = Course(a.course, workspace=a.workspace, db_url=a.db_url)
    v = a.verb
    if v not in ("validate", "submit"):
        course.require_solutions()
    if v == "release":
        from .release import release

        out = release(course, a.hw)
        print(f"released {a.hw} -> {out}")
    elif v == "collect":
        from .collect import collect

        r = collect(course, a.hw, a.source)
        for note in r["notes"]:
            print("note: " + note)
        for label, reason in r["refused"]:
            print(f"refused: {label}: {reason}", file=sys.stderr)
        print(f"collected {len(r['collected'])} submission(s) into {course.submitted()}"
              + (f"; refused {len(r['refused'])} entr{'y' if len(r['refused']) == 1 else 'ies'}"
                 if r["refused"] else ""))
        if not r["collected"]:
            return 1
    elif v == "grade":
        from .grade import grade, summary_table

        if a.workers < 1:
            raise UsageError("--workers must be at least 1")
        res = grade(course, a.hw, workers=a.workers, limits=_limits(a), students=a.student,
                    force=a.force, use_bwrap=not a.no_sandbox)
        print(summary_table(res))
        print(f"results: {course.results_dir(a.hw)}  gradebook: {course.db_url}")
    elif v == "feedback":
        from .feedback import feedback

        out = feedback(course, a.hw, students=a.student, seconds=a.render_timeout)
        print(f"wrote {len(out)} feedback page(s) under {course.ws('feedback')}")
    elif v == "export":
        from .export import export

        path = export(course, a.hw, a.format, a.output)
        if path:
            print(f"wrote {path}")
    elif v == "report":
        from .report import report

        out = report(course, a.hw)
        print(f"report: {out / 'summary.md'} (pictures: {out / 'scores.png'})")
    elif v == "selftest":
        from .selftest import selftest

        if bool(a.all) == bool(a.hw):
            raise UsageError("selftest needs an assignment name or --all (not both)")
        failed = []
        for hw in (course.assignment_ids() if a.all else [a.hw]):
            ok, table = selftest(course, hw, limits=_limits(a), use_bwrap=not a.no_sandbox)
            print(table)
            print(f"selftest {hw}: {'OK' if ok else 'FAILED'}")
            failed += [] if ok else [hw]
        if a.all:
            print("selftest --all: " + ("OK" if not failed else "FAILED: " + ", ".join(failed)))
        return 1 if failed else 0
    elif v == "validate":
        from .student import validate

        ok, text = validate(course, a.notebook, limits=Limits(cell_timeout=a.timeout, wall=900))
        print(text)
        return 0 if ok else 1
    elif v == "submit":
        from .student import submit

        out = submit(course, a.hw, a.source, a.student, a.output)
        print(f"wrote {out}: upload this file")
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return run(argv)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # one line for users; the traceback with AUTOGRADER_DEBUG=1
        if os.environ.get("AUTOGRADER_DEBUG"):
            raise
        msg = str(e).strip().splitlines()
        print(f"error: {type(e).__name__}: {msg[0] if msg else ''}", file=sys.stderr)
        return 1
