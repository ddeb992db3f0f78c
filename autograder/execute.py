"""Execute one normalised notebook in a sandboxed kernel and grade its test cells.

Pass/fail comes from the kernel's ``execute_reply`` status, never from the outputs (a student who
replaces IPython's ``showtraceback`` cannot make an error look like a pass). Before and after every
graded test cell a guard (installed before any student code runs) checks that the assertion helpers
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
import re
import secrets
import time
from queue import Empty

import nbformat
from jupyter_client.kernelspec import KernelSpec
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

from .notebook import hidden_line_ranges
from .outputs import OutputBudget, content_cost
from .sandbox import Limits, Sandbox

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
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LINE_RE = re.compile(r"Cell In\s*\[\d*\],\s*line (\d+)|<ipython-input-\d+-\w+> in \S+\(\)\n-*> (\d+)")


class GradingClient(NotebookClient):
    """nbclient with byte-capped outputs and a bounded interrupt-then-give-up timeout."""

    def __init__(self, nb, km, limits: Limits, **kw):
        super().__init__(nb, km=km, **kw)
        self.limits = limits
        self.budget = OutputBudget(limits.output_cell_bytes, limits.output_total_bytes)
        self.truncated = self.budget.truncated
        self.timed_out: set[int] = set()
        self.current_index = -1

    def output(self, outs, msg, display_id, cell_index):
        # (messages the grader consumes itself are intercepted here, above the budget: they
        # neither count against the student's output nor get truncated)
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


def _fail_line(traceback: list[str]) -> int | None:
    text = ANSI.sub("", "\n".join(traceback or []))
    m = LINE_RE.search(text)
    if m:
        return int(m.group(1) or m.group(2))
    return None


async def run_notebook(nb, ref: dict, sandbox: Sandbox, deadline: float) -> dict:
    """Execute ``nb`` (already normalised) in ``sandbox``; return the per-notebook result."""
    limits = sandbox.limits
    flags: list[str] = []
    ref_by_id = {c["grade_id"]: c for c in ref["cells"]}
    index_of: dict[str, int] = {}
    for i, c in enumerate(nb.cells):
        gid = c.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if gid in ref_by_id and gid not in index_of:
            index_of[gid] = i
    test_idx = {index_of[g]: g for g, c in ref_by_id.items() if c["kind"] == "test" and g in index_of}
    replies: dict[int, dict] = {}
    tainted: dict[int, list[str]] = {}
    status, reason = "graded", ""
    returncode = None

    km = AsyncKernelManager(transport="ipc", ip=str(sandbox.run_dir / "k"),
                            connection_file=str(sandbox.run_dir / "kernel.json"))
    km._kernel_spec = KernelSpec(argv=sandbox.argv(), display_name="sandbox", language="python",
                                 interrupt_mode="message", env={}, metadata={})
    client = GradingClient(nb, km=km, limits=limits, timeout=int(max(1, limits.cell_timeout)),
                           interrupt_on_timeout=True, allow_errors=True, startup_timeout=60,
                           iopub_timeout=4, raise_on_iopub_timeout=False, record_timing=False,
                           kernel_name="sandbox", shutdown_kernel="immediate")

    def on_executed(cell, cell_index, execute_reply):
        replies[cell_index] = (execute_reply or {}).get("content", {})

    client.on_cell_executed = on_executed
    nonce = secrets.token_hex(8)

    async def guard_check() -> list[str]:
        msg_id = client.kc.execute("", silent=True, store_history=False,
                                   user_expressions={"r": CHECK_EXPR})
        reply = await _wait_reply(client.kc, msg_id, 15)
        if reply is None:
            return ["guard_unresponsive"]
        expr = reply["content"].get("user_expressions", {}).get("r", {})
        try:
            val = ast.literal_eval(expr.get("data", {}).get("text/plain", ""))
        except Exception:
            val = None
        if not isinstance(val, list) or not val or val[0] != nonce:
            return ["guard_broken"]
        return [str(v) for v in val[1:]]

    started = False
    try:
        await asyncio.wait_for(km.start_kernel(**sandbox.popen_kwargs()), timeout=60)
        started = True
        await asyncio.wait_for(client.async_start_new_kernel_client(), timeout=90)
        code = PREAMBLE % {"nonce": nonce, "modules": ref.get("guard_modules", []),
                           "torch": bool(ref.get("uses_torch")), "pyro": bool(ref.get("uses_pyro"))}
        msg_id = client.kc.execute(code, silent=True, store_history=False)
        reply = await _wait_reply(client.kc, msg_id, 120)
        if reply is None or reply["content"].get("status") != "ok":
            raise RuntimeError("the grader's set-up code failed in the kernel: "
                               + str((reply or {}).get("content", {}).get("evalue", "no reply")))
        count = 0
        for idx, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or not cell.source.strip():
                continue
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            client.current_index = idx
            if idx in test_idx:
                bad = await guard_check()
                if bad:
                    tainted[idx] = bad
            count += 1
            await asyncio.wait_for(client.async_execute_cell(cell, idx, execution_count=count),
                                   timeout=left)
            if idx in test_idx:
                bad = await guard_check()
                if bad:
                    tainted.setdefault(idx, []).extend(bad)
    except CellTimeoutError:  # (a TimeoutError subclass: must come first)
        status, reason = "timeout", (f"a cell ran longer than {limits.cell_timeout:.0f} s and did "
                                     "not stop when interrupted; the kernel was killed")
    except TimeoutError:
        status, reason = "timeout", f"wall-clock limit per submission ({limits.wall:.0f} s) reached"
        flags.append("wall_timeout")
    except DeadKernelError:
        if time.monotonic() >= deadline - 0.1:   # nbclient reports a cancelled cell as a dead kernel
            status, reason = "timeout", f"wall-clock limit per submission ({limits.wall:.0f} s) reached"
            flags.append("wall_timeout")
        else:
            status, reason = "crashed", "the kernel died"
            flags.append("kernel_died")
    except Exception as e:  # kernel start failures and the like
        status, reason = "crashed", f"{type(e).__name__}: {str(e)[:300]}"
        flags.append("kernel_error")
    finally:
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
        tree_flags = sandbox.verdict()   # limits of the whole process tree (cgroup, tmpfs)

    # ------------------------------------------------------------------ grade
    if returncode is not None and status == "crashed":
        sig = returncode - 128 if returncode > 128 else (-returncode if returncode < 0 else 0)
        if sig == 24:
            flags.append("cpu_limit")
            status, reason = "timeout", "CPU-time limit reached"
        elif sig:
            reason += f" (signal {sig})"
        else:
            reason += f" (exit code {returncode})"
    for idx in sorted(client.timed_out):
        flags.append(f"cell_timeout:{nb.cells[idx].metadata.get('nbgrader', {}).get('grade_id', idx)}")
        if status == "graded":
            status, reason = "timeout", f"a cell ran longer than {limits.cell_timeout:.0f} s (interrupted)"
    flags += [f for f in tree_flags if f not in ("memory_limit", "process_limit", "disk_limit")]
    mem = [i for i, r in replies.items() if r.get("ename") == "MemoryError"]
    if mem or "memory_limit" in tree_flags:
        flags.append("memory_limit")
        if status in ("graded", "crashed"):
            status, reason = "memory", f"memory limit ({limits.memory_mb} MB) reached"
    if any(r.get("ename") == "BlockingIOError" for r in replies.values()) or "process_limit" in tree_flags:
        flags.append("process_limit")
    if any("No space left" in str(r.get("evalue", "")) or "File too large" in str(r.get("evalue", ""))
           for r in replies.values()) or "disk_limit" in tree_flags:
        flags.append("disk_limit")
    if client.truncated:
        flags.append("output_truncated")
    shadowed = sorted({b.split(":", 1)[1] for bad in tainted.values() for b in bad
                       if b.startswith("shadowed:")})
    if shadowed:
        flags.append("shadowed_builtin:" + ",".join(shadowed))
    rebound = sorted({b for bad in tainted.values() for b in bad if not b.startswith("shadowed:")})
    if rebound:
        if any(b.startswith("guard_") for b in rebound):
            flags.append("guard_broken")
        if "showtraceback" in rebound:
            flags.append("showtraceback_override")
        names = [b for b in rebound if not b.startswith("guard_") and b != "showtraceback"]
        if names:
            flags.append("rebound_assert:" + ",".join(names))

    tests, manual = {}, {}
    for gid, rc in ref_by_id.items():
        if rc["kind"] == "manual":
            manual[gid] = {"points": rc["points"]}
        if rc["kind"] != "test":
            continue
        idx = index_of.get(gid)
        r = replies.get(idx) if idx is not None else None
        executed = r is not None
        ok = executed and r.get("status") == "ok" and idx not in tainted
        t = {"points": rc["points"], "score": rc["points"] if ok else 0.0, "passed": ok,
             "executed": executed, "hidden": rc["hidden"], "message": ""}
        if not executed:
            t["message"] = "not run (" + (reason or "kernel stopped") + ")"
        elif idx in tainted:
            t["message"] = ("not graded: the grader's assertion helpers were modified ("
                            + ", ".join(tainted[idx]) + ")")
        elif r.get("status") != "ok":
            ename, evalue = r.get("ename", "Error"), str(r.get("evalue", ""))
            line = _fail_line(r.get("traceback", []))
            in_hidden = any(a <= (line or -1) <= b for a, b in
                            hidden_line_ranges(nb.cells[idx].source))
            if idx in client.timed_out:
                t["message"] = f"timed out after {limits.cell_timeout:.0f} s"
            elif rc["hidden"] and (line is None or in_hidden):
                t["message"] = f"a hidden test failed ({ename})"
                t["hidden_fail"] = True
            else:
                t["message"] = f"{ename}: {evalue}"[:2000]
            t["line"] = line
        tests[gid] = t
    return {
        "status": status,
        "reason": reason,
        "flags": flags,
        "tests": tests,
        "manual": manual,
        "score": sum(t["score"] for t in tests.values()),
        "max_score": sum(c["points"] for c in ref["cells"] if c["kind"] in ("test", "manual")),
        "executed_nb": nb,
    }
