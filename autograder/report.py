"""``report HW``: score histograms (PNG), pass rates per test and a Markdown summary.

Written to ``WORKSPACE/reports/HW/``: ``scores.png`` (total + one histogram per question),
``total.png``, ``pass_rates.csv`` and ``summary.md``.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from .course import Course, UsageError
from .export import rows
from .lateness import LATE_COLUMNS
from .text import md_text, safe_json, safe_text


def report(course: Course, hw: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    header, data = rows(course, hw)
    on_disk = {safe_text(s): s for s in course.students(hw)}
    data = [r for r in data if r["status"] != "missing" or r["student_id"] in on_disk]
    if not data:
        raise UsageError(f"nothing to report for {hw}: run `grade {hw}` first")
    qcols = [h for h in header[6:] if h not in LATE_COLUMNS]   # the questions only
    results = [_load(course, hw, on_disk.get(r["student_id"], r["student_id"])) for r in data]
    results = [r for r in results if r]
    out = course.reports_dir(hw)
    out.mkdir(parents=True, exist_ok=True)
    max_score = float(data[0]["max_score"])
    totals = [float(r["score"]) for r in data]

    # per-test pass rates (from the results: visible and hidden tests in each cell)
    passes: Counter = Counter()
    seen: Counter = Counter()
    points = {}
    for res in results:
        try:
            tally = [(gid if len(res["notebooks"]) == 1 else f"{nb}:{gid}", bool(t.get("passed")),
                      float(t.get("points", 0)))
                     for nb, nbres in res.get("notebooks", {}).items()
                     for gid, t in nbres.get("tests", {}).items()]
        except (AttributeError, TypeError, ValueError):   # a malformed result: its row only
            continue
        for key, passed, pts in tally:
            seen[key] += 1
            passes[key] += passed
            points[key] = pts
    with open(out / "pass_rates.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["test", "points", "passed", "graded", "pass_rate"])
        for k in sorted(seen):
            w.writerow([k, f"{points[k]:g}", passes[k], seen[k], f"{passes[k] / seen[k]:.3f}"])

    from matplotlib.ticker import MaxNLocator

    def hist(ax, values, top, title):
        bins = [x - 0.5 for x in range(int(top) + 2)] if top <= 20 else 20
        ax.hist(values, bins=bins, color="#4c72b0", edgecolor="white", rwidth=0.9)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("points")
        ax.set_ylabel("students")
        ax.set_xlim(-0.6, top + 0.6)

    n = len(qcols) + 1
    ncols = min(3, n)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3 * nrows), squeeze=False)
    hist(axes[0][0], totals, max_score, f"{hw}: total score (n={len(totals)})")
    qmax = {}
    for i, q in enumerate(qcols, 1):
        vals = [float(r[q]) for r in data if r.get(q) not in ("", None)]
        name = q.split(":")[-1]
        top = next((float(c["points"]) for res in results for nb in res.get("notebooks", {}).values()
                    for g, c in {**nb.get("tests", {}), **nb.get("manual", {})}.items() if g == name),
                   max(vals or [1]))
        qmax[q] = top
        ax = axes[i // ncols][i % ncols]
        note = "" if len(vals) == len(data) else f", {len(vals)}/{len(data)} scored"
        hist(ax, vals, top, f"{q} (max {top:g}{note})")
    for j in range(n, nrows * ncols):
        axes[j // ncols][j % ncols].axis("off")
    fig.suptitle(f"{hw}: score distributions", fontsize=12)
    fig.tight_layout()
    fig.savefig(out / "scores.png", dpi=100)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    hist(ax, totals, max_score, f"{hw}: total score (n={len(totals)})")
    fig.tight_layout()
    fig.savefig(out / "total.png", dpi=100)
    plt.close(fig)

    statuses = Counter(r["status"] for r in data)
    flags = Counter(f.split(":")[0] for r in data for f in r["flags"].split(";") if f)
    mean = sum(totals) / len(totals)
    srt = sorted(totals)
    median = srt[len(srt) // 2] if len(srt) % 2 else (srt[len(srt) // 2 - 1] + srt[len(srt) // 2]) / 2
    md = [f"# {hw}: grading report", "",
          f"Submissions: {len(data)}; mean {mean:.2f} / {max_score:g}; median {median:g}; "
          f"full marks: {sum(t == max_score for t in totals)}.", "",
          "![score distributions](scores.png)", "",
          "## Status", "", "| status | students |", "|---|---|"]
    md += [f"| {s} | {c} |" for s, c in statuses.most_common()]
    md += ["", "## Pass rate per test", "", "| test | points | passed | pass rate |", "|---|---|---|---|"]
    md += [f"| {k} | {points[k]:g} | {passes[k]}/{seen[k]} | {passes[k] / seen[k]:.0%} |" for k in sorted(seen)]
    md += ["", "## Tamper and limit flags", ""]
    md += [f"- {md_text(f)}: {c} submission(s)" for f, c in flags.most_common()] or ["- none"]
    md += ["", "## Students needing attention", ""]
    attn = [r for r in data if r["status"] != "graded" or r["flags"]]
    md += [f"- {md_text(r['student_id'])}: {md_text(r['status'])}"
           + (f" ({md_text(r['flags'])})" if r["flags"] else "")
           + (f": {md_text(r['reason'])}" if r["status"] != "graded" and r.get("reason") else "")
           for r in attn] or ["- none"]
    (out / "summary.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return out


def _load(course: Course, hw: str, sid: str) -> dict | None:
    try:
        return safe_json(course.load_result(hw, sid))
    except Exception:   # an unreadable result costs this student's row in the pass rates only
        return None
