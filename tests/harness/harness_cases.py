"""Fixture submissions for the harness tests, built from the released notebook of the fixture course.

Each case is (student id, files, expected score, expected status, flags that must appear). The
expected scores are exact: q1_test 2 points, q2_test 3, q3_test 1 (q3 uses q2's function);
q4_written (2 points) is graded by hand, so autograded maxima are 6.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import nbformat

Q1_OK = ("def sample_mean(x):\n"
         "    # written differently from the master on purpose\n"
         "    values = np.asarray(x, dtype=float)\n"
         "    return float(np.mean(values))")
Q1_WRONG = "def sample_mean(x):\n    return 0.0"
Q2_OK = ("def diff_in_means(y, t):\n"
         "    y, t = np.asarray(y, dtype=float), np.asarray(t)\n"
         "    return float(np.average(y, weights=(t == 1)) - np.average(y, weights=(t == 0)))")
Q2_WRONG = "def diff_in_means(y, t):\n    return float(y[t == 0].mean() - y[t == 1].mean())"


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def load(release: Path):
    return nbformat.read(str(release), as_version=4)


def build(release: Path, q1: str | None = Q1_OK, q2: str | None = Q2_OK, edit=None):
    nb = copy.deepcopy(load(release))
    for c in nb.cells:
        if _gid(c) == "q1_answer" and q1 is not None:
            c.source = q1
        if _gid(c) == "q2_answer" and q2 is not None:
            c.source = q2
        if _gid(c) == "q4_written":
            c.source = "Randomisation makes the groups comparable, so the difference is causal."
    if edit:
        edit(nb)
    return nbformat.writes(nb).encode()


def _find(nb, gid):
    return next(i for i, c in enumerate(nb.cells) if _gid(c) == gid)


def cases(release: Path, course: Path, port: int, secret: Path, marker: str) -> list[dict]:
    gradebook = course / "build" / "grading" / "gradebook.db"
    C = []

    def add(sid, data, score, status, flags=(), files=None):
        C.append({"sid": sid, "files": files or {"hw1.ipynb": data}, "score": score,
                  "status": status, "flags": list(flags)})

    add("correct", build(release), 6, "graded")
    add("blank", load(release) and release.read_bytes(), 0, "graded")
    add("partial", build(release, Q1_OK, Q2_WRONG), 2, "graded")
    # passes the visible tests (tiny arrays) but not the hidden one (the median is not the mean)
    add("hidden_fail", build(release, "def sample_mean(x):\n    return float(np.median(x))"),
        4, "graded")
    add("infinite_loop", build(release, Q1_OK, "while True:\n    pass\n" + Q2_OK), 2, "timeout",
        ["cell_timeout:q2_answer"])
    add("stubborn_loop", build(release, Q1_OK,
        "import time\nwhile True:\n    try:\n        time.sleep(100)\n    except BaseException:\n"
        "        pass\n" + Q2_OK), 0, "timeout", ["cell_timeout:q2_answer"])   # killed: no hidden tail
    add("memory_hog", build(release, Q1_OK,
        "hog = []\nwhile True:\n    hog.append(bytearray(100_000_000))\n" + Q2_OK), 2, "memory",
        ["memory_limit"])
    add("spawner", build(release, Q1_OK + f"\n\nimport os, subprocess, time\n"
        f"procs = [subprocess.Popen(['sleep', '{marker}'], start_new_session=True) for _ in range(3)]\n"
        "for _ in range(1000):\n    if os.fork() == 0:\n        time.sleep(1000)\n        os._exit(0)\n"),
        6, "graded", ["process_limit"])
    add("network", build(release, Q1_OK + "\n\nimport socket\ntry:\n"
        f"    s = socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "    s.sendall(b'LEAKED')\n    print('NETWORK: connected')\nexcept OSError as e:\n"
        "    print('NETWORK: blocked', e)\n"), 6, "graded")
    targets = [str(course / "solutions" / "hw1" / "hw1.ipynb"), str(gradebook), str(secret),
               str(course / "build" / "grading" / "submitted" / "correct" / "hw1" / "hw1.ipynb"),
               str(Path.home() / ".bashrc"), str(course)]
    add("snoop", build(release, Q1_OK + "\n\nimport os\n" + f"for p in {targets!r}:\n"
        "    try:\n        data = open(p, 'rb').read() if not os.path.isdir(p) else os.listdir(p)\n"
        "        print('FOUND:', p, str(data)[:200])\n    except OSError as e:\n"
        "        print('BLOCKED:', p, type(e).__name__)\n"), 6, "graded")
    vandal_targets = [str(course / "solutions" / "hw1" / "hw1.ipynb"), str(gradebook)]
    add("vandal", build(release, Q1_OK + "\n\nimport os, shutil\n" + f"for p in {vandal_targets!r}:\n"
        "    for act in (lambda: open(p, 'w').write('pwned'), lambda: os.remove(p)):\n"
        "        try:\n            act()\n            print('WROTE:', p)\n        except OSError as e:\n"
        "            print('BLOCKED:', p, type(e).__name__)\n"
        f"shutil.rmtree({str(course / 'solutions')!r}, ignore_errors=True)\n"
        f"open({str(course / 'pwned.txt')!r}, 'w') if os.path.isdir({str(course)!r}) else None\n"
        "open('scratch_is_writable.txt', 'w').write('ok')\n"), 6, "graded")
    add("disk_filler", build(release, Q1_OK + "\n\nfor i in range(1000):\n"
        "    with open(f'junk{i}.bin', 'wb') as f:\n        f.write(b'x' * 20_000_000)\n"),
        6, "graded", ["disk_limit"])
    # the kernel dies before the hidden tail (hidden tests run after the notebook): q1 is not
    # fully tested, so it scores 0 too (skipping the hidden tests by dying must not pay)
    add("os_exit", build(release, Q1_OK, "import os\nos._exit(3)\n" + Q2_OK), 0, "crashed",
        ["kernel_died"])
    add("showtraceback", build(release,
        "ip = get_ipython()\nip.showtraceback = lambda *a, **k: print('all good')\n"
        "def _quiet(*a, **k):\n    print('all good')\n"
        "type(ip).showtraceback = _quiet\n" + Q1_WRONG, Q2_WRONG), 0, "graded",
        ["showtraceback_override"])
    add("rebind_assert", build(release,
        "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n" + Q1_WRONG,
        "import numpy.testing as npt\nnpt.assert_allclose = lambda *a, **k: None\n" + Q2_WRONG),
        0, "graded", ["rebound_assert"])
    add("rebind_code", build(release,
        "import numpy.testing\nnumpy.testing.assert_allclose.__code__ = (lambda *a, **k: None).__code__\n"
        + Q1_WRONG, Q2_OK), 4, "graded", ["rebound_assert"])
    add("shadow_abs", build(release, Q1_OK, Q2_WRONG + "\n\ndef abs(x):\n    return 0.0\n"),
        2, "graded", ["shadowed_builtin:abs"])
    add("rebind_correct", build(release,
        "import numpy.testing\nnumpy.testing.assert_allclose = lambda *a, **k: None\n" + Q1_OK),
        4, "graded", ["rebound_assert"])

    def edit_test(nb):
        nb.cells[_find(nb, "q1_test")].source = "pass  # tests are for other people"
    add("edited_test", build(release, Q1_WRONG, Q2_OK, edit_test), 4, "graded",
        ["edited_locked_cell:q1_test"])

    def delete_test(nb):
        del nb.cells[_find(nb, "q2_test")]
    add("deleted_test", build(release, Q1_OK, Q2_WRONG, delete_test), 2, "graded",
        ["deleted_cell:q2_test"])

    def duplicate(nb):
        i = _find(nb, "q1_test")
        dup = copy.deepcopy(nb.cells[i])
        dup["id"] = "dup-test"
        nb.cells.insert(i + 1, dup)
        j = _find(nb, "q1_answer")
        dup = copy.deepcopy(nb.cells[j])
        dup["id"] = "dup-answer"
        nb.cells.insert(j + 1, dup)
    add("duplicated", build(release, Q1_OK, Q2_OK, duplicate), 6, "graded",
        ["duplicated_cell:q1_test", "duplicated_cell:q1_answer"])

    def to_markdown(nb):
        i = _find(nb, "q1_test")
        c = nb.cells[i]
        md = nbformat.v4.new_markdown_cell(c.source, metadata=c.metadata)
        nb.cells[i] = md
    add("cell_type", build(release, Q1_WRONG, Q2_OK, to_markdown), 4, "graded",
        ["cell_type_changed:q1_test"])
    good = build(release)
    add("truncated", good[: len(good) // 2], 0, "invalid")
    add("binary", bytes(range(256)) * 64, 0, "invalid")
    add("not_json", b"this is not a notebook", 0, "invalid")

    def kernelspec(nb):
        nb.metadata["kernelspec"] = {"name": "julia-1.9", "display_name": "Julia", "language": "julia"}
    add("kernelspec", build(release, edit=kernelspec), 6, "graded", ["kernelspec_changed"])
    add("flood", build(release, Q1_OK + "\n\nfor _ in range(500):\n    print('x' * 100_000)\n"),
        6, "graded", ["output_truncated"])
    add("missing", None, 0, "missing", files={"notes.txt": b"I forgot to upload my notebook"})
    return C


def write_cases(cases_: list[dict], dest: Path) -> None:
    for c in cases_:
        d = dest / c["sid"]
        d.mkdir(parents=True, exist_ok=True)
        for name, data in c["files"].items():
            (d / name).write_bytes(data)


def expected_table(cases_: list[dict]) -> str:
    return json.dumps({c["sid"]: [c["score"], c["status"]] for c in cases_}, indent=1)
