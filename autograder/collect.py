"""``collect HW SOURCE``: import submissions from a folder or a ``.zip`` into ``submitted/``.

Two layouts are understood (and may be mixed):

* one sub-folder per student id holding that student's files (``SOURCE/alice/hw1.ipynb``; an extra
  ``SOURCE/alice/hw1/`` level is accepted), optionally all wrapped in one top folder;
* the flat names of a Canvas export: ``name_studentid_subid_filename`` (also ``name_LATE_...``,
  recorded as ``lms_late.txt``: late by an unknown time, see ``lateness``);
  Canvas' re-submission suffix (``hw1-2.ipynb``) is removed, and a zip a student uploaded (made by
  ``submit``) is unpacked with the same safety rules.

Unsafe entries (absolute paths, ``..``, links, device files, oversized files, names that are not
plain student ids, a ``timestamp.txt`` a student uploaded) are refused with a message; the rest of the batch is still collected. A
student's new collection replaces their previous one.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from .course import Course, UsageError
from .lateness import LMS_LATE_FILE, TIMESTAMP_FILE

SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,99}$")
CANVAS = re.compile(r"^(?P<name>[^_/]+?)(?P<late>_LATE|_late)?_(?P<sid>\d+)_(?P<subid>\d+)_(?P<fname>.+)$")
# written by nbgrader's exchange or by collect itself: never taken from what a student uploaded
RESERVED = (TIMESTAMP_FILE, LMS_LATE_FILE)
MAX_FILE = 50 * 1024 * 1024
MAX_TOTAL = 1024 * 1024 * 1024
SKIP = ("__MACOSX", ".DS_Store", "Thumbs.db", ".ipynb_checkpoints")


class Entry:
    def __init__(self, parts: tuple[str, ...], read, size: int, label: str):
        self.parts, self.read, self.size, self.label = parts, read, size, label


def _unsafe(name: str) -> str | None:
    if not name:
        return "empty name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    parts = re.split(r"[\\/]+", name)
    if any(p == ".." for p in parts):
        return "path traversal (..)"
    if "\0" in name:
        return "NUL in name"
    return None


def _zip_entries(data_or_path, label_prefix: str, refused: list) -> list[Entry]:
    out = []
    try:
        zf = zipfile.ZipFile(data_or_path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UsageError(f"not a readable zip file: {label_prefix} ({e})") from None
    total = 0
    for info in zf.infolist():
        name = info.filename
        label = f"{label_prefix}:{name}"
        if name.endswith("/"):
            continue
        reason = _unsafe(name)
        mode = info.external_attr >> 16
        if reason is None and mode and stat.S_ISLNK(mode):
            reason = "symbolic link"
        if reason is None and mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG):
            reason = "not a regular file"
        if reason is None and info.file_size > MAX_FILE:
            reason = f"file too large ({info.file_size // 1_000_000} MB)"
        total += info.file_size
        if reason is None and total > MAX_TOTAL:
            reason = "archive too large in total"
        if reason:
            refused.append((label, reason))
            continue
        parts = tuple(p for p in re.split(r"[\\/]+", name) if p not in ("", "."))
        out.append(Entry(parts, (lambda i=info: zf.read(i)), info.file_size, label))
    return out


def _dir_entries(root: Path, refused: list) -> list[Entry]:
    out = []
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if any(part in SKIP for part in rel.parts):
            continue
        if p.is_symlink():
            refused.append((str(rel), "symbolic link"))
            continue
        if p.is_dir():
            continue
        if not p.is_file():
            refused.append((str(rel), "not a regular file"))
            continue
        size = p.stat().st_size
        if size > MAX_FILE:
            refused.append((str(rel), f"file too large ({size // 1_000_000} MB)"))
            continue
        out.append(Entry(rel.parts, (lambda q=p: q.read_bytes()), size, str(rel)))
    return out


def _clean_name(fname: str, expected: list[str]) -> str:
    stem, dot, ext = fname.rpartition(".")
    if dot and ext == "ipynb":
        m = re.match(r"^(.*?)(?:-\d+)$", stem)
        if m and m.group(1) in expected and stem not in expected:
            return f"{m.group(1)}.ipynb"
    return fname


def collect(course: Course, hw: str, source: str | Path) -> dict:
    course.check_assignment(hw)
    src = Path(source)
    if not src.exists():
        raise UsageError(f"source not found: {src}")
    refused: list[tuple[str, str]] = []
    if src.is_dir():
        entries = _dir_entries(src, refused)
    elif zipfile.is_zipfile(src):
        entries = _zip_entries(str(src), src.name, refused)
    else:
        raise UsageError(f"source must be a folder or a .zip file: {src}")
    entries = [e for e in entries if e.parts and not any(p in SKIP for p in e.parts)
               and not e.parts[-1].startswith("._")]
    # one wrapping top folder (e.g. "submissions/alice/hw1.ipynb"): strip it
    tops = {e.parts[0] for e in entries}
    if len(tops) == 1 and all(len(e.parts) >= 3 for e in entries):
        entries = [Entry(e.parts[1:], e.read, e.size, e.label) for e in entries]

    expected = course.notebooks(hw)
    files: dict[str, dict[str, Entry | bytes]] = {}
    late: set[str] = set()   # marked late by the LMS (Canvas: "name_LATE_id_subid_file")
    for e in entries:
        if len(e.parts) == 1:
            m = CANVAS.match(e.parts[0])
            if not m:
                refused.append((e.label, "cannot tell whose file this is (not in a student folder, "
                                         "not a Canvas name_studentid_subid_file name)"))
                continue
            sid, rel = m.group("sid"), (_clean_name(m.group("fname"), expected),)
            if m.group("late"):
                late.add(sid)
            if rel[0] in RESERVED:
                refused.append((e.label, f"{rel[0]} is the grader's, not a student's file"))
                continue
        else:
            sid, rel = e.parts[0], e.parts[1:]
            if len(rel) > 1 and rel[0] == hw:
                rel = rel[1:]
        if not SAFE_ID.match(sid):
            refused.append((e.label, f"unsafe student id {sid!r}"))
            continue
        if any(_unsafe(p) for p in rel):
            refused.append((e.label, "unsafe name"))
            continue
        relname = str(PurePosixPath(*rel))
        if len(rel) == 1 and relname.endswith(".zip"):
            try:
                inner = _zip_entries(io.BytesIO(e.read()), e.label, refused)
            except UsageError as err:
                refused.append((e.label, str(err)))
                continue
            for ie in inner:
                irel = ie.parts[1:] if len(ie.parts) > 1 and ie.parts[0] in (hw, sid) else ie.parts
                if irel and irel[-1] in RESERVED:
                    refused.append((ie.label, f"{irel[-1]} is the grader's, not a student's file"))
                    continue
                if irel and not any(p in SKIP for p in irel):
                    files.setdefault(sid, {})[str(PurePosixPath(*irel))] = ie
            continue
        files.setdefault(sid, {})[relname] = e

    notes: list[str] = []
    collected: dict[str, list[str]] = {}
    for sid, fmap in sorted(files.items()):
        nbs = [n for n in fmap if n.endswith(".ipynb") and "/" not in n]
        if len(expected) == 1 and f"{expected[0]}.ipynb" not in fmap and len(nbs) == 1:
            fmap[f"{expected[0]}.ipynb"] = fmap.pop(nbs[0])
            notes.append(f"{sid}: renamed {nbs[0]} to {expected[0]}.ipynb")
        dest = course.submitted(hw, sid)
        tmp = dest.parent / (dest.name + ".collecting")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        for relname, ent in sorted(fmap.items()):
            target = tmp / relname
            if tmp.resolve() not in target.resolve().parents:
                refused.append((ent.label, "unsafe name"))
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(ent.read())
        if sid in late:
            (tmp / LMS_LATE_FILE).write_text("marked late by the LMS\n", encoding="utf-8")
        shutil.rmtree(dest, ignore_errors=True)
        tmp.rename(dest)
        collected[sid] = sorted(fmap)
    if not collected and not refused:
        raise UsageError(f"no submissions found in {src}")
    return {"collected": collected, "refused": refused, "notes": notes}
