"""Execute notebooks with papermill and check the values they glue against declared expectations.

Used by `tests/test_notebooks.py` (smoke mode on every change, `--full` nightly) and by
`tests/build_site.py` (`make run`). Each notebook runs in its own papermill process so that a
whole-notebook time limit can be enforced (papermill only has a per-cell one) and a dead kernel
cannot take the test process with it.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import yaml

REPO = Path(__file__).resolve().parents[1]
EXPECTATIONS = REPO / "tests" / "notebook_expectations.yml"
MODES = ("smoke", "full")
CHECKS = ("equals", "approx", "between", "lt", "gt")
DEFAULT_TIMEOUT = {"smoke": 300, "full": 900}  # whole notebook, seconds
CELL_TIMEOUT = {"smoke": 240, "full": 600}
# Messages of a kernel that never started (port races between parallel launches); such a run is
# retried once. A cell error is never retried.
KERNEL_START_ERRORS = ("Kernel didn't respond", "Address already in use", "Kernel died")


@dataclass
class RunResult:
    notebook: str
    mode: str
    seconds: float
    output: Path
    scraps: dict = field(default_factory=dict)
    slowest_cell: tuple[int, float, str] | None = None
    error: str | None = None

    def timing_record(self) -> dict:
        index, seconds, first_line = self.slowest_cell or (None, None, "")
        return {"notebook": self.notebook, "mode": self.mode, "seconds": round(self.seconds, 1),
                "slowest_cell": index, "slowest_cell_seconds": seconds, "slowest_cell_source": first_line,
                "ok": self.error is None}


def discover(repo: Path = REPO) -> list[str]:
    """Every lecture notebook and every assignment master, as repo-relative POSIX paths."""
    found = sorted(repo.glob("notebooks/*.ipynb")) + sorted(repo.glob("solutions/*/*.ipynb"))
    return [p.relative_to(repo).as_posix() for p in found if ".ipynb_checkpoints" not in p.parts]


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
        problem = _violation(scraps[name], spec)
        if problem:
            problems.append(f"{where} = {scraps[name]!r}: {problem}")
    return problems


def _describe(spec: dict) -> str:
    return ", ".join(f"{k} {v!r}" for k, v in spec.items())


def _violation(value, spec: dict) -> str | None:
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


def execute(notebook: str, mode: str, *, repo: Path = REPO, out_dir: Path | None = None, seed: int = 0,
            timeout: float | None = None, cell_timeout: float | None = None) -> RunResult:
    """Run one notebook through papermill in a child process; never raises for notebook errors.

    The executed copy lands in `build/executed/<mode>/<path>`; errors are reported in
    `RunResult.error` naming the cell (index and first lines), the exception and its message.
    """
    source = repo / notebook
    out_dir = out_dir or repo / "build" / "executed" / mode
    output = out_dir / notebook
    output.parent.mkdir(parents=True, exist_ok=True)
    timeout = timeout or DEFAULT_TIMEOUT[mode]
    cell_timeout = min(cell_timeout or CELL_TIMEOUT[mode], timeout)
    command = [sys.executable, "-m", "papermill", str(source), str(output), "--kernel", "python3",
               "--cwd", str(source.parent), "--no-progress-bar", "--log-level", "ERROR",
               "--execution-timeout", str(int(cell_timeout)),
               "-p", "SMOKE", str(mode == "smoke"), "-p", "SEED", str(seed)]
    # The kernel must draw with the inline backend: an inherited MPLBACKEND=Agg (fine for the test
    # process) would make plt.show() a no-op and leave executed notebooks without figures.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "module://matplotlib_inline.backend_inline", "PYTHONHASHSEED": "0",
           "PYDEVD_DISABLE_FILE_VALIDATION": "1", "COURSE_SMOKE": "1" if mode == "smoke" else "0"}
    for attempt in (1, 2):
        output.unlink(missing_ok=True)
        started = time.perf_counter()
        returncode, stderr = _run_killable(command, env, timeout)
        seconds = time.perf_counter() - started
        if returncode == 0 or attempt == 2 or not _kernel_never_started(output, stderr):
            break
    result = RunResult(notebook, mode, seconds, output)
    executed = _read(output)
    if executed is not None:
        result.slowest_cell = _slowest_cell(executed)
        result.scraps = _scraps(output)
    if returncode == "timeout":
        cell = _running_cell(executed)
        result.error = (f"{notebook} [{mode}] exceeded the whole-notebook limit of {timeout:.0f} s"
                        + (f" while running cell {cell}" if cell else ""))
    elif returncode != 0:
        result.error = _describe_failure(notebook, mode, executed, stderr)
    return result


def _run_killable(command: list[str], env: dict, timeout: float) -> tuple[int | str, str]:
    """Run `command` in its own process group; on timeout kill the group (kernel included)."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        _, stderr = process.communicate(timeout=timeout)
        return process.returncode, stderr
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
        return "timeout", ""


def _kernel_never_started(output: Path, stderr: str) -> bool:
    executed = _read(output)
    ran_a_cell = executed is not None and any(
        c.get("execution_count") for c in executed.cells if c.cell_type == "code")
    return not ran_a_cell and any(message in stderr for message in KERNEL_START_ERRORS)


def _read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except (OSError, ValueError):
        return None


def _scraps(path: Path) -> dict:
    import scrapbook

    try:
        return {name: scrap.data for name, scrap in scrapbook.read_notebook(str(path)).scraps.items()}
    except Exception:  # a notebook that died half-written has no readable scraps; the error says why
        return {}


def _first_lines(cell, n: int = 2) -> str:
    lines = [line for line in cell.source.splitlines() if line.strip()][:n]
    return " | ".join(lines)[:160]


def _source_cells(nb):
    """(index in the original notebook, cell), skipping the cells papermill adds."""
    added = {"injected-parameters", "papermill-error-cell-tag"}
    original = [c for c in nb.cells if not added & set(c.metadata.get("tags", []))]
    return list(enumerate(original))


def _slowest_cell(nb) -> tuple[int, float, str] | None:
    timed = [(i, cell.metadata.get("papermill", {}).get("duration") or 0.0, _first_lines(cell, 1))
             for i, cell in _source_cells(nb) if cell.cell_type == "code"]
    return max(timed, key=lambda t: t[1], default=None)


def _running_cell(nb) -> str | None:
    if nb is None:
        return None
    for i, cell in _source_cells(nb):
        if cell.metadata.get("papermill", {}).get("status") == "running":
            return f"{i} ({_first_lines(cell)})"
    return None


def _describe_failure(notebook: str, mode: str, nb, stderr: str) -> str:
    """Name the failing cell, the exception and its message, from the executed notebook."""
    if nb is not None:
        for i, cell in _source_cells(nb):
            for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
                if out.get("output_type") == "error":
                    return (f"{notebook} [{mode}] failed in cell {i} ({_first_lines(cell)}): "
                            f"{out.get('ename')}: {out.get('evalue')}")
        cell = _running_cell(nb)
        if cell:
            reason = _last_line(stderr)
            return f"{notebook} [{mode}] failed in cell {cell}: {reason}"
    return f"{notebook} [{mode}] could not be executed: {_last_line(stderr)}"


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no error message (the kernel may have been killed)"


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
