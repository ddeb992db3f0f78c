"""The kernel sandbox: bubblewrap isolation plus resource limits.

Each submission's kernel runs as::

    bwrap [namespaces, read-only system, private /tmp, scratch dir] python -c LAUNCHER CFG CONN

* No network (``--unshare-net``; the kernel talks to the grader over ``ipc`` sockets in a directory
  bound into the sandbox), private pid/ipc/uts namespaces, ``--die-with-parent``: every process the
  submission starts dies with the kernel.
* Visible: ``/usr`` (and the ``/lib``, ``/bin`` links), a few files from ``/etc``, the Python
  installation and the virtualenv (read-only), a private ``/tmp`` (tmpfs with a size cap) and the
  scratch copy of the assignment's data files as the working directory (``/tmp/work``). Nothing
  else: not the course, ``solutions/``, the gradebook, other submissions or any home directory.
  The working directory is a copy of the data files on the size-capped private ``/tmp``, so a
  submission cannot fill the grader's disk.
* Limits for the whole process tree (see ``cgroups.py``): one cgroup per sandbox caps the memory
  of the tree (kernel memory and /tmp files included), its processes and threads, and its CPU rate
  (``cpus``, one CPU by default, so a sandbox cannot starve its neighbours). The kernel joins the
  group before it execs; after it stops, everything left in the group is killed and the group
  removed. Without cgroups (not root, macOS) the grader says so loudly and the result carries the
  flag ``no_cgroup``: the per-process rlimits below are then all there is.
* As root, everything the kernel can write (its /tmp, working directory, home, and the directory
  of the ipc sockets) lives on one tmpfs per sandbox with a cap on bytes *and* inodes
  (``tmpfs.py``); otherwise bwrap's own size-capped tmpfs serves as /tmp.
* The kernel inherits no file of the grader's: stdin/stdout/stderr are /dev/null, every other
  descriptor is closed (the worker's log stays out of reach).
* Per-process limits are set by LAUNCHER inside the sandbox, just before it execs ``ipykernel``:
  RLIMIT_AS (memory), RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_NPROC, RLIMIT_NOFILE, RLIMIT_CORE=0.
* RLIMIT_NPROC counts processes per *real uid* and root ignores it. When the grader runs as root,
  bwrap runs privileged with every capability dropped except SETUID/SETGID, and the launcher
  switches to a fresh unprivileged uid (one per grading worker, no passwd entry) before exec: the
  limit then holds and the submission cannot read root-only files. Run as an ordinary user, the
  kernel keeps the user's uid and the limit is set to (the user's current process count + N).
  With a cgroup, ``pids.max`` = N is the binding limit (its hits are counted, hence the flag
  ``process_limit``) and RLIMIT_NPROC is set to 2N, a backstop only.
* Without a usable ``bwrap`` (e.g. macOS) the kernel runs unsandboxed with the same limits and
  environment, after a loud warning.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

from . import cgroups, tmpfs

SANDBOX_WORKDIR = "/tmp/work"
SANDBOX_DATADIR = "/tmp/.data"
SANDBOX_HOME = "/tmp/home"
SANDBOX_PKGDIR = "/tmp/.grader"   # read-only: the kernel-side checkers (``from autograder import checks``)
# the only harness files a kernel sees: what a test cell imports, nothing else of the course
KERNEL_MODULES = ("checks.py", "verdicts.py")
KERNEL_INIT = '"""The kernel-side half of the grader: checkers that observe (see checks.py)."""\n'


@dataclass
class Limits:
    memory_mb: int = 2048          # RLIMIT_AS of the kernel, and the cgroup's cap for the whole tree
    cell_timeout: float = 60.0     # seconds per cell (interrupt, then kill)
    wall: float = 900.0            # seconds per submission (all its notebooks)
    cpu_seconds: int = 900         # RLIMIT_CPU per process
    nproc: int = 128               # processes + threads of the sandbox uid (and of its cgroup)
    fsize_mb: int = 256            # largest file the kernel may write
    tmp_mb: int = 256              # size of the private /tmp
    tmp_inodes: int = 20_000       # files + directories on the private /tmp (root only)
    cpus: float = 1.0              # CPU rate of the whole sandbox (cgroup CFS quota)
    output_cell_bytes: int = 200_000      # outputs kept per cell
    output_total_bytes: int = 2_000_000   # outputs kept per notebook

    def to_dict(self) -> dict:
        return asdict(self)


LAUNCHER = r"""
import json, os, resource, sys
cfg = json.loads(sys.argv[1])
conn = sys.argv[2]
def lim(res, soft, hard=None):
    hard = soft if hard is None else hard
    try:
        resource.setrlimit(res, (soft, hard))
    except (ValueError, OSError):
        try:  # e.g. macOS refuses some limits: keep what can be kept
            cur = resource.getrlimit(res)[1]
            if cur != resource.RLIM_INFINITY:
                resource.setrlimit(res, (min(soft, cur), cur))
            else:
                resource.setrlimit(res, (soft, cur))
        except (ValueError, OSError):
            sys.stderr.write("grader: could not set resource limit %r\n" % (res,))
mb = 1024 * 1024
lim(resource.RLIMIT_AS, cfg["memory_mb"] * mb)
lim(resource.RLIMIT_CPU, cfg["cpu_seconds"], cfg["cpu_seconds"] + 5)
lim(resource.RLIMIT_FSIZE, cfg["fsize_mb"] * mb)
lim(resource.RLIMIT_CORE, 0)
lim(resource.RLIMIT_NPROC, cfg["nproc"])
lim(resource.RLIMIT_NOFILE, 1024)
uid = cfg.get("uid")
if uid is not None and os.getuid() == 0:
    # the connection file is root's (0600): hand a copy to the kernel's uid
    # (a copy in this sandbox's private /tmp; only this kernel can see it)
    data = open(conn, "rb").read()
    conn = cfg["conn_copy"]
    with open(conn, "wb") as f:
        f.write(data)
    os.chmod(conn, 0o644)
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
os.makedirs(cfg["home"], exist_ok=True)
if cfg.get("workdir"):
    # the working directory lives on the sandbox's size-capped /tmp (a submission cannot fill the
    # grader's disk): a private copy of the data files, owned by the kernel's uid
    import shutil
    shutil.copytree(cfg["datadir"], cfg["workdir"], dirs_exist_ok=True)
    os.chdir(cfg["workdir"])
os.environ.pop("JPY_PARENT_PID", None)
# -P: neither Python nor IPython (safe_path) puts the working directory in front of sys.path; the
# boot code appends it at the END, so a submitted numpy.py or autograder.py cannot shadow anything
os.execv(sys.executable, [sys.executable, "-P", "-c", cfg["boot"], "-f", conn,
                          "--HistoryManager.hist_file=:memory:", "--Application.log_level=CRITICAL"])
"""

BOOT = ("import os, sys; sys.path.append(os.getcwd()); "
        "from ipykernel import kernelapp; kernelapp.launch_new_instance()")

ETC_FILES = ["ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "nsswitch.conf", "passwd",
             "group", "ssl", "ca-certificates", "fonts", "alternatives", "mime.types",
             "matplotlibrc", "hosts", "host.conf", "resolv.conf"]


_UID_COUNTER = 0


def is_root() -> bool:
    return hasattr(os, "getuid") and os.getuid() == 0


def sandbox_uid() -> int | None:
    """A fresh unprivileged uid per sandbox (root only; see module docstring).

    Unique among concurrently running sandboxes: derived from the worker's pid and a per-process
    counter (a process runs at most a few sandboxes at a time)."""
    global _UID_COUNTER
    if not is_root():
        return None
    _UID_COUNTER += 1
    return 200_000 + (os.getpid() % 1_000_000) * 64 + _UID_COUNTER % 64


def _user_process_count() -> int:
    uid = os.getuid()
    n = 0
    if not Path("/proc").is_dir():   # macOS: no /proc; the limit becomes "N more than now" roughly
        return 256
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    n += len(list((p / "task").iterdir()))
            except OSError:
                pass
    return n


@functools.lru_cache(maxsize=1)
def bwrap_status() -> tuple[bool, str]:
    """(usable, reason). Probes the same kind of sandbox the kernels get."""
    exe = shutil.which("bwrap")
    if not exe:
        return False, "bubblewrap (bwrap) is not installed"
    cmd = [exe, "--unshare-pid", "--unshare-net", "--die-with-parent", "--ro-bind", "/", "/",
           "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "true"]
    if is_root():
        cmd[1:1] = ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        return False, f"bwrap failed to start: {e}"
    if r.returncode != 0:
        return False, f"bwrap cannot create a sandbox here: {r.stderr.strip()[:200]}"
    return True, exe


@functools.lru_cache(maxsize=1)
def bwrap_version() -> tuple[int, ...]:
    exe = shutil.which("bwrap")
    try:
        out = subprocess.run([exe, "--version"], capture_output=True, text=True, timeout=10).stdout
        return tuple(int(x) for x in out.split()[-1].split(".")[:3])
    except Exception:
        return (0,)


def _shout(title: str, lines: list[str], warning: str) -> None:
    """A banner on stderr that nobody grading real work can miss, plus a RuntimeWarning."""
    bar = "!" * 78
    print("\n".join(["", bar, f"!! WARNING: {title}.", *(f"!! {ln}" for ln in lines), bar]),
          file=sys.stderr)
    warnings.warn(warning, RuntimeWarning, stacklevel=3)


def warn_no_sandbox(reason: str) -> None:
    _shout(f"NO SANDBOX: {reason}",
           ["Submissions run with only resource limits: they can read your files and reach the",
            "network. Install bubblewrap (apt-get install bubblewrap) before grading real work."],
           "grading without a sandbox: " + reason)


def warn_no_cgroup(reason: str) -> None:
    _shout(f"NO CGROUPS: {reason}",
           ["Limits hold per process only: a submission's forked children can together use more",
            "than the memory limit, and busy processes can starve the submissions graded beside",
            "it. Grade as root on Linux with cgroups before grading real work (results are",
            "flagged no_cgroup)."],
           "grading without cgroups: " + reason)


def remove_leftovers(worker_pid: int) -> None:
    """Kill and remove what the sandboxes of a killed worker left (cgroups, tmpfs mounts)."""
    cgroups.remove_leftovers(worker_pid)
    tmpfs.remove_leftovers(worker_pid)


def _real(p: str | Path) -> str:
    return os.path.realpath(str(p))


def kernel_env(work: str, home: str, pkg: str | None = None) -> dict[str, str]:
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": f"{home}/.config/matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.local/share/jupyter",
        "JUPYTER_RUNTIME_DIR": f"{home}/.local/share/jupyter/runtime",
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "NUMEXPR_NUM_THREADS": "1",
        "COURSE_GRADING": "1",
        "NBGRADER_EXECUTION": "autograde",
        **({"PYTHONPATH": pkg} if pkg else {}),
    }


class Sandbox:
    """One kernel's sandbox: a scratch working dir and a socket dir, its cgroup, the kernel argv.

    Life cycle: ``Sandbox()``, :meth:`prepare` (capped tmpfs, data files, cgroup), start the kernel
    with :meth:`argv` and :meth:`popen_kwargs`, :meth:`verdict` once it stopped (kills what is
    left, removes the cgroup, says which tree-wide limits were hit), :meth:`cleanup`."""

    def __init__(self, limits: Limits, use_bwrap: bool = True):
        self.limits = limits
        ok, info = bwrap_status() if use_bwrap else (False, "sandbox disabled (--no-sandbox)")
        self.use_bwrap = ok
        self.bwrap = info if ok else None
        self.reason = None if ok else info
        # without bwrap the kernel keeps the grader's uid: the Python installation may live where
        # another uid cannot reach it (e.g. under /root); as root, RLIMIT_NPROC is then not enforced
        self.uid = sandbox_uid() if self.use_bwrap else None
        self.base = tmpfs.new_base()
        os.chmod(self.base, 0o755)
        self.private_fs = False          # everything writable on our own capped tmpfs
        self.cgroup: cgroups.Cgroup | None = None
        self.cgroup_reason: str | None = None
        self.run_dir = self.base / "run"
        self.work_dir = self.base / "work"
        self.pkg_dir = self.base / "pkg"
        self.run_dir.mkdir()
        self.work_dir.mkdir()
        self._write_kernel_package()
        if not self.use_bwrap:
            # without bwrap the paths are real host paths
            self.home = str(self.base / "home")
            Path(self.home).mkdir()
        else:
            self.home = SANDBOX_HOME

    def _write_kernel_package(self) -> None:
        """A copy of the kernel-side modules (read-only in the sandbox), first on sys.path."""
        here = Path(__file__).resolve().parent
        pkg = self.pkg_dir / "autograder"
        pkg.mkdir(parents=True)
        (pkg / "__init__.py").write_text(KERNEL_INIT)
        for name in KERNEL_MODULES:
            if (here / name).is_file():
                shutil.copyfile(here / name, pkg / name)
        for p in [self.pkg_dir, pkg, *pkg.iterdir()]:
            os.chmod(p, 0o755 if p.is_dir() else 0o644)

    def pkg_in_kernel(self) -> str:
        return SANDBOX_PKGDIR if self.use_bwrap else str(self.pkg_dir)

    def prepare(self, files: list[tuple[Path, str]]) -> None:
        """Mount the capped tmpfs, copy (source, relative name) files into the scratch working
        directory, create the cgroup."""
        if self.use_bwrap and is_root():
            lim = self.limits
            data = sum(src.stat().st_size for src, _ in files)
            self.private_fs = tmpfs.mount_tmpfs(self.base, lim.tmp_mb * 1024 * 1024 + data + (4 << 20),
                                                lim.tmp_inodes + len(files) + 256)
            if self.private_fs:      # the mount hides what __init__ wrote under base: again
                for d in (self.run_dir, self.work_dir, self.tmp_dir):
                    d.mkdir()
                os.chmod(self.tmp_dir, 0o1777)
                self._write_kernel_package()
        for src, rel in files:
            dst = self.work_dir / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
        if self.use_bwrap:   # copied into the sandbox's /tmp by the launcher, as the kernel's uid
            os.chmod(self.work_dir, 0o755)
            for p in self.work_dir.rglob("*"):
                os.chmod(p, 0o755 if p.is_dir() else 0o644)
        if self.uid is not None:
            os.lchown(self.run_dir, self.uid, self.uid)
            if not self.use_bwrap:
                os.chown(self.home, self.uid, self.uid)
        self._make_cgroup()

    @property
    def tmp_dir(self) -> Path:
        return self.base / "tmp"

    def _make_cgroup(self) -> None:
        ok, why = cgroups.cgroup_status()
        if ok:
            lim = self.limits
            try:
                self.cgroup = cgroups.Cgroup.create(lim.memory_mb * 1024 * 1024, lim.nproc, lim.cpus)
            except OSError as e:
                why = f"cannot create the sandbox's cgroup: {e}"
        self.cgroup_reason = None if self.cgroup else why

    def popen_kwargs(self) -> dict:
        """How the kernel process is started: it inherits no file of the grader's (stdio from and
        to /dev/null, every other descriptor closed)."""
        kw = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL,
              "stderr": subprocess.DEVNULL, "close_fds": True}
        if self.use_bwrap:
            return {**kw, "cwd": str(self.base)}
        return {**kw, "cwd": str(self.work_dir), "env": self.env()}

    def verdict(self) -> list[str]:
        """Once the kernel stopped: kill what is left, remove the cgroup, and return the flags of
        the limits the whole tree hit (``memory_limit`` for an OOM kill, ``process_limit``,
        ``disk_limit`` for a full tmpfs, ``no_cgroup`` when there was no group to ask)."""
        flags = []
        if self.cgroup is None:
            flags.append("no_cgroup")
        else:
            events = self.cgroup.events()
            self.cgroup.destroy()
            if events["oom_kill"]:
                flags.append("memory_limit")
            if events["pids_max"]:
                flags.append("process_limit")
        if self.private_fs and tmpfs.is_full(self.base):
            flags.append("disk_limit")
        return flags

    def launcher_cfg(self) -> dict:
        lim = self.limits
        nproc = self.nproc_rlimit()
        return {"boot": BOOT, "memory_mb": lim.memory_mb, "cpu_seconds": int(lim.cpu_seconds),
                "fsize_mb": lim.fsize_mb, "nproc": nproc, "uid": self.uid, "home": self.home,
                "workdir": SANDBOX_WORKDIR if self.use_bwrap else None,
                "datadir": SANDBOX_DATADIR if self.use_bwrap else None,
                "conn_copy": ("/tmp/.kernel-connection.json" if self.use_bwrap
                              else str(Path(self.home) / ".kernel-connection.json"))}

    def nproc_rlimit(self) -> int:
        """RLIMIT_NPROC for the kernel. With a cgroup, the group's ``pids.max`` is the limit and the
        rlimit only a backstop set above it: the kernel checks the rlimit first in ``fork``, and
        with equal values a fork bomb's in-flight forks trip it before the group's counter, so the
        hit would go unrecorded (no ``process_limit`` flag)."""
        nproc = self.limits.nproc
        if self.cgroup is not None:
            nproc *= 2
        if self.uid is None:
            nproc += _user_process_count()
        return nproc

    def workdir_in_kernel(self) -> str:
        return SANDBOX_WORKDIR if self.use_bwrap else str(self.work_dir)

    def env(self) -> dict[str, str]:
        return kernel_env(self.workdir_in_kernel(), self.home, self.pkg_in_kernel())

    def argv(self) -> list[str]:
        py = sys.executable
        inner = [py, "-c", LAUNCHER, json.dumps(self.launcher_cfg()), "{connection_file}"]
        if not self.use_bwrap:
            return self._in_cgroup(inner)
        a = [self.bwrap, "--die-with-parent", "--new-session", "--unshare-pid", "--unshare-net",
             "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
        if is_root():
            a += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
        a += ["--ro-bind", "/usr", "/usr"]
        for d in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
            p = Path("/") / d
            if p.is_symlink():
                a += ["--symlink", os.readlink(p), str(p)]
            elif p.is_dir():
                a += ["--ro-bind", str(p), str(p)]
        for f in ETC_FILES:
            p = Path("/etc") / f
            if p.exists():
                a += ["--ro-bind", str(p), str(p)]
        a += ["--proc", "/proc", "--dev", "/dev"]
        if self.private_fs:      # bytes and inodes capped (tmpfs.py)
            a += ["--bind", str(self.tmp_dir), "/tmp"]
        else:
            if bwrap_version() >= (0, 7, 0):   # --size needs bubblewrap 0.7 (Debian 12: 0.8)
                a += ["--size", str(self.limits.tmp_mb * 1024 * 1024)]
            a += ["--perms", "1777", "--tmpfs", "/tmp"]
        # the Python installation and the virtualenv, read-only, at their own paths
        roots = []
        for p in {_real(sys.base_prefix), _real(sys.prefix), str(Path(sys.prefix).absolute()),
                  _real(Path(sys.executable).parent.parent)}:
            if not (p == "/usr" or p.startswith("/usr/")):
                roots.append(p)
        roots = sorted(set(roots))
        roots = [r for r in roots if not any(r != o and r.startswith(o + "/") for o in roots)]
        made = set()
        for r in roots:
            parts = Path(r).parts
            for i in range(2, len(parts)):
                anc = str(Path(*parts[:i]))
                # (a venv under /tmp, e.g. a CI clone made by mktemp -d, needs its ancestors too:
                # they are created on the sandbox's private /tmp, never /tmp itself)
                if anc not in made and anc != "/tmp":
                    a += ["--perms", "0755", "--dir", anc]
                    made.add(anc)
            a += ["--ro-bind", r, r]
        for anc in reversed(list(Path(self.run_dir).parents)):
            anc = str(anc)
            if anc not in ("/", "/tmp") and anc not in made and anc.startswith("/tmp/"):
                a += ["--perms", "0755", "--dir", anc]
                made.add(anc)
        a += ["--bind", str(self.run_dir), str(self.run_dir),
              "--ro-bind", str(self.work_dir), SANDBOX_DATADIR,
              "--ro-bind", str(self.pkg_dir), SANDBOX_PKGDIR,
              "--perms", "0777", "--dir", SANDBOX_HOME,
              "--chdir", "/tmp", "--clearenv"]
        for k, v in self.env().items():
            a += ["--setenv", k, v]
        return self._in_cgroup(a + ["--"] + inner)

    def _in_cgroup(self, argv: list[str]) -> list[str]:
        return cgroups.enter_argv(self.cgroup, argv) if self.cgroup is not None else argv

    def cleanup(self) -> None:
        if self.cgroup is not None:
            self.cgroup.destroy()
        if self.private_fs:
            tmpfs.unmount(self.base)
        shutil.rmtree(self.base, ignore_errors=True)

    def leftover_processes(self) -> list[int]:
        """Processes still running as the sandbox uid (root mode only)."""
        if self.uid is None:
            return []
        out = []
        for p in Path("/proc").iterdir():
            if p.name.isdigit():
                try:
                    if p.stat().st_uid == self.uid:
                        out.append(int(p.name))
                except OSError:
                    pass
        return out

    def kill_leftovers(self) -> None:
        import signal
        for pid in self.leftover_processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
