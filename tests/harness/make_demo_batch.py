"""Write a Canvas-style export zip of fake submissions for the fixture course (demo and docs).

    python tests/harness/make_demo_batch.py COURSE_DIR OUT.zip [--n 12]

COURSE_DIR must have been released (``python -m autograder --course COURSE_DIR release hw1``).
The batch mixes correct, partly correct and blank work, one infinite loop, one student who rebinds
``numpy.testing.assert_allclose``, one truncated notebook and one path-traversal entry.
"""

from __future__ import annotations

import argparse
import sys
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness_cases as subs  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("course")
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=12)
    a = ap.parse_args()
    release = Path(a.course) / "assignments" / "hw1" / "hw1.ipynb"
    if not release.is_file():
        sys.exit(f"error: {release} not found: run `python -m autograder --course {a.course} release hw1`")
    good = subs.build(release)
    kinds = [good, subs.build(release, subs.Q1_OK, subs.Q2_WRONG), good,
             subs.build(release, subs.Q1_WRONG, subs.Q2_OK), release.read_bytes(), good]
    specials = {
        "loop": subs.build(release, subs.Q1_OK, "while True:\n    pass\n" + subs.Q2_OK),
        "cheat": subs.build(release, "import numpy.testing\nnumpy.testing.assert_allclose = "
                            "lambda *a, **k: None\n" + subs.Q1_WRONG, subs.Q2_OK),
        "broken": good[: len(good) // 3],
    }
    with zipfile.ZipFile(a.out, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(a.n):
            z.writestr(f"student{i:02d}_{1000 + i}_{5000 + i}_hw1.ipynb", kinds[i % len(kinds)])
        for j, (name, data) in enumerate(specials.items()):
            z.writestr(f"{name}_{2000 + j}_{6000 + j}_hw1.ipynb", data)
        z.writestr("../../outside_3000_7000_hw1.ipynb", good)
    print(f"wrote {a.out}: {a.n + len(specials)} students (+1 unsafe entry)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
