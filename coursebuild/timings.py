"""The timings table: seconds per notebook and its slowest cell, printed and kept in build/timings.json."""

from __future__ import annotations

import json
from pathlib import Path


def write_timings(records: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(sorted(records, key=lambda r: (r["mode"], r["notebook"])), indent=2) + "\n")


def timings_table(records: list[dict]) -> str:
    """A plain-text table: notebook, mode, seconds, slowest cell."""
    rows = [("notebook", "mode", "seconds", "slowest cell")]
    for r in sorted(records, key=lambda r: (r["mode"], r["notebook"])):
        slow = (f"#{r['slowest_cell']} {r['slowest_cell_seconds']:.1f}s {r['slowest_cell_source'][:40]}"
                if r.get("slowest_cell") is not None and r.get("slowest_cell_seconds") is not None else "-")
        rows.append((r["notebook"] + ("" if r.get("ok", True) else " (FAILED)"), r["mode"],
                     f"{r['seconds']:.1f}", slow))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)
