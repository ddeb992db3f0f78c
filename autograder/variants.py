"""Variant suites (``solutions/HW/variants.yml``): declared student answers and the points they earn.

Each variant patches answer cells (by grade id) of the RELEASED notebook and maps EVERY autograded
test grade id to the points it must earn. ``selftest`` grades each variant through the real
sandboxed path; a test that rejects a correct variant or accepts a mistake is a bug in the
assignment. The file is validated strictly: unknown keys, unknown or non-answer grade ids, a
missing test in ``expect`` and a ``correct`` variant below full marks are errors.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

import nbformat
import yaml

from .course import UsageError
from .notebook import nbg

FILE = "variants.yml"
KINDS = ("correct", "mistake", "adversarial")
TOP_KEYS = {"notebook", "variants"}
VARIANT_KEYS = {"name", "kind", "why", "patches", "expect"}


@dataclass
class Variant:
    name: str
    kind: str
    why: str
    patches: dict[str, str]
    expect: dict[str, float]


def _fail(path: Path, msg: str) -> UsageError:
    return UsageError(f"{path}: {msg}")


def load(path: Path, notebooks: list[str], release_cells: dict[str, list]) -> tuple[str, list[Variant]]:
    """(notebook name, variants) of ``path``; ``release_cells`` maps notebook -> its cells."""
    try:
        doc = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise _fail(path, f"not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise _fail(path, "expected a mapping with 'variants'")
    unknown = set(doc) - TOP_KEYS
    if unknown:
        raise _fail(path, f"unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    name = doc.get("notebook") or (notebooks[0] if len(notebooks) == 1 else None)
    if name not in notebooks:
        raise _fail(path, f"notebook {name!r} is not one of {', '.join(notebooks)}")
    cells = release_cells[name]
    answers = {nbg(c)["grade_id"] for c in cells if nbg(c).get("solution") and nbg(c).get("grade_id")}
    tests = {nbg(c)["grade_id"]: float(nbg(c).get("points", 0) or 0) for c in cells
             if nbg(c).get("grade") and not nbg(c).get("solution") and c.cell_type == "code"}
    raw = doc.get("variants")
    if not isinstance(raw, list) or not raw:
        raise _fail(path, "'variants' must be a non-empty list")
    out, seen = [], set()
    for i, v in enumerate(raw):
        var = _variant(path, i, v, answers, tests)
        if var.name in seen:
            raise _fail(path, f"variant name {var.name!r} used twice")
        seen.add(var.name)
        out.append(var)
    return name, out


def _variant(path: Path, i: int, v, answers: set[str], tests: dict[str, float]) -> Variant:
    where = f"variant {i + 1}"
    if not isinstance(v, dict):
        raise _fail(path, f"{where}: expected a mapping")
    where = f"variant {v.get('name', i + 1)!r}"
    unknown = set(v) - VARIANT_KEYS
    if unknown:
        raise _fail(path, f"{where}: unknown key(s): {', '.join(sorted(map(str, unknown)))}")
    missing = {"name", "kind", "patches", "expect"} - set(v)
    if missing:
        raise _fail(path, f"{where}: missing key(s): {', '.join(sorted(missing))}")
    if not isinstance(v["name"], str) or not v["name"]:
        raise _fail(path, f"{where}: 'name' must be a non-empty string")
    if v["kind"] not in KINDS:
        raise _fail(path, f"{where}: kind must be one of {', '.join(KINDS)}, not {v['kind']!r}")
    patches = v["patches"]
    if not isinstance(patches, dict) or not all(isinstance(s, str) for s in patches.values()):
        raise _fail(path, f"{where}: 'patches' maps answer grade ids to source text")
    bad = sorted(set(patches) - answers)
    if bad:
        raise _fail(path, f"{where}: not an answer cell of the release: {', '.join(map(str, bad))}")
    expect = v["expect"]
    if not isinstance(expect, dict):
        raise _fail(path, f"{where}: 'expect' maps every autograded test grade id to points")
    extra, lacking = sorted(set(expect) - set(tests)), sorted(set(tests) - set(expect))
    if extra:
        raise _fail(path, f"{where}: expect names unknown test(s): {', '.join(map(str, extra))}")
    if lacking:
        raise _fail(path, f"{where}: expect is missing test(s): {', '.join(lacking)}")
    for gid, pts in expect.items():
        if isinstance(pts, bool) or not isinstance(pts, (int, float)) or not 0 <= pts <= tests[gid]:
            raise _fail(path, f"{where}: expect {gid}: {pts!r} is not a number in [0, {tests[gid]:g}]")
    if v["kind"] == "correct" and any(expect[g] != tests[g] for g in tests):
        raise _fail(path, f"{where}: a correct variant must expect full marks on every test")
    return Variant(v["name"], v["kind"], str(v.get("why", "")), dict(patches),
                   {g: float(p) for g, p in expect.items()})


def patched_notebook(release_path: Path, variant: Variant) -> bytes:
    """The released notebook with the variant's answer cells put in."""
    nb = copy.deepcopy(nbformat.read(str(release_path), as_version=4))
    for c in nb.cells:
        gid = nbg(c).get("grade_id")
        if gid in variant.patches:
            c.source = variant.patches[gid]
    return nbformat.writes(nb).encode()
