"""The notebook expectations: which values each notebook must glue, in smoke and in full mode.

``tests/notebook_expectations.yml`` maps a notebook to checks per mode (``equals``, ``approx`` with
``abs``/``rel``, ``between``, ``lt``, ``gt``) and an optional whole-notebook ``timeout``. Reading it
is strict (a typo is an error, never a silent pass) and checking is a pure function of the glued
values, so both are tested without running a kernel.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

from .catalog import REPO

EXPECTATIONS = REPO / "tests" / "notebook_expectations.yml"
MODES = ("smoke", "full")
CHECKS = ("equals", "approx", "between", "lt", "gt")
DEFAULT_TIMEOUT = {"smoke": 300, "full": 900}  # whole notebook, seconds


def load_expectations(path: Path = EXPECTATIONS) -> dict:
    """Read and validate the expectations file; a typo in it is an error, not a silent pass."""
    data = yaml.safe_load(path.read_text()) or {}
    for notebook, entry in data.items():
        unknown = set(entry) - {"timeout", *MODES}
        if unknown:
            raise ValueError(f"{path.name}: {notebook}: unknown keys {sorted(unknown)}")
        if not isinstance(entry.get("timeout", {}), dict) or set(entry.get("timeout", {})) - set(MODES):
            raise ValueError(f"{path.name}: {notebook}: timeout must look like {{smoke: 60, full: 300}}")
        for mode in MODES:
            for name, spec in (entry.get(mode) or {}).items():
                if (not isinstance(spec, dict) or not set(spec) & set(CHECKS)
                        or not set(spec) <= {*CHECKS, "abs", "rel"}
                        or ({"abs", "rel"} & set(spec) and "approx" not in spec)):
                    raise ValueError(f"{path.name}: {notebook} [{mode}] {name}: bad check {spec!r}; "
                                     f"use {', '.join(CHECKS)} (approx takes abs and/or rel)")
    return data


def timeout_for(entry: dict, mode: str) -> float:
    """Whole-notebook limit in seconds: `timeout: {smoke: 60, full: 300}` in the entry, or the default."""
    return (entry.get("timeout") or {}).get(mode, DEFAULT_TIMEOUT[mode])


def check_scraps(notebook: str, mode: str, scraps: dict, expected: dict) -> list[str]:
    """Compare glued values with their expectations; return one message per violation."""
    problems = []
    for name, spec in expected.items():
        where = f"{notebook} [{mode}] glued {name!r}"
        if name not in scraps:
            problems.append(f"{where}: not glued (expected {_describe(spec)}); "
                            f"glued names are {sorted(scraps) or 'none'}")
            continue
        problem = violation(scraps[name], spec)
        if problem:
            problems.append(f"{where} = {scraps[name]!r}: {problem}")
    return problems


def _describe(spec: dict) -> str:
    return ", ".join(f"{k} {v!r}" for k, v in spec.items())


def violation(value, spec: dict) -> str | None:
    """None when `value` satisfies every check in `spec`, else what was expected."""
    if "equals" in spec and value != spec["equals"]:
        return f"expected exactly {spec['equals']!r}"
    numeric = {k: spec[k] for k in ("approx", "between", "lt", "gt") if k in spec}
    if not numeric:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return f"expected a number ({_describe(numeric)})"
    if "approx" in spec:
        target = spec["approx"]
        tolerance = max(spec.get("abs", 0.0), spec.get("rel", 0.0) * abs(target))
        if "abs" not in spec and "rel" not in spec:
            tolerance = 1e-9 * max(1.0, abs(target))
        if abs(value - target) > tolerance:
            return (f"expected {target!r} ± {tolerance:.3g} "
                    f"(abs {spec.get('abs', 0)}, rel {spec.get('rel', 0)}); off by {value - target:+.4g}")
    if "between" in spec:
        low, high = spec["between"]
        if not low <= value <= high:
            return f"expected between {low!r} and {high!r} (inclusive)"
    if "lt" in spec and not value < spec["lt"]:
        return f"expected < {spec['lt']!r}"
    if "gt" in spec and not value > spec["gt"]:
        return f"expected > {spec['gt']!r}"
    return None
