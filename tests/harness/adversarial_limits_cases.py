"""Submissions that attack the resource limits (issue 8), built from the fixture's released notebook.

Student ids sort in grading order: ``a_cpu_hogs`` is the first job; the other worker grades
``b_honest``, ``c_honest``, ``d_honest``, ... while the hogs (100 ``setsid`` busy loops) spin.
Each case: sid, files, expected score and status (None: not asserted, the attack only hurts the
attacker) and flags that must appear.
"""

from __future__ import annotations

from harness_cases import Q1_OK, Q2_OK, build

LOG_SENTINEL = "WORKER-LOG-SENTINEL-8d1c"
FD_MARKER = "FD-WRITE-BY-SUBMISSION-77a2"
HEAD = "HEAD-OF-MY-OUTPUT"

CPU_HOGS = Q1_OK + """

import os, time
gate_r, gate_w = os.pipe()
hogs = 0
for _ in range(100):
    try:
        if os.fork() == 0:
            os.setsid()
            os.close(gate_w)
            os.read(gate_r, 1)    # wait until the parent has started them all, then spin
            while True:
                pass
        hogs += 1
    except OSError:
        break
os.close(gate_w)
print('hogs started:', hogs, 'spinning from', time.time())
time.sleep(12)
"""

FORKED_MEMORY = Q1_OK + """

import os
children = []
for _ in range(8):
    pid = os.fork()
    if pid == 0:
        try:
            block = bytearray(250 * 1024 * 1024)
            for i in range(0, len(block), 4096):
                block[i] = 1      # touch every page: resident, not just reserved
            __import__('time').sleep(5)
        finally:
            os._exit(0)
    children.append(pid)
for pid in children:
    os.waitpid(pid, 0)
"""

# Forks until the process limit refuses, each child parked: the cell ends only once the limit has
# been hit, however slow a loaded machine forks (a free-running bomb in a child raced the end of the
# notebook and sometimes never reached the limit before the sandbox was torn down).
FORK_BOMB = Q2_OK + """

import os, time
children = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(120)
        os._exit(0)
    children += 1
print('forks before the limit:', children)
"""

INODE_FLOOD = Q1_OK + """

import os
made = 0
for place in ('/tmp', '.', os.environ['HOME']):
    try:
        for i in range(1_000_000):
            open(os.path.join(place, f'empty{made}'), 'w').close()
            made += 1
    except OSError as e:
        print('stopped in', place, 'after', made, 'files:', type(e).__name__)
"""

FD_SNOOP = Q1_OK + f"""

import os, stat
for name in sorted(os.listdir('/proc/self/fd'), key=int):
    fd = int(name)
    try:
        st = os.fstat(fd)
        target = os.readlink(f'/proc/self/fd/{{fd}}')
    except OSError:
        continue
    kind = 'reg' if stat.S_ISREG(st.st_mode) else 'fifo' if stat.S_ISFIFO(st.st_mode) else \\
           'chr' if stat.S_ISCHR(st.st_mode) else 'other'
    print('FD', fd, kind, target)
    if kind == 'other' and fd not in (1, 2):
        continue                     # the kernel's own sockets: writing there only hurts itself
    try:
        os.set_blocking(fd, False)
        data = os.read(fd, 65536)
        print('READ', fd, data[:300])
    except OSError as e:
        print('NOREAD', fd, type(e).__name__)
    for act in (lambda: os.write(fd, b'{FD_MARKER}\\n'), lambda: os.ftruncate(fd, 0),
                lambda: open(f'/proc/self/fd/{{fd}}', 'r+b').write(b'{FD_MARKER}')):
        try:
            act()
            print('ACT', fd, 'ok')
        except OSError as e:
            print('ACT', fd, type(e).__name__)
"""

DISK_FILLER = Q1_OK + """

import glob, os
places = {'shm': '/dev/shm', 'run dir': (glob.glob('/tmp/ag-*/run') or ['/nonexistent'])[0],
          'tmp': '/tmp', 'cwd': '.', 'home': os.environ['HOME']}
chunk = b'x' * (1 << 20)
for label, place in places.items():
    written = 0
    try:
        for part in range(6):                       # 6 files of 100 MB: 600 MB
            with open(os.path.join(place, f'big{part}.bin'), 'wb') as f:
                for _ in range(100):
                    f.write(chunk)
                    written += 1
        print('WROTE', label, written, 'MB')
    except OSError as e:
        print('STOPPED', label, written, 'MB', type(e).__name__)
    if label != 'home':                              # free the space for the next place; the
        for part in range(6):                       # last one is left full
            try:
                os.remove(os.path.join(place, f'big{part}.bin'))
            except OSError:
                pass
"""

SMALL_MESSAGES = Q1_OK + """

import sys
for _ in range(300):
    print('\\n' * 10_000, flush=True)
for _ in range(2_000):
    print('\\x01' * 1_000, flush=True)
"""

DISPLAY_UPDATES = Q1_OK + """

from IPython.display import display, update_display
for _ in range(200):
    display('small', display_id='same')
for i in range(5):
    update_display('U' * 200_000, display_id='same')
"""

OVERSIZED = Q1_OK + f"""

print('{HEAD}' + 'x' * 5_000_000)
"""

HUGE_ERROR = Q2_OK + """

raise ValueError('E' * 5_000_000)
"""


def cases(release) -> list[dict]:
    C = []

    def add(sid, data, score, status, flags=()):
        C.append({"sid": sid, "files": {"hw1.ipynb": data}, "score": score, "status": status,
                  "flags": list(flags)})

    add("a_cpu_hogs", build(release, CPU_HOGS, Q2_OK + "\nimport time\ntime.sleep(12)\n"
                            "print('hogs still spinning at', time.time())"), None, None)
    add("b_honest", build(release), 6, "graded")
    add("c_honest", build(release), 6, "graded")       # graded while the hogs spin
    add("d_honest", build(release), 6, "graded")
    add("e_forked_memory", build(release, FORKED_MEMORY), None, "memory", ["memory_limit"])
    add("f_fork_bomb", build(release, q2=FORK_BOMB), None, None, ["process_limit"])
    add("g_inode_flood", build(release, INODE_FLOOD), 6, "graded", ["disk_limit"])
    add("h_fd_snoop", build(release, FD_SNOOP), 6, "graded")
    add("i_disk_filler", build(release, DISK_FILLER), 6, "graded", ["disk_limit"])
    add("j_small_messages", build(release, SMALL_MESSAGES), 6, "graded", ["output_truncated"])
    add("k_display_updates", build(release, DISPLAY_UPDATES), 6, "graded", ["output_truncated"])
    add("l_oversized", build(release, OVERSIZED, HUGE_ERROR), 6, "graded", ["output_truncated"])
    add("m_honest", build(release), 6, "graded")
    add("z_honest", build(release), 6, "graded")
    return C
