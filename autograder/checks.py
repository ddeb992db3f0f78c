"""Checkers for assignment test cells: the kernel *observes*, the grader *decides*.

A test cell calls, e.g. ``check.close("p_evidence", p_evidence(model), rtol=1e-6, hint=...)``.
The call never holds the expected value: it turns the student's value into plain JSON data
(``float``, ``np.asarray(..., float)``, lists of node names, ...) and

* when graded (``COURSE_GRADING=1``) publishes the record ``{name, kind, value, spec, line}`` as
  a display message of type :data:`~autograder.verdicts.MIME` (nothing shows) for the grader,
  which compares it with what the same call observed in the master notebook. It never raises for
  a bad value: it observes an error record instead, and the cell goes on;
* interactively (a student's own Jupyter) decides at once against the visible expectations
  released in ``.autograder/visible_checks.json`` and raises ``AssertionError(message)`` when
  the check fails; in a master's folder (``solutions/HW``) it only observes.

This module runs inside every student kernel: stdlib at import, numpy lazily, never torch, pgmpy,
nbformat or nbgrader (objects from those libraries are read by duck typing).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import sys
from pathlib import Path

from .verdicts import (
    FLOAT_TAG,
    MAX_DEPTH,
    MAX_INT_BITS,
    MAX_NAME,
    MIME,
    SET_TAG,
    BadObservation,
    canonical,
    decide,
    decode_observation,
)

__all__ = ["close", "equal", "same_set", "raises", "same_graph", "markov_equivalent",
           "same_cpdag", "independences", "adjustment_set", "separating_set"]

GRADING_ENV = "COURSE_GRADING"
VISIBLE_FILE = Path(".autograder") / "visible_checks.json"
MAX_ELEMENTS = 20_000    # numbers in one close(), items in one collection (fits MAX_BYTES)
PLAIN = "None, bool, int, float, str, and lists or dicts (str keys) of these"


class CannotCompare(Exception):
    """A value the checker cannot turn into plain data; the message tells the student what to return."""


# ------------------------------------------------------------------------------ the checkers

def close(name: str, value, rtol: float = 1e-7, atol: float = 0.0, hint: str = "") -> None:
    """A float or an array of floats (any shape) within ``atol + rtol * |expected|``."""
    _check("close", name, lambda: _array(value),
           lambda: {"rtol": _tol(rtol, "rtol"), "atol": _tol(atol, "atol")}, hint, _caller_line())


def equal(name: str, value, hint: str = "") -> None:
    """Plain data, equal after canonicalisation (tuples are lists; bool is not int)."""
    _check("equal", name, lambda: {"data": _plain(value)}, dict, hint, _caller_line())


def same_set(name: str, values, hint: str = "") -> None:
    """A collection of plain items, compared as a set (order and duplicates ignored)."""
    _check("same_set", name, lambda: {"items": _items(values)}, dict, hint, _caller_line())


def raises(name: str, func, *args, hint: str = "", **kwargs) -> None:
    """``func(*args, **kwargs)`` raises the master's exception class (or a subclass)."""
    _check("raises", name, lambda: _raised(func, args, kwargs), dict, hint, _caller_line())


def same_graph(name: str, edges, directed: bool = True, hint: str = "") -> None:
    """An edge list, networkx graph or pgmpy DAG with the master's edges."""
    _check("same_graph", name, lambda: _graph(edges), lambda: {"directed": bool(directed)}, hint,
           _caller_line())


def markov_equivalent(name: str, dag, hint: str = "") -> None:
    """A DAG in the master's Markov equivalence class (same skeleton and v-structures)."""
    _check("markov_equivalent", name, lambda: _graph(dag), dict, hint, _caller_line())


def same_cpdag(name: str, directed, undirected=None, hint: str = "") -> None:
    """A CPDAG as directed ``(u, v)`` and undirected ``{u, v}`` edges (or one pgmpy PDAG)."""
    _check("same_cpdag", name, lambda: _cpdag(directed, undirected), dict, hint, _caller_line())


def independences(name: str, statements, hint: str = "") -> None:
    """Statements ``(X, Y, Z)`` (X independent of Y given the set Z), compared as a set."""
    _check("independences", name, lambda: {"statements": _statements(statements)}, dict, hint,
           _caller_line())


def adjustment_set(name: str, zset, graph=None, treatment=None, outcome=None, latent=(),
                   hint: str = "") -> None:
    """A set satisfying the back-door criterion for ``(treatment, outcome)`` in ``graph``."""
    def spec():
        _require(graph=graph, treatment=treatment, outcome=outcome)
        return {"graph": _graph(graph), "treatment": _node(treatment),
                "outcome": _node(outcome), "latent": _node_set(latent)}
    _check("adjustment_set", name, lambda: {"nodes": _node_set(zset)}, spec, hint, _caller_line())


def separating_set(name: str, zset, graph=None, x=None, y=None, hint: str = "") -> None:
    """A set that d-separates ``x`` and ``y`` in ``graph``."""
    def spec():
        _require(graph=graph, x=x, y=y)
        return {"graph": _graph(graph), "x": _node(x), "y": _node(y)}
    _check("separating_set", name, lambda: {"nodes": _node_set(zset)}, spec, hint, _caller_line())


# ------------------------------------------------------------------------- observe, then emit

def _caller_line() -> int:
    """The line of the test cell that called the checker (the cell is its own code object)."""
    return sys._getframe(2).f_lineno


def _check(kind: str, name, observe, make_spec, hint, line: int) -> None:
    try:
        spec = make_spec()
    except Exception as e:   # the author's arguments: reported by the master's run
        spec, value = {}, {"error": f"bad arguments to check.{kind}: {_reason(e)}"}
    else:
        value = _observe(observe)
    if hint:
        spec["hint"] = str(hint)[:1000]
    record = {"name": name if isinstance(name, str) else str(name), "kind": kind,
              "value": value, "spec": spec, "line": line}
    _emit(record)


def _observe(observe) -> dict:
    try:
        return observe()
    except CannotCompare as e:
        return {"error": str(e)}
    except Exception as e:   # a student's object that fails while being read
        return {"error": f"cannot compare this value: {_reason(e)}"}


def _reason(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


def _encode(record: dict) -> str:
    return json.dumps(record, allow_nan=False, ensure_ascii=False)


def _checked(record: dict) -> tuple[dict, str | None]:
    """The record as the grader will read it, with an unreadable value replaced by an error."""
    try:
        return decode_observation(_encode(record)), None
    except (BadObservation, ValueError, TypeError, RecursionError) as e:
        reason = e.reason if isinstance(e, BadObservation) else _reason(e)
    record = {**record, "value": {"error": f"cannot compare this value: {reason}"}}
    try:
        return decode_observation(_encode(record)), None
    except BadObservation as e:   # the name or the spec: an authoring error
        return record, e.reason


def _emit(record: dict) -> None:
    record, problem = _checked(record)
    if os.environ.get(GRADING_ENV) == "1":
        from IPython.display import publish_display_data

        publish_display_data({MIME: record})   # no text/plain: nothing shows
        return
    if problem:
        raise ValueError(f"check {record['name'][:MAX_NAME]!r}: {problem}")
    _decide_here(record)


# ----------------------------------------------------------------------- interactive decisions

def _decide_here(observed: dict) -> None:
    """Decide against the released visible expectation; raise AssertionError when it fails."""
    if Path.cwd().parent.name == "solutions":
        return   # a master: its observations become the expectations
    expected = _visible_record(observed["name"])
    verdict = decide(expected, observed)
    if not verdict.passed:
        raise AssertionError(verdict.message)


def _validate_hint(name: str, why: str) -> AssertionError:
    return AssertionError(
        f"{name}: cannot check this here ({why}). Run the notebook from its assignment folder, "
        "or check the whole notebook with `python -m autograder validate NOTEBOOK.ipynb`.")


def _visible_record(name: str) -> dict:
    path = Path.cwd() / VISIBLE_FILE
    try:
        notebooks = json.loads(path.read_text(encoding="utf-8"))["notebooks"]
    except FileNotFoundError:
        raise _validate_hint(name, f"no {VISIBLE_FILE.as_posix()} in {Path.cwd()}") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise _validate_hint(name, f"{VISIBLE_FILE.as_posix()} is unreadable: {_reason(e)}") from None
    found = {nb: doc["checks"][name] for nb, doc in notebooks.items()
             if name in (doc.get("checks") or {})}
    if len(found) > 1:   # the same name in several notebooks: Jupyter says which one runs
        session = Path(os.environ.get("JPY_SESSION_NAME", "")).stem
        found = {session: found[session]} if session in found else found
    if len(found) != 1:
        raise _validate_hint(name, "no released expectation for this check name" if not found
                             else "several notebooks use this name")
    return next(iter(found.values()))


# ------------------------------------------------------------------ values -> plain JSON data

def _what(value) -> str:
    return type(value).__name__


def _float(x: float):
    if math.isfinite(x):
        return x
    return {FLOAT_TAG: "nan" if math.isnan(x) else ("inf" if x > 0 else "-inf")}


def _tol(t, what: str) -> float:
    t = float(t)
    if not math.isfinite(t) or t < 0:
        raise ValueError(f"{what} must be a finite number >= 0")
    return t


def _numpy_ready(value):
    """A torch tensor (even on a GPU or requiring grad) as a numpy array; anything else as is."""
    if hasattr(value, "detach") and hasattr(value, "cpu") and hasattr(value, "numpy"):
        return value.detach().cpu().numpy()
    return value


def _array(value) -> dict:
    import numpy as np

    value = _numpy_ready(value)
    wanted = "return a float or an array of floats"
    if isinstance(value, str | bytes) or value is None:
        raise CannotCompare(f"cannot compare a {_what(value)}: {wanted}")
    try:
        arr = np.asarray(value)
    except Exception:
        raise CannotCompare(f"cannot compare a {_what(value)}: {wanted} of one shape") from None
    if arr.dtype.kind not in "biufO":
        raise CannotCompare(f"cannot compare an array of {arr.dtype}: {wanted}")
    if arr.size > MAX_ELEMENTS:
        raise CannotCompare(f"{arr.size} numbers is too many to compare (at most {MAX_ELEMENTS})")
    try:
        arr = arr.astype(float)
    except Exception:
        raise CannotCompare(f"cannot compare a {_what(value)}: {wanted}") from None
    return {"shape": list(arr.shape), "data": [_float(x) for x in arr.ravel().tolist()]}


def _plain(value, depth: int = 0):
    """Plain JSON data: tuples become lists, sets ``{"$set": [...]}``, nan ``{"$float": "nan"}``."""
    if depth >= MAX_DEPTH - 2:
        raise CannotCompare("cannot compare data nested this deeply (or a list that contains itself)")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value).bit_length() > MAX_INT_BITS:
            raise CannotCompare("cannot compare an integer this large")
        return int(value)
    if isinstance(value, float):
        return _float(float(value))
    if isinstance(value, str):
        return str(value)
    if isinstance(value, list | tuple):
        return [_plain(v, depth + 1) for v in _bounded(value)]
    if isinstance(value, set | frozenset):
        return {SET_TAG: _sorted_unique(_plain(v, depth + 1) for v in _bounded(value))}
    if isinstance(value, dict):
        return _plain_dict(value, depth)
    if hasattr(value, "tolist") and hasattr(value, "dtype"):   # numpy, torch, pandas
        return _plain(_numpy_ready(value).tolist(), depth + 1)
    raise CannotCompare(f"cannot compare a {_what(value)}: return plain data ({PLAIN})")


def _plain_dict(value: dict, depth: int) -> dict:
    bad = [k for k in value if not isinstance(k, str)]
    if bad:
        raise CannotCompare(f"cannot compare a dict with {_what(bad[0])} keys: use str keys")
    # keys starting with "$" are escaped, so {"$float": ...} and {"$set": ...} stay tags
    return {("$" + k if k.startswith("$") else str(k)): _plain(v, depth + 1)
            for k, v in _bounded(value.items())}


def _bounded(iterable) -> list:
    items = list(itertools.islice(iter(iterable), MAX_ELEMENTS + 1))
    if len(items) > MAX_ELEMENTS:
        raise CannotCompare(f"more than {MAX_ELEMENTS} items is too many to compare")
    return items


def _sorted_unique(items) -> list:
    by_key = {json.dumps(canonical(v), sort_keys=True, ensure_ascii=False): v for v in items}
    return [by_key[k] for k in sorted(by_key)]


def _collection(values, what: str) -> list:
    if isinstance(values, str | bytes) or not hasattr(values, "__iter__"):
        raise CannotCompare(f"cannot compare a {_what(values)}: return a collection of {what}")
    return _bounded(values)


def _items(values) -> list:
    return _sorted_unique(_plain(v, 1) for v in _collection(values, "items (a set or a list)"))


def _raised(func, args, kwargs) -> dict:
    if not callable(func):
        raise CannotCompare(f"cannot call a {_what(func)}: pass a function")
    try:
        func(*args, **kwargs)
    except Exception as e:
        return {"raised": [f"{c.__module__}.{c.__qualname__}"[:200] for c in type(e).__mro__][:50]}
    return {"raised": None}


# --------------------------------------------------------------------------------- graphs

def _node(x):
    if hasattr(x, "item") and hasattr(x, "dtype"):   # a numpy scalar
        x = x.item()
    if isinstance(x, str):
        return str(x)
    if isinstance(x, int) and not isinstance(x, bool):
        return int(x)
    raise CannotCompare(f"cannot use a {_what(x)} as a node name: use strings (or integers)")


def _node_set(values) -> list:
    """None, one node, or a collection of nodes -> a sorted list of node names."""
    if values is None:
        return []
    if isinstance(values, str | int) or (hasattr(values, "item") and hasattr(values, "dtype")
                                         and getattr(values, "ndim", 0) == 0):
        return [_node(values)]
    return _sorted_unique(_node(v) for v in _collection(values, "node names"))


def _edge_list(edges) -> list:
    pairs = []
    for e in _collection(edges, "edges (u, v)"):
        if isinstance(e, str | bytes) or not hasattr(e, "__iter__"):
            raise CannotCompare(f"an edge is a pair (u, v), got {e!r:.40}")
        e = _bounded(e)
        if len(e) != 2:
            raise CannotCompare(f"an edge is a pair (u, v), got {len(e)} items")
        pairs.append([_node(e[0]), _node(e[1])])
    return _sorted_unique(pairs)


def _graph(obj) -> dict:
    """A networkx graph, a pgmpy DAG or model (duck typed: ``edges()``), or an edge list."""
    if callable(getattr(obj, "edges", None)) and hasattr(obj, "nodes"):
        edges, nodes = _edge_list(obj.edges()), _node_set(list(obj.nodes()))
    else:
        edges, nodes = _edge_list(obj), []
    nodes = _sorted_unique(itertools.chain(nodes, (n for e in edges for n in e)))
    return {"edges": edges, "nodes": nodes}


def _cpdag(directed, undirected) -> dict:
    if undirected is None and hasattr(directed, "undirected_edges"):   # a pgmpy PDAG
        directed, undirected = directed.directed_edges, directed.undirected_edges
    if undirected is None:
        undirected = []
    if callable(getattr(directed, "edges", None)):
        directed = directed.edges()
    return {"directed": _edge_list(directed), "undirected": _edge_list(undirected)}


def _statements(statements) -> list:
    """``(X, Y, Z)`` triples, or a pgmpy ``Independencies`` (its assertions), as sorted lists."""
    if callable(getattr(statements, "get_assertions", None)):
        statements = [(a.event1, a.event2, a.event3) for a in statements.get_assertions()]
    out = []
    for s in _collection(statements, "(X, Y, Z) statements"):
        s = _bounded(s) if not isinstance(s, str | bytes) and hasattr(s, "__iter__") else None
        if s is None or len(s) != 3:
            raise CannotCompare("a statement is a triple (X, Y, Z) with Z a set of nodes")
        out.append([_node_set(part) for part in s])
    return _sorted_unique(out)


def _require(**arguments) -> None:
    missing = [k for k, v in arguments.items() if v is None]
    if missing:
        raise ValueError("missing " + ", ".join(f"{k}=" for k in missing))
