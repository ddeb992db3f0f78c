"""The expected side of every check: what the same call observed when the master notebook ran.

The master notebook(s) of an assignment run once through the same sandboxed worker path as a
submission, with observation capture; the records of each test cell become the expectations of
that cell (``{notebook: {grade_id: [record, ...]}}``), each marked ``hidden`` when its ``line``
falls inside a ``### BEGIN/END HIDDEN TESTS`` region of the master cell. The result is cached in
the grading workspace (``expected/HW/<hash>.json``, keyed by the master's content hash and the
checker code), which students never see; hidden expected values never enter a student's kernel.

Authoring errors (a master test cell that fails, a check name observed twice, a malformed
observation) are ``UsageError``s that name the notebook, the cell and the check.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from .course import Course, UsageError, sha256_file
from .notebook import hidden_line_ranges
from .sandbox import KERNEL_MODULES, Limits
from .verdicts import BadObservation, decode_observation

VISIBLE_FILE = Path(".autograder") / "visible_checks.json"


def cache_key(course: Course, hw: str) -> str:
    """The master's content hash, mixed with the checker code (a new checker re-observes)."""
    here = Path(__file__).resolve().parent
    h = hashlib.sha256(course.master_hash(hw).encode())
    for name in KERNEL_MODULES:
        if (here / name).is_file():
            h.update(sha256_file(here / name).encode())
    return h.hexdigest()


def records_from_master(hw: str, refs: dict, result: dict) -> dict[str, dict[str, list[dict]]]:
    """Build the expectations from the master's graded result (raises UsageError on authoring errors)."""
    if result.get("status") != "graded":
        raise UsageError(f"the master of {hw} did not run cleanly: {result.get('status')}: "
                         f"{result.get('reason', '')}")
    out: dict[str, dict[str, list[dict]]] = {}
    for name, ref in refs.items():
        nbres = result["notebooks"].get(name, {})
        failing = [(g, t["message"]) for g, t in nbres.get("tests", {}).items() if not t["passed"]]
        if failing:
            gid, msg = failing[0]
            raise UsageError(f"master {hw}/{name}.ipynb: test cell {gid} fails: {msg[:300]}")
        out[name] = _notebook_records(hw, name, ref, nbres.get("observations", {}))
    return out


def _notebook_records(hw: str, name: str, ref: dict, observations: dict) -> dict[str, list[dict]]:
    cells = {c["grade_id"]: c for c in ref["cells"] if c["kind"] == "test"}
    records: dict[str, list[dict]] = {}
    seen: dict[str, str] = {}
    for gid, raws in observations.items():
        if gid not in cells:
            continue   # a check outside a test cell expects nothing
        ranges = hidden_line_ranges(cells[gid]["source_full"])
        for raw in raws:
            try:
                rec = decode_observation(raw)
            except BadObservation as e:
                raise UsageError(f"master {hw}/{name}.ipynb: test cell {gid} published a bad "
                                 f"observation: {e}") from None
            cname = rec["name"]
            if cname in seen:
                raise UsageError(f"master {hw}/{name}.ipynb: check name {cname!r} observed twice "
                                 f"(in {seen[cname]} and {gid}); names must be unique")
            seen[cname] = gid
            line = rec.get("line")
            hidden = isinstance(line, int) and any(a <= line <= b for a, b in ranges)
            records.setdefault(gid, []).append({**rec, "hidden": hidden})
    return records


def run_master(course: Course, hw: str, refs: dict, data: list, limits: Limits,
               use_bwrap: bool = True) -> dict:
    """Grade the master notebook(s) once, keeping the raw observations."""
    from .worker import grade_submission

    with tempfile.TemporaryDirectory(prefix="ag-master-") as tmp:
        sub = Path(tmp) / "sub"
        sub.mkdir()
        for name in refs:
            (sub / f"{name}.ipynb").write_bytes((course.solutions / hw / f"{name}.ipynb").read_bytes())
        job = {"student": "master", "hw": hw, "hash": "", "submission_dir": str(sub),
               "autograded_dir": str(Path(tmp) / "out"), "refs": refs, "data_files": data,
               "limits": limits.to_dict(), "use_bwrap": use_bwrap, "keep_observations": True}
        return grade_submission(job)


def expected_checks(course: Course, hw: str, refs: dict, data: list, limits: Limits | None = None,
                    use_bwrap: bool = True, cache: bool = True) -> dict[str, dict[str, list[dict]]]:
    """``{notebook: {grade_id: [record, ...]}}`` of ``hw``, from the cache or a master run."""
    path = course.ws("expected", hw, cache_key(course, hw) + ".json")
    if cache and path.is_file():
        try:
            return json.loads(path.read_text())["notebooks"]
        except (OSError, ValueError, KeyError):
            pass
    bare = {n: {k: v for k, v in r.items() if k != "checks"} for n, r in refs.items()}
    result = run_master(course, hw, bare, data, limits or Limits(), use_bwrap)
    records = records_from_master(hw, bare, result)
    if cache:
        _write_atomic(path, {"assignment": hw, "notebooks": records})
    return records


def _write_atomic(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def attach(refs: dict, records: dict[str, dict[str, list[dict]]], visible_only: bool = False) -> dict:
    """Put each notebook's expectations into its reference (``ref["checks"]``), in place."""
    for name, ref in refs.items():
        by_gid = records.get(name, {})
        if visible_only:
            by_gid = {g: [r for r in recs if not r.get("hidden")] for g, recs in by_gid.items()}
        ref["checks"] = {g: recs for g, recs in by_gid.items() if recs}
    return refs


# ------------------------------------------------------------------------ visible checks (release)

def visible_checks(records: dict[str, dict[str, list[dict]]]) -> dict:
    """The release's ``visible_checks.json``: master observations of visible checks only."""
    out = {}
    for name, by_gid in sorted(records.items()):
        checks = {}
        for gid, recs in by_gid.items():
            for r in recs:
                if not r.get("hidden"):
                    checks[r["name"]] = {k: v for k, v in r.items() if k != "hidden"} | {"grade_id": gid}
        out[name] = {"checks": dict(sorted(checks.items()))}
    return {"notebooks": out}


def records_from_visible(doc: dict) -> dict[str, dict[str, list[dict]]]:
    """Invert ``visible_checks.json`` into ``{notebook: {grade_id: [record]}}`` (all visible)."""
    out: dict[str, dict[str, list[dict]]] = {}
    for name, nbdoc in (doc.get("notebooks") or {}).items():
        by_gid: dict[str, list[dict]] = {}
        for rec in (nbdoc.get("checks") or {}).values():
            by_gid.setdefault(rec.get("grade_id", ""), []).append(
                {k: v for k, v in rec.items() if k != "grade_id"} | {"hidden": False})
        out[name] = by_gid
    return out


def dump_visible(doc: dict) -> str:
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"
