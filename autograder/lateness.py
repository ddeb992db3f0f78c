"""Due dates, submission times and the late policy (pure rules; ``course.yml`` is the only I/O).

``course.yml`` at the course root holds what nbgrader keeps in its gradebook but cannot read from
a file (due dates) and the late policy that ``export`` applies::

    timezone: America/New_York       # for due dates written without a zone (default UTC)
    assignments:
      hw1: {due: "2026-10-02 23:59"}
      hw2: {due: "2026-10-16 23:59 Europe/Berlin"}
    late_policy:
      method: per_day                # none (default) | zero | per_day
      percent_per_day: 10            # per_day: this share of the score per started day late
      max_percent: 50                # per_day: never more than this share
      grace_minutes: 5               # lateness up to this is forgiven (default 0)

A submission's time is nbgrader's ``timestamp.txt`` (written by the exchange; ``collect`` keeps
it from a student folder and never takes it from a student's upload). An LMS export that only
marks a file as late (Canvas' ``_LATE_``) is late by an unknown time: it counts as one day late.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from .course import UsageError

CONFIG_FILE = "course.yml"
TIMESTAMP_FILE = "timestamp.txt"     # nbgrader's name for the submission time
LMS_LATE_FILE = "lms_late.txt"       # written by collect when the LMS marked the file late
METHODS = ("none", "zero", "per_day")
DAY = 86400.0


@dataclass(frozen=True)
class LatePolicy:
    method: str = "none"
    percent_per_day: float = 0.0
    max_percent: float = 100.0
    grace_minutes: float = 0.0

    def penalty(self, score: float, seconds_late: float | None, lms_late: bool = False) -> float:
        """Points taken off ``score`` (never more than ``score``, never negative)."""
        if self.method == "none" or score <= 0:
            return 0.0
        if seconds_late is None:
            if not lms_late:
                return 0.0
            days = 1      # late by an unknown time: the smallest late penalty
        else:
            late = seconds_late - 60.0 * self.grace_minutes
            if late <= 0:
                return 0.0
            days = math.ceil(late / DAY)
        if self.method == "zero":
            return score
        share = min(self.max_percent, self.percent_per_day * days) / 100.0
        return round(min(score, score * share), 6)


def parse_time(value, default_tz: str = "UTC") -> dt.datetime:
    """A naive UTC datetime (the gradebook's convention) from nbgrader's timestamp formats.

    Reads what nbgrader's ``parse_utc`` reads (``2015-02-02 14:58:23.948203 America/Los_Angeles``,
    ISO 8601 with an offset); a time without a zone is read in ``default_tz``. Raises ValueError.
    """
    from dateutil import parser
    from dateutil.tz import gettz

    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59))
    if isinstance(value, dt.datetime):
        stamp = value
    else:
        text = str(value).strip()
        if not text:
            raise ValueError("empty time")
        parts = text.split()
        if len(parts) == 3:
            zone = gettz(parts[2])
            if zone is None:
                raise ValueError(f"unknown time zone {parts[2]!r}")
            stamp = parser.parse(" ".join(parts[:2])).replace(tzinfo=zone)
        else:
            stamp = parser.parse(text)
    if stamp.tzinfo is None:
        zone = gettz(default_tz)
        if zone is None:
            raise ValueError(f"unknown time zone {default_tz!r}")
        stamp = stamp.replace(tzinfo=zone)
    return stamp.astimezone(dt.UTC).replace(tzinfo=None)


def load_config(root: Path) -> dict:
    path = Path(root) / CONFIG_FILE
    if not path.is_file():
        return {}
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"{path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise UsageError(f"{path}: expected a mapping at the top level")
    return doc


def due_date(config: dict, hw: str) -> dt.datetime | None:
    """The due date of ``hw`` from ``course.yml`` (naive UTC), or None when it has none."""
    entry = (config.get("assignments") or {}).get(hw)
    if entry is None:
        return None
    raw = entry.get("due") if isinstance(entry, dict) else entry
    if raw in (None, ""):
        return None
    try:
        return parse_time(raw, str(config.get("timezone") or "UTC"))
    except (ValueError, OverflowError) as e:
        raise UsageError(f"{CONFIG_FILE}: due date of {hw} ({raw!r}) is not a time: {e}") from None


def late_policy(config: dict) -> LatePolicy:
    doc = config.get("late_policy") or {}
    if not isinstance(doc, dict):
        raise UsageError(f"{CONFIG_FILE}: late_policy must be a mapping")
    unknown = set(doc) - {"method", "percent_per_day", "max_percent", "grace_minutes"}
    if unknown:
        raise UsageError(f"{CONFIG_FILE}: unknown late_policy key(s): {', '.join(sorted(unknown))}")
    method = str(doc.get("method", "none"))
    if method not in METHODS:
        raise UsageError(f"{CONFIG_FILE}: late_policy.method must be one of {', '.join(METHODS)}")
    try:
        policy = LatePolicy(method, float(doc.get("percent_per_day", 0)),
                            float(doc.get("max_percent", 100)), float(doc.get("grace_minutes", 0)))
    except (TypeError, ValueError):
        raise UsageError(f"{CONFIG_FILE}: late_policy numbers must be numbers") from None
    if method == "per_day" and not 0 < policy.percent_per_day <= 100:
        raise UsageError(f"{CONFIG_FILE}: late_policy.percent_per_day must be in (0, 100]")
    if not 0 <= policy.max_percent <= 100 or policy.grace_minutes < 0:
        raise UsageError(f"{CONFIG_FILE}: late_policy.max_percent must be in [0, 100], "
                         "grace_minutes >= 0")
    return policy


def submission_time(folder: Path) -> tuple[dt.datetime | None, str | None]:
    """(the submission time from ``timestamp.txt``, a flag when it is empty or unreadable)."""
    path = Path(folder) / TIMESTAMP_FILE
    if not path.is_file():
        return None, None
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None, "invalid_timestamp"
    if not text:
        return None, "empty_timestamp"
    try:
        return parse_time(text), None
    except (ValueError, OverflowError):
        return None, "invalid_timestamp"


def lms_late(folder: Path) -> bool:
    return (Path(folder) / LMS_LATE_FILE).is_file()


LATE_COLUMNS = ["score_unpenalised", "late_penalty", "seconds_late", "submitted_at"]


def late_fields(policy: LatePolicy, score: float, submitted: dt.datetime | None,
                seconds_late: float | None, marked_late: bool) -> dict:
    """The export's late columns and the penalised score of one student."""
    known = submitted is not None
    penalty = policy.penalty(score, seconds_late if known else None, marked_late and not known)
    return {
        "score": f"{score - penalty:g}",
        "score_unpenalised": f"{score:g}",
        "late_penalty": f"{penalty:g}",
        "seconds_late": (f"{seconds_late:g}" if known and seconds_late is not None
                         else "unknown (LMS)" if marked_late else ""),
        "submitted_at": submitted.strftime("%Y-%m-%d %H:%M:%S UTC") if known else "",
    }
