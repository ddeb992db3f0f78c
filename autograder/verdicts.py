"""The grader's half of a check: read what a student's kernel observed, and decide.

A test cell *observes* (``autograder.checks`` publishes plain JSON records); the grader *decides*
here, against the record the same call produced when the master notebook ran. Nothing in this
module trusts the observation: :func:`decode_observation` is a strict decoder with size limits,
and :func:`decide` fails (never crashes) on any value it cannot read.

Pure: stdlib only at import; networkx is imported lazily by the graph checkers. This module is
also imported inside student kernels (interactive checks), so it must stay light and must never
import nbformat, nbgrader or IPython.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

MIME = "application/vnd.autograder.observation+json"

KINDS = ("close", "equal", "same_set", "raises", "same_graph", "markov_equivalent", "same_cpdag",
         "independences", "adjustment_set", "separating_set")

MAX_BYTES = 1_000_000       # encoded observation
MAX_DEPTH = 20              # nesting of lists and objects
MAX_LEAVES = 100_000        # numbers, strings, booleans, nulls
MAX_CONTAINERS = 100_000    # lists and objects
MAX_STRING = 100_000        # characters in one string (or key)
MAX_INT_BITS = 4000         # JSON text of larger ints hits Python's int-to-str limit
MAX_NAME = 200              # characters in a check's name
MAX_MESSAGE = 300           # characters in a verdict's message (before the hint)
FLOAT_TAG = "$float"        # {"$float": "nan" | "inf" | "-inf"}: JSON has no non-finite numbers
SET_TAG = "$set"            # {"$set": [...]}: a set or frozenset (sorted, unique)
NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
RECORD_KEYS = {"name", "kind", "value", "spec", "line"}


class BadObservation(ValueError):
    """An observation the grader refuses to read; ``reason`` says why (one short line)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Verdict:
    """The grader's decision on one check; ``message`` teaches (empty when passed)."""

    passed: bool
    message: str = ""

    def __iter__(self):   # ``passed, message = decide(...)``
        return iter((self.passed, self.message))


# ------------------------------------------------------------------------------------ decoding

def decode_observation(raw) -> dict:
    """A checked record ``{name, kind, value, spec, line}`` from a kernel's payload.

    ``raw`` is the JSON text (str or bytes) or the already-parsed object (as Jupyter delivers a
    JSON MIME bundle). Raises :class:`BadObservation` for anything but small, plain JSON with the
    record's keys; the returned dict always has all five keys (``spec`` ``{}``, ``line`` None
    when absent).
    """
    obj = _parse(raw) if isinstance(raw, str | bytes | bytearray) else raw
    _check_json(obj)
    if not isinstance(raw, str | bytes | bytearray):
        size = len(json.dumps(obj, ensure_ascii=False).encode("utf-8"))
        if size > MAX_BYTES:
            raise BadObservation(f"observation too large ({size} bytes; at most {MAX_BYTES})")
    return _record(obj)


def _parse(raw) -> object:
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > MAX_BYTES:
        raise BadObservation(f"observation too large ({size} bytes; at most {MAX_BYTES})")
    try:
        text = raw if isinstance(raw, str) else bytes(raw).decode("utf-8")
        return json.loads(text, parse_constant=_reject_constant)
    except BadObservation:
        raise
    except (ValueError, RecursionError) as e:   # JSONDecodeError, UnicodeDecodeError, huge ints
        raise BadObservation(f"not JSON: {str(e)[:100]}") from None


def _reject_constant(name: str):
    raise BadObservation(f"not JSON: {name} (non-finite numbers are encoded as {{{FLOAT_TAG!r}: ...}})")


def _check_json(obj) -> None:
    """Only JSON types, within the depth, count and string limits (iterative: no recursion)."""
    stack = [(obj, 0)]
    leaves = containers = 0
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            containers += 1
            if depth >= MAX_DEPTH:
                raise BadObservation(f"nested deeper than {MAX_DEPTH} levels")
            if containers > MAX_CONTAINERS:
                raise BadObservation(f"more than {MAX_CONTAINERS} lists and objects")
            if isinstance(value, dict):
                for key in value:
                    if not isinstance(key, str):
                        raise BadObservation(f"object key of type {type(key).__name__}")
                    _check_string(key)
                items = value.values()
            else:
                items = value
            stack.extend((v, depth + 1) for v in items)
            continue
        leaves += 1
        if leaves > MAX_LEAVES:
            raise BadObservation(f"more than {MAX_LEAVES} values")
        _check_leaf(value)


def _check_leaf(value) -> None:
    if value is None or type(value) is bool:
        return
    if type(value) is int:
        if value.bit_length() > MAX_INT_BITS:
            raise BadObservation(f"an integer of more than {MAX_INT_BITS} bits")
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise BadObservation("a non-finite number (JSON has none)")
        return
    if type(value) is str:
        _check_string(value)
        return
    raise BadObservation(f"not a JSON type: {type(value).__name__}")


def _check_string(s: str) -> None:
    if len(s) > MAX_STRING:
        raise BadObservation(f"a string longer than {MAX_STRING} characters")
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        raise BadObservation("a string with surrogate characters") from None


def _record(obj) -> dict:
    if not isinstance(obj, dict):
        raise BadObservation(f"an observation is an object, got {type(obj).__name__}")
    unknown = sorted(set(obj) - RECORD_KEYS)
    if unknown:
        raise BadObservation(f"unknown keys: {', '.join(unknown)[:100]}")
    missing = [k for k in ("name", "kind", "value") if k not in obj]
    if missing:
        raise BadObservation(f"missing keys: {', '.join(missing)}")
    name, kind, spec, line = obj["name"], obj["kind"], obj.get("spec", {}), obj.get("line")
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise BadObservation(f"name must be a non-empty string of at most {MAX_NAME} characters")
    if kind not in KINDS:
        raise BadObservation(f"unknown kind: {str(kind)[:40]!r}")
    if not isinstance(spec, dict):
        raise BadObservation("spec must be an object")
    if line is not None and type(line) is not int:
        raise BadObservation("line must be an integer")
    return {"name": name, "kind": kind, "value": obj["value"], "spec": spec, "line": line}


def observation_error(record: dict) -> str | None:
    """The error a check observed instead of a value (``{"error": ...}``), or None."""
    value = record.get("value")
    if isinstance(value, dict) and set(value) == {"error"}:
        return str(value["error"])
    return None


# ------------------------------------------------------------------------------------ deciding

class _Unreadable(Exception):
    """A decoded value whose shape does not fit its checker (student data, or a bad spec)."""


def decide(expected: dict, observed: dict) -> Verdict:
    """Does the student's observation pass the master's? Never raises on the student's data.

    ``expected`` is the master's record: its ``kind`` and ``spec`` are authoritative (the
    student's are ignored). The message starts with the check's name and ends with the master's
    hint on failure; the caller replaces it for hidden checks.
    """
    name, spec = expected.get("name", "?"), expected.get("spec") or {}
    master_error = observation_error(expected)
    if master_error is not None:
        return _fail(name, f"the master's check observed an error ({master_error})", spec)
    error = observation_error(observed)
    if error is not None:
        return _fail(name, error, spec)
    decider = DECIDERS.get(expected.get("kind"))
    if decider is None:
        return _fail(name, f"unknown check kind {expected.get('kind')!r}", {})
    try:
        problem = decider(expected.get("value"), observed.get("value"), spec)
    except _Unreadable as e:
        problem = f"cannot read the value ({e})"
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError):
        problem = "cannot read the value"   # hostile shapes the readers did not foresee
    return Verdict(True, "") if problem is None else _fail(name, problem, spec)


def _fail(name: str, problem: str, spec: dict) -> Verdict:
    message = f"{name}: {problem}"
    if len(message) > MAX_MESSAGE:
        message = message[:MAX_MESSAGE - 3] + "..."
    hint = spec.get("hint") if isinstance(spec, dict) else None
    if isinstance(hint, str) and hint.strip():
        message += f" Hint: {hint.strip()}"
    return Verdict(False, message)


def _field(value, key: str, kinds: type | tuple = list):
    if not isinstance(value, dict) or key not in value:
        raise _Unreadable(f"no {key!r}")
    if not isinstance(value[key], kinds):
        raise _Unreadable(f"{key!r} has the wrong type")
    return value[key]


# ----------------------------------------------------------------------- numbers and plain data

def number(x) -> float:
    """A JSON number or a ``{"$float": ...}`` tag as a Python float."""
    if type(x) in (int, float):
        return float(x)
    if isinstance(x, dict) and set(x) == {FLOAT_TAG} and x[FLOAT_TAG] in NONFINITE:
        return NONFINITE[x[FLOAT_TAG]]
    raise _Unreadable("a non-number among the numbers")


def show_number(x: float) -> str:
    return f"{x:.8g}" if math.isfinite(x) else str(x)


def _tolerance(spec: dict) -> tuple[float, float, str]:
    rtol, atol = spec.get("rtol", 1e-7), spec.get("atol", 0.0)
    if not all(type(t) in (int, float) and math.isfinite(t) and t >= 0 for t in (rtol, atol)):
        raise _Unreadable("the master's tolerances are not finite non-negative numbers")
    parts = ([f"rtol {rtol:g}"] if rtol or not atol else []) + ([f"atol {atol:g}"] if atol else [])
    return float(rtol), float(atol), ", ".join(parts)


def _is_close(s: float, m: float, rtol: float, atol: float) -> bool:
    if math.isnan(m) or math.isnan(s):
        return math.isnan(m) and math.isnan(s)
    if math.isinf(m) or math.isinf(s):
        return s == m
    return abs(s - m) <= atol + rtol * abs(m)


def decide_close(exp, obs, spec: dict) -> str | None:
    """Same shape, and every element within ``atol + rtol * |expected|`` (NaN matches only NaN)."""
    rtol, atol, tol = _tolerance(spec)
    eshape, oshape = _field(exp, "shape"), _field(obs, "shape")
    edata = [number(x) for x in _field(exp, "data")]
    odata = [number(x) for x in _field(obs, "data")]
    if not all(type(n) is int and n >= 0 for n in oshape) or math.prod(oshape) != len(odata):
        raise _Unreadable("shape and data disagree")
    if eshape != oshape:
        return f"expected shape {_shape(eshape)}, got shape {_shape(oshape)}"
    bad = [i for i, (s, m) in enumerate(zip(odata, edata, strict=True))
           if not _is_close(s, m, rtol, atol)]
    if not bad:
        return None
    i = bad[0]
    got = f"expected {show_number(edata[i])} ({tol}), got {show_number(odata[i])}"
    if not eshape:
        return got
    return f"{len(bad)} of {len(edata)} elements differ; at {_index(i, eshape)}: {got}"


def _shape(shape: list) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _index(flat: int, shape: list) -> str:
    idx = []
    for n in reversed(shape):
        flat, r = divmod(flat, n)
        idx.append(r)
    return "[" + ", ".join(map(str, reversed(idx))) + "]"


def canonical(value):
    """Plain JSON data in one normal form: integral floats as ints, so 2.0 == 2 (never True)."""
    if type(value) is float and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, list):
        return [canonical(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {SET_TAG} and isinstance(value[SET_TAG], list):
            items = {_key(v): canonical(v) for v in value[SET_TAG]}
            return {SET_TAG: [items[k] for k in sorted(items)]}
        return {k: canonical(v) for k, v in value.items()}
    return value


def _key(value) -> str:
    return json.dumps(canonical(value), sort_keys=True, ensure_ascii=False)


def show(value, limit: int = 80) -> str:
    """A short Python-like rendering of decoded plain data (tags shown as nan/inf, sets as sets)."""
    text = _show(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _show(value) -> str:
    if isinstance(value, dict):
        if set(value) == {FLOAT_TAG}:
            return str(value[FLOAT_TAG])
        if set(value) == {SET_TAG} and isinstance(value[SET_TAG], list):
            return "{" + ", ".join(map(_show, value[SET_TAG])) + "}" if value[SET_TAG] else "set()"
        return "{" + ", ".join(f"{_unescape(k)!r}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if type(value) is float:
        return show_number(value)
    return repr(value)


def _unescape(key: str) -> str:
    return key[1:] if key.startswith("$$") else key


def decide_equal(exp, obs, spec: dict) -> str | None:
    """Equal plain data after canonicalisation (bool is not int; floats compared exactly)."""
    edata, odata = _field(exp, "data", object), _field(obs, "data", object)
    if _key(edata) == _key(odata):
        return None
    return f"expected {show(edata)}, got {show(odata)}"


def decide_same_set(exp, obs, spec: dict) -> str | None:
    """Equal as sets: order and duplicates ignored."""
    eitems = {_key(v): v for v in _field(exp, "items")}
    oitems = {_key(v): v for v in _field(obs, "items")}
    missing = [eitems[k] for k in eitems.keys() - oitems.keys()]
    extra = [oitems[k] for k in oitems.keys() - eitems.keys()]
    return _differ([show(v, 40) for v in missing], [show(v, 40) for v in extra])


def _differ(missing: list[str], extra: list[str], what: str = "") -> str | None:
    if not missing and not extra:
        return None
    parts = []
    if missing:
        parts.append(f"missing {what}{_listing(missing)}")
    if extra:
        parts.append(f"extra {what}{_listing(extra)}")
    return "; ".join(parts)


def _listing(items: list[str], at_most: int = 5) -> str:
    items = sorted(items)
    text = ", ".join(items[:at_most])
    return text + (f" (+{len(items) - at_most} more)" if len(items) > at_most else "")


def decide_raises(exp, obs, spec: dict) -> str | None:
    """The master's exception class is among the classes the student's exception is an instance of."""
    master = _field(exp, "raised", (list, type(None)))
    if not master:
        return "the master's call raised no exception"
    raised = _field(obs, "raised", (list, type(None)))
    want = str(master[0])
    if raised is None:
        return f"expected {_short(want)} to be raised, got no exception"
    if want in raised:
        return None
    return f"expected {_short(want)} to be raised, got {_short(str(raised[0]) if raised else '?')}"


def _short(qualname: str) -> str:
    return qualname.removeprefix("builtins.")


# ------------------------------------------------------------------------------------- graphs

def _node(x):
    if type(x) in (str, int):
        return x
    raise _Unreadable("a node that is not a string or an integer")


def _nodes(value) -> set:
    if not isinstance(value, list):
        raise _Unreadable("nodes are not a list")
    return {_node(x) for x in value}


def _edges(value, directed: bool = True) -> set:
    if not isinstance(value, list):
        raise _Unreadable("edges are not a list")
    out = set()
    for e in value:
        if not isinstance(e, list) or len(e) != 2:
            raise _Unreadable("an edge that is not a pair")
        u, v = _node(e[0]), _node(e[1])
        out.add((u, v) if directed else frozenset((u, v)))
    return out


def show_node(n) -> str:
    return str(n)


def show_edge(e) -> str:
    if isinstance(e, frozenset):
        a, b = sorted(e, key=_key) if len(e) == 2 else (next(iter(e)),) * 2
        return f"{show_node(a)}-{show_node(b)}"
    return f"{show_node(e[0])}->{show_node(e[1])}"


def show_set(nodes) -> str:
    return "{" + ", ".join(sorted(map(show_node, nodes))) + "}"


def _edge_diff(expected: set, observed: set, what: str = "edges ") -> str | None:
    return _differ([show_edge(e) for e in expected - observed],
                   [show_edge(e) for e in observed - expected], what)


def decide_same_graph(exp, obs, spec: dict) -> str | None:
    """Same edge set (each edge unordered when the master's spec says ``directed=False``)."""
    directed = spec.get("directed", True) is not False
    eedges = _edges(_field(exp, "edges"), directed)
    oedges = _edges(_field(obs, "edges"), directed)
    return _edge_diff(eedges, oedges)


def digraph(edges, nodes=()):
    """A networkx DiGraph from ``(u, v)`` pairs (lazy import: kernels pay for it only here)."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    return g


def skeleton(edges) -> set[frozenset]:
    return {frozenset(e) for e in edges}


def v_structures(g) -> set[tuple[frozenset, object]]:
    """``a -> c <- b`` with ``a`` and ``b`` not adjacent, as ``({a, b}, c)``."""
    out = set()
    for c in g.nodes:
        parents = sorted(g.predecessors(c), key=_key)
        for i, a in enumerate(parents):
            for b in parents[i + 1:]:
                if not (g.has_edge(a, b) or g.has_edge(b, a)):
                    out.add((frozenset((a, b)), c))
    return out


def show_v(v) -> str:
    pair, c = v
    a, b = sorted(pair, key=_key)
    return f"{show_node(a)}->{show_node(c)}<-{show_node(b)}"


def cycle_problem(g) -> str | None:
    """Why ``g`` is not a DAG (a self-loop or a cycle), or None."""
    import networkx as nx

    loops = list(nx.selfloop_edges(g))
    if loops:
        return f"not a DAG: self-loop on {show_node(loops[0][0])}"
    if nx.is_directed_acyclic_graph(g):
        return None
    cycle = [u for u, _ in nx.find_cycle(g)]
    return "not a DAG: cycle " + "->".join(map(show_node, [*cycle, cycle[0]]))


def decide_markov_equivalent(exp, obs, spec: dict) -> str | None:
    """Acyclic, same skeleton, same v-structures: any member of the master's class passes."""
    eedges, oedges = _edges(_field(exp, "edges")), _edges(_field(obs, "edges"))
    og = digraph(oedges)
    problem = cycle_problem(og)
    if problem:
        return problem
    problem = _edge_diff(skeleton(eedges), skeleton(oedges), "adjacencies ")
    if problem:
        return problem
    ev, ov = v_structures(digraph(eedges)), v_structures(og)
    if ev == ov:
        return None
    n = len(ev ^ ov)
    detail = _differ([show_v(v) for v in ev - ov], [show_v(v) for v in ov - ev])
    return f"{n} v-structure{'s' if n > 1 else ''} differ{'' if n > 1 else 's'}: {detail}"


def decide_same_cpdag(exp, obs, spec: dict) -> str | None:
    """Same directed edges and same undirected edges (order-free)."""
    problems = []
    for key, directed in (("directed", True), ("undirected", False)):
        diff = _edge_diff(_edges(_field(exp, key), directed), _edges(_field(obs, key), directed),
                          f"{key} edges ")
        if diff:
            problems.append(diff)
    return "; ".join(problems) or None


def _statement(s) -> tuple[frozenset, frozenset]:
    if not isinstance(s, list) or len(s) != 3:
        raise _Unreadable("a statement that is not (X, Y, Z)")
    x, y, z = (frozenset(_nodes(part)) for part in s)
    return frozenset((x, y)), z


def show_statement(st) -> str:
    pair, z = st
    sides = sorted(show_set(p) if len(p) != 1 else show_node(next(iter(p))) for p in pair)
    x, y = sides if len(sides) == 2 else (sides[0], sides[0])
    return f"{x} ⟂ {y} | {show_set(z)}"


def decide_independences(exp, obs, spec: dict) -> str | None:
    """Equal as sets of ``({X, Y}, Z)`` (X/Y order, Z order and duplicates ignored)."""
    est = {_statement(s) for s in _field(exp, "statements")}
    ost = {_statement(s) for s in _field(obs, "statements")}
    return _differ([show_statement(s) for s in est - ost], [show_statement(s) for s in ost - est])


def _master_graph(spec: dict):
    graph = spec.get("graph")
    if not isinstance(graph, dict):
        raise _Unreadable("the master's spec has no graph")
    g = digraph(_edges(_field(graph, "edges")), _nodes(graph.get("nodes", [])))
    if cycle_problem(g):
        raise _Unreadable("the master's graph is not a DAG")
    return g


def _zset(obs, g) -> tuple[set, str | None]:
    z = _nodes(_field(obs, "nodes"))
    unknown = [show_node(n) for n in z if n not in g]
    return z, (f"not in the graph: {_listing(unknown)}" if unknown else None)


def open_path(g, x, y, z: set, backdoor: bool = False, budget: int = 5000) -> list | None:
    """A path between ``x`` and ``y`` that ``z`` leaves open (into ``x`` when ``backdoor``).

    For messages only (the verdict comes from ``networkx.is_d_separator``); gives up after
    ``budget`` paths, so a large graph gets the generic message.
    """
    import itertools

    import networkx as nx

    opened = set(z)
    for n in z:
        opened |= nx.ancestors(g, n)   # a collider is open when it or a descendant is in z
    paths = nx.all_simple_paths(g.to_undirected(as_view=True), x, y)
    for path in itertools.islice(paths, budget):
        if backdoor and not g.has_edge(path[1], path[0]):
            continue
        if all(_passes(g, a, m, b, z, opened) for a, m, b in zip(path, path[1:], path[2:], strict=False)):
            return path
    return None


def _passes(g, a, m, b, z: set, opened: set) -> bool:
    if g.has_edge(a, m) and g.has_edge(b, m):
        return m in opened
    return m not in z


def show_path(g, path: list) -> str:
    out = show_node(path[0])
    for a, b in zip(path, path[1:], strict=False):
        out += (" -> " if g.has_edge(a, b) else " <- ") + show_node(b)
    return out


def _path_problem(g, path: list | None, z: set, what: str) -> str:
    if path is None:
        return f"does not block every {what}path"
    colliders = [m for a, m, b in zip(path, path[1:], path[2:], strict=False)
                 if g.has_edge(a, m) and g.has_edge(b, m)]
    if not colliders:
        return f"{show_set(z)} leaves open the {what}path {show_path(g, path)}"
    return (f"{show_set(z)} opens the {what}path {show_path(g, path)} "
            f"({'; '.join(_opener(g, c, z) for c in colliders)})")


def _opener(g, collider, z: set) -> str:
    """Why a collider on an open path is open: it, or one of its descendants, is in ``z``."""
    import networkx as nx

    if collider in z:
        return f"conditioning on the collider {show_node(collider)}"
    below = sorted(show_node(n) for n in nx.descendants(g, collider) & z)
    return f"conditioning on {below[0]}, a descendant of the collider {show_node(collider)}"


def backdoor_problem(g, t, y, z: set, latent: set = frozenset()) -> str | None:
    """Why ``z`` fails the back-door criterion for ``(t, y)`` in DAG ``g``, or None when valid.

    Valid: ``z`` holds no descendant of ``t`` (nor ``t``, ``y`` or a latent node) and
    d-separates ``t`` and ``y`` once ``t``'s outgoing edges are removed.
    """
    import networkx as nx

    if {t, y} & z:
        return f"must not contain the treatment {show_node(t)} or the outcome {show_node(y)}"
    if z & latent:
        return f"contains unobserved {show_set(z & latent)}: you cannot adjust for it"
    descendants = nx.descendants(g, t) & z
    if descendants:
        return f"contains a descendant of {show_node(t)}: {show_set(descendants)}"
    cut = g.copy()
    cut.remove_edges_from(list(g.out_edges(t)))
    if nx.is_d_separator(cut, {t}, {y}, z):
        return None
    return _path_problem(g, open_path(cut, t, y, z, backdoor=True), z, "back-door ")


def decide_adjustment_set(exp, obs, spec: dict) -> str | None:
    """Any set satisfying the back-door criterion in the master's graph passes."""
    g = _master_graph(spec)
    t, y = _node(spec.get("treatment")), _node(spec.get("outcome"))
    if t not in g or y not in g:
        raise _Unreadable("the master's treatment or outcome is not in its graph")
    z, unknown = _zset(obs, g)
    return unknown or backdoor_problem(g, t, y, z, _nodes(spec.get("latent", [])))


def separation_problem(g, x, y, z: set) -> str | None:
    """Why ``z`` does not d-separate ``x`` and ``y`` in DAG ``g``, or None."""
    import networkx as nx

    if {x, y} & z:
        return f"must not contain {show_node(x)} or {show_node(y)}"
    if nx.is_d_separator(g, {x}, {y}, z):
        return None
    return _path_problem(g, open_path(g, x, y, z), z, "")


def decide_separating_set(exp, obs, spec: dict) -> str | None:
    """``x`` and ``y`` are d-separated by the student's set in the master's graph."""
    g = _master_graph(spec)
    x, y = _node(spec.get("x")), _node(spec.get("y"))
    if x not in g or y not in g:
        raise _Unreadable("the master's x or y is not in its graph")
    z, unknown = _zset(obs, g)
    return unknown or separation_problem(g, x, y, z)


DECIDERS: dict[str, Callable[[object, object, dict], str | None]] = {
    "close": decide_close,
    "equal": decide_equal,
    "same_set": decide_same_set,
    "raises": decide_raises,
    "same_graph": decide_same_graph,
    "markov_equivalent": decide_markov_equivalent,
    "same_cpdag": decide_same_cpdag,
    "independences": decide_independences,
    "adjustment_set": decide_adjustment_set,
    "separating_set": decide_separating_set,
}
