"""Execute one notebook with papermill in a child process, and say exactly what went wrong.

Each notebook runs in its own process group so that a whole-notebook time limit can be enforced
(papermill only has a per-cell one) and a dead kernel cannot take the caller with it. A kernel that
never started (a port race between parallel launches) is retried once; a cell error never is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .catalog import REPO
from .expectations import DEFAULT_TIMEOUT

CELL_TIMEOUT = {"smoke": 240, "full": 600}
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
