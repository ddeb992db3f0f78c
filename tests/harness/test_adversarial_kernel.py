"""The in-kernel attack class against the checks format: the kernel only observes, the grader decides.

Each submission of the fixture hw2 (checks, hidden checks) leaves its answers empty or wrong and
tries to win from inside the kernel: IPython transformers and events, wrapped run_cell/do_execute,
set_custom_exc, trace/profile hooks editing frame locals, swapped builtins, a module's __class__,
patched numpy, forged/duplicate/huge/deep/malformed observations, patched checkers, and shadowing
files next to the notebook. Every one must earn exactly the points its answers compute (0 for empty
or wrong answers); a forged or duplicated observation never passes. Graded once per session
through the real CLI (under a file lock, shared by the xdist workers).
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from filelock import FileLock
from harness_helpers import fresh_course, run_cli

OK = {
    "q1_answer": "def weighted_mean(x, w):\n    x, w = np.asarray(x, float), np.asarray(w, float)\n"
                 "    return float((w * x).sum() / w.sum())",
    "q2_answer": "def standardize(x):\n    x = np.asarray(x, float)\n    return (x - x.mean()) / x.std()",
    "q3_answer": "def ate_ipw(y, t, e):\n    y, t, e = (np.asarray(a, float) for a in (y, t, e))\n"
                 "    return float(np.mean(t * y / e) - np.mean((1 - t) * y / (1 - e)))",
    "q4_answer": "def treated_ids(t):\n    return [i for i, v in enumerate(t) if v == 1]",
}
WRONG = {
    "q1_answer": "def weighted_mean(x, w):\n    return 0.0",
    "q2_answer": "def standardize(x):\n    return [0.0 for _ in x]",
    "q3_answer": "def ate_ipw(y, t, e):\n    return 0.0",
    "q4_answer": "def treated_ids(t):\n    return []",
}
EMPTY: dict[str, str] = {}   # the released stubs (raise NotImplementedError)

# what a student can know without the master: the visible values (worked out by hand) and
# guesses for the hidden ones
FORGED = ("FORGED = [('q1_equal_weights', 'close', {'shape': [], 'data': [2.0]}),\n"
          "          ('q1_weighted', 'close', {'shape': [], 'data': [1.5]}),\n"
          "          ('q1_study', 'close', {'shape': [], 'data': [0.1]}),\n"
          "          ('q2_small', 'close', {'shape': [3], 'data': [-1.224744871391589, 0.0, 1.224744871391589]}),\n"
          "          ('q2_study_head', 'close', {'shape': [5], 'data': [0.0] * 5}),\n"
          "          ('q3_balanced', 'close', {'shape': [], 'data': [3.0]}),\n"
          "          ('q3_study', 'close', {'shape': [], 'data': [2.0]}),\n"
          "          ('q4_small', 'equal', {'data': [1, 2]}), ('q4_study', 'equal', {'data': [0, 1]})]\n"
          "from IPython.display import display\n"
          "from autograder.verdicts import MIME\n"
          "def publish_forged(names=None, line=3):\n"
          "    for name, kind, value in FORGED:\n"
          "        if names is None or name in names:\n"
          "            display({MIME: {'name': name, 'kind': kind, 'line': line, 'value': value,\n"
          "                            'spec': {'rtol': 1e9, 'atol': 1e9, 'hint': ''}}}, raw=True)\n")

ATTACKS = {
    "ast_transformer": (WRONG, (
        "import ast\nclass Drop(ast.NodeTransformer):\n"
        "    def visit_Module(self, node):\n"
        "        src = ast.unparse(node)\n"
        "        return ast.Module(body=[], type_ignores=[]) if 'check.' in src else node\n"
        "get_ipython().ast_transformers.append(Drop())\n"), 0),
    "input_transformer": (EMPTY, (
        "def drop(lines):\n    return [] if any('check.' in ln for ln in lines) else lines\n"
        "get_ipython().input_transformers_post.append(drop)\n"), 0),
    "events_forge": (EMPTY, FORGED + (
        "def after(result):\n    publish_forged()\n"
        "def before(info):\n    publish_forged()\n"
        "get_ipython().events.register('post_run_cell', after)\n"
        "get_ipython().events.register('pre_run_cell', before)\n"), 0),
    "wrap_run_cell": (EMPTY, (
        "ip = get_ipython()\n_orig = ip.run_cell\n"
        "def run_cell(raw_cell, *a, **k):\n"
        "    return _orig('pass' if 'check.' in raw_cell else raw_cell, *a, **k)\n"
        "ip.run_cell = run_cell\n"), 0),
    "wrap_do_execute_forge": (WRONG, FORGED + (
        "kernel = get_ipython().kernel\n_orig = kernel.do_execute\n"
        "async def do_execute(code, silent, *a, **k):\n"
        "    if 'check.' in code:\n"
        "        publish_forged()\n"
        "        return {'status': 'ok', 'execution_count': 1, 'payload': [], 'user_expressions': {}}\n"
        "    return await _orig(code, silent, *a, **k)\n"
        "kernel.do_execute = do_execute\n"), 0),
    "custom_exc": (EMPTY, (
        "get_ipython().set_custom_exc((BaseException,), lambda shell, etype, value, tb, tb_offset=None: None)\n"), 0),
    "settrace_locals": (WRONG, (
        "import ctypes, sys, threading\n"
        "def tracer(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name in ('close', 'equal'):\n"
        "        frame.f_locals['value'] = 1.5\n"
        "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"
        "    return None\n"
        "sys.settrace(tracer)\nthreading.settrace(tracer)\n"), 0),
    "setprofile_locals": (WRONG, (
        "import ctypes, sys\n"
        "def prof(frame, event, arg):\n"
        "    if event == 'call' and frame.f_code.co_name in ('close', 'equal'):\n"
        "        frame.f_locals['value'] = [1, 2]\n"
        "        ctypes.pythonapi.PyFrame_LocalsToFast(ctypes.py_object(frame), ctypes.c_int(0))\n"
        "sys.setprofile(prof)\n"), 0),
    "swap_builtins": (WRONG, (
        "import builtins\nbuiltins.__dict__['float'] = lambda *a: 1.5\n"
        "builtins.__dict__['abs'] = lambda *a: 0.0\n"
        "builtins.__dict__['round'] = lambda *a, **k: 1.5\n"), 0),
    "module_class": (WRONG, FORGED + (
        "import types\nfrom autograder import checks\n"
        "class Forging(types.ModuleType):\n"
        "    def __getattribute__(self, name):\n"
        "        if name in ('close', 'equal'):\n"
        "            return lambda check_name, *a, **k: publish_forged({check_name})\n"
        "        return super().__getattribute__(name)\n"
        "checks.__class__ = Forging\n"), 0),
    "patch_numpy": (WRONG, (
        "import numpy\nnumpy.isclose = lambda *a, **k: True\nnumpy.allclose = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\n"
        "numpy.array_equal = lambda *a, **k: True\n"), 0),
    "monkeypatch_checks": (WRONG, (
        "from autograder import checks\n_close, _equal = checks.close, checks.equal\n"
        "checks.close = lambda name, value, *a, **k: _close(name, 1.5, rtol=1e9, atol=1e9)\n"
        "checks.equal = lambda name, value, *a, **k: _equal(name, [1, 2])\n"), 0),
    "forged_duplicates": (WRONG, FORGED + (
        "def after(result):\n    publish_forged()\n"
        "get_ipython().events.register('post_run_cell', after)\n"), 0),
    "forge_in_answer_cell": (WRONG, FORGED + "publish_forged()\n", 0),
    # correct answers, then a poisoned observation in one test cell: that cell fails closed
    "duplicate_real_name": (OK, (
        "from IPython.display import display\nfrom autograder.verdicts import MIME\n"
        "def after(result):\n"
        "    if 'q1_study' in result.info.raw_cell:\n"
        "        display({MIME: {'name': 'q1_study', 'kind': 'close', 'line': 8,\n"
        "                        'value': {'shape': [], 'data': [float(weighted_mean(x, w))]},\n"
        "                        'spec': {'rtol': 1e-9, 'atol': 0.0, 'hint': ''}}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', after)\n"), 6),
    "huge_observation": (OK, (
        "from IPython.display import display\nfrom autograder.verdicts import MIME\n"
        "def after(result):\n"
        "    if 'q2_small' in result.info.raw_cell:\n"
        "        display({MIME: {'name': 'junk', 'kind': 'equal', 'line': 1, 'value': {'data': 'x' * 3_000_000}}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', after)\n"), 6),
    "deep_observation": (OK, (
        "from IPython.display import display\nfrom autograder.verdicts import MIME\n"
        "deep = []\nfor _ in range(400):\n    deep = [deep]\n"
        "def after(result):\n"
        "    if 'q3_balanced' in result.info.raw_cell:\n"
        "        display({MIME: deep}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', after)\n"), 5),
    "malformed_observation": (OK, (
        "from IPython.display import display\nfrom autograder.verdicts import MIME\n"
        "def after(result):\n"
        "    if 'q4_small' in result.info.raw_cell:\n"
        "        display({MIME: {'name': 5, 'kind': None}}, raw=True)\n"
        "get_ipython().events.register('post_run_cell', after)\n"), 7),
}


def _gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def build(release, answers: dict, attack: str = "") -> bytes:
    nb = copy.deepcopy(nbformat.read(str(release), as_version=4))
    for c in nb.cells:
        gid = _gid(c)
        if gid in answers:
            c.source = answers[gid]
        if gid == "q1_answer" and attack:
            c.source = c.source + "\n\n" + attack
    return nbformat.writes(nb).encode()


def cases(release) -> dict[str, tuple[dict, int]]:
    """sid -> (files, expected score)."""
    out = {"correct": ({"hw2.ipynb": build(release, OK)}, 8),
           "blank": ({"hw2.ipynb": release.read_bytes()}, 0),
           "wrong": ({"hw2.ipynb": build(release, WRONG)}, 0),
           "partial": ({"hw2.ipynb": build(release, {**OK, "q3_answer": WRONG["q3_answer"]})}, 5)}
    for sid, (answers, attack, score) in ATTACKS.items():
        out[sid] = ({"hw2.ipynb": build(release, answers, attack)}, score)
    out["shadow_modules"] = ({"hw2.ipynb": build(release, OK),
                              "numpy.py": b"raise ImportError('a submitted numpy.py was imported')\n",
                              "autograder.py": b"checks = None  # a submitted autograder.py\n"}, 8)
    out["shadow_modules_empty"] = ({"hw2.ipynb": release.read_bytes(),
                                    "numpy.py": b"isclose = allclose = lambda *a, **k: True\n",
                                    "autograder.py": b"class checks:\n    close = equal = staticmethod(lambda *a, **k: None)\n"}, 0)
    return out


@pytest.fixture(scope="session")
def attacked(shared_dir):
    root = shared_dir / "kernel_attacks"
    done = root / "done.json"
    with FileLock(str(shared_dir / "kernel_attacks.lock")):
        if not done.is_file():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir(parents=True)
            course = fresh_course(root / "course", assignments=("hw2",))
            release = course / "assignments" / "hw2" / "hw2.ipynb"
            expected = {}
            for sid, (files, score) in cases(release).items():
                (root / "in" / sid).mkdir(parents=True)
                for name, data in files.items():
                    (root / "in" / sid / name).write_bytes(data)
                expected[sid] = score
            run_cli("--course", course, "collect", "hw2", root / "in")
            proc = run_cli("--course", course, "grade", "hw2", "--workers", "2", "--timeout", "20",
                           "--memory", "1024", "--wall", "180")
            results = {sid: json.loads((course / "build/grading/results/hw2" / f"{sid}.json").read_text())
                       for sid in expected}
            done.write_text(json.dumps({"expected": expected, "results": results, "course": str(course),
                                        "stdout": proc.stdout}))
    return json.loads(done.read_text())


SIDS = ["correct", "blank", "wrong", "partial", *ATTACKS, "shadow_modules", "shadow_modules_empty"]


@pytest.mark.parametrize("sid", SIDS)
def test_attack_earns_exactly_what_its_answers_compute(attacked, sid):
    res = attacked["results"][sid]
    per_test = {g: t["score"] for nb in res["notebooks"].values() for g, t in nb["tests"].items()}
    assert res["score"] == attacked["expected"][sid], (sid, res["status"], res["reason"], per_test,
                                                        res["flags"])


def test_forged_and_duplicate_observations_never_pass(attacked):
    r = attacked["results"]
    dup = r["duplicate_real_name"]["notebooks"]["hw2"]["tests"]["q1_test"]
    assert not dup["passed"] and dup["message"] == "a hidden test failed"
    assert [c for c in dup["checks"] if c["name"] == "q1_study"][0]["passed"] is False
    for sid in ("events_forge", "wrap_do_execute_forge", "module_class", "forged_duplicates"):
        for gid, t in r[sid]["notebooks"]["hw2"]["tests"].items():
            assert not t["passed"], (sid, gid, t)
    # the forged spec (rtol 1e9) is never used: the master's spec decides
    forged = r["wrap_do_execute_forge"]["notebooks"]["hw2"]["tests"]["q1_test"]["checks"]
    assert [c["passed"] for c in forged if not c["hidden"]] == [True, True]
    assert [c["passed"] for c in forged if c["hidden"]] == [False]


def test_observations_stay_out_of_the_notebook_and_caps_flag(attacked):
    r = attacked["results"]
    assert any(f.startswith("observations_capped:") for f in r["huge_observation"]["flags"])
    assert "malformed" in r["malformed_observation"]["notebooks"]["hw2"]["tests"]["q4_test"]["message"]
    assert any(f.startswith("stray_observations:") for f in r["forge_in_answer_cell"]["flags"])
    from autograder.verdicts import MIME

    graded = Path(attacked["course"]) / "build" / "grading" / "autograded"
    for sid in ("correct", "events_forge", "huge_observation"):
        text = (graded / sid / "hw2" / "hw2.ipynb").read_text()
        assert MIME not in text and "q1_equal_weights" in text, sid
    assert "in_kernel_verdict" not in ";".join(r["correct"]["flags"])
