"""The PC algorithm written out for teaching, and the scores of a learned graph against the truth."""

from __future__ import annotations

import itertools

from .graphs import meek_orient


def pc_skeleton(df, ci_test, alpha, max_cond_vars=5):
    """PC-stable skeleton search (Colombo & Maathuis 2014).

    `ci_test(x, y, z, significance_level=alpha)` returns True for independence and exposes
    `.p_value_` (pgmpy's tests do). Returns adjacency sets, separating sets {frozenset: set}, a log
    of every deletion and a per-level summary (lists of dicts).
    """
    nodes = list(df.columns)
    adj = {v: set(nodes) - {v} for v in nodes}
    sepsets, log, level_summary = {}, [], []
    level = 0
    while level <= max_cond_vars and any(len(adj[v]) - 1 >= level for v in nodes):
        frozen = {v: set(adj[v]) for v in nodes}      # PC-stable: neighbourhoods fixed for this level
        num_tests, deleted = 0, 0
        for x, y in itertools.combinations(nodes, 2):
            if y not in adj[x]:
                continue
            candidates = sorted(set(itertools.combinations(sorted(frozen[x] - {y}), level))
                                | set(itertools.combinations(sorted(frozen[y] - {x}), level)))
            for s in candidates:
                num_tests += 1
                if ci_test(x, y, list(s), significance_level=alpha):
                    adj[x].discard(y)
                    adj[y].discard(x)
                    sepsets[frozenset((x, y))] = set(s)
                    log.append({"level": level, "pair": f"{x} - {y}", "sepset": "{" + ", ".join(s) + "}",
                                "p-value": float(ci_test.p_value_)})
                    deleted += 1
                    break
        num_edges = sum(len(a) for a in adj.values()) // 2
        level_summary.append({"level (|S|)": level, "CI tests": num_tests, "edges deleted": deleted,
                              "edges left": num_edges})
        level += 1
    return adj, sepsets, log, level_summary


def orient_colliders(adj, sepsets):
    """Phase 2 of PC: x -> z <- y for each unshielded x - z - y with z not in sepset(x, y).

    Triples are visited in sorted order; a collider that contradicts an earlier one is skipped
    (first wins, as in pgmpy). Returns (directed, undirected, colliders as strings).
    """
    directed, colliders = set(), []
    for x, y in itertools.combinations(sorted(adj), 2):
        if y in adj[x]:
            continue
        for z in sorted(adj[x] & adj[y]):
            if z in sepsets[frozenset((x, y))] or (z, x) in directed or (z, y) in directed:
                continue
            directed |= {(x, z), (y, z)}
            colliders.append(f"{x} -> {z} <- {y}")
    pairs = {frozenset((a, b)) for a in adj for b in adj[a]}
    undirected = {e for e in pairs if not any(d in directed for d in itertools.permutations(e))}
    return directed, undirected, colliders


def learn_pc(df, ci_test, alpha):
    """The whole PC algorithm: skeleton, colliders, Meek's rules. Returns (directed, undirected)."""
    adj, sepsets, _, _ = pc_skeleton(df, ci_test, alpha)
    directed, undirected, _ = orient_colliders(adj, sepsets)
    return meek_orient(directed, undirected)


def edge_marks(directed, undirected=()):
    """{frozenset({u, v}): mark}; the mark is (u, v) for u -> v and "-" for an undirected edge."""
    marks = {frozenset(e): "-" for e in undirected}
    marks.update({frozenset((u, v)): (u, v) for u, v in directed})
    return marks


def structural_hamming_distance(est_marks, true_marks) -> int:
    """Pairs whose marks differ: missing, extra, reversed, directed-vs-undirected each count 1."""
    return sum(est_marks.get(p) != true_marks.get(p) for p in set(est_marks) | set(true_marks))


def precision_recall_f1(predicted, truth):
    """Precision (NaN if nothing predicted), recall and F1 (0 if no true positive) of two sets."""
    tp = len(set(predicted) & set(truth))
    precision = tp / len(predicted) if predicted else float("nan")
    recall = tp / len(truth) if truth else float("nan")
    f1 = 2 * tp / (len(predicted) + len(truth)) if tp > 0 else 0.0
    return precision, recall, f1


def evaluate_graph(est_marks, true_dag_marks, true_cpdag_marks=None):
    """SHD (vs CPDAG and DAG), skeleton and oriented-edge precision/recall/F1 of a learned graph."""
    skel_p, skel_r, skel_f1 = precision_recall_f1(set(est_marks), set(true_dag_marks))
    est_dir = {m for m in est_marks.values() if m != "-"}
    or_p, or_r, or_f1 = precision_recall_f1(est_dir, {m for m in true_dag_marks.values() if m != "-"})
    cpdag_shd = (structural_hamming_distance(est_marks, true_cpdag_marks)
                 if true_cpdag_marks is not None else float("nan"))
    return {"SHD vs CPDAG": cpdag_shd, "SHD vs DAG": structural_hamming_distance(est_marks, true_dag_marks),
            "edges": len(est_marks), "directed": len(est_dir),
            "skeleton precision": skel_p, "skeleton recall": skel_r, "skeleton F1": skel_f1,
            "oriented precision": or_p, "oriented recall": or_r, "oriented F1": or_f1}
