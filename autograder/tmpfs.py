"""A capped tmpfs per sandbox (root only): everything the kernel can write lives on it.

bubblewrap's own ``--tmpfs`` caps bytes (``--size``) but not inodes, and the directory of the ipc
sockets has to be shared with the grader, so it used to be on the host disk. As root the grader
mounts one tmpfs per sandbox (``size=...,nr_inodes=...``, nosuid, nodev) holding the socket
directory, the data files and the sandbox's ``/tmp``: a submission that writes 600 MB or a million
empty files hits ENOSPC there, not the host's disk or its kernel memory.

Mount points are named ``ag-<worker pid>-...`` so that :func:`remove_leftovers` can unmount what a
killed worker left behind.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import re
import shutil
import tempfile
from pathlib import Path

MS_NOSUID, MS_NODEV = 2, 4
MNT_DETACH = 2
PREFIX = "ag-"


@functools.lru_cache(maxsize=1)
def _libc():
    name = ctypes.util.find_library("c")
    return ctypes.CDLL(name, use_errno=True) if name else None


def mount_tmpfs(path: Path, size_bytes: int, inodes: int) -> bool:
    """Mount a fresh tmpfs on ``path``; False where that is not possible (not root, no Linux)."""
    libc = _libc()
    if libc is None or not hasattr(libc, "mount") or os.geteuid() != 0:
        return False
    opts = f"size={size_bytes},nr_inodes={inodes},mode=0755".encode()
    rc = libc.mount(b"tmpfs", str(path).encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts)
    return rc == 0


def unmount(path: Path) -> None:
    libc = _libc()
    if libc is not None:
        libc.umount2(str(path).encode(), MNT_DETACH)


def is_full(path: Path, margin_bytes: int = 2 << 20, margin_inodes: int = 64) -> bool:
    """True when the file system of ``path`` has (almost) no bytes or inodes left (the margins
    allow for the few files the kernel itself removes when it stops: sockets, connection file)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < margin_bytes or (st.f_files > 0 and st.f_favail < margin_inodes)


def new_base() -> Path:
    """A fresh sandbox directory named after this process (see :func:`remove_leftovers`)."""
    return Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))


def remove_leftovers(worker_pid: int) -> int:
    """Unmount and delete the sandbox directories of a worker that was killed."""
    tmp = Path(tempfile.gettempdir()).resolve()
    pattern = re.compile(rf"{re.escape(PREFIX)}{worker_pid}-[^/]*$")
    bases = [p for p in tmp.glob(f"{PREFIX}{worker_pid}-*") if pattern.match(p.name)]
    mounted = _mount_points()
    for base in bases:
        if str(base) in mounted:
            unmount(base)
        shutil.rmtree(base, ignore_errors=True)
    return len(bases)


def _mount_points() -> set[str]:
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return set()
    # field 5 is the mount point, with spaces etc. escaped as octal
    return {line.split()[4].encode().decode("unicode_escape") for line in lines if len(line.split()) > 4}
