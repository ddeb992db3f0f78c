"""Execute one normalised notebook in a sandboxed kernel: the kernel driver (no grading policy).

The kernel only observes: test cells with checks publish observations (``display_data`` with the
``verdicts.MIME`` type), which :class:`GradingClient` takes out of the output stream before the
output caps, bounded per cell, and keeps per cell index; ``scoring`` decides the verdicts in the
grader process against the master's records.

Legacy test cells (plain ``assert``s, no checks) keep the old in-kernel verdict: pass/fail comes
from the kernel's ``execute_reply`` status, never from the outputs (a student who replaces
IPython's ``showtraceback`` cannot make an error look like a pass). Before and after every legacy
test cell a guard (installed before any student code runs) checks that the assertion helpers
(``numpy.testing.assert_*``, ``numpy.allclose``, ``math.isclose``, the builtins, ...) and
``showtraceback`` are the pristine objects with their pristine ``__code__``; a rebinding is undone,
flagged ``rebound_assert`` and the test cell it could affect scores 0. The guard answers with a
per-run nonce, so deleting or breaking it also zeroes the cell (fail closed). A student function
that shadows a builtin used in comparisons (``abs``, ``round``, ``isinstance``, ...) in the user
namespace is removed before the test cell, which then scores 0 (``shadowed_builtin``).
"""

from __future__ import annotations

import ast
import asyncio
import json
import secrets
import time
from collections import defaultdict
from queue import Empty

import nbformat
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .notebook import hidden_of
from .outputs import OutputBudget, content_cost
from .sandbox import Limits, Sandbox
from .scoring import KernelRun, score_notebook
from .verdicts import MIME, BadObservation, decode_observation

MAX_OBSERVATIONS_PER_CELL = 500          # a test cell makes a few dozen checks at most
MAX_OBSERVATION_BYTES_PER_CELL = 2_000_000
# outputs of a hidden-tail cell (notebook.normalise) are dropped before nbclient sees them: a
# display update there could otherwise rewrite an output of the visible notebook with hidden text
TAIL_DROPPED = frozenset({"stream", "display_data", "update_display_data", "execute_result",
                          "error", "clear_output"})

PREAMBLE = r'''
def __ag_setup(nonce, modules, seed_torch, seed_pyro):
    import random, sys
    random.seed(0)
    pristine = []

    def grab(modname, names=None, prefix=None):
        try:
            mod = __import__(modname, fromlist=["_"])
        except Exception:
            return
        for n in (names or [n for n in dir(mod) if n.startswith(prefix)]):
            f = mod.__dict__.get(n)
            if f is not None and callable(f):
                pristine.append((mod, n, f, getattr(f, "__code__", None)))

    grab("builtins", ["abs", "all", "any", "bool", "float", "int", "isinstance", "len", "max",
                      "min", "round", "sum", "sorted", "list", "tuple", "set", "dict", "str",
                      "repr", "type", "range", "zip", "map", "hash", "iter", "next", "getattr"])
    grab("math", ["isclose", "isnan", "isfinite", "fabs"])
    if "numpy" in modules:
        import numpy
        numpy.random.seed(0)
        grab("numpy", ["allclose", "isclose", "array_equal", "array_equiv", "all", "any", "abs",
                       "absolute", "asarray", "array", "isfinite", "isnan", "sum", "mean"])
        grab("numpy.testing", prefix="assert_")
        grab("numpy.testing._private.utils", prefix="assert_")
    if "pandas" in modules:
        grab("pandas.testing", prefix="assert_")
    if seed_torch:
        try:
            import torch
            torch.manual_seed(0)
            grab("torch", ["allclose", "isclose", "equal"])
            grab("torch.testing", prefix="assert_")
        except Exception:
            pass
    if seed_pyro:
        try:
            import pyro
            pyro.set_rng_seed(0)
            pyro.clear_param_store()
        except Exception:
            pass
    ip = get_ipython()
    builtins_dict = dict(__import__("builtins").__dict__)
    shell_cls = type(ip)
    st = shell_cls.showtraceback

    def check():
        bad = []
        for mod, n, f, code in pristine:
            if mod.__dict__.get(n) is not f:
                bad.append(mod.__name__ + "." + n)
                setattr(mod, n, f)
            if code is not None and getattr(f, "__code__", None) is not code:
                bad.append(mod.__name__ + "." + n + ".__code__")
                f.__code__ = code
        for n in ("abs", "all", "any", "bool", "float", "int", "isinstance", "len", "round"):
            v = ip.user_ns.get(n)
            if v is not None and callable(v) and v is not builtins_dict.get(n):
                bad.append("shadowed:" + n)
                del ip.user_ns[n]
        if "showtraceback" in ip.__dict__ or shell_cls.showtraceback is not st:
            bad.append("showtraceback")
            ip.__dict__.pop("showtraceback", None)
            shell_cls.showtraceback = st
        return [nonce] + sorted(set(bad))

    sys._ag_check = check

__ag_setup(%(nonce)r, %(modules)r, %(torch)r, %(pyro)r)
del __ag_setup
'''

CHECK_EXPR = "__import__('sys')._ag_check()"


def _payload_size(payload) -> int | None:
    try:
        return len(json.dumps(payload))
    except (TypeError, ValueError, RecursionError):
        return None


class GradingClient(NotebookClient):
    """nbclient that captures observations, caps outputs and bounds interrupt-then-give-up."""

    def __init__(self, nb, km, limits: Limits, **kw):
        super().__init__(nb, km=km, **kw)
        self.limits = limits
        self.budget = OutputBudget(limits.output_cell_bytes, limits.output_total_bytes)
        self.truncated = self.budget.truncated
        self.timed_out: set[int] = set()
        self.current_index = -1
        self.observations: dict[int, list] = defaultdict(list)
        self.observation_bytes: dict[int, int] = defaultdict(int)
        self.observations_capped: set[int] = set()

    def keep_observation(self, msg, cell_index) -> None:
        """Keep an observation's payload (bounded per cell); it never enters the notebook."""
        if msg.get("msg_type") not in ("display_data", "update_display_data"):
            return   # e.g. an execute_result whose repr claims the type: dropped, not observed
        payload = msg["content"]["data"][MIME]
        size = _payload_size(payload)
        if (size is None or len(self.observations[cell_index]) >= MAX_OBSERVATIONS_PER_CELL
                or self.observation_bytes[cell_index] + size > MAX_OBSERVATION_BYTES_PER_CELL):
            self.observations_capped.add(cell_index)
            return
        self.observation_bytes[cell_index] += size
        self.observations[cell_index].append(payload)

    def process_message(self, msg, cell, cell_index):
        # before nbclient's display-id bookkeeping and the output caps: an observation (even an
        # update_display_data aimed at an existing output) never becomes a notebook output
        content = msg.get("content")
        data = content.get("data") if isinstance(content, dict) else None
        if isinstance(data, dict) and MIME in data:
            self.keep_observation(msg, cell_index)
            return None
        if hidden_of(cell) is not None and msg.get("msg_type") in TAIL_DROPPED:
            return None   # the hidden tail shows nothing and cannot update an earlier display
        return super().process_message(msg, cell, cell_index)

    def output(self, outs, msg, display_id, cell_index):
        # (observations never get here: process_message takes them first, so they neither count
        # against the student's output nor get truncated)
        kept = self.budget.admit(msg.get("content", {}), cell_index)
        if kept is None:
            return None
        return super().output(outs, {**msg, "content": kept}, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        """nbclient's display update, charged: it rewrites every earlier output with that id, and
        each rewrite counts again (cut to fit, or skipped once that cell is full)."""
        header = {**msg["header"], "msg_type": "display_data"}
        content = msg.get("content", {})
        size = content_cost(content)
        built: dict[int, tuple] = {}    # output_from_msg validates (slow): once per distinct content
        for cell_idx, output_indices in self._display_id_map.get(display_id, {}).items():
            outputs = self.nb["cells"][cell_idx]["outputs"]
            for output_idx in output_indices:
                kept = self.budget.admit(content, cell_idx, size=size)
                if kept is None or output_idx >= len(outputs):
                    continue
                if id(kept) not in built:
                    built[id(kept)] = (kept, nbformat.v4.output_from_msg(
                        {**msg, "header": header, "content": kept}))
                out = built[id(kept)][1]
                outputs[output_idx]["data"] = out["data"]
                outputs[output_idx]["metadata"] = out["metadata"]

    async def _async_handle_timeout(self, timeout, cell=None):
        self.timed_out.add(self.current_index)
        await self.km.interrupt_kernel()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.shell_channel.get_msg(timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                continue
            if msg.get("msg_type") == "execute_reply":
                return msg
        raise CellTimeoutError.error_from_timeout_and_cell("Cell execution timed out", timeout, cell)


async def _wait_reply(kc, msg_id, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        try:
            msg = await kc.shell_channel.get_msg(timeout=left)
        except Empty:
            return None
        if msg.get("parent_header", {}).get("msg_id") == msg_id:
            return msg



def _test_indices(nb, ref: dict) -> tuple[dict[str, int], dict[int, str], dict[int, str]]:
    """(grade id -> first cell index of it, index -> grade id of the legacy test cells and of
    their hidden-tail cells, hidden-tail index -> grade id)."""
    ref_by_id = {c["grade_id"]: c for c in ref["cells"]}
    index_of: dict[str, int] = {}
    tail: dict[int, str] = {}
    for i, c in enumerate(nb.cells):
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in ref_by_id and gid not in index_of:
            index_of[gid] = i
        if hidden_of(c) in ref_by_id:
            tail[i] = hidden_of(c)
    checked = ref.get("checks") or {}
    legacy = {index_of[g]: g for g, c in ref_by_id.items()
              if c["kind"] == "test" and g in index_of and not checked.get(g)}
    legacy.update({i: g for i, g in tail.items() if g in legacy.values()})
    return index_of, legacy, tail


def _check_name(raw) -> str | None:
    try:
        return decode_observation(raw)["name"]
    except BadObservation:
        return None   # kept: scoring counts it as malformed


def fold_hidden_tail(run: KernelRun, index_of: dict[str, int], tail: dict[int, str],
                     checks: dict | None = None) -> None:
    """Credit each hidden-tail cell's run to its test cell, in place (both parts must succeed).

    The reply is the visible part's if that failed or the tail never ran, else the tail's (whose
    traceback lines fall in the hidden region: scoring reports "a hidden test failed");
    timeouts, caps and guard findings of both parts count. With the master's records
    (``checks``), a visible check counts only from the visible part and a hidden one only from
    the tail (one published in the wrong part is ignored); without them (the master's own run)
    every observation of both parts is kept.
    """
    checks = checks or {}
    for t, gid in tail.items():
        v = index_of.get(gid)
        if v is None:
            continue
        vis, hid = run.replies.get(v), run.replies.pop(t, None)
        if vis is not None and vis.get("status") == "ok":
            if hid is None:
                run.replies.pop(v, None)    # half a test is not a test: "not run"
            else:
                run.replies[v] = hid
        hidden = {r["name"] for r in checks.get(gid) or [] if r.get("hidden")}
        obs = run.observations.pop(t, [])
        if checks.get(gid):   # each check counts where it belongs: visible part / hidden tail
            vis_obs = [o for o in run.observations.get(v, []) if _check_name(o) not in hidden]
            obs = [o for o in obs if _check_name(o) in hidden or _check_name(o) is None]
            run.observations[v] = vis_obs
        if obs:
            run.observations[v] = list(run.observations.get(v, [])) + list(obs)
        for marks in (run.observations_capped, run.timed_out):
            if t in marks:
                marks.discard(t)
                marks.add(v)
        if t in run.tainted:
            run.tainted.setdefault(v, []).extend(run.tainted.pop(t))


class Guard:
    """The in-kernel guard of legacy test cells, answering with a per-run nonce (fail closed)."""

    def __init__(self, client: GradingClient, ref: dict):
        self.client = client
        self.ref = ref
        self.nonce = secrets.token_hex(8)

    async def install(self) -> None:
        ref = self.ref
        code = PREAMBLE % {"nonce": self.nonce, "modules": ref.get("guard_modules", []),
                           "torch": bool(ref.get("uses_torch")), "pyro": bool(ref.get("uses_pyro"))}
        kc = self.client.kc
        reply = await _wait_reply(kc, kc.execute(code, silent=True, store_history=False), 120)
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("the grader's set-up code failed in the kernel: "
                               + str((reply or {}).get("content", {}).get("evalue", "no reply")))

    async def check(self) -> list[str]:
        kc = self.client.kc
        msg_id = kc.execute("", silent=True, store_history=False, user_expressions={"r": CHECK_EXPR})
        reply = await _wait_reply(kc, msg_id, 15)
        if reply is None:
            return ["guard_unresponsive"]
        expr = reply["content"].get("user_expressions", {}).get("r", {})
        try:
            val = ast.literal_eval(expr.get("data", {}).get("text/plain", ""))
        except Exception:
            val = None
        if not isinstance(val, list) or not val or val[0] != self.nonce:
            return ["guard_broken"]
        return [str(v) for v in val[1:]]


def _client(nb, sandbox: Sandbox) -> tuple[AsyncKernelManager, GradingClient]:
    limits = sandbox.limits
    km = AsyncKernelManager(transport="ipc", ip=str(sandbox.run_dir / "k"),
                            connection_file=str(sandbox.run_dir / "kernel.json"))
    km._kernel_spec = KernelSpec(argv=sandbox.argv(), display_name="sandbox", language="python",
                                 interrupt_mode="message", env={}, metadata={})
    client = GradingClient(nb, km=km, limits=limits, timeout=int(max(1, limits.cell_timeout)),
                           interrupt_on_timeout=True, allow_errors=True, startup_timeout=60,
                           iopub_timeout=4, raise_on_iopub_timeout=False, record_timing=False,
                           kernel_name="sandbox", shutdown_kernel="immediate")
    return km, client


async def _execute_cells(nb, client: GradingClient, guard: Guard, legacy: dict[int, str],
                         run: KernelRun, deadline: float) -> None:
    count = 0
    for idx, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not cell.source.strip():
            continue
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        client.current_index = idx
        if idx in legacy:
            bad = await guard.check()
            if bad:
                run.tainted[idx] = bad
        count += 1
        await asyncio.wait_for(client.async_execute_cell(cell, idx, execution_count=count),
                               timeout=left)
        if idx in legacy:
            bad = await guard.check()
            if bad:
                run.tainted.setdefault(idx, []).extend(bad)


async def _stop(km, client, sandbox: Sandbox, started: bool) -> int | None:
    returncode = None
    try:
        if client.kc is not None:
            client.kc.stop_channels()
    except Exception:
        pass
    if started:
        try:
            proc = getattr(km.provisioner, "process", None)
            if proc is not None:
                returncode = proc.poll()
            await asyncio.wait_for(km.shutdown_kernel(now=True), timeout=20)
        except Exception:
            pass
    sandbox.kill_leftovers()
    return returncode


async def drive(nb, ref: dict, sandbox: Sandbox, deadline: float,
                legacy: dict[int, str]) -> tuple[KernelRun, GradingClient]:
    """Run every code cell of ``nb`` in a fresh sandboxed kernel; report what happened."""
    limits = sandbox.limits
    run = KernelRun()
    km, client = _client(nb, sandbox)
    client.on_cell_executed = lambda cell, cell_index, execute_reply: run.replies.__setitem__(
        cell_index, (execute_reply or {}).get("content", {}))
    started = False
    try:
        await asyncio.wait_for(km.start_kernel(**sandbox.popen_kwargs()), timeout=60)
        started = True
        await asyncio.wait_for(client.async_start_new_kernel_client(), timeout=90)
        guard = Guard(client, ref)
        await guard.install()
        await _execute_cells(nb, client, guard, legacy, run, deadline)
    except CellTimeoutError:  # (a TimeoutError subclass: must come first)
        run.status, run.reason = "timeout", (f"a cell ran longer than {limits.cell_timeout:.0f} s "
                                             "and did not stop when interrupted; the kernel was killed")
    except TimeoutError:
        run.status, run.reason = "timeout", f"wall-clock limit per submission ({limits.wall:.0f} s) reached"
        run.flags.append("wall_timeout")
    except DeadKernelError:
        if time.monotonic() >= deadline - 0.1:   # nbclient reports a cancelled cell as a dead kernel
            run.status, run.reason = "timeout", f"wall-clock limit per submission ({limits.wall:.0f} s) reached"
            run.flags.append("wall_timeout")
        else:
            run.status, run.reason = "crashed", "the kernel died"
            run.flags.append("kernel_died")
    except Exception as e:  # kernel start failures and the like
        run.status, run.reason = "crashed", f"{type(e).__name__}: {str(e)[:300]}"
        run.flags.append("kernel_error")
    finally:
        run.returncode = await _stop(km, client, sandbox, started)
        run.tree_flags = sandbox.verdict()   # limits of the whole process tree (cgroup, tmpfs)
    run.observations = dict(client.observations)
    run.observations_capped = set(client.observations_capped)
    run.timed_out = set(client.timed_out)
    run.truncated = bool(client.truncated)
    return run, client


async def run_notebook(nb, ref: dict, sandbox: Sandbox, deadline: float) -> dict:
    """Execute ``nb`` (already normalised) in ``sandbox``; return the per-notebook result.

    ``ref["checks"]`` (grade id -> the master's records, from ``expected``) makes a test cell's
    verdict a decision of the grader; without it the cell is a legacy one.
    """
    index_of, legacy, tail = _test_indices(nb, ref)
    run, _ = await drive(nb, ref, sandbox, deadline, legacy)
    fold_hidden_tail(run, index_of, tail, ref.get("checks"))
    limits = sandbox.limits

    def grade_id_of(idx: int):
        return nb.cells[idx].metadata.get("nbgrader", {}).get("grade_id", idx)

    result = score_notebook(ref, index_of, run, limits.cell_timeout, limits.memory_mb, grade_id_of)
    # keyed by grade id (test cells) or "#INDEX" (any other cell): what expected.py reads
    result["observations"] = {
        str(nb.cells[i].metadata.get("nbgrader", {}).get("grade_id") or f"#{i}"): obs
        for i, obs in run.observations.items()}
    result["executed_nb"] = nb
    return result
