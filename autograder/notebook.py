"""Reading, validating and normalising notebooks; the per-notebook reference; tamper detection.

The *reference* of a notebook is built from the master (``solutions/HW/nb.ipynb``) and the released
student version (``assignments/HW/nb.ipynb``): every nbgrader cell with its kind, points, released
source (what students see) and full source (with hidden tests, what is executed).

``normalise`` turns a student notebook into the notebook that is executed: nbgrader cells in the
reference order, locked and test cells restored (with their hidden tests), deleted cells put back,
duplicates demoted to plain cells, cell types restored, outputs cleared. Every repair is a flag.

Hidden tests run *after* the notebook: a test cell is executed with its hidden regions blanked
(``visible_part``: those lines are ``#``), and a *hidden tail* appended after the last cell holds, per test cell with a
hidden region, that region's code (``hidden_part``: other lines ``#``), tagged ``{"autograder": {"hidden_of": ID}}``.
So no hidden-test code is in the kernel before any output feedback shows (a student's hook that
reads and prints the cell source, however encoded, prints only in the tail, which feedback
drops). Both parts keep the master cell's line numbers, so a
traceback or a check's ``line`` still says whether it is in a hidden region.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat
from nbformat.corpus.words import generate_corpus_id

from .text import safe_json, safe_text

HIDDEN_BEGIN = "### BEGIN HIDDEN TESTS"
HIDDEN_END = "### END HIDDEN TESTS"
SOLUTION_BEGIN = "### BEGIN SOLUTION"
SOLUTION_END = "### END SOLUTION"
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024


class InvalidNotebook(Exception):
    """A submitted file that is not a usable notebook (binary, truncated, schema-invalid)."""


def read_notebook_bytes(data: bytes) -> nbformat.NotebookNode:
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise InvalidNotebook(f"notebook too large ({len(data) // 1_000_000} MB)")
    if b"\0" in data[:4096]:
        raise InvalidNotebook("binary file, not a notebook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidNotebook("binary file, not a notebook (not UTF-8)") from None
    try:
        json.loads(text)
    except ValueError as e:
        where = f" at line {e.lineno}, column {e.colno}" if hasattr(e, "lineno") else ""
        raise InvalidNotebook(f"malformed or truncated notebook: invalid JSON{where}") from None
    try:
        nb = nbformat.reads(text, as_version=4)
    except Exception as e:  # json errors, nbformat reader errors
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidNotebook(f"malformed or truncated notebook: {msg[:200]}") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise InvalidNotebook("malformed notebook: no cell list")
    try:
        nbformat.validator.normalize(nb)
    except Exception:
        pass
    try:
        nbformat.validate(nb)
    except Exception as e:
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise InvalidNotebook(f"notebook does not match the nbformat schema: {msg[:200]}") from None
    return nb


def read_notebook(path: str | Path) -> nbformat.NotebookNode:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InvalidNotebook(f"cannot read {path.name}: {e.strerror}") from None
    return read_notebook_bytes(data)


# ---------------------------------------------------------------------------------------- kinds

def nbg(cell) -> dict:
    md = cell.get("metadata", {}).get("nbgrader", {})
    return md if isinstance(md, dict) else {}


def cell_kind(cell) -> str | None:
    md = nbg(cell)
    if not md.get("grade_id"):
        return None
    if md.get("task"):
        return "manual"
    grade, solution = bool(md.get("grade")), bool(md.get("solution"))
    if grade and not solution:
        return "test" if cell.get("cell_type") == "code" else "manual"
    if grade and solution:
        return "manual"
    if solution:
        return "solution"
    if md.get("locked"):
        return "locked"
    return None


def strip_region(source: str, begin: str, end: str, replacement: str | None = None) -> str:
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
            if replacement is not None:
                indent = line[: len(line) - len(line.lstrip())]
                out.append(indent + replacement)
            continue
        if end in line:
            inside = False
            continue
        if not inside:
            out.append(line)
    return "\n".join(out)


def hidden_line_ranges(source: str) -> list[tuple[int, int]]:
    """1-based inclusive line ranges of hidden-test regions (markers included)."""
    ranges, start = [], None
    for i, line in enumerate(source.split("\n"), 1):
        if HIDDEN_BEGIN in line:
            start = i
        elif HIDDEN_END in line and start is not None:
            ranges.append((start, i))
            start = None
    if start is not None:
        ranges.append((start, 10**9))
    return ranges


def region_lines(source: str, begin: str, end: str) -> list[str]:
    """The non-trivial lines inside begin/end regions (used to prove nothing leaks)."""
    out, inside = [], False
    for line in source.split("\n"):
        if begin in line:
            inside = True
        elif end in line:
            inside = False
        elif inside and len(line.strip()) >= 12:
            out.append(line.strip())
    return out


def _norm(src: str) -> str:
    return "\n".join(line.rstrip() for line in src.replace("\r\n", "\n").strip().split("\n"))


# ---------------------------------------------------------------------------------------- reference

def build_reference(master_path: Path, release_path: Path | None) -> dict:
    """Reference data of one notebook (plain JSON, shipped to the grading workers)."""
    master = read_notebook(master_path)
    release = read_notebook(release_path) if release_path and release_path.is_file() else None
    rel_cells = {}
    if release is not None:
        for c in release.cells:
            gid = nbg(c).get("grade_id")
            if gid:
                rel_cells[gid] = c
    cells = []
    hidden_lines, solution_lines = [], []
    for c in master.cells:
        kind = cell_kind(c)
        if kind is None:
            continue
        md = nbg(c)
        gid = md["grade_id"]
        full = c.source
        released_src = (rel_cells[gid].source if gid in rel_cells
                        else strip_region(full, HIDDEN_BEGIN, HIDDEN_END))
        if kind in ("solution", "manual"):
            stub = rel_cells[gid].source if gid in rel_cells else (
                "# YOUR CODE HERE\nraise NotImplementedError()" if c.cell_type == "code"
                else "YOUR ANSWER HERE")
            solution_lines += region_lines(full, SOLUTION_BEGIN, SOLUTION_END)
            if kind == "manual" and c.cell_type == "markdown" and SOLUTION_BEGIN not in full:
                solution_lines += [ln.strip() for ln in full.split("\n") if len(ln.strip()) >= 12]
            released_src = stub
        hidden_lines += region_lines(full, HIDDEN_BEGIN, HIDDEN_END)
        rel_cell = rel_cells.get(gid)
        meta = copy.deepcopy(dict(rel_cell.metadata)) if rel_cell is not None else {
            "nbgrader": dict(md)}
        cells.append({
            "grade_id": gid,
            "kind": kind,
            "cell_type": c.cell_type,
            "points": float(md.get("points", 0) or 0) if kind in ("test", "manual") else 0.0,
            "source_release": released_src,
            "source_full": full if kind in ("test", "locked") else released_src,
            "hidden": HIDDEN_BEGIN in full,
            "metadata": meta,
        })
    ks = master.metadata.get("kernelspec", {}) or {}
    return {
        "name": master_path.stem,
        "cells": cells,
        "kernelspec": dict(ks),
        # a line the release shows (a helper, an import, a common idiom) is no secret: keeping it
        # would withhold the feedback of every student who writes the same line
        "hidden_lines": sorted(set(hidden_lines) - _released_lines(release)),
        "solution_lines": sorted(set(solution_lines) - _released_lines(release)),
        "guard_modules": sorted(_guard_modules(master)),
        "uses_torch": any("torch" in c.source for c in master.cells if c.cell_type == "code"),
        "uses_pyro": any("pyro" in c.source for c in master.cells if c.cell_type == "code"),
        "nbformat_minor": master.nbformat_minor,
    }


def _released_lines(release) -> set[str]:
    """Every stripped source line of the released notebook (what students see anyway)."""
    if release is None:
        return set()
    return {ln.strip() for c in release.cells for ln in c.source.split("\n") if ln.strip()}


def _guard_modules(nb) -> set[str]:
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    mods = {"numpy"} if re.search(r"\bnumpy\b|\bnp\.", text) else set()
    if "pandas" in text:
        mods.add("pandas")
    if "torch" in text:
        mods.add("torch")
    return mods


def max_score(ref: dict) -> float:
    return sum(c["points"] for c in ref["cells"] if c["kind"] in ("test", "manual"))


# ---------------------------------------------------------------------------------------- normalise

TAIL_KEY = "autograder"
BLANK = "#"   # not "": IPython drops a cell's leading empty lines, which would shift line numbers


def visible_part(source: str) -> str:
    """``source`` with every hidden-region line (markers included) blank; line numbers kept."""
    ranges = hidden_line_ranges(source)
    return "\n".join(BLANK if any(a <= i <= b for a, b in ranges) else line
                     for i, line in enumerate(source.split("\n"), 1))


def hidden_part(source: str) -> str:
    """Only the hidden regions' lines of ``source`` (markers included); the rest blank."""
    ranges = hidden_line_ranges(source)
    return "\n".join(line if any(a <= i <= b for a, b in ranges) else BLANK
                     for i, line in enumerate(source.split("\n"), 1))


def hidden_of(cell) -> str | None:
    """The grade id whose hidden tests a hidden-tail cell runs (None for any other cell)."""
    md = cell.get("metadata", {}).get(TAIL_KEY)
    gid = md.get("hidden_of") if isinstance(md, dict) else None
    return gid if isinstance(gid, str) else None


def is_hidden_tail(cell) -> bool:
    return hidden_of(cell) is not None


def _tail_cells(ref: dict) -> list:
    """One code cell per test cell with hidden tests, in reference order (run after everything)."""
    return [_new_cell("code", hidden_part(rc["source_full"]),
                      {TAIL_KEY: {"hidden_of": rc["grade_id"]}})
            for rc in ref["cells"]
            if rc["kind"] == "test" and rc["cell_type"] == "code" and rc.get("hidden")]


def _new_cell(cell_type: str, source: str, metadata: dict):
    if cell_type == "code":
        c = nbformat.v4.new_code_cell(source)
    elif cell_type == "markdown":
        c = nbformat.v4.new_markdown_cell(source)
    else:
        c = nbformat.v4.new_raw_cell(source)
    c.metadata = nbformat.from_dict(copy.deepcopy(metadata))
    return c


def _plain(cell):
    """A copy of a cell without grader metadata (a student's own cell)."""
    c = copy.deepcopy(cell)
    c.get("metadata", {}).pop("nbgrader", None)
    c.get("metadata", {}).pop(TAIL_KEY, None)
    return c


def upgrade_metadata(nb) -> None:
    """Read old (schema v0-v2) nbgrader metadata as nbgrader does, in place.

    nbgrader's own upgrader (``nbgrader update``) fills the defaults that old versions left out
    (``grade``/``solution``/``locked``), makes ``points`` a float and drops the metadata of plain
    cells; without it a student's old notebook would raise tamper flags they never caused.
    """
    from nbgrader.nbgraderformat import MetadataValidator

    validator = None
    for cell in nb.cells:
        md = cell.get("metadata", {}).get("nbgrader")
        if not isinstance(md, dict) or md.get("schema_version", 0) >= 3:
            continue
        validator = validator or MetadataValidator()
        try:
            validator.upgrade_cell_metadata(cell)
        except Exception:   # unreadable metadata stays as it is: normalise flags it
            continue
        if not cell.metadata.get("nbgrader"):
            cell.metadata.pop("nbgrader", None)


def _source(cell) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def unanswered_cells(nb, ref: dict) -> list[str]:
    """Answer cells the student left as released (or deleted). nbgrader comments them "No
    response." and scores the manually graded ones 0 (its checksum test in ``determine_grade``)."""
    seen = {}
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        if gid and gid not in seen:
            seen[gid] = cell
    out = []
    for rc in ref["cells"]:
        if rc["kind"] not in ("manual", "solution"):
            continue
        cell = seen.get(rc["grade_id"])
        if cell is None or _norm(_source(cell)) == _norm(rc["source_release"]):
            out.append(rc["grade_id"])
    return out


def normalise(nb, ref: dict) -> tuple[nbformat.NotebookNode, list[str]]:
    """Return (the notebook to execute, tamper flags)."""
    flags: list[str] = []
    nb = copy.deepcopy(nb)
    upgrade_metadata(nb)
    ref_by_id = {c["grade_id"]: c for c in ref["cells"]}
    seen: dict[str, object] = {}
    order: list[str] = []
    leading: list = []
    extras: dict[str, list] = {}
    current = None
    for cell in nb.cells:
        gid = nbg(cell).get("grade_id")
        if gid in ref_by_id and gid not in seen:
            seen[gid] = cell
            order.append(gid)
            current = gid
            extras[gid] = []
            continue
        if is_hidden_tail(cell):
            flags.append("forged_hidden_tail")
            cell = _plain(cell)
        elif gid in ref_by_id:
            flags.append(f"duplicated_cell:{gid}")
            cell = _plain(cell)
        elif nbg(cell):
            flags.append(f"unknown_nbgrader_cell:{safe_text(gid or '?', 80)}")
            cell = _plain(cell)
        (extras[current] if current is not None else leading).append(cell)

    ref_order = [c["grade_id"] for c in ref["cells"]]
    if [g for g in ref_order if g in seen] != order:
        flags.append("reordered_cells")

    out = list(leading)
    for rc in ref["cells"]:
        gid = rc["grade_id"]
        kind = rc["kind"]
        if gid not in seen:
            flags.append(f"deleted_cell:{gid}")
            src = rc["source_full"] if kind == "locked" else (
                visible_part(rc["source_full"]) if kind == "test" else rc["source_release"])
            out.append(_new_cell(rc["cell_type"], src, rc["metadata"]))
        else:
            cell = seen[gid]
            src = _source(cell)
            if cell.get("cell_type") != rc["cell_type"]:
                flags.append(f"cell_type_changed:{gid}")
            if kind in ("test", "locked"):
                accepted = (rc["source_release"], rc["source_full"], rc.get("source_master", ""))
                if _norm(src) not in {_norm(a) for a in accepted if a}:
                    flags.append(f"edited_locked_cell:{gid}")
                src = visible_part(rc["source_full"])
            else:
                smd = nbg(cell)
                rmd = rc["metadata"].get("nbgrader", {})
                if any(smd.get(k) != rmd.get(k) for k in ("grade", "solution", "locked", "points")):
                    flags.append(f"metadata_changed:{gid}")
            new = _new_cell(rc["cell_type"], src, rc["metadata"])
            if "attachments" in cell and rc["cell_type"] != "code":
                new["attachments"] = cell["attachments"]
            out.append(new)
        out.extend(extras.get(gid, []))
    out.extend(_tail_cells(ref))

    clean = []
    for c in out:
        c = copy.deepcopy(c)
        if c.get("cell_type") == "code":
            c["outputs"] = []
            c["execution_count"] = None
        c.pop("id", None)
        clean.append(c)
    new_nb = nbformat.v4.new_notebook()
    new_nb.metadata = copy.deepcopy(nb.get("metadata", {}))
    ks = (nb.get("metadata", {}) or {}).get("kernelspec", {}) or {}
    if ref.get("kernelspec") and ks.get("name") != ref["kernelspec"].get("name"):
        flags.append(f"kernelspec_changed:{ks.get('name') or 'none'}")
    new_nb.metadata["kernelspec"] = copy.deepcopy(ref.get("kernelspec") or {
        "name": "python3", "display_name": "Python 3", "language": "python"})
    new_nb.cells = [nbformat.from_dict(c) for c in clean]
    for c in new_nb.cells:
        c["id"] = generate_corpus_id()
    safe = nbformat.from_dict(safe_json(new_nb))
    if safe != new_nb:   # lone surrogates etc.: no encoder (kernel protocol, JSON file) takes them
        flags.append("unencodable_text")
    return safe, flags
