"""lateness: due dates and timestamps as nbgrader reads them, course.yml, the late policy."""

from __future__ import annotations

import datetime as dt

import pytest

from autograder.course import UsageError
from autograder.lateness import (
    LatePolicy,
    due_date,
    late_fields,
    late_policy,
    load_config,
    parse_time,
    submission_time,
)


def test_times_are_read_as_nbgrader_reads_them_and_kept_in_utc():
    assert parse_time("2015-02-02 14:58:23.948203 America/Los_Angeles") == \
        dt.datetime(2015, 2, 2, 22, 58, 23, 948203)
    assert parse_time("2019-05-30 11:44:01.911849 UTC") == dt.datetime(2019, 5, 30, 11, 44, 1, 911849)
    assert parse_time("2026-10-02T23:59:00+02:00") == dt.datetime(2026, 10, 2, 21, 59)
    assert parse_time("2026-10-02 23:59", "Europe/Berlin") == dt.datetime(2026, 10, 2, 21, 59)
    assert parse_time(dt.date(2026, 1, 1)) == dt.datetime(2026, 1, 1, 23, 59, 59)
    for bad in ("", "tomorrow-ish", "2026-10-02 23:59 Mars/Olympus"):
        with pytest.raises(ValueError):
            parse_time(bad)


def test_per_day_zero_and_none():
    per_day = LatePolicy("per_day", percent_per_day=10, max_percent=25, grace_minutes=5)
    assert per_day.penalty(10, 299) == 0 and per_day.penalty(10, 3600) == 1.0
    assert per_day.penalty(10, 86400 + 301) == 2.0          # a started day counts
    assert per_day.penalty(10, 9 * 86400) == 2.5            # the cap
    assert per_day.penalty(10, None, lms_late=True) == 1.0  # late by an unknown time: one day
    assert per_day.penalty(10, None) == 0 and per_day.penalty(0, 9e9) == 0
    assert LatePolicy("zero").penalty(7, 1) == 7 and LatePolicy("zero").penalty(7, 0) == 0
    assert LatePolicy().penalty(7, 9e9) == 0


def test_late_fields_keep_the_unpenalised_score():
    f = late_fields(LatePolicy("per_day", 10, 50), 2.0, dt.datetime(2015, 2, 2, 23), 3600.0, True)
    assert f == {"score": "1.8", "score_unpenalised": "2", "late_penalty": "0.2",
                 "seconds_late": "3600", "submitted_at": "2015-02-02 23:00:00 UTC"}
    f = late_fields(LatePolicy("zero"), 2.0, None, None, True)
    assert (f["score"], f["seconds_late"]) == ("0", "unknown (LMS)")


def test_course_yml(tmp_path):
    assert load_config(tmp_path) == {} and late_policy({}) == LatePolicy()
    (tmp_path / "course.yml").write_text(
        "timezone: Europe/Berlin\nassignments:\n  hw1: {due: '2026-10-02 23:59'}\n  hw2: 2026-10-16\n"
        "late_policy: {method: per_day, percent_per_day: 10, max_percent: 30}\n")
    cfg = load_config(tmp_path)
    assert due_date(cfg, "hw1") == dt.datetime(2026, 10, 2, 21, 59)
    assert due_date(cfg, "hw2") == dt.datetime(2026, 10, 16, 21, 59, 59)   # a day: its end, Berlin
    assert due_date(cfg, "hw3") is None
    assert late_policy(cfg) == LatePolicy("per_day", 10, 30, 0)
    for bad in ({"method": "half"}, {"method": "per_day"}, {"percent": 3}, {"method": "zero", "max_percent": 200}):
        with pytest.raises(UsageError):
            late_policy({"late_policy": bad})
    with pytest.raises(UsageError, match="due date of hw1"):
        due_date({"assignments": {"hw1": {"due": "soon"}}}, "hw1")
    (tmp_path / "course.yml").write_text("a: [")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_config(tmp_path)


def test_timestamp_file(tmp_path):
    assert submission_time(tmp_path) == (None, None)
    (tmp_path / "timestamp.txt").write_text("")
    assert submission_time(tmp_path) == (None, "empty_timestamp")
    (tmp_path / "timestamp.txt").write_text("But I want to be a timestamp string :(")
    assert submission_time(tmp_path) == (None, "invalid_timestamp")
    (tmp_path / "timestamp.txt").write_text("2015-02-02 15:58:23.948203 America/Los_Angeles\n")
    assert submission_time(tmp_path) == (dt.datetime(2015, 2, 2, 23, 58, 23, 948203), None)
