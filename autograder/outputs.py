"""Byte budget for the outputs a graded notebook keeps, however they are sent.

Every output the kernel sends (stream text, ``display_data``, ``execute_result``, error
tracebacks, and each ``update_display_data``, which rewrites an earlier output and is counted
again) is charged against a per-cell and a per-notebook budget *before* it is stored. Sizes are
what the output costs in the saved notebook: its JSON-escaped UTF-8 bytes plus the few bytes
nbformat spends on each line. An output that does not fit is cut to fit, keeping its head, and
ends with ``... [output truncated by the grader: N bytes dropped]``; once a cell has its marker,
further outputs of that cell are dropped. The only bytes kept beyond the budget are one marker per
cell (under 100 bytes).

Pure: no I/O, no nbclient; :class:`~autograder.execute.GradingClient` calls :meth:`admit`.
"""

from __future__ import annotations

import json
from collections import defaultdict

MARKER = "\n... [output truncated by the grader: {n} bytes dropped]\n"
LINE_OVERHEAD = 12   # bytes nbformat adds per line of a multi-line string (indent, quotes, comma)
CUTTABLE_MIME = "text/plain"


def text_cost(s: str) -> int:
    """Bytes ``s`` takes in a saved notebook."""
    return len(json.dumps(s, ensure_ascii=False).encode()) - 2 + LINE_OVERHEAD * s.count("\n")


def value_cost(v) -> int:
    if isinstance(v, str):
        return text_cost(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return text_cost("".join(v))
    return len(json.dumps(v, ensure_ascii=False, default=str).encode())


def content_cost(content: dict) -> int:
    """Bytes an output message's content costs once stored (text, data bundle, traceback)."""
    n = text_cost(content.get("text") or "") if isinstance(content.get("text"), str) else 0
    n += sum(value_cost(v) for v in (content.get("data") or {}).values())
    n += sum(text_cost(str(t)) for t in content.get("traceback") or [])
    n += text_cost(str(content.get("ename") or "")) + text_cost(str(content.get("evalue") or ""))
    return n


def head(s: str, room: int) -> str:
    """The longest prefix of ``s`` that costs at most ``room`` bytes."""
    if room <= 0:
        return ""
    hi = min(len(s), room)
    if text_cost(s[:hi]) <= room:
        return s[:hi]
    lo = 0
    while lo < hi - 1:
        mid = (lo + hi) // 2
        if text_cost(s[:mid]) <= room:
            lo = mid
        else:
            hi = mid
    return s[:lo]


def _as_text(v) -> str:
    return "".join(v) if isinstance(v, list) else str(v)


def cut(content: dict, room: int, marker: str) -> dict:
    """``content`` cut to about ``room`` bytes, head first, with ``marker`` appended.

    Text and ``text/plain`` are cut; other MIME types (images, HTML, JSON) cannot be cut
    meaningfully and are dropped; a traceback keeps its first lines."""
    out = dict(content)
    if isinstance(content.get("text"), str):
        out["text"] = head(content["text"], room) + marker
    if "data" in content:
        plain = _as_text((content.get("data") or {}).get(CUTTABLE_MIME, ""))
        out["data"] = {CUTTABLE_MIME: head(plain, room) + marker}
        out["metadata"] = {}
    if "traceback" in content or "ename" in content:
        # the error's name and a head of its message, and the first lines of the traceback (which
        # repeats the message at its end)
        for key, share in (("ename", 200), ("evalue", max(0, room // 4))):
            out[key] = head(str(content.get(key) or ""), min(room, share))
            room -= text_cost(out[key])
        lines = []
        for line in content.get("traceback") or []:
            line = str(line)
            kept = head(line, room)
            if kept:
                lines.append(kept)
                room -= text_cost(kept)
            if kept != line:
                break
        out["traceback"] = lines + [marker]
    return out


class OutputBudget:
    """Per-cell and per-notebook byte budget; :meth:`admit` decides what each output keeps."""

    def __init__(self, cell_bytes: int, total_bytes: int):
        self.cell_bytes = cell_bytes
        self.total_bytes = total_bytes
        self.used: dict[int, int] = defaultdict(int)
        self.used_total = 0
        self.truncated: set[int] = set()   # cells that lost output (and carry a marker)

    def left(self, cell: int) -> int:
        return max(0, min(self.cell_bytes - self.used[cell], self.total_bytes - self.used_total))

    def _charge(self, cell: int, n: int) -> None:
        self.used[cell] += n
        self.used_total += n

    def admit(self, content: dict, cell: int = 0, size: int | None = None) -> dict | None:
        """The content to keep for this output of ``cell``: itself, a cut copy, or None (dropped).
        ``size``: ``content_cost(content)`` when the caller already knows it."""
        if cell in self.truncated:          # the cell already ends with a marker
            return None
        size = content_cost(content) if size is None else size
        room = self.left(cell)
        if size <= room:
            self._charge(cell, size)
            return content
        self.truncated.add(cell)
        sample = MARKER.format(n=size)
        kept = cut(content, room - text_cost(sample), "")
        dropped = max(0, size - content_cost(kept))
        kept = cut(content, room - text_cost(sample), MARKER.format(n=dropped))
        self._charge(cell, content_cost(kept))
        return kept
